//! The cross-language conformance suite: each system against the Python clients its
//! ecosystem uses (kafka-python, redis-py, pika, nats-py, the standard library's HTTP), from
//! PyPI, pinned in `tests/interop/requirements.txt` and installed by this test through
//! `.ci/pyvenv.sh` into `target/interop-venv`, on the real local brokers
//! (`bash .ci/services.sh`).
//!
//! For each of the five systems, in both directions:
//!
//! - **Python → Rust.** `tests/interop/main.py SYSTEM publish` sends messages built the way
//!   the system's document shows them (every schema example and invalid example, integers
//!   written as floats, an integer beyond 64 bits, both trace forms, a resend, an unknown
//!   event, bytes that are not JSON) and writes each with the outcome the contract promises.
//!   The Rust consumers (the generated `Dispatch` under `transport::run`, the manifest's
//!   consumer groups; for HTTP the ingest server) consume them; every delivery is watched as it
//!   is settled, the typed handlers record what they handled with its trace context, and the
//!   dead-letter destination is read back with its reasons. Each message must have exactly
//!   its expected outcome: handled (by the right typed handler, with the right
//!   `traceparent`), skipped as a duplicate, or dead-lettered with its reason and an error
//!   naming the JSON pointer; none lost.
//! - **Rust → Python.** The typed `Publisher` sends every event of the catalog; `main.py
//!   SYSTEM read` (or `serve`, the HTTP endpoint the Rust `HttpSink` posts to in structured
//!   and binary mode) reads them with the Python client, validates each with `jsonschema`
//!   against the schema files, and checks the wire details a foreign service relies on
//!   (stream entry fields, headers, record keys, routing keys, message ids, `Nats-Msg-Id`,
//!   CloudEvents content modes, timestamp shapes).
//!
//! The whole suite is one test so it prints one table (system × direction × sent / handled /
//! skipped / dead-lettered / lost / wrong), also written to `interop-table.md` in Cargo's
//! test temporary directory, then fails listing every message that did not get its expected
//! outcome, tagged with the issue-10 trap it exercises. `INTEROP_SYSTEMS=audio,dam` runs only
//! the systems named. Every run works in its own namespace (topics, stream keys, exchanges,
//! NATS streams and subjects, store prefixes) and removes it at the end.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use event_contracts::runtime::transport::amqp::{AmqpBroker, AmqpConfig};
use event_contracts::runtime::transport::http::{
    DeadLetterStore, HttpSink, IngestServer, RedisStore, SendMode,
};
use event_contracts::runtime::transport::kafka::{
    dead_letter_topic, retry_topic, KafkaConfig, KafkaSink, KafkaSource,
};
use event_contracts::runtime::transport::nats::{NatsConfig, NatsTransport};
use event_contracts::runtime::transport::redis::{
    RedisConfig, RedisIdempotency, RedisSink, RedisSource,
};
use event_contracts::runtime::transport::trace::TraceParent;
use event_contracts::runtime::transport::{
    self, dead_letter_headers as dl, ConsumerGroup, Context, Contract, DeadLetter, Delivery,
    Handle, HandlerResult, Headers, IdempotencyStore, Meta, Policy, Publisher, Publishes,
    RetryPolicy, Shutdown, Sink, Source, Stats, TransportError, UnknownPolicy,
};
use event_contracts::{agents, audio, dam, livepeer, orchestrator, Channel, Event};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const REDIS_URL: &str = "redis://127.0.0.1:6379";
const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
const NATS_URL: &str = "nats://127.0.0.1:4222";
const KAFKA_BROKERS: &str = "127.0.0.1:9092";
/// Bound on waiting for consumers to settle what was sent (not an assertion on speed: a
/// message still missing then is reported lost).
const WAIT: Duration = Duration::from_secs(30);
const PYTHON_TIMEOUT: Duration = Duration::from_secs(120);

/// The repository: Cargo's run-time `CARGO_MANIFEST_DIR` first, since a build shared between
/// checkouts (one `CARGO_TARGET_DIR`) may carry another checkout's compile-time path.
fn root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

fn unique(prefix: &str) -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}{}", &random[..10])
}

fn new_trace() -> String {
    TraceParent::new_root().to_string()
}

fn retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(60),
        ..RetryPolicy::default()
    }
}

// ---------------------------------------------------------------------------------------------
// The Python side

/// The venv's interpreter, made or reused by `.ci/pyvenv.sh` with the pinned requirements.
fn python_venv() -> Result<PathBuf, String> {
    let root = root();
    let requirements = root.join("tests/interop/requirements.txt");
    let pins: Vec<String> = std::fs::read_to_string(&requirements)
        .map_err(|e| format!("reading {}: {e}", requirements.display()))?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    let out = std::process::Command::new("bash")
        .arg(root.join(".ci/pyvenv.sh"))
        .arg("target/interop-venv")
        .args(&pins)
        .current_dir(&root)
        .output()
        .map_err(|e| format!("running .ci/pyvenv.sh: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "installing {pins:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let venv = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    Ok(Path::new(&venv).join("bin/python"))
}

#[derive(Clone)]
struct Python {
    exe: PathBuf,
    /// This run's files: configs for and answers from the scripts.
    dir: PathBuf,
}

impl Python {
    fn command(
        &self,
        system: &str,
        command: &str,
        config: &Value,
    ) -> Result<(tokio::process::Command, PathBuf), String> {
        let config_path = self.dir.join(format!("{system}-{command}-config.json"));
        let out = self.dir.join(format!("{system}-{command}-out.json"));
        std::fs::write(
            &config_path,
            serde_json::to_vec_pretty(config).expect("JSON"),
        )
        .map_err(|e| format!("writing {}: {e}", config_path.display()))?;
        let mut cmd = tokio::process::Command::new(&self.exe);
        cmd.arg(root().join("tests/interop/main.py"))
            .args([system, command])
            .arg(&config_path)
            .arg(&out)
            // No `__pycache__` in the source tree.
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .kill_on_drop(true);
        Ok((cmd, out))
    }

    /// Runs `main.py SYSTEM COMMAND` to the end; what it wrote.
    async fn run(&self, system: &str, command: &str, config: &Value) -> Result<Value, String> {
        let (mut cmd, out) = self.command(system, command, config)?;
        let output = tokio::time::timeout(PYTHON_TIMEOUT, cmd.output())
            .await
            .map_err(|_| {
                format!("python {system} {command} did not end within {PYTHON_TIMEOUT:?}")
            })?
            .map_err(|e| format!("python {system} {command} could not start: {e}"))?;
        finish(system, command, output.status, &output.stderr, &out)
    }
}

fn finish(
    system: &str,
    command: &str,
    status: std::process::ExitStatus,
    stderr: &[u8],
    out: &Path,
) -> Result<Value, String> {
    if !status.success() {
        let stderr = String::from_utf8_lossy(stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(25).collect();
        return Err(format!(
            "python {system} {command} failed ({status}):\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ));
    }
    let text = std::fs::read(out).map_err(|e| format!("reading {}: {e}", out.display()))?;
    serde_json::from_slice(&text).map_err(|e| format!("{} is not JSON: {e}", out.display()))
}

// ---------------------------------------------------------------------------------------------
// What Python sent, and what happened to it

fn hex(text: &str) -> Result<Vec<u8>, String> {
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
                .ok_or_else(|| format!("bad hex at {i}"))
        })
        .collect()
}

/// One message Python sent, with the outcome the contract promises.
#[derive(Clone, Debug, Deserialize)]
struct Sent {
    label: String,
    event: String,
    channel: String,
    payload: String,
    expect: String,
    reason: Option<String>,
    #[serde(default)]
    error_contains: Vec<String>,
    traceparent: Option<String>,
    trap: Option<u8>,
    /// Redis: the entry id `XADD` answered.
    entry_id: Option<String>,
    /// HTTP: the event's id, the answer's status, and the status expected.
    id: Option<String>,
    status: Option<u16>,
    want_status: Option<u16>,
    answer: Option<String>,
}

impl Sent {
    fn bytes(&self) -> Vec<u8> {
        hex(&self.payload).unwrap_or_default()
    }

    fn what(&self, system: &str) -> String {
        let trap = self
            .trap
            .map(|t| format!(" [issue 10 trap {t}]"))
            .unwrap_or_default();
        format!("{system} Python→Rust `{}`{trap}", self.label)
    }
}

fn sent_messages(answer: &Value) -> Result<Vec<Sent>, String> {
    serde_json::from_value(answer["messages"].clone()).map_err(|e| format!("sent messages: {e}"))
}

/// What the engine did with one delivery.
#[derive(Clone, Debug, PartialEq)]
enum Settled {
    Acked,
    Retried,
    DeadLettered { reason: String, error: String },
}

#[derive(Clone, Debug)]
struct Watched {
    origin: String,
    payload: Vec<u8>,
    settled: Option<Settled>,
}

type Log = Arc<Mutex<Vec<Watched>>>;

/// A source that logs every delivery and how the engine settled it.
struct Watch<S> {
    inner: S,
    log: Log,
}

impl<S> Watch<S> {
    fn settle(&self, index: usize, how: Settled) {
        if let Some(w) = self.log.lock().unwrap().get_mut(index) {
            w.settled = Some(how);
        }
    }
}

impl<S: Source> Source for Watch<S> {
    type Token = (S::Token, usize);

    async fn next(&mut self) -> Result<Option<(Delivery, Self::Token)>, TransportError> {
        let next = self.inner.next().await?;
        Ok(next.map(|(delivery, token)| {
            let mut log = self.log.lock().unwrap();
            log.push(Watched {
                origin: delivery.origin.clone(),
                payload: delivery.payload.clone(),
                settled: None,
            });
            let index = log.len() - 1;
            (delivery, (token, index))
        }))
    }

    fn unreadable(&self, (token, _): &Self::Token) -> Option<String> {
        self.inner.unreadable(token)
    }

    async fn ack(&mut self, (token, index): Self::Token) -> Result<(), TransportError> {
        self.inner.ack(token).await?;
        self.settle(index, Settled::Acked);
        Ok(())
    }

    async fn retry(
        &mut self,
        (token, index): Self::Token,
        delivery: &Delivery,
        after: Duration,
    ) -> Result<(), TransportError> {
        self.inner.retry(token, delivery, after).await?;
        self.settle(index, Settled::Retried);
        Ok(())
    }

    async fn dead_letter(
        &mut self,
        (token, index): Self::Token,
        delivery: &Delivery,
        letter: &DeadLetter,
    ) -> Result<(), TransportError> {
        self.inner.dead_letter(token, delivery, letter).await?;
        self.settle(
            index,
            Settled::DeadLettered {
                reason: letter.reason.as_str().to_owned(),
                error: letter.error.clone(),
            },
        );
        Ok(())
    }
}

/// One typed handler call: the event's `NAME` (`*` for livepeer's fallback), its trace
/// context, and the envelope id where there is one.
#[derive(Clone, Debug)]
struct HandledBy {
    origin: String,
    name: &'static str,
    traceparent: Option<String>,
    id: Option<String>,
}

/// The typed handlers of every system: each records its call and succeeds.
#[derive(Clone, Default)]
struct Typed(Arc<Mutex<Vec<HandledBy>>>);

impl Typed {
    fn record(&self, name: &'static str, id: Option<String>, context: &Context) -> HandlerResult {
        self.0.lock().unwrap().push(HandledBy {
            origin: context.origin.clone(),
            name,
            traceparent: context.traceparent.clone(),
            id,
        });
        Ok(())
    }

    fn calls(&self) -> Vec<HandledBy> {
        self.0.lock().unwrap().clone()
    }
}

macro_rules! typed_handler {
    ($system:ident, wrapped $envelope:ident . $id:ident { $($method:ident: $ty:ident),* $(,)? }) => {
        impl $system::Handler for Typed {
            $(async fn $method(
                &self,
                message: $system::$envelope<$system::$ty>,
                context: &Context,
            ) -> HandlerResult {
                self.record(<$system::$ty as Event>::NAME, Some(message.$id.to_string()), context)
            })*
        }
    };
    ($system:ident, flat { $($method:ident: $ty:ident),* $(,)? }) => {
        impl $system::Handler for Typed {
            $(async fn $method(&self, _event: $system::$ty, context: &Context) -> HandlerResult {
                self.record(<$system::$ty as Event>::NAME, None, context)
            })*
        }
    };
}

typed_handler!(livepeer, wrapped GatewayEnvelope.id {
    stream_trace: StreamTrace,
    stream_ingest_metrics: StreamIngestMetrics,
    ai_stream_events: AiStreamEvents,
    ai_stream_status: AiStreamStatus,
    discovery_results: DiscoveryResults,
    create_new_payment: CreateNewPayment,
    network_capabilities: NetworkCapabilities,
    create_signed_ticket: CreateSignedTicket,
    forwarded_event: ForwardedEvent,
});

typed_handler!(audio, wrapped AudioEnvelope.event_id {
    audio_chunk_received: AudioChunkReceived,
    transcription_completed: TranscriptionCompleted,
    translation_requested: TranslationRequested,
    translation_completed: TranslationCompleted,
    processing_failed: ProcessingFailed,
    config_snapshot: ConfigSnapshot,
    config_drift_detected: ConfigDriftDetected,
    config_rollback_requested: ConfigRollbackRequested,
    bot_requested: BotRequested,
    bot_stop_requested: BotStopRequested,
    bot_status_update: BotStatusUpdate,
    service_health_report: ServiceHealthReport,
    anomaly_detected: AnomalyDetected,
    usage_metrics: UsageMetrics,
});

typed_handler!(
    dam,
    flat {
        capture_alive: CaptureAlive,
        capture_device_list: CaptureDeviceList,
        capture_recording_started: CaptureRecordingStarted,
        capture_recording_stopped: CaptureRecordingStopped,
        capture_error: CaptureError,
        video_ingest_job_created: VideoIngestJobCreated,
        video_ingest_job_completed: VideoIngestJobCompleted,
        video_error: VideoError,
        video_ready: VideoReady,
        webapp_alive: WebappAlive,
        webapp_user_action: WebappUserAction,
        webapp_error: WebappError,
        tenant_request: TenantRequest,
        tenant_access_denied: TenantAccessDenied,
        tenant_resource_changed: TenantResourceChanged,
    }
);

typed_handler!(
    agents,
    flat {
        ingest_document_processed: IngestDocumentProcessed,
        ingest_document_failed: IngestDocumentFailed,
        orchestrator_step_started: OrchestratorStepStarted,
        orchestrator_step_completed: OrchestratorStepCompleted,
        orchestrator_step_failed: OrchestratorStepFailed,
        usage_metered_api_call: UsageMeteredApiCall,
        usage_metered_model_inference: UsageMeteredModelInference,
        realtime_push_chat_message: RealtimePushChatMessage,
        realtime_push_notification: RealtimePushNotification,
        alerts_service_down: AlertsServiceDown,
        alerts_high_latency: AlertsHighLatency,
        alerts_quota_exceeded: AlertsQuotaExceeded,
    }
);

typed_handler!(orchestrator, wrapped CloudEventEnvelope.id {
    run_started_data: RunStartedData,
    run_completed_data: RunCompletedData,
    run_failed_data: RunFailedData,
    run_canceled_data: RunCanceledData,
    run_stage_started_data: RunStageStartedData,
    run_stage_progress_data: RunStageProgressData,
    run_stage_completed_data: RunStageCompletedData,
    node_created_data: NodeCreatedData,
    node_executing_data: NodeExecutingData,
    node_completed_data: NodeCompletedData,
    paper_started_data: PaperStartedData,
    paper_generated_data: PaperGeneratedData,
    artifact_registered_data: ArtifactRegisteredData,
    artifact_failed_data: ArtifactFailedData,
    validation_auto_started_data: ValidationAutoStartedData,
    validation_auto_completed_data: ValidationAutoCompletedData,
    my_feature_started_data: MyFeatureStartedData,
    my_feature_completed_data: MyFeatureCompletedData,
    my_feature_progress_data: MyFeatureProgressData,
});

/// Runs `source` under the engine until `want` deliveries were finally settled (acked or
/// dead-lettered) or [`WAIT`] passed, then shuts it down; its stats and its log.
async fn consume<C, H, I, S>(
    source: S,
    handler: &H,
    policy: &Policy<I>,
    want: usize,
) -> Result<(Stats, Vec<Watched>), String>
where
    C: Contract,
    H: Handle<C>,
    I: IdempotencyStore,
    S: Source,
{
    let log: Log = Arc::default();
    let watched = Watch {
        inner: source,
        log: log.clone(),
    };
    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
    let settled = || {
        log.lock()
            .unwrap()
            .iter()
            .filter(|w| {
                matches!(
                    w.settled,
                    Some(Settled::Acked | Settled::DeadLettered { .. })
                )
            })
            .count()
    };
    let watcher = async {
        let deadline = Instant::now() + WAIT;
        while settled() < want && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.trigger();
    };
    let (stats, ()) = tokio::join!(
        transport::run::<C, _, _, _>(watched, handler, policy, &shutdown),
        watcher
    );
    let stats = stats.map_err(|e| format!("the {} consumer failed: {e}", C::SYSTEM))?;
    let log = log.lock().unwrap().clone();
    Ok((stats, log))
}

// ---------------------------------------------------------------------------------------------
// Judging

/// One line of the table.
#[derive(Clone, Debug, Default)]
struct Row {
    system: &'static str,
    direction: &'static str,
    sent: usize,
    handled: usize,
    skipped: usize,
    dead_lettered: usize,
    lost: usize,
    /// Messages whose outcome or wire details differ from what the contract promises.
    wrong: usize,
}

#[derive(Default)]
struct Report {
    rows: Vec<Row>,
    failures: Vec<String>,
    /// The layout of a Redis dead-letter entry (audio's stream, orchestrator's HTTP store), to
    /// compare the two.
    redis_dead_letter_fields: Option<(&'static str, BTreeSet<String>)>,
}

impl Report {
    fn fail(&mut self, failure: impl Into<String>) {
        self.failures.push(failure.into());
    }
}

/// A dead letter read back from its destination.
#[derive(Clone, Debug)]
struct Buried {
    key: Vec<u8>,
    reason: String,
    error: String,
}

fn buried(key: Vec<u8>, headers: &Headers) -> Buried {
    Buried {
        key,
        reason: headers.get_str(dl::REASON).unwrap_or_default().to_owned(),
        error: headers.get_str(dl::ERROR).unwrap_or_default().to_owned(),
    }
}

/// What the engine did with a delivery, in the words of the expectations.
fn outcome(watched: &Watched, handled: &BTreeMap<String, HandledBy>) -> (&'static str, String) {
    match &watched.settled {
        Some(Settled::Acked) if handled.contains_key(&watched.origin) => ("handled", String::new()),
        Some(Settled::Acked) => ("skipped", String::new()),
        Some(Settled::DeadLettered { reason, error }) => {
            ("dead-lettered", format!("{reason}: {error}"))
        }
        Some(Settled::Retried) => ("retried", String::new()),
        None => ("unsettled", String::new()),
    }
}

/// Checks every message Python sent over a broker against what the consumers did with it,
/// matched by `key` (the payload bytes, or Redis's entry id), and the dead letters against
/// their destination.
#[allow(clippy::too_many_arguments)]
fn judge_consumed(
    report: &mut Report,
    system: &'static str,
    sent: &[Sent],
    sent_key: impl Fn(&Sent) -> Vec<u8>,
    watched: &[Watched],
    watched_key: impl Fn(&Watched) -> Vec<u8>,
    calls: &[HandledBy],
    dead: &[Buried],
    stats: Stats,
    typed_name: impl Fn(&str) -> String,
) {
    let handled: BTreeMap<String, HandledBy> = calls
        .iter()
        .map(|c| (c.origin.clone(), c.clone()))
        .collect();
    let mut by_key: BTreeMap<Vec<u8>, Vec<&Watched>> = BTreeMap::new();
    for w in watched
        .iter()
        .filter(|w| w.settled != Some(Settled::Retried))
    {
        by_key.entry(watched_key(w)).or_default().push(w);
    }
    let mut dead_left: Vec<&Buried> = dead.iter().collect();
    let mut row = Row {
        system,
        direction: "Python → Rust",
        sent: sent.len(),
        ..Row::default()
    };
    for s in sent {
        let what = s.what(system);
        let Some(w) = by_key
            .get_mut(&sent_key(s))
            .and_then(|ws| (!ws.is_empty()).then(|| ws.remove(0)))
        else {
            row.lost += 1;
            row.wrong += 1;
            report.fail(format!(
                "{what}: lost: never delivered to a consumer (expected {})",
                s.expect
            ));
            continue;
        };
        let (got, detail) = outcome(w, &handled);
        let mut problems = Vec::new();
        match got {
            "handled" => {
                row.handled += 1;
                let call = &handled[&w.origin];
                let want = typed_name(&s.event);
                if call.name != want {
                    problems.push(format!(
                        "handled by the typed handler of `{}`, not `{want}`",
                        call.name
                    ));
                }
                if call.traceparent != s.traceparent {
                    problems.push(format!(
                        "the handler's traceparent is {:?}, sent {:?}",
                        call.traceparent, s.traceparent
                    ));
                }
            }
            "skipped" => row.skipped += 1,
            "dead-lettered" => {
                let (reason, error) = match &w.settled {
                    Some(Settled::DeadLettered { reason, error }) => (reason, error),
                    _ => (&String::new(), &String::new()),
                };
                match dead_left
                    .iter()
                    .position(|d| d.key == watched_key(w) && &d.reason == reason)
                {
                    Some(i) => {
                        row.dead_lettered += 1;
                        let d = dead_left.remove(i);
                        if &d.error != error {
                            problems.push(format!(
                                "the stored dead letter's error {:?} is not the engine's {error:?}",
                                d.error
                            ));
                        }
                    }
                    None => {
                        row.lost += 1;
                        problems.push(format!(
                            "dead-lettered ({reason}) but no dead letter is in the destination"
                        ));
                    }
                }
                if let Some(want) = &s.reason {
                    if s.expect == "dead-lettered" && reason != want {
                        problems.push(format!("dead-letter reason `{reason}`, expected `{want}`"));
                    }
                }
                if s.expect == "dead-lettered" {
                    for part in &s.error_contains {
                        if !error.contains(part.as_str()) {
                            problems.push(format!(
                                "the dead-letter error does not name `{part}`: {error}"
                            ));
                        }
                    }
                }
            }
            _ => row.lost += 1,
        }
        if got != s.expect {
            problems.insert(0, format!("expected {}, got {got} {detail}", s.expect));
        }
        if !problems.is_empty() {
            row.wrong += 1;
            report.fail(format!("{what}: {}", problems.join("; ")));
        }
    }
    for (key, left) in by_key {
        if !left.is_empty() {
            let key: String = String::from_utf8_lossy(&key).chars().take(300).collect();
            report.fail(format!(
                "{system} Python→Rust: {} deliveries of a message sent fewer times, or never: {key}",
                left.len(),
            ));
        }
    }
    let totals = (
        row.handled as u64,
        row.skipped as u64,
        watched
            .iter()
            .filter(|w| matches!(w.settled, Some(Settled::DeadLettered { .. })))
            .count() as u64,
    );
    if (stats.handled, stats.skipped, stats.dead_lettered) != totals || stats.retried != 0 {
        report.fail(format!(
            "{system} Python→Rust: the engine's stats {stats:?} are not the settled deliveries \
             (handled, skipped, dead-lettered) = {totals:?} with no retry"
        ));
    }
    report.rows.push(row);
}

/// One message the Rust producer published, as the Python reader identifies it.
#[derive(Clone, Debug)]
struct Published {
    key: String,
    event: String,
    channel: String,
    traceparent: String,
    extra: Value,
}

impl Published {
    fn json(&self) -> Value {
        let mut v = json!({
            "id": self.key,
            "event": self.event,
            "channel": self.channel,
            "traceparent": self.traceparent,
        });
        if let (Some(v), Some(extra)) = (v.as_object_mut(), self.extra.as_object()) {
            v.extend(extra.clone());
        }
        v
    }
}

/// Checks what the Python reader found against what Rust published.
fn judge_read(report: &mut Report, system: &'static str, published: &[Published], answer: &Value) {
    let mut row = Row {
        system,
        direction: "Rust → Python",
        sent: published.len(),
        ..Row::default()
    };
    let empty = Vec::new();
    let received = answer["messages"].as_array().unwrap_or(&empty);
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for r in received {
        let key = r["key"].as_str().unwrap_or_default().to_owned();
        *seen.entry(key.clone()).or_default() += 1;
        let problems: Vec<String> = r["problems"]
            .as_array()
            .unwrap_or(&empty)
            .iter()
            .map(|p| p.as_str().unwrap_or_default().to_owned())
            .collect();
        let known = published.iter().find(|p| p.key == key);
        let event = r["event"].as_str().unwrap_or("?");
        if !problems.is_empty() || known.is_none() {
            row.wrong += 1;
            // The reader prefixes timestamp shape problems with `time:`.
            let trap = if problems.iter().any(|p| p.starts_with("time:")) {
                " [issue 10 trap 5]"
            } else {
                ""
            };
            report.fail(format!(
                "{system} Rust→Python `{event}` {key}{trap}: {}",
                if problems.is_empty() {
                    "read but never published".to_owned()
                } else {
                    problems.join("; ")
                }
            ));
        } else {
            row.handled += 1;
        }
    }
    for p in published {
        match seen.get(&p.key) {
            None => {
                row.lost += 1;
                row.wrong += 1;
                report.fail(format!(
                    "{system} Rust→Python `{}` {}: lost: Python never read it",
                    p.event, p.key
                ));
            }
            Some(n) if *n > 1 => report.fail(format!(
                "{system} Rust→Python `{}` {}: read {n} times",
                p.event, p.key
            )),
            Some(_) => {}
        }
    }
    for note in answer["notes"].as_array().unwrap_or(&empty) {
        report.fail(format!("{system} Rust→Python: {note}"));
    }
    report.rows.push(row);
}

/// Records a setup failure (a broker down, Python failing) as one failure of the system.
fn settle_run(report: &mut Report, system: &str, result: Result<(), String>) {
    if let Err(e) = result {
        report.fail(format!("{system}: could not run: {e}"));
    }
}

/// Whether NATS/AMQP pattern `pattern` matches `name` (`*` one token; `>` or `#` the rest).
fn pattern_matches(pattern: &str, name: &str) -> bool {
    let mut p = pattern.split('.');
    let mut n = name.split('.');
    loop {
        match (p.next(), n.next()) {
            (Some(">") | Some("#"), _) => return true,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// The fields of a Redis stream's entries: (entry id, (name, value) in order).
async fn redis_entries(
    raw: &mut redis::aio::MultiplexedConnection,
    key: &str,
) -> Result<Vec<(String, Vec<(String, Vec<u8>)>)>, String> {
    let entries: Vec<(String, Vec<Vec<u8>>)> = redis::cmd("XRANGE")
        .arg(key)
        .arg("-")
        .arg("+")
        .query_async(raw)
        .await
        .map_err(|e| format!("XRANGE {key}: {e}"))?;
    Ok(entries
        .into_iter()
        .map(|(id, fields)| {
            let fields = fields
                .chunks_exact(2)
                .map(|p| (String::from_utf8_lossy(&p[0]).into_owned(), p[1].clone()))
                .collect();
            (id, fields)
        })
        .collect())
}

async fn redis_raw() -> Result<redis::aio::MultiplexedConnection, String> {
    let client = redis::Client::open(REDIS_URL).map_err(|e| e.to_string())?;
    tokio::time::timeout(
        Duration::from_secs(5),
        client.get_multiplexed_async_connection(),
    )
    .await
    .map_err(|_| {
        format!("Redis at {REDIS_URL} did not answer; start it with `bash .ci/services.sh`")
    })?
    .map_err(|e| format!("Redis at {REDIS_URL}: {e}"))
}

async fn redis_delete_namespace(namespace: &str) {
    let Ok(mut raw) = redis_raw().await else {
        return;
    };
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{namespace}*"))
        .query_async(&mut raw)
        .await
        .unwrap_or_default();
    if !keys.is_empty() {
        let _: Result<(), _> = redis::cmd("DEL").arg(keys).query_async(&mut raw).await;
    }
}

/// The layout of the first entry of a Redis stream: its field names, every prefixed header
/// field (`h:traceparent`) counted as its prefix (`h:*`).
async fn redis_layout(key: &str) -> Result<Option<BTreeSet<String>>, String> {
    let mut raw = redis_raw().await?;
    let entries = redis_entries(&mut raw, key).await?;
    Ok(entries.first().map(|(_, fields)| {
        fields
            .iter()
            .map(|(n, _)| match n.split_once(':') {
                Some((prefix, _)) => format!("{prefix}:*"),
                None => n.clone(),
            })
            .collect()
    }))
}

/// The idempotency store of this run's consumers: Redis, under the run's namespace.
async fn idempotency(namespace: &str) -> Result<RedisIdempotency, String> {
    let options = RedisConfig::new(REDIS_URL).with_namespace(namespace);
    RedisIdempotency::connect(&options, Duration::from_secs(600))
        .await
        .map_err(|e| e.to_string())
}

/// Publishes `examples[0]` of `E` with its own trace (unless `meta` has one); what a reader
/// identifies it by.
async fn publish_example<C, E, S>(
    publisher: &Publisher<C, S>,
    meta: Meta,
) -> Result<Published, String>
where
    C: Publishes<E>,
    E: Event,
    S: Sink,
{
    let traceparent = meta.traceparent.clone().unwrap_or_else(new_trace);
    let meta = Meta {
        traceparent: Some(traceparent.clone()),
        ..meta
    };
    let key = publisher
        .publish_with(E::examples().expect("examples decode").remove(0), &meta)
        .await
        .map_err(|e| format!("publishing {}: {e}", E::NAME))?;
    Ok(Published {
        key,
        event: E::NAME.into(),
        channel: E::info().channel.address().into(),
        traceparent,
        extra: Value::Null,
    })
}

/// Publishes `examples[0]` of each listed event type of `$system` (`$meta` is evaluated for
/// each).
macro_rules! publish_each {
    ($publisher:expr, $meta:expr, $system:ident: $($ty:ident),* $(,)?) => {{
        let mut published = Vec::new();
        $(published.push(
            publish_example::<$system::System, $system::$ty, _>($publisher, $meta).await?,
        );)*
        published
    }};
}

/// Fails the run unless one message of each event of the catalog was published.
fn whole_catalog(report: &mut Report, system: &str, published: &[Published], catalog: usize) {
    if published.len() != catalog {
        report.fail(format!(
            "{system}: the suite publishes {} events, the catalog has {catalog}",
            published.len()
        ));
    }
}

fn published_json(published: &[Published]) -> Vec<Value> {
    published.iter().map(Published::json).collect()
}

/// Adds up the stats of several consumers.
fn add(total: &mut Stats, more: Stats) {
    total.handled += more.handled;
    total.skipped += more.skipped;
    total.retried += more.retried;
    total.dead_lettered += more.dead_lettered;
}

fn dead_lettered(log: &[Watched]) -> usize {
    log.iter()
        .filter(|w| matches!(w.settled, Some(Settled::DeadLettered { .. })))
        .count()
}

// ---------------------------------------------------------------------------------------------
// livepeer: Kafka

fn kafka_config() -> KafkaConfig {
    // Short group timings: tansu makes a joining member wait about half the session timeout.
    KafkaConfig::new(KAFKA_BROKERS)
        .set("session.timeout.ms", "2000")
        .set("heartbeat.interval.ms", "300")
        .with_partitions(3)
}

/// Every record of `topic` from the beginning, with a consumer that joins no group.
async fn kafka_read_topic(topic: &str, want: usize) -> Result<Vec<(Vec<u8>, Headers)>, String> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::{Headers as _, Message as _};
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", KAFKA_BROKERS)
            .set("group.id", unique("interop-reader-"))
            .set("enable.auto.commit", "false")
            .create()
            .map_err(|e| format!("Kafka reader: {e}"))?;
        let metadata = consumer
            .fetch_metadata(Some(&topic), Duration::from_secs(10))
            .map_err(|e| format!("metadata of {topic}: {e}"))?;
        let mut assignment = rdkafka::TopicPartitionList::new();
        for t in metadata.topics() {
            for p in t.partitions() {
                assignment
                    .add_partition_offset(&topic, p.id(), rdkafka::Offset::Beginning)
                    .map_err(|e| e.to_string())?;
            }
        }
        consumer.assign(&assignment).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        let deadline = Instant::now() + WAIT;
        while out.len() < want && Instant::now() < deadline {
            if let Some(message) = consumer.poll(Duration::from_millis(200)) {
                let message = message.map_err(|e| format!("reading {topic}: {e}"))?;
                let mut headers = Headers::new();
                if let Some(h) = message.headers() {
                    for header in h.iter() {
                        headers.append(header.key, header.value.unwrap_or_default().to_vec());
                    }
                }
                out.push((message.payload().unwrap_or_default().to_vec(), headers));
            }
        }
        Ok(out)
    })
    .await
    .map_err(|e| format!("the Kafka reader panicked: {e}"))?
}

async fn kafka_delete_topics(topics: &[String]) {
    use rdkafka::admin::{AdminClient, AdminOptions};
    use rdkafka::client::DefaultClientContext;
    let Ok(admin) = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", KAFKA_BROKERS)
        .create::<AdminClient<DefaultClientContext>>()
    else {
        return;
    };
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let deleting = admin.delete_topics(&names, &options);
    let _ = tokio::time::timeout(Duration::from_secs(15), deleting).await;
}

async fn livepeer_suite(py: Python, ns: String) -> Report {
    let mut report = Report::default();
    let group = livepeer::CONSUMER_GROUPS
        .iter()
        .find(|g| g.name == "analytics")
        .expect("the manifest's analytics group");
    let p2r_topic = format!("{ns}-p2r-{}", group.binds[0]);
    let r2p_topic = format!("{ns}-r2p-{}", group.binds[0]);
    let kafka_group = format!("{ns}-{}", group.name);
    let redis_ns = format!("{ns}:");
    let result = async {
        let config = kafka_config();
        config
            .ensure_topics(&[&p2r_topic, &r2p_topic])
            .await
            .map_err(|e| e.to_string())?;

        // Python → Rust.
        let config_json = json!({"brokers": KAFKA_BROKERS, "topic": p2r_topic});
        let sent = sent_messages(&py.run("livepeer", "publish", &config_json).await?)?;
        let source = KafkaSource::connect(&config, &kafka_group, &[&p2r_topic])
            .await
            .map_err(|e| e.to_string())?;
        let typed = Typed::default();
        let policy = Policy::new(group.name)
            .with_retry(retry())
            .with_idempotency(idempotency(&redis_ns).await?);
        let handler = livepeer::Dispatch(typed.clone());
        let (stats, log) =
            consume::<livepeer::System, _, _, _>(source, &handler, &policy, sent.len()).await?;
        let dead: Vec<Buried> =
            kafka_read_topic(&dead_letter_topic(&p2r_topic), dead_lettered(&log))
                .await?
                .into_iter()
                .map(|(payload, headers)| buried(payload, &headers))
                .collect();
        let known: BTreeSet<&str> = livepeer::EVENTS.iter().map(|e| e.name).collect();
        // An event type the catalog does not list is relayed: its handler is the fallback's.
        let typed_name = |event: &str| if known.contains(event) { event } else { "*" }.to_owned();
        let payload = |w: &Watched| w.payload.clone();
        let calls = typed.calls();
        judge_consumed(
            &mut report,
            "livepeer",
            &sent,
            Sent::bytes,
            &log,
            payload,
            &calls,
            &dead,
            stats,
            typed_name,
        );

        // Rust → Python.
        let sink = KafkaSink::connect(&config)
            .await
            .map_err(|e| e.to_string())?
            .with_topic(&r2p_topic);
        let gateway = Meta {
            source: Some("gateway-rust.interop.test:8935".into()),
            ..Meta::default()
        };
        let publisher = Publisher::<livepeer::System, _>::new(sink, gateway);
        let mut published = publish_each!(&publisher, Meta::default(), livepeer:
            StreamTrace,
            StreamIngestMetrics,
            AiStreamEvents,
            AiStreamStatus,
            DiscoveryResults,
            CreateNewPayment,
            NetworkCapabilities,
            CreateSignedTicket,
        );
        // The fallback event goes out under a relayed type the catalog does not list.
        let relayed = Meta {
            event_type: Some("stream_heartbeat".into()),
            ..Meta::default()
        };
        let mut forwarded =
            publish_example::<livepeer::System, livepeer::ForwardedEvent, _>(&publisher, relayed)
                .await?;
        forwarded.event = "stream_heartbeat".into();
        published.push(forwarded);
        whole_catalog(&mut report, "livepeer", &published, livepeer::EVENTS.len());
        let config_json = json!({
            "brokers": KAFKA_BROKERS,
            "topic": r2p_topic,
            "published": published_json(&published),
        });
        let answer = py.run("livepeer", "read", &config_json).await?;
        judge_read(&mut report, "livepeer", &published, &answer);
        Ok(())
    }
    .await;
    settle_run(&mut report, "livepeer", result);
    let topics = [
        retry_topic(&p2r_topic, &kafka_group),
        dead_letter_topic(&p2r_topic),
        p2r_topic,
        r2p_topic,
    ];
    kafka_delete_topics(&topics).await;
    redis_delete_namespace(&redis_ns).await;
    report
}

// ---------------------------------------------------------------------------------------------
// audio: Redis Streams

async fn audio_suite(py: Python, ns: String) -> Report {
    let mut report = Report::default();
    let base = format!("{ns}:");
    let p2r = RedisConfig::new(REDIS_URL).with_namespace(format!("{base}p2r:"));
    let r2p = RedisConfig::new(REDIS_URL).with_namespace(format!("{base}r2p:"));
    let result = async {
        let mut raw = redis_raw().await?;
        // Python → Rust: two of the manifest's groups cover every stream.
        let config_json = json!({"url": REDIS_URL, "namespace": p2r.namespace});
        let sent = sent_messages(&py.run("audio", "publish", &config_json).await?)?;
        let store = idempotency(&p2r.namespace).await?;
        let typed = Typed::default();
        let mut stats = Stats::default();
        let mut log = Vec::new();
        let mut streams = BTreeSet::new();
        for group in ["audio-pipeline", "orchestration-api"] {
            let config = p2r
                .clone()
                .with_consumer("interop")
                .with_block(Duration::from_millis(100));
            let source = RedisSource::for_group::<audio::System>(&config, group)
                .await
                .map_err(|e| e.to_string())?;
            streams.extend(source.streams().iter().cloned());
            let want = sent
                .iter()
                .filter(|s| source.streams().contains(&s.channel))
                .count();
            let policy = Policy::new(group)
                .with_retry(retry())
                .with_idempotency(store.clone());
            let handler = audio::Dispatch(typed.clone());
            let (s, l) = consume::<audio::System, _, _, _>(source, &handler, &policy, want).await?;
            add(&mut stats, s);
            log.extend(l);
        }
        let mut dead = Vec::new();
        for stream in &streams {
            let key = p2r.dead_letter_key(stream);
            for (_, fields) in redis_entries(&mut raw, &key).await? {
                let mut headers = Headers::new();
                for (name, value) in &fields {
                    if let Some(h) = name.strip_prefix("h:") {
                        headers.append(h, value.clone());
                    }
                }
                let origin = headers.get_str(dl::ORIGIN).unwrap_or_default();
                dead.push(buried(origin.as_bytes().to_vec(), &headers));
            }
            if report.redis_dead_letter_fields.is_none() {
                if let Some(fields) = redis_layout(&key).await? {
                    let what = "audio's Redis Streams dead letters";
                    report.redis_dead_letter_fields = Some((what, fields));
                }
            }
        }
        // Entry ids are per stream: an entry is its origin, `redis:{stream key}/{entry id}`.
        let sent_entry = |s: &Sent| {
            let entry = s.entry_id.as_deref().unwrap_or_default();
            format!("redis:{}/{entry}", p2r.stream_key(&s.channel)).into_bytes()
        };
        let watched_entry = |w: &Watched| w.origin.clone().into_bytes();
        let calls = typed.calls();
        judge_consumed(
            &mut report,
            "audio",
            &sent,
            sent_entry,
            &log,
            watched_entry,
            &calls,
            &dead,
            stats,
            str::to_owned,
        );

        // Rust → Python.
        let sink = RedisSink::connect(&r2p).await.map_err(|e| e.to_string())?;
        let defaults = Meta {
            source: Some("rust-interop".into()),
            ..Meta::default()
        };
        let publisher = Publisher::<audio::System, _>::new(sink, defaults);
        let published = publish_each!(&publisher, Meta::default(), audio:
            AudioChunkReceived,
            TranscriptionCompleted,
            TranslationRequested,
            TranslationCompleted,
            ProcessingFailed,
            ConfigSnapshot,
            ConfigDriftDetected,
            ConfigRollbackRequested,
            BotRequested,
            BotStopRequested,
            BotStatusUpdate,
            ServiceHealthReport,
            AnomalyDetected,
            UsageMetrics,
        );
        whole_catalog(&mut report, "audio", &published, audio::EVENTS.len());
        let config_json = json!({
            "url": REDIS_URL,
            "namespace": r2p.namespace,
            "published": published_json(&published),
        });
        let answer = py.run("audio", "read", &config_json).await?;
        judge_read(&mut report, "audio", &published, &answer);
        Ok(())
    }
    .await;
    settle_run(&mut report, "audio", result);
    redis_delete_namespace(&base).await;
    report
}

// ---------------------------------------------------------------------------------------------
// dam: RabbitMQ

fn amqp_config(exchange: &str) -> AmqpConfig {
    let mut config = AmqpConfig::new(AMQP_URL).with_exchange(exchange);
    config.connect_timeout = Duration::from_secs(5);
    config
}

async fn amqp_broker(exchange: &str) -> Result<AmqpBroker, String> {
    AmqpBroker::connect(&amqp_config(exchange))
        .await
        .map_err(|e| format!("RabbitMQ (start it with `bash .ci/services.sh`): {e}"))
}

/// The queue the Python reader takes the Rust producer's messages from.
const PYTHON_READER: ConsumerGroup = ConsumerGroup {
    name: "interop-python",
    binds: &["#"],
    description: "the Python reader of tests/interop",
};

async fn dam_suite(py: Python, ns: String) -> Report {
    let mut report = Report::default();
    let group = *dam::CONSUMER_GROUPS
        .iter()
        .find(|g| g.name == "observability")
        .expect("the manifest's observability group");
    let p2r_exchange = format!("{ns}-p2r-events");
    let r2p_exchange = format!("{ns}-r2p-events");
    let redis_ns = format!("{ns}:");
    let mut declared: Vec<(AmqpBroker, ConsumerGroup)> = Vec::new();
    let result = async {
        // Python → Rust: `observability` binds `#`, so it reads every event.
        let p2r = amqp_broker(&p2r_exchange).await?;
        p2r.declare_groups(&[group])
            .await
            .map_err(|e| e.to_string())?;
        declared.push((p2r, group));
        let p2r = &declared[0].0;
        let config_json = json!({"url": AMQP_URL, "exchange": p2r_exchange});
        let sent = sent_messages(&py.run("dam", "publish", &config_json).await?)?;
        let typed = Typed::default();
        let policy = Policy::new(group.name)
            .with_retry(retry())
            .with_idempotency(idempotency(&redis_ns).await?);
        let source = p2r.source(group.name).await.map_err(|e| e.to_string())?;
        let handler = dam::Dispatch(typed.clone());
        let (stats, log) =
            consume::<dam::System, _, _, _>(source, &handler, &policy, sent.len()).await?;
        let mut dead = Vec::new();
        let dead_queue = p2r.config().dead_letter_queue(group.name);
        while let Some(d) = p2r.take(&dead_queue).await.map_err(|e| e.to_string())? {
            dead.push(buried(d.payload.clone(), &d.headers));
        }
        let payload = |w: &Watched| w.payload.clone();
        let calls = typed.calls();
        judge_consumed(
            &mut report,
            "dam",
            &sent,
            Sent::bytes,
            &log,
            payload,
            &calls,
            &dead,
            stats,
            str::to_owned,
        );

        // Rust → Python, through a queue bound with `#` for the Python reader.
        let r2p = amqp_broker(&r2p_exchange).await?;
        r2p.declare_groups(&[PYTHON_READER])
            .await
            .map_err(|e| e.to_string())?;
        let queue = r2p.config().group_queue(PYTHON_READER.name);
        let sink = r2p.sink().await.map_err(|e| e.to_string())?;
        declared.push((r2p, PYTHON_READER));
        let publisher = Publisher::<dam::System, _>::new(sink, Meta::default());
        let published = publish_each!(&publisher, Meta::default(), dam:
            CaptureAlive,
            CaptureDeviceList,
            CaptureRecordingStarted,
            CaptureRecordingStopped,
            CaptureError,
            VideoIngestJobCreated,
            VideoIngestJobCompleted,
            VideoError,
            VideoReady,
            WebappAlive,
            WebappUserAction,
            WebappError,
            TenantRequest,
            TenantAccessDenied,
            TenantResourceChanged,
        );
        whole_catalog(&mut report, "dam", &published, dam::EVENTS.len());
        let config_json = json!({
            "url": AMQP_URL,
            "exchange": r2p_exchange,
            "queue": queue,
            "published": published_json(&published),
        });
        let answer = py.run("dam", "read", &config_json).await?;
        judge_read(&mut report, "dam", &published, &answer);
        Ok(())
    }
    .await;
    settle_run(&mut report, "dam", result);
    for (broker, group) in declared {
        if let Err(e) = broker.delete_groups(&[group]).await {
            let exchange = &broker.config().exchange;
            report.fail(format!("dam: cleaning up {exchange}: {e}"));
        }
    }
    redis_delete_namespace(&redis_ns).await;
    report
}

// ---------------------------------------------------------------------------------------------
// agents: NATS JetStream

async fn nats(ns: &str) -> Result<NatsTransport, String> {
    let config = NatsConfig {
        ack_wait: Duration::from_secs(2),
        batch: 32,
        ..NatsConfig::namespaced(NATS_URL, ns)
    };
    NatsTransport::connect(&config).await.map_err(|e| {
        format!("NATS JetStream at {NATS_URL} (start it with `bash .ci/services.sh`): {e}")
    })
}

/// The manifest's groups the suite consumes `agents` with: together they bind every subject.
const AGENTS_GROUPS: [&str; 3] = [
    "analytics-service",
    "usage-metering",
    "notification-service",
];

fn agents_group(name: &str) -> &'static ConsumerGroup {
    agents::CONSUMER_GROUPS
        .iter()
        .find(|g| g.name == name)
        .expect("a group of the manifest")
}

async fn agents_suite(py: Python, ns: String) -> Report {
    let mut report = Report::default();
    let redis_ns = format!("{ns}:");
    let mut transports = Vec::new();
    let result = async {
        // Python → Rust.
        let p2r = nats(&format!("{ns}p")).await?;
        transports.push(p2r.clone());
        p2r.setup::<agents::System>(&retry())
            .await
            .map_err(|e| e.to_string())?;
        let config_json = json!({"url": NATS_URL, "subject_prefix": p2r.config().subject_prefix});
        let sent = sent_messages(&py.run("agents", "publish", &config_json).await?)?;
        let unread: Vec<&str> = sent
            .iter()
            .filter(|s| {
                !AGENTS_GROUPS.iter().any(|g| {
                    let binds = agents_group(g).binds;
                    binds.iter().any(|b| pattern_matches(b, &s.channel))
                })
            })
            .map(|s| s.label.as_str())
            .collect();
        if !unread.is_empty() {
            report.fail(format!(
                "agents: no consumer group of the suite reads {unread:?}"
            ));
        }
        let store = idempotency(&redis_ns).await?;
        let typed = Typed::default();
        let mut stats = Stats::default();
        let mut log = Vec::new();
        let mut dead = Vec::new();
        for name in AGENTS_GROUPS {
            let binds = agents_group(name).binds;
            let want = sent
                .iter()
                .filter(|s| binds.iter().any(|b| pattern_matches(b, &s.channel)))
                .count();
            let source = p2r
                .source::<agents::System>(name, &retry())
                .await
                .map_err(|e| e.to_string())?;
            let policy = Policy::new(name)
                .with_retry(retry())
                .with_idempotency(store.clone());
            let handler = agents::Dispatch(typed.clone());
            let (s, l) =
                consume::<agents::System, _, _, _>(source, &handler, &policy, want).await?;
            add(&mut stats, s);
            log.extend(l);
            for d in p2r.dead_letters(name).await.map_err(|e| e.to_string())? {
                dead.push(buried(d.payload.clone(), &d.headers));
            }
        }
        let payload = |w: &Watched| w.payload.clone();
        let calls = typed.calls();
        judge_consumed(
            &mut report,
            "agents",
            &sent,
            Sent::bytes,
            &log,
            payload,
            &calls,
            &dead,
            stats,
            str::to_owned,
        );

        // Rust → Python.
        let r2p = nats(&format!("{ns}r")).await?;
        transports.push(r2p.clone());
        r2p.setup::<agents::System>(&retry())
            .await
            .map_err(|e| e.to_string())?;
        let publisher = Publisher::<agents::System, _>::new(r2p.sink(), Meta::default());
        let mut published = publish_each!(&publisher, Meta::default(), agents:
            IngestDocumentProcessed,
            IngestDocumentFailed,
            OrchestratorStepStarted,
            OrchestratorStepCompleted,
            OrchestratorStepFailed,
            UsageMeteredApiCall,
            UsageMeteredModelInference,
            RealtimePushChatMessage,
            RealtimePushNotification,
            AlertsServiceDown,
            AlertsHighLatency,
            AlertsQuotaExceeded,
        );
        whole_catalog(&mut report, "agents", &published, agents::EVENTS.len());
        // Each catalog stream captures `<first token>.>` of its subjects.
        let mut streams: BTreeMap<&'static str, String> = BTreeMap::new();
        for p in &mut published {
            let info = agents::EVENTS.iter().find(|e| e.name == p.event);
            let Some(Channel::Nats { stream, subject }) = info.map(|e| e.channel) else {
                return Err(format!("{} is not on NATS", p.event));
            };
            let first = subject.split('.').next().unwrap_or(subject);
            streams.insert(stream, r2p.subject(&format!("{first}.>")));
            p.extra = json!({"stream": stream});
        }
        let streams: Vec<Value> = streams
            .iter()
            .map(|(stream, subjects)| {
                json!({"catalog": stream, "name": r2p.stream_name(stream), "subjects": subjects})
            })
            .collect();
        let config_json = json!({
            "url": NATS_URL,
            "subject_prefix": r2p.config().subject_prefix,
            "streams": streams,
            "published": published_json(&published),
        });
        let answer = py.run("agents", "read", &config_json).await?;
        judge_read(&mut report, "agents", &published, &answer);
        Ok(())
    }
    .await;
    settle_run(&mut report, "agents", result);
    for t in transports {
        if let Err(e) = t.delete_streams::<agents::System>().await {
            report.fail(format!("agents: deleting streams: {e}"));
        }
    }
    redis_delete_namespace(&redis_ns).await;
    report
}

// ---------------------------------------------------------------------------------------------
// orchestrator: CloudEvents over HTTP

async fn orchestrator_suite(py: Python, ns: String) -> Report {
    let mut report = Report::default();
    let store = match RedisStore::open(REDIS_URL) {
        Ok(store) => store
            .with_prefix(format!("{ns}-http"))
            .with_ttl(Duration::from_secs(600)),
        Err(e) => {
            report.fail(format!("orchestrator: could not run: {e}"));
            return report;
        }
    };
    let result = async {
        // Python → Rust, into the ingest server. The document: "Handle unknown events
        // gracefully: Log warning, don't throw".
        let typed = Typed::default();
        let policy = Policy::new("orchestrator-ingest")
            .with_retry(retry())
            .with_unknown(UnknownPolicy::Skip);
        let handler = orchestrator::Dispatch(typed.clone());
        let server = IngestServer::new(handler, store.clone(), policy);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        let shutdown = Shutdown::new();
        let task = {
            let server = server.clone();
            let shutdown = shutdown.clone();
            tokio::spawn(async move { server.serve(listener, shutdown).await })
        };
        let path = server.path().to_owned();
        let config_json = json!({"url": format!("http://{address}{path}"), "path": path});
        let answer = py.run("orchestrator", "publish", &config_json).await;
        shutdown.trigger();
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        let sent = sent_messages(&answer?)?;
        let dead = store.dead_letters().await.map_err(|e| e.to_string())?;
        judge_http(&mut report, &sent, &typed.calls(), &dead);
        if let Some(fields) = redis_layout(&store.dead_letter_stream()).await? {
            let what = "orchestrator's HTTP dead-letter store";
            report.redis_dead_letter_fields = Some((what, fields));
        }

        // Rust → Python: the Python endpoint takes every event in both content modes.
        let expect = 2 * orchestrator::EVENTS.len();
        let config_json = json!({"expect": expect, "wait_seconds": WAIT.as_secs()});
        let (mut cmd, out) = py.command("orchestrator", "serve", &config_json)?;
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("python orchestrator serve: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(PYTHON_TIMEOUT, lines.next_line())
            .await
            .map_err(|_| "the Python endpoint did not say its port".to_owned())?
            .map_err(|e| e.to_string())?
            .ok_or("the Python endpoint ended before saying its port")?;
        let port = serde_json::from_str::<Value>(&first)
            .ok()
            .and_then(|v| v["port"].as_u64())
            .ok_or_else(|| format!("not a port: {first}"))?;
        let mut published = Vec::new();
        for (mode, mode_name) in [
            (SendMode::Structured, "structured"),
            (SendMode::Binary, "binary"),
        ] {
            let client = HttpSink::new(format!("http://127.0.0.1:{port}"))
                .map_err(|e| e.to_string())?
                .with_mode(mode);
            let publisher = Publisher::<orchestrator::System, _>::new(client, Meta::default());
            let mut seq = 0;
            let mut meta = || {
                seq += 1;
                Meta {
                    source: Some("rust-interop/worker".into()),
                    subject: Some(format!("run/{}", uuid::Uuid::new_v4())),
                    seq: Some(seq),
                    ..Meta::default()
                }
            };
            let sent = publish_each!(&publisher, meta(), orchestrator:
                RunStartedData,
                RunCompletedData,
                RunFailedData,
                RunCanceledData,
                RunStageStartedData,
                RunStageProgressData,
                RunStageCompletedData,
                NodeCreatedData,
                NodeExecutingData,
                NodeCompletedData,
                PaperStartedData,
                PaperGeneratedData,
                ArtifactRegisteredData,
                ArtifactFailedData,
                ValidationAutoStartedData,
                ValidationAutoCompletedData,
                MyFeatureStartedData,
                MyFeatureCompletedData,
                MyFeatureProgressData,
            );
            whole_catalog(
                &mut report,
                "orchestrator",
                &sent,
                orchestrator::EVENTS.len(),
            );
            published.extend(sent.into_iter().map(|p| Published {
                key: format!("{mode_name}:{}", p.key),
                extra: json!({"mode": mode_name, "id": p.key}),
                ..p
            }));
        }
        // What was sent goes to the endpoint's stdin once it is all sent.
        let listing = json!({"published": published_json(&published)}).to_string();
        let mut stdin = child.stdin.take().ok_or("no stdin")?;
        stdin
            .write_all(listing.as_bytes())
            .await
            .map_err(|e| format!("writing to the Python endpoint: {e}"))?;
        drop(stdin);
        let output = tokio::time::timeout(PYTHON_TIMEOUT, child.wait_with_output())
            .await
            .map_err(|_| "the Python endpoint did not end".to_owned())?
            .map_err(|e| e.to_string())?;
        let answer = finish("orchestrator", "serve", output.status, &output.stderr, &out)?;
        judge_read(&mut report, "orchestrator", &published, &answer);
        Ok(())
    }
    .await;
    settle_run(&mut report, "orchestrator", result);
    if let Err(e) = store.clear().await {
        report.fail(format!("orchestrator: clearing the store: {e}"));
    }
    report
}

/// What the ingest endpoint answered each request and did with each event, against the
/// expectation: the status, the typed handler's call with its trace context, the dead letter
/// in the store with its reason and pointer.
fn judge_http(
    report: &mut Report,
    sent: &[Sent],
    calls: &[HandledBy],
    dead: &[event_contracts::runtime::transport::http::StoredDeadLetter],
) {
    let mut row = Row {
        system: "orchestrator",
        direction: "Python → Rust",
        sent: sent.len(),
        ..Row::default()
    };
    let mut calls: Vec<&HandledBy> = calls.iter().collect();
    let mut dead: Vec<_> = dead.iter().collect();
    for s in sent {
        let what = s.what("orchestrator");
        let mut problems = Vec::new();
        if s.status != s.want_status {
            problems.push(format!(
                "answered {:?}, expected {:?}: {}",
                s.status,
                s.want_status,
                s.answer.as_deref().unwrap_or_default()
            ));
        }
        let outcome = serde_json::from_str::<Value>(s.answer.as_deref().unwrap_or_default())
            .ok()
            .and_then(|a| a["outcome"].as_str().map(str::to_owned))
            .unwrap_or_default();
        let call = calls
            .iter()
            .position(|c| c.id.is_some() && c.id == s.id)
            .map(|i| calls.remove(i));
        let letter = dead
            .iter()
            .position(|d| d.payload == s.bytes())
            .map(|i| dead.remove(i));
        let got = match (call, letter) {
            (Some(call), None) => {
                row.handled += 1;
                if call.name != s.event {
                    problems.push(format!("handled by the typed handler of `{}`", call.name));
                }
                if call.traceparent != s.traceparent {
                    problems.push(format!(
                        "the handler's traceparent is {:?}, sent {:?}",
                        call.traceparent, s.traceparent
                    ));
                }
                "handled"
            }
            (None, Some(letter)) => {
                row.dead_lettered += 1;
                if let Some(want) = &s.reason {
                    if &letter.reason != want {
                        problems.push(format!(
                            "dead-letter reason `{}`, expected `{want}`",
                            letter.reason
                        ));
                    }
                }
                for part in &s.error_contains {
                    if !letter.error.contains(part.as_str()) {
                        problems.push(format!(
                            "the dead-letter error does not name `{part}`: {}",
                            letter.error
                        ));
                    }
                }
                "dead-lettered"
            }
            (None, None) if matches!(outcome.as_str(), "duplicate" | "accepted-unknown-type") => {
                row.skipped += 1;
                "skipped"
            }
            (None, None) => {
                row.lost += 1;
                "lost"
            }
            (Some(_), Some(_)) => {
                row.handled += 1;
                problems.push("handled and dead-lettered".into());
                "handled and dead-lettered"
            }
        };
        if got != s.expect {
            problems.insert(
                0,
                format!(
                    "expected {}, got {got} (answer {})",
                    s.expect,
                    s.answer.as_deref().unwrap_or_default()
                ),
            );
        }
        if !problems.is_empty() {
            row.wrong += 1;
            report.fail(format!("{what}: {}", problems.join("; ")));
        }
    }
    for c in calls {
        report.fail(format!(
            "orchestrator Python→Rust: `{}` {:?} handled more often than sent",
            c.name, c.id
        ));
    }
    for d in dead {
        report.fail(format!(
            "orchestrator Python→Rust: a dead letter matches no message sent: {} {}",
            d.reason,
            String::from_utf8_lossy(&d.payload)
        ));
    }
    report.rows.push(row);
}

// ---------------------------------------------------------------------------------------------

fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| system | direction | sent | handled | skipped | dead-lettered | lost | wrong |\n\
         |---|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.system, r.direction, r.sent, r.handled, r.skipped, r.dead_lettered, r.lost, r.wrong
        ));
    }
    out
}

/// `suite`'s report, or an empty one when the system is not wanted (a future does nothing
/// until awaited).
async fn only_if(wanted: bool, suite: impl std::future::Future<Output = Report>) -> Report {
    if wanted {
        suite.await
    } else {
        Report::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_clients_and_rust_bindings_interoperate_on_every_system() {
    let python = tokio::task::spawn_blocking(python_venv)
        .await
        .expect("pyvenv runs")
        .unwrap_or_else(|e| panic!("the Python venv for the interop suite: {e}"));
    let run = unique("interop-");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(&run);
    std::fs::create_dir_all(&dir).expect("a directory for this run's files");
    let py = Python { exe: python, dir };
    let only: Option<BTreeSet<String>> = std::env::var("INTEROP_SYSTEMS").ok().map(|v| {
        v.split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    });
    let wanted = |system: &str| only.as_ref().is_none_or(|o| o.contains(system));

    let (livepeer, audio, dam, agents, orchestrator) = tokio::join!(
        only_if(
            wanted("livepeer"),
            livepeer_suite(py.clone(), format!("{run}-lp"))
        ),
        only_if(
            wanted("audio"),
            audio_suite(py.clone(), format!("{run}-audio"))
        ),
        only_if(wanted("dam"), dam_suite(py.clone(), format!("{run}-dam"))),
        only_if(
            wanted("agents"),
            agents_suite(py.clone(), run.replace('-', ""))
        ),
        only_if(
            wanted("orchestrator"),
            orchestrator_suite(py.clone(), format!("{run}-orch"))
        ),
    );
    let reports = [livepeer, audio, dam, agents, orchestrator];
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    let mut layouts = Vec::new();
    for r in reports {
        rows.extend(r.rows);
        failures.extend(r.failures);
        layouts.extend(r.redis_dead_letter_fields);
    }
    if rows.is_empty() {
        failures.push(format!(
            "INTEROP_SYSTEMS={only:?} names none of the five systems"
        ));
    }
    // One dead-letter layout in Redis, whichever binding wrote it.
    if let [(a, fa), (b, fb)] = layouts.as_slice() {
        if fa != fb {
            failures.push(format!(
                "Redis dead letters [issue 10 trap 7]: {a} have the fields {fa:?}, {b} {fb:?}"
            ));
        }
    }
    let table = table(&rows);
    println!("\n{table}");
    let file = Path::new(env!("CARGO_TARGET_TMPDIR")).join("interop-table.md");
    let _ = std::fs::write(&file, format!("{table}\n{}\n", failures.join("\n")));
    if failures.is_empty() {
        // The exchanged files are kept only to debug a failure.
        let _ = std::fs::remove_dir_all(&py.dir);
    }
    assert!(
        failures.is_empty(),
        "{} expectation(s) failed (table in {}):\n{table}\n{}",
        failures.len(),
        file.display(),
        failures.join("\n")
    );
}

#[test]
fn subject_and_binding_patterns_match_as_the_brokers_do() {
    assert!(pattern_matches("ingest.>", "ingest.document.processed"));
    assert!(pattern_matches("#", "capture.alive"));
    assert!(pattern_matches("capture.*", "capture.alive"));
    assert!(!pattern_matches("capture.*", "capture.alive.extra"));
    assert!(!pattern_matches(
        "usage.metered.>",
        "ingest.document.failed"
    ));
}
