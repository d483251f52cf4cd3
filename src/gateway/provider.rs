//! The provider loop: poll SMEV for requests of each configured kind of data, check them, record them in the inbox,
//! answer them through a handler and queue the response and the acknowledgement in the outbox.
//!
//! Policies, outermost first: the poll loop backs off after failures (so a down SMEV is not hammered); a semaphore
//! bounds the requests processed at once (so a burst cannot exhaust memory or the school system); every SMEV call
//! has the client's timeout. Sending and acknowledging happen in the outbox's workers, under its retry policy.
//!
//! Each kind of data has several pollers (`provider.pollers`), so that under load one SMEV round trip per request
//! does not bound throughput; but an idle kind is polled by one of them only (the scout): again soon after the
//! queue empties, then less and less often, down to once per idle interval. The others park after an empty poll
//! until some poller of their kind receives a request. Every GetRequest costs a
//! signature here and a verification at SMEV, so idle kinds must not multiply it by the number of pollers.
#![forbid(unsafe_code)]

use super::handlers::{self, Handled, HandlerInput};
use super::jobs::{self, AckJob, SendJob};
use super::runtime::Shared;
use super::verify::{verify_delivered_in, SenderTrust};
use crate::outbox::{FailureKind, ItemState};
use crate::smev::client::{ClientError, Received};
use crate::smev::parse::ReceivedRequest;
use crate::smev::unreadable::UnreadableDelivery;
use crate::smev::{build, KindOfData, MessageId, RejectCode, Rejection, ResponseBody, RetryClass, SendResponse};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Semaphore};

/// A configured kind of data and the handler that answers it.
#[derive(Debug, Clone)]
pub struct ProvidedKind {
    /// The kind of data.
    pub kind: KindOfData,
    /// The handler's name.
    pub handler: String,
    /// Whose signature over the request's data is trusted for this kind. A kind without a configured trust (an
    /// empty default) trusts nobody.
    pub senders: Arc<SenderTrust>,
}

/// What the pollers of one kind of data share: a count of the requests they have received, bumped by each one that
/// receives a request, which wakes the pollers parked after an empty poll.
#[derive(Debug, Clone)]
pub struct KindActivity {
    /// Requests received so far by any poller of the kind.
    received: Arc<watch::Sender<u64>>,
}

impl KindActivity {
    /// Activity of a kind nobody has polled yet.
    pub fn new() -> KindActivity {
        KindActivity { received: Arc::new(watch::Sender::new(0)) }
    }

    /// The count now, taken before a poll so that a request received meanwhile is not missed.
    fn seen(&self) -> u64 {
        *self.received.borrow()
    }

    /// Notes a received request, waking parked pollers.
    fn bump(&self) {
        self.received.send_modify(|count| *count += 1);
    }

    /// Waits until a request is received after `seen`.
    async fn received_after(&self, seen: u64) {
        let mut changes = self.received.subscribe();
        // The sender lives as long as `self`, so waiting cannot fail.
        let _ = changes.wait_for(|count| *count != seen).await;
    }
}

impl Default for KindActivity {
    fn default() -> KindActivity {
        KindActivity::new()
    }
}

/// Which part a poller plays for its kind of data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollerRole {
    /// Keeps polling an empty queue, slowing down to once per idle interval ([`empty_poll_pause`]).
    Scout,
    /// Parks after an empty poll until a poller of its kind receives a request.
    Helper,
}

/// Polls one kind of data until shutdown.
pub async fn poll_kind(
    shared: Arc<Shared>,
    provided: ProvidedKind,
    (role, activity): (PollerRole, KindActivity),
    permits: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) {
    let idle = Duration::from_millis(shared.config.smev.poll_interval_ms);
    let mut failures = 0u32;
    // Empty polls in a row: the scout polls again soon after the queue empties and slows down to the idle
    // interval as it stays empty.
    let mut empties = 0u32;
    loop {
        if *stop.borrow() {
            return;
        }
        let seen = activity.seen();
        // Take a permit before polling: a request is only taken from SMEV when it can be processed at once.
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = stop.changed() => return,
        };
        // An operator paused this kind: take nothing from SMEV, where its requests wait, until it is resumed.
        if shared.paused.is_paused(&provided.kind.root_element) {
            drop(permit);
            tokio::select! {
                _ = tokio::time::sleep(idle.clamp(Duration::from_millis(100), Duration::from_secs(1))) => {}
                _ = stop.changed() => return,
            }
            continue;
        }
        let started = std::time::Instant::now();
        let polled = shared.client.get_request(Some(&provided.kind)).await;
        shared.metrics.smev_call("GetRequest", started.elapsed(), polled.as_ref().map(|_| ()));
        shared.metrics.polled(answered(&polled));
        let pause = match polled {
            // SMEV delivered something unreadable: acknowledge it and keep it, then poll again at once.
            Err(ClientError::Unreadable(delivery)) => {
                failures = 0;
                empties = 0;
                activity.bump();
                let shared = shared.clone();
                tokio::spawn(async move {
                    take_unreadable(&shared, &delivery).await;
                    drop(permit);
                });
                Duration::ZERO
            }
            Ok(Some(received)) => {
                failures = 0;
                empties = 0;
                activity.bump();
                let shared = shared.clone();
                let provided = provided.clone();
                tokio::spawn(async move {
                    process(&shared, &provided, received).await;
                    drop(permit);
                });
                Duration::ZERO
            }
            Ok(None) if role == PollerRole::Helper => {
                failures = 0;
                drop(permit);
                tokio::select! {
                    _ = activity.received_after(seen) => {}
                    _ = stop.changed() => return,
                }
                Duration::ZERO
            }
            Ok(None) => {
                failures = 0;
                empties += 1;
                drop(permit);
                empty_poll_pause(idle, empties)
            }
            Err(e) => {
                drop(permit);
                failures += 1;
                let pause = poll_backoff(idle, failures, e.retry_class());
                tracing::warn!(kind = %provided.kind, error = %e, pause_ms = pause.as_millis() as u64, "GetRequest failed");
                pause
            }
        };
        if !pause.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.changed() => return,
            }
        }
    }
}

/// Whether SMEV answered a poll, for readiness: an unreadable delivery is an answer (SMEV works; the message is
/// at fault).
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
pub async fn take_unreadable(shared: &Shared, delivery: &UnreadableDelivery) {
    shared.metrics.received(crate::metrics::UNVERIFIED, "unreadable");
    let id = delivery.message_id.as_deref().unwrap_or("-");
    let reason = crate::ops::mask::mask_text(&delivery.reason);
    match keep_and_acknowledge(shared, delivery).await {
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
async fn keep_and_acknowledge(shared: &Shared, delivery: &UnreadableDelivery) -> Result<(), NotNow> {
    let now = shared.clock_now();
    let key = jobs::unreadable_key(delivery.message_id.as_deref(), &delivery.raw);
    let reason = format!("unreadable {} answer: {}", delivery.operation.name(), delivery.reason);
    dead_letter(shared, &key, &delivery.raw, reason, now).await?;
    let Some(smev_id) = &delivery.message_id else { return Ok(()) };
    shared.metrics.remember_kind(smev_id, crate::metrics::UNVERIFIED);
    let entry = shared.inbox.record_received(smev_id, jobs::UNREADABLE_QUEUE, "unreadable", now).await?;
    acknowledge(shared, smev_id, false, entry.deliveries, entry.deliveries > 1).await
}

/// Puts `payload` under `key` into the unreadable queue and dead-letters it at once with `reason` (a redelivery
/// finds it there already and adds nothing).
async fn dead_letter(
    shared: &Shared,
    key: &str,
    payload: &[u8],
    reason: String,
    now: std::time::SystemTime,
) -> Result<(), NotNow> {
    let _one_at_a_time = UNREADABLE.lock().await;
    let id = shared.outbox.enqueue(jobs::UNREADABLE_QUEUE, key, payload, now).await?;
    if matches!(shared.outbox.get(id).await?.map(|item| item.state), Some(ItemState::Dead { .. })) {
        return Ok(());
    }
    let lease_for = Duration::from_secs(shared.config.retry.lease_secs);
    let leases = shared.outbox.lease(jobs::UNREADABLE_QUEUE, &shared.instance, 64, lease_for, now).await?;
    for lease in &leases {
        if lease.id == id {
            shared.outbox.fail(lease, FailureKind::Final { reason: reason.clone() }, now).await?;
        } else {
            // Left pending by an earlier run that stopped in between: not ours to judge.
            shared.outbox.release(lease, now).await?;
        }
    }
    Ok(())
}

/// The first pause after a poll finds the queue empty. A queue that has just emptied under load usually gets
/// its next request within milliseconds; one that stays empty is polled less and less often.
const FIRST_EMPTY_PAUSE: Duration = Duration::from_millis(20);

/// The scout's pause after `empties` empty polls in a row: doubling from `FIRST_EMPTY_PAUSE` (20 ms) up to the idle
/// interval. Waiting the whole idle interval after the first empty poll would hold every request that arrives
/// meanwhile for up to that long, since the other pollers are parked.
pub fn empty_poll_pause(idle: Duration, empties: u32) -> Duration {
    let ramp = FIRST_EMPTY_PAUSE.saturating_mul(1 << empties.clamp(1, 16).saturating_sub(1));
    ramp.min(idle)
}

/// The pause after `failures` failed polls in a row: doubling from the idle interval up to a minute, longer when
/// SMEV asks to back off.
pub fn poll_backoff(idle: Duration, failures: u32, class: RetryClass) -> Duration {
    let base = idle.max(Duration::from_millis(100));
    let factor = if class == RetryClass::BackOffAndAlert { 4 } else { 1 };
    let doubled = base.saturating_mul(factor << failures.min(10).saturating_sub(1));
    doubled.min(Duration::from_secs(60))
}

/// Handles one delivered request. Never loses it: whatever happens, either the response and the acknowledgement
/// are durably queued, or nothing is acknowledged and SMEV delivers the request again.
async fn process(shared: &Shared, provided: &ProvidedKind, received: Received<ReceivedRequest>) {
    let request = &received.message;
    let smev_id = request.metadata.message_id.clone().unwrap_or_else(|| request.request.message_id.to_string());
    match answer(shared, provided, &received, &smev_id).await {
        Ok(outcome) => shared.metrics.received(metrics_kind(provided, outcome), outcome),
        Err(e) => {
            // The kind polled: configuration, never the request's content (which may not have been verified).
            shared.metrics.received(metrics_kind(provided, "left"), "left");
            tracing::warn!(message_id = %smev_id, error = %e, "request left for redelivery");
        }
    }
}

/// The kind label of a request's metrics: the kind polled (configuration, never the request's content), or
/// `unverified` for a request whose signatures failed, so that unverified content never names a series.
fn metrics_kind<'a>(provided: &'a ProvidedKind, outcome: &str) -> &'a str {
    match outcome {
        "untrusted" => crate::metrics::UNVERIFIED,
        _ => &provided.kind.root_element,
    }
}

/// Why a request could not be answered now (it will be delivered again).
#[derive(Debug, thiserror::Error)]
pub enum NotNow {
    #[error(transparent)]
    Outbox(#[from] crate::outbox::OutboxError),
    #[error(transparent)]
    Inbox(#[from] crate::inbox::InboxError),
    #[error("the handler is unavailable: {0}")]
    Handler(#[from] handlers::HandlerUnavailable),
    #[error(transparent)]
    Build(#[from] crate::smev::SmevError),
    #[error(transparent)]
    Job(#[from] jobs::BadJob),
}

async fn answer(
    shared: &Shared,
    provided: &ProvidedKind,
    received: &Received<ReceivedRequest>,
    smev_id: &str,
) -> Result<&'static str, NotNow> {
    let request = &received.message;
    let now = shared.clock_now();
    let entry = shared.inbox.record_received(smev_id, &request.kind.root_element, &provided.handler, now).await?;
    let redelivered = entry.deliveries > 1;
    tracing::info!(message_id = %smev_id, kind = %request.kind, deliveries = entry.deliveries, "request received");
    let reply_to = request.reply_to.clone().unwrap_or_default();
    // How the request was dealt with, for the metrics.
    let outcome;
    match &entry.response {
        // Answered before: the same response, under the same MessageID, is in the outbox (queued before it was
        // recorded; its one copy), sent or on its way; only the acknowledgement is left to do.
        Some(_) => {
            outcome = "redelivered";
            shared.metrics.remember_kind(smev_id, metrics_kind(provided, outcome));
        }
        None => {
            let started = std::time::Instant::now();
            let verified = verify_delivered_in(
                &shared.verify_pool,
                &received.envelope,
                request,
                shared.smev_cert.as_ref(),
                provided.senders.clone(),
                shared.config.provider.verify_limits(),
            )
            .await;
            shared.metrics.verified(verified.is_ok(), started.elapsed());
            let handled = match &verified {
                Ok(()) => {
                    let input = HandlerInput {
                        kind: &request.kind,
                        content: &request.request.content,
                        message_id: smev_id,
                        reply_to: &reply_to,
                        deliveries: entry.deliveries,
                    };
                    handlers::handle(&provided.handler, &*shared.school, &input).await?
                }
                Err(untrusted) => {
                    // A personal certificate's subject may hold its owner's SNILS: masked like everything logged.
                    let reason = crate::ops::mask::mask_text(&untrusted.to_string());
                    tracing::warn!(message_id = %smev_id, %reason, "untrusted request refused");
                    Handled::Answer(ResponseBody::Rejected(vec![Rejection {
                        code: RejectCode::AccessDenied,
                        description: "the request's signatures could not be verified".into(),
                    }]))
                }
            };
            outcome = match (&handled, verified.is_ok()) {
                (_, false) => "untrusted",
                (Handled::Answer(_), true) => "answered",
                (Handled::Deferred { .. }, true) => "deferred",
            };
            // Remembered before the response is queued, so that the worker counts its send under the same kind.
            shared.metrics.remember_kind(smev_id, metrics_kind(provided, outcome));
            match handled {
                Handled::Answer(body) => queue_response(shared, smev_id, &reply_to, body).await?,
                Handled::Deferred { key, job } => {
                    shared.enqueue(jobs::SCHOOL_QUEUE, &key, &job, now).await?;
                }
            }
        }
    }
    acknowledge(shared, smev_id, true, entry.deliveries, redelivered).await?;
    Ok(outcome)
}

/// Queues the response to request `smev_id` and records it in the inbox. The idempotency key makes this a no-op
/// when a response is already queued, whoever queued it; the record then takes the queued payload, so every
/// delivery is answered identically, under one MessageID.
pub async fn queue_response(shared: &Shared, smev_id: &str, reply_to: &str, body: ResponseBody) -> Result<(), NotNow> {
    let now = shared.clock_now();
    let response =
        SendResponse { message_id: MessageId::new_v1(), to: reply_to.to_string(), body, attachments: Vec::new() };
    let envelope = build::send_response_unsigned_trusted(shared.client.version(), &response)?;
    let send = SendJob { envelope, answers: Some(smev_id.to_string()) };
    let job = jobs::encode(&send);
    let item = shared.enqueue(jobs::SEND_QUEUE, &jobs::response_key(smev_id), &job, now).await?;
    match shared.outbox.get(item).await?.map(|i| i.payload) {
        // Somebody else queued a response first: record theirs, under its MessageID.
        Some(stored) if stored != job => {
            let queued: SendJob = jobs::decode(&stored)?;
            let response_id = response_message_id(&queued.envelope).unwrap_or_default();
            shared.inbox.record_response(smev_id, &response_id, now).await?;
        }
        _ => {
            let response_id = response.message_id.to_string();
            shared.inbox.record_response(smev_id, &response_id, now).await?;
        }
    }
    Ok(())
}

/// Queues the acknowledgement of a delivered request or response (`accepted` says whether the gateway took it). A
/// redelivery means SMEV has not taken an acknowledgement: if the earlier one was dead-lettered it is revived, if it
/// completed (SMEV lost it) a new one is queued, and if it is still waiting nothing more is needed.
pub async fn acknowledge(
    shared: &Shared,
    smev_id: &str,
    accepted: bool,
    deliveries: u32,
    redelivered: bool,
) -> Result<(), NotNow> {
    let now = shared.clock_now();
    let ack = jobs::encode(&AckJob { message_id: smev_id.to_string(), accepted });
    let id = shared.enqueue(jobs::ACK_QUEUE, &jobs::ack_key(smev_id, 1), &ack, now).await?;
    if !redelivered {
        return Ok(());
    }
    match shared.outbox.get(id).await?.map(|item| item.state) {
        Some(ItemState::Dead { .. }) => {
            tracing::info!(message_id = %smev_id, "redelivered: reviving its dead-lettered acknowledgement");
            shared.outbox.retry_dead(id, now).await?;
        }
        Some(ItemState::Completed { .. }) => {
            shared.enqueue(jobs::ACK_QUEUE, &jobs::ack_key(smev_id, deliveries), &ack, now).await?;
        }
        _ => {}
    }
    Ok(())
}

/// The MessageID of an unsigned `SendResponseRequest` envelope.
fn response_message_id(envelope: &str) -> Option<String> {
    let doc = crate::xml::parse(envelope, &crate::xml::Limits::default()).ok()?;
    match crate::smev::parse::parse_call(&doc).ok()?.body {
        crate::smev::parse::CallBody::SendResponse(r, _) => Some(r.message_id.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_polls_slow_down_to_the_idle_interval() {
        let idle = Duration::from_secs(1);
        let pauses: Vec<u128> = (1..=8).map(|n| empty_poll_pause(idle, n).as_millis()).collect();
        assert_eq!(pauses, vec![20, 40, 80, 160, 320, 640, 1000, 1000]);
        assert_eq!(empty_poll_pause(idle, u32::MAX), idle);
        assert_eq!(empty_poll_pause(Duration::from_millis(5), 1), Duration::from_millis(5));
    }

    /// Labels come from the kind polled, or `unverified`: never from a request's content.
    #[test]
    fn metrics_label_by_the_kind_polled_or_unverified() {
        let provided = ProvidedKind {
            kind: KindOfData::new("urn://edugate/progress/1.0.0", "ProgressRequest"),
            handler: "progress".into(),
            senders: Arc::default(),
        };
        for outcome in ["answered", "deferred", "redelivered", "left"] {
            assert_eq!(metrics_kind(&provided, outcome), "ProgressRequest");
        }
        assert_eq!(metrics_kind(&provided, "untrusted"), crate::metrics::UNVERIFIED);
    }

    #[test]
    fn poll_backoff_doubles_to_a_minute() {
        let idle = Duration::from_secs(1);
        let pauses: Vec<u64> = (1..=8).map(|n| poll_backoff(idle, n, RetryClass::Retry).as_secs()).collect();
        assert_eq!(pauses, vec![1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(poll_backoff(idle, 1, RetryClass::BackOffAndAlert).as_secs(), 4);
        assert_eq!(poll_backoff(idle, 200, RetryClass::Retry).as_secs(), 60);
    }
}
