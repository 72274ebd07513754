//! The Kafka binding against the real broker (tansu on 127.0.0.1:9092, started by
//! `bash .ci/services.sh`; `KAFKA_BROKERS` overrides the address): every livepeer event
//! through typed publish and typed handlers, record key and `traceparent`, poison messages to
//! the dead-letter topic, retries counted by the `x-attempt` header, and a consumer dropped
//! mid-batch losing nothing. Every topic and group has a unique name per run.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use event_contracts::livepeer::{
    self, AiStreamEvents, AiStreamStatus, CreateNewPayment, CreateSignedTicket, DiscoveryResults,
    ForwardedEvent, GatewayEnvelope, NetworkCapabilities, StreamIngestMetrics, StreamTrace,
};
use event_contracts::runtime::transport::kafka::{
    dead_letter_topic, forward::Forwarder, forward::StreamInfo, KafkaConfig, KafkaSink,
    KafkaSource, KafkaToken,
};
use event_contracts::runtime::transport::{
    self, dead_letter_headers as dl, Context, Delivery, HandlerError, HandlerResult, Headers, Meta,
    Outgoing, Policy, Publisher, RetryPolicy, Shutdown, Source, Stats, TransportError,
    TRACEPARENT_HEADER,
};
use event_contracts::Event;
use serde::Serialize;

const WAIT: Duration = Duration::from_secs(30);

fn config() -> KafkaConfig {
    let brokers = std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    // Short group timings: tansu makes a joining member wait about half the session timeout.
    KafkaConfig::new(brokers)
        .set("session.timeout.ms", "2000")
        .set("heartbeat.interval.ms", "300")
        .with_partitions(3)
}

fn unique(prefix: &str) -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}-{}", std::process::id(), &random[..8])
}

async fn sink(topic: &str) -> KafkaSink {
    KafkaSink::connect(&config())
        .await
        .unwrap_or_else(|e| panic!("Kafka broker needed for this test: {e}"))
        .with_topic(topic)
}

async fn source(group: &str, topic: &str) -> KafkaSource {
    KafkaSource::connect(&config(), group, &[topic])
        .await
        .unwrap_or_else(|e| panic!("Kafka broker needed for this test: {e}"))
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(30),
        max_backoff: Duration::from_millis(100),
        ..RetryPolicy::default()
    }
}

/// One handled message: event name, envelope id, payload as JSON, attempt, traceparent.
#[derive(Clone, Debug)]
struct Seen {
    name: String,
    id: String,
    gateway: String,
    data: serde_json::Value,
    attempt: u32,
    traceparent: Option<String>,
}

#[derive(Clone, Default)]
struct Recorder {
    seen: Arc<Mutex<Vec<Seen>>>,
    /// `stream_trace` fails (retry) this many times first.
    trace_failures: Arc<AtomicU32>,
    /// `stream_ingest_metrics` always fails (retry).
    metrics_always_fail: bool,
}

impl Recorder {
    fn record<D: Serialize>(&self, name: &str, m: &GatewayEnvelope<D>, ctx: &Context) {
        self.seen.lock().unwrap().push(Seen {
            name: name.to_owned(),
            id: m.id.to_string(),
            gateway: m.gateway.clone(),
            data: serde_json::to_value(&m.data).expect("payload serializes"),
            attempt: ctx.attempt,
            traceparent: ctx.traceparent.clone(),
        });
    }
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl livepeer::Handler for Recorder {
    async fn stream_trace(&self, m: GatewayEnvelope<StreamTrace>, ctx: &Context) -> HandlerResult {
        if self
            .trace_failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(HandlerError::retry("analytics store not reachable yet"));
        }
        self.record("stream_trace", &m, ctx);
        Ok(())
    }
    async fn stream_ingest_metrics(
        &self,
        m: GatewayEnvelope<StreamIngestMetrics>,
        ctx: &Context,
    ) -> HandlerResult {
        if self.metrics_always_fail {
            return Err(HandlerError::retry("metrics sink is down"));
        }
        self.record("stream_ingest_metrics", &m, ctx);
        Ok(())
    }
    async fn ai_stream_events(
        &self,
        m: GatewayEnvelope<AiStreamEvents>,
        ctx: &Context,
    ) -> HandlerResult {
        self.record("ai_stream_events", &m, ctx);
        Ok(())
    }
    async fn ai_stream_status(
        &self,
        m: GatewayEnvelope<AiStreamStatus>,
        ctx: &Context,
    ) -> HandlerResult {
        self.record("ai_stream_status", &m, ctx);
        Ok(())
    }
    async fn discovery_results(
        &self,
        m: GatewayEnvelope<DiscoveryResults>,
        ctx: &Context,
    ) -> HandlerResult {
        self.record("discovery_results", &m, ctx);
        Ok(())
    }
    async fn create_new_payment(
        &self,
        m: GatewayEnvelope<CreateNewPayment>,
        ctx: &Context,
    ) -> HandlerResult {
        self.record("create_new_payment", &m, ctx);
        Ok(())
    }
    async fn network_capabilities(
        &self,
        m: GatewayEnvelope<NetworkCapabilities>,
        ctx: &Context,
    ) -> HandlerResult {
        self.record("network_capabilities", &m, ctx);
        Ok(())
    }
    async fn create_signed_ticket(
        &self,
        m: GatewayEnvelope<CreateSignedTicket>,
        ctx: &Context,
    ) -> HandlerResult {
        self.record("create_signed_ticket", &m, ctx);
        Ok(())
    }
    async fn forwarded_event(
        &self,
        m: GatewayEnvelope<ForwardedEvent>,
        ctx: &Context,
    ) -> HandlerResult {
        let name = format!("*:{}", m.r#type);
        self.record(&name, &m, ctx);
        Ok(())
    }
}

/// A source that records each delivery's key and headers on its way to the engine.
struct Recording<S> {
    inner: S,
    deliveries: Arc<Mutex<Vec<Delivery>>>,
}

impl<S: Source> Source for Recording<S> {
    type Token = S::Token;
    async fn next(&mut self) -> Result<Option<(Delivery, S::Token)>, TransportError> {
        let next = self.inner.next().await?;
        if let Some((d, _)) = &next {
            self.deliveries.lock().unwrap().push(d.clone());
        }
        Ok(next)
    }
    async fn ack(&mut self, token: S::Token) -> Result<(), TransportError> {
        self.inner.ack(token).await
    }
    async fn retry(
        &mut self,
        t: S::Token,
        d: &Delivery,
        after: Duration,
    ) -> Result<(), TransportError> {
        self.inner.retry(t, d, after).await
    }
    async fn dead_letter(
        &mut self,
        t: S::Token,
        d: &Delivery,
        l: &transport::DeadLetter,
    ) -> Result<(), TransportError> {
        self.inner.dead_letter(t, d, l).await
    }
}

/// Runs the consumer engine until `done` holds (then lets it settle what it holds) or `WAIT`
/// passes, which fails the test with `what`.
async fn consume_until<S: Source>(
    source: S,
    handler: &livepeer::Dispatch<Recorder>,
    policy: &Policy,
    what: &str,
    done: impl Fn(&Stats) -> bool,
    stats_now: Arc<Mutex<Stats>>,
) -> Stats {
    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
    let watcher = async {
        let ok = tokio::time::timeout(WAIT, async {
            while !done(&stats_now.lock().unwrap()) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .is_ok();
        stop.trigger();
        ok
    };
    let counting = Counting {
        inner: source,
        stats: stats_now.clone(),
    };
    let (stats, ok) = tokio::join!(
        transport::run::<livepeer::System, _, _, _>(counting, handler, policy, &shutdown),
        watcher
    );
    let stats = stats.expect("the Kafka consumer runs without transport errors");
    assert!(
        ok,
        "timed out after {WAIT:?} waiting for {what}; stats so far {stats:?}"
    );
    stats
}

/// Keeps live counts of how deliveries were settled, for `consume_until`'s condition.
struct Counting<S> {
    inner: S,
    stats: Arc<Mutex<Stats>>,
}

impl<S: Source> Source for Counting<S> {
    type Token = S::Token;
    async fn next(&mut self) -> Result<Option<(Delivery, S::Token)>, TransportError> {
        self.inner.next().await
    }
    async fn ack(&mut self, token: S::Token) -> Result<(), TransportError> {
        self.inner.ack(token).await?;
        self.stats.lock().unwrap().handled += 1;
        Ok(())
    }
    async fn retry(
        &mut self,
        t: S::Token,
        d: &Delivery,
        after: Duration,
    ) -> Result<(), TransportError> {
        self.inner.retry(t, d, after).await?;
        self.stats.lock().unwrap().retried += 1;
        Ok(())
    }
    async fn dead_letter(
        &mut self,
        t: S::Token,
        d: &Delivery,
        l: &transport::DeadLetter,
    ) -> Result<(), TransportError> {
        self.inner.dead_letter(t, d, l).await?;
        self.stats.lock().unwrap().dead_lettered += 1;
        Ok(())
    }
}

/// Reads `n` messages of `topic` with a fresh group, acknowledging each.
async fn read_topic(topic: &str, n: usize) -> Vec<Delivery> {
    let mut reader = source(&unique("reader"), topic).await;
    let mut out = Vec::new();
    while out.len() < n {
        let next = tokio::time::timeout(WAIT, reader.next())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "timed out reading {topic}: expected {n} messages, got {}",
                    out.len()
                )
            })
            .expect("reading works")
            .expect("a Kafka source does not end");
        let (delivery, token): (Delivery, KafkaToken) = next;
        reader.ack(token).await.expect("ack");
        out.push(delivery);
    }
    out
}

fn gateway_meta() -> Meta {
    Meta {
        source: Some("gateway-nyc.test:8935".into()),
        ..Meta::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_livepeer_event_round_trips_with_its_key_and_traceparent() {
    let topic = unique("lp-roundtrip");
    let group = unique("analytics");
    let consumer = source(&group, &topic).await;
    let publisher = Publisher::<livepeer::System, _>::new(sink(&topic).await, gateway_meta());

    // (event name, published id, traceparent, payload JSON)
    let mut sent: Vec<(String, String, String, serde_json::Value)> = Vec::new();
    macro_rules! publish {
        ($ty:ty, $name:expr, $meta:expr) => {{
            let event: $ty = <$ty>::examples().expect("examples decode").remove(0);
            let data = serde_json::to_value(&event).unwrap();
            let trace = transport::trace::TraceParent::new_root().to_string();
            let meta = Meta {
                traceparent: Some(trace.clone()),
                ..$meta
            };
            let id = publisher
                .publish_with(event, &meta)
                .await
                .unwrap_or_else(|e| panic!("{} publishes: {e}", $name));
            sent.push(($name.to_owned(), id, trace, data));
        }};
    }
    publish!(StreamTrace, "stream_trace", Meta::default());
    publish!(
        StreamIngestMetrics,
        "stream_ingest_metrics",
        Meta::default()
    );
    publish!(AiStreamEvents, "ai_stream_events", Meta::default());
    publish!(AiStreamStatus, "ai_stream_status", Meta::default());
    publish!(DiscoveryResults, "discovery_results", Meta::default());
    publish!(CreateNewPayment, "create_new_payment", Meta::default());
    publish!(NetworkCapabilities, "network_capabilities", Meta::default());
    publish!(CreateSignedTicket, "create_signed_ticket", Meta::default());
    publish!(
        ForwardedEvent,
        "*:stream_heartbeat",
        Meta {
            event_type: Some("stream_heartbeat".into()),
            ..Meta::default()
        }
    );
    // A relayed runner status, through the forwarding rules, published as a whole message.
    let mut forwarder = Forwarder::new("gateway-nyc.test:8935");
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
    let expected = sent.len() + 1;

    let recorder = Recorder::default();
    let handler = livepeer::Dispatch(recorder.clone());
    let deliveries = Arc::new(Mutex::new(Vec::new()));
    let recording = Recording {
        inner: consumer,
        deliveries: deliveries.clone(),
    };
    let policy = Policy::new(group.clone()).with_retry(fast_retry());
    let stats = consume_until(
        recording,
        &handler,
        &policy,
        &format!("{expected} livepeer events"),
        |s| s.handled as usize >= expected,
        Arc::default(),
    )
    .await;
    assert_eq!(stats.dead_lettered, 0, "{stats:?}");

    let seen: BTreeMap<String, Seen> = recorder
        .seen()
        .into_iter()
        .map(|s| (s.id.clone(), s))
        .collect();
    for (name, id, trace, data) in &sent {
        let got = seen
            .get(id)
            .unwrap_or_else(|| panic!("{name} ({id}) was not handled"));
        assert_eq!(&got.name, name, "typed handler of {id}");
        assert_eq!(&got.data, data, "{name}: the payload arrives unchanged");
        assert_eq!(got.gateway, "gateway-nyc.test:8935");
        assert_eq!(got.attempt, 1);
        assert_eq!(
            got.traceparent.as_deref(),
            Some(trace.as_str()),
            "{name}: traceparent"
        );
    }
    let status = seen
        .get(&relayed_id)
        .expect("the forwarded status was handled");
    assert_eq!(status.name, "ai_stream_status");
    assert_eq!(status.data["stream_id"], "stream-1");

    let deliveries = deliveries.lock().unwrap().clone();
    assert_eq!(deliveries.len(), expected, "each record read once");
    for d in &deliveries {
        let body: serde_json::Value = serde_json::from_slice(&d.payload).unwrap();
        let id = body["id"].as_str().expect("envelope id");
        assert_eq!(
            d.key.as_deref(),
            Some(id.as_bytes()),
            "record key == envelope id"
        );
        assert!(
            d.headers.get_str(TRACEPARENT_HEADER).is_some(),
            "traceparent header"
        );
        assert_eq!(d.headers.get_str("content-type"), Some("application/json"));
        assert_eq!(d.channel, topic);
        assert!(
            d.origin.starts_with(&format!("kafka:{topic}/")),
            "{}",
            d.origin
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_are_dead_lettered_with_reason_while_later_messages_flow() {
    let topic = unique("lp-poison");
    let group = unique("stream-monitor");
    let consumer = source(&group, &topic).await;
    let sink = sink(&topic).await;
    let poison: [(&str, &[u8], &str); 3] = [
        ("bad-json", b"{not json", "malformed"),
        (
            "schema-violation",
            // stream_trace without its required keys.
            br#"{"id":"5f0c3f8e-9a51-4c3e-8a9e-2d0b3f1c7a42","type":"stream_trace","timestamp":"1767966890412","gateway":"","data":{"type":"gateway_receive_stream_request"}}"#,
            "schema-violation",
        ),
        (
            "envelope-violation",
            // The envelope timestamp is a decimal string, never a number.
            br#"{"id":"5f0c3f8e-9a51-4c3e-8a9e-2d0b3f1c7a43","type":"network_capabilities","timestamp":1767966890412,"gateway":"","data":null}"#,
            "schema-violation",
        ),
    ];
    for (name, bytes, _) in &poison {
        let mut headers = Headers::new();
        headers.insert("x-test", *name);
        headers.insert(
            TRACEPARENT_HEADER,
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        );
        headers.append("x-binary", vec![0u8, 255, 1]);
        sink.send_confirmed(Outgoing {
            channel: topic.clone(),
            key: Some(format!("key-{name}")),
            message_id: String::new(),
            payload: bytes.to_vec(),
            headers,
        })
        .await
        .expect("raw publish");
    }
    let publisher = Publisher::<livepeer::System, _>::new(sink.clone(), gateway_meta());
    let good_id = publisher
        .publish(
            AiStreamEvents::examples()
                .expect("examples decode")
                .remove(0),
        )
        .await
        .expect("valid event publishes");

    let recorder = Recorder::default();
    let handler = livepeer::Dispatch(recorder.clone());
    let policy = Policy::new(group.clone()).with_retry(fast_retry());
    let stats = consume_until(
        consumer,
        &handler,
        &policy,
        "3 dead letters and 1 handled event",
        |s| s.dead_lettered >= 3 && s.handled >= 1,
        Arc::default(),
    )
    .await;
    assert_eq!((stats.handled, stats.dead_lettered), (1, 3), "{stats:?}");
    let seen = recorder.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].id, good_id,
        "the valid event after the poison was handled"
    );

    let dead = read_topic(&dead_letter_topic(&topic), 3).await;
    let by_test: BTreeMap<&str, &Delivery> = dead
        .iter()
        .map(|d| {
            (
                d.headers.get_str("x-test").expect("original header kept"),
                d,
            )
        })
        .collect();
    for (name, bytes, reason) in &poison {
        let d = by_test
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not in the dead-letter topic"));
        assert_eq!(d.payload, *bytes, "{name}: original bytes");
        assert_eq!(
            d.key.as_deref(),
            Some(format!("key-{name}").as_bytes()),
            "{name}: key"
        );
        assert_eq!(d.headers.get(TRACEPARENT_HEADER).map(<[u8]>::len), Some(55));
        assert_eq!(
            d.headers.get("x-binary"),
            Some(&[0u8, 255, 1][..]),
            "binary header unchanged"
        );
        assert_eq!(
            d.headers.get_str(dl::REASON),
            Some(*reason),
            "{name}: reason"
        );
        assert_eq!(d.headers.get_str(dl::ATTEMPTS), Some("1"));
        assert_eq!(d.headers.get_str(dl::CHANNEL), Some(topic.as_str()));
        assert_eq!(d.headers.get_str(dl::CONSUMER_GROUP), Some(group.as_str()));
        assert!(d
            .headers
            .get_str(dl::ORIGIN)
            .is_some_and(|o| o.starts_with("kafka:")));
        let error = d.headers.get_str(dl::ERROR).unwrap_or_default();
        assert!(!error.is_empty(), "{name}: error text");
    }
    let invalid = by_test["schema-violation"]
        .headers
        .get_str(dl::ERROR)
        .unwrap();
    assert!(
        invalid.contains("/data"),
        "the error names the JSON pointer: {invalid}"
    );
    let envelope = by_test["envelope-violation"]
        .headers
        .get_str(dl::ERROR)
        .unwrap();
    assert!(envelope.contains("/timestamp"), "{envelope}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_failing_twice_is_retried_and_processed_once_then_exhausted_ones_dead_letter() {
    let topic = unique("lp-retry");
    let group = unique("analytics");
    let consumer = source(&group, &topic).await;
    let sink = sink(&topic).await;
    let publisher = Publisher::<livepeer::System, _>::new(sink, gateway_meta());
    let trace_id = publisher
        .publish(StreamTrace::examples().expect("examples decode").remove(0))
        .await
        .expect("publish");
    let metrics_id = publisher
        .publish(
            StreamIngestMetrics::examples()
                .expect("examples decode")
                .remove(0),
        )
        .await
        .expect("publish");
    let other_id = publisher
        .publish(
            DiscoveryResults::examples()
                .expect("examples decode")
                .remove(0),
        )
        .await
        .expect("publish");

    let recorder = Recorder {
        metrics_always_fail: true,
        ..Recorder::default()
    };
    recorder.trace_failures.store(2, Ordering::SeqCst);
    let handler = livepeer::Dispatch(recorder.clone());
    let policy = Policy::new(group.clone()).with_retry(fast_retry());
    let stats = consume_until(
        consumer,
        &handler,
        &policy,
        "2 handled events and 1 dead letter after retries",
        |s| s.handled >= 2 && s.dead_lettered >= 1,
        Arc::default(),
    )
    .await;
    // stream_trace: 2 retries; stream_ingest_metrics: 2 retries, then dead-lettered.
    assert_eq!(stats.retried, 4, "{stats:?}");
    assert_eq!(stats.handled, 2, "{stats:?}");
    let seen = recorder.seen();
    let traces: Vec<&Seen> = seen.iter().filter(|s| s.id == trace_id).collect();
    assert_eq!(traces.len(), 1, "processed once: {seen:?}");
    assert_eq!(
        traces[0].attempt, 3,
        "third attempt, from the x-attempt header"
    );
    assert!(seen.iter().any(|s| s.id == other_id && s.attempt == 1));
    assert!(!seen.iter().any(|s| s.id == metrics_id));

    let dead = read_topic(&dead_letter_topic(&topic), 1).await;
    let d = &dead[0];
    let body: serde_json::Value = serde_json::from_slice(&d.payload).unwrap();
    assert_eq!(body["id"], metrics_id.as_str(), "the original bytes");
    assert_eq!(d.headers.get_str(dl::REASON), Some("retries-exhausted"));
    assert_eq!(d.headers.get_str(dl::ATTEMPTS), Some("3"));
    assert_eq!(
        d.headers.get_str(dl::CHANNEL),
        Some(topic.as_str()),
        "the original topic"
    );
    assert!(d
        .headers
        .get_str(dl::ERROR)
        .is_some_and(|e| e.contains("metrics sink is down")));
    assert_eq!(d.key.as_deref(), Some(metrics_id.as_bytes()));
}

/// A handler that acknowledges `ok` messages, then never finishes the next one.
#[derive(Clone)]
struct Stuck {
    ok: usize,
    seen: Arc<Mutex<Vec<String>>>,
    stuck: Arc<tokio::sync::Notify>,
}

impl livepeer::Handler for Stuck {
    async fn stream_trace(&self, m: GatewayEnvelope<StreamTrace>, _: &Context) -> HandlerResult {
        {
            let mut seen = self.seen.lock().unwrap();
            if seen.len() < self.ok {
                seen.push(m.id.to_string());
                return Ok(());
            }
        }
        self.stuck.notify_one();
        std::future::pending::<()>().await;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_dropped_mid_batch_loses_nothing() {
    let topic = unique("lp-crash");
    let group = unique("analytics");
    let first = source(&group, &topic).await;
    let publisher = Publisher::<livepeer::System, _>::new(sink(&topic).await, gateway_meta());
    let mut ids = BTreeSet::new();
    for _ in 0..20 {
        ids.insert(
            publisher
                .publish(StreamTrace::examples().expect("examples decode").remove(0))
                .await
                .expect("publish"),
        );
    }

    let stuck = Stuck {
        ok: 5,
        seen: Arc::default(),
        stuck: Arc::default(),
    };
    let shutdown = Shutdown::new();
    let handler = livepeer::Dispatch(stuck.clone());
    let policy = Policy::new(group.clone());
    let crashed = tokio::select! {
        r = transport::run::<livepeer::System, _, _, _>(first, &handler, &policy, &shutdown) => {
            panic!("the first consumer ended on its own: {r:?}")
        }
        _ = stuck.stuck.notified() => true,
        _ = tokio::time::sleep(WAIT) => false,
    };
    // Leaving the select dropped the consumer mid-message, with nothing of it committed.
    assert!(
        crashed,
        "the first consumer did not reach its 6th message within {WAIT:?}"
    );
    let acked_by_first: BTreeSet<String> = stuck.seen.lock().unwrap().iter().cloned().collect();
    assert_eq!(acked_by_first.len(), 5);

    let recorder = Recorder::default();
    let handler = livepeer::Dispatch(recorder.clone());
    let union = || {
        let mut all = acked_by_first.clone();
        all.extend(recorder.seen().into_iter().map(|s| s.id));
        all
    };
    let second = source(&group, &topic).await;
    consume_until(
        second,
        &handler,
        &policy,
        "the second consumer to handle what the first left",
        |_| union() == ids,
        Arc::default(),
    )
    .await;
    let by_second: BTreeSet<String> = recorder.seen().into_iter().map(|s| s.id).collect();
    let left: BTreeSet<String> = ids.difference(&acked_by_first).cloned().collect();
    assert!(
        left.is_subset(&by_second),
        "every message the first consumer did not finish was handled by the second"
    );
    assert_eq!(union(), ids, "nothing lost");
}
