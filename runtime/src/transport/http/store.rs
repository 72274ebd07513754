//! What the ingest endpoint remembers: finished events (dedupe by `source` + `id`), the `seq`
//! record of each run, and dead letters. [`RedisStore`] keeps them in Redis so they survive
//! restarts and are shared by every replica; [`MemoryStore`] keeps them in process memory for
//! tests.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::transport::redis_entry::{self, parse_entries};
use crate::transport::{BoxError, IdempotencyStore, StreamEntryLayout};

/// Dedupe of finished events is the core's [`IdempotencyStore`]: the ingest endpoint asks
/// `is_done` before handling and calls `mark_done` after the handler succeeded, with the key
/// [`dedupe_key`] builds from the CloudEvents `source` and `id`.
pub use crate::transport::IdempotencyStore as DedupStore;

/// The dedupe key of an event: `source` and `id`, each percent-encoded so `:` cannot make two
/// pairs collide.
pub fn dedupe_key(source: &str, id: &str) -> String {
    const SET: &percent_encoding::AsciiSet =
        &percent_encoding::CONTROLS.add(b':').add(b'%').add(b' ');
    // Every request makes one; `Cow` borrows a part with nothing to encode, the common case,
    // where `format!` through `Display` cost about 2,000 instructions.
    let source: Cow<'_, str> = percent_encoding::utf8_percent_encode(source, SET).into();
    let id: Cow<'_, str> = percent_encoding::utf8_percent_encode(id, SET).into();
    let mut key = String::with_capacity(source.len() + 1 + id.len());
    key.push_str(&source);
    key.push(':');
    key.push_str(&id);
    key
}

/// How one event's `seq` relates to what its run (CloudEvents `subject`, `run/{runId}`) had
/// seen before. Recorded, never a reason to reject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SeqClass {
    /// The first `seq` of the run, or exactly one more than the highest seen.
    InOrder,
    /// More than one past the highest seen: some events are missing (or late).
    Gap,
    /// This `seq` was seen before for this run.
    Duplicate,
    /// Below the highest seen and not seen before: a late arrival (it fills a gap).
    OutOfOrder,
}

impl SeqClass {
    pub fn as_str(self) -> &'static str {
        match self {
            SeqClass::InOrder => "in-order",
            SeqClass::Gap => "gap",
            SeqClass::Duplicate => "duplicate",
            SeqClass::OutOfOrder => "out-of-order",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "in-order" => SeqClass::InOrder,
            "gap" => SeqClass::Gap,
            "duplicate" => SeqClass::Duplicate,
            "out-of-order" => SeqClass::OutOfOrder,
            _ => return None,
        })
    }

    fn classify(seen_before: bool, last: Option<u64>, seq: u64) -> Self {
        match last {
            _ if seen_before => SeqClass::Duplicate,
            None => SeqClass::InOrder,
            Some(last) if seq == last.saturating_add(1) => SeqClass::InOrder,
            Some(last) if seq > last => SeqClass::Gap,
            Some(_) => SeqClass::OutOfOrder,
        }
    }
}

/// One recorded `seq` arrival.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeqEntry {
    pub seq: u64,
    pub id: String,
    pub class: SeqClass,
}

/// What a run's `seq` tracking recorded (the Redis store keeps the last
/// [`RedisStore::SEQ_LOG_LEN`] entries of the log).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeqRecord {
    /// The highest `seq` seen (the document's `lastEventSeq`).
    pub last: Option<u64>,
    pub in_order: u64,
    pub gaps: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    /// Arrivals in the order they were recorded.
    pub log: Vec<SeqEntry>,
}

/// Where `seq` tracking lives.
pub trait SeqStore: Send + Sync + 'static {
    /// Classifies and records one arrival of `seq` in run `subject`.
    fn record_seq(
        &self,
        subject: &str,
        seq: u64,
        id: &str,
    ) -> impl Future<Output = Result<SeqClass, BoxError>> + Send;
    /// What was recorded for run `subject`.
    fn seq_record(&self, subject: &str)
        -> impl Future<Output = Result<SeqRecord, BoxError>> + Send;
}

/// One dead letter: the original bytes and headers unchanged, with why. The same type the
/// Redis Streams binding's dead letters read back as.
pub use crate::transport::StoredDeadLetter;

/// Where dead letters go.
pub trait DeadLetterStore: Send + Sync + 'static {
    /// Stores a dead letter; returns only once it is stored (the caller answers the client
    /// after that).
    fn store_dead_letter(
        &self,
        letter: &StoredDeadLetter,
    ) -> impl Future<Output = Result<String, BoxError>> + Send;
    /// Every stored dead letter, oldest first.
    fn dead_letters(&self) -> impl Future<Output = Result<Vec<StoredDeadLetter>, BoxError>> + Send;
}

/// Everything the ingest endpoint needs from a store.
pub trait IngestStore: DedupStore + SeqStore + DeadLetterStore {}
impl<T: DedupStore + SeqStore + DeadLetterStore> IngestStore for T {}

// ---------------------------------------------------------------------------------------------

/// Everything in process memory (tests, single-process services). Cheap to clone; clones
/// share the state. Nothing expires.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore(Arc<Mutex<MemoryState>>);

#[derive(Debug, Default)]
struct MemoryState {
    done: HashSet<String>,
    runs: HashMap<String, (HashSet<u64>, SeqRecord)>,
    dead: Vec<StoredDeadLetter>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> Result<std::sync::MutexGuard<'_, MemoryState>, BoxError> {
        self.0.lock().map_err(|e| e.to_string().into())
    }
}

impl IdempotencyStore for MemoryStore {
    async fn is_done(&self, key: &str) -> Result<bool, BoxError> {
        Ok(self.state()?.done.contains(key))
    }
    async fn mark_done(&self, key: &str) -> Result<(), BoxError> {
        self.state()?.done.insert(key.to_owned());
        Ok(())
    }
}

impl SeqStore for MemoryStore {
    async fn record_seq(&self, subject: &str, seq: u64, id: &str) -> Result<SeqClass, BoxError> {
        let mut state = self.state()?;
        let (seen, record) = state.runs.entry(subject.to_owned()).or_default();
        let class = SeqClass::classify(!seen.insert(seq), record.last, seq);
        record.last = Some(record.last.map_or(seq, |l| l.max(seq)));
        match class {
            SeqClass::InOrder => record.in_order += 1,
            SeqClass::Gap => record.gaps += 1,
            SeqClass::Duplicate => record.duplicates += 1,
            SeqClass::OutOfOrder => record.out_of_order += 1,
        }
        record.log.push(SeqEntry {
            seq,
            id: id.to_owned(),
            class,
        });
        Ok(class)
    }
    async fn seq_record(&self, subject: &str) -> Result<SeqRecord, BoxError> {
        Ok(self
            .state()?
            .runs
            .get(subject)
            .map(|(_, r)| r.clone())
            .unwrap_or_default())
    }
}

impl DeadLetterStore for MemoryStore {
    async fn store_dead_letter(&self, letter: &StoredDeadLetter) -> Result<String, BoxError> {
        let mut state = self.state()?;
        let id = state.dead.len().to_string();
        state.dead.push(StoredDeadLetter {
            entry_id: id.clone(),
            ..letter.clone()
        });
        Ok(id)
    }
    async fn dead_letters(&self) -> Result<Vec<StoredDeadLetter>, BoxError> {
        Ok(self.state()?.dead.clone())
    }
}

// ---------------------------------------------------------------------------------------------

/// Everything in Redis, under a key prefix (default `orchestrator`):
///
/// - dedupe: `{prefix}:dedupe:{source}:{id}` set with `SET key 1 NX EX ttl` once the event was
///   handled (default TTL 7 days);
/// - `seq`: hash `{prefix}:seq:{subject}` (`last` and one counter per class), set
///   `{prefix}:seq:{subject}:seen` and list `{prefix}:seq:{subject}:log` (`seq class id`,
///   capped), updated atomically by one Lua script, expiring with the dedupe TTL;
/// - dead letters: stream `{prefix}:dead-letter` (`XADD`) in the layout every Redis
///   dead-letter stream of this crate uses ([`redis_entry`](crate::transport::redis_entry)):
///   `envelope` = the original bytes, then `h:{name}` per header (the original request
///   headers and the `x-dead-letter-*` ones: reason, error, attempts, origin, channel, group,
///   time), so `redis_entry::read_dead_letters` reads them as it reads the Redis Streams
///   binding's.
///
/// Cheap to clone; clones share one multiplexed connection, re-opened after a connection
/// error.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<RedisInner>,
}

struct RedisInner {
    client: redis::Client,
    conn: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
    prefix: String,
    ttl: Duration,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.inner.prefix)
            .field("ttl", &self.inner.ttl)
            .finish()
    }
}

const SEQ_SCRIPT: &str = r#"
local added = redis.call('SADD', KEYS[2], ARGV[1])
local seq = tonumber(ARGV[1])
local last = redis.call('HGET', KEYS[1], 'last')
local class
if added == 0 then
  class = 'duplicate'
elseif not last then
  class = 'in-order'
else
  local l = tonumber(last)
  if seq == l + 1 then class = 'in-order'
  elseif seq > l then class = 'gap'
  else class = 'out-of-order' end
end
if (not last) or seq > tonumber(last) then
  redis.call('HSET', KEYS[1], 'last', ARGV[1])
end
redis.call('HINCRBY', KEYS[1], class, 1)
redis.call('RPUSH', KEYS[3], ARGV[1] .. ' ' .. class .. ' ' .. ARGV[2])
redis.call('LTRIM', KEYS[3], -tonumber(ARGV[4]), -1)
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[3]) end
return class
"#;

impl RedisStore {
    /// Entries kept in each run's `seq` log.
    pub const SEQ_LOG_LEN: usize = 1000;

    /// A store at `url` (`redis://127.0.0.1:6379`) with prefix `orchestrator` and a 7-day
    /// TTL. Connects lazily; [`RedisStore::ping`] checks the connection.
    pub fn open(url: &str) -> Result<Self, BoxError> {
        Ok(Self {
            inner: Arc::new(RedisInner {
                client: redis::Client::open(url)?,
                conn: tokio::sync::Mutex::new(None),
                prefix: "orchestrator".into(),
                ttl: Duration::from_secs(7 * 24 * 3600),
            }),
        })
    }

    /// Keys under `prefix` instead of `orchestrator` (one per deployment, or per test run).
    pub fn with_prefix(self, prefix: impl Into<String>) -> Self {
        self.rebuild(|inner| inner.prefix = prefix.into())
    }

    /// How long dedupe marks and `seq` records live.
    pub fn with_ttl(self, ttl: Duration) -> Self {
        self.rebuild(|inner| inner.ttl = ttl)
    }

    fn rebuild(self, change: impl FnOnce(&mut RedisInner)) -> Self {
        let mut inner = match Arc::try_unwrap(self.inner) {
            Ok(inner) => inner,
            Err(shared) => RedisInner {
                client: shared.client.clone(),
                conn: tokio::sync::Mutex::new(None),
                prefix: shared.prefix.clone(),
                ttl: shared.ttl,
            },
        };
        change(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The dead-letter stream's key.
    pub fn dead_letter_stream(&self) -> String {
        format!("{}:dead-letter", self.inner.prefix)
    }

    /// Connects (if needed) and sends `PING`.
    pub async fn ping(&self) -> Result<(), BoxError> {
        self.query::<String>(&redis::cmd("PING")).await.map(drop)
    }

    /// Deletes every key this store wrote under its prefix (tests clean up with it).
    pub async fn clear(&self) -> Result<(), BoxError> {
        let pattern = format!("{}:*", self.inner.prefix);
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = self
                .query(
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(&pattern)
                        .arg("COUNT")
                        .arg(500),
                )
                .await?;
            if !keys.is_empty() {
                self.query::<i64>(redis::cmd("DEL").arg(&keys)).await?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    async fn connection(&self) -> Result<redis::aio::MultiplexedConnection, BoxError> {
        let mut slot = self.inner.conn.lock().await;
        if let Some(conn) = slot.as_ref() {
            return Ok(conn.clone());
        }
        let conn = self
            .inner
            .client
            .get_multiplexed_async_connection()
            .await
            .map_err(|e| {
                format!(
                    "redis at {:?}: {e}",
                    self.inner.client.get_connection_info().addr()
                )
            })?;
        *slot = Some(conn.clone());
        Ok(conn)
    }

    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, BoxError> {
        let mut conn = self.connection().await?;
        match cmd.query_async::<T>(&mut conn).await {
            Ok(value) => Ok(value),
            Err(e) => {
                if e.is_io_error() || e.is_connection_dropped() || e.is_unrecoverable_error() {
                    *self.inner.conn.lock().await = None;
                }
                Err(e.into())
            }
        }
    }

    fn dedupe(&self, key: &str) -> String {
        format!("{}:dedupe:{key}", self.inner.prefix)
    }

    fn seq_keys(&self, subject: &str) -> [String; 3] {
        let base = format!("{}:seq:{subject}", self.inner.prefix);
        [base.clone(), format!("{base}:seen"), format!("{base}:log")]
    }
}

impl IdempotencyStore for RedisStore {
    async fn is_done(&self, key: &str) -> Result<bool, BoxError> {
        Ok(self
            .query::<i64>(redis::cmd("EXISTS").arg(self.dedupe(key)))
            .await?
            == 1)
    }
    /// `SET key 1 NX EX ttl`: the first mark wins and expires after the TTL.
    async fn mark_done(&self, key: &str) -> Result<(), BoxError> {
        self.query::<Option<String>>(
            redis::cmd("SET")
                .arg(self.dedupe(key))
                .arg(1)
                .arg("NX")
                .arg("EX")
                .arg(self.inner.ttl.as_secs().max(1)),
        )
        .await
        .map(drop)
    }
}

impl SeqStore for RedisStore {
    async fn record_seq(&self, subject: &str, seq: u64, id: &str) -> Result<SeqClass, BoxError> {
        let keys = self.seq_keys(subject);
        let class: String = self
            .query(
                redis::cmd("EVAL")
                    .arg(SEQ_SCRIPT)
                    .arg(3)
                    .arg(&keys)
                    .arg(seq)
                    .arg(id)
                    .arg(self.inner.ttl.as_secs().max(1))
                    .arg(Self::SEQ_LOG_LEN),
            )
            .await?;
        SeqClass::parse(&class).ok_or_else(|| format!("seq script returned `{class}`").into())
    }

    async fn seq_record(&self, subject: &str) -> Result<SeqRecord, BoxError> {
        let [hash, _, log] = self.seq_keys(subject);
        let fields: HashMap<String, String> = self.query(redis::cmd("HGETALL").arg(&hash)).await?;
        let lines: Vec<String> = self
            .query(redis::cmd("LRANGE").arg(&log).arg(0).arg(-1))
            .await?;
        let count = |k: &str| fields.get(k).and_then(|v| v.parse().ok()).unwrap_or(0);
        let log = lines
            .iter()
            .filter_map(|line| {
                let mut parts = line.splitn(3, ' ');
                Some(SeqEntry {
                    seq: parts.next()?.parse().ok()?,
                    class: SeqClass::parse(parts.next()?)?,
                    id: parts.next().unwrap_or_default().to_owned(),
                })
            })
            .collect();
        Ok(SeqRecord {
            last: fields.get("last").and_then(|v| v.parse().ok()),
            in_order: count("in-order"),
            gaps: count("gap"),
            duplicates: count("duplicate"),
            out_of_order: count("out-of-order"),
            log,
        })
    }
}

impl RedisStore {
    /// The layout of its dead-letter entries.
    pub const DEAD_LETTER_LAYOUT: StreamEntryLayout = StreamEntryLayout::DEFAULT;
}

impl DeadLetterStore for RedisStore {
    async fn store_dead_letter(&self, letter: &StoredDeadLetter) -> Result<String, BoxError> {
        let mut cmd = redis::cmd("XADD");
        cmd.arg(self.dead_letter_stream()).arg("*");
        for (name, value) in redis_entry::fields(
            &Self::DEAD_LETTER_LAYOUT,
            Some(&letter.payload),
            &letter.fields,
            &letter.headers,
        ) {
            cmd.arg(name).arg(value);
        }
        self.query::<String>(&cmd).await
    }

    async fn dead_letters(&self) -> Result<Vec<StoredDeadLetter>, BoxError> {
        let reply: redis::Value = self
            .query(&redis_entry::xrange(&self.dead_letter_stream()))
            .await?;
        Ok(parse_entries(reply)
            .into_iter()
            .map(|entry| redis_entry::dead_letter(&Self::DEAD_LETTER_LAYOUT, entry))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_classes() {
        assert_eq!(SeqClass::classify(false, None, 5), SeqClass::InOrder);
        assert_eq!(SeqClass::classify(false, Some(5), 6), SeqClass::InOrder);
        assert_eq!(SeqClass::classify(false, Some(5), 8), SeqClass::Gap);
        assert_eq!(SeqClass::classify(false, Some(8), 7), SeqClass::OutOfOrder);
        assert_eq!(SeqClass::classify(true, Some(8), 7), SeqClass::Duplicate);
    }

    #[test]
    fn dedupe_keys_do_not_collide_on_colons() {
        assert_ne!(dedupe_key("a:b", "c"), dedupe_key("a", "b:c"));
    }

    #[test]
    fn dedupe_keys_encode_only_what_needs_it() {
        assert_eq!(
            dedupe_key("/orchestrator/run-7", "0b6c1f9e"),
            "/orchestrator/run-7:0b6c1f9e"
        );
        assert_eq!(dedupe_key("a b%", "x:y\n"), "a%20b%25:x%3Ay%0A");
        assert_eq!(dedupe_key("café", ""), "caf%C3%A9:");
    }
}
