//! The client side: typed events to the ingest endpoint over reqwest.

use std::time::Duration;

use super::auth::{
    unix_now, AuthConfigError, WebhookSecret, WEBHOOK_ID_HEADER, WEBHOOK_SIGNATURE_HEADER,
    WEBHOOK_TIMESTAMP_HEADER,
};
use super::cloudevents::{self, BATCH_CONTENT_TYPE, STRUCTURED_CONTENT_TYPE};
use super::{BatchResult, EventResult, Outcome, Problem, RETRY_AFTER_MS_HEADER};
use crate::transport::redact;
use crate::transport::{
    trace, Meta, Outgoing, PublishError, Publishes, RetryPolicy, Sink, TransportError,
    ATTEMPT_HEADER, TRACEPARENT_HEADER,
};
use crate::Event;

/// How [`HttpSink`] puts a single event on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SendMode {
    /// The whole event as the body, `Content-Type: application/cloudevents+json`.
    #[default]
    Structured,
    /// Attributes as percent-encoded `ce-*` headers, `data` as the body.
    Binary,
}

/// Why a send failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The server answered `4xx` (or a `5xx` that is not worth retrying): not retried. The
    /// problem document says what is wrong, with JSON pointers.
    #[error("{url} answered {status}: {}", describe(.problem, .body))]
    Refused {
        url: String,
        status: u16,
        problem: Option<Problem>,
        body: String,
    },
    /// Every attempt failed with a connection error, a timeout, `429` or `5xx`.
    #[error("{url}: gave up after {attempts} attempts; last: {last}")]
    GaveUp {
        url: String,
        attempts: u32,
        last: String,
    },
    /// The message cannot be put on the wire (binary mode of a payload that is not an event).
    #[error("cannot build the request: {0}")]
    Request(String),
}

impl HttpError {
    /// The problem document of a refusal.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            HttpError::Refused { problem, .. } => problem.as_ref(),
            _ => None,
        }
    }
}

fn describe(problem: &Option<Problem>, body: &str) -> String {
    match problem {
        Some(p) => p.to_string(),
        None => body.chars().take(500).collect(),
    }
}

/// Where the ingest endpoint is and how to send to it: the [`HttpSink`]'s configuration.
/// `Debug` shows the base URL without credentials and neither secret.
#[derive(Clone, PartialEq)]
pub struct HttpConfig {
    /// The server's base URL (`http://127.0.0.1:3000`); each message goes to it + its channel
    /// (`/api/ingest/event`).
    pub base_url: String,
    /// How a single event goes on the wire (structured by default).
    pub mode: SendMode,
    /// Bound on each request (connecting: at most 5 s of it).
    pub timeout: Duration,
    /// Resends of a connection error, timeout, `429` or `5xx`; `max_attempts` sends in all.
    pub retry: RetryPolicy,
    /// Sent as `Authorization: Bearer <token>` with every request.
    pub bearer: Option<String>,
    /// The Standard Webhooks secret (`whsec_<base64>`) every request is signed with.
    pub webhook_secret: Option<String>,
}

impl std::fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConfig")
            .field("base_url", &redact::Redacted(&self.base_url))
            .field("mode", &self.mode)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("bearer", &self.bearer.as_ref().map(|_| redact::MASK))
            .field(
                "webhook_secret",
                &self.webhook_secret.as_ref().map(|_| redact::MASK),
            )
            .finish()
    }
}

impl HttpConfig {
    /// The server at `base_url`: structured mode, 30 s timeout per request, 8 attempts from
    /// 100 ms to 5 s, no authentication.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            mode: SendMode::Structured,
            timeout: Duration::from_secs(30),
            retry: RetryPolicy {
                max_attempts: 8,
                initial_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(5),
                ..RetryPolicy::default()
            },
            bearer: None,
            webhook_secret: None,
        }
    }

    pub fn with_mode(mut self, mode: SendMode) -> Self {
        self.mode = mode;
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The timeout of each request.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sends `Authorization: Bearer <token>` (checked by [`HttpSink::connect`]).
    pub fn with_bearer(mut self, token: impl Into<String>) -> Self {
        self.bearer = Some(token.into());
        self
    }

    /// Signs every request with the Standard Webhooks secret `whsec_<base64>` (checked by
    /// [`HttpSink::connect`]).
    pub fn with_webhook_secret(mut self, secret: impl Into<String>) -> Self {
        self.webhook_secret = Some(secret.into());
        self
    }
}

/// A client of the ingest endpoint. Implements [`Sink`], so
/// `Publisher::<orchestrator::System, HttpSink>::publish(event)` sends typed events.
///
/// Retries: connection errors, timeouts, `429` and `5xx` are retried up to
/// `retry.max_attempts` sends in all, waiting the server's `x-retry-after-ms` /
/// `Retry-After` when given, else the policy's exponential backoff with jitter; every resend
/// carries `x-attempt: n`. Give the client at least as many attempts as the server's policy so
/// the server, not the client, decides when an event is dead-lettered. `4xx` fails at once
/// with [`HttpError::Refused`] and the problem details. Resending is safe: the server drops
/// duplicates by `source` + `id`.
///
/// Authentication: [`HttpConfig::bearer`] adds `Authorization: Bearer`;
/// [`HttpConfig::webhook_secret`] signs every send (Standard Webhooks, `webhook-id` the
/// message id, a fresh `webhook-timestamp` on each resend so a slow retry is not taken for a
/// replay). Neither secret shows in `Debug`, and its `Debug` and its errors show URLs without
/// credentials.
#[derive(Clone)]
pub struct HttpSink {
    http: reqwest::Client,
    base: String,
    mode: SendMode,
    retry: RetryPolicy,
    bearer: Option<String>,
    webhook: Option<WebhookSecret>,
}

/// The name [`HttpSink`] had before every binding's publisher was `<Transport>Sink`.
pub type HttpClient = HttpSink;

impl std::fmt::Debug for HttpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSink")
            .field("base", &redact::Redacted(&self.base))
            .field("mode", &self.mode)
            .field("retry", &self.retry)
            .field("bearer", &self.bearer.as_ref().map(|_| redact::MASK))
            .field("webhook", &self.webhook)
            .finish()
    }
}

impl HttpSink {
    /// A sink for the server of `config`. Nothing is sent yet (HTTP has no connection to
    /// open ahead; `async` keeps the shape of every binding's `connect`): the base URL, the
    /// bearer token and the webhook secret are checked here, and a bad one is an error that
    /// says which.
    pub async fn connect(config: &HttpConfig) -> Result<Self, TransportError> {
        Self::from_config(config)
    }

    fn from_config(config: &HttpConfig) -> Result<Self, TransportError> {
        let base = config.base_url.trim_end_matches('/').to_owned();
        let problem = match reqwest::Url::parse(&base) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => None,
            Ok(url) => Some(format!(
                "its scheme is `{}`, not http or https",
                url.scheme()
            )),
            Err(e) => Some(e.to_string()),
        };
        if let Some(problem) = problem {
            let message = format!(
                "the base URL {} is not an absolute http(s) URL: {problem}",
                redact::url(&base)
            );
            return Err(TransportError::new("http", redact::scrub(&message, &base)));
        }
        let auth = |e: AuthConfigError| TransportError::with_source("http", e.to_string(), e);
        if let Some(token) = &config.bearer {
            check_bearer(token).map_err(auth)?;
        }
        let webhook = config
            .webhook_secret
            .as_deref()
            .map(WebhookSecret::parse)
            .transpose()
            .map_err(auth)?;
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|e| TransportError::with_source("http", "cannot build the HTTP client", e))?;
        Ok(Self {
            http,
            base,
            mode: config.mode,
            retry: config.retry.clone(),
            bearer: config.bearer.clone(),
            webhook,
        })
    }

    /// [`HttpSink::connect`] with [`HttpConfig::new`]`(base_url)`, for the builder style below
    /// (each setter is the [`HttpConfig`] field of the same name).
    pub fn new(base_url: impl Into<String>) -> Result<Self, TransportError> {
        Self::from_config(&HttpConfig::new(base_url))
    }

    pub fn with_mode(mut self, mode: SendMode) -> Self {
        self.mode = mode;
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The timeout of each request.
    pub fn with_timeout(self, timeout: Duration) -> Result<Self, TransportError> {
        let mut next = Self::from_config(&HttpConfig::new(self.base).with_timeout(timeout))?;
        next.mode = self.mode;
        next.retry = self.retry;
        next.bearer = self.bearer;
        next.webhook = self.webhook;
        Ok(next)
    }

    /// Sends `Authorization: Bearer <token>` with every request.
    pub fn with_bearer(mut self, token: impl Into<String>) -> Result<Self, AuthConfigError> {
        let token = token.into();
        check_bearer(&token)?;
        self.bearer = Some(token);
        Ok(self)
    }

    /// Signs every request with the Standard Webhooks secret `whsec_<base64>`.
    pub fn with_webhook_secret(mut self, secret: &str) -> Result<Self, AuthConfigError> {
        self.webhook = Some(WebhookSecret::parse(secret)?);
        Ok(self)
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Sends one event (in the client's mode) until the server accepts it; the server's
    /// answer about it.
    pub async fn post(&self, message: &Outgoing) -> Result<EventResult, HttpError> {
        let (status, text) = self.post_text(message).await?;
        Ok(serde_json::from_str(&text).unwrap_or(EventResult {
            status,
            outcome: Outcome::Handled,
            id: Some(message.message_id.clone()),
            source: None,
            event_type: None,
            seq: None,
            retry_after_ms: None,
            problem: None,
        }))
    }

    /// Sends one event; the `2xx` status and the answer's text.
    async fn post_text(&self, message: &Outgoing) -> Result<(u16, String), HttpError> {
        let url = format!("{}{}", self.base, message.channel);
        let mut headers: Vec<(String, String)> = message
            .headers
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("content-type"))
            .filter_map(|(n, v)| Some((n.to_owned(), std::str::from_utf8(v).ok()?.to_owned())))
            .collect();
        let body = match self.mode {
            SendMode::Structured => {
                headers.push((
                    "content-type".into(),
                    format!("{STRUCTURED_CONTENT_TYPE}; charset=utf-8"),
                ));
                message.payload.clone()
            }
            SendMode::Binary => {
                let (ce, content_type, body) = cloudevents::structured_to_binary(&message.payload)
                    .map_err(HttpError::Request)?;
                headers.extend(ce);
                headers.push(("content-type".into(), content_type));
                body
            }
        };
        self.send_with_retries(&url, &headers, body, &message.message_id)
            .await
    }

    /// Sends events in one batched-mode request (to the first message's channel) until the
    /// server answers it without asking for a retry; one result per event, in order. An
    /// event the server refused (invalid, dead-lettered) is a result with a `4xx` status, not
    /// an error: the others were still handled. No `traceparent` header is sent: each event
    /// carries its own `traceparent` attribute.
    pub async fn post_batch(&self, messages: &[Outgoing]) -> Result<Vec<EventResult>, HttpError> {
        let Some(first) = messages.first() else {
            return Ok(Vec::new());
        };
        let url = format!("{}{}", self.base, first.channel);
        let mut body =
            Vec::with_capacity(messages.iter().map(|m| m.payload.len() + 1).sum::<usize>() + 2);
        body.push(b'[');
        for (i, m) in messages.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(&m.payload);
        }
        body.push(b']');
        let headers = vec![(
            "content-type".to_owned(),
            format!("{BATCH_CONTENT_TYPE}; charset=utf-8"),
        )];
        // A batch is one message for the signature: its id is new, not any event's.
        let webhook_id = format!("batch_{}", uuid::Uuid::new_v4().simple());
        let (status, text) = self
            .send_with_retries(&url, &headers, body, &webhook_id)
            .await?;
        serde_json::from_str::<BatchResult>(&text)
            .map(|b| b.results)
            .map_err(|e| HttpError::Refused {
                url: redact::url(&url),
                status,
                problem: None,
                body: format!("the batch answer is not a result list ({e}): {text}"),
            })
    }

    async fn send_with_retries(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
        webhook_id: &str,
    ) -> Result<(u16, String), HttpError> {
        let max = self.retry.max_attempts.max(1);
        let mut attempt = 1;
        loop {
            let mut request = self.http.post(url);
            for (name, value) in headers {
                request = request.header(name.as_str(), value.as_str());
            }
            if attempt > 1 {
                request = request.header(ATTEMPT_HEADER, attempt.to_string());
            }
            if let Some(token) = &self.bearer {
                request = request.bearer_auth(token);
            }
            if let Some(secret) = &self.webhook {
                let timestamp = unix_now();
                request = request
                    .header(WEBHOOK_ID_HEADER, webhook_id)
                    .header(WEBHOOK_TIMESTAMP_HEADER, timestamp.to_string())
                    .header(
                        WEBHOOK_SIGNATURE_HEADER,
                        secret.sign(webhook_id, timestamp, &body),
                    );
            }
            let (failure, hint) = match request.body(body.clone()).send().await {
                Err(e) => (
                    redact::scrub(&format!("{e}{}", source_chain(&e)), url),
                    None,
                ),
                Ok(response) => {
                    let status = response.status().as_u16();
                    let hint = retry_hint(response.headers());
                    match response.text().await {
                        Ok(text) if (200..300).contains(&status) => return Ok((status, text)),
                        Ok(text) if status == 429 || status >= 500 && status != 501 => {
                            let problem = serde_json::from_str::<Problem>(&text).ok();
                            (format!("{status}: {}", describe(&problem, &text)), hint)
                        }
                        Ok(text) => {
                            return Err(HttpError::Refused {
                                url: redact::url(url),
                                status,
                                problem: serde_json::from_str(&text).ok(),
                                body: text,
                            })
                        }
                        // The answer was lost on the way: the server may have handled it;
                        // resending is safe (duplicates are dropped).
                        Err(e) => (format!("{status}, then the body failed: {e}"), hint),
                    }
                }
            };
            if attempt >= max {
                return Err(HttpError::GaveUp {
                    url: redact::url(url),
                    attempts: attempt,
                    last: failure,
                });
            }
            let wait = hint.unwrap_or_else(|| self.retry.backoff(attempt));
            tracing::debug!(url = %redact::Redacted(url), attempt, %failure, ?wait, "resending");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

fn source_chain(error: &dyn std::error::Error) -> String {
    let mut out = String::new();
    let mut source = error.source();
    while let Some(e) = source {
        out.push_str(": ");
        out.push_str(&e.to_string());
        source = e.source();
    }
    out
}

/// A bearer token travels in a header: non-empty visible ASCII.
fn check_bearer(token: &str) -> Result<(), AuthConfigError> {
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AuthConfigError::BearerToken);
    }
    Ok(())
}

fn retry_hint(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let read = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<u64>().ok();
    read(RETRY_AFTER_MS_HEADER)
        .map(Duration::from_millis)
        .or_else(|| read("retry-after").map(Duration::from_secs))
}

impl Sink for HttpSink {
    const MESSAGING_SYSTEM: &'static str = "http";

    /// Sends one event; `Ok` once the server answered `2xx` (handled, duplicate, or accepted
    /// as an unknown type).
    async fn send(&self, message: Outgoing) -> Result<(), TransportError> {
        self.post_text(&message)
            .await
            .map(drop)
            .map_err(|e| TransportError::with_source("http", e.to_string(), e))
    }
}

/// One typed event as the [`Publisher`](crate::transport::Publisher) would send it (envelope,
/// ids, `traceparent` header), without sending it: the input of [`HttpSink::post_batch`].
pub fn prepare<C, E>(event: E, meta: &Meta) -> Result<Outgoing, PublishError>
where
    C: Publishes<E>,
    E: Event,
{
    let mut meta = meta.clone();
    let traceparent = meta
        .traceparent
        .take()
        .unwrap_or_else(|| trace::child_or_new(None));
    meta.traceparent = Some(traceparent.clone());
    let message = C::wrap(event, &meta)?;
    let mut outgoing = C::outgoing(&message)?;
    if outgoing.headers.get(TRACEPARENT_HEADER).is_none() {
        outgoing.headers.insert(TRACEPARENT_HEADER, traceparent);
    }
    Ok(outgoing)
}
