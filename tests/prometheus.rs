//! The consumer metrics as Prometheus scrapes them: `examples/prometheus.rs`'s recorder and
//! `/metrics` route, served on an ephemeral port while a real Redis consumer handles one
//! message, retries one that then succeeds, dead-letters one that keeps failing and one that
//! is not JSON; the exposition is fetched over HTTP and read back with `prometheus-parse`.
//! The same run checks the consumer's live statistics while it runs.
//!
//! Its own Redis namespace (`prom-<random>:`), deleted at the end.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use event_contracts::audio::{self, AudioChunkReceived};
use event_contracts::runtime::transport::redis::{RedisConfig, RedisSink, RedisSource};
use event_contracts::runtime::transport::trace::TraceParent;
use event_contracts::runtime::transport::{
    self, Context, Contract, Handle, HandlerError, HandlerResult, Headers, Meta, Outgoing, Policy,
    Publisher, RetryPolicy, Shutdown, Sink, Source, Stats,
};
use event_contracts::Event;
use prometheus_parse::{Sample, Scrape, Value};

// The example's `main` and its handler are not used here: only its recorder and route.
#[allow(dead_code)]
#[path = "../examples/prometheus.rs"]
mod example;

const WAIT: Duration = Duration::from_secs(30);
const GROUP: &str = "audio-pipeline";

fn example_event<E: Event>() -> E {
    let schema = event_contracts::SCHEMAS
        .documents()
        .get(E::SCHEMA_ID)
        .expect("schema embedded")
        .clone();
    serde_json::from_value(schema["examples"][0].clone()).expect("example decodes")
}

/// Fails a message (told apart by its trace id) a number of times, or always (`u32::MAX`).
#[derive(Clone, Default)]
struct Scripted {
    failures: Arc<Mutex<HashMap<String, u32>>>,
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

/// The one sample of `metric` whose labels include every pair of `labels`.
fn sample<'a>(scrape: &'a Scrape, metric: &str, labels: &[(&str, &str)]) -> &'a Sample {
    let found: Vec<&Sample> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one {metric} sample with {labels:?}; the scrape has {:#?}",
        scrape
            .samples
            .iter()
            .map(|s| (&s.metric, &s.labels, &s.value))
            .collect::<Vec<_>>()
    );
    found[0]
}

fn number(sample: &Sample) -> f64 {
    match &sample.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
        other => panic!("{} is not a number: {other:?}", sample.metric),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_metrics_are_served_in_prometheus_text_format() {
    let handle = example::install_recorder().expect("the only recorder in this process");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("ephemeral port");
    let metrics_url = format!("http://{}/metrics", listener.local_addr().unwrap());
    tokio::spawn(example::serve(listener, handle));

    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let random = uuid::Uuid::new_v4().simple().to_string();
    let options = RedisConfig::new(url).with_namespace(format!("prom-{}:", &random[..12]));
    let sink = RedisSink::connect(&options)
        .await
        .expect("Redis must run (bash .ci/services.sh)");
    let publisher = Publisher::<audio::System, _>::new(
        sink,
        Meta {
            source: Some("prometheus-test".into()),
            ..Meta::default()
        },
    );
    let handler = Scripted::default();
    let traces: Vec<TraceParent> = (0..3).map(|_| TraceParent::new_root()).collect();
    // The first is handled at once, the second after one retry, the third never.
    handler.failures.lock().unwrap().extend([
        (traces[1].trace_id.clone(), 1),
        (traces[2].trace_id.clone(), u32::MAX),
    ]);
    for trace in &traces {
        publisher
            .publish_with(
                example_event::<AudioChunkReceived>(),
                &Meta {
                    traceparent: Some(trace.to_string()),
                    ..Meta::default()
                },
            )
            .await
            .expect("publishes");
    }
    // Not JSON: a decode failure, dead-lettered as malformed.
    publisher
        .sink()
        .send(Outgoing {
            channel: "stream:audio-ingest".into(),
            key: None,
            message_id: "not-json".into(),
            payload: b"{not json".to_vec(),
            headers: Headers::default(),
        })
        .await
        .expect("raw entry");

    let config = options
        .clone()
        .with_consumer("c1")
        .with_block(Duration::from_millis(100))
        .with_claim_idle(Duration::from_secs(10));
    let source = RedisSource::for_group::<audio::System>(&config, GROUP)
        .await
        .expect("source connects");
    let policy = Policy::new(GROUP).with_retry(RetryPolicy {
        max_attempts: 2,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(50),
        ..RetryPolicy::default()
    });
    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
    let (live, mut watched) = tokio::sync::watch::channel(Stats::default());
    let done = |s: &Stats| s.handled >= 2 && s.dead_lettered >= 2;
    let observer = async move {
        // Live statistics: seen while the consumer still runs, before anything stops it.
        let reached = tokio::time::timeout(WAIT, watched.wait_for(done))
            .await
            .ok()
            .and_then(|stats| stats.ok().map(|stats| *stats));
        stop.trigger();
        reached
    };
    let (ended, live_stats) = tokio::join!(
        transport::run_with_stats::<audio::System, _, _, _>(
            source, &handler, &policy, &shutdown, &live
        ),
        observer
    );
    let ended = ended.expect("the consumer runs without transport errors");
    let live_stats = live_stats.unwrap_or_else(|| {
        panic!("timed out after {WAIT:?} waiting for the live statistics: {ended:?}")
    });
    let expected = Stats {
        handled: 2,
        skipped: 0,
        retried: 2,
        dead_lettered: 2,
    };
    assert_eq!(live_stats, expected, "what the running consumer published");
    assert_eq!(ended, expected, "what run returned");

    // A fresh source of the group reports the lag before its first read: all settled.
    let mut probe = RedisSource::for_group::<audio::System>(
        &options
            .clone()
            .with_consumer("probe")
            .with_block(Duration::from_millis(100)),
        GROUP,
    )
    .await
    .expect("probe connects");
    let _ = tokio::time::timeout(Duration::from_millis(300), probe.next()).await;

    let response = reqwest::get(&metrics_url).await.expect("scrape");
    assert!(response.status().is_success(), "{}", response.status());
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let body = response.text().await.expect("body");
    let scrape = Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).expect("a valid exposition");
    let ours = [
        ("group", GROUP),
        ("system", "audio"),
        ("messaging_system", "redis"),
    ];
    let count = |metric: &str, extra: &[(&str, &str)]| {
        let labels: Vec<(&str, &str)> = ours.iter().chain(extra).copied().collect();
        number(sample(&scrape, metric, &labels))
    };
    assert_eq!(count("event_contracts_messages_handled_total", &[]), 2.0);
    assert_eq!(count("event_contracts_messages_retried_total", &[]), 2.0);
    assert_eq!(
        count(
            "event_contracts_messages_dead_lettered_total",
            &[("reason", "retries-exhausted")]
        ),
        1.0
    );
    assert_eq!(
        count(
            "event_contracts_messages_dead_lettered_total",
            &[("reason", "malformed"), ("event", "unknown")]
        ),
        1.0
    );
    assert_eq!(
        count(
            "event_contracts_decode_failures_total",
            &[("reason", "malformed")]
        ),
        1.0
    );
    // Five handler calls: one, two (fail, succeed), two (fail, fail at the limit).
    assert_eq!(
        count("event_contracts_handler_duration_seconds_count", &[]),
        5.0
    );
    let Value::Histogram(buckets) =
        &sample(&scrape, "event_contracts_handler_duration_seconds", &ours).value
    else {
        panic!("handler durations are a histogram");
    };
    let infinite = buckets
        .iter()
        .find(|b| b.less_than == f64::INFINITY)
        .expect("a +Inf bucket");
    assert_eq!(infinite.count, 5.0);
    let lag = sample(
        &scrape,
        "event_contracts_consumer_lag",
        &[("group", GROUP), ("messaging_system", "redis")],
    );
    assert_eq!(number(lag), 0.0, "everything was consumed");

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
