//! What readiness and the operators' summary read besides the counters: the last poll of SMEV and a ring of recent
//! SMEV faults. State, not metrics: kept apart from the registry so that each stays one thing.
use crate::smev::client::ClientError;
use crate::smev::{RetryClass, SmevError};
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

/// How many recent SMEV faults are kept for the operators' summary.
pub const RECENT_FAULTS: usize = 50;

/// A SMEV fault as the operators' summary lists it: no message text, which may quote a request's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRecord {
    /// When it happened.
    pub at: SystemTime,
    /// The fault's type (`SMEVFailure`, `QuoteLimitExceeded`, ...) or the kind of failure (`transport`, `timeout`).
    pub fault: String,
    /// The SMEV operation that failed.
    pub operation: String,
    /// What the gateway does about it.
    pub class: &'static str,
}

/// The outcome of the last poll of SMEV, for readiness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollOutcome {
    /// When the poll ended.
    pub at: SystemTime,
    /// Whether SMEV answered (with a message or an empty queue).
    pub ok: bool,
    /// The failure's type, when it failed.
    pub fault: Option<String>,
}

/// The fault ring and the last poll, under one lock: written once per failed call or poll, read by probes.
#[derive(Debug, Default)]
pub struct Health {
    /// The state.
    inner: Mutex<Inner>,
}

/// What [`Health`] guards.
#[derive(Debug, Default)]
struct Inner {
    /// The last [`RECENT_FAULTS`] faults, oldest first.
    faults: VecDeque<FaultRecord>,
    /// The last poll of SMEV.
    last_poll: Option<PollOutcome>,
}

impl Health {
    /// Takes the lock; every update leaves the state consistent, so a poisoned lock is still usable.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Keeps a failed call of `operation`, forgetting the oldest past [`RECENT_FAULTS`].
    pub fn fault(&self, operation: &str, error: &ClientError) {
        let record = FaultRecord {
            at: SystemTime::now(),
            fault: fault_type(error),
            operation: operation.to_owned(),
            class: class_name(error.retry_class()),
        };
        let mut inner = self.lock();
        if inner.faults.len() == RECENT_FAULTS {
            inner.faults.pop_front();
        }
        inner.faults.push_back(record);
    }

    /// Records the outcome of a poll.
    pub fn polled(&self, result: Result<(), &ClientError>) {
        let outcome = PollOutcome { at: SystemTime::now(), ok: result.is_ok(), fault: result.err().map(fault_type) };
        self.lock().last_poll = Some(outcome);
    }

    /// The last [`RECENT_FAULTS`] SMEV faults, newest first.
    pub fn recent_faults(&self) -> Vec<FaultRecord> {
        self.lock().faults.iter().rev().cloned().collect()
    }

    /// The outcome of the last poll of SMEV, if there was one.
    pub fn last_poll(&self) -> Option<PollOutcome> {
        self.lock().last_poll.clone()
    }
}

/// The type of a failed SMEV call: the fault's element name, or the kind of failure when there is no fault.
pub fn fault_type(error: &ClientError) -> String {
    match error {
        ClientError::Fault(fault) => fault.kind.name().to_owned(),
        ClientError::Smev(SmevError::Fault(fault)) => fault.kind.name().to_owned(),
        ClientError::Transport(_) => "transport".to_owned(),
        ClientError::Timeout(_) => "timeout".to_owned(),
        ClientError::Http { status, .. } => format!("http-{status}"),
        ClientError::TooLarge { .. } => "too-large".to_owned(),
        ClientError::Config(_) => "config".to_owned(),
        ClientError::Smev(_) => "unreadable".to_owned(),
        ClientError::Unreadable(_) => "unreadable-delivery".to_owned(),
        ClientError::Cpu(_) => "cpu-pool".to_owned(),
    }
}

/// The name of a retry class in the summary.
fn class_name(class: RetryClass) -> &'static str {
    match class {
        RetryClass::AlreadyDone => "already-done",
        RetryClass::NewMessageId => "new-message-id",
        RetryClass::Retry => "retry",
        RetryClass::RetryWithLaterEol => "retry-later-eol",
        RetryClass::BackOffAndAlert => "back-off-and-alert",
        RetryClass::Final => "final",
    }
}

/// `time` as RFC 3339 in UTC, to the millisecond, always of the same width (so that text order is time order).
pub fn rfc3339(time: SystemTime) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    time::OffsetDateTime::from(time).format(&format).unwrap_or_else(|_| "-".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_kept_newest_first_and_bounded() {
        let health = Health::default();
        for i in 0..(RECENT_FAULTS + 5) {
            let error = ClientError::Http { status: 500 + (i % 3) as u16, snippet: String::new() };
            health.fault("SendResponse", &error);
        }
        let faults = health.recent_faults();
        assert_eq!(faults.len(), RECENT_FAULTS);
        assert_eq!(faults[0].fault, format!("http-{}", 500 + ((RECENT_FAULTS + 4) % 3)));
        assert_eq!(faults[0].class, "retry");
    }

    #[test]
    fn the_last_poll_is_kept_with_its_fault() {
        let health = Health::default();
        assert_eq!(health.last_poll(), None);
        health.polled(Err(&ClientError::Timeout(std::time::Duration::from_secs(1))));
        let poll = health.last_poll().unwrap();
        assert_eq!((poll.ok, poll.fault.as_deref()), (false, Some("timeout")));
        health.polled(Ok(()));
        assert!(health.last_poll().unwrap().ok);
    }
}
