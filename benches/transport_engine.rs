//! What the binding itself costs per consumed message, without a broker: the consumer engine
//! (`transport::run`: shutdown check, decode and validate through the system's `Contract`,
//! `Context` with trace context, typed dispatch to a handler, settling) vs a hand-written loop
//! that only decodes and validates (`livepeer::decode_message`) and hands the message to the
//! same handler body. Both read the same pre-built deliveries from memory in the same process,
//! so the ratio is the engine's own overhead; the per-transport benches add the broker and the
//! client library on top (and their round-to-round spread on this 2-core machine, broker
//! included, is larger than this overhead).
//!
//! `cargo bench --bench transport_engine`

use std::collections::VecDeque;
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
    let elapsed = start.elapsed();
    assert_eq!(acked as usize, n);
    assert_eq!(count.0.load(Ordering::Relaxed) as usize, n);
    elapsed
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let input = deliveries();
    let (mut b, mut r) = (Vec::new(), Vec::new());
    // Warm up: compile the validators, fault in the pages.
    binding(input[..1000].to_vec()).await;
    raw(input[..1000].to_vec()).await;
    for round in 0..ROUNDS {
        // Each side's copy is made just before it runs, so neither always gets the memory
        // the other one just freed.
        if round % 2 == 0 {
            b.push(binding(input.clone()).await);
            r.push(raw(input.clone()).await);
        } else {
            r.push(raw(input.clone()).await);
            b.push(binding(input.clone()).await);
        }
    }
    let (b, r) = (median(b), median(r));
    let per = |d: Duration| d.as_nanos() as f64 / N as f64;
    println!(
        "consumer engine, {N} livepeer stream_trace messages of {} bytes x {ROUNDS} rounds (median), no broker",
        input[0].payload.len()
    );
    println!(
        "  binding (transport::run + Dispatch)  {:>8.0} ns/message  {:>9.0} messages/s",
        per(b),
        1e9 / per(b)
    );
    println!(
        "  raw (decode_message + handler)       {:>8.0} ns/message  {:>9.0} messages/s",
        per(r),
        1e9 / per(r)
    );
    println!(
        "  binding/raw throughput {:.3}; the engine adds {:.0} ns per message",
        per(r) / per(b),
        per(b) - per(r)
    );
}
