//! Redis Streams binding (feature `redis`): [`RedisSink`] publishes with `XADD`,
//! [`RedisSource`] consumes one consumer group with `XREADGROUP`, settles with `XACK`, retries
//! through the group's pending entries list (PEL) and reclaims what crashed consumers left with
//! `XAUTOCLAIM`; [`RedisIdempotency`] remembers finished units of work across processes.
//!
//! # Stream entries
//!
//! One message is one stream entry on the key `{namespace}{channel}` (`stream:audio-ingest`
//! with the default empty namespace). Its fields are part of the system's contract: the
//! manifest's `redis` layout, [`Contract::STREAM_ENTRY`] in the generated code, the same for
//! producers and consumers in every language. The default layout (the audio system's):
//!
//! | field | value |
//! |---|---|
//! | `envelope` ([`ENVELOPE_FIELD`]) | the encoded, validated v1 envelope (JSON bytes, unchanged) |
//! | `h:<name>` ([`HEADER_PREFIX`]) | one per transport header: `h:traceparent`, `h:content-type`, … |
//!
//! A consumer turns the header fields back into [`Headers`](super::Headers) (prefix removed,
//! order kept); any other field a foreign producer wrote is carried along untouched and copied
//! unchanged onto a dead letter. An entry without the payload field holds no message: it is
//! dead-lettered as `malformed` with an error naming the field expected and the fields found
//! (`stream entry has no field `envelope` (fields: data, type); the audio system's producers
//! write the JSON message in `envelope` …`). No other layout is guessed at (a single field of
//! another name, the envelope spread over flat fields): one declared layout is what lets
//! every reader, including other languages' consumers of what Rust wrote, agree; a system
//! whose producers write another field declares it in its manifest.
//!
//! [`RedisSource::for_group`] reads its system's layout, and a
//! [`Publisher`](super::Publisher) sets it on its [`RedisSink`]; the `with_layout` methods set
//! one by hand.
//!
//! # Publishing
//!
//! [`RedisSink::send`] returns once Redis answered the `XADD` with the new entry id: the entry
//! is in the server's memory and, with `appendonly yes` + `appendfsync always`, on disk.
//! Trimming (`MAXLEN ~ n`) is off by default because it can delete entries a slow consumer
//! group has not read yet; turn it on with [`RedisSink::with_max_len`] only when losing old
//! entries is acceptable. A publish that fails with a connection error may or may not have been
//! applied: republishing is at-least-once, which idempotency on the consumer side absorbs.
//!
//! # Consuming
//!
//! [`RedisSource::connect`] creates the group on each of its streams if missing
//! (`XGROUP CREATE <stream> <group> 0 MKSTREAM`): by default ([`GroupStart::Beginning`]) a new
//! group starts at the beginning of the stream, so nothing published before the first worker
//! of a group ever started is lost; [`GroupStart::New`] (`$`) starts after the last entry.
//!
//! - New entries are read with `XREADGROUP GROUP <group> <consumer> COUNT <batch> BLOCK <ms>
//!   STREAMS <streams…> > …`; their attempt is 1.
//! - [`Source::ack`] is `XACK`. Entries are not deleted (other groups may still need them).
//! - [`Source::retry`] does not acknowledge: the entry stays pending, and once the backoff has
//!   passed this consumer claims it again with `XCLAIM <min-idle = backoff>`, which makes Redis
//!   increment its delivery count. The attempt of every redelivered entry is Redis's delivery
//!   count, read with `XPENDING` right after the claim; the local schedule only decides *when*.
//!   If this consumer dies before then, the entry is reclaimed by another one (below).
//! - Every `claim_interval`, `XAUTOCLAIM <stream> <group> <consumer> <claim_idle> <cursor>`
//!   takes over entries that have been pending longer than `claim_idle`, whoever holds them (a
//!   crashed consumer, this consumer's previous incarnation, a consumer stuck in a handler).
//!   `claim_idle` must therefore exceed the longest handler run and the largest backoff.
//! - [`Source::dead_letter`] `XADD`s the original fields unchanged plus the dead-letter headers
//!   (`h:x-dead-letter-reason`, `-error`, `-attempts`, `-origin`, `-channel`, `-group`,
//!   `-time`) to `{namespace}{channel}:dead-letter` ([`DEAD_LETTER_SUFFIX`]), and only after
//!   Redis confirmed it `XACK`s the original. The HTTP binding's Redis store writes its dead
//!   letters in the same layout; [`dead_letters`] (and
//!   [`redis_entry::read_dead_letters`]) reads either.
//! - Reads, acks and claims retry transient failures (connection loss, `LOADING` after a
//!   restart) for [`RedisConfig::reconnect_for`] before giving up with an error.
//!   A group that disappeared (`NOGROUP`, e.g. a restarted broker without persistence) is
//!   created again.
//!
//! On shutdown the engine stops calling [`Source::next`]; entries this consumer read ahead but
//! never handled stay pending (Redis Streams has no "release") and are reclaimed after
//! `claim_idle`. Nothing unfinished is acknowledged.
//!
//! [`Delivery::origin`] is `redis:{stream-key}/{entry-id}`; [`Delivery::key`] is `None`.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, RedisError, Value};

use super::redact;
use super::redis_entry::{self, items, parse_entries, string, Entry};
use super::{
    BoxError, Claim, Contract, DeadLetter, Delivery, IdempotencyStore, Outgoing, Sink, Source,
    StoredDeadLetter, StreamEntryLayout, TransportError,
};

/// The entry field holding the encoded envelope in the default layout.
pub const ENVELOPE_FIELD: &str = StreamEntryLayout::DEFAULT.payload_field;
/// Prefix of the entry fields holding transport headers in the default layout
/// (`h:traceparent`).
pub const HEADER_PREFIX: &str = StreamEntryLayout::DEFAULT.header_prefix;
/// Suffix of a stream's dead-letter stream (`stream:audio-ingest:dead-letter`).
pub const DEAD_LETTER_SUFFIX: &str = ":dead-letter";

const TRANSPORT: &str = "redis";

/// Where Redis is and how to talk to it. `Debug` shows the URL without its password.
#[derive(Clone, PartialEq)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port[/db]`.
    pub url: String,
    /// Prepended to every key this binding touches (streams, dead-letter streams, idempotency
    /// keys): `staging:` gives `staging:stream:audio-ingest`. Empty by default.
    pub namespace: String,
    /// Bound on establishing the first connection.
    pub connect_timeout: Duration,
    /// Bound on one command's reply (a blocking read adds its block time to it).
    pub response_timeout: Duration,
    /// The name a [`RedisSource`] reads its group as; unique among the group's live
    /// consumers. `None` (the default) gives each source `<group>-<random>`. A stable name
    /// (the pod or host name) lets a restarted worker read its own unsettled entries again at
    /// once, instead of after `claim_idle`, and does not leave a new consumer in the group
    /// on every restart.
    pub consumer: Option<String>,
    /// `COUNT` of one read or claim by a source.
    pub batch: usize,
    /// `BLOCK` of one read by a source.
    pub block: Duration,
    /// Entries pending longer than this are taken over (`XAUTOCLAIM` min-idle-time).
    pub claim_idle: Duration,
    /// How often a source looks for such entries.
    pub claim_interval: Duration,
    /// Where a consumer group a source creates starts reading.
    pub start: GroupStart,
    /// How long a source's reads, acks and claims retry transient failures before
    /// `next`/`ack` fail.
    pub reconnect_for: Duration,
}

/// The name [`RedisConfig`] had before every binding's configuration was `<Transport>Config`.
pub type RedisOptions = RedisConfig;

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &redact::Redacted(&self.url))
            .field("namespace", &self.namespace)
            .field("connect_timeout", &self.connect_timeout)
            .field("response_timeout", &self.response_timeout)
            .field("consumer", &self.consumer)
            .field("batch", &self.batch)
            .field("block", &self.block)
            .field("claim_idle", &self.claim_idle)
            .field("claim_interval", &self.claim_interval)
            .field("start", &self.start)
            .field("reconnect_for", &self.reconnect_for)
            .finish()
    }
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379".into(),
            namespace: String::new(),
            connect_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(5),
            consumer: None,
            batch: 32,
            block: Duration::from_secs(2),
            claim_idle: Duration::from_secs(60),
            claim_interval: Duration::from_secs(10),
            start: GroupStart::default(),
            reconnect_for: Duration::from_secs(30),
        }
    }
}

impl RedisConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }

    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// Sources read as consumer `name` (see [`RedisConfig::consumer`]).
    pub fn with_consumer(mut self, name: impl Into<String>) -> Self {
        self.consumer = Some(name.into());
        self
    }

    pub fn with_batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    pub fn with_block(mut self, block: Duration) -> Self {
        self.block = block;
        self
    }

    /// Sets `claim_idle`, and `claim_interval` to a quarter of it.
    pub fn with_claim_idle(mut self, idle: Duration) -> Self {
        self.claim_idle = idle;
        self.claim_interval = (idle / 4).max(Duration::from_millis(10));
        self
    }

    pub fn with_claim_interval(mut self, interval: Duration) -> Self {
        self.claim_interval = interval;
        self
    }

    pub fn with_start(mut self, start: GroupStart) -> Self {
        self.start = start;
        self
    }

    pub fn with_reconnect_for(mut self, patience: Duration) -> Self {
        self.reconnect_for = patience;
        self
    }

    /// The stream key of a catalog channel.
    pub fn stream_key(&self, channel: &str) -> String {
        format!("{}{channel}", self.namespace)
    }

    /// The dead-letter stream key of a catalog channel.
    pub fn dead_letter_key(&self, channel: &str) -> String {
        format!("{}{channel}{DEAD_LETTER_SUFFIX}", self.namespace)
    }
}

fn error(what: impl Into<String>, e: RedisError) -> TransportError {
    let what = what.into();
    TransportError::with_source(TRANSPORT, format!("{what}: {e}"), e)
}

/// A failure worth retrying on the same connection manager (it reconnects by itself).
fn transient(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_unrecoverable_error()
        || matches!(
            e.code(),
            Some("LOADING" | "BUSY" | "TRYAGAIN" | "MASTERDOWN")
        )
}

async fn connect(
    options: &RedisConfig,
    response_timeout: Duration,
) -> Result<ConnectionManager, TransportError> {
    let url = redact::url(&options.url);
    let client = redis::Client::open(options.url.as_str())
        .map_err(|e| error(format!("invalid Redis URL `{url}`"), e))?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(options.connect_timeout))
        .set_response_timeout(Some(response_timeout))
        .set_min_delay(Duration::from_millis(20))
        .set_max_delay(Duration::from_millis(500))
        .set_number_of_retries(8);
    match tokio::time::timeout(
        options.connect_timeout,
        ConnectionManager::new_with_config(client, config),
    )
    .await
    {
        Ok(Ok(manager)) => Ok(manager),
        Ok(Err(e)) => {
            let mut failed = error(
                format!("cannot connect to {url} (is redis-server running?)"),
                e,
            );
            failed.message = redact::scrub(&failed.message, &options.url);
            Err(failed)
        }
        Err(_) => Err(TransportError::new(
            TRANSPORT,
            format!(
                "cannot connect to {url}: no connection within {:?} (is redis-server running?)",
                options.connect_timeout
            ),
        )),
    }
}

/// Runs `cmd`, retrying transient failures until `patience` has passed.
async fn query_patiently(
    conn: &mut ConnectionManager,
    cmd: &Cmd,
    patience: Duration,
) -> Result<Value, RedisError> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(20);
    loop {
        match cmd.query_async::<Value>(conn).await {
            Ok(value) => return Ok(value),
            Err(e) if transient(&e) && started.elapsed() < patience => {
                tracing::warn!(error = %e, "redis: transient failure; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(500));
            }
            Err(e) => return Err(e),
        }
    }
}

fn xadd<'a>(
    key: &str,
    max_len: Option<usize>,
    fields: impl IntoIterator<Item = (Vec<u8>, &'a [u8])>,
) -> Cmd {
    let mut cmd = redis::cmd("XADD");
    cmd.arg(key);
    if let Some(n) = max_len {
        cmd.arg("MAXLEN").arg("~").arg(n);
    }
    cmd.arg("*");
    for (name, value) in fields {
        cmd.arg(name).arg(value);
    }
    cmd
}

/// Publishes [`Outgoing`] messages with `XADD` (see the module docs for the entry layout).
/// Cheap to clone; clones share one multiplexed, self-reconnecting connection, so concurrent
/// publishes are pipelined.
#[derive(Clone)]
pub struct RedisSink {
    conn: ConnectionManager,
    options: RedisConfig,
    max_len: Option<usize>,
    layout: StreamEntryLayout,
}

impl std::fmt::Debug for RedisSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSink")
            .field("url", &redact::url(&self.options.url))
            .field("namespace", &self.options.namespace)
            .field("max_len", &self.max_len)
            .field("layout", &self.layout)
            .finish()
    }
}

impl RedisSink {
    /// Connects (bounded by `options.connect_timeout`).
    pub async fn connect(options: &RedisConfig) -> Result<Self, TransportError> {
        Ok(Self {
            conn: connect(options, options.response_timeout).await?,
            options: options.clone(),
            max_len: None,
            layout: StreamEntryLayout::DEFAULT,
        })
    }

    /// Writes entries in `layout` ([`StreamEntryLayout::DEFAULT`] unless set). A
    /// [`Publisher`](super::Publisher) sets its system's declared layout itself.
    pub fn with_layout(mut self, layout: StreamEntryLayout) -> Self {
        self.layout = layout;
        self
    }

    pub fn layout(&self) -> StreamEntryLayout {
        self.layout
    }

    /// Trims each stream to about `n` entries on every publish (`XADD … MAXLEN ~ n`). Off by
    /// default: trimming deletes entries whether or not every group has read them.
    pub fn with_max_len(mut self, n: usize) -> Self {
        self.max_len = Some(n);
        self
    }

    pub fn options(&self) -> &RedisConfig {
        &self.options
    }

    /// Publishes one message and returns the stream entry id Redis assigned.
    pub async fn add(&self, message: &Outgoing) -> Result<String, TransportError> {
        let key = self.options.stream_key(&message.channel);
        let mut cmd = redis::cmd("XADD");
        cmd.arg(&key);
        if let Some(n) = self.max_len {
            cmd.arg("MAXLEN").arg("~").arg(n);
        }
        cmd.arg("*");
        for (name, value) in
            redis_entry::fields(&self.layout, Some(&message.payload), &[], &message.headers)
        {
            cmd.arg(name).arg(value);
        }
        let mut conn = self.conn.clone();
        cmd.query_async::<String>(&mut conn)
            .await
            .map_err(|e| error(format!("XADD to `{key}` was not confirmed"), e))
    }
}

impl Sink for RedisSink {
    const MESSAGING_SYSTEM: &'static str = "redis";

    async fn send(&self, message: Outgoing) -> Result<(), TransportError> {
        self.add(&message).await.map(drop)
    }

    fn bind_contract<C: Contract>(&mut self) {
        self.layout = C::STREAM_ENTRY;
    }
}

/// Where a newly created consumer group starts reading.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GroupStart {
    /// `0`: every entry still in the stream (the default: nothing published before the group
    /// existed is lost).
    #[default]
    Beginning,
    /// `$`: only entries added after the group was created.
    New,
}

/// What one source reads, resolved from the catalog group and [`RedisConfig`].
#[derive(Clone, Debug, PartialEq)]
struct SourceConfig {
    group: String,
    consumer: String,
    /// Catalog channels (stream names without the namespace) the group reads.
    streams: Vec<String>,
    batch: usize,
    block: Duration,
    claim_idle: Duration,
    claim_interval: Duration,
    start: GroupStart,
    reconnect_for: Duration,
    /// Where the message and headers sit in an entry (the system's manifest `redis`).
    layout: StreamEntryLayout,
    /// The system whose streams these are, named in errors about entries that do not follow
    /// its layout.
    system: &'static str,
}

/// Settles one delivery of a [`RedisSource`].
#[derive(Debug)]
pub struct RedisToken {
    stream: usize,
    id: String,
    /// Whether the entry had the layout's payload field.
    has_payload: bool,
    /// Fields that were neither the payload nor headers, as received.
    other: Vec<(Vec<u8>, Vec<u8>)>,
    /// Why the entry holds no message (no payload field), in words.
    unreadable: Option<String>,
}

impl RedisToken {
    /// The stream entry id.
    pub fn entry_id(&self) -> &str {
        &self.id
    }
}

struct Scheduled {
    stream: usize,
    id: String,
    due: Instant,
    min_idle: Duration,
}

/// Consumes one consumer group as one named consumer (see the module docs).
pub struct RedisSource {
    conn: ConnectionManager,
    options: RedisConfig,
    config: SourceConfig,
    keys: Vec<String>,
    buffer: VecDeque<(Delivery, RedisToken)>,
    scheduled: Vec<Scheduled>,
    cursors: Vec<String>,
    next_claim: Instant,
}

impl std::fmt::Debug for RedisSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSource")
            .field("url", &redact::url(&self.options.url))
            .field("config", &self.config)
            .field("keys", &self.keys)
            .field("buffered", &self.buffer.len())
            .field("scheduled", &self.scheduled.len())
            .finish()
    }
}

fn parse_stream_id(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
}

impl RedisSource {
    /// Reads catalog consumer group `group` of system `C` (the streams it binds, in the
    /// system's entry layout) as [`RedisConfig::consumer`]; connects and creates the group on
    /// each stream if missing.
    pub async fn for_group<C: Contract>(
        options: &RedisConfig,
        group: &str,
    ) -> Result<Self, TransportError> {
        let found = C::require_consumer_group(TRANSPORT, group)?;
        let consumer = match &options.consumer {
            Some(name) => name.clone(),
            None => format!(
                "{group}-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..12]
            ),
        };
        let config = SourceConfig {
            group: group.to_owned(),
            consumer,
            streams: found.binds.iter().map(|s| (*s).to_owned()).collect(),
            batch: options.batch.max(1),
            block: options.block,
            claim_idle: options.claim_idle,
            claim_interval: options.claim_interval,
            start: options.start,
            reconnect_for: options.reconnect_for,
            layout: C::STREAM_ENTRY,
            system: C::SYSTEM,
        };
        Self::connect(options, config).await
    }

    async fn connect(options: &RedisConfig, config: SourceConfig) -> Result<Self, TransportError> {
        if config.streams.is_empty() {
            return Err(TransportError::new(
                TRANSPORT,
                format!("consumer group `{}` reads no stream", config.group),
            ));
        }
        let conn = connect(options, options.response_timeout + config.block).await?;
        let keys: Vec<String> = config
            .streams
            .iter()
            .map(|s| options.stream_key(s))
            .collect();
        let mut source = Self {
            conn,
            options: options.clone(),
            cursors: vec!["0-0".to_owned(); keys.len()],
            keys,
            config,
            buffer: VecDeque::new(),
            scheduled: Vec::new(),
            next_claim: Instant::now(),
        };
        source.ensure_groups().await.map_err(|e| {
            error(
                format!("cannot create consumer group `{}`", source.config.group),
                e,
            )
        })?;
        Ok(source)
    }

    /// Reads entries in `layout` instead of the system's (a stream whose producers do not
    /// follow the manifest's `redis` layout).
    pub fn with_layout(mut self, layout: StreamEntryLayout) -> Self {
        self.config.layout = layout;
        self
    }

    pub fn group(&self) -> &str {
        &self.config.group
    }

    /// The consumer name this source reads as.
    pub fn consumer(&self) -> &str {
        &self.config.consumer
    }

    /// The catalog channels (stream names without the namespace) it reads.
    pub fn streams(&self) -> &[String] {
        &self.config.streams
    }

    async fn ensure_groups(&mut self) -> Result<(), RedisError> {
        let start = match self.config.start {
            GroupStart::Beginning => "0",
            GroupStart::New => "$",
        };
        for key in &self.keys {
            let mut cmd = redis::cmd("XGROUP");
            cmd.arg("CREATE")
                .arg(key)
                .arg(&self.config.group)
                .arg(start)
                .arg("MKSTREAM");
            match query_patiently(&mut self.conn, &cmd, self.config.reconnect_for).await {
                Ok(_) => {
                    tracing::info!(stream = %key, group = %self.config.group, start, "created consumer group");
                }
                Err(e) if e.code() == Some("BUSYGROUP") => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Entries of this group still pending (read by some consumer, not yet acknowledged),
    /// over all its streams.
    pub async fn pending(&mut self) -> Result<u64, TransportError> {
        let mut total = 0;
        for key in &self.keys {
            let mut cmd = redis::cmd("XPENDING");
            cmd.arg(key).arg(&self.config.group);
            let summary = query_patiently(&mut self.conn, &cmd, self.config.reconnect_for)
                .await
                .map_err(|e| error(format!("XPENDING `{key}`"), e))?;
            if let Some(Value::Int(n)) = items(summary).first() {
                total += u64::try_from(*n).unwrap_or(0);
            }
        }
        Ok(total)
    }

    fn delivery(&self, stream: usize, entry: Entry, attempt: u32) -> (Delivery, RedisToken) {
        let layout = &self.config.layout;
        let unreadable = (!entry
            .fields
            .iter()
            .any(|(name, _)| name == layout.payload_field.as_bytes()))
        .then(|| self.missing_payload(&entry));
        let split = redis_entry::split(layout, entry.fields);
        let has_payload = split.payload.is_some();
        let delivery = Delivery {
            channel: self.config.streams[stream].clone(),
            key: None,
            payload: split.payload.unwrap_or_default(),
            headers: split.headers,
            attempt,
            origin: format!("redis:{}/{}", self.keys[stream], entry.id),
        };
        let token = RedisToken {
            stream,
            id: entry.id,
            has_payload,
            other: split.other,
            unreadable,
        };
        (delivery, token)
    }

    /// What is wrong with an entry that lacks the payload field: which field was expected,
    /// which were found, and where the system's producers put the message.
    fn missing_payload(&self, entry: &Entry) -> String {
        let layout = &self.config.layout;
        let found: Vec<String> = entry
            .fields
            .iter()
            .map(|(name, _)| String::from_utf8_lossy(name).into_owned())
            .collect();
        let producers = format!("the {} system's producers", self.config.system);
        format!(
            "stream entry has no field `{}` (fields: {}); {producers} write the JSON message in \
             `{}` and each header in a `{}<name>` field",
            layout.payload_field,
            found.join(", "),
            layout.payload_field,
            layout.header_prefix
        )
    }

    /// Redis's delivery counts of this consumer's pending entries `ids` of stream `stream`.
    async fn delivery_counts(
        &mut self,
        stream: usize,
        ids: &[&str],
    ) -> Result<HashMap<String, u32>, RedisError> {
        let (Some(first), Some(last)) = (
            ids.iter().min_by_key(|id| parse_stream_id(id)),
            ids.iter().max_by_key(|id| parse_stream_id(id)),
        ) else {
            return Ok(HashMap::new());
        };
        let mut cmd = redis::cmd("XPENDING");
        cmd.arg(&self.keys[stream])
            .arg(&self.config.group)
            .arg(*first)
            .arg(*last)
            .arg(ids.len() + self.scheduled.len() + self.buffer.len() + 16)
            .arg(&self.config.consumer);
        let reply = query_patiently(&mut self.conn, &cmd, self.config.reconnect_for).await?;
        Ok(items(reply)
            .into_iter()
            .filter_map(|row| {
                let row = items(row);
                let id = string(row.first()?)?;
                let count = match row.get(3)? {
                    Value::Int(n) => u32::try_from(*n).ok()?,
                    other => string(other)?.parse().ok()?,
                };
                Some((id, count))
            })
            .collect())
    }

    /// Buffers entries this consumer just claimed, with Redis's delivery counts.
    async fn buffer_claimed(
        &mut self,
        stream: usize,
        entries: Vec<Entry>,
    ) -> Result<(), RedisError> {
        if entries.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = entries.iter().map(|e| e.id.clone()).collect();
        let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let counts = self.delivery_counts(stream, &id_refs).await?;
        self.scheduled
            .retain(|s| !(s.stream == stream && ids.contains(&s.id)));
        for entry in entries {
            // Claimed entries were delivered at least once before this claim.
            let attempt = counts.get(&entry.id).copied().unwrap_or(2).max(1);
            let item = self.delivery(stream, entry, attempt);
            self.buffer.push_back(item);
        }
        Ok(())
    }

    /// Claims back this consumer's retries whose backoff has passed (`XCLAIM`).
    async fn claim_due_retries(&mut self) -> Result<(), RedisError> {
        let now = Instant::now();
        if !self.scheduled.iter().any(|s| s.due <= now) {
            return Ok(());
        }
        let (due, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.scheduled)
            .into_iter()
            .partition(|s| s.due <= now);
        self.scheduled = waiting;
        for stream in 0..self.keys.len() {
            let mine: Vec<&Scheduled> = due.iter().filter(|s| s.stream == stream).collect();
            let Some(min_idle) = mine.iter().map(|s| s.min_idle).min() else {
                continue;
            };
            let mut cmd = redis::cmd("XCLAIM");
            cmd.arg(&self.keys[stream])
                .arg(&self.config.group)
                .arg(&self.config.consumer)
                .arg(min_idle.as_millis() as u64);
            for s in &mine {
                cmd.arg(&s.id);
            }
            let reply = query_patiently(&mut self.conn, &cmd, self.config.reconnect_for).await;
            let reply = match reply {
                Ok(reply) => reply,
                Err(e) => {
                    // Keep them scheduled; XAUTOCLAIM would find them anyway.
                    self.scheduled
                        .extend(due.into_iter().filter(|s| s.stream >= stream));
                    return Err(e);
                }
            };
            // Entries not returned were deleted, or taken over by another consumer meanwhile.
            let entries = parse_entries(reply);
            self.buffer_claimed(stream, entries).await?;
        }
        Ok(())
    }

    /// Takes over entries pending longer than `claim_idle` (`XAUTOCLAIM`).
    async fn autoclaim(&mut self) -> Result<(), RedisError> {
        for stream in 0..self.keys.len() {
            let mut cmd = redis::cmd("XAUTOCLAIM");
            cmd.arg(&self.keys[stream])
                .arg(&self.config.group)
                .arg(&self.config.consumer)
                .arg(self.config.claim_idle.as_millis() as u64)
                .arg(&self.cursors[stream])
                .arg("COUNT")
                .arg(self.config.batch);
            let reply = query_patiently(&mut self.conn, &cmd, self.config.reconnect_for).await?;
            let mut parts = items(reply).into_iter();
            let cursor = parts.next().as_ref().and_then(string);
            let entries = parts.next().map(parse_entries).unwrap_or_default();
            let deleted = parts.next().map(items).unwrap_or_default();
            self.cursors[stream] = cursor.unwrap_or_else(|| "0-0".to_owned());
            if !deleted.is_empty() {
                tracing::warn!(
                    stream = %self.keys[stream],
                    count = deleted.len(),
                    "pending entries were deleted from the stream before they were handled (trimmed?)"
                );
            }
            if !entries.is_empty() {
                tracing::info!(
                    stream = %self.keys[stream],
                    group = %self.config.group,
                    count = entries.len(),
                    idle = ?self.config.claim_idle,
                    "reclaimed entries another consumer left pending"
                );
            }
            self.buffer_claimed(stream, entries).await?;
        }
        Ok(())
    }

    /// Reads new entries (`XREADGROUP … >`), blocking at most `block`.
    async fn read_new(&mut self, block: Duration) -> Result<(), RedisError> {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(&self.config.group)
            .arg(&self.config.consumer)
            .arg("COUNT")
            .arg(self.config.batch)
            .arg("BLOCK")
            .arg(block.as_millis().max(1) as u64)
            .arg("STREAMS");
        for key in &self.keys {
            cmd.arg(key);
        }
        for _ in &self.keys {
            cmd.arg(">");
        }
        let reply = query_patiently(&mut self.conn, &cmd, self.config.reconnect_for).await?;
        // RESP2: [[stream, entries], …]; RESP3: {stream: entries}; nil when nothing came.
        let pairs: Vec<(Value, Value)> = match reply {
            Value::Map(pairs) => pairs,
            Value::Array(streams) => streams
                .into_iter()
                .filter_map(|s| {
                    let mut pair = items(s).into_iter();
                    Some((pair.next()?, pair.next()?))
                })
                .collect(),
            _ => Vec::new(),
        };
        for (name, entries) in pairs {
            let Some(stream) = string(&name).and_then(|n| self.keys.iter().position(|k| *k == n))
            else {
                continue;
            };
            for entry in parse_entries(entries) {
                let item = self.delivery(stream, entry, 1);
                self.buffer.push_back(item);
            }
        }
        Ok(())
    }

    /// Reports each stream's unsettled entries (not yet delivered to the group, plus
    /// delivered and not acknowledged: `XINFO GROUPS` `lag` + `pending`) as the consumer-lag
    /// gauge, once per batch. A failed report is only logged: reading goes on.
    async fn record_lag(&mut self) {
        for key in &self.keys {
            let reply: Result<Vec<HashMap<String, Value>>, RedisError> = redis::cmd("XINFO")
                .arg("GROUPS")
                .arg(key)
                .query_async(&mut self.conn)
                .await;
            let groups = match reply {
                Ok(groups) => groups,
                Err(e) => {
                    tracing::debug!(stream = %key, error = %e, "XINFO GROUPS failed; no lag report");
                    continue;
                }
            };
            let ours = groups.iter().find(|g| {
                g.get("name")
                    .and_then(|v| redis::from_redis_value::<String>(v.clone()).ok())
                    .is_some_and(|name| name == self.config.group)
            });
            let count = |group: &HashMap<String, Value>, field: &str| {
                group
                    .get(field)
                    .and_then(|v| redis::from_redis_value::<u64>(v.clone()).ok())
            };
            // `lag` is nil when Redis cannot tell (entries deleted from the middle).
            if let Some((Some(lag), Some(pending))) =
                ours.map(|g| (count(g, "lag"), count(g, "pending")))
            {
                super::metrics::record_consumer_lag(
                    "redis",
                    key,
                    &self.config.group,
                    lag + pending,
                );
            }
        }
    }

    async fn fill(&mut self) -> Result<(), RedisError> {
        self.claim_due_retries().await?;
        if !self.buffer.is_empty() {
            return Ok(());
        }
        let now = Instant::now();
        if now >= self.next_claim {
            self.next_claim = now + self.config.claim_interval;
            self.autoclaim().await?;
            if !self.buffer.is_empty() {
                return Ok(());
            }
        }
        let now = Instant::now();
        let mut block = self
            .config
            .block
            .min(self.next_claim.saturating_duration_since(now));
        if let Some(due) = self.scheduled.iter().map(|s| s.due).min() {
            block = block.min(due.saturating_duration_since(now));
        }
        self.read_new(block).await
    }

    async fn xack(&mut self, stream: usize, id: &str) -> Result<(), TransportError> {
        let key = &self.keys[stream];
        let mut cmd = redis::cmd("XACK");
        cmd.arg(key).arg(&self.config.group).arg(id);
        let acked = query_patiently(&mut self.conn, &cmd, self.config.reconnect_for)
            .await
            .map_err(|e| error(format!("XACK `{key}` {id}"), e))?;
        if acked == Value::Int(0) {
            tracing::warn!(stream = %key, %id, "entry was already acknowledged (taken over by another consumer?)");
        }
        Ok(())
    }
}

impl Source for RedisSource {
    type Token = RedisToken;

    async fn next(&mut self) -> Result<Option<(Delivery, RedisToken)>, TransportError> {
        loop {
            if let Some(item) = self.buffer.pop_front() {
                return Ok(Some(item));
            }
            self.record_lag().await;
            match self.fill().await {
                Ok(()) => {}
                Err(e) if e.code() == Some("NOGROUP") => {
                    tracing::warn!(group = %self.config.group, error = %e, "consumer group vanished; creating it again");
                    self.ensure_groups().await.map_err(|e| {
                        error(
                            format!("cannot create consumer group `{}`", self.config.group),
                            e,
                        )
                    })?;
                }
                Err(e) => {
                    return Err(error(
                        format!(
                            "reading group `{}` as `{}` from {}",
                            self.config.group,
                            self.config.consumer,
                            self.keys.join(", ")
                        ),
                        e,
                    ))
                }
            }
        }
    }

    async fn ack(&mut self, token: RedisToken) -> Result<(), TransportError> {
        self.xack(token.stream, &token.id).await
    }

    async fn retry(
        &mut self,
        token: RedisToken,
        _delivery: &Delivery,
        after: Duration,
    ) -> Result<(), TransportError> {
        // Left pending on purpose: Redis counts the next delivery when it is claimed back.
        self.scheduled.push(Scheduled {
            stream: token.stream,
            id: token.id,
            due: Instant::now() + after,
            min_idle: after,
        });
        Ok(())
    }

    async fn dead_letter(
        &mut self,
        token: RedisToken,
        delivery: &Delivery,
        letter: &DeadLetter,
    ) -> Result<(), TransportError> {
        let key = self
            .options
            .dead_letter_key(&self.config.streams[token.stream]);
        let headers = letter.headers(&delivery.headers, &self.config.group);
        let payload = token.has_payload.then_some(delivery.payload.as_slice());
        let fields = redis_entry::fields(&self.config.layout, payload, &token.other, &headers);
        let cmd = xadd(&key, None, fields);
        query_patiently(&mut self.conn, &cmd, self.config.reconnect_for)
            .await
            .map_err(|e| {
                error(
                    format!("XADD of a dead letter to `{key}` was not confirmed"),
                    e,
                )
            })?;
        self.xack(token.stream, &token.id).await
    }

    fn unreadable(&self, token: &RedisToken) -> Option<String> {
        token.unreadable.clone()
    }
}

/// Every dead letter of `channel`'s dead-letter stream (`{namespace}{channel}:dead-letter`)
/// written in `layout`, oldest first ([`redis_entry::read_dead_letters`]).
pub async fn dead_letters(
    options: &RedisConfig,
    channel: &str,
    layout: StreamEntryLayout,
) -> Result<Vec<StoredDeadLetter>, TransportError> {
    redis_entry::read_dead_letters(&options.url, &options.dead_letter_key(channel), layout).await
}

/// The default [`IdempotencyStore`] for every transport (enable this crate's `redis` feature
/// beside your transport's): one Redis key per unit of work,
/// `{namespace}idempotency:{key}` (the engine's key is `{system}:{group}:{unit}`, e.g.
/// `audio:audio-pipeline:AudioChunkReceived:<chunk_id>` or
/// `agents:analytics-service:<event_id>`), so every consumer process of a group sees what the
/// others finished, across restarts.
///
/// - A claim is `SET key claimed:<token> NX PX <lease>` (with the answer for a taken key
///   read in the same script): the lease (default one minute, [`RedisIdempotency::with_lease`])
///   must exceed the longest handler run, or a copy can be claimed while the first still runs.
/// - Done is `SET key 1 PX <ttl>` after the handler succeeded: copies arriving within the TTL
///   are skipped, later ones handled again. Choose the TTL longer than any redelivery or
///   producer retry can come late (a day is typical).
/// - A failed handler deletes its own claim (compare-and-delete), so its retry, on any
///   consumer, can claim at once.
#[derive(Clone)]
pub struct RedisIdempotency {
    conn: ConnectionManager,
    prefix: String,
    ttl: Duration,
    lease: Duration,
}

impl std::fmt::Debug for RedisIdempotency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisIdempotency")
            .field("prefix", &self.prefix)
            .field("ttl", &self.ttl)
            .field("lease", &self.lease)
            .finish()
    }
}

/// Value prefix of a claimed (not yet done) key.
const CLAIMED: &str = "claimed:";

/// `SET NX PX` the claim; if the key is taken, whether by a claim (and its remaining lease)
/// or a done mark. One script, so the answer describes the state the `SET` failed against.
const CLAIM_SCRIPT: &str = r#"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {'claimed', 0}
end
local held = redis.call('GET', KEYS[1])
if held and string.sub(held, 1, string.len(ARGV[3])) == ARGV[3] then
  return {'busy', redis.call('PTTL', KEYS[1])}
end
return {'done', 0}
"#;

const RELEASE_SCRIPT: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#;

impl RedisIdempotency {
    /// Done marks expire after `ttl`: longer than any redelivery or producer retry can come
    /// late.
    pub async fn connect(options: &RedisConfig, ttl: Duration) -> Result<Self, TransportError> {
        Ok(Self {
            conn: connect(options, options.response_timeout).await?,
            prefix: format!("{}idempotency:", options.namespace),
            ttl: ttl.max(Duration::from_millis(1)),
            lease: Duration::from_secs(60),
        })
    }

    /// How long a claim holds when its consumer neither finishes nor releases it (it
    /// crashed): longer than the longest handler run.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(1));
        self
    }

    /// The Redis key of a unit of work.
    pub fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

impl IdempotencyStore for RedisIdempotency {
    async fn is_done(&self, key: &str) -> Result<bool, BoxError> {
        let mut conn = self.conn.clone();
        let held: Option<String> = redis::cmd("GET")
            .arg(self.key(key))
            .query_async(&mut conn)
            .await?;
        Ok(held.is_some_and(|v| !v.starts_with(CLAIMED)))
    }

    async fn mark_done(&self, key: &str) -> Result<(), BoxError> {
        let mut conn = self.conn.clone();
        redis::cmd("SET")
            .arg(self.key(key))
            .arg(1)
            .arg("PX")
            .arg(self.ttl.as_millis() as u64)
            .query_async::<Value>(&mut conn)
            .await?;
        Ok(())
    }

    async fn claim(&self, key: &str) -> Result<Claim, BoxError> {
        let mut conn = self.conn.clone();
        let token = format!("{CLAIMED}{}", uuid::Uuid::new_v4().simple());
        let (state, remaining): (String, i64) = redis::cmd("EVAL")
            .arg(CLAIM_SCRIPT)
            .arg(1)
            .arg(self.key(key))
            .arg(&token)
            .arg(self.lease.as_millis() as u64)
            .arg(CLAIMED)
            .query_async(&mut conn)
            .await?;
        Ok(match state.as_str() {
            "claimed" => Claim::Claimed { token },
            "busy" => Claim::Busy {
                retry_after: Duration::from_millis(u64::try_from(remaining).unwrap_or(0)),
            },
            _ => Claim::Done,
        })
    }

    async fn release(&self, key: &str, token: &str) -> Result<(), BoxError> {
        let mut conn = self.conn.clone();
        redis::cmd("EVAL")
            .arg(RELEASE_SCRIPT)
            .arg(1)
            .arg(self.key(key))
            .arg(token)
            .query_async::<Value>(&mut conn)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_stream_ids_numerically() {
        assert_eq!(parse_stream_id("17-3"), (17, 3));
        assert!(parse_stream_id("9-0") < parse_stream_id("10-0"));
    }
}
