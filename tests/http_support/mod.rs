//! Shared by the HTTP transport tests: a recording typed handler for every orchestrator event,
//! a server on an ephemeral port, and raw requests.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use event_contracts::orchestrator::{self, CloudEventEnvelope};
use event_contracts::runtime::transport::http::{IngestServer, IngestStore, RedisStore};
use event_contracts::runtime::transport::{
    Context, HandlerError, HandlerResult, IdempotencyStore, NoIdempotency, Policy, RetryPolicy,
    Shutdown, TransportError, UnknownPolicy,
};

pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// A random suffix so reruns and parallel tests never share keys.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// A Redis store under a fresh prefix; fails loudly when Redis is not running.
pub async fn redis_store(test: &str) -> RedisStore {
    let store = RedisStore::open(REDIS_URL)
        .expect("redis URL parses")
        .with_prefix(unique(&format!("test-http-{test}")))
        .with_ttl(Duration::from_secs(600));
    tokio::time::timeout(Duration::from_secs(5), store.ping())
        .await
        .unwrap_or_else(|_| panic!("Redis at {REDIS_URL} did not answer PING within 5 s; start it with `bash .ci/services.sh`"))
        .unwrap_or_else(|e| panic!("Redis at {REDIS_URL} is not reachable ({e}); start it with `bash .ci/services.sh`"));
    store
}

/// One handler call.
#[derive(Clone, Debug, PartialEq)]
pub struct Seen {
    pub event_type: String,
    pub id: String,
    pub source: String,
    pub data: serde_json::Value,
    pub attempt: u32,
    pub traceparent: Option<String>,
}

/// Records every event it is given; can fail chosen ids a number of times, reject some, or
/// fail some forever.
#[derive(Clone, Default)]
pub struct Recorder {
    pub seen: Arc<Mutex<Vec<Seen>>>,
    pub calls: Arc<Mutex<Vec<(String, u32)>>>,
    pub fail_times: Arc<Mutex<HashMap<String, u32>>>,
    pub reject: Arc<Mutex<HashSet<String>>>,
    pub always_fail: Arc<Mutex<HashSet<String>>>,
}

impl Recorder {
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn seen_ids(&self) -> Vec<String> {
        self.seen().into_iter().map(|s| s.id).collect()
    }

    fn record(
        &self,
        event_type: &str,
        id: &str,
        source: &str,
        data: serde_json::Value,
        context: &Context,
    ) -> HandlerResult {
        self.calls
            .lock()
            .unwrap()
            .push((id.to_owned(), context.attempt));
        if self.reject.lock().unwrap().contains(id) {
            return Err(HandlerError::reject("this event can never be stored"));
        }
        if self.always_fail.lock().unwrap().contains(id) {
            return Err(HandlerError::retry("the database is down"));
        }
        if let Some(left) = self.fail_times.lock().unwrap().get_mut(id) {
            if *left > 0 {
                *left -= 1;
                return Err(HandlerError::retry("the database is not reachable yet"));
            }
        }
        self.seen.lock().unwrap().push(Seen {
            event_type: event_type.to_owned(),
            id: id.to_owned(),
            source: source.to_owned(),
            data,
            attempt: context.attempt,
            traceparent: context.traceparent.clone(),
        });
        Ok(())
    }
}

macro_rules! record_all {
    ($($method:ident: $ty:ident),* $(,)?) => {
        impl orchestrator::Handler for Recorder {
            $(
                async fn $method(
                    &self,
                    message: CloudEventEnvelope<orchestrator::$ty>,
                    context: &Context,
                ) -> HandlerResult {
                    let data = serde_json::to_value(&message.data).expect("typed data serializes");
                    self.record(&message.r#type, &message.id, &message.source, data, context)
                }
            )*
        }
    };
}

record_all!(
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
);

/// Calls `$m!` with every orchestrator event type.
#[macro_export]
macro_rules! each_event {
    ($m:ident) => {
        $m!(
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
            MyFeatureProgressData
        )
    };
}

pub fn fast_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        ..RetryPolicy::default()
    }
}

pub type Server<S, I = NoIdempotency> =
    IngestServer<orchestrator::System, orchestrator::Dispatch<Recorder>, S, I>;

/// A server on 127.0.0.1:<ephemeral> serving until `shutdown`.
pub struct Running<S, I = NoIdempotency> {
    pub base: String,
    pub server: Server<S, I>,
    pub recorder: Recorder,
    pub shutdown: Shutdown,
    pub task: tokio::task::JoinHandle<Result<(), TransportError>>,
}

pub async fn start<S: IngestStore>(
    store: S,
    max_attempts: u32,
    body_limit: Option<usize>,
) -> Running<S> {
    let policy = Policy::new("orchestrator-ingest")
        .with_retry(fast_retry(max_attempts))
        .with_unknown(UnknownPolicy::Skip);
    start_with_policy(store, policy, body_limit).await
}

/// [`start`] with a whole policy (an idempotency store, another group).
pub async fn start_with_policy<S: IngestStore, I: IdempotencyStore>(
    store: S,
    policy: Policy<I>,
    body_limit: Option<usize>,
) -> Running<S, I> {
    let recorder = Recorder::default();
    let mut server = IngestServer::new(orchestrator::Dispatch(recorder.clone()), store, policy);
    if let Some(limit) = body_limit {
        server = server.with_body_limit(limit);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind an ephemeral port on 127.0.0.1");
    let base = format!("http://{}", listener.local_addr().expect("local address"));
    let shutdown = Shutdown::new();
    let task = {
        let server = server.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move { server.serve(listener, shutdown).await })
    };
    Running {
        base,
        server,
        recorder,
        shutdown,
        task,
    }
}

impl<S, I> Running<S, I> {
    pub fn url(&self) -> String {
        format!("{}/api/ingest/event", self.base)
    }

    /// Graceful shutdown; fails if the server does not stop within 5 s.
    pub async fn stop(self) {
        self.shutdown.trigger();
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("the server stops within 5 s of shutdown")
            .expect("the server task does not panic")
            .expect("the server ends without error");
    }
}

/// One raw response.
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Raw {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("the answer is JSON ({e}): {}", self.body))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// The JSON pointers a problem+json answer lists.
    pub fn pointers(&self) -> Vec<String> {
        self.json()["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("problem has `errors`: {}", self.body))
            .iter()
            .map(|e| e["pointer"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

/// POSTs `body` once with the given headers.
pub async fn post_raw(url: &str, headers: &[(&str, &str)], body: impl Into<Vec<u8>>) -> Raw {
    let client = reqwest::Client::new();
    let mut request = client.post(url).body(body.into());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = tokio::time::timeout(Duration::from_secs(10), request.send())
        .await
        .unwrap_or_else(|_| panic!("{url} answers within 10 s"))
        .unwrap_or_else(|e| panic!("{url} answers: {e}"));
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.expect("answer body");
    Raw {
        status,
        headers,
        body,
    }
}
