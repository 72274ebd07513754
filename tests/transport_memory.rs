//! The in-memory transport end to end through generated code: typed publish, typed dispatch,
//! retries with a broker-side attempt count, dead letters with reasons, idempotency, and
//! redelivery of what a dropped consumer left unacknowledged.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use event_contracts::audio::{self, AudioChunkReceived, AudioEnvelope};
use event_contracts::runtime::transport::{
    self, dead_letter_headers as dl, memory::MemoryBroker, Context, HandlerError, HandlerResult,
    Headers, MemoryIdempotency, Meta, Policy, Publisher, RetryPolicy, Shutdown, Source,
};
use event_contracts::Event;

/// What a handler saw: chunk id, attempt, trace context.
type Seen = (String, u32, Option<String>);

#[derive(Default, Clone)]
struct Recorder {
    seen: Arc<Mutex<Vec<Seen>>>,
    fail_first: Arc<AtomicU32>,
}

impl audio::Handler for Recorder {
    async fn audio_chunk_received(
        &self,
        message: AudioEnvelope<AudioChunkReceived>,
        context: &Context,
    ) -> HandlerResult {
        if self
            .fail_first
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(HandlerError::retry("storage is not reachable yet"));
        }
        self.seen.lock().unwrap().push((
            message.payload.chunk_id.clone(),
            context.attempt,
            context.traceparent.clone(),
        ));
        Ok(())
    }
}

/// Retries without jitter: two deliveries that fail one after the other then come due in that
/// order, so a test can say which of two copies of one event a retry hands over first. With
/// jitter the later copy's wait is as often the shorter one, and either copy may win.
fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        jitter: 0.0,
        ..RetryPolicy::default()
    }
}

async fn consume_until(
    broker: &MemoryBroker,
    group: &str,
    handler: &audio::Dispatch<Recorder>,
    policy: &Policy<MemoryIdempotency>,
    done: impl Fn() -> bool,
) -> transport::Stats {
    let shutdown = Shutdown::new();
    let source = broker.source(group);
    let stop = shutdown.clone();
    let watcher = async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        // Let the consumer settle what it holds before stopping it.
        tokio::time::sleep(Duration::from_millis(20)).await;
        stop.trigger();
    };
    let (stats, ()) = tokio::join!(
        transport::run::<audio::System, _, _, _>(source, handler, policy, &shutdown),
        watcher
    );
    stats.expect("memory transport does not fail")
}

#[tokio::test]
async fn typed_publish_and_dispatch_with_retry_dead_letter_and_idempotency() {
    let broker = MemoryBroker::new();
    broker.subscribe("audio-pipeline", &["stream:audio-ingest"]);
    let publisher = Publisher::<audio::System, _>::new(
        broker.clone(),
        Meta {
            source: Some("orchestration-api".into()),
            ..Meta::default()
        },
    );
    let chunk: AudioChunkReceived = AudioChunkReceived::examples()
        .expect("examples decode")
        .remove(0);
    let trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let id = publisher
        .publish_with(
            chunk.clone(),
            &Meta {
                traceparent: Some(trace.into()),
                ..Meta::default()
            },
        )
        .await
        .expect("valid event publishes");
    // The same unit of work published again (a producer retry) is processed once.
    publisher.publish(chunk.clone()).await.expect("publishes");
    broker.publish_raw("stream:audio-ingest", b"{not json", Headers::new());
    broker.publish_raw(
        "stream:audio-ingest",
        br#"{"schema_version":"v1","event_id":"2b1f6c1e-5f2a-4d5e-9c1b-0e6f1a2b3c4d","event_type":"NoSuchEvent","source":"x","timestamp":"2024-10-19T12:34:56.789Z","trace_id":"t","payload":{}}"#,
        Headers::new(),
    );

    let published = broker.published();
    assert_eq!(published[0].message_id, id);
    assert_eq!(published[0].channel, "stream:audio-ingest");
    let wire: serde_json::Value = serde_json::from_slice(&published[0].payload).unwrap();
    assert_eq!(wire["event_type"], "AudioChunkReceived");
    assert_eq!(wire["source"], "orchestration-api");
    assert_eq!(wire["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");

    let recorder = Recorder::default();
    recorder.fail_first.store(2, Ordering::SeqCst);
    let handler = audio::Dispatch(recorder.clone());
    let policy = Policy::new("audio-pipeline")
        .with_retry(fast_retry())
        .with_idempotency(MemoryIdempotency::default());
    let stats = consume_until(&broker, "audio-pipeline", &handler, &policy, || {
        broker.pending("audio-pipeline") == 0
    })
    .await;

    let seen = recorder.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "processed once: {seen:?}");
    assert_eq!(seen[0].0, chunk.chunk_id);
    // Both copies failed once; the first copy's second delivery (due first: no jitter)
    // succeeded and the second copy was then skipped as work already done.
    assert_eq!(seen[0].1, 2, "second attempt, counted by the broker");
    assert_eq!(seen[0].2.as_deref(), Some(trace));
    assert_eq!(stats.retried, 2);
    assert_eq!(stats.skipped, 1);
    let dead = broker.dead_letters("audio-pipeline");
    let reasons: Vec<_> = dead
        .iter()
        .map(|d| d.headers.get_str(dl::REASON).unwrap_or_default().to_owned())
        .collect();
    assert_eq!(reasons, ["malformed", "unknown-event"]);
    assert_eq!(dead[0].payload, b"{not json");
}

#[tokio::test]
async fn refuses_invalid_events_before_they_leave() {
    let broker = MemoryBroker::new();
    let publisher = Publisher::<audio::System, _>::new(broker.clone(), Meta::default());
    let chunk: AudioChunkReceived = AudioChunkReceived::examples()
        .expect("examples decode")
        .remove(0);
    let err = publisher.publish(chunk).await.expect_err("no source");
    assert!(err.to_string().contains("/source"), "{err}");
    let publisher = Publisher::<audio::System, _>::new(
        broker.clone(),
        Meta {
            source: Some("api".into()),
            ..Meta::default()
        },
    );
    let mut chunk: AudioChunkReceived = AudioChunkReceived::examples()
        .expect("examples decode")
        .remove(0);
    chunk.chunk_id.clear();
    let err = publisher.publish(chunk).await.expect_err("invalid");
    assert!(err.to_string().contains("/payload/chunk_id"), "{err}");
    assert!(broker.published().is_empty());
}

#[tokio::test]
async fn a_dropped_consumer_loses_nothing() {
    let broker = MemoryBroker::new();
    broker.subscribe("audio-pipeline", &["stream:audio-ingest"]);
    let publisher = Publisher::<audio::System, _>::new(
        broker.clone(),
        Meta {
            source: Some("api".into()),
            ..Meta::default()
        },
    );
    let mut chunk: AudioChunkReceived = AudioChunkReceived::examples()
        .expect("examples decode")
        .remove(0);
    for i in 0..3 {
        chunk.chunk_id = format!("c{i}");
        publisher.publish(chunk.clone()).await.unwrap();
    }
    {
        let mut crashed = broker.source("audio-pipeline");
        let (first, _token) = crashed.next().await.unwrap().unwrap();
        assert_eq!(first.attempt, 1);
        // Dropped mid-batch without acknowledging.
    }
    let recorder = Recorder::default();
    let handler = audio::Dispatch(recorder.clone());
    let policy = Policy::new("audio-pipeline")
        .with_retry(fast_retry())
        .with_idempotency(MemoryIdempotency::default());
    consume_until(&broker, "audio-pipeline", &handler, &policy, || {
        broker.pending("audio-pipeline") == 0
    })
    .await;
    let mut ids: Vec<_> = recorder
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.0.clone())
        .collect();
    ids.sort();
    assert_eq!(ids, ["c0", "c1", "c2"]);
}
