//! A circuit breaker per destination: a school system that is down is probed, not hammered.
//!
//! Closed: calls go through and failures are counted; `failure_threshold` failures in a row open it. Open: calls
//! are refused at once until `open_for` has passed; then it is half-open and lets one probe through, whose outcome
//! closes it or opens it again. It sits inside the retry policy (each attempt asks it) so that a refused attempt is
//! retried later by the outbox like any other failure, without reaching the destination.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// The breaker's state for one destination, as operators see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// Calls are refused until the deadline.
    Open,
    /// One probe is in flight (or allowed).
    HalfOpen,
}

impl BreakerState {
    /// The state's name, as `/readyz`, the metrics and the operators' API show it.
    pub fn name(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half-open",
        }
    }
}

/// When to open and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Consecutive failures that open the breaker.
    pub failure_threshold: u32,
    /// How long it stays open before a probe.
    pub open_for: Duration,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        BreakerPolicy { failure_threshold: 5, open_for: Duration::from_secs(30) }
    }
}

#[derive(Debug, Clone, Copy)]
enum Inner {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

/// Breakers for many destinations.
#[derive(Debug)]
pub struct Breakers {
    policy: BreakerPolicy,
    states: Mutex<HashMap<String, Inner>>,
}

/// Permission to call a destination; report the outcome with [`Breakers::record`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    /// Go ahead.
    Call,
    /// Go ahead: this call is the probe of a half-open breaker.
    Probe,
    /// Refused: the destination is considered down.
    Refused,
}

impl Breakers {
    /// Breakers with one policy.
    pub fn new(policy: BreakerPolicy) -> Breakers {
        Breakers { policy, states: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Inner>> {
        self.states.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks whether a call to `destination` may go ahead now.
    pub fn permit(&self, destination: &str) -> Permit {
        let mut states = self.lock();
        let state = states.entry(destination.to_string()).or_insert(Inner::Closed { failures: 0 });
        match *state {
            Inner::Closed { .. } => Permit::Call,
            Inner::Open { until } if Instant::now() < until => Permit::Refused,
            Inner::Open { .. } | Inner::HalfOpen { probing: false } => {
                *state = Inner::HalfOpen { probing: true };
                Permit::Probe
            }
            Inner::HalfOpen { probing: true } => Permit::Refused,
        }
    }

    /// Reports the outcome of a permitted call.
    pub fn record(&self, destination: &str, success: bool) {
        let mut states = self.lock();
        let state = states.entry(destination.to_string()).or_insert(Inner::Closed { failures: 0 });
        *state = match (*state, success) {
            (_, true) => Inner::Closed { failures: 0 },
            (Inner::Closed { failures }, false) if failures + 1 < self.policy.failure_threshold => {
                Inner::Closed { failures: failures + 1 }
            }
            _ => Inner::Open { until: Instant::now() + self.policy.open_for },
        };
    }

    /// The state of one destination.
    pub fn state(&self, destination: &str) -> BreakerState {
        match self.lock().get(destination) {
            None | Some(Inner::Closed { .. }) => BreakerState::Closed,
            Some(Inner::Open { until }) if Instant::now() < *until => BreakerState::Open,
            Some(Inner::Open { .. }) | Some(Inner::HalfOpen { .. }) => BreakerState::HalfOpen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breakers() -> Breakers {
        Breakers::new(BreakerPolicy { failure_threshold: 3, open_for: Duration::from_secs(30) })
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_consecutive_failures_and_probes_after_the_pause() {
        let b = breakers();
        for _ in 0..2 {
            assert_eq!(b.permit("school"), Permit::Call);
            b.record("school", false);
        }
        assert_eq!(b.state("school"), BreakerState::Closed);
        b.record("school", false);
        assert_eq!(b.state("school"), BreakerState::Open);
        assert_eq!(b.permit("school"), Permit::Refused);
        assert_eq!(b.permit("other"), Permit::Call, "breakers are per destination");

        tokio::time::advance(Duration::from_secs(29)).await;
        assert_eq!(b.permit("school"), Permit::Refused);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(b.permit("school"), Permit::Probe, "one probe after the pause");
        assert_eq!(b.permit("school"), Permit::Refused, "and only one");
        b.record("school", false);
        assert_eq!(b.state("school"), BreakerState::Open, "a failed probe opens it again");

        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(b.permit("school"), Permit::Probe);
        b.record("school", true);
        assert_eq!(b.state("school"), BreakerState::Closed);
        assert_eq!(b.permit("school"), Permit::Call);
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_resets_the_count() {
        let b = breakers();
        for _ in 0..10 {
            b.record("school", false);
            b.record("school", true);
        }
        assert_eq!(b.state("school"), BreakerState::Closed);
    }
}
