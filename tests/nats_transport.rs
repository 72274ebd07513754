//! The NATS JetStream binding of the `agents` system against the real server on
//! 127.0.0.1:4222 (`bash .ci/services.sh` starts it): the shared transport scenarios
//! (`tests/transport_scenarios/`), and what only JetStream has: the streams and durables
//! `setup` creates, server-side deduplication by `Nats-Msg-Id`, consumer-side deduplication
//! by the declared id for producers that send none, and JetStream's own `max_deliver`.
//!
//! Every test works in its own namespace (stream and subject prefix), so runs never collide,
//! and deletes its streams at the end.

#[path = "transport_scenarios/mod.rs"]
mod scenarios;

use std::future::Future;
use std::time::Duration;

use event_contracts::agents::{self, AgentsEvent};
use event_contracts::runtime::transport::nats::{
    NatsConfig, NatsSink, NatsSource, NatsTransport, MSG_ID_HEADER,
};
use event_contracts::runtime::transport::redis::{RedisConfig, RedisIdempotency};
use event_contracts::runtime::transport::{
    self, dead_letter_headers as dl, ConsumerGroup, Contract, Headers, IdempotencyStore, Meta,
    Outgoing, Policy, Publisher, Publishes, RetryPolicy, Shutdown, Source, Stats,
};
use event_contracts::Event;
use scenarios::{fast_retry, wait_for, Backend, Letter, Origin, Recorder, Refused, Role, TRACE};

const URL: &str = "nats://127.0.0.1:4222";
const REDIS_URL: &str = "redis://127.0.0.1:6379";

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
    NatsTransport::connect(&config).await.unwrap_or_else(|e| {
        panic!("NATS JetStream must run on {URL} (start it with `bash .ci/services.sh`): {e}")
    })
}

async fn raw(ns_transport: &NatsTransport) -> async_nats::jetstream::Context {
    let client = async_nats::connect(ns_transport.config().url.as_str())
        .await
        .expect("raw client connects");
    async_nats::jetstream::new(client)
}

/// One namespace on the local JetStream.
struct Nats {
    ns: String,
    nats: NatsTransport,
}

impl Nats {
    async fn new() -> Self {
        let ns = namespace();
        let nats = transport(&ns).await;
        Self { ns, nats }
    }

    /// The stream a catalog subject is stored in (`ingest.document.processed` → `<NS>_INGEST`).
    fn stream_of(&self, subject: &str) -> String {
        let first = subject.split('.').next().unwrap_or_default();
        self.nats.stream_name(&first.to_uppercase())
    }

    async fn cleanup(&self) {
        self.nats
            .delete_streams::<agents::System>()
            .await
            .expect("cleanup");
    }
}

/// Whether NATS subject filter `filter` (`*` one token, `>` the rest) matches `subject`.
fn subject_matches(filter: &str, subject: &str) -> bool {
    let mut subject = subject.split('.');
    for token in filter.split('.') {
        match (token, subject.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (t, Some(s)) if t == s => {}
            _ => return false,
        }
    }
    subject.next().is_none()
}

macro_rules! wrap_examples {
    ($meta:expr; $($ty:ident),* $(,)?) => {
        vec![$(
            <agents::System as Publishes<agents::$ty>>::wrap(
                agents::$ty::examples().expect("examples decode").remove(0),
                $meta,
            )
            .expect("wraps"),
        )*]
    };
}

impl Backend for Nats {
    type System = agents::System;
    type Sink = NatsSink;
    type Source = NatsSource;
    const GROUP: &'static str = "analytics-service";

    fn every_event(meta: &Meta) -> Vec<AgentsEvent> {
        wrap_examples!(meta;
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
            AlertsQuotaExceeded,
        )
    }

    fn sample(_n: usize) -> AgentsEvent {
        let mut event = agents::IngestDocumentProcessed::examples()
            .expect("examples decode")
            .remove(0);
        // The event id is the Nats-Msg-Id: each sample is a message of its own.
        event.event_id = uuid::Uuid::new_v4();
        AgentsEvent::IngestDocumentProcessed(event)
    }

    fn break_schema(message: &mut serde_json::Value) -> &'static str {
        message["chunk_count"] = serde_json::json!(-5);
        "/chunk_count"
    }

    fn refused(_sample: &serde_json::Value) -> Refused {
        let failed = agents::IngestDocumentFailed::examples()
            .expect("examples decode")
            .remove(0);
        Refused::unknown_event(
            "ingest.document.archived",
            serde_json::to_vec(&failed).unwrap(),
        )
    }

    fn reads(group: &ConsumerGroup, channel: &str) -> bool {
        group.binds.iter().any(|f| subject_matches(f, channel))
    }

    async fn prepare(&self, retry: &RetryPolicy) {
        self.nats
            .setup::<agents::System>(retry)
            .await
            .expect("setup creates the streams and durables");
    }

    async fn sink(&self) -> NatsSink {
        NatsSink::connect(self.nats.config())
            .await
            .expect("sink connects")
    }

    async fn source(&self, group: &str, retry: &RetryPolicy, _role: Role) -> NatsSource {
        // Each source has a connection of its own, so the consumer that dies takes only its
        // own with it.
        let config = self.nats.config().clone().with_retry(retry);
        NatsSource::for_group::<agents::System>(&config, group)
            .await
            .expect("source starts")
    }

    async fn send_raw(&self, channel: &str, payload: &[u8], headers: &Headers) -> Origin {
        let outgoing = Outgoing {
            channel: channel.to_owned(),
            key: None,
            message_id: uuid::Uuid::new_v4().to_string(),
            payload: payload.to_vec(),
            headers: headers.clone(),
        };
        self.nats
            .sink()
            .send_confirmed(outgoing)
            .await
            .expect("the broker takes any bytes");
        Origin::Prefix(format!("nats:{}/", self.stream_of(channel)))
    }

    async fn dead_letters(&self, group: &str, channel: &str) -> Vec<Letter> {
        self.nats
            .dead_letters(group)
            .await
            .expect("dead letters readable")
            .into_iter()
            .filter(|d| d.channel == channel)
            .map(|d| Letter {
                channel: d.channel,
                payload: d.payload,
                headers: d.headers,
            })
            .collect()
    }

    /// JetStream takes an ack as a plain publish and counts it once it has read it: right
    /// after a consumer returned, its last ack can still be on its way (seen once in CI). So
    /// this waits a little for the count to reach zero; anything still unsettled then is a
    /// real miss.
    async fn settled(&self, group: &str) -> bool {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            if self.settled_now(group).await {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Nats {
    async fn settled_now(&self, group: &str) -> bool {
        let js = raw(&self.nats).await;
        let binds = <agents::System as Contract>::consumer_group(group)
            .expect("catalog group")
            .binds;
        for filter in binds {
            let info = js
                .get_stream(self.stream_of(filter))
                .await
                .expect("stream")
                .consumer_info(group)
                .await
                .expect("durable exists");
            if info.num_pending != 0 || info.num_ack_pending != 0 {
                return false;
            }
        }
        true
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

/// `setup` creates one stream per catalog stream under the namespace, idempotently; every
/// event round-trips; on the wire each sits on its catalog subject under the namespace with
/// `Nats-Msg-Id` = the event id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_agents_event_round_trips_through_jetstream() {
    let backend = Nats::new().await;
    let (ns, nats) = (&backend.ns, &backend.nats);
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

    let published = scenarios::every_event_round_trips(&backend).await;
    assert_eq!(published.len(), 12);

    let js = raw(nats).await;
    let mut stream = js
        .get_stream(format!("{prefix}_INGEST"))
        .await
        .expect("INGEST stream");
    assert_eq!(stream.info().await.expect("info").state.messages, 2);
    let first = stream.get_raw_message(1).await.expect("first message");
    let processed = agents::IngestDocumentProcessed::examples()
        .expect("examples decode")
        .remove(0);
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
    backend.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_publish_is_dropped_by_the_server() {
    let ns = namespace();
    let nats = transport(&ns).await;
    nats.setup::<agents::System>(&fast_retry(3))
        .await
        .expect("setup");
    let event: agents::UsageMeteredApiCall = agents::UsageMeteredApiCall::examples()
        .expect("examples decode")
        .remove(0);
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
    scenarios::consume_until::<Nats, _, _, _>(source, recorder, policy, what, done).await
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
    let redis = RedisConfig::new(REDIS_URL).with_namespace(format!("test-{ns}:"));
    let store = || async {
        RedisIdempotency::connect(&redis, Duration::from_secs(600))
            .await
            .unwrap_or_else(|e| panic!("Redis must run on {REDIS_URL}: {e}"))
    };
    let policy = Policy::new("billing-service")
        .with_retry(retry.clone())
        .with_idempotency(store().await);

    let event: agents::UsageMeteredApiCall = agents::UsageMeteredApiCall::examples()
        .expect("examples decode")
        .remove(0);
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

/// The dead letters also keep the `Nats-Msg-Id` they were published with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_are_dead_lettered_with_their_reason_and_later_messages_flow() {
    let backend = Nats::new().await;
    scenarios::poison_is_dead_lettered(&backend).await;
    let letters = backend
        .nats
        .dead_letters(Nats::GROUP)
        .await
        .expect("dead letters readable");
    assert_eq!(letters.len(), 3, "{letters:?}");
    assert!(letters
        .iter()
        .all(|l| l.headers.get_str(MSG_ID_HEADER).is_some()));
    backend.cleanup().await;
}

/// JetStream counts the deliveries (nak with delay).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_failing_twice_is_retried_by_jetstream_and_handled_once() {
    let backend = Nats::new().await;
    scenarios::fails_twice_then_succeeds(&backend).await;
    backend.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_keeps_failing_is_dead_lettered_at_the_limit() {
    let backend = Nats::new().await;
    scenarios::exhausted_retries_are_dead_lettered(&backend).await;
    backend.cleanup().await;
}

/// The dead consumer's messages come back after `ack_wait`, counted by JetStream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_killed_mid_batch_loses_nothing() {
    let backend = Nats::new().await;
    scenarios::consumer_killed_mid_batch_loses_nothing(&backend).await;
    backend.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_past_jetstream_max_deliver_is_dead_lettered() {
    let ns = namespace();
    let nats = transport(&ns).await;
    let retry = fast_retry(2);
    nats.setup::<agents::System>(&retry).await.expect("setup");
    let event: agents::RealtimePushChatMessage = agents::RealtimePushChatMessage::examples()
        .expect("examples decode")
        .remove(0);
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
    let handler = Recorder::default();
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
    let error = NatsTransport::connect(&config)
        .await
        .expect_err("nothing listens on port 1");
    let text = error.to_string();
    assert!(
        text.contains("127.0.0.1:1") && text.contains("nats-server"),
        "{text}"
    );
}
