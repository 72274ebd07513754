//! Publishes one of each of the 12 `agents` events (fresh ids) to NATS JetStream through the
//! typed publisher, creating the streams and durable consumers first if they are missing.
//!
//! ```sh
//! cargo run --example agents_producer
//! ```
//!
//! NATS at `NATS_URL` (default `nats://127.0.0.1:4222`, started with JetStream by
//! `bash .ci/services.sh`). Consume with `cargo run --example agents_consumer`.

use event_contracts::agents;
use event_contracts::runtime::transport::nats::{NatsConfig, NatsTransport};
use event_contracts::runtime::transport::{Meta, Publisher, RetryPolicy};
use event_contracts::Event;

fn example<E: Event>() -> Result<E, Box<dyn std::error::Error>> {
    let schema = event_contracts::SCHEMAS
        .documents()
        .get(E::SCHEMA_ID)
        .ok_or("schema not embedded")?;
    Ok(serde_json::from_value(schema["examples"][0].clone())?)
}

/// A fresh id in every id-like field of the example, so each run publishes new events
/// (the same id again would be dropped by JetStream as a duplicate), and the current time in
/// its time field, written in the system's `time_format` (`2024-01-15T10:30:00Z`).
fn fresh<E: Event + serde::Serialize + serde::de::DeserializeOwned>(
) -> Result<E, Box<dyn std::error::Error>> {
    let mut json = serde_json::to_value(example::<E>()?)?;
    for key in ["event_id", "message_id", "alert_id", "step_id"] {
        if json.get(key).is_some() {
            json[key] = uuid::Uuid::new_v4().to_string().into();
        }
    }
    for key in ["timestamp", "triggered_at"] {
        if json.get(key).is_some() {
            json[key] = serde_json::to_value(agents::now())?;
        }
    }
    Ok(serde_json::from_value(json)?)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let nats = NatsTransport::connect(&NatsConfig::new(url)).await?;
    nats.setup::<agents::System>(&RetryPolicy::default())
        .await?;
    let publisher = Publisher::<agents::System, _>::new(
        nats.sink(),
        Meta {
            source: Some("agents-producer".into()),
            ..Meta::default()
        },
    );
    macro_rules! publish_all {
        ($($ty:ident),*) => {$(
            let id = publisher.publish(fresh::<agents::$ty>()?).await?;
            println!("published {:<30} id {id}", <agents::$ty as Event>::NAME);
        )*};
    }
    publish_all!(
        IngestDocumentProcessed,
        IngestDocumentFailed,
        OrchestratorStepStarted,
        OrchestratorStepCompleted,
        OrchestratorStepFailed,
        UsageMeteredApiCall,
        UsageMeteredModelInference,
        RealtimePushChatMessage,
        RealtimePushNotification,
        AlertsServiceDown,
        AlertsHighLatency,
        AlertsQuotaExceeded
    );
    Ok(())
}
