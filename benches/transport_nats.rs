//! NATS JetStream: the binding vs the raw `async-nats` client doing the same work on the same
//! server in the same run (`cargo bench --bench transport_nats`; NATS on `NATS_URL`, default
//! `nats://127.0.0.1:4222`).
//!
//! - publish: the same pre-encoded `orchestrator.step.started` message, one at a time, each
//!   awaited until its PubAck (the binding's confirmation), with the same headers
//!   (`Nats-Msg-Id` unique per message, `traceparent`, `content-type`); binding = `NatsSink`,
//!   raw = `jetstream::Context::send_publish`.
//! - consume: a durable pull consumer each (same filter, batch, ack policy), every message
//!   decoded and validated by the generated `agents` decoder, then acked: the two publish
//!   batches and `FILL` more published (untimed) so that each phase lasts long enough to
//!   measure; binding =
//!   `transport::run` over `NatsSource` with a typed handler, raw = the pull stream, decode,
//!   `ack()`.
//!
//! Rounds interleave binding and raw (each side first in half of them); reported are each
//! side's median events/s and the binding/raw ratio of each round, its median [min–max] and its
//! median by which side went first (1.00 = no overhead).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::message::PublishMessage;
use event_contracts::agents::{self, AgentsEvent};
use event_contracts::runtime::transport::nats::{NatsConfig, NatsTransport, MSG_ID_HEADER};
use event_contracts::runtime::transport::{
    self, Context, Contract, HandlerResult, Outgoing, Policy, RetryPolicy, Shutdown, Sink,
};
use event_contracts::Event;
use futures_util::StreamExt;

#[path = "support/rounds.rs"]
mod rounds;
use rounds::report_binding_raw;

const N: usize = 2000;
/// Even, so that each side goes first in half the rounds.
const ROUNDS: usize = 8;
/// Messages published untimed each round, pipelined, on top of the two timed batches: with
/// only those (4,000, about 35 ms of consuming) the per-round consume ratio ranged over
/// 0.71–1.67 in one run, too wide to see a few percent.
const FILL: usize = 20_000;
/// What each consumer reads in a round: both timed batches and the fill.
const CONSUMED: usize = 2 * N + FILL;
const GROUP: &str = "usage-metering";
const BATCH: usize = 64;
/// Both consumers' pull requests; each round waits this out (untimed) so no request of the
/// previous round's dropped consumers is still open on the server.
const PULL_EXPIRES: Duration = Duration::from_secs(1);

fn example<E: Event>() -> E {
    let schema = event_contracts::SCHEMAS
        .documents()
        .get(E::SCHEMA_ID)
        .expect("schema embedded")
        .clone();
    serde_json::from_value(schema["examples"][0].clone()).expect("example decodes")
}

/// Counts handled events; stops the consumer at [`CONSUMED`] (one round's messages).
#[derive(Clone)]
struct Count(Arc<AtomicUsize>, Shutdown);

impl agents::Handler for Count {
    async fn orchestrator_step_started(
        &self,
        event: agents::OrchestratorStepStarted,
        _context: &Context,
    ) -> HandlerResult {
        std::hint::black_box(event);
        if self.0.fetch_add(1, Ordering::SeqCst) + 1 >= CONSUMED {
            self.1.trigger();
        }
        Ok(())
    }
}

fn batch_of(template: &Outgoing, n: usize) -> Vec<Outgoing> {
    (0..n)
        .map(|_| Outgoing {
            message_id: uuid::Uuid::new_v4().to_string(),
            ..template.clone()
        })
        .collect()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let ns = format!("bench{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let retry = RetryPolicy::default();
    let nats = NatsTransport::connect(&NatsConfig {
        batch: BATCH,
        pull_expires: PULL_EXPIRES,
        ..NatsConfig::namespaced(url.clone(), &ns)
    })
    .await
    .unwrap_or_else(|e| panic!("NATS must run on {url} (`bash .ci/services.sh`): {e}"));
    nats.setup::<agents::System>(&retry).await.expect("setup");
    // The producer side is its own service: its own connection, as the raw client's
    // publisher below has its own context.
    let sink = NatsTransport::connect(nats.config())
        .await
        .expect("producer connection")
        .sink();

    let client = async_nats::connect(url.as_str()).await.expect("raw client");
    let js = async_nats::jetstream::new(client);
    let stream_name = nats.stream_name("ORCHESTRATOR");
    let stream = js.get_stream(&stream_name).await.expect("stream");
    let raw_consumer = stream
        .get_or_create_consumer(
            "raw-bench",
            pull::Config {
                durable_name: Some("raw-bench".into()),
                filter_subject: nats.subject("orchestrator.step.>"),
                deliver_policy: DeliverPolicy::All,
                ack_policy: AckPolicy::Explicit,
                ack_wait: nats.config().ack_wait,
                max_deliver: i64::from(retry.max_attempts),
                ..Default::default()
            },
        )
        .await
        .expect("raw durable");

    let event: agents::OrchestratorStepStarted = example();
    let mut template =
        <agents::System as Contract>::outgoing(&AgentsEvent::OrchestratorStepStarted(event))
            .expect("encodes");
    template.headers.insert(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    );
    let subject = nats.subject(&template.channel);
    let raw_headers = |message: &Outgoing| {
        let mut h = async_nats::HeaderMap::new();
        for (name, value) in message.headers.iter() {
            h.append(name, String::from_utf8_lossy(value).into_owned());
        }
        h.insert(MSG_ID_HEADER, message.message_id.as_str());
        h
    };

    let (mut pub_binding, mut pub_raw, mut con_binding, mut con_raw) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let started = Instant::now();
    for round in 0..ROUNDS {
        tokio::time::sleep(PULL_EXPIRES + Duration::from_millis(200)).await;
        // Publish, binding and raw, alternating which goes first. Both consumers get both
        // batches: 2N to consume each below.
        let binding_batch = batch_of(&template, N);
        let raw_batch = batch_of(&template, N);
        let publish_binding = || {
            let sink = sink.clone();
            let batch = binding_batch.clone();
            async move {
                let t = Instant::now();
                for message in batch {
                    sink.send(message).await.expect("binding publish confirmed");
                }
                N as f64 / t.elapsed().as_secs_f64()
            }
        };
        let publish_raw = || {
            let js = js.clone();
            let batch = raw_batch.clone();
            let subject = subject.clone();
            async move {
                let t = Instant::now();
                for message in batch {
                    let headers = raw_headers(&message);
                    js.send_publish(
                        subject.clone(),
                        PublishMessage::build()
                            .payload(message.payload.into())
                            .headers(headers),
                    )
                    .await
                    .expect("raw publish sent")
                    .await
                    .expect("raw publish confirmed");
                }
                N as f64 / t.elapsed().as_secs_f64()
            }
        };
        if round % 2 == 0 {
            pub_binding.push(publish_binding().await);
            pub_raw.push(publish_raw().await);
        } else {
            pub_raw.push(publish_raw().await);
            pub_binding.push(publish_binding().await);
        }

        if std::env::var_os("NATS_BENCH_PUBLISH_ONLY").is_some() {
            continue;
        }
        // The fill, untimed and pipelined: 500 publishes in flight, then their PubAcks.
        for chunk in batch_of(&template, FILL).chunks(500) {
            let mut acks = Vec::with_capacity(chunk.len());
            for message in chunk {
                let ack = js
                    .send_publish(
                        subject.clone(),
                        PublishMessage::build()
                            .payload(message.payload.clone().into())
                            .headers(raw_headers(message)),
                    )
                    .await
                    .expect("fill publish sent");
                acks.push(ack);
            }
            for ack in acks {
                ack.await.expect("fill publish confirmed");
            }
        }
        // Consume: CONSUMED each (the two batches and the fill), alternating which goes first.
        let consume_binding = || async {
            let shutdown = Shutdown::new();
            let source = nats
                .source::<agents::System>(GROUP, &retry)
                .await
                .expect("source");
            let policy = Policy::new(GROUP).with_retry(retry.clone());
            let handler = agents::Dispatch(Count(Arc::new(AtomicUsize::new(0)), shutdown.clone()));
            let t = Instant::now();
            let stats =
                transport::run::<agents::System, _, _, _>(source, &handler, &policy, &shutdown)
                    .await;
            let stats = stats.expect("binding consumer");
            assert_eq!(stats.dead_lettered, 0);
            CONSUMED as f64 / t.elapsed().as_secs_f64()
        };
        let consume_raw = || async {
            let mut messages = raw_consumer
                .stream()
                .max_messages_per_batch(BATCH)
                .expires(PULL_EXPIRES)
                .heartbeat(PULL_EXPIRES / 2)
                .messages()
                .await
                .expect("raw pull");
            let t = Instant::now();
            for _ in 0..CONSUMED {
                let message = messages
                    .next()
                    .await
                    .expect("stream open")
                    .expect("raw message");
                let channel = message
                    .subject
                    .as_str()
                    .strip_prefix(&format!("{ns}."))
                    .unwrap_or(message.subject.as_str())
                    .to_owned();
                let decoded = <agents::System as Contract>::decode(&channel, &message.payload)
                    .expect("valid");
                std::hint::black_box(decoded);
                message.ack().await.expect("raw ack");
            }
            CONSUMED as f64 / t.elapsed().as_secs_f64()
        };
        if round % 2 == 0 {
            con_binding.push(consume_binding().await);
            con_raw.push(consume_raw().await);
        } else {
            con_raw.push(consume_raw().await);
            con_binding.push(consume_binding().await);
        }
    }

    println!(
        "NATS JetStream, {N} events published by each side per round, {CONSUMED} consumed by \
         each, {ROUNDS} rounds ({:.1?}):",
        started.elapsed()
    );
    report_binding_raw("publish", &pub_binding, &pub_raw);
    report_binding_raw("consume", &con_binding, &con_raw);
    nats.delete_streams::<agents::System>()
        .await
        .expect("cleanup");
}
