//! CloudEvents over HTTP end to end: a real axum server on 127.0.0.1:<ephemeral port>, a real
//! reqwest client, typed `orchestrator::Handler`s, and Redis (127.0.0.1:6379) for the dedupe,
//! `seq` and dead-letter store. Runs the shared transport scenarios ([`HttpBackend`]: the
//! ingest server behind real requests of the `HttpSink`, dead letters read back from its
//! Redis store) and keeps here what is HTTP's own: status codes and problem+json, content
//! modes and batches, `seq`, dedupe by `source` + `id`, body and content-type limits,
//! graceful shutdown.

mod http_support;
#[path = "transport_scenarios/mod.rs"]
mod scenarios;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use event_contracts::orchestrator;
use event_contracts::runtime::transport::http::{
    prepare, DeadLetterStore, EventResult, HttpConfig, HttpError, HttpSink, IngestServer,
    IngestStore, MemoryStore, Outcome, RedisStore, SendMode, SeqClass, SeqStore,
};
use event_contracts::runtime::transport::redis::{RedisConfig, RedisIdempotency};
use event_contracts::runtime::transport::{
    dead_letter_headers as dl, ConsumerGroup, DeadLetter, Delivery, Headers, IdempotencyStore,
    Meta, Outgoing, Policy, Publisher, Publishes, RetryPolicy, Shutdown, Sink, Source, Stats,
    TransportError,
};
use event_contracts::Event;
use http_support::*;
use scenarios::{Backend, Letter, Origin, Refused, Role};

const TRACE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn meta(source: &str, seq: Option<u64>) -> Meta {
    Meta {
        source: Some(source.to_owned()),
        subject: Some(format!("run/{}", uuid::Uuid::new_v4())),
        traceparent: Some(TRACE.to_owned()),
        seq,
        ..Meta::default()
    }
}

fn client(base: &str) -> HttpSink {
    HttpSink::new(base)
        .expect("client builds")
        .with_retry(fast_retry(6))
}

/// (type, id, data) of what was sent, checked against what the handler saw.
fn check_seen(recorder: &Recorder, sent: &[(String, String, serde_json::Value)], how: &str) {
    let seen = recorder.seen();
    for (event_type, id, data) in sent {
        let matching: Vec<_> = seen.iter().filter(|s| &s.id == id).collect();
        assert_eq!(
            matching.len(),
            1,
            "{how}: `{event_type}` {id} handled once: {seen:#?}"
        );
        let s = matching[0];
        assert_eq!(&s.event_type, event_type, "{how}: type of {id}");
        assert_eq!(&s.data, data, "{how}: data of {event_type} round-trips");
        assert_eq!(s.attempt, 1, "{how}: first attempt");
        let trace = s
            .traceparent
            .as_deref()
            .unwrap_or_else(|| panic!("{how}: {event_type} carries a traceparent"));
        assert_eq!(
            &trace[..36],
            &TRACE[..36],
            "{how}: same trace id as sent: {trace}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The shared scenarios over HTTP.

/// What the scenarios published, waiting for the endpoint: HTTP has no broker holding messages
/// between publishing and consuming, so the scenarios' sink keeps them in order and
/// [`HttpBackend::consume`] sends them once the ingest server is up, typed ones with the real
/// `HttpSink` (its retries included), foreign ones as single raw requests.
#[derive(Clone, Default)]
struct Outbox {
    queue: Arc<Mutex<VecDeque<Queued>>>,
    /// Queued or in flight: not yet answered for good.
    unanswered: Arc<AtomicUsize>,
}

enum Queued {
    Typed(Outgoing),
    Raw {
        channel: String,
        payload: Vec<u8>,
        headers: Headers,
    },
}

impl Outbox {
    fn push(&self, queued: Queued) {
        self.unanswered.fetch_add(1, Ordering::SeqCst);
        self.queue.lock().unwrap().push_back(queued);
    }

    fn pop(&self) -> Option<Queued> {
        self.queue.lock().unwrap().pop_front()
    }
}

impl Sink for Outbox {
    const MESSAGING_SYSTEM: &'static str = "http";

    async fn send(&self, message: Outgoing) -> Result<(), TransportError> {
        self.push(Queued::Typed(message));
        Ok(())
    }
}

/// HTTP hands the consumer engine no source ([`HttpBackend::CONSUMES_IN_BATCHES`] is false,
/// [`HttpBackend::consume`] serves the endpoint instead): a type without values.
enum NoSource {}

impl Source for NoSource {
    type Token = ();
    async fn next(&mut self) -> Result<Option<(Delivery, ())>, TransportError> {
        match *self {}
    }
    async fn ack(&mut self, _: ()) -> Result<(), TransportError> {
        match *self {}
    }
    async fn retry(&mut self, _: (), _: &Delivery, _: Duration) -> Result<(), TransportError> {
        match *self {}
    }
    async fn dead_letter(
        &mut self,
        _: (),
        _: &Delivery,
        _: &DeadLetter,
    ) -> Result<(), TransportError> {
        match *self {}
    }
}

/// The orchestrator's ingest endpoint with a Redis store under a prefix of its own.
struct HttpBackend {
    store: RedisStore,
    outbox: Outbox,
}

impl HttpBackend {
    async fn new(test: &str) -> Self {
        Self {
            store: redis_store(test).await,
            outbox: Outbox::default(),
        }
    }
}

/// In front of the ingest server: passes every request and answer through unchanged and
/// counts the answers as the consumer engine counts dispositions (`200` handled, `202` and
/// duplicates skipped, `503` retried, `400`/`422` dead-lettered), so the scenarios' checks of
/// [`Stats`] hold for HTTP too.
#[derive(Clone)]
struct Counter {
    upstream: String,
    http: reqwest::Client,
    stats: Arc<Mutex<Stats>>,
    unexpected: Arc<Mutex<Vec<String>>>,
}

async fn count_and_forward(
    axum::extract::State(counter): axum::extract::State<Counter>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> (axum::http::StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut request = counter.http.post(&counter.upstream).body(body.to_vec());
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            request = request.header(name.as_str(), value.as_bytes());
        }
    }
    let response = request.send().await.expect("the ingest server answers");
    let status = response.status().as_u16();
    let mut answer_headers = axum::http::HeaderMap::new();
    for (name, value) in response.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            answer_headers.append(
                axum::http::HeaderName::from_bytes(name.as_str().as_bytes()).unwrap(),
                axum::http::HeaderValue::from_bytes(value.as_bytes()).unwrap(),
            );
        }
    }
    let body = response.bytes().await.expect("answer body").to_vec();
    let outcome = serde_json::from_slice::<EventResult>(&body).map(|r| r.outcome);
    {
        let mut stats = counter.stats.lock().unwrap();
        match (status, outcome) {
            (200, Ok(Outcome::Handled)) => stats.handled += 1,
            (200, Ok(Outcome::Duplicate)) | (202, _) => stats.skipped += 1,
            (503, _) => stats.retried += 1,
            (400 | 422, _) => stats.dead_lettered += 1,
            _ => counter
                .unexpected
                .lock()
                .unwrap()
                .push(format!("{status}: {}", String::from_utf8_lossy(&body))),
        }
    }
    (
        axum::http::StatusCode::from_u16(status).unwrap(),
        answer_headers,
        body,
    )
}

async fn bind() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind an ephemeral port on 127.0.0.1");
    let base = format!("http://{}", listener.local_addr().expect("local address"));
    (listener, base)
}

fn first<E: Event>() -> E {
    E::examples().expect("examples decode").remove(0)
}

fn wrap<E: Event>(event: E, meta: &Meta) -> orchestrator::Message
where
    orchestrator::System: Publishes<E>,
{
    <orchestrator::System as Publishes<E>>::wrap(event, meta).expect("wraps")
}

impl Backend for HttpBackend {
    type System = orchestrator::System;
    type Sink = Outbox;
    type Source = NoSource;

    const GROUP: &'static str = "orchestrator-ingest";
    const CONSUMES_IN_BATCHES: bool = false;

    fn every_event(meta: &Meta) -> Vec<orchestrator::Message> {
        let meta = meta.or(&self::meta(&unique("scenario-publisher"), None));
        let mut messages = Vec::new();
        macro_rules! wrap_each {
            ($($ty:ident),*) => {$(
                messages.push(wrap(first::<orchestrator::$ty>(), &meta));
            )*};
        }
        each_event!(wrap_each);
        messages
    }

    fn sample(n: usize) -> orchestrator::Message {
        wrap(
            first::<orchestrator::RunStartedData>(),
            &meta(&format!("scenario-publisher-{n}"), None),
        )
    }

    fn break_schema(message: &mut serde_json::Value) -> &'static str {
        message["data"]["run_id"] = serde_json::json!(42);
        "/data/run_id"
    }

    fn refused(sample: &serde_json::Value) -> Refused {
        let mut unknown = sample.clone();
        unknown["type"] = "ai.future.thing".into();
        Refused::unknown_event("/api/ingest/event", serde_json::to_vec(&unknown).unwrap())
    }

    fn reads(group: &ConsumerGroup, channel: &str) -> bool {
        group.binds.contains(&channel)
    }

    async fn prepare(&self, _retry: &RetryPolicy) {}

    async fn sink(&self) -> Outbox {
        self.outbox.clone()
    }

    async fn source(&self, _group: &str, _retry: &RetryPolicy, _role: Role) -> NoSource {
        unreachable!("HTTP consumes through Backend::consume and takes no batches")
    }

    async fn send_raw(&self, channel: &str, payload: &[u8], headers: &Headers) -> Origin {
        self.outbox.push(Queued::Raw {
            channel: channel.to_owned(),
            payload: payload.to_vec(),
            headers: headers.clone(),
        });
        Origin::Prefix(format!("http:{channel}"))
    }

    async fn dead_letters(&self, group: &str, channel: &str) -> Vec<Letter> {
        self.store
            .dead_letters()
            .await
            .expect("dead letters readable")
            .into_iter()
            .filter(|l| l.group == group && l.channel == channel)
            .map(|l| Letter {
                channel: l.channel,
                payload: l.payload,
                headers: l.headers,
            })
            .collect()
    }

    async fn settled(&self, _group: &str) -> bool {
        self.outbox.unanswered.load(Ordering::SeqCst) == 0
    }

    /// Serves the ingest endpoint handling with `recorder` under `policy`, sends everything
    /// the scenario published to it through [`Counter`], and stops it gracefully once `done`
    /// holds.
    async fn consume<I, F, Fut>(
        &self,
        group: &str,
        recorder: &scenarios::Recorder,
        policy: &Policy<I>,
        what: &str,
        done: F,
    ) -> Stats
    where
        I: IdempotencyStore + Clone,
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        assert_eq!(group, Self::GROUP, "the orchestrator has one ingest group");
        let server = IngestServer::<orchestrator::System, _, _, _>::for_group(
            recorder.clone(),
            self.store.clone(),
            policy.clone(),
        )
        .expect("a catalog group");
        let shutdown = Shutdown::new();
        let (listener, upstream) = bind().await;
        let serving = {
            let shutdown = shutdown.clone();
            tokio::spawn(async move { server.serve(listener, shutdown).await })
        };
        let counter = Counter {
            upstream: format!("{upstream}/api/ingest/event"),
            http: reqwest::Client::new(),
            stats: Arc::default(),
            unexpected: Arc::default(),
        };
        let (front_listener, front) = bind().await;
        let fronting = {
            let shutdown = shutdown.clone();
            let router = axum::Router::new()
                .fallback(count_and_forward)
                .with_state(counter.clone());
            tokio::spawn(async move {
                axum::serve(front_listener, router)
                    .with_graceful_shutdown(async move { shutdown.triggered().await })
                    .await
            })
        };
        // As many attempts as the server allows, so the server decides when to dead-letter.
        let client = HttpSink::connect(&HttpConfig::new(&front).with_retry(policy.retry.clone()))
            .await
            .expect("client builds");
        let send_all = async {
            while let Some(queued) = self.outbox.pop() {
                match queued {
                    Queued::Typed(outgoing) => match client.post(&outgoing).await {
                        Ok(_)
                        | Err(HttpError::Refused {
                            status: 400 | 422, ..
                        }) => {}
                        Err(e) => panic!("{} was not answered for good: {e}", outgoing.message_id),
                    },
                    Queued::Raw {
                        channel,
                        payload,
                        headers,
                    } => {
                        let mut raw: Vec<(&str, &str)> =
                            vec![("content-type", "application/cloudevents+json")];
                        for (name, value) in headers.iter() {
                            raw.push((name, std::str::from_utf8(value).expect("text header")));
                        }
                        post_raw(&format!("{front}{channel}"), &raw, payload).await;
                    }
                }
                self.outbox.unanswered.fetch_sub(1, Ordering::SeqCst);
            }
        };
        let watch = async {
            tokio::time::timeout(scenarios::WAIT, async {
                while !done().await {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
            .await
            .is_ok()
        };
        let ((), reached) = tokio::join!(send_all, watch);
        shutdown.trigger();
        tokio::time::timeout(Duration::from_secs(5), serving)
            .await
            .expect("the ingest server stops within 5 s")
            .expect("no panic")
            .expect("the ingest server ends without error");
        tokio::time::timeout(Duration::from_secs(5), fronting)
            .await
            .expect("the counter stops within 5 s")
            .expect("no panic")
            .expect("the counter ends without error");
        let stats = *counter.stats.lock().unwrap();
        assert!(
            reached,
            "timed out after {:?} waiting for: {what}; stats {stats:?}, handled {:?}",
            scenarios::WAIT,
            recorder.seen()
        );
        let unexpected = counter.unexpected.lock().unwrap().clone();
        assert!(unexpected.is_empty(), "unexpected answers: {unexpected:?}");
        stats
    }
}

#[tokio::test]
async fn every_event_round_trips() {
    let backend = HttpBackend::new("round-trip").await;
    scenarios::every_event_round_trips(&backend).await;
    backend.store.clear().await.unwrap();
}

#[tokio::test]
async fn poison_is_dead_lettered() {
    let backend = HttpBackend::new("poison").await;
    scenarios::poison_is_dead_lettered(&backend).await;
    backend.store.clear().await.unwrap();
}

#[tokio::test]
async fn fails_twice_then_succeeds() {
    let backend = HttpBackend::new("fails-twice").await;
    scenarios::fails_twice_then_succeeds(&backend).await;
    backend.store.clear().await.unwrap();
}

#[tokio::test]
async fn exhausted_retries_are_dead_lettered() {
    let backend = HttpBackend::new("exhausted").await;
    scenarios::exhausted_retries_are_dead_lettered(&backend).await;
    backend.store.clear().await.unwrap();
}

/// HTTP takes no batches: the scenario says it was skipped, and handles nothing.
#[tokio::test]
async fn consumer_killed_mid_batch_does_not_apply() {
    let backend = HttpBackend::new("mid-batch").await;
    assert!(scenarios::consumer_killed_mid_batch_loses_nothing(&backend)
        .await
        .is_empty());
}

/// Structured mode, the client's default, is the shared round trip ([`every_event_round_trips`]);
/// the other content modes and the document's plain-JSON example are HTTP's own.
#[tokio::test]
async fn every_event_round_trips_in_binary_and_batch_modes_and_as_plain_json() {
    let running = start(MemoryStore::new(), 3, None).await;
    let source = unique("worker");

    for mode in [SendMode::Binary] {
        let publisher = Publisher::<orchestrator::System, _>::new(
            client(&running.base).with_mode(mode),
            Meta::default(),
        );
        let mut sent = Vec::new();
        macro_rules! publish_each {
            ($($ty:ident),*) => {$(
                let event: orchestrator::$ty = orchestrator::$ty::examples().expect("examples decode").remove(0);
                let data = serde_json::to_value(&event).unwrap();
                let id = publisher
                    .publish_with(event, &meta(&source, Some(sent.len() as u64)))
                    .await
                    .unwrap_or_else(|e| panic!("{mode:?}: {} publishes: {e}", orchestrator::$ty::NAME));
                sent.push((orchestrator::$ty::NAME.to_owned(), id, data));
            )*};
        }
        each_event!(publish_each);
        assert_eq!(
            sent.len(),
            orchestrator::EVENTS.len(),
            "every catalogued event was sent"
        );
        check_seen(&running.recorder, &sent, &format!("{mode:?} mode"));
    }

    // Batched mode: every event in one request, each answered on its own.
    let mut batch: Vec<Outgoing> = Vec::new();
    let mut sent = Vec::new();
    macro_rules! prepare_each {
        ($($ty:ident),*) => {$(
            let event: orchestrator::$ty = orchestrator::$ty::examples().expect("examples decode").remove(0);
            let data = serde_json::to_value(&event).unwrap();
            let outgoing = prepare::<orchestrator::System, _>(event, &meta(&source, None)).expect("valid");
            sent.push((orchestrator::$ty::NAME.to_owned(), outgoing.message_id.clone(), data));
            batch.push(outgoing);
        )*};
    }
    each_event!(prepare_each);
    let results = client(&running.base)
        .post_batch(&batch)
        .await
        .expect("batch accepted");
    assert_eq!(results.len(), batch.len());
    for (result, (event_type, id, _)) in results.iter().zip(&sent) {
        assert_eq!(
            (result.status, result.outcome),
            (200, Outcome::Handled),
            "{event_type}: {result:?}"
        );
        assert_eq!(result.id.as_deref(), Some(id.as_str()));
    }
    check_seen(&running.recorder, &sent, "batch mode");

    // The document's own curl example: plain `application/json` holding a structured event.
    let envelope_schema: serde_json::Value = serde_json::from_str(
        &event_contracts::SCHEMAS
            .documents()
            .get("https://event-contracts.local/schemas/orchestrator/envelope.json")
            .expect("envelope schema embedded")
            .to_string(),
    )
    .unwrap();
    let mut doc_example = envelope_schema["examples"][0].clone();
    doc_example["source"] = serde_json::Value::String(source.clone());
    // The document's placeholder run id is not a UUID, which the data schema requires.
    let run_id = uuid::Uuid::new_v4().to_string();
    doc_example["data"]["run_id"] = serde_json::Value::String(run_id.clone());
    doc_example["subject"] = serde_json::Value::String(format!("run/{run_id}"));
    let raw = post_raw(
        &running.url(),
        &[("content-type", "application/json")],
        serde_json::to_vec(&doc_example).unwrap(),
    )
    .await;
    assert_eq!(raw.status, 200, "{}", raw.body);
    assert_eq!(raw.json()["outcome"], "handled");
    assert!(running
        .recorder
        .seen()
        .iter()
        .any(|s| s.id == "test-event-001"
            && s.event_type == "ai.myfeature.started"
            && s.source == source));
    running.stop().await;
}

async fn duplicates_are_dropped<S: IngestStore>(first: S, second: Option<S>) {
    let a = start(first, 3, None).await;
    let source = unique("worker");
    let event: orchestrator::RunStartedData = orchestrator::RunStartedData::examples()
        .expect("examples decode")
        .remove(0);
    let outgoing = prepare::<orchestrator::System, _>(event, &meta(&source, None)).unwrap();
    let c = client(&a.base);
    assert_eq!(c.post(&outgoing).await.unwrap().outcome, Outcome::Handled);
    let again = c.post(&outgoing).await.expect("a duplicate is a success");
    assert_eq!((again.status, again.outcome), (200, Outcome::Duplicate));
    // Binary mode of the same event is the same event.
    let binary = client(&a.base)
        .with_mode(SendMode::Binary)
        .post(&outgoing)
        .await
        .unwrap();
    assert_eq!(binary.outcome, Outcome::Duplicate);
    // Same id from another source is another event.
    let mut other: serde_json::Value = serde_json::from_slice(&outgoing.payload).unwrap();
    other["source"] = serde_json::Value::String(format!("{source}-other"));
    let raw = post_raw(
        &a.url(),
        &[("content-type", "application/cloudevents+json")],
        serde_json::to_vec(&other).unwrap(),
    )
    .await;
    assert_eq!(raw.json()["outcome"], "handled", "{}", raw.body);
    assert_eq!(
        a.recorder.seen_ids(),
        vec![outgoing.message_id.clone(), outgoing.message_id.clone()],
        "handled once per (source, id)"
    );
    // A new server process state sharing the store (Redis) still knows the event.
    if let Some(second) = second {
        let b = start(second, 3, None).await;
        let result = client(&b.base).post(&outgoing).await.unwrap();
        assert_eq!(
            result.outcome,
            Outcome::Duplicate,
            "known across servers through Redis"
        );
        assert!(
            b.recorder.seen().is_empty(),
            "not handled again: {:?}",
            b.recorder.seen()
        );
        b.stop().await;
    }
    a.stop().await;
}

#[tokio::test]
async fn duplicates_by_source_and_id_are_dropped_with_the_memory_store() {
    duplicates_are_dropped(MemoryStore::new(), None).await;
}

#[tokio::test]
async fn duplicates_by_source_and_id_are_dropped_with_the_redis_store_across_servers() {
    let store = redis_store("dedupe").await;
    duplicates_are_dropped(store.clone(), Some(store.clone())).await;
    store.clear().await.unwrap();
}

/// With an idempotency store in its policy (the default one, Redis), the endpoint also dedupes
/// by the manifest's key, the CloudEvents `id`, as every other transport does: the same id
/// from another source, sent to another replica with its own `source` + `id` store, is a
/// duplicate.
#[tokio::test]
async fn a_policy_store_dedupes_by_the_declared_key_across_replicas() {
    let namespace = format!("{}:", unique("test-http-declared"));
    let options = RedisConfig::new(REDIS_URL).with_namespace(namespace.clone());
    let policy = || async {
        Policy::new("orchestrator-ingest")
            .with_retry(fast_retry(3))
            .with_idempotency(
                RedisIdempotency::connect(&options, Duration::from_secs(600))
                    .await
                    .expect("Redis answers"),
            )
    };
    let (store_a, store_b) = (
        redis_store("declared-a").await,
        redis_store("declared-b").await,
    );
    let a = start_with_policy(store_a.clone(), policy().await, None).await;
    let b = start_with_policy(store_b.clone(), policy().await, None).await;
    let source = unique("worker");
    let outgoing = prepare::<orchestrator::System, _>(
        orchestrator::RunStartedData::examples()
            .expect("examples decode")
            .remove(0),
        &meta(&source, None),
    )
    .unwrap();
    assert_eq!(
        client(&a.base).post(&outgoing).await.unwrap().outcome,
        Outcome::Handled
    );
    let mut other: serde_json::Value = serde_json::from_slice(&outgoing.payload).unwrap();
    other["source"] = serde_json::Value::String(format!("{source}-resent"));
    let raw = post_raw(
        &b.url(),
        &[("content-type", "application/cloudevents+json")],
        serde_json::to_vec(&other).unwrap(),
    )
    .await;
    assert_eq!(
        (raw.status, raw.json()["outcome"].as_str()),
        (200, Some("duplicate")),
        "{}",
        raw.body
    );
    assert_eq!(a.recorder.seen_ids(), vec![outgoing.message_id.clone()]);
    assert!(b.recorder.seen().is_empty(), "{:?}", b.recorder.seen());
    let unit = format!("orchestrator:orchestrator-ingest:{}", outgoing.message_id);
    let done = RedisIdempotency::connect(&options, Duration::from_secs(1))
        .await
        .expect("Redis answers");
    assert!(done.is_done(&unit).await.unwrap());
    a.stop().await;
    b.stop().await;
    for store in [store_a, store_b] {
        store.clear().await.unwrap();
    }
    let mut conn = redis::Client::open(REDIS_URL)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: () = redis::cmd("DEL")
        .arg(done.key(&unit))
        .query_async(&mut conn)
        .await
        .unwrap();
}

async fn seq_is_classified_and_recorded<S: IngestStore>(store: S) {
    let a = start(store, 3, None).await;
    let c = client(&a.base);
    let source = unique("worker");
    let subject = format!("run/{}", uuid::Uuid::new_v4());
    let mut classes = Vec::new();
    let mut ids = Vec::new();
    for seq in [1u64, 2, 4, 3, 4, 5] {
        let m = Meta {
            subject: Some(subject.clone()),
            ..meta(&source, Some(seq))
        };
        let outgoing = prepare::<orchestrator::System, _>(
            orchestrator::RunStageProgressData::examples()
                .expect("examples decode")
                .remove(0),
            &m,
        )
        .unwrap();
        let result = c.post(&outgoing).await.expect("never rejected for its seq");
        assert_eq!(result.outcome, Outcome::Handled);
        classes.push(result.seq.expect("seq classified"));
        ids.push(outgoing.message_id);
    }
    use SeqClass::*;
    assert_eq!(
        classes,
        [InOrder, InOrder, Gap, OutOfOrder, Duplicate, InOrder]
    );
    // The document's `extensions: {seq}` form counts too.
    let mut ext: serde_json::Value = serde_json::from_slice(
        &prepare::<orchestrator::System, _>(
            orchestrator::RunStageProgressData::examples()
                .expect("examples decode")
                .remove(0),
            &Meta {
                subject: Some(subject.clone()),
                ..meta(&source, None)
            },
        )
        .unwrap()
        .payload,
    )
    .unwrap();
    ext["extensions"] = serde_json::json!({"seq": 8});
    let raw = post_raw(
        &a.url(),
        &[("content-type", "application/cloudevents+json")],
        serde_json::to_vec(&ext).unwrap(),
    )
    .await;
    assert_eq!(raw.json()["seq"], "gap", "{}", raw.body);

    let record = a.server.store().seq_record(&subject).await.unwrap();
    assert_eq!(record.last, Some(8));
    assert_eq!(
        (
            record.in_order,
            record.gaps,
            record.duplicates,
            record.out_of_order
        ),
        (3, 2, 1, 1),
        "{record:?}"
    );
    let logged: Vec<(u64, SeqClass)> = record.log.iter().map(|e| (e.seq, e.class)).collect();
    assert_eq!(
        logged,
        [
            (1, InOrder),
            (2, InOrder),
            (4, Gap),
            (3, OutOfOrder),
            (4, Duplicate),
            (5, InOrder),
            (8, Gap)
        ]
    );
    assert_eq!(record.log[4].id, ids[4]);
    assert_eq!(
        a.recorder.seen().len(),
        7,
        "every event handled, whatever its seq"
    );
    a.stop().await;
}

#[tokio::test]
async fn seq_is_classified_and_recorded_in_memory() {
    seq_is_classified_and_recorded(MemoryStore::new()).await;
}

#[tokio::test]
async fn seq_is_classified_and_recorded_in_redis() {
    let store = redis_store("seq").await;
    seq_is_classified_and_recorded(store.clone()).await;
    store.clear().await.unwrap();
}

#[tokio::test]
async fn an_unknown_type_is_accepted_with_202_and_not_handled() {
    let a = start(MemoryStore::new(), 3, None).await;
    let mut event: serde_json::Value = serde_json::from_slice(
        &prepare::<orchestrator::System, _>(
            orchestrator::RunStartedData::examples()
                .expect("examples decode")
                .remove(0),
            &meta("w", None),
        )
        .unwrap()
        .payload,
    )
    .unwrap();
    event["type"] = serde_json::Value::String("ai.future.thing".into());
    let raw = post_raw(
        &a.url(),
        &[("content-type", "application/cloudevents+json")],
        serde_json::to_vec(&event).unwrap(),
    )
    .await;
    assert_eq!(raw.status, 202, "{}", raw.body);
    assert_eq!(raw.json()["outcome"], "accepted-unknown-type");
    assert!(a.recorder.calls.lock().unwrap().is_empty());
    assert!(a.server.store().dead_letters().await.unwrap().is_empty());
    a.stop().await;
}

#[tokio::test]
async fn invalid_input_is_a_400_problem_with_pointers_and_dead_lettered() {
    let store = redis_store("invalid").await;
    let a = start(store.clone(), 3, None).await;
    let valid = |source: &str| -> serde_json::Value {
        serde_json::from_slice(
            &prepare::<orchestrator::System, _>(
                orchestrator::RunStartedData::examples()
                    .expect("examples decode")
                    .remove(0),
                &meta(source, None),
            )
            .unwrap()
            .payload,
        )
        .unwrap()
    };
    let structured = [
        ("content-type", "application/cloudevents+json"),
        ("x-test-marker", "kept"),
    ];

    // Bad JSON: line and column.
    let bad_json = b"{\n  \"specversion\": \"1.0\",\n  \"id\": }".to_vec();
    let raw = post_raw(&a.url(), &structured, bad_json.clone()).await;
    assert_eq!(raw.status, 400, "{}", raw.body);
    assert_eq!(raw.header("content-type"), Some("application/problem+json"));
    let problem = raw.json();
    assert_eq!(
        (problem["line"].as_u64(), problem["column"].is_u64()),
        (Some(3), true),
        "{problem}"
    );
    assert_eq!(problem["dead_letter"]["reason"], "malformed");

    // Envelope violations: every pointer listed.
    let mut envelope = valid("w");
    envelope["specversion"] = "0.3".into();
    envelope["subject"] = "not-a-run".into();
    let envelope_bytes = serde_json::to_vec(&envelope).unwrap();
    let raw = post_raw(&a.url(), &structured, envelope_bytes.clone()).await;
    assert_eq!(raw.status, 400, "{}", raw.body);
    let pointers = raw.pointers();
    assert!(
        pointers.contains(&"/specversion".to_owned()) && pointers.contains(&"/subject".to_owned()),
        "{pointers:?}"
    );

    // Data violation against the schema of its type.
    let mut data = valid("w");
    data["data"]["run_id"] = serde_json::json!(42);
    let data_bytes = serde_json::to_vec(&data).unwrap();
    let raw = post_raw(&a.url(), &structured, data_bytes.clone()).await;
    assert_eq!(raw.status, 400, "{}", raw.body);
    assert!(
        raw.pointers().contains(&"/data/run_id".to_owned()),
        "{:?}",
        raw.pointers()
    );

    // Binary mode with a body that is not JSON.
    let raw = post_raw(
        &a.url(),
        &[
            ("content-type", "application/json"),
            ("ce-specversion", "1.0"),
            ("ce-id", "b-1"),
            ("ce-source", "w"),
            ("ce-type", "ai.run.started"),
            ("x-test-marker", "kept"),
        ],
        b"{oops".to_vec(),
    )
    .await;
    assert_eq!(raw.status, 400, "{}", raw.body);
    assert_eq!(raw.pointers(), ["/data"]);

    // The client reports the problem details.
    let mut bad = prepare::<orchestrator::System, _>(
        orchestrator::RunStartedData::examples()
            .expect("examples decode")
            .remove(0),
        &meta("w", None),
    )
    .unwrap();
    bad.payload = data_bytes.clone();
    let error = client(&a.base)
        .post(&bad)
        .await
        .expect_err("a 400 is an error");
    let HttpError::Refused {
        status: 400,
        problem: Some(problem),
        ..
    } = &error
    else {
        panic!("refused with a problem: {error}")
    };
    assert!(
        problem.errors.iter().any(|e| e.pointer == "/data/run_id"),
        "{problem:?}"
    );
    assert!(
        error.to_string().contains("/data/run_id"),
        "the message names the pointer: {error}"
    );

    // That later events still flow is the shared poison scenario's ([`poison_is_dead_lettered`]).
    assert!(a.recorder.seen().is_empty(), "{:?}", a.recorder.seen());

    let letters = store.dead_letters().await.unwrap();
    let summary: Vec<(&str, &[u8])> = letters
        .iter()
        .map(|l| (l.reason.as_str(), l.payload.as_slice()))
        .collect();
    assert_eq!(
        summary,
        [
            ("malformed", bad_json.as_slice()),
            ("schema-violation", envelope_bytes.as_slice()),
            ("schema-violation", data_bytes.as_slice()),
            ("malformed", b"{oops".as_slice()),
            ("schema-violation", data_bytes.as_slice()),
        ],
        "original bytes with their reasons"
    );
    for letter in &letters[..4] {
        assert_eq!(
            letter.headers.get_str("x-test-marker"),
            Some("kept"),
            "original headers kept: {letter:?}"
        );
        assert_eq!(
            letter.headers.get_str(dl::REASON),
            Some(letter.reason.as_str())
        );
        assert_eq!(letter.headers.get_str(dl::ATTEMPTS), Some("1"));
        assert_eq!(
            letter.headers.get_str(dl::CONSUMER_GROUP),
            Some("orchestrator-ingest")
        );
        assert!(
            !letter.error.is_empty() && letter.origin.starts_with("http:/api/ingest/event"),
            "{letter:?}"
        );
    }
    assert_eq!(
        letters[3].headers.get_str("ce-id"),
        Some("b-1"),
        "binary-mode headers kept"
    );
    assert!(
        letters[2].error.contains("/data/run_id"),
        "{}",
        letters[2].error
    );
    a.stop().await;
    store.clear().await.unwrap();
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_and_an_unknown_content_type_is_415() {
    let a = start(MemoryStore::new(), 3, Some(512)).await;
    let mut big: serde_json::Value = serde_json::from_slice(
        &prepare::<orchestrator::System, _>(
            orchestrator::RunStartedData::examples()
                .expect("examples decode")
                .remove(0),
            &meta("w", None),
        )
        .unwrap()
        .payload,
    )
    .unwrap();
    big["padding"] = "x".repeat(2048).into();
    let raw = post_raw(
        &a.url(),
        &[("content-type", "application/cloudevents+json")],
        serde_json::to_vec(&big).unwrap(),
    )
    .await;
    assert_eq!(raw.status, 413, "{}", raw.body);
    assert_eq!(raw.header("content-type"), Some("application/problem+json"));

    let raw = post_raw(&a.url(), &[("content-type", "text/plain")], "hello").await;
    assert_eq!(raw.status, 415, "{}", raw.body);
    let raw = post_raw(&a.url(), &[], "{}").await;
    assert_eq!(raw.status, 415, "no content type: {}", raw.body);
    let raw = post_raw(
        &a.url(),
        &[
            ("content-type", "text/plain"),
            ("ce-specversion", "1.0"),
            ("ce-id", "1"),
            ("ce-source", "w"),
            ("ce-type", "ai.run.started"),
        ],
        "plain data",
    )
    .await;
    assert_eq!(
        raw.status, 415,
        "binary mode with non-JSON data: {}",
        raw.body
    );
    let error = client(&a.base)
        .post(&Outgoing {
            channel: "/api/ingest/event".into(),
            key: None,
            message_id: "x".into(),
            payload: vec![b'{'; 600],
            headers: Default::default(),
        })
        .await
        .expect_err("413");
    assert!(
        matches!(error, HttpError::Refused { status: 413, .. }),
        "{error}"
    );
    assert!(a.recorder.calls.lock().unwrap().is_empty());
    a.stop().await;
}

/// Handled once on attempt 3 after two failures is the shared scenario
/// ([`fails_twice_then_succeeds`]); here, the `503` a failure is answered with, the
/// `x-attempt` count restarting for a new send, and dedupe of a resend after success.
#[tokio::test]
async fn a_failing_handler_is_a_503_with_the_backoff_and_a_resend_after_success_is_a_duplicate() {
    let store = redis_store("retry").await;
    let a = start(store.clone(), 4, None).await;
    let outgoing = prepare::<orchestrator::System, _>(
        orchestrator::NodeCompletedData::examples()
            .expect("examples decode")
            .remove(0),
        &meta("w", None),
    )
    .unwrap();

    // A single try sees the 503 with the backoff the retry policy computed.
    a.recorder
        .fail_times
        .lock()
        .unwrap()
        .insert(outgoing.message_id.clone(), 2);
    let raw = post_raw(
        &a.url(),
        &[("content-type", "application/cloudevents+json")],
        outgoing.payload.clone(),
    )
    .await;
    assert_eq!(raw.status, 503, "{}", raw.body);
    assert_eq!(
        raw.header("retry-after"),
        Some("1"),
        "10 ms rounds up to 1 s"
    );
    let ms: u64 = raw
        .header("x-retry-after-ms")
        .expect("exact wait")
        .parse()
        .unwrap();
    assert!((8..=12).contains(&ms), "initial backoff 10 ms ±20%: {ms}");

    // The client resends with x-attempt; the second failure and the success follow.
    a.recorder
        .fail_times
        .lock()
        .unwrap()
        .insert(outgoing.message_id.clone(), 2);
    let publisher_client = client(&a.base);
    let result = publisher_client
        .post(&outgoing)
        .await
        .expect("handled after retries");
    assert_eq!(result.outcome, Outcome::Handled);
    assert_eq!(a.recorder.seen().len(), 1, "handled once");
    let calls = a.recorder.calls.lock().unwrap().clone();
    assert_eq!(
        calls.iter().map(|c| c.1).collect::<Vec<_>>(),
        [1, 1, 2, 3],
        "{calls:?}"
    );
    // Sending it again is a duplicate.
    assert_eq!(
        publisher_client.post(&outgoing).await.unwrap().outcome,
        Outcome::Duplicate
    );
    assert!(store.dead_letters().await.unwrap().is_empty());
    a.stop().await;
    store.clear().await.unwrap();
}

#[tokio::test]
async fn rejected_and_exhausted_events_are_dead_lettered_with_422() {
    let a = start(MemoryStore::new(), 3, None).await;
    let rejected = prepare::<orchestrator::System, _>(
        orchestrator::PaperGeneratedData::examples()
            .expect("examples decode")
            .remove(0),
        &meta("w", None),
    )
    .unwrap();
    let failing = prepare::<orchestrator::System, _>(
        orchestrator::PaperStartedData::examples()
            .expect("examples decode")
            .remove(0),
        &meta("w", None),
    )
    .unwrap();
    a.recorder
        .reject
        .lock()
        .unwrap()
        .insert(rejected.message_id.clone());
    a.recorder
        .always_fail
        .lock()
        .unwrap()
        .insert(failing.message_id.clone());

    let publisher = Publisher::<orchestrator::System, _>::new(client(&a.base), Meta::default());
    let error: TransportError = match publisher
        .publish_message(&orchestrator::decode_message(&rejected.payload).unwrap())
        .await
    {
        Err(event_contracts::runtime::transport::PublishError::Transport(e)) => e,
        other => panic!("a rejected event fails the publish: {other:?}"),
    };
    assert!(
        error.message.contains("422") && error.message.contains("rejected"),
        "{error}"
    );
    let error = client(&a.base)
        .post(&failing)
        .await
        .expect_err("dead-lettered after 3 attempts");
    let problem = error.problem().expect("problem details").clone();
    assert_eq!(
        (
            problem.status,
            problem.dead_letter.as_ref().map(|d| d.reason.as_str())
        ),
        (422, Some("retries-exhausted"))
    );

    let letters = a.server.store().dead_letters().await.unwrap();
    let summary: Vec<(&str, u32, &[u8])> = letters
        .iter()
        .map(|l| (l.reason.as_str(), l.attempts, l.payload.as_slice()))
        .collect();
    assert_eq!(
        summary,
        [
            ("rejected", 1, rejected.payload.as_slice()),
            ("retries-exhausted", 3, failing.payload.as_slice())
        ]
    );
    assert!(
        letters[1].error.contains("database is down"),
        "{:?}",
        letters[1]
    );
    assert!(a.recorder.seen().is_empty());
    a.stop().await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_the_request_in_flight_and_stops_accepting() {
    let a = start(MemoryStore::new(), 3, None).await;
    let base = a.base.clone();
    let outgoing = prepare::<orchestrator::System, _>(
        orchestrator::RunStartedData::examples()
            .expect("examples decode")
            .remove(0),
        &meta("w", None),
    )
    .unwrap();
    assert_eq!(
        client(&base).post(&outgoing).await.unwrap().outcome,
        Outcome::Handled
    );
    a.stop().await;
    let error = client(&base)
        .with_retry(fast_retry(2))
        .post(
            &prepare::<orchestrator::System, _>(
                orchestrator::RunStartedData::examples()
                    .expect("examples decode")
                    .remove(0),
                &meta("w", None),
            )
            .unwrap(),
        )
        .await
        .expect_err("nothing listens after shutdown");
    assert!(
        matches!(error, HttpError::GaveUp { attempts: 2, .. }),
        "{error}"
    );
    let _ = Duration::ZERO;
}

/// A structured event as a producer in another language writes it: `meta`'s envelope around
/// a catalog example, with `edit` applied and no `traceparent` HTTP header, so whatever trace
/// the handler sees came from the event itself.
fn foreign_event<E>(meta: &Meta, edit: impl FnOnce(&mut serde_json::Value)) -> serde_json::Value
where
    E: Event,
    orchestrator::System: event_contracts::runtime::transport::Publishes<E>,
{
    let mut event: serde_json::Value = serde_json::from_slice(
        &prepare::<orchestrator::System, E>(
            E::examples().expect("examples decode").remove(0),
            meta,
        )
        .unwrap()
        .payload,
    )
    .unwrap();
    edit(&mut event);
    event
}

fn seen_trace(recorder: &http_support::Recorder, id: &str) -> Option<String> {
    let seen = recorder.seen();
    let s = seen
        .iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("{id} was handled: {seen:#?}"));
    s.traceparent.clone()
}

/// The trace context of the document's `extensions: {seq, traceparent}` form reaches the
/// handler, in structured mode and through the client's binary mode (which lifts it into
/// `ce-traceparent`).
#[tokio::test]
async fn a_traceparent_only_in_extensions_reaches_the_handler_in_both_modes() {
    const EXT_TRACE: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let a = start(MemoryStore::new(), 3, None).await;
    let source = unique("python-worker");
    let in_extensions = |event: &mut serde_json::Value| {
        let object = event.as_object_mut().unwrap();
        object.remove("traceparent");
        object.remove("seq");
        object.insert(
            "extensions".into(),
            serde_json::json!({"seq": 1, "traceparent": EXT_TRACE}),
        );
    };

    let structured =
        foreign_event::<orchestrator::RunStartedData>(&meta(&source, None), in_extensions);
    let raw = post_raw(
        &a.url(),
        &[("content-type", "application/cloudevents+json")],
        serde_json::to_vec(&structured).unwrap(),
    )
    .await;
    assert_eq!(raw.json()["outcome"], "handled", "{}", raw.body);
    let id = structured["id"].as_str().unwrap();
    assert_eq!(seen_trace(&a.recorder, id).as_deref(), Some(EXT_TRACE));

    let binary = foreign_event::<orchestrator::RunStartedData>(&meta(&source, None), in_extensions);
    let mut outgoing = prepare::<orchestrator::System, _>(
        orchestrator::RunStartedData::examples()
            .expect("examples decode")
            .remove(0),
        &meta(&source, None),
    )
    .unwrap();
    outgoing.headers.remove("traceparent");
    outgoing.message_id = binary["id"].as_str().unwrap().to_owned();
    outgoing.payload = serde_json::to_vec(&binary).unwrap();
    let result = client(&a.base)
        .with_mode(SendMode::Binary)
        .post(&outgoing)
        .await
        .unwrap();
    assert_eq!(result.outcome, Outcome::Handled, "{result:?}");
    assert_eq!(
        seen_trace(&a.recorder, &outgoing.message_id).as_deref(),
        Some(EXT_TRACE)
    );
    a.stop().await;
}

/// `datacontenttype` with media-type parameters gets the same answer in both modes.
#[tokio::test]
async fn a_datacontenttype_with_parameters_is_accepted_in_both_modes() {
    let a = start(MemoryStore::new(), 3, None).await;
    let source = unique("python-worker");
    for datacontenttype in [
        "application/json; charset=utf-8",
        "Application/JSON;charset=UTF-8",
    ] {
        let event = foreign_event::<orchestrator::RunStartedData>(&meta(&source, None), |e| {
            e["datacontenttype"] = datacontenttype.into();
        });
        let raw = post_raw(
            &a.url(),
            &[("content-type", "application/cloudevents+json")],
            serde_json::to_vec(&event).unwrap(),
        )
        .await;
        assert_eq!(
            (raw.status, raw.json()["outcome"].as_str()),
            (200, Some("handled")),
            "structured, {datacontenttype}: {}",
            raw.body
        );

        let event = foreign_event::<orchestrator::RunStartedData>(&meta(&source, None), |_| {});
        let text = |name: &str| event[name].as_str().unwrap().to_owned();
        let headers = [
            ("ce-specversion", text("specversion")),
            ("ce-id", text("id")),
            ("ce-source", text("source")),
            ("ce-type", text("type")),
            ("ce-subject", text("subject")),
            ("ce-time", text("time")),
            ("content-type", datacontenttype.to_owned()),
        ];
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let raw = post_raw(
            &a.url(),
            &headers,
            serde_json::to_vec(&event["data"]).unwrap(),
        )
        .await;
        assert_eq!(
            (raw.status, raw.json()["outcome"].as_str()),
            (200, Some("handled")),
            "binary, {datacontenttype}: {}",
            raw.body
        );
    }
    // What is not JSON is refused the same way in both modes: 400 at the attribute in
    // structured mode, 415 for data the binary body cannot be.
    let event = foreign_event::<orchestrator::RunStartedData>(&meta(&source, None), |e| {
        e["datacontenttype"] = "text/plain; charset=utf-8".into();
    });
    let raw = post_raw(
        &a.url(),
        &[("content-type", "application/cloudevents+json")],
        serde_json::to_vec(&event).unwrap(),
    )
    .await;
    assert_eq!(raw.status, 400, "{}", raw.body);
    assert_eq!(raw.pointers(), ["/datacontenttype"]);
    assert_eq!(a.recorder.seen().len(), 4, "{:#?}", a.recorder.seen());
    a.stop().await;
}

/// Integers written as floats (`seq: 3.0`, `stage_index: 0.0`, `ce-seq: 4.0`) are handled and
/// their `seq` counts; an integer beyond 64 bits is a 400 and a dead letter naming its pointer.
#[tokio::test]
async fn integers_written_as_floats_are_handled_and_one_beyond_64_bits_names_its_pointer() {
    let a = start(MemoryStore::new(), 3, None).await;
    let source = unique("python-worker");
    let subject = format!("run/{}", uuid::Uuid::new_v4());
    let on_run = Meta {
        subject: Some(subject.clone()),
        ..meta(&source, None)
    };
    let structured = [("content-type", "application/cloudevents+json")];

    let event = foreign_event::<orchestrator::RunStageStartedData>(&on_run, |e| {
        e["seq"] = serde_json::json!(3.0);
        e["data"]["stage_index"] = serde_json::json!(0.0);
        e["data"]["total_stages"] = serde_json::json!(4e0);
    });
    let body = serde_json::to_vec(&event).unwrap();
    assert!(String::from_utf8_lossy(&body).contains("\"seq\":3.0"));
    let raw = post_raw(&a.url(), &structured, body).await;
    assert_eq!(
        (
            raw.status,
            raw.json()["outcome"].as_str(),
            raw.json()["seq"].as_str()
        ),
        (200, Some("handled"), Some("in-order")),
        "{}",
        raw.body
    );
    let seen = a.recorder.seen();
    assert_eq!(
        seen[0].data["total_stages"],
        serde_json::json!(4),
        "{seen:#?}"
    );

    // Binary mode: `ce-seq: 4.0`.
    let event = foreign_event::<orchestrator::RunStageStartedData>(&on_run, |_| {});
    let text = |name: &str| event[name].as_str().unwrap().to_owned();
    let headers = [
        ("ce-specversion", text("specversion")),
        ("ce-id", text("id")),
        ("ce-source", text("source")),
        ("ce-type", text("type")),
        ("ce-subject", text("subject")),
        ("ce-time", text("time")),
        ("ce-seq", "4.0".to_owned()),
        ("content-type", "application/json".to_owned()),
    ];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let raw = post_raw(
        &a.url(),
        &headers,
        serde_json::to_vec(&event["data"]).unwrap(),
    )
    .await;
    assert_eq!(
        (raw.status, raw.json()["seq"].as_str()),
        (200, Some("in-order")),
        "{}",
        raw.body
    );
    let record = a.server.store().seq_record(&subject).await.unwrap();
    assert_eq!((record.last, record.in_order), (Some(4), 2), "{record:?}");

    // Valid JSON Schema, but no 64-bit integer holds it.
    let event = foreign_event::<orchestrator::RunStageStartedData>(&on_run, |e| {
        e["seq"] = serde_json::json!(1e300);
    });
    let raw = post_raw(&a.url(), &structured, serde_json::to_vec(&event).unwrap()).await;
    assert_eq!(raw.status, 400, "{}", raw.body);
    let problem = raw.json();
    assert_eq!(problem["errors"][0]["pointer"], "/seq", "{problem}");
    assert_eq!(
        problem["errors"][0]["keyword"], "unrepresentable",
        "{problem}"
    );
    assert_eq!(
        problem["dead_letter"]["reason"], "unrepresentable",
        "{problem}"
    );
    let letters = a.server.store().dead_letters().await.unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    let error = letters[0].headers.get_str(dl::ERROR).unwrap_or_default();
    assert!(error.contains("at /seq:"), "{error}");
    assert_eq!(a.recorder.seen().len(), 2);
    a.stop().await;
}

/// The generated contract reads the trace context where the manifest declares it: the role's
/// own property (`traceparent`), then its `also_read` location (`/extensions/traceparent`).
#[test]
fn the_generated_contract_reads_the_trace_from_the_top_level_then_extensions() {
    use event_contracts::runtime::transport::Contract;
    const EXT_TRACE: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let envelope = |edit: &dyn Fn(&mut serde_json::Map<String, serde_json::Value>)| {
        let mut event = serde_json::from_slice::<serde_json::Value>(
            &prepare::<orchestrator::System, _>(
                orchestrator::RunStartedData::examples()
                    .expect("examples decode")
                    .remove(0),
                &meta("w", None),
            )
            .unwrap()
            .payload,
        )
        .unwrap();
        edit(event.as_object_mut().unwrap());
        let message = orchestrator::decode_message(&serde_json::to_vec(&event).unwrap())
            .unwrap_or_else(|e| panic!("{e}: {event}"));
        <orchestrator::System as Contract>::traceparent(&message)
    };
    let extensions = serde_json::json!({"traceparent": EXT_TRACE});
    assert_eq!(envelope(&|_| {}).as_deref(), Some(TRACE), "top level");
    assert_eq!(
        envelope(&|e| {
            e.remove("traceparent");
            e.insert("extensions".into(), extensions.clone());
        })
        .as_deref(),
        Some(EXT_TRACE),
        "only in extensions"
    );
    assert_eq!(
        envelope(&|e| {
            e.insert("extensions".into(), extensions.clone());
        })
        .as_deref(),
        Some(TRACE),
        "both: the top level (the CloudEvents JSON format) wins"
    );
    assert_eq!(
        envelope(&|e| {
            e.remove("traceparent");
            e.insert("extensions".into(), serde_json::json!({"seq": 2}));
        }),
        None,
        "neither"
    );
}
