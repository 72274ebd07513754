//! RabbitMQ / AMQP 0-9-1 binding (feature `amqp`, client: `lapin`, kept private).
//!
//! # Topology ([`AmqpBroker::declare`], idempotent)
//!
//! With the exchange name `E` (default `events`, configurable so tests use a unique one):
//!
//! | what | name | kind |
//! |---|---|---|
//! | the event bus | `E` | durable `topic` exchange; routing key = the event's topic |
//! | a consumer group `G` | `E.G` | durable queue bound to `E` with each of the group's patterns (`capture.*`, `#`, …) |
//! | its dead letters | `E.G.dead-letter` | durable queue, reached through the default exchange |
//! | its delayed retries | `E.G.retry.<ms>ms` | durable queue per backoff step, declared when first used (see below) |
//! | the audit log | `E.audit` | durable **stream** (`x-queue-type: stream`) bound with `tenant.#` |
//!
//! Every queue name therefore starts with the exchange name: one configuration value
//! separates one deployment (or one test run) from another.
//!
//! # Publishing ([`AmqpSink`])
//!
//! Each [`Outgoing`] is published to the exchange with routing key = `outgoing.channel`,
//! `delivery_mode = 2` (persistent), `message_id`, the `content-type` header as the AMQP
//! `content_type` property and every other header (`traceparent`, …) as an AMQP header
//! (long string). The channel is in publisher-confirm mode and every publish is
//! `mandatory`: [`Sink::send`] returns only after the broker confirmed the message, and a
//! message no queue is bound for is returned by the broker and becomes an error (never a
//! silent drop). When the connection is lost (broker restart, network), the sink reconnects
//! and publishes the unconfirmed message again until [`AmqpConfig::reconnect_timeout`]:
//! a confirmed message is never lost, a message whose confirm was lost in transit may be
//! stored twice (at-least-once; consumers see the same `message_id`).
//!
//! # Consuming ([`AmqpSource`])
//!
//! One connection and channel per source, manual acknowledgement, `basic.qos` prefetch
//! [`AmqpConfig::prefetch`]. A consumer that dies (connection or channel closed) without
//! acknowledging leaves its deliveries to the broker, which redelivers them to the group's
//! other consumers. A source does not reconnect by itself: a lost connection ends
//! [`super::run`] with an error, nothing it held was acknowledged, and starting a new source
//! is the recovery. On graceful shutdown the message in hand is settled and the connection is
//! closed when the source is dropped, which returns the prefetched, unhandled deliveries to
//! the queue.
//!
//! **Attempt count.** `Delivery::attempt` is the `x-attempt` header of a republished retry
//! (1 when absent), plus one when the broker flags the delivery `redelivered` (a consumer
//! held it before and died). Classic queues do not count redeliveries beyond that flag, so
//! a message redelivered after several crashes counts at least one more attempt, not each;
//! and a prefetched delivery a stopped consumer never handed to its handler also comes back
//! flagged, so it counts one attempt early (erring towards dead-lettering, never looping).
//!
//! **Retry** ([`Source::retry`]). The original bytes and properties are republished, with
//! `x-attempt` incremented, through the default exchange to the group's retry queue for the
//! backoff, `E.G.retry.<ms>ms`. That queue has `x-message-ttl = <ms>` and dead-letters
//! expired messages back to the group queue (`x-dead-letter-exchange: ""`,
//! `x-dead-letter-routing-key: E.G`); after the publish is confirmed the original is acked.
//! Since RabbitMQ only expires messages at the head of a queue, per-message expirations in
//! one retry queue would make a short backoff wait behind a long one (head-of-line
//! blocking). So each backoff step has its own queue, where every message has the same TTL
//! and FIFO order is expiry order. Backoffs (which carry jitter) are rounded to steps of
//! 10 ms below 1 s, 100 ms below 10 s, 1 s below 100 s, then 10 s, which bounds the number
//! of retry queues; each has `x-expires` (twice its TTL plus one minute), so unused steps
//! disappear on their own, and is (re)declared before every retry publish. A message that
//! comes back this way arrives with the group queue as its routing key, so the original
//! routing key travels in the `x-original-routing-key` header ([`ROUTING_KEY_HEADER`]),
//! which the source uses as `Delivery::channel` for messages from the default exchange.
//!
//! **Dead letters** ([`Source::dead_letter`]). The original bytes and the original
//! properties and headers (as the broker delivered them) plus the dead-letter headers
//! (`x-dead-letter-reason`, `-error`, `-attempts`, `-origin`, `-channel`, `-group`) are
//! published to `E.G.dead-letter`; the original is acked only after that publish is
//! confirmed. If it is not, the source returns an error and the original stays unacked.
//!
//! # Audit log ([`AuditReader`])
//!
//! The document says `tenant.*` events are "also written to `data/audit.log` as an
//! immutable trail". Here that trail is the stream `E.audit`, bound with `tenant.#`: a
//! RabbitMQ stream is append-only by construction (consumers read from an offset and their
//! acks remove nothing; no message can be deleted individually), it is durable, and it is
//! filled by the same confirmed, mandatory publish as every other queue, so a tenant event
//! confirmed to the publisher is in the log. Do not configure retention
//! (`x-max-length-bytes`, `x-max-age`) on it if the trail must be kept forever.
//! [`AuditReader`] reads it from the first (or any) offset.
//!
//! Headers are an AMQP table: names are unique and the broker does not keep their order.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use lapin::message::Delivery as LapinDelivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind,
};
use tokio::time::Instant;

use super::redact;
use super::{
    ConsumerGroup, Contract, DeadLetter, Delivery, Headers, Outgoing, Sink, Source, TransportError,
    ATTEMPT_HEADER,
};

const TRANSPORT: &str = "amqp";
/// Header carrying a retried message's original routing key (the broker replaces the routing
/// key when it dead-letters the message from a retry queue back to the group queue).
pub const ROUTING_KEY_HEADER: &str = "x-original-routing-key";
const CONTENT_TYPE: &str = "content-type";
/// Header RabbitMQ sets on every message read from a stream: its offset.
const STREAM_OFFSET: &str = "x-stream-offset";

/// Where and how to reach RabbitMQ, and the names of the topology. `Debug` shows the URI
/// without its password.
#[derive(Clone, PartialEq)]
pub struct AmqpConfig {
    /// `amqp://user:password@host:port/vhost` (`%2f` is the default vhost `/`).
    pub uri: String,
    /// The topic exchange; every queue name starts with it (see the module docs).
    pub exchange: String,
    /// Unacknowledged deliveries a source holds at once (`basic.qos`).
    pub prefetch: u16,
    /// Binding patterns of the audit stream; empty: no audit stream.
    pub audit_binds: Vec<String>,
    /// Bound on establishing one connection.
    pub connect_timeout: Duration,
    /// Bound on waiting for one publisher confirm.
    pub confirm_timeout: Duration,
    /// How long a sink keeps reconnecting and republishing one message before it gives up.
    pub reconnect_timeout: Duration,
}

impl std::fmt::Debug for AmqpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpConfig")
            .field("uri", &redact::Redacted(&self.uri))
            .field("exchange", &self.exchange)
            .field("prefetch", &self.prefetch)
            .field("audit_binds", &self.audit_binds)
            .field("connect_timeout", &self.connect_timeout)
            .field("confirm_timeout", &self.confirm_timeout)
            .field("reconnect_timeout", &self.reconnect_timeout)
            .finish()
    }
}

impl Default for AmqpConfig {
    fn default() -> Self {
        Self {
            uri: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            exchange: "events".into(),
            prefetch: 32,
            audit_binds: vec!["tenant.#".into()],
            connect_timeout: Duration::from_secs(10),
            confirm_timeout: Duration::from_secs(30),
            reconnect_timeout: Duration::from_secs(60),
        }
    }
}

impl AmqpConfig {
    /// The defaults with another broker address.
    pub fn new(uri: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            ..Self::default()
        }
    }

    /// The same configuration with another exchange (and so other queue names).
    pub fn with_exchange(mut self, exchange: impl Into<String>) -> Self {
        self.exchange = exchange.into();
        self
    }

    pub fn with_prefetch(mut self, prefetch: u16) -> Self {
        self.prefetch = prefetch;
        self
    }

    /// The queue of consumer group `group`.
    pub fn group_queue(&self, group: &str) -> String {
        format!("{}.{group}", self.exchange)
    }

    /// The dead-letter queue of consumer group `group`.
    pub fn dead_letter_queue(&self, group: &str) -> String {
        format!("{}.{group}.dead-letter", self.exchange)
    }

    /// The retry queue of `group` whose messages wait `step_ms` before they return.
    pub fn retry_queue(&self, group: &str, step_ms: u64) -> String {
        format!("{}.{group}.retry.{step_ms}ms", self.exchange)
    }

    /// The append-only audit stream.
    pub fn audit_queue(&self) -> String {
        format!("{}.audit", self.exchange)
    }
}

/// The backoff step (milliseconds) a retry after `after` waits in: see the module docs.
pub fn retry_step_ms(after: Duration) -> u64 {
    let ms = after.as_millis().min(u128::from(u32::MAX)) as u64;
    let unit = match ms {
        0..=999 => 10,
        1_000..=9_999 => 100,
        10_000..=99_999 => 1_000,
        _ => 10_000,
    };
    (ms.div_ceil(unit) * unit).max(unit)
}

fn error(what: impl std::fmt::Display, e: lapin::Error) -> TransportError {
    TransportError::with_source(TRANSPORT, format!("{what}: {e}"), e)
}

fn short(what: &str, value: &str) -> Result<ShortString, TransportError> {
    ShortString::try_new(value).map_err(|e| {
        TransportError::with_source(
            TRANSPORT,
            format!("{what} `{value}` is longer than AMQP allows (255 bytes)"),
            e,
        )
    })
}

async fn connect(config: &AmqpConfig, name: &str) -> Result<Connection, TransportError> {
    let properties = ConnectionProperties::default().with_connection_name(name.into());
    match tokio::time::timeout(
        config.connect_timeout,
        Connection::connect(&config.uri, properties),
    )
    .await
    {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(e)) => {
            let mut failed = error(
                format_args!("cannot connect to RabbitMQ at {}", redact::url(&config.uri)),
                e,
            );
            failed.message = redact::scrub(&failed.message, &config.uri);
            Err(failed)
        }
        Err(_) => Err(TransportError::new(
            TRANSPORT,
            format!(
                "no connection to RabbitMQ at {} within {:?}",
                redact::url(&config.uri),
                config.connect_timeout
            ),
        )),
    }
}

/// A channel in publisher-confirm mode.
async fn confirm_channel(connection: &Connection) -> Result<Channel, TransportError> {
    let channel = connection
        .create_channel()
        .await
        .map_err(|e| error("cannot open a channel", e))?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|e| error("cannot enable publisher confirms", e))?;
    Ok(channel)
}

/// Why a confirmed publish failed.
enum Failure {
    /// The broker answered and refused (unroutable, nack, missing exchange): do not retry.
    Refused(TransportError),
    /// The connection or channel went away (or the confirm never came): retry elsewhere.
    Lost(TransportError),
}

impl Failure {
    fn of(what: &str, e: lapin::Error) -> Self {
        if e.is_amqp_soft_error() {
            Failure::Refused(error(what, e))
        } else {
            Failure::Lost(error(what, e))
        }
    }

    fn into_error(self) -> TransportError {
        match self {
            Failure::Refused(e) | Failure::Lost(e) => e,
        }
    }
}

/// Publishes mandatory and waits for the broker's confirm.
async fn publish_confirmed(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    payload: &[u8],
    properties: BasicProperties,
    confirm_timeout: Duration,
) -> Result<(), Failure> {
    let confirm = channel
        .basic_publish(
            short("exchange", exchange).map_err(Failure::Refused)?,
            short("routing key", routing_key).map_err(Failure::Refused)?,
            BasicPublishOptions {
                mandatory: true,
                immediate: false,
            },
            payload,
            properties,
        )
        .await
        .map_err(|e| Failure::of("publish failed", e))?;
    let confirmation = tokio::time::timeout(confirm_timeout, confirm)
        .await
        .map_err(|_| {
            Failure::Lost(TransportError::new(
                TRANSPORT,
                format!("no publisher confirm for `{routing_key}` within {confirm_timeout:?}"),
            ))
        })?
        .map_err(|e| Failure::of("publisher confirm failed", e))?;
    match confirmation {
        Confirmation::Ack(None) => Ok(()),
        Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned)) => {
            Err(Failure::Refused(TransportError::new(
                TRANSPORT,
                format!(
                    "unroutable: exchange `{exchange}` has no queue bound for routing key \
                     `{routing_key}` (broker returned it: {} {})",
                    returned.reply_code, returned.reply_text
                ),
            )))
        }
        Confirmation::Nack(None) => Err(Failure::Refused(TransportError::new(
            TRANSPORT,
            format!("the broker refused (nacked) the message for `{routing_key}`"),
        ))),
        Confirmation::NotRequested => Err(Failure::Refused(TransportError::new(
            TRANSPORT,
            "publisher confirms are not enabled on this channel",
        ))),
    }
}

/// The AMQP properties of an outgoing message: persistent, id, content type, headers.
fn properties_of(message: &Outgoing) -> Result<BasicProperties, TransportError> {
    let mut table = BTreeMap::new();
    let mut properties = BasicProperties::default().with_delivery_mode(2);
    for (name, value) in message.headers.iter() {
        if name.eq_ignore_ascii_case(CONTENT_TYPE) {
            let value = String::from_utf8_lossy(value);
            properties = properties.with_content_type(short("content type", &value)?);
        } else {
            table.insert(
                short("header name", name)?,
                AMQPValue::LongString(LongString::from(value)),
            );
        }
    }
    if !message.message_id.is_empty() {
        properties = properties.with_message_id(short("message id", &message.message_id)?);
    }
    Ok(properties.with_headers(FieldTable::from(table)))
}

/// One header value as bytes: strings as they are, numbers and booleans in decimal, nested
/// tables and arrays (`x-death`) in their debug form.
fn header_bytes(value: &AMQPValue) -> Vec<u8> {
    match value {
        AMQPValue::LongString(s) => s.as_bytes().to_vec(),
        AMQPValue::ShortString(s) => s.as_str().as_bytes().to_vec(),
        AMQPValue::ByteArray(b) => b.as_slice().to_vec(),
        AMQPValue::Boolean(b) => b.to_string().into_bytes(),
        AMQPValue::ShortShortInt(n) => n.to_string().into_bytes(),
        AMQPValue::ShortShortUInt(n) => n.to_string().into_bytes(),
        AMQPValue::ShortInt(n) => n.to_string().into_bytes(),
        AMQPValue::ShortUInt(n) => n.to_string().into_bytes(),
        AMQPValue::LongInt(n) => n.to_string().into_bytes(),
        AMQPValue::LongUInt(n) => n.to_string().into_bytes(),
        AMQPValue::LongLongInt(n) => n.to_string().into_bytes(),
        AMQPValue::Timestamp(n) => n.to_string().into_bytes(),
        AMQPValue::Float(n) => n.to_string().into_bytes(),
        AMQPValue::Double(n) => n.to_string().into_bytes(),
        other => format!("{other:?}").into_bytes(),
    }
}

fn header_u64(value: &AMQPValue) -> Option<u64> {
    match value {
        AMQPValue::ShortShortUInt(n) => Some(u64::from(*n)),
        AMQPValue::ShortUInt(n) => Some(u64::from(*n)),
        AMQPValue::LongUInt(n) => Some(u64::from(*n)),
        AMQPValue::Timestamp(n) => Some(*n),
        AMQPValue::ShortShortInt(n) => u64::try_from(*n).ok(),
        AMQPValue::ShortInt(n) => u64::try_from(*n).ok(),
        AMQPValue::LongInt(n) => u64::try_from(*n).ok(),
        AMQPValue::LongLongInt(n) => u64::try_from(*n).ok(),
        other => std::str::from_utf8(&header_bytes(other))
            .ok()
            .and_then(|s| s.trim().parse().ok()),
    }
}

/// The headers of a delivery as [`Headers`]: the `content_type` property as `content-type`,
/// then the AMQP headers.
fn headers_of(properties: &BasicProperties) -> Headers {
    let mut headers = Headers::new();
    if let Some(ct) = properties.content_type() {
        headers.append(CONTENT_TYPE, ct.as_str());
    }
    if let Some(table) = properties.headers() {
        for (name, value) in table {
            headers.append(name.as_str(), header_bytes(value));
        }
    }
    headers
}

fn table_get<'a>(properties: &'a BasicProperties, name: &str) -> Option<&'a AMQPValue> {
    properties
        .headers()
        .as_ref()
        .and_then(|t| t.inner().get(name))
}

/// The original properties with `extra` headers set (replacing same-named ones).
fn with_headers(
    properties: &BasicProperties,
    extra: impl IntoIterator<Item = (String, Vec<u8>)>,
) -> Result<BasicProperties, TransportError> {
    let mut table = properties
        .headers()
        .as_ref()
        .map(|t| t.inner().clone())
        .unwrap_or_default();
    for (name, value) in extra {
        table.insert(
            short("header name", &name)?,
            AMQPValue::LongString(value.into()),
        );
    }
    Ok(properties
        .clone()
        .with_delivery_mode(2)
        .with_headers(FieldTable::from(table)))
}

fn args(pairs: &[(&str, AMQPValue)]) -> FieldTable {
    let mut table = FieldTable::default();
    for (k, v) in pairs {
        table.insert((*k).into(), v.clone());
    }
    table
}

/// A handle on one RabbitMQ connection: declares and removes topology, opens sinks, sources
/// and audit readers (each on its own connection), and reads queues for inspection.
pub struct AmqpBroker {
    config: Arc<AmqpConfig>,
    _connection: Connection,
    channel: Channel,
}

impl AmqpBroker {
    /// Connects (bounded by [`AmqpConfig::connect_timeout`]); the error names the broker.
    pub async fn connect(config: &AmqpConfig) -> Result<Self, TransportError> {
        let connection = connect(config, "event-contracts admin").await?;
        let channel = confirm_channel(&connection).await?;
        Ok(Self {
            config: Arc::new(config.clone()),
            _connection: connection,
            channel,
        })
    }

    pub fn config(&self) -> &AmqpConfig {
        &self.config
    }

    /// Declares the whole topology of system `C`: exchange, every consumer group of its
    /// catalog with its dead-letter queue, and the audit stream. Idempotent.
    pub async fn declare<C: Contract>(&self) -> Result<(), TransportError> {
        self.declare_groups(C::consumer_groups()).await
    }

    /// Declares the exchange, `groups` (queue bound by each pattern, dead-letter queue) and
    /// the audit stream. Idempotent: declaring what exists with the same settings is a no-op.
    pub async fn declare_groups(&self, groups: &[ConsumerGroup]) -> Result<(), TransportError> {
        let durable = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        let exchange = short("exchange", &self.config.exchange)?;
        self.channel
            .exchange_declare(
                exchange.clone(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable: true,
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(|e| error(format_args!("declaring exchange `{exchange}`"), e))?;
        for group in groups {
            let queue = self.config.group_queue(group.name);
            let dead = self.config.dead_letter_queue(group.name);
            for name in [&queue, &dead] {
                self.channel
                    .queue_declare(short("queue", name)?, durable, FieldTable::default())
                    .await
                    .map_err(|e| error(format_args!("declaring queue `{name}`"), e))?;
            }
            for pattern in group.binds {
                self.bind(&queue, pattern).await?;
            }
        }
        if !self.config.audit_binds.is_empty() {
            let audit = self.config.audit_queue();
            self.channel
                .queue_declare(
                    short("queue", &audit)?,
                    durable,
                    args(&[("x-queue-type", AMQPValue::LongString("stream".into()))]),
                )
                .await
                .map_err(|e| error(format_args!("declaring audit stream `{audit}`"), e))?;
            for pattern in &self.config.audit_binds {
                self.bind(&audit, pattern).await?;
            }
        }
        Ok(())
    }

    async fn bind(&self, queue: &str, pattern: &str) -> Result<(), TransportError> {
        self.channel
            .queue_bind(
                short("queue", queue)?,
                short("exchange", &self.config.exchange)?,
                short("binding key", pattern)?,
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| error(format_args!("binding `{queue}` with `{pattern}`"), e))
    }

    /// Deletes what [`AmqpBroker::declare_groups`] created for `groups` (queues with their
    /// messages, the audit stream, the exchange). Retry queues expire on their own.
    pub async fn delete_groups(&self, groups: &[ConsumerGroup]) -> Result<(), TransportError> {
        let mut queues: Vec<String> = groups
            .iter()
            .flat_map(|g| {
                [
                    self.config.group_queue(g.name),
                    self.config.dead_letter_queue(g.name),
                ]
            })
            .collect();
        if !self.config.audit_binds.is_empty() {
            queues.push(self.config.audit_queue());
        }
        for queue in &queues {
            self.channel
                .queue_delete(short("queue", queue)?, QueueDeleteOptions::default())
                .await
                .map_err(|e| error(format_args!("deleting `{queue}`"), e))?;
        }
        self.channel
            .exchange_delete(
                short("exchange", &self.config.exchange)?,
                ExchangeDeleteOptions::default(),
            )
            .await
            .map_err(|e| error("deleting the exchange", e))
    }

    /// Messages ready in `queue` (not counting deliveries held unacknowledged by consumers).
    pub async fn ready(&self, queue: &str) -> Result<u32, TransportError> {
        let q = self
            .channel
            .queue_declare(
                short("queue", queue)?,
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(|e| error(format_args!("inspecting `{queue}`"), e))?;
        Ok(q.message_count())
    }

    /// Takes the next message of `queue` (`basic.get`, acknowledged: it leaves the queue).
    pub async fn take(&self, queue: &str) -> Result<Option<Delivery>, TransportError> {
        let got = self
            .channel
            .basic_get(short("queue", queue)?, BasicGetOptions { no_ack: true })
            .await
            .map_err(|e| error(format_args!("reading `{queue}`"), e))?;
        Ok(got.map(|mut m| {
            let payload = std::mem::take(&mut m.delivery.data);
            delivery_of(&m.delivery, queue, payload)
        }))
    }

    /// Publishes raw bytes with `routing_key` and `headers` to the exchange, mandatory and
    /// confirmed, as a foreign producer would (poison-message tests, replays).
    pub async fn publish_raw(
        &self,
        routing_key: &str,
        payload: &[u8],
        headers: Headers,
    ) -> Result<(), TransportError> {
        let outgoing = Outgoing {
            channel: routing_key.to_owned(),
            key: None,
            message_id: String::new(),
            payload: payload.to_vec(),
            headers,
        };
        publish_confirmed(
            &self.channel,
            &self.config.exchange,
            routing_key,
            payload,
            properties_of(&outgoing)?,
            self.config.confirm_timeout,
        )
        .await
        .map_err(Failure::into_error)
    }

    /// A publisher on its own connection.
    pub async fn sink(&self) -> Result<AmqpSink, TransportError> {
        AmqpSink::connect(&self.config).await
    }

    /// A consumer of `group` on its own connection.
    pub async fn source(&self, group: &str) -> Result<AmqpSource, TransportError> {
        AmqpSource::connect(&self.config, group).await
    }

    /// A reader of the audit stream on its own connection.
    pub async fn audit_reader(&self, from: AuditOffset) -> Result<AuditReader, TransportError> {
        AuditReader::connect(&self.config, from).await
    }
}

fn delivery_of(d: &LapinDelivery, queue: &str, payload: Vec<u8>) -> Delivery {
    let mut channel = d.routing_key.as_str().to_owned();
    if d.exchange.as_str().is_empty() {
        // Back from a retry queue: the broker replaced the routing key with the queue's.
        if let Some(original) = table_get(&d.properties, ROUTING_KEY_HEADER) {
            channel = String::from_utf8_lossy(&header_bytes(original)).into_owned();
        }
    }
    let attempt = table_get(&d.properties, ATTEMPT_HEADER)
        .and_then(header_u64)
        .filter(|n| *n >= 1)
        .map_or(1, |n| n.min(u64::from(u32::MAX - 1)) as u32)
        + u32::from(d.redelivered);
    Delivery {
        origin: format!("amqp:{queue}:{channel}#{}", d.delivery_tag),
        channel,
        key: d
            .properties
            .message_id()
            .as_ref()
            .map(|id| id.as_str().as_bytes().to_vec()),
        payload,
        headers: headers_of(&d.properties),
        attempt,
    }
}

struct Link {
    id: u64,
    _connection: Connection,
    channel: Channel,
}

/// Publishes to the exchange with confirms; reconnects and republishes after a lost
/// connection (see the module docs). Cheap to share: `send` takes `&self`.
pub struct AmqpSink {
    config: AmqpConfig,
    link: Mutex<Option<Arc<Link>>>,
    reconnect: tokio::sync::Mutex<u64>,
    connections: std::sync::atomic::AtomicU64,
}

impl AmqpSink {
    /// Connects now, so a wrong address fails here rather than at the first publish.
    pub async fn connect(config: &AmqpConfig) -> Result<Self, TransportError> {
        let sink = Self {
            config: config.clone(),
            link: Mutex::new(None),
            reconnect: tokio::sync::Mutex::new(0),
            connections: std::sync::atomic::AtomicU64::new(0),
        };
        sink.current().await?;
        Ok(sink)
    }

    pub fn config(&self) -> &AmqpConfig {
        &self.config
    }

    /// How many times the sink replaced a lost connection (0 while the first one lasts).
    pub fn reconnects(&self) -> u64 {
        self.connections
            .load(std::sync::atomic::Ordering::Relaxed)
            .saturating_sub(1)
    }

    fn cached(&self) -> Option<Arc<Link>> {
        let link = self.link.lock().unwrap_or_else(|e| e.into_inner());
        link.as_ref()
            .filter(|l| l.channel.status().connected())
            .cloned()
    }

    async fn current(&self) -> Result<Arc<Link>, TransportError> {
        if let Some(link) = self.cached() {
            return Ok(link);
        }
        let mut generation = self.reconnect.lock().await;
        if let Some(link) = self.cached() {
            return Ok(link);
        }
        let connection = connect(&self.config, "event-contracts sink").await?;
        let channel = confirm_channel(&connection).await?;
        *generation += 1;
        self.connections
            .store(*generation, std::sync::atomic::Ordering::Relaxed);
        let link = Arc::new(Link {
            id: *generation,
            _connection: connection,
            channel,
        });
        *self.link.lock().unwrap_or_else(|e| e.into_inner()) = Some(link.clone());
        Ok(link)
    }

    fn forget(&self, id: u64) {
        let mut link = self.link.lock().unwrap_or_else(|e| e.into_inner());
        if link.as_ref().is_some_and(|l| l.id == id) {
            *link = None;
        }
    }
}

impl Sink for AmqpSink {
    const MESSAGING_SYSTEM: &'static str = "rabbitmq";

    async fn send(&self, message: Outgoing) -> Result<(), TransportError> {
        let properties = properties_of(&message)?;
        let deadline = Instant::now() + self.config.reconnect_timeout;
        let mut pause = Duration::from_millis(50);
        loop {
            let failure = match self.current().await {
                Ok(link) => match publish_confirmed(
                    &link.channel,
                    &self.config.exchange,
                    &message.channel,
                    &message.payload,
                    properties.clone(),
                    self.config.confirm_timeout,
                )
                .await
                {
                    Ok(()) => return Ok(()),
                    Err(Failure::Refused(e)) => return Err(e),
                    Err(Failure::Lost(e)) => {
                        self.forget(link.id);
                        e
                    }
                },
                Err(e) => e,
            };
            if Instant::now() + pause > deadline {
                return Err(TransportError::with_source(
                    TRANSPORT,
                    format!(
                        "`{}` not confirmed: no working connection within {:?}",
                        message.channel, self.config.reconnect_timeout
                    ),
                    failure,
                ));
            }
            tracing::warn!(error = %failure, ?pause, "amqp publish interrupted; reconnecting");
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }
}

/// One consumer of a group queue (its own connection; manual ack; prefetch).
pub struct AmqpSource {
    config: AmqpConfig,
    group: String,
    queue: String,
    connection: Connection,
    channel: Channel,
    consumer: lapin::Consumer,
}

/// Settles one delivery of an [`AmqpSource`]: the delivery tag and the message's original
/// properties (for retry and dead-letter copies).
pub struct AmqpToken {
    acker: lapin::Acker,
    properties: BasicProperties,
}

impl AmqpSource {
    /// Reads catalog consumer group `group` of system `C`: declares what is missing of it
    /// (exchange, the group's queue bound by its patterns, its dead-letter queue, the audit
    /// stream; idempotent) and starts consuming on a connection of its own.
    pub async fn for_group<C: Contract>(
        config: &AmqpConfig,
        group: &str,
    ) -> Result<Self, TransportError> {
        let found = C::require_consumer_group(TRANSPORT, group)?;
        // Declared on a short-lived connection of its own: dropping it closes it.
        AmqpBroker::connect(config)
            .await?
            .declare_groups(std::slice::from_ref(found))
            .await?;
        Self::connect(config, group).await
    }

    /// Starts consuming `config.group_queue(group)`, which must have been declared
    /// ([`AmqpBroker::declare`]). Kept for a group queue declared outside the catalog (by
    /// [`AmqpBroker::declare_groups`] with groups of its own) or by a deployment that does
    /// not let consumers declare; a catalog group is [`AmqpSource::for_group`].
    pub async fn connect(config: &AmqpConfig, group: &str) -> Result<Self, TransportError> {
        let queue = config.group_queue(group);
        let connection = connect(config, &format!("event-contracts {group}")).await?;
        let channel = confirm_channel(&connection).await?;
        channel
            .basic_qos(config.prefetch.max(1), BasicQosOptions::default())
            .await
            .map_err(|e| error("setting the prefetch", e))?;
        let tag = format!("{group}-{}", uuid::Uuid::new_v4().simple());
        let consumer = channel
            .basic_consume(
                short("queue", &queue)?,
                short("consumer tag", &tag)?,
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| error(format_args!("consuming `{queue}`"), e))?;
        Ok(Self {
            config: config.clone(),
            group: group.to_owned(),
            queue,
            connection,
            channel,
            consumer,
        })
    }

    pub fn queue(&self) -> &str {
        &self.queue
    }

    /// Closes the connection; every delivery not yet acknowledged goes back to the queue.
    pub async fn close(self) -> Result<(), TransportError> {
        self.connection
            .close(200, "consumer closed".into())
            .await
            .map_err(|e| error("closing the consumer connection", e))
    }

    async fn republish(
        &self,
        queue: &str,
        payload: &[u8],
        properties: BasicProperties,
    ) -> Result<(), TransportError> {
        publish_confirmed(
            &self.channel,
            "",
            queue,
            payload,
            properties,
            self.config.confirm_timeout,
        )
        .await
        .map_err(Failure::into_error)
    }
}

impl Source for AmqpSource {
    type Token = AmqpToken;

    async fn next(&mut self) -> Result<Option<(Delivery, AmqpToken)>, TransportError> {
        match self.consumer.next().await {
            None => Ok(None),
            Some(Err(e)) => Err(error(format_args!("consuming `{}`", self.queue), e)),
            Some(Ok(mut d)) => {
                let payload = std::mem::take(&mut d.data);
                let delivery = delivery_of(&d, &self.queue, payload);
                Ok(Some((
                    delivery,
                    AmqpToken {
                        acker: d.acker,
                        properties: d.properties,
                    },
                )))
            }
        }
    }

    async fn ack(&mut self, token: AmqpToken) -> Result<(), TransportError> {
        token
            .acker
            .ack(BasicAckOptions::default())
            .await
            .map(drop)
            .map_err(|e| error("ack failed", e))
    }

    async fn retry(
        &mut self,
        token: AmqpToken,
        delivery: &Delivery,
        after: Duration,
    ) -> Result<(), TransportError> {
        let step = retry_step_ms(after);
        let retry_queue = self.config.retry_queue(&self.group, step);
        self.channel
            .queue_declare(
                short("queue", &retry_queue)?,
                QueueDeclareOptions {
                    durable: true,
                    ..QueueDeclareOptions::default()
                },
                args(&[
                    ("x-message-ttl", AMQPValue::LongLongInt(step as i64)),
                    (
                        "x-expires",
                        AMQPValue::LongLongInt((step * 2 + 60_000) as i64),
                    ),
                    ("x-dead-letter-exchange", AMQPValue::LongString("".into())),
                    (
                        "x-dead-letter-routing-key",
                        AMQPValue::LongString(self.queue.as_str().into()),
                    ),
                ]),
            )
            .await
            .map_err(|e| error(format_args!("declaring retry queue `{retry_queue}`"), e))?;
        let mut extra = vec![(
            ATTEMPT_HEADER.to_owned(),
            (delivery.attempt + 1).to_string().into_bytes(),
        )];
        if table_get(&token.properties, ROUTING_KEY_HEADER).is_none() {
            extra.push((
                ROUTING_KEY_HEADER.to_owned(),
                delivery.channel.clone().into_bytes(),
            ));
        }
        let properties = with_headers(&token.properties, extra)?;
        self.republish(&retry_queue, &delivery.payload, properties)
            .await?;
        self.ack(token).await
    }

    async fn dead_letter(
        &mut self,
        token: AmqpToken,
        delivery: &Delivery,
        letter: &DeadLetter,
    ) -> Result<(), TransportError> {
        let added = letter.headers(&Headers::new(), &self.group);
        let properties = with_headers(
            &token.properties,
            added.iter().map(|(n, v)| (n.to_owned(), v.to_vec())),
        )?;
        let dead = self.config.dead_letter_queue(&self.group);
        self.republish(&dead, &delivery.payload, properties).await?;
        self.ack(token).await
    }
}

/// Where an [`AuditReader`] starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditOffset {
    /// The first entry still stored (the whole trail unless retention was configured).
    First,
    /// Only entries appended after the reader attached.
    Next,
    /// From this offset on.
    At(u64),
}

/// One entry of the audit stream.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    /// Its position in the stream (strictly increasing).
    pub offset: u64,
    /// The routing key (event name) and bytes exactly as published.
    pub delivery: Delivery,
}

/// Reads the append-only audit stream in order. Reading removes nothing.
pub struct AuditReader {
    _connection: Connection,
    _channel: Channel,
    consumer: lapin::Consumer,
    queue: String,
}

impl AuditReader {
    pub async fn connect(config: &AmqpConfig, from: AuditOffset) -> Result<Self, TransportError> {
        let queue = config.audit_queue();
        let connection = connect(config, "event-contracts audit reader").await?;
        let channel = connection
            .create_channel()
            .await
            .map_err(|e| error("cannot open a channel", e))?;
        // Streams require a prefetch and manual acks (acks only grant credit).
        channel
            .basic_qos(config.prefetch.max(1), BasicQosOptions::default())
            .await
            .map_err(|e| error("setting the prefetch", e))?;
        let offset = match from {
            AuditOffset::First => AMQPValue::LongString("first".into()),
            AuditOffset::Next => AMQPValue::LongString("next".into()),
            AuditOffset::At(n) => AMQPValue::LongLongInt(i64::try_from(n).unwrap_or(i64::MAX)),
        };
        let consumer = channel
            .basic_consume(
                short("queue", &queue)?,
                short(
                    "consumer tag",
                    &format!("audit-{}", uuid::Uuid::new_v4().simple()),
                )?,
                BasicConsumeOptions::default(),
                args(&[("x-stream-offset", offset)]),
            )
            .await
            .map_err(|e| error(format_args!("reading audit stream `{queue}`"), e))?;
        Ok(Self {
            _connection: connection,
            _channel: channel,
            consumer,
            queue,
        })
    }

    /// The next entry; waits until one is appended (wrap it in a timeout). `None` when the
    /// broker cancelled the reader.
    pub async fn next(&mut self) -> Result<Option<AuditEntry>, TransportError> {
        match self.consumer.next().await {
            None => Ok(None),
            Some(Err(e)) => Err(error(format_args!("reading `{}`", self.queue), e)),
            Some(Ok(mut d)) => {
                let offset = table_get(&d.properties, STREAM_OFFSET)
                    .and_then(header_u64)
                    .ok_or_else(|| {
                        TransportError::new(TRANSPORT, "a stream entry without x-stream-offset")
                    })?;
                d.acker
                    .ack(BasicAckOptions::default())
                    .await
                    .map_err(|e| error("granting stream credit", e))?;
                let payload = std::mem::take(&mut d.data);
                let mut delivery = delivery_of(&d, &self.queue, payload);
                delivery.headers.remove(STREAM_OFFSET);
                Ok(Some(AuditEntry { offset, delivery }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_steps_are_bounded_and_never_shorter() {
        assert_eq!(retry_step_ms(Duration::ZERO), 10);
        assert_eq!(retry_step_ms(Duration::from_millis(11)), 20);
        assert_eq!(retry_step_ms(Duration::from_millis(999)), 1000);
        assert_eq!(retry_step_ms(Duration::from_millis(1001)), 1100);
        assert_eq!(retry_step_ms(Duration::from_secs(30)), 30_000);
        assert_eq!(retry_step_ms(Duration::from_secs(3600)), 3_600_000);
    }

    #[test]
    fn outgoing_headers_become_properties() {
        let mut headers = Headers::new();
        headers.insert("content-type", "application/json");
        headers.insert("traceparent", "00-abc");
        let p = properties_of(&Outgoing {
            channel: "capture.alive".into(),
            key: None,
            message_id: "m1".into(),
            payload: vec![],
            headers: headers.clone(),
        })
        .expect("fits");
        assert_eq!(p.delivery_mode(), &Some(2));
        assert_eq!(p.message_id().as_ref().map(|s| s.as_str()), Some("m1"));
        assert_eq!(headers_of(&p), headers);
        let long = "x".repeat(300);
        let err = properties_of(&Outgoing {
            channel: "c".into(),
            key: None,
            message_id: long,
            payload: vec![],
            headers: Headers::new(),
        })
        .expect_err("too long");
        assert!(err.to_string().contains("message id"), "{err}");
    }
}
