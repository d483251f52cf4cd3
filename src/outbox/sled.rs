//! The embedded outbox: work items in the `outbox` tree of the gateway's sled state directory.
//!
//! Every operation writes exactly one key per item it changes (a single-key sled write is atomic and ten times
//! cheaper than a multi-key batch, which also stalls behind flushes); the indexes live in memory, in a `Table`
//! rebuilt from the records when the outbox opens. Layout of the tree (ids as 8-byte big-endian numbers):
//! - `i` + id -> the creation record, written once by `enqueue`: a 4-byte big-endian length, that many bytes of
//!   JSON (id, queue, idempotency key, creation time), then the payload's bytes;
//! - `s` + id -> the item's state as JSON (attempts, next attempt, lease, completion, dead letter), written by every
//!   later change; absent while the item is as it was enqueued.
//!
//! An item is removed (pruned, purged) by deleting `i` first, then `s`: a crash between the two leaves a state with
//! no item, which [`SledOutbox::open`] deletes; an item whose state is lost would come back as new, so that order is
//! never reversed. Durability comes from the group commit of `crate::state::commit`.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::dead::DeadCause;
use super::error::{OpenError, OutboxError};
use super::id::ItemId;
use super::item::{from_nanos, nanos, ItemState, WorkItem};
use super::table::{Batch, Enqueued, Table};
use super::{BoxFuture, FailOutcome, FailureKind, Lease, ListFilter, Outbox, OutboxConfig, StateDb, Stats};
use crate::state::commit::{DurabilityError, Ticket};

/// The name of the outbox's tree in the state directory.
const TREE: &str = "outbox";
/// Prefix of creation records.
const ITEM: u8 = b'i';
/// Prefix of state records.
const STATE: u8 = b's';
/// How many completed items one pruning step removes while holding the lock.
const PRUNE_CHUNK: usize = 1024;

/// A key and its value, to write.
pub(crate) type Record = (Vec<u8>, Vec<u8>);

/// The id of each item of a batch, in order, and whether the batch created it.
pub(crate) type BatchItems = Vec<(ItemId, bool)>;

/// The outbox on sled: durable across crashes and restarts, for one gateway process.
pub struct SledOutbox {
    /// The state directory, for the group commit and the flush count.
    state: StateDb,
    /// The outbox's tree.
    tree: sled::Tree,
    /// Retry policies.
    config: OutboxConfig,
    /// The working set, the jitter generator and the failure flag, under one lock that also orders the writes.
    inner: Mutex<Inner>,
}

/// What the lock guards.
struct Inner {
    /// Every item's metadata (payloads stay on disk) and the indexes.
    table: Table,
    /// The jitter generator.
    rng: Box<dyn RngCore + Send>,
    /// Set when a write to sled failed: the table may then be ahead of the disk, so nothing more is accepted.
    broken: Option<String>,
    /// Items created in this process whose creation may not be on disk yet, with the ticket that covers it. Leases
    /// pass over them (and a lease first waits for them): a worker must not act on an item (send a response) that
    /// a crash could still forget, or the work would be done again under a new identity (a second response with a
    /// new MessageID). Entries are dropped once durable.
    unflushed: HashMap<ItemId, Ticket>,
}

impl std::fmt::Debug for SledOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledOutbox").field("path", &self.state.path()).field("config", &self.config).finish()
    }
}

impl SledOutbox {
    /// Opens the outbox in an open state directory, reading and checking every stored record: a damaged outbox is
    /// an error at start-up, not a surprise in the middle of the night.
    pub fn open(state: &StateDb, config: OutboxConfig) -> Result<SledOutbox, OpenError> {
        let tree = state.tree(TREE)?;
        let table = load(&tree).map_err(|error| match error {
            OutboxError::Corrupt { what, reason } => state.damaged(format!("outbox {what}: {reason}")),
            other => state.damaged(other.to_string()),
        })?;
        let inner = Mutex::new(Inner { table, rng: config.jitter_rng(), broken: None, unflushed: HashMap::new() });
        Ok(SledOutbox { state: state.clone(), tree, config, inner })
    }

    /// Opens (or creates) the state directory `path` and the outbox in it.
    pub fn open_path(path: impl AsRef<Path>, config: OutboxConfig) -> Result<SledOutbox, OpenError> {
        SledOutbox::open(&StateDb::open(path)?, config)
    }

    /// Replaces the jitter generator (tests use fixed ones).
    pub fn with_rng(self, rng: Box<dyn RngCore + Send>) -> SledOutbox {
        self.lock_unchecked().rng = rng;
        self
    }

    /// The state directory this outbox lives in.
    pub fn state(&self) -> &StateDb {
        &self.state
    }

    /// Takes the lock, whatever state the outbox is in.
    fn lock_unchecked(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes the lock for a change, refusing once a write or a flush has failed.
    fn lock(&self) -> Result<MutexGuard<'_, Inner>, OutboxError> {
        self.state.commit().check_healthy()?;
        let inner = self.lock_unchecked();
        match &inner.broken {
            Some(reason) => Err(OutboxError::Durability(reason.clone())),
            None => Ok(inner),
        }
    }

    /// Waits until `ticket` is durable, then returns `value`.
    async fn durable<T>(&self, step: Result<(T, Ticket), OutboxError>) -> Result<T, OutboxError> {
        let (value, ticket) = step?;
        self.state.commit().wait(ticket).await?;
        Ok(value)
    }

    /// Runs `write` (the disk half of a change already made to the table) and registers it with the group commit;
    /// a failure leaves the table ahead of the disk, so it marks the outbox broken.
    fn persist(&self, inner: &mut Inner, write: impl FnOnce() -> sled::Result<()>) -> Result<Ticket, OutboxError> {
        if let Err(error) = write() {
            tracing::error!(%error, "writing the outbox failed; refusing further changes");
            inner.broken = Some(format!("a write failed: {error}"));
            return Err(backend(error));
        }
        Ok(self.state.commit().register())
    }

    /// Writes the state record of each item in `ids` as the table now holds it.
    fn write_states(&self, inner: &mut Inner, ids: &[ItemId]) -> Result<Ticket, OutboxError> {
        let records: Vec<([u8; 9], Vec<u8>)> = ids
            .iter()
            .filter_map(|id| inner.table.get(*id))
            .map(|item| Ok((record_key(STATE, item.id), encode_state(item)?)))
            .collect::<Result<_, OutboxError>>()?;
        self.persist(inner, || records.into_iter().try_for_each(|(key, value)| self.tree.insert(key, value).map(drop)))
    }

    /// Deletes items `ids` from disk: creation record first, then state (see the module documentation).
    fn delete(&self, inner: &mut Inner, ids: &[ItemId]) -> Result<Ticket, OutboxError> {
        self.persist(inner, || {
            ids.iter().try_for_each(|id| {
                self.tree.remove(record_key(ITEM, *id))?;
                self.tree.remove(record_key(STATE, *id)).map(drop)
            })
        })
    }

    /// The payload of item `id`, from its creation record.
    fn payload(&self, id: ItemId) -> Result<Vec<u8>, OutboxError> {
        let record = self
            .tree
            .get(record_key(ITEM, id))
            .map_err(backend)?
            .ok_or_else(|| corrupt(id, "its record is missing"))?;
        Ok(split_created(id, &record)?.1.to_vec())
    }

    /// The item `id` as the table holds it, with its payload.
    fn with_payload(&self, item: &WorkItem) -> Result<WorkItem, OutboxError> {
        Ok(WorkItem { payload: self.payload(item.id)?, ..item.clone() })
    }

    /// The enqueue step: stores a new item, or finds the one with the same key.
    fn enqueue_step(
        &self,
        queue: &str,
        key: &str,
        payload: &[u8],
        now: SystemTime,
    ) -> Result<(ItemId, Ticket), OutboxError> {
        let mut inner = self.lock()?;
        let allocate = || Ok(ItemId(self.state.generate_id().map_err(backend)?));
        match inner.table.enqueue(queue, key, &[], now, allocate)? {
            // The existing item may have been written by a caller still waiting for its flush: wait for it too.
            Enqueued::Existing(id) => Ok((id, self.state.commit().covering_registered())),
            Enqueued::New(id) => {
                let record = encode_created(&WorkItem::new(id, queue, key, &[], now), payload)?;
                let ticket = self.persist(&mut inner, || self.tree.insert(record_key(ITEM, id), record).map(drop))?;
                inner.unflushed.insert(id, ticket);
                Ok((id, ticket))
            }
        }
    }

    /// Applies `batch` to the table and hands the records it changed (keys and values of the outbox's tree) to
    /// `write`, which writes them together with the rest of its step, as one atomic write, and registers that write
    /// with the group commit; all under the outbox's lock, so nobody sees the step half made. If `write` fails the
    /// batch is undone: the table stays as the disk has it. Returns the id of each item of the batch (and whether
    /// the batch created it), what `write` returned and its ticket.
    pub(crate) fn write_batch<T, E: From<OutboxError>>(
        &self,
        batch: Batch<'_, '_>,
        now: SystemTime,
        write: impl FnOnce(&sled::Tree, Vec<Record>, &BatchItems) -> Result<(T, Ticket), E>,
    ) -> Result<(BatchItems, T, Ticket), E> {
        let mut inner = self.lock()?;
        let allocate = &mut || Ok(ItemId(self.state.generate_id().map_err(backend)?));
        let applied = inner.table.apply_batch(batch, false, now, allocate)?;
        let records = match self.batch_records(&inner.table, batch, &applied, now) {
            Ok(records) => records,
            Err(error) => {
                inner.table.undo(applied);
                return Err(error.into());
            }
        };
        match write(&self.tree, records, &applied.items) {
            Ok((value, ticket)) => {
                for id in applied.created() {
                    inner.unflushed.insert(id, ticket);
                }
                Ok((applied.items, value, ticket))
            }
            Err(error) => {
                inner.table.undo(applied);
                Err(error)
            }
        }
    }

    /// The records a batch changed: the state of the completed item, the creation record of each new item.
    fn batch_records(
        &self,
        table: &Table,
        batch: Batch<'_, '_>,
        applied: &super::table::Applied,
        now: SystemTime,
    ) -> Result<Vec<Record>, OutboxError> {
        let mut records = Vec::with_capacity(applied.items.len() + 1);
        if let Some(item) = applied.completed.as_ref().and_then(|before| table.get(before.id)) {
            records.push((record_key(STATE, item.id).to_vec(), encode_state(item)?));
        }
        for (new, (id, created)) in batch.enqueue.iter().zip(&applied.items) {
            if *created {
                let record = encode_created(&WorkItem::new(*id, new.queue, new.key, &[], now), new.payload)?;
                records.push((record_key(ITEM, *id).to_vec(), record));
            }
        }
        Ok(records)
    }

    /// The newest ticket covering the creation of an item that may not be on disk yet, forgetting those that are.
    fn newest_unflushed(&self) -> Result<Option<Ticket>, OutboxError> {
        let mut inner = self.lock()?;
        let commit = self.state.commit();
        inner.unflushed.retain(|_, ticket| !commit.is_durable(*ticket));
        Ok(inner.unflushed.values().max().copied())
    }

    /// The lease step, passing over items whose creation may not be on disk yet. Leases are written but not awaited
    /// (see the module documentation of `outbox`).
    fn lease_step(
        &self,
        queue: &str,
        owner: &str,
        max_items: usize,
        lease_for: Duration,
        now: SystemTime,
    ) -> Result<Vec<Lease>, OutboxError> {
        let policy = self.config.policy(queue);
        let mut inner = self.lock()?;
        let commit = self.state.commit();
        let Inner { table, unflushed, .. } = &mut *inner;
        // `lease` pruned the map just before; a creation flushed since then is on disk, whatever the map says.
        let not_on_disk = |id: ItemId| unflushed.get(&id).is_some_and(|ticket| !commit.is_durable(*ticket));
        let (mut leases, changed) = table.lease(queue, owner, max_items, lease_for, policy, now, &not_on_disk)?;
        if !changed.is_empty() {
            let _ticket = self.write_states(&mut inner, &changed)?;
        }
        drop(inner);
        for lease in &mut leases {
            lease.payload = self.payload(lease.id)?;
        }
        Ok(leases)
    }

    /// Applies `change` to the leased item and writes its state.
    fn change_leased<T>(
        &self,
        lease: &Lease,
        change: impl FnOnce(&mut WorkItem, &mut dyn RngCore) -> T,
    ) -> Result<(T, Ticket), OutboxError> {
        let mut inner = self.lock()?;
        let inner = &mut *inner;
        let value = inner.table.change_leased(lease, inner.rng.as_mut(), change)?;
        Ok((value, self.write_states(inner, &[lease.id])?))
    }

    /// The step of an operator's action on a dead letter: revive it, or purge it.
    fn dead_step(&self, id: ItemId, revive_at: Option<SystemTime>) -> Result<((), Ticket), OutboxError> {
        let mut inner = self.lock()?;
        let ticket = match revive_at {
            Some(now) => {
                inner.table.revive(id, now)?;
                self.write_states(&mut inner, &[id])?
            }
            None => {
                inner.table.purge(id)?;
                self.delete(&mut inner, &[id])?
            }
        };
        Ok(((), ticket))
    }

    /// Removes everything completed before `before`, a chunk per lock so that other writers are not held up.
    async fn prune_all(&self, before: SystemTime) -> Result<usize, OutboxError> {
        let mut total = 0;
        let mut last_ticket = None;
        loop {
            let removed = {
                let mut inner = self.lock()?;
                let removed = inner.table.prune(before, PRUNE_CHUNK);
                if !removed.is_empty() {
                    last_ticket = Some(self.delete(&mut inner, &removed)?);
                }
                removed.len()
            };
            total += removed;
            if removed < PRUNE_CHUNK {
                break;
            }
        }
        // Tickets grow, so the last one covers every chunk.
        if let Some(ticket) = last_ticket {
            self.state.commit().wait(ticket).await?;
        }
        Ok(total)
    }
}

impl Outbox for SledOutbox {
    fn enqueue<'a>(
        &'a self,
        queue: &'a str,
        idempotency_key: &'a str,
        payload: &'a [u8],
        now: SystemTime,
    ) -> BoxFuture<'a, Result<ItemId, OutboxError>> {
        Box::pin(async move { self.durable(self.enqueue_step(queue, idempotency_key, payload, now)).await })
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
            // Wait first, lease after: a caller may drop this future at any await, and a lease taken before the wait
            // would then be held by nobody until it lapsed.
            if let Some(ticket) = self.newest_unflushed()? {
                self.state.commit().wait(ticket).await?;
            }
            self.lease_step(queue, owner, max_items, lease_for, now)
        })
    }

    fn extend<'a>(
        &'a self,
        lease: &'a Lease,
        lease_for: Duration,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Lease, OutboxError>> {
        Box::pin(async move {
            let (extended, _ticket) = self.change_leased(lease, |item, _| item.extend(lease, lease_for, now))?;
            Ok(extended)
        })
    }

    fn complete<'a>(&'a self, lease: &'a Lease, now: SystemTime) -> BoxFuture<'a, Result<(), OutboxError>> {
        Box::pin(async move { self.durable(self.change_leased(lease, |item, _| item.complete(now))).await })
    }

    fn fail<'a>(
        &'a self,
        lease: &'a Lease,
        failure: FailureKind,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<FailOutcome, OutboxError>> {
        Box::pin(async move {
            let policy = self.config.policy(&lease.queue);
            self.durable(self.change_leased(lease, |item, rng| item.fail(failure, policy, rng, now))).await
        })
    }

    fn release<'a>(&'a self, lease: &'a Lease, now: SystemTime) -> BoxFuture<'a, Result<(), OutboxError>> {
        Box::pin(async move { self.durable(self.change_leased(lease, |item, _| item.release(now))).await })
    }

    fn get(&self, id: ItemId) -> BoxFuture<'_, Result<Option<WorkItem>, OutboxError>> {
        Box::pin(async move {
            let item = self.lock_unchecked().table.get(id).cloned();
            item.map(|item| self.with_payload(&item)).transpose()
        })
    }

    fn list_dead<'a>(
        &'a self,
        queue: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<WorkItem>, OutboxError>> {
        Box::pin(async move {
            let dead: Vec<WorkItem> = self.lock_unchecked().table.dead(queue, limit).into_iter().cloned().collect();
            dead.iter().map(|item| self.with_payload(item)).collect()
        })
    }

    fn retry_dead(&self, id: ItemId, now: SystemTime) -> BoxFuture<'_, Result<(), OutboxError>> {
        Box::pin(async move { self.durable(self.dead_step(id, Some(now))).await })
    }

    fn purge_dead(&self, id: ItemId) -> BoxFuture<'_, Result<(), OutboxError>> {
        Box::pin(async move { self.durable(self.dead_step(id, None)).await })
    }

    fn next_due<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<Option<SystemTime>, OutboxError>> {
        Box::pin(async move { self.lock_unchecked().table.next_due(queue) })
    }

    fn stats(&self, now: SystemTime) -> BoxFuture<'_, Result<Stats, OutboxError>> {
        Box::pin(async move {
            let stats = self.lock_unchecked().table.stats(now);
            Ok(Stats { flushes: self.state.flushes(), ..stats })
        })
    }

    fn prune(&self, completed_before: SystemTime) -> BoxFuture<'_, Result<usize, OutboxError>> {
        Box::pin(self.prune_all(completed_before))
    }

    fn list<'a>(&'a self, filter: &'a ListFilter) -> BoxFuture<'a, Result<Vec<WorkItem>, OutboxError>> {
        Box::pin(async move {
            if filter.payload_contains.is_none() {
                let inner = self.lock_unchecked();
                return Ok(inner.table.matching(filter).into_iter().take(filter.limit).cloned().collect());
            }
            // Payloads are on disk: copy the candidates out of the lock, then read each one's payload.
            let candidates: Vec<WorkItem> = self.lock_unchecked().table.matching(filter).into_iter().cloned().collect();
            let mut found = Vec::new();
            for item in candidates {
                if found.len() >= filter.limit {
                    break;
                }
                // An item removed since the candidates were taken is simply not listed.
                match self.payload(item.id) {
                    Ok(payload) if filter.matches_payload(&payload) => found.push(item),
                    Ok(_) => {}
                    Err(_) if self.lock_unchecked().table.get(item.id).is_none() => {}
                    Err(error) => return Err(error),
                }
            }
            Ok(found)
        })
    }
}

/// The JSON part of a creation record: what never changes.
#[derive(Debug, Serialize, Deserialize)]
struct Created {
    /// The item's id, checked against its key.
    id: u64,
    /// Its queue.
    queue: String,
    /// Its idempotency key.
    key: String,
    /// Enqueue time, nanoseconds since the epoch.
    created: u64,
}

/// A state record: what changes after the enqueue.
#[derive(Debug, Serialize, Deserialize)]
struct StoredState {
    /// Attempts made.
    attempts: u32,
    /// Leases ever handed out.
    leases: u64,
    /// Start of the current series of attempts, nanoseconds since the epoch.
    since: u64,
    /// When it may next be leased.
    next: u64,
    /// The last failure's reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
    /// Where the item is in its life.
    state: StoredPhase,
}

/// An [`ItemState`] as stored.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "is", rename_all = "kebab-case")]
enum StoredPhase {
    /// Pending.
    Pending,
    /// Leased by `owner` with `token` until `until`.
    Leased {
        /// The holder.
        owner: String,
        /// The lease's token.
        token: u64,
        /// The lease's end.
        until: u64,
    },
    /// Completed at `at`.
    Completed {
        /// When.
        at: u64,
    },
    /// Dead since `at`.
    Dead {
        /// When.
        at: u64,
        /// The reason.
        reason: String,
        /// The rule that sent it there, as [`DeadCause::as_str`].
        cause: String,
    },
}

/// Encodes the creation record of a new `item` with its `payload`.
fn encode_created(item: &WorkItem, payload: &[u8]) -> Result<Vec<u8>, OutboxError> {
    let created = Created {
        id: item.id.0,
        queue: item.queue.clone(),
        key: item.idempotency_key.clone(),
        created: nanos(item.created_at),
    };
    let json = serde_json::to_vec(&created).map_err(|error| corrupt(item.id, &format!("cannot encode it: {error}")))?;
    let length = u32::try_from(json.len()).map_err(|_| corrupt(item.id, "its metadata is too long"))?;
    let mut record = Vec::with_capacity(4 + json.len() + payload.len());
    record.extend_from_slice(&length.to_be_bytes());
    record.extend_from_slice(&json);
    record.extend_from_slice(payload);
    Ok(record)
}

/// Splits a creation record into its metadata and its payload, checking that it names item `id`.
fn split_created(id: ItemId, record: &[u8]) -> Result<(Created, &[u8]), OutboxError> {
    let length = record.get(..4).and_then(|bytes| bytes.try_into().ok()).map(u32::from_be_bytes);
    let length = length.ok_or_else(|| corrupt(id, "its record is truncated"))? as usize;
    let json = record.get(4..4 + length).ok_or_else(|| corrupt(id, "its record is truncated"))?;
    let created: Created = serde_json::from_slice(json).map_err(|error| corrupt(id, &error.to_string()))?;
    if created.id != id.0 {
        return Err(corrupt(id, &format!("it says it is item {}", created.id)));
    }
    Ok((created, &record[4 + length..]))
}

/// The item a creation record describes, as enqueued (without its payload).
fn decode_created(id: ItemId, record: &[u8]) -> Result<WorkItem, OutboxError> {
    let (created, _) = split_created(id, record)?;
    Ok(WorkItem::new(id, &created.queue, &created.key, &[], from_nanos(created.created)))
}

/// Encodes an item's state record.
fn encode_state(item: &WorkItem) -> Result<Vec<u8>, OutboxError> {
    let state = match &item.state {
        ItemState::Pending => StoredPhase::Pending,
        ItemState::Leased { owner, token, until } => {
            StoredPhase::Leased { owner: owner.clone(), token: *token, until: nanos(*until) }
        }
        ItemState::Completed { at } => StoredPhase::Completed { at: nanos(*at) },
        ItemState::Dead { at, reason, cause } => {
            StoredPhase::Dead { at: nanos(*at), reason: reason.clone(), cause: cause.as_str().to_owned() }
        }
    };
    let stored = StoredState {
        attempts: item.attempts,
        leases: item.leases,
        since: nanos(item.attempts_since),
        next: nanos(item.next_attempt_at),
        last_error: item.last_error.clone(),
        state,
    };
    serde_json::to_vec(&stored).map_err(|error| corrupt(item.id, &format!("cannot encode its state: {error}")))
}

/// Applies a state record to `item`.
fn apply_state(item: &mut WorkItem, bytes: &[u8]) -> Result<(), OutboxError> {
    let id = item.id;
    let stored: StoredState = serde_json::from_slice(bytes).map_err(|error| corrupt(id, &error.to_string()))?;
    item.state = match stored.state {
        StoredPhase::Pending => ItemState::Pending,
        StoredPhase::Leased { owner, token, until } => ItemState::Leased { owner, token, until: from_nanos(until) },
        StoredPhase::Completed { at } => ItemState::Completed { at: from_nanos(at) },
        StoredPhase::Dead { at, reason, cause } => {
            let cause = DeadCause::parse(&cause).ok_or_else(|| corrupt(id, "unknown dead-letter cause"))?;
            ItemState::Dead { at: from_nanos(at), reason, cause }
        }
    };
    item.attempts = stored.attempts;
    item.leases = stored.leases;
    item.attempts_since = from_nanos(stored.since);
    item.next_attempt_at = from_nanos(stored.next);
    item.last_error = stored.last_error;
    Ok(())
}

/// Reads every record into a table, checking each. States without an item (left by a removal that a crash
/// interrupted) are deleted; anything else unexpected is corruption.
fn load(tree: &sled::Tree) -> Result<Table, OutboxError> {
    let mut table = Table::default();
    for entry in tree.iter() {
        let (key, value) = entry.map_err(backend)?;
        let id = id_of(&key)?;
        match key[0] {
            ITEM => table.put(decode_created(id, &value)?),
            _ => match table.get(id).cloned() {
                Some(mut item) => {
                    apply_state(&mut item, &value)?;
                    table.put(item);
                }
                None => {
                    tracing::warn!(item = %id, "deleting the state of an item whose removal was interrupted");
                    tree.remove(&key).map_err(backend)?;
                }
            },
        }
    }
    Ok(table)
}

impl From<DurabilityError> for OutboxError {
    fn from(error: DurabilityError) -> OutboxError {
        OutboxError::Durability(error.0)
    }
}

/// An [`OutboxError::Backend`] for a sled failure: the engine's error, boxed, so the outbox's API names no engine.
fn backend(error: sled::Error) -> OutboxError {
    OutboxError::Backend(Box::new(error))
}

/// A [`OutboxError::Corrupt`] about item `id`.
fn corrupt(id: ItemId, reason: &str) -> OutboxError {
    OutboxError::Corrupt { what: format!("item {id}"), reason: reason.to_owned() }
}

/// The key of item `id` under `prefix`.
fn record_key(prefix: u8, id: ItemId) -> [u8; 9] {
    let mut key = [prefix; 9];
    key[1..].copy_from_slice(&id.0.to_be_bytes());
    key
}

/// The item id of a key, refusing keys this store never writes.
fn id_of(key: &[u8]) -> Result<ItemId, OutboxError> {
    match key {
        [ITEM | STATE, id @ ..] if id.len() == 8 => {
            let mut bytes = [0; 8];
            bytes.copy_from_slice(id);
            Ok(ItemId(u64::from_be_bytes(bytes)))
        }
        _ => Err(OutboxError::Corrupt {
            what: format!("key {:?}", String::from_utf8_lossy(key)),
            reason: "unknown key".to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a worker woken by one producer's enqueue leased every due item, including another producer's
    /// item whose creation was applied in memory but not yet flushed; it sent that response, the gateway was killed
    /// before the flush, and after the restart the request was answered again under a new MessageID (the soak
    /// found two such duplicates in 10,000 requests). A lease now waits until the items it hands out exist on disk.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    // Holding the flusher across the awaits is the point: only the flusher thread ever waits for that lock.
    #[allow(clippy::await_holding_lock)]
    async fn a_lease_waits_until_the_items_creation_is_on_disk() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let outbox = SledOutbox::open_path(dir.path(), OutboxConfig::default()).expect("open");
        let now = SystemTime::now();
        let held = outbox.state.commit().hold_flushes();
        let (id, created) = outbox.enqueue_step("send", "response:1", b"payload", now).expect("enqueue in memory");
        assert!(!outbox.state.commit().is_durable(created), "the flusher is held");
        let mut lease = outbox.lease("send", "worker", 10, Duration::from_secs(5), now);
        tokio::select! {
            biased;
            _ = &mut lease => panic!("leased an item whose creation is not on disk"),
            _ = tokio::task::yield_now() => {}
        }
        // Regression: a lease dropped while it waits (the worker's loop races it against a wake-up) must hold
        // nothing; the first version leased before waiting, and dropped leases stalled their items until they lapsed.
        drop(lease);
        drop(held);
        let leases =
            outbox.lease("send", "worker", 10, Duration::from_secs(5), now).await.expect("leased once flushed");
        assert_eq!(leases.iter().map(|l| l.id).collect::<Vec<_>>(), vec![id]);
        assert!(outbox.state.commit().is_durable(created));
    }

    #[test]
    fn records_round_trip() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789);
        let new = WorkItem::new(ItemId(7), "q", "key", &[], now);
        let record = encode_created(&new, b"payload").expect("encode");
        assert_eq!(decode_created(ItemId(7), &record).expect("decode"), new);
        assert_eq!(split_created(ItemId(7), &record).expect("split").1, b"payload");
        assert!(matches!(decode_created(ItemId(8), &record), Err(OutboxError::Corrupt { .. })));
        assert!(matches!(decode_created(ItemId(7), &record[..3]), Err(OutboxError::Corrupt { .. })));

        let states = [
            ItemState::Pending,
            ItemState::Leased { owner: "w1".into(), token: 3, until: now + Duration::from_secs(30) },
            ItemState::Completed { at: now },
            ItemState::Dead { at: now, reason: "bad".into(), cause: DeadCause::TooOld },
        ];
        for state in states {
            let changed = WorkItem { state, attempts: 4, leases: 9, last_error: Some("e".into()), ..new.clone() };
            let mut loaded = new.clone();
            apply_state(&mut loaded, &encode_state(&changed).expect("encode")).expect("apply");
            assert_eq!(loaded, changed);
        }
    }

    #[test]
    fn foreign_keys_are_refused() {
        for bad in [&b""[..], b"i", b"i1234567", b"x12345678", b"i123456789"] {
            assert!(id_of(bad).is_err(), "{bad:?}");
        }
        assert_eq!(id_of(&record_key(STATE, ItemId(5))).expect("id"), ItemId(5));
    }
}
