//! Decode cost per system, over the same realistic messages (every example of the event's
//! schema), the compared paths interleaved in one process:
//! - bare: `serde_json::from_slice::<T>` (typed, no validation) - the baseline;
//! - validated: the generated `T::decode` (typed + generated checks, validator on failure);
//! - naive: parse to `Value`, run the jsonschema validator, then `from_value::<T>`.
//!
//! Beside the payload-only cases, one whole wire message (envelope plus event, as the system's
//! `Contract::outgoing` writes it) per system: bare is the typed envelope of that one event
//! type, validated is the system's `Contract::decode` (envelope checks, event by name).
//!
//! And one publish case per system: `Publisher::publish` of each example to a sink that drops
//! the message (envelope, id, time, `traceparent`, encode, checks) against `serde_json::to_vec`
//! of the whole typed message the binding wrote for it (serializing only).
//!
//! Every case runs `ROUNDS` rounds; each round times every path once, in an order that
//! rotates from round to round, so a burst of load from other processes on this shared
//! machine falls on all paths alike. Each round gives a ratio (path time / bare time in that
//! round); the report shows the median ratio and its spread (min–max over rounds), and the
//! bare throughput per byte, which compares the tagged union with flat events.
//!
//! `cargo bench --bench decode [-- FILTER] [--rounds N]`: FILTER keeps the cases whose label
//! contains it.

use std::hint::black_box;
use std::time::{Duration, Instant};

use event_contracts::{agents, audio, dam, livepeer, orchestrator, Event, SCHEMAS};
use event_contracts_runtime::transport::{
    Contract, Meta, Outgoing, Publisher, Publishes, Sink, TransportError,
};
use futures_util::FutureExt as _;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// One run settings: the filter, the rounds and each path's time slice per round.
struct Settings {
    filter: Option<String>,
    rounds: usize,
    slice: Duration,
}

impl Settings {
    fn from_args() -> Self {
        let args: Vec<String> = std::env::args().skip(1).collect();
        // `cargo test --benches` runs this binary without `--bench`: keep that run short.
        let full = args.iter().any(|a| a == "--bench");
        let mut rounds = if full { 15 } else { 2 };
        let mut filter = None;
        let mut i = 0;
        while i < args.len() {
            match args[i].as_str() {
                "--rounds" => {
                    i += 1;
                    rounds = args
                        .get(i)
                        .and_then(|n| n.parse().ok())
                        .filter(|&n: &usize| n > 0)
                        .expect("--rounds takes a positive number");
                }
                a if a.starts_with('-') => {}
                a => filter = Some(a.to_owned()),
            }
            i += 1;
        }
        Settings {
            filter,
            rounds,
            slice: Duration::from_millis(if full { 60 } else { 2 }),
        }
    }

    fn wants(&self, label: &str) -> bool {
        self.filter.as_deref().is_none_or(|f| label.contains(f))
    }
}

fn messages<T: Event>() -> Vec<Vec<u8>> {
    let schema = SCHEMAS.get(T::SCHEMA_ID).expect("embedded schema");
    schema["examples"]
        .as_array()
        .expect("examples")
        .iter()
        .map(|e| serde_json::to_vec(e).unwrap())
        .collect()
}

/// A named way of decoding one message (or, for the publish cases, of writing one event).
type Path<'a, M = Vec<u8>> = (&'static str, Box<dyn FnMut(&M) + 'a>);

/// Passes over `msgs` that take about `slice`, measured once before the rounds.
fn passes_for<M>(msgs: &[M], slice: Duration, f: &mut dyn FnMut(&M)) -> u32 {
    let start = Instant::now();
    let mut passes = 0u32;
    while start.elapsed() < slice / 4 || passes == 0 {
        for m in msgs {
            f(m);
        }
        passes += 1;
    }
    let per_pass = start.elapsed() / passes;
    (slice.as_nanos() / per_pass.as_nanos().max(1)).clamp(1, u32::MAX as u128) as u32
}

/// Time per message of `f` over `passes` passes of `msgs`.
fn time_per_message<M>(msgs: &[M], passes: u32, f: &mut dyn FnMut(&M)) -> f64 {
    let start = Instant::now();
    for _ in 0..passes {
        for m in msgs {
            f(m);
        }
    }
    start.elapsed().as_nanos() as f64 / (f64::from(passes) * msgs.len() as f64)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Runs `paths` (the first is the baseline) interleaved in rotating order and prints one line:
/// the baseline's time and throughput, then each other path's ratio to it.
fn compare(settings: &Settings, label: &str, msgs: &[Vec<u8>], paths: Vec<Path<'_>>) {
    let bytes = msgs.iter().map(Vec::len).sum::<usize>() as f64 / msgs.len() as f64;
    compare_items(settings, label, msgs, bytes, paths);
}

/// [`compare`] over any kind of input; `bytes` is the mean size of a message.
fn compare_items<M>(
    settings: &Settings,
    label: &str,
    msgs: &[M],
    bytes: f64,
    mut paths: Vec<Path<'_, M>>,
) {
    if !settings.wants(label) {
        return;
    }
    // Warm up (compile validators, fault in pages), then size each path's slice.
    let passes: Vec<u32> = paths
        .iter_mut()
        .map(|(_, f)| passes_for(msgs, settings.slice, f.as_mut()))
        .collect();
    let mut times: Vec<Vec<f64>> = vec![Vec::with_capacity(settings.rounds); paths.len()];
    for round in 0..settings.rounds {
        for k in 0..paths.len() {
            let p = (round + k) % paths.len();
            times[p].push(time_per_message(msgs, passes[p], paths[p].1.as_mut()));
        }
    }
    let mut base = times[0].clone();
    let base_ns = median(&mut base);
    let mut line = format!(
        "{label:<46} {bytes:>6.0} B  {} {base_ns:>7.0} ns {:>6.0} MB/s",
        paths[0].0,
        bytes / base_ns * 1e3
    );
    for (p, (name, _)) in paths.iter().enumerate().skip(1) {
        let mut ratios: Vec<f64> = times[p].iter().zip(&times[0]).map(|(t, b)| t / b).collect();
        let mid = median(&mut ratios);
        line.push_str(&format!(
            "  {name} {mid:.3}x [{:.3}–{:.3}]",
            ratios[0],
            ratios[ratios.len() - 1]
        ));
    }
    println!("{line}");
}

/// `value` with every object's properties in alphabetical order, as Go writes a map.
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by_key(|(k, _)| *k);
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), sorted(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// The payload-only case of event `T`: bare, validated, naive.
fn payload<T: Event>(settings: &Settings, label: &str) {
    payload_of::<T>(settings, label, messages::<T>());
}

/// The payload-only case of event `T` over `msgs`.
fn payload_of<T: Event>(settings: &Settings, label: &str, msgs: Vec<Vec<u8>>) {
    let validator = T::validator();
    let mut paths: Vec<Path<'_>> = vec![
        (
            "bare",
            Box::new(|m| {
                black_box(serde_json::from_slice::<T>(m).unwrap());
            }),
        ),
        (
            "validated",
            Box::new(|m| {
                black_box(T::decode(m).unwrap());
            }),
        ),
        (
            "naive",
            Box::new(move |m| {
                let v: Value = serde_json::from_slice(m).unwrap();
                assert!(validator.is_valid(&v));
                black_box(serde_json::from_value::<T>(v).unwrap());
            }),
        ),
    ];
    // sonic-rs driving the same generated impls: typed only (`sonic`), and typed plus the
    // generated checks (`sonic_checked`, what `decode`'s fast path would be on sonic-rs).
    // Where it cannot decode a case at all, the line says why instead.
    match msgs.iter().find_map(|m| sonic_rs::from_slice::<T>(m).err()) {
        None => {
            paths.push((
                "sonic",
                Box::new(|m| {
                    black_box(sonic_rs::from_slice::<T>(m).unwrap());
                }),
            ));
            paths.push((
                "sonic_checked",
                Box::new(|m| {
                    let typed = sonic_rs::from_slice::<T>(m).unwrap();
                    assert!(!T::NEEDS_SCHEMA && typed.is_valid());
                    black_box(typed);
                }),
            ));
        }
        Some(e) if settings.wants(label) => {
            println!("{label}: sonic-rs cannot decode it through the generated impls: {e}");
        }
        Some(_) => {}
    }
    compare(settings, label, &msgs, paths);
}

/// The whole-message case of event `E` in system `S`: every example of `E` wrapped as `S`
/// publishes it; bare decodes the typed whole message `W` (the envelope of `E`, or `E` for a
/// flat system), validated is `S::decode`.
fn wire<S, E, W>(settings: &Settings, label: &str)
where
    S: Contract + Publishes<E>,
    E: Event,
    W: DeserializeOwned,
{
    // What a publisher's defaults would fill: some envelopes require their source and subject.
    let meta = Meta {
        source: Some("decode-bench".into()),
        subject: Some("run/decode-bench".into()),
        ..Meta::default()
    };
    let mut channel = String::new();
    let msgs: Vec<Vec<u8>> = E::examples()
        .expect("examples decode")
        .into_iter()
        .map(|event| {
            let message = S::wrap(event, &meta).expect("wraps");
            let outgoing = S::outgoing(&message).expect("encodes");
            channel = outgoing.channel;
            outgoing.payload
        })
        .collect();
    let channel = channel.as_str();
    compare(
        settings,
        label,
        &msgs,
        vec![
            (
                "bare",
                Box::new(|m| {
                    black_box(serde_json::from_slice::<W>(m).unwrap());
                }),
            ),
            (
                "validated",
                Box::new(move |m| {
                    black_box(S::decode(channel, m).unwrap());
                }),
            ),
        ],
    );
}

/// A sink that drops what it is given: the publish cases time the writing of a message, not
/// a broker.
struct Discard;

impl Sink for Discard {
    async fn send(&self, message: Outgoing) -> Result<(), TransportError> {
        black_box(message);
        Ok(())
    }
}

/// The publish case of event `E` in system `S`, over every example of `E`:
/// - bare: `serde_json::to_vec` of the whole typed message `W` the binding wrote for it
///   (envelope included, ids and times already filled): serializing only;
/// - publish: `Publisher::publish` to a sink that drops the message: the envelope with a new
///   id, the time and a new `traceparent`, encoded and checked against the schema.
///
/// Both paths clone their input first (`publish` takes the event by value).
fn publish<S, E, W>(settings: &Settings, label: &str)
where
    S: Contract + Publishes<E>,
    E: Event + Clone,
    W: DeserializeOwned + serde::Serialize + Clone,
{
    let meta = Meta {
        source: Some("decode-bench".into()),
        subject: Some("run/decode-bench".into()),
        ..Meta::default()
    };
    let events = E::examples().expect("examples decode");
    let mut written_bytes = 0;
    let pairs: Vec<(E, W)> = events
        .into_iter()
        .map(|event| {
            let message = S::wrap(event.clone(), &meta).expect("wraps");
            let payload = S::outgoing(&message).expect("encodes").payload;
            written_bytes += payload.len();
            let written = serde_json::from_slice(&payload).expect("the written message decodes");
            (event, written)
        })
        .collect();
    let bytes = written_bytes as f64 / pairs.len() as f64;
    let publisher = Publisher::<S, _>::new(Discard, meta.clone());
    compare_items(
        settings,
        label,
        &pairs,
        bytes,
        vec![
            (
                "bare",
                Box::new(|(_, w): &(E, W)| {
                    black_box(serde_json::to_vec(&w.clone()).unwrap());
                }),
            ),
            (
                "publish",
                Box::new(|(e, _): &(E, W)| {
                    let sent = publisher.publish(e.clone()).now_or_never();
                    black_box(sent.expect("a dropping sink is ready at once").unwrap());
                }),
            ),
        ],
    );
}

fn main() {
    let settings = Settings::from_args();
    println!(
        "decode benchmark: {} rounds, {} ms per path per round, paths interleaved; \
         ratios are time per message relative to bare typed decoding in the same round, \
         median [min–max] over rounds",
        settings.rounds,
        settings.slice.as_millis()
    );
    let s = &settings;
    payload::<livepeer::StreamTrace>(s, "livepeer stream_trace (tagged union)");
    // The gateway writes `data` from a Go map: keys in alphabetical order, the tag last.
    let go_order = messages::<livepeer::StreamTrace>()
        .iter()
        .map(|m| serde_json::to_vec(&sorted(&serde_json::from_slice(m).unwrap())).unwrap())
        .collect();
    payload_of::<livepeer::StreamTrace>(s, "livepeer stream_trace (tag last, Go order)", go_order);
    payload::<livepeer::StreamIngestMetrics>(s, "livepeer stream_ingest_metrics");
    payload::<livepeer::CreateNewPayment>(s, "livepeer create_new_payment (patterns)");
    payload::<audio::AudioChunkReceived>(s, "audio AudioChunkReceived");
    payload::<audio::TranscriptionCompleted>(s, "audio TranscriptionCompleted");
    payload::<dam::CaptureDeviceList>(s, "dam capture.device_list");
    payload::<agents::UsageMeteredModelInference>(s, "agents usage.metered.model_inference");
    payload::<agents::RealtimePushChatMessage>(s, "agents realtime.push.chat_message");
    payload::<orchestrator::MyFeatureCompletedData>(s, "orchestrator ai.myfeature.completed");
    payload::<orchestrator::RunStageProgressData>(s, "orchestrator ai.run.stage_progress");

    wire::<livepeer::System, livepeer::StreamTrace, livepeer::GatewayEnvelope<livepeer::StreamTrace>>(
        s,
        "wire livepeer stream_trace",
    );
    wire::<
        livepeer::System,
        livepeer::CreateNewPayment,
        livepeer::GatewayEnvelope<livepeer::CreateNewPayment>,
    >(s, "wire livepeer create_new_payment");
    wire::<audio::System, audio::AudioChunkReceived, audio::AudioEnvelope<audio::AudioChunkReceived>>(
        s,
        "wire audio AudioChunkReceived",
    );
    wire::<dam::System, dam::CaptureDeviceList, dam::CaptureDeviceList>(
        s,
        "wire dam capture.device_list",
    );
    wire::<agents::System, agents::UsageMeteredModelInference, agents::UsageMeteredModelInference>(
        s,
        "wire agents usage.metered.model_inference",
    );
    wire::<
        orchestrator::System,
        orchestrator::RunStageProgressData,
        orchestrator::CloudEventEnvelope<orchestrator::RunStageProgressData>,
    >(s, "wire orchestrator ai.run.stage_progress");

    publish::<
        livepeer::System,
        livepeer::StreamTrace,
        livepeer::GatewayEnvelope<livepeer::StreamTrace>,
    >(s, "publish livepeer stream_trace");
    publish::<
        audio::System,
        audio::AudioChunkReceived,
        audio::AudioEnvelope<audio::AudioChunkReceived>,
    >(s, "publish audio AudioChunkReceived");
    publish::<dam::System, dam::CaptureDeviceList, dam::CaptureDeviceList>(
        s,
        "publish dam capture.device_list",
    );
    publish::<agents::System, agents::UsageMeteredModelInference, agents::UsageMeteredModelInference>(
        s,
        "publish agents usage.metered.model_inference",
    );
    publish::<
        orchestrator::System,
        orchestrator::RunStageProgressData,
        orchestrator::CloudEventEnvelope<orchestrator::RunStageProgressData>,
    >(s, "publish orchestrator ai.run.stage_progress");
}
