//! The Redis Streams binding against the local Redis (127.0.0.1:6379, or `REDIS_URL`): the
//! shared transport scenarios (`tests/transport_scenarios/`) over the audio system, and what
//! only Redis has: the wire layout of an entry, `XAUTOCLAIM` of a crashed consumer's whole
//! batch, idempotency across two consumers (claims included), and the stream entry layout the
//! manifest declares.
//!
//! Every test uses its own key namespace (`test-<random>:`), so reruns and parallel runs never
//! collide, and deletes its keys at the end. Start Redis with `bash .ci/services.sh`.

#[path = "transport_scenarios/mod.rs"]
mod scenarios;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use event_contracts::audio::{self, AudioChunkReceived, AudioEnvelope};
use event_contracts::runtime::transport::redis::{
    self as redis_binding, RedisConfig, RedisIdempotency, RedisSink, RedisSource,
};
use event_contracts::runtime::transport::{
    self, Claim, ConsumerGroup, Context, Contract, Delivery, Disposition, HandlerError,
    HandlerResult, Headers, IdempotencyStore, Meta, Policy, Publisher, Publishes, RetryPolicy,
    StreamEntryLayout,
};
use event_contracts::Event;
use redis::AsyncCommands;
use scenarios::{fast_retry, Backend, Letter, Origin, Recorder, Refused, Role, TRACE, WAIT};

fn url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A private namespace on the local Redis, and a raw connection to inspect it; fails with the
/// command that starts Redis when it is not reachable.
struct Env {
    options: RedisConfig,
    raw: redis::aio::MultiplexedConnection,
}

impl Env {
    async fn new() -> Self {
        let url = url();
        let hint = "start it with `bash .ci/services.sh` (or `redis-server --daemonize yes`)";
        let client = redis::Client::open(url.as_str()).expect("REDIS_URL is a valid URL");
        let raw = tokio::time::timeout(
            Duration::from_secs(5),
            client.get_multiplexed_async_connection(),
        )
        .await
        .unwrap_or_else(|_| panic!("Redis at {url} did not answer within 5 s; {hint}"))
        .unwrap_or_else(|e| panic!("Redis is not reachable at {url}: {e}; {hint}"));
        let namespace = format!("test-{:016x}:", fastrand_u64());
        Self {
            options: RedisConfig::new(url).with_namespace(namespace),
            raw,
        }
    }

    fn key(&self, channel: &str) -> String {
        self.options.stream_key(channel)
    }

    async fn publisher(&self) -> Publisher<audio::System, RedisSink> {
        let sink = RedisSink::connect(&self.options)
            .await
            .expect("sink connects");
        Publisher::new(
            sink,
            Meta {
                source: Some("orchestration-api".into()),
                ..Meta::default()
            },
        )
    }

    /// Every entry of a stream: (id, fields in order).
    async fn entries(&self, key: &str) -> Vec<(String, Vec<(String, Vec<u8>)>)> {
        let reply: redis::Value = redis::cmd("XRANGE")
            .arg(key)
            .arg("-")
            .arg("+")
            .query_async(&mut self.raw.clone())
            .await
            .expect("XRANGE");
        let redis::Value::Array(entries) = reply else {
            return Vec::new();
        };
        entries
            .into_iter()
            .map(|entry| {
                let redis::Value::Array(mut parts) = entry else {
                    panic!("entry is an array: {entry:?}")
                };
                let fields = parts.pop().expect("fields");
                let id: String = redis::from_redis_value(parts.pop().expect("id")).expect("id");
                let redis::Value::Array(fields) = fields else {
                    panic!("fields are an array")
                };
                let fields = fields
                    .chunks(2)
                    .map(|p| {
                        let name: String = redis::from_redis_value(p[0].clone()).expect("name");
                        let value: Vec<u8> = redis::from_redis_value(p[1].clone()).expect("value");
                        (name, value)
                    })
                    .collect();
                (id, fields)
            })
            .collect()
    }

    /// (pending, last-delivered-id) of `group` on stream `key`.
    async fn group_state(&self, key: &str, group: &str) -> (u64, String) {
        let reply: redis::Value = redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(key)
            .query_async(&mut self.raw.clone())
            .await
            .expect("XINFO GROUPS");
        let redis::Value::Array(groups) = reply else {
            panic!("XINFO GROUPS: {reply:?}")
        };
        for g in groups {
            let map: std::collections::HashMap<String, redis::Value> =
                redis::from_redis_value(g).expect("group info");
            let name: String = redis::from_redis_value(map["name"].clone()).expect("name");
            if name == group {
                let pending: u64 =
                    redis::from_redis_value(map["pending"].clone()).expect("pending");
                let last: String =
                    redis::from_redis_value(map["last-delivered-id"].clone()).expect("last id");
                return (pending, last);
            }
        }
        panic!("group {group} does not exist on {key}")
    }

    async fn cleanup(&self) {
        let keys: Vec<String> = self
            .raw
            .clone()
            .keys(format!("{}*", self.options.namespace))
            .await
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<(), _> = self.raw.clone().del(keys).await;
        }
    }
}

fn fastrand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    h.finish()
}

/// `options` read as `consumer`, with short blocks; `claim_idle` long enough that only the
/// paths a test exercises claim.
fn config(options: &RedisConfig, consumer: &str) -> RedisConfig {
    options
        .clone()
        .with_consumer(consumer)
        .with_block(Duration::from_millis(100))
        .with_claim_idle(Duration::from_secs(10))
}

/// The catalog group's source, as every binding makes one.
async fn group_source(config: &RedisConfig, group: &str) -> RedisSource {
    RedisSource::for_group::<audio::System>(config, group)
        .await
        .expect("source connects")
}

/// A crashed consumer's entries are taken over after this long.
const CLAIM_IDLE_AFTER_CRASH: Duration = Duration::from_millis(300);

fn publisher_meta() -> Meta {
    Meta {
        source: Some("orchestration-api".into()),
        traceparent: Some(TRACE.into()),
        ..Meta::default()
    }
}

macro_rules! wrap_examples {
    ($meta:expr; $($ty:ident),* $(,)?) => {
        vec![$(
            <audio::System as Publishes<audio::$ty>>::wrap(
                audio::$ty::examples().expect("examples decode").remove(0),
                $meta,
            )
            .expect("wraps"),
        )*]
    };
}

impl Backend for Env {
    type System = audio::System;
    type Sink = RedisSink;
    type Source = RedisSource;
    const GROUP: &'static str = "audio-pipeline";

    fn every_event(meta: &Meta) -> Vec<audio::Message> {
        let meta = meta.or(&publisher_meta());
        wrap_examples!(&meta;
            AudioChunkReceived,
            TranscriptionCompleted,
            TranslationRequested,
            TranslationCompleted,
            ProcessingFailed,
            ConfigSnapshot,
            ConfigDriftDetected,
            ConfigRollbackRequested,
            BotRequested,
            BotStopRequested,
            BotStatusUpdate,
            ServiceHealthReport,
            AnomalyDetected,
            UsageMetrics,
        )
    }

    fn sample(n: usize) -> audio::Message {
        let mut chunk = AudioChunkReceived::examples()
            .expect("examples decode")
            .remove(0);
        chunk.chunk_id = format!("chunk-{n}");
        <audio::System as Publishes<_>>::wrap(chunk, &publisher_meta()).expect("wraps")
    }

    fn break_schema(message: &mut serde_json::Value) -> &'static str {
        message["payload"]
            .as_object_mut()
            .expect("an envelope")
            .remove("chunk_id");
        "/payload"
    }

    fn refused(sample: &serde_json::Value) -> Refused {
        let mut unknown = sample.clone();
        unknown["event_type"] = "NoSuchEvent".into();
        Refused::unknown_event("stream:audio-ingest", serde_json::to_vec(&unknown).unwrap())
    }

    fn reads(group: &ConsumerGroup, channel: &str) -> bool {
        group.binds.contains(&channel)
    }

    async fn prepare(&self, _retry: &RetryPolicy) {}

    async fn sink(&self) -> RedisSink {
        RedisSink::connect(&self.options)
            .await
            .expect("sink connects")
    }

    async fn source(&self, group: &str, _retry: &RetryPolicy, role: Role) -> RedisSource {
        let config = match role {
            Role::Only => config(&self.options, "c1"),
            Role::Crashed => {
                config(&self.options, "crashed").with_claim_idle(CLAIM_IDLE_AFTER_CRASH)
            }
            Role::Survivor => {
                config(&self.options, "survivor").with_claim_idle(CLAIM_IDLE_AFTER_CRASH)
            }
        };
        group_source(&config, group).await
    }

    async fn send_raw(&self, channel: &str, payload: &[u8], headers: &Headers) -> Origin {
        let key = self.key(channel);
        let mut fields: Vec<(String, Vec<u8>)> = vec![("envelope".into(), payload.to_vec())];
        for (name, value) in headers.iter() {
            fields.push((format!("h:{name}"), value.to_vec()));
        }
        let id: String = self
            .raw
            .clone()
            .xadd(&key, "*", &fields)
            .await
            .expect("raw XADD");
        Origin::Exact(format!("redis:{key}/{id}"))
    }

    async fn dead_letters(&self, group: &str, channel: &str) -> Vec<Letter> {
        redis_binding::dead_letters(
            &self.options,
            channel,
            <audio::System as Contract>::STREAM_ENTRY,
        )
        .await
        .expect("dead letters readable")
        .into_iter()
        .filter(|l| l.group == group)
        .map(|l| Letter {
            channel: l.channel,
            payload: l.payload,
            headers: l.headers,
        })
        .collect()
    }

    async fn settled(&self, group: &str) -> bool {
        let binds = <audio::System as Contract>::consumer_group(group)
            .expect("catalog group")
            .binds;
        for stream in binds {
            let (pending, _) = self.group_state(&self.key(stream), group).await;
            if pending != 0 {
                return false;
            }
        }
        true
    }

    async fn after_crash(&self, group: &str, published: usize) {
        let (pending, _) = self
            .group_state(&self.key("stream:audio-ingest"), group)
            .await;
        assert_eq!(
            pending, published as u64,
            "the crashed consumer holds the whole batch"
        );
    }
}

/// A raw entry's fields: (name, value) in order.
type Fields = Vec<(&'static str, Vec<u8>)>;

fn header<'a>(fields: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, v)| std::str::from_utf8(v).ok())
}

/// Every event reaches every group that binds its stream; on the wire the envelope sits under
/// `envelope` and each header in an `h:` field.
#[tokio::test]
async fn every_audio_event_round_trips_to_every_group_that_binds_it() {
    let env = Env::new().await;
    let published = scenarios::every_event_round_trips(&env).await;
    let ingest = env.entries(&env.key("stream:audio-ingest")).await;
    assert_eq!(ingest.len(), 1);
    let fields = &ingest[0].1;
    assert_eq!(fields[0].0, "envelope");
    let wire: serde_json::Value = serde_json::from_slice(&fields[0].1).expect("JSON envelope");
    assert_eq!(wire["schema_version"], "v1");
    assert_eq!(wire["event_type"], "AudioChunkReceived");
    assert_eq!(wire["event_id"], published[0].id.as_str());
    assert_eq!(wire["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(header(fields, "h:traceparent"), Some(TRACE));
    assert_eq!(header(fields, "h:content-type"), Some("application/json"));
    env.cleanup().await;
}

#[tokio::test]
async fn poison_messages_are_dead_lettered_while_later_messages_flow() {
    let env = Env::new().await;
    scenarios::poison_is_dead_lettered(&env).await;
    env.cleanup().await;
}

/// Retried through the pending entries list; the attempt is Redis's delivery count.
#[tokio::test]
async fn fails_twice_then_succeeds_is_handled_once_on_attempt_three() {
    let env = Env::new().await;
    scenarios::fails_twice_then_succeeds(&env).await;
    env.cleanup().await;
}

/// The dead letter keeps the original entry's fields first, unchanged.
#[tokio::test]
async fn a_handler_that_keeps_failing_is_dead_lettered_at_the_limit() {
    let env = Env::new().await;
    scenarios::exhausted_retries_are_dead_lettered(&env).await;
    let key = env.key("stream:audio-ingest");
    let dead = env
        .entries(&env.options.dead_letter_key("stream:audio-ingest"))
        .await;
    let original = env.entries(&key).await;
    assert_eq!(
        original[0].1,
        dead[0].1[..original[0].1.len()],
        "original fields first, unchanged"
    );
    env.cleanup().await;
}

/// The survivor reclaims the crashed consumer's entries with XAUTOCLAIM: it had read the whole
/// batch ahead, so every entry arrives on its second delivery.
#[tokio::test]
async fn a_consumer_killed_mid_batch_loses_nothing() {
    let env = Env::new().await;
    let seen = scenarios::consumer_killed_mid_batch_loses_nothing(&env).await;
    assert!(
        seen.iter().all(|s| s.attempt == 2),
        "reclaimed entries count their second delivery: {seen:?}"
    );
    env.cleanup().await;
}
/// The same unit of work published twice (same chunk_id, new event_id) is processed once
/// although two different consumers (own connections, own stores) receive the two copies.
#[tokio::test]
async fn a_republished_chunk_is_processed_once_across_two_consumers() {
    let env = Env::new().await;
    let key = env.key("stream:audio-ingest");
    let publisher = env.publisher().await;
    let chunk: AudioChunkReceived = AudioChunkReceived::examples()
        .expect("examples decode")
        .remove(0);
    let ttl = Duration::from_secs(600);

    let first_id = publisher.publish(chunk.clone()).await.expect("publishes");
    let store_a = RedisIdempotency::connect(&env.options, ttl)
        .await
        .expect("store");
    let a = group_source(&config(&env.options, "a"), "audio-pipeline").await;
    let recorder_a = Recorder::default();
    let policy_a = Policy::new("audio-pipeline")
        .with_retry(fast_retry(3))
        .with_idempotency(store_a.clone());
    scenarios::consume_until::<Env, _, _, _>(
        a,
        &recorder_a,
        &policy_a,
        "consumer a handles the chunk",
        || {
            let n = recorder_a.seen().len();
            async move { n >= 1 }
        },
    )
    .await;
    assert_eq!(recorder_a.seen()[0].id.as_deref(), Some(first_id.as_str()));
    let done_key = format!("audio:audio-pipeline:AudioChunkReceived:{}", chunk.chunk_id);
    assert!(store_a.is_done(&done_key).await.expect("store answers"));

    let second_id = publisher.publish(chunk.clone()).await.expect("publishes");
    assert_ne!(
        first_id, second_id,
        "a new message for the same unit of work"
    );
    let second_entry = env.entries(&key).await.pop().expect("two entries").0;
    let store_b = RedisIdempotency::connect(&env.options, ttl)
        .await
        .expect("store");
    let b = group_source(&config(&env.options, "b"), "audio-pipeline").await;
    let recorder_b = Recorder::default();
    let policy_b = Policy::new("audio-pipeline")
        .with_retry(fast_retry(3))
        .with_idempotency(store_b);
    let stats = scenarios::consume_until::<Env, _, _, _>(
        b,
        &recorder_b,
        &policy_b,
        "consumer b settles the copy",
        || {
            let env = &env;
            let key = key.clone();
            let second_entry = second_entry.clone();
            async move {
                let (pending, last) = env.group_state(&key, "audio-pipeline").await;
                pending == 0 && last == second_entry
            }
        },
    )
    .await;
    assert_eq!(stats.skipped, 1, "{stats:?}");
    assert_eq!(stats.handled, 0, "{stats:?}");
    assert!(recorder_b.seen().is_empty(), "{:?}", recorder_b.seen());
    env.cleanup().await;
}

/// The entry layout is the manifest's: a foreign producer that writes the JSON under another
/// field, or spreads the envelope over flat fields, is dead-lettered as `malformed` with the
/// field expected and the fields found; one that follows the layout is handled, headers
/// included; and a system declaring another layout is published and consumed in it.
#[tokio::test]
async fn the_stream_entry_layout_is_the_manifests_and_a_foreign_layout_is_named() {
    let env = Env::new().await;
    let key = env.key("stream:audio-ingest");
    assert_eq!(
        <audio::System as Contract>::STREAM_ENTRY,
        StreamEntryLayout::DEFAULT,
        "the audio manifest declares the default layout"
    );
    let chunk: AudioChunkReceived = AudioChunkReceived::examples()
        .expect("examples decode")
        .remove(0);
    let message = <audio::System as Publishes<_>>::wrap(
        chunk.clone(),
        &Meta {
            source: Some("python-api".into()),
            ..Meta::default()
        },
    )
    .expect("wraps");
    let json = audio::encode_message(&message).expect("encodes");
    let envelope: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let payload = serde_json::to_vec(&envelope["payload"]).unwrap();
    let foreign: Vec<Fields> = vec![
        vec![
            ("data", json.clone()),
            ("type", b"AudioChunkReceived".to_vec()),
        ],
        vec![
            ("schema_version", b"v1".to_vec()),
            ("event_type", b"AudioChunkReceived".to_vec()),
            ("payload", payload),
        ],
        // A foreign producer's entry with one field of its own.
        vec![("data", b"hello".to_vec())],
        // What the documented layout asks of a producer in any language.
        vec![
            ("envelope", json.clone()),
            ("h:traceparent", TRACE.as_bytes().to_vec()),
        ],
    ];
    for fields in &foreign {
        let _: String = env
            .raw
            .clone()
            .xadd(&key, "*", fields)
            .await
            .expect("raw XADD");
    }
    let source = group_source(&config(&env.options, "c1"), "audio-pipeline").await;
    let recorder = Recorder::default();
    let policy = Policy::new("audio-pipeline").with_retry(fast_retry(3));
    let stats = scenarios::consume_until::<Env, _, _, _>(
        source,
        &recorder,
        &policy,
        "the documented entry",
        || {
            let n = recorder.seen().len();
            async move { n >= 1 }
        },
    )
    .await;
    assert_eq!((stats.handled, stats.dead_lettered), (1, 3), "{stats:?}");
    assert_eq!(recorder.seen()[0].traceparent.as_deref(), Some(TRACE));

    let letters = redis_binding::dead_letters(
        &env.options,
        "stream:audio-ingest",
        <audio::System as Contract>::STREAM_ENTRY,
    )
    .await
    .expect("dead letters readable");
    assert_eq!(letters.len(), 3, "{letters:?}");
    let expected = [
        "stream entry has no field `envelope` (fields: data, type); the audio system's \
         producers write the JSON message in `envelope` and each header in a `h:<name>` field",
        "stream entry has no field `envelope` (fields: schema_version, event_type, payload); the \
         audio system's producers write the JSON message in `envelope` and each header in a \
         `h:<name>` field",
        "stream entry has no field `envelope` (fields: data); the audio system's producers \
         write the JSON message in `envelope` and each header in a `h:<name>` field",
    ];
    for ((letter, fields), error) in letters.iter().zip(&foreign).zip(expected) {
        assert_eq!(letter.reason, "malformed");
        assert_eq!(letter.error, error);
        assert!(letter.payload.is_empty(), "there was no envelope to keep");
        let kept: Vec<(&str, &[u8])> = letter
            .fields
            .iter()
            .map(|(n, v)| (std::str::from_utf8(n).unwrap(), v.as_slice()))
            .collect();
        let sent: Vec<(&str, &[u8])> = fields.iter().map(|(n, v)| (*n, v.as_slice())).collect();
        assert_eq!(kept, sent, "the foreign fields are kept as they were");
        assert_eq!(letter.group, "audio-pipeline");
        assert_eq!(letter.channel, "stream:audio-ingest");
        assert_eq!(letter.attempts, 1);
    }

    // A system that declares `{"payload_field": "data", "header_prefix": "hdr."}`.
    let layout = StreamEntryLayout {
        payload_field: "data",
        header_prefix: "hdr.",
    };
    let sink = RedisSink::connect(&env.options)
        .await
        .expect("sink connects")
        .with_layout(layout);
    let mut outgoing = <audio::System as Contract>::outgoing(&message).expect("outgoing");
    outgoing.channel = "stream:bot-control".into();
    outgoing.headers.insert("traceparent", TRACE);
    sink.add(&outgoing).await.expect("XADD");
    let entries = env.entries(&env.key("stream:bot-control")).await;
    let names: Vec<&str> = entries[0].1.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["data", "hdr.content-type", "hdr.traceparent"]);
    let source = group_source(&config(&env.options, "c1"), "bot-orchestrator")
        .await
        .with_layout(layout);
    let recorder = Recorder::default();
    let stats = scenarios::consume_until::<Env, _, _, _>(
        source,
        &recorder,
        &policy,
        "the custom-layout entry",
        || {
            let n = recorder.seen().len();
            async move { n >= 1 }
        },
    )
    .await;
    assert_eq!((stats.handled, stats.dead_lettered), (1, 0), "{stats:?}");
    assert_eq!(recorder.seen()[0].traceparent.as_deref(), Some(TRACE));
    env.cleanup().await;
}

/// Handles `AudioChunkReceived` only once `gate` opens, saying when it started; fails once
/// when `fail` is set.
#[derive(Clone, Default)]
struct Gated {
    started: Arc<tokio::sync::Notify>,
    gate: Arc<tokio::sync::Notify>,
    fail: Arc<AtomicBool>,
    handled: Arc<Mutex<Vec<String>>>,
}

impl audio::Handler for Gated {
    async fn audio_chunk_received(
        &self,
        message: AudioEnvelope<AudioChunkReceived>,
        _context: &Context,
    ) -> HandlerResult {
        self.started.notify_one();
        self.gate.notified().await;
        if self.fail.swap(false, Ordering::SeqCst) {
            return Err(HandlerError::retry("storage is not reachable yet"));
        }
        self.handled
            .lock()
            .unwrap()
            .push(message.event_id.to_string());
        Ok(())
    }
}

/// A copy of `chunk` as a new message (new event_id), delivered as `attempt`.
fn chunk_delivery(chunk: &AudioChunkReceived) -> Delivery {
    let message = <audio::System as Publishes<_>>::wrap(
        chunk.clone(),
        &Meta {
            source: Some("python-api".into()),
            ..Meta::default()
        },
    )
    .expect("wraps");
    Delivery {
        channel: "stream:audio-ingest".into(),
        key: None,
        payload: audio::encode_message(&message).expect("encodes"),
        headers: Headers::new(),
        attempt: 1,
        origin: "test".into(),
    }
}

/// Claims in Redis keep two consumers from handling copies of one unit of work at once: the
/// copy that arrives while the first is handled is retried after the first's lease, and is
/// then a duplicate; a failed handler releases its claim at once; a crashed holder's claim
/// ends with its lease.
#[tokio::test]
async fn a_copy_arriving_while_the_first_is_handled_is_not_handled_twice() {
    let env = Env::new().await;
    let ttl = Duration::from_secs(600);
    let lease = Duration::from_secs(30);
    let store = || async {
        RedisIdempotency::connect(&env.options, ttl)
            .await
            .expect("store")
            .with_lease(lease)
    };
    let policy_a = Policy::new("audio-pipeline")
        .with_retry(fast_retry(5))
        .with_idempotency(store().await);
    let policy_b = Policy::new("audio-pipeline")
        .with_retry(fast_retry(5))
        .with_idempotency(store().await);
    let gated = Gated::default();
    let handler_a = audio::Dispatch(gated.clone());
    let recorder_b = Recorder::default();
    let handler_b = recorder_b.clone();

    let mut chunk: AudioChunkReceived = AudioChunkReceived::examples()
        .expect("examples decode")
        .remove(0);
    chunk.chunk_id = "claimed-while-handled".into();
    let unit = format!("audio:audio-pipeline:AudioChunkReceived:{}", chunk.chunk_id);
    let (first, mut second) = (chunk_delivery(&chunk), chunk_delivery(&chunk));
    let (a, b) = tokio::join!(
        transport::process::<audio::System, _, _>(&handler_a, &first, &policy_a),
        async {
            gated.started.notified().await;
            let b = transport::process::<audio::System, _, _>(&handler_b, &second, &policy_b).await;
            gated.gate.notify_one();
            b
        }
    );
    assert_eq!(a, Disposition::Ack);
    match &b {
        Disposition::Retry { after, error } => {
            assert!(
                *after > Duration::from_secs(20),
                "after the lease: {after:?}"
            );
            assert!(
                error.contains("another consumer is handling") && error.contains(&unit),
                "{error}"
            );
        }
        other => panic!("the copy waits for the first: {other:?}"),
    }
    second.attempt = 2;
    assert_eq!(
        transport::process::<audio::System, _, _>(&handler_b, &second, &policy_b).await,
        Disposition::Duplicate { key: unit.clone() },
        "redelivered after the first finished: a duplicate"
    );
    assert!(recorder_b.seen().is_empty(), "{:?}", recorder_b.seen());
    assert_eq!(gated.handled.lock().unwrap().len(), 1);
    assert!(policy_b.idempotency.is_done(&unit).await.expect("store"));

    // A failed handler releases its claim: the retry, on another consumer, goes ahead now.
    chunk.chunk_id = "released-after-failure".into();
    gated.fail.store(true, Ordering::SeqCst);
    gated.gate.notify_one();
    let failed =
        transport::process::<audio::System, _, _>(&handler_a, &chunk_delivery(&chunk), &policy_a)
            .await;
    assert!(matches!(failed, Disposition::Retry { .. }), "{failed:?}");
    let retried = chunk_delivery(&chunk);
    assert_eq!(
        transport::process::<audio::System, _, _>(&handler_b, &retried, &policy_b).await,
        Disposition::Ack
    );
    assert_eq!(recorder_b.seen().len(), 1);

    // A claim whose holder crashed ends with its lease.
    let crashed = RedisIdempotency::connect(&env.options, ttl)
        .await
        .expect("store")
        .with_lease(Duration::from_millis(300));
    let orphan = "audio:audio-pipeline:AudioChunkReceived:orphaned";
    assert!(matches!(
        crashed.claim(orphan).await.expect("claims"),
        Claim::Claimed { .. }
    ));
    match policy_b.idempotency.claim(orphan).await.expect("store") {
        Claim::Busy { retry_after } => assert!(retry_after <= Duration::from_millis(300)),
        other => panic!("held by the crashed consumer: {other:?}"),
    }
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        match policy_b.idempotency.claim(orphan).await.expect("store") {
            Claim::Claimed { .. } => break,
            Claim::Busy { .. } if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            other => panic!("the lease ends and the key is free: {other:?}"),
        }
    }
    env.cleanup().await;
}

/// Configuration mistakes are errors, not panics.
#[tokio::test]
async fn unknown_groups_and_unreachable_brokers_are_clear_errors() {
    let err = RedisSource::for_group::<audio::System>(&RedisConfig::default(), "no-such-group")
        .await
        .expect_err("not a catalog group");
    assert!(err.to_string().contains("audio-pipeline"), "{err}");
    let options = RedisConfig {
        connect_timeout: Duration::from_millis(500),
        ..RedisConfig::new("redis://:secret@127.0.0.1:1")
    };
    let err = RedisSink::connect(&options)
        .await
        .expect_err("nothing listens on port 1");
    let text = err.to_string();
    assert!(text.contains("cannot connect"), "{text}");
    assert!(
        !text.contains("secret"),
        "the password is not in the error: {text}"
    );
}
