//! The NATS JetStream binding of the `agents` system against the real server on
//! 127.0.0.1:4222 (`bash .ci/services.sh` starts it): typed round trip of every event,
//! server-side deduplication by `Nats-Msg-Id`, consumer-side deduplication by the declared id
//! for producers that send none, poison messages to the dead-letter stream, retries counted by
//! JetStream, a consumer dying mid-batch, and JetStream's own `max_deliver`.
//!
//! Every test works in its own namespace (stream and subject prefix), so runs never collide,
//! and deletes its streams at the end.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use event_contracts::agents::{self, AgentsEvent};
use event_contracts::runtime::transport::nats::{NatsConfig, NatsTransport, MSG_ID_HEADER};
use event_contracts::runtime::transport::redis::{RedisIdempotency, RedisOptions};
use event_contracts::runtime::transport::{
    self, dead_letter_headers as dl, Context, Contract, HandlerError, HandlerResult, Headers,
    IdempotencyStore, Meta, Outgoing, Policy, Publisher, RetryPolicy, Shutdown, Source, Stats,
};
use event_contracts::Event;

const URL: &str = "nats://127.0.0.1:4222";
const REDIS_URL: &str = "redis://127.0.0.1:6379";
const TRACE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn example<E: Event>() -> E {
    let schema = event_contracts::SCHEMAS
        .documents()
        .get(E::SCHEMA_ID)
        .expect("schema embedded")
        .clone();
    serde_json::from_value(schema["examples"][0].clone()).expect("example decodes")
}

fn namespace() -> String {
    format!("t{}", uuid::Uuid::new_v4().simple())
        .chars()
        .take(13)
        .collect()
}

async fn transport(ns: &str) -> NatsTransport {
    let config = NatsConfig {
        ack_wait: Duration::from_secs(1),
        batch: 16,
        ..NatsConfig::namespaced(URL, ns)
    };
    NatsTransport::connect(config).await.unwrap_or_else(|e| {
        panic!("NATS JetStream must run on {URL} (start it with `bash .ci/services.sh`): {e}")
    })
}

async fn raw(ns_transport: &NatsTransport) -> async_nats::jetstream::Context {
    let client = async_nats::connect(ns_transport.config().url.as_str())
        .await
        .expect("raw client connects");
    async_nats::jetstream::new(client)
}

fn fast_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(50),
        ..RetryPolicy::default()
    }
}

/// One handled event: name, JSON, attempt, traceparent.
type Seen = (String, serde_json::Value, u32, Option<String>);

#[derive(Clone, Default)]
struct Recorder {
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Events (by name) that fail this many more times before succeeding (`u32::MAX`: always).
    failures: Arc<Mutex<Vec<(String, u32)>>>,
    failed_attempts: Arc<Mutex<Vec<(String, u32)>>>,
}

impl Recorder {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn fail(&self, name: &str, times: u32) {
        self.failures.lock().unwrap().push((name.to_owned(), times));
    }

    fn on<E: Event + serde::Serialize>(&self, event: &E, ctx: &Context) -> HandlerResult {
        {
            let mut failures = self.failures.lock().unwrap();
            if let Some((_, left)) = failures.iter_mut().find(|(n, _)| n == E::NAME) {
                if *left > 0 {
                    *left = left.saturating_sub(u32::from(*left != u32::MAX));
                    self.failed_attempts
                        .lock()
                        .unwrap()
                        .push((E::NAME.to_owned(), ctx.attempt));
                    return Err(HandlerError::retry("downstream is not reachable yet"));
                }
            }
        }
        self.seen.lock().unwrap().push((
            E::NAME.to_owned(),
            serde_json::to_value(event).expect("serializes"),
            ctx.attempt,
            ctx.traceparent.clone(),
        ));
        Ok(())
    }
}

macro_rules! record_all {
    ($($method:ident: $ty:ident),* $(,)?) => {
        impl agents::Handler for Recorder {
            $(
                async fn $method(&self, event: agents::$ty, ctx: &Context) -> HandlerResult {
                    self.on(&event, ctx)
                }
            )*
        }
    };
}

record_all! {
    ingest_document_processed: IngestDocumentProcessed,
    ingest_document_failed: IngestDocumentFailed,
    orchestrator_step_started: OrchestratorStepStarted,
    orchestrator_step_completed: OrchestratorStepCompleted,
    orchestrator_step_failed: OrchestratorStepFailed,
    usage_metered_api_call: UsageMeteredApiCall,
    usage_metered_model_inference: UsageMeteredModelInference,
    realtime_push_chat_message: RealtimePushChatMessage,
    realtime_push_notification: RealtimePushNotification,
    alerts_service_down: AlertsServiceDown,
    alerts_high_latency: AlertsHighLatency,
    alerts_quota_exceeded: AlertsQuotaExceeded,
}

/// Runs a consumer of `group` until `done` holds (at most 20 s, then fails saying `what`).
async fn consume_until(
    nats: &NatsTransport,
    group: &str,
    recorder: &Recorder,
    retry: RetryPolicy,
    what: &str,
    done: impl Fn() -> bool,
) -> Stats {
    let source = nats
        .source::<agents::System>(group, &retry)
        .await
        .expect("source starts");
    let policy = Policy::new(group).with_retry(retry);
    let handler = agents::Dispatch(recorder.clone());
    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
    let watcher = async {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop.trigger();
    };
    let (stats, ()) = tokio::join!(
        transport::run::<agents::System, _, _, _>(source, &handler, &policy, &shutdown),
        watcher
    );
    assert!(done(), "timed out after 20 s waiting for {what}");
    stats.expect("consumer runs without transport errors")
}

async fn wait_for<T, F: Future<Output = Option<T>>>(what: &str, mut probe: impl FnMut() -> F) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after 20 s waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn publisher(nats: &NatsTransport) -> Publisher<agents::System, impl transport::Sink> {
    Publisher::<agents::System, _>::new(
        nats.sink(),
        Meta {
            source: Some("nats-tests".into()),
            traceparent: Some(TRACE.into()),
            ..Meta::default()
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_agents_event_round_trips_through_jetstream() {
    let ns = namespace();
    let nats = transport(&ns).await;
    let retry = fast_retry(3);
    let topology = nats
        .setup::<agents::System>(&retry)
        .await
        .expect("setup creates the streams and durables");
    // Idempotent: a second setup finds everything in place.
    assert_eq!(
        nats.setup::<agents::System>(&retry)
            .await
            .expect("setup again"),
        topology
    );
    let prefix = ns.to_uppercase();
    for stream in ["INGEST", "ORCHESTRATOR", "USAGE", "REALTIME", "ALERTS"] {
        let name = format!("{prefix}_{stream}");
        let subjects = topology
            .streams
            .get(&name)
            .unwrap_or_else(|| panic!("stream {name} in {topology:?}"));
        assert_eq!(subjects, &vec![format!("{ns}.{}.>", stream.to_lowercase())]);
    }

    let publisher = publisher(&nats);
    let mut expected = Vec::new();
    macro_rules! publish_all {
        ($($ty:ident),*) => {$(
            let event: agents::$ty = example();
            expected.push((<agents::$ty as Event>::NAME.to_owned(), serde_json::to_value(&event).unwrap()));
            publisher.publish(event).await.unwrap_or_else(|e| panic!("{} publishes: {e}", <agents::$ty as Event>::NAME));
        )*};
    }
    publish_all!(
        IngestDocumentProcessed,
        IngestDocumentFailed,
        OrchestratorStepStarted,
        OrchestratorStepCompleted,
        OrchestratorStepFailed,
        UsageMeteredApiCall,
        UsageMeteredModelInference,
        RealtimePushChatMessage,
        RealtimePushNotification,
        AlertsServiceDown,
        AlertsHighLatency,
        AlertsQuotaExceeded
    );
    assert_eq!(expected.len(), 12);

    // Three groups between them read every subject.
    let recorder = Recorder::default();
    for (group, count) in [
        ("analytics-service", 4),
        ("usage-metering", 7),
        ("notification-service", 12),
    ] {
        let r = recorder.clone();
        let stats = consume_until(&nats, group, &recorder, retry.clone(), group, move || {
            r.seen().len() >= count
        })
        .await;
        assert_eq!(stats.dead_lettered, 0, "{group}: {stats:?}");
    }
    let seen = recorder.seen();
    assert_eq!(seen.len(), 12, "each event handled once: {seen:?}");
    for (name, json) in &expected {
        let got = seen
            .iter()
            .find(|(n, ..)| n == name)
            .unwrap_or_else(|| panic!("{name} was not handled: {seen:?}"));
        assert_eq!(&got.1, json, "{name} arrives as published");
        assert_eq!(got.2, 1, "{name}: first delivery");
        assert_eq!(got.3.as_deref(), Some(TRACE), "{name}: traceparent carried");
    }

    // On the wire: the catalog subject under the namespace, Nats-Msg-Id = the event id.
    let js = raw(&nats).await;
    let mut stream = js
        .get_stream(format!("{prefix}_INGEST"))
        .await
        .expect("INGEST stream");
    assert_eq!(stream.info().await.expect("info").state.messages, 2);
    let first = stream.get_raw_message(1).await.expect("first message");
    let processed: agents::IngestDocumentProcessed = example();
    assert_eq!(
        first.subject.as_str(),
        format!("{ns}.ingest.document.processed")
    );
    assert_eq!(
        first.headers.get(MSG_ID_HEADER).map(|v| v.as_str()),
        Some(processed.event_id.to_string().as_str())
    );
    assert_eq!(
        first.headers.get("traceparent").map(|v| v.as_str()),
        Some(TRACE)
    );
    nats.delete_streams::<agents::System>()
        .await
        .expect("cleanup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_publish_is_dropped_by_the_server() {
    let ns = namespace();
    let nats = transport(&ns).await;
    nats.setup::<agents::System>(&fast_retry(3))
        .await
        .expect("setup");
    let event: agents::UsageMeteredApiCall = example();
    let publisher = publisher(&nats);
    let id = publisher.publish(event.clone()).await.expect("publishes");
    assert_eq!(id, event.event_id.to_string());
    // A producer retry: the same event, the same id.
    publisher
        .publish(event.clone())
        .await
        .expect("publishes again");
    let outgoing =
        <agents::System as Contract>::outgoing(&AgentsEvent::UsageMeteredApiCall(event.clone()))
            .expect("encodes");
    let receipt = nats
        .sink()
        .send_confirmed(outgoing)
        .await
        .expect("confirmed");
    assert!(receipt.duplicate, "the PubAck says duplicate: {receipt:?}");
    assert_eq!(receipt.sequence, 1, "it points at the first copy");
    let js = raw(&nats).await;
    let mut stream = js
        .get_stream(nats.stream_name("USAGE"))
        .await
        .expect("USAGE stream");
    assert_eq!(
        stream.info().await.expect("info").state.messages,
        1,
        "the stream holds one copy"
    );
    // A different event is stored.
    let mut other = event.clone();
    other.event_id = uuid::Uuid::new_v4();
    publisher.publish(other).await.expect("publishes");
    assert_eq!(stream.info().await.expect("info").state.messages, 2);
    nats.delete_streams::<agents::System>()
        .await
        .expect("cleanup");
}

/// Runs a consumer of `group` with `policy` until `done` holds (at most 20 s, then fails
/// saying `what`).
async fn consume_with<I, F, Fut>(
    nats: &NatsTransport,
    recorder: &Recorder,
    policy: &Policy<I>,
    what: &str,
    done: F,
) -> Stats
where
    I: IdempotencyStore,
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let source = nats
        .source::<agents::System>(&policy.group, &policy.retry)
        .await
        .expect("source starts");
    let handler = agents::Dispatch(recorder.clone());
    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
    let watcher = async {
        let reached = tokio::time::timeout(Duration::from_secs(20), async {
            while !done().await {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .is_ok();
        stop.trigger();
        reached
    };
    let (stats, reached) = tokio::join!(
        transport::run::<agents::System, _, _, _>(source, &handler, policy, &shutdown),
        watcher
    );
    let stats = stats.expect("consumer runs without transport errors");
    assert!(
        reached,
        "timed out after 20 s waiting for {what}: {stats:?}"
    );
    stats
}

/// A producer that follows the agents document sends the event's JSON and nothing else: no
/// `Nats-Msg-Id`, so JetStream stores every copy. A consumer with the default idempotency
/// store (Redis) handles the event once and counts each further copy as a skipped duplicate,
/// also after it restarts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_event_id_sent_twice_without_nats_msg_id_is_handled_once() {
    let ns = namespace();
    let nats = transport(&ns).await;
    let retry = fast_retry(3);
    nats.setup::<agents::System>(&retry).await.expect("setup");
    let redis = RedisOptions::new(REDIS_URL).with_namespace(format!("test-{ns}:"));
    let store = || async {
        RedisIdempotency::connect(&redis, Duration::from_secs(600))
            .await
            .unwrap_or_else(|e| panic!("Redis must run on {REDIS_URL}: {e}"))
    };
    let policy = Policy::new("billing-service")
        .with_retry(retry.clone())
        .with_idempotency(store().await);

    let event: agents::UsageMeteredApiCall = example();
    let bytes = serde_json::to_vec(&event).expect("serializes");
    let js = raw(&nats).await;
    let subject = nats.subject("usage.metered.api_call");
    let send = || async {
        js.publish(subject.clone(), bytes.clone().into())
            .await
            .expect("publish")
            .await
            .expect("PubAck")
    };
    let (first, second) = (send().await, send().await);
    assert!(
        !first.duplicate && !second.duplicate && second.sequence == first.sequence + 1,
        "without Nats-Msg-Id the stream stores both copies: {first:?} {second:?}"
    );
    let durable_settled = || async {
        let info = js
            .get_stream(nats.stream_name("USAGE"))
            .await
            .expect("stream")
            .consumer_info("billing-service")
            .await
            .expect("durable");
        info.num_pending == 0 && info.num_ack_pending == 0
    };

    let recorder = Recorder::default();
    let stats = consume_with(&nats, &recorder, &policy, "both copies settled", || {
        let handled = !recorder.seen().is_empty();
        async move { handled && durable_settled().await }
    })
    .await;
    assert_eq!(
        recorder.seen().len(),
        1,
        "handled once: {:?}",
        recorder.seen()
    );
    assert_eq!((stats.handled, stats.skipped), (1, 1), "{stats:?}");
    assert_eq!(stats.dead_lettered, 0, "{stats:?}");
    let unit = format!("agents:billing-service:{}", event.event_id);
    assert!(policy.idempotency.is_done(&unit).await.expect("store"));

    // A third copy, read by a restarted consumer (new connections, new store client).
    send().await;
    let restarted = transport(&ns).await;
    let policy = Policy::new("billing-service")
        .with_retry(retry)
        .with_idempotency(store().await);
    let recorder = Recorder::default();
    let stats = consume_with(
        &restarted,
        &recorder,
        &policy,
        "the third copy settled",
        durable_settled,
    )
    .await;
    assert!(recorder.seen().is_empty(), "{:?}", recorder.seen());
    assert_eq!((stats.handled, stats.skipped), (0, 1), "{stats:?}");

    let mut conn = redis::Client::open(REDIS_URL)
        .expect("URL")
        .get_multiplexed_async_connection()
        .await
        .expect("Redis");
    let _: () = redis::cmd("DEL")
        .arg(format!("test-{ns}:idempotency:{unit}"))
        .query_async(&mut conn)
        .await
        .expect("cleanup");
    nats.delete_streams::<agents::System>()
        .await
        .expect("cleanup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_are_dead_lettered_with_their_reason_and_later_messages_flow() {
    let ns = namespace();
    let nats = transport(&ns).await;
    let retry = fast_retry(3);
    nats.setup::<agents::System>(&retry).await.expect("setup");
    let sink = nats.sink();
    let mut headers = Headers::new();
    headers.insert("traceparent", TRACE);
    headers.insert("x-producer", "a foreign producer");
    let raw_message = |channel: &str, payload: &[u8]| Outgoing {
        channel: channel.to_owned(),
        key: None,
        message_id: uuid::Uuid::new_v4().to_string(),
        payload: payload.to_vec(),
        headers: headers.clone(),
    };
    let mut invalid = serde_json::to_value(example::<agents::IngestDocumentProcessed>()).unwrap();
    invalid["chunk_count"] = serde_json::json!(-5);
    let invalid = serde_json::to_vec(&invalid).unwrap();
    let unknown = serde_json::to_vec(&example::<agents::IngestDocumentFailed>()).unwrap();
    let poison: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "ingest.document.processed",
            b"{not json".to_vec(),
            "malformed",
        ),
        ("ingest.document.processed", invalid, "schema-violation"),
        ("ingest.document.archived", unknown, "unknown-event"),
    ];
    for (channel, payload, _) in &poison {
        sink.send_confirmed(raw_message(channel, payload))
            .await
            .expect("the broker takes any bytes");
    }
    let good: agents::IngestDocumentProcessed = example();
    publisher(&nats)
        .publish(good.clone())
        .await
        .expect("publishes");

    let recorder = Recorder::default();
    let r = recorder.clone();
    let stats = consume_until(
        &nats,
        "analytics-service",
        &recorder,
        retry,
        "the good message after the poison",
        move || !r.seen().is_empty(),
    )
    .await;
    assert_eq!(stats.dead_lettered, 3, "{stats:?}");
    assert_eq!(stats.handled, 1, "{stats:?}");
    assert_eq!(recorder.seen()[0].1, serde_json::to_value(&good).unwrap());

    let letters = nats
        .dead_letters("analytics-service")
        .await
        .expect("dead letters readable");
    assert_eq!(letters.len(), 3, "{letters:?}");
    for ((channel, payload, reason), letter) in poison.iter().zip(&letters) {
        assert_eq!(&letter.channel, channel);
        assert_eq!(&letter.payload, payload, "original bytes kept");
        let h = &letter.headers;
        assert_eq!(h.get_str(dl::REASON), Some(*reason));
        assert!(!h.get_str(dl::ERROR).unwrap_or_default().is_empty());
        assert_eq!(h.get_str(dl::ATTEMPTS), Some("1"));
        assert_eq!(h.get_str(dl::CHANNEL), Some(*channel));
        assert_eq!(h.get_str(dl::CONSUMER_GROUP), Some("analytics-service"));
        assert!(
            h.get_str(dl::ORIGIN)
                .is_some_and(|o| o.starts_with(&format!("nats:{}_INGEST/", ns.to_uppercase()))),
            "{h:?}"
        );
        assert_eq!(
            h.get_str("traceparent"),
            Some(TRACE),
            "original headers kept"
        );
        assert_eq!(h.get_str("x-producer"), Some("a foreign producer"));
        assert!(h.get_str(MSG_ID_HEADER).is_some());
    }
    // Everything settled: nothing left for the durable.
    let js = raw(&nats).await;
    let info = js
        .get_stream(nats.stream_name("INGEST"))
        .await
        .expect("stream")
        .consumer_info("analytics-service")
        .await
        .expect("durable exists");
    assert_eq!((info.num_pending, info.num_ack_pending), (0, 0), "{info:?}");
    nats.delete_streams::<agents::System>()
        .await
        .expect("cleanup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_failing_twice_is_retried_by_jetstream_and_handled_once() {
    let ns = namespace();
    let nats = transport(&ns).await;
    let retry = fast_retry(3);
    nats.setup::<agents::System>(&retry).await.expect("setup");
    let publisher = publisher(&nats);
    publisher
        .publish(example::<agents::OrchestratorStepStarted>())
        .await
        .expect("publishes");
    publisher
        .publish(example::<agents::OrchestratorStepFailed>())
        .await
        .expect("publishes");

    let recorder = Recorder::default();
    recorder.fail("orchestrator.step.started", 2);
    recorder.fail("orchestrator.step.failed", u32::MAX);
    let r = recorder.clone();
    let stats = consume_until(
        &nats,
        "usage-metering",
        &recorder,
        retry,
        "the retried message and the exhausted one",
        move || {
            // A delivery is settled before the consumer looks at shutdown, so the third
            // failure's dead letter is stored by the time the consumer stops.
            let exhausted = r
                .failed_attempts
                .lock()
                .unwrap()
                .iter()
                .filter(|(n, _)| n == "orchestrator.step.failed")
                .count();
            !r.seen().is_empty() && exhausted == 3
        },
    )
    .await;
    let seen = recorder.seen();
    assert_eq!(seen.len(), 1, "handled once: {seen:?}");
    assert_eq!(seen[0].0, "orchestrator.step.started");
    assert_eq!(seen[0].2, 3, "third delivery, counted by JetStream");
    let failed = recorder.failed_attempts.lock().unwrap().clone();
    let started: Vec<u32> = failed
        .iter()
        .filter(|(n, _)| n == "orchestrator.step.started")
        .map(|(_, a)| *a)
        .collect();
    assert_eq!(started, vec![1, 2]);
    let exhausted: Vec<u32> = failed
        .iter()
        .filter(|(n, _)| n == "orchestrator.step.failed")
        .map(|(_, a)| *a)
        .collect();
    assert_eq!(exhausted, vec![1, 2, 3], "never past max_attempts");
    assert_eq!(stats.retried, 4, "{stats:?}");
    assert_eq!(stats.dead_lettered, 1, "{stats:?}");
    let letters = nats
        .dead_letters("usage-metering")
        .await
        .expect("dead letters readable");
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].channel, "orchestrator.step.failed");
    assert_eq!(
        letters[0].headers.get_str(dl::REASON),
        Some("retries-exhausted")
    );
    assert_eq!(letters[0].headers.get_str(dl::ATTEMPTS), Some("3"));
    nats.delete_streams::<agents::System>()
        .await
        .expect("cleanup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_killed_mid_batch_loses_nothing() {
    let ns = namespace();
    let nats = transport(&ns).await;
    let retry = fast_retry(5);
    nats.setup::<agents::System>(&retry).await.expect("setup");
    let publisher = publisher(&nats);
    let mut ids = Vec::new();
    for _ in 0..10 {
        let mut event: agents::UsageMeteredApiCall = example();
        event.event_id = uuid::Uuid::new_v4();
        ids.push(event.event_id.to_string());
        publisher.publish(event).await.expect("publishes");
    }

    // A consumer in its own connection takes three and dies before settling them (its
    // prefetched rest is unsettled too).
    let doomed = transport(&ns).await;
    let mut source = doomed
        .source::<agents::System>("billing-service", &retry)
        .await
        .expect("source starts");
    let mut taken = Vec::new();
    for _ in 0..3 {
        let (delivery, _token) = tokio::time::timeout(Duration::from_secs(10), source.next())
            .await
            .expect("a delivery within 10 s")
            .expect("pull works")
            .expect("source open");
        let json: serde_json::Value = serde_json::from_slice(&delivery.payload).unwrap();
        taken.push(json["event_id"].as_str().unwrap().to_owned());
    }
    drop(source);
    drop(doomed);

    let recorder = Recorder::default();
    let r = recorder.clone();
    let stats = consume_until(
        &nats,
        "billing-service",
        &recorder,
        retry,
        "all 10 messages after the crash",
        move || r.seen().len() >= 10,
    )
    .await;
    assert_eq!(stats.handled, 10, "{stats:?}");
    let seen = recorder.seen();
    let mut handled: Vec<String> = seen
        .iter()
        .map(|(_, json, ..)| json["event_id"].as_str().unwrap().to_owned())
        .collect();
    handled.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(handled, expected, "every message handled exactly once");
    for id in &taken {
        let attempt = seen
            .iter()
            .find(|(_, json, ..)| json["event_id"] == id.as_str())
            .map(|s| s.2);
        assert_eq!(attempt, Some(2), "{id}: redelivered, counted by JetStream");
    }
    nats.delete_streams::<agents::System>()
        .await
        .expect("cleanup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_past_jetstream_max_deliver_is_dead_lettered() {
    let ns = namespace();
    let nats = transport(&ns).await;
    let retry = fast_retry(2);
    nats.setup::<agents::System>(&retry).await.expect("setup");
    let event: agents::RealtimePushChatMessage = example();
    publisher(&nats)
        .publish(event.clone())
        .await
        .expect("publishes");

    // Two deliveries, neither settled (a handler that outlives ack_wait, twice).
    let mut source = nats
        .source::<agents::System>("chat-clients", &retry)
        .await
        .expect("source starts");
    let mut tokens = Vec::new();
    for expected_attempt in 1..=2 {
        let (delivery, token) = tokio::time::timeout(Duration::from_secs(10), source.next())
            .await
            .expect("a delivery within 10 s")
            .expect("pull works")
            .expect("source open");
        assert_eq!(delivery.attempt, expected_attempt);
        tokens.push(token);
    }
    // JetStream gives up after ack_wait and says so; the running source dead-letters it.
    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
    let n = nats.clone();
    let handler = agents::Dispatch(Recorder::default());
    let policy = Policy::new("chat-clients").with_retry(retry);
    let (stats, letters) = tokio::join!(
        transport::run::<agents::System, _, _, _>(source, &handler, &policy, &shutdown),
        async move {
            let letters = wait_for("the max_deliver dead letter", || {
                let n = n.clone();
                async move {
                    n.dead_letters("chat-clients")
                        .await
                        .ok()
                        .filter(|l| !l.is_empty())
                }
            })
            .await;
            stop.trigger();
            letters
        }
    );
    let stats = stats.expect("consumer runs");
    assert_eq!(stats.handled, 0, "{stats:?}");
    assert_eq!(letters.len(), 1, "{letters:?}");
    let h = &letters[0].headers;
    assert_eq!(h.get_str(dl::REASON), Some("retries-exhausted"));
    assert_eq!(h.get_str(dl::ATTEMPTS), Some("2"));
    assert_eq!(h.get_str("traceparent"), Some(TRACE));
    assert_eq!(
        letters[0].payload,
        <agents::System as Contract>::outgoing(&AgentsEvent::RealtimePushChatMessage(event))
            .expect("encodes")
            .payload,
        "original bytes"
    );
    drop(tokens);
    nats.delete_streams::<agents::System>()
        .await
        .expect("cleanup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_a_clear_error() {
    let config = NatsConfig {
        request_timeout: Duration::from_millis(500),
        ..NatsConfig::new("nats://127.0.0.1:1")
    };
    let error = NatsTransport::connect(config)
        .await
        .expect_err("nothing listens on port 1");
    let text = error.to_string();
    assert!(
        text.contains("127.0.0.1:1") && text.contains("nats-server"),
        "{text}"
    );
}
