//! The scenarios every broker binding must pass, written once over [`Backend`] (in the style of
//! object_store's `integration.rs`): each `tests/<transport>_transport.rs` implements the trait
//! for its broker and system and runs every scenario in a `#[tokio::test]` of its own, keeping
//! in its own file only what is specific to it.
//!
//! - [`every_event_round_trips`]: one example of every event of the system, published with a
//!   traceparent, reaches every catalog consumer group that reads its channel, typed and
//!   unchanged, on attempt 1 with the traceparent, and nothing stays unsettled.
//! - [`poison_is_dead_lettered`]: bad JSON, a schema violation and an unknown event (or what
//!   else the system refuses, [`Backend::refused`]) land in
//!   the group's dead letters with their reason, original bytes and headers; the good message
//!   after them is handled.
//! - [`fails_twice_then_succeeds`]: handled once, on attempt 3 as the broker counted it.
//! - [`exhausted_retries_are_dead_lettered`]: a handler that keeps failing is dead-lettered at
//!   the limit with its error and the broker's count, never tried beyond it.
//! - [`consumer_killed_mid_batch_loses_nothing`]: a consumer that took part of a batch and died
//!   loses nothing; another consumer of the group handles everything, the taken ones again.
//!   Skipped, saying so, for a transport without batches ([`Backend::CONSUMES_IN_BATCHES`]).
//!
//! Scenarios consume through [`Backend::consume`]: a broker's source under the consumer
//! engine by default, the ingest server behind real HTTP requests for HTTP.

// Each transport's test file includes this module and also uses a different part of it for its
// own tests; what one of them leaves unused is not dead.
#![allow(dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use event_contracts::runtime::transport::{
    self, dead_letter_headers as dl, ConsumerGroup, Context, Contract, Handle, HandlerError,
    HandlerResult, Headers, IdempotencyStore, Meta, Policy, RetryPolicy, Shutdown, Sink, Source,
    Stats, TRACEPARENT_HEADER,
};

pub const TRACE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
/// The error of a handler told to fail.
pub const HANDLER_ERROR: &str = "downstream is not reachable yet";
/// How long any scenario waits for what it expects before it fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// Which consumer a scenario asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The group's only consumer.
    Only,
    /// A consumer that will take part of a batch and die without settling it.
    Crashed,
    /// The consumer that takes over after [`Role::Crashed`] died.
    Survivor,
}

/// Where a dead letter says its original was read, as the transport can predict it.
#[derive(Clone, Debug)]
pub enum Origin {
    Exact(String),
    Prefix(String),
    /// Starts with the first, contains the second.
    PrefixContaining(String, String),
}

/// The third poison message, which the system refuses beyond the payload's schema.
#[derive(Clone, Debug)]
pub struct Refused {
    pub channel: String,
    pub payload: Vec<u8>,
    /// The `x-dead-letter-reason` it gets.
    pub reason: &'static str,
    /// A JSON pointer the dead letter's error must name.
    pub pointer: Option<&'static str>,
}

impl Refused {
    /// A well-formed message of an event the catalog does not know.
    pub fn unknown_event(channel: impl Into<String>, payload: Vec<u8>) -> Self {
        Self {
            channel: channel.into(),
            payload,
            reason: "unknown-event",
            pointer: None,
        }
    }
}

/// A dead letter as read back: the original's channel, bytes and headers (original ones plus
/// the `x-dead-letter-*` ones).
#[derive(Clone, Debug)]
pub struct Letter {
    pub channel: String,
    pub payload: Vec<u8>,
    pub headers: Headers,
}

/// One broker binding in a private namespace, as the scenarios drive it.
pub(crate) trait Backend {
    type System: Contract;
    type Sink: Sink;
    type Source: Source + 'static;

    /// One example of every event of the system, as messages carrying `meta`.
    fn every_event(meta: &Meta) -> Vec<<Self::System as Contract>::Message>;
    /// The consumer group the single-message scenarios use, and the channel of
    /// [`Backend::sample`].
    const GROUP: &'static str;
    /// Distinct message number `n` (its own message id) for [`Backend::GROUP`].
    fn sample(n: usize) -> <Self::System as Contract>::Message;
    /// The sample's JSON broken so that its schema refuses it; returns the pointer the
    /// validator names.
    fn break_schema(message: &mut serde_json::Value) -> &'static str;
    /// A message readable by [`Backend::GROUP`] that the system refuses beyond the payload's
    /// schema: an event the catalog does not know ([`Refused::unknown_event`]) or, for a
    /// system that takes every event type (livepeer forwards unknown ones), a broken envelope.
    fn refused(sample: &serde_json::Value) -> Refused;
    /// Whether catalog group `group` reads `channel` (exact names or subject patterns).
    fn reads(group: &ConsumerGroup, channel: &str) -> bool;

    /// The attempt a message taken by a consumer that died unsettled is handled on by the next
    /// one: the broker counted the delivery (2), or it keeps no count and the record is read
    /// again as new (Kafka: 1).
    const REDELIVERY_ATTEMPT: u32 = 2;

    /// The name catalog consumer group `group` has on the broker; a backend on a shared
    /// broker without a namespace of its own (Kafka) gives every run its own names.
    fn group_name(&self, group: &str) -> String {
        group.to_owned()
    }
    /// The name catalog channel `channel` has on the broker, as dead letters report it.
    fn destination(&self, channel: &str) -> String {
        channel.to_owned()
    }

    /// Creates what must exist before anything is published (streams) for consumers retrying
    /// with `retry`.
    async fn prepare(&self, retry: &RetryPolicy);
    async fn sink(&self) -> Self::Sink;
    async fn source(&self, group: &str, retry: &RetryPolicy, role: Role) -> Self::Source;
    /// Publishes bytes as a foreign producer would, bypassing every check; returns where the
    /// dead letter of it will say it was read.
    async fn send_raw(&self, channel: &str, payload: &[u8], headers: &Headers) -> Origin;
    /// The dead letters of `group` read from `channel`, oldest first.
    async fn dead_letters(&self, group: &str, channel: &str) -> Vec<Letter>;
    /// True when `group` has nothing pending or unacknowledged on any channel it reads.
    async fn settled(&self, group: &str) -> bool;
    /// Checks the transport can make once a crashed consumer took `taken` of `published`
    /// messages (Redis: the whole batch is pending).
    async fn after_crash(&self, group: &str, published: usize) {
        let _ = (group, published);
    }

    /// Whether a consumer takes deliveries it can die holding unsettled (every broker). HTTP
    /// has none: its handler runs inside the request and an unanswered request is the
    /// client's to resend, so [`consumer_killed_mid_batch_loses_nothing`] has nothing to test
    /// there and reports that it was skipped.
    const CONSUMES_IN_BATCHES: bool = true;

    /// Consumes as catalog group `group`, handling with `recorder` under `policy`, until
    /// `done` holds (bounded by [`WAIT`], then fails saying `what`); what the consumer did.
    /// Default: the group's [`Backend::source`] under the consumer engine
    /// ([`consume_until`]). A transport without a source of its own (HTTP: the ingest server
    /// calls the handler inside the request, the client retries) consumes its own way.
    async fn consume<I, F, Fut>(
        &self,
        group: &str,
        recorder: &Recorder,
        policy: &Policy<I>,
        what: &str,
        done: F,
    ) -> Stats
    where
        Self: Sized,
        I: IdempotencyStore + Clone,
        F: Fn() -> Fut,
        Fut: Future<Output = bool>,
    {
        let source = self.source(group, &policy.retry, Role::Only).await;
        consume_until::<Self, _, _, _>(source, recorder, policy, what, done).await
    }
}

/// One handled message.
#[derive(Clone, Debug, PartialEq)]
pub struct Seen {
    pub name: String,
    /// The channel it arrived on, as the transport reports it.
    pub channel: String,
    pub id: Option<String>,
    /// The whole message as its system encodes it.
    pub message: serde_json::Value,
    pub attempt: u32,
    pub traceparent: Option<String>,
}

/// A handler of any system recording what it handled; [`Recorder::fail`] makes an event fail
/// transiently a number of times (`u32::MAX`: always).
#[derive(Clone, Default)]
pub struct Recorder {
    seen: Arc<Mutex<Vec<Seen>>>,
    failures: Arc<Mutex<HashMap<String, u32>>>,
    failed: Arc<Mutex<Vec<(String, u32)>>>,
}

impl Recorder {
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn fail(&self, event: &str, times: u32) {
        self.failures
            .lock()
            .unwrap()
            .insert(event.to_owned(), times);
    }

    /// (event, attempt) of every failure the handler reported.
    pub fn failed(&self) -> Vec<(String, u32)> {
        self.failed.lock().unwrap().clone()
    }
}

impl<S: Contract> Handle<S> for Recorder {
    async fn handle(&self, message: S::Message, context: &Context) -> HandlerResult {
        let name = S::event_name(&message).to_owned();
        if let Some(left) = self.failures.lock().unwrap().get_mut(&name) {
            if *left > 0 {
                if *left != u32::MAX {
                    *left -= 1;
                }
                self.failed
                    .lock()
                    .unwrap()
                    .push((name.clone(), context.attempt));
                return Err(HandlerError::retry(HANDLER_ERROR));
            }
        }
        let encoded = S::outgoing(&message).expect("a decoded message encodes again");
        self.seen.lock().unwrap().push(Seen {
            name,
            channel: context.channel.clone(),
            id: S::message_id(&message),
            message: serde_json::from_slice(&encoded.payload).expect("JSON"),
            attempt: context.attempt,
            traceparent: context.traceparent.clone(),
        });
        Ok(())
    }
}

/// One message as published: (event name, message id, JSON, channel, bytes).
#[derive(Clone, Debug)]
pub struct Published {
    pub name: String,
    pub id: String,
    pub json: serde_json::Value,
    pub channel: String,
    pub payload: Vec<u8>,
}

/// Publishes `message` the way `Publisher::publish_with` does with a traceparent of [`TRACE`].
pub async fn publish<B: Backend>(
    sink: &B::Sink,
    message: &<B::System as Contract>::Message,
) -> Published {
    let mut outgoing = <B::System as Contract>::outgoing(message).expect("valid message");
    if outgoing.headers.get(TRACEPARENT_HEADER).is_none() {
        outgoing.headers.insert(TRACEPARENT_HEADER, TRACE);
    }
    let published = Published {
        name: <B::System as Contract>::event_name(message).to_owned(),
        id: outgoing.message_id.clone(),
        json: serde_json::from_slice(&outgoing.payload).expect("JSON"),
        channel: outgoing.channel.clone(),
        payload: outgoing.payload.clone(),
    };
    sink.send(outgoing)
        .await
        .unwrap_or_else(|e| panic!("{} publishes: {e}", published.name));
    published
}

/// The backend's sink, bound to its system as `Publisher::new` binds it (a Redis sink takes
/// the system's entry layout).
pub async fn bound_sink<B: Backend>(backend: &B) -> B::Sink {
    let mut sink = backend.sink().await;
    sink.bind_contract::<B::System>();
    sink
}

pub fn fast_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(60),
        ..RetryPolicy::default()
    }
}

fn trace_meta() -> Meta {
    Meta {
        traceparent: Some(TRACE.into()),
        ..Meta::default()
    }
}

/// Runs `source` under the consumer engine until `done` holds (checked every 10 ms, bounded
/// by [`WAIT`], then fails saying `what`), shuts it down gracefully and returns its stats.
pub async fn consume_until<B, I, F, Fut>(
    source: B::Source,
    recorder: &Recorder,
    policy: &Policy<I>,
    what: &str,
    done: F,
) -> Stats
where
    B: Backend,
    I: IdempotencyStore,
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
    let watcher = async {
        let reached = tokio::time::timeout(WAIT, async {
            while !done().await {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .is_ok();
        stop.trigger();
        reached
    };
    let (stats, reached) = tokio::join!(
        transport::run::<B::System, _, _, _>(source, recorder, policy, &shutdown),
        watcher
    );
    let stats = stats.expect("the consumer ran without transport errors");
    assert!(
        reached,
        "timed out after {WAIT:?} waiting for: {what}; stats {stats:?}, handled {:?}",
        recorder.seen()
    );
    stats
}

/// Waits (bounded by [`WAIT`]) until `probe` answers something.
pub async fn wait_for<T, F: Future<Output = Option<T>>>(
    what: &str,
    mut probe: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {WAIT:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Publishes one example of every event; every catalog consumer group then receives, decodes
/// and dispatches exactly the events on the channels it reads, typed and unchanged, with the
/// publisher's traceparent, on attempt 1, and settles all of them. Returns what was published
/// for the transport's own checks of the wire.
pub async fn every_event_round_trips<B: Backend>(backend: &B) -> Vec<Published> {
    let retry = fast_retry(3);
    backend.prepare(&retry).await;
    let sink = bound_sink(backend).await;
    let messages = B::every_event(&trace_meta());
    assert_eq!(
        messages.len(),
        <B::System as Contract>::events().len(),
        "one example of every catalogued event"
    );
    let mut published = Vec::new();
    for message in &messages {
        published.push(publish::<B>(&sink, message).await);
    }
    for group in <B::System as Contract>::consumer_groups() {
        let expected: Vec<&Published> = published
            .iter()
            .filter(|p| B::reads(group, &p.channel))
            .collect();
        let recorder = Recorder::default();
        let policy = Policy::new(backend.group_name(group.name)).with_retry(retry.clone());
        let stats = backend
            .consume(group.name, &recorder, &policy, group.name, || {
                let n = recorder.seen().len();
                let want = expected.len();
                async move { n >= want }
            })
            .await;
        assert_eq!(
            stats.handled as usize,
            expected.len(),
            "{}: {stats:?}",
            group.name
        );
        assert_eq!(stats.dead_lettered, 0, "{}: {stats:?}", group.name);
        let seen = recorder.seen();
        let mut got: Vec<&str> = seen.iter().map(|s| s.name.as_str()).collect();
        let mut want: Vec<&str> = expected.iter().map(|p| p.name.as_str()).collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "group {} handles what it reads", group.name);
        for s in &seen {
            let p = expected
                .iter()
                .find(|p| p.name == s.name)
                .expect("published");
            // An event that declares no id of its own gets one on the wire only.
            if let Some(id) = &s.id {
                assert_eq!(id, &p.id, "{}: the message id published", s.name);
            }
            assert_eq!(s.message, p.json, "{} arrives typed and unchanged", s.name);
            assert_eq!(s.attempt, 1, "{}: first delivery", s.name);
            assert_eq!(
                s.traceparent.as_deref(),
                Some(TRACE),
                "{}: traceparent carried",
                s.name
            );
        }
        assert!(
            backend.settled(group.name).await,
            "{} settled everything it read",
            group.name
        );
    }
    published
}

/// Bad JSON, a schema violation and [`Backend::refused`] are dead-lettered by [`Backend::GROUP`]
/// with their reason, error, original bytes and headers, attempt 1, channel, group and origin;
/// the good message after them is handled and everything is settled.
pub async fn poison_is_dead_lettered<B: Backend>(backend: &B) {
    let retry = fast_retry(3);
    backend.prepare(&retry).await;
    let sink = bound_sink(backend).await;
    let valid = <B::System as Contract>::outgoing(&B::sample(0)).expect("valid");
    let mut violation: serde_json::Value = serde_json::from_slice(&valid.payload).unwrap();
    let pointer = B::break_schema(&mut violation);
    let refused = B::refused(&serde_json::from_slice(&valid.payload).unwrap());
    let poison: Vec<(String, Vec<u8>, &str)> = vec![
        (valid.channel.clone(), b"{not json".to_vec(), "malformed"),
        (
            valid.channel.clone(),
            serde_json::to_vec(&violation).unwrap(),
            "schema-violation",
        ),
        (refused.channel, refused.payload, refused.reason),
    ];
    let mut headers = Headers::new();
    headers.insert(TRACEPARENT_HEADER, TRACE);
    headers.insert("x-producer", "a foreign producer");
    let mut origins = Vec::new();
    for (channel, payload, _) in &poison {
        origins.push(backend.send_raw(channel, payload, &headers).await);
    }
    let good = publish::<B>(&sink, &B::sample(1)).await;

    let recorder = Recorder::default();
    let policy = Policy::new(backend.group_name(B::GROUP)).with_retry(retry);
    let stats = backend
        .consume(
            B::GROUP,
            &recorder,
            &policy,
            "the good message after the poison",
            || {
                let handled = !recorder.seen().is_empty();
                async move { handled && backend.settled(B::GROUP).await }
            },
        )
        .await;
    assert_eq!(stats.dead_lettered, 3, "{stats:?}");
    assert_eq!(stats.handled, 1, "{stats:?}");
    assert_eq!(recorder.seen()[0].message, good.json);

    let mut letters = Vec::new();
    for (channel, ..) in &poison {
        if !letters
            .iter()
            .any(|(c, _): &(String, Vec<Letter>)| c == channel)
        {
            letters.push((
                channel.clone(),
                backend.dead_letters(B::GROUP, channel).await,
            ));
        }
    }
    let letters: Vec<Letter> = letters.into_iter().flat_map(|(_, l)| l).collect();
    assert_eq!(
        letters.len(),
        poison.len(),
        "one dead letter each: {letters:?}"
    );
    for (((channel, payload, reason), origin), letter) in poison.iter().zip(&origins).zip(&letters)
    {
        let destination = backend.destination(channel);
        assert_eq!(letter.channel, destination, "{reason}");
        assert_eq!(&letter.payload, payload, "{reason}: original bytes kept");
        let h = &letter.headers;
        assert_eq!(h.get_str(dl::REASON), Some(*reason));
        assert!(
            !h.get_str(dl::ERROR).unwrap_or_default().is_empty(),
            "{h:?}"
        );
        assert_eq!(h.get_str(dl::ATTEMPTS), Some("1"), "{reason}");
        assert_eq!(
            h.get_str(dl::CHANNEL),
            Some(destination.as_str()),
            "{reason}"
        );
        assert_eq!(
            h.get_str(dl::CONSUMER_GROUP),
            Some(backend.group_name(B::GROUP).as_str()),
            "{reason}"
        );
        let got = h.get_str(dl::ORIGIN).unwrap_or_default();
        match origin {
            Origin::Exact(o) => assert_eq!(got, o, "{reason}: origin"),
            Origin::Prefix(o) => assert!(got.starts_with(o.as_str()), "{reason}: {got} / {o}"),
            Origin::PrefixContaining(o, part) => assert!(
                got.starts_with(o.as_str()) && got.contains(part.as_str()),
                "{reason}: {got} / {o}…{part}…"
            ),
        }
        assert_eq!(
            h.get_str(TRACEPARENT_HEADER),
            Some(TRACE),
            "{reason}: original headers kept"
        );
        assert_eq!(h.get_str("x-producer"), Some("a foreign producer"));
    }
    let violation_error = letters[1].headers.get_str(dl::ERROR).unwrap_or_default();
    assert!(
        violation_error.contains(pointer),
        "the schema error names the pointer {pointer}: {violation_error}"
    );
    if let Some(pointer) = refused.pointer {
        let error = letters[2].headers.get_str(dl::ERROR).unwrap_or_default();
        assert!(error.contains(pointer), "names {pointer}: {error}");
    }
}

/// A handler that fails twice then succeeds is handled once, on attempt 3 as the broker
/// counted the deliveries, after failing on attempts 1 and 2; nothing stays unsettled.
/// Returns what was handled.
pub async fn fails_twice_then_succeeds<B: Backend>(backend: &B) -> Seen {
    let retry = fast_retry(5);
    backend.prepare(&retry).await;
    let sink = bound_sink(backend).await;
    let published = publish::<B>(&sink, &B::sample(0)).await;
    let recorder = Recorder::default();
    recorder.fail(&published.name, 2);
    let policy = Policy::new(backend.group_name(B::GROUP)).with_retry(retry);
    let stats = backend
        .consume(B::GROUP, &recorder, &policy, "the third attempt", || {
            let n = recorder.seen().len();
            async move { n >= 1 }
        })
        .await;
    let seen = recorder.seen();
    assert_eq!(seen.len(), 1, "handled once: {seen:?}");
    assert_eq!(
        seen[0].attempt, 3,
        "third delivery, as the broker counted it"
    );
    assert_eq!(seen[0].message, published.json);
    let attempts: Vec<u32> = recorder.failed().iter().map(|(_, a)| *a).collect();
    assert_eq!(attempts, [1, 2]);
    assert_eq!(stats.retried, 2, "{stats:?}");
    assert_eq!(stats.handled, 1, "{stats:?}");
    assert_eq!(stats.dead_lettered, 0, "{stats:?}");
    assert!(
        backend.settled(B::GROUP).await,
        "acknowledged: it will not come back"
    );
    seen[0].clone()
}

/// A handler that keeps failing is tried `max_attempts` times, never more, then
/// dead-lettered with reason `retries-exhausted`, the broker's count, the handler's error, the
/// original bytes and headers; nothing stays unsettled.
pub async fn exhausted_retries_are_dead_lettered<B: Backend>(backend: &B) {
    let retry = fast_retry(3);
    backend.prepare(&retry).await;
    let sink = bound_sink(backend).await;
    let published = publish::<B>(&sink, &B::sample(0)).await;
    let recorder = Recorder::default();
    recorder.fail(&published.name, u32::MAX);
    let policy = Policy::new(backend.group_name(B::GROUP)).with_retry(retry);
    let stats = backend
        .consume(B::GROUP, &recorder, &policy, "the dead letter", || {
            let channel = published.channel.clone();
            async move {
                !backend.dead_letters(B::GROUP, &channel).await.is_empty()
                    && backend.settled(B::GROUP).await
            }
        })
        .await;
    assert!(recorder.seen().is_empty(), "{:?}", recorder.seen());
    let attempts: Vec<u32> = recorder.failed().iter().map(|(_, a)| *a).collect();
    assert_eq!(attempts, [1, 2, 3], "never past max_attempts");
    assert_eq!(stats.retried, 2, "{stats:?}");
    assert_eq!(stats.dead_lettered, 1, "{stats:?}");
    let letters = backend.dead_letters(B::GROUP, &published.channel).await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    let letter = &letters[0];
    assert_eq!(letter.channel, backend.destination(&published.channel));
    assert_eq!(letter.payload, published.payload, "original bytes");
    let h = &letter.headers;
    assert_eq!(h.get_str(dl::REASON), Some("retries-exhausted"));
    assert_eq!(h.get_str(dl::ATTEMPTS), Some("3"));
    assert_eq!(h.get_str(dl::ERROR), Some(HANDLER_ERROR));
    assert_eq!(
        h.get_str(TRACEPARENT_HEADER),
        Some(TRACE),
        "original headers"
    );
}

/// A consumer that took three messages of a batch and died without settling any loses
/// nothing: the group's next consumer handles every message exactly once, the three taken
/// ones on their second delivery. Returns what the survivor handled.
/// Does not apply to a transport that takes no deliveries it could die holding
/// ([`Backend::CONSUMES_IN_BATCHES`]): says so and returns nothing.
pub async fn consumer_killed_mid_batch_loses_nothing<B: Backend>(backend: &B) -> Vec<Seen> {
    const MESSAGES: usize = 10;
    if !B::CONSUMES_IN_BATCHES {
        eprintln!(
            "skipped consumer_killed_mid_batch_loses_nothing: {} consumes no batches \
             (Backend::CONSUMES_IN_BATCHES is false)",
            <B::Sink as Sink>::MESSAGING_SYSTEM
        );
        return Vec::new();
    }
    let retry = fast_retry(5);
    backend.prepare(&retry).await;
    let sink = bound_sink(backend).await;
    // Messages are told apart by their JSON: not every system's events carry an id.
    let mut published = Vec::new();
    for n in 0..MESSAGES {
        published.push(publish::<B>(&sink, &B::sample(n)).await.json.to_string());
    }
    let mut taken = Vec::new();
    {
        let mut crashed = backend.source(B::GROUP, &retry, Role::Crashed).await;
        for _ in 0..3 {
            let (delivery, _token) = tokio::time::timeout(WAIT, crashed.next())
                .await
                .expect("a delivery within the wait")
                .expect("reads")
                .expect("not ended");
            assert_eq!(delivery.attempt, 1);
            let message = <B::System as Contract>::decode(&delivery.channel, &delivery.payload)
                .expect("a published message decodes");
            let encoded = <B::System as Contract>::outgoing(&message).expect("encodes again");
            let json: serde_json::Value = serde_json::from_slice(&encoded.payload).unwrap();
            taken.push(json);
        }
        // Dropped mid-batch: three in hand, the rest read ahead, none settled.
    }
    backend.after_crash(B::GROUP, MESSAGES).await;

    let survivor = backend.source(B::GROUP, &retry, Role::Survivor).await;
    let recorder = Recorder::default();
    let policy = Policy::new(backend.group_name(B::GROUP)).with_retry(retry);
    let stats = consume_until::<B, _, _, _>(
        survivor,
        &recorder,
        &policy,
        "every message after the crash",
        || {
            let n = recorder.seen().len();
            async move { n >= MESSAGES }
        },
    )
    .await;
    assert_eq!(stats.handled as usize, MESSAGES, "{stats:?}");
    let seen = recorder.seen();
    let mut handled: Vec<String> = seen.iter().map(|s| s.message.to_string()).collect();
    handled.sort();
    published.sort();
    assert_eq!(handled, published, "every message handled exactly once");
    for json in &taken {
        let attempt = seen.iter().find(|s| &s.message == json).map(|s| s.attempt);
        assert_eq!(
            attempt,
            Some(B::REDELIVERY_ATTEMPT),
            "{json}: redelivered, counted by the broker"
        );
    }
    assert!(backend.settled(B::GROUP).await, "nothing left unsettled");
    seen
}
