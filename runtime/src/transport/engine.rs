//! The consumer engine: one decision per delivery ([`process`]), the same on every transport,
//! and the loop ([`run`]) that carries the decision out through a transport's [`Source`].

use std::future::Future;
use std::task::Poll;
use std::time::{Duration, Instant};

use tracing::Instrument;

use super::metrics::{LabelCache, LabelSource, Labels};
use super::otel::{self, Outcome, ProcessSpan};
use super::{
    Claim, Context, Contract, DeadLetter, DeadLetterReason, Delivery, Handle, HandlerError,
    IdempotencyStore, NoIdempotency, RetryPolicy, Shutdown, TransportError, UnknownPolicy,
    TRACEPARENT_HEADER,
};
use crate::DecodeError;

/// How a consumer treats failures.
#[derive(Clone, Debug, Default)]
pub struct Policy<I = NoIdempotency> {
    /// The consumer group (recorded on dead letters and idempotency keys).
    pub group: String,
    pub retry: RetryPolicy,
    pub unknown: UnknownPolicy,
    /// Units of work already done are skipped (a redelivered or re-published message).
    pub idempotency: I,
}

impl Policy<NoIdempotency> {
    pub fn new(group: impl Into<String>) -> Self {
        Self {
            group: group.into(),
            ..Self::default()
        }
    }
}

impl<I> Policy<I> {
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn with_unknown(mut self, unknown: UnknownPolicy) -> Self {
        self.unknown = unknown;
        self
    }

    pub fn with_idempotency<J: IdempotencyStore>(self, idempotency: J) -> Policy<J> {
        Policy {
            group: self.group,
            retry: self.retry,
            unknown: self.unknown,
            idempotency,
        }
    }
}

/// What to do with one delivery.
#[derive(Clone, Debug, PartialEq)]
pub enum Disposition {
    /// Handled: acknowledge.
    Ack,
    /// Nothing to do (an unknown event under [`UnknownPolicy::Skip`]): acknowledge.
    Skip { why: String },
    /// A copy of a unit of work already done (its idempotency key is marked done): acknowledge.
    Duplicate { key: String },
    /// The handler failed transiently: redeliver after `after`, as attempt `attempt + 1`.
    Retry { after: Duration, error: String },
    /// Cannot be handled: dead-letter, then acknowledge.
    DeadLetter(DeadLetter),
}

/// Decides one delivery: decode and validate, skip finished work, run the handler, and turn
/// its failure into a retry or a dead letter. Never panics on bad input.
///
/// Each decision is counted in the [`metrics`](super::metrics) and, with feature `otel`,
/// traced as one `process {channel}` span parented by the incoming `traceparent`.
pub async fn process<C, H, I>(handler: &H, delivery: &Delivery, policy: &Policy<I>) -> Disposition
where
    C: Contract,
    H: Handle<C>,
    I: IdempotencyStore,
{
    let mut delivery = delivery.clone();
    let mut labels = LabelCache::new(&policy.group);
    process_in_place::<C, H, I>(handler, &mut delivery, policy, &mut labels).await
}

/// [`process`] for a caller that owns the delivery: the handler's [`Context`] takes the
/// delivery's channel, origin and headers while it runs and gives them back after, rather
/// than copying them (seven allocations per delivery with two headers). `labels` is the
/// consumer's, kept across its deliveries (or an HTTP endpoint's, shared by its requests).
pub(crate) async fn process_in_place<C, H, I>(
    handler: &H,
    delivery: &mut Delivery,
    policy: &Policy<I>,
    labels: impl LabelSource,
) -> Disposition
where
    C: Contract,
    H: Handle<C>,
    I: IdempotencyStore,
{
    let Begun {
        decoded,
        key,
        traceparent,
        span,
        labels,
    } = begin::<C, I>(delivery, policy, labels);
    let disposition = 'decided: {
        // Taken whole by `map_err`: a local only partly moved out of (as a `match` on it
        // would leave it) keeps its place in this future across every await.
        let undecodable = |error| {
            span.span()
                .in_scope(|| undecodable(delivery, policy, error))
        };
        let message = match decoded.map_err(undecodable) {
            Ok(message) => message,
            Err(disposition) => break 'decided disposition,
        };
        let (message, claim) = match &key {
            Some(key) => {
                // The message waits out the store's round trip on the heap: kept in this
                // future, it would make every delivery's future larger by a message.
                let message = Box::new(message);
                match claim(policy, delivery, key)
                    .instrument(span.span().clone())
                    .await
                {
                    Ok(token) => (*message, Some((key, token))),
                    Err(disposition) => break 'decided disposition,
                }
            }
            None => (message, None),
        };
        let context = Context {
            channel: std::mem::take(&mut delivery.channel),
            attempt: delivery.attempt,
            origin: std::mem::take(&mut delivery.origin),
            headers: std::mem::take(&mut delivery.headers),
            traceparent,
        };
        let started = Instant::now();
        let outcome = {
            // `Instrumented` would take the handler's future by value: one more copy of the
            // largest future of the delivery.
            let mut handling = std::pin::pin!(handler.handle(message, &context));
            std::future::poll_fn(|cx| span.span().in_scope(|| handling.as_mut().poll(cx))).await
        };
        labels.handler_took(started.elapsed());
        // The handler is done with them: the delivery gets its parts back to be settled.
        let Context {
            channel,
            origin,
            headers,
            ..
        } = context;
        delivery.channel = channel;
        delivery.origin = origin;
        delivery.headers = headers;
        if let Some((key, token)) = claim {
            record_end(policy, key, &token, outcome.is_ok())
                .instrument(span.span().clone())
                .await;
        }
        match outcome {
            Ok(()) => Disposition::Ack,
            Err(HandlerError::Reject(e)) => {
                dead(delivery, DeadLetterReason::Rejected, e.to_string())
            }
            Err(HandlerError::Retry(e)) => retry(policy, delivery, e.to_string()),
        }
    };
    observe(&span, &labels, &disposition);
    disposition
}

/// A delivery decoded, with what its decision is traced and counted by.
struct Begun<M> {
    decoded: Result<M, DecodeError>,
    /// The unit of work's idempotency key, when the policy keeps them.
    key: Option<String>,
    traceparent: Option<String>,
    span: ProcessSpan,
    labels: std::sync::Arc<Labels>,
}

/// Decodes a delivery and starts its span. A plain function, so that every borrow of the
/// decoded message ends here: a local borrowed anywhere in an `async fn` keeps its place in
/// the future across every later `.await` (and so does an argument of one), and a message
/// is up to a kilobyte that each future around the handler's would carry and copy as it
/// moves. [`process_in_place`] only moves the message, into the handler.
fn begin<C: Contract, I: IdempotencyStore>(
    delivery: &Delivery,
    policy: &Policy<I>,
    mut labels: impl LabelSource,
) -> Begun<C::Message> {
    let decoded = C::decode(&delivery.channel, &delivery.payload);
    let header_traceparent = delivery.headers.get_str(TRACEPARENT_HEADER);
    let (event, key, traceparent) = match &decoded {
        Ok(message) => (
            Some(C::event_name(message)),
            I::ENABLED
                .then(|| C::idempotency_key(message))
                .flatten()
                .map(|k| format!("{}:{}:{k}", C::SYSTEM, policy.group)),
            header_traceparent
                .map(str::to_owned)
                .or_else(|| C::traceparent(message)),
        ),
        Err(_) => (None, None, header_traceparent.map(str::to_owned)),
    };
    // The message id is formatted only when the span is recorded.
    let span = ProcessSpan::start(
        delivery,
        &policy.group,
        C::SYSTEM,
        event,
        || decoded.as_ref().ok().and_then(C::message_id),
        traceparent.as_deref(),
    );
    let labels = labels.labels(
        otel::messaging_system_of_origin(&delivery.origin),
        C::SYSTEM,
        event.unwrap_or("unknown"),
    );
    Begun {
        decoded,
        key,
        traceparent,
        span,
        labels,
    }
}

/// What becomes of a delivery that is not a message of the system.
fn undecodable<I>(delivery: &Delivery, policy: &Policy<I>, error: DecodeError) -> Disposition {
    match error {
        error @ DecodeError::UnknownEvent { .. } if policy.unknown == UnknownPolicy::Skip => {
            tracing::info!(origin = %delivery.origin, %error, "skipping an unknown event");
            Disposition::Skip {
                why: error.to_string(),
            }
        }
        error => dead(delivery, DeadLetterReason::of(&error), error.to_string()),
    }
}

/// Claims the unit of work `key` before its handler runs: the claim's token, or what to do
/// instead (a duplicate of finished work, or a copy being handled elsewhere right now).
async fn claim<I: IdempotencyStore>(
    policy: &Policy<I>,
    delivery: &Delivery,
    key: &str,
) -> Result<String, Disposition> {
    match policy.idempotency.claim(key).await {
        Ok(Claim::Claimed { token }) => Ok(token),
        Ok(Claim::Done) => Err(Disposition::Duplicate {
            key: key.to_owned(),
        }),
        Ok(Claim::Busy { retry_after }) => {
            // The holder finishes (then this copy is skipped) or fails (then it is
            // claimed) within its lease: come back when the lease is up at the latest.
            let mut disposition = retry(
                policy,
                delivery,
                format!(
                    "another consumer is handling a copy of this unit of work ({key}) right now"
                ),
            );
            if let Disposition::Retry { after, .. } = &mut disposition {
                *after = (*after).max(retry_after);
            }
            Err(disposition)
        }
        Err(e) => Err(retry(policy, delivery, format!("idempotency store: {e}"))),
    }
}

/// Records that the unit of work `key` is done, or releases its claim when its handler failed.
async fn record_end<I: IdempotencyStore>(policy: &Policy<I>, key: &str, token: &str, done: bool) {
    let recorded = if done {
        policy.idempotency.mark_done(key).await
    } else {
        policy.idempotency.release(key, token).await
    };
    if let Err(e) = recorded {
        // Done: a redelivery would redo it, which the mark prevents, so say so loudly but
        // still acknowledge. Failed: the claim expires with its lease instead.
        tracing::warn!(%key, error = %e, done, "could not record the end of a unit of work");
    }
}

/// Counts one decision and records it on its span.
fn observe(span: &ProcessSpan, labels: &Labels, disposition: &Disposition) {
    match disposition {
        Disposition::Ack => {
            labels.handled();
            span.finish(Outcome::Ack, None);
        }
        Disposition::Skip { .. } => {
            labels.unknown_skipped();
            span.finish(Outcome::Skip, None);
        }
        Disposition::Duplicate { .. } => {
            labels.duplicate_skipped();
            span.finish(Outcome::Duplicate, None);
        }
        Disposition::Retry { .. } => {
            labels.retried();
            span.finish(Outcome::Retry, None);
        }
        Disposition::DeadLetter(letter) => {
            observe_dead_letter(labels, letter.reason);
            span.finish(Outcome::DeadLetter, Some(letter.reason.as_str()));
        }
    }
}

fn observe_dead_letter(labels: &Labels, reason: DeadLetterReason) {
    match reason {
        DeadLetterReason::Malformed
        | DeadLetterReason::Invalid
        | DeadLetterReason::UnknownEvent
        | DeadLetterReason::Unrepresentable => labels.decode_failed(reason.as_str()),
        DeadLetterReason::Rejected | DeadLetterReason::RetriesExhausted => {}
    }
    labels.dead_lettered(reason.as_str());
}

fn dead(delivery: &Delivery, reason: DeadLetterReason, error: String) -> Disposition {
    Disposition::DeadLetter(DeadLetter {
        reason,
        error,
        attempts: delivery.attempt,
        origin: delivery.origin.clone(),
        channel: delivery.channel.clone(),
    })
}

fn retry<I>(policy: &Policy<I>, delivery: &Delivery, error: String) -> Disposition {
    if delivery.attempt >= policy.retry.max_attempts {
        dead(delivery, DeadLetterReason::RetriesExhausted, error)
    } else {
        Disposition::Retry {
            after: policy.retry.backoff(delivery.attempt),
            error,
        }
    }
}

/// A transport's consuming half. `run` calls `next`, decides, then settles the delivery with
/// exactly one of `ack`, `retry` or `dead_letter`.
pub trait Source: Send {
    /// Settles one delivery (a delivery tag, an offset, a stream entry id).
    type Token: Send;
    /// The next delivery; `None` when the source has ended.
    fn next(
        &mut self,
    ) -> impl Future<Output = Result<Option<(Delivery, Self::Token)>, TransportError>> + Send;
    fn ack(
        &mut self,
        token: Self::Token,
    ) -> impl Future<Output = Result<(), TransportError>> + Send;
    /// Arranges a redelivery after `after` counted as attempt `delivery.attempt + 1` (a
    /// broker nak with delay, or a republish with the attempt header), then settles the
    /// original.
    fn retry(
        &mut self,
        token: Self::Token,
        delivery: &Delivery,
        after: Duration,
    ) -> impl Future<Output = Result<(), TransportError>> + Send;
    /// Publishes the dead-letter copy (original bytes, original headers plus
    /// `letter.headers(..)`), waits for the broker's confirmation, then acknowledges the
    /// original.
    fn dead_letter(
        &mut self,
        token: Self::Token,
        delivery: &Delivery,
        letter: &DeadLetter,
    ) -> impl Future<Output = Result<(), TransportError>> + Send;
    /// Why a delivery holds no message at all, as only the transport can tell (a Redis
    /// stream entry without its payload field): [`run`] dead-letters it as `malformed` with
    /// these words instead of decoding it. `None` by default; a wrapping source forwards it.
    fn unreadable(&self, token: &Self::Token) -> Option<String> {
        let _ = token;
        None
    }
}

/// The source's next delivery, or `None` once `shutdown` has triggered (checked first, so a
/// triggered shutdown wins over a delivery at hand). The shutdown's waiter is registered only
/// when the source has nothing ready: a `select!` over both registered and removed it under
/// the token's lock for every delivery, about 450 instructions when deliveries are queued.
async fn next_unless_shut<S: Source>(
    source: &mut S,
    shutdown: &Shutdown,
) -> Option<Result<Option<(Delivery, S::Token)>, TransportError>> {
    let mut next = std::pin::pin!(source.next());
    let mut triggered = std::pin::pin!(shutdown.triggered());
    std::future::poll_fn(|cx| {
        if shutdown.is_triggered() {
            return Poll::Ready(None);
        }
        if let Poll::Ready(next) = next.as_mut().poll(cx) {
            return Poll::Ready(Some(next));
        }
        triggered.as_mut().poll(cx).map(|()| None)
    })
    .await
}

/// What a consumer did, for logs, tests and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub handled: u64,
    /// Unknown events under [`UnknownPolicy::Skip`] and duplicates of finished work.
    pub skipped: u64,
    pub retried: u64,
    pub dead_lettered: u64,
}

/// Consumes until the source ends or `shutdown` triggers. Shutdown stops taking new
/// deliveries; the one in hand is finished and settled, nothing unfinished is acknowledged.
/// A transport error ends the loop with that error (unsettled deliveries are redelivered by
/// the broker).
pub async fn run<C, H, I, S>(
    source: S,
    handler: &H,
    policy: &Policy<I>,
    shutdown: &Shutdown,
) -> Result<Stats, TransportError>
where
    C: Contract,
    H: Handle<C>,
    I: IdempotencyStore,
    S: Source,
{
    let (live, _) = tokio::sync::watch::channel(Stats::default());
    run_with_stats::<C, H, I, S>(source, handler, policy, shutdown, &live).await
}

/// [`run`], publishing its [`Stats`] on `live` after every settled delivery, so a caller
/// (a health endpoint, a test, a dashboard) sees what the consumer does while it runs:
///
/// ```text
/// let (live, stats) = tokio::sync::watch::channel(Stats::default());
/// tokio::spawn(async move { run_with_stats(source, &handler, &policy, &shutdown, &live).await });
/// let now = *stats.borrow();
/// ```
///
/// `live` starts from the value it holds, so a consumer restarted with the same sender keeps
/// counting.
pub async fn run_with_stats<C, H, I, S>(
    mut source: S,
    handler: &H,
    policy: &Policy<I>,
    shutdown: &Shutdown,
    live: &tokio::sync::watch::Sender<Stats>,
) -> Result<Stats, TransportError>
where
    C: Contract,
    H: Handle<C>,
    I: IdempotencyStore,
    S: Source,
{
    let mut stats = *live.borrow();
    let mut labels = LabelCache::new(&policy.group);
    loop {
        let Some(next) = next_unless_shut(&mut source, shutdown).await else {
            break;
        };
        let Some((mut delivery, token)) = next? else {
            break;
        };
        let disposition = match source.unreadable(&token) {
            Some(error) => {
                let labels = labels.labels(
                    otel::messaging_system_of_origin(&delivery.origin),
                    C::SYSTEM,
                    "unknown",
                );
                observe_dead_letter(&labels, DeadLetterReason::Malformed);
                dead(&delivery, DeadLetterReason::Malformed, error)
            }
            None => process_in_place::<C, H, I>(handler, &mut delivery, policy, &mut labels).await,
        };
        match disposition {
            Disposition::Ack => {
                source.ack(token).await?;
                stats.handled += 1;
            }
            Disposition::Skip { why } => {
                tracing::debug!(origin = %delivery.origin, %why, "skipped");
                source.ack(token).await?;
                stats.skipped += 1;
            }
            Disposition::Duplicate { key } => {
                tracing::debug!(origin = %delivery.origin, %key, "skipped a duplicate: its unit of work is done");
                source.ack(token).await?;
                stats.skipped += 1;
            }
            Disposition::Retry { after, error } => {
                tracing::warn!(origin = %delivery.origin, attempt = delivery.attempt, %error, ?after, "handler failed; retrying");
                source.retry(token, &delivery, after).await?;
                stats.retried += 1;
            }
            Disposition::DeadLetter(letter) => {
                tracing::warn!(origin = %delivery.origin, reason = letter.reason.as_str(), error = %letter.error, "dead-lettering");
                source.dead_letter(token, &delivery, &letter).await?;
                stats.dead_lettered += 1;
            }
        }
        // Waking a watch channel's receivers locks each of its notifiers; with none to wake
        // (plain `run`, nobody subscribed yet) the value is only stored, and a receiver
        // subscribed later still reads it.
        if live.receiver_count() > 0 {
            live.send_replace(stats);
        } else {
            live.send_if_modified(|current| {
                *current = stats;
                false
            });
        }
    }
    Ok(stats)
}
