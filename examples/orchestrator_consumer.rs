//! The orchestrator's CloudEvents ingest endpoint: `POST /api/ingest/event` on
//! 127.0.0.1:3000, dedupe / `seq` / dead letters in Redis (127.0.0.1:6379, after
//! `bash .ci/services.sh`), typed handlers that print what they handled.
//!
//! ```sh
//! cargo run --example orchestrator_consumer
//! ```
//!
//! Then run `cargo run --example orchestrator_producer`, or the document's own test:
//!
//! ```sh
//! curl -i -X POST http://localhost:3000/api/ingest/event -H "Content-Type: application/json" \
//!   -d '{"specversion":"1.0","id":"test-event-001","source":"test","type":"ai.myfeature.started",
//!        "subject":"run/7f3c2a9e-4b1d-4e8a-9c2f-1a5b6d7e8f90","time":"2024-01-01T00:00:00Z",
//!        "datacontenttype":"application/json",
//!        "data":{"run_id":"7f3c2a9e-4b1d-4e8a-9c2f-1a5b6d7e8f90","feature_name":"test_feature"}}'
//! ```
//!
//! Environment: `ORCHESTRATOR_ADDR` (default `127.0.0.1:3000`), `REDIS_URL` (default
//! `redis://127.0.0.1:6379`). Ctrl-C stops it gracefully (requests in flight finish).

use std::time::Duration;

use event_contracts::orchestrator::{self, CloudEventEnvelope};
use event_contracts::runtime::transport::http::{DeadLetterStore, IngestServer, RedisStore};
use event_contracts::runtime::transport::{
    Context, HandlerResult, Policy, RetryPolicy, Shutdown, UnknownPolicy,
};

/// Prints each event it handles; the events it does not override are acknowledged unread.
struct Printer;

fn show<D: serde::Serialize>(message: &CloudEventEnvelope<D>, context: &Context) {
    println!(
        "handled {} id={} subject={} seq={:?} attempt={} traceparent={} data={}",
        message.r#type,
        message.id,
        message.subject,
        message
            .seq
            .or(message.extensions.as_ref().and_then(|e| e.seq)),
        context.attempt,
        context.traceparent.as_deref().unwrap_or("-"),
        serde_json::to_string(&message.data).unwrap_or_default()
    );
}

impl orchestrator::Handler for Printer {
    async fn run_started_data(
        &self,
        m: CloudEventEnvelope<orchestrator::RunStartedData>,
        c: &Context,
    ) -> HandlerResult {
        show(&m, c);
        Ok(())
    }
    async fn run_stage_started_data(
        &self,
        m: CloudEventEnvelope<orchestrator::RunStageStartedData>,
        c: &Context,
    ) -> HandlerResult {
        show(&m, c);
        Ok(())
    }
    async fn run_stage_progress_data(
        &self,
        m: CloudEventEnvelope<orchestrator::RunStageProgressData>,
        c: &Context,
    ) -> HandlerResult {
        show(&m, c);
        Ok(())
    }
    async fn run_stage_completed_data(
        &self,
        m: CloudEventEnvelope<orchestrator::RunStageCompletedData>,
        c: &Context,
    ) -> HandlerResult {
        show(&m, c);
        Ok(())
    }
    async fn run_completed_data(
        &self,
        m: CloudEventEnvelope<orchestrator::RunCompletedData>,
        c: &Context,
    ) -> HandlerResult {
        show(&m, c);
        Ok(())
    }
    async fn run_failed_data(
        &self,
        m: CloudEventEnvelope<orchestrator::RunFailedData>,
        c: &Context,
    ) -> HandlerResult {
        show(&m, c);
        Ok(())
    }
    async fn my_feature_started_data(
        &self,
        m: CloudEventEnvelope<orchestrator::MyFeatureStartedData>,
        c: &Context,
    ) -> HandlerResult {
        show(&m, c);
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::var("ORCHESTRATOR_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let redis_url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let store = RedisStore::open(&redis_url).map_err(|e| format!("REDIS_URL {redis_url}: {e}"))?;
    store.ping().await.map_err(|e| {
        format!("Redis at {redis_url} is not reachable ({e}); start it with `bash .ci/services.sh`")
    })?;

    let policy = Policy::new("orchestrator-ingest")
        .with_retry(RetryPolicy::default())
        .with_unknown(UnknownPolicy::Skip);
    let server = IngestServer::new(orchestrator::Dispatch(Printer), store.clone(), policy);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!(
        "ingesting CloudEvents on http://{addr}{} (dead letters: Redis stream `{}`); Ctrl-C stops",
        server.path(),
        store.dead_letter_stream()
    );

    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        println!("stopping: finishing requests in flight");
        stop.trigger();
    });
    // Print dead letters as they arrive (the runtime also logs them through `tracing`).
    let watch = shutdown.clone();
    let letters = store.clone();
    tokio::spawn(async move {
        let mut printed = letters.dead_letters().await.map(|l| l.len()).unwrap_or(0);
        while !watch.is_triggered() {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let Ok(all) = letters.dead_letters().await else {
                continue;
            };
            for letter in all.iter().skip(printed) {
                println!(
                    "dead-lettered {} reason={} attempts={} error={} bytes={}",
                    letter.entry_id,
                    letter.reason,
                    letter.attempts,
                    letter.error,
                    String::from_utf8_lossy(&letter.payload)
                );
            }
            printed = all.len();
        }
    });
    server.serve(listener, shutdown).await?;
    println!("stopped");
    Ok(())
}
