//! The Kafka binding against the real broker (tansu on 127.0.0.1:9092, started by
//! `bash .ci/services.sh`; `KAFKA_BROKERS` overrides the address), running the shared
//! transport scenarios with the livepeer system, plus what is Kafka's own: the record key is
//! the envelope id, retries go through the group's retry topic counted by the `x-attempt`
//! header, dead letters go to the topic's dead-letter topic keeping the key and binary headers,
//! and the gateway's forwarder. Kafka has no namespaces: every topic and group has a unique
//! name per run ([`Backend::destination`], [`Backend::group_name`]).

#[path = "transport_scenarios/mod.rs"]
mod scenarios;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use event_contracts::livepeer::{
    self, AiStreamEvents, AiStreamStatus, CreateNewPayment, CreateSignedTicket, DiscoveryResults,
    ForwardedEvent, NetworkCapabilities, StreamIngestMetrics, StreamTrace,
};
use event_contracts::runtime::transport::kafka::{
    dead_letter_topic, forward::Forwarder, forward::StreamInfo, retry_topic, KafkaConfig,
    KafkaSink, KafkaSource, COMMIT_INTERVAL, ORIGINAL_TOPIC_HEADER,
};
use event_contracts::runtime::transport::{
    dead_letter_headers as dl, ConsumerGroup, Contract, Headers, Meta, Outgoing, Policy, Publisher,
    Publishes, RetryPolicy, Source, ATTEMPT_HEADER, TRACEPARENT_HEADER,
};
use event_contracts::Event;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers as _, Message as _};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use scenarios::{Backend, Letter, Origin, Recorder, Refused, Role};

/// The one channel every livepeer event is published on.
const CHANNEL: &str = "livepeer-gateway-events";
const GATEWAY: &str = "gateway-nyc.test:8935";
/// How long one metadata, watermark or offset request may take.
const REQUEST: Duration = Duration::from_secs(10);

fn brokers() -> String {
    std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

fn config() -> KafkaConfig {
    // Short group timings: tansu makes a joining member wait about half the session timeout.
    KafkaConfig::new(brokers())
        .set("session.timeout.ms", "2000")
        .set("heartbeat.interval.ms", "300")
        .with_partitions(3)
}

fn gateway_meta() -> Meta {
    Meta {
        source: Some(GATEWAY.into()),
        ..Meta::default()
    }
}

fn wrap<E: Event>(event: E, meta: &Meta) -> livepeer::Message
where
    livepeer::System: Publishes<E>,
{
    <livepeer::System as Publishes<E>>::wrap(event, meta).expect("wraps")
}

fn first<E: Event>() -> E {
    E::examples().expect("examples decode").remove(0)
}

/// One record as the broker holds it.
#[derive(Clone, Debug)]
struct Record {
    partition: i32,
    offset: i64,
    key: Option<Vec<u8>>,
    payload: Vec<u8>,
    headers: Headers,
}

/// A raw client for what the binding does not show: committed offsets and the records of a
/// topic read without joining any group.
fn raw_consumer(group: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        // The end of a partition is where the fetch says it is: tansu's ListOffsets answers
        // (watermarks) lag behind what a fetch returns.
        .set("enable.partition.eof", "true")
        .create()
        .expect("a raw Kafka consumer")
}

fn partitions(consumer: &BaseConsumer, topic: &str) -> Vec<i32> {
    let metadata = consumer
        .fetch_metadata(Some(topic), REQUEST)
        .unwrap_or_else(|e| panic!("metadata of {topic}: {e}"));
    metadata
        .topics()
        .iter()
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect()
}

/// Every record of `topic` up to the end of each partition, by partition then offset.
fn read_blocking(topic: &str) -> Vec<Record> {
    let consumer = raw_consumer("a-reader-that-never-joins");
    let mut assignment = TopicPartitionList::new();
    let mut open: HashSet<i32> = HashSet::new();
    for p in partitions(&consumer, topic) {
        assignment
            .add_partition_offset(topic, p, Offset::Beginning)
            .expect("a fresh list takes a partition");
        open.insert(p);
    }
    let mut out = Vec::new();
    if open.is_empty() {
        return out;
    }
    consumer.assign(&assignment).expect("assign");
    let deadline = Instant::now() + scenarios::WAIT;
    while !open.is_empty() {
        assert!(Instant::now() < deadline, "timed out reading {topic}");
        let Some(m) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let m = match m {
            Ok(m) => m,
            Err(KafkaError::PartitionEOF(p)) => {
                open.remove(&p);
                continue;
            }
            Err(e) => panic!("reading {topic}: {e}"),
        };
        let mut headers = Headers::new();
        if let Some(hs) = m.headers() {
            for h in hs.iter() {
                headers.append(h.key, h.value.unwrap_or_default().to_vec());
            }
        }
        out.push(Record {
            partition: m.partition(),
            offset: m.offset(),
            key: m.key().map(<[u8]>::to_vec),
            payload: m.payload().unwrap_or_default().to_vec(),
            headers,
        });
    }
    out.sort_by_key(|r| (r.partition, r.offset));
    out
}

async fn records(topic: &str) -> Vec<Record> {
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || read_blocking(&topic))
        .await
        .expect("the reading task")
}

/// One run's private names on the shared broker.
struct Env {
    run: String,
}

impl Env {
    fn new() -> Self {
        let random = uuid::Uuid::new_v4().simple().to_string();
        Self {
            run: format!("{}-{}", std::process::id(), &random[..8]),
        }
    }

    fn topic(&self) -> String {
        self.destination(CHANNEL)
    }

    /// The topics `group` reads: what it binds and its retry topics.
    fn read_topics(&self, group: &str) -> Vec<String> {
        let group = self.group_name(group);
        let topic = self.topic();
        vec![retry_topic(&topic, &group), topic]
    }
}

impl Backend for Env {
    type System = livepeer::System;
    type Sink = KafkaSink;
    type Source = KafkaSource;
    const GROUP: &'static str = "analytics";
    /// A record read again after a crash carries the `x-attempt` it had: Kafka keeps no count.
    const REDELIVERY_ATTEMPT: u32 = 1;

    fn every_event(meta: &Meta) -> Vec<livepeer::Message> {
        let meta = meta.or(&gateway_meta());
        let forwarded = Meta {
            event_type: Some("stream_heartbeat".into()),
            ..meta.clone()
        };
        vec![
            wrap(first::<StreamTrace>(), &meta),
            wrap(first::<StreamIngestMetrics>(), &meta),
            wrap(first::<AiStreamEvents>(), &meta),
            wrap(first::<AiStreamStatus>(), &meta),
            wrap(first::<DiscoveryResults>(), &meta),
            wrap(first::<CreateNewPayment>(), &meta),
            wrap(first::<NetworkCapabilities>(), &meta),
            wrap(first::<CreateSignedTicket>(), &meta),
            wrap(first::<ForwardedEvent>(), &forwarded),
        ]
    }

    /// A stream trace; every wrap gets its own envelope id.
    fn sample(_n: usize) -> livepeer::Message {
        wrap(first::<StreamTrace>(), &gateway_meta())
    }

    fn break_schema(message: &mut serde_json::Value) -> &'static str {
        // A stream trace without its required keys.
        message["data"] = serde_json::json!({"type": "gateway_receive_stream_request"});
        "/data"
    }

    /// Livepeer forwards every unknown event type, so what it refuses is a broken envelope:
    /// the timestamp is a decimal string, never a number.
    fn refused(sample: &serde_json::Value) -> Refused {
        let mut broken = sample.clone();
        broken["timestamp"] = 1767966890412u64.into();
        Refused {
            channel: CHANNEL.into(),
            payload: serde_json::to_vec(&broken).unwrap(),
            reason: "schema-violation",
            pointer: Some("/timestamp"),
        }
    }

    fn reads(group: &ConsumerGroup, channel: &str) -> bool {
        group.binds.contains(&channel)
    }

    fn group_name(&self, group: &str) -> String {
        format!("{group}-{}", self.run)
    }

    fn destination(&self, channel: &str) -> String {
        format!("{channel}-{}", self.run)
    }

    async fn prepare(&self, _retry: &RetryPolicy) {
        assert!(
            livepeer::System::events()
                .iter()
                .all(|e| e.channel.address() == CHANNEL),
            "livepeer publishes on one channel, the sink's one topic"
        );
        config()
            .ensure_topics(&[&self.topic()])
            .await
            .unwrap_or_else(|e| panic!("Kafka broker needed for this test: {e}"));
    }

    async fn sink(&self) -> KafkaSink {
        KafkaSink::connect(&config())
            .await
            .unwrap_or_else(|e| panic!("Kafka broker needed for this test: {e}"))
            .with_topic(self.topic())
    }

    async fn source(&self, group: &str, _retry: &RetryPolicy, _role: Role) -> KafkaSource {
        let binds = livepeer::System::consumer_group(group)
            .expect("a catalog group")
            .binds;
        let topics: Vec<String> = binds.iter().map(|c| self.destination(c)).collect();
        let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
        KafkaSource::connect(&config(), &self.group_name(group), &topics)
            .await
            .unwrap_or_else(|e| panic!("Kafka broker needed for this test: {e}"))
    }

    /// All with one key, so they share a partition and are dead-lettered in order.
    async fn send_raw(&self, channel: &str, payload: &[u8], headers: &Headers) -> Origin {
        let topic = self.destination(channel);
        let (partition, offset) = self
            .sink()
            .await
            .send_confirmed(Outgoing {
                channel: topic.clone(),
                key: Some("a-foreign-producer".into()),
                message_id: String::new(),
                payload: payload.to_vec(),
                headers: headers.clone(),
            })
            .await
            .expect("raw publish");
        Origin::Exact(format!("kafka:{topic}/{partition}@{offset}"))
    }

    async fn dead_letters(&self, group: &str, channel: &str) -> Vec<Letter> {
        let topic = self.destination(channel);
        let group = self.group_name(group);
        records(&dead_letter_topic(&topic))
            .await
            .into_iter()
            .filter(|r| r.headers.get_str(dl::CONSUMER_GROUP) == Some(group.as_str()))
            .map(|r| Letter {
                // The dead-letter topic is the original topic's.
                channel: topic.clone(),
                payload: r.payload,
                headers: r.headers,
            })
            .collect()
    }

    /// The group committed every record of the topics it reads, retry topics included.
    async fn settled(&self, group: &str) -> bool {
        committed_everything(self.read_topics(group), self.group_name(group)).await
    }
}

/// `group` committed every record of `topics`: each partition's committed offset is one past
/// its last record.
async fn committed_everything(topics: Vec<String>, group: String) -> bool {
    tokio::task::spawn_blocking(move || {
        let consumer = raw_consumer(&group);
        // Where each partition ends: one past its last record.
        let mut ends: HashMap<(String, i32), i64> = HashMap::new();
        for topic in &topics {
            for r in read_blocking(topic) {
                ends.insert((topic.clone(), r.partition), r.offset + 1);
            }
        }
        if ends.is_empty() {
            return true;
        }
        let mut wanted = TopicPartitionList::new();
        for (topic, p) in ends.keys() {
            wanted.add_partition(topic, *p);
        }
        let committed = consumer
            .committed_offsets(wanted, REQUEST)
            .expect("committed offsets");
        ends.iter().all(|((topic, p), end)| {
            let at = match committed.find_partition(topic, *p).map(|e| e.offset()) {
                Some(Offset::Offset(o)) => o,
                _ => 0,
            };
            at >= *end
        })
    })
    .await
    .expect("the offsets task")
}

/// Every record on the topic has the envelope id as its key and carries the traceparent and
/// content type.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_livepeer_event_round_trips_with_its_key_and_traceparent() {
    let env = Env::new();
    let published = scenarios::every_event_round_trips(&env).await;
    let records = records(&env.topic()).await;
    assert_eq!(records.len(), published.len(), "each record written once");
    for r in &records {
        let body: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
        let id = body["id"].as_str().expect("envelope id");
        assert!(published.iter().any(|p| p.id == id), "{id} was published");
        assert_eq!(
            r.key.as_deref(),
            Some(id.as_bytes()),
            "record key == envelope id"
        );
        assert_eq!(
            r.headers.get_str(TRACEPARENT_HEADER),
            Some(scenarios::TRACE)
        );
        assert_eq!(r.headers.get_str("content-type"), Some("application/json"));
        assert_eq!(body["gateway"], GATEWAY);
    }
}

/// A runner status relayed through the gateway's forwarding rules arrives as
/// `ai_stream_status`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forwarded_runner_status_arrives_as_ai_stream_status() {
    let env = Env::new();
    env.prepare(&scenarios::fast_retry(3)).await;
    let publisher = Publisher::<livepeer::System, _>::new(env.sink().await, gateway_meta());
    let mut forwarder = Forwarder::new(GATEWAY);
    let relayed = forwarder
        .forward::<livepeer::System>(
            &StreamInfo {
                stream_id: "stream-1".into(),
                request_id: "req-1".into(),
                pipeline_id: "pip-1".into(),
                orchestrator: Some(("0xabc".into(), "https://orch.test:8935".into())),
            },
            br#"{"queue_event_type":"ai_stream_events","event":{"type":"status","inference_status":{"fps":1}}}"#,
        )
        .expect("a relayed status forwards");
    let relayed_id = publisher
        .publish_message(&relayed)
        .await
        .expect("the forwarded status publishes");
    assert!(
        !env.settled(Env::GROUP).await,
        "a published record no consumer committed is not settled"
    );
    let source = env
        .source(Env::GROUP, &scenarios::fast_retry(3), Role::Only)
        .await;
    let recorder = Recorder::default();
    let policy = Policy::new(env.group_name(Env::GROUP));
    scenarios::consume_until::<Env, _, _, _>(source, &recorder, &policy, "the status", || {
        let n = recorder.seen().len();
        async move { n >= 1 }
    })
    .await;
    let seen = recorder.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].id.as_deref(), Some(relayed_id.as_str()));
    assert_eq!(seen[0].name, "ai_stream_status");
    assert_eq!(seen[0].message["data"]["stream_id"], "stream-1");
}

/// Dead letters go to the topic's dead-letter topic; the origin names topic, partition and
/// offset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_are_dead_lettered_with_reason_while_later_messages_flow() {
    scenarios::poison_is_dead_lettered(&Env::new()).await;
}

/// The dead letter keeps the original record's key and binary headers byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_keeps_the_record_key_and_binary_headers() {
    let env = Env::new();
    env.prepare(&scenarios::fast_retry(3)).await;
    let topic = env.topic();
    let mut headers = Headers::new();
    headers.insert(TRACEPARENT_HEADER, scenarios::TRACE);
    headers.append("x-binary", vec![0u8, 255, 1]);
    env.sink()
        .await
        .send_confirmed(Outgoing {
            channel: topic.clone(),
            key: Some("key-bad-json".into()),
            message_id: String::new(),
            payload: b"{not json".to_vec(),
            headers,
        })
        .await
        .expect("raw publish");
    let source = env
        .source(Env::GROUP, &scenarios::fast_retry(3), Role::Only)
        .await;
    let recorder = Recorder::default();
    let policy = Policy::new(env.group_name(Env::GROUP));
    scenarios::consume_until::<Env, _, _, _>(source, &recorder, &policy, "the dead letter", || {
        let topic = dead_letter_topic(&topic);
        async move { !records(&topic).await.is_empty() }
    })
    .await;
    let dead = records(&dead_letter_topic(&topic)).await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    let d = &dead[0];
    assert_eq!(d.payload, b"{not json", "original bytes");
    assert_eq!(d.key.as_deref(), Some(&b"key-bad-json"[..]), "key");
    assert_eq!(d.headers.get(TRACEPARENT_HEADER).map(<[u8]>::len), Some(55));
    assert_eq!(
        d.headers.get("x-binary"),
        Some(&[0u8, 255, 1][..]),
        "binary header unchanged"
    );
    assert_eq!(d.headers.get_str(dl::REASON), Some("malformed"));
    assert_eq!(d.headers.get_str(dl::CHANNEL), Some(topic.as_str()));
}

/// Retried through the group's retry topic: two copies, counted by their `x-attempt` header,
/// naming the original topic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_failing_twice_is_retried_and_processed_once() {
    let env = Env::new();
    let seen = scenarios::fails_twice_then_succeeds(&env).await;
    let topic = env.topic();
    let copies = records(&retry_topic(&topic, &env.group_name(Env::GROUP))).await;
    let attempts: Vec<&str> = copies
        .iter()
        .map(|c| c.headers.get_str(ATTEMPT_HEADER).unwrap_or_default())
        .collect();
    assert_eq!(attempts, ["2", "3"], "one retry copy per failure");
    for c in &copies {
        assert_eq!(
            c.headers.get_str(ORIGINAL_TOPIC_HEADER),
            Some(topic.as_str())
        );
        assert_eq!(
            c.key.as_deref(),
            seen.id.as_deref().map(str::as_bytes),
            "key"
        );
        let body: serde_json::Value = serde_json::from_slice(&c.payload).unwrap();
        assert_eq!(body, seen.message, "the original bytes");
    }
}

/// Exhausted retries are dead-lettered with the record key kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_keeps_failing_is_dead_lettered_at_the_limit() {
    let env = Env::new();
    scenarios::exhausted_retries_are_dead_lettered(&env).await;
    let dead = records(&dead_letter_topic(&env.topic())).await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    let body: serde_json::Value = serde_json::from_slice(&dead[0].payload).unwrap();
    let id = body["id"].as_str().expect("envelope id");
    assert_eq!(dead[0].key.as_deref(), Some(id.as_bytes()), "key kept");
}

/// Nothing read by a consumer that left the group without committing is lost; the records
/// come back from the committed offset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_dropped_mid_batch_loses_nothing() {
    scenarios::consumer_killed_mid_batch_loses_nothing(&Env::new()).await;
}

/// Settling thousands of records as fast as they arrive keeps the partitions: the source
/// commits the latest settled offset of each partition together, at most once per
/// `COMMIT_INTERVAL`. It used to send one OffsetCommit per record; tansu answers a few dozen
/// a second, the group heartbeats queued behind the backlog, the session timed out, and the
/// partitions were revoked and read again from the last commit answered (a Kafka soak run
/// handled nothing for minutes). A revocation shows here as a record delivered twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settling_thousands_of_records_keeps_the_partitions_and_commits_them() {
    const RECORDS: usize = 3000;
    let env = Env::new();
    env.prepare(&RetryPolicy::default()).await;
    let publisher = Publisher::<livepeer::System, _>::new(env.sink().await, gateway_meta());
    // In flight together, so the producer batches them.
    for _ in 0..RECORDS / 500 {
        let sent = futures_util::future::join_all(
            (0..500).map(|_| publisher.publish(first::<StreamTrace>())),
        )
        .await;
        for result in sent {
            result.expect("publishes");
        }
    }

    let topic = env.topic();
    let group = env.group_name("commit-flood");
    let mut source = KafkaSource::connect(&config(), &group, &[&topic])
        .await
        .unwrap_or_else(|e| panic!("Kafka broker needed for this test: {e}"));
    let mut deliveries: HashMap<Vec<u8>, u32> = HashMap::new();
    let mut settling = Duration::ZERO;
    let started = Instant::now();
    let within = Duration::from_secs(120);
    // Until every record was read, then until nothing more comes for 3 s: records read again
    // after a revocation come after the first pass.
    loop {
        let wait = if deliveries.len() < RECORDS {
            within.saturating_sub(started.elapsed())
        } else {
            Duration::from_secs(3)
        };
        let Ok(next) = tokio::time::timeout(wait, source.next()).await else {
            break;
        };
        let (delivery, token) = next.expect("reads").expect("the source stays open");
        *deliveries
            .entry(delivery.key.clone().expect("keyed by envelope id"))
            .or_default() += 1;
        source.ack(token).await.expect("acks");
        settling = started.elapsed();
    }
    assert_eq!(
        deliveries.len(),
        RECORDS,
        "every record read within {within:?}"
    );
    let twice = deliveries.values().filter(|n| **n > 1).count();
    assert_eq!(
        twice, 0,
        "{twice} records were delivered more than once: the group revoked the partitions"
    );
    // One commit per interval of settling (plus the first), not one per record.
    let allowed = 2 + (settling.as_millis() / COMMIT_INTERVAL.as_millis()) as u64;
    assert!(
        source.commits_sent() <= allowed,
        "{} OffsetCommits for {RECORDS} records settled over {settling:?}; at most {allowed} \
         (one per {COMMIT_INTERVAL:?})",
        source.commits_sent()
    );
    drop(source);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !committed_everything(vec![topic.clone()], group.clone()).await {
        assert!(
            Instant::now() < deadline,
            "{group} did not commit every record of {topic} within 30 s of closing"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// `KafkaSource::for_group` joins the catalog group under its own name and reads the topics
/// the group binds (the catalog's channel itself, not a per-run copy): a message published
/// there through a sink with no topic override arrives. The group's offsets stay on the
/// broker between runs, so earlier runs' records are skipped by id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalog_group_reads_the_channels_it_binds() {
    let group = "stream-monitor";
    let binds = livepeer::System::consumer_group(group)
        .expect("a catalog group")
        .binds;
    let mut source = KafkaSource::for_group::<livepeer::System>(&config(), group)
        .await
        .unwrap_or_else(|e| panic!("Kafka broker needed for this test: {e}"));
    assert_eq!(source.group(), group);
    for channel in binds {
        assert!(
            source.topics().iter().any(|t| t == channel),
            "{:?} reads {channel}",
            source.topics()
        );
    }
    let sink = KafkaSink::connect(&config())
        .await
        .unwrap_or_else(|e| panic!("Kafka broker needed for this test: {e}"));
    let publisher = Publisher::<livepeer::System, _>::new(sink, gateway_meta());
    let id = publisher
        .publish(first::<StreamTrace>())
        .await
        .expect("publishes to the catalog channel");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(next) = tokio::time::timeout(left, source.next()).await else {
            panic!("{group} did not read message {id} from {binds:?} within 60 s");
        };
        let (delivery, token) = next.expect("reads").expect("the source stays open");
        source.ack(token).await.expect("acks");
        if delivery.key.as_deref() == Some(id.as_bytes()) {
            assert!(
                binds.contains(&delivery.channel.as_str()),
                "{}",
                delivery.channel
            );
            break;
        }
    }
}
