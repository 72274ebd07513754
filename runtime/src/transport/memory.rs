//! An in-memory broker with the bindings' semantics, for unit tests of services: consumer
//! groups bound by pattern, at-least-once delivery, acknowledgement, delayed redelivery with a
//! broker-side attempt count, dead-letter queues per group, and redelivery of whatever a
//! dropped (crashed) consumer left unacknowledged.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::{DeadLetter, Delivery, Headers, Outgoing, Sink, Source, TransportError};

/// A broker in process memory. Cheap to clone; clones share the broker.
#[derive(Clone, Default)]
pub struct MemoryBroker {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    state: Mutex<State>,
    notify: Notify,
}

#[derive(Default)]
struct State {
    next_id: u64,
    published: Vec<Outgoing>,
    groups: HashMap<String, Group>,
    dead_letters: HashMap<String, Vec<Delivery>>,
}

#[derive(Default)]
struct Group {
    binds: Vec<String>,
    ready: VecDeque<Entry>,
    in_flight: HashMap<u64, Entry>,
}

#[derive(Clone)]
struct Entry {
    id: u64,
    delivery: Delivery,
    not_before: Instant,
}

/// A channel pattern as the brokers write them: `*` matches one dot-separated word, `#` (AMQP)
/// or a trailing `>` (NATS) any number of words; anything else matches itself.
pub fn channel_matches(pattern: &str, channel: &str) -> bool {
    fn go(p: &[&str], c: &[&str]) -> bool {
        match (p.first(), c.first()) {
            (None, None) => true,
            (Some(&"#"), _) => go(&p[1..], c) || (!c.is_empty() && go(p, &c[1..])),
            (Some(&">"), _) => p.len() == 1 && !c.is_empty(),
            (Some(&"*"), Some(_)) => go(&p[1..], &c[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &c[1..]),
            _ => false,
        }
    }
    if pattern == channel {
        return true;
    }
    let p: Vec<&str> = pattern.split('.').collect();
    let c: Vec<&str> = channel.split('.').collect();
    go(&p, &c)
}

impl MemoryBroker {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not hide the broker's state from the others.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Declares a consumer group reading every channel matching one of `binds`. Messages
    /// published before the group existed are not delivered to it (as with AMQP queues).
    pub fn subscribe(&self, group: &str, binds: &[&str]) {
        let mut state = self.state();
        let g = state.groups.entry(group.to_owned()).or_default();
        for b in binds {
            if !g.binds.iter().any(|x| x == b) {
                g.binds.push((*b).to_owned());
            }
        }
    }

    /// A consumer of `group` (declare the group first with [`MemoryBroker::subscribe`]).
    pub fn source(&self, group: &str) -> MemorySource {
        MemorySource {
            broker: self.clone(),
            group: group.to_owned(),
            held: Vec::new(),
        }
    }

    /// Everything published, in order.
    pub fn published(&self) -> Vec<Outgoing> {
        self.state().published.clone()
    }

    /// The dead-letter queue of `group`.
    pub fn dead_letters(&self, group: &str) -> Vec<Delivery> {
        self.state()
            .dead_letters
            .get(group)
            .cloned()
            .unwrap_or_default()
    }

    /// Messages of `group` not yet acknowledged (ready or in flight).
    pub fn pending(&self, group: &str) -> usize {
        self.state()
            .groups
            .get(group)
            .map_or(0, |g| g.ready.len() + g.in_flight.len())
    }

    /// Puts raw bytes on a channel as a foreign producer would (poison-message tests).
    pub fn publish_raw(&self, channel: &str, payload: &[u8], headers: Headers) {
        self.publish(Outgoing {
            channel: channel.to_owned(),
            key: None,
            message_id: String::new(),
            payload: payload.to_vec(),
            headers,
        });
    }

    fn publish(&self, message: Outgoing) {
        let mut state = self.state();
        let now = Instant::now();
        let mut id = state.next_id;
        for group in state.groups.values_mut() {
            if group
                .binds
                .iter()
                .any(|b| channel_matches(b, &message.channel))
            {
                id += 1;
                group.ready.push_back(Entry {
                    id,
                    delivery: Delivery {
                        channel: message.channel.clone(),
                        key: message.key.clone().map(String::into_bytes),
                        payload: message.payload.clone(),
                        headers: message.headers.clone(),
                        attempt: 1,
                        origin: format!("memory:{}#{id}", message.channel),
                    },
                    not_before: now,
                });
            }
        }
        state.next_id = id;
        state.published.push(message);
        drop(state);
        self.inner.notify.notify_waiters();
    }
}

impl Sink for MemoryBroker {
    const MESSAGING_SYSTEM: &'static str = "memory";

    async fn send(&self, message: Outgoing) -> Result<(), TransportError> {
        self.publish(message);
        Ok(())
    }
}

/// One consumer of a group. Dropping it without settling its deliveries makes them ready
/// again for the group's other consumers, as a broker does for a crashed consumer.
pub struct MemorySource {
    broker: MemoryBroker,
    group: String,
    held: Vec<u64>,
}

/// Settles one delivery of a [`MemorySource`].
pub struct MemoryToken(u64);

impl MemorySource {
    fn settle(&mut self, id: u64) -> Result<Entry, TransportError> {
        self.held.retain(|h| *h != id);
        let mut state = self.broker.state();
        state
            .groups
            .get_mut(&self.group)
            .and_then(|g| g.in_flight.remove(&id))
            .ok_or_else(|| TransportError::new("memory", format!("delivery {id} is not in flight")))
    }
}

impl Source for MemorySource {
    type Token = MemoryToken;

    async fn next(&mut self) -> Result<Option<(Delivery, MemoryToken)>, TransportError> {
        loop {
            let notified = self.broker.inner.notify.notified();
            let wait = {
                let mut state = self.broker.state();
                let group = state.groups.get_mut(&self.group).ok_or_else(|| {
                    TransportError::new("memory", format!("no consumer group `{}`", self.group))
                })?;
                let now = Instant::now();
                if let Some(pos) = group.ready.iter().position(|e| e.not_before <= now) {
                    let entry = group.ready.remove(pos).expect("position is in range");
                    let delivery = entry.delivery.clone();
                    let id = entry.id;
                    group.in_flight.insert(id, entry);
                    self.held.push(id);
                    return Ok(Some((delivery, MemoryToken(id))));
                }
                group
                    .ready
                    .iter()
                    .map(|e| e.not_before.saturating_duration_since(now))
                    .min()
                    .unwrap_or(Duration::from_secs(3600))
            };
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    async fn ack(&mut self, token: MemoryToken) -> Result<(), TransportError> {
        self.settle(token.0).map(drop)
    }

    async fn retry(
        &mut self,
        token: MemoryToken,
        _delivery: &Delivery,
        after: Duration,
    ) -> Result<(), TransportError> {
        let mut entry = self.settle(token.0)?;
        entry.delivery.attempt += 1;
        entry.not_before = Instant::now() + after;
        let mut state = self.broker.state();
        if let Some(g) = state.groups.get_mut(&self.group) {
            g.ready.push_back(entry);
        }
        Ok(())
    }

    async fn dead_letter(
        &mut self,
        token: MemoryToken,
        delivery: &Delivery,
        letter: &DeadLetter,
    ) -> Result<(), TransportError> {
        let mut copy = delivery.clone();
        copy.headers = letter.headers(&delivery.headers, &self.group);
        self.broker
            .state()
            .dead_letters
            .entry(self.group.clone())
            .or_default()
            .push(copy);
        self.settle(token.0).map(drop)
    }
}

impl Drop for MemorySource {
    fn drop(&mut self) {
        let mut state = self.broker.state();
        if let Some(g) = state.groups.get_mut(&self.group) {
            for id in self.held.drain(..) {
                if let Some(mut entry) = g.in_flight.remove(&id) {
                    // The broker counts the abandoned delivery, as Redis and NATS do.
                    entry.delivery.attempt += 1;
                    g.ready.push_front(entry);
                }
            }
        }
        drop(state);
        self.broker.inner.notify.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::channel_matches;

    #[test]
    fn patterns_match_like_the_brokers() {
        assert!(channel_matches("capture.*", "capture.alive"));
        assert!(!channel_matches("capture.*", "capture.a.b"));
        assert!(channel_matches("#", "capture.a.b"));
        assert!(channel_matches("tenant.#", "tenant"));
        assert!(channel_matches("ingest.>", "ingest.document.processed"));
        assert!(!channel_matches("ingest.>", "ingest"));
        assert!(channel_matches(
            "stream:audio-ingest",
            "stream:audio-ingest"
        ));
        assert!(!channel_matches("stream:audio-ingest", "stream:monitoring"));
    }
}
