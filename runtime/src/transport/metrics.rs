//! Consumer metrics through the `metrics` facade: a no-op until the application installs a
//! recorder (`metrics-exporter-prometheus`, an OpenTelemetry bridge), so they cost a few
//! branches when nobody collects them.
//!
//! Names follow Prometheus conventions (`_total` counters, base units). Labels:
//! `messaging_system` (the transport: `kafka`, `rabbitmq`, `nats`, `redis`, `http`,
//! `memory`), `system` (the catalog system), `event` (the event's wire name; `unknown` when
//! the message could not be decoded), `group` (the consumer group), and `reason` on dead
//! letters and decode failures (a `DeadLetterReason`).

use std::sync::Arc;
use std::time::Duration;

use metrics::{Key, Label, Level, Metadata};

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

/// The labels every consumer metric of one delivery carries, with the keys of the two
/// metrics every handled delivery records. The `metrics` macros build their key (a label
/// vector and its hash) on every call, even when no recorder is installed: 1,700 of the
/// engine's ~9,700 instructions per delivery went to that. Here each key is built once per
/// event and consumer, and every delivery only asks the current recorder for the series
/// behind it, which registers the series on first use as the macros do (a handle kept from
/// ahead of the first use would expose a zero-valued series, and would miss a recorder
/// installed later). The event name and the group are shared strings, so each key's copy of
/// them is a reference count, not an allocation.
pub(crate) struct Labels {
    labels: [Label; 4],
    handled: Key,
    handler_duration: Key,
}

/// What a consumer keeps across its deliveries: its group label and the [`Labels`] of each
/// event it has handled.
pub(crate) struct LabelCache {
    group: Label,
    // Few distinct events flow through one consumer, so a short list scanned by name is
    // cheaper than hashing; past `EVENTS_KEPT` entries a new event's labels are made per
    // delivery.
    kept: Vec<Arc<Labels>>,
}

const EVENTS_KEPT: usize = 64;

/// What the macros would record as the metrics' origin: this module, at level INFO.
static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// Where a decision finds its labels: a consumer loop's own cache, or the one an HTTP
/// endpoint's requests share.
pub(crate) trait LabelSource {
    fn labels(
        &mut self,
        messaging_system: &'static str,
        system: &'static str,
        event: &str,
    ) -> Arc<Labels>;
}

impl LabelSource for &mut LabelCache {
    fn labels(
        &mut self,
        messaging_system: &'static str,
        system: &'static str,
        event: &str,
    ) -> Arc<Labels> {
        LabelCache::labels(self, messaging_system, system, event)
    }
}

impl LabelSource for &std::sync::Mutex<LabelCache> {
    fn labels(
        &mut self,
        messaging_system: &'static str,
        system: &'static str,
        event: &str,
    ) -> Arc<Labels> {
        // Held for a scan of a short list; a panic inside cannot leave the list half-made.
        self.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .labels(messaging_system, system, event)
    }
}

impl LabelCache {
    pub(crate) fn new(group: &str) -> Self {
        Self {
            group: Label::new("group", Arc::<str>::from(group)),
            kept: Vec::new(),
        }
    }

    /// The labels of one delivery of `event` (its wire name, `unknown` when it could not be
    /// decoded) of catalog system `system`, received through `messaging_system`.
    pub(crate) fn labels(
        &mut self,
        messaging_system: &'static str,
        system: &'static str,
        event: &str,
    ) -> Arc<Labels> {
        let kept = self.kept.iter().find(|l| {
            let [by, of, name, _] = &l.labels;
            name.value() == event && by.value() == messaging_system && of.value() == system
        });
        if let Some(labels) = kept {
            return labels.clone();
        }
        let labels = Arc::new(Labels::new([
            Label::from_static_parts("messaging_system", messaging_system),
            Label::from_static_parts("system", system),
            Label::new("event", Arc::<str>::from(event)),
            self.group.clone(),
        ]));
        if self.kept.len() < EVENTS_KEPT {
            self.kept.push(labels.clone());
        }
        labels
    }
}

impl Labels {
    fn new(labels: [Label; 4]) -> Self {
        Self {
            handled: Key::from_parts(HANDLED, labels.to_vec()),
            handler_duration: Key::from_parts(HANDLER_DURATION, labels.to_vec()),
            labels,
        }
    }

    fn with_reason(&self, reason: &'static str) -> Vec<Label> {
        let mut labels = self.labels.to_vec();
        labels.push(Label::from_static_parts("reason", reason));
        labels
    }

    pub(crate) fn handled(&self) {
        metrics::with_recorder(|r| r.register_counter(&self.handled, &METADATA)).increment(1);
    }

    pub(crate) fn retried(&self) {
        metrics::counter!(RETRIED, self.labels.iter()).increment(1);
    }

    pub(crate) fn dead_lettered(&self, reason: &'static str) {
        metrics::counter!(DEAD_LETTERED, self.with_reason(reason)).increment(1);
    }

    pub(crate) fn duplicate_skipped(&self) {
        metrics::counter!(DUPLICATES_SKIPPED, self.labels.iter()).increment(1);
    }

    pub(crate) fn unknown_skipped(&self) {
        metrics::counter!(UNKNOWN_SKIPPED, self.labels.iter()).increment(1);
    }

    pub(crate) fn decode_failed(&self, reason: &'static str) {
        metrics::counter!(DECODE_FAILURES, self.with_reason(reason)).increment(1);
    }

    pub(crate) fn handler_took(&self, duration: Duration) {
        metrics::with_recorder(|r| r.register_histogram(&self.handler_duration, &METADATA))
            .record(duration.as_secs_f64());
    }
}

/// One consumer's lag gauges, each destination's key built once. A transport that learns the
/// lag with every delivery (JetStream's `num_pending`) records it per delivery, and
/// [`record_consumer_lag`] builds its key (three labels, two of them copied) on every call:
/// about 900 instructions a delivery.
#[cfg_attr(not(feature = "nats"), allow(dead_code))]
pub(crate) struct ConsumerLag {
    messaging_system: &'static str,
    group: Arc<str>,
    kept: Vec<(Arc<str>, Key)>,
}

#[cfg_attr(not(feature = "nats"), allow(dead_code))]
impl ConsumerLag {
    pub(crate) fn new(messaging_system: &'static str, group: &str) -> Self {
        Self {
            messaging_system,
            group: Arc::from(group),
            kept: Vec::new(),
        }
    }

    pub(crate) fn record(&mut self, destination: &str, lag: u64) {
        if let Some((_, key)) = self.kept.iter().find(|(d, _)| **d == *destination) {
            return set_lag(key, lag);
        }
        let destination = Arc::<str>::from(destination);
        let key = lag_key(
            self.messaging_system,
            destination.clone(),
            self.group.clone(),
        );
        set_lag(&key, lag);
        // Few destinations feed one consumer; past `EVENTS_KEPT` each key is built per call.
        if self.kept.len() < EVENTS_KEPT {
            self.kept.push((destination, key));
        }
    }
}

/// The key of [`CONSUMER_LAG`]: the one definition of its labels.
fn lag_key(
    messaging_system: &'static str,
    destination: impl Into<metrics::SharedString>,
    group: impl Into<metrics::SharedString>,
) -> Key {
    Key::from_parts(
        CONSUMER_LAG,
        vec![
            Label::from_static_parts("messaging_system", messaging_system),
            Label::new("destination", destination),
            Label::new("group", group),
        ],
    )
}

/// Sets the gauge behind `key`, registering it on first use as the macros do.
fn set_lag(key: &Key, lag: u64) {
    metrics::with_recorder(|r| r.register_gauge(key, &METADATA)).set(lag as f64);
}

/// Records a consumer group's lag on one destination, as its broker reported it.
pub fn record_consumer_lag(
    messaging_system: &'static str,
    destination: &str,
    group: &str,
    lag: u64,
) {
    set_lag(
        &lag_key(messaging_system, destination.to_owned(), group.to_owned()),
        lag,
    );
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use metrics::{Counter, Gauge, Histogram, KeyName, Recorder, SharedString, Unit};

    use super::*;

    /// Notes each gauge key it is asked for.
    #[derive(Default)]
    struct Keys(Mutex<Vec<Key>>);

    impl Recorder for &Keys {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, _: &Key, _: &Metadata<'_>) -> Counter {
            Counter::noop()
        }
        fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
            self.0.lock().unwrap().push(key.clone());
            Gauge::noop()
        }
        fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
            Histogram::noop()
        }
    }

    #[test]
    fn a_kept_lag_key_is_the_one_record_consumer_lag_builds() {
        let keys = Keys::default();
        let recorder = &keys;
        let _guard = metrics::set_default_local_recorder(&recorder);
        let mut lag = ConsumerLag::new("nats", "billing");
        for destination in ["orders", "orders", "refunds", "orders"] {
            lag.record(destination, 3);
            record_consumer_lag("nats", destination, "billing", 3);
        }
        let keys = keys.0.lock().unwrap();
        assert_eq!(keys.len(), 8);
        for pair in keys.chunks(2) {
            assert_eq!(pair[0], pair[1], "kept key vs record_consumer_lag's key");
        }
        assert_eq!(lag.kept.len(), 2, "one key per destination");
    }
}
