//! Crash and restart of the ingest server, in real separate processes: this test binary
//! re-runs itself as the server (`child_server`, ignored unless started that way) sharing
//! Redis (127.0.0.1:6379) with the parent, which publishes through the reqwest client.
//!
//! - killed mid-batch: the server is SIGKILLed while its handler is inside a batch; the
//!   client resends the batch to the new server process and every event is handled exactly
//!   once (the events finished before the kill are duplicates by `source` + `id` in Redis);
//! - restart while publishing: the server is restarted (graceful stop, new process, same
//!   Redis) while a client publishes continuously; every event the client saw confirmed was
//!   handled, none twice.

mod http_support;
mod private_brokers;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use event_contracts::orchestrator;
use event_contracts::runtime::transport::http::{
    prepare, HttpSink, IngestServer, Outcome, RedisStore,
};
use event_contracts::runtime::transport::{
    Context, Handle, HandlerError, HandlerResult, Meta, Policy, Publisher, RetryPolicy, Shutdown,
    UnknownPolicy,
};
use event_contracts::Event;
use http_support::{redis_store, unique, REDIS_URL};

const PREFIX_ENV: &str = "HTTP_RESTART_PREFIX";
const PORT_ENV: &str = "HTTP_RESTART_PORT";
const BLOCK_ENV: &str = "HTTP_RESTART_BLOCK_ID";

/// The server's handler: appends each event id to `{prefix}:handled` in Redis; the event
/// named by `HTTP_RESTART_BLOCK_ID` is announced in `{prefix}:reached` and then never
/// finishes (the process is killed there).
struct RedisRecorder {
    redis: redis::aio::MultiplexedConnection,
    prefix: String,
    block: Option<String>,
}

impl Handle<orchestrator::System> for RedisRecorder {
    async fn handle(&self, message: orchestrator::Message, _: &Context) -> HandlerResult {
        let mut redis = self.redis.clone();
        if self.block.as_deref() == Some(message.id.as_str()) {
            redis::cmd("RPUSH")
                .arg(format!("{}:reached", self.prefix))
                .arg(&message.id)
                .query_async::<i64>(&mut redis)
                .await
                .map_err(HandlerError::retry)?;
            std::future::pending::<()>().await;
        }
        redis::cmd("RPUSH")
            .arg(format!("{}:handled", self.prefix))
            .arg(&message.id)
            .query_async::<i64>(&mut redis)
            .await
            .map_err(HandlerError::retry)?;
        Ok(())
    }
}

/// The server process. Prints `LISTENING <port>`; stops gracefully when stdin closes.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "the server process of the restart tests; they start it themselves"]
async fn child_server() {
    let prefix = std::env::var(PREFIX_ENV).expect("started by a restart test");
    let port: u16 = std::env::var(PORT_ENV)
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let store = RedisStore::open(REDIS_URL)
        .unwrap()
        .with_prefix(prefix.clone());
    let redis = redis::Client::open(REDIS_URL)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("Redis is reachable");
    let handler = RedisRecorder {
        redis,
        prefix,
        block: std::env::var(BLOCK_ENV).ok(),
    };
    let policy = Policy::new("orchestrator-ingest").with_unknown(UnknownPolicy::Skip);
    let server = IngestServer::new(handler, store, policy);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind");
    println!("LISTENING {}", listener.local_addr().unwrap().port());
    let shutdown = private_brokers::shutdown_when_stdin_closes();
    server.serve(listener, shutdown).await.expect("serves");
}

/// A running server process; killed when dropped.
struct ServerProcess {
    child: Child,
    port: u16,
}

impl ServerProcess {
    fn start(prefix: &str, port: u16, block: Option<&str>) -> Self {
        let mut command = Command::new(std::env::current_exe().expect("test binary path"));
        command
            .args([
                "child_server",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(PREFIX_ENV, prefix)
            .env(PORT_ENV, port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(id) = block {
            command.env(BLOCK_ENV, id);
        }
        let mut child = command.spawn().expect("start the server process");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // libtest prints `test child_server ... ` before the test's own output.
                if let Some((_, port)) = line.split_once("LISTENING ") {
                    let _ = tx.send(port.trim().parse::<u16>().ok());
                }
            }
        });
        let port = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(Some(port)) => port,
            other => {
                let _ = child.kill();
                panic!("the server process did not report its port within 20 s: {other:?}")
            }
        };
        Self { child, port }
    }

    fn kill(mut self) {
        self.child.kill().expect("SIGKILL the server process");
        self.child.wait().expect("reap it");
    }

    /// Closes stdin (graceful shutdown) and waits up to 10 s for the process to exit.
    fn stop(mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(
                    status.success(),
                    "the server process exits cleanly: {status}"
                );
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the server process stops within 10 s of shutdown"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn list(redis: &mut redis::aio::MultiplexedConnection, key: &str) -> Vec<String> {
    redis::cmd("LRANGE")
        .arg(key)
        .arg(0)
        .arg(-1)
        .query_async(redis)
        .await
        .expect("LRANGE")
}

async fn connect() -> redis::aio::MultiplexedConnection {
    redis::Client::open(REDIS_URL)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "Redis at {REDIS_URL} is not reachable ({e}); start it with `bash .ci/services.sh`"
            )
        })
}

fn patient_client(port: u16) -> HttpSink {
    HttpSink::new(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .with_timeout(Duration::from_secs(5))
        .unwrap()
        .with_retry(RetryPolicy {
            max_attempts: 60,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(200),
            ..RetryPolicy::default()
        })
}

fn run_meta(source: &str) -> Meta {
    Meta {
        source: Some(source.to_owned()),
        subject: Some(format!("run/{}", uuid::Uuid::new_v4())),
        ..Meta::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_killed_mid_batch_loses_nothing_and_handles_each_event_once() {
    let store = redis_store("killed").await;
    let prefix = store.prefix().to_owned();
    let mut redis = connect().await;
    let source = unique("worker");
    let batch: Vec<_> = (0..8)
        .map(|_| {
            prepare::<orchestrator::System, _>(
                orchestrator::NodeExecutingData::examples()
                    .expect("examples decode")
                    .remove(0),
                &run_meta(&source),
            )
            .unwrap()
        })
        .collect();
    let ids: Vec<String> = batch.iter().map(|o| o.message_id.clone()).collect();

    let first = ServerProcess::start(&prefix, 0, Some(&ids[3]));
    let port = first.port;
    let client = patient_client(port);
    let sending = tokio::spawn(async move { client.post_batch(&batch).await });

    // Wait until the handler is inside the fourth event, then kill the process.
    let reached = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            if list(&mut redis, &format!("{prefix}:reached")).await == [ids[3].clone()] {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(
        reached.is_ok(),
        "the server reached the fourth event of the batch within 15 s"
    );
    assert_eq!(
        list(&mut redis, &format!("{prefix}:handled")).await,
        ids[..3],
        "three events were handled before the kill"
    );
    first.kill();

    // A new process, same Redis, same port: the client's resend lands there.
    let second = ServerProcess::start(&prefix, port, None);
    let results = tokio::time::timeout(Duration::from_secs(30), sending)
        .await
        .expect("the client finished the batch within 30 s")
        .expect("the sending task does not panic")
        .expect("the batch was accepted after the restart");
    let outcomes: Vec<Outcome> = results.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [
            [Outcome::Duplicate; 3].as_slice(),
            [Outcome::Handled; 5].as_slice()
        ]
        .concat(),
        "{results:?}"
    );
    assert_eq!(
        list(&mut redis, &format!("{prefix}:handled")).await,
        ids,
        "every event handled exactly once, in order"
    );
    second.stop();
    store.clear().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_restart_while_publishing_loses_no_confirmed_event_and_handles_none_twice() {
    let store = redis_store("restart").await;
    let prefix = store.prefix().to_owned();
    let mut redis = connect().await;
    let first = ServerProcess::start(&prefix, 0, None);
    let port = first.port;

    let confirmed = Arc::new(Mutex::new(Vec::<String>::new()));
    let failed = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Shutdown::new();
    let publishing = {
        let (confirmed, failed, stop) = (confirmed.clone(), failed.clone(), stop.clone());
        let source = unique("worker");
        tokio::spawn(async move {
            let publisher =
                Publisher::<orchestrator::System, _>::new(patient_client(port), Meta::default());
            let mut seq = 0;
            while !stop.is_triggered() {
                seq += 1;
                let meta = Meta {
                    seq: Some(seq),
                    ..run_meta(&source)
                };
                match publisher
                    .publish_with(
                        orchestrator::RunStageProgressData::examples()
                            .expect("examples decode")
                            .remove(0),
                        &meta,
                    )
                    .await
                {
                    Ok(id) => confirmed.lock().unwrap().push(id),
                    Err(e) => failed.lock().unwrap().push(e.to_string()),
                }
            }
        })
    };
    let confirmed_at_least = |n: usize| {
        let confirmed = confirmed.clone();
        async move {
            tokio::time::timeout(Duration::from_secs(20), async {
                while confirmed.lock().unwrap().len() < n {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
            .await
            .unwrap_or_else(|_| panic!("{n} events confirmed within 20 s"));
        }
    };

    confirmed_at_least(30).await;
    first.stop();
    let before_restart = confirmed.lock().unwrap().len();
    let second = ServerProcess::start(&prefix, port, None);
    confirmed_at_least(before_restart + 30).await;
    stop.trigger();
    tokio::time::timeout(Duration::from_secs(30), publishing)
        .await
        .expect("the publisher stops within 30 s")
        .expect("the publisher does not panic");
    second.stop();

    let failed = failed.lock().unwrap().clone();
    assert!(
        failed.is_empty(),
        "the client retried through the restart: {failed:?}"
    );
    let confirmed = confirmed.lock().unwrap().clone();
    let handled = list(&mut redis, &format!("{prefix}:handled")).await;
    let unique_handled: std::collections::HashSet<&String> = handled.iter().collect();
    assert_eq!(
        unique_handled.len(),
        handled.len(),
        "no event handled twice"
    );
    let missing: Vec<&String> = confirmed
        .iter()
        .filter(|id| !unique_handled.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "confirmed but never handled: {missing:?}"
    );
    assert_eq!(handled, confirmed, "handled = confirmed, in publish order");
    store.clear().await.unwrap();
}
