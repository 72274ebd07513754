//! Consumes one DAM consumer group's queue from RabbitMQ, logging every event it handles and
//! every message it retries or dead-letters, until Ctrl-C (graceful shutdown: the message in
//! hand is finished and acknowledged; prefetched, unhandled ones go back to the queue).
//!
//! ```sh
//! cargo run --example dam_consumer                # group observability (binding `#`)
//! cargo run --example dam_consumer -- video-api   # any group of dam::CONSUMER_GROUPS
//! ```
//!
//! RabbitMQ at `AMQP_URL` (default `amqp://guest:guest@127.0.0.1:5672/%2f`;
//! `bash .ci/services.sh` starts one). Publish with `cargo run --example dam_producer`.
//! Dead letters land in `events.<group>.dead-letter`; the `tenant.*` audit trail is the
//! stream `events.audit`.

use std::time::Duration;

use event_contracts::dam;
use event_contracts::runtime::transport::amqp::{AmqpBroker, AmqpConfig, AmqpSource, AmqpToken};
use event_contracts::runtime::transport::{
    self, Context, DeadLetter, Delivery, HandlerResult, Policy, Shutdown, Source, TransportError,
};
use event_contracts::Event;

/// Logs each event it is given.
struct Log;

impl Log {
    fn log<E: Event + std::fmt::Debug>(&self, _message: &E, context: &Context) {
        println!(
            "handled {:<26} (attempt {}, {}, traceparent {})",
            E::NAME,
            context.attempt,
            context.origin,
            context.traceparent.as_deref().unwrap_or("-")
        );
    }
}

macro_rules! log_all {
    ($($method:ident: $ty:ident),* $(,)?) => {
        impl dam::Handler for Log {
            $(
                async fn $method(&self, message: dam::$ty, context: &Context) -> HandlerResult {
                    self.log(&message, context);
                    Ok(())
                }
            )*
        }
    };
}

log_all! {
    capture_alive: CaptureAlive,
    capture_device_list: CaptureDeviceList,
    capture_recording_started: CaptureRecordingStarted,
    capture_recording_stopped: CaptureRecordingStopped,
    capture_error: CaptureError,
    video_ingest_job_created: VideoIngestJobCreated,
    video_ingest_job_completed: VideoIngestJobCompleted,
    video_error: VideoError,
    video_ready: VideoReady,
    webapp_alive: WebappAlive,
    webapp_user_action: WebappUserAction,
    webapp_error: WebappError,
    tenant_request: TenantRequest,
    tenant_access_denied: TenantAccessDenied,
    tenant_resource_changed: TenantResourceChanged,
}

/// The AMQP source, logging what it retries and dead-letters.
struct Logged(AmqpSource, String);

impl Source for Logged {
    type Token = AmqpToken;

    async fn next(&mut self) -> Result<Option<(Delivery, AmqpToken)>, TransportError> {
        self.0.next().await
    }
    async fn ack(&mut self, token: AmqpToken) -> Result<(), TransportError> {
        self.0.ack(token).await
    }
    async fn retry(
        &mut self,
        token: AmqpToken,
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
        token: AmqpToken,
        delivery: &Delivery,
        letter: &DeadLetter,
    ) -> Result<(), TransportError> {
        println!(
            "dead-lettered {} to {}: {} ({})",
            delivery.origin,
            self.1,
            letter.reason.as_str(),
            letter.error
        );
        self.0.dead_letter(token, delivery, letter).await
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    let group = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "observability".into());
    if !dam::CONSUMER_GROUPS.iter().any(|g| g.name == group) {
        let names: Vec<&str> = dam::CONSUMER_GROUPS.iter().map(|g| g.name).collect();
        return Err(format!("unknown group `{group}`; one of {names:?}").into());
    }
    let broker = AmqpBroker::connect(&AmqpConfig::new(url)).await?;
    broker.declare::<dam::System>().await?;
    let source = broker.source(&group).await?;
    let dead = broker.config().dead_letter_queue(&group);
    println!(
        "consuming `{}` as group `{group}`; Ctrl-C stops",
        source.queue()
    );
    let policy = Policy::new(group.as_str());
    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            println!("Ctrl-C: finishing the message in hand, then stopping");
        }
        stop.trigger();
    });
    let stats = transport::run::<dam::System, _, _, _>(
        Logged(source, dead),
        &dam::Dispatch(Log),
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
