//! The AMQP binding against the real RabbitMQ on 127.0.0.1:5672 (start it with
//! `bash .ci/services.sh`; `AMQP_URL` overrides the address). Every test declares its own
//! exchange and queues (random suffix) and deletes them at the end.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use event_contracts::dam::{self, DamEvent};
use event_contracts::runtime::transport::amqp::{
    AmqpBroker, AmqpConfig, AmqpSink, AuditOffset, ROUTING_KEY_HEADER,
};
use event_contracts::runtime::transport::{
    self, dead_letter_headers as dl, ConsumerGroup, Context, HandlerError, HandlerResult, Headers,
    Meta, Policy, Publisher, RetryPolicy, Shutdown, Source, Stats, TRACEPARENT_HEADER,
};
use event_contracts::Event;

const WAIT: Duration = Duration::from_secs(20);
const TRACE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

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

fn fast_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(60),
        ..RetryPolicy::default()
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

#[tokio::test]
async fn poison_messages_are_dead_lettered_with_reason_while_good_ones_flow() {
    let mut config = config("poison");
    config.audit_binds.clear();
    let broker = broker(config).await;
    let groups = [group("observability", &["#"])];
    broker.declare_groups(&groups).await.expect("topology");
    let headers = |n: &str| -> Headers {
        [
            ("x-test", n.as_bytes().to_vec()),
            (TRACEPARENT_HEADER, TRACE.as_bytes().to_vec()),
        ]
        .into_iter()
        .collect()
    };
    let poison: [(&str, &[u8], &str); 3] = [
        ("capture.alive", b"{not json", "malformed"),
        (
            "capture.alive",
            br#"{"service":"capture-daemon","version":"1"}"#,
            "schema-violation",
        ),
        (
            "capture.no_such_event",
            br#"{"service":"x"}"#,
            "unknown-event",
        ),
    ];
    for (i, (key, bytes, _)) in poison.iter().enumerate() {
        broker
            .publish_raw(key, bytes, headers(&format!("poison-{i}")))
            .await
            .expect("raw publish");
    }
    let publisher = publisher(&broker).await;
    let good: dam::CaptureRecordingStarted = dam::CaptureRecordingStarted::examples()
        .expect("examples decode")
        .remove(0);
    publisher.publish(good.clone()).await.expect("publishes");

    let recorder = Recorder::default();
    let policy = Policy::new("observability").with_retry(fast_retry(3));
    let dead_queue = broker.config().dead_letter_queue("observability");
    let stats = consume_until(
        &broker,
        "observability",
        &recorder,
        &policy,
        "3 dead letters + 1 good",
        || async {
            recorder.seen().len() == 1 && broker.ready(&dead_queue).await.unwrap_or(0) == 3
        },
    )
    .await;
    assert_eq!(stats.dead_lettered, 3, "{stats:?}");
    assert_eq!(stats.handled, 1);
    assert_eq!(
        recorder.seen()[0].event,
        DamEvent::CaptureRecordingStarted(good)
    );
    for (i, (key, bytes, reason)) in poison.iter().enumerate() {
        let dead = broker
            .take(&dead_queue)
            .await
            .expect("read dead letters")
            .unwrap_or_else(|| panic!("dead letter {i} ({reason}) is missing"));
        assert_eq!(dead.payload, *bytes, "original bytes unchanged");
        let h = &dead.headers;
        assert_eq!(h.get_str(dl::REASON), Some(*reason));
        assert_eq!(h.get_str("x-test"), Some(format!("poison-{i}").as_str()));
        assert_eq!(h.get_str(TRACEPARENT_HEADER), Some(TRACE));
        assert_eq!(h.get_str(dl::CHANNEL), Some(*key));
        assert_eq!(h.get_str(dl::ATTEMPTS), Some("1"));
        assert_eq!(h.get_str(dl::CONSUMER_GROUP), Some("observability"));
        assert!(
            h.get_str(dl::ORIGIN)
                .is_some_and(|o| o.starts_with("amqp:") && o.contains(key)),
            "{h:?}"
        );
        assert!(!h.get_str(dl::ERROR).unwrap_or_default().is_empty());
    }
    assert_eq!(broker.take(&dead_queue).await.expect("read"), None);
    broker.delete_groups(&groups).await.expect("cleanup");
}

#[tokio::test]
async fn a_handler_failing_twice_is_retried_and_processed_once_then_exhausted_ones_dead_letter() {
    let mut config = config("retry");
    config.audit_binds.clear();
    let broker = broker(config).await;
    let groups = [group("automation-agents", &["capture.*"])];
    broker.declare_groups(&groups).await.expect("topology");
    let publisher = publisher(&broker).await;
    let alive: dam::CaptureAlive = dam::CaptureAlive::examples()
        .expect("examples decode")
        .remove(0);
    publisher.publish(alive.clone()).await.expect("publishes");
    publisher
        .publish(
            dam::CaptureError::examples()
                .expect("examples decode")
                .remove(0),
        )
        .await
        .expect("publishes");

    let recorder = Recorder::default();
    recorder
        .fail
        .lock()
        .unwrap()
        .extend([("capture.alive", 2), ("capture.error", u32::MAX)]);
    let policy = Policy::new("automation-agents").with_retry(fast_retry(4));
    let dead_queue = broker.config().dead_letter_queue("automation-agents");
    let queue = broker.config().group_queue("automation-agents");
    let stats = consume_until(
        &broker,
        "automation-agents",
        &recorder,
        &policy,
        "alive handled, error dead-lettered",
        || async {
            recorder.seen().len() == 1
                && broker.ready(&dead_queue).await.unwrap_or(0) == 1
                && broker.ready(&queue).await.unwrap_or(1) == 0
        },
    )
    .await;
    let seen = recorder.seen();
    assert_eq!(seen.len(), 1, "processed once");
    assert_eq!(seen[0].event, DamEvent::CaptureAlive(alive));
    assert_eq!(
        seen[0].attempt, 3,
        "third attempt, from the x-attempt header"
    );
    assert_eq!(
        seen[0].channel, "capture.alive",
        "original routing key kept"
    );
    assert_eq!(seen[0].traceparent.as_deref(), Some(TRACE));
    // alive: 2 retries; error: attempts 1..3 retried, the 4th dead-lettered.
    assert_eq!(stats.retried, 2 + 3, "{stats:?}");
    assert_eq!(stats.dead_lettered, 1);
    let dead = broker
        .take(&dead_queue)
        .await
        .expect("read")
        .expect("the exhausted message is dead-lettered");
    assert_eq!(dead.headers.get_str(dl::REASON), Some("retries-exhausted"));
    assert_eq!(dead.headers.get_str(dl::ATTEMPTS), Some("4"));
    assert_eq!(dead.headers.get_str(dl::CHANNEL), Some("capture.error"));
    assert_eq!(
        dead.headers.get_str(ROUTING_KEY_HEADER),
        Some("capture.error")
    );
    assert_eq!(
        dead.payload,
        dam::CaptureError::examples()
            .expect("examples decode")
            .remove(0)
            .encode()
            .expect("encodes"),
        "original bytes"
    );
    broker.delete_groups(&groups).await.expect("cleanup");
}

#[tokio::test]
async fn a_consumer_killed_mid_batch_loses_nothing() {
    let mut config = config("killed");
    config.audit_binds.clear();
    let broker = broker(config.with_prefetch(4)).await;
    let groups = [group("video-api", &["capture.*"])];
    broker.declare_groups(&groups).await.expect("topology");
    let publisher = publisher(&broker).await;
    let mut expected = Vec::new();
    for i in 0..10 {
        let mut alive: dam::CaptureAlive = dam::CaptureAlive::examples()
            .expect("examples decode")
            .remove(0);
        alive.request_id = Some(format!("req-{i}"));
        publisher.publish(alive.clone()).await.expect("publishes");
        expected.push(DamEvent::CaptureAlive(alive));
    }
    let mut held = Vec::new();
    {
        let mut crashed = broker.source("video-api").await.expect("consumer");
        for _ in 0..3 {
            let (delivery, _unsettled) = tokio::time::timeout(WAIT, crashed.next())
                .await
                .expect("a delivery within the wait")
                .expect("next")
                .expect("delivery");
            held.push(delivery);
        }
        // Dropped mid-batch: the connection goes away without a single ack.
    }
    assert!(held.iter().all(|d| d.attempt == 1));

    let recorder = Recorder::default();
    let policy = Policy::new("video-api");
    let queue = broker.config().group_queue("video-api");
    consume_until(
        &broker,
        "video-api",
        &recorder,
        &policy,
        "all 10 messages handled",
        || async { recorder.seen().len() >= 10 && broker.ready(&queue).await.unwrap_or(1) == 0 },
    )
    .await;
    let seen = recorder.seen();
    let mut got: Vec<DamEvent> = seen.iter().map(|s| s.event.clone()).collect();
    let key = |e: &DamEvent| match e {
        DamEvent::CaptureAlive(a) => a.request_id.clone(),
        _ => None,
    };
    got.sort_by_key(key);
    expected.sort_by_key(key);
    assert_eq!(got, expected, "every message handled exactly once");
    let held_payloads: Vec<&[u8]> = held.iter().map(|d| d.payload.as_slice()).collect();
    for s in &seen {
        let payload = s.event.encode().expect("encodes");
        if held_payloads.contains(&payload.as_slice()) {
            assert_eq!(s.attempt, 2, "the broker flagged the redelivery");
        }
    }
    broker.delete_groups(&groups).await.expect("cleanup");
}
