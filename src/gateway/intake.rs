//! The intake of requests: pollers take requests of each kind of data from SMEV, and each request is checked (in
//! the same parse that read it), recorded in the inbox, decided by its kind's service and answered through
//! [`Replies`].
//!
//! Policies, outermost first: the poll loop backs off after failures, with jitter (so a down SMEV is not hammered,
//! and several gateways do not come back in step); a semaphore bounds the requests processed at once (so a burst
//! cannot exhaust memory or the school system), and a request is only taken from SMEV once it has a permit; every
//! SMEV call has the client's timeout. Sending and acknowledging happen in the outbox's workers, under its retry
//! policy.
//!
//! Each kind of data has several pollers (`provider.pollers`), so that under load one SMEV round trip per request
//! does not bound throughput; but an idle kind is polled by one of them only (the scout): again soon after the
//! queue empties, then less and less often, down to once per idle interval. The others park after an empty poll
//! until some poller of their kind receives a request. Every GetRequest costs a signature here and a verification
//! at SMEV, so idle kinds must not multiply it by the number of pollers.
#![forbid(unsafe_code)]

use super::jobs;
use super::pause::PauseSet;
use super::reply::{Answering, NotNow, Opens, Replies, Reply};
use super::shutdown::Shutdown;
use crate::metrics::Metrics;
use crate::outbox::{BackoffPolicy, FailureKind, ItemState};
use crate::school::SchoolSystem;
use crate::services::{Asked, Decision, ReadRequest, Registration};
use crate::smev::client::{ClientError, SmevClient};
use crate::smev::delivered::{Delivered, DeliveryCheck, Untrusted};
use crate::smev::parse::ReceivedRequest;
use crate::smev::unreadable::UnreadableDelivery;
use crate::smev::{RejectCode, Rejection, ResponseBody, RetryClass};
use rand::SeedableRng;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Semaphore};

/// How the pollers of every kind pace themselves.
#[derive(Debug, Clone, Copy)]
pub struct PollPacing {
    /// The longest pause between polls of an empty queue (`smev.poll_interval_ms`).
    pub idle: Duration,
}

impl PollPacing {
    /// The scout's pause after `empties` empty polls in a row: doubling from 20 ms up to the idle interval. Waiting
    /// the whole idle interval after the first empty poll would hold every request that arrives meanwhile for up to
    /// that long, since the other pollers are parked.
    pub fn after_empty(&self, empties: u32) -> Duration {
        let ramp = BackoffPolicy { base: FIRST_EMPTY_PAUSE, cap: self.idle, max_attempts: None, max_age: None };
        ramp.ceiling(empties.saturating_sub(1))
    }

    /// The pause after `failures` failed polls in a row: doubling from the idle interval (at least 100 ms) up to a
    /// minute, four times longer when SMEV asks to back off, the upper half drawn at random so that pollers and
    /// gateways that failed together do not come back together.
    pub fn after_failure(&self, failures: u32, class: RetryClass, rng: &mut dyn rand::RngCore) -> Duration {
        let factor = if class == RetryClass::BackOffAndAlert { 4 } else { 1 };
        let base = self.idle.max(Duration::from_millis(100)).saturating_mul(factor);
        let policy = BackoffPolicy { base, cap: Duration::from_secs(60), max_attempts: None, max_age: None };
        let retry = failures.saturating_sub(1);
        policy.ceiling(retry) / 2 + policy.delay(retry, rng) / 2
    }
}

/// The first pause after a poll finds the queue empty. A queue that has just emptied under load usually gets its
/// next request within milliseconds; one that stays empty is polled less and less often.
const FIRST_EMPTY_PAUSE: Duration = Duration::from_millis(20);

/// What the pollers of one kind of data share: a count of the requests they have received, bumped by each one that
/// receives a request, which wakes the pollers parked after an empty poll.
#[derive(Debug, Clone, Default)]
pub struct Arrivals {
    /// Requests received so far by any poller of the kind.
    received: Arc<watch::Sender<u64>>,
}

impl Arrivals {
    /// The count now, taken before a poll so that a request received meanwhile is not missed.
    fn count(&self) -> u64 {
        *self.received.borrow()
    }

    /// Notes a received request, waking parked pollers.
    fn note_one(&self) {
        self.received.send_modify(|count| *count += 1);
    }

    /// Waits until a request is received after `seen`.
    async fn after(&self, seen: u64) {
        let mut changes = self.received.subscribe();
        // The sender lives as long as `self`, so waiting cannot fail.
        let _ = changes.wait_for(|count| *count != seen).await;
    }
}

/// Which part a poller plays for its kind of data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollerRole {
    /// Keeps polling an empty queue, slowing down to once per idle interval ([`PollPacing::after_empty`]).
    Scout,
    /// Parks after an empty poll until a poller of its kind receives a request.
    Helper,
}

/// Everything the intake of one kind of data uses, and nothing else.
#[derive(Clone)]
pub struct Intake {
    /// The SMEV client, signing as the gateway.
    pub client: SmevClient,
    /// The kind of data and its service.
    pub registration: Registration,
    /// What a delivered request of this kind is checked against.
    pub check: Arc<DeliveryCheck>,
    /// Where answers and acknowledgements go.
    pub replies: Replies,
    /// The school system the service asks.
    pub school: Arc<dyn SchoolSystem>,
    /// Counters.
    pub metrics: Metrics,
    /// Kinds an operator paused.
    pub paused: PauseSet,
    /// Requests processed at once, over every kind; each request task holds one permit until it is done, so
    /// shutdown waits for them by taking every permit back.
    pub permits: Arc<Semaphore>,
    /// Poll pacing.
    pub pacing: PollPacing,
    /// How long a lease on an unreadable delivery's dead letter lasts while it is being judged.
    pub lease_for: Duration,
    /// This process's name in lease owners.
    pub instance: String,
}

/// The metrics label of the unverified: what a request whose signatures failed is counted under, so that
/// unverified content never names a series.
const UNVERIFIED: &str = crate::metrics::UNVERIFIED;

impl Intake {
    /// The kind's metrics label: the configured root element (configuration, never a request's content).
    fn label(&self) -> &str {
        &self.registration.kind.root_element
    }

    /// The thread `thread` a request of this kind opens: its further responses are written in the registered
    /// kind's namespace (the content's) and version.
    fn opens(&self, thread: String) -> Opens {
        let (namespace, version) = (&self.registration.kind.namespace_uri, &self.registration.version);
        Opens { thread, namespace: namespace.clone(), version: version.clone() }
    }

    /// Polls this kind of data until shutdown, as `role`, with the kind's other pollers sharing `arrivals`.
    pub async fn poll(self, role: PollerRole, arrivals: Arrivals, mut shutdown: Shutdown) {
        let mut failures = 0u32;
        // Empty polls in a row: the scout polls again soon after the queue empties and slows down to the idle
        // interval as it stays empty.
        let mut empties = 0u32;
        let mut rng = rand::rngs::StdRng::from_entropy();
        while !shutdown.is_stopping() {
            let seen = arrivals.count();
            // Take a permit before polling: a request is only taken from SMEV when it can be processed at once.
            let permit = tokio::select! {
                p = self.permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
                _ = shutdown.stopped() => return,
            };
            // An operator paused this kind: take nothing from SMEV, where its requests wait, until it is resumed.
            if self.paused.is_paused(self.label()) {
                drop(permit);
                shutdown.sleep(self.pacing.idle.clamp(Duration::from_millis(100), Duration::from_secs(1))).await;
                continue;
            }
            let pause = match self.poll_once().await {
                Polled::Request(delivered) => {
                    (failures, empties) = (0, 0);
                    arrivals.note_one();
                    let intake = self.clone();
                    tokio::spawn(async move {
                        intake.process(*delivered).await;
                        drop(permit);
                    });
                    Duration::ZERO
                }
                Polled::Unreadable(delivery) => {
                    (failures, empties) = (0, 0);
                    arrivals.note_one();
                    let intake = self.clone();
                    tokio::spawn(async move {
                        take_unreadable(
                            &intake.replies,
                            &intake.metrics,
                            &intake.instance,
                            intake.lease_for,
                            &delivery,
                        )
                        .await;
                        drop(permit);
                    });
                    Duration::ZERO
                }
                Polled::Empty if role == PollerRole::Helper => {
                    failures = 0;
                    drop(permit);
                    tokio::select! {
                        _ = arrivals.after(seen) => {}
                        _ = shutdown.stopped() => return,
                    }
                    Duration::ZERO
                }
                Polled::Empty => {
                    failures = 0;
                    empties += 1;
                    drop(permit);
                    self.pacing.after_empty(empties)
                }
                Polled::Failed(e) => {
                    drop(permit);
                    failures += 1;
                    let pause = self.pacing.after_failure(failures, e.retry_class(), &mut rng);
                    tracing::warn!(kind = %self.registration.kind, error = %e, pause_ms = pause.as_millis() as u64, "GetRequest failed");
                    pause
                }
            };
            shutdown.sleep(pause).await;
        }
    }

    /// One GetRequest: the request is checked and its content read by the kind's service in the same parse.
    async fn poll_once(&self) -> Polled {
        let started = std::time::Instant::now();
        // The registration validates the content against its kind's schema, if any, before the service reads it.
        let registration = self.registration.clone();
        let read = move |doc: &crate::xml::Document<'_>, content| registration.read(doc, content);
        let polled = self.client.get_request_checked(Some(&self.registration.kind), self.check.clone(), read).await;
        self.metrics.smev_call("GetRequest", started.elapsed(), polled.as_ref().map(|_| ()));
        self.metrics.polled(answered(&polled));
        match polled {
            Ok(Some(delivered)) => Polled::Request(Box::new(delivered)),
            Ok(None) => Polled::Empty,
            Err(ClientError::Unreadable(delivery)) => Polled::Unreadable(delivery),
            Err(e) => Polled::Failed(e),
        }
    }

    /// Handles one delivered request. Never loses it: whatever happens, either the response and the
    /// acknowledgement are durably queued, or nothing is acknowledged and SMEV delivers the request again.
    async fn process(&self, delivered: Delivered<ReceivedRequest, Box<dyn ReadRequest>>) {
        let request = &delivered.message;
        let smev_id = request.metadata.message_id.clone().unwrap_or_else(|| request.request.message_id.to_string());
        self.metrics.verified(delivered.trusted.is_ok(), delivered.verify_took);
        let outcome = self.answer(&smev_id, delivered).await;
        match outcome {
            Ok(outcome) => self.metrics.received(outcome.label(self.label()), outcome.name()),
            Err(e) => {
                // Keep the delivery count, so that a request the school cannot serve is answered in the end.
                if let Err(e) = self.replies.store.settle().await {
                    tracing::warn!(error = %e, "the receipt of a request left for redelivery was not kept");
                }
                self.metrics.received(self.label(), "left");
                tracing::warn!(message_id = %smev_id, error = %e, "request left for redelivery");
            }
        }
    }

    async fn answer(
        &self,
        smev_id: &str,
        delivered: Delivered<ReceivedRequest, Box<dyn ReadRequest>>,
    ) -> Result<Outcome, NotNow> {
        let Delivered { message: request, trusted, .. } = delivered;
        let now = self.replies.clock.now();
        let service = self.registration.service.name();
        let entry = self.replies.store.received(smev_id, self.label(), service, now).await?;
        tracing::info!(message_id = %smev_id, kind = %request.kind, deliveries = entry.deliveries, "request received");
        let reply_to = request.reply_to.as_deref().unwrap_or_default();
        let outcome = if entry.response.is_some() {
            // Answered before: the same response, under the same MessageID, is (or was) in the outbox already.
            Outcome::Redelivered
        } else {
            let (outcome, reply) = match trusted {
                Ok(read) => {
                    let asked = Asked { message_id: smev_id, deliveries: entry.deliveries };
                    match read.decide(&*self.school, asked).await? {
                        Decision::Answer(body) => (Outcome::Answered, Reply::Answer { body, opens: None }),
                        Decision::Defer(work) => {
                            (Outcome::Deferred, Reply::Defer { service: service.into(), work, opens: None })
                        }
                        Decision::DeferOpen { work, thread } => {
                            let opens = Some(self.opens(thread));
                            (Outcome::Deferred, Reply::Defer { service: service.into(), work, opens })
                        }
                        Decision::Open { answer, thread } => {
                            (Outcome::Answered, Reply::Answer { body: answer, opens: Some(self.opens(thread)) })
                        }
                    }
                }
                Err(untrusted) => {
                    (Outcome::Untrusted, Reply::Answer { body: refusal(smev_id, &untrusted), opens: None })
                }
            };
            let to = Answering { smev_id, kind: outcome.label(self.label()), reply_to };
            self.replies.answer(to, reply).await?;
            outcome
        };
        // A redelivery: SMEV has not taken the acknowledgement, which may be dead or done already. Every request
        // that was answered (refusals included) is acknowledged as accepted, as its first acknowledgement was.
        if entry.deliveries > 1 || outcome == Outcome::Redelivered {
            self.replies.acknowledge(smev_id, outcome.label(self.label()), true, entry.deliveries).await?;
        }
        Ok(outcome)
    }
}

/// The refusal of a request whose signatures could not be verified.
fn refusal(smev_id: &str, untrusted: &Untrusted) -> ResponseBody {
    // A personal certificate's subject may hold its owner's SNILS: masked like everything logged.
    let reason = crate::school::mask::mask_text(&untrusted.to_string());
    tracing::warn!(message_id = %smev_id, %reason, "untrusted request refused");
    ResponseBody::Rejected(vec![Rejection {
        code: RejectCode::AccessDenied,
        description: "the request's signatures could not be verified".into(),
    }])
}

/// What one poll brought.
enum Polled {
    /// A request, checked and read.
    Request(Box<Delivered<ReceivedRequest, Box<dyn ReadRequest>>>),
    /// Something SMEV delivered that cannot be read.
    Unreadable(Box<UnreadableDelivery>),
    /// The queue is empty.
    Empty,
    /// The poll failed.
    Failed(ClientError),
}

/// How a request was dealt with, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Answered now.
    Answered,
    /// Work deferred to the school system.
    Deferred,
    /// Answered before; acknowledged again.
    Redelivered,
    /// Its signatures failed; refused.
    Untrusted,
}

impl Outcome {
    /// The outcome's metrics label.
    fn name(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Deferred => "deferred",
            Outcome::Redelivered => "redelivered",
            Outcome::Untrusted => "untrusted",
        }
    }

    /// The kind label: the kind polled, or `unverified` for a request whose signatures failed.
    fn label(self, polled: &str) -> &str {
        match self {
            Outcome::Untrusted => UNVERIFIED,
            _ => polled,
        }
    }
}

/// Whether SMEV answered a poll, for readiness: an unreadable delivery is an answer (SMEV works; the message is at
/// fault).
pub fn answered<T>(polled: &Result<T, ClientError>) -> Result<(), &ClientError> {
    match polled {
        Ok(_) | Err(ClientError::Unreadable(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Serializes the keeping of unreadable deliveries: each leases from a queue no worker drains, and two at once
/// must not take each other's item.
static UNREADABLE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Deals with a delivery that cannot be read: keeps its bytes as a dead letter of [`jobs::UNREADABLE_QUEUE`] with
/// the reason, then acknowledges it (not accepted) by the id found in it, so that SMEV stops delivering it. Without
/// an id it can only be kept. Counted under the `unverified` kind: nothing read from it is trusted.
pub async fn take_unreadable(
    replies: &Replies,
    metrics: &Metrics,
    instance: &str,
    lease_for: Duration,
    delivery: &UnreadableDelivery,
) {
    metrics.received(UNVERIFIED, "unreadable");
    let id = delivery.message_id.as_deref().unwrap_or("-");
    let reason = crate::school::mask::mask_text(&delivery.reason);
    match keep_and_acknowledge(replies, instance, lease_for, delivery).await {
        Ok(()) => tracing::warn!(
            message_id = %id,
            operation = delivery.operation.name(),
            bytes = delivery.raw.len(),
            %reason,
            "unreadable delivery kept as a dead letter and acknowledged"
        ),
        Err(e) => tracing::warn!(message_id = %id, error = %e, "unreadable delivery not kept; SMEV delivers it again"),
    }
}

/// Keeps an unreadable delivery as a dead letter and queues its acknowledgement.
async fn keep_and_acknowledge(
    replies: &Replies,
    instance: &str,
    lease_for: Duration,
    delivery: &UnreadableDelivery,
) -> Result<(), NotNow> {
    let key = jobs::unreadable_key(delivery.message_id.as_deref(), &delivery.raw);
    let reason = format!("unreadable {} answer: {}", delivery.operation.name(), delivery.reason);
    dead_letter(replies, instance, lease_for, &key, &delivery.raw, reason).await?;
    let Some(smev_id) = &delivery.message_id else { return Ok(()) };
    let now = replies.clock.now();
    let entry = replies.store.received(smev_id, jobs::UNREADABLE_QUEUE, "unreadable", now).await?;
    replies.acknowledge(smev_id, UNVERIFIED, false, entry.deliveries).await
}

/// Puts `payload` under `key` into the unreadable queue and dead-letters it at once with `reason` (a redelivery
/// finds it there already and adds nothing).
async fn dead_letter(
    replies: &Replies,
    instance: &str,
    lease_for: Duration,
    key: &str,
    payload: &[u8],
    reason: String,
) -> Result<(), NotNow> {
    let _one_at_a_time = UNREADABLE.lock().await;
    let outbox = replies.store.outbox();
    let now = replies.clock.now();
    let id = outbox.enqueue(jobs::UNREADABLE_QUEUE, key, payload, now).await?;
    if matches!(outbox.get(id).await?.map(|item| item.state), Some(ItemState::Dead { .. })) {
        return Ok(());
    }
    let leases = outbox.lease(jobs::UNREADABLE_QUEUE, instance, 64, lease_for, now).await?;
    for lease in &leases {
        if lease.id == id {
            outbox.fail(lease, FailureKind::Final { reason: reason.clone() }, now).await?;
        } else {
            // Left pending by an earlier run that stopped in between: not ours to judge.
            outbox.release(lease, now).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_polls_slow_down_to_the_idle_interval() {
        let pacing = PollPacing { idle: Duration::from_secs(1) };
        let pauses: Vec<u128> = (1..=8).map(|n| pacing.after_empty(n).as_millis()).collect();
        assert_eq!(pauses, vec![20, 40, 80, 160, 320, 640, 1000, 1000]);
        assert_eq!(pacing.after_empty(u32::MAX), pacing.idle);
        assert_eq!(PollPacing { idle: Duration::from_millis(5) }.after_empty(1), Duration::from_millis(5));
    }

    #[test]
    fn failed_polls_back_off_to_a_minute_with_jitter_in_the_upper_half() {
        let pacing = PollPacing { idle: Duration::from_secs(1) };
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for (failures, ceiling) in [(1, 1), (2, 2), (3, 4), (6, 32), (7, 60), (200, 60)] {
            let ceiling = Duration::from_secs(ceiling);
            for _ in 0..50 {
                let pause = pacing.after_failure(failures, RetryClass::Retry, &mut rng);
                assert!(
                    pause >= ceiling / 2 && pause <= ceiling,
                    "{failures}: {pause:?} outside [{:?}, {ceiling:?}]",
                    ceiling / 2
                );
            }
        }
        let alert = pacing.after_failure(1, RetryClass::BackOffAndAlert, &mut rng);
        assert!(alert >= Duration::from_secs(2) && alert <= Duration::from_secs(4), "{alert:?}");
    }

    /// Labels come from the kind polled, or `unverified`: never from a request's content.
    #[test]
    fn metrics_label_by_the_kind_polled_or_unverified() {
        for outcome in [Outcome::Answered, Outcome::Deferred, Outcome::Redelivered] {
            assert_eq!(outcome.label("ProgressRequest"), "ProgressRequest");
        }
        assert_eq!(Outcome::Untrusted.label("ProgressRequest"), UNVERIFIED);
    }
}
