//! The two Redis dead-letter streams, the Redis Streams binding's (`{stream}:dead-letter`) and
//! the HTTP binding's store (`{prefix}:dead-letter`), have one layout: the original bytes
//! under `envelope`, each header under `h:<name>`, and the `h:x-dead-letter-*` facts. One
//! reader (`redis_entry::read_dead_letters`) reads both, against the local Redis.

mod http_support;

use std::collections::BTreeSet;
use std::time::Duration;

use event_contracts::audio;
use event_contracts::runtime::transport::http::DeadLetterStore;
use event_contracts::runtime::transport::redis::{RedisConfig, RedisSource};
use event_contracts::runtime::transport::redis_entry::read_dead_letters;
use event_contracts::runtime::transport::{
    self, Policy, Shutdown, StoredDeadLetter, StreamEntryLayout,
};
use event_contracts::DateTime;
use http_support::*;

/// An audio consumer that has nothing to do: every message here is malformed.
struct Idle;
impl audio::Handler for Idle {}

/// Dead-lettered by the Redis Streams binding: one malformed entry with a foreign header.
async fn stream_dead_letter(options: &RedisConfig, body: &[u8]) -> String {
    let client = redis::Client::open(REDIS_URL).expect("URL");
    let mut raw = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers; start it with `bash .ci/services.sh`");
    let stream = options.stream_key("stream:audio-ingest");
    let _: String = redis::cmd("XADD")
        .arg(&stream)
        .arg("*")
        .arg("envelope")
        .arg(body)
        .arg("h:x-test-marker")
        .arg("kept")
        .query_async(&mut raw)
        .await
        .expect("XADD");
    let config = options
        .clone()
        .with_consumer("c1")
        .with_block(Duration::from_millis(100));
    let source = RedisSource::for_group::<audio::System>(&config, "audio-pipeline")
        .await
        .expect("source connects");
    let key = options.dead_letter_key("stream:audio-ingest");
    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
    let policy = Policy::new("audio-pipeline");
    let handler = audio::Dispatch(Idle);
    let watcher = async {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let n: u64 = redis::cmd("XLEN")
                .arg(&key)
                .query_async(&mut raw.clone())
                .await
                .expect("XLEN");
            if n >= 1 || std::time::Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.trigger();
    };
    let (stats, ()) = tokio::join!(
        transport::run::<audio::System, _, _, _>(source, &handler, &policy, &shutdown),
        watcher
    );
    assert_eq!(stats.expect("consumer runs").dead_lettered, 1);
    key
}

/// One raw stream entry: its id and its (field, value) pairs.
type RawEntry = (String, Vec<(String, Vec<u8>)>);

/// The raw field names of every entry of `key`.
async fn field_names(key: &str) -> Vec<BTreeSet<String>> {
    let client = redis::Client::open(REDIS_URL).expect("URL");
    let mut raw = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis");
    let entries: Vec<RawEntry> = redis::cmd("XRANGE")
        .arg(key)
        .arg("-")
        .arg("+")
        .query_async(&mut raw)
        .await
        .expect("XRANGE");
    entries
        .into_iter()
        .map(|(_, fields)| fields.into_iter().map(|(n, _)| n).collect())
        .collect()
}

#[tokio::test]
async fn both_redis_dead_letter_streams_read_through_one_reader() {
    let body = b"{\"not\": json".to_vec();

    // The Redis Streams binding.
    let options = RedisConfig::new(REDIS_URL).with_namespace(format!("{}:", unique("test-dl")));
    let stream_key = stream_dead_letter(&options, &body).await;

    // The HTTP binding's store, with the same bad body.
    let store = redis_store("dead-letter-layout").await;
    let http = start(store.clone(), 3, None).await;
    let answer = post_raw(
        &http.url(),
        &[
            ("content-type", "application/cloudevents+json"),
            ("x-test-marker", "kept"),
        ],
        body.clone(),
    )
    .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    http.stop().await;
    let http_key = store.dead_letter_stream();

    let mut read = Vec::new();
    for (key, channel, group, origin) in [
        (
            &stream_key,
            "stream:audio-ingest",
            "audio-pipeline",
            format!("redis:{}/", options.stream_key("stream:audio-ingest")),
        ),
        (
            &http_key,
            "/api/ingest/event",
            "orchestrator-ingest",
            "http:/api/ingest/event".to_owned(),
        ),
    ] {
        let letters = read_dead_letters(REDIS_URL, key, StreamEntryLayout::DEFAULT)
            .await
            .expect("readable");
        assert_eq!(letters.len(), 1, "{key}: {letters:?}");
        let letter: StoredDeadLetter = letters.into_iter().next().unwrap();
        assert_eq!(letter.payload, body, "{key}: the original bytes");
        assert_eq!(letter.reason, "malformed", "{key}");
        assert!(letter.error.contains("line 1"), "{key}: {}", letter.error);
        assert_eq!(letter.attempts, 1, "{key}");
        assert!(
            letter.origin.starts_with(&origin),
            "{key}: {}",
            letter.origin
        );
        assert_eq!(
            (letter.channel.as_str(), letter.group.as_str()),
            (channel, group)
        );
        assert_eq!(
            letter.headers.get_str("x-test-marker"),
            Some("kept"),
            "{key}: original headers kept"
        );
        let time = DateTime::parse(letter.time.clone()).expect("RFC 3339");
        assert!(
            letter.time.len() == "2025-08-04T14:33:09.120Z".len() && letter.time.ends_with('Z'),
            "{key}: milliseconds in UTC: {time}"
        );
        assert!(letter.fields.is_empty(), "{key}: no foreign fields");
        read.push(letter);
    }
    // The HTTP store's own reader agrees with the shared one.
    let via_store = store.dead_letters().await.expect("store readable");
    assert_eq!(via_store, read[1..]);

    // Field by field the same layout.
    let dead_letter_fields = |names: &BTreeSet<String>| -> BTreeSet<String> {
        names
            .iter()
            .filter(|n| *n == "envelope" || n.starts_with("h:x-dead-letter-"))
            .cloned()
            .collect()
    };
    let stream_fields = field_names(&stream_key).await;
    let http_fields = field_names(&http_key).await;
    let expected: BTreeSet<String> = [
        "envelope",
        "h:x-dead-letter-reason",
        "h:x-dead-letter-error",
        "h:x-dead-letter-attempts",
        "h:x-dead-letter-origin",
        "h:x-dead-letter-channel",
        "h:x-dead-letter-group",
        "h:x-dead-letter-time",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(dead_letter_fields(&stream_fields[0]), expected);
    assert_eq!(dead_letter_fields(&http_fields[0]), expected);

    store.clear().await.expect("cleanup");
    let client = redis::Client::open(REDIS_URL).expect("URL");
    let mut raw = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis");
    let _: () = redis::cmd("DEL")
        .arg(options.stream_key("stream:audio-ingest"))
        .arg(&stream_key)
        .query_async(&mut raw)
        .await
        .expect("cleanup");
}
