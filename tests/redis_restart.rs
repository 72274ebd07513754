//! A Redis restart while publishing loses no confirmed message. The test starts its own
//! `redis-server` (from PATH, `tests/private_brokers/`) on a free port with `--appendonly yes --appendfsync always`,
//! publishes continuously, SIGKILLs the server mid-way and starts it again on the same port and
//! directory; the publisher retries on connection errors. Afterwards every publish that returned
//! `Ok` must be in the stream. It runs in its own test binary (own process).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use event_contracts::audio::{self, AudioChunkReceived};
use event_contracts::runtime::transport::redis::{RedisConfig, RedisSink};
use event_contracts::runtime::transport::{Meta, Publisher};
use event_contracts::Event;
use private_brokers::{free_port, RedisServer as Server};

mod private_brokers;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_while_publishing_loses_no_confirmed_message() {
    let dir = std::env::temp_dir().join(format!(
        "redis-restart-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let port = free_port();
    let mut server = Server::start(port, &dir);
    server.ready().await;

    let options = RedisConfig {
        response_timeout: Duration::from_secs(2),
        ..RedisConfig::new(server.url())
    };
    let sink = RedisSink::connect(&options).await.expect("sink connects");
    let publisher = Arc::new(Publisher::<audio::System, _>::new(
        sink,
        Meta {
            source: Some("orchestration-api".into()),
            ..Meta::default()
        },
    ));

    const TOTAL: usize = 600;
    let confirmed = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let publishing = {
        let publisher = publisher.clone();
        let confirmed = confirmed.clone();
        let failures = failures.clone();
        tokio::spawn(async move {
            let mut ok_ids = Vec::new();
            let mut chunk: AudioChunkReceived = AudioChunkReceived::examples()
                .expect("examples decode")
                .remove(0);
            for i in 0..TOTAL {
                chunk.chunk_id = format!("chunk-{i}");
                // Retry on connection errors until confirmed (bounded by the test timeout).
                loop {
                    match publisher.publish(chunk.clone()).await {
                        Ok(id) => {
                            ok_ids.push(id);
                            confirmed.fetch_add(1, Ordering::SeqCst);
                            break;
                        }
                        Err(_) => {
                            failures.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
            }
            ok_ids
        })
    };

    // Kill the server a third of the way in, then bring it back on the same port and dir.
    tokio::time::timeout(Duration::from_secs(30), async {
        while confirmed.load(Ordering::SeqCst) < (TOTAL / 3) as u64 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .expect("a third of the messages published within 30 s");
    let before_kill = confirmed.load(Ordering::SeqCst);
    server.kill();
    let old_pid = server.child.id();
    tokio::time::sleep(Duration::from_millis(300)).await; // the publisher meets a dead server
    let mut restarted = Server::start(port, &dir);
    std::mem::swap(&mut server, &mut restarted);
    drop(restarted); // the killed one, already reaped
    assert_ne!(server.child.id(), old_pid);
    server.ready().await;

    let ok_ids = tokio::time::timeout(Duration::from_secs(60), publishing)
        .await
        .expect("publishing finished within 60 s")
        .expect("the publishing task did not panic");
    assert_eq!(ok_ids.len(), TOTAL);
    assert!(
        before_kill < TOTAL as u64,
        "the kill happened while publishing ({before_kill} of {TOTAL} confirmed)"
    );
    assert!(
        failures.load(Ordering::SeqCst) > 0,
        "publishing met the dead server at least once"
    );

    let client = redis::Client::open(server.url()).expect("url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connects after restart");
    let entries: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg("stream:audio-ingest")
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .expect("XRANGE");
    let stored: std::collections::HashSet<String> = entries
        .ids
        .iter()
        .filter_map(|e| e.get::<Vec<u8>>("envelope"))
        .filter_map(|bytes| audio::decode_message(&bytes).ok())
        .map(|m| m.event_id.to_string())
        .collect();
    let missing: Vec<_> = ok_ids.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} confirmed publishes are missing after the restart: {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
