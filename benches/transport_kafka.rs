//! Events/s through the Kafka binding vs the raw rdkafka client doing the same work on the
//! same broker in the same run (`cargo bench --bench transport_kafka`; needs
//! `bash .ci/services.sh`, `KAFKA_BROKERS` overrides 127.0.0.1:9092).
//!
//! - publish: N copies of one pre-encoded livepeer message (record key, `traceparent` and
//!   `content-type` headers), each side owning its copies before it is timed, all in flight at
//!   once, each awaited until its delivery report;
//!   binding = `KafkaSink::send`, raw = `FutureProducer::send` with the same settings
//!   (`acks=all`, idempotence, `linger.ms=1`).
//! - consume: the N messages and `FILL` more (published untimed, so that each phase lasts
//!   long enough to measure) with a fresh consumer group, each decoded and validated
//!   (`livepeer::decode_message`) and its offset committed (async) after handling, at most
//!   every `COMMIT_INTERVAL` as the binding does;
//!   binding = `KafkaSource` + `transport::run` with a typed handler, raw = `StreamConsumer`
//!   with `decode_message` and `commit`, subscribed like the binding to the topic and the
//!   group's (empty) retry topic. Timed from the first message to the last (the
//!   group join is not timed).
//!
//! Rounds alternate which side goes first, each side first in half of them; reported are each
//! side's median and the median [min–max] of the per-round ratios, overall and by which side
//! went first. N is kept
//! moderate: with `.ci/services.sh` tansu stores into a moto S3 server, which is the
//! bottleneck (and grows in memory) for large runs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use event_contracts::livepeer::{self, GatewayEnvelope, StreamTrace};
use event_contracts::runtime::transport::kafka::{
    retry_topic, KafkaConfig, KafkaSink, KafkaSource, COMMIT_INTERVAL,
};
use event_contracts::runtime::transport::{
    self, Context, HandlerResult, Meta, Outgoing, Policy, Publisher, Shutdown, Sink,
};
use event_contracts::Event;
use futures_util::future::join_all;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

#[path = "support/rounds.rs"]
mod rounds;
use rounds::report_binding_raw;

const N: usize = 5_000;
/// Messages added to each topic after its timed publish, untimed: with only the N (about 20 ms
/// of consuming) the per-round consume ratio ranged over 0.49–1.79 in one run.
const FILL: usize = 20_000;
/// What each consumer reads in a round.
const CONSUMED: usize = N + FILL;
/// Even, so that each side goes first in half the rounds: on tansu the first publisher of a
/// round ran slower than the second in every round measured (both topics are new each round),
/// and with an odd count the median fell among the rounds the binding went first.
const ROUNDS: usize = 6;

fn brokers() -> String {
    std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

fn config() -> KafkaConfig {
    KafkaConfig::new(brokers())
        .set("session.timeout.ms", "2000")
        .set("heartbeat.interval.ms", "300")
        .with_partitions(3)
}

fn raw_producer() -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "1")
        .set("message.timeout.ms", "30000")
        .create()
        .expect("raw producer")
}

/// The raw consumer reads the same two topics the binding's does: the events and the group's
/// retry topic (a hand-written consumer with delayed retries needs one too). The retry topic
/// stays empty here, but each of its partitions is fetched all along, which costs the broker
/// (tansu on a local S3) as much as in the binding.
fn raw_consumer(group: &str, topic: &str) -> StreamConsumer {
    let c: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "2000")
        .set("heartbeat.interval.ms", "300")
        .set("fetch.wait.max.ms", "100")
        .create()
        .expect("raw consumer");
    c.subscribe(&[topic, &retry_topic(topic, group)])
        .expect("subscribe");
    c
}

fn example<E: Event>() -> E {
    let schema = event_contracts::SCHEMAS
        .documents()
        .get(E::SCHEMA_ID)
        .map(|v| v.to_string())
        .expect("schema embedded");
    let schema: serde_json::Value = serde_json::from_str(&schema).expect("schema is JSON");
    serde_json::from_value(schema["examples"][0].clone()).expect("example decodes")
}

/// A sink that keeps the message instead of sending it: the pre-encoded message.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Option<Outgoing>>>);

impl Sink for Capture {
    async fn send(&self, message: Outgoing) -> Result<(), transport::TransportError> {
        *self.0.lock().unwrap() = Some(message);
        Ok(())
    }
}

async fn encoded() -> Outgoing {
    let capture = Capture::default();
    let publisher = Publisher::<livepeer::System, _>::new(
        capture.clone(),
        Meta {
            source: Some("bench-gateway:8935".into()),
            ..Meta::default()
        },
    );
    publisher
        .publish(example::<StreamTrace>())
        .await
        .expect("the example encodes");
    let out = capture.0.lock().unwrap().take();
    out.expect("captured")
}

/// N owned copies of the message for one side's publish phase, made before it is timed: a
/// producer encodes each event into a buffer of its own, and a copy made inside the timed
/// phase delayed the first send by the time to copy all N (about 5% of the phase here,
/// measured in stop 24) on whichever side made it.
fn batch_of(message: &Outgoing) -> Vec<Outgoing> {
    vec![message.clone(); N]
}

async fn publish_binding(sink: &KafkaSink, batch: Vec<Outgoing>) -> f64 {
    let n = batch.len();
    let start = Instant::now();
    let results = join_all(batch.into_iter().map(|m| sink.send(m))).await;
    let secs = start.elapsed().as_secs_f64();
    for r in results {
        r.expect("binding publish confirmed");
    }
    n as f64 / secs
}

async fn publish_raw(producer: &FutureProducer, topic: &str, batch: Vec<Outgoing>) -> f64 {
    let n = batch.len();
    let start = Instant::now();
    let results = join_all(batch.into_iter().map(|message| async move {
        let mut headers = OwnedHeaders::new_with_capacity(message.headers.len());
        for (k, v) in message.headers.iter() {
            headers = headers.insert(Header {
                key: k,
                value: Some(v),
            });
        }
        let mut record = FutureRecord::<[u8], [u8]>::to(topic)
            .payload(&message.payload)
            .headers(headers);
        if let Some(key) = &message.key {
            record = record.key(key.as_bytes());
        }
        producer.send(record, Duration::from_secs(30)).await
    }))
    .await;
    let secs = start.elapsed().as_secs_f64();
    for r in results {
        r.map_err(|(e, _)| e).expect("raw publish confirmed");
    }
    n as f64 / secs
}

/// [`FILL`] more copies of `message` on each of `topics`, untimed, all in flight at once.
async fn fill(producer: &FutureProducer, topics: &[&str], message: &Outgoing) {
    for topic in topics {
        publish_raw(producer, topic, vec![message.clone(); FILL]).await;
    }
}

#[derive(Clone)]
struct Count {
    handled: Arc<AtomicU64>,
    first: Arc<Mutex<Option<Instant>>>,
    last: Arc<Mutex<Option<Instant>>>,
    shutdown: Shutdown,
}

impl livepeer::Handler for Count {
    async fn stream_trace(&self, m: GatewayEnvelope<StreamTrace>, _: &Context) -> HandlerResult {
        std::hint::black_box(&m);
        let n = self.handled.fetch_add(1, Ordering::SeqCst) + 1;
        if n == 1 {
            *self.first.lock().unwrap() = Some(Instant::now());
        }
        if n as usize == CONSUMED {
            *self.last.lock().unwrap() = Some(Instant::now());
            self.shutdown.trigger();
        }
        Ok(())
    }
}

async fn consume_binding(topic: &str, group: &str) -> f64 {
    let source = KafkaSource::connect(&config(), group, &[topic])
        .await
        .expect("binding source");
    let count = Count {
        handled: Arc::default(),
        first: Arc::default(),
        last: Arc::default(),
        shutdown: Shutdown::new(),
    };
    let policy = Policy::new(group);
    let handler = livepeer::Dispatch(count.clone());
    tokio::time::timeout(
        Duration::from_secs(60),
        transport::run::<livepeer::System, _, _, _>(source, &handler, &policy, &count.shutdown),
    )
    .await
    .expect("binding consumer finished in time")
    .expect("binding consumer ran");
    let first = count.first.lock().unwrap().expect("first");
    let last = count.last.lock().unwrap().expect("last");
    (CONSUMED - 1) as f64 / (last - first).as_secs_f64()
}

async fn consume_raw(topic: &str, group: &str) -> f64 {
    let consumer = raw_consumer(group, topic);
    let mut first = None;
    // The binding's commit policy, by hand: the next offset of each partition, sent in one
    // async commit at most every COMMIT_INTERVAL. A commit per message kept up only while a
    // phase lasted 20 ms; over 25,000 messages it made raw the slower side (binding/raw 1.19).
    let mut uncommitted: HashMap<(String, i32), i64> = HashMap::new();
    let mut last_commit = Instant::now();
    let commit = |uncommitted: &mut HashMap<(String, i32), i64>| {
        let mut tpl = TopicPartitionList::new();
        for ((topic, partition), offset) in uncommitted.drain() {
            tpl.add_partition_offset(&topic, partition, Offset::Offset(offset))
                .expect("tpl");
        }
        consumer.commit(&tpl, CommitMode::Async).expect("commit");
    };
    for _ in 0..CONSUMED {
        let m = tokio::time::timeout(Duration::from_secs(60), consumer.recv())
            .await
            .expect("raw consumer in time")
            .expect("raw message");
        if first.is_none() {
            first = Some(Instant::now());
        }
        let message = livepeer::decode_message(m.payload().unwrap_or_default()).expect("decodes");
        std::hint::black_box(&message);
        uncommitted.insert((m.topic().to_owned(), m.partition()), m.offset() + 1);
        drop(m);
        if last_commit.elapsed() >= COMMIT_INTERVAL {
            commit(&mut uncommitted);
            last_commit = Instant::now();
        }
    }
    let rate = (CONSUMED - 1) as f64 / first.expect("first").elapsed().as_secs_f64();
    if !uncommitted.is_empty() {
        commit(&mut uncommitted);
    }
    rate
}

#[tokio::main]
async fn main() {
    let run = format!(
        "{}-{}",
        std::process::id(),
        &Meta::default().id_or_new()[..8]
    );
    let message = encoded().await;
    let sink = KafkaSink::connect(&config())
        .await
        .unwrap_or_else(|e| panic!("Kafka needed for this bench: {e}"));
    let producer = raw_producer();
    let (mut pb, mut pr, mut cb, mut cr) = (vec![], vec![], vec![], vec![]);
    println!(
        "kafka bench: {N} messages of {} bytes published by each side, {CONSUMED} consumed by \
         each, {ROUNDS} rounds",
        message.payload.len()
    );
    for round in 0..ROUNDS {
        let tb = format!("bench-b-{run}-{round}");
        let tr = format!("bench-r-{run}-{round}");
        let gb = format!("bench-gb-{run}-{round}");
        let gr = format!("bench-gr-{run}-{round}");
        config()
            .ensure_topics(&[&tb, &tr, &retry_topic(&tr, &gr)])
            .await
            .expect("topics");
        let sink = sink.clone().with_topic(&tb);
        let (binding_batch, raw_batch) = (batch_of(&message), batch_of(&message));
        if round % 2 == 0 {
            pb.push(publish_binding(&sink, binding_batch).await);
            pr.push(publish_raw(&producer, &tr, raw_batch).await);
            fill(&producer, &[&tb, &tr], &message).await;
            cb.push(consume_binding(&tb, &gb).await);
            cr.push(consume_raw(&tr, &gr).await);
        } else {
            pr.push(publish_raw(&producer, &tr, raw_batch).await);
            pb.push(publish_binding(&sink, binding_batch).await);
            fill(&producer, &[&tb, &tr], &message).await;
            cr.push(consume_raw(&tr, &gr).await);
            cb.push(consume_binding(&tb, &gb).await);
        }
        println!(
            "round {round}: publish binding {:>8.0}/s raw {:>8.0}/s | consume binding {:>8.0}/s raw {:>8.0}/s",
            pb[round], pr[round], cb[round], cr[round]
        );
    }
    report_binding_raw("publish", &pb, &pr);
    report_binding_raw("consume", &cb, &cr);
}
