//! Consumer metrics through the `metrics` facade: a no-op until the application installs a
//! recorder (`metrics-exporter-prometheus`, an OpenTelemetry bridge), so they cost a few
//! branches when nobody collects them.
//!
//! Names follow Prometheus conventions (`_total` counters, base units). Labels:
//! `messaging_system` (the transport: `kafka`, `rabbitmq`, `nats`, `redis`, `http`,
//! `memory`), `system` (the catalog system), `event` (the event's wire name; `unknown` when
//! the message could not be decoded), `group` (the consumer group), and `reason` on dead
//! letters and decode failures (a `DeadLetterReason`).

use std::time::Duration;

/// Deliveries whose handler succeeded.
pub const HANDLED: &str = "event_contracts_messages_handled_total";
/// Deliveries scheduled for redelivery (a handler asked to retry, or the idempotency store
/// was busy or unreachable).
pub const RETRIED: &str = "event_contracts_messages_retried_total";
/// Deliveries dead-lettered, by `reason`.
pub const DEAD_LETTERED: &str = "event_contracts_messages_dead_lettered_total";
/// Copies of finished work skipped by the idempotency store.
pub const DUPLICATES_SKIPPED: &str = "event_contracts_duplicates_skipped_total";
/// Unknown events skipped under `UnknownPolicy::Skip`.
pub const UNKNOWN_SKIPPED: &str = "event_contracts_unknown_events_skipped_total";
/// Deliveries that were not a valid message of the system (malformed, unknown event,
/// invalid), by `reason`; each is also dead-lettered.
pub const DECODE_FAILURES: &str = "event_contracts_decode_failures_total";
/// How long handlers took, in seconds (successful or not).
pub const HANDLER_DURATION: &str = "event_contracts_handler_duration_seconds";
/// Messages a consumer group has not yet settled, as the broker reports it (Redis stream
/// group lag, JetStream consumer `num_pending`), by `messaging_system`, `destination`,
/// `group`.
pub const CONSUMER_LAG: &str = "event_contracts_consumer_lag";

/// The labels every consumer metric of one delivery carries.
pub(crate) struct Labels<'a> {
    pub messaging_system: &'static str,
    pub system: &'static str,
    pub event: &'a str,
    pub group: &'a str,
}

impl Labels<'_> {
    fn pairs(&self) -> [(&'static str, String); 4] {
        [
            ("messaging_system", self.messaging_system.to_owned()),
            ("system", self.system.to_owned()),
            ("event", self.event.to_owned()),
            ("group", self.group.to_owned()),
        ]
    }

    pub(crate) fn handled(&self) {
        metrics::counter!(HANDLED, &self.pairs()).increment(1);
    }

    pub(crate) fn retried(&self) {
        metrics::counter!(RETRIED, &self.pairs()).increment(1);
    }

    pub(crate) fn dead_lettered(&self, reason: &'static str) {
        let [a, b, c, d] = self.pairs();
        metrics::counter!(DEAD_LETTERED, &[a, b, c, d, ("reason", reason.to_owned())]).increment(1);
    }

    pub(crate) fn duplicate_skipped(&self) {
        metrics::counter!(DUPLICATES_SKIPPED, &self.pairs()).increment(1);
    }

    pub(crate) fn unknown_skipped(&self) {
        metrics::counter!(UNKNOWN_SKIPPED, &self.pairs()).increment(1);
    }

    pub(crate) fn decode_failed(&self, reason: &'static str) {
        let [a, b, c, d] = self.pairs();
        metrics::counter!(
            DECODE_FAILURES,
            &[a, b, c, d, ("reason", reason.to_owned())]
        )
        .increment(1);
    }

    pub(crate) fn handler_took(&self, duration: Duration) {
        metrics::histogram!(HANDLER_DURATION, &self.pairs()).record(duration.as_secs_f64());
    }
}

/// Records a consumer group's lag on one destination, as its broker reported it.
pub fn record_consumer_lag(
    messaging_system: &'static str,
    destination: &str,
    group: &str,
    lag: u64,
) {
    metrics::gauge!(
        CONSUMER_LAG,
        "messaging_system" => messaging_system,
        "destination" => destination.to_owned(),
        "group" => group.to_owned(),
    )
    .set(lag as f64);
}
