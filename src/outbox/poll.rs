//! Waiting for work: lease when something is due, otherwise sleep until it will be.
#![forbid(unsafe_code)]

use std::time::Duration;

use super::{Clock, Lease, Outbox, OutboxError};

/// The shortest sleep between two lease attempts, so that a clock step backwards cannot make a worker spin.
const MIN_SLEEP: Duration = Duration::from_millis(1);

/// What a worker asks [`lease_when_due`] for.
#[derive(Debug, Clone, Copy)]
pub struct LeaseWait<'a> {
    /// The queue to take work from.
    pub queue: &'a str,
    /// The worker's id.
    pub owner: &'a str,
    /// The most items to take at once.
    pub max_items: usize,
    /// How long each lease lasts.
    pub lease_for: Duration,
    /// The longest sleep while the queue has nothing due: new work enqueued meanwhile (by this process or another
    /// sharing the store) is seen after at most this long.
    pub idle_poll: Duration,
}

/// Leases items as soon as some are available: at once if any are due, otherwise after sleeping until the queue's
/// next item is due (or `idle_poll`, whichever comes first), again and again. Time comes from `clock`, sleeping from
/// tokio, so under paused time a test's backoff passes instantly. Cancel it by dropping the future.
pub async fn lease_when_due(
    outbox: &dyn Outbox,
    clock: &dyn Clock,
    wait: &LeaseWait<'_>,
) -> Result<Vec<Lease>, OutboxError> {
    if wait.max_items == 0 {
        return Ok(Vec::new());
    }
    loop {
        let now = clock.now();
        let leases = outbox.lease(wait.queue, wait.owner, wait.max_items, wait.lease_for, now).await?;
        if !leases.is_empty() {
            return Ok(leases);
        }
        let until_due = match outbox.next_due(wait.queue).await? {
            Some(due) => due.duration_since(now).unwrap_or_default(),
            None => wait.idle_poll,
        };
        tokio::time::sleep(until_due.min(wait.idle_poll).max(MIN_SLEEP)).await;
    }
}
