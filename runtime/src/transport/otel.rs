//! OpenTelemetry messaging spans (feature `otel`): one `send {destination}` span (kind
//! PRODUCER) per published message and one `process {destination}` span (kind CONSUMER) per
//! handled delivery, attributed by the OpenTelemetry messaging semantic conventions.
//!
//! Spans are plain `tracing` spans; `tracing-opentelemetry` turns them into OpenTelemetry
//! spans when the application installs its layer, so the runtime never depends on an SDK or
//! an exporter. A consumer span's parent is the incoming `traceparent` (the transport header,
//! else what the envelope carries: an envelope property, a CloudEvents extension); a
//! publish sends its own span's context as the outgoing `traceparent`.
//!
//! Without the feature every function here is a no-op returning nothing, and publishing and
//! consuming pass `traceparent` along exactly as before. With the feature but no
//! OpenTelemetry layer installed, spans have no OpenTelemetry context and the same
//! pass-through applies.

use tracing::Span;

/// The `messaging.system` of a delivery, from the transport prefix of its origin
/// (`redis:…`, `amqp:…`): the semantic conventions' names where they define one.
pub(crate) fn messaging_system_of_origin(origin: &str) -> &'static str {
    // A byte scan: `split(':')` sets up a searcher that costs more than these few bytes.
    let scheme = match origin.bytes().position(|b| b == b':') {
        Some(end) => &origin[..end],
        None => origin,
    };
    match scheme {
        "kafka" => "kafka",
        "amqp" => "rabbitmq",
        "nats" => "nats",
        "redis" => "redis",
        "http" => "http",
        "memory" => "memory",
        _ => "unknown",
    }
}

/// How one delivery ended, as recorded on its span and in the metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Ack,
    Skip,
    Duplicate,
    Retry,
    DeadLetter,
}

impl Outcome {
    // Only spans record the outcome's name; without `otel` nothing reads it.
    #[cfg_attr(not(feature = "otel"), allow(dead_code))]
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Ack => "ack",
            Outcome::Skip => "skip",
            Outcome::Duplicate => "duplicate",
            Outcome::Retry => "retry",
            Outcome::DeadLetter => "dead_letter",
        }
    }
}

/// The span of one publish. Its name and destination are set once the message is encoded
/// ([`PublishSpan::destination`]); its context is what the message carries as `traceparent`.
pub(crate) struct PublishSpan {
    span: Span,
    #[cfg(feature = "otel")]
    messaging_system: &'static str,
}

impl PublishSpan {
    /// Starts the span of publishing `event` of `system` through `messaging_system`. Its
    /// parent is `traceparent` when that is valid, else the current span.
    #[cfg_attr(not(feature = "otel"), allow(unused_variables))]
    pub(crate) fn start(
        messaging_system: &'static str,
        system: &'static str,
        event: &str,
        traceparent: Option<&str>,
    ) -> Self {
        #[cfg(feature = "otel")]
        {
            // As in `ProcessSpan::start`: no fields evaluated for the `log` fallback.
            if !tracing::span_enabled!(tracing::Level::INFO) {
                return Self {
                    span: Span::none(),
                    messaging_system,
                };
            }
            let span = tracing::info_span!(
                "send",
                otel.kind = "producer",
                messaging.system = messaging_system,
                messaging.operation.type = "send",
                messaging.operation.name = "send",
                messaging.destination.name = tracing::field::Empty,
                messaging.message.id = tracing::field::Empty,
                messaging.kafka.message.key = tracing::field::Empty,
                messaging.rabbitmq.destination.routing_key = tracing::field::Empty,
                event_contracts.system = system,
                event_contracts.event = event,
                otel.status_code = tracing::field::Empty,
                error.type = tracing::field::Empty,
            );
            if !span.is_disabled() {
                if let Some(parent) = traceparent.and_then(imp::remote_context) {
                    // Fails only when no OpenTelemetry layer is installed: then nothing is
                    // traced.
                    let _ = tracing_opentelemetry::OpenTelemetrySpanExt::set_parent(&span, parent);
                }
            }
            Self {
                span,
                messaging_system,
            }
        }
        #[cfg(not(feature = "otel"))]
        Self { span: Span::none() }
    }

    /// The span's own context as a `traceparent`, when OpenTelemetry records it.
    pub(crate) fn traceparent(&self) -> Option<String> {
        #[cfg(feature = "otel")]
        {
            imp::traceparent_of(&self.span)
        }
        #[cfg(not(feature = "otel"))]
        None
    }

    /// Names the span after the destination the encoded message goes to.
    #[cfg_attr(not(feature = "otel"), allow(unused_variables))]
    pub(crate) fn destination(&self, outgoing: &super::Outgoing) {
        #[cfg(feature = "otel")]
        {
            use opentelemetry::trace::TraceContextExt;
            use tracing_opentelemetry::OpenTelemetrySpanExt;
            // Nobody records the span: its name would be formatted for nothing.
            if self.span.is_disabled() {
                return;
            }
            // The span was started to learn its id before the message existed, so its name
            // is set on the started span rather than through `otel.name`.
            self.span
                .context()
                .span()
                .update_name(format!("send {}", outgoing.channel));
            self.span
                .record("messaging.destination.name", outgoing.channel.as_str());
            self.span
                .record("messaging.message.id", outgoing.message_id.as_str());
            self.record_transport_fields(outgoing.channel.as_str(), outgoing.key.as_deref());
        }
    }

    #[cfg(feature = "otel")]
    fn record_transport_fields(&self, channel: &str, key: Option<&str>) {
        match self.messaging_system {
            "kafka" => {
                if let Some(key) = key {
                    self.span.record("messaging.kafka.message.key", key);
                }
            }
            "rabbitmq" => {
                self.span
                    .record("messaging.rabbitmq.destination.routing_key", channel);
            }
            _ => {}
        }
    }

    /// Marks the publish as failed.
    #[cfg_attr(not(feature = "otel"), allow(unused_variables))]
    pub(crate) fn failed(&self, error_type: &str) {
        #[cfg(feature = "otel")]
        {
            self.span.record("otel.status_code", "ERROR");
            self.span.record("error.type", error_type);
        }
    }

    pub(crate) fn span(&self) -> &Span {
        &self.span
    }
}

/// The span of handling one delivery.
pub(crate) struct ProcessSpan {
    span: Span,
}

impl ProcessSpan {
    /// Starts the span of handling `delivery` for consumer group `group`, parented by the
    /// incoming `traceparent`. `message_id` is only called when the span is recorded: with no
    /// subscriber interested, the span's name, message id and parent cost nothing.
    #[cfg_attr(not(feature = "otel"), allow(unused_variables))]
    pub(crate) fn start(
        delivery: &super::Delivery,
        group: &str,
        system: &'static str,
        event: Option<&str>,
        message_id: impl FnOnce() -> Option<String>,
        traceparent: Option<&str>,
    ) -> Self {
        #[cfg(feature = "otel")]
        {
            // Asked first: with `tracing`'s `log` feature on (tower and others turn it on),
            // `info_span!` evaluates every field of a disabled span for the `log` fallback,
            // so with no subscriber the span still formatted its message id and parsed its
            // origin on every delivery (about 800 instructions).
            if !tracing::span_enabled!(tracing::Level::INFO) {
                return Self { span: Span::none() };
            }
            let span = tracing::info_span!(
                "process",
                otel.name = %format_args!("process {}", delivery.channel),
                otel.kind = "consumer",
                messaging.system = messaging_system_of_origin(&delivery.origin),
                messaging.operation.type = "process",
                messaging.operation.name = "process",
                messaging.destination.name = delivery.channel.as_str(),
                messaging.consumer.group.name = group,
                messaging.message.id = message_id().as_deref(),
                messaging.message.body.size = delivery.payload.len() as u64,
                event_contracts.system = system,
                event_contracts.event = event,
                event_contracts.attempt = delivery.attempt,
                event_contracts.origin = delivery.origin.as_str(),
                event_contracts.outcome = tracing::field::Empty,
                event_contracts.dead_letter.reason = tracing::field::Empty,
                otel.status_code = tracing::field::Empty,
                error.type = tracing::field::Empty,
            );
            if !span.is_disabled() {
                if let Some(parent) = traceparent.and_then(imp::remote_context) {
                    // Fails only when no OpenTelemetry layer is installed: then nothing is
                    // traced.
                    let _ = tracing_opentelemetry::OpenTelemetrySpanExt::set_parent(&span, parent);
                }
            }
            Self { span }
        }
        #[cfg(not(feature = "otel"))]
        Self { span: Span::none() }
    }

    /// Records how the delivery ended: a retry or a dead letter is an error
    /// (`error.type` = the dead-letter reason, or `retry`).
    #[cfg_attr(not(feature = "otel"), allow(unused_variables))]
    pub(crate) fn finish(&self, outcome: Outcome, dead_letter_reason: Option<&str>) {
        #[cfg(feature = "otel")]
        {
            self.span
                .record("event_contracts.outcome", outcome.as_str());
            match outcome {
                Outcome::Retry => {
                    self.span.record("otel.status_code", "ERROR");
                    self.span.record("error.type", "retry");
                }
                Outcome::DeadLetter => {
                    let reason = dead_letter_reason.unwrap_or("dead_letter");
                    self.span.record("otel.status_code", "ERROR");
                    self.span.record("error.type", reason);
                    self.span
                        .record("event_contracts.dead_letter.reason", reason);
                }
                Outcome::Ack | Outcome::Skip | Outcome::Duplicate => {}
            }
        }
    }

    pub(crate) fn span(&self) -> &Span {
        &self.span
    }
}

/// The current span's context as a `traceparent` (inside a handler: its delivery's process
/// span), when OpenTelemetry records it.
pub(crate) fn current_traceparent() -> Option<String> {
    #[cfg(feature = "otel")]
    {
        imp::traceparent_of(&Span::current())
    }
    #[cfg(not(feature = "otel"))]
    None
}

#[cfg(feature = "otel")]
mod imp {
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    use crate::transport::trace::TraceParent;

    /// An OpenTelemetry context whose remote parent is `traceparent`; `None` when it is not
    /// a valid W3C `traceparent` (then the span keeps its local parent).
    pub(super) fn remote_context(traceparent: &str) -> Option<opentelemetry::Context> {
        let parsed = TraceParent::parse(traceparent)?;
        let context = SpanContext::new(
            TraceId::from_hex(&parsed.trace_id).ok()?,
            SpanId::from_hex(&parsed.parent_id).ok()?,
            TraceFlags::new(parsed.flags),
            true,
            TraceState::NONE,
        );
        Some(opentelemetry::Context::new().with_remote_span_context(context))
    }

    pub(super) fn traceparent_of(span: &tracing::Span) -> Option<String> {
        let context = span.context();
        let span_ref = context.span();
        let span_context = span_ref.span_context();
        span_context.is_valid().then(|| {
            format!(
                "00-{}-{}-{:02x}",
                span_context.trace_id(),
                span_context.span_id(),
                span_context.trace_flags().to_u8()
            )
        })
    }
}
