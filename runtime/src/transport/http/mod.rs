//! CloudEvents 1.0 over HTTP: an axum ingest endpoint ([`IngestServer`]) and a reqwest
//! client ([`HttpSink`], a [`Sink`](crate::transport::Sink)) for the `orchestrator` system
//! (document `004_…`), or any [`Contract`] whose events travel as CloudEvents.
//!
//! # The endpoint
//!
//! `POST {path}` (the catalog's `Channel::Http` path, `/api/ingest/event`) accepts:
//!
//! | request | mode |
//! |---|---|
//! | `Content-Type: application/cloudevents+json` | structured: the body is one event |
//! | `Content-Type: application/json`, no `ce-specversion` | structured (the document's `curl` example) |
//! | any `ce-specversion` header | binary: `ce-*` headers (percent-decoded) + `Content-Type` (as sent, parameters included, is `datacontenttype`) + JSON body as `data` |
//! | `Content-Type: application/cloudevents-batch+json` | batch: a JSON array of events, each handled on its own |
//!
//! Each event becomes a [`Delivery`] whose payload is the event in the JSON event format (for
//! binary mode rebuilt from the headers and body, see [`cloudevents`]) and whose headers are
//! the request's headers unchanged. The shared engine ([`process`](super::process)) decodes
//! and validates it (envelope, then `data` against the schema of its `type`), dispatches it to
//! the typed handler and decides retry or dead letter, exactly as on the other transports.
//! Around it, the endpoint adds:
//!
//! - **Dedupe by `source` + `id`** ([`dedupe_key`]): an event whose pair was handled before is
//!   answered `200` with outcome `duplicate` and not handled again. The mark is written after
//!   the handler succeeded (`SET key 1 NX EX ttl` in [`RedisStore`]); concurrent copies of one
//!   event in one process wait for each other, so a resend racing the original is not handled
//!   twice. Events are handled in the request's own task (a task per event cost ~6% of
//!   throughput): if the connection drops and the server cancels the request between the end
//!   of a handler and its dedupe mark, the client's resend is handled again, so handlers stay
//!   idempotent for that window (at-least-once, like every broker here). A server crash
//!   anywhere else loses nothing and duplicates nothing.
//! - **Dedupe by the declared key**, as on every other transport: a [`Policy`] given an
//!   idempotency store ([`Policy::with_idempotency`], e.g. `redis::RedisIdempotency`) also
//!   skips an event whose manifest `idempotency_key` (else its message id, the CloudEvents
//!   `id`) a replica of the same group already finished, whatever its `source`; answered like
//!   a `source` + `id` duplicate. The claim the engine takes first keeps two replicas from
//!   handling copies at the same time (see "Duplicates" in [`crate::transport`]).
//! - **`seq` tracking per run** (`subject`, `run/{runId}`; `seq` at the top level or in the
//!   document's `extensions` object): each handled or duplicate event is classified
//!   ([`SeqClass`]: in-order / gap / duplicate / out-of-order) and recorded in the store
//!   ([`SeqStore::seq_record`]); never a reason to reject.
//! - **Trace context**: the handler's `Context::traceparent` is the request's `traceparent`
//!   header, else the event's own: the `traceparent` attribute (`ce-traceparent` in binary
//!   mode), else the document's `extensions.traceparent` (the manifest's `also_read`).
//! - **Forms other languages write** get the answer the schema gives: `seq: 3.0` (and `ce-seq:
//!   3.0`) is the integer 3, `datacontenttype: application/json; charset=utf-8` is JSON in both
//!   modes; an integer no 64-bit field holds (`1e300`) is a `400` `unrepresentable` at its pointer.
//! - **Attempts**: the client sends the attempt number in the `x-attempt` header
//!   ([`ATTEMPT_HEADER`](crate::transport::ATTEMPT_HEADER)) on every resend; absent means 1.
//!
//! | outcome | status | body |
//! |---|---|---|
//! | handled | `200` | [`EventResult`] (`outcome: handled`) |
//! | duplicate (`source` + `id` already handled) | `200` | `outcome: duplicate` |
//! | unknown `type` (logged, [`UnknownPolicy::Skip`](crate::transport::UnknownPolicy)) | `202` | `outcome: accepted-unknown-type` |
//! | bad JSON, envelope or `data` schema violation, unrepresentable | `400` | `application/problem+json` (RFC 9457) with `errors: [{pointer, keyword, message}]` (and `line`/`column` for bad JSON); dead-lettered first |
//! | handler `Reject`, or still failing at the retry limit | `422` | problem+json, `dead_letter` set |
//! | handler failed transiently (below the retry limit), or a store is unreachable | `503` | problem+json, `Retry-After` (seconds, rounded up) and `x-retry-after-ms` from the retry policy's backoff |
//! | body over the limit | `413` | problem+json (not dead-lettered: the body was not read) |
//! | content type not understood | `415` | problem+json (not dead-lettered) |
//!
//! `422` for a dead-lettered event that was valid: the client must not resend it (a `5xx`
//! would make it retry what the server already gave up on) and must learn it was not handled
//! (a `2xx` would hide that); the event itself is safe in the dead-letter store. A batch is
//! answered `200` with `{"results": [EventResult, ...]}` (one per event, in order, each with
//! its own `status`), or `503` with the same body and the longest `Retry-After` when any event
//! asked to be retried: the client resends the whole batch and the events already handled
//! come back as duplicates.
//!
//! Dead letters go to a [`DeadLetterStore`] (Redis stream `{prefix}:dead-letter`, or memory)
//! with the original bytes (the request body, or the event's own bytes inside a batch), the
//! original headers and `x-dead-letter-*` (reason, error, attempts, origin, channel, group);
//! the client is answered only after the dead letter is stored, else it gets `503`.
//!
//! Graceful shutdown: [`IngestServer::serve`] stops accepting connections when the
//! [`Shutdown`] triggers and waits for requests in flight.

mod auth;
mod client;
pub mod cloudevents;
mod store;

use std::borrow::Cow;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

pub use auth::{
    AuthConfigError, IngestAuth, WebhookSecret, DEFAULT_TIMESTAMP_TOLERANCE, WEBHOOK_ID_HEADER,
    WEBHOOK_SIGNATURE_HEADER, WEBHOOK_TIMESTAMP_HEADER,
};
pub use client::{prepare, HttpClient, HttpConfig, HttpError, HttpSink, SendMode};
pub use cloudevents::ContentMode;
pub use store::{
    dedupe_key, DeadLetterStore, DedupStore, IngestStore, MemoryStore, RedisStore, SeqClass,
    SeqEntry, SeqRecord, SeqStore, StoredDeadLetter,
};

use super::engine::process_in_place;
use super::metrics::LabelCache;
use super::{
    Contract, DeadLetter, DeadLetterReason, Delivery, Disposition, Handle, Headers,
    IdempotencyStore, NoIdempotency, Policy, Shutdown, TransportError,
};
use crate::{display_pointer, DecodeError};
use cloudevents::BinaryError;

/// Default request body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;
/// Default maximum number of events in one batch.
pub const DEFAULT_BATCH_LIMIT: usize = 1000;
/// Default `Retry-After` of a `429` (the concurrency limit was reached).
pub const DEFAULT_OVERLOAD_RETRY_AFTER: Duration = Duration::from_secs(1);
/// Media type of error bodies (RFC 9457).
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";
/// Response header with the exact wait in milliseconds (`Retry-After` only has seconds).
pub const RETRY_AFTER_MS_HEADER: &str = "x-retry-after-ms";
/// Prefix of the problem `type` URIs (`{PROBLEM_TYPE_BASE}schema-violation`, ...).
pub const PROBLEM_TYPE_BASE: &str = "https://event-contracts.local/problems/";

/// What happened to one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Handled,
    Duplicate,
    AcceptedUnknownType,
    /// Bad JSON or a schema violation: dead-lettered, `400`.
    Invalid,
    /// Rejected by the handler or out of retries: dead-lettered, `422`.
    DeadLettered,
    /// Resend later (`503`).
    RetryLater,
    /// Body too large or content type not understood.
    Refused,
}

/// The answer about one event (the body of a single-event success; one element of a batch
/// answer's `results`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventResult {
    pub status: u16,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// How its `seq` was classified, when it had one and was handled or a duplicate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<SeqClass>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
}

/// The answer to a batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchResult {
    pub results: Vec<EventResult>,
}

/// An RFC 9457 problem document, with the extension members this endpoint adds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// `{PROBLEM_TYPE_BASE}{reason}`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Every violation, with its JSON pointer into the event (structured form; for binary
    /// mode the event rebuilt from the headers and body).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemError>,
    /// Where bad JSON broke (1-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// Set when the event was stored in the dead-letter store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter: Option<DeadLetterNote>,
    /// The limit a refused request went over (bytes for the body, events for a batch,
    /// requests in flight for a `429`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// One violation in a [`Problem`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProblemError {
    pub pointer: String,
    pub keyword: String,
    pub message: String,
}

/// Where a dead-lettered event went.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeadLetterNote {
    pub reason: String,
    pub entry_id: String,
}

impl Problem {
    fn new(reason: &str, title: &str, status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("{PROBLEM_TYPE_BASE}{reason}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
            line: None,
            column: None,
            dead_letter: None,
            limit: None,
        }
    }

    fn decode(error: &DecodeError) -> (Vec<ProblemError>, Option<(usize, usize)>) {
        let one = |pointer: &str, keyword: &str, message: String| ProblemError {
            pointer: pointer.to_owned(),
            keyword: keyword.to_owned(),
            message,
        };
        match error {
            DecodeError::Syntax {
                line,
                column,
                message,
            } => (
                vec![one("", "syntax", message.clone())],
                Some((*line, *column)),
            ),
            DecodeError::Invalid(v) => (
                v.0.iter()
                    .map(|v| one(&v.pointer, &v.keyword, v.message.clone()))
                    .collect(),
                None,
            ),
            DecodeError::UnknownEvent { name, known, .. } => (
                vec![one(
                    "/type",
                    "enum",
                    format!("unknown type `{name}`; known: {known}"),
                )],
                None,
            ),
            DecodeError::Unrepresentable { pointer, message } => {
                (vec![one(pointer, "unrepresentable", message.clone())], None)
            }
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.title, self.status)?;
        if self.errors.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        if let (Some(line), Some(column)) = (self.line, self.column) {
            write!(f, " at line {line}, column {column}")?;
        }
        for e in &self.errors {
            write!(f, "; {}: {}", display_pointer(&e.pointer), e.message)?;
        }
        if let Some(dl) = &self.dead_letter {
            write!(f, " [dead-lettered: {} {}]", dl.reason, dl.entry_id)?;
        }
        Ok(())
    }
}

/// The ingest endpoint of system `C`, handled by `H`, remembering in `S`. Cheap to clone;
/// clones (and every router built from them) share the handler, the store and the in-process
/// dedupe locks.
pub struct IngestServer<C, H, S, I = NoIdempotency> {
    handler: Arc<H>,
    store: Arc<S>,
    locks: Arc<KeyLocks>,
    policy: Arc<Policy<I>>,
    path: String,
    body_limit: usize,
    batch_limit: usize,
    auth: Arc<IngestAuth>,
    concurrency: Option<ConcurrencyLimit>,
    system: PhantomData<fn() -> C>,
}

impl<C, H, S, I> Clone for IngestServer<C, H, S, I> {
    fn clone(&self) -> Self {
        Self {
            handler: self.handler.clone(),
            store: self.store.clone(),
            locks: self.locks.clone(),
            policy: self.policy.clone(),
            path: self.path.clone(),
            body_limit: self.body_limit,
            batch_limit: self.batch_limit,
            auth: self.auth.clone(),
            concurrency: self.concurrency,
            system: PhantomData,
        }
    }
}

struct Inner<C, H, S, I> {
    handler: Arc<H>,
    store: Arc<S>,
    locks: Arc<KeyLocks>,
    policy: Arc<Policy<I>>,
    path: String,
    body_limit: usize,
    batch_limit: usize,
    auth: Arc<IngestAuth>,
    /// The metrics labels of the events this endpoint has seen, shared by its requests.
    labels: std::sync::Mutex<LabelCache>,
    system: PhantomData<fn() -> C>,
}

impl<C, H, S, I> IngestServer<C, H, S, I>
where
    C: Contract,
    H: Handle<C>,
    S: IngestStore,
    I: IdempotencyStore,
{
    /// An endpoint at the catalog's path (`/api/ingest/event`) with a 1 MiB body limit.
    /// `policy` gives the group (recorded on dead letters), the retry limit and backoff (the
    /// `Retry-After` of a `503`) and the unknown-type policy (use
    /// [`UnknownPolicy::Skip`](crate::transport::UnknownPolicy::Skip) for the document's
    /// "log warning, don't throw"). Dedupe by `source` + `id` in `store` always applies; a
    /// policy with an idempotency store ([`Policy::with_idempotency`]) also dedupes by the
    /// manifest's `idempotency_key` (else the message id) as every other transport does.
    pub fn new(handler: H, store: S, policy: Policy<I>) -> Self {
        let path = C::events()
            .iter()
            .find_map(|e| match e.channel {
                crate::Channel::Http { path, .. } => Some(path),
                _ => None,
            })
            .unwrap_or("/api/ingest/event");
        Self {
            handler: Arc::new(handler),
            store: Arc::new(store),
            locks: Arc::default(),
            policy: Arc::new(policy),
            path: path.to_owned(),
            body_limit: DEFAULT_BODY_LIMIT,
            batch_limit: DEFAULT_BATCH_LIMIT,
            auth: Arc::default(),
            concurrency: None,
            system: PhantomData,
        }
    }

    /// The endpoint of catalog consumer group `policy.group` of `C`, at the path the group
    /// binds: [`IngestServer::new`] after checking the group is one of the catalog's (the
    /// error lists those that are) and binds exactly one path.
    pub fn for_group(handler: H, store: S, policy: Policy<I>) -> Result<Self, TransportError> {
        let group = C::require_consumer_group("http", &policy.group)?;
        let [path] = group.binds else {
            return Err(TransportError::new(
                "http",
                format!(
                    "consumer group `{}` of system `{}` binds {} paths ({}); an ingest server \
                     serves one",
                    group.name,
                    C::SYSTEM,
                    group.binds.len(),
                    group.binds.join(", ")
                ),
            ));
        };
        Ok(Self::new(handler, store, policy).with_path(*path))
    }

    /// Serves another path.
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Requests with a larger body are answered `413`.
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// A batch of more events is answered `413` (problem+json with `limit`), before any of
    /// them is handled. Default [`DEFAULT_BATCH_LIMIT`].
    pub fn with_batch_limit(mut self, events: usize) -> Self {
        self.batch_limit = events;
        self
    }

    /// Requires what `auth` says of every request: a missing or wrong credential is answered
    /// `401`/`403` problem+json before the body is read as events, so it is never
    /// dead-lettered and never reaches the handler.
    pub fn with_auth(mut self, auth: IngestAuth) -> Self {
        self.auth = Arc::new(auth);
        self
    }

    /// At most `max` requests are handled at once (across all connections); one more is
    /// answered `429` at once with `Retry-After: retry_after` (seconds, rounded up) and
    /// `x-retry-after-ms`, without waiting and without being read.
    pub fn with_concurrency_limit(mut self, max: usize, retry_after: Duration) -> Self {
        self.concurrency = Some(ConcurrencyLimit { max, retry_after });
        self
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// The axum router serving `POST {path}`. Private: an axum type in the public API would
    /// make an axum upgrade an API break; [`IngestServer::serve`] is the public entry.
    fn router(&self) -> axum::Router {
        let inner = Arc::new(Inner {
            handler: self.handler.clone(),
            store: self.store.clone(),
            locks: self.locks.clone(),
            policy: self.policy.clone(),
            path: self.path.clone(),
            body_limit: self.body_limit,
            batch_limit: self.batch_limit,
            auth: self.auth.clone(),
            labels: std::sync::Mutex::new(LabelCache::new(&self.policy.group)),
            system: PhantomData,
        });
        let route = axum::routing::post(move |headers: HeaderMap, body: Body| {
            let inner = inner.clone();
            async move { inner.request(headers, body).await }
        });
        let route = match self.concurrency {
            None => route,
            Some(ConcurrencyLimit { max, retry_after }) => {
                // Load shedding turns "wait for a permit" into an immediate error, which the
                // error handler answers `429`: a client told when to come back is better
                // served than one whose request queues behind slow handlers.
                let limit = tower::ServiceBuilder::new()
                    .layer(axum::error_handling::HandleErrorLayer::new(
                        move |_: tower::BoxError| async move { overloaded(max, retry_after) },
                    ))
                    .layer(tower::load_shed::LoadShedLayer::new())
                    .layer(tower::limit::GlobalConcurrencyLimitLayer::new(max));
                route.layer(limit)
            }
        };
        axum::Router::new().route(&self.path, route)
    }

    /// Answers one request in process, without a socket: the ingest fuzzer's entry (it runs
    /// the same router, limits and authentication as [`IngestServer::serve`]). The status,
    /// the response headers and the body.
    #[doc(hidden)]
    pub async fn answer(
        &self,
        method: &str,
        headers: &[(String, Vec<u8>)],
        body: Vec<u8>,
    ) -> Result<(u16, Headers, Vec<u8>), String> {
        use tower::ServiceExt as _;
        let mut request = axum::http::Request::builder()
            .method(method)
            .uri(self.path.as_str());
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_slice());
        }
        let request = request.body(Body::from(body)).map_err(|e| e.to_string())?;
        let response = self
            .router()
            .oneshot(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let headers: Headers = response
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .map_err(|e| e.to_string())?;
        Ok((status, headers, body.to_vec()))
    }

    /// Serves on `listener` until `shutdown` triggers, then stops accepting and waits for the
    /// requests in flight.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: Shutdown,
    ) -> Result<(), TransportError> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(async move { shutdown.triggered().await })
            .await
            .map_err(|e| TransportError::with_source("http", "the ingest server failed", e))
    }
}

/// What a request carries for one event.
struct EventInput {
    /// The event in the JSON event format.
    payload: Vec<u8>,
    /// The bytes as received (dead letters keep these).
    original: Bytes,
    headers: Headers,
    attempt: u32,
    origin: String,
}

/// The fields the endpoint reads before the engine decodes the event.
#[derive(Default, Deserialize)]
struct Peek<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    source: Option<Cow<'a, str>>,
    #[serde(borrow)]
    subject: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "type")]
    event_type: Option<Cow<'a, str>>,
    /// Read as any JSON value, so a `seq` of another shape never hides the dedupe key.
    seq: Option<serde_json::Value>,
    extensions: Option<PeekExtensions>,
}

#[derive(Default, Deserialize)]
struct PeekExtensions {
    seq: Option<serde_json::Value>,
}

/// A `seq` as the schema's integer reads it (`3` or `3.0`), else none.
fn peek_seq(seq: Option<&serde_json::Value>) -> Option<u64> {
    crate::de::Integer::<u64>::deserialize(seq?)
        .ok()
        .map(|n| n.0)
}

impl<'a> Peek<'a> {
    fn of(payload: &'a [u8]) -> Self {
        serde_json::from_slice(payload).unwrap_or_default()
    }

    /// The same fields, no longer borrowing the payload: the delivery that owns the payload
    /// is then free to be decided in place.
    fn into_owned(self) -> Peek<'static> {
        let own = |s: Option<Cow<'_, str>>| s.map(|s| Cow::Owned(s.into_owned()));
        Peek {
            id: own(self.id),
            source: own(self.source),
            subject: own(self.subject),
            event_type: own(self.event_type),
            seq: self.seq,
            extensions: self.extensions,
        }
    }

    fn key(&self) -> Option<String> {
        Some(dedupe_key(self.source.as_deref()?, self.id.as_deref()?))
    }

    fn seq(&self) -> Option<u64> {
        peek_seq(self.seq.as_ref())
            .or_else(|| peek_seq(self.extensions.as_ref().and_then(|e| e.seq.as_ref())))
    }

    fn result(&self, status: StatusCode, outcome: Outcome) -> EventResult {
        EventResult {
            status: status.as_u16(),
            outcome,
            id: self.id.as_deref().map(str::to_owned),
            source: self.source.as_deref().map(str::to_owned),
            event_type: self.event_type.as_deref().map(str::to_owned),
            seq: None,
            retry_after_ms: None,
            problem: None,
        }
    }
}

impl<C, H, S, I> Inner<C, H, S, I>
where
    C: Contract,
    H: Handle<C>,
    S: IngestStore,
    I: IdempotencyStore,
{
    async fn request(self: Arc<Self>, raw_headers: HeaderMap, body: Body) -> Response {
        if let Err(denied) = self.auth.check_headers(&raw_headers) {
            return denied_response(denied);
        }
        let headers: Headers = raw_headers
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect();
        let declared = headers
            .get_str("content-length")
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.body_limit as u64) {
            return self.too_large();
        }
        let Some(mode) = cloudevents::detect_mode(&headers) else {
            return unsupported(format!(
                "content type `{}` is not a CloudEvents content mode this endpoint reads: send \
                 `application/cloudevents+json` (structured), `application/cloudevents-batch+json` \
                 (batch), `application/json` with `ce-*` headers (binary) or a structured event as \
                 `application/json`",
                headers.get_str("content-type").unwrap_or("(none)")
            ));
        };
        let bytes = match axum::body::to_bytes(body, self.body_limit).await {
            Ok(bytes) => bytes,
            Err(e) if is_length_limit(&e) => return self.too_large(),
            Err(e) => {
                return problem_response(
                    Problem::new(
                        "unreadable-body",
                        "The request body could not be read",
                        StatusCode::BAD_REQUEST,
                        e.to_string(),
                    ),
                    None,
                )
            }
        };
        if let Err(denied) = self.auth.check_body(&raw_headers, &bytes) {
            return denied_response(denied);
        }
        let attempt = headers.attempt();
        match mode {
            ContentMode::Structured => {
                let input = EventInput {
                    payload: bytes.to_vec(),
                    original: bytes,
                    headers,
                    attempt,
                    origin: format!("http:{}", self.path),
                };
                single_response(self.event(input).await)
            }
            ContentMode::Binary => match cloudevents::binary_to_structured(&headers, &bytes) {
                Ok(payload) => {
                    let input = EventInput {
                        payload,
                        original: bytes,
                        headers,
                        attempt,
                        origin: format!("http:{}", self.path),
                    };
                    single_response(self.event(input).await)
                }
                Err(BinaryError::UnsupportedData { content_type }) => unsupported(format!(
                    "binary-mode data of type `{content_type}`: this system's events carry \
                     `application/json` data"
                )),
                Err(error) => {
                    let (message, errors, at) = match error {
                        BinaryError::Header { name, message } => (
                            format!("header `{name}`: {message}"),
                            vec![ProblemError {
                                pointer: format!(
                                    "/{}",
                                    name.to_ascii_lowercase()
                                        .trim_start_matches(cloudevents::HEADER_PREFIX)
                                ),
                                keyword: "encoding".into(),
                                message,
                            }],
                            None,
                        ),
                        BinaryError::Data {
                            line,
                            column,
                            message,
                        } => (
                            format!("the body (data) is not JSON: {message}"),
                            vec![ProblemError {
                                pointer: "/data".into(),
                                keyword: "syntax".into(),
                                message,
                            }],
                            Some((line, column)),
                        ),
                        BinaryError::UnsupportedData { .. } => unreachable!("handled above"),
                    };
                    let peek = Peek::default();
                    let letter = DeadLetter {
                        reason: DeadLetterReason::Malformed,
                        error: message,
                        attempts: attempt,
                        origin: format!("http:{}", self.path),
                        channel: self.path.clone(),
                    };
                    let result = self
                        .dead_letter(&peek, &headers, bytes, letter, Some((errors, at)), None)
                        .await;
                    single_response(result)
                }
            },
            ContentMode::Batch => {
                let items: Vec<&serde_json::value::RawValue> = match serde_json::from_slice(&bytes)
                {
                    Ok(items) => items,
                    Err(e) => {
                        let syntax = !matches!(e.classify(), serde_json::error::Category::Data);
                        let letter = DeadLetter {
                            reason: if syntax {
                                DeadLetterReason::Malformed
                            } else {
                                DeadLetterReason::Invalid
                            },
                            error: format!("a batch must be a JSON array of events: {e}"),
                            attempts: attempt,
                            origin: format!("http:{}", self.path),
                            channel: self.path.clone(),
                        };
                        let errors = vec![ProblemError {
                            pointer: String::new(),
                            keyword: if syntax { "syntax" } else { "type" }.into(),
                            message: e.to_string(),
                        }];
                        let at = Some((e.line(), e.column()));
                        let result = self
                            .dead_letter(
                                &Peek::default(),
                                &headers,
                                bytes.clone(),
                                letter,
                                Some((errors, at)),
                                None,
                            )
                            .await;
                        return single_response(result);
                    }
                };
                if items.len() > self.batch_limit {
                    let mut problem = Problem::new(
                        "batch-too-large",
                        "Too many events in one batch",
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!(
                            "the batch holds {} events and the limit is {}: split it into \
                             batches of at most {} (none of these was handled)",
                            items.len(),
                            self.batch_limit,
                            self.batch_limit
                        ),
                    );
                    problem.limit = Some(self.batch_limit as u64);
                    return problem_response(problem, None);
                }
                let mut results = Vec::with_capacity(items.len());
                for (index, item) in items.iter().enumerate() {
                    let raw = item.get().as_bytes();
                    let input = EventInput {
                        payload: raw.to_vec(),
                        original: bytes.slice_ref(raw),
                        headers: headers.clone(),
                        attempt,
                        origin: format!("http:{}[{index}]", self.path),
                    };
                    results.push(self.event(input).await);
                }
                batch_response(results)
            }
        }
    }

    fn too_large(&self) -> Response {
        let mut problem = Problem::new(
            "payload-too-large",
            "Request body too large",
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body limit is {} bytes", self.body_limit),
        );
        problem.limit = Some(self.body_limit as u64);
        problem_response(problem, None)
    }

    /// One event: dedupe, the engine's decision, and the answer.
    async fn event(&self, input: EventInput) -> EventResult {
        let mut delivery = Delivery {
            channel: self.path.clone(),
            key: None,
            payload: input.payload,
            headers: input.headers,
            attempt: input.attempt,
            origin: input.origin,
        };
        let peek = Peek::of(&delivery.payload).into_owned();
        let key = peek.key();
        let _guard = match &key {
            Some(key) => Some(self.locks.lock(key).await),
            None => None,
        };
        if let Some(key) = &key {
            match self.store.is_done(key).await {
                Ok(true) => {
                    tracing::debug!(%key, "duplicate event");
                    let mut result = peek.result(StatusCode::OK, Outcome::Duplicate);
                    result.seq = self.record_seq(&peek).await;
                    return result;
                }
                Ok(false) => {}
                Err(e) => {
                    return retry_later(
                        &peek,
                        self.policy.retry.backoff(delivery.attempt),
                        format!("the dedupe store is unavailable: {e}"),
                    )
                }
            }
        }
        // The delivery is this request's own: decided in place, not copied, with the labels
        // the endpoint keeps.
        let disposition =
            process_in_place::<C, H, I>(&*self.handler, &mut delivery, &self.policy, &self.labels)
                .await;
        match disposition {
            Disposition::Ack => {
                if let Some(key) = &key {
                    if let Err(e) = self.store.mark_done(key).await {
                        tracing::warn!(%key, error = %e, "handled, but could not record it in the dedupe store");
                    }
                }
                let mut result = peek.result(StatusCode::OK, Outcome::Handled);
                result.seq = self.record_seq(&peek).await;
                result
            }
            Disposition::Duplicate { key: unit } => {
                tracing::debug!(%unit, "duplicate unit of work");
                if let Some(key) = &key {
                    if let Err(e) = self.store.mark_done(key).await {
                        tracing::warn!(%key, error = %e, "could not record a duplicate in the dedupe store");
                    }
                }
                let mut result = peek.result(StatusCode::OK, Outcome::Duplicate);
                result.seq = self.record_seq(&peek).await;
                result
            }
            Disposition::Skip { why } => {
                tracing::warn!(origin = %delivery.origin, %why, "accepted an event of an unknown type without handling it");
                peek.result(StatusCode::ACCEPTED, Outcome::AcceptedUnknownType)
            }
            Disposition::Retry { after, error } => {
                tracing::warn!(origin = %delivery.origin, attempt = delivery.attempt, %error, ?after, "handler failed; asking the client to retry");
                retry_later(
                    &peek,
                    after,
                    format!("the handler failed (attempt {}): {error}", delivery.attempt),
                )
            }
            Disposition::DeadLetter(letter) => {
                let decode_error = match letter.reason {
                    DeadLetterReason::Rejected | DeadLetterReason::RetriesExhausted => None,
                    _ => C::decode(&delivery.channel, &delivery.payload).err(),
                };
                self.dead_letter(
                    &peek,
                    &delivery.headers,
                    input.original,
                    letter,
                    None,
                    decode_error.as_ref(),
                )
                .await
            }
        }
    }

    async fn record_seq(&self, peek: &Peek<'_>) -> Option<SeqClass> {
        let (subject, seq, id) = (peek.subject.as_deref()?, peek.seq()?, peek.id.as_deref()?);
        match self.store.record_seq(subject, seq, id).await {
            Ok(class) => {
                if class != SeqClass::InOrder {
                    tracing::info!(%subject, seq, %id, class = class.as_str(), "seq is not in order");
                }
                Some(class)
            }
            Err(e) => {
                tracing::warn!(%subject, seq, error = %e, "could not record seq");
                None
            }
        }
    }

    /// Stores the dead letter, then answers `400` (bad input) or `422` (rejected, retries
    /// exhausted); `503` when the store fails (nothing is lost: the client resends).
    async fn dead_letter(
        &self,
        peek: &Peek<'_>,
        headers: &Headers,
        original: Bytes,
        letter: DeadLetter,
        errors: Option<ProblemErrors>,
        decode_error: Option<&DecodeError>,
    ) -> EventResult {
        let stored = StoredDeadLetter::from_headers(
            "",
            original.to_vec(),
            letter.headers(headers, &self.policy.group),
        );
        let entry_id = match self.store.store_dead_letter(&stored).await {
            Ok(id) => id,
            Err(e) => {
                tracing::error!(error = %e, reason = letter.reason.as_str(), "could not store a dead letter; asking the client to retry");
                return retry_later(
                    peek,
                    self.policy.retry.backoff(letter.attempts),
                    format!("the dead-letter store is unavailable: {e}"),
                );
            }
        };
        tracing::warn!(origin = %letter.origin, reason = letter.reason.as_str(), error = %letter.error, %entry_id, "dead-lettered");
        let (status, outcome, title) = match letter.reason {
            DeadLetterReason::Rejected => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Outcome::DeadLettered,
                "The handler rejected the event",
            ),
            DeadLetterReason::RetriesExhausted => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Outcome::DeadLettered,
                "The handler kept failing until the retry limit",
            ),
            DeadLetterReason::Malformed => {
                (StatusCode::BAD_REQUEST, Outcome::Invalid, "Malformed event")
            }
            DeadLetterReason::Invalid => (
                StatusCode::BAD_REQUEST,
                Outcome::Invalid,
                "The event breaks its schema",
            ),
            DeadLetterReason::UnknownEvent => (
                StatusCode::BAD_REQUEST,
                Outcome::Invalid,
                "Unknown event type",
            ),
            DeadLetterReason::Unrepresentable => (
                StatusCode::BAD_REQUEST,
                Outcome::Invalid,
                "The event holds values the typed model cannot",
            ),
        };
        let mut problem = Problem::new(letter.reason.as_str(), title, status, letter.error.clone());
        let (list, at) = match (errors, decode_error) {
            (Some(given), _) => given,
            (None, Some(e)) => Problem::decode(e),
            (None, None) => (Vec::new(), None),
        };
        problem.errors = list;
        if let Some((line, column)) = at {
            problem.line = Some(line);
            problem.column = Some(column);
        }
        problem.dead_letter = Some(DeadLetterNote {
            reason: letter.reason.as_str().to_owned(),
            entry_id,
        });
        let mut result = peek.result(status, outcome);
        result.problem = Some(problem);
        result
    }
}

/// At most `max` requests in flight; the `Retry-After` of the `429` beyond.
#[derive(Clone, Copy, Debug)]
struct ConcurrencyLimit {
    max: usize,
    retry_after: Duration,
}

fn overloaded(max: usize, retry_after: Duration) -> Response {
    let mut problem = Problem::new(
        "too-many-requests",
        "Too many requests in flight",
        StatusCode::TOO_MANY_REQUESTS,
        format!(
            "this endpoint handles at most {max} requests at once: resend after the \
             `Retry-After`"
        ),
    );
    problem.limit = Some(max as u64);
    problem_response(
        problem,
        Some(retry_after.as_millis().try_into().unwrap_or(u64::MAX)),
    )
}

/// A refused credential: never dead-lettered (it is not an event the sender vouched for).
fn denied_response(denied: auth::Denied) -> Response {
    tracing::info!(
        status = denied.status.as_u16(),
        reason = denied.reason,
        "refused a request"
    );
    let mut response = problem_response(
        Problem::new(denied.reason, denied.title, denied.status, denied.detail),
        None,
    );
    if let Some(challenge) = denied
        .challenge
        .and_then(|c| HeaderValue::from_str(&c).ok())
    {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, challenge);
    }
    response
}

/// Violations of a problem, and where bad JSON broke (line, column).
type ProblemErrors = (Vec<ProblemError>, Option<(usize, usize)>);

fn retry_later(peek: &Peek<'_>, after: Duration, detail: String) -> EventResult {
    let mut result = peek.result(StatusCode::SERVICE_UNAVAILABLE, Outcome::RetryLater);
    result.retry_after_ms = Some(after.as_millis().try_into().unwrap_or(u64::MAX));
    result.problem = Some(Problem::new(
        "retry-later",
        "Try again later",
        StatusCode::SERVICE_UNAVAILABLE,
        detail,
    ));
    result
}

fn is_length_limit(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.to_string().contains("length limit exceeded") {
            return true;
        }
        source = e.source();
    }
    false
}

fn unsupported(detail: String) -> Response {
    problem_response(
        Problem::new(
            "unsupported-media-type",
            "Unsupported content type",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            detail,
        ),
        None,
    )
}

fn retry_headers(response: &mut Response, after_ms: u64) {
    let headers = response.headers_mut();
    headers.insert(
        header::RETRY_AFTER,
        HeaderValue::from(after_ms.div_ceil(1000)),
    );
    headers.insert(RETRY_AFTER_MS_HEADER, HeaderValue::from(after_ms));
}

fn problem_response(problem: Problem, retry_after_ms: Option<u64>) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let mut response = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
        )],
        body,
    )
        .into_response();
    if let Some(ms) = retry_after_ms {
        retry_headers(&mut response, ms);
    }
    response
}

fn single_response(result: EventResult) -> Response {
    if let Some(mut problem) = result.problem.clone() {
        problem.status = result.status;
        return problem_response(problem, result.retry_after_ms);
    }
    let status = StatusCode::from_u16(result.status).unwrap_or(StatusCode::OK);
    (status, axum::Json(result)).into_response()
}

fn batch_response(results: Vec<EventResult>) -> Response {
    let retry = results
        .iter()
        .filter(|r| r.outcome == Outcome::RetryLater)
        .filter_map(|r| r.retry_after_ms)
        .max();
    let status = if retry.is_some() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let mut response = (status, axum::Json(BatchResult { results })).into_response();
    if let Some(ms) = retry {
        retry_headers(&mut response, ms);
    }
    response
}

/// Per-key async locks: concurrent copies of one event in this process run one at a time.
#[derive(Default)]
struct KeyLocks(Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

struct KeyGuard<'a> {
    locks: &'a KeyLocks,
    key: String,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
    mutex: Option<Arc<tokio::sync::Mutex<()>>>,
}

impl KeyLocks {
    async fn lock(&self, key: &str) -> KeyGuard<'_> {
        let mutex = {
            let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(key.to_owned()).or_default().clone()
        };
        let guard = mutex.clone().lock_owned().await;
        KeyGuard {
            locks: self,
            key: key.to_owned(),
            guard: Some(guard),
            mutex: Some(mutex),
        }
    }
}

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        self.guard.take();
        let mut map = self.locks.0.lock().unwrap_or_else(|e| e.into_inner());
        self.mutex.take();
        if map
            .get(&self.key)
            .is_some_and(|m| Arc::strong_count(m) == 1)
        {
            map.remove(&self.key);
        }
    }
}
