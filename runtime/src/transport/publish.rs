//! Typed publishing: a generated system's events go through [`Publisher`] to any [`Sink`].

use std::future::Future;
use std::marker::PhantomData;

use tracing::Instrument;

use super::otel::PublishSpan;
use super::{trace, Contract, Outgoing, Publishes, TransportError, TRACEPARENT_HEADER};
use crate::{EncodeError, Event};

/// Envelope facts of one publish that the event does not carry. Unset fields take the
/// publisher's defaults, then generated values (a new UUID v4 id, the current time, a new
/// trace).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Meta {
    /// Message id (envelope `id` / `event_id`, CloudEvents `id`).
    pub id: Option<String>,
    /// The publishing service (audio `source`, livepeer `gateway`, CloudEvents `source`).
    pub source: Option<String>,
    /// CloudEvents `subject` (`run/{runId}`).
    pub subject: Option<String>,
    /// W3C `traceparent` of the publishing operation.
    pub traceparent: Option<String>,
    /// CloudEvents `seq` extension.
    pub seq: Option<u64>,
    /// Wire name of an event published through a fallback (`*`) schema.
    pub event_type: Option<String>,
}

impl Meta {
    /// `self`, with every unset field taken from `defaults`.
    pub fn or(&self, defaults: &Meta) -> Meta {
        Meta {
            id: self.id.clone().or_else(|| defaults.id.clone()),
            source: self.source.clone().or_else(|| defaults.source.clone()),
            subject: self.subject.clone().or_else(|| defaults.subject.clone()),
            traceparent: self
                .traceparent
                .clone()
                .or_else(|| defaults.traceparent.clone()),
            seq: self.seq.or(defaults.seq),
            event_type: self
                .event_type
                .clone()
                .or_else(|| defaults.event_type.clone()),
        }
    }

    /// The id, or a new UUID v4.
    pub fn id_or_new(&self) -> String {
        self.id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
    }

    /// The `seq` a system's envelope requires, or an encode error naming it.
    pub fn require_seq(seq: Option<u64>, pointer: &str) -> Result<u64, EncodeError> {
        seq.ok_or_else(|| {
            EncodeError::Invalid(crate::Violations(vec![crate::Violation {
                pointer: pointer.to_owned(),
                keyword: "required".into(),
                message: "the envelope needs a sequence number; set `seq` in the publisher's Meta"
                    .into(),
            }]))
        })
    }

    /// A field the system's envelope requires, or an encode error naming it.
    pub fn require<'a>(
        field: &'a Option<String>,
        pointer: &str,
        what: &str,
    ) -> Result<&'a str, EncodeError> {
        field.as_deref().ok_or_else(|| {
            EncodeError::Invalid(crate::Violations(vec![crate::Violation {
                pointer: pointer.to_owned(),
                keyword: "required".into(),
                message: format!("the envelope needs {what}; set it in the publisher's Meta"),
            }]))
        })
    }
}

/// A transport's publishing half: sends one message and waits for the broker to confirm it.
pub trait Sink: Send + Sync + 'static {
    /// The OpenTelemetry `messaging.system` of the transport (`kafka`, `rabbitmq`, …), for
    /// publish spans.
    const MESSAGING_SYSTEM: &'static str = "unknown";

    fn send(&self, message: Outgoing) -> impl Future<Output = Result<(), TransportError>> + Send;

    /// Called by [`Publisher::new`] with the system it publishes: a sink whose wire layout
    /// the contract declares (a Redis stream entry's fields, [`Contract::STREAM_ENTRY`]) takes
    /// it from there, so typed publishing always writes what the manifest says. Default:
    /// nothing to take.
    fn bind_contract<C: Contract>(&mut self) {}
}

/// Why a publish failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Refused before it left: the event or envelope breaks its schema.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The broker did not confirm it.
    #[error(transparent)]
    Transport(#[from] TransportError),
}

/// Publishes system `C`'s events on a transport: one typed call per event, envelope, channel,
/// ids and trace context applied, validated before it leaves.
pub struct Publisher<C: Contract, S: Sink> {
    sink: S,
    defaults: Meta,
    system: PhantomData<fn() -> C>,
}

impl<C: Contract, S: Sink> Publisher<C, S> {
    /// `defaults` fills what each publish leaves unset (typically `source`).
    pub fn new(mut sink: S, defaults: Meta) -> Self {
        sink.bind_contract::<C>();
        Self {
            sink,
            defaults,
            system: PhantomData,
        }
    }

    pub fn sink(&self) -> &S {
        &self.sink
    }

    /// Publishes `event` with the publisher's defaults; returns the message id.
    pub async fn publish<E: Event>(&self, event: E) -> Result<String, PublishError>
    where
        C: Publishes<E>,
    {
        self.publish_with(event, &Meta::default()).await
    }

    /// Publishes `event` with per-message envelope facts (`ctx.meta()` inside a handler).
    pub async fn publish_with<E: Event>(
        &self,
        event: E,
        meta: &Meta,
    ) -> Result<String, PublishError>
    where
        C: Publishes<E>,
    {
        let mut meta = meta.or(&self.defaults);
        let requested = meta.traceparent.take();
        let event_name = meta.event_type.clone();
        let span = PublishSpan::start(
            S::MESSAGING_SYSTEM,
            C::SYSTEM,
            event_name.as_deref().unwrap_or(E::NAME),
            requested.as_deref(),
        );
        // With feature `otel` the message carries its publish span's context; otherwise the
        // requested trace context, or a new trace.
        let traceparent = span
            .traceparent()
            .or(requested)
            .unwrap_or_else(|| trace::child_or_new(None));
        meta.traceparent = Some(traceparent.clone());
        let outgoing = C::wrap(event, &meta).and_then(|message| C::outgoing(&message));
        let mut outgoing = match outgoing {
            Ok(outgoing) => outgoing,
            Err(e) => {
                span.failed("encode");
                return Err(e.into());
            }
        };
        span.destination(&outgoing);
        if outgoing.headers.get(TRACEPARENT_HEADER).is_none() {
            outgoing.headers.insert(TRACEPARENT_HEADER, traceparent);
        }
        self.send(outgoing, &span).await
    }

    /// Publishes a whole message as built (relayed or forwarded traffic).
    pub async fn publish_message(&self, message: &C::Message) -> Result<String, PublishError> {
        let carried = C::traceparent(message);
        let span = PublishSpan::start(
            S::MESSAGING_SYSTEM,
            C::SYSTEM,
            C::event_name(message),
            carried.as_deref(),
        );
        let mut outgoing = match C::outgoing(message) {
            Ok(outgoing) => outgoing,
            Err(e) => {
                span.failed("encode");
                return Err(e.into());
            }
        };
        span.destination(&outgoing);
        if outgoing.headers.get(TRACEPARENT_HEADER).is_none() {
            let traceparent = span
                .traceparent()
                .or(carried)
                .or_else(|| self.defaults.traceparent.clone())
                .unwrap_or_else(|| trace::child_or_new(None));
            outgoing.headers.insert(TRACEPARENT_HEADER, traceparent);
        }
        self.send(outgoing, &span).await
    }

    async fn send(&self, outgoing: Outgoing, span: &PublishSpan) -> Result<String, PublishError> {
        let id = outgoing.message_id.clone();
        if let Err(e) = self
            .sink
            .send(outgoing)
            .instrument(span.span().clone())
            .await
        {
            span.failed("transport");
            return Err(e.into());
        }
        Ok(id)
    }
}
