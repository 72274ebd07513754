//! A Kafka broker restart during publishing loses no confirmed message. Runs in its own
//! process: it starts a private tansu broker on a free port, storing into its own bucket of
//! the local S3 server, which it deletes again at the end (moto on 127.0.0.1:9000, which
//! `bash .ci/services.sh` starts; tansu's `memory://` storage would lose everything on
//! restart, and this tansu build has no `postgres://` storage). `TANSU_BIN` overrides the broker binary (default
//! `target/tansu/tansu`, cached by `.ci/services.sh`); `S3_ENDPOINT` the S3 address.
//!
//! A publisher sends continuously while the broker is killed (SIGKILL) and started again;
//! a publish that was not confirmed is retried with the same envelope id until it is. Every
//! confirmed message must then be in the topic.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use event_contracts::livepeer::{self, StreamTrace};
use event_contracts::runtime::transport::kafka::{KafkaConfig, KafkaSink, KafkaSource};
use event_contracts::runtime::transport::{Meta, Publisher, Source};
use event_contracts::Event;

const S3_ENV: [(&str, &str); 4] = [
    ("AWS_ACCESS_KEY_ID", "tansu"),
    ("AWS_SECRET_ACCESS_KEY", "tansu"),
    ("AWS_DEFAULT_REGION", "us-east-1"),
    ("AWS_ALLOW_HTTP", "true"),
];

fn tansu_bin() -> PathBuf {
    let bin = std::env::var_os("TANSU_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/tansu/tansu"));
    assert!(
        bin.is_file(),
        "the tansu broker binary is not at {} (`bash .ci/services.sh`, which `cargo xtask test` \
         runs first, caches it there; or set TANSU_BIN)",
        bin.display()
    );
    bin
}

/// One request to the S3 server, as HTTP/1.0 so that the answer is never chunked: its status
/// line and body. moto refuses to delete objects for an anonymous caller but does not check
/// signatures, so the request names tansu's access key with a placeholder signature.
fn s3_request(endpoint: &str, method: &str, path: &str) -> std::io::Result<(String, String)> {
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(host)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: {host}\r\nContent-Length: 0\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=tansu/20000101/us-east-1/s3/aws4_request, \
         SignedHeaders=host, Signature=0\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.lines().next().unwrap_or_default().to_owned();
    Ok((status, body.to_owned()))
}

/// The private bucket this broker stores into on the shared S3 server. Dropping it deletes
/// every object in it and then the bucket, so the shared server keeps nothing of this test.
struct Bucket {
    endpoint: String,
    name: String,
}

impl Bucket {
    fn create(endpoint: &str, name: &str) -> Self {
        let (status, _) = s3_request(endpoint, "PUT", &format!("/{name}")).unwrap_or_else(|e| {
            panic!(
                "the S3 server (moto) at {endpoint} is needed for tansu's durable storage: {e}; \
                 start it with `bash .ci/services.sh`"
            )
        });
        assert!(
            status.contains(" 200") || status.contains(" 409"),
            "creating S3 bucket {name} at {endpoint} answered `{status}`"
        );
        Self {
            endpoint: endpoint.to_owned(),
            name: name.to_owned(),
        }
    }

    /// Up to 1000 keys of the bucket (one ListObjectsV2 page).
    fn keys(&self) -> std::io::Result<Vec<String>> {
        let (_, body) = s3_request(
            &self.endpoint,
            "GET",
            &format!("/{}?list-type=2", self.name),
        )?;
        Ok(body
            .split("<Key>")
            .skip(1)
            .filter_map(|rest| rest.split_once("</Key>"))
            .map(|(key, _)| key.to_owned())
            .collect())
    }

    fn delete(&self) -> std::io::Result<()> {
        // tansu names its objects with [A-Za-z0-9/._-] only, which need no escaping in a path.
        loop {
            let keys = self.keys()?;
            if keys.is_empty() {
                break;
            }
            for key in keys {
                deleted(s3_request(
                    &self.endpoint,
                    "DELETE",
                    &format!("/{}/{key}", self.name),
                )?)?;
            }
        }
        deleted(s3_request(
            &self.endpoint,
            "DELETE",
            &format!("/{}", self.name),
        )?)
    }
}

/// An S3 DELETE answer: `204 No Content`, or the error it is.
fn deleted((status, body): (String, String)) -> std::io::Result<()> {
    if status.contains(" 204") {
        Ok(())
    } else {
        Err(std::io::Error::other(format!("{status}: {body}")))
    }
}

impl Drop for Bucket {
    fn drop(&mut self) {
        if let Err(e) = self.delete() {
            eprintln!(
                "could not delete S3 bucket {} at {}: {e}",
                self.name, self.endpoint
            );
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

struct Broker {
    child: Option<Child>,
    bin: PathBuf,
    port: u16,
    storage: String,
    endpoint: String,
    log: PathBuf,
}

impl Broker {
    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("broker log");
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let child = Command::new(&self.bin)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", &self.storage])
            .envs(S3_ENV)
            .env("AWS_ENDPOINT", &self.endpoint)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.bin.display()));
        self.child = Some(child);
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
        // The log says what went wrong when the test failed; otherwise it is litter.
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

async fn wait_connect(config: &KafkaConfig, deadline: Duration) -> KafkaSink {
    let start = Instant::now();
    loop {
        match KafkaSink::connect(config).await {
            Ok(sink) => return sink,
            Err(e) if start.elapsed() > deadline => {
                panic!("the private tansu broker did not answer within {deadline:?}: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_during_publishing_loses_no_confirmed_message() {
    let endpoint = std::env::var("S3_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:9000".into());
    let suffix = &Meta::default().id_or_new()[..8];
    let bucket = format!("lp-restart-{}-{suffix}", std::process::id());
    // Declared before the broker, so dropped after it: the broker stops writing first.
    let _bucket = Bucket::create(&endpoint, &bucket);
    let port = free_port();
    let mut broker = Broker {
        child: None,
        bin: tansu_bin(),
        port,
        storage: format!("s3://{bucket}/"),
        endpoint,
        log: Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{bucket}.log")),
    };
    broker.start();

    let config = KafkaConfig::new(format!("127.0.0.1:{port}"))
        .set("session.timeout.ms", "2000")
        .set("heartbeat.interval.ms", "300")
        // A publish not confirmed within 5 s is reported failed (and retried below).
        .set("message.timeout.ms", "5000")
        // tansu 0.6 records an idempotent producer's sequence number before it writes the
        // batch: a broker killed between the two answers the retry of that batch with
        // DUPLICATE_SEQUENCE_NUMBER, which librdkafka counts as delivered, so the record is
        // confirmed yet absent (seen here as a hole in the partition's offsets). Without
        // idempotence the retry is written at a new offset: at-least-once, which consumers
        // absorb through their idempotency key. See `KafkaConfig`'s broker notes.
        .set("enable.idempotence", "false")
        .with_partitions(1)
        .with_connect_timeout(Duration::from_secs(5));
    let topic = format!("lp-restart-{suffix}");
    let sink = wait_connect(&config, Duration::from_secs(20))
        .await
        .with_topic(&topic);
    config
        .ensure_topics(&[&topic])
        .await
        .expect("topic created");
    let publisher = Arc::new(Publisher::<livepeer::System, _>::new(
        sink,
        Meta {
            source: Some("restart-test".into()),
            ..Meta::default()
        },
    ));

    let confirmed = Arc::new(Mutex::new(Vec::<String>::new()));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let publishing = {
        let (publisher, confirmed, failures, stop) = (
            publisher.clone(),
            confirmed.clone(),
            failures.clone(),
            stop.clone(),
        );
        tokio::spawn(async move {
            let event: StreamTrace = StreamTrace::examples().expect("examples decode").remove(0);
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                // One message, retried with the same id until the broker confirms it.
                let id = Meta::default().id_or_new();
                let meta = Meta {
                    id: Some(id.clone()),
                    ..Meta::default()
                };
                loop {
                    match publisher.publish_with(event.clone(), &meta).await {
                        Ok(_) => {
                            confirmed.lock().unwrap().push(id);
                            break;
                        }
                        Err(e) => {
                            failures.lock().unwrap().push(e.to_string());
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let count = |c: &Arc<Mutex<Vec<String>>>| c.lock().unwrap().len();
    let wait_for = |target: usize, what: &'static str| {
        let confirmed = confirmed.clone();
        async move {
            tokio::time::timeout(Duration::from_secs(40), async {
                while confirmed.lock().unwrap().len() < target {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
            .await
            .unwrap_or_else(|_| {
                panic!("timed out waiting for {target} confirmed publishes ({what})")
            })
        }
    };
    wait_for(30, "before the restart").await;
    broker.kill();
    let at_kill = count(&confirmed);
    tokio::time::sleep(Duration::from_millis(700)).await;
    broker.start();
    wait_for(at_kill + 30, "after the restart").await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    tokio::time::timeout(Duration::from_secs(30), publishing)
        .await
        .expect("the publisher stops")
        .expect("the publisher task does not panic");
    let confirmed: Vec<String> = confirmed.lock().unwrap().clone();
    let failures = failures.lock().unwrap().clone();
    eprintln!(
        "restart: {} confirmed ({at_kill} before the kill), {} failed attempts (retried); first: {:?}",
        confirmed.len(),
        failures.len(),
        failures.first()
    );

    // Everything confirmed is in the topic after the restart.
    let mut reader = KafkaSource::connect(&config, &format!("reader-{suffix}"), &[&topic])
        .await
        .expect("reader joins");
    let want: BTreeSet<&str> = confirmed.iter().map(String::as_str).collect();
    let mut found = BTreeSet::new();
    let mut records = 0usize;
    let read = tokio::time::timeout(Duration::from_secs(30), async {
        while !want.iter().all(|id| found.contains(*id)) {
            let (delivery, token) = reader
                .next()
                .await
                .expect("reading works")
                .expect("a Kafka source does not end");
            records += 1;
            let body: serde_json::Value =
                serde_json::from_slice(&delivery.payload).expect("a published envelope");
            found.insert(body["id"].as_str().unwrap_or_default().to_owned());
            reader.ack(token).await.expect("ack");
        }
    })
    .await;
    let lost: Vec<&&str> = want.iter().filter(|id| !found.contains(**id)).collect();
    assert!(
        read.is_ok() && lost.is_empty(),
        "{} of {} confirmed messages are missing after the broker restart (read {records} \
         records); first missing: {:?}",
        lost.len(),
        want.len(),
        lost.first()
    );
    eprintln!(
        "restart: all {} confirmed messages read back ({records} records)",
        want.len()
    );
    drop(reader);
    broker.kill();
}
