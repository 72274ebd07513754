//! A RabbitMQ restart in the middle of publishing loses no confirmed message. Runs in its own
//! process: it starts a private RabbitMQ node (own node name, AMQP and distribution ports,
//! config, plugins, mnesia and log directories and Erlang cookie, all under
//! `target/tmp/amqp-restart-<pid>/`), SIGKILLs it while a publisher sends continuously, and
//! starts it again with the same node name and mnesia directory, so durable queues and
//! persistent messages come back from disk. Nothing of the machine's own RabbitMQ is touched;
//! only epmd, which every Erlang node on the machine shares, learns the private node's name.
//!
//! `RABBITMQ_SERVER` overrides the `rabbitmq-server` script (default
//! `/usr/lib/rabbitmq/bin/rabbitmq-server`, else `rabbitmq-server` on `PATH`).

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use event_contracts::dam;
use event_contracts::runtime::transport::amqp::{AmqpBroker, AmqpConfig};
use event_contracts::runtime::transport::{ConsumerGroup, Meta, Publisher};
use event_contracts::Event;
use private_brokers::{RabbitNode, RABBIT_READY_WITHIN as READY_WITHIN};

mod private_brokers;

const GROUP: ConsumerGroup = ConsumerGroup {
    name: "restart",
    binds: &["capture.*"],
    description: "test group",
};

fn config(url: String) -> AmqpConfig {
    let mut config = AmqpConfig::new(url).with_exchange("test-restart");
    config.audit_binds.clear();
    config.connect_timeout = Duration::from_secs(3);
    config.confirm_timeout = Duration::from_secs(10);
    config.reconnect_timeout = READY_WITHIN;
    config
}

async fn broker(config: AmqpConfig) -> AmqpBroker {
    AmqpBroker::connect(&config).await.unwrap_or_else(|e| {
        panic!("the private RabbitMQ node speaks AMQP but refuses a client: {e}")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_during_publishing_loses_no_confirmed_message() {
    let mut node = RabbitNode::new(Path::new(env!("CARGO_TARGET_TMPDIR")), "restart");
    node.start().await;
    let config = config(node.url());
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

    let publishing = {
        let (confirmed, failures, restarted) =
            (confirmed.clone(), failures.clone(), restarted.clone());
        async move {
            let mut after_restart = 0;
            for i in 0..1_000_000u64 {
                let mut alive: dam::CaptureAlive = dam::CaptureAlive::examples()
                    .expect("examples decode")
                    .remove(0);
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
        let (confirmed, restarted) = (confirmed.clone(), restarted.clone());
        let node = &mut node;
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
            node.kill();
            node.start().await;
            restarted.store(true, Ordering::SeqCst);
            before
        }
    };
    let (reconnects, confirmed_before_kill) =
        tokio::time::timeout(READY_WITHIN + Duration::from_secs(60), async {
            tokio::join!(publishing, restarting)
        })
        .await
        .expect("publishing through the restart finished in time");

    let confirmed = confirmed.lock().unwrap().clone();
    let failures = failures.lock().unwrap().clone();
    assert!(failures.is_empty(), "publishes that gave up: {failures:?}");
    assert!(
        reconnects >= 1,
        "the publisher never lost its connection: was the node restarted?"
    );
    assert!(confirmed.len() >= confirmed_before_kill + 50);

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
        "{} confirmed ({confirmed_before_kill} before the kill), {copies} stored ({} duplicates), \
         {reconnects} reconnect(s)",
        confirmed.len(),
        copies - stored.len()
    );
}
