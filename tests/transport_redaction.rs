//! No binding shows a credential: every transport's configuration carries a password (and a
//! token where its URL can hold one), connecting fails because nothing listens on port 1, and
//! neither the configuration's `Debug` nor the error's `Display` or `Debug` contains a secret.
//! Needs no broker.

use std::time::Duration;

use event_contracts::runtime::transport::amqp::{AmqpBroker, AmqpConfig, AmqpSink};
use event_contracts::runtime::transport::http::{HttpConfig, HttpSink};
use event_contracts::runtime::transport::kafka::{KafkaConfig, KafkaSink};
use event_contracts::runtime::transport::nats::{NatsConfig, NatsSink, NatsTransport};
use event_contracts::runtime::transport::redis::{RedisConfig, RedisIdempotency, RedisSink};
use event_contracts::runtime::transport::{Headers, Outgoing, RetryPolicy};

const PASSWORD: &str = "pw-5ecret-d0-not-print";
const TOKEN: &str = "tok-5ecret-d0-not-print";
/// A well-formed Standard Webhooks secret.
const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Fails naming the first secret found in any of `outputs`, and where.
fn assert_no_secret(transport: &str, outputs: &[(&str, String)]) {
    for (what, text) in outputs {
        for secret in [PASSWORD, TOKEN] {
            assert!(
                !text.contains(secret),
                "{transport}: the {what} shows a secret: {text}"
            );
        }
        assert!(!text.is_empty(), "{transport}: the {what} is empty");
    }
}

/// The `Display` and `Debug` of a failed connect, which must have failed.
fn failure<T, E: std::fmt::Display + std::fmt::Debug>(
    transport: &str,
    result: Result<T, E>,
) -> [(&'static str, String); 2] {
    let Err(error) = result else {
        panic!("{transport}: connected, yet nothing listens on port 1")
    };
    [
        ("error Display", error.to_string()),
        ("error Debug", format!("{error:?}")),
    ]
}

#[tokio::test]
async fn redis_shows_no_password() {
    let config = RedisConfig {
        connect_timeout: Duration::from_millis(500),
        ..RedisConfig::new(format!("redis://user:{PASSWORD}@127.0.0.1:1/0"))
    };
    let mut outputs = vec![("config Debug", format!("{config:?}"))];
    outputs.extend(failure("redis", RedisSink::connect(&config).await));
    outputs.extend(failure(
        "redis",
        RedisIdempotency::connect(&config, Duration::from_secs(60)).await,
    ));
    assert_no_secret("redis", &outputs);
    assert!(
        outputs[0].1.contains("redis://user:***@127.0.0.1:1/0"),
        "{outputs:?}"
    );
}

#[tokio::test]
async fn amqp_shows_no_password() {
    let config = AmqpConfig {
        connect_timeout: Duration::from_millis(500),
        ..AmqpConfig::new(format!("amqp://guest:{PASSWORD}@127.0.0.1:1/%2f"))
    };
    let mut outputs = vec![("config Debug", format!("{config:?}"))];
    outputs.extend(failure("amqp", AmqpSink::connect(&config).await));
    outputs.extend(failure("amqp", AmqpBroker::connect(&config).await));
    assert_no_secret("amqp", &outputs);
    assert!(
        outputs[1].1.contains("amqp://guest:***@127.0.0.1:1"),
        "{outputs:?}"
    );
}

#[tokio::test]
async fn nats_shows_no_password_and_no_token() {
    for url in [
        format!("nats://user:{PASSWORD}@127.0.0.1:1"),
        format!("nats://{TOKEN}@127.0.0.1:1"),
    ] {
        let config = NatsConfig {
            request_timeout: Duration::from_millis(500),
            ..NatsConfig::new(url)
        };
        let mut outputs = vec![("config Debug", format!("{config:?}"))];
        outputs.extend(failure("nats", NatsTransport::connect(&config).await));
        outputs.extend(failure("nats", NatsSink::connect(&config).await));
        assert_no_secret("nats", &outputs);
        assert!(outputs[1].1.contains("@127.0.0.1:1"), "{outputs:?}");
    }
}

#[tokio::test]
async fn kafka_shows_no_password() {
    let config = KafkaConfig::new(format!("user:{PASSWORD}@127.0.0.1:1"))
        .set("sasl.username", "user")
        .set("sasl.password", TOKEN)
        .with_connect_timeout(Duration::from_millis(1500));
    let mut outputs = vec![("config Debug", format!("{config:?}"))];
    outputs.extend(failure("kafka", KafkaSink::connect(&config).await));
    assert_no_secret("kafka", &outputs);
    assert!(outputs[0].1.contains("sasl.password"), "{outputs:?}");
}

#[tokio::test]
async fn http_shows_no_password_and_no_secret() {
    let config = HttpConfig::new(format!("http://user:{PASSWORD}@127.0.0.1:1"))
        .with_retry(RetryPolicy {
            max_attempts: 2,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(10),
            ..RetryPolicy::default()
        })
        .with_timeout(Duration::from_millis(500))
        .with_bearer(TOKEN)
        .with_webhook_secret(WEBHOOK_SECRET);
    let client = HttpSink::connect(&config).await.expect("client builds");
    // Refused before anything is sent: the bytes are never read.
    let message = Outgoing {
        channel: "/api/ingest/event".into(),
        key: None,
        message_id: "redaction-test".into(),
        payload: b"{}".to_vec(),
        headers: Headers::new(),
    };
    let mut outputs = vec![
        ("config Debug", format!("{config:?}")),
        ("client Debug", format!("{client:?}")),
    ];
    outputs.extend(failure("http", client.post(&message).await));
    // A bad setting is refused by connect, and says so without the secret.
    outputs.extend(failure(
        "http",
        HttpSink::connect(
            &config
                .clone()
                .with_webhook_secret(format!("whsec_{PASSWORD}!")),
        )
        .await,
    ));
    outputs.extend(failure(
        "http",
        HttpSink::connect(&HttpConfig::new(format!("user:{PASSWORD}@no scheme"))).await,
    ));
    assert_no_secret("http", &outputs);
    for (_, text) in &outputs {
        assert!(
            !text.contains(WEBHOOK_SECRET),
            "the webhook secret shows: {text}"
        );
    }
    assert!(outputs[2].1.contains("user:***@127.0.0.1:1"), "{outputs:?}");
    assert!(outputs[4].1.contains("webhook secret"), "{outputs:?}");
    assert!(
        outputs[6].1.contains("not an absolute http(s) URL"),
        "{outputs:?}"
    );
}
