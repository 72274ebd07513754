//! Kafka consumer lag on the real broker (tansu, `bash .ci/services.sh`), read from the
//! Prometheus exporter as `tests/prometheus.rs` does for Redis, and checked against what the
//! broker itself answers a client of the test's own: five records wait in a topic of two
//! partitions; while the handler holds the first one nothing is committed and the gauge is the
//! high watermarks minus the low ones (not zero); once all five are handled, the committed
//! offsets add up to five and the gauge says 0. Its own process: it installs the global
//! metrics recorder.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use event_contracts::livepeer;
use event_contracts::runtime::transport::kafka::{
    retry_topic, KafkaConfig, KafkaSink, KafkaSource,
};
use event_contracts::runtime::transport::metrics::CONSUMER_LAG;
use event_contracts::runtime::transport::{
    self, Context, Contract, Handle, HandlerResult, Meta, Policy, Publisher, Shutdown,
};
use event_contracts::Event;
use prometheus_parse::{Scrape, Value};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

#[allow(dead_code)]
#[path = "../examples/prometheus.rs"]
mod example;

const WAIT: Duration = Duration::from_secs(60);
const RECORDS: u64 = 5;

fn brokers() -> String {
    std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

/// Holds every message until `gate` opens; counts what it handled.
#[derive(Clone)]
struct Gated {
    gate: Arc<tokio::sync::watch::Sender<bool>>,
    handled: Arc<AtomicU64>,
}

impl<C: Contract> Handle<C> for Gated {
    async fn handle(&self, _message: C::Message, _context: &Context) -> HandlerResult {
        let _ = self.gate.subscribe().wait_for(|open| *open).await;
        self.handled.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// The lag gauge of `topic` for `group`, if the scrape has it.
fn lag(scrape: &Scrape, topic: &str, group: &str) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == CONSUMER_LAG
                && s.labels.get("messaging_system") == Some("kafka")
                && s.labels.get("destination") == Some(topic)
                && s.labels.get("group") == Some(group)
        })
        .map(|s| match s.value {
            Value::Gauge(v) | Value::Untyped(v) => v,
            ref other => panic!("{CONSUMER_LAG} is not a gauge: {other:?}"),
        })
}

fn scrape_lag(
    handle: &metrics_exporter_prometheus::PrometheusHandle,
    topic: &str,
    group: &str,
) -> Option<f64> {
    let text = handle.render();
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("parses");
    lag(&scrape, topic, group)
}

/// Waits until the gauge of `topic` reads what `want` computes from the broker's own answers
/// (asked again each round); fails with the last of both.
async fn wait_for_lag(
    handle: &metrics_exporter_prometheus::PrometheusHandle,
    topic: &str,
    group: &str,
    want: impl Fn(&[PartitionView]) -> Option<f64>,
) -> Vec<PartitionView> {
    let started = tokio::time::Instant::now();
    let mut last = (None, Vec::new());
    while started.elapsed() < WAIT {
        let view = broker_view(topic, group);
        let gauge = scrape_lag(handle, topic, group);
        if gauge.is_some() && gauge == want(&view) {
            return view;
        }
        last = (gauge, view);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    panic!(
        "the lag of {topic} for {group} never read what the broker implies within {WAIT:?}; \
         last gauge {:?}, expected {:?}, the broker's (partition, low, high, committed): {:?}",
        last.0,
        want(&last.1),
        last.1
    );
}

/// One partition as the broker reports it.
#[derive(Debug)]
struct PartitionView {
    // Shown by `Debug` in failure messages only.
    #[allow(dead_code)]
    partition: i32,
    low: i64,
    high: i64,
    /// The group's committed offset; `None` when it committed nothing there.
    committed: Option<i64>,
}

/// The lag a client computing high watermark − committed (or − low) gets from `view`.
fn implied(view: &[PartitionView]) -> Option<f64> {
    (!view.is_empty()).then(|| {
        view.iter()
            .map(|p| (p.high - p.committed.unwrap_or(p.low)).max(0) as f64)
            .sum()
    })
}

/// What the broker answers for each partition of `topic`, asked by a client of the test's
/// own (never the binding's): watermarks (`ListOffsets`) and `group`'s committed offsets
/// (`OffsetFetch`). A partition it does not answer for is left out.
fn broker_view(topic: &str, group: &str) -> Vec<PartitionView> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", group)
        .create()
        .expect("a raw Kafka consumer");
    let timeout = Duration::from_secs(5);
    let Ok(metadata) = consumer.fetch_metadata(Some(topic), timeout) else {
        return Vec::new();
    };
    let mut tpl = TopicPartitionList::new();
    for t in metadata.topics() {
        for p in t.partitions() {
            tpl.add_partition(topic, p.id());
        }
    }
    let Ok(committed) = consumer.committed_offsets(tpl, timeout) else {
        return Vec::new();
    };
    committed
        .elements()
        .iter()
        .filter_map(|e| {
            let (low, high) = consumer
                .fetch_watermarks(topic, e.partition(), timeout)
                .ok()?;
            Some(PartitionView {
                partition: e.partition(),
                low,
                high,
                committed: match e.offset() {
                    Offset::Offset(o) => Some(o),
                    _ => None,
                },
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_reports_committed_versus_high_watermark() {
    let handle = example::install_recorder().expect("the only recorder in this process");
    let run = uuid::Uuid::new_v4().simple().to_string();
    let topic = format!("lag-{}", &run[..12]);
    let group = format!("lag-group-{}", &run[..12]);
    let config = KafkaConfig::new(brokers())
        .set("session.timeout.ms", "2000")
        .set("heartbeat.interval.ms", "300")
        .with_partitions(2);
    config
        .ensure_topics(&[&topic])
        .await
        .unwrap_or_else(|e| panic!("Kafka must run (bash .ci/services.sh): {e}"));
    let sink = KafkaSink::connect(&config)
        .await
        .expect("sink connects")
        .with_topic(&topic);
    let publisher = Publisher::<livepeer::System, _>::new(
        sink,
        Meta {
            source: Some("gateway-nyc.test:8935".into()),
            ..Meta::default()
        },
    );
    for _ in 0..RECORDS {
        let event = livepeer::StreamTrace::examples()
            .expect("examples decode")
            .remove(0);
        publisher.publish(event).await.expect("publishes");
    }

    let source = KafkaSource::connect(&config, &group, &[&topic])
        .await
        .expect("source connects");
    let gated = Gated {
        gate: Arc::new(tokio::sync::watch::channel(false).0),
        handled: Arc::default(),
    };
    let policy = Policy::new(group.as_str());
    let shutdown = Shutdown::new();
    let consumer = {
        let (gated, shutdown) = (gated.clone(), shutdown.clone());
        tokio::spawn(async move {
            transport::run::<livepeer::System, _, _, _>(source, &gated, &policy, &shutdown).await
        })
    };

    // The first record is in the handler, none is committed: the gauge is what the broker's
    // watermarks and (absent) committed offsets imply, and not zero. Against Apache Kafka that
    // is all five records; tansu 0.6 answers ListOffsets with a high watermark that stays
    // behind what it stored (1 per partition here), so only "not zero" is asserted beside it.
    let held = wait_for_lag(&handle, &topic, &group, |view| {
        implied(view).filter(|lag| *lag > 0.0)
    })
    .await;
    assert!(held.iter().all(|p| p.committed.is_none()), "{held:?}");
    if held.iter().map(|p| p.high - p.low).sum::<i64>() == RECORDS as i64 {
        assert_eq!(scrape_lag(&handle, &topic, &group), Some(RECORDS as f64));
    }
    gated.gate.send_replace(true);
    let started = tokio::time::Instant::now();
    while gated.handled.load(Ordering::SeqCst) < RECORDS {
        assert!(
            started.elapsed() < WAIT,
            "the five records were not handled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Committed after each ack: all five records are behind the committed offsets, and
    // nothing is behind on the topic or its retry topic.
    let settled = wait_for_lag(&handle, &topic, &group, |view| {
        let committed: i64 = view.iter().filter_map(|p| p.committed).sum();
        (committed == RECORDS as i64).then_some(0.0)
    })
    .await;
    assert_eq!(implied(&settled), Some(0.0), "{settled:?}");
    let retry = retry_topic(&topic, &group);
    wait_for_lag(&handle, &retry, &group, |_| Some(0.0)).await;

    shutdown.trigger();
    let stats = consumer
        .await
        .expect("the consumer task")
        .expect("the consumer runs without transport errors");
    assert_eq!(stats.handled, RECORDS, "{stats:?}");
}
