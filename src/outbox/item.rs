//! Work items, leases and failures, and the rules by which an item moves between its states.
//!
//! The rules are pure functions over a [`WorkItem`]: every backend loads an item, applies one of them and stores the
//! result, so the memory and sled backends (and a later database backend) cannot disagree about what a failure or an
//! expired lease does.
#![forbid(unsafe_code)]

use std::time::{Duration, SystemTime};

use rand::RngCore;

use super::backoff::BackoffPolicy;
use super::dead::DeadCause;
use super::error::OutboxError;
use super::id::ItemId;

/// Where an item is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemState {
    /// Waiting for its `next_attempt_at`, or due now.
    Pending,
    /// Handed to a worker, which must complete, fail, release or extend it before `until`.
    Leased {
        /// Who holds the lease: an id unique to one worker of one gateway instance.
        owner: String,
        /// Distinguishes this lease from every earlier and later one of the same item, so a stale holder is refused.
        token: u64,
        /// When the lease lapses and the item may be leased again (its holder is presumed dead).
        until: SystemTime,
    },
    /// Done; kept until pruned, so that a repeated enqueue of its key stays a no-op and operators can inspect it.
    Completed {
        /// When it was completed; retention counts from here.
        at: SystemTime,
    },
    /// Given up: waits for an operator to retry or purge it.
    Dead {
        /// When it was dead-lettered.
        at: SystemTime,
        /// Why it failed, as the worker reported it (or as the outbox saw it, for expired leases).
        reason: String,
        /// Which rule sent it here.
        cause: DeadCause,
    },
}

/// One unit of durable work: a payload waiting to be processed by a queue's workers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkItem {
    /// The item's id.
    pub id: ItemId,
    /// The queue it belongs to; workers lease by queue.
    pub queue: String,
    /// The caller's name for this work; a second enqueue with the same key in the same queue returns this item.
    pub idempotency_key: String,
    /// What the worker needs to do the work; opaque to the outbox.
    pub payload: Vec<u8>,
    /// Leases handed out since the item was enqueued or revived, less those released: the attempts made so far.
    pub attempts: u32,
    /// How many leases were ever handed out; the source of lease tokens, never reset.
    pub leases: u64,
    /// When it was enqueued.
    pub created_at: SystemTime,
    /// When the current series of attempts began (enqueue, or an operator's retry); `max_age` counts from here.
    pub attempts_since: SystemTime,
    /// When it may next be leased: the retry time while pending, the lease's end while leased.
    pub next_attempt_at: SystemTime,
    /// The reason of the last failure, kept for operators across retries.
    pub last_error: Option<String>,
    /// Where it is in its life.
    pub state: ItemState,
}

/// A worker's claim on one item, and everything it needs to do the work.
///
/// A lease is proof of ownership: completing, failing, releasing or extending an item takes the lease, and is refused
/// with [`OutboxError::StaleLease`] once another worker has leased the item after this lease lapsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The leased item.
    pub id: ItemId,
    /// Its queue.
    pub queue: String,
    /// Who holds the lease.
    pub owner: String,
    /// This lease's token, checked on every use.
    pub token: u64,
    /// When the lease lapses unless extended.
    pub until: SystemTime,
    /// Which attempt this is, from 1.
    pub attempt: u32,
    /// The item's idempotency key, which workers pass on downstream (e.g. as a request id).
    pub idempotency_key: String,
    /// The work.
    pub payload: Vec<u8>,
    /// When the item was enqueued.
    pub created_at: SystemTime,
    /// The reason of the previous attempt's failure, if any.
    pub last_error: Option<String>,
}

/// How an attempt failed, which decides what happens to the item next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    /// A transient failure: retry after the policy's backoff, unless its limits are reached.
    Retryable {
        /// What went wrong, for operators.
        reason: String,
    },
    /// A failure no retry can cure: dead-letter the item at once.
    Final {
        /// What went wrong, for operators.
        reason: String,
    },
    /// A transient failure whose retry time the other side named (e.g. a quota window): retry then, not earlier,
    /// unless the policy's limits are reached.
    RetryAt {
        /// The earliest moment to retry; a moment in the past means at once.
        at: SystemTime,
        /// What went wrong, for operators.
        reason: String,
    },
}

impl FailureKind {
    /// The failure's reason.
    pub fn reason(&self) -> &str {
        match self {
            FailureKind::Retryable { reason } | FailureKind::Final { reason } | FailureKind::RetryAt { reason, .. } => {
                reason
            }
        }
    }
}

/// What [`super::Outbox::fail`] did with the item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailOutcome {
    /// It will be retried, at the earliest at `at`.
    Rescheduled {
        /// When it becomes due again.
        at: SystemTime,
    },
    /// It was dead-lettered.
    DeadLettered {
        /// Which rule sent it there.
        cause: DeadCause,
    },
}

/// The longest queue name, so that keys built from it stay short.
pub const MAX_QUEUE_LEN: usize = 64;
/// The longest idempotency key.
pub const MAX_KEY_LEN: usize = 1024;

/// Checks that `queue` is a usable queue name: 1 to [`MAX_QUEUE_LEN`] ASCII letters, digits, `-`, `_`, `.` or `:`.
pub fn validate_queue(queue: &str) -> Result<(), OutboxError> {
    let invalid = |reason: &str| Err(OutboxError::InvalidQueue { queue: queue.to_owned(), reason: reason.to_owned() });
    if queue.is_empty() || queue.len() > MAX_QUEUE_LEN {
        return invalid("it must be 1 to 64 bytes long");
    }
    if !queue.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':')) {
        return invalid("it may hold only ASCII letters, digits, '-', '_', '.' and ':'");
    }
    Ok(())
}

/// Checks that `key` is a usable idempotency key: not empty and at most [`MAX_KEY_LEN`] bytes.
pub fn validate_key(key: &str) -> Result<(), OutboxError> {
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(OutboxError::InvalidKey { reason: format!("it must be 1 to {MAX_KEY_LEN} bytes long") });
    }
    Ok(())
}

/// Checks that `owner` names somebody.
pub fn validate_owner(owner: &str) -> Result<(), OutboxError> {
    if owner.is_empty() {
        return Err(OutboxError::InvalidOwner);
    }
    Ok(())
}

/// `time` as nanoseconds since the epoch, the form stores keep times in; earlier times become 0, times after 2554
/// the largest value.
pub(crate) fn nanos(time: SystemTime) -> u64 {
    let since = time.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
}

/// The time `nanos` nanoseconds after the epoch.
pub(crate) fn from_nanos(nanos: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos)
}

impl WorkItem {
    /// A new pending item, due at once.
    pub(crate) fn new(id: ItemId, queue: &str, key: &str, payload: &[u8], now: SystemTime) -> WorkItem {
        WorkItem {
            id,
            queue: queue.to_owned(),
            idempotency_key: key.to_owned(),
            payload: payload.to_vec(),
            attempts: 0,
            leases: 0,
            created_at: now,
            attempts_since: now,
            next_attempt_at: now,
            last_error: None,
            state: ItemState::Pending,
        }
    }

    /// Whether a worker may lease the item at `now`: pending and due, or leased with the lease lapsed.
    pub(crate) fn is_available(&self, now: SystemTime) -> bool {
        match self.state {
            ItemState::Pending | ItemState::Leased { .. } => self.next_attempt_at <= now,
            ItemState::Completed { .. } | ItemState::Dead { .. } => false,
        }
    }

    /// Whether the item waits in its queue (pending or leased), as opposed to being finished.
    pub(crate) fn is_queued(&self) -> bool {
        matches!(self.state, ItemState::Pending | ItemState::Leased { .. })
    }

    /// If the item is available only because its last lease lapsed and the policy allows no further attempt,
    /// dead-letters it and returns true.
    ///
    /// A worker that crashes (or hangs) on an item never reports a failure; counting lapsed leases as attempts keeps
    /// such a poison item from crashing workers for ever.
    pub(crate) fn bury_if_lapsed_and_spent(&mut self, policy: &BackoffPolicy, now: SystemTime) -> bool {
        let ItemState::Leased { owner, .. } = &self.state else { return false };
        let Some(cause) = policy.exhausted(self.attempts, self.age(now)) else { return false };
        let reason = format!("the lease of {owner} lapsed without an answer (the worker crashed or hung)");
        self.dead_letter(reason, cause, now);
        true
    }

    /// Hands the item to `owner` until `now + lease_for`, counting an attempt.
    pub(crate) fn lease_to(&mut self, owner: &str, lease_for: Duration, now: SystemTime) -> Lease {
        let until = now.checked_add(lease_for).unwrap_or(now);
        self.attempts = self.attempts.saturating_add(1);
        self.leases += 1;
        self.next_attempt_at = until;
        self.state = ItemState::Leased { owner: owner.to_owned(), token: self.leases, until };
        Lease {
            id: self.id,
            queue: self.queue.clone(),
            owner: owner.to_owned(),
            token: self.leases,
            until,
            attempt: self.attempts,
            idempotency_key: self.idempotency_key.clone(),
            payload: self.payload.clone(),
            created_at: self.created_at,
            last_error: self.last_error.clone(),
        }
    }

    /// Refuses `lease` unless it is the item's current lease (it may have lapsed, as long as nobody took it over).
    pub(crate) fn check_lease(&self, lease: &Lease) -> Result<(), OutboxError> {
        match &self.state {
            ItemState::Leased { owner, token, .. } if *token == lease.token && *owner == lease.owner => Ok(()),
            _ => Err(OutboxError::StaleLease { id: self.id }),
        }
    }

    /// Marks the item done.
    pub(crate) fn complete(&mut self, now: SystemTime) {
        self.state = ItemState::Completed { at: now };
    }

    /// Applies a failed attempt: reschedules the item or dead-letters it.
    pub(crate) fn fail(
        &mut self,
        failure: FailureKind,
        policy: &BackoffPolicy,
        rng: &mut dyn RngCore,
        now: SystemTime,
    ) -> FailOutcome {
        self.last_error = Some(failure.reason().to_owned());
        let retry_at = match failure {
            FailureKind::Final { reason } => return self.dead_outcome(reason, DeadCause::Final, now),
            FailureKind::Retryable { .. } => {
                let delay = policy.delay(self.attempts.saturating_sub(1), rng);
                now.checked_add(delay).unwrap_or(now)
            }
            FailureKind::RetryAt { at, .. } => at.max(now),
        };
        if let Some(cause) = policy.exhausted(self.attempts, self.age(now)) {
            let reason = self.last_error.clone().unwrap_or_default();
            return self.dead_outcome(reason, cause, now);
        }
        self.state = ItemState::Pending;
        self.next_attempt_at = retry_at;
        FailOutcome::Rescheduled { at: retry_at }
    }

    /// Gives the item back without counting the attempt, due at once.
    pub(crate) fn release(&mut self, now: SystemTime) {
        self.attempts = self.attempts.saturating_sub(1);
        self.state = ItemState::Pending;
        self.next_attempt_at = now;
    }

    /// Moves the lease's end to `now + lease_for`, returning the lease as it now stands.
    pub(crate) fn extend(&mut self, lease: &Lease, lease_for: Duration, now: SystemTime) -> Lease {
        let until = now.checked_add(lease_for).unwrap_or(now);
        if let ItemState::Leased { until: current, .. } = &mut self.state {
            *current = until;
        }
        self.next_attempt_at = until;
        Lease { until, ..lease.clone() }
    }

    /// Moves a dead item back to pending, due at once, with a fresh series of attempts.
    pub(crate) fn revive(&mut self, now: SystemTime) -> Result<(), OutboxError> {
        if !matches!(self.state, ItemState::Dead { .. }) {
            return Err(OutboxError::NotDead { id: self.id });
        }
        self.attempts = 0;
        self.attempts_since = now;
        self.next_attempt_at = now;
        self.state = ItemState::Pending;
        Ok(())
    }

    /// Refuses unless the item is dead (for purging).
    pub(crate) fn check_dead(&self) -> Result<(), OutboxError> {
        match self.state {
            ItemState::Dead { .. } => Ok(()),
            _ => Err(OutboxError::NotDead { id: self.id }),
        }
    }

    /// How long the current series of attempts has been going on at `now`.
    fn age(&self, now: SystemTime) -> Duration {
        now.duration_since(self.attempts_since).unwrap_or_default()
    }

    /// Dead-letters the item.
    fn dead_letter(&mut self, reason: String, cause: DeadCause, now: SystemTime) {
        self.last_error = Some(reason.clone());
        self.state = ItemState::Dead { at: now, reason, cause };
    }

    /// Dead-letters the item and says so.
    fn dead_outcome(&mut self, reason: String, cause: DeadCause, now: SystemTime) -> FailOutcome {
        self.dead_letter(reason, cause, now);
        FailOutcome::DeadLettered { cause }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::mock::StepRng;

    const T0: SystemTime = SystemTime::UNIX_EPOCH;

    fn at(seconds: u64) -> SystemTime {
        T0 + Duration::from_secs(seconds)
    }

    fn policy() -> BackoffPolicy {
        BackoffPolicy {
            base: Duration::from_secs(2),
            cap: Duration::from_secs(60),
            max_attempts: Some(3),
            max_age: Some(Duration::from_secs(3600)),
        }
    }

    #[test]
    fn queue_names() {
        for good in ["send-to-smev", "a", "q.1:x_y", &"q".repeat(64)] {
            assert!(validate_queue(good).is_ok(), "{good}");
        }
        for bad in ["", "with space", "nul\0", "кириллица", &"q".repeat(65)] {
            assert!(matches!(validate_queue(bad), Err(OutboxError::InvalidQueue { .. })), "{bad:?}");
        }
    }

    #[test]
    fn a_lapsed_lease_counts_as_an_attempt() {
        let mut item = WorkItem::new(ItemId(1), "q", "k", b"p", at(0));
        for n in 0..3u64 {
            assert!(!item.bury_if_lapsed_and_spent(&policy(), at(10 * n)));
            item.lease_to("w", Duration::from_secs(5), at(10 * n));
        }
        assert!(item.bury_if_lapsed_and_spent(&policy(), at(40)));
        assert!(matches!(item.state, ItemState::Dead { cause: DeadCause::AttemptsExhausted, .. }));
    }

    #[test]
    fn retry_at_in_the_past_means_now() {
        let mut item = WorkItem::new(ItemId(1), "q", "k", b"p", at(0));
        item.lease_to("w", Duration::from_secs(5), at(100));
        let failure = FailureKind::RetryAt { at: at(50), reason: "quota".into() };
        let outcome = item.fail(failure, &policy(), &mut StepRng::new(0, 0), at(101));
        assert_eq!(outcome, FailOutcome::Rescheduled { at: at(101) });
    }

    #[test]
    fn release_gives_the_attempt_back() {
        let mut item = WorkItem::new(ItemId(1), "q", "k", b"p", at(0));
        let lease = item.lease_to("w", Duration::from_secs(5), at(1));
        assert_eq!(lease.attempt, 1);
        item.release(at(2));
        assert_eq!((item.attempts, item.next_attempt_at), (0, at(2)));
        let second = item.lease_to("w", Duration::from_secs(5), at(3));
        assert_eq!(second.attempt, 1);
        assert_ne!(second.token, lease.token);
        assert!(item.check_lease(&lease).is_err());
    }

    #[test]
    fn dead_causes_round_trip() {
        for cause in [DeadCause::Final, DeadCause::AttemptsExhausted, DeadCause::TooOld] {
            assert_eq!(DeadCause::parse(cause.as_str()), Some(cause));
        }
    }
}
