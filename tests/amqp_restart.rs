//! A RabbitMQ restart (`rabbitmqctl stop_app` / `start_app`) in the middle of publishing loses
//! no confirmed message. Its own test binary because it stops the shared local broker for a
//! few seconds. Needs RabbitMQ on 127.0.0.1:5672 and `rabbitmqctl` (start the broker with
//! `bash .ci/services.sh`).

use std::collections::HashSet;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use event_contracts::dam;
use event_contracts::runtime::transport::amqp::{AmqpBroker, AmqpConfig};
use event_contracts::runtime::transport::{ConsumerGroup, Meta, Publisher};
use event_contracts::Event;

const GROUP: ConsumerGroup = ConsumerGroup {
    name: "restart",
    binds: &["capture.*"],
    description: "test group",
};

fn example<E: Event>() -> E {
    let schema = event_contracts::SCHEMAS
        .documents()
        .get(E::SCHEMA_ID)
        .map(|v| v.to_string())
        .expect("schema embedded");
    let schema: serde_json::Value = serde_json::from_str(&schema).expect("schema is JSON");
    serde_json::from_value(schema["examples"][0].clone()).expect("example decodes")
}

fn config() -> AmqpConfig {
    let uri = std::env::var("AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let mut config = AmqpConfig::new(uri)
        .with_exchange(format!("test-restart-{}-{nanos:08x}", std::process::id()));
    config.audit_binds.clear();
    config.connect_timeout = Duration::from_secs(3);
    config.confirm_timeout = Duration::from_secs(10);
    config.reconnect_timeout = Duration::from_secs(60);
    config
}

async fn broker(config: AmqpConfig) -> AmqpBroker {
    match AmqpBroker::connect(config).await {
        Ok(b) => b,
        Err(e) => panic!(
            "RabbitMQ is not reachable ({e}); start it with `bash .ci/services.sh` \
             (or point AMQP_URL at a running broker)"
        ),
    }
}

fn rabbitmqctl(command: &str) {
    let out = Command::new("timeout")
        .args(["60", "rabbitmqctl", command])
        .output()
        .unwrap_or_else(|e| panic!("cannot run `rabbitmqctl {command}`: {e}"));
    assert!(
        out.status.success(),
        "`rabbitmqctl {command}` failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts the app again if the test fails while the broker is stopped.
struct RestartGuard(Arc<AtomicBool>);

impl Drop for RestartGuard {
    fn drop(&mut self) {
        if self.0.load(Ordering::SeqCst) {
            let _ = Command::new("timeout")
                .args(["60", "rabbitmqctl", "start_app"])
                .status();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_during_publishing_loses_no_confirmed_message() {
    let config = config();
    let admin = broker(config.clone()).await;
    admin.declare_groups(&[GROUP]).await.expect("topology");
    let publisher = Publisher::<dam::System, _>::new(
        admin.sink().await.expect("publisher connects"),
        Meta::default(),
    );
    drop(admin);

    let confirmed = Arc::new(Mutex::new(Vec::<String>::new()));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let restarted = Arc::new(AtomicBool::new(false));
    let stopped = Arc::new(AtomicBool::new(false));
    let _guard = RestartGuard(stopped.clone());

    let publishing = {
        let (confirmed, failures, restarted) =
            (confirmed.clone(), failures.clone(), restarted.clone());
        async move {
            let mut after_restart = 0;
            for i in 0..1_000_000u64 {
                let mut alive: dam::CaptureAlive = example();
                alive.request_id = Some(format!("req-{i}"));
                match publisher.publish(alive).await {
                    Ok(id) => confirmed.lock().unwrap().push(id),
                    Err(e) => failures.lock().unwrap().push(e.to_string()),
                }
                if restarted.load(Ordering::SeqCst) {
                    after_restart += 1;
                    if after_restart >= 50 {
                        break;
                    }
                }
            }
            publisher.sink().reconnects()
        }
    };
    let restarting = {
        let (confirmed, restarted, stopped) =
            (confirmed.clone(), restarted.clone(), stopped.clone());
        let config = config.clone();
        async move {
            let start = Instant::now();
            while confirmed.lock().unwrap().len() < 50 {
                assert!(
                    start.elapsed() < Duration::from_secs(20),
                    "the publisher did not confirm 50 messages within 20 s"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let before = confirmed.lock().unwrap().len();
            stopped.store(true, Ordering::SeqCst);
            tokio::task::spawn_blocking(|| rabbitmqctl("stop_app"))
                .await
                .expect("stop_app");
            tokio::task::spawn_blocking(|| rabbitmqctl("start_app"))
                .await
                .expect("start_app");
            stopped.store(false, Ordering::SeqCst);
            let start = Instant::now();
            while AmqpBroker::connect(config.clone()).await.is_err() {
                assert!(
                    start.elapsed() < Duration::from_secs(60),
                    "RabbitMQ did not accept connections within 60 s of start_app"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            restarted.store(true, Ordering::SeqCst);
            before
        }
    };
    let (reconnects, confirmed_before_stop) =
        tokio::time::timeout(Duration::from_secs(150), async {
            tokio::join!(publishing, restarting)
        })
        .await
        .expect("publishing through the restart finished within 150 s");

    let confirmed = confirmed.lock().unwrap().clone();
    let failures = failures.lock().unwrap().clone();
    assert!(failures.is_empty(), "publishes that gave up: {failures:?}");
    assert!(
        reconnects >= 1,
        "the publisher never lost its connection: was the broker restarted?"
    );
    assert!(confirmed.len() >= confirmed_before_stop + 50);

    let admin = broker(config).await;
    let queue = admin.config().group_queue(GROUP.name);
    let mut stored = HashSet::new();
    let mut copies = 0usize;
    while let Some(d) = admin.take(&queue).await.expect("drain the queue") {
        copies += 1;
        stored.insert(String::from_utf8(d.key.unwrap_or_default()).expect("utf-8 id"));
    }
    let lost: Vec<&String> = confirmed
        .iter()
        .filter(|id| !stored.contains(*id))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} confirmed messages lost after the restart: {lost:?}",
        lost.len(),
        confirmed.len()
    );
    eprintln!(
        "{} confirmed, {copies} stored ({} duplicates), {reconnects} reconnect(s)",
        confirmed.len(),
        copies - stored.len()
    );
    admin.delete_groups(&[GROUP]).await.expect("cleanup");
}
