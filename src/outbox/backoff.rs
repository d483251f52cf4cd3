//! Retry backoff: exponential with full jitter and a cap, and the limits after which an item is dead-lettered.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use rand::RngCore;

use super::dead::DeadCause;

/// How a queue retries failed items.
///
/// The n-th retry (n from 0) waits a random time between zero and `min(cap, base * 2^n)` ("full jitter"), so that
/// many items failing together (SMEV down for an hour) do not come back together and knock it over again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// The ceiling of the first retry's delay; each later retry doubles it.
    pub base: Duration,
    /// The largest ceiling, so that a long outage does not push retries days apart.
    pub cap: Duration,
    /// Dead-letter after this many attempts; `None` retries without limit (SMEV's own failures call for that).
    pub max_attempts: Option<u32>,
    /// Dead-letter when an item keeps failing for this long since it was enqueued (or revived); `None` for ever.
    pub max_age: Option<Duration>,
}

impl Default for BackoffPolicy {
    /// One second doubling to five minutes, 25 attempts (about two hours of retries), and two days: SMEV refuses
    /// MessageIDs older than about that, so retrying longer would need a new message anyway.
    fn default() -> BackoffPolicy {
        BackoffPolicy {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(300),
            max_attempts: Some(25),
            max_age: Some(Duration::from_secs(2 * 24 * 3600)),
        }
    }
}

impl BackoffPolicy {
    /// The largest delay of the n-th retry (n from 0): `min(cap, base * 2^n)`, without overflow.
    pub fn ceiling(&self, retry: u32) -> Duration {
        if self.base.is_zero() {
            return Duration::ZERO;
        }
        let mut ceiling = self.base;
        for _ in 0..retry {
            if ceiling >= self.cap {
                break;
            }
            ceiling = ceiling.saturating_mul(2);
        }
        ceiling.min(self.cap)
    }

    /// The delay of the n-th retry (n from 0): uniform in `[0, ceiling(n))`, drawn from `rng`.
    ///
    /// The draw scales the ceiling by one 64-bit random fraction in integer arithmetic, so a test's fixed generator
    /// gives exact delays: a generator that always yields `1 << 63` gives half the ceiling.
    pub fn delay(&self, retry: u32, rng: &mut dyn RngCore) -> Duration {
        let ceiling = u64::try_from(self.ceiling(retry).as_nanos()).unwrap_or(u64::MAX);
        let scaled = (u128::from(ceiling) * u128::from(rng.next_u64())) >> 64;
        Duration::from_nanos(scaled as u64)
    }

    /// Which limit, if any, an item has reached after `attempts` attempts over `age`.
    pub fn exhausted(&self, attempts: u32, age: Duration) -> Option<DeadCause> {
        if self.max_attempts.is_some_and(|max| attempts >= max) {
            return Some(DeadCause::AttemptsExhausted);
        }
        if self.max_age.is_some_and(|max| age >= max) {
            return Some(DeadCause::TooOld);
        }
        None
    }
}

/// Everything an outbox backend is configured with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxConfig {
    /// The policy of queues without one of their own.
    pub default_policy: BackoffPolicy,
    /// Policies of particular queues: SMEV sends retry without limit, calls to a school give up sooner.
    pub queue_policies: BTreeMap<String, BackoffPolicy>,
    /// Seed of the jitter generator; `None` seeds it from the operating system. Tests fix it.
    pub jitter_seed: Option<u64>,
}

impl OutboxConfig {
    /// The policy that applies to `queue`.
    pub fn policy(&self, queue: &str) -> &BackoffPolicy {
        self.queue_policies.get(queue).unwrap_or(&self.default_policy)
    }

    /// The jitter generator this configuration asks for.
    pub fn jitter_rng(&self) -> Box<dyn RngCore + Send> {
        use rand::SeedableRng;
        match self.jitter_seed {
            Some(seed) => Box::new(rand::rngs::StdRng::seed_from_u64(seed)),
            None => Box::new(rand::rngs::StdRng::from_entropy()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::rngs::mock::StepRng;
    use rand::SeedableRng;

    fn policy(base_ms: u64, cap_ms: u64) -> BackoffPolicy {
        BackoffPolicy {
            base: Duration::from_millis(base_ms),
            cap: Duration::from_millis(cap_ms),
            max_attempts: None,
            max_age: None,
        }
    }

    #[test]
    fn ceilings_double_up_to_the_cap() {
        let p = policy(500, 10_000);
        let expected_ms = [500, 1000, 2000, 4000, 8000, 10_000, 10_000];
        for (retry, ms) in expected_ms.into_iter().enumerate() {
            assert_eq!(p.ceiling(retry as u32), Duration::from_millis(ms), "retry {retry}");
        }
        assert_eq!(p.ceiling(u32::MAX), Duration::from_millis(10_000));
    }

    #[test]
    fn huge_values_do_not_overflow() {
        let p = BackoffPolicy { base: Duration::MAX, cap: Duration::MAX, max_attempts: None, max_age: None };
        assert_eq!(p.ceiling(1000), Duration::MAX);
        let mut top = StepRng::new(u64::MAX, 0);
        assert!(p.delay(1000, &mut top) <= Duration::from_nanos(u64::MAX));
        assert_eq!(policy(0, 1000).ceiling(u32::MAX), Duration::ZERO);
    }

    #[test]
    fn a_fixed_generator_gives_exact_delays() {
        let p = policy(1000, 8000);
        let mut half = StepRng::new(1 << 63, 0);
        let delays: Vec<u64> = (0..5).map(|n| p.delay(n, &mut half).as_millis() as u64).collect();
        assert_eq!(delays, [500, 1000, 2000, 4000, 4000]);
        let mut zero = StepRng::new(0, 0);
        assert_eq!(p.delay(3, &mut zero), Duration::ZERO);
    }

    #[test]
    fn limits() {
        let p = BackoffPolicy { max_attempts: Some(3), max_age: Some(Duration::from_secs(60)), ..policy(1, 2) };
        let cases = [
            (2, 59, None),
            (3, 0, Some(DeadCause::AttemptsExhausted)),
            (1, 60, Some(DeadCause::TooOld)),
            (5, 100, Some(DeadCause::AttemptsExhausted)),
        ];
        for (attempts, age, expected) in cases {
            assert_eq!(p.exhausted(attempts, Duration::from_secs(age)), expected, "{attempts} after {age}s");
        }
        assert_eq!(policy(1, 2).exhausted(u32::MAX, Duration::MAX), None);
    }

    proptest! {
        #[test]
        fn jitter_stays_within_its_ceiling(
            base_ms in 0u64..100_000,
            cap_ms in 0u64..10_000_000,
            retry in 0u32..200,
            seed in any::<u64>(),
        ) {
            let p = policy(base_ms, cap_ms);
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let delay = p.delay(retry, &mut rng);
            let exact_ceiling = (u128::from(base_ms) << retry.min(100)).min(u128::from(cap_ms));
            prop_assert!(delay <= Duration::from_millis(exact_ceiling as u64));
            prop_assert_eq!(p.ceiling(retry), Duration::from_millis(exact_ceiling as u64));
        }
    }
}
