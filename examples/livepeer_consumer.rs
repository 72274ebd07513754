//! Consumes the livepeer topic in the catalog's `analytics` consumer group: every event goes
//! to its typed handler and is printed; messages that cannot be handled are printed as they
//! go to `<topic>.dead-letter`. Offsets are committed only after a message was handled or
//! dead-lettered. Ctrl-C stops it gracefully (the message in hand is finished first).
//!
//! ```sh
//! bash .ci/services.sh                      # Kafka (tansu) on 127.0.0.1:9092
//! cargo run --example livepeer_consumer     # KAFKA_BROKERS / KAFKA_TOPIC / KAFKA_GROUP override
//! ```
//!
//! Publish something with `cargo run --example livepeer_producer`.

use std::time::Duration;

use event_contracts::livepeer::{
    self, AiStreamEvents, AiStreamStatus, CreateNewPayment, CreateSignedTicket, DiscoveryResults,
    ForwardedEvent, GatewayEnvelope, NetworkCapabilities, StreamIngestMetrics, StreamTrace,
};
use event_contracts::runtime::transport::kafka::{dead_letter_topic, KafkaConfig, KafkaSource};
use event_contracts::runtime::transport::{
    self, Context, DeadLetter, Delivery, HandlerResult, Policy, Shutdown, Source, TransportError,
};

type Error = Box<dyn std::error::Error + Send + Sync>;

struct Printer;

fn show<D>(event: &str, m: &GatewayEnvelope<D>, ctx: &Context) -> HandlerResult {
    println!(
        "handled {event:<22} id={} gateway={:?} attempt={} from {}",
        m.id, m.gateway, ctx.attempt, ctx.origin
    );
    Ok(())
}

impl livepeer::Handler for Printer {
    async fn stream_trace(&self, m: GatewayEnvelope<StreamTrace>, c: &Context) -> HandlerResult {
        show("stream_trace", &m, c)
    }
    async fn stream_ingest_metrics(
        &self,
        m: GatewayEnvelope<StreamIngestMetrics>,
        c: &Context,
    ) -> HandlerResult {
        show("stream_ingest_metrics", &m, c)
    }
    async fn ai_stream_events(
        &self,
        m: GatewayEnvelope<AiStreamEvents>,
        c: &Context,
    ) -> HandlerResult {
        show("ai_stream_events", &m, c)
    }
    async fn ai_stream_status(
        &self,
        m: GatewayEnvelope<AiStreamStatus>,
        c: &Context,
    ) -> HandlerResult {
        show("ai_stream_status", &m, c)
    }
    async fn discovery_results(
        &self,
        m: GatewayEnvelope<DiscoveryResults>,
        c: &Context,
    ) -> HandlerResult {
        show("discovery_results", &m, c)
    }
    async fn create_new_payment(
        &self,
        m: GatewayEnvelope<CreateNewPayment>,
        c: &Context,
    ) -> HandlerResult {
        show("create_new_payment", &m, c)
    }
    async fn network_capabilities(
        &self,
        m: GatewayEnvelope<NetworkCapabilities>,
        c: &Context,
    ) -> HandlerResult {
        show("network_capabilities", &m, c)
    }
    async fn create_signed_ticket(
        &self,
        m: GatewayEnvelope<CreateSignedTicket>,
        c: &Context,
    ) -> HandlerResult {
        show("create_signed_ticket", &m, c)
    }
    async fn forwarded_event(
        &self,
        m: GatewayEnvelope<ForwardedEvent>,
        c: &Context,
    ) -> HandlerResult {
        let name = format!("{:?} (relayed)", m.r#type);
        show(&name, &m, c)
    }
}

/// Prints each dead letter on its way out.
struct Logged(KafkaSource);

impl Source for Logged {
    type Token = <KafkaSource as Source>::Token;
    async fn next(&mut self) -> Result<Option<(Delivery, Self::Token)>, TransportError> {
        self.0.next().await
    }
    async fn ack(&mut self, token: Self::Token) -> Result<(), TransportError> {
        self.0.ack(token).await
    }
    async fn retry(
        &mut self,
        t: Self::Token,
        d: &Delivery,
        after: Duration,
    ) -> Result<(), TransportError> {
        println!(
            "retrying {} (attempt {}) in {after:?}",
            d.origin,
            d.attempt + 1
        );
        self.0.retry(t, d, after).await
    }
    async fn dead_letter(
        &mut self,
        t: Self::Token,
        d: &Delivery,
        letter: &DeadLetter,
    ) -> Result<(), TransportError> {
        self.0.dead_letter(t, d, letter).await?;
        println!(
            "dead-lettered {} to {}: {} ({})",
            d.origin,
            dead_letter_topic(&d.channel),
            letter.reason.as_str(),
            letter.error
        );
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let brokers = std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let group = std::env::var("KAFKA_GROUP").unwrap_or_else(|_| "analytics".into());
    let config = KafkaConfig::new(&brokers);
    let source = match std::env::var("KAFKA_TOPIC") {
        Ok(topic) => KafkaSource::connect(&config, &group, &[&topic]).await?,
        Err(_) => KafkaSource::for_group::<livepeer::System>(&config, &group).await?,
    };
    println!(
        "consuming {:?} as group {group} at {brokers}; Ctrl-C to stop",
        source.topics()
    );
    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            println!("stopping: finishing the message in hand");
            stop.trigger();
        }
    });
    let policy = Policy::new(group);
    let stats = transport::run::<livepeer::System, _, _, _>(
        Logged(source),
        &livepeer::Dispatch(Printer),
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
