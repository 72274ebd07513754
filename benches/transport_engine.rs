//! What the binding itself costs per consumed message, without a broker: the consumer engine
//! (`transport::run`: shutdown check, decode and validate through the system's `Contract`,
//! `Context` with trace context, typed dispatch to a handler, settling) vs a hand-written loop
//! that only decodes and validates (`livepeer::decode_message`) and hands the message to the
//! same handler body. Both read the same pre-built deliveries from memory in the same process,
//! so the ratio is the engine's own overhead; the per-transport benches add the broker and the
//! client library on top.
//!
//! Two more rows price observability, each the same engine run with something collecting:
//! - `+ metrics`: a Prometheus recorder (`metrics-exporter-prometheus`, the handler-duration
//!   histogram bucketed as `examples/prometheus.rs` does) installed for the rounds' thread;
//! - `+ otel`: a `tracing` subscriber with the `tracing-opentelemetry` layer over the SDK's
//!   tracer, every `process` span built, parented by the delivery's `traceparent`, ended and
//!   handed to a simple span processor whose exporter drops it (the cost of tracing without
//!   the network of a real exporter).
//!
//! Rounds interleave the rows, rotating which goes first; each row's median ns/message is
//! reported with its interquartile spread, and each ratio is computed per round and
//! summarised the same way.
//!
//! `cargo bench --bench transport_engine` (all rows); `cargo bench --bench transport_engine --
//! plain` runs only raw and binding, in a process where no subscriber was ever set, for the
//! cleanest binding/raw ratio (once a scoped subscriber has existed, `tracing` asks the
//! current dispatcher at every span callsite).

use std::collections::VecDeque;
use std::future::Future;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use event_contracts::livepeer::{self, GatewayEnvelope, StreamTrace};
use event_contracts::runtime::transport::{
    self, Context, DeadLetter, Delivery, HandlerResult, Headers, Policy, Shutdown, Source,
    TransportError,
};
use event_contracts::Event;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use tracing_subscriber::layer::SubscriberExt;

#[path = "support/rounds.rs"]
mod rounds;
use rounds::Summary;

const N: usize = 20_000;
const ROUNDS: usize = 15;

/// Deliveries as a broker client would hand them over: bytes, two headers, an origin.
fn deliveries() -> Vec<Delivery> {
    let schema = event_contracts::SCHEMAS
        .get(StreamTrace::SCHEMA_ID)
        .expect("schema embedded");
    let data: StreamTrace =
        serde_json::from_value(schema["examples"][0].clone()).expect("example decodes");
    let envelope = serde_json::json!({
        "id": "5b0f8ea4-3f41-4a4e-9c0b-6d2f9f7f3a11",
        "type": "stream_trace",
        "timestamp": "1732960000000",
        "gateway": "bench-gateway:8935",
        "data": data,
    });
    let payload = serde_json::to_vec(&envelope).expect("encodes");
    livepeer::decode_message(&payload).expect("the bench message is valid");
    let mut headers = Headers::new();
    headers.insert(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    );
    headers.insert("content-type", "application/json");
    (0..N)
        .map(|i| Delivery {
            channel: "livepeer-events".into(),
            key: Some(b"5b0f8ea4-3f41-4a4e-9c0b-6d2f9f7f3a11".to_vec()),
            payload: payload.clone(),
            headers: headers.clone(),
            attempt: 1,
            origin: format!("bench:livepeer-events/0@{i}"),
        })
        .collect()
}

/// A source over deliveries already in memory; acknowledging does nothing (`run`'s `Stats`
/// count what was handled).
struct MemorySource {
    queue: VecDeque<Delivery>,
}

impl Source for MemorySource {
    type Token = ();

    async fn next(&mut self) -> Result<Option<(Delivery, ())>, TransportError> {
        Ok(self.queue.pop_front().map(|d| (d, ())))
    }

    async fn ack(&mut self, _: ()) -> Result<(), TransportError> {
        Ok(())
    }

    async fn retry(&mut self, _: (), _: &Delivery, _: Duration) -> Result<(), TransportError> {
        panic!("the bench handler never fails")
    }

    async fn dead_letter(
        &mut self,
        _: (),
        _: &Delivery,
        _: &DeadLetter,
    ) -> Result<(), TransportError> {
        panic!("the bench messages are valid")
    }
}

#[derive(Clone, Default)]
struct Count(Arc<AtomicU64>);

impl Count {
    fn handle(&self, m: &GatewayEnvelope<StreamTrace>) {
        black_box(m);
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

impl livepeer::Handler for Count {
    async fn stream_trace(&self, m: GatewayEnvelope<StreamTrace>, _: &Context) -> HandlerResult {
        self.handle(&m);
        Ok(())
    }
}

async fn binding(input: Vec<Delivery>) -> Duration {
    let n = input.len();
    let count = Count::default();
    let handler = livepeer::Dispatch(count.clone());
    let policy = Policy::new("bench");
    let shutdown = Shutdown::new();
    let source = MemorySource {
        queue: input.into(),
    };
    let start = Instant::now();
    let stats = transport::run::<livepeer::System, _, _, _>(source, &handler, &policy, &shutdown)
        .await
        .expect("runs");
    let elapsed = start.elapsed();
    assert_eq!(stats.handled as usize, n);
    assert_eq!(count.0.load(Ordering::Relaxed) as usize, n);
    elapsed
}

async fn raw(input: Vec<Delivery>) -> Duration {
    let n = input.len();
    let count = Count::default();
    let mut queue: VecDeque<Delivery> = input.into();
    let mut acked = 0u64;
    let start = Instant::now();
    while let Some(delivery) = queue.pop_front() {
        let message = livepeer::decode_message(&delivery.payload).expect("decodes");
        let (envelope, event) = message.into_parts();
        if let livepeer::LivepeerEvent::StreamTrace(event) = event {
            count.handle(&envelope.map_payload(|()| event));
        }
        acked += 1;
    }
    // `transport::run` drops its emptied source before it returns, inside the binding's timed
    // region; freeing the queue's buffer makes glibc consolidate every chunk the loop freed
    // (`malloc_consolidate`, 14% of the samples in a profile of this bench). The raw loop pays
    // the same inside its timing, or the ratio charges the allocator to the engine.
    drop(queue);
    let elapsed = start.elapsed();
    assert_eq!(acked as usize, n);
    assert_eq!(count.0.load(Ordering::Relaxed) as usize, n);
    elapsed
}

/// An exporter that drops what it is given: the SDK builds and ends every span, and
/// nothing leaves the process.
#[derive(Debug)]
struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

/// Runs `f` with a Prometheus recorder collecting this thread's metrics.
async fn with_metrics<F: Future<Output = Duration>>(f: F) -> Duration {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(transport::metrics::HANDLER_DURATION.to_owned()),
            &[0.001, 0.005, 0.025, 0.1, 0.5, 2.5, 10.0],
        )
        .expect("buckets")
        .build_recorder();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let took = f.await;
    black_box(recorder.handle().render());
    took
}

/// Runs `f` with the OpenTelemetry layer recording this thread's spans.
async fn with_otel<F: Future<Output = Duration>>(f: F) -> Duration {
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(Discard)
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench")));
    let _guard = tracing::subscriber::set_default(subscriber);
    f.await
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Row {
    Raw,
    Binding,
    Metrics,
    Otel,
}

impl Row {
    fn label(self) -> &'static str {
        match self {
            Row::Raw => "raw (decode_message + handler)",
            Row::Binding => "binding (transport::run + Dispatch)",
            Row::Metrics => "binding + metrics (Prometheus recorder)",
            Row::Otel => "binding + otel (tracing-opentelemetry layer)",
        }
    }

    async fn run(self, input: Vec<Delivery>) -> Duration {
        match self {
            Row::Raw => raw(input).await,
            Row::Binding => binding(input).await,
            Row::Metrics => with_metrics(binding(input)).await,
            Row::Otel => with_otel(binding(input)).await,
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let plain = std::env::args().skip(1).any(|a| a == "plain");
    let rows: &[Row] = if plain {
        &[Row::Raw, Row::Binding]
    } else {
        &[Row::Raw, Row::Binding, Row::Metrics, Row::Otel]
    };
    let input = deliveries();
    // Warm up: compile the validators, fault in the pages, register the callsites.
    for row in rows {
        row.run(input[..1000].to_vec()).await;
    }
    let mut took: Vec<Vec<f64>> = vec![Vec::new(); rows.len()];
    for round in 0..ROUNDS {
        // Rotate which row goes first; each side's copy is made just before it runs, so no
        // row always gets the memory another one just freed.
        for i in 0..rows.len() {
            let row = (round + i) % rows.len();
            let d = rows[row].run(input.clone()).await;
            took[row].push(d.as_nanos() as f64 / N as f64);
        }
    }
    println!(
        "consumer engine, {N} livepeer stream_trace messages of {} bytes x {ROUNDS} rounds, no broker; median [interquartile range]",
        input[0].payload.len()
    );
    for (row, ns) in rows.iter().zip(&took) {
        let ns = Summary::of(ns);
        println!(
            "  {:<46} {:>14.0} ns/message  {:>9.0} messages/s",
            row.label(),
            ns,
            1e9 / ns.median
        );
    }
    let per_round = |a: &[f64], b: &[f64], f: fn(f64, f64) -> f64| -> Vec<f64> {
        a.iter().zip(b).map(|(a, b)| f(*a, *b)).collect()
    };
    let (raw_ns, binding_ns) = (&took[0], &took[1]);
    println!(
        "  binding/raw throughput {:.3}; the engine adds {:.0} ns per message",
        Summary::of(&per_round(raw_ns, binding_ns, |r, b| r / b)),
        Summary::of(&per_round(binding_ns, raw_ns, |b, r| b - r)),
    );
    for (row, ns) in rows.iter().zip(&took).skip(2) {
        println!(
            "  {:<46} adds {:.0} ns per message over the binding (throughput x{:.3})",
            row.label(),
            Summary::of(&per_round(ns, binding_ns, |o, b| o - b)),
            Summary::of(&per_round(binding_ns, ns, |b, o| b / o)),
        );
    }
}
