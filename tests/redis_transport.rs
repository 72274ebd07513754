//! The Redis Streams binding against the local Redis (127.0.0.1:6379, or `REDIS_URL`):
//! typed publish → `XADD` → `XREADGROUP` → typed handler for every audio event, poison
//! messages to the dead-letter stream, retries counted by Redis, reclaiming a crashed
//! consumer's entries with `XAUTOCLAIM`, idempotency across two consumers (claims included),
//! and the stream entry layout the manifest declares.
//!
//! Every test uses its own key namespace (`test-<random>:`), so reruns and parallel runs never
//! collide, and deletes its keys at the end. Start Redis with `bash .ci/services.sh`.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use event_contracts::audio::{self, AudioChunkReceived, AudioEnvelope};
use event_contracts::runtime::transport::redis::{
    self as redis_binding, RedisIdempotency, RedisOptions, RedisSink, RedisSource,
    RedisSourceConfig,
};
use event_contracts::runtime::transport::{
    self, dead_letter_headers as dl, Claim, Context, Contract, Delivery, Disposition, HandlerError,
    HandlerResult, Headers, IdempotencyStore, Meta, Policy, Publisher, Publishes, RetryPolicy,
    Shutdown, Source, Stats, StreamEntryLayout,
};
use event_contracts::Event;
use redis::AsyncCommands;

const TRACE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const WAIT: Duration = Duration::from_secs(20);

fn url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A private namespace on the local Redis, and a raw connection to inspect it; fails with the
/// command that starts Redis when it is not reachable.
struct Env {
    options: RedisOptions,
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
            options: RedisOptions::new(url).with_namespace(namespace),
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

#[derive(Clone, Debug, PartialEq)]
struct Seen {
    name: String,
    event_id: String,
    payload: serde_json::Value,
    attempt: u32,
    traceparent: Option<String>,
}

/// A typed handler recording what it handled; `fail_first` makes the next N calls fail
/// transiently, `always_fail` makes every call fail.
#[derive(Clone, Default)]
struct Recorder {
    seen: Arc<Mutex<Vec<Seen>>>,
    fail_first: Arc<AtomicU32>,
    always_fail: bool,
}

impl Recorder {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn record<E: Event + serde::Serialize>(
        &self,
        message: AudioEnvelope<E>,
        context: &Context,
    ) -> HandlerResult {
        if self.always_fail
            || self
                .fail_first
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        {
            return Err(HandlerError::retry("storage is not reachable yet"));
        }
        self.seen.lock().unwrap().push(Seen {
            name: E::NAME.to_owned(),
            event_id: message.event_id.to_string(),
            payload: serde_json::to_value(&message.payload).expect("serializes"),
            attempt: context.attempt,
            traceparent: context.traceparent.clone(),
        });
        Ok(())
    }
}

macro_rules! record_all {
    ($($method:ident: $ty:ident),* $(,)?) => {
        impl audio::Handler for Recorder {
            $(
                async fn $method(
                    &self,
                    message: AudioEnvelope<audio::$ty>,
                    context: &Context,
                ) -> HandlerResult {
                    self.record(message, context)
                }
            )*
        }
    };
}

record_all! {
    audio_chunk_received: AudioChunkReceived,
    transcription_completed: TranscriptionCompleted,
    translation_requested: TranslationRequested,
    translation_completed: TranslationCompleted,
    processing_failed: ProcessingFailed,
    config_snapshot: ConfigSnapshot,
    config_drift_detected: ConfigDriftDetected,
    config_rollback_requested: ConfigRollbackRequested,
    bot_requested: BotRequested,
    bot_stop_requested: BotStopRequested,
    bot_status_update: BotStatusUpdate,
    service_health_report: ServiceHealthReport,
    anomaly_detected: AnomalyDetected,
    usage_metrics: UsageMetrics,
}

fn fast_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(60),
        ..RetryPolicy::default()
    }
}

/// Short blocks; `claim_idle` long enough that only the paths a test exercises claim.
fn config(group: &str, consumer: &str) -> RedisSourceConfig {
    RedisSourceConfig::for_group::<audio::System>(group, consumer)
        .expect("catalog group")
        .with_block(Duration::from_millis(100))
        .with_claim_idle(Duration::from_secs(10))
}

/// Runs a consumer until `done` holds (checked every 10 ms, bounded by [`WAIT`]), then shuts
/// it down gracefully and returns its stats.
async fn consume_until<I, F, Fut>(
    source: RedisSource,
    recorder: &Recorder,
    policy: &Policy<I>,
    what: &str,
    done: F,
) -> Stats
where
    I: IdempotencyStore,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let handler = audio::Dispatch(recorder.clone());
    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
    let watcher = async {
        let reached = tokio::time::timeout(WAIT, async {
            while !done().await {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .is_ok();
        stop.trigger();
        reached
    };
    let (stats, reached) = tokio::join!(
        transport::run::<audio::System, _, _, _>(source, &handler, policy, &shutdown),
        watcher
    );
    let stats = stats.expect("the consumer ran without transport errors");
    assert!(
        reached,
        "timed out after {WAIT:?} waiting for: {what}; stats {stats:?}, handled {:?}",
        recorder.seen()
    );
    stats
}

/// A raw entry's fields: (name, value) in order.
type Fields = Vec<(&'static str, Vec<u8>)>;

fn header<'a>(fields: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, v)| std::str::from_utf8(v).ok())
}

/// Publishes one example of every event on a real stream, then every catalog consumer group
/// receives, decodes and dispatches exactly the events on the streams it binds, typed, with
/// the publisher's traceparent and attempt 1.
#[tokio::test]
async fn every_audio_event_round_trips_to_every_group_that_binds_it() {
    let env = Env::new().await;
    let publisher = env.publisher().await;
    let meta = Meta {
        traceparent: Some(TRACE.into()),
        ..Meta::default()
    };
    let mut published = Vec::new();
    macro_rules! publish {
        ($($ty:ident),*) => {$(
            let event: audio::$ty = example();
            let id = publisher.publish_with(event.clone(), &meta).await
                .unwrap_or_else(|e| panic!("{} publishes: {e}", stringify!($ty)));
            published.push((
                <audio::$ty as Event>::NAME,
                id,
                serde_json::to_value(&event).unwrap(),
                <audio::$ty as Event>::info().channel.address(),
            ));
        )*};
    }
    publish!(
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
        UsageMetrics
    );
    assert_eq!(
        published.len(),
        audio::EVENTS.len(),
        "every catalogued event"
    );

    // The wire: the envelope under `envelope`, headers as `h:` fields.
    let ingest = env.entries(&env.key("stream:audio-ingest")).await;
    assert_eq!(ingest.len(), 1);
    let fields = &ingest[0].1;
    assert_eq!(fields[0].0, "envelope");
    let wire: serde_json::Value = serde_json::from_slice(&fields[0].1).expect("JSON envelope");
    assert_eq!(wire["schema_version"], "v1");
    assert_eq!(wire["event_type"], "AudioChunkReceived");
    assert_eq!(wire["event_id"], published[0].1.as_str());
    assert_eq!(wire["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(header(fields, "h:traceparent"), Some(TRACE));
    assert_eq!(header(fields, "h:content-type"), Some("application/json"));

    for group in audio::CONSUMER_GROUPS.iter() {
        let expected: Vec<_> = published
            .iter()
            .filter(|p| group.binds.contains(&p.3))
            .collect();
        let source = RedisSource::connect(&env.options, config(group.name, "c1"))
            .await
            .expect("source connects");
        let recorder = Recorder::default();
        let policy = Policy::new(group.name).with_retry(fast_retry(3));
        let stats = consume_until(source, &recorder, &policy, group.name, || {
            let n = recorder.seen().len();
            let want = expected.len();
            async move { n >= want }
        })
        .await;
        let seen = recorder.seen();
        assert_eq!(
            stats.handled as usize,
            expected.len(),
            "{}: {stats:?}",
            group.name
        );
        assert_eq!(stats.dead_lettered, 0, "{}", group.name);
        let mut got: Vec<_> = seen.iter().map(|s| s.name.as_str()).collect();
        let mut want: Vec<_> = expected.iter().map(|p| p.0).collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "group {} handles what it binds", group.name);
        for s in &seen {
            let p = expected.iter().find(|p| p.0 == s.name).expect("published");
            assert_eq!(s.event_id, p.1, "{}", s.name);
            assert_eq!(s.payload, p.2, "{} arrives typed and unchanged", s.name);
            assert_eq!(s.attempt, 1, "{}", s.name);
            assert_eq!(s.traceparent.as_deref(), Some(TRACE), "{}", s.name);
        }
        for stream in group.binds {
            let (pending, _) = env.group_state(&env.key(stream), group.name).await;
            assert_eq!(
                pending, 0,
                "{} acknowledged everything on {stream}",
                group.name
            );
        }
    }
    env.cleanup().await;
}

/// Bad JSON, a schema violation, an unknown event type and an entry without an envelope land
/// in the dead-letter stream with their reason, original fields and headers, and the good
/// message after them is still handled.
#[tokio::test]
async fn poison_messages_are_dead_lettered_while_later_messages_flow() {
    let env = Env::new().await;
    let key = env.key("stream:audio-ingest");
    let publisher = env.publisher().await;
    // A valid message to derive the bad ones from.
    let chunk: AudioChunkReceived = example();
    let message = <audio::System as event_contracts::runtime::transport::Publishes<_>>::wrap(
        chunk.clone(),
        &Meta {
            source: Some("orchestration-api".into()),
            ..Meta::default()
        },
    )
    .expect("wraps");
    let mut valid: serde_json::Value =
        serde_json::from_slice(&audio::encode_message(&message).expect("encodes")).unwrap();
    let mut violation = valid.clone();
    violation["payload"]
        .as_object_mut()
        .unwrap()
        .remove("chunk_id");
    valid["event_type"] = "NoSuchEvent".into();
    let unknown = valid;
    let poison: Vec<(&str, Fields)> = vec![
        (
            "malformed",
            vec![
                ("envelope", b"{not json".to_vec()),
                ("h:traceparent", TRACE.as_bytes().to_vec()),
            ],
        ),
        (
            "schema-violation",
            vec![
                ("envelope", serde_json::to_vec(&violation).unwrap()),
                ("h:traceparent", TRACE.as_bytes().to_vec()),
            ],
        ),
        (
            "unknown-event",
            vec![("envelope", serde_json::to_vec(&unknown).unwrap())],
        ),
        // A foreign producer's entry without an envelope: its own fields are kept as they are.
        ("malformed", vec![("data", b"hello".to_vec())]),
    ];
    let mut ids = Vec::new();
    for (_, fields) in &poison {
        let id: String = env
            .raw
            .clone()
            .xadd(&key, "*", fields)
            .await
            .expect("raw XADD");
        ids.push(id);
    }
    let mut good = chunk.clone();
    good.chunk_id = "after-the-poison".into();
    publisher.publish(good).await.expect("publishes");

    let source = RedisSource::connect(&env.options, config("audio-pipeline", "c1"))
        .await
        .expect("source connects");
    let recorder = Recorder::default();
    let policy = Policy::new("audio-pipeline").with_retry(fast_retry(3));
    let stats = consume_until(source, &recorder, &policy, "the good message", || {
        let n = recorder.seen().len();
        async move { n >= 1 }
    })
    .await;
    assert_eq!(stats.dead_lettered, 4, "{stats:?}");
    assert_eq!(recorder.seen()[0].payload["chunk_id"], "after-the-poison");

    let dead = env
        .entries(&env.options.dead_letter_key("stream:audio-ingest"))
        .await;
    assert_eq!(
        dead.len(),
        poison.len(),
        "one dead letter per poison message"
    );
    for (((reason, original), id), (_, fields)) in poison.iter().zip(&ids).zip(&dead) {
        for (name, value) in original {
            let kept = fields.iter().find(|(n, _)| n == name).map(|(_, v)| v);
            assert_eq!(kept, Some(value), "{reason}: field {name} kept unchanged");
        }
        assert_eq!(header(fields, &format!("h:{}", dl::REASON)), Some(*reason));
        assert_eq!(header(fields, &format!("h:{}", dl::ATTEMPTS)), Some("1"));
        assert_eq!(
            header(fields, &format!("h:{}", dl::CONSUMER_GROUP)),
            Some("audio-pipeline")
        );
        assert_eq!(
            header(fields, &format!("h:{}", dl::CHANNEL)),
            Some("stream:audio-ingest")
        );
        assert_eq!(
            header(fields, &format!("h:{}", dl::ORIGIN)),
            Some(format!("redis:{key}/{id}").as_str())
        );
        assert!(!header(fields, &format!("h:{}", dl::ERROR))
            .unwrap_or_default()
            .is_empty());
    }
    let violation_error = header(&dead[1].1, &format!("h:{}", dl::ERROR)).unwrap_or_default();
    assert!(
        violation_error.contains("/payload"),
        "the schema error names the pointer: {violation_error}"
    );
    assert_eq!(
        header(&dead[3].1, &format!("h:{}", dl::ERROR)),
        Some(
            "stream entry has no field `envelope` (fields: data); the audio system's producers \
             write the JSON message in `envelope` and each header in a `h:<name>` field"
        ),
        "the entry without an envelope names the field expected and the fields found"
    );
    let (pending, _) = env.group_state(&key, "audio-pipeline").await;
    assert_eq!(
        pending, 0,
        "the originals are acknowledged after their dead letters"
    );
    env.cleanup().await;
}

/// A handler that fails twice then succeeds is retried through the pending entries list and
/// handled once, on attempt 3 as Redis counted the deliveries.
#[tokio::test]
async fn fails_twice_then_succeeds_is_handled_once_on_attempt_three() {
    let env = Env::new().await;
    let key = env.key("stream:audio-ingest");
    let publisher = env.publisher().await;
    let chunk: AudioChunkReceived = example();
    publisher.publish(chunk.clone()).await.expect("publishes");

    let source = RedisSource::connect(&env.options, config("audio-pipeline", "c1"))
        .await
        .expect("source connects");
    let recorder = Recorder::default();
    recorder.fail_first.store(2, Ordering::SeqCst);
    let policy = Policy::new("audio-pipeline").with_retry(fast_retry(5));
    let stats = consume_until(source, &recorder, &policy, "the third attempt", || {
        let n = recorder.seen().len();
        async move { n >= 1 }
    })
    .await;
    let seen = recorder.seen();
    assert_eq!(seen.len(), 1, "handled once: {seen:?}");
    assert_eq!(seen[0].attempt, 3, "attempt from Redis's delivery count");
    assert_eq!(stats.retried, 2, "{stats:?}");
    assert_eq!(stats.handled, 1, "{stats:?}");
    let (pending, _) = env.group_state(&key, "audio-pipeline").await;
    assert_eq!(pending, 0, "acknowledged: it will not come back");
    env.cleanup().await;
}

/// A handler that keeps failing is dead-lettered after the retry limit, with Redis's count.
#[tokio::test]
async fn a_handler_that_keeps_failing_is_dead_lettered_at_the_limit() {
    let env = Env::new().await;
    let key = env.key("stream:bot-control");
    let publisher = env.publisher().await;
    publisher
        .publish(example::<audio::BotRequested>())
        .await
        .expect("publishes");
    let source = RedisSource::connect(&env.options, config("bot-orchestrator", "c1"))
        .await
        .expect("source connects");
    let recorder = Recorder {
        always_fail: true,
        ..Recorder::default()
    };
    let policy = Policy::new("bot-orchestrator").with_retry(fast_retry(3));
    let dl_key = env.options.dead_letter_key("stream:bot-control");
    let stats = consume_until(source, &recorder, &policy, "the dead letter", || {
        let mut raw = env.raw.clone();
        let dl_key = dl_key.clone();
        async move { raw.xlen::<_, u64>(&dl_key).await.unwrap_or(0) >= 1 }
    })
    .await;
    assert_eq!(stats.retried, 2, "{stats:?}");
    assert_eq!(stats.dead_lettered, 1, "{stats:?}");
    let dead = env.entries(&dl_key).await;
    let fields = &dead[0].1;
    assert_eq!(
        header(fields, &format!("h:{}", dl::REASON)),
        Some("retries-exhausted")
    );
    assert_eq!(header(fields, &format!("h:{}", dl::ATTEMPTS)), Some("3"));
    assert_eq!(
        header(fields, &format!("h:{}", dl::ERROR)),
        Some("storage is not reachable yet")
    );
    let original = env.entries(&key).await;
    assert_eq!(
        original[0].1,
        fields[..original[0].1.len()],
        "original fields first, unchanged"
    );
    let (pending, _) = env.group_state(&key, "bot-orchestrator").await;
    assert_eq!(pending, 0);
    env.cleanup().await;
}

/// A consumer that read a batch and died without acknowledging loses nothing: another
/// consumer of the group reclaims the entries with XAUTOCLAIM and handles them, on attempt 2.
#[tokio::test]
async fn a_consumer_killed_mid_batch_loses_nothing() {
    let env = Env::new().await;
    let key = env.key("stream:audio-ingest");
    let publisher = env.publisher().await;
    let mut chunk: AudioChunkReceived = example();
    let want: Vec<String> = (0..5).map(|i| format!("chunk-{i}")).collect();
    for id in &want {
        chunk.chunk_id = id.clone();
        publisher.publish(chunk.clone()).await.expect("publishes");
    }
    let idle = Duration::from_millis(300);
    {
        let mut crashed = RedisSource::connect(
            &env.options,
            config("audio-pipeline", "crashed").with_claim_idle(idle),
        )
        .await
        .expect("source connects");
        for _ in 0..2 {
            let (delivery, _token) = tokio::time::timeout(WAIT, crashed.next())
                .await
                .expect("a delivery within the wait")
                .expect("reads")
                .expect("not ended");
            assert_eq!(delivery.attempt, 1);
        }
        // Dropped mid-batch: two in hand, three read ahead, none acknowledged.
    }
    let (pending, _) = env.group_state(&key, "audio-pipeline").await;
    assert_eq!(pending, 5, "the crashed consumer holds the whole batch");

    let survivor = RedisSource::connect(
        &env.options,
        config("audio-pipeline", "survivor").with_claim_idle(idle),
    )
    .await
    .expect("source connects");
    let recorder = Recorder::default();
    let policy = Policy::new("audio-pipeline").with_retry(fast_retry(3));
    consume_until(survivor, &recorder, &policy, "all five chunks", || {
        let n = recorder.seen().len();
        async move { n >= 5 }
    })
    .await;
    let seen = recorder.seen();
    let mut got: Vec<String> = seen
        .iter()
        .map(|s| {
            s.payload["chunk_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    got.sort();
    assert_eq!(got, want);
    assert!(
        seen.iter().all(|s| s.attempt == 2),
        "reclaimed entries count their second delivery: {seen:?}"
    );
    let (pending, _) = env.group_state(&key, "audio-pipeline").await;
    assert_eq!(pending, 0);
    env.cleanup().await;
}

/// The same unit of work published twice (same chunk_id, new event_id) is processed once
/// although two different consumers (own connections, own stores) receive the two copies.
#[tokio::test]
async fn a_republished_chunk_is_processed_once_across_two_consumers() {
    let env = Env::new().await;
    let key = env.key("stream:audio-ingest");
    let publisher = env.publisher().await;
    let chunk: AudioChunkReceived = example();
    let ttl = Duration::from_secs(600);

    let first_id = publisher.publish(chunk.clone()).await.expect("publishes");
    let store_a = RedisIdempotency::connect(&env.options, ttl)
        .await
        .expect("store");
    let a = RedisSource::connect(&env.options, config("audio-pipeline", "a"))
        .await
        .expect("source connects");
    let recorder_a = Recorder::default();
    let policy_a = Policy::new("audio-pipeline")
        .with_retry(fast_retry(3))
        .with_idempotency(store_a.clone());
    consume_until(
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
    assert_eq!(recorder_a.seen()[0].event_id, first_id);
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
    let b = RedisSource::connect(&env.options, config("audio-pipeline", "b"))
        .await
        .expect("source connects");
    let recorder_b = Recorder::default();
    let policy_b = Policy::new("audio-pipeline")
        .with_retry(fast_retry(3))
        .with_idempotency(store_b);
    let stats = consume_until(
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
    let chunk: AudioChunkReceived = example();
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
    let source = RedisSource::connect(&env.options, config("audio-pipeline", "c1"))
        .await
        .expect("source connects");
    let recorder = Recorder::default();
    let policy = Policy::new("audio-pipeline").with_retry(fast_retry(3));
    let stats = consume_until(source, &recorder, &policy, "the documented entry", || {
        let n = recorder.seen().len();
        async move { n >= 1 }
    })
    .await;
    assert_eq!((stats.handled, stats.dead_lettered), (1, 2), "{stats:?}");
    assert_eq!(recorder.seen()[0].traceparent.as_deref(), Some(TRACE));

    let letters = redis_binding::dead_letters(
        &env.options,
        "stream:audio-ingest",
        <audio::System as Contract>::STREAM_ENTRY,
    )
    .await
    .expect("dead letters readable");
    assert_eq!(letters.len(), 2, "{letters:?}");
    let expected = [
        "stream entry has no field `envelope` (fields: data, type); the audio system's \
         producers write the JSON message in `envelope` and each header in a `h:<name>` field",
        "stream entry has no field `envelope` (fields: schema_version, event_type, payload); the \
         audio system's producers write the JSON message in `envelope` and each header in a \
         `h:<name>` field",
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
    let source = RedisSource::connect(
        &env.options,
        config("bot-orchestrator", "c1").with_layout(layout),
    )
    .await
    .expect("source connects");
    let recorder = Recorder::default();
    let stats = consume_until(
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
    let handler_b = audio::Dispatch(recorder_b.clone());

    let mut chunk: AudioChunkReceived = example();
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
    let err = RedisSourceConfig::for_group::<audio::System>("no-such-group", "c1")
        .expect_err("not a catalog group");
    assert!(err.to_string().contains("audio-pipeline"), "{err}");
    let options = RedisOptions {
        connect_timeout: Duration::from_millis(500),
        ..RedisOptions::new("redis://:secret@127.0.0.1:1")
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
