//! What every transport binding shares: the message shapes on the wire ([`Outgoing`],
//! [`Delivery`], [`Headers`]), the per-system [`Contract`] generated code implements, typed
//! publishing ([`Publisher`]), the consumer engine ([`run`] over a transport's [`Source`]) with
//! its retry and dead-letter rules, trace context, idempotency and shutdown.
//!
//! A transport (Kafka, Redis Streams, AMQP, NATS JetStream, HTTP, or [`memory`]) only moves
//! bytes: it implements [`Sink`] to publish and [`Source`] to receive, acknowledge, redeliver
//! and dead-letter. Decoding, validation, dispatch, retry decisions and dead-letter reasons
//! are decided here once, so every transport behaves the same way.
//!
//! Invariants:
//! - a delivery is acknowledged only after its handler succeeded, or after its dead-letter
//!   copy (original bytes and headers, plus the reason) was confirmed by the broker;
//! - the attempt count comes from the broker or a header, never only from process memory;
//! - nothing loops forever: after [`RetryPolicy::max_attempts`] a failing message is
//!   dead-lettered.

mod engine;
mod headers;
pub mod memory;
mod publish;
pub mod trace;

#[cfg(feature = "amqp")]
pub mod amqp;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "kafka")]
pub mod kafka;
#[cfg(feature = "nats")]
pub mod nats;
#[cfg(feature = "redis")]
pub mod redis;

use std::future::Future;
use std::time::Duration;

pub use engine::{process, run, Disposition, Policy, Source, Stats};
pub use headers::Headers;
pub use publish::{Meta, PublishError, Publisher, Sink};

use crate::{DecodeError, EncodeError, Event, EventInfo};

/// Boxed error of a handler or a transport.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// One message ready for the wire, built by generated code from a typed event.
#[derive(Clone, Debug, PartialEq)]
pub struct Outgoing {
    /// Topic, stream, routing key, subject or path.
    pub channel: String,
    /// Partitioning key where the transport has one (Kafka record key = envelope `id`).
    pub key: Option<String>,
    /// The event's unique id: `Nats-Msg-Id`, AMQP `message-id`, CloudEvents `id`.
    pub message_id: String,
    /// The encoded, validated message (envelope included).
    pub payload: Vec<u8>,
    /// Transport headers (`traceparent`, `content-type`).
    pub headers: Headers,
}

/// One message as a broker delivered it.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    /// Topic, stream, routing key, subject or path it arrived on.
    pub channel: String,
    pub key: Option<Vec<u8>>,
    /// The bytes exactly as received.
    pub payload: Vec<u8>,
    /// The headers exactly as received.
    pub headers: Headers,
    /// 1 on first delivery; from the broker's delivery count or the [`ATTEMPT_HEADER`].
    pub attempt: u32,
    /// Where the message was read, for dead letters and logs (`redis:stream:audio-ingest/1-0`).
    pub origin: String,
}

/// Header carrying the attempt count on transports whose broker does not count deliveries
/// (a retry is republished with this header incremented).
pub const ATTEMPT_HEADER: &str = "x-attempt";
/// W3C Trace Context header.
pub const TRACEPARENT_HEADER: &str = "traceparent";

/// What a handler sees besides the event.
#[derive(Clone, Debug)]
pub struct Context {
    pub channel: String,
    pub attempt: u32,
    pub origin: String,
    pub headers: Headers,
    /// The incoming trace context (header first, then the envelope's own field); publish
    /// follow-up events with [`Context::meta`] to carry it on.
    pub traceparent: Option<String>,
}

impl Context {
    /// Publishing options for a follow-up event: same trace, new span.
    pub fn meta(&self) -> Meta {
        Meta {
            traceparent: Some(trace::child_or_new(self.traceparent.as_deref())),
            ..Meta::default()
        }
    }
}

/// Why a handler failed.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Transient: retry with backoff until the retry limit, then dead-letter.
    #[error("{0}")]
    Retry(BoxError),
    /// Permanent: dead-letter now.
    #[error("{0}")]
    Reject(BoxError),
}

impl HandlerError {
    pub fn retry(error: impl Into<BoxError>) -> Self {
        HandlerError::Retry(error.into())
    }
    pub fn reject(error: impl Into<BoxError>) -> Self {
        HandlerError::Reject(error.into())
    }
}

pub type HandlerResult = Result<(), HandlerError>;

/// Exponential backoff with jitter, and the limit after which a message is dead-lettered.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Deliveries in all, the first included; the last failure dead-letters.
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub multiplier: f64,
    /// Fraction of the backoff drawn at random and added or removed (0.2 = ±20%).
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
            multiplier: 2.0,
            jitter: 0.2,
        }
    }
}

impl RetryPolicy {
    /// The wait before delivery `attempt + 1`, after delivery `attempt` (1-based) failed.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .multiplier
            .powi(attempt.saturating_sub(1).min(62) as i32);
        let base = (self.initial_backoff.as_secs_f64() * exp).min(self.max_backoff.as_secs_f64());
        let spread = base * self.jitter.clamp(0.0, 1.0);
        let jittered = base - spread + 2.0 * spread * fastrand::f64();
        Duration::from_secs_f64(jittered.clamp(0.0, self.max_backoff.as_secs_f64()))
    }
}

/// What to do with a well-formed message whose event name the catalog does not know.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnknownPolicy {
    /// Dead-letter it with reason `unknown-event` (the default: it was written for a newer
    /// catalog, and someone must look at it).
    #[default]
    DeadLetter,
    /// Log it and acknowledge it.
    Skip,
}

/// Why a message was dead-lettered; its string is the `x-dead-letter-reason` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeadLetterReason {
    /// Not JSON.
    Malformed,
    /// Breaks its schema (envelope or payload).
    Invalid,
    /// Names no catalogued event.
    UnknownEvent,
    /// Valid, but beyond what the typed model holds (an integer past 64 bits).
    Unrepresentable,
    /// The handler rejected it as permanently unprocessable.
    Rejected,
    /// The handler kept failing until the retry limit.
    RetriesExhausted,
}

impl DeadLetterReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DeadLetterReason::Malformed => "malformed",
            DeadLetterReason::Invalid => "schema-violation",
            DeadLetterReason::UnknownEvent => "unknown-event",
            DeadLetterReason::Unrepresentable => "unrepresentable",
            DeadLetterReason::Rejected => "rejected",
            DeadLetterReason::RetriesExhausted => "retries-exhausted",
        }
    }

    fn of(error: &DecodeError) -> Self {
        match error {
            DecodeError::Syntax { .. } => DeadLetterReason::Malformed,
            DecodeError::Invalid(_) => DeadLetterReason::Invalid,
            DecodeError::UnknownEvent { .. } => DeadLetterReason::UnknownEvent,
            DecodeError::Unrepresentable { .. } => DeadLetterReason::Unrepresentable,
        }
    }
}

/// Header names of a dead-letter copy; the original headers are kept beside them unchanged.
pub mod dead_letter_headers {
    pub const REASON: &str = "x-dead-letter-reason";
    pub const ERROR: &str = "x-dead-letter-error";
    pub const ATTEMPTS: &str = "x-dead-letter-attempts";
    pub const ORIGIN: &str = "x-dead-letter-origin";
    pub const CHANNEL: &str = "x-dead-letter-channel";
    pub const CONSUMER_GROUP: &str = "x-dead-letter-group";
}

/// A message that cannot be handled, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct DeadLetter {
    pub reason: DeadLetterReason,
    /// The error in words (decode error with JSON pointers, or the handler's error).
    pub error: String,
    pub attempts: u32,
    pub origin: String,
    pub channel: String,
}

impl DeadLetter {
    /// The dead-letter copy's headers: the original ones unchanged, plus the reason.
    pub fn headers(&self, original: &Headers, group: &str) -> Headers {
        use dead_letter_headers as h;
        let mut headers = original.clone();
        headers.insert(h::REASON, self.reason.as_str());
        headers.insert(h::ERROR, &self.error);
        headers.insert(h::ATTEMPTS, self.attempts.to_string());
        headers.insert(h::ORIGIN, &self.origin);
        headers.insert(h::CHANNEL, &self.channel);
        headers.insert(h::CONSUMER_GROUP, group);
        headers
    }
}

/// A consumer group of the catalog (manifest `consumer_groups`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConsumerGroup {
    pub name: &'static str,
    /// Channels or patterns it reads (topics, streams, binding keys, subject filters).
    pub binds: &'static [&'static str],
    pub description: &'static str,
}

/// One event system as the transports see it; generated code implements it on each system's
/// `System` marker.
pub trait Contract: Send + Sync + 'static {
    /// A whole decoded message: the envelope with its typed event, or the event itself.
    type Message: Send + 'static;
    const SYSTEM: &'static str;
    /// Every event of the system.
    fn events() -> &'static [EventInfo];
    fn consumer_groups() -> &'static [ConsumerGroup];
    /// Validates and decodes a whole message that arrived on `channel`.
    fn decode(channel: &str, bytes: &[u8]) -> Result<Self::Message, DecodeError>;
    /// Validates and encodes a whole message, with its channel and ids.
    fn outgoing(message: &Self::Message) -> Result<Outgoing, EncodeError>;
    fn event_name(message: &Self::Message) -> &str;
    /// The message's unique id (envelope id, or the event's declared id property).
    fn message_id(message: &Self::Message) -> Option<String>;
    /// What identifies the unit of work: a consumer that finished one message with this key
    /// skips another (a retried publish). Defaults to the message id.
    fn idempotency_key(message: &Self::Message) -> Option<String> {
        Self::message_id(message)
    }
    /// Trace context the envelope itself carries, as a `traceparent` value.
    fn traceparent(message: &Self::Message) -> Option<String>;
}

/// Typed publishing of event `E` in system `Self`: the envelope and channel the system's
/// document prescribes.
pub trait Publishes<E: Event>: Contract {
    fn wrap(event: E, meta: &Meta) -> Result<Self::Message, EncodeError>;
}

/// A consumer's handling of a whole message; generated code implements it for each
/// system's `Dispatch<H>` so `H` has one method per event.
pub trait Handle<C: Contract>: Send + Sync + 'static {
    fn handle(
        &self,
        message: C::Message,
        context: &Context,
    ) -> impl Future<Output = HandlerResult> + Send;
}

/// Remembers which units of work a consumer group finished, across processes (Redis) or in
/// one (memory, for tests).
pub trait IdempotencyStore: Send + Sync + 'static {
    /// False for [`NoIdempotency`]: the engine then neither builds keys nor asks the store.
    const ENABLED: bool = true;
    /// True when `key` was marked done.
    fn is_done(&self, key: &str) -> impl Future<Output = Result<bool, BoxError>> + Send;
    fn mark_done(&self, key: &str) -> impl Future<Output = Result<(), BoxError>> + Send;
}

/// No idempotency: every delivery is handled.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoIdempotency;

impl IdempotencyStore for NoIdempotency {
    const ENABLED: bool = false;
    async fn is_done(&self, _key: &str) -> Result<bool, BoxError> {
        Ok(false)
    }
    async fn mark_done(&self, _key: &str) -> Result<(), BoxError> {
        Ok(())
    }
}

/// Idempotency in process memory (tests, single-process services).
#[derive(Clone, Debug, Default)]
pub struct MemoryIdempotency(std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>);

impl IdempotencyStore for MemoryIdempotency {
    async fn is_done(&self, key: &str) -> Result<bool, BoxError> {
        Ok(self.0.lock().map_err(|e| e.to_string())?.contains(key))
    }
    async fn mark_done(&self, key: &str) -> Result<(), BoxError> {
        self.0
            .lock()
            .map_err(|e| e.to_string())?
            .insert(key.to_owned());
        Ok(())
    }
}

/// Cooperative shutdown: consumers stop taking messages, finish the one in hand, and return.
#[derive(Clone, Debug, Default)]
pub struct Shutdown(tokio_util::sync::CancellationToken);

impl Shutdown {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn trigger(&self) {
        self.0.cancel();
    }
    pub fn is_triggered(&self) -> bool {
        self.0.is_cancelled()
    }
    /// Resolves once [`Shutdown::trigger`] was called.
    pub async fn triggered(&self) {
        self.0.cancelled().await
    }
}

/// A transport failure (connection, confirm, broker refusal), with the transport's words.
#[derive(Debug, thiserror::Error)]
#[error("{transport}: {message}")]
pub struct TransportError {
    pub transport: &'static str,
    pub message: String,
    #[source]
    pub source: Option<BoxError>,
}

impl TransportError {
    pub fn new(transport: &'static str, message: impl Into<String>) -> Self {
        Self {
            transport,
            message: message.into(),
            source: None,
        }
    }

    pub fn with_source(
        transport: &'static str,
        message: impl Into<String>,
        source: impl Into<BoxError>,
    ) -> Self {
        Self {
            transport,
            message: message.into(),
            source: Some(source.into()),
        }
    }
}

/// Sleeps `duration` unless shutdown comes first; true when it slept the whole time.
pub async fn sleep_unless(shutdown: &Shutdown, duration: Duration) -> bool {
    tokio::select! {
        _ = shutdown.triggered() => false,
        _ = tokio::time::sleep(duration) => true,
    }
}
