//! Serves the consumer metrics in Prometheus text format while an audio consumer runs on
//! Redis: the runtime counts through the `metrics` facade, `metrics-exporter-prometheus` is
//! the recorder, and an axum route renders it.
//!
//! ```sh
//! cargo run --example prometheus                  # group audio-pipeline, /metrics on :9464
//! cargo run --example prometheus -- bot-orchestrator
//! curl -s http://127.0.0.1:9464/metrics | grep event_contracts_
//! ```
//!
//! Redis at `REDIS_URL` (default `redis://127.0.0.1:6379`), the listener at `METRICS_ADDR`
//! (default `127.0.0.1:9464`). Publish with `cargo run --example audio_producer`.
//! `tests/prometheus.rs` runs this file's recorder and route against a real consumer and
//! parses what it serves.

use std::time::Duration;

use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use event_contracts::audio;
use event_contracts::runtime::transport::metrics::HANDLER_DURATION;
use event_contracts::runtime::transport::redis::{RedisConfig, RedisSource};
use event_contracts::runtime::transport::{
    self, Context, Contract, Handle, HandlerResult, Policy, Shutdown,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Installs the process-wide Prometheus recorder; handler durations become a histogram with
/// buckets from 1 ms to 10 s.
pub fn install_recorder() -> Result<PrometheusHandle, Box<dyn std::error::Error>> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(HANDLER_DURATION.to_owned()),
            &[0.001, 0.005, 0.025, 0.1, 0.5, 2.5, 10.0],
        )?
        .install_recorder()?;
    Ok(handle)
}

/// Serves `GET /metrics` (Prometheus text exposition format 0.0.4) on `listener` until the
/// process ends.
pub async fn serve(
    listener: tokio::net::TcpListener,
    handle: PrometheusHandle,
) -> std::io::Result<()> {
    let app = axum::Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move {
                (
                    [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
                    handle.render(),
                )
            }
        }),
    );
    axum::serve(listener, app).await
}

/// Accepts every event: the metrics are the point here.
struct Accept;

impl<C: Contract> Handle<C> for Accept {
    async fn handle(&self, _message: C::Message, _context: &Context) -> HandlerResult {
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let addr = std::env::var("METRICS_ADDR").unwrap_or_else(|_| "127.0.0.1:9464".into());
    let group = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "audio-pipeline".into());
    let handle = install_recorder()?;
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("metrics on http://{}/metrics", listener.local_addr()?);
    tokio::spawn(serve(listener, handle));

    let consumer = format!("prometheus-example-{}", std::process::id());
    let config = RedisConfig::new(url)
        .with_consumer(consumer)
        .with_claim_idle(Duration::from_secs(30));
    let source = RedisSource::for_group::<audio::System>(&config, &group).await?;
    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stop.trigger();
    });
    let stats = transport::run::<audio::System, _, _, _>(
        source,
        &Accept,
        &Policy::new(group.as_str()),
        &shutdown,
    )
    .await?;
    println!("stopped: {stats:?}");
    Ok(())
}
