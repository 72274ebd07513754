//! Consumes the `agents` events from NATS JetStream as one consumer group (its durable pull
//! consumers), logging every event it handles and every message it dead-letters, until Ctrl-C
//! (graceful shutdown: the message in hand is finished and acked; prefetched, unhandled ones
//! are left unacked and JetStream redelivers them).
//!
//! ```sh
//! cargo run --example agents_consumer                        # group notification-service
//! cargo run --example agents_consumer -- analytics-service   # any group of agents::CONSUMER_GROUPS
//! ```
//!
//! NATS at `NATS_URL` (default `nats://127.0.0.1:4222`; `bash .ci/services.sh` starts it).
//! Publish with `cargo run --example agents_producer`. Dead letters go to the stream
//! `DEAD_LETTER_<GROUP>` (subjects `dead-letter.<group>.>`). Finished events are remembered in
//! Redis at `REDIS_URL` (default `redis://127.0.0.1:6379`; `idempotency:*`, one day) by their
//! declared id (`event_id`, `message_id`, `alert_id`, or the idempotency key), so an event a
//! producer sent twice without `Nats-Msg-Id` is handled once.

use std::time::Duration;

use event_contracts::agents;
use event_contracts::runtime::transport::nats::{NatsConfig, NatsToken, NatsTransport};
use event_contracts::runtime::transport::redis::{RedisConfig, RedisIdempotency};
use event_contracts::runtime::transport::{
    self, Context, DeadLetter, Delivery, HandlerResult, Policy, RetryPolicy, Shutdown, Source,
    TransportError,
};
use event_contracts::Event;

/// Logs each event it is given.
struct Log;

impl Log {
    fn log<E: Event>(&self, context: &Context) -> HandlerResult {
        println!(
            "handled {:<30} (attempt {}, {}, traceparent {})",
            E::NAME,
            context.attempt,
            context.origin,
            context.traceparent.as_deref().unwrap_or("-")
        );
        Ok(())
    }
}

macro_rules! log_all {
    ($($method:ident: $ty:ident),* $(,)?) => {
        impl agents::Handler for Log {
            $(
                async fn $method(&self, _event: agents::$ty, context: &Context) -> HandlerResult {
                    self.log::<agents::$ty>(context)
                }
            )*
        }
    };
}

log_all! {
    ingest_document_processed: IngestDocumentProcessed,
    ingest_document_failed: IngestDocumentFailed,
    orchestrator_step_started: OrchestratorStepStarted,
    orchestrator_step_completed: OrchestratorStepCompleted,
    orchestrator_step_failed: OrchestratorStepFailed,
    usage_metered_api_call: UsageMeteredApiCall,
    usage_metered_model_inference: UsageMeteredModelInference,
    realtime_push_chat_message: RealtimePushChatMessage,
    realtime_push_notification: RealtimePushNotification,
    alerts_service_down: AlertsServiceDown,
    alerts_high_latency: AlertsHighLatency,
    alerts_quota_exceeded: AlertsQuotaExceeded,
}

/// The NATS source, printing each dead letter as it goes.
struct Logged<S>(S);

impl<S: Source<Token = NatsToken>> Source for Logged<S> {
    type Token = NatsToken;

    async fn next(&mut self) -> Result<Option<(Delivery, NatsToken)>, TransportError> {
        self.0.next().await
    }
    async fn ack(&mut self, token: NatsToken) -> Result<(), TransportError> {
        self.0.ack(token).await
    }
    async fn retry(
        &mut self,
        token: NatsToken,
        delivery: &Delivery,
        after: Duration,
    ) -> Result<(), TransportError> {
        println!(
            "retrying {} in {after:?} (attempt {} failed)",
            delivery.origin, delivery.attempt
        );
        self.0.retry(token, delivery, after).await
    }
    async fn dead_letter(
        &mut self,
        token: NatsToken,
        delivery: &Delivery,
        letter: &DeadLetter,
    ) -> Result<(), TransportError> {
        println!(
            "dead-lettered {} on {}: {} ({})",
            delivery.origin,
            delivery.channel,
            letter.reason.as_str(),
            letter.error
        );
        self.0.dead_letter(token, delivery, letter).await
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let group = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "notification-service".into());
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let nats = NatsTransport::connect(&NatsConfig::new(url.clone())).await?;
    let retry = RetryPolicy::default();
    let source = nats.source::<agents::System>(&group, &retry).await?;
    println!("consuming as {group} from {url}; Ctrl-C stops");

    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            println!("stopping: finishing the message in hand");
        }
        stop.trigger();
    });
    let redis_url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let idempotency =
        RedisIdempotency::connect(&RedisConfig::new(redis_url), Duration::from_secs(86_400))
            .await?;
    let policy = Policy::new(group.clone())
        .with_retry(retry)
        .with_idempotency(idempotency);
    let stats = transport::run::<agents::System, _, _, _>(
        Logged(source),
        &agents::Dispatch(Log),
        &policy,
        &shutdown,
    )
    .await?;
    nats.flush().await?;
    println!(
        "{group}: handled {}, skipped {}, retried {}, dead-lettered {}",
        stats.handled, stats.skipped, stats.retried, stats.dead_lettered
    );
    Ok(())
}
