//! Workers drain the outbox: they send queued responses and requests to SMEV and acknowledge delivered messages,
//! turning each outcome into complete, retry or dead-letter from the error's retry class.
//!
//! Policies, outermost first: the outbox's retry with backoff (each failed attempt is rescheduled, never retried
//! in a tight loop); a semaphore bounding concurrent sends (SMEV quotas are per system, not per worker); the circuit
//! breaker on SMEV (when SMEV is down, attempts fail fast instead of each waiting for a timeout); the client's
//! timeouts on each call.
#![forbid(unsafe_code)]

use super::jobs::{self, AckJob, SchoolJob, SendJob};
use super::runtime::Shared;
use crate::gateway::breaker::Permit;
use crate::outbox::{lease_when_due, FailOutcome, FailureKind, Lease, LeaseWait};
use crate::services::enrollment;
use crate::smev::client::ClientError;
use crate::smev::parse::{self, CallBody};
use crate::smev::{MessageId, RetryClass};
use crate::xml::{self, Limits};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

/// The breaker's name for SMEV.
pub const SMEV_DESTINATION: &str = "smev";

/// Leases of a queue being worked on, so that shutdown can give back what it had to abandon.
type InFlight = Arc<Mutex<HashMap<u64, Lease>>>;

/// Drains one queue until shutdown, then lets work in flight finish within the grace period and releases the rest.
pub async fn drain(shared: Arc<Shared>, queue: &'static str, mut stop: watch::Receiver<bool>) {
    let owner = format!("{}/{queue}", shared.instance);
    let permits = Arc::new(Semaphore::new(shared.config.provider.concurrency));
    let in_flight: InFlight = Arc::default();
    let mut tasks = JoinSet::new();
    let lease_for = Duration::from_secs(shared.config.retry.lease_secs);
    loop {
        let wait = LeaseWait {
            queue,
            owner: &owner,
            max_items: permits.available_permits().max(1),
            lease_for,
            idle_poll: Duration::from_millis(250),
        };
        // Work enqueued while the queue looked idle wakes the worker at once instead of at its next idle poll.
        let woken = shared.work_ready.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let leased = tokio::select! {
            r = lease_when_due(&*shared.outbox, &*shared.clock, &wait) => r,
            _ = &mut woken => continue,
            _ = stop.changed() => break,
        };
        match leased {
            Ok(leases) => {
                for lease in leases {
                    let permit = permits.clone().acquire_owned().await.expect("the semaphore is never closed");
                    in_flight.lock().unwrap_or_else(|p| p.into_inner()).insert(lease.id.0, lease.clone());
                    let (shared, in_flight) = (shared.clone(), in_flight.clone());
                    tasks.spawn(async move {
                        let id = lease.id.0;
                        work(&shared, lease).await;
                        in_flight.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
                        drop(permit);
                    });
                }
            }
            Err(e) => {
                tracing::error!(queue, error = %e, "outbox lease failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        while tasks.try_join_next().is_some() {}
    }
    shut_down(&shared, queue, tasks, in_flight).await;
}

/// Waits for work in flight up to the grace period, then abandons it and gives its leases back.
async fn shut_down(shared: &Shared, queue: &str, mut tasks: JoinSet<()>, in_flight: InFlight) {
    let grace = Duration::from_secs(shared.config.http.shutdown_grace_secs);
    let finished = tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
    if finished.is_err() {
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
    let abandoned: Vec<Lease> = in_flight.lock().unwrap_or_else(|p| p.into_inner()).drain().map(|(_, l)| l).collect();
    for lease in abandoned {
        if let Err(e) = shared.outbox.release(&lease, shared.clock.now()).await {
            tracing::warn!(queue, item = %lease.id, error = %e, "could not release a lease; it lapses on its own");
        }
    }
}

/// Does one item and records the outcome.
async fn work(shared: &Shared, lease: Lease) {
    // What a send answers, read with its job, for the metrics.
    let mut answers = None;
    let result = match lease.queue.as_str() {
        jobs::SEND_QUEUE => send(shared, &lease, &mut answers).await,
        jobs::ACK_QUEUE => ack(shared, &lease).await,
        jobs::SCHOOL_QUEUE => school(shared, &lease).await,
        other => Err(FailureKind::Final { reason: format!("no worker for queue '{other}'") }),
    };
    let now = shared.clock.now();
    let recorded = match result {
        Ok(()) => shared.outbox.complete(&lease, now).await.map(|()| None),
        Err(failure) => shared.outbox.fail(&lease, failure, now).await.map(Some),
    };
    observe(shared, &lease, answers, &recorded);
    match recorded {
        Ok(None) => tracing::debug!(queue = %lease.queue, item = %lease.id, "done"),
        Ok(Some(FailOutcome::DeadLettered { cause })) => {
            tracing::error!(queue = %lease.queue, item = %lease.id, cause = cause.as_str(), "dead-lettered")
        }
        Ok(Some(outcome)) => tracing::info!(queue = %lease.queue, item = %lease.id, ?outcome, "will retry"),
        Err(e) => tracing::error!(queue = %lease.queue, item = %lease.id, error = %e, "outbox update failed"),
    }
}

/// Counts the outcome of an attempt: sends and acknowledgements by kind of data, retries and dead letters by queue.
/// `answers` is what a send job answers (its job is not decoded again here: it may be megabytes).
fn observe(
    shared: &Shared,
    lease: &Lease,
    answers: Option<String>,
    recorded: &Result<Option<FailOutcome>, crate::outbox::OutboxError>,
) {
    let metrics = &shared.metrics;
    let outcome = match recorded {
        Ok(None) => "ok",
        Ok(Some(FailOutcome::Rescheduled { .. })) => {
            metrics.retried(&lease.queue);
            "retry"
        }
        Ok(Some(FailOutcome::DeadLettered { cause })) => {
            metrics.dead_lettered(&lease.queue, cause.as_str());
            "dead"
        }
        Err(_) => "error",
    };
    // The kind of data is the exchange's: that of the request a response answers or a delivery acknowledges.
    let about = match lease.queue.as_str() {
        jobs::SEND_QUEUE => answers,
        jobs::ACK_QUEUE => jobs::decode::<AckJob>(&lease.payload).ok().map(|job| job.message_id),
        _ => return,
    };
    // Remembered when the message was received: no store read on this path.
    let kind = match &about {
        Some(id) => metrics.kind_of(id).unwrap_or_else(|| "unknown".to_owned()),
        None => "request".to_owned(),
    };
    if lease.queue == jobs::SEND_QUEUE {
        metrics.sent(&kind, outcome);
    } else {
        metrics.acked(&kind, outcome);
    }
}

/// Whether an error means SMEV itself is unreachable or failing, which is what the breaker counts.
fn is_outage(e: &ClientError) -> bool {
    matches!(e, ClientError::Transport(_) | ClientError::Timeout(_))
        || matches!(e, ClientError::Http { status, .. } if *status >= 500)
}

/// Calls SMEV through the breaker, timing the call (`operation` names it in the metrics).
async fn guarded<T, F>(shared: &Shared, operation: &str, call: F) -> Result<T, ClientError>
where
    F: std::future::Future<Output = Result<T, ClientError>>,
{
    if shared.breakers.permit(SMEV_DESTINATION) == Permit::Refused {
        return Err(ClientError::Transport("SMEV's circuit breaker is open".into()));
    }
    let started = std::time::Instant::now();
    let result = call.await;
    shared.metrics.smev_call(operation, started.elapsed(), result.as_ref().map(|_| ()));
    let outage = result.as_ref().err().is_some_and(is_outage);
    shared.breakers.record(SMEV_DESTINATION, !outage);
    result
}

/// What to tell the outbox about a failed call.
fn failure(e: &ClientError) -> Result<(), FailureKind> {
    let class = e.retry_class();
    if class == RetryClass::BackOffAndAlert {
        tracing::warn!(error = %e, "SMEV asks to back off: operator attention needed");
    }
    match failure_for(class, e.to_string()) {
        None => Ok(()),
        Some(f) => Err(f),
    }
}

/// The failure that an SMEV retry class calls for, or `None` for [`RetryClass::AlreadyDone`], where the item is to be
/// completed rather than failed. Here, not in the outbox, because storage knows nothing of SMEV.
///
/// [`RetryClass::NewMessageId`] is retryable: the worker's next attempt makes a new MessageID and signs again.
fn failure_for(class: RetryClass, reason: String) -> Option<FailureKind> {
    match class {
        RetryClass::AlreadyDone => None,
        RetryClass::Final => Some(FailureKind::Final { reason }),
        RetryClass::NewMessageId | RetryClass::Retry | RetryClass::RetryWithLaterEol | RetryClass::BackOffAndAlert => {
            Some(FailureKind::Retryable { reason })
        }
    }
}

/// Sends a queued response or request: the stored unsigned envelope is signed as it is (by the client, on the CPU
/// pool, the envelope moving there). `StaleMessageId` gets a new MessageID and a new signature at once;
/// `MessageIsAlreadySent` means an earlier attempt succeeded.
async fn send(shared: &Shared, lease: &Lease, answers: &mut Option<String>) -> Result<(), FailureKind> {
    let job = send_job(shared, lease.payload.clone()).await?;
    answers.clone_from(&job.answers);
    let operation = operation_of(&job.envelope);
    let sending = shared.client.send_unsigned(operation, job.envelope);
    let result = guarded(shared, operation.name(), sending).await.map(|_| ());
    match result {
        Ok(()) => {
            tracing::info!(item = %lease.id, answers = job.answers.as_deref().unwrap_or("-"), "sent");
            Ok(())
        }
        Err(e) if e.retry_class() == RetryClass::NewMessageId => {
            tracing::warn!(item = %lease.id, "stale MessageID: sending under a new one");
            let body = stored_call(shared, lease.payload.clone()).await?;
            resend_with_new_id(shared, &body).await
        }
        Err(e) => failure(&e),
    }
}

/// Decodes a stored send job on the CPU pool: its envelope may be megabytes of JSON string.
async fn send_job(shared: &Shared, payload: Vec<u8>) -> Result<SendJob, FailureKind> {
    let bytes = payload.len();
    let decode = move || jobs::decode::<SendJob>(&payload).map_err(|e| e.to_string());
    match shared.verify_pool.run(bytes, decode).await {
        Ok(job) => job.map_err(|reason| FailureKind::Final { reason }),
        Err(e) => Err(FailureKind::Retryable { reason: e.to_string() }),
    }
}

/// Reads a stored send job's envelope back into its typed call, on the CPU pool: the envelope may be megabytes.
async fn stored_call(shared: &Shared, payload: Vec<u8>) -> Result<CallBody, FailureKind> {
    let bytes = payload.len();
    let read = move || {
        let job: SendJob = jobs::decode(&payload).map_err(|e| e.to_string())?;
        let doc = xml::parse(&job.envelope, &Limits::default()).map_err(|e| e.to_string())?;
        parse::parse_call(&doc).map(|call| call.body).map_err(|e| e.to_string())
    };
    match shared.verify_pool.run(bytes, read).await {
        Ok(read) => read.map_err(|reason| FailureKind::Final { reason }),
        Err(e) => Err(FailureKind::Retryable { reason: e.to_string() }),
    }
}

/// Which operation a stored envelope is, from its body element's name (the codec wrote it, so the name is one of
/// two, and it opens the body within the envelope's first bytes: only those are searched, however large the
/// envelope).
fn operation_of(envelope: &str) -> crate::smev::Operation {
    const HEAD: usize = 4096;
    let head = &envelope.as_bytes()[..envelope.len().min(HEAD)];
    let needle = b":SendRequestRequest ";
    if head.windows(needle.len()).any(|w| w == needle) {
        crate::smev::Operation::SendRequest
    } else {
        crate::smev::Operation::SendResponse
    }
}

async fn resend_with_new_id(shared: &Shared, body: &CallBody) -> Result<(), FailureKind> {
    let result = match body {
        CallBody::SendResponse(response, _) => {
            let mut fresh = response.clone();
            fresh.message_id = MessageId::new_v1();
            guarded(shared, "SendResponse", shared.client.send_response(&fresh)).await.map(|_| ())
        }
        CallBody::SendRequest(request, _) => {
            let mut fresh = request.clone();
            fresh.message_id = MessageId::new_v1();
            guarded(shared, "SendRequest", shared.client.send_request(&fresh)).await.map(|_| ())
        }
        _ => Ok(()),
    };
    result.or_else(|e| failure(&e))
}

/// Acknowledges a delivered message, and records it in the inbox.
async fn ack(shared: &Shared, lease: &Lease) -> Result<(), FailureKind> {
    let job: AckJob = jobs::decode(&lease.payload).map_err(|e| FailureKind::Final { reason: e.to_string() })?;
    match guarded(shared, "Ack", shared.client.ack(&job.message_id, job.accepted)).await {
        Ok(()) => {
            if let Err(e) = shared.inbox.mark_acked(&job.message_id, shared.clock.now()).await {
                tracing::warn!(message_id = %job.message_id, error = %e, "acknowledged, but the inbox did not record it");
            }
            tracing::info!(message_id = %job.message_id, "acknowledged");
            Ok(())
        }
        Err(e) => failure(&e),
    }
}

/// Submits a queued application to the school system and queues the answer that follows the school's decision.
/// While the school is down the item is retried by the outbox (and its breaker stops the attempts from reaching
/// it); a school that refuses the request outright still gets the parent an answer.
async fn school(shared: &Shared, lease: &Lease) -> Result<(), FailureKind> {
    let job: SchoolJob = jobs::decode(&lease.payload).map_err(|e| FailureKind::Final { reason: e.to_string() })?;
    let today = time::OffsetDateTime::now_utc().date();
    let body = match enrollment::parse_form(&job.content, today) {
        Err(refusal) => enrollment::refusal_answer(&refusal),
        Ok(application) => {
            let destination = shared.school.name().to_string();
            if shared.breakers.permit(&destination) == Permit::Refused {
                return Err(FailureKind::Retryable { reason: format!("{destination}: circuit breaker open") });
            }
            let result = shared.school.submit_application(&application).await;
            shared.breakers.record(&destination, !result.as_ref().err().is_some_and(|e| e.is_retryable()));
            match result {
                Ok(outcome) => {
                    tracing::info!(order_id = application.order_id, ?outcome, "school decided");
                    enrollment::outcome_answer(&application, &outcome)
                }
                Err(e) if e.is_retryable() => return Err(FailureKind::Retryable { reason: e.to_string() }),
                Err(e) => enrollment::change_order_info(
                    application.order_id,
                    Some(&application.oktmo),
                    enrollment::REFUSED,
                    Some(&format!("Школьная система не приняла заявление: {e}")),
                ),
            }
        }
    };
    super::provider::queue_response(shared, &job.message_id, &job.reply_to, body)
        .await
        .map_err(|e| FailureKind::Retryable { reason: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_classes_map_to_failures() {
        let cases = [
            (RetryClass::AlreadyDone, None),
            (RetryClass::Final, Some(FailureKind::Final { reason: "r".into() })),
            (RetryClass::Retry, Some(FailureKind::Retryable { reason: "r".into() })),
            (RetryClass::NewMessageId, Some(FailureKind::Retryable { reason: "r".into() })),
            (RetryClass::RetryWithLaterEol, Some(FailureKind::Retryable { reason: "r".into() })),
            (RetryClass::BackOffAndAlert, Some(FailureKind::Retryable { reason: "r".into() })),
        ];
        for (class, expected) in cases {
            assert_eq!(failure_for(class, "r".into()), expected, "{class:?}");
        }
    }
}
