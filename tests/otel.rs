//! OpenTelemetry spans across the real brokers (the runtime's feature `otel`, enabled for the
//! suite), recorded by the SDK's in-memory span exporter behind `tracing-opentelemetry`.
//!
//! For Redis Streams, RabbitMQ, NATS JetStream and Kafka: two messages are published, each
//! under its own remote trace; the first fails once then succeeds, the second always fails
//! and is dead-lettered at the retry limit (2 attempts). Then, per message: the publish span
//! (PRODUCER, `send {destination}`) is the child of the trace it was given, every process
//! span (CONSUMER, `process {destination}`) is the child of that publish span across the
//! broker, each attempt is its own span carrying its number, the failed attempt and the
//! dead letter have error status with `error.type`, and the messaging attributes are set.
//!
//! Every test uses its own names (namespace, exchange, topic, group), so parallel runs never
//! collide; the spans of a test are told apart by their trace ids.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use event_contracts::runtime::transport::trace::TraceParent;
use event_contracts::runtime::transport::{
    self, Context, Contract, Handle, HandlerError, HandlerResult, Meta, Policy, RetryPolicy,
    Shutdown, Source, Stats,
};
use event_contracts::Event;
use opentelemetry::trace::{SpanKind, Status, TracerProvider as _};
use opentelemetry::Value;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing_subscriber::layer::SubscriberExt;

const WAIT: Duration = Duration::from_secs(30);
const MAX_ATTEMPTS: u32 = 2;

/// The process-wide exporter: one global subscriber with the OpenTelemetry layer, installed
/// by the first test that asks.
fn exporter() -> &'static InMemorySpanExporter {
    static EXPORTER: OnceLock<InMemorySpanExporter> = OnceLock::new();
    EXPORTER.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let tracer = provider.tracer("event-contracts-otel-tests");
        let subscriber =
            tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer));
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other global subscriber in this test process");
        // The provider lives as long as the process: dropping it would shut the exporter down.
        std::mem::forget(provider);
        exporter
    })
}

fn example<E: Event>() -> E {
    let schema = event_contracts::SCHEMAS
        .documents()
        .get(E::SCHEMA_ID)
        .expect("schema embedded")
        .clone();
    serde_json::from_value(schema["examples"][0].clone()).expect("example decodes")
}

fn unique(prefix: &str) -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}{}", &random[..10])
}

/// Fails a message (told apart by its trace id) a number of times, or always (`u32::MAX`).
#[derive(Clone, Default)]
struct Scripted {
    failures: Arc<Mutex<HashMap<String, u32>>>,
}

impl Scripted {
    fn fail(&self, trace: &TraceParent, times: u32) {
        self.failures
            .lock()
            .unwrap()
            .insert(trace.trace_id.clone(), times);
    }
}

impl<C: Contract> Handle<C> for Scripted {
    async fn handle(&self, _message: C::Message, context: &Context) -> HandlerResult {
        let trace_id = context
            .traceparent
            .as_deref()
            .and_then(TraceParent::parse)
            .map(|t| t.trace_id)
            .unwrap_or_default();
        let mut failures = self.failures.lock().unwrap();
        match failures.get_mut(&trace_id) {
            Some(left) if *left > 0 => {
                if *left != u32::MAX {
                    *left -= 1;
                }
                Err(HandlerError::retry("downstream is not reachable yet"))
            }
            _ => Ok(()),
        }
    }
}

/// Two messages' traces: `ok` fails once then succeeds, `dead` always fails.
struct Plan {
    ok: TraceParent,
    dead: TraceParent,
    handler: Scripted,
}

impl Plan {
    fn new() -> Self {
        exporter();
        let plan = Self {
            ok: TraceParent::new_root(),
            dead: TraceParent::new_root(),
            handler: Scripted::default(),
        };
        plan.handler.fail(&plan.ok, 1);
        plan.handler.fail(&plan.dead, u32::MAX);
        plan
    }

    fn meta(trace: &TraceParent) -> Meta {
        Meta {
            source: Some("otel-tests".into()),
            traceparent: Some(trace.to_string()),
            ..Meta::default()
        }
    }

    /// Consumes with group `group` until one message was handled and one dead-lettered,
    /// watching the consumer's live statistics.
    async fn consume<C: Contract, S: Source>(&self, source: S, group: &str) -> Stats {
        let policy = Policy::new(group).with_retry(RetryPolicy {
            max_attempts: MAX_ATTEMPTS,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(50),
            ..RetryPolicy::default()
        });
        let shutdown = Shutdown::new();
        let stop = shutdown.clone();
        let (live, mut watched) = tokio::sync::watch::channel(Stats::default());
        let watcher = async move {
            let reached = tokio::time::timeout(
                WAIT,
                watched.wait_for(|s| s.handled >= 1 && s.dead_lettered >= 1),
            )
            .await
            .is_ok();
            stop.trigger();
            reached
        };
        let (stats, reached) = tokio::join!(
            transport::run_with_stats::<C, _, _, _>(
                source,
                &self.handler,
                &policy,
                &shutdown,
                &live
            ),
            watcher
        );
        let stats = stats.expect("the consumer runs without transport errors");
        assert!(
            reached,
            "timed out after {WAIT:?} waiting for a handled message and a dead letter: {stats:?}"
        );
        stats
    }

    /// Checks both messages' spans.
    fn check(&self, messaging_system: &str, group: &str) {
        let spans = exporter()
            .get_finished_spans()
            .expect("the in-memory exporter answers");
        let ok = Trace::of(&spans, &self.ok, messaging_system, group);
        ok.assert_attempts(&[("retry", true), ("ack", false)]);
        let dead = Trace::of(&spans, &self.dead, messaging_system, group);
        dead.assert_attempts(&[("retry", true), ("dead_letter", true)]);
        let last = dead.process.last().expect("process spans");
        assert_eq!(
            attr(last, "error.type").as_deref(),
            Some("retries-exhausted"),
            "{last:#?}"
        );
        assert_eq!(
            attr(last, "event_contracts.dead_letter.reason").as_deref(),
            Some("retries-exhausted")
        );
    }
}

fn attr(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| match &kv.value {
            Value::String(s) => s.as_str().to_owned(),
            other => other.to_string(),
        })
}

/// One message's spans: its publish span and its process spans in attempt order.
struct Trace<'a> {
    publish: &'a SpanData,
    process: Vec<&'a SpanData>,
}

impl<'a> Trace<'a> {
    fn of(spans: &'a [SpanData], root: &TraceParent, messaging_system: &str, group: &str) -> Self {
        let ours: Vec<&SpanData> = spans
            .iter()
            .filter(|s| s.span_context.trace_id().to_string() == root.trace_id)
            .collect();
        let publishes: Vec<&SpanData> = ours
            .iter()
            .copied()
            .filter(|s| s.span_kind == SpanKind::Producer)
            .collect();
        assert_eq!(publishes.len(), 1, "one publish span: {ours:#?}");
        let publish = publishes[0];
        assert_eq!(
            publish.parent_span_id.to_string(),
            root.parent_id,
            "the publish span is the child of the trace it was given"
        );
        let destination = attr(publish, "messaging.destination.name").expect("destination");
        assert_eq!(publish.name, format!("send {destination}"));
        assert_eq!(
            attr(publish, "messaging.system").as_deref(),
            Some(messaging_system)
        );
        assert_eq!(
            attr(publish, "messaging.operation.type").as_deref(),
            Some("send")
        );
        assert!(
            attr(publish, "messaging.message.id").is_some(),
            "{publish:#?}"
        );

        let mut process: Vec<&SpanData> = ours
            .iter()
            .copied()
            .filter(|s| s.span_kind == SpanKind::Consumer)
            .collect();
        process.sort_by_key(|s| attr(s, "event_contracts.attempt"));
        for span in &process {
            assert_eq!(
                span.parent_span_id,
                publish.span_context.span_id(),
                "a process span is the child of the publish span across the broker: {span:#?}"
            );
            let destination = attr(span, "messaging.destination.name").expect("destination");
            assert_eq!(span.name, format!("process {destination}"));
            assert_eq!(
                attr(span, "messaging.system").as_deref(),
                Some(messaging_system)
            );
            assert_eq!(
                attr(span, "messaging.operation.type").as_deref(),
                Some("process")
            );
            assert_eq!(
                attr(span, "messaging.consumer.group.name").as_deref(),
                Some(group)
            );
            assert!(attr(span, "event_contracts.event").is_some(), "{span:#?}");
        }
        Self { publish, process }
    }

    /// Attempt `n + 1` ended with `outcomes[n]` (outcome, error status).
    fn assert_attempts(&self, outcomes: &[(&str, bool)]) {
        let seen: Vec<(String, String, bool)> = self
            .process
            .iter()
            .map(|s| {
                (
                    attr(s, "event_contracts.attempt").unwrap_or_default(),
                    attr(s, "event_contracts.outcome").unwrap_or_default(),
                    matches!(s.status, Status::Error { .. }),
                )
            })
            .collect();
        let expected: Vec<(String, String, bool)> = outcomes
            .iter()
            .enumerate()
            .map(|(n, (outcome, error))| ((n + 1).to_string(), (*outcome).to_owned(), *error))
            .collect();
        assert_eq!(
            seen, expected,
            "(attempt, outcome, error status) per process span of {:?}",
            self.publish.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_consumer_spans_are_children_of_the_producer_span() {
    use event_contracts::audio::{self, AudioChunkReceived};
    use event_contracts::runtime::transport::redis::{RedisConfig, RedisSink, RedisSource};
    let plan = Plan::new();
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let options = RedisConfig::new(url).with_namespace(format!("{}:", unique("otel-")));
    let sink = RedisSink::connect(&options)
        .await
        .expect("Redis must run (bash .ci/services.sh)");
    let publisher = transport::Publisher::<audio::System, _>::new(
        sink,
        Meta {
            source: Some("otel-tests".into()),
            ..Meta::default()
        },
    );
    for trace in [&plan.ok, &plan.dead] {
        publisher
            .publish_with(example::<AudioChunkReceived>(), &Plan::meta(trace))
            .await
            .expect("publishes");
    }
    let config = options
        .clone()
        .with_consumer("c1")
        .with_block(Duration::from_millis(100))
        .with_claim_idle(Duration::from_secs(10));
    let source = RedisSource::for_group::<audio::System>(&config, "audio-pipeline")
        .await
        .expect("source connects");
    plan.consume::<audio::System, _>(source, "audio-pipeline")
        .await;
    plan.check("redis", "audio-pipeline");
    let client = redis::Client::open(options.url.as_str()).expect("url");
    let mut raw = client
        .get_multiplexed_async_connection()
        .await
        .expect("raw connection");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}*", options.namespace))
        .query_async(&mut raw)
        .await
        .expect("KEYS");
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut raw)
            .await
            .expect("DEL");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_consumer_spans_are_children_of_the_producer_span() {
    use event_contracts::agents;
    use event_contracts::runtime::transport::nats::{
        NatsConfig, NatsSink, NatsSource, NatsTransport,
    };
    let plan = Plan::new();
    let ns: String = unique("t").chars().take(13).collect();
    let config = NatsConfig {
        ack_wait: Duration::from_secs(1),
        ..NatsConfig::namespaced("nats://127.0.0.1:4222", &ns)
    };
    let retry = RetryPolicy {
        max_attempts: MAX_ATTEMPTS,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(50),
        ..RetryPolicy::default()
    };
    let config = config.with_retry(&retry);
    let source = NatsSource::for_group::<agents::System>(&config, "analytics-service")
        .await
        .expect("NATS JetStream must run (bash .ci/services.sh)");
    let sink = NatsSink::connect(&config).await.expect("sink connects");
    let publisher = transport::Publisher::<agents::System, _>::new(sink, Meta::default());
    publisher
        .publish_with(
            example::<agents::IngestDocumentProcessed>(),
            &Plan::meta(&plan.ok),
        )
        .await
        .expect("publishes");
    publisher
        .publish_with(
            example::<agents::IngestDocumentFailed>(),
            &Plan::meta(&plan.dead),
        )
        .await
        .expect("publishes");
    plan.consume::<agents::System, _>(source, "analytics-service")
        .await;
    plan.check("nats", "analytics-service");
    NatsTransport::connect(&config)
        .await
        .expect("connects")
        .delete_streams::<agents::System>()
        .await
        .expect("cleanup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_consumer_spans_are_children_of_the_producer_span() {
    use event_contracts::dam;
    use event_contracts::runtime::transport::amqp::{AmqpBroker, AmqpConfig};
    use event_contracts::runtime::transport::ConsumerGroup;
    let plan = Plan::new();
    let uri = std::env::var("AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    let mut config = AmqpConfig::new(uri).with_exchange(unique("test-otel-"));
    config.connect_timeout = Duration::from_secs(5);
    let broker = AmqpBroker::connect(&config)
        .await
        .expect("RabbitMQ must run (bash .ci/services.sh)");
    let groups = [ConsumerGroup {
        name: "video-api",
        binds: &["capture.*"],
        description: "otel test group",
    }];
    broker.declare_groups(&groups).await.expect("topology");
    let publisher = transport::Publisher::<dam::System, _>::new(
        broker.sink().await.expect("publisher connects"),
        Meta::default(),
    );
    publisher
        .publish_with(example::<dam::CaptureAlive>(), &Plan::meta(&plan.ok))
        .await
        .expect("publishes");
    publisher
        .publish_with(example::<dam::CaptureError>(), &Plan::meta(&plan.dead))
        .await
        .expect("publishes");
    let source = broker.source("video-api").await.expect("consumer starts");
    plan.consume::<dam::System, _>(source, "video-api").await;
    plan.check("rabbitmq", "video-api");
    broker.delete_groups(&groups).await.expect("cleanup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_consumer_spans_are_children_of_the_producer_span() {
    use event_contracts::livepeer;
    use event_contracts::runtime::transport::kafka::{KafkaConfig, KafkaSink, KafkaSource};
    let plan = Plan::new();
    let brokers = std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let config = KafkaConfig::new(brokers)
        .set("session.timeout.ms", "2000")
        .set("heartbeat.interval.ms", "300")
        .with_partitions(1);
    let topic = unique("otel-lp-");
    let group = unique("otel-analytics-");
    let source = KafkaSource::connect(&config, &group, &[topic.as_str()])
        .await
        .expect("Kafka must run (bash .ci/services.sh)");
    let sink = KafkaSink::connect(&config)
        .await
        .expect("Kafka must run (bash .ci/services.sh)")
        .with_topic(&topic);
    let publisher = transport::Publisher::<livepeer::System, _>::new(
        sink,
        Meta {
            source: Some("gateway-nyc.test:8935".into()),
            ..Meta::default()
        },
    );
    for trace in [&plan.ok, &plan.dead] {
        let mut meta = Plan::meta(trace);
        meta.source = Some("gateway-nyc.test:8935".into());
        publisher
            .publish_with(example::<livepeer::StreamTrace>(), &meta)
            .await
            .expect("publishes");
    }
    plan.consume::<livepeer::System, _>(source, &group).await;
    plan.check("kafka", &group);
}

/// HTTP has no broker loop: the ingest server decides each request with `process`, and the
/// client retries a `503` with the next attempt number; the dead letter is the `422` answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_consumer_spans_are_children_of_the_producer_span() {
    use event_contracts::orchestrator;
    use event_contracts::runtime::transport::http::{
        HttpConfig, HttpSink, IngestServer, MemoryStore,
    };
    let plan = Plan::new();
    let retry = RetryPolicy {
        max_attempts: MAX_ATTEMPTS,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        ..RetryPolicy::default()
    };
    let group = unique("otel-ingest-");
    let server = IngestServer::<orchestrator::System, _, _, _>::new(
        plan.handler.clone(),
        MemoryStore::new(),
        Policy::new(group.as_str()).with_retry(retry.clone()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind an ephemeral port on 127.0.0.1");
    let base = format!("http://{}", listener.local_addr().expect("local address"));
    let shutdown = Shutdown::new();
    let serving = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { server.serve(listener, shutdown).await }
    });
    let client = HttpSink::connect(&HttpConfig::new(&base).with_retry(retry))
        .await
        .expect("client builds");
    let publisher = transport::Publisher::<orchestrator::System, _>::new(client, Meta::default());
    let meta = |trace: &TraceParent| Meta {
        subject: Some(format!("run/{}", uuid::Uuid::new_v4())),
        ..Plan::meta(trace)
    };
    publisher
        .publish_with(example::<orchestrator::RunStartedData>(), &meta(&plan.ok))
        .await
        .expect("handled on the second attempt");
    publisher
        .publish_with(example::<orchestrator::RunStartedData>(), &meta(&plan.dead))
        .await
        .expect_err("dead-lettered: the server answers 422");
    plan.check("http", &group);
    shutdown.trigger();
    serving
        .await
        .expect("the server task does not panic")
        .expect("the server ends without error");
}
