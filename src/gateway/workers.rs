//! Workers drain the outbox: they send queued responses and requests to SMEV, acknowledge delivered messages, and
//! run work deferred to the school system, turning each outcome into complete, retry or dead-letter from the
//! error's retry class.
//!
//! Policies, outermost first: the outbox's retry with backoff (each failed attempt is rescheduled, never retried in
//! a tight loop); a semaphore bounding the calls to SMEV in flight, ONE for sends and acknowledgements together
//! (SMEV's quotas are per information system, not per queue), another for the school system; the circuit breaker
//! of the destination (when it is down, attempts fail fast instead of each waiting for a timeout); the client's
//! timeouts on each call.
#![forbid(unsafe_code)]

use super::breaker::{Breakers, Permit};
use super::jobs::{self, AckJob, DeferredJob};
use super::reply::Replies;
use super::shutdown::Shutdown;
use crate::cpu::CpuPool;
use crate::metrics::Metrics;
use crate::outbox::{lease_when_due, BackoffPolicy, FailOutcome, FailureKind, Lease, LeaseWait};
use crate::school::SchoolSystem;
use crate::services::{DeferredError, Registry};
use crate::smev::client::{ClientError, SmevClient};
use crate::smev::RetryClass;
use crate::store::{MessageStore, Step};
use rand::SeedableRng;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// The breaker's name for SMEV.
pub const SMEV_DESTINATION: &str = "smev";

/// Everything the outbox's workers use, and nothing else.
#[derive(Clone)]
pub struct Workers {
    /// The SMEV client, signing as the gateway.
    pub client: SmevClient,
    /// The outbox and the inbox.
    pub store: Arc<dyn MessageStore>,
    /// Where deferred work's answers go.
    pub replies: Replies,
    /// The services that run deferred work, by name.
    pub registry: Registry,
    /// The school system deferred work goes to.
    pub school: Arc<dyn SchoolSystem>,
    /// Circuit breakers per destination.
    pub breakers: Arc<Breakers>,
    /// Counters.
    pub metrics: Metrics,
    /// Where large jobs are decoded, off the async threads.
    pub cpu: CpuPool,
    /// Calls to SMEV in flight at once, sends and acknowledgements together.
    pub smev_permits: Arc<Semaphore>,
    /// Calls to the school system in flight at once.
    pub school_permits: Arc<Semaphore>,
    /// This process's name in lease owners.
    pub instance: String,
    /// How long a lease lasts.
    pub lease_for: Duration,
    /// How long work in flight may finish at shutdown.
    pub grace: Duration,
}

/// Leases of a queue being worked on, so that shutdown can give back what it had to abandon.
type InFlight = Arc<Mutex<HashMap<u64, Lease>>>;

/// The pause after the store fails to lease, doubling to half a minute (with jitter): a failing store is not
/// hammered, and a passing hiccup costs little.
const LEASE_FAILURE: BackoffPolicy =
    BackoffPolicy { base: Duration::from_millis(500), cap: Duration::from_secs(30), max_attempts: None, max_age: None };

impl Workers {
    /// The permits a queue's calls take.
    fn permits(&self, queue: &str) -> Arc<Semaphore> {
        if queue == jobs::DEFERRED_QUEUE {
            self.school_permits.clone()
        } else {
            self.smev_permits.clone()
        }
    }

    /// Drains one queue until shutdown, then lets work in flight finish within the grace period and releases the
    /// rest.
    pub async fn drain(self, queue: &'static str, mut shutdown: Shutdown) {
        let owner = format!("{}/{queue}", self.instance);
        let permits = self.permits(queue);
        let in_flight: InFlight = Arc::default();
        let mut tasks = JoinSet::new();
        let mut failures = 0u32;
        let mut rng = rand::rngs::StdRng::from_entropy();
        let work_ready = self.replies.work_ready.clone();
        while !shutdown.is_stopping() {
            let wait = LeaseWait {
                queue,
                owner: &owner,
                max_items: permits.available_permits().max(1),
                lease_for: self.lease_for,
                idle_poll: Duration::from_millis(250),
            };
            // Work enqueued while the queue looked idle wakes the worker at once instead of at its next idle poll.
            let woken = work_ready.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let outbox = self.store.outbox().clone();
            let leased = tokio::select! {
                r = lease_when_due(outbox.as_ref(), &*self.replies.clock, &wait) => r,
                _ = &mut woken => continue,
                _ = shutdown.stopped() => break,
            };
            match leased {
                Ok(leases) => {
                    failures = 0;
                    for lease in leases {
                        let permit = permits.clone().acquire_owned().await.expect("the semaphore is never closed");
                        in_flight.lock().unwrap_or_else(|p| p.into_inner()).insert(lease.id.0, lease.clone());
                        let (workers, in_flight) = (self.clone(), in_flight.clone());
                        tasks.spawn(async move {
                            let id = lease.id.0;
                            workers.work(lease).await;
                            in_flight.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
                            drop(permit);
                        });
                    }
                }
                Err(e) => {
                    failures += 1;
                    tracing::error!(queue, error = %e, "outbox lease failed");
                    shutdown.sleep(LEASE_FAILURE.delay(failures - 1, &mut rng)).await;
                }
            }
            while tasks.try_join_next().is_some() {}
        }
        self.shut_down(queue, tasks, in_flight).await;
    }

    /// Waits for work in flight up to the grace period, then abandons it and gives its leases back.
    async fn shut_down(&self, queue: &str, mut tasks: JoinSet<()>, in_flight: InFlight) {
        let finished = tokio::time::timeout(self.grace, async { while tasks.join_next().await.is_some() {} }).await;
        if finished.is_err() {
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        }
        let abandoned: Vec<Lease> =
            in_flight.lock().unwrap_or_else(|p| p.into_inner()).drain().map(|(_, l)| l).collect();
        for lease in abandoned {
            if let Err(e) = self.store.outbox().release(&lease, self.replies.clock.now()).await {
                tracing::warn!(queue, item = %lease.id, error = %e, "could not release a lease; it lapses on its own");
            }
        }
    }

    /// Does one item and records the outcome.
    async fn work(&self, lease: Lease) {
        let done = match lease.queue.as_str() {
            jobs::SEND_QUEUE => self.send(&lease).await,
            jobs::ACK_QUEUE => self.ack(&lease).await,
            jobs::DEFERRED_QUEUE => self.deferred(&lease).await,
            other => Done::Failed(FailureKind::Final { reason: format!("no worker for queue '{other}'") }, None),
        };
        let now = self.replies.clock.now();
        let (recorded, about) = match done {
            Done::Recorded(about) => (Ok(None), about),
            Done::Completed(about) => (self.store.outbox().complete(&lease, now).await.map(|()| None), about),
            Done::Failed(failure, about) => (self.store.outbox().fail(&lease, failure, now).await.map(Some), about),
        };
        self.observe(&lease, about, &recorded);
        match recorded {
            Ok(None) => tracing::debug!(queue = %lease.queue, item = %lease.id, "done"),
            Ok(Some(FailOutcome::DeadLettered { cause })) => {
                tracing::error!(queue = %lease.queue, item = %lease.id, cause = cause.as_str(), "dead-lettered")
            }
            Ok(Some(outcome)) => tracing::info!(queue = %lease.queue, item = %lease.id, ?outcome, "will retry"),
            Err(e) => tracing::error!(queue = %lease.queue, item = %lease.id, error = %e, "outbox update failed"),
        }
    }

    /// Counts the outcome of an attempt: sends and acknowledgements by kind of data (read from their jobs),
    /// retries and dead letters by queue.
    fn observe(
        &self,
        lease: &Lease,
        kind: Option<String>,
        recorded: &Result<Option<FailOutcome>, crate::outbox::OutboxError>,
    ) {
        let outcome = match recorded {
            Ok(None) => "ok",
            Ok(Some(FailOutcome::Rescheduled { .. })) => {
                self.metrics.retried(&lease.queue);
                "retry"
            }
            Ok(Some(FailOutcome::DeadLettered { cause })) => {
                self.metrics.dead_lettered(&lease.queue, cause.as_str());
                "dead"
            }
            Err(_) => "error",
        };
        let kind = kind.as_deref().unwrap_or("unknown");
        match lease.queue.as_str() {
            jobs::SEND_QUEUE => self.metrics.sent(kind, outcome),
            jobs::ACK_QUEUE => self.metrics.acked(kind, outcome),
            _ => {}
        }
    }

    /// Calls SMEV through its breaker, timing the call (`operation` names it in the metrics).
    async fn guarded<T, F>(&self, operation: &str, call: F) -> Result<T, ClientError>
    where
        F: std::future::Future<Output = Result<T, ClientError>>,
    {
        if self.breakers.permit(SMEV_DESTINATION) == Permit::Refused {
            return Err(ClientError::Transport("SMEV's circuit breaker is open".into()));
        }
        let started = std::time::Instant::now();
        let result = call.await;
        self.metrics.smev_call(operation, started.elapsed(), result.as_ref().map(|_| ()));
        let outage = result.as_ref().err().is_some_and(is_outage);
        self.breakers.record(SMEV_DESTINATION, !outage);
        result
    }

    /// Sends a queued response or request: the stored unsigned envelope is signed as it is (by the client, on the
    /// CPU pool). `StaleMessageId` gets a new MessageID and a new signature at once; `MessageIsAlreadySent` means
    /// an earlier attempt succeeded.
    async fn send(&self, lease: &Lease) -> Done {
        let job = match self.decode_send(lease.payload.clone()).await {
            Ok(job) => job,
            Err(failure) => return Done::Failed(failure, None),
        };
        let kind = Some(job.head.kind.clone());
        let operation = job.head.send.operation();
        let result = self.guarded(operation.name(), self.client.send_unsigned(operation, job.envelope)).await;
        match result {
            Ok(_) => {
                tracing::info!(item = %lease.id, answers = job.head.answers.as_deref().unwrap_or("-"), "sent");
                Done::Completed(kind)
            }
            Err(e) if e.retry_class() == RetryClass::NewMessageId => {
                tracing::warn!(item = %lease.id, "stale MessageID: sending under a new one");
                Done::of(self.resend_with_new_id(lease, operation).await, kind)
            }
            Err(e) => Done::of(failure(&e), kind),
        }
    }

    /// Decodes a stored send job on the CPU pool: its envelope may be megabytes.
    async fn decode_send(&self, payload: Vec<u8>) -> Result<jobs::SendJob, FailureKind> {
        let bytes = payload.len();
        let decode = move || jobs::decode_send(payload).map_err(|e| e.to_string());
        match self.cpu.run(bytes, decode).await {
            Ok(job) => job.map_err(|reason| FailureKind::Final { reason }),
            Err(e) => Err(FailureKind::Retryable { reason: e.to_string() }),
        }
    }

    /// Sends a stored envelope again under a new MessageID (the codec renews it in the unsigned envelope).
    async fn resend_with_new_id(&self, lease: &Lease, operation: crate::smev::Operation) -> Result<(), FailureKind> {
        let job = self.decode_send(lease.payload.clone()).await?;
        let (renewed, id) = crate::smev::build::renew_message_id(&job.envelope)
            .map_err(|e| FailureKind::Final { reason: e.to_string() })?;
        tracing::info!(item = %lease.id, message_id = %id, "renewed MessageID");
        let result = self.guarded(operation.name(), self.client.send_unsigned(operation, renewed)).await;
        result.map(|_| ()).or_else(|e| failure(&e))
    }

    /// Acknowledges a delivered message; the inbox records it in the same durable step that completes the item.
    async fn ack(&self, lease: &Lease) -> Done {
        let job: AckJob = match jobs::decode(&lease.payload) {
            Ok(job) => job,
            Err(e) => return Done::Failed(FailureKind::Final { reason: e.to_string() }, None),
        };
        let kind = Some(job.kind.clone());
        match self.guarded("Ack", self.client.ack(&job.message_id, job.accepted)).await {
            Ok(()) => {
                tracing::info!(message_id = %job.message_id, "acknowledged");
                let step = Step {
                    smev_id: &job.message_id,
                    enqueue: Vec::new(),
                    response_message_id: None,
                    complete: Some(lease),
                    acked: true,
                    thread: None,
                };
                match self.store.commit(step, self.replies.clock.now()).await {
                    Ok(_) => Done::Recorded(kind),
                    Err(e) => {
                        tracing::warn!(message_id = %job.message_id, error = %e, "acknowledged, but not recorded");
                        Done::Completed(kind)
                    }
                }
            }
            Err(e) => Done::of(failure(&e), kind),
        }
    }

    /// Runs work a service deferred to the school system (through the school's breaker) and queues the answer
    /// that follows, completing the work in the same durable step. While the school is down the item is retried by
    /// the outbox.
    async fn deferred(&self, lease: &Lease) -> Done {
        let job: DeferredJob = match jobs::decode(&lease.payload) {
            Ok(job) => job,
            Err(e) => return Done::Failed(FailureKind::Final { reason: e.to_string() }, None),
        };
        let Some(service) = self.registry.service(&job.service) else {
            let reason = format!("no service '{}' is registered to run this work", job.service);
            return Done::Failed(FailureKind::Final { reason }, None);
        };
        let destination = self.school.name().to_string();
        if self.breakers.permit(&destination) == Permit::Refused {
            return Done::Failed(
                FailureKind::Retryable { reason: format!("{destination}: circuit breaker open") },
                None,
            );
        }
        let result = service.run_deferred(&job.work, &*self.school).await;
        self.breakers.record(&destination, !matches!(result, Err(DeferredError::Retry(_))));
        let body = match result {
            Ok(body) => body,
            Err(DeferredError::Retry(reason)) => return Done::Failed(FailureKind::Retryable { reason }, None),
            Err(DeferredError::Final(reason)) => return Done::Failed(FailureKind::Final { reason }, None),
        };
        match self.replies.answer_deferred(lease, &job, body).await {
            Ok(()) => Done::Recorded(None),
            Err(e) => Done::Failed(FailureKind::Retryable { reason: e.to_string() }, None),
        }
    }
}

impl Done {
    /// Completed or failed, as `result` says; `kind` as in [`Done::Completed`].
    fn of(result: Result<(), FailureKind>, kind: Option<String>) -> Done {
        match result {
            Ok(()) => Done::Completed(kind),
            Err(failure) => Done::Failed(failure, kind),
        }
    }
}

/// How an item's work ended, with the kind of data it belongs to (for the metrics).
enum Done {
    /// Done, and already recorded in the store by the step that did it.
    Recorded(Option<String>),
    /// Done; the item is to be completed.
    Completed(Option<String>),
    /// Failed; the outbox decides between retry and dead letter.
    Failed(FailureKind, Option<String>),
}

/// Whether an error means SMEV itself is unreachable or failing, which is what the breaker counts.
fn is_outage(e: &ClientError) -> bool {
    matches!(e, ClientError::Transport(_) | ClientError::Timeout(_))
        || matches!(e, ClientError::Http { status, .. } if *status >= 500)
}

/// What to tell the outbox about a failed call: `Ok` when the failure means the work is done already.
fn failure(e: &ClientError) -> Result<(), FailureKind> {
    let class = e.retry_class();
    if class == RetryClass::BackOffAndAlert {
        tracing::warn!(error = %e, "SMEV asks to back off: operator attention needed");
    }
    match failure_for_retry_class(class, e.to_string()) {
        None => Ok(()),
        Some(f) => Err(f),
    }
}

/// The outbox's failure for a retry class: `None` when the class means the work is done already.
fn failure_for_retry_class(class: RetryClass, reason: String) -> Option<FailureKind> {
    match class {
        RetryClass::AlreadyDone => None,
        RetryClass::NewMessageId | RetryClass::Retry | RetryClass::RetryWithLaterEol | RetryClass::BackOffAndAlert => {
            Some(FailureKind::Retryable { reason })
        }
        RetryClass::Final => Some(FailureKind::Final { reason }),
    }
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
            assert_eq!(failure_for_retry_class(class, "r".into()), expected, "{class:?}");
        }
    }
}
