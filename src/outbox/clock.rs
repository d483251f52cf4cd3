//! Where the outbox's callers get `now` from.
//!
//! The outbox's operations take the time as an argument, so that its rules are deterministic under test; the
//! async helpers that wait for work ask a [`Clock`], which tests replace with [`TokioClock`] under paused time.
#![forbid(unsafe_code)]

use std::time::SystemTime;

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The system's wall clock, for production.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Wall-clock time that moves with tokio's clock: a fixed origin plus the tokio time elapsed since it.
///
/// Under `#[tokio::test(start_paused = true)]` tokio's clock stands still until every task waits on a timer, then
/// jumps to the next one; this clock follows, so a test of a ten-minute backoff runs in microseconds.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    /// The wall-clock time at `start`.
    origin: SystemTime,
    /// The tokio instant the clock started at.
    start: tokio::time::Instant,
}

impl TokioClock {
    /// A clock that reads `origin` now and advances with tokio's time.
    pub fn starting_at(origin: SystemTime) -> TokioClock {
        TokioClock { origin, start: tokio::time::Instant::now() }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> SystemTime {
        self.origin + self.start.elapsed()
    }
}
