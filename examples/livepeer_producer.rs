//! Publishes one of every catalogued livepeer event (the first example of each schema, plus
//! a relayed runner status through the gateway's forwarding rules) to Kafka, each with its
//! envelope, record key = envelope `id` and a `traceparent` header.
//!
//! ```sh
//! bash .ci/services.sh                      # Kafka (tansu) on 127.0.0.1:9092
//! cargo run --example livepeer_producer     # KAFKA_BROKERS / KAFKA_TOPIC override the defaults
//! ```
//!
//! The topic defaults to the catalog's `livepeer-gateway-events`; run
//! `cargo run --example livepeer_consumer` to see them handled.

use event_contracts::livepeer::{
    self, AiStreamEvents, AiStreamStatus, CreateNewPayment, CreateSignedTicket, DiscoveryResults,
    ForwardedEvent, NetworkCapabilities, StreamIngestMetrics, StreamTrace,
};
use event_contracts::runtime::transport::kafka::forward::{Forwarder, StreamInfo};
use event_contracts::runtime::transport::kafka::{KafkaConfig, KafkaSink};
use event_contracts::runtime::transport::{Meta, Publisher};
use event_contracts::Event;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The catalog example; a `data.timestamp` it carries is set to now, in Unix milliseconds as the
/// gateway writes it (the system's `time_format`).
fn example<E: Event>() -> Result<E, Error> {
    let schema = event_contracts::SCHEMAS
        .documents()
        .get(E::SCHEMA_ID)
        .ok_or("schema not embedded")?
        .to_string();
    let schema: serde_json::Value = serde_json::from_str(&schema)?;
    let mut data = schema["examples"][0].clone();
    if data.get("timestamp").is_some_and(serde_json::Value::is_i64) {
        data["timestamp"] = livepeer::now().into();
    }
    Ok(serde_json::from_value(data)?)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let brokers = std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let topic = std::env::var("KAFKA_TOPIC").unwrap_or_else(|_| "livepeer-gateway-events".into());
    let config = KafkaConfig::new(&brokers);
    config.ensure_topics(&[&topic]).await?;
    let sink = KafkaSink::connect(&config).await?.with_topic(&topic);
    let gateway = "gateway-example:8935";
    let publisher = Publisher::<livepeer::System, _>::new(
        sink,
        Meta {
            source: Some(gateway.into()),
            ..Meta::default()
        },
    );
    macro_rules! publish {
        ($($ty:ty),*) => {$(
            let id = publisher.publish(example::<$ty>()?).await?;
            println!("published {:<22} id={id}", <$ty as Event>::NAME);
        )*};
    }
    publish!(
        StreamTrace,
        StreamIngestMetrics,
        AiStreamEvents,
        AiStreamStatus,
        DiscoveryResults,
        CreateNewPayment,
        NetworkCapabilities,
        CreateSignedTicket
    );
    let id = publisher
        .publish_with(
            example::<ForwardedEvent>()?,
            &Meta {
                event_type: Some("stream_heartbeat".into()),
                ..Meta::default()
            },
        )
        .await?;
    println!("published {:<22} id={id}", "stream_heartbeat (*)");

    // What the gateway does with an event relayed by the runner: a status snapshot.
    let mut forwarder = Forwarder::new(gateway);
    let stream = StreamInfo {
        stream_id: "stream-example".into(),
        request_id: "req-example".into(),
        pipeline_id: "pip-example".into(),
        orchestrator: Some((
            "0x3b28a7d785356dc67c7970666747e042305bfb79".into(),
            "https://orch.example:8935".into(),
        )),
    };
    let relayed = forwarder.forward::<livepeer::System>(
        &stream,
        br#"{"queue_event_type":"ai_stream_events","event":{"type":"status","inference_status":{"fps":24.0}}}"#,
    )?;
    let id = publisher.publish_message(&relayed).await?;
    println!(
        "published {:<22} id={id} (forwarded runner status)",
        relayed.r#type
    );
    println!("done: 10 messages on topic {topic} at {brokers}");
    Ok(())
}
