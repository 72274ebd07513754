//! The AMQP binding against the real RabbitMQ on 127.0.0.1:5672 (start it with
//! `bash .ci/services.sh`; `AMQP_URL` overrides the address). Every test declares its own
//! exchange and queues (random suffix) and deletes them at the end. The shared transport
//! scenarios (`tests/transport_scenarios/`) run over the dam system's catalog groups; what only
//! AMQP has stays here: routing-key order and `#`/`*` bindings of ad-hoc groups, the
//! `tenant.#` audit stream, mandatory publishing, and the original routing key of a retry.

#[path = "transport_scenarios/mod.rs"]
mod scenarios;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use event_contracts::dam::{self, DamEvent};
use event_contracts::runtime::transport::amqp::{
    AmqpBroker, AmqpConfig, AmqpSink, AmqpSource, AuditOffset, ROUTING_KEY_HEADER,
};
use event_contracts::runtime::transport::{
    self, dead_letter_headers as dl, ConsumerGroup, Context, Contract, HandlerError, HandlerResult,
    Headers, Meta, Policy, Publisher, RetryPolicy, Shutdown, Stats, TRACEPARENT_HEADER,
};
use event_contracts::Event;

use scenarios::{Backend, Letter, Origin, Refused, Role, TRACE, WAIT};

/// One example of every dam event, in catalog order.
fn every_event() -> Vec<DamEvent> {
    vec![
        DamEvent::CaptureAlive(
            dam::CaptureAlive::examples()
                .expect("examples decode")
                .remove(0),
        ),
        DamEvent::CaptureDeviceList(
            dam::CaptureDeviceList::examples()
                .expect("examples decode")
                .remove(0),
        ),
        DamEvent::CaptureRecordingStarted(
            dam::CaptureRecordingStarted::examples()
                .expect("examples decode")
                .remove(0),
        ),
        DamEvent::CaptureRecordingStopped(
            dam::CaptureRecordingStopped::examples()
                .expect("examples decode")
                .remove(0),
        ),
        DamEvent::CaptureError(
            dam::CaptureError::examples()
                .expect("examples decode")
                .remove(0),
        ),
        DamEvent::VideoIngestJobCreated(
            dam::VideoIngestJobCreated::examples()
                .expect("examples decode")
                .remove(0),
        ),
        DamEvent::VideoIngestJobCompleted(
            dam::VideoIngestJobCompleted::examples()
                .expect("examples decode")
                .remove(0),
        ),
        DamEvent::VideoError(
            dam::VideoError::examples()
                .expect("examples decode")
                .remove(0),
        ),
        DamEvent::VideoReady(
            dam::VideoReady::examples()
                .expect("examples decode")
                .remove(0),
        ),
        DamEvent::WebappAlive(
            dam::WebappAlive::examples()
                .expect("examples decode")
                .remove(0),
        ),
        DamEvent::WebappUserAction(
            dam::WebappUserAction::examples()
                .expect("examples decode")
                .remove(0),
        ),
        DamEvent::WebappError(
            dam::WebappError::examples()
                .expect("examples decode")
                .remove(0),
        ),
        DamEvent::TenantRequest(
            dam::TenantRequest::examples()
                .expect("examples decode")
                .remove(0),
        ),
        DamEvent::TenantAccessDenied(
            dam::TenantAccessDenied::examples()
                .expect("examples decode")
                .remove(0),
        ),
        DamEvent::TenantResourceChanged(
            dam::TenantResourceChanged::examples()
                .expect("examples decode")
                .remove(0),
        ),
    ]
}

fn unique(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("test-{test}-{}-{nanos:08x}", std::process::id())
}

fn config(test: &str) -> AmqpConfig {
    let uri = std::env::var("AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    let mut config = AmqpConfig::new(uri).with_exchange(unique(test));
    config.connect_timeout = Duration::from_secs(5);
    config
}

async fn broker(config: AmqpConfig) -> AmqpBroker {
    match AmqpBroker::connect(&config).await {
        Ok(b) => b,
        Err(e) => panic!(
            "RabbitMQ is not reachable ({e}); start it with `bash .ci/services.sh` \
             (or point AMQP_URL at a running broker)"
        ),
    }
}

fn group(name: &'static str, binds: &'static [&'static str]) -> ConsumerGroup {
    ConsumerGroup {
        name,
        binds,
        description: "test group",
    }
}

#[derive(Clone, Debug)]
struct Seen {
    event: DamEvent,
    channel: String,
    attempt: u32,
    traceparent: Option<String>,
}

/// Records every event it handles; fails the first `fail[name]` deliveries of an event.
#[derive(Clone, Default)]
struct Recorder {
    seen: Arc<Mutex<Vec<Seen>>>,
    fail: Arc<Mutex<HashMap<&'static str, u32>>>,
}

impl Recorder {
    fn record(&self, event: DamEvent, context: &Context) -> HandlerResult {
        let name: &'static str = dam::EVENTS
            .iter()
            .find(|i| i.name == event.name())
            .map_or("?", |i| i.name);
        if let Some(left) = self.fail.lock().unwrap().get_mut(name) {
            if *left > 0 {
                *left -= 1;
                return Err(HandlerError::retry(format!("{name}: storage not ready")));
            }
        }
        self.seen.lock().unwrap().push(Seen {
            event,
            channel: context.channel.clone(),
            attempt: context.attempt,
            traceparent: context.traceparent.clone(),
        });
        Ok(())
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

macro_rules! typed_handlers {
    ($($method:ident => $variant:ident),* $(,)?) => {
        impl dam::Handler for Recorder {
            $(async fn $method(&self, message: dam::$variant, context: &Context) -> HandlerResult {
                self.record(DamEvent::$variant(message), context)
            })*
        }
    };
}

typed_handlers! {
    capture_alive => CaptureAlive,
    capture_device_list => CaptureDeviceList,
    capture_recording_started => CaptureRecordingStarted,
    capture_recording_stopped => CaptureRecordingStopped,
    capture_error => CaptureError,
    video_ingest_job_created => VideoIngestJobCreated,
    video_ingest_job_completed => VideoIngestJobCompleted,
    video_error => VideoError,
    video_ready => VideoReady,
    webapp_alive => WebappAlive,
    webapp_user_action => WebappUserAction,
    webapp_error => WebappError,
    tenant_request => TenantRequest,
    tenant_access_denied => TenantAccessDenied,
    tenant_resource_changed => TenantResourceChanged,
}

/// Runs a consumer of `group` until `done()` holds (bounded by [`WAIT`]), then shuts it down
/// gracefully and returns its stats.
async fn consume_until<F, Fut>(
    broker: &AmqpBroker,
    group: &str,
    recorder: &Recorder,
    policy: &Policy,
    what: &str,
    done: F,
) -> Stats
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let source = broker.source(group).await.expect("consumer starts");
    let handler = dam::Dispatch(recorder.clone());
    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
    let watcher = async {
        let start = Instant::now();
        let mut reached = false;
        while start.elapsed() < WAIT {
            if done().await {
                reached = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop.trigger();
        reached
    };
    let (stats, reached) = tokio::join!(
        transport::run::<dam::System, _, _, _>(source, &handler, policy, &shutdown),
        watcher
    );
    let stats = stats.expect("consumer runs without transport errors");
    assert!(
        reached,
        "timed out after {WAIT:?} waiting for: {what}; stats {stats:?}, seen {:?}",
        recorder
            .seen()
            .iter()
            .map(|s| s.channel.clone())
            .collect::<Vec<_>>()
    );
    stats
}

async fn publisher(broker: &AmqpBroker) -> Publisher<dam::System, AmqpSink> {
    Publisher::new(
        broker.sink().await.expect("publisher connects"),
        Meta {
            traceparent: Some(TRACE.into()),
            ..Meta::default()
        },
    )
}

async fn publish(publisher: &Publisher<dam::System, AmqpSink>, event: &DamEvent) -> String {
    publisher
        .publish_message(event)
        .await
        .unwrap_or_else(|e| panic!("{} publishes: {e}", event.name()))
}

/// One exchange of its own on the local RabbitMQ, with the catalog's groups; keeps the dead
/// letters it took off the queues, since reading a queue empties it.
struct Amqp {
    broker: AmqpBroker,
    letters: Mutex<Vec<Letter>>,
}

impl Amqp {
    async fn new(test: &str) -> Self {
        let mut config = config(test).with_prefetch(4);
        config.audit_binds.clear();
        Self {
            broker: broker(config).await,
            letters: Mutex::new(Vec::new()),
        }
    }

    async fn cleanup(&self) {
        self.broker
            .delete_groups(<dam::System as Contract>::consumer_groups())
            .await
            .expect("cleanup");
    }
}

/// Whether AMQP topic pattern `pattern` (`*` one word, `#` any number) matches `key`.
fn topic_matches(pattern: &str, key: &str) -> bool {
    fn words(p: &[&str], k: &[&str]) -> bool {
        match (p.first(), k.first()) {
            (None, None) => true,
            (Some(&"#"), _) => words(&p[1..], k) || (!k.is_empty() && words(p, &k[1..])),
            (Some(&"*"), Some(_)) => words(&p[1..], &k[1..]),
            (Some(w), Some(x)) if w == x => words(&p[1..], &k[1..]),
            _ => false,
        }
    }
    let p: Vec<&str> = pattern.split('.').collect();
    let k: Vec<&str> = key.split('.').collect();
    words(&p, &k)
}

impl Backend for Amqp {
    type System = dam::System;
    type Sink = AmqpSink;
    type Source = AmqpSource;
    const GROUP: &'static str = "video-api";

    fn every_event(_meta: &Meta) -> Vec<DamEvent> {
        every_event()
    }

    fn sample(n: usize) -> DamEvent {
        let mut alive = dam::CaptureAlive::examples()
            .expect("examples decode")
            .remove(0);
        alive.request_id = Some(format!("req-{n}"));
        DamEvent::CaptureAlive(alive)
    }

    fn break_schema(message: &mut serde_json::Value) -> &'static str {
        message["service"] = serde_json::json!(42);
        "/service"
    }

    fn refused(_sample: &serde_json::Value) -> Refused {
        Refused::unknown_event("capture.no_such_event", br#"{"service":"x"}"#.to_vec())
    }

    fn reads(group: &ConsumerGroup, channel: &str) -> bool {
        group.binds.iter().any(|p| topic_matches(p, channel))
    }

    async fn prepare(&self, _retry: &RetryPolicy) {
        self.broker
            .declare::<dam::System>()
            .await
            .expect("topology");
    }

    async fn sink(&self) -> AmqpSink {
        AmqpSink::connect(self.broker.config())
            .await
            .expect("publisher connects")
    }

    /// Every source has a connection of its own, so the crashed one dies alone.
    async fn source(&self, group: &str, _retry: &RetryPolicy, _role: Role) -> AmqpSource {
        AmqpSource::for_group::<dam::System>(self.broker.config(), group)
            .await
            .expect("consumer starts")
    }

    async fn send_raw(&self, channel: &str, payload: &[u8], headers: &Headers) -> Origin {
        self.broker
            .publish_raw(channel, payload, headers.clone())
            .await
            .expect("raw publish");
        Origin::PrefixContaining("amqp:".into(), channel.into())
    }

    async fn dead_letters(&self, group: &str, channel: &str) -> Vec<Letter> {
        let queue = self.broker.config().dead_letter_queue(group);
        while let Some(dead) = self.broker.take(&queue).await.expect("read dead letters") {
            let letter = Letter {
                channel: dead.headers.get_str(dl::CHANNEL).unwrap_or_default().into(),
                payload: dead.payload,
                headers: dead.headers,
            };
            self.letters.lock().unwrap().push(letter);
        }
        self.letters
            .lock()
            .unwrap()
            .iter()
            .filter(|l| {
                l.channel == channel && l.headers.get_str(dl::CONSUMER_GROUP) == Some(group)
            })
            .cloned()
            .collect()
    }

    async fn settled(&self, group: &str) -> bool {
        let queue = self.broker.config().group_queue(group);
        self.broker.ready(&queue).await.expect("inspect") == 0
    }
}

#[tokio::test]
async fn every_event_round_trips_through_its_routing_key_and_bindings() {
    let broker = broker(config("roundtrip")).await;
    let groups = [
        group("observability", &["#"]),
        group("video-api", &["capture.*"]),
    ];
    broker.declare_groups(&groups).await.expect("topology");
    // Declaring again is a no-op.
    broker.declare_groups(&groups).await.expect("idempotent");
    let publisher = publisher(&broker).await;
    let events = every_event();
    let mut ids = Vec::new();
    for event in &events {
        ids.push(publish(&publisher, event).await);
    }
    let sentinel = b"end of this test's tenant events";
    broker
        .publish_raw("tenant.request", sentinel, Headers::new())
        .await
        .expect("sentinel publishes");

    // `#`: every event, typed, in order, with its routing key and trace context.
    let all = Recorder::default();
    let policy = Policy::new("observability");
    let obs_queue = broker.config().group_queue("observability");
    let obs_dead = broker.config().dead_letter_queue("observability");
    let stats = consume_until(
        &broker,
        "observability",
        &all,
        &policy,
        "15 events + sentinel",
        || async {
            all.seen().len() == events.len()
                && broker.ready(&obs_queue).await.unwrap_or(1) == 0
                && broker.ready(&obs_dead).await.unwrap_or(0) == 1
        },
    )
    .await;
    let seen = all.seen();
    assert_eq!(
        seen.iter().map(|s| s.event.clone()).collect::<Vec<_>>(),
        events,
        "every event decoded to what was published, in order"
    );
    for s in &seen {
        assert_eq!(s.channel, s.event.name(), "routing key = the event's topic");
        assert_eq!(s.attempt, 1);
        assert_eq!(s.traceparent.as_deref(), Some(TRACE), "traceparent carried");
    }
    // The sentinel (not a valid tenant.request) was dead-lettered, nothing else.
    assert_eq!(stats.handled, 15);
    assert_eq!(stats.dead_lettered, 1, "{stats:?}");

    // `capture.*`: only the five capture events.
    let captures = Recorder::default();
    let policy = Policy::new("video-api");
    let video_queue = broker.config().group_queue("video-api");
    consume_until(
        &broker,
        "video-api",
        &captures,
        &policy,
        "5 capture events",
        || async {
            captures.seen().len() >= 5 && broker.ready(&video_queue).await.unwrap_or(1) == 0
        },
    )
    .await;
    let names: Vec<String> = captures.seen().iter().map(|s| s.channel.clone()).collect();
    assert_eq!(
        names,
        [
            "capture.alive",
            "capture.device_list",
            "capture.recording_started",
            "capture.recording_stopped",
            "capture.error"
        ]
    );

    // The audit stream: exactly the tenant events, in publish order, then the sentinel.
    let mut reader = broker
        .audit_reader(AuditOffset::First)
        .await
        .expect("audit reader");
    let mut entries = Vec::new();
    loop {
        let entry = tokio::time::timeout(WAIT, reader.next())
            .await
            .unwrap_or_else(|_| panic!("audit stream ended early: {entries:?}"))
            .expect("audit read")
            .expect("reader not cancelled");
        if entry.delivery.payload == sentinel {
            break;
        }
        entries.push(entry);
    }
    let tenant: Vec<(String, Option<Vec<u8>>)> = events
        .iter()
        .zip(&ids)
        .filter(|(e, _)| e.name().starts_with("tenant."))
        .map(|(e, id)| (e.name().to_owned(), Some(id.clone().into_bytes())))
        .collect();
    assert_eq!(tenant.len(), 3);
    assert_eq!(
        entries
            .iter()
            .map(|e| (e.delivery.channel.clone(), e.delivery.key.clone()))
            .collect::<Vec<_>>(),
        tenant,
        "the audit log holds every tenant event and nothing else, in order"
    );
    assert!(entries.windows(2).all(|w| w[0].offset < w[1].offset));
    assert_eq!(
        entries[0].delivery.headers.get_str(TRACEPARENT_HEADER),
        Some(TRACE)
    );
    // Reading took nothing away: a second reader sees the same entries.
    let mut again = broker
        .audit_reader(AuditOffset::First)
        .await
        .expect("audit reader");
    let first = tokio::time::timeout(WAIT, again.next())
        .await
        .expect("entry")
        .expect("read")
        .expect("entry");
    assert_eq!(first.offset, entries[0].offset);
    assert_eq!(first.delivery.payload, entries[0].delivery.payload);
    drop((reader, again));
    broker.delete_groups(&groups).await.expect("cleanup");
}

#[tokio::test]
async fn an_unroutable_publish_is_an_error_not_a_silent_drop() {
    let mut config = config("unroutable");
    config.audit_binds.clear();
    let broker = broker(config).await;
    let groups = [group("video-api", &["capture.*"])];
    broker.declare_groups(&groups).await.expect("topology");
    let publisher = publisher(&broker).await;
    let routed: dam::CaptureAlive = dam::CaptureAlive::examples()
        .expect("examples decode")
        .remove(0);
    publisher.publish(routed).await.expect("capture.* is bound");
    let unbound: dam::VideoReady = dam::VideoReady::examples()
        .expect("examples decode")
        .remove(0);
    let err = publisher
        .publish(unbound)
        .await
        .expect_err("no queue is bound for video.ready");
    let text = err.to_string();
    assert!(
        text.contains("unroutable") && text.contains("video.ready"),
        "{text}"
    );
    let queue = broker.config().group_queue("video-api");
    assert_eq!(broker.ready(&queue).await.expect("inspect"), 1);
    // The channel survives the return: the next publish works.
    publisher
        .publish(
            dam::CaptureError::examples()
                .expect("examples decode")
                .remove(0),
        )
        .await
        .expect("publishes after a return");
    broker.delete_groups(&groups).await.expect("cleanup");
}

/// The catalog's own groups, declared from the manifest, each get what their binding keys
/// match.
#[tokio::test]
async fn every_event_reaches_every_catalog_group_that_binds_it() {
    let amqp = Amqp::new("catalog").await;
    scenarios::every_event_round_trips(&amqp).await;
    amqp.cleanup().await;
}

#[tokio::test]
async fn poison_messages_are_dead_lettered_with_reason_while_good_ones_flow() {
    let amqp = Amqp::new("poison").await;
    scenarios::poison_is_dead_lettered(&amqp).await;
    amqp.cleanup().await;
}

/// Retried through the TTL retry queues: the attempt comes from the `x-attempt` header, and
/// the original routing key survives the trip.
#[tokio::test]
async fn a_handler_failing_twice_is_retried_and_processed_once() {
    let amqp = Amqp::new("retry").await;
    let seen = scenarios::fails_twice_then_succeeds(&amqp).await;
    assert_eq!(seen.channel, "capture.alive", "original routing key kept");
    assert_eq!(seen.traceparent.as_deref(), Some(TRACE));
    amqp.cleanup().await;
}

/// The dead letter of a retried message names its original routing key.
#[tokio::test]
async fn a_handler_that_keeps_failing_is_dead_lettered_at_the_limit() {
    let amqp = Amqp::new("exhausted").await;
    scenarios::exhausted_retries_are_dead_lettered(&amqp).await;
    let letters = amqp.dead_letters(Amqp::GROUP, "capture.alive").await;
    assert_eq!(
        letters[0].headers.get_str(ROUTING_KEY_HEADER),
        Some("capture.alive")
    );
    amqp.cleanup().await;
}

/// The dead consumer's connection goes away without an ack; RabbitMQ requeues what it held
/// and flags the redelivery.
#[tokio::test]
async fn a_consumer_killed_mid_batch_loses_nothing() {
    let amqp = Amqp::new("killed").await;
    scenarios::consumer_killed_mid_batch_loses_nothing(&amqp).await;
    amqp.cleanup().await;
}
