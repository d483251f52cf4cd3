//! A bounded pool for CPU work proportional to a message: parsing an answer, signing an envelope, verifying a
//! delivery. Such work runs on tokio's blocking threads, never on the async worker threads, so a message of several
//! megabytes does not stall other tasks (the HTTP port's `/healthz` among them); and a semaphore bounds how many
//! run at once, so a burst of large messages cannot take every core or start a thread each.
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

    /// Runs `work` on a blocking thread once a permit is free. The permit goes with the work, so a caller that
    /// stops waiting does not free it before the work ends. Whatever `work` needs is moved into it: the caller's
    /// buffers change hands rather than being copied.
    pub async fn run<T, F>(&self, work: F) -> Result<T, PoolError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let permit = self.permits.clone().acquire_owned().await.map_err(|_| PoolError::Closed)?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|e| PoolError::Failed(e.to_string()))
    }
}

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
