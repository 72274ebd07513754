//! Publishes one example of every audio event (`schemas/audio/events/*.json`, `examples[0]`)
//! to Redis Streams through the typed publisher: `XADD` of the v1 envelope to each event's
//! stream, confirmed by Redis.
//!
//! ```sh
//! cargo run --example audio_producer
//! ```
//!
//! Redis at `REDIS_URL` (default `redis://127.0.0.1:6379`; `bash .ci/services.sh` starts one).
//! Run `cargo run --example audio_consumer` beside it to see the events handled.

use event_contracts::audio;
use event_contracts::runtime::transport::redis::{RedisConfig, RedisSink};
use event_contracts::runtime::transport::{Meta, Publisher};
use event_contracts::Event;

fn example<E: Event>() -> Result<E, Box<dyn std::error::Error>> {
    let schema = event_contracts::SCHEMAS
        .documents()
        .get(E::SCHEMA_ID)
        .ok_or("schema not embedded")?
        .to_string();
    let schema: serde_json::Value = serde_json::from_str(&schema)?;
    Ok(serde_json::from_value(schema["examples"][0].clone())?)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let sink = RedisSink::connect(&RedisConfig::new(url)).await?;
    let publisher = Publisher::<audio::System, _>::new(
        sink,
        Meta {
            source: Some("audio-producer-example".into()),
            ..Meta::default()
        },
    );
    macro_rules! publish_all {
        ($($ty:ident),*) => {$(
            let event: audio::$ty = example()?;
            let id = publisher.publish(event).await?;
            println!(
                "published {:<24} to {:<22} event_id {id}",
                <audio::$ty as Event>::NAME,
                <audio::$ty as Event>::info().channel.address()
            );
        )*};
    }
    publish_all!(
        AudioChunkReceived,
        TranscriptionCompleted,
        TranslationRequested,
        TranslationCompleted,
        ProcessingFailed,
        ConfigSnapshot,
        ConfigDriftDetected,
        ConfigRollbackRequested,
        BotRequested,
        BotStopRequested,
        BotStatusUpdate,
        ServiceHealthReport,
        AnomalyDetected,
        UsageMetrics
    );
    Ok(())
}
