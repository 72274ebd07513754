//! Decode throughput per system, three paths over the same realistic messages (every example
//! of the event's schema), in one process:
//! - bare: `serde_json::from_slice::<T>` (typed, no validation) - the baseline;
//! - validated: the generated `T::decode` (typed + generated checks, validator on failure);
//! - naive: parse to `Value`, run the jsonschema validator, then `from_value::<T>`.
//!
//! `cargo bench --bench decode` prints messages/s and the ratios to the baseline.

use std::hint::black_box;
use std::time::{Duration, Instant};

use event_contracts::{agents, audio, dam, livepeer, orchestrator, Event, SCHEMAS};
use serde_json::Value;

fn messages<T: Event>() -> Vec<Vec<u8>> {
    let schema = SCHEMAS.get(T::SCHEMA_ID).expect("embedded schema");
    schema["examples"]
        .as_array()
        .expect("examples")
        .iter()
        .map(|e| serde_json::to_vec(e).unwrap())
        .collect()
}

/// Messages per second of `f` over `msgs`, timed for about `budget`.
fn rate(msgs: &[Vec<u8>], budget: Duration, mut f: impl FnMut(&[u8])) -> f64 {
    for m in msgs {
        f(m); // warm up: compile validators, fault in pages
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for m in msgs {
            f(m);
        }
        n += msgs.len() as u64;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn bench<T: Event>(label: &str, budget: Duration) {
    let msgs = messages::<T>();
    let bytes: usize = msgs.iter().map(Vec::len).sum::<usize>() / msgs.len();
    let validator = T::validator();
    let bare = rate(&msgs, budget, |m| {
        black_box(serde_json::from_slice::<T>(m).unwrap());
    });
    let validated = rate(&msgs, budget, |m| {
        black_box(T::decode(m).unwrap());
    });
    let naive = rate(&msgs, budget, |m| {
        let v: Value = serde_json::from_slice(m).unwrap();
        assert!(validator.is_valid(&v));
        black_box(serde_json::from_value::<T>(v).unwrap());
    });
    println!(
        "{label:<40} {bytes:>5} B  bare {bare:>10.0} msg/s  validated {validated:>10.0} msg/s ({:.2}x bare time)  naive {naive:>9.0} msg/s ({:.2}x bare time)",
        bare / validated,
        bare / naive
    );
}

fn main() {
    // `cargo test --benches` runs this binary with `--bench` absent: keep that run short.
    let full = std::env::args().any(|a| a == "--bench");
    let budget = Duration::from_millis(if full { 1500 } else { 20 });
    println!("decode benchmark ({} ms per path; ratios are time per message relative to bare typed decoding)", budget.as_millis());
    bench::<livepeer::StreamTrace>("livepeer stream_trace (tagged union)", budget);
    bench::<livepeer::StreamIngestMetrics>("livepeer stream_ingest_metrics", budget);
    bench::<livepeer::CreateNewPayment>("livepeer create_new_payment (patterns)", budget);
    bench::<audio::AudioChunkReceived>("audio AudioChunkReceived", budget);
    bench::<audio::TranscriptionCompleted>("audio TranscriptionCompleted", budget);
    bench::<dam::CaptureDeviceList>("dam capture.device_list", budget);
    bench::<agents::UsageMeteredModelInference>("agents usage.metered.model_inference", budget);
    bench::<agents::RealtimePushChatMessage>("agents realtime.push.chat_message", budget);
    bench::<orchestrator::MyFeatureCompletedData>("orchestrator ai.myfeature.completed", budget);
    bench::<orchestrator::RunStageProgressData>("orchestrator ai.run.stage_progress", budget);
}
