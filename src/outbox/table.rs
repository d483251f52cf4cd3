//! The outbox's working set in memory: every item's metadata and the indexes that find due, completed and dead
//! items, with the operations of [`super::Outbox`] over them.
//!
//! Both backends keep one [`Table`]: the memory backend is nothing more, and the sled backend writes every item the
//! table changes through to disk and rebuilds the table from disk when it opens. The rules themselves are the pure
//! functions of [`super::item`].
#![forbid(unsafe_code)]

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, SystemTime};

use rand::RngCore;

use super::id::ItemId;
use super::item::{nanos, validate_key, validate_owner, validate_queue, ItemState, Lease, WorkItem};
use super::{BackoffPolicy, OutboxError, Stats};

/// Items and their indexes.
#[derive(Debug, Default)]
pub(crate) struct Table {
    /// Every item.
    items: HashMap<ItemId, WorkItem>,
    /// The indexes of each queue, found by name without allocating.
    queues: HashMap<String, QueueIndex>,
    /// Completed items by completion time (nanoseconds), then id, for pruning.
    done: BTreeSet<(u64, ItemId)>,
    /// Dead letters, in id order.
    dead: BTreeSet<ItemId>,
}

/// The indexes of one queue.
#[derive(Debug, Default)]
struct QueueIndex {
    /// Idempotency key -> item: at most one item per key.
    keys: HashMap<String, ItemId>,
    /// Pending and leased items by the time they become available (nanoseconds), then id.
    due: BTreeSet<(u64, ItemId)>,
}

/// An item to create in one step of a message (see `crate::store`); idempotent by (queue, key) exactly like
/// [`super::Outbox::enqueue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewItem<'a> {
    /// The queue to add it to.
    pub queue: &'a str,
    /// Its idempotency key: if the queue already holds an item with this key, that item stands for it.
    pub key: &'a str,
    /// The work; ignored when the key exists already.
    pub payload: &'a [u8],
}

/// Several changes to the table made at once, all or nothing: the outbox's half of one step of a message
/// (see `crate::store`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Batch<'b, 'a> {
    /// Items to create, in order.
    pub(crate) enqueue: &'b [NewItem<'a>],
    /// A lease whose item the batch completes, validated like [`super::Outbox::complete`].
    pub(crate) complete: Option<&'b Lease>,
}

/// What [`Table::apply_batch`] changed, to write it through to disk or to undo it.
#[derive(Debug)]
pub(crate) struct Applied {
    /// The id of each item of the batch, in order, and whether the batch created it.
    pub(crate) items: Vec<(ItemId, bool)>,
    /// The completed item as it was before, to undo the completion.
    pub(crate) completed: Option<WorkItem>,
}

impl Applied {
    /// The ids of the items the batch created.
    pub(crate) fn created(&self) -> impl Iterator<Item = ItemId> + '_ {
        self.items.iter().filter(|(_, created)| *created).map(|(id, _)| *id)
    }
}

/// What [`Table::enqueue`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Enqueued {
    /// A new item was added.
    New(ItemId),
    /// The key was taken; this is the item that holds it.
    Existing(ItemId),
}

impl Table {
    /// Adds `item` or replaces its previous version, keeping the indexes in step.
    pub(crate) fn put(&mut self, item: WorkItem) {
        if let Some(old) = self.items.remove(&item.id) {
            self.unindex(&old);
        }
        let queue = self.queue_mut(&item.queue);
        queue.keys.insert(item.idempotency_key.clone(), item.id);
        self.index(&item);
        self.items.insert(item.id, item);
    }

    /// The item `id`.
    pub(crate) fn get(&self, id: ItemId) -> Option<&WorkItem> {
        self.items.get(&id)
    }

    /// Adds a pending item to `queue` under `key`, due at `now`, with an id from `allocate`, unless the key is
    /// taken. Ids must never repeat, not even across restarts, or a stale lease could name a new item.
    pub(crate) fn enqueue(
        &mut self,
        queue: &str,
        key: &str,
        payload: &[u8],
        now: SystemTime,
        allocate: impl FnOnce() -> Result<ItemId, OutboxError>,
    ) -> Result<Enqueued, OutboxError> {
        validate_queue(queue)?;
        validate_key(key)?;
        if let Some(id) = self.queues.get(queue).and_then(|index| index.keys.get(key)) {
            return Ok(Enqueued::Existing(*id));
        }
        let id = allocate()?;
        self.put(WorkItem::new(id, queue, key, payload, now));
        Ok(Enqueued::New(id))
    }

    /// Leases up to `max_items` items of `queue` available at `now`, in order of availability then id, burying on
    /// the way those whose lapsed lease used their last attempt, and passing over those `skip` names. Returns the
    /// leases and every item changed.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn lease(
        &mut self,
        queue: &str,
        owner: &str,
        max_items: usize,
        lease_for: Duration,
        policy: &BackoffPolicy,
        now: SystemTime,
        skip: &dyn Fn(ItemId) -> bool,
    ) -> Result<(Vec<Lease>, Vec<ItemId>), OutboxError> {
        validate_queue(queue)?;
        validate_owner(owner)?;
        let mut leases = Vec::new();
        let mut changed = Vec::new();
        let mut cursor = None;
        while leases.len() < max_items {
            let Some(next) = self.next_available(queue, cursor, now) else { break };
            cursor = Some(next);
            let id = next.1;
            // A lease of zero length puts the item back after the cursor; one lease per item per call.
            if changed.contains(&id) || skip(id) {
                continue;
            }
            let lease = self.update(id, |item| {
                debug_assert!(item.is_available(now), "the due index is out of step for {id}");
                Ok((!item.bury_if_lapsed_and_spent(policy, now)).then(|| item.lease_to(owner, lease_for, now)))
            })?;
            leases.extend(lease);
            changed.push(id);
        }
        Ok((leases, changed))
    }

    /// The first due index entry of `queue` after `cursor` (from the start if `None`) that is available at `now`.
    fn next_available(&self, queue: &str, cursor: Option<(u64, ItemId)>, now: SystemTime) -> Option<(u64, ItemId)> {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let start = cursor.map_or(Unbounded, Excluded);
        let end = Included((nanos(now), ItemId(u64::MAX)));
        self.queues.get(queue)?.due.range((start, end)).next().copied()
    }

    /// Applies `change` to the item `lease` names, if the lease is still its.
    pub(crate) fn change_leased<T>(
        &mut self,
        lease: &Lease,
        rng: &mut dyn RngCore,
        change: impl FnOnce(&mut WorkItem, &mut dyn RngCore) -> T,
    ) -> Result<T, OutboxError> {
        self.update(lease.id, |item| {
            item.check_lease(lease)?;
            Ok(change(item, rng))
        })
    }

    /// Moves the dead letter `id` back to pending.
    pub(crate) fn revive(&mut self, id: ItemId, now: SystemTime) -> Result<(), OutboxError> {
        self.update(id, |item| item.revive(now))
    }

    /// Deletes the dead letter `id`.
    pub(crate) fn purge(&mut self, id: ItemId) -> Result<(), OutboxError> {
        self.items.get(&id).ok_or(OutboxError::NotFound(id))?.check_dead()?;
        self.remove(id);
        Ok(())
    }

    /// Deletes up to `limit` items completed before `before`, returning their ids.
    pub(crate) fn prune(&mut self, before: SystemTime, limit: usize) -> Vec<ItemId> {
        let old: Vec<ItemId> = self.done.range(..(nanos(before), ItemId(0))).take(limit).map(|(_, id)| *id).collect();
        for id in &old {
            self.remove(*id);
        }
        old
    }

    /// Applies `batch`: completes its lease's item, then creates its items (with their payloads if
    /// `keep_payloads`, else empty as the sled backend keeps them), with ids from `allocate`. Checks everything that
    /// can be checked before changing anything, and undoes what it did if an allocation fails, so an error leaves
    /// the table as it was.
    pub(crate) fn apply_batch(
        &mut self,
        batch: Batch<'_, '_>,
        keep_payloads: bool,
        now: SystemTime,
        allocate: &mut dyn FnMut() -> Result<ItemId, OutboxError>,
    ) -> Result<Applied, OutboxError> {
        for item in batch.enqueue {
            validate_queue(item.queue)?;
            validate_key(item.key)?;
        }
        let completed = match batch.complete {
            Some(lease) => Some(self.update(lease.id, |item| {
                item.check_lease(lease)?;
                let before = item.clone();
                item.complete(now);
                Ok(before)
            })?),
            None => None,
        };
        let mut applied = Applied { items: Vec::with_capacity(batch.enqueue.len()), completed };
        for item in batch.enqueue {
            let payload = if keep_payloads { item.payload } else { &[] };
            match self.enqueue(item.queue, item.key, payload, now, &mut *allocate) {
                Ok(Enqueued::New(id)) => applied.items.push((id, true)),
                Ok(Enqueued::Existing(id)) => applied.items.push((id, false)),
                Err(error) => {
                    self.undo(applied);
                    return Err(error);
                }
            }
        }
        Ok(applied)
    }

    /// Undoes a batch applied by [`Table::apply_batch`] (its disk write failed, or the other half of its step did).
    pub(crate) fn undo(&mut self, applied: Applied) {
        for id in applied.created() {
            self.remove(id);
        }
        if let Some(before) = applied.completed {
            self.put(before);
        }
    }

    /// When the first item of `queue` becomes available.
    pub(crate) fn next_due(&self, queue: &str) -> Result<Option<SystemTime>, OutboxError> {
        validate_queue(queue)?;
        let first = self.queues.get(queue).and_then(|index| index.due.first());
        Ok(first.map(|(_, id)| self.items[id].next_attempt_at))
    }

    /// Up to `limit` dead letters, of `queue` or of every queue, in id order.
    pub(crate) fn dead(&self, queue: Option<&str>, limit: usize) -> Vec<&WorkItem> {
        let dead = self.dead.iter().map(|id| &self.items[id]);
        dead.filter(|item| queue.is_none_or(|queue| queue == item.queue)).take(limit).collect()
    }

    /// Every item that passes `filter`'s conditions on metadata, in id order.
    pub(crate) fn matching<'a>(&'a self, filter: &'a super::ListFilter) -> Vec<&'a WorkItem> {
        let mut found: Vec<&WorkItem> = self.items.values().filter(|item| filter.matches_metadata(item)).collect();
        found.sort_unstable_by_key(|item| item.id);
        found
    }

    /// Counts of every item by queue and state.
    pub(crate) fn stats(&self, now: SystemTime) -> Stats {
        let mut stats = Stats::default();
        for item in self.items.values() {
            stats.add(item, now);
        }
        stats
    }

    /// Changes item `id` in place with `change` (which must fail before changing anything, if it fails), keeping
    /// the indexes in step.
    fn update<T>(
        &mut self,
        id: ItemId,
        change: impl FnOnce(&mut WorkItem) -> Result<T, OutboxError>,
    ) -> Result<T, OutboxError> {
        let mut item = self.items.remove(&id).ok_or(OutboxError::NotFound(id))?;
        self.unindex(&item);
        let result = change(&mut item);
        self.index(&item);
        self.items.insert(id, item);
        result
    }

    /// Deletes item `id` and its index entries.
    fn remove(&mut self, id: ItemId) {
        if let Some(old) = self.items.remove(&id) {
            self.unindex(&old);
            if let Some(index) = self.queues.get_mut(&old.queue) {
                index.keys.remove(&old.idempotency_key);
            }
        }
    }

    /// The indexes of `queue`, created on first use.
    fn queue_mut(&mut self, queue: &str) -> &mut QueueIndex {
        if !self.queues.contains_key(queue) {
            self.queues.insert(queue.to_owned(), QueueIndex::default());
        }
        self.queues.get_mut(queue).unwrap_or_else(|| unreachable!("inserted above"))
    }

    /// Adds the index entries of `item`'s state.
    fn index(&mut self, item: &WorkItem) {
        match item.state {
            ItemState::Pending | ItemState::Leased { .. } => {
                self.queue_mut(&item.queue).due.insert((nanos(item.next_attempt_at), item.id));
            }
            ItemState::Completed { at } => {
                self.done.insert((nanos(at), item.id));
            }
            ItemState::Dead { .. } => {
                self.dead.insert(item.id);
            }
        }
    }

    /// Removes the index entries of `item`'s state.
    fn unindex(&mut self, item: &WorkItem) {
        match item.state {
            ItemState::Pending | ItemState::Leased { .. } => {
                if let Some(index) = self.queues.get_mut(&item.queue) {
                    index.due.remove(&(nanos(item.next_attempt_at), item.id));
                }
            }
            ItemState::Completed { at } => {
                self.done.remove(&(nanos(at), item.id));
            }
            ItemState::Dead { .. } => {
                self.dead.remove(&item.id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn indexes_follow_every_change() {
        let mut table = Table::default();
        let policy = BackoffPolicy::default();
        let mut next = 0;
        let mut allocate = || {
            next += 1;
            Ok(ItemId(next))
        };
        let Ok(Enqueued::New(id)) = table.enqueue("q", "k", b"p", at(1), &mut allocate) else { panic!("enqueue") };
        assert_eq!(table.enqueue("q", "k", b"other", at(2), &mut allocate).ok(), Some(Enqueued::Existing(id)));
        assert_eq!(table.next_due("q").ok(), Some(Some(at(1))));
        let (leases, changed) =
            table.lease("q", "w", 5, Duration::from_secs(10), &policy, at(3), &|_| false).expect("lease");
        assert_eq!((leases.len(), changed), (1, vec![id]));
        assert_eq!(table.next_due("q").ok(), Some(Some(at(13))));
        table
            .change_leased(&leases[0], &mut rand::rngs::mock::StepRng::new(0, 0), |item, _| item.complete(at(4)))
            .expect("complete");
        assert_eq!(table.next_due("q").ok(), Some(None));
        assert_eq!(table.prune(at(4), 10), Vec::<ItemId>::new());
        assert_eq!(table.prune(at(5), 10), vec![id]);
        assert!(table.get(id).is_none());
        assert_eq!(table.enqueue("q", "k", b"p", at(6), &mut allocate).ok(), Some(Enqueued::New(ItemId(2))));
    }

    #[test]
    fn a_batch_is_applied_whole_or_undone_whole() {
        let mut table = Table::default();
        let policy = BackoffPolicy::default();
        let mut next = 0;
        let mut allocate = || {
            next += 1;
            Ok(ItemId(next))
        };
        let Ok(Enqueued::New(leased)) = table.enqueue("work", "job", b"j", at(0), &mut allocate) else {
            panic!("enqueue")
        };
        let (leases, _) =
            table.lease("work", "w", 1, Duration::from_secs(10), &policy, at(1), &|_| false).expect("lease");
        let items = [NewItem { queue: "q", key: "a", payload: b"1" }, NewItem { queue: "q", key: "b", payload: b"2" }];
        let batch = Batch { enqueue: &items, complete: Some(&leases[0]) };

        // An allocation that fails half way: nothing of the batch stays.
        let mut calls = 0;
        let mut failing = || {
            calls += 1;
            if calls == 2 {
                return Err(OutboxError::InvalidOwner);
            }
            Ok(ItemId(100 + calls))
        };
        assert!(table.apply_batch(batch, true, at(2), &mut failing).is_err());
        assert!(table.get(ItemId(101)).is_none());
        assert_eq!(table.next_due("q").ok(), Some(None));
        assert!(matches!(table.get(leased).map(|item| &item.state), Some(ItemState::Leased { .. })));
        assert_eq!(table.next_due("work").ok(), Some(Some(at(11))), "the leased item is still indexed as leased");

        // Applied, then undone (the other half of the step failed): as before, indexes included.
        let applied = table.apply_batch(batch, true, at(2), &mut allocate).expect("apply");
        assert_eq!(applied.items, vec![(ItemId(2), true), (ItemId(3), true)]);
        assert!(matches!(table.get(leased).map(|item| &item.state), Some(ItemState::Completed { .. })));
        table.undo(applied);
        assert!(table.get(ItemId(2)).is_none() && table.get(ItemId(3)).is_none());
        assert_eq!(table.enqueue("q", "a", b"", at(3), &mut allocate).ok(), Some(Enqueued::New(ItemId(4))));
        assert_eq!(table.prune(at(100), 10), Vec::<ItemId>::new(), "no completion left behind");
        assert_eq!(table.next_due("work").ok(), Some(Some(at(11))));

        // A stale lease refuses the whole batch before anything changes.
        let (retaken, _) =
            table.lease("work", "other", 1, Duration::from_secs(10), &policy, at(20), &|_| false).expect("lease");
        assert_eq!(retaken.len(), 1);
        let items = [NewItem { queue: "q", key: "c", payload: b"3" }];
        let stale = Batch { enqueue: &items, complete: Some(&leases[0]) };
        assert!(matches!(table.apply_batch(stale, true, at(21), &mut allocate), Err(OutboxError::StaleLease { .. })));
        let applied = table.apply_batch(Batch { complete: Some(&retaken[0]), ..stale }, true, at(21), &mut allocate);
        assert_eq!(applied.expect("the holder's batch").items.len(), 1);
    }
}
