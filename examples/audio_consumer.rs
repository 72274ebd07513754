//! Consumes the audio streams from Redis as one consumer group, logging every event it handles
//! and every message it dead-letters, until Ctrl-C (graceful shutdown: the message in hand is
//! finished and acknowledged, nothing unfinished is).
//!
//! ```sh
//! cargo run --example audio_consumer                  # group orchestration-api
//! cargo run --example audio_consumer -- audio-pipeline # any group of audio::CONSUMER_GROUPS
//! ```
//!
//! Redis at `REDIS_URL` (default `redis://127.0.0.1:6379`; `bash .ci/services.sh` starts one).
//! Publish with `cargo run --example audio_producer`. Idempotency keys live in Redis
//! (`idempotency:*`, one day), so a chunk or bot request published twice is handled once.

use std::time::Duration;

use event_contracts::audio::{self, AudioEnvelope};
use event_contracts::runtime::transport::redis::{
    RedisConfig, RedisIdempotency, RedisSource, RedisToken,
};
use event_contracts::runtime::transport::{
    self, Context, DeadLetter, Delivery, HandlerResult, Policy, Shutdown, Source, TransportError,
};
use event_contracts::Event;

/// Logs each event it is given.
struct Log;

impl Log {
    fn log<E: Event + std::fmt::Debug>(&self, message: &AudioEnvelope<E>, context: &Context) {
        println!(
            "handled {:<24} event_id {} from {} (attempt {}, {})",
            E::NAME,
            message.event_id,
            message.source,
            context.attempt,
            context.origin
        );
    }
}

macro_rules! log_all {
    ($($method:ident: $ty:ident),* $(,)?) => {
        impl audio::Handler for Log {
            $(
                async fn $method(&self, message: AudioEnvelope<audio::$ty>, context: &Context) -> HandlerResult {
                    self.log(&message, context);
                    Ok(())
                }
            )*
        }
    };
}

log_all! {
    audio_chunk_received: AudioChunkReceived,
    transcription_completed: TranscriptionCompleted,
    translation_requested: TranslationRequested,
    translation_completed: TranslationCompleted,
    processing_failed: ProcessingFailed,
    config_snapshot: ConfigSnapshot,
    config_drift_detected: ConfigDriftDetected,
    config_rollback_requested: ConfigRollbackRequested,
    bot_requested: BotRequested,
    bot_stop_requested: BotStopRequested,
    bot_status_update: BotStatusUpdate,
    service_health_report: ServiceHealthReport,
    anomaly_detected: AnomalyDetected,
    usage_metrics: UsageMetrics,
}

/// The Redis source, logging what it dead-letters.
struct Logged(RedisSource);

impl Source for Logged {
    type Token = RedisToken;

    async fn next(&mut self) -> Result<Option<(Delivery, RedisToken)>, TransportError> {
        self.0.next().await
    }
    async fn ack(&mut self, token: RedisToken) -> Result<(), TransportError> {
        self.0.ack(token).await
    }
    async fn retry(
        &mut self,
        token: RedisToken,
        delivery: &Delivery,
        after: Duration,
    ) -> Result<(), TransportError> {
        println!(
            "retrying {} (attempt {}) in {after:?}",
            delivery.origin, delivery.attempt
        );
        self.0.retry(token, delivery, after).await
    }
    async fn dead_letter(
        &mut self,
        token: RedisToken,
        delivery: &Delivery,
        letter: &DeadLetter,
    ) -> Result<(), TransportError> {
        println!(
            "dead-lettered {} to {}{}: {} ({})",
            delivery.origin,
            delivery.channel,
            transport::redis::DEAD_LETTER_SUFFIX,
            letter.reason.as_str(),
            letter.error
        );
        self.0.dead_letter(token, delivery, letter).await
    }
    // An entry without the layout's payload field is dead-lettered with the fields it had.
    fn unreadable(&self, token: &RedisToken) -> Option<String> {
        self.0.unreadable(token)
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let group = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "orchestration-api".into());
    let consumer = format!("audio-consumer-example-{}", std::process::id());
    let options = RedisConfig::new(url)
        .with_consumer(consumer.as_str())
        .with_claim_idle(Duration::from_secs(30));
    let source = RedisSource::for_group::<audio::System>(&options, &group).await?;
    println!(
        "consuming {} as group `{group}`, consumer `{consumer}`; Ctrl-C stops",
        source.streams().join(", ")
    );
    let idempotency = RedisIdempotency::connect(&options, Duration::from_secs(86_400)).await?;
    let policy = Policy::new(group.as_str()).with_idempotency(idempotency);
    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            println!("Ctrl-C: finishing the message in hand, then stopping");
        }
        stop.trigger();
    });
    let stats = transport::run::<audio::System, _, _, _>(
        Logged(source),
        &audio::Dispatch(Log),
        &policy,
        &shutdown,
    )
    .await?;
    println!(
        "stopped: {} handled, {} skipped, {} retried, {} dead-lettered",
        stats.handled, stats.skipped, stats.retried, stats.dead_lettered
    );
    Ok(())
}
