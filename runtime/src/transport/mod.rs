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
//!
//! # Duplicates
//!
//! Every broker here delivers at least once, and a producer that retries a publish sends a
//! second copy. A consumer drops copies of work it already finished by giving its [`Policy`]
//! an [`IdempotencyStore`] ([`Policy::with_idempotency`]); the engine then keys each message
//! by what its manifest declares (`idempotency_key`, else the message id: the envelope's
//! `message_id` role or a flat event's `message_id` property), scoped by system and consumer
//! group (`{system}:{group}:{key}`), on every transport alike. The default store is Redis
//! (`redis::RedisIdempotency`, feature `redis`): shared by every process of the group, it
//! survives restarts, and its marks expire after a TTL; [`MemoryIdempotency`] is for tests.
//!
//! For each message the engine first *claims* its key (Redis `SET NX PX <lease>`): a copy
//! whose key is finished is skipped ([`Stats::skipped`]); a copy whose key another consumer
//! has claimed and not finished is retried after that claim's remaining lease, by which time
//! the holder has finished it (then it is skipped) or failed (then it is claimed and handled).
//! Only after the handler succeeded is the key marked done (for the TTL); a failed handler
//! releases its claim so the retry need not wait. The guarantee is at-least-once with a dedupe
//! window, not exactly-once: a copy arriving after the TTL is handled again, and so is one
//! whose first handling outlived the lease or crashed between the end of its handler and the
//! mark. Handlers whose effects must never repeat stay idempotent themselves.

mod either;
mod engine;
mod headers;
pub mod memory;
pub mod metrics;
mod otel;
mod publish;
pub mod redact;
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
#[cfg(any(feature = "redis", feature = "http"))]
pub mod redis_entry;

use std::future::Future;
use std::time::Duration;

pub use either::Either;
pub use engine::{process, run, run_with_stats, Disposition, Policy, Source, Stats};
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
            // With feature `otel` and inside the handler, the current span is this delivery's
            // `process` span: the follow-up's publish span becomes its child.
            traceparent: Some(
                otel::current_traceparent()
                    .unwrap_or_else(|| trace::child_or_new(self.traceparent.as_deref())),
            ),
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
    /// When it was dead-lettered: RFC 3339 in UTC with milliseconds (`2025-08-04T14:33:09.120Z`).
    pub const TIME: &str = "x-dead-letter-time";
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
        headers.insert(h::TIME, crate::DateTime::now_utc().as_str());
        headers
    }
}

/// One dead letter as a store or dead-letter stream keeps it: the original bytes and headers
/// unchanged, and why (read back from the `x-dead-letter-*` headers, [`dead_letter_headers`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoredDeadLetter {
    /// Where it is kept (Redis stream entry id; memory: its index).
    pub entry_id: String,
    /// The original bytes: the message (a stream entry's payload field, a request body, the
    /// event's own bytes inside a batch). Empty when the original had none (a Redis entry
    /// without the payload field).
    pub payload: Vec<u8>,
    /// The original headers plus the `x-dead-letter-*` ones ([`DeadLetter::headers`]).
    pub headers: Headers,
    /// Any other fields of the original Redis stream entry (a foreign producer's), as received.
    pub fields: Vec<(Vec<u8>, Vec<u8>)>,
    /// [`DeadLetterReason::as_str`] (`malformed`, `schema-violation`, `rejected`, ...).
    pub reason: String,
    pub error: String,
    pub attempts: u32,
    pub origin: String,
    /// The channel (stream, path) it arrived on.
    pub channel: String,
    /// The consumer group that gave up on it.
    pub group: String,
    /// When it was dead-lettered (RFC 3339, UTC, milliseconds).
    pub time: String,
}

impl StoredDeadLetter {
    /// A dead letter of `payload` whose `headers` carry the `x-dead-letter-*` ones: the reason,
    /// error, attempts, origin, channel, group and time are read from them.
    pub fn from_headers(entry_id: impl Into<String>, payload: Vec<u8>, headers: Headers) -> Self {
        use dead_letter_headers as h;
        let text = |name: &str| {
            headers
                .get(name)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default()
        };
        Self {
            entry_id: entry_id.into(),
            payload,
            reason: text(h::REASON),
            error: text(h::ERROR),
            attempts: text(h::ATTEMPTS).trim().parse().unwrap_or(0),
            origin: text(h::ORIGIN),
            channel: text(h::CHANNEL),
            group: text(h::CONSUMER_GROUP),
            time: text(h::TIME),
            fields: Vec::new(),
            headers,
        }
    }
}

/// How one message sits in a Redis stream entry (manifest `redis`; the audio system and
/// every Redis system that declares nothing use [`StreamEntryLayout::DEFAULT`]): the field
/// holding the encoded message, and the prefix of the fields holding transport headers (one
/// field per header, `h:traceparent`). Any other field of an entry is carried along untouched.
/// Dead-letter streams use the same layout, plus the `x-dead-letter-*` headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamEntryLayout {
    /// The entry field holding the encoded message (JSON bytes, unchanged).
    pub payload_field: &'static str,
    /// Prefix of the entry fields holding transport headers.
    pub header_prefix: &'static str,
}

impl StreamEntryLayout {
    /// `envelope` for the message, `h:<name>` per header.
    pub const DEFAULT: Self = Self {
        payload_field: "envelope",
        header_prefix: "h:",
    };

    /// The entry field of header `name` (`h:traceparent`).
    pub fn header_field(&self, name: &str) -> Vec<u8> {
        let mut field = Vec::with_capacity(self.header_prefix.len() + name.len());
        field.extend_from_slice(self.header_prefix.as_bytes());
        field.extend_from_slice(name.as_bytes());
        field
    }

    /// The header name an entry field holds, when it is a header field.
    pub fn header_of<'a>(&self, field: &'a [u8]) -> Option<&'a str> {
        field
            .strip_prefix(self.header_prefix.as_bytes())
            .and_then(|n| std::str::from_utf8(n).ok())
    }
}

impl Default for StreamEntryLayout {
    fn default() -> Self {
        Self::DEFAULT
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
    /// Where a message sits in a Redis stream entry (manifest `redis`); only Redis systems
    /// declare one, every other keeps the default.
    const STREAM_ENTRY: StreamEntryLayout = StreamEntryLayout::DEFAULT;
    /// Every event of the system.
    fn events() -> &'static [EventInfo];
    fn consumer_groups() -> &'static [ConsumerGroup];
    /// Catalog consumer group `name` of this system, the one lookup every binding uses.
    fn consumer_group(name: &str) -> Option<&'static ConsumerGroup> {
        Self::consumer_groups().iter().find(|g| g.name == name)
    }
    /// [`Contract::consumer_group`], or the error a binding returns for a name the catalog
    /// does not have, listing the groups it does.
    fn require_consumer_group(
        transport: &'static str,
        name: &str,
    ) -> Result<&'static ConsumerGroup, TransportError> {
        Self::consumer_group(name).ok_or_else(|| {
            let known: Vec<&str> = Self::consumer_groups().iter().map(|g| g.name).collect();
            TransportError::new(
                transport,
                format!(
                    "`{name}` is not a consumer group of system `{}` (known: {})",
                    Self::SYSTEM,
                    known.join(", ")
                ),
            )
        })
    }
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

/// What a consumer may do with a unit of work ([`IdempotencyStore::claim`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// This consumer holds the claim: handle, then [`IdempotencyStore::mark_done`] on success
    /// or [`IdempotencyStore::release`] (with `token`) on failure.
    Claimed { token: String },
    /// Finished before (within the store's TTL): skip.
    Done,
    /// Another consumer holds a live claim (it is handling a copy right now); ask again after
    /// `retry_after` (what is left of its lease).
    Busy { retry_after: Duration },
}

/// Remembers which units of work a consumer group finished, across processes (Redis) or in
/// one (memory, for tests). See "Duplicates" in the module docs for how the engine uses it.
pub trait IdempotencyStore: Send + Sync + 'static {
    /// False for [`NoIdempotency`]: the engine then neither builds keys nor asks the store.
    const ENABLED: bool = true;
    /// True when `key` was marked done.
    fn is_done(&self, key: &str) -> impl Future<Output = Result<bool, BoxError>> + Send;
    /// Marks `key` done (replacing a claim on it); called only after the handler succeeded.
    fn mark_done(&self, key: &str) -> impl Future<Output = Result<(), BoxError>> + Send;
    /// Claims `key` before its handler runs, so that a copy reaching another consumer
    /// meanwhile is not handled as well. The default, for stores without claims: [`Claim::Done`]
    /// when [`is_done`](Self::is_done), else [`Claim::Claimed`]; concurrent copies can then both
    /// be handled.
    fn claim(&self, key: &str) -> impl Future<Output = Result<Claim, BoxError>> + Send {
        async move {
            Ok(if self.is_done(key).await? {
                Claim::Done
            } else {
                Claim::Claimed {
                    token: String::new(),
                }
            })
        }
    }
    /// Gives up the claim `token` holds on `key` after the handler failed, so the retry can
    /// claim it at once (a claim that is not released expires with its lease). Default:
    /// nothing to release.
    fn release(&self, key: &str, token: &str) -> impl Future<Output = Result<(), BoxError>> + Send {
        let _ = (key, token);
        std::future::ready(Ok(()))
    }
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

/// Idempotency in process memory (tests, single-process services): claims with a lease
/// (default one minute), done marks that never expire. Cheap to clone; clones share the
/// marks.
#[derive(Clone, Debug)]
pub struct MemoryIdempotency {
    marks: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, MemoryMark>>>,
    lease: Duration,
}

#[derive(Clone, Debug)]
enum MemoryMark {
    Done,
    Claimed {
        token: String,
        until: std::time::Instant,
    },
}

impl Default for MemoryIdempotency {
    fn default() -> Self {
        Self {
            marks: Default::default(),
            lease: Duration::from_secs(60),
        }
    }
}

impl MemoryIdempotency {
    /// How long a claim holds when its consumer neither finishes nor releases it.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    fn marks(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, std::collections::HashMap<String, MemoryMark>>, BoxError>
    {
        self.marks.lock().map_err(|e| e.to_string().into())
    }
}

impl IdempotencyStore for MemoryIdempotency {
    async fn is_done(&self, key: &str) -> Result<bool, BoxError> {
        Ok(matches!(self.marks()?.get(key), Some(MemoryMark::Done)))
    }
    async fn mark_done(&self, key: &str) -> Result<(), BoxError> {
        self.marks()?.insert(key.to_owned(), MemoryMark::Done);
        Ok(())
    }
    async fn claim(&self, key: &str) -> Result<Claim, BoxError> {
        let now = std::time::Instant::now();
        let mut marks = self.marks()?;
        match marks.get(key) {
            Some(MemoryMark::Done) => return Ok(Claim::Done),
            Some(MemoryMark::Claimed { until, .. }) if *until > now => {
                return Ok(Claim::Busy {
                    retry_after: *until - now,
                })
            }
            _ => {}
        }
        let token = uuid::Uuid::new_v4().to_string();
        marks.insert(
            key.to_owned(),
            MemoryMark::Claimed {
                token: token.clone(),
                until: now + self.lease,
            },
        );
        Ok(Claim::Claimed { token })
    }
    async fn release(&self, key: &str, token: &str) -> Result<(), BoxError> {
        let mut marks = self.marks()?;
        if matches!(marks.get(key), Some(MemoryMark::Claimed { token: t, .. }) if t == token) {
            marks.remove(key);
        }
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
