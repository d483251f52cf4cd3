//! Time as the queue engine sees it: unix milliseconds from an injectable clock.
//!
//! The engine never reads the system time itself, so tests drive visibility timeouts and quota windows with a
//! [`ManualClock`] instead of sleeping.

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current time in unix milliseconds.
///
/// It exists so that the engine's notion of "now" can be replaced in tests and in scripted emulator scenarios.
pub trait Clock: Send + Sync + Debug {
    /// The current time, in milliseconds since the unix epoch.
    fn now_ms(&self) -> u64;
}

/// The real wall clock, for a running emulator.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        // A system clock set before 1970 is treated as the epoch rather than failing every queue operation.
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, duration_ms)
    }
}

/// A clock that moves only when told to, for deterministic tests.
#[derive(Debug, Default)]
pub struct ManualClock {
    /// The time this clock reports, in unix milliseconds; atomic so a shared clock can be moved from any thread.
    now_ms: AtomicU64,
}

impl ManualClock {
    /// A clock stopped at `start_ms`.
    pub fn new(start_ms: u64) -> ManualClock {
        ManualClock { now_ms: AtomicU64::new(start_ms) }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.now_ms.fetch_add(duration_ms(by), Ordering::SeqCst);
    }

    /// Sets the clock to `now_ms`, which may also move it backwards.
    pub fn set(&self, now_ms: u64) {
        self.now_ms.store(now_ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.now_ms.load(Ordering::SeqCst)
    }
}

/// A duration in whole milliseconds, saturating at `u64::MAX` (about 584 million years).
pub fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(1_000);
        assert_eq!(clock.now_ms(), 1_000);
        clock.advance(Duration::from_millis(250));
        assert_eq!(clock.now_ms(), 1_250);
        clock.set(10);
        assert_eq!(clock.now_ms(), 10);
    }

    #[test]
    fn system_clock_is_past_2020() {
        // 2020-01-01T00:00:00Z; only a sanity check of the unit, never of elapsed time.
        assert!(SystemClock.now_ms() > 1_577_836_800_000);
    }

    #[test]
    fn duration_ms_saturates() {
        assert_eq!(duration_ms(Duration::from_secs(2)), 2_000);
        assert_eq!(duration_ms(Duration::MAX), u64::MAX);
    }
}
