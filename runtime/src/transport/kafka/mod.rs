//! Kafka binding (feature `kafka`): [`KafkaSink`] publishes with a `FutureProducer`
//! (`acks=all`, idempotent), [`KafkaSource`] consumes in a consumer group with a
//! `StreamConsumer` and commits offsets by hand. librdkafka is built from source (bundled);
//! no client type appears in this module's API, so a client upgrade is not an API break.
//!
//! # On the wire
//! - Topic: [`Outgoing::channel`] (the catalog's topic), or the one topic configured with
//!   [`KafkaSink::with_topic`] (the gateway publishes everything to the topic its flag names).
//! - Record key: [`Outgoing::key`] (for `livepeer`: the envelope `id`, as go-livepeer does).
//! - Headers: every [`Headers`] entry, in order (`traceparent`, `content-type`, ...). Kafka
//!   header values are bytes; a header with a null value is read as an empty value.
//! - A publish returns after the broker's delivery report: the record is written with
//!   `acks=all`; an error report, or no report within `message.timeout.ms`, is an error.
//!
//! # Consuming
//! [`KafkaSource`] subscribes to the given topics and, for each, to the group's retry topic
//! [`retry_topic`]`(topic, group)`. `enable.auto.commit=false`: an offset is committed only
//! after its message was settled by [`Source::ack`], by a confirmed retry copy
//! ([`Source::retry`]) or by a confirmed dead-letter copy ([`Source::dead_letter`]), and only
//! once every earlier offset of the same partition is settled too (the committed offset is
//! the next one to read). Commits are coalesced: at most one OffsetCommit per
//! [`COMMIT_INTERVAL`], carrying the latest settled offset of each partition (see there). Unsettled messages of a consumer that stops or crashes are read
//! again by the group's next owner of the partition: at-least-once.
//!
//! Kafka does not count deliveries, so:
//! - **Retry** republishes the original key, bytes and headers to the retry topic with
//!   [`ATTEMPT_HEADER`] (`x-attempt`) set to the next attempt, [`NOT_BEFORE_HEADER`]
//!   (`x-not-before`, Unix ms) set to now + backoff, and [`ORIGINAL_TOPIC_HEADER`]
//!   (`x-original-topic`) naming the topic it first arrived on; after the delivery report the
//!   original is committed. A retry copy read before its time is held back (its partition is
//!   paused, other partitions keep flowing) until it is due.
//! - [`Delivery::attempt`] is the `x-attempt` header (1 when absent).
//! - **Dead letter** produces the original key, bytes and headers plus
//!   [`DeadLetter::headers`] to [`dead_letter_topic`]`(original topic)`, awaits its delivery
//!   report, then commits the original.
//!
//! Topics the source reads or writes (the topics, their retry and dead-letter topics) are
//! created when missing ([`KafkaConfig::partitions`]).
//!
//! # Consumer lag
//! Once a second while a source lives, a blocking task (on tokio's blocking pool, never on the
//! async path) asks the broker, for every partition assigned to this consumer, the group's
//! committed offset (`OffsetFetch`) and the partition's high watermark (`ListOffsets`), and
//! records [`metrics::CONSUMER_LAG`](super::metrics::CONSUMER_LAG) per topic (retry topics
//! included): the sum over its assigned partitions of high watermark − committed offset (−
//! the low watermark when the group committed nothing there yet). It asks through the
//! source's own consumer: a second client with the group's id made tansu lose deliveries
//! (`tests/interop.rs`). A query in flight when the source is dropped keeps the consumer
//! for at most two request timeouts. A topic this consumer lost in a rebalance keeps its
//! last value here; its new owner reports it.
//!
//! # Forwarding
//! [`forward::Forwarder`] applies go-livepeer's relaying rules to events received from the AI
//! runner / orchestrator and yields the whole message to publish.
//!
//! # Broker notes
//! Tested against tansu (an Apache-Kafka-compatible broker). Consumer group joins wait for
//! about half the session timeout there, so the defaults below keep it short; see
//! [`KafkaConfig`].
//!
//! tansu 0.6 with S3 storage answers a Fetch with an empty record set (error NONE, the high
//! watermark ahead of the fetch offset) when reading the partition takes longer than the
//! request's `max_wait_ms`; it lists the partition's batch objects on every Fetch, which
//! outlasts the `fetch.wait.max.ms=100` default below once a partition holds about a
//! thousand batches, and the consumer then fetches the same offset forever without an error.
//! Against such a broker raise `fetch.wait.max.ms` (the soak run uses 5000);
//! `examples/kafka_fetch_probe.rs` shows the broker's answer with a bare librdkafka consumer.
//!
//! The producer default `enable.idempotence=true` is right for Apache Kafka, whose idempotent
//! produce is atomic. tansu 0.6 (S3/dynostore storage) stores an idempotent producer's
//! sequence number before the batch itself: a broker killed between the two answers the
//! retry of that batch with `DUPLICATE_SEQUENCE_NUMBER`, which librdkafka reports as
//! delivered, so a confirmed record can be missing after a crash (`tests/kafka_restart.rs`
//! found it as a hole in the partition's offsets). Against such a broker set
//! `enable.idempotence=false`: a retried batch is then written again at a new offset
//! (at-least-once; consumers absorb the duplicate through the event's idempotency key).

pub mod forward;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers as _, Message as _, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use rdkafka::{Offset, TopicPartitionList};

use super::redact;
use super::{
    DeadLetter, Delivery, Headers, Outgoing, Sink, Source, TransportError, ATTEMPT_HEADER,
};

const TRANSPORT: &str = "kafka";

/// How often a [`KafkaSource`] sends its settled offsets to the group coordinator. One
/// OffsetCommit per message queued thousands of requests per second on the coordinator
/// connection; tansu 0.6 answers about 50 a second (each is an S3 write), so the heartbeat
/// waited behind them, the group session timed out and the consumer lost its partitions again
/// and again (the Kafka soak's stall). An offset settled but not yet committed when the
/// consumer stops or loses the partition is read again by the next owner (at-least-once).
pub const COMMIT_INTERVAL: Duration = Duration::from_millis(200);

/// Header of a retry copy: the Unix time in milliseconds before which it is not handled.
pub const NOT_BEFORE_HEADER: &str = "x-not-before";
/// Header of a retry copy: the topic the message first arrived on.
pub const ORIGINAL_TOPIC_HEADER: &str = "x-original-topic";

/// The retry topic of consumer group `group` for messages of `topic`.
pub fn retry_topic(topic: &str, group: &str) -> String {
    format!("{topic}.retry.{group}")
}

/// The dead-letter topic of messages first read from `topic` (shared by all groups; the
/// group is in the `x-dead-letter-group` header).
pub fn dead_letter_topic(topic: &str) -> String {
    format!("{topic}.dead-letter")
}

/// Where the broker is and how the clients behave.
///
/// Defaults (each can be overridden with [`KafkaConfig::set`], which takes any librdkafka
/// property):
/// - producer: `acks=all`, `enable.idempotence=true`, `linger.ms=1`,
///   `message.timeout.ms=30000`;
/// - consumer: `enable.auto.commit=false`, `auto.offset.reset=earliest`,
///   `session.timeout.ms=6000`, `heartbeat.interval.ms=1000`,
///   `max.poll.interval.ms=300000`, `partition.assignment.strategy=range,roundrobin`,
///   `fetch.wait.max.ms=100`;
/// - both: `reconnect.backoff.ms=100`, `reconnect.backoff.max.ms=1000`.
///
/// `Debug` shows the brokers without credentials and hides the value of every secret setting
/// (`sasl.password`, `ssl.key.password`, ...).
#[derive(Clone, PartialEq)]
pub struct KafkaConfig {
    /// `bootstrap.servers`, e.g. `127.0.0.1:9092`.
    pub brokers: String,
    /// Partitions of a topic this binding creates because it was missing.
    pub partitions: i32,
    /// How long connecting (metadata, topic creation) may take before it is an error.
    pub connect_timeout: Duration,
    settings: BTreeMap<String, String>,
}

impl std::fmt::Debug for KafkaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let settings: BTreeMap<&str, &str> = self
            .settings
            .iter()
            .map(|(k, v)| {
                let shown = if redact::is_secret_key(k) {
                    redact::MASK
                } else {
                    v.as_str()
                };
                (k.as_str(), shown)
            })
            .collect();
        f.debug_struct("KafkaConfig")
            .field("brokers", &redact::Redacted(&self.brokers))
            .field("partitions", &self.partitions)
            .field("connect_timeout", &self.connect_timeout)
            .field("settings", &settings)
            .finish()
    }
}

impl KafkaConfig {
    pub fn new(brokers: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            partitions: 3,
            connect_timeout: Duration::from_secs(10),
            settings: BTreeMap::new(),
        }
    }

    /// Sets a librdkafka property for both the producer and the consumer (it overrides the
    /// defaults above).
    pub fn set(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.insert(key.into(), value.into());
        self
    }

    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    pub fn with_partitions(mut self, partitions: i32) -> Self {
        self.partitions = partitions.max(1);
        self
    }

    /// The settings of one client kind, defaults first, then [`KafkaConfig::set`] values.
    fn client(&self, defaults: &[(&str, &str)]) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("reconnect.backoff.ms", "100")
            .set("reconnect.backoff.max.ms", "1000");
        for (k, v) in defaults {
            config.set(*k, *v);
        }
        for (k, v) in &self.settings {
            // Consumer-only keys make a producer warn and vice versa; route the known ones.
            let consumer_only = CONSUMER_DEFAULTS.iter().any(|(c, _)| c == k)
                || k == "group.instance.id"
                || k == "partition.assignment.strategy";
            let producer_only = PRODUCER_DEFAULTS.iter().any(|(p, _)| p == k);
            let is_consumer = defaults.iter().any(|(d, _)| *d == "enable.auto.commit");
            if (consumer_only && !is_consumer) || (producer_only && is_consumer) {
                continue;
            }
            config.set(k, v);
        }
        config
    }

    fn producer(&self) -> Result<FutureProducer, TransportError> {
        self.client(PRODUCER_DEFAULTS)
            .create()
            .map_err(|e| self.error("could not create the producer", e))
    }

    fn error(&self, what: &str, e: impl Into<super::BoxError>) -> TransportError {
        let e = e.into();
        let message = format!("{what} (broker {}): {e}", redact::url(&self.brokers));
        TransportError::with_source(TRANSPORT, self.scrub(&message), e)
    }

    fn unreachable(&self, what: &str, e: impl std::fmt::Display) -> TransportError {
        let message = format!(
            "{what}: the Kafka broker at {} did not answer within {:?} ({e}); start it with \
             `bash .ci/services.sh`",
            redact::url(&self.brokers),
            self.connect_timeout
        );
        TransportError::new(TRANSPORT, self.scrub(&message))
    }

    /// `text` without the brokers' credentials or any secret setting's value, for messages
    /// that quote librdkafka.
    fn scrub(&self, text: &str) -> String {
        let mut text = redact::scrub(text, &self.brokers);
        for (key, value) in &self.settings {
            if redact::is_secret_key(key) && !value.is_empty() {
                text = text.replace(value.as_str(), redact::MASK);
            }
        }
        text
    }

    /// Creates each topic that does not exist yet, with [`KafkaConfig::partitions`]
    /// partitions; existing topics are left as they are.
    pub async fn ensure_topics(&self, topics: &[&str]) -> Result<(), TransportError> {
        let admin: AdminClient<DefaultClientContext> = {
            let mut c = ClientConfig::new();
            c.set("bootstrap.servers", &self.brokers);
            c.create()
                .map_err(|e| self.error("could not create the admin client", e))?
        };
        let new: Vec<NewTopic<'_>> = topics
            .iter()
            .map(|t| NewTopic::new(t, self.partitions, TopicReplication::Fixed(1)))
            .collect();
        let options = AdminOptions::new()
            .request_timeout(Some(self.connect_timeout))
            .operation_timeout(Some(self.connect_timeout));
        let results = tokio::time::timeout(
            self.connect_timeout + Duration::from_secs(1),
            admin.create_topics(new.iter(), &options),
        )
        .await
        .map_err(|e| self.unreachable("creating topics", e))?
        .map_err(|e| match e {
            KafkaError::AdminOp(RDKafkaErrorCode::OperationTimedOut)
            | KafkaError::AdminOp(RDKafkaErrorCode::RequestTimedOut) => {
                self.unreachable("creating topics", e)
            }
            e => self.error("creating topics failed", e),
        })?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, RDKafkaErrorCode::RequestTimedOut))
                | Err((topic, RDKafkaErrorCode::OperationTimedOut)) => {
                    return Err(self.unreachable(&format!("creating topic `{topic}`"), "timed out"))
                }
                Err((topic, code)) => {
                    return Err(TransportError::new(
                        TRANSPORT,
                        format!("creating topic `{topic}` failed: {code}"),
                    ))
                }
            }
        }
        Ok(())
    }
}

const PRODUCER_DEFAULTS: &[(&str, &str)] = &[
    ("acks", "all"),
    ("enable.idempotence", "true"),
    ("linger.ms", "1"),
    ("message.timeout.ms", "30000"),
];

const CONSUMER_DEFAULTS: &[(&str, &str)] = &[
    ("enable.auto.commit", "false"),
    ("enable.auto.offset.store", "false"),
    ("auto.offset.reset", "earliest"),
    ("session.timeout.ms", "6000"),
    ("heartbeat.interval.ms", "1000"),
    ("max.poll.interval.ms", "300000"),
    ("partition.assignment.strategy", "range,roundrobin"),
    ("fetch.wait.max.ms", "100"),
    ("topic.metadata.refresh.interval.ms", "5000"),
];

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// `kafka:<topic>/<partition>@<offset>`, where a delivery came from. Written piece by piece:
/// every delivery has one, and `format!` cost about 2,000 instructions of it.
fn origin(topic: &str, partition: i32, offset: i64) -> String {
    let (mut partition_text, mut offset_text) = (itoa::Buffer::new(), itoa::Buffer::new());
    let (partition_text, offset_text) =
        (partition_text.format(partition), offset_text.format(offset));
    let mut origin =
        String::with_capacity(8 + topic.len() + partition_text.len() + offset_text.len());
    origin.push_str("kafka:");
    origin.push_str(topic);
    origin.push('/');
    origin.push_str(partition_text);
    origin.push('@');
    origin.push_str(offset_text);
    origin
}

fn kafka_headers(headers: &Headers) -> OwnedHeaders {
    let mut out = OwnedHeaders::new_with_capacity(headers.len());
    for (key, value) in headers.iter() {
        out = out.insert(Header {
            key,
            value: Some(value),
        });
    }
    out
}

/// Produces one record and waits for its delivery report; `(partition, offset)`.
async fn produce(
    producer: &FutureProducer,
    topic: &str,
    key: Option<&[u8]>,
    payload: &[u8],
    headers: &Headers,
) -> Result<(i32, i64), TransportError> {
    let mut record = FutureRecord::<[u8], [u8]>::to(topic)
        .payload(payload)
        .headers(kafka_headers(headers));
    if let Some(key) = key {
        record = record.key(key);
    }
    // The queue timeout only applies while librdkafka's local queue is full; the delivery
    // itself is bounded by `message.timeout.ms`.
    match producer.send(record, Duration::from_secs(30)).await {
        Ok(delivery) => Ok((delivery.partition, delivery.offset)),
        Err((e, _)) => Err(TransportError::with_source(
            TRANSPORT,
            format!("the broker did not confirm a record on `{topic}`: {e}"),
            e,
        )),
    }
}

/// Publishes to Kafka and returns after the broker's delivery report. Cheap to clone (clones
/// share one producer); publishes may run concurrently and are batched by librdkafka.
#[derive(Clone)]
pub struct KafkaSink {
    producer: FutureProducer,
    topic: Option<String>,
}

impl std::fmt::Debug for KafkaSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSink")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl KafkaSink {
    /// A producer for `config`, after checking that the broker answers a metadata request
    /// within [`KafkaConfig::connect_timeout`].
    pub async fn connect(config: &KafkaConfig) -> Result<Self, TransportError> {
        let producer = config.producer()?;
        let probe = producer.clone();
        let timeout = config.connect_timeout;
        tokio::task::spawn_blocking(move || probe.client().fetch_metadata(None, timeout))
            .await
            .map_err(|e| config.error("metadata request task failed", e))?
            .map_err(|e| config.unreachable("connecting the producer", e))?;
        Ok(Self {
            producer,
            topic: None,
        })
    }

    /// Publishes every message to `topic` instead of its catalog channel ("one topic as
    /// configured", the gateway's `-kafkaTopic`).
    pub fn with_topic(mut self, topic: impl Into<String>) -> Self {
        self.topic = Some(topic.into());
        self
    }

    /// The configured topic override, if any.
    pub fn topic(&self) -> Option<&str> {
        self.topic.as_deref()
    }

    /// Publishes `message` and returns where it was written: `(partition, offset)`.
    pub async fn send_confirmed(&self, message: Outgoing) -> Result<(i32, i64), TransportError> {
        let topic = self.topic.as_deref().unwrap_or(&message.channel);
        produce(
            &self.producer,
            topic,
            message.key.as_deref().map(str::as_bytes),
            &message.payload,
            &message.headers,
        )
        .await
    }

    /// Waits up to `timeout` for every queued record to be delivered.
    pub async fn flush(&self, timeout: Duration) -> Result<(), TransportError> {
        let producer = self.producer.clone();
        tokio::task::spawn_blocking(move || producer.flush(timeout))
            .await
            .map_err(|e| TransportError::with_source(TRANSPORT, "flush task failed", e))?
            .map_err(|e| TransportError::with_source(TRANSPORT, format!("flush: {e}"), e))
    }
}

impl Sink for KafkaSink {
    const MESSAGING_SYSTEM: &'static str = "kafka";

    async fn send(&self, message: Outgoing) -> Result<(), TransportError> {
        self.send_confirmed(message).await.map(drop)
    }
}

/// Settles one delivery of a [`KafkaSource`]: its topic, partition and offset.
#[derive(Debug)]
pub struct KafkaToken {
    /// Topic and partition, as the source's bookkeeping keys them: settling looks them up
    /// without building a key.
    at: Partition,
    offset: i64,
    /// Assignment generation the delivery was read in; settling after a rebalance does not
    /// commit (the new owner reads it again).
    generation: u64,
}

type Partition = (String, i32);

#[derive(Default)]
struct Shared {
    /// Bumped on every revocation.
    generation: u64,
    revoked: Vec<Partition>,
    assigned: HashSet<Partition>,
}

struct Context {
    shared: Arc<Mutex<Shared>>,
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

impl ClientContext for Context {}

impl ConsumerContext for Context {
    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                // A partition paused for a held retry copy must not stay paused for its
                // next owner (or for us, after the held copy was dropped).
                if let Err(e) = consumer.resume(tpl) {
                    tracing::warn!(error = %e, "kafka: could not resume assigned partitions");
                }
                let mut shared = lock(&self.shared);
                for e in tpl.elements() {
                    shared
                        .assigned
                        .insert((e.topic().to_owned(), e.partition()));
                }
                tracing::debug!(partitions = tpl.count(), "kafka: partitions assigned");
            }
            Rebalance::Revoke(tpl) => {
                let mut shared = lock(&self.shared);
                shared.generation += 1;
                for e in tpl.elements() {
                    let p = (e.topic().to_owned(), e.partition());
                    shared.assigned.remove(&p);
                    shared.revoked.push(p);
                }
                tracing::debug!(partitions = tpl.count(), "kafka: partitions revoked");
            }
            Rebalance::Error(e) => tracing::warn!(error = %e, "kafka: rebalance error"),
        }
    }

    fn commit_callback(&self, result: rdkafka::error::KafkaResult<()>, _: &TopicPartitionList) {
        if let Err(e) = result {
            tracing::warn!(error = %e, "kafka: offset commit failed (the messages will be read again)");
        }
    }
}

/// Offsets read from one partition and not yet committed, in order; `true` once settled.
#[derive(Default)]
struct Pending(BTreeMap<i64, bool>);

impl Pending {
    /// Marks `offset` settled; the offset to commit when the settled prefix grew.
    fn settle(&mut self, offset: i64) -> Option<i64> {
        if let Some(done) = self.0.get_mut(&offset) {
            *done = true;
        }
        let mut commit = None;
        while let Some(entry) = self.0.first_entry() {
            if !*entry.get() {
                break;
            }
            commit = Some(*entry.key() + 1);
            entry.remove();
        }
        commit
    }
}

/// A retry copy read before it is due.
struct Held {
    delivery: Delivery,
    token: KafkaToken,
    due_ms: u64,
}

/// Stops the consumer-lag task when the source is dropped.
struct LagTask(tokio::task::JoinHandle<()>);

impl Drop for LagTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How often the lag task asks the broker.
const LAG_INTERVAL: Duration = Duration::from_secs(1);
/// Bound on each of its requests.
const LAG_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Reports the consumer lag of the partitions in `shared.assigned` every [`LAG_INTERVAL`],
/// until aborted.
fn spawn_lag_task(
    consumer: std::sync::Weak<StreamConsumer<Context>>,
    shared: Arc<Mutex<Shared>>,
    group: String,
) -> LagTask {
    LagTask(tokio::spawn(async move {
        let mut tick = tokio::time::interval(LAG_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let assigned: Vec<Partition> = lock(&shared).assigned.iter().cloned().collect();
            if assigned.is_empty() {
                continue;
            }
            // Held only while the blocking queries run (at most two request timeouts).
            let Some(probe) = consumer.upgrade() else {
                return;
            };
            let group = group.clone();
            // librdkafka's offset and watermark queries block the calling thread.
            let report = tokio::task::spawn_blocking(move || {
                for (topic, lag) in lag_by_topic(&probe, &assigned) {
                    super::metrics::record_consumer_lag(TRANSPORT, &topic, &group, lag);
                }
            });
            if let Err(e) = report.await {
                tracing::debug!(error = %e, "kafka: consumer-lag task failed");
            }
        }
    }))
}

/// Per topic, the summed lag of `assigned` partitions; a partition the broker did not answer
/// for is left out (and logged), so a topic none of whose partitions answered is not reported.
fn lag_by_topic<C: ConsumerContext>(
    probe: &StreamConsumer<C>,
    assigned: &[Partition],
) -> BTreeMap<String, u64> {
    let mut tpl = TopicPartitionList::new();
    for (topic, partition) in assigned {
        tpl.add_partition(topic, *partition);
    }
    let committed = match probe.committed_offsets(tpl, LAG_REQUEST_TIMEOUT) {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(error = %e, "kafka: committed offsets unavailable; no lag report");
            return BTreeMap::new();
        }
    };
    let mut lag: BTreeMap<String, u64> = BTreeMap::new();
    for element in committed.elements() {
        let (topic, partition) = (element.topic(), element.partition());
        let (low, high) = match probe.fetch_watermarks(topic, partition, LAG_REQUEST_TIMEOUT) {
            Ok(w) => w,
            Err(e) => {
                tracing::debug!(topic, partition, error = %e, "kafka: watermarks unavailable");
                continue;
            }
        };
        // Nothing committed yet: the group reads from the earliest record.
        let from = match element.offset() {
            Offset::Offset(o) => o,
            _ => low,
        };
        let behind = u64::try_from(high.saturating_sub(from)).unwrap_or(0);
        *lag.entry(topic.to_owned()).or_default() += behind;
    }
    lag
}

/// Consumes topics in a consumer group; see the module documentation for what ack, retry
/// and dead-letter mean here. Dropping it sends the settled offsets not committed yet and
/// closes the consumer (it leaves the group) without committing anything unsettled.
pub struct KafkaSource {
    consumer: Arc<StreamConsumer<Context>>,
    producer: FutureProducer,
    shared: Arc<Mutex<Shared>>,
    group: String,
    topics: Vec<String>,
    retry_topics: HashMap<String, String>,
    pending: HashMap<Partition, Pending>,
    held: HashMap<Partition, VecDeque<Held>>,
    _lag: LagTask,
    /// Settled offsets (the next to read) not sent to the coordinator yet.
    uncommitted: HashMap<Partition, i64>,
    last_commit: Instant,
    commits_sent: u64,
}

impl KafkaSource {
    /// Joins consumer group `group` (the Kafka `group.id`; use the same name as
    /// `Policy::group`) reading `topics` and their retry topics, creating missing topics.
    pub async fn connect(
        config: &KafkaConfig,
        group: &str,
        topics: &[&str],
    ) -> Result<Self, TransportError> {
        if topics.is_empty() {
            return Err(TransportError::new(
                TRANSPORT,
                "a source needs at least one topic",
            ));
        }
        let retry_topics: HashMap<String, String> = topics
            .iter()
            .map(|t| ((*t).to_owned(), retry_topic(t, group)))
            .collect();
        let dead: Vec<String> = topics.iter().map(|t| dead_letter_topic(t)).collect();
        let mut all: Vec<&str> = topics.to_vec();
        all.extend(retry_topics.values().map(String::as_str));
        all.extend(dead.iter().map(String::as_str));
        config.ensure_topics(&all).await?;

        let producer = config.producer()?;
        let shared = Arc::new(Mutex::new(Shared::default()));
        let mut client = config.client(CONSUMER_DEFAULTS);
        client.set("group.id", group);
        let consumer: StreamConsumer<Context> = client
            .create_with_context(Context {
                shared: shared.clone(),
            })
            .map_err(|e| config.error("could not create the consumer", e))?;
        let mut subscribe: Vec<&str> = topics.to_vec();
        subscribe.extend(retry_topics.values().map(String::as_str));
        consumer
            .subscribe(&subscribe)
            .map_err(|e| config.error("could not subscribe", e))?;
        let consumer = Arc::new(consumer);
        let lag = spawn_lag_task(Arc::downgrade(&consumer), shared.clone(), group.to_owned());
        Ok(Self {
            consumer,
            producer,
            shared,
            group: group.to_owned(),
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
            retry_topics,
            pending: HashMap::new(),
            held: HashMap::new(),
            _lag: lag,
            uncommitted: HashMap::new(),
            last_commit: Instant::now(),
            commits_sent: 0,
        })
    }

    /// Joins catalog consumer group `group` of system `C`, reading the topics it binds.
    pub async fn for_group<C: super::Contract>(
        config: &KafkaConfig,
        group: &str,
    ) -> Result<Self, TransportError> {
        let found = C::require_consumer_group(TRANSPORT, group)?;
        Self::connect(config, group, found.binds).await
    }

    pub fn group(&self) -> &str {
        &self.group
    }

    pub fn topics(&self) -> &[String] {
        &self.topics
    }

    /// How many OffsetCommit requests this source has sent: at most one per
    /// [`COMMIT_INTERVAL`] while it settles, however many messages that covers.
    pub fn commits_sent(&self) -> u64 {
        self.commits_sent
    }

    /// True once the group gave this consumer at least one partition.
    pub fn is_assigned(&self) -> bool {
        !lock(&self.shared).assigned.is_empty()
    }

    /// Forgets what belongs to partitions this consumer lost in a rebalance.
    fn drop_revoked(&mut self) -> u64 {
        let mut shared = lock(&self.shared);
        for p in shared.revoked.drain(..) {
            self.pending.remove(&p);
            self.held.remove(&p);
            self.uncommitted.remove(&p);
        }
        shared.generation
    }

    fn tpl(&self, topic: &str, partition: i32, offset: Option<i64>) -> TopicPartitionList {
        let mut tpl = TopicPartitionList::new();
        match offset {
            Some(o) => {
                // Adding one partition with a valid offset to a fresh list cannot fail.
                let _ = tpl.add_partition_offset(topic, partition, Offset::Offset(o));
            }
            None => {
                tpl.add_partition(topic, partition);
            }
        }
        tpl
    }

    /// The earliest due held copy, if it is due now; else how long until one is.
    fn take_due(&mut self) -> Result<Option<(Delivery, KafkaToken)>, Duration> {
        let now = now_ms();
        let mut wait = u64::MAX;
        let mut due: Option<Partition> = None;
        for (p, queue) in &self.held {
            if let Some(front) = queue.front() {
                if front.due_ms <= now {
                    due = Some(p.clone());
                    break;
                }
                wait = wait.min(front.due_ms - now);
            }
        }
        let Some(p) = due else {
            return Err(Duration::from_millis(wait.min(3_600_000)));
        };
        let Some(queue) = self.held.get_mut(&p) else {
            return Err(Duration::ZERO);
        };
        let Some(held) = queue.pop_front() else {
            return Err(Duration::ZERO);
        };
        if queue.is_empty() {
            self.held.remove(&p);
            if let Err(e) = self.consumer.resume(&self.tpl(&p.0, p.1, None)) {
                tracing::warn!(topic = %p.0, partition = p.1, error = %e, "kafka: could not resume a partition");
            }
        }
        Ok(Some((held.delivery, held.token)))
    }

    fn settle(&mut self, token: &KafkaToken) -> Result<(), TransportError> {
        let generation = self.drop_revoked();
        if generation != token.generation {
            tracing::debug!(topic = %token.at.0, partition = token.at.1, offset = token.offset,
                "kafka: settled after a rebalance; the new owner reads it again");
            return Ok(());
        }
        let Some(commit) = self
            .pending
            .get_mut(&token.at)
            .and_then(|q| q.settle(token.offset))
        else {
            return Ok(());
        };
        // A partition's entries stay while it is assigned (`drop_revoked` removes them): one
        // read and settled at a time would otherwise build both keys again per message.
        match self.uncommitted.get_mut(&token.at) {
            Some(next) => *next = commit,
            None => {
                self.uncommitted.insert(token.at.clone(), commit);
            }
        }
        self.commit_if_due(false)
    }

    /// How long until the uncommitted offsets are due, if there are any.
    fn commit_wait(&self) -> Option<Duration> {
        (!self.uncommitted.is_empty())
            .then(|| COMMIT_INTERVAL.saturating_sub(self.last_commit.elapsed()))
    }

    /// Sends the uncommitted offsets in one OffsetCommit when [`COMMIT_INTERVAL`] has passed
    /// since the last one (or now, with `force`).
    fn commit_if_due(&mut self, force: bool) -> Result<(), TransportError> {
        if self.uncommitted.is_empty() || !(force || self.last_commit.elapsed() >= COMMIT_INTERVAL)
        {
            return Ok(());
        }
        let mut tpl = TopicPartitionList::with_capacity(self.uncommitted.len());
        // Emptied only once the list is built: offsets that could not be added stay for the
        // next round instead of being read again after a restart.
        for ((topic, partition), offset) in &self.uncommitted {
            tpl.add_partition_offset(topic, *partition, Offset::Offset(*offset))
                .map_err(|e| {
                    TransportError::with_source(
                        TRANSPORT,
                        format!("committing {topic}/{partition} offset {offset} failed: {e}"),
                        e,
                    )
                })?;
        }
        self.uncommitted.clear();
        self.last_commit = Instant::now();
        self.commits_sent += 1;
        self.consumer.commit(&tpl, CommitMode::Async).map_err(|e| {
            TransportError::with_source(TRANSPORT, format!("committing offsets failed: {e}"), e)
        })
    }

    /// The topic a delivery first arrived on.
    fn original_topic(delivery: &Delivery) -> &str {
        delivery
            .headers
            .get_str(ORIGINAL_TOPIC_HEADER)
            .unwrap_or(&delivery.channel)
    }
}

impl Drop for KafkaSource {
    fn drop(&mut self) {
        // Best effort: closing the consumer waits for the outstanding commit.
        if let Err(e) = self.commit_if_due(true) {
            tracing::warn!(error = %e, "kafka: could not commit the settled offsets on close");
        }
    }
}

impl Source for KafkaSource {
    type Token = KafkaToken;

    async fn next(&mut self) -> Result<Option<(Delivery, KafkaToken)>, TransportError> {
        loop {
            let generation = self.drop_revoked();
            self.commit_if_due(false)?;
            let wait = match self.take_due() {
                Ok(Some(due)) => return Ok(Some(due)),
                Ok(None) => Duration::ZERO,
                Err(wait) => wait,
            };
            let commit_wait = self.commit_wait();
            let wait = commit_wait.map_or(wait, |c| c.min(wait));
            let message = if self.held.is_empty() && commit_wait.is_none() {
                // The common case: no timer to arm.
                self.consumer.recv().await
            } else {
                tokio::select! {
                    m = self.consumer.recv() => m,
                    _ = tokio::time::sleep(wait) => continue,
                }
            };
            let message = match message {
                Ok(m) => m,
                Err(e) => {
                    // librdkafka reconnects by itself; errors here are informational
                    // (a broker down, a partition EOF), not the end of the stream.
                    tracing::warn!(error = %e, "kafka: consumer error");
                    match e {
                        KafkaError::MessageConsumption(
                            RDKafkaErrorCode::GroupAuthorizationFailed,
                        )
                        | KafkaError::MessageConsumption(
                            RDKafkaErrorCode::TopicAuthorizationFailed,
                        ) => {
                            return Err(TransportError::with_source(
                                TRANSPORT,
                                format!("consumer refused: {e}"),
                                e,
                            ))
                        }
                        _ => {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    }
                }
            };
            let topic = message.topic().to_owned();
            let partition = message.partition();
            let offset = message.offset();
            let mut headers = Headers::new();
            if let Some(h) = message.headers() {
                for header in h.iter() {
                    headers.append(header.key, header.value.unwrap_or_default());
                }
            }
            let channel = headers
                .get_str(ORIGINAL_TOPIC_HEADER)
                .map(str::to_owned)
                .unwrap_or_else(|| topic.clone());
            let delivery = Delivery {
                channel,
                key: message.key().map(<[u8]>::to_vec),
                payload: message.payload().unwrap_or_default().to_vec(),
                attempt: headers.attempt(),
                headers,
                origin: origin(&topic, partition, offset),
            };
            let p = (topic, partition);
            match self.pending.get_mut(&p) {
                Some(queue) => {
                    queue.0.insert(offset, false);
                }
                None => {
                    let mut queue = Pending::default();
                    queue.0.insert(offset, false);
                    self.pending.insert(p.clone(), queue);
                }
            }
            let token = KafkaToken {
                at: p.clone(),
                offset,
                generation,
            };
            let due_ms = delivery
                .headers
                .get_str(NOT_BEFORE_HEADER)
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0);
            let already_holding = self.held.contains_key(&p);
            if already_holding || (due_ms != 0 && due_ms > now_ms()) {
                if !already_holding {
                    // Hold it and stop fetching its partition until it is due; the other
                    // partitions (and the main topic) keep flowing.
                    if let Err(e) = self.consumer.pause(&self.tpl(&p.0, p.1, None)) {
                        tracing::warn!(topic = %p.0, partition = p.1, error = %e, "kafka: could not pause a partition");
                    }
                }
                self.held.entry(p).or_default().push_back(Held {
                    delivery,
                    token,
                    due_ms,
                });
                continue;
            }
            return Ok(Some((delivery, token)));
        }
    }

    async fn ack(&mut self, token: KafkaToken) -> Result<(), TransportError> {
        self.settle(&token)
    }

    async fn retry(
        &mut self,
        token: KafkaToken,
        delivery: &Delivery,
        after: Duration,
    ) -> Result<(), TransportError> {
        let original = Self::original_topic(delivery).to_owned();
        let target = self
            .retry_topics
            .get(&original)
            .cloned()
            .unwrap_or_else(|| retry_topic(&original, &self.group));
        let mut headers = delivery.headers.clone();
        headers.insert(
            ATTEMPT_HEADER,
            delivery.attempt.saturating_add(1).to_string(),
        );
        headers.insert(
            NOT_BEFORE_HEADER,
            (now_ms() + after.as_millis() as u64).to_string(),
        );
        headers.insert(ORIGINAL_TOPIC_HEADER, &original);
        produce(
            &self.producer,
            &target,
            delivery.key.as_deref(),
            &delivery.payload,
            &headers,
        )
        .await?;
        self.settle(&token)
    }

    async fn dead_letter(
        &mut self,
        token: KafkaToken,
        delivery: &Delivery,
        letter: &DeadLetter,
    ) -> Result<(), TransportError> {
        let target = dead_letter_topic(Self::original_topic(delivery));
        let headers = letter.headers(&delivery.headers, &self.group);
        produce(
            &self.producer,
            &target,
            delivery.key.as_deref(),
            &delivery.payload,
            &headers,
        )
        .await?;
        self.settle(&token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_names_topic_partition_and_offset() {
        for (topic, partition, offset) in [
            ("t", 0, 0),
            ("bench-b-1-0", 2, 4_999),
            ("x", i32::MAX, i64::MAX),
        ] {
            assert_eq!(
                origin(topic, partition, offset),
                format!("kafka:{topic}/{partition}@{offset}")
            );
        }
    }

    #[test]
    fn commits_only_the_settled_prefix() {
        let mut p = Pending::default();
        for o in [5, 6, 7] {
            p.0.insert(o, false);
        }
        assert_eq!(p.settle(6), None, "5 is still open");
        assert_eq!(p.settle(5), Some(7), "5 and 6 are settled");
        assert_eq!(p.settle(7), Some(8));
        assert!(p.0.is_empty());
        assert_eq!(p.settle(9), None, "an unknown offset commits nothing");
    }

    #[test]
    fn topic_names() {
        assert_eq!(retry_topic("t", "g"), "t.retry.g");
        assert_eq!(dead_letter_topic("t"), "t.dead-letter");
    }

    #[test]
    fn settings_go_to_the_right_client() {
        let config = KafkaConfig::new("127.0.0.1:1")
            .set("session.timeout.ms", "2000")
            .set("linger.ms", "0");
        let producer = config.client(PRODUCER_DEFAULTS);
        assert_eq!(producer.get("linger.ms"), Some("0"));
        assert_eq!(producer.get("session.timeout.ms"), None);
        let consumer = config.client(CONSUMER_DEFAULTS);
        assert_eq!(consumer.get("session.timeout.ms"), Some("2000"));
        assert_eq!(consumer.get("linger.ms"), None);
        assert_eq!(consumer.get("enable.auto.commit"), Some("false"));
    }
}
