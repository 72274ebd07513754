//! NATS JetStream binding (feature `nats`), the transport of the `agents` system
//! (`shared/docs/003_…`): a flat system, the event is the whole message and the subject names it.
//!
//! # Layout on the broker
//!
//! - **Streams** come from the catalog: every event's [`Channel::Nats`] names its stream and
//!   subject; a stream captures `<first token>.>` of its events' subjects (`INGEST` captures
//!   `ingest.>`, `ORCHESTRATOR` `orchestrator.>`, …), file storage, with a duplicate window
//!   ([`NatsConfig::duplicate_window`]) so a publish repeated with the same `Nats-Msg-Id` is
//!   stored once. [`NatsTransport::setup`] creates what is missing and leaves existing streams
//!   and consumers as they are (an operator may have tuned them).
//! - **Durable pull consumers**, one per consumer group and stream: a group of the catalog
//!   (`agents::CONSUMER_GROUPS`) that binds `ingest.>` and `usage.metered.>` has a durable
//!   named after the group on `INGEST` (filter `ingest.>`) and one on `USAGE` (filter
//!   `usage.metered.>`). Explicit ack, `ack_wait` = [`NatsConfig::ack_wait`], `max_deliver` =
//!   the consumer's [`RetryPolicy::max_attempts`]. Several processes reading the same durable
//!   share its messages (competing consumers).
//! - **Dead letters**: one stream per group, `DEAD_LETTER_<GROUP>` (`DEAD_LETTER_AUDIT_LOG`),
//!   capturing `dead-letter.<group>.>`; a message of `ingest.document.processed` that group
//!   `analytics-service` cannot handle is copied to
//!   `dead-letter.analytics-service.ingest.document.processed` with its original payload and
//!   headers (its `Nats-Msg-Id` included, so a copy repeated after a crash is dropped by the
//!   dead-letter stream's duplicate window) plus the `x-dead-letter-*` headers. One stream per
//!   group because deduplication is per stream: two groups dead-lettering the same event must
//!   both keep their copy. Only `Nats-Expected-*` publish preconditions of the original are
//!   left off the copy (they name the original stream's state and would make the copy fail).
//!
//! # Namespaces
//!
//! JetStream refuses two streams whose subjects overlap, so two deployments (or two test runs)
//! on one server need distinct subjects as well as distinct stream names:
//! [`NatsConfig::stream_prefix`] is put before every stream name and
//! [`NatsConfig::subject_prefix`] before every subject published, captured, filtered or
//! dead-lettered. [`Delivery::channel`] is the catalog subject, without the prefix.
//! [`NatsConfig::namespaced`] sets both from one word.
//!
//! # Delivery semantics
//!
//! - Publishing ([`NatsSink`]) sets `Nats-Msg-Id` = the event id ([`Outgoing::message_id`]) and
//!   carries every other header (`traceparent`, `content-type`) as a NATS header; it returns
//!   once the stream's PubAck arrived. A publish that timed out or broke with the connection is
//!   retried ([`NatsConfig::publish_attempts`]) with the same `Nats-Msg-Id`, so the retry can
//!   never store the message twice.
//! - A producer in another language that follows the agents document sends the event's JSON
//!   only; JetStream deduplicates solely by `Nats-Msg-Id`, so without that header every copy
//!   is stored and delivered. Setting `Nats-Msg-Id` to the event's id property (`event_id`,
//!   `message_id`, `alert_id`: the manifest's `message_id`) is optional but recommended; the
//!   consumer side deduplicates regardless by that same declared id when its [`Policy`](super::Policy) has an
//!   idempotency store (`redis::RedisIdempotency`), the duplicate counted in
//!   [`Stats::skipped`](super::Stats).
//! - Consuming ([`NatsSource`]): [`Delivery::attempt`] is JetStream's delivery count; success
//!   acks, a transient failure naks with the backoff delay (`-NAK {"delay":…}`), a dead letter
//!   is published, its PubAck awaited, and only then the original acked (a confirmed double
//!   ack). A consumer that dies holding messages loses nothing: JetStream redelivers them to
//!   the durable's other readers after `ack_wait`.
//! - When JetStream itself gives up (a message delivered `max_deliver` times and never settled,
//!   because its handler outlived `ack_wait` or its consumer crashed every time), the server
//!   announces it on `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<durable>`; the
//!   source listens (one listener per group, a queue subscription), reads the message back by
//!   its stream sequence and dead-letters it with reason `retries-exhausted`. The advisory is
//!   core NATS: it reaches only sources that are running when it is sent.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::pull;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy};
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::{Acker, PublishMessage};
use async_nats::jetstream::{self, stream, AckKind};
use async_nats::{HeaderMap, HeaderName};
use bytes::Bytes;
use futures_util::stream::{SelectAll, StreamExt};

use super::redact;
use super::{
    ConsumerGroup, Contract, DeadLetter, DeadLetterReason, Delivery, Headers, Outgoing,
    RetryPolicy, Sink, Source, TransportError,
};
use crate::Channel;

const T: &str = "nats";
/// The header JetStream deduplicates publishes by.
pub const MSG_ID_HEADER: &str = "Nats-Msg-Id";
const START_HINT: &str = "start it with `nats-server -js` or `bash .ci/services.sh`";

/// Where and how to reach JetStream. `Default` is the local server with the catalog's names.
/// `Debug` shows the URL without its password or token.
#[derive(Clone)]
pub struct NatsConfig {
    /// Server URL (`nats://127.0.0.1:4222`).
    pub url: String,
    /// Put before every stream name (`T42_` makes `T42_INGEST`).
    pub stream_prefix: String,
    /// Put before every subject on the wire (`t42.` makes `t42.ingest.document.processed`).
    pub subject_prefix: String,
    /// How long a stream remembers `Nats-Msg-Id`s to drop duplicate publishes.
    pub duplicate_window: Duration,
    /// How long a delivered, unsettled message waits before JetStream redelivers it.
    pub ack_wait: Duration,
    /// Messages a source asks for per pull request (and so holds at most unprocessed).
    pub batch: usize,
    /// How long one pull request stays open on the server. A source dropped (or crashed)
    /// leaves its open request behind that long: messages the server hands to it meanwhile
    /// come back only after `ack_wait`, so keep it short where consumers come and go.
    pub pull_expires: Duration,
    /// How long a publish waits for its PubAck, and JetStream API requests for their answer.
    pub request_timeout: Duration,
    /// Tries per publish (first included) when the PubAck times out or the connection breaks.
    pub publish_attempts: u32,
    /// Longest wait between two reconnection attempts.
    pub max_reconnect_delay: Duration,
    /// Client name the server shows in its connection list.
    pub connection_name: Option<String>,
    /// `max_deliver` of the durables [`NatsSource::for_group`] creates: JetStream's own bound
    /// on deliveries, behind the engine's. Keep it equal to the policy's
    /// `retry.max_attempts` ([`NatsConfig::with_retry`]); a message that reaches it unsettled
    /// is dead-lettered from the max-deliveries advisory, never dropped.
    pub max_deliver: u32,
}

impl std::fmt::Debug for NatsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsConfig")
            .field("url", &redact::Redacted(&self.url))
            .field("stream_prefix", &self.stream_prefix)
            .field("subject_prefix", &self.subject_prefix)
            .field("duplicate_window", &self.duplicate_window)
            .field("ack_wait", &self.ack_wait)
            .field("batch", &self.batch)
            .field("pull_expires", &self.pull_expires)
            .field("request_timeout", &self.request_timeout)
            .field("publish_attempts", &self.publish_attempts)
            .field("max_reconnect_delay", &self.max_reconnect_delay)
            .field("connection_name", &self.connection_name)
            .field("max_deliver", &self.max_deliver)
            .finish()
    }
}

impl Default for NatsConfig {
    fn default() -> Self {
        Self {
            url: "nats://127.0.0.1:4222".into(),
            stream_prefix: String::new(),
            subject_prefix: String::new(),
            duplicate_window: Duration::from_secs(120),
            ack_wait: Duration::from_secs(30),
            batch: 64,
            pull_expires: Duration::from_secs(5),
            request_timeout: Duration::from_secs(5),
            publish_attempts: 5,
            max_reconnect_delay: Duration::from_secs(2),
            connection_name: None,
            max_deliver: RetryPolicy::default().max_attempts,
        }
    }
}

impl NatsConfig {
    /// The defaults, on `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }

    /// The defaults on `url`, in namespace `ns` (a subject token: letters, digits, `-`, `_`):
    /// streams `<NS>_INGEST`, subjects `<ns>.ingest.…`.
    pub fn namespaced(url: impl Into<String>, ns: &str) -> Self {
        Self {
            url: url.into(),
            stream_prefix: format!("{}_", ns.to_uppercase().replace('-', "_")),
            subject_prefix: format!("{ns}."),
            ..Self::default()
        }
    }

    /// Durables get `max_deliver` = `retry.max_attempts`, the engine's limit.
    pub fn with_retry(mut self, retry: &RetryPolicy) -> Self {
        self.max_deliver = retry.max_attempts;
        self
    }
}

/// What the stream answered to a publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishReceipt {
    /// The stream that stored it.
    pub stream: String,
    /// Its sequence in that stream (of the first copy, for a duplicate).
    pub sequence: u64,
    /// True when the stream had the `Nats-Msg-Id` already and dropped this copy.
    pub duplicate: bool,
}

/// What [`NatsTransport::setup`] made sure exists (prefixed names).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Topology {
    /// Stream name → captured subjects.
    pub streams: BTreeMap<String, Vec<String>>,
    /// Dead-letter stream name → captured subjects.
    pub dead_letter_streams: BTreeMap<String, Vec<String>>,
    /// (stream, durable consumer, filter subjects).
    pub consumers: Vec<(String, String, Vec<String>)>,
}

/// A connection to JetStream and the names of one deployment. Cheap to clone.
#[derive(Clone)]
pub struct NatsTransport {
    inner: Arc<Inner>,
}

struct Inner {
    client: async_nats::Client,
    js: jetstream::Context,
    config: NatsConfig,
}

impl std::fmt::Debug for NatsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsTransport")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

fn err(message: impl Into<String>, source: impl Into<super::BoxError>) -> TransportError {
    TransportError::with_source(T, message, source)
}

/// Whether a nats-server of `version` (`2.10.4`) honours a consumer's `filter_subjects`.
fn filters_several_subjects(version: &str) -> bool {
    let mut parts = version
        .trim_start_matches('v')
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (2, 10)
}

/// A valid single subject token / durable name: no whitespace, `.`, `*`, `>`, slashes.
fn check_token(what: &str, token: &str) -> Result<(), TransportError> {
    let bad = token.is_empty()
        || token.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '.' | '*' | '>' | '/' | '\\')
        });
    if bad {
        return Err(TransportError::new(
            T,
            format!(
                "{what} `{token}` is not a valid NATS name (no whitespace, `.`, `*`, `>`, slashes)"
            ),
        ));
    }
    Ok(())
}

/// True when some subject matches both patterns (`*` one token, trailing `>` one or more).
pub fn subjects_overlap(a: &str, b: &str) -> bool {
    let a: Vec<&str> = a.split('.').collect();
    let b: Vec<&str> = b.split('.').collect();
    let mut i = 0;
    loop {
        match (a.get(i), b.get(i)) {
            (None, None) => return true,
            (Some(&">"), Some(_)) | (Some(_), Some(&">")) => return true,
            (Some(x), Some(y)) if *x == "*" || *y == "*" || x == y => i += 1,
            _ => return false,
        }
    }
}

/// The catalog's streams and the subject patterns each captures (unprefixed).
fn catalog_streams<C: Contract>() -> BTreeMap<&'static str, Vec<String>> {
    let mut streams: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for info in C::events() {
        if let Channel::Nats { stream, subject } = info.channel {
            let pattern = match subject.split_once('.') {
                Some((first, _)) => format!("{first}.>"),
                None => subject.to_owned(),
            };
            let subjects = streams.entry(stream).or_default();
            if !subjects.contains(&pattern) {
                subjects.push(pattern);
            }
        }
    }
    streams
}

impl NatsTransport {
    /// Connects (and keeps reconnecting after a broker restart, forever, with capped backoff).
    /// An unreachable server is an error naming the URL and how to start one.
    pub async fn connect(config: &NatsConfig) -> Result<Self, TransportError> {
        let config = config.clone();
        let max_delay = config.max_reconnect_delay;
        let mut options = async_nats::ConnectOptions::new()
            .connection_timeout(config.request_timeout)
            .reconnect_delay_callback(move |attempts| {
                let exp = u32::try_from(attempts.min(16)).unwrap_or(16);
                Duration::from_millis(10u64.saturating_mul(2u64.saturating_pow(exp))).min(max_delay)
            });
        if let Some(name) = &config.connection_name {
            options = options.name(name);
        }
        let client = options.connect(config.url.as_str()).await.map_err(|e| {
            let message = format!(
                "cannot connect to NATS at {}: {e}; {START_HINT}",
                redact::url(&config.url)
            );
            err(redact::scrub(&message, &config.url), e)
        })?;
        let js = jetstream::ContextBuilder::new()
            .timeout(config.request_timeout)
            .build(client.clone());
        Ok(Self {
            inner: Arc::new(Inner { client, js, config }),
        })
    }

    pub fn config(&self) -> &NatsConfig {
        &self.inner.config
    }

    /// The wire name of catalog stream `name` (with the stream prefix).
    pub fn stream_name(&self, name: &str) -> String {
        format!("{}{name}", self.inner.config.stream_prefix)
    }

    /// The wire subject of catalog subject `subject` (with the subject prefix).
    pub fn subject(&self, subject: &str) -> String {
        format!("{}{subject}", self.inner.config.subject_prefix)
    }

    /// The dead-letter stream of `group`: `DEAD_LETTER_<GROUP>` (with the stream prefix).
    pub fn dead_letter_stream(&self, group: &str) -> String {
        self.stream_name(&format!(
            "DEAD_LETTER_{}",
            group.to_uppercase().replace('-', "_")
        ))
    }

    /// Where `group` dead-letters a message of `channel`: `dead-letter.<group>.<channel>`.
    pub fn dead_letter_subject(&self, group: &str, channel: &str) -> String {
        self.subject(&format!("dead-letter.{group}.{channel}"))
    }

    /// A publisher's sink (a clone of this connection).
    pub fn sink(&self) -> NatsSink {
        NatsSink {
            transport: self.clone(),
        }
    }

    /// Creates what is missing of system `C`: its streams, and for each consumer group its
    /// dead-letter stream and durable consumers (`max_deliver` = `retry.max_attempts`).
    pub async fn setup<C: Contract>(
        &self,
        retry: &RetryPolicy,
    ) -> Result<Topology, TransportError> {
        let mut topology = Topology::default();
        self.ensure_streams::<C>(&mut topology).await?;
        for group in C::consumer_groups() {
            self.ensure_group::<C>(group, retry.max_attempts, &mut topology)
                .await?;
        }
        Ok(topology)
    }

    async fn ensure_streams<C: Contract>(
        &self,
        topology: &mut Topology,
    ) -> Result<(), TransportError> {
        for (name, subjects) in catalog_streams::<C>() {
            let name = self.stream_name(name);
            let subjects: Vec<String> = subjects.iter().map(|s| self.subject(s)).collect();
            self.ensure_stream(&name, &subjects).await?;
            topology.streams.insert(name, subjects);
        }
        Ok(())
    }

    async fn ensure_stream(
        &self,
        name: &str,
        subjects: &[String],
    ) -> Result<stream::Stream, TransportError> {
        check_token("stream name", name)?;
        self.inner
            .js
            .get_or_create_stream(stream::Config {
                name: name.to_owned(),
                subjects: subjects.to_vec(),
                duplicate_window: self.inner.config.duplicate_window,
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(|e| {
                err(
                    format!(
                        "cannot create or open stream {name} on {subjects:?} at {}: {e}",
                        redact::url(&self.inner.config.url)
                    ),
                    e,
                )
            })
    }

    /// The group's dead-letter stream and durables; returns (stream, durable) pairs.
    async fn ensure_group<C: Contract>(
        &self,
        group: &ConsumerGroup,
        max_deliver: u32,
        topology: &mut Topology,
    ) -> Result<
        Vec<(
            stream::Stream,
            async_nats::jetstream::consumer::Consumer<pull::Config>,
        )>,
        TransportError,
    > {
        check_token("consumer group", group.name)?;
        let dl_name = self.dead_letter_stream(group.name);
        let dl_subjects = vec![self.subject(&format!("dead-letter.{}.>", group.name))];
        self.ensure_stream(&dl_name, &dl_subjects).await?;
        topology.dead_letter_streams.insert(dl_name, dl_subjects);

        let mut consumers = Vec::new();
        for (stream_name, patterns) in catalog_streams::<C>() {
            let filters: Vec<String> = group
                .binds
                .iter()
                .filter(|bind| patterns.iter().any(|p| subjects_overlap(bind, p)))
                .map(|bind| self.subject(bind))
                .collect();
            if filters.is_empty() {
                continue;
            }
            let wire_stream = self.stream_name(stream_name);
            let stream = self.inner.js.get_stream(&wire_stream).await.map_err(|e| {
                err(
                    format!("stream {wire_stream} is missing (run NatsTransport::setup): {e}"),
                    e,
                )
            })?;
            let mut config = pull::Config {
                durable_name: Some(group.name.to_owned()),
                description: Some(group.description.chars().take(200).collect()),
                deliver_policy: DeliverPolicy::All,
                ack_policy: AckPolicy::Explicit,
                ack_wait: self.inner.config.ack_wait,
                max_deliver: i64::from(max_deliver.max(1)),
                ..Default::default()
            };
            if let [one] = filters.as_slice() {
                config.filter_subject = one.clone();
            } else {
                // An older server silently drops `filter_subjects` and would hand the group
                // every message of the stream, so refuse rather than over-deliver.
                let version = self.inner.client.server_info().version;
                if !filters_several_subjects(&version) {
                    return Err(TransportError::new(
                        T,
                        format!(
                            "consumer group `{}` binds {} subjects of stream {wire_stream} ({}); filtering on several subjects needs nats-server 2.10 or later, and this server is {version}: upgrade it, or bind the group to one subject pattern per stream",
                            group.name,
                            filters.len(),
                            filters.join(", ")
                        ),
                    ));
                }
                config.filter_subjects = filters.clone();
            }
            let consumer = stream
                .get_or_create_consumer(group.name, config)
                .await
                .map_err(|e| {
                    err(
                        format!(
                            "cannot create or open durable consumer {} on stream {wire_stream}: {e}",
                            group.name
                        ),
                        e,
                    )
                })?;
            topology
                .consumers
                .push((wire_stream, group.name.to_owned(), filters));
            consumers.push((stream, consumer));
        }
        Ok(consumers)
    }

    /// A consumer of catalog group `group` on this connection: creates what is missing
    /// (streams, its dead-letter stream, its durables with `max_deliver` =
    /// `retry.max_attempts`) and starts pulling. [`NatsSource::for_group`] is the same on a
    /// connection of its own; this one is for a service that shares one connection between
    /// its publisher and its sources, or whose retry policy differs from
    /// [`NatsConfig::max_deliver`].
    pub async fn source<C: Contract>(
        &self,
        group: &str,
        retry: &RetryPolicy,
    ) -> Result<NatsSource, TransportError> {
        self.group_source::<C>(group, retry.max_attempts).await
    }

    async fn group_source<C: Contract>(
        &self,
        group: &str,
        max_deliver: u32,
    ) -> Result<NatsSource, TransportError> {
        let found = C::require_consumer_group(T, group)?;
        let mut topology = Topology::default();
        self.ensure_streams::<C>(&mut topology).await?;
        let consumers = self
            .ensure_group::<C>(found, max_deliver, &mut topology)
            .await?;
        let batch = self.inner.config.batch.max(1);
        let pull_expires = self
            .inner
            .config
            .pull_expires
            .max(Duration::from_millis(200));
        let mut messages = SelectAll::new();
        let mut advisories = SelectAll::new();
        let mut streams = HashMap::new();
        for (stream, consumer) in consumers {
            let name = stream.cached_info().config.name.clone();
            let pulled = consumer
                .stream()
                .max_messages_per_batch(batch)
                .expires(pull_expires)
                .heartbeat(pull_expires / 2)
                .messages()
                .await
                .map_err(|e| err(format!("cannot pull from {name}/{group}: {e}"), e))?;
            messages.push(pulled);
            let advisory = format!("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{name}.{group}");
            let subscriber = self
                .inner
                .client
                .queue_subscribe(advisory.clone(), format!("{name}-{group}-max-deliveries"))
                .await
                .map_err(|e| err(format!("cannot subscribe to {advisory}: {e}"), e))?;
            advisories.push(subscriber);
            streams.insert(name, stream);
        }
        if messages.is_empty() {
            return Err(TransportError::new(
                T,
                format!("consumer group `{group}` binds no subject of any stream"),
            ));
        }
        Ok(NatsSource {
            transport: self.clone(),
            group: group.to_owned(),
            messages,
            advisories,
            streams,
            lag: super::metrics::ConsumerLag::new("nats", group),
        })
    }

    /// Publishes with `Nats-Msg-Id` = `message_id` (when not empty) and waits for the PubAck,
    /// retrying a timed-out or broken publish with the same id.
    async fn publish(
        &self,
        subject: String,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<PublishReceipt, TransportError> {
        let deduplicated = headers.get(MSG_ID_HEADER).is_some();
        let attempts = if deduplicated {
            self.inner.config.publish_attempts.max(1)
        } else {
            1
        };
        let mut attempt = 1;
        loop {
            match self
                .publish_once(&subject, headers.clone(), body.clone())
                .await
            {
                Ok(receipt) => return Ok(receipt),
                Err((retryable, e)) if retryable && attempt < attempts => {
                    tracing::warn!(%subject, attempt, error = %e, "publish not confirmed; retrying with the same Nats-Msg-Id");
                    tokio::time::sleep(Duration::from_millis(50u64 << attempt.min(6))).await;
                    attempt += 1;
                }
                Err((_, e)) => return Err(e),
            }
        }
    }

    async fn publish_once(
        &self,
        subject: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<PublishReceipt, (bool, TransportError)> {
        let fail = |e: async_nats::jetstream::context::PublishError| {
            let retryable = matches!(
                e.kind(),
                PublishErrorKind::TimedOut
                    | PublishErrorKind::BrokenPipe
                    | PublishErrorKind::StreamNotFound
                    | PublishErrorKind::MaxAckPending
            );
            let hint = if e.kind() == PublishErrorKind::StreamNotFound {
                " (no stream captures this subject: run NatsTransport::setup, or the server is restarting)"
            } else {
                ""
            };
            (
                retryable,
                err(format!("publish to {subject} not confirmed: {e}{hint}"), e),
            )
        };
        let ack = self
            .inner
            .js
            .send_publish(
                subject.to_owned(),
                PublishMessage::build().payload(body).headers(headers),
            )
            .await
            .map_err(fail)?
            .await
            .map_err(fail)?;
        Ok(PublishReceipt {
            stream: ack.stream,
            sequence: ack.sequence,
            duplicate: ack.duplicate,
        })
    }

    /// Every dead letter `group` has stored, oldest first (for operators and tests).
    /// [`Delivery::channel`] is the original catalog subject; the headers carry the reason.
    pub async fn dead_letters(&self, group: &str) -> Result<Vec<Delivery>, TransportError> {
        let name = self.dead_letter_stream(group);
        let prefix = self.dead_letter_subject(group, "");
        self.read_stream(&name)
            .await?
            .into_iter()
            .map(|(subject, seq, headers, payload)| {
                Ok(Delivery {
                    channel: subject.strip_prefix(&prefix).unwrap_or(&subject).to_owned(),
                    key: None,
                    payload,
                    headers,
                    attempt: 1,
                    origin: format!("nats:{name}/{seq}"),
                })
            })
            .collect()
    }

    /// Every message of wire stream `name`: (subject, sequence, headers, payload).
    async fn read_stream(
        &self,
        name: &str,
    ) -> Result<Vec<(String, u64, Headers, Vec<u8>)>, TransportError> {
        let mut stream = self
            .inner
            .js
            .get_stream(name)
            .await
            .map_err(|e| err(format!("cannot open stream {name}: {e}"), e))?;
        let state = stream
            .info()
            .await
            .map_err(|e| err(format!("cannot read stream {name}: {e}"), e))?
            .state
            .clone();
        let mut out = Vec::new();
        if state.messages == 0 {
            return Ok(out);
        }
        for seq in state.first_sequence..=state.last_sequence {
            match stream.get_raw_message(seq).await {
                Ok(m) => out.push((
                    m.subject.to_string(),
                    m.sequence,
                    from_nats_headers(Some(&m.headers)),
                    m.payload.to_vec(),
                )),
                Err(e) if e.kind() == stream::RawMessageErrorKind::NoMessageFound => {}
                Err(e) => return Err(err(format!("cannot read {name}/{seq}: {e}"), e)),
            }
        }
        Ok(out)
    }

    /// Deletes system `C`'s streams and its groups' dead-letter streams (with their
    /// consumers); what is already gone is fine. For tests and teardown.
    pub async fn delete_streams<C: Contract>(&self) -> Result<(), TransportError> {
        let mut names: Vec<String> = catalog_streams::<C>()
            .keys()
            .map(|n| self.stream_name(n))
            .collect();
        names.extend(
            C::consumer_groups()
                .iter()
                .map(|g| self.dead_letter_stream(g.name)),
        );
        for name in names {
            match self.inner.js.delete_stream(&name).await {
                Ok(_) => {}
                Err(e) if e.to_string().contains("not found") => {}
                Err(e) => return Err(err(format!("cannot delete stream {name}: {e}"), e)),
            }
        }
        Ok(())
    }

    /// Waits until everything written on the connection reached the server.
    pub async fn flush(&self) -> Result<(), TransportError> {
        self.inner
            .client
            .flush()
            .await
            .map_err(|e| err(format!("flush failed: {e}"), e))
    }
}

/// NATS header values are one line of text: line breaks become spaces, other bytes that are
/// not UTF-8 are replaced.
fn header_value(value: &[u8]) -> String {
    String::from_utf8_lossy(value).replace(['\r', '\n'], " ")
}

/// Our headers as NATS headers. A name NATS cannot carry (control characters, `:`, non-ASCII)
/// is an error rather than a silent drop.
fn to_nats_headers(headers: &Headers) -> Result<HeaderMap, TransportError> {
    let mut map = HeaderMap::new();
    for (name, value) in headers.iter() {
        let name = HeaderName::try_from(name).map_err(|e| {
            err(
                format!(
                    "header name `{}` cannot be a NATS header",
                    name.escape_debug()
                ),
                e,
            )
        })?;
        map.append(name, header_value(value));
    }
    Ok(map)
}

/// `nats:<stream>/<sequence>`, where a delivery came from. Written piece by piece: every
/// delivery has one, and `format!` made it a fifth of what reading a delivery cost.
fn origin(stream: &str, sequence: u64) -> String {
    let mut sequence_text = itoa::Buffer::new();
    let sequence_text = sequence_text.format(sequence);
    let mut origin = String::with_capacity(6 + stream.len() + sequence_text.len());
    origin.push_str("nats:");
    origin.push_str(stream);
    origin.push('/');
    origin.push_str(sequence_text);
    origin
}

fn from_nats_headers(map: Option<&HeaderMap>) -> Headers {
    let mut headers = Headers::new();
    if let Some(map) = map {
        for (name, values) in map.iter() {
            for value in values {
                headers.append(
                    AsRef::<str>::as_ref(name).to_owned(),
                    value.as_str().as_bytes().to_vec(),
                );
            }
        }
    }
    headers
}

/// Publishes to JetStream (see the module docs). Cheap to clone.
#[derive(Clone, Debug)]
pub struct NatsSink {
    transport: NatsTransport,
}

impl NatsSink {
    /// A publisher on a connection of its own ([`NatsTransport::connect`], then
    /// [`NatsTransport::sink`]).
    pub async fn connect(config: &NatsConfig) -> Result<Self, TransportError> {
        Ok(NatsTransport::connect(config).await?.sink())
    }

    /// Publishes and returns the stream's answer (stored, or dropped as a duplicate).
    pub async fn send_confirmed(
        &self,
        message: Outgoing,
    ) -> Result<PublishReceipt, TransportError> {
        let mut headers = to_nats_headers(&message.headers)?;
        if !message.message_id.is_empty() {
            headers.insert(MSG_ID_HEADER, header_value(message.message_id.as_bytes()));
        }
        self.transport
            .publish(
                self.transport.subject(&message.channel),
                headers,
                message.payload.into(),
            )
            .await
    }

    pub fn transport(&self) -> &NatsTransport {
        &self.transport
    }
}

impl Sink for NatsSink {
    const MESSAGING_SYSTEM: &'static str = "nats";

    async fn send(&self, message: Outgoing) -> Result<(), TransportError> {
        let receipt = self.send_confirmed(message).await?;
        if receipt.duplicate {
            tracing::debug!(stream = %receipt.stream, seq = receipt.sequence, "duplicate publish dropped by JetStream");
        }
        Ok(())
    }
}

/// Reads one consumer group's durables (see the module docs).
pub struct NatsSource {
    transport: NatsTransport,
    group: String,
    messages: SelectAll<pull::Stream>,
    advisories: SelectAll<async_nats::Subscriber>,
    streams: HashMap<String, stream::Stream>,
    lag: super::metrics::ConsumerLag,
}

impl std::fmt::Debug for NatsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsSource")
            .field("group", &self.group)
            .field("streams", &self.streams.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Settles one JetStream delivery.
pub struct NatsToken {
    acker: Acker,
}

/// `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES` payload (the fields we use).
#[derive(serde::Deserialize)]
struct MaxDeliveries {
    stream: String,
    stream_seq: u64,
    deliveries: u64,
}

impl NatsSource {
    /// Reads catalog consumer group `group` of system `C` on a connection of its own,
    /// creating what is missing (streams, the group's dead-letter stream, its durables with
    /// [`NatsConfig::max_deliver`]).
    pub async fn for_group<C: Contract>(
        config: &NatsConfig,
        group: &str,
    ) -> Result<Self, TransportError> {
        // Refuse an unknown group before connecting, as every binding does.
        C::require_consumer_group(T, group)?;
        NatsTransport::connect(config)
            .await?
            .group_source::<C>(group, config.max_deliver)
            .await
    }

    pub fn group(&self) -> &str {
        &self.group
    }

    fn channel_of(&self, subject: &str) -> String {
        subject
            .strip_prefix(&self.transport.inner.config.subject_prefix)
            .unwrap_or(subject)
            .to_owned()
    }

    fn delivery(
        &mut self,
        message: jetstream::Message,
    ) -> Result<(Delivery, NatsToken), TransportError> {
        let (attempt, origin) = {
            let info = message.info().map_err(|e| {
                TransportError::new(
                    T,
                    format!("a pulled message has no JetStream reply subject: {e}"),
                )
            })?;
            // JetStream tells each delivery how many messages the consumer has not yet
            // delivered (`num_pending`): the lag, at no extra request.
            self.lag.record(info.stream, info.pending);
            (
                u32::try_from(info.delivered).unwrap_or(u32::MAX).max(1),
                origin(info.stream, info.stream_sequence),
            )
        };
        let (message, acker) = message.split();
        let delivery = Delivery {
            channel: self.channel_of(message.subject.as_str()),
            key: None,
            payload: message.payload.to_vec(),
            headers: from_nats_headers(message.headers.as_ref()),
            attempt,
            origin,
        };
        Ok((delivery, NatsToken { acker }))
    }

    /// Dead-letters a message JetStream stopped redelivering (its `max_deliver` was hit).
    async fn max_delivered(&mut self, advisory: async_nats::Message) -> Result<(), TransportError> {
        let notice: MaxDeliveries = match serde_json::from_slice(&advisory.payload) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(subject = %advisory.subject, error = %e, "unreadable max-deliveries advisory");
                return Ok(());
            }
        };
        let Some(stream) = self.streams.get(&notice.stream) else {
            return Ok(());
        };
        let original = match stream.get_raw_message(notice.stream_seq).await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(stream = %notice.stream, seq = notice.stream_seq, error = %e, "a message past max_deliver is gone; nothing to dead-letter");
                return Ok(());
            }
        };
        let attempts = u32::try_from(notice.deliveries).unwrap_or(u32::MAX);
        let delivery = Delivery {
            channel: self.channel_of(original.subject.as_str()),
            key: None,
            payload: original.payload.to_vec(),
            headers: from_nats_headers(Some(&original.headers)),
            attempt: attempts,
            origin: origin(&notice.stream, notice.stream_seq),
        };
        let letter = DeadLetter {
            reason: DeadLetterReason::RetriesExhausted,
            error: format!(
                "JetStream stopped redelivering after {attempts} deliveries that were never settled \
                 (the consumer's max_deliver): the handler outlived ack_wait or its consumer died"
            ),
            attempts,
            origin: delivery.origin.clone(),
            channel: delivery.channel.clone(),
        };
        tracing::warn!(origin = %delivery.origin, attempts, "max_deliver reached; dead-lettering");
        self.publish_dead_letter(&delivery, &letter).await.map(drop)
    }

    async fn publish_dead_letter(
        &self,
        delivery: &Delivery,
        letter: &DeadLetter,
    ) -> Result<PublishReceipt, TransportError> {
        let mut headers = letter.headers(&delivery.headers, &self.group);
        let preconditions: Vec<String> = headers
            .iter()
            .filter(|(n, _)| n.to_ascii_lowercase().starts_with("nats-expected-"))
            .map(|(n, _)| n.to_owned())
            .collect();
        for name in preconditions {
            headers.remove(&name);
        }
        let subject = self
            .transport
            .dead_letter_subject(&self.group, &delivery.channel);
        self.transport
            .publish(
                subject,
                to_nats_headers(&headers)?,
                delivery.payload.clone().into(),
            )
            .await
    }
}

impl Source for NatsSource {
    type Token = NatsToken;

    async fn next(&mut self) -> Result<Option<(Delivery, NatsToken)>, TransportError> {
        loop {
            tokio::select! {
                Some(advisory) = self.advisories.next(), if !self.advisories.is_empty() => {
                    self.max_delivered(advisory).await?;
                }
                item = self.messages.next() => match item {
                    None => return Ok(None),
                    Some(Ok(message)) => return self.delivery(message).map(Some),
                    Some(Err(e)) => {
                        use pull::MessagesErrorKind as K;
                        match e.kind() {
                            // The connection dropped or the server is restarting: the client
                            // reconnects and pulls again.
                            K::MissingHeartbeat | K::Pull | K::NoResponders => {
                                tracing::warn!(group = %self.group, error = %e, "pull interrupted; continuing");
                            }
                            _ => {
                                return Err(err(
                                    format!("pulling for group {} failed: {e}", self.group),
                                    e,
                                ))
                            }
                        }
                    }
                },
            }
        }
    }

    async fn ack(&mut self, token: NatsToken) -> Result<(), TransportError> {
        token
            .acker
            .ack()
            .await
            .map_err(|e| TransportError::new(T, format!("ack failed: {e}")))
    }

    async fn retry(
        &mut self,
        token: NatsToken,
        _delivery: &Delivery,
        after: Duration,
    ) -> Result<(), TransportError> {
        token
            .acker
            .ack_with(AckKind::Nak(Some(after)))
            .await
            .map_err(|e| TransportError::new(T, format!("nak failed: {e}")))
    }

    async fn dead_letter(
        &mut self,
        token: NatsToken,
        delivery: &Delivery,
        letter: &DeadLetter,
    ) -> Result<(), TransportError> {
        self.publish_dead_letter(delivery, letter).await?;
        token.acker.double_ack().await.map_err(|e| {
            TransportError::new(
                T,
                format!(
                    "dead letter of {} stored, but the ack of the original failed (it will be \
                     redelivered and its dead letter deduplicated): {e}",
                    delivery.origin
                ),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_names_the_stream_and_sequence() {
        for (stream, sequence) in [
            ("AGENTS", 0),
            ("bench1a2b_ORCHESTRATOR", 42),
            ("S", u64::MAX),
        ] {
            assert_eq!(
                origin(stream, sequence),
                format!("nats:{stream}/{sequence}")
            );
        }
    }

    #[test]
    fn overlap_follows_nats_wildcards() {
        assert!(subjects_overlap("ingest.>", "ingest.>"));
        assert!(subjects_overlap("usage.metered.>", "usage.>"));
        assert!(subjects_overlap("orchestrator.step.>", "orchestrator.>"));
        assert!(!subjects_overlap("usage.metered.>", "ingest.>"));
        assert!(subjects_overlap("a.*.c", "a.b.>"));
        assert!(!subjects_overlap("a.b", "a.b.c"));
        assert!(!subjects_overlap("a.>", "a"));
    }

    #[test]
    fn several_filter_subjects_need_nats_server_2_10() {
        assert!(!filters_several_subjects("2.9.10"));
        assert!(!filters_several_subjects("v1.12.0"));
        assert!(filters_several_subjects("2.10.0"));
        assert!(filters_several_subjects("2.11.4-beta.1"));
        assert!(filters_several_subjects("3.0.0"));
        assert!(!filters_several_subjects("garbage"));
    }

    #[test]
    fn header_values_stay_on_one_line() {
        let mut headers = Headers::new();
        headers.insert("x-dead-letter-error", "line one\r\nline two");
        let map = to_nats_headers(&headers).expect("valid name");
        assert_eq!(
            map.get("x-dead-letter-error").map(|v| v.as_str()),
            Some("line one  line two")
        );
        let mut bad = Headers::new();
        bad.insert("bad:name", "x");
        assert!(to_nats_headers(&bad).is_err());
    }

    #[test]
    fn names_of_a_namespace() {
        let config = NatsConfig::namespaced("nats://x", "t-1");
        assert_eq!(config.stream_prefix, "T_1_");
        assert_eq!(config.subject_prefix, "t-1.");
    }
}
