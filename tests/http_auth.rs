//! Authentication and limits of the HTTP ingest endpoint, over real HTTP: a real axum server on
//! 127.0.0.1:<ephemeral port>, reqwest for hand-made requests and the runtime's own
//! `HttpSink`. A refused request must never reach the handler and never be dead-lettered:
//! each test reads the handler's calls and the dead-letter store back.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use event_contracts::orchestrator;
use event_contracts::runtime::transport::http::{
    prepare, DeadLetterStore, HttpError, HttpSink, IngestAuth, IngestServer, MemoryStore, Outcome,
    WebhookSecret, PROBLEM_TYPE_BASE,
};
use event_contracts::runtime::transport::{
    Context, Handle, HandlerResult, Meta, Outgoing, Policy, RetryPolicy, Shutdown, UnknownPolicy,
};
use event_contracts::Event;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OTHER_SECRET: &str = "whsec_c2VjcmV0LW9mLXNvbWVib2R5LWVsc2UtMTIzNDU2";
const TOKEN: &str = "ingest-token-7f3a9c";

/// Counts the events it handles; each waits for `gate` first when one is set (a slow handler
/// that the test releases).
#[derive(Clone, Default)]
struct Counter {
    handled: Arc<AtomicUsize>,
    entered: Arc<AtomicUsize>,
    gate: Option<Arc<tokio::sync::Semaphore>>,
}

impl Handle<orchestrator::System> for Counter {
    async fn handle(
        &self,
        _message: <orchestrator::System as event_contracts::runtime::transport::Contract>::Message,
        _context: &Context,
    ) -> HandlerResult {
        self.entered.fetch_add(1, Ordering::SeqCst);
        if let Some(gate) = &self.gate {
            let _permit = gate.acquire().await.expect("the gate stays open");
        }
        self.handled.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

type Server = IngestServer<orchestrator::System, Counter, MemoryStore>;

struct Running {
    url: String,
    base: String,
    server: Server,
    counter: Counter,
    shutdown: Shutdown,
}

async fn start(counter: Counter, configure: impl FnOnce(Server) -> Server) -> Running {
    let policy = Policy::new("orchestrator-auth-test").with_unknown(UnknownPolicy::Skip);
    let server = configure(IngestServer::new(
        counter.clone(),
        MemoryStore::default(),
        policy,
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind an ephemeral port on 127.0.0.1");
    let base = format!("http://{}", listener.local_addr().expect("local address"));
    let shutdown = Shutdown::new();
    {
        let server = server.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move { server.serve(listener, shutdown).await });
    }
    Running {
        url: format!("{base}{}", server.path()),
        base,
        server,
        counter,
        shutdown,
    }
}

impl Running {
    async fn dead_letters(&self) -> usize {
        self.server
            .store()
            .dead_letters()
            .await
            .expect("the memory store answers")
            .len()
    }
    fn handled(&self) -> usize {
        self.counter.handled.load(Ordering::SeqCst)
    }
}

/// A valid structured event (the catalog's first example of `RunStartedData`), with a fresh id.
fn event() -> Outgoing {
    let schema = event_contracts::SCHEMAS
        .documents()
        .get(orchestrator::RunStartedData::SCHEMA_ID)
        .expect("the schema is embedded")
        .to_string();
    let schema: serde_json::Value = serde_json::from_str(&schema).expect("schema is JSON");
    let data: orchestrator::RunStartedData =
        serde_json::from_value(schema["examples"][0].clone()).expect("examples[0] decodes");
    let meta = Meta {
        source: Some("/tests/http-auth".into()),
        subject: Some(format!("run/{}", uuid::Uuid::new_v4())),
        ..Meta::default()
    };
    prepare::<orchestrator::System, _>(data, &meta).expect("the example is publishable")
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: serde_json::Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    fn problem_type(&self) -> &str {
        self.body["type"].as_str().unwrap_or_default()
    }
}

async fn post(url: &str, headers: &[(&str, String)], body: &[u8]) -> Answer {
    let mut request = reqwest::Client::new().post(url).body(body.to_vec());
    request = request.header("content-type", "application/cloudevents+json");
    for (name, value) in headers {
        request = request.header(*name, value.as_str());
    }
    let response = tokio::time::timeout(Duration::from_secs(10), request.send())
        .await
        .expect("the server answers within 10 s")
        .expect("the server answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("answer body");
    let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    Answer {
        status,
        headers,
        body,
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The three Standard Webhooks headers for `body`, signed with `secret` at `timestamp`.
fn signed(secret: &str, id: &str, timestamp: u64, body: &[u8]) -> Vec<(&'static str, String)> {
    let signature = WebhookSecret::parse(secret)
        .expect("secret parses")
        .sign(id, timestamp, body);
    vec![
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signature),
    ]
}

fn assert_problem(answer: &Answer, status: u16, reason: &str) {
    assert_eq!(answer.status, status, "{:?}", answer.body);
    assert_eq!(
        answer.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(
        answer.problem_type(),
        format!("{PROBLEM_TYPE_BASE}{reason}"),
        "{:?}",
        answer.body
    );
    assert_eq!(answer.body["status"], status);
}

fn one_attempt(client: HttpSink) -> HttpSink {
    client.with_retry(RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    })
}

#[tokio::test]
async fn bearer_token_missing_wrong_and_right() {
    let running = start(Counter::default(), |s| {
        s.with_auth(IngestAuth::default().with_bearer(TOKEN).unwrap())
    })
    .await;
    let message = event();

    let missing = post(&running.url, &[], &message.payload).await;
    assert_problem(&missing, 401, "unauthenticated");
    assert_eq!(
        missing.header("www-authenticate"),
        Some("Bearer realm=\"ingest\"")
    );

    let wrong = post(
        &running.url,
        &[("authorization", "Bearer not-the-token".into())],
        &message.payload,
    )
    .await;
    assert_problem(&wrong, 401, "invalid-token");
    assert!(
        wrong
            .header("www-authenticate")
            .is_some_and(|c| c.contains("invalid_token")),
        "{:?}",
        wrong.headers
    );

    let basic = post(
        &running.url,
        &[("authorization", format!("Basic {TOKEN}"))],
        &message.payload,
    )
    .await;
    assert_problem(&basic, 401, "unauthenticated");

    // Garbage without a token: refused as unauthenticated, not read as a bad event.
    let garbage = post(&running.url, &[], b"{not json").await;
    assert_problem(&garbage, 401, "unauthenticated");
    assert_eq!(
        running.handled(),
        0,
        "no refused request reached the handler"
    );
    assert_eq!(running.dead_letters().await, 0, "nothing was dead-lettered");

    let client = one_attempt(HttpSink::new(&running.base).unwrap())
        .with_bearer(TOKEN)
        .unwrap();
    let result = client.post(&message).await.expect("the client is let in");
    assert_eq!(result.outcome, Outcome::Handled);
    assert_eq!(running.handled(), 1);

    let unauthenticated = one_attempt(HttpSink::new(&running.base).unwrap());
    match unauthenticated.post(&event()).await {
        Err(HttpError::Refused { status: 401, .. }) => {}
        other => panic!("a client without the token is refused with 401: {other:?}"),
    }
    assert_eq!(running.handled(), 1);
    assert_eq!(running.dead_letters().await, 0);
    assert!(!format!("{client:?}").contains(TOKEN), "{client:?}");
    running.shutdown.trigger();
}

#[tokio::test]
async fn webhook_signatures_are_verified_and_replays_refused() {
    let running = start(Counter::default(), |s| {
        s.with_auth(
            IngestAuth::default()
                .with_webhook_secret(SECRET)
                .unwrap()
                .with_tolerance(Duration::from_secs(2)),
        )
    })
    .await;
    let message = event();
    let body = &message.payload;

    let missing = post(&running.url, &[], body).await;
    assert_problem(&missing, 401, "unauthenticated");
    assert!(missing
        .header("www-authenticate")
        .is_some_and(|c| c.starts_with("Webhook")));

    let other_key = post(
        &running.url,
        &signed(OTHER_SECRET, "msg_1", now(), body),
        body,
    )
    .await;
    assert_problem(&other_key, 403, "invalid-signature");

    // Signed for one body, sent with another: the signature covers the bytes.
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let swapped = post(
        &running.url,
        &signed(SECRET, "msg_2", now(), body),
        &tampered,
    )
    .await;
    assert_problem(&swapped, 403, "invalid-signature");

    // The signature covers the id too.
    let mut other_id = signed(SECRET, "msg_3", now(), body);
    other_id[0].1 = "msg_4".into();
    assert_problem(
        &post(&running.url, &other_id, body).await,
        403,
        "invalid-signature",
    );

    let stale = post(
        &running.url,
        &signed(SECRET, "msg_5", now() - 600, body),
        body,
    )
    .await;
    assert_problem(&stale, 401, "stale-timestamp");
    let future = post(
        &running.url,
        &signed(SECRET, "msg_6", now() + 600, body),
        body,
    )
    .await;
    assert_problem(&future, 401, "stale-timestamp");
    let not_a_number = post(
        &running.url,
        &[
            ("webhook-id", "msg_7".into()),
            ("webhook-timestamp", "yesterday".into()),
            ("webhook-signature", "v1,AAAA".into()),
        ],
        body,
    )
    .await;
    assert_problem(&not_a_number, 401, "unauthenticated");
    assert_eq!(
        running.handled(),
        0,
        "no refused request reached the handler"
    );
    assert_eq!(running.dead_letters().await, 0, "nothing was dead-lettered");

    // A captured valid request is accepted once, and refused when replayed after the
    // tolerance.
    let captured = signed(SECRET, "msg_8", now(), body);
    let first = post(&running.url, &captured, body).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(running.handled(), 1);
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let replayed = post(&running.url, &captured, body).await;
    assert_problem(&replayed, 401, "stale-timestamp");

    // Several signatures (a key rotation): one valid among them is enough.
    let fresh = event();
    let mut rotated = signed(SECRET, "msg_9", now(), &fresh.payload);
    let old = signed(OTHER_SECRET, "msg_9", now(), &fresh.payload)[2]
        .1
        .clone();
    rotated[2].1 = format!("v2,unknown-scheme {old} {}", rotated[2].1);
    let answer = post(&running.url, &rotated, &fresh.payload).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);

    // The runtime's client signs each send.
    let client = one_attempt(HttpSink::new(&running.base).unwrap())
        .with_webhook_secret(SECRET)
        .unwrap();
    let result = client
        .post(&event())
        .await
        .expect("a signed send is let in");
    assert_eq!(result.outcome, Outcome::Handled);
    let batch = client
        .post_batch(&[event(), event()])
        .await
        .expect("a signed batch is let in");
    assert!(
        batch.iter().all(|r| r.outcome == Outcome::Handled),
        "{batch:?}"
    );
    let wrong = one_attempt(HttpSink::new(&running.base).unwrap())
        .with_webhook_secret(OTHER_SECRET)
        .unwrap();
    match wrong.post(&event()).await {
        Err(HttpError::Refused { status: 403, .. }) => {}
        other => panic!("a client signing with another key is refused with 403: {other:?}"),
    }
    assert_eq!(running.handled(), 5);
    assert_eq!(running.dead_letters().await, 0);
    running.shutdown.trigger();
}

#[tokio::test]
async fn bearer_and_signature_together() {
    let running = start(Counter::default(), |s| {
        s.with_auth(
            IngestAuth::default()
                .with_bearer(TOKEN)
                .unwrap()
                .with_webhook_secret(SECRET)
                .unwrap(),
        )
    })
    .await;
    let token_only = one_attempt(HttpSink::new(&running.base).unwrap())
        .with_bearer(TOKEN)
        .unwrap();
    match token_only.post(&event()).await {
        Err(HttpError::Refused { status: 401, .. }) => {}
        other => panic!("a token without a signature is refused: {other:?}"),
    }
    let both = token_only.with_webhook_secret(SECRET).unwrap();
    assert_eq!(
        both.post(&event()).await.expect("let in").outcome,
        Outcome::Handled
    );
    assert_eq!(running.handled(), 1);
    assert_eq!(running.dead_letters().await, 0);
    running.shutdown.trigger();
}

#[tokio::test]
async fn a_batch_over_the_limit_is_413_and_nothing_of_it_is_handled() {
    let running = start(Counter::default(), |s| s.with_batch_limit(3)).await;
    let client = one_attempt(HttpSink::new(&running.base).unwrap());
    let at_limit: Vec<Outgoing> = (0..3).map(|_| event()).collect();
    let results = client.post_batch(&at_limit).await.expect("3 events pass");
    assert_eq!(results.len(), 3);
    assert_eq!(running.handled(), 3);

    let over: Vec<Outgoing> = (0..4).map(|_| event()).collect();
    match client.post_batch(&over).await {
        Err(HttpError::Refused {
            status: 413,
            problem: Some(problem),
            ..
        }) => {
            assert_eq!(problem.kind, format!("{PROBLEM_TYPE_BASE}batch-too-large"));
            assert_eq!(problem.limit, Some(3), "{problem:?}");
            assert!(problem.detail.contains("4 events"), "{}", problem.detail);
        }
        other => panic!("a batch of 4 over a limit of 3 is 413: {other:?}"),
    }
    assert_eq!(
        running.handled(),
        3,
        "none of the refused batch was handled"
    );
    assert_eq!(running.dead_letters().await, 0);
    running.shutdown.trigger();
}

#[tokio::test]
async fn one_request_over_the_concurrency_limit_is_429_with_retry_after() {
    const MAX: usize = 3;
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let counter = Counter {
        gate: Some(gate.clone()),
        ..Counter::default()
    };
    let running = start(counter, |s| {
        s.with_concurrency_limit(MAX, Duration::from_millis(1500))
    })
    .await;
    let slow: Vec<_> = (0..MAX)
        .map(|_| {
            let url = running.url.clone();
            let message = event();
            tokio::spawn(async move { post(&url, &[], &message.payload).await })
        })
        .collect();
    // Wait until all MAX are inside the handler, holding their permits.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while running.counter.entered.load(Ordering::SeqCst) < MAX {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{MAX} slow requests reach the handler"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = std::time::Instant::now();
    let extra = post(&running.url, &[], &event().payload).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the extra request is refused at once, not queued"
    );
    assert_problem(&extra, 429, "too-many-requests");
    assert_eq!(extra.header("retry-after"), Some("2"), "1.5 s rounds up");
    assert_eq!(extra.header("x-retry-after-ms"), Some("1500"));
    assert_eq!(extra.body["limit"], MAX);

    gate.add_permits(MAX);
    for request in slow {
        let answer = request.await.expect("request task");
        assert_eq!(answer.status, 200, "{:?}", answer.body);
    }
    // The permits came back.
    gate.add_permits(1);
    let after = post(&running.url, &[], &event().payload).await;
    assert_eq!(after.status, 200, "{:?}", after.body);
    assert_eq!(running.handled(), MAX + 1);
    assert_eq!(running.dead_letters().await, 0);

    // The runtime's client waits the Retry-After and resends.
    running.counter.entered.store(0, Ordering::SeqCst);
    let slow: Vec<_> = (0..MAX)
        .map(|_| {
            let url = running.url.clone();
            let message = event();
            tokio::spawn(async move { post(&url, &[], &message.payload).await })
        })
        .collect();
    while running.counter.entered.load(Ordering::SeqCst) < MAX {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let client = HttpSink::new(&running.base)
        .unwrap()
        .with_retry(RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        });
    let resend = tokio::spawn({
        let message = event();
        async move { client.post(&message).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    gate.add_permits(MAX + 1);
    let result = resend
        .await
        .expect("client task")
        .expect("handled on a resend");
    assert_eq!(result.outcome, Outcome::Handled);
    for request in slow {
        assert_eq!(request.await.expect("request task").status, 200);
    }
    running.shutdown.trigger();
}
