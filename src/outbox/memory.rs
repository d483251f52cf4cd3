//! An outbox in memory: the same rules as the sled outbox without the disk, for unit tests of code that uses an
//! outbox and as the reference the behavioural suite holds the sled outbox to. Nothing survives the process.
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use rand::RngCore;

use super::item::{nanos, validate_key, validate_owner, validate_queue, ItemId, ItemState, WorkItem};
use super::{BoxFuture, FailOutcome, FailureKind, Lease, Outbox, OutboxConfig, OutboxError, Stats};

/// The outbox in memory.
pub struct MemoryOutbox {
    /// Retry policies.
    config: OutboxConfig,
    /// Everything, under one lock.
    state: Mutex<State>,
}

impl std::fmt::Debug for MemoryOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryOutbox").field("config", &self.config).finish_non_exhaustive()
    }
}

/// The items and their indexes.
struct State {
    /// Every item, with its payload.
    items: BTreeMap<ItemId, WorkItem>,
    /// (queue, idempotency key) -> item.
    keys: HashMap<(String, String), ItemId>,
    /// Pending and leased items by queue, then the time they become available, then id.
    due: BTreeSet<(String, u64, ItemId)>,
    /// Completed items by completion time, for pruning.
    done: BTreeSet<(u64, ItemId)>,
    /// The next id to assign.
    next_id: u64,
    /// The jitter generator.
    rng: Box<dyn RngCore + Send>,
}

impl MemoryOutbox {
    /// An empty outbox.
    pub fn new(config: OutboxConfig) -> MemoryOutbox {
        let rng = config.jitter_rng();
        let state = State {
            items: BTreeMap::new(),
            keys: HashMap::new(),
            due: BTreeSet::new(),
            done: BTreeSet::new(),
            next_id: 0,
            rng,
        };
        MemoryOutbox { config, state: Mutex::new(state) }
    }

    /// Replaces the jitter generator (tests use fixed ones).
    pub fn with_rng(self, rng: Box<dyn RngCore + Send>) -> MemoryOutbox {
        self.lock().rng = rng;
        self
    }

    /// Takes the lock; a panic elsewhere cannot leave the state half-changed, since every change is one `replace`.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Applies `change` to the item `lease` names, if the lease is still its.
    fn change_leased<T>(
        &self,
        lease: &Lease,
        change: impl FnOnce(&mut WorkItem, &mut dyn RngCore) -> T,
    ) -> Result<T, OutboxError> {
        let mut state = self.lock();
        let mut item = state.items.get(&lease.id).cloned().ok_or(OutboxError::NotFound(lease.id))?;
        item.check_lease(lease)?;
        let value = change(&mut item, state.rng.as_mut());
        state.replace(item);
        Ok(value)
    }

    /// Adds an item, or finds the one with the same key.
    fn enqueue_now(&self, queue: &str, key: &str, payload: &[u8], now: SystemTime) -> Result<ItemId, OutboxError> {
        validate_queue(queue)?;
        validate_key(key)?;
        let mut state = self.lock();
        if let Some(id) = state.keys.get(&(queue.to_owned(), key.to_owned())) {
            return Ok(*id);
        }
        let id = ItemId(state.next_id);
        state.next_id += 1;
        state.keys.insert((queue.to_owned(), key.to_owned()), id);
        state.replace(WorkItem::new(id, queue, key, payload, now));
        Ok(id)
    }

    /// Leases available items, dead-lettering those whose lapsed lease used the last attempt.
    fn lease_now(
        &self,
        queue: &str,
        owner: &str,
        max_items: usize,
        lease_for: Duration,
        now: SystemTime,
    ) -> Result<Vec<Lease>, OutboxError> {
        validate_queue(queue)?;
        validate_owner(owner)?;
        let policy = self.config.policy(queue);
        let mut state = self.lock();
        let range = (queue.to_owned(), 0, ItemId(0))..=(queue.to_owned(), nanos(now), ItemId(u64::MAX));
        let candidates: Vec<ItemId> = state.due.range(range).map(|(_, _, id)| *id).collect();
        let mut leases = Vec::new();
        for id in candidates {
            if leases.len() >= max_items {
                break;
            }
            let mut item = state.items[&id].clone();
            if !item.bury_if_lapsed_and_spent(policy, now) {
                leases.push(item.lease_to(owner, lease_for, now));
            }
            state.replace(item);
        }
        Ok(leases)
    }

    /// Revives or purges a dead letter.
    fn dead_now(&self, id: ItemId, now: SystemTime, purge: bool) -> Result<(), OutboxError> {
        let mut state = self.lock();
        let mut item = state.items.get(&id).cloned().ok_or(OutboxError::NotFound(id))?;
        if purge {
            item.check_dead()?;
            state.remove(id);
        } else {
            item.revive(now)?;
            state.replace(item);
        }
        Ok(())
    }

    /// Removes items completed before `before`.
    fn prune_now(&self, before: SystemTime) -> usize {
        let mut state = self.lock();
        let old: Vec<ItemId> = state.done.range(..(nanos(before), ItemId(0))).map(|(_, id)| *id).collect();
        for id in &old {
            state.remove(*id);
        }
        old.len()
    }
}

impl State {
    /// Stores `item` in place of its previous version, keeping the indexes in step.
    fn replace(&mut self, item: WorkItem) {
        if let Some(old) = self.items.remove(&item.id) {
            self.unindex(&old);
        }
        self.index(&item);
        self.items.insert(item.id, item);
    }

    /// Deletes item `id` and its index entries.
    fn remove(&mut self, id: ItemId) {
        if let Some(old) = self.items.remove(&id) {
            self.unindex(&old);
            self.keys.remove(&(old.queue, old.idempotency_key));
        }
    }

    /// Adds the index entries of `item`'s state.
    fn index(&mut self, item: &WorkItem) {
        match item.state {
            ItemState::Pending | ItemState::Leased { .. } => {
                self.due.insert((item.queue.clone(), nanos(item.next_attempt_at), item.id));
            }
            ItemState::Completed { at } => {
                self.done.insert((nanos(at), item.id));
            }
            ItemState::Dead { .. } => {}
        }
    }

    /// Removes the index entries of `item`'s state.
    fn unindex(&mut self, item: &WorkItem) {
        match item.state {
            ItemState::Pending | ItemState::Leased { .. } => {
                self.due.remove(&(item.queue.clone(), nanos(item.next_attempt_at), item.id));
            }
            ItemState::Completed { at } => {
                self.done.remove(&(nanos(at), item.id));
            }
            ItemState::Dead { .. } => {}
        }
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
        Box::pin(async move { self.enqueue_now(queue, idempotency_key, payload, now) })
    }

    fn lease<'a>(
        &'a self,
        queue: &'a str,
        owner: &'a str,
        max_items: usize,
        lease_for: Duration,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Vec<Lease>, OutboxError>> {
        Box::pin(async move { self.lease_now(queue, owner, max_items, lease_for, now) })
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
        Box::pin(async move { Ok(self.lock().items.get(&id).cloned()) })
    }

    fn list_dead<'a>(
        &'a self,
        queue: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<WorkItem>, OutboxError>> {
        Box::pin(async move {
            let state = self.lock();
            let dead = state.items.values().filter(|item| matches!(item.state, ItemState::Dead { .. }));
            Ok(dead.filter(|item| queue.map_or(true, |queue| queue == item.queue)).take(limit).cloned().collect())
        })
    }

    fn retry_dead(&self, id: ItemId, now: SystemTime) -> BoxFuture<'_, Result<(), OutboxError>> {
        Box::pin(async move { self.dead_now(id, now, false) })
    }

    fn purge_dead(&self, id: ItemId) -> BoxFuture<'_, Result<(), OutboxError>> {
        Box::pin(async move { self.dead_now(id, SystemTime::UNIX_EPOCH, true) })
    }

    fn next_due<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<Option<SystemTime>, OutboxError>> {
        Box::pin(async move {
            validate_queue(queue)?;
            let state = self.lock();
            let first = state.due.range((queue.to_owned(), 0, ItemId(0))..).next();
            let first = first.filter(|(q, _, _)| q == queue).map(|(_, _, id)| state.items[id].next_attempt_at);
            Ok(first)
        })
    }

    fn stats(&self, now: SystemTime) -> BoxFuture<'_, Result<Stats, OutboxError>> {
        Box::pin(async move {
            let mut stats = Stats::default();
            for item in self.lock().items.values() {
                stats.add(item, now);
            }
            Ok(stats)
        })
    }

    fn prune(&self, completed_before: SystemTime) -> BoxFuture<'_, Result<usize, OutboxError>> {
        Box::pin(async move { Ok(self.prune_now(completed_before)) })
    }
}
