//! An outbox in memory: the sled outbox's table without the disk, for unit tests of code that uses an outbox.
//! Nothing survives the process.
#![forbid(unsafe_code)]

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use rand::RngCore;

use super::table::{Batch, Enqueued, Table};
use super::{
    BoxFuture, FailOutcome, FailureKind, ItemId, Lease, ListFilter, Outbox, OutboxConfig, OutboxError, Stats, WorkItem,
};

/// The outbox in memory.
pub struct MemoryOutbox {
    /// Retry policies.
    config: OutboxConfig,
    /// The items and the jitter generator, under one lock.
    inner: Mutex<Inner>,
}

/// What the lock guards.
struct Inner {
    /// Items (with their payloads) and indexes.
    table: Table,
    /// The jitter generator.
    rng: Box<dyn RngCore + Send>,
    /// The next id to assign.
    next_id: u64,
}

impl std::fmt::Debug for MemoryOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryOutbox").field("config", &self.config).finish_non_exhaustive()
    }
}

impl MemoryOutbox {
    /// An empty outbox.
    pub fn new(config: OutboxConfig) -> MemoryOutbox {
        let rng = config.jitter_rng();
        MemoryOutbox { config, inner: Mutex::new(Inner { table: Table::default(), rng, next_id: 0 }) }
    }

    /// Replaces the jitter generator (tests use fixed ones).
    pub fn with_rng(self, rng: Box<dyn RngCore + Send>) -> MemoryOutbox {
        self.lock().rng = rng;
        self
    }

    /// Takes the lock; every change replaces whole items, so a poisoned lock still guards a consistent table.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Applies `batch` and then runs `then` (the rest of the step: the inbox's half) under the outbox's lock,
    /// undoing the batch if `then` fails: nobody sees a step half made.
    pub(crate) fn with_batch<T, E: From<OutboxError>>(
        &self,
        batch: Batch<'_, '_>,
        now: SystemTime,
        then: impl FnOnce() -> Result<T, E>,
    ) -> Result<(Vec<(ItemId, bool)>, T), E> {
        let inner = &mut *self.lock();
        let next_id = &mut inner.next_id;
        let mut allocate = || {
            *next_id += 1;
            Ok(ItemId(*next_id - 1))
        };
        let applied = inner.table.apply_batch(batch, true, now, &mut allocate)?;
        match then() {
            Ok(value) => Ok((applied.items, value)),
            Err(error) => {
                inner.table.undo(applied);
                Err(error)
            }
        }
    }

    /// Applies `change` to the item `lease` names, if the lease is still its.
    fn change_leased<T>(
        &self,
        lease: &Lease,
        change: impl FnOnce(&mut WorkItem, &mut dyn RngCore) -> T,
    ) -> Result<T, OutboxError> {
        let inner = &mut *self.lock();
        inner.table.change_leased(lease, inner.rng.as_mut(), change)
    }
}

impl Outbox for MemoryOutbox {
    fn enqueue<'a>(
        &'a self,
        queue: &'a str,
        idempotency_key: &'a str,
        payload: &'a [u8],
        now: SystemTime,
    ) -> BoxFuture<'a, Result<ItemId, OutboxError>> {
        Box::pin(async move {
            let inner = &mut *self.lock();
            let allocate = || {
                inner.next_id += 1;
                Ok(ItemId(inner.next_id - 1))
            };
            match inner.table.enqueue(queue, idempotency_key, payload, now, allocate)? {
                Enqueued::New(id) | Enqueued::Existing(id) => Ok(id),
            }
        })
    }

    fn lease<'a>(
        &'a self,
        queue: &'a str,
        owner: &'a str,
        max_items: usize,
        lease_for: Duration,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Vec<Lease>, OutboxError>> {
        Box::pin(async move {
            let policy = self.config.policy(queue);
            let (leases, _) = self.lock().table.lease(queue, owner, max_items, lease_for, policy, now, &|_| false)?;
            Ok(leases)
        })
    }

    fn extend<'a>(
        &'a self,
        lease: &'a Lease,
        lease_for: Duration,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Lease, OutboxError>> {
        Box::pin(async move { self.change_leased(lease, |item, _| item.extend(lease, lease_for, now)) })
    }

    fn complete<'a>(&'a self, lease: &'a Lease, now: SystemTime) -> BoxFuture<'a, Result<(), OutboxError>> {
        Box::pin(async move { self.change_leased(lease, |item, _| item.complete(now)) })
    }

    fn fail<'a>(
        &'a self,
        lease: &'a Lease,
        failure: FailureKind,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<FailOutcome, OutboxError>> {
        Box::pin(async move {
            let policy = self.config.policy(&lease.queue);
            self.change_leased(lease, |item, rng| item.fail(failure, policy, rng, now))
        })
    }

    fn release<'a>(&'a self, lease: &'a Lease, now: SystemTime) -> BoxFuture<'a, Result<(), OutboxError>> {
        Box::pin(async move { self.change_leased(lease, |item, _| item.release(now)) })
    }

    fn get(&self, id: ItemId) -> BoxFuture<'_, Result<Option<WorkItem>, OutboxError>> {
        Box::pin(async move { Ok(self.lock().table.get(id).cloned()) })
    }

    fn list_dead<'a>(
        &'a self,
        queue: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<WorkItem>, OutboxError>> {
        Box::pin(async move { Ok(self.lock().table.dead(queue, limit).into_iter().cloned().collect()) })
    }

    fn retry_dead(&self, id: ItemId, now: SystemTime) -> BoxFuture<'_, Result<(), OutboxError>> {
        Box::pin(async move { self.lock().table.revive(id, now) })
    }

    fn purge_dead(&self, id: ItemId) -> BoxFuture<'_, Result<(), OutboxError>> {
        Box::pin(async move { self.lock().table.purge(id) })
    }

    fn next_due<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<Option<SystemTime>, OutboxError>> {
        Box::pin(async move { self.lock().table.next_due(queue) })
    }

    fn stats(&self, now: SystemTime) -> BoxFuture<'_, Result<Stats, OutboxError>> {
        Box::pin(async move { Ok(self.lock().table.stats(now)) })
    }

    fn prune(&self, completed_before: SystemTime) -> BoxFuture<'_, Result<usize, OutboxError>> {
        Box::pin(async move { Ok(self.lock().table.prune(completed_before, usize::MAX).len()) })
    }

    fn list<'a>(&'a self, filter: &'a ListFilter) -> BoxFuture<'a, Result<Vec<WorkItem>, OutboxError>> {
        Box::pin(async move {
            let inner = self.lock();
            let found = inner.table.matching(filter).into_iter().filter(|item| filter.matches_payload(&item.payload));
            Ok(found.take(filter.limit).map(|item| WorkItem { payload: Vec::new(), ..item.clone() }).collect())
        })
    }
}
