//! A team's own sixth system, with no generator change: the example telemetry catalog
//! (`examples/telemetry/`) wraps its events in `{msg_id, kind, emitted_at, device, body}`,
//! declared as envelope roles in its manifest, and its generated crate round-trips every event
//! through the real NATS JetStream server on 127.0.0.1:4222 (`bash .ci/services.sh`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use event_contracts::runtime::transport::nats::{NatsConfig, NatsTransport, MSG_ID_HEADER};
use event_contracts::runtime::transport::{
    self, Context, HandlerResult, Meta, Outgoing, Policy, Publisher, RetryPolicy, Shutdown, Sink,
    Stats,
};
use event_contracts::runtime::Event;
use telemetry_contracts::telemetry;

const URL: &str = "nats://127.0.0.1:4222";
const TRACE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// One handled message: event name, device, envelope id, body JSON, traceparent.
type Seen = (String, String, String, serde_json::Value, Option<String>);

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Seen>>>);

impl Recorder {
    fn on<E: Event + serde::Serialize>(
        &self,
        message: telemetry::TelemetryEnvelope<E>,
        ctx: &Context,
    ) -> HandlerResult {
        self.0.lock().unwrap().push((
            E::NAME.to_owned(),
            message.device,
            message.msg_id.to_string(),
            serde_json::to_value(&message.body).expect("serializes"),
            ctx.traceparent.clone(),
        ));
        Ok(())
    }
}

impl telemetry::Handler for Recorder {
    async fn sensor_reading(
        &self,
        message: telemetry::TelemetryEnvelope<telemetry::SensorReading>,
        ctx: &Context,
    ) -> HandlerResult {
        self.on(message, ctx)
    }
    async fn device_heartbeat(
        &self,
        message: telemetry::TelemetryEnvelope<telemetry::DeviceHeartbeat>,
        ctx: &Context,
    ) -> HandlerResult {
        self.on(message, ctx)
    }
    async fn device_alert(
        &self,
        message: telemetry::TelemetryEnvelope<telemetry::DeviceAlert>,
        ctx: &Context,
    ) -> HandlerResult {
        self.on(message, ctx)
    }
}

async fn consume_until(
    nats: &NatsTransport,
    group: &str,
    recorder: &Recorder,
    retry: &RetryPolicy,
    done: impl Fn() -> bool,
) -> Stats {
    let source = nats
        .source::<telemetry::System>(group, retry)
        .await
        .expect("source starts");
    let policy = Policy::new(group).with_retry(retry.clone());
    let handler = telemetry::Dispatch(recorder.clone());
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
        transport::run::<telemetry::System, _, _, _>(source, &handler, &policy, &shutdown),
        watcher
    );
    assert!(done(), "timed out after 20 s waiting for group {group}");
    stats.expect("consumer runs without transport errors")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_teams_own_envelope_round_trips_through_jetstream() {
    let ns: String = format!("t{}", uuid::Uuid::new_v4().simple())
        .chars()
        .take(13)
        .collect();
    let nats = NatsTransport::connect(&NatsConfig {
        ack_wait: Duration::from_secs(1),
        ..NatsConfig::namespaced(URL, &ns)
    })
    .await
    .unwrap_or_else(|e| panic!("NATS JetStream must run on {URL}: {e}"));
    let retry = RetryPolicy {
        max_attempts: 2,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(50),
        ..RetryPolicy::default()
    };
    nats.setup::<telemetry::System>(&retry)
        .await
        .expect("setup creates the TELEMETRY stream and the durables");

    let publisher = Publisher::<telemetry::System, _>::new(
        nats.sink(),
        Meta {
            source: Some("pump-17".into()),
            traceparent: Some(TRACE.into()),
            ..Meta::default()
        },
    );
    let reading: telemetry::SensorReading = telemetry::SensorReading::examples()
        .expect("examples decode")
        .remove(0);
    let heartbeat: telemetry::DeviceHeartbeat = telemetry::DeviceHeartbeat::examples()
        .expect("examples decode")
        .remove(0);
    let alert: telemetry::DeviceAlert = telemetry::DeviceAlert::examples()
        .expect("examples decode")
        .remove(0);
    let expected = [
        ("sensor.reading", serde_json::to_value(&reading).unwrap()),
        (
            "device.heartbeat",
            serde_json::to_value(&heartbeat).unwrap(),
        ),
        ("device.alert", serde_json::to_value(&alert).unwrap()),
    ];
    let reading_id = publisher.publish(reading).await.expect("reading publishes");
    publisher
        .publish(heartbeat)
        .await
        .expect("heartbeat publishes");
    publisher.publish(alert).await.expect("alert publishes");

    // A message the envelope refuses (no `device`) is dead-lettered, not lost.
    let poison = br#"{"msg_id":"0b9f0c1e-5d7a-4c53-9a51-2f4f0d6b8e11","kind":"sensor.reading","emitted_at":"2026-11-30T08:15:02.250Z","body":{}}"#;
    nats.sink()
        .send(Outgoing {
            channel: "telemetry.sensor.reading".into(),
            key: None,
            message_id: "poison-1".into(),
            payload: poison.to_vec(),
            headers: Default::default(),
        })
        .await
        .expect("raw publish");

    let recorder = Recorder::default();
    let r = recorder.clone();
    let dashboard = consume_until(&nats, "dashboard", &recorder, &retry, move || {
        r.0.lock().unwrap().len() >= 2
    })
    .await;
    let r = recorder.clone();
    let alerting = consume_until(&nats, "alerting", &recorder, &retry, move || {
        r.0.lock().unwrap().len() >= 3
    })
    .await;
    assert_eq!(dashboard.handled, 2, "dashboard: {dashboard:?}");
    assert_eq!(
        dashboard.dead_lettered, 1,
        "the poison message: {dashboard:?}"
    );
    assert_eq!(alerting.handled, 1, "alerting: {alerting:?}");

    let seen = recorder.0.lock().unwrap().clone();
    for (name, body) in &expected {
        let got = seen
            .iter()
            .find(|s| s.0 == *name)
            .unwrap_or_else(|| panic!("{name} was not handled: {seen:?}"));
        assert_eq!(&got.3, body, "{name} arrives as published");
        assert_eq!(
            got.1, "pump-17",
            "{name}: `device` filled from Meta::source"
        );
        assert_eq!(got.4.as_deref(), Some(TRACE), "{name}: traceparent carried");
    }

    // On the wire: the team's own names, the id as Nats-Msg-Id, one time shape.
    let client = async_nats::connect(URL).await.expect("raw client");
    let js = async_nats::jetstream::new(client);
    let stream = js
        .get_stream(format!("{}_TELEMETRY", ns.to_uppercase()))
        .await
        .expect("TELEMETRY stream");
    let first = stream.get_raw_message(1).await.expect("first message");
    assert_eq!(
        first.subject.as_str(),
        format!("{ns}.telemetry.sensor.reading")
    );
    let envelope: serde_json::Value = serde_json::from_slice(&first.payload).expect("JSON");
    let keys: Vec<&str> = envelope
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "msg_id",
            "kind",
            "emitted_at",
            "device",
            "traceparent",
            "body"
        ]
    );
    assert_eq!(envelope["kind"], "sensor.reading");
    assert_eq!(envelope["msg_id"], reading_id.as_str());
    assert_eq!(
        first.headers.get(MSG_ID_HEADER).map(|v| v.as_str()),
        Some(reading_id.as_str())
    );
    let emitted_at = envelope["emitted_at"].as_str().expect("a string");
    assert_eq!(
        emitted_at.len(),
        "2026-11-30T08:15:02.250Z".len(),
        "{emitted_at}"
    );
    assert!(emitted_at.ends_with('Z') && emitted_at.as_bytes()[19] == b'.');

    let dead = nats
        .dead_letters("dashboard")
        .await
        .expect("dead letters read");
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].payload, poison, "the original bytes are kept");
    nats.delete_streams::<telemetry::System>()
        .await
        .expect("cleanup");
}
