//! A bounded pool for CPU work proportional to a message: parsing an answer, signing an envelope, verifying a
//! delivery. Such work runs on tokio's blocking threads, never on the async worker threads, so a message of several
//! megabytes does not stall other tasks (the HTTP port's `/healthz` among them); and a semaphore bounds how many
//! run at once, so a burst of large messages cannot take every core or start a thread each.
//!
//! Work over a small input stays on the calling task: handing it to another thread and back costs more than doing
//! it (a lookup's envelopes are a few kilobytes; moving each of its signatures, parses and verifications to a
//! blocking thread cost the gateway a fifth of its throughput), and work that short cannot stall anything.
//!
//! It sits at the crate's root, below both [`crate::smev`] (whose client parses and signs) and [`crate::gateway`]
//! (which verifies), so neither imports the other to share it.
#![forbid(unsafe_code)]

use std::sync::Arc;
use tokio::sync::Semaphore;

/// Runs CPU-heavy closures on tokio's blocking threads, at most a configured number at once. Cloning shares the
/// bound.
#[derive(Debug, Clone)]
pub struct CpuPool {
    /// One permit per piece of work allowed to run at once.
    permits: Arc<Semaphore>,
}

impl CpuPool {
    /// A pool running at most `max` pieces of work at once (at least one).
    pub fn new(max: usize) -> CpuPool {
        CpuPool { permits: Arc::new(Semaphore::new(max.max(1))) }
    }

    /// A pool as wide as the machine has cores: the work is pure CPU.
    pub fn per_core() -> CpuPool {
        CpuPool::new(default_concurrency())
    }

    /// Runs `work`, whose cost grows with an input of `bytes` bytes: on the calling task when the input is below
    /// [`INLINE_BELOW`], otherwise on a blocking thread once a permit is free. The permit goes with the work, so a
    /// caller that stops waiting does not free it before the work ends. Whatever `work` needs is moved into it: the
    /// caller's buffers change hands rather than being copied.
    pub async fn run<T, F>(&self, bytes: usize, work: F) -> Result<T, PoolError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        if bytes < INLINE_BELOW {
            return Ok(work());
        }
        let permit = self.permits.clone().acquire_owned().await.map_err(|_| PoolError::Closed)?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|e| PoolError::Failed(e.to_string()))
    }
}

/// Inputs below this size are worked on where they are: at about 100 MB/s for parsing, canonicalization and
/// Streebog, 64 KiB is well under a millisecond of work, less than other tasks already wait for a poll of the
/// async threads, while a hop to a blocking thread and back costs tens of microseconds on a busy machine.
pub const INLINE_BELOW: usize = 64 * 1024;

/// The number of cores, the default bound of a [`CpuPool`].
pub fn default_concurrency() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Why work given to a [`CpuPool`] did not complete.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PoolError {
    /// The pool was closed.
    #[error("the CPU pool is closed")]
    Closed,
    /// The work panicked or the runtime is shutting down.
    #[error("CPU work did not complete: {0}")]
    Failed(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: every signature, parse and verification of a lookup went to a blocking thread and back, which
    /// cost more than the work itself; only large inputs go now.
    #[tokio::test(flavor = "current_thread")]
    async fn small_inputs_stay_on_the_calling_thread_and_large_ones_leave_it() {
        let pool = CpuPool::new(1);
        let here = std::thread::current().id();
        let small = pool.run(INLINE_BELOW - 1, || std::thread::current().id()).await.unwrap();
        assert_eq!(small, here);
        let large = pool.run(INLINE_BELOW, || std::thread::current().id()).await.unwrap();
        assert_ne!(large, here);
    }
}
