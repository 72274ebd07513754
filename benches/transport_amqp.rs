//! Throughput of the AMQP binding against the raw `lapin` client doing the same work on the
//! same RabbitMQ in the same run.
//!
//! ```sh
//! cargo bench --bench transport_amqp     # RabbitMQ at AMQP_URL or 127.0.0.1:5672
//! ```
//!
//! - publish: one pre-encoded `capture.alive` message (same bytes, same properties:
//!   persistent, `message_id`, `content_type`, `traceparent` header), published `mandatory`
//!   on a confirm channel and awaited one at a time until the broker confirms; binding =
//!   `AmqpSink::send`, raw = `basic_publish` + confirm on a raw channel.
//! - consume: 5 000 messages per side and round (the timed publishes plus an untimed,
//!   pipelined fill), every message read with the same prefetch, decoded and validated
//!   (`dam::decode_message`), handed to a handler, and acked one by one; binding =
//!   `transport::run` over an `AmqpSource`, raw = a hand-written `basic_consume` loop.
//!
//! Publishing alternates binding and raw every 50 messages (the confirm of a persistent
//! message waits for the broker's disk, whose latency drifts on a busy machine); consuming
//! alternates which side goes first per round. All through one durable queue; the median of
//! the rounds is reported, with the ratio binding/raw (1.0 = no overhead, above 1 = faster).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use event_contracts::dam::{self, CaptureAlive, DamEvent};
use event_contracts::runtime::transport::amqp::{AmqpBroker, AmqpConfig, AmqpSink};
use event_contracts::runtime::transport::{
    self, ConsumerGroup, Context, Contract, HandlerResult, Outgoing, Policy, Shutdown, Sink,
};
use event_contracts::Event;
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Confirmation, Connection, ConnectionProperties};

const MESSAGES: u64 = 1_000;
const ROUNDS: usize = 5;
const CHUNK: u64 = 50;
/// Messages each side consumes per round (the timed publishes plus an untimed, pipelined fill).
const CONSUMED: u64 = 5_000;
const PREFETCH: u16 = 64;
const GROUP: ConsumerGroup = ConsumerGroup {
    name: "bench",
    binds: &["capture.*"],
    description: "bench group",
};

fn example<E: Event>() -> E {
    let schema: serde_json::Value = serde_json::from_str(
        event_contracts::SCHEMAS
            .documents()
            .get(E::SCHEMA_ID)
            .map(|v| v.to_string())
            .as_deref()
            .expect("schema embedded"),
    )
    .expect("schema is JSON");
    serde_json::from_value(schema["examples"][0].clone()).expect("example decodes")
}

#[derive(Clone)]
struct Count(Arc<AtomicU64>, Shutdown);

impl dam::Handler for Count {
    async fn capture_alive(&self, message: CaptureAlive, _context: &Context) -> HandlerResult {
        std::hint::black_box(&message);
        if self.0.fetch_add(1, Ordering::Relaxed) + 1 >= CONSUMED {
            self.1.trigger();
        }
        Ok(())
    }
}

struct Raw {
    _connection: Connection,
    channel: lapin::Channel,
}

async fn raw(config: &AmqpConfig) -> Raw {
    let connection = Connection::connect(&config.uri, ConnectionProperties::default())
        .await
        .expect("raw connection");
    let channel = connection.create_channel().await.expect("raw channel");
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");
    Raw {
        _connection: connection,
        channel,
    }
}

fn raw_properties(message: &Outgoing) -> BasicProperties {
    let mut headers = FieldTable::default();
    for (name, value) in message.headers.iter() {
        if name != "content-type" {
            headers.insert(name.into(), AMQPValue::LongString(LongString::from(value)));
        }
    }
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into())
        .with_message_id(message.message_id.as_str().into())
        .with_headers(headers)
}

async fn publish_binding(sink: &AmqpSink, message: &Outgoing, n: u64) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        sink.send(message.clone()).await.expect("binding publish");
    }
    start.elapsed()
}

async fn publish_raw(raw: &Raw, exchange: &str, message: &Outgoing, n: u64) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        let confirm = raw
            .channel
            .basic_publish(
                exchange.into(),
                message.channel.as_str().into(),
                BasicPublishOptions {
                    mandatory: true,
                    immediate: false,
                },
                &message.payload,
                raw_properties(message),
            )
            .await
            .expect("raw publish")
            .await
            .expect("raw confirm");
        assert_eq!(confirm, Confirmation::Ack(None), "raw publish confirmed");
    }
    start.elapsed()
}

/// Untimed: `n` more messages, pipelined, confirmed at the end.
async fn fill(raw: &Raw, exchange: &str, message: &Outgoing, n: u64) {
    for _ in 0..n {
        drop(
            raw.channel
                .basic_publish(
                    exchange.into(),
                    message.channel.as_str().into(),
                    BasicPublishOptions {
                        mandatory: true,
                        immediate: false,
                    },
                    &message.payload,
                    raw_properties(message),
                )
                .await
                .expect("fill publish"),
        );
    }
    let returned = raw
        .channel
        .wait_for_confirms()
        .await
        .expect("fill confirms");
    assert!(returned.is_empty(), "fill messages were routed");
}

async fn consume_binding(broker: &AmqpBroker) -> Duration {
    let source = broker.source(GROUP.name).await.expect("binding source");
    let shutdown = Shutdown::new();
    let count = Count(Arc::new(AtomicU64::new(0)), shutdown.clone());
    let handler = dam::Dispatch(count.clone());
    let policy = Policy::new(GROUP.name);
    let start = Instant::now();
    let stats = tokio::time::timeout(
        Duration::from_secs(60),
        transport::run::<dam::System, _, _, _>(source, &handler, &policy, &shutdown),
    )
    .await
    .expect("binding consumed every message within 60 s")
    .expect("binding consumer");
    let elapsed = start.elapsed();
    assert_eq!(stats.handled, CONSUMED, "{stats:?}");
    elapsed
}

async fn consume_raw(config: &AmqpConfig) -> Duration {
    let raw = raw(config).await;
    raw.channel
        .basic_qos(PREFETCH, BasicQosOptions::default())
        .await
        .expect("qos");
    let mut consumer = raw
        .channel
        .basic_consume(
            config.group_queue(GROUP.name).as_str().into(),
            "raw-bench".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("raw consume");
    let start = Instant::now();
    let mut handled = 0;
    while handled < CONSUMED {
        let delivery = tokio::time::timeout(Duration::from_secs(60), consumer.next())
            .await
            .expect("raw consumed every message within 60 s")
            .expect("consumer open")
            .expect("delivery");
        let event = dam::decode_message(delivery.routing_key.as_str(), &delivery.data)
            .expect("valid message");
        std::hint::black_box(&event);
        if let DamEvent::CaptureAlive(_) = event {
            handled += 1;
        }
        delivery
            .acker
            .ack(BasicAckOptions::default())
            .await
            .expect("ack");
    }
    start.elapsed()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn rate(d: Duration) -> f64 {
    MESSAGES as f64 / d.as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let uri = std::env::var("AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    let mut config =
        AmqpConfig::new(uri).with_exchange(format!("bench-amqp-{}", std::process::id()));
    config.prefetch = PREFETCH;
    config.audit_binds.clear();
    let broker = match AmqpBroker::connect(&config).await {
        Ok(b) => b,
        Err(e) => panic!("RabbitMQ is not reachable ({e}); start it with `bash .ci/services.sh`"),
    };
    broker.declare_groups(&[GROUP]).await.expect("topology");
    let event = DamEvent::CaptureAlive(example());
    let mut message = <dam::System as Contract>::outgoing(&event).expect("encodes");
    message.headers.insert(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    );
    let sink = broker.sink().await.expect("binding sink");
    let raw_publisher = raw(&config).await;

    let (mut pub_b, mut pub_r, mut con_b, mut con_r) = (vec![], vec![], vec![], vec![]);
    for round in 0..=ROUNDS {
        // Publishing is bound by the broker's fsync latency, which drifts on a busy machine,
        // so binding and raw alternate every CHUNK messages and each side's time is summed.
        let (mut pb, mut pr) = (Duration::ZERO, Duration::ZERO);
        for chunk in 0..MESSAGES / CHUNK {
            if (round + chunk as usize) & 1 == 0 {
                pb += publish_binding(&sink, &message, CHUNK).await;
                pr += publish_raw(&raw_publisher, &config.exchange, &message, CHUNK).await;
            } else {
                pr += publish_raw(&raw_publisher, &config.exchange, &message, CHUNK).await;
                pb += publish_binding(&sink, &message, CHUNK).await;
            }
        }
        fill(
            &raw_publisher,
            &config.exchange,
            &message,
            2 * (CONSUMED - MESSAGES),
        )
        .await;
        // The queue now holds 2 x CONSUMED; each side consumes CONSUMED of them.
        let (cb, cr) = if round % 2 == 0 {
            let cb = consume_binding(&broker).await;
            (cb, consume_raw(&config).await)
        } else {
            let cr = consume_raw(&config).await;
            (consume_binding(&broker).await, cr)
        };
        if round == 0 {
            continue; // warm-up
        }
        pub_b.push(rate(pb));
        pub_r.push(rate(pr));
        con_b.push(CONSUMED as f64 / cb.as_secs_f64());
        con_r.push(CONSUMED as f64 / cr.as_secs_f64());
    }
    let (pb, pr, cb, cr) = (median(pub_b), median(pub_r), median(con_b), median(con_r));
    println!(
        "amqp transport, median of {ROUNDS} rounds: {MESSAGES} confirmed publishes and \
         {CONSUMED} consumed per side per round, prefetch {PREFETCH}"
    );
    println!(
        "publish  binding {pb:>9.0} ev/s   raw {pr:>9.0} ev/s   binding/raw {:.3}",
        pb / pr
    );
    println!(
        "consume  binding {cb:>9.0} ev/s   raw {cr:>9.0} ev/s   binding/raw {:.3}",
        cb / cr
    );
    broker.delete_groups(&[GROUP]).await.expect("cleanup");
}
