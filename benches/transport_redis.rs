//! Throughput of the Redis Streams binding against the raw `redis` client doing the same work
//! on the same Redis in the same run.
//!
//! ```sh
//! cargo bench --bench transport_redis     # Redis at REDIS_URL or 127.0.0.1:6379
//! ```
//!
//! - publish: one pre-encoded `AudioChunkReceived` envelope (same bytes, same `h:` header
//!   fields), `XADD` awaited one at a time until Redis confirms; binding = `RedisSink::send`,
//!   raw = the same `XADD` on a raw connection.
//! - consume: every entry read with `XREADGROUP COUNT 32`, decoded and validated
//!   (`audio::decode_message`), handed to a handler, and `XACK`ed one by one; binding =
//!   `transport::run` over a `RedisSource`, raw = a hand-written loop.
//!
//! Rounds interleave binding and raw (alternating which goes first) on fresh streams; the
//! median of the rounds is reported, with the ratio binding/raw (1.0 = no overhead).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use event_contracts::audio::{self, AudioChunkReceived, AudioEnvelope};
use event_contracts::runtime::transport::redis::{RedisConfig, RedisSink, RedisSource};
use event_contracts::runtime::transport::{
    self, Context, Contract, HandlerResult, Meta, Outgoing, Policy, Publishes, Shutdown, Sink,
};
use event_contracts::Event;

const MESSAGES: u64 = 3_000;
const ROUNDS: usize = 7;
const STREAM: &str = "stream:audio-ingest";
const GROUP: &str = "audio-pipeline";

fn example<E: Event>() -> E {
    let schema: serde_json::Value = serde_json::from_str(
        event_contracts::SCHEMAS
            .documents()
            .get(E::SCHEMA_ID)
            .map(|v| v.to_string())
            .as_deref()
            .expect("schema embedded"),
    )
    .expect("schema is JSON");
    serde_json::from_value(schema["examples"][0].clone()).expect("example decodes")
}

#[derive(Clone)]
struct Count(Arc<AtomicU64>, Shutdown);

impl audio::Handler for Count {
    async fn audio_chunk_received(
        &self,
        message: AudioEnvelope<AudioChunkReceived>,
        _context: &Context,
    ) -> HandlerResult {
        std::hint::black_box(&message);
        if self.0.fetch_add(1, Ordering::Relaxed) + 1 >= MESSAGES {
            self.1.trigger();
        }
        Ok(())
    }
}

fn raw_xadd(key: &str, message: &Outgoing) -> redis::Cmd {
    let mut cmd = redis::cmd("XADD");
    cmd.arg(key).arg("*").arg("envelope").arg(&message.payload);
    for (name, value) in message.headers.iter() {
        cmd.arg(format!("h:{name}")).arg(value);
    }
    cmd
}

async fn bind_publish(options: &RedisConfig, message: &Outgoing) -> f64 {
    let sink = RedisSink::connect(options).await.expect("sink connects");
    let started = Instant::now();
    for _ in 0..MESSAGES {
        sink.send(message.clone()).await.expect("confirmed");
    }
    MESSAGES as f64 / started.elapsed().as_secs_f64()
}

async fn raw_publish(
    conn: &mut redis::aio::ConnectionManager,
    options: &RedisConfig,
    message: &Outgoing,
) -> f64 {
    let key = options.stream_key(&message.channel);
    let started = Instant::now();
    for _ in 0..MESSAGES {
        // Built per message, as the binding does.
        let cmd = raw_xadd(&key, message);
        let _: String = cmd.query_async(conn).await.expect("confirmed");
    }
    MESSAGES as f64 / started.elapsed().as_secs_f64()
}

async fn bind_consume(options: &RedisConfig) -> f64 {
    let config = options
        .clone()
        .with_consumer("bench")
        .with_batch(32)
        .with_block(Duration::from_millis(100))
        .with_claim_idle(Duration::from_secs(60));
    let source = RedisSource::for_group::<audio::System>(&config, GROUP)
        .await
        .expect("source connects");
    let shutdown = Shutdown::new();
    let count = Count(Arc::new(AtomicU64::new(0)), shutdown.clone());
    let policy = Policy::new(GROUP);
    let started = Instant::now();
    let stats = transport::run::<audio::System, _, _, _>(
        source,
        &audio::Dispatch(count.clone()),
        &policy,
        &shutdown,
    )
    .await
    .expect("consumes");
    let elapsed = started.elapsed();
    assert_eq!(stats.handled, MESSAGES, "{stats:?}");
    MESSAGES as f64 / elapsed.as_secs_f64()
}

async fn raw_consume(conn: &mut redis::aio::ConnectionManager, options: &RedisConfig) -> f64 {
    let key = options.stream_key(STREAM);
    let _: Result<(), _> = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&key)
        .arg(GROUP)
        .arg("0")
        .arg("MKSTREAM")
        .query_async(conn)
        .await;
    let started = Instant::now();
    let mut handled = 0;
    while handled < MESSAGES {
        let reply: redis::streams::StreamReadReply = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(GROUP)
            .arg("bench")
            .arg("COUNT")
            .arg(32)
            .arg("BLOCK")
            .arg(100)
            .arg("STREAMS")
            .arg(&key)
            .arg(">")
            .query_async(conn)
            .await
            .expect("reads");
        for stream in reply.keys {
            for entry in stream.ids {
                let bytes: Vec<u8> = entry.get("envelope").expect("envelope field");
                let message = audio::decode_message(&bytes).expect("valid");
                std::hint::black_box(&message);
                handled += 1;
                let _: i64 = redis::cmd("XACK")
                    .arg(&key)
                    .arg(GROUP)
                    .arg(&entry.id)
                    .query_async(conn)
                    .await
                    .expect("acked");
            }
        }
    }
    MESSAGES as f64 / started.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let client = redis::Client::open(url.as_str()).expect("valid REDIS_URL");
    let mut raw = tokio::time::timeout(
        Duration::from_secs(5),
        redis::aio::ConnectionManager::new(client),
    )
    .await
    .ok()
    .and_then(Result::ok)
    .unwrap_or_else(|| {
        panic!("Redis is not reachable at {url}; start it with `bash .ci/services.sh`")
    });

    let chunk: AudioChunkReceived = example();
    let message = <audio::System as Publishes<AudioChunkReceived>>::wrap(
        chunk,
        &Meta {
            source: Some("bench".into()),
            traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
            ..Meta::default()
        },
    )
    .expect("wraps");
    let mut outgoing = audio::System::outgoing(&message).expect("encodes");
    outgoing.headers.insert(
        transport::TRACEPARENT_HEADER,
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    );

    let run = format!("{:x}", std::process::id());
    let (mut bp, mut rp, mut bc, mut rc) = (vec![], vec![], vec![], vec![]);
    for round in 0..ROUNDS {
        let bind = RedisConfig::new(url.clone()).with_namespace(format!("bench-{run}-{round}-b:"));
        let rawo = RedisConfig::new(url.clone()).with_namespace(format!("bench-{run}-{round}-r:"));
        if round % 2 == 0 {
            bp.push(bind_publish(&bind, &outgoing).await);
            rp.push(raw_publish(&mut raw, &rawo, &outgoing).await);
            bc.push(bind_consume(&bind).await);
            rc.push(raw_consume(&mut raw, &rawo).await);
        } else {
            rp.push(raw_publish(&mut raw, &rawo, &outgoing).await);
            bp.push(bind_publish(&bind, &outgoing).await);
            rc.push(raw_consume(&mut raw, &rawo).await);
            bc.push(bind_consume(&bind).await);
        }
        for o in [&bind, &rawo] {
            let _: Result<(), _> = redis::cmd("DEL")
                .arg(o.stream_key(STREAM))
                .query_async(&mut raw)
                .await;
        }
    }
    let report = |what: &str, bind: Vec<f64>, raw: Vec<f64>| {
        let (b, r) = (median(bind), median(raw));
        println!(
            "{what:<8} binding {b:>9.0} events/s   raw {r:>9.0} events/s   binding/raw {:.3}",
            b / r
        );
    };
    println!(
        "redis streams, {MESSAGES} events x {ROUNDS} rounds (median), {} bytes per envelope",
        outgoing.payload.len()
    );
    report("publish", bp, rp);
    report("consume", bc, rc);
}
