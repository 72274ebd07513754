//! Publishes one example of every DAM event (`schemas/dam/events/*.json`, `examples[0]`) to
//! RabbitMQ through the typed publisher: topic exchange `events`, routing key = the event's
//! topic, persistent, confirmed by the broker, `mandatory` (an event no queue is bound for
//! is an error, not a silent drop).
//!
//! ```sh
//! cargo run --example dam_producer
//! ```
//!
//! RabbitMQ at `AMQP_URL` (default `amqp://guest:guest@127.0.0.1:5672/%2f`;
//! `bash .ci/services.sh` starts one). The topology (exchange, one queue per consumer group of
//! `dam::CONSUMER_GROUPS`, dead-letter queues, the `events.audit` stream) is declared first,
//! idempotently. Run `cargo run --example dam_consumer` beside it to see the events handled.

use event_contracts::dam;
use event_contracts::runtime::transport::amqp::{AmqpBroker, AmqpConfig};
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

/// The catalog example stamped with the current time, written as DAM producers write `ts`
/// (the system's `time_format`, `2025-08-04T14:33:09Z`).
fn stamped<E: Event>() -> Result<E, Box<dyn std::error::Error>> {
    let mut json = serde_json::to_value(example::<E>()?)?;
    json["ts"] = serde_json::to_value(dam::now())?;
    Ok(serde_json::from_value(json)?)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    let broker = AmqpBroker::connect(&AmqpConfig::new(url)).await?;
    broker.declare::<dam::System>().await?;
    let publisher = Publisher::<dam::System, _>::new(broker.sink().await?, Meta::default());
    macro_rules! publish_all {
        ($($ty:ident),*) => {$(
            let event: dam::$ty = stamped()?;
            let id = publisher.publish(event).await?;
            println!(
                "published {:<26} to exchange `{}` message_id {id}",
                <dam::$ty as Event>::NAME,
                broker.config().exchange,
            );
        )*};
    }
    publish_all!(
        CaptureAlive,
        CaptureDeviceList,
        CaptureRecordingStarted,
        CaptureRecordingStopped,
        CaptureError,
        VideoIngestJobCreated,
        VideoIngestJobCompleted,
        VideoError,
        VideoReady,
        WebappAlive,
        WebappUserAction,
        WebappError,
        TenantRequest,
        TenantAccessDenied,
        TenantResourceChanged
    );
    Ok(())
}
