//! Throughput of the HTTP binding against the raw clients (reqwest + axum) doing the same
//! work on the same machine in the same run.
//!
//! ```sh
//! cargo bench --bench transport_http
//! ```
//!
//! One event = one pre-encoded `ai.run.stage_progress` CloudEvent (structured mode, same
//! bytes, unique ids) POSTed and awaited until the server answered `200` after handling it,
//! one at a time over a kept-alive connection:
//!
//! - binding: `HttpSink::post` (the `Sink` behind `Publisher`) to an `IngestServer` (content
//!   mode detection, decode + envelope/data validation through the shared engine, dedupe by
//!   `source` + `id` in a `MemoryStore`, `seq` record, typed dispatch, JSON answer);
//! - raw: a `reqwest` POST of the same bytes to a bare axum route that does the same work by
//!   hand (`orchestrator::decode_message`, a mutex-guarded dedupe set, a `seq` map, the same
//!   handler call, a JSON answer).
//!
//! Rounds interleave binding and raw (each side first in half of them); reported are each
//! side's median events/s and the binding/raw ratio of each round, its median [min–max] and its
//! median by which side went first (1.0 = no overhead).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use event_contracts::orchestrator::{self, CloudEventEnvelope, RunStageProgressData};
use event_contracts::runtime::transport::http::{prepare, HttpSink, IngestServer, MemoryStore};
use event_contracts::runtime::transport::{
    Context, HandlerResult, Meta, Outgoing, Policy, Shutdown, UnknownPolicy,
};
use event_contracts::Event;

#[path = "support/rounds.rs"]
mod rounds;
use rounds::report_binding_raw;

const EVENTS: usize = 2_000;
/// Even, so that each side goes first in half the rounds.
const ROUNDS: usize = 8;

fn example<E: Event>() -> E {
    let schema: serde_json::Value = serde_json::from_str(
        &event_contracts::SCHEMAS
            .documents()
            .get(E::SCHEMA_ID)
            .expect("schema embedded")
            .to_string(),
    )
    .expect("schema is JSON");
    serde_json::from_value(schema["examples"][0].clone()).expect("example decodes")
}

#[derive(Clone, Default)]
struct Count(Arc<AtomicU64>);

impl Count {
    fn touch(&self, progress: f64) {
        if progress >= 0.0 {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl orchestrator::Handler for Count {
    async fn run_stage_progress_data(
        &self,
        message: CloudEventEnvelope<RunStageProgressData>,
        _: &Context,
    ) -> HandlerResult {
        self.touch(message.data.progress);
        Ok(())
    }
}

/// Seqs seen in one run, and the highest.
type RunSeq = (HashSet<u64>, u64);

/// The raw server's state: what the binding keeps in its store, by hand.
#[derive(Clone, Default)]
struct RawState {
    count: Count,
    done: Arc<Mutex<HashSet<String>>>,
    seq: Arc<Mutex<HashMap<String, RunSeq>>>,
}

async fn raw_ingest(
    axum::extract::State(state): axum::extract::State<RawState>,
    body: axum::body::Bytes,
) -> (axum::http::StatusCode, String) {
    use axum::http::StatusCode;
    let message = match orchestrator::decode_message(&body) {
        Ok(m) => m,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()),
    };
    let key = format!("{}:{}", message.source, message.id);
    if state.done.lock().unwrap().contains(&key) {
        return (
            StatusCode::OK,
            r#"{"status":200,"outcome":"duplicate"}"#.into(),
        );
    }
    if let orchestrator::OrchestratorEvent::RunStageProgressData(data) = &message.data {
        state.count.touch(data.progress);
    }
    state.done.lock().unwrap().insert(key);
    if let Some(seq) = message.seq {
        let mut runs = state.seq.lock().unwrap();
        let (seen, last) = runs.entry(message.subject.clone()).or_default();
        seen.insert(seq);
        *last = (*last).max(seq);
    }
    (
        StatusCode::OK,
        format!(
            r#"{{"status":200,"outcome":"handled","id":"{}"}}"#,
            message.id
        ),
    )
}

fn batch(tag: &str) -> Vec<Outgoing> {
    let subject = format!("run/{}", uuid::Uuid::new_v4());
    let progress = example::<RunStageProgressData>();
    (0..EVENTS)
        .map(|i| {
            let meta = Meta {
                source: Some(format!("bench/{tag}")),
                subject: Some(subject.clone()),
                seq: Some(i as u64),
                ..Meta::default()
            };
            prepare::<orchestrator::System, _>(progress.clone(), &meta).expect("valid")
        })
        .collect()
}

async fn binding_round(client: &HttpSink, events: &[Outgoing]) -> f64 {
    let start = Instant::now();
    for e in events {
        client.post(e).await.expect("binding accepts");
    }
    events.len() as f64 / start.elapsed().as_secs_f64()
}

async fn raw_round(client: &reqwest::Client, url: &str, events: &[Outgoing]) -> f64 {
    let start = Instant::now();
    for e in events {
        let response = client
            .post(url)
            .header(
                "content-type",
                "application/cloudevents+json; charset=utf-8",
            )
            .header(
                "traceparent",
                e.headers.get_str("traceparent").unwrap_or_default(),
            )
            .body(e.payload.clone())
            .send()
            .await
            .expect("raw server answers");
        assert_eq!(response.status(), 200);
        response.text().await.expect("raw answer");
    }
    events.len() as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let shutdown = Shutdown::new();
    // The binding's server.
    let count = Count::default();
    let policy = Policy::new("orchestrator-ingest").with_unknown(UnknownPolicy::Skip);
    let server = IngestServer::new(
        orchestrator::Dispatch(count.clone()),
        MemoryStore::new(),
        policy,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let binding_base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn({
        let (server, shutdown) = (server.clone(), shutdown.clone());
        async move { server.serve(listener, shutdown).await }
    });
    // The raw server.
    let raw_state = RawState::default();
    let app = axum::Router::new()
        .route("/api/ingest/event", axum::routing::post(raw_ingest))
        .with_state(raw_state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let raw_url = format!("http://{}/api/ingest/event", listener.local_addr().unwrap());
    tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { shutdown.triggered().await })
                .await
        }
    });

    let client = HttpSink::new(&binding_base).expect("client");
    let raw = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("raw client");
    // Warm up both paths.
    binding_round(&client, &batch("warm-binding")[..200]).await;
    raw_round(&raw, &raw_url, &batch("warm-raw")[..200]).await;

    let (mut b, mut r) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let (eb, er) = (batch(&format!("b{round}")), batch(&format!("r{round}")));
        if round.is_multiple_of(2) {
            b.push(binding_round(&client, &eb).await);
            r.push(raw_round(&raw, &raw_url, &er).await);
        } else {
            r.push(raw_round(&raw, &raw_url, &er).await);
            b.push(binding_round(&client, &eb).await);
        }
    }
    let handled = count.0.load(Ordering::Relaxed);
    let raw_handled = raw_state.count.0.load(Ordering::Relaxed);
    assert_eq!(handled, raw_handled, "both sides handled every event once");
    println!("HTTP (CloudEvents structured, publish + handle + 200, one at a time, {EVENTS} events x {ROUNDS} rounds)");
    report_binding_raw("handle", &b, &r);
    shutdown.trigger();
}
