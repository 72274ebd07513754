//! The soak run (a bench-like binary, not a test):
//! `cargo run --release --example soak -- <redis|amqp|nats|kafka|http> [MESSAGES]`.
//!
//! Publishes MESSAGES (default 1,000,000) through one broker binding while a consumer in a
//! child process (this binary re-executed with `SOAK_ROLE=consumer`) handles them under the
//! consumer engine. A private broker instance (`tests/private_brokers/`: its own
//! `redis-server`, `nats-server -js`, RabbitMQ node, or tansu on its own S3 bucket; for HTTP
//! the consumer process is the ingest server) is SIGKILLed and started again once 30 % are
//! published, and the consumer process is SIGKILLed and started again once 60 % are handled:
//! its unsettled deliveries are redelivered. Nothing of the machine's shared brokers is
//! restarted.
//!
//! Every message has its own id, an UUID whose low 64 bits are its index. One in
//! [`POISON_EVERY`] is poison: the handler rejects it, so it is dead-lettered. The handler
//! records every id it handled in the machine's Redis (`HINCRBY soak:<run>:handled <id> 1`);
//! the dead letters are read back from the broker's dead-letter destination. At the end the
//! run checks, by id, that published = handled + dead-lettered: every poison id dead-lettered
//! and never handled, every other id handled, nothing missing (missing ids are listed);
//! copies the idempotency store skipped and ids handled more than once are counted. It prints
//! throughput (handled and published, msg/s) in the first and last tenth and the consumer's
//! resident memory (VmRSS) at every tenth, and exits 1 when the equation fails.
//!
//! Needs the machine's Redis on 127.0.0.1:6379 (records, idempotency, the HTTP store), and
//! for Kafka the tansu binary and moto S3 that `bash .ci/services.sh` provides.

#[path = "../tests/private_brokers/mod.rs"]
mod private_brokers;

use std::collections::HashSet;
use std::future::Future;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use event_contracts::runtime::transport::amqp::{AmqpBroker, AmqpConfig, AmqpSource};
use event_contracts::runtime::transport::http::{
    prepare, HttpClient, HttpError, IngestServer, Outcome, RedisStore,
};
use event_contracts::runtime::transport::kafka::{
    dead_letter_topic, KafkaConfig, KafkaSink, KafkaSource,
};
use event_contracts::runtime::transport::nats::{NatsConfig, NatsTransport};
use event_contracts::runtime::transport::redis::{
    RedisConfig, RedisIdempotency, RedisSink, RedisSource,
};
use event_contracts::runtime::transport::{
    dead_letter_headers, redis_entry, run_with_stats, ConsumerGroup, Context, Contract, Handle,
    HandlerError, HandlerResult, Headers, IdempotencyStore, Meta, Policy, Publisher, RetryPolicy,
    Shutdown, Source, Stats, StreamEntryLayout, TransportError, UnknownPolicy,
};
use event_contracts::{agents, audio, dam, livepeer, orchestrator, Event};
use private_brokers::{
    free_port, s3_endpoint, wait_until_listening, Bucket, NatsServer, RabbitNode, RedisServer,
    TansuBroker,
};

/// The machine's Redis: the handlers' records, the idempotency store, the HTTP store.
const RECORDS_URL: &str = "redis://127.0.0.1:6379";
/// One message in this many is poison (rejected by the handler, so dead-lettered).
const POISON_EVERY: u64 = 1000;
/// Engine loops in the consumer process (each takes and settles one delivery at a time).
/// Kafka runs one: the run's topic has one partition, and every further member of the group
/// only makes tansu rebalance it (four stalled the group for minutes).
const CONSUMERS: usize = 4;
/// Publishes in flight at once (`SOAK_PUBLISHERS` overrides).
const PUBLISHERS: usize = 32;
/// Kafka's: tansu writes one S3 object per produced batch and lists them all on every
/// Fetch, so the producer must fill its batches; 32 in flight made batches of a few
/// messages (30,000 messages took 226 s to publish).
const KAFKA_PUBLISHERS: usize = 1024;
/// The run gives up when nothing more was handled for this long after publishing ended.
const STALL: Duration = Duration::from_secs(120);
/// The AMQP consumer group of the soak (its own queue on the private node).
const AMQP_GROUP: ConsumerGroup = ConsumerGroup {
    name: "soak",
    binds: &["capture.*"],
    description: "the soak run's consumer",
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn is_poison(index: u64) -> bool {
    index % POISON_EVERY == POISON_EVERY / 2
}

/// Message `index` of run `run`: an UUID whose high half is the run and low half the index.
fn message_id(run: u64, index: u64) -> uuid::Uuid {
    uuid::Uuid::from_u64_pair(run, index)
}

/// The index of a message id of run `run`, `None` for any other string.
fn index_of(run: u64, id: &str) -> Option<u64> {
    let (high, low) = uuid::Uuid::parse_str(id).ok()?.as_u64_pair();
    (high == run).then_some(low)
}

fn records_key(run: u64, what: &str) -> String {
    format!("soak:{run:016x}:{what}")
}

// ---------------------------------------------------------------------------- the handler

/// Records each message it handles in the machine's Redis; rejects the poison ones.
struct Recorder<C: Contract> {
    redis: redis::aio::MultiplexedConnection,
    run: u64,
    handled_key: String,
    id_of: fn(&C::Message) -> Option<String>,
    system: PhantomData<fn() -> C>,
}

impl<C: Contract> Recorder<C> {
    async fn connect(run: u64, id_of: fn(&C::Message) -> Option<String>) -> Result<Self, BoxError> {
        Ok(Self {
            redis: records().await?,
            run,
            handled_key: records_key(run, "handled"),
            id_of,
            system: PhantomData,
        })
    }
}

impl<C: Contract> Handle<C> for Recorder<C> {
    async fn handle(&self, message: C::Message, _: &Context) -> HandlerResult {
        let id = (self.id_of)(&message)
            .ok_or_else(|| HandlerError::reject("a soak message without its id"))?;
        let index = index_of(self.run, &id)
            .ok_or_else(|| HandlerError::reject(format!("`{id}` is no message of this run")))?;
        if is_poison(index) {
            return Err(HandlerError::reject(format!("message {index} is poison")));
        }
        let mut redis = self.redis.clone();
        redis::cmd("HINCRBY")
            .arg(&self.handled_key)
            .arg(&id)
            .arg(1)
            .query_async::<i64>(&mut redis)
            .await
            .map_err(HandlerError::retry)?;
        Ok(())
    }
}

async fn records() -> Result<redis::aio::MultiplexedConnection, BoxError> {
    let client = redis::Client::open(RECORDS_URL)?;
    Ok(tokio::time::timeout(
        Duration::from_secs(5),
        client.get_multiplexed_async_connection(),
    )
    .await
    .map_err(|_| format!("the machine's Redis at {RECORDS_URL} did not answer within 5 s"))??)
}

fn audio_id(message: &audio::Message) -> Option<String> {
    Some(message.event_id.to_string())
}
fn agents_id(message: &agents::AgentsEvent) -> Option<String> {
    <agents::System as Contract>::message_id(message)
}
fn dam_id(message: &dam::DamEvent) -> Option<String> {
    match message {
        dam::DamEvent::CaptureAlive(alive) => alive.request_id.clone(),
        _ => None,
    }
}
fn livepeer_id(message: &livepeer::Message) -> Option<String> {
    Some(message.id.to_string())
}
fn orchestrator_id(message: &orchestrator::Message) -> Option<String> {
    Some(message.id.to_string())
}

fn retry_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 5,
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(500),
        ..RetryPolicy::default()
    }
}

/// The group's idempotency store on the machine's Redis, in the run's own namespace. The
/// lease is short so a copy of a message the killed consumer held is taken over soon.
async fn idempotency(run: u64) -> Result<RedisIdempotency, TransportError> {
    let options = RedisConfig::new(RECORDS_URL).with_namespace(records_key(run, ""));
    Ok(
        RedisIdempotency::connect(&options, Duration::from_secs(3600))
            .await?
            .with_lease(Duration::from_secs(3)),
    )
}

// ------------------------------------------------------------------------- the consumer side

/// What the parent tells a consumer process, through its environment.
struct ConsumerEnv {
    broker: String,
    run: u64,
    /// The private broker's address (HTTP: the port to serve on).
    url: String,
    /// The Kafka topic of the run.
    topic: String,
    incarnation: u32,
}

impl ConsumerEnv {
    fn read() -> Result<Self, BoxError> {
        let var = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
        Ok(Self {
            broker: var("SOAK_BROKER")?,
            run: u64::from_str_radix(&var("SOAK_RUN")?, 16)?,
            url: var("SOAK_URL")?,
            topic: std::env::var("SOAK_TOPIC").unwrap_or_default(),
            incarnation: var("SOAK_INCARNATION")?.parse()?,
        })
    }
}

/// The consumer process: consumes until killed, reconnecting after transport errors (the
/// broker restart), and keeps its [`Stats`] in `soak:<run>:stats:<incarnation>`.
async fn consumer_main() -> Result<(), BoxError> {
    let env = ConsumerEnv::read()?;
    let retry = retry_policy();
    match env.broker.as_str() {
        "redis" => {
            let handler = Recorder::<audio::System>::connect(env.run, audio_id).await?;
            let policy = Policy::new("audio-pipeline")
                .with_retry(retry)
                .with_idempotency(idempotency(env.run).await?);
            let url = &env.url;
            consume_forever(&env, CONSUMERS, &handler, &policy, |slot| async move {
                // Stable consumer names: the restarted consumer reads the entries the killed
                // one left pending as its own, at once.
                let config = RedisConfig::new(url.clone())
                    .with_consumer(format!("soak-consumer-{slot}"))
                    .with_batch(64)
                    .with_claim_idle(Duration::from_secs(5));
                RedisSource::for_group::<audio::System>(&config, "audio-pipeline").await
            })
            .await
        }
        "nats" => {
            let handler = Recorder::<agents::System>::connect(env.run, agents_id).await?;
            let policy = Policy::new("analytics-service")
                .with_retry(retry.clone())
                .with_idempotency(idempotency(env.run).await?);
            let config = nats_config(&env.url);
            consume_forever(&env, CONSUMERS, &handler, &policy, |_| async {
                NatsTransport::connect(&config)
                    .await?
                    .source::<agents::System>("analytics-service", &retry)
                    .await
            })
            .await
        }
        "amqp" => {
            let handler = Recorder::<dam::System>::connect(env.run, dam_id).await?;
            let policy = Policy::new(AMQP_GROUP.name)
                .with_retry(retry)
                .with_idempotency(idempotency(env.run).await?);
            let config = amqp_config(&env.url);
            consume_forever(&env, CONSUMERS, &handler, &policy, |_| {
                AmqpSource::connect(&config, AMQP_GROUP.name)
            })
            .await
        }
        "kafka" => {
            let handler = Recorder::<livepeer::System>::connect(env.run, livepeer_id).await?;
            let policy = Policy::new("soak")
                .with_retry(retry)
                .with_idempotency(idempotency(env.run).await?);
            let config = kafka_config(&env.url);
            consume_forever(&env, 1, &handler, &policy, |_| async {
                KafkaSource::connect(&config, "soak", &[env.topic.as_str()]).await
            })
            .await
        }
        "http" => {
            let handler =
                Recorder::<orchestrator::System>::connect(env.run, orchestrator_id).await?;
            let port: u16 = env.url.parse()?;
            let policy = Policy::new("orchestrator-ingest")
                .with_retry(retry)
                .with_unknown(UnknownPolicy::Skip);
            let server = IngestServer::new(handler, http_store(env.run)?, policy);
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
            // Stops gracefully when the parent closes stdin (the "broker restart").
            let shutdown = private_brokers::shutdown_when_stdin_closes();
            server.serve(listener, shutdown).await?;
            Ok(())
        }
        other => Err(format!("unknown broker `{other}`").into()),
    }
}

/// Runs `loops` engine loops over sources from `connect` (each again after every transport
/// error) until the process is killed. `connect(slot)`: slot `0..loops`.
async fn consume_forever<C, H, I, S, F, Fut>(
    env: &ConsumerEnv,
    loops: usize,
    handler: &H,
    policy: &Policy<I>,
    connect: F,
) -> Result<(), BoxError>
where
    C: Contract,
    H: Handle<C>,
    I: IdempotencyStore,
    S: Source,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<S, TransportError>>,
{
    let senders: Vec<_> = (0..loops)
        .map(|_| tokio::sync::watch::channel(Stats::default()))
        .collect();
    let watched: Vec<_> = senders.iter().map(|(_, r)| r.clone()).collect();
    let stats_key = records_key(env.run, &format!("stats:{}", env.incarnation));
    let mut redis = records().await?;
    tokio::spawn(async move {
        // A snapshot every 200 ms: a killed consumer loses at most its last one.
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let mut sum = Stats::default();
            for stats in &watched {
                let stats = *stats.borrow();
                sum.handled += stats.handled;
                sum.skipped += stats.skipped;
                sum.retried += stats.retried;
                sum.dead_lettered += stats.dead_lettered;
            }
            let _ = redis::cmd("HSET")
                .arg(&stats_key)
                .arg("handled")
                .arg(sum.handled)
                .arg("skipped")
                .arg(sum.skipped)
                .arg("retried")
                .arg(sum.retried)
                .arg("dead_lettered")
                .arg(sum.dead_lettered)
                .query_async::<i64>(&mut redis)
                .await;
        }
    });
    let shutdown = Shutdown::new();
    let loops = senders.iter().enumerate().map(|(slot, (live, _))| {
        let (connect, shutdown) = (&connect, &shutdown);
        async move {
            loop {
                match connect(slot).await {
                    Ok(source) => {
                        if let Err(e) =
                            run_with_stats::<C, H, I, S>(source, handler, policy, shutdown, live)
                                .await
                        {
                            eprintln!("consumer {}.{slot}: {e}; reconnecting", env.incarnation);
                        }
                    }
                    Err(e) => eprintln!("consumer {}.{slot}: cannot connect: {e}", env.incarnation),
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    });
    futures_util::future::join_all(loops).await;
    Ok(())
}

fn nats_config(url: &str) -> NatsConfig {
    NatsConfig {
        // The killed consumer's deliveries come back after this.
        ack_wait: Duration::from_secs(5),
        request_timeout: Duration::from_secs(2),
        max_reconnect_delay: Duration::from_millis(200),
        ..NatsConfig::new(url)
    }
}

fn amqp_config(url: &str) -> AmqpConfig {
    let mut config = AmqpConfig::new(url).with_exchange("soak");
    config.audit_binds.clear();
    config.connect_timeout = Duration::from_secs(3);
    config.confirm_timeout = Duration::from_secs(10);
    config.reconnect_timeout = private_brokers::RABBIT_READY_WITHIN;
    config
}

/// Prints the `log` records librdkafka emits (its `debug` contexts) to stderr, stamped with
/// the wall clock, for SOAK_KAFKA_DEBUG runs.
struct StderrLog;

impl log::Log for StderrLog {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        eprintln!(
            "{}.{:03} {} {}: {}",
            now.as_secs(),
            now.subsec_millis(),
            record.level(),
            record.target(),
            record.args()
        );
    }
    fn flush(&self) {}
}

fn kafka_config(brokers: &str) -> KafkaConfig {
    let config = kafka_config_without_debug(brokers);
    // SOAK_KAFKA_DEBUG=consumer,cgrp,fetch,msg: librdkafka's debug contexts of the consumer
    // process, on stderr (the parent's producer would drown them).
    let consumer = std::env::var("SOAK_ROLE").as_deref() == Ok("consumer");
    match std::env::var("SOAK_KAFKA_DEBUG") {
        Ok(contexts) if consumer && !contexts.is_empty() => {
            if log::set_logger(&StderrLog).is_ok() {
                log::set_max_level(log::LevelFilter::Trace);
            }
            config.set("debug", contexts)
        }
        _ => config,
    }
}

fn kafka_config_without_debug(brokers: &str) -> KafkaConfig {
    KafkaConfig::new(brokers)
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "1000")
        .set("message.timeout.ms", "10000")
        // tansu 0.6 answers the retry of a batch it recorded but did not write with
        // DUPLICATE_SEQUENCE_NUMBER, which librdkafka counts as delivered (see
        // tests/kafka_restart.rs): at-least-once, absorbed by the idempotency store.
        .set("enable.idempotence", "false")
        // Fuller batches, fewer S3 objects for tansu to list on every Fetch (see below).
        .set("linger.ms", "20")
        // tansu 0.6 on S3 answers a Fetch with an empty record set (no error, the high
        // watermark ahead) when reading the partition takes longer than the request's
        // max_wait_ms, and it lists every batch object of the partition for each Fetch: past
        // ~1000 objects (one S3 list page) that takes longer than the binding's 100 ms, and
        // the consumer asks again for the same offset forever (`examples/kafka_fetch_probe.rs`
        // shows it). SOAK_KAFKA_FETCH_WAIT_MS overrides the wait for experiments.
        .set(
            "fetch.wait.max.ms",
            std::env::var("SOAK_KAFKA_FETCH_WAIT_MS").unwrap_or_else(|_| "5000".into()),
        )
        .with_partitions(1)
        .with_connect_timeout(Duration::from_secs(5))
}

fn http_store(run: u64) -> Result<RedisStore, BoxError> {
    Ok(RedisStore::open(RECORDS_URL)?
        .with_prefix(records_key(run, "http"))
        .with_ttl(Duration::from_secs(3600)))
}

// ---------------------------------------------------------------------------- the parent side

/// The consumer child process of the run; SIGKILLed when dropped.
struct ConsumerProcess {
    child: Child,
    incarnation: u32,
}

impl ConsumerProcess {
    fn start(broker: &str, run: u64, url: &str, topic: &str, incarnation: u32) -> Self {
        let child = Command::new(std::env::current_exe().expect("this binary's path"))
            .env("SOAK_ROLE", "consumer")
            .env("SOAK_BROKER", broker)
            .env("SOAK_RUN", format!("{run:016x}"))
            .env("SOAK_URL", url)
            .env("SOAK_TOPIC", topic)
            .env("SOAK_INCARNATION", incarnation.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the consumer process starts");
        Self { child, incarnation }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Closes stdin (the HTTP server stops gracefully) and waits up to 30 s.
    fn stop(&mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
    }
}

impl Drop for ConsumerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// VmRSS of process `pid` in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// What the monitor saw at each tenth of the handled messages.
#[derive(Clone, Debug, Default)]
struct Tenth {
    handled_at: Option<Duration>,
    published_at: Option<Duration>,
    rss_kib: Option<u64>,
    incarnation: u32,
}

/// Counters the publishers and the monitor share.
#[derive(Default)]
struct Progress {
    published: AtomicU64,
    /// Publish attempts that failed and were retried with the same id.
    failed_attempts: AtomicU64,
    /// Distinct ids handled (HLEN of the records), as last polled.
    handled: AtomicU64,
    consumer_pid: AtomicU32,
    incarnation: AtomicU32,
}

struct Plan {
    broker: &'static str,
    run: u64,
    messages: u64,
    publishers: usize,
}

impl Plan {
    fn poison(&self) -> u64 {
        (0..self.messages).filter(|i| is_poison(*i)).count() as u64
    }
    fn good(&self) -> u64 {
        self.messages - self.poison()
    }
}

/// Publishes every message with `plan.publishers` in flight, each retried with its own id until
/// confirmed.
fn spawn_publishers<P, Fut>(
    plan: &Plan,
    progress: Arc<Progress>,
    publish: P,
) -> Vec<tokio::task::JoinHandle<()>>
where
    P: Fn(u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let next = Arc::new(AtomicU64::new(0));
    let total = plan.messages;
    (0..plan.publishers)
        .map(|_| {
            let (next, progress, publish) = (next.clone(), progress.clone(), publish.clone());
            tokio::spawn(async move {
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    if index >= total {
                        return;
                    }
                    while let Err(e) = publish(index).await {
                        let failed = progress.failed_attempts.fetch_add(1, Ordering::Relaxed);
                        if failed % 1000 == 0 {
                            eprintln!(
                                "publish {index} failed (retrying; {} so far): {e}",
                                failed + 1
                            );
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    progress.published.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect()
}

/// Polls the records every 100 ms: the time each tenth of the good messages was handled and
/// published, and the consumer's VmRSS then.
fn spawn_monitor(
    plan: &Plan,
    progress: Arc<Progress>,
    started: Instant,
    tenths: Arc<Mutex<Vec<Tenth>>>,
    stop: Shutdown,
) -> tokio::task::JoinHandle<()> {
    let key = records_key(plan.run, "handled");
    let (good, total) = (plan.good(), plan.messages);
    tokio::spawn(async move {
        let mut redis = records().await.expect("the machine's Redis");
        while !stop.is_triggered() {
            if let Ok(handled) = redis::cmd("HLEN")
                .arg(&key)
                .query_async::<u64>(&mut redis)
                .await
            {
                progress.handled.store(handled, Ordering::SeqCst);
                let published = progress.published.load(Ordering::SeqCst);
                let mut tenths = tenths.lock().unwrap();
                for (k, tenth) in tenths.iter_mut().enumerate() {
                    let k = k as u64 + 1;
                    if tenth.handled_at.is_none() && handled * 10 >= good * k {
                        tenth.handled_at = Some(started.elapsed());
                        let pid = progress.consumer_pid.load(Ordering::SeqCst);
                        tenth.rss_kib = rss_kib(pid);
                        tenth.incarnation = progress.incarnation.load(Ordering::SeqCst);
                    }
                    if tenth.published_at.is_none() && published * 10 >= total * k {
                        tenth.published_at = Some(started.elapsed());
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

async fn wait_until(what: &str, within: Duration, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < within,
            "{what} did not happen within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How the parent restarts the private broker and the consumer of one binding.
trait Lane {
    /// SIGKILLs the private broker and starts it again (HTTP: stops the server process
    /// gracefully and starts a new one).
    async fn restart_broker(&mut self, consumer: &mut ConsumerProcess);
    /// The consumer process, incarnation `n`.
    async fn start_consumer(&mut self, n: u32) -> ConsumerProcess;
    /// The ids (indexes) in the dead-letter destination; waits up to `within` for `expected`.
    async fn dead_lettered(&mut self, expected: u64, within: Duration) -> Vec<u64>;
}

/// The whole run over one lane: publish, restart the broker at 30 % published, kill the
/// consumer at 60 % handled, wait for the end, then count.
/// `duplicate_answers`: HTTP only, answers that said the event was a duplicate (the ingest
/// server's skipped copies; other transports count them in the consumer's stats).
async fn drive<L, P, Fut>(
    plan: Plan,
    lane: &mut L,
    publish: P,
    duplicate_answers: Arc<AtomicU64>,
) -> bool
where
    L: Lane,
    P: Fn(u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let progress = Arc::new(Progress::default());
    let tenths = Arc::new(Mutex::new(vec![Tenth::default(); 10]));
    let mut consumer = lane.start_consumer(1).await;
    progress
        .consumer_pid
        .store(consumer.pid(), Ordering::SeqCst);
    progress.incarnation.store(1, Ordering::SeqCst);
    let started = Instant::now();
    let stop_monitor = Shutdown::new();
    let monitor = spawn_monitor(
        &plan,
        progress.clone(),
        started,
        tenths.clone(),
        stop_monitor.clone(),
    );
    let publishers = spawn_publishers(&plan, progress.clone(), publish);
    let hours = Duration::from_secs(6 * 3600);

    let (total, good) = (plan.messages, plan.good());
    wait_until("30 % published", hours, || {
        progress.published.load(Ordering::SeqCst) * 10 >= total * 3
    })
    .await;
    let restart_at = started.elapsed();
    lane.restart_broker(&mut consumer).await;
    progress
        .consumer_pid
        .store(consumer.pid(), Ordering::SeqCst);
    progress
        .incarnation
        .store(consumer.incarnation, Ordering::SeqCst);
    eprintln!(
        "{}: broker restarted at {restart_at:.1?} (back after {:.1?})",
        plan.broker,
        started.elapsed() - restart_at
    );

    wait_until("60 % handled", hours, || {
        progress.handled.load(Ordering::SeqCst) * 10 >= good * 6
    })
    .await;
    let kill_at = started.elapsed();
    consumer.kill();
    let next = consumer.incarnation + 1;
    consumer = lane.start_consumer(next).await;
    progress
        .consumer_pid
        .store(consumer.pid(), Ordering::SeqCst);
    progress.incarnation.store(next, Ordering::SeqCst);
    eprintln!("{}: consumer SIGKILLed at {kill_at:.1?}", plan.broker);

    for publisher in publishers {
        publisher.await.expect("a publisher does not panic");
    }
    let published_in = started.elapsed();
    // Wait until every good message was handled, or nothing moved for STALL.
    let (mut last, mut since) = (0, Instant::now());
    loop {
        let handled = progress.handled.load(Ordering::SeqCst);
        if handled >= good {
            break;
        }
        if handled != last {
            (last, since) = (handled, Instant::now());
        } else if since.elapsed() > STALL {
            eprintln!(
                "{}: nothing handled for {STALL:?} at {handled} of {good}",
                plan.broker
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let handled_in = started.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop_monitor.trigger();
    monitor.await.expect("the monitor does not panic");
    let end_rss = rss_kib(consumer.pid());
    let dead = lane
        .dead_lettered(plan.poison(), Duration::from_secs(120))
        .await;
    consumer.kill();
    let tenths = tenths.lock().unwrap().clone();
    let seen = Seen {
        tenths,
        dead,
        duplicate_answers: duplicate_answers.load(Ordering::SeqCst),
        published_in,
        handled_in,
        end_rss,
    };
    report(&plan, &progress, seen).await
}

/// What the parent saw of a run, for [`report`].
struct Seen {
    tenths: Vec<Tenth>,
    /// The indexes read back from the dead-letter destination.
    dead: Vec<u64>,
    duplicate_answers: u64,
    published_in: Duration,
    handled_in: Duration,
    /// The consumer's VmRSS when everything was handled.
    end_rss: Option<u64>,
}

/// Counts by id and prints the report; true when published = handled + dead-lettered.
async fn report(plan: &Plan, progress: &Progress, seen: Seen) -> bool {
    let Seen {
        tenths,
        dead,
        duplicate_answers,
        published_in,
        handled_in,
        end_rss,
    } = seen;
    let mut redis = records().await.expect("the machine's Redis");
    let key = records_key(plan.run, "handled");
    let (mut handled, mut handled_again, mut missing, mut poison_handled) =
        (0u64, 0u64, Vec::new(), Vec::new());
    let dead_set: HashSet<u64> = dead.iter().copied().collect();
    let chunk = 10_000u64;
    let mut start = 0;
    while start < plan.messages {
        let end = (start + chunk).min(plan.messages);
        let ids: Vec<String> = (start..end)
            .map(|i| message_id(plan.run, i).to_string())
            .collect();
        let counts: Vec<Option<u64>> = redis::cmd("HMGET")
            .arg(&key)
            .arg(&ids)
            .query_async(&mut redis)
            .await
            .expect("HMGET the records");
        for (i, count) in (start..end).zip(counts) {
            match (is_poison(i), count) {
                (false, Some(n)) => {
                    handled += 1;
                    handled_again += n - 1;
                }
                (false, None) => missing.push(i),
                (true, Some(_)) => poison_handled.push(i),
                (true, None) if !dead_set.contains(&i) => missing.push(i),
                (true, None) => {}
            }
        }
        start = end;
    }
    let recorded: u64 = redis::cmd("HLEN")
        .arg(&key)
        .query_async(&mut redis)
        .await
        .unwrap_or(0);
    let dead_letters = dead.len() as u64;
    let dead_distinct = dead_set.len() as u64;
    let foreign_dead: Vec<u64> = dead_set
        .iter()
        .copied()
        .filter(|i| !is_poison(*i))
        .collect();
    let mut skipped = 0u64;
    let mut stats_lines = Vec::new();
    for incarnation in 1..=3 {
        let stats: std::collections::HashMap<String, u64> = redis::cmd("HGETALL")
            .arg(records_key(plan.run, &format!("stats:{incarnation}")))
            .query_async(&mut redis)
            .await
            .unwrap_or_default();
        if !stats.is_empty() {
            skipped += stats.get("skipped").copied().unwrap_or(0);
            stats_lines.push(format!("consumer {incarnation}: {stats:?}"));
        }
    }
    skipped += duplicate_answers;

    let tenth = (plan.good() / 10).max(1) as f64;
    let rate = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
        (Some(a), Some(b)) if b > a => format!("{:.0}", tenth / (b - a).as_secs_f64()),
        _ => "-".into(),
    };
    let ptenth = (plan.messages / 10).max(1) as f64;
    let prate = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
        (Some(a), Some(b)) if b > a => format!("{:.0}", ptenth / (b - a).as_secs_f64()),
        _ => "-".into(),
    };
    let zero = Some(Duration::ZERO);
    println!(
        "soak {} run {:016x}: {} messages",
        plan.broker, plan.run, plan.messages
    );
    println!(
        "  published in {published_in:.1?} ({} failed attempts retried), all handled or given up at {handled_in:.1?}",
        progress.failed_attempts.load(Ordering::SeqCst)
    );
    println!(
        "  handled msg/s: first tenth {}, last tenth {}; published msg/s: first tenth {}, last tenth {}",
        rate(zero, tenths[0].handled_at),
        rate(tenths[8].handled_at, tenths[9].handled_at),
        prate(zero, tenths[0].published_at),
        prate(tenths[8].published_at, tenths[9].published_at),
    );
    for (k, t) in tenths.iter().enumerate() {
        println!(
            "  {:>3} % handled at {:>8} (consumer {}, VmRSS {} KiB)",
            (k + 1) * 10,
            t.handled_at.map_or("-".into(), |d| format!("{:.1?}", d)),
            t.incarnation,
            t.rss_kib.map_or("-".into(), |r| r.to_string())
        );
    }
    println!(
        "  consumer VmRSS: after warm-up (10 %) {} KiB, at the end {} KiB",
        tenths[0].rss_kib.map_or("-".into(), |r| r.to_string()),
        end_rss.map_or("-".into(), |r| r.to_string())
    );
    for line in &stats_lines {
        println!("  {line}");
    }
    println!(
        "  published {} = handled {handled} + dead-lettered {dead_distinct} (+ {} missing); \
         skipped duplicates {skipped}; handled more than once {handled_again}; \
         dead letters read {dead_letters}; ids recorded {recorded}",
        plan.messages,
        missing.len()
    );
    let ok = missing.is_empty()
        && poison_handled.is_empty()
        && foreign_dead.is_empty()
        && handled + dead_distinct == plan.messages;
    if !missing.is_empty() {
        println!(
            "  MISSING ({}): {:?}",
            missing.len(),
            &missing[..missing.len().min(50)]
        );
    }
    if !poison_handled.is_empty() {
        println!("  POISON HANDLED: {poison_handled:?}");
    }
    if !foreign_dead.is_empty() {
        println!("  GOOD MESSAGES DEAD-LETTERED: {foreign_dead:?}");
    }
    println!("  {}", if ok { "OK" } else { "FAILED" });
    // The run's records (handled ids, idempotency keys, stats, HTTP store) are litter now.
    let _ = clear(&mut redis, &records_key(plan.run, "*")).await;
    ok
}

async fn clear(
    redis: &mut redis::aio::MultiplexedConnection,
    pattern: &str,
) -> redis::RedisResult<()> {
    let mut cursor = 0u64;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(10_000)
            .query_async(redis)
            .await?;
        if !keys.is_empty() {
            redis::cmd("UNLINK")
                .arg(&keys)
                .query_async::<i64>(redis)
                .await?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

/// Decodes dead-lettered bytes as system `C` (as read from the channel its
/// `x-dead-letter-channel` header names, else `channel`) and returns the message index.
fn dead_index<C: Contract>(
    run: u64,
    channel: &str,
    headers: &Headers,
    payload: &[u8],
    id_of: fn(&C::Message) -> Option<String>,
) -> Option<u64> {
    let channel = headers
        .get_str(dead_letter_headers::CHANNEL)
        .unwrap_or(channel);
    let message = C::decode(channel, payload).ok()?;
    index_of(run, &id_of(&message)?)
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/tmp")
        .join(format!("soak-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

// -------------------------------------------------------------------------------- the lanes

struct RedisLane {
    server: RedisServer,
    dir: PathBuf,
    run: u64,
}

impl Lane for RedisLane {
    async fn restart_broker(&mut self, _: &mut ConsumerProcess) {
        self.server.kill();
        tokio::time::sleep(Duration::from_millis(500)).await;
        self.server = RedisServer::start_with_fsync(self.server.port, &self.dir, "everysec");
        self.server.ready().await;
    }
    async fn start_consumer(&mut self, n: u32) -> ConsumerProcess {
        ConsumerProcess::start("redis", self.run, &self.server.url(), "", n)
    }
    async fn dead_lettered(&mut self, expected: u64, within: Duration) -> Vec<u64> {
        let options = RedisConfig::new(self.server.url());
        let key = options.dead_letter_key("stream:audio-ingest");
        poll_dead_letters(expected, within, || async {
            let letters = redis_entry::read_dead_letters(
                &options.url,
                &key,
                <audio::System as Contract>::STREAM_ENTRY,
            )
            .await
            .map_err(|e| e.to_string())?;
            Ok(letters
                .iter()
                .filter_map(|l| {
                    dead_index::<audio::System>(
                        self.run, &l.channel, &l.headers, &l.payload, audio_id,
                    )
                })
                .collect())
        })
        .await
    }
}

async fn poll_dead_letters<F, Fut>(expected: u64, within: Duration, read: F) -> Vec<u64>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Vec<u64>, String>>,
{
    let start = Instant::now();
    loop {
        match read().await {
            Ok(found) if found.len() as u64 >= expected || start.elapsed() > within => {
                return found
            }
            Ok(_) => {}
            Err(e) if start.elapsed() > within => {
                eprintln!("cannot read the dead letters: {e}");
                return Vec::new();
            }
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn soak_redis(plan: Plan) -> bool {
    let dir = scratch_dir("redis");
    let server = RedisServer::start_with_fsync(free_port(), &dir, "everysec");
    server.ready().await;
    let options = RedisConfig {
        response_timeout: Duration::from_secs(2),
        ..RedisConfig::new(server.url())
    };
    let sink = RedisSink::connect(&options)
        .await
        .expect("the sink connects");
    let publisher = Arc::new(Publisher::<audio::System, _>::new(
        sink,
        Meta {
            source: Some("soak".into()),
            ..Meta::default()
        },
    ));
    let example = audio::AudioChunkReceived::examples()
        .expect("examples decode")
        .remove(0);
    let run = plan.run;
    let mut lane = RedisLane { server, dir, run };
    let ok = drive(
        plan,
        &mut lane,
        move |index| {
            let (publisher, mut chunk) = (publisher.clone(), example.clone());
            async move {
                let id = message_id(run, index).to_string();
                // The idempotency key is the chunk id: one per message.
                chunk.chunk_id = id.clone();
                let meta = Meta {
                    id: Some(id),
                    ..Meta::default()
                };
                publisher
                    .publish_with(chunk, &meta)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
        },
        Arc::default(),
    )
    .await;
    drop(lane.server);
    let _ = std::fs::remove_dir_all(&lane.dir);
    ok
}

struct NatsLane {
    server: NatsServer,
    port: u16,
    store: PathBuf,
    run: u64,
}

impl NatsLane {
    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

impl Lane for NatsLane {
    async fn restart_broker(&mut self, _: &mut ConsumerProcess) {
        self.server.kill();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        self.server = NatsServer::start(self.port, &self.store);
        wait_until_listening(self.port, Duration::from_secs(60)).await;
    }
    async fn start_consumer(&mut self, n: u32) -> ConsumerProcess {
        ConsumerProcess::start("nats", self.run, &self.url(), "", n)
    }
    async fn dead_lettered(&mut self, expected: u64, within: Duration) -> Vec<u64> {
        let config = nats_config(&self.url());
        let run = self.run;
        poll_dead_letters(expected, within, || async {
            let nats = NatsTransport::connect(&config)
                .await
                .map_err(|e| e.to_string())?;
            let letters = nats
                .dead_letters("analytics-service")
                .await
                .map_err(|e| e.to_string())?;
            Ok(letters
                .iter()
                .filter_map(|l| {
                    dead_index::<agents::System>(run, &l.channel, &l.headers, &l.payload, agents_id)
                })
                .collect())
        })
        .await
    }
}

async fn soak_nats(plan: Plan) -> bool {
    let store = scratch_dir("nats");
    let port = free_port();
    let server = NatsServer::start(port, &store);
    wait_until_listening(port, Duration::from_secs(30)).await;
    let lane = NatsLane {
        server,
        port,
        store,
        run: plan.run,
    };
    let nats = NatsTransport::connect(&NatsConfig {
        publish_attempts: 1,
        ..nats_config(&lane.url())
    })
    .await
    .expect("connects to the private nats-server");
    nats.setup::<agents::System>(&retry_policy())
        .await
        .expect("streams and consumers");
    let publisher = Arc::new(Publisher::<agents::System, _>::new(
        nats.sink(),
        Meta::default(),
    ));
    let example = agents::UsageMeteredApiCall::examples()
        .expect("examples decode")
        .remove(0);
    let run = plan.run;
    let mut lane = lane;
    let ok = drive(
        plan,
        &mut lane,
        move |index| {
            let (publisher, mut event) = (publisher.clone(), example.clone());
            async move {
                event.event_id = message_id(run, index);
                publisher
                    .publish(event)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
        },
        Arc::default(),
    )
    .await;
    drop(lane.server);
    let _ = std::fs::remove_dir_all(&lane.store);
    ok
}

struct AmqpLane {
    node: RabbitNode,
    run: u64,
}

impl Lane for AmqpLane {
    async fn restart_broker(&mut self, _: &mut ConsumerProcess) {
        self.node.kill();
        self.node.start().await;
    }
    async fn start_consumer(&mut self, n: u32) -> ConsumerProcess {
        ConsumerProcess::start("amqp", self.run, &self.node.url(), "", n)
    }
    async fn dead_lettered(&mut self, expected: u64, within: Duration) -> Vec<u64> {
        let config = amqp_config(&self.node.url());
        let run = self.run;
        let found = Arc::new(Mutex::new(Vec::new()));
        poll_dead_letters(expected, within, || {
            let (config, found) = (config.clone(), found.clone());
            async move {
                let broker = AmqpBroker::connect(&config)
                    .await
                    .map_err(|e| e.to_string())?;
                let queue = config.dead_letter_queue(AMQP_GROUP.name);
                while let Some(letter) = broker.take(&queue).await.map_err(|e| e.to_string())? {
                    if let Some(i) = dead_index::<dam::System>(
                        run,
                        &letter.channel,
                        &letter.headers,
                        &letter.payload,
                        dam_id,
                    ) {
                        found.lock().unwrap().push(i);
                    }
                }
                Ok(found.lock().unwrap().clone())
            }
        })
        .await
    }
}

async fn soak_amqp(plan: Plan) -> bool {
    let mut node = RabbitNode::new(&scratch_dir("amqp"), "soak");
    node.start().await;
    let config = amqp_config(&node.url());
    let admin = AmqpBroker::connect(&config)
        .await
        .expect("the private RabbitMQ node takes a client");
    admin.declare_groups(&[AMQP_GROUP]).await.expect("topology");
    let publisher = Arc::new(Publisher::<dam::System, _>::new(
        admin.sink().await.expect("the publisher connects"),
        Meta::default(),
    ));
    drop(admin);
    let example = dam::CaptureAlive::examples()
        .expect("examples decode")
        .remove(0);
    let run = plan.run;
    let mut lane = AmqpLane { node, run };
    drive(
        plan,
        &mut lane,
        move |index| {
            let (publisher, mut alive) = (publisher.clone(), example.clone());
            async move {
                // dam's events carry no id of their own: the soak's id rides in `request_id`.
                alive.request_id = Some(message_id(run, index).to_string());
                publisher
                    .publish(alive)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
        },
        Arc::default(),
    )
    .await
}

struct KafkaLane {
    broker: TansuBroker,
    topic: String,
    run: u64,
}

impl KafkaLane {
    fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.broker.port)
    }
}

impl Lane for KafkaLane {
    async fn restart_broker(&mut self, _: &mut ConsumerProcess) {
        self.broker.kill();
        tokio::time::sleep(Duration::from_millis(700)).await;
        self.broker.start();
        wait_until_listening(self.broker.port, Duration::from_secs(60)).await;
    }
    async fn start_consumer(&mut self, n: u32) -> ConsumerProcess {
        ConsumerProcess::start("kafka", self.run, &self.brokers(), &self.topic, n)
    }
    async fn dead_lettered(&mut self, expected: u64, within: Duration) -> Vec<u64> {
        let config = kafka_config(&self.brokers());
        let topic = dead_letter_topic(&self.topic);
        let mut reader =
            match KafkaSource::connect(&config, "soak-dead-letter-reader", &[&topic]).await {
                Ok(reader) => reader,
                Err(e) => {
                    eprintln!("cannot read the dead letters: {e}");
                    return Vec::new();
                }
            };
        let mut found = Vec::new();
        // A poison message dead-lettered by the killed consumer and again by its successor
        // (its commit was lost) is in the topic twice: count distinct ids, or the last one
        // is never read.
        let mut distinct = std::collections::HashSet::new();
        let _ = tokio::time::timeout(within, async {
            while (distinct.len() as u64) < expected {
                match reader.next().await {
                    Ok(Some((delivery, token))) => {
                        let before = found.len();
                        found.extend(dead_index::<livepeer::System>(
                            self.run,
                            &delivery.channel,
                            &delivery.headers,
                            &delivery.payload,
                            livepeer_id,
                        ));
                        distinct.extend(found[before..].iter().copied());
                        let _ = reader.ack(token).await;
                    }
                    Ok(None) => break,
                    Err(e) => {
                        eprintln!("reading the dead letters: {e}");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
        })
        .await;
        found
    }
}

async fn soak_kafka(plan: Plan) -> bool {
    let name = format!("soak-{:016x}", plan.run);
    let bucket = Bucket::create(&s3_endpoint(), &name);
    let port = free_port();
    let log = scratch_dir("kafka").join("tansu.log");
    let mut broker = TansuBroker::new(port, &bucket, log);
    broker.start();
    let config = kafka_config(&format!("127.0.0.1:{port}"));
    let start = Instant::now();
    let sink = loop {
        match KafkaSink::connect(&config).await {
            Ok(sink) => break sink,
            Err(e) if start.elapsed() > Duration::from_secs(30) => {
                panic!("the private tansu broker did not answer within 30 s: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    let topic = name.clone();
    config
        .ensure_topics(&[&topic])
        .await
        .expect("topic created");
    let publisher = Arc::new(Publisher::<livepeer::System, _>::new(
        sink.with_topic(&topic),
        Meta {
            source: Some("soak".into()),
            ..Meta::default()
        },
    ));
    let example = livepeer::StreamTrace::examples()
        .expect("examples decode")
        .remove(0);
    let run = plan.run;
    let mut lane = KafkaLane { broker, topic, run };
    let ok = drive(
        plan,
        &mut lane,
        move |index| {
            let (publisher, event) = (publisher.clone(), example.clone());
            async move {
                let meta = Meta {
                    id: Some(message_id(run, index).to_string()),
                    ..Meta::default()
                };
                publisher
                    .publish_with(event, &meta)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
        },
        Arc::default(),
    )
    .await;
    // The broker stops writing before its bucket is deleted.
    drop(lane);
    drop(bucket);
    ok
}

struct HttpLane {
    port: u16,
    run: u64,
}

impl Lane for HttpLane {
    async fn restart_broker(&mut self, consumer: &mut ConsumerProcess) {
        // The ingest server is the broker: a graceful stop, then a new process.
        consumer.stop();
        *consumer = self.start_consumer(consumer.incarnation + 1).await;
    }
    async fn start_consumer(&mut self, n: u32) -> ConsumerProcess {
        let process = ConsumerProcess::start("http", self.run, &self.port.to_string(), "", n);
        wait_until_listening(self.port, Duration::from_secs(30)).await;
        process
    }
    async fn dead_lettered(&mut self, expected: u64, within: Duration) -> Vec<u64> {
        let key = http_store(self.run).expect("store").dead_letter_stream();
        let run = self.run;
        poll_dead_letters(expected, within, || async {
            let letters =
                redis_entry::read_dead_letters(RECORDS_URL, &key, StreamEntryLayout::DEFAULT)
                    .await
                    .map_err(|e| e.to_string())?;
            Ok(letters
                .iter()
                .filter_map(|l| {
                    let body: serde_json::Value = serde_json::from_slice(&l.payload).ok()?;
                    index_of(run, body["id"].as_str()?)
                })
                .collect())
        })
        .await
    }
}

async fn soak_http(plan: Plan) -> bool {
    let port = free_port();
    let run = plan.run;
    let client = Arc::new(
        HttpClient::new(format!("http://127.0.0.1:{port}"))
            .expect("client")
            .with_timeout(Duration::from_secs(10))
            .expect("timeout")
            .with_retry(RetryPolicy {
                max_attempts: 100,
                initial_backoff: Duration::from_millis(20),
                max_backoff: Duration::from_millis(200),
                ..RetryPolicy::default()
            }),
    );
    let example = orchestrator::RunStageProgressData::examples()
        .expect("examples decode")
        .remove(0);
    let duplicates = Arc::new(AtomicU64::new(0));
    let mut lane = HttpLane { port, run };
    let counted = duplicates.clone();
    let ok = drive(
        plan,
        &mut lane,
        move |index| {
            let (client, event, duplicates) = (client.clone(), example.clone(), counted.clone());
            async move {
                let meta = Meta {
                    id: Some(message_id(run, index).to_string()),
                    source: Some("soak".into()),
                    subject: Some(format!("run/{run:016x}")),
                    ..Meta::default()
                };
                let outgoing =
                    prepare::<orchestrator::System, _>(event, &meta).map_err(|e| e.to_string())?;
                match client.post(&outgoing).await {
                    Ok(answer) => {
                        if answer.outcome == Outcome::Duplicate {
                            duplicates.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(())
                    }
                    // The poison one is refused for good: dead-lettered, nothing to resend.
                    Err(HttpError::Refused { status, .. }) if is_poison(index) && status < 500 => {
                        Ok(())
                    }
                    Err(e) => Err(e.to_string()),
                }
            }
        },
        duplicates,
    )
    .await;
    ok
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    if std::env::var("SOAK_ROLE").as_deref() == Ok("consumer") {
        if let Err(e) = runtime.block_on(consumer_main()) {
            eprintln!("soak consumer: {e}");
            std::process::exit(2);
        }
        return;
    }
    let usage = "usage: soak <redis|amqp|nats|kafka|http> [MESSAGES]";
    let mut args = std::env::args().skip(1);
    let broker: &'static str = match args.next().as_deref() {
        Some("redis") => "redis",
        Some("amqp") => "amqp",
        Some("nats") => "nats",
        Some("kafka") => "kafka",
        Some("http") => "http",
        other => {
            eprintln!("unknown broker {other:?}; {usage}");
            std::process::exit(2);
        }
    };
    let messages = match args.next().map(|m| m.replace('_', "").parse::<u64>()) {
        None => 1_000_000,
        Some(Ok(n)) if n >= 10 => n,
        Some(_) => {
            eprintln!("MESSAGES must be a number of at least 10; {usage}");
            std::process::exit(2);
        }
    };
    let publishers = match std::env::var("SOAK_PUBLISHERS").map(|n| n.parse::<usize>()) {
        Err(_) if broker == "kafka" => KAFKA_PUBLISHERS,
        Err(_) => PUBLISHERS,
        Ok(Ok(n)) if n > 0 => n,
        Ok(_) => {
            eprintln!("SOAK_PUBLISHERS must be a positive number");
            std::process::exit(2);
        }
    };
    let plan = Plan {
        broker,
        run: fastrand::u64(1..),
        messages,
        publishers,
    };
    let ok = runtime.block_on(async move {
        match broker {
            "redis" => soak_redis(plan).await,
            "nats" => soak_nats(plan).await,
            "amqp" => soak_amqp(plan).await,
            "kafka" => soak_kafka(plan).await,
            _ => soak_http(plan).await,
        }
    });
    std::process::exit(if ok { 0 } else { 1 });
}
