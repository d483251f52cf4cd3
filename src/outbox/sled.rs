//! The embedded outbox: work items in the `outbox` tree of the gateway's sled state directory.
//!
//! Layout of the tree (ids and times as 8-byte big-endian numbers, times in nanoseconds since the Unix epoch, so that
//! sled's key order is time order):
//! - `i` + id -> the item's record as JSON (everything but the payload);
//! - `p` + id -> the payload, written once;
//! - `k` + queue + `0x00` + idempotency key -> id: at most one item per key and queue;
//! - `d` + queue + `0x00` + next attempt + id -> empty: the pending and leased items of a queue in the order they
//!   become available (a leased item's next attempt is its lease's end, so lapsed leases come up by themselves);
//! - `c` + completed at + id -> empty: completed items in age order, for pruning;
//! - `x` + id -> empty: dead letters.
//!
//! Every change is one sled batch on this tree, so it is atomic; a writer lock makes read-modify-write sequences
//! atomic between the gateway's tasks. Durability comes from the group commit of [`super::commit`].
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::commit::Ticket;
use super::error::{OpenError, OutboxError};
use super::item::{
    from_nanos, nanos, validate_key, validate_owner, validate_queue, DeadCause, ItemId, ItemState, WorkItem,
};
use super::{BoxFuture, FailOutcome, FailureKind, Lease, Outbox, OutboxConfig, StateDb, Stats};

/// The name of the outbox's tree in the state directory.
const TREE: &str = "outbox";
/// Prefix of item records.
const ITEM: u8 = b'i';
/// Prefix of payloads.
const PAYLOAD: u8 = b'p';
/// Prefix of the idempotency index.
const KEY: u8 = b'k';
/// Prefix of the due index.
const DUE: u8 = b'd';
/// Prefix of the completion index.
const DONE: u8 = b'c';
/// Prefix of the dead-letter index.
const DEAD: u8 = b'x';
/// How many completed items one pruning step removes while holding the writer lock.
const PRUNE_CHUNK: usize = 1024;

/// The outbox on sled: durable across crashes and restarts, for one gateway process.
pub struct SledOutbox {
    /// The state directory, for the group commit and the flush count.
    state: StateDb,
    /// The outbox's tree.
    tree: sled::Tree,
    /// Retry policies.
    config: OutboxConfig,
    /// The writer lock, which also guards the jitter generator.
    writer: Mutex<Box<dyn RngCore + Send>>,
}

impl std::fmt::Debug for SledOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledOutbox").field("path", &self.state.path()).field("config", &self.config).finish()
    }
}

impl SledOutbox {
    /// Opens the outbox in an open state directory, checking every stored record first: a damaged outbox is an
    /// error at start-up, not a surprise in the middle of the night.
    pub fn open(state: &StateDb, config: OutboxConfig) -> Result<SledOutbox, OpenError> {
        let tree = state.tree(TREE)?;
        check_tree(&tree).map_err(|error| match error {
            OutboxError::Corrupt { what, reason } => state.damaged(format!("outbox {what}: {reason}")),
            other => state.damaged(other.to_string()),
        })?;
        let writer = Mutex::new(config.jitter_rng());
        Ok(SledOutbox { state: state.clone(), tree, config, writer })
    }

    /// Opens (or creates) the state directory `path` and the outbox in it.
    pub fn open_path(path: impl AsRef<Path>, config: OutboxConfig) -> Result<SledOutbox, OpenError> {
        SledOutbox::open(&StateDb::open(path)?, config)
    }

    /// Replaces the jitter generator (tests use fixed ones).
    pub fn with_rng(self, rng: Box<dyn RngCore + Send>) -> SledOutbox {
        SledOutbox { writer: Mutex::new(rng), ..self }
    }

    /// The state directory this outbox lives in.
    pub fn state(&self) -> &StateDb {
        &self.state
    }

    /// Takes the writer lock, refusing to write once durability has failed.
    fn lock(&self) -> Result<MutexGuard<'_, Box<dyn RngCore + Send>>, OutboxError> {
        self.state.commit().check_healthy()?;
        Ok(self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// Applies `batch` and registers it with the group commit.
    fn apply(&self, batch: sled::Batch) -> Result<Ticket, OutboxError> {
        self.tree.apply_batch(batch)?;
        Ok(self.state.commit().register())
    }

    /// Waits until `ticket` is durable, then returns `value`.
    async fn durable<T>(&self, step: Result<(T, Ticket), OutboxError>) -> Result<T, OutboxError> {
        let (value, ticket) = step?;
        self.state.commit().wait(ticket).await?;
        Ok(value)
    }

    /// The item `id` without its payload.
    fn load(&self, id: ItemId) -> Result<WorkItem, OutboxError> {
        let bytes = self.tree.get(record_key(ITEM, id))?.ok_or(OutboxError::NotFound(id))?;
        decode_item(id, &bytes)
    }

    /// The item `id` with its payload.
    fn load_full(&self, id: ItemId) -> Result<WorkItem, OutboxError> {
        let mut item = self.load(id)?;
        item.payload = self.payload(id)?;
        Ok(item)
    }

    /// The payload of item `id`.
    fn payload(&self, id: ItemId) -> Result<Vec<u8>, OutboxError> {
        let bytes = self.tree.get(record_key(PAYLOAD, id))?;
        bytes.map(|bytes| bytes.to_vec()).ok_or_else(|| corrupt(id, "its payload is missing"))
    }

    /// Loads the item a lease names and checks the lease is still its.
    fn load_leased(&self, lease: &Lease) -> Result<WorkItem, OutboxError> {
        let item = self.load(lease.id)?;
        item.check_lease(lease)?;
        Ok(item)
    }

    /// Applies `change` to the leased item and stores it.
    fn change_leased<T>(
        &self,
        lease: &Lease,
        change: impl FnOnce(&mut WorkItem, &mut dyn RngCore) -> T,
    ) -> Result<(T, Ticket), OutboxError> {
        let mut rng = self.lock()?;
        let mut item = self.load_leased(lease)?;
        let before = item.clone();
        let value = change(&mut item, rng.as_mut());
        let mut batch = sled::Batch::default();
        stage(&mut batch, Some(&before), &item)?;
        Ok((value, self.apply(batch)?))
    }

    /// The enqueue step: stores a new item, or finds the one with the same key.
    fn enqueue_step(
        &self,
        queue: &str,
        key: &str,
        payload: &[u8],
        now: SystemTime,
    ) -> Result<(ItemId, Ticket), OutboxError> {
        validate_queue(queue)?;
        validate_key(key)?;
        let _writer = self.lock()?;
        if let Some(existing) = self.tree.get(idempotency_key(queue, key))? {
            // The existing item may have been written by a caller still waiting for its flush: wait for it too.
            return Ok((decode_id(&existing, "idempotency index entry")?, self.state.commit().covering_registered()));
        }
        let id = ItemId(self.state.generate_id()?);
        let item = WorkItem::new(id, queue, key, payload, now);
        let mut batch = sled::Batch::default();
        batch.insert(&record_key(PAYLOAD, id), payload);
        stage(&mut batch, None, &item)?;
        Ok((id, self.apply(batch)?))
    }

    /// The lease step: hands out up to `max_items` available items of `queue`, dead-lettering on the way those whose
    /// lapsed lease used their last attempt.
    fn lease_step(
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
        let _writer = self.lock()?;
        let mut batch = sled::Batch::default();
        let mut leases = Vec::new();
        let mut changed = false;
        let end = due_key(queue, now, ItemId(u64::MAX));
        for entry in self.tree.range(due_prefix(queue)..=end) {
            if leases.len() >= max_items {
                break;
            }
            let (index_key, _) = entry?;
            let id = id_at_end(&index_key)?;
            let mut item = self.load(id)?;
            if !item.is_available(now) {
                return Err(corrupt(id, "the due index lists it, but it is not available"));
            }
            let before = item.clone();
            if !item.bury_if_lapsed_and_spent(policy, now) {
                item.payload = self.payload(id)?;
                leases.push(item.lease_to(owner, lease_for, now));
            }
            stage(&mut batch, Some(&before), &item)?;
            changed = true;
        }
        if changed {
            // A lease is not awaited (see the module documentation of `outbox`), but it is flushed with the next group.
            let _ = self.apply(batch)?;
        }
        Ok(leases)
    }

    /// The step of an operator's action on a dead letter.
    fn dead_step(&self, id: ItemId, now: SystemTime, purge: bool) -> Result<((), Ticket), OutboxError> {
        let _writer = self.lock()?;
        let mut item = self.load(id)?;
        let mut batch = sled::Batch::default();
        if purge {
            item.check_dead()?;
            unstage(&mut batch, &item);
        } else {
            let before = item.clone();
            item.revive(now)?;
            stage(&mut batch, Some(&before), &item)?;
        }
        Ok(((), self.apply(batch)?))
    }

    /// One pruning step: removes up to [`PRUNE_CHUNK`] items completed before `before`.
    fn prune_step(&self, before: SystemTime) -> Result<(usize, Option<Ticket>), OutboxError> {
        let _writer = self.lock()?;
        let end = done_key(before, ItemId(0));
        let mut batch = sled::Batch::default();
        let mut removed = 0;
        for entry in self.tree.range(vec![DONE]..end).keys().take(PRUNE_CHUNK) {
            let id = id_at_end(&entry?)?;
            unstage(&mut batch, &self.load(id)?);
            removed += 1;
        }
        let ticket = if removed > 0 { Some(self.apply(batch)?) } else { None };
        Ok((removed, ticket))
    }

    /// Removes everything completed before `before`, chunk by chunk so other writers are not held up.
    async fn prune_all(&self, before: SystemTime) -> Result<usize, OutboxError> {
        let mut total = 0;
        let mut last_ticket = None;
        loop {
            let (removed, ticket) = self.prune_step(before)?;
            total += removed;
            last_ticket = ticket.or(last_ticket);
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

    /// Up to `limit` dead letters, of `queue` or of every queue, oldest id first.
    fn dead_letters(&self, queue: Option<&str>, limit: usize) -> Result<Vec<WorkItem>, OutboxError> {
        let mut found = Vec::new();
        for entry in self.tree.scan_prefix([DEAD]).keys() {
            if found.len() >= limit {
                break;
            }
            let item = self.load(id_at_end(&entry?)?)?;
            if queue.map_or(true, |queue| queue == item.queue) {
                found.push(self.load_full(item.id)?);
            }
        }
        Ok(found)
    }

    /// When the first item of `queue` becomes available.
    fn first_due(&self, queue: &str) -> Result<Option<SystemTime>, OutboxError> {
        validate_queue(queue)?;
        let prefix = due_prefix(queue);
        let Some(entry) = self.tree.scan_prefix(&prefix).keys().next() else { return Ok(None) };
        let key = entry?;
        let at = key.get(prefix.len()..prefix.len() + 8).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes);
        at.map(|nanos| Some(from_nanos(nanos))).ok_or_else(|| OutboxError::Corrupt {
            what: "due index".to_owned(),
            reason: "a key is too short".to_owned(),
        })
    }

    /// Counts every item by queue and state.
    fn count(&self, now: SystemTime) -> Result<Stats, OutboxError> {
        let mut stats = Stats { flushes: self.state.flushes(), ..Stats::default() };
        for entry in self.tree.scan_prefix([ITEM]) {
            let (key, value) = entry?;
            stats.add(&decode_item(id_at_end(&key)?, &value)?, now);
        }
        Ok(stats)
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
        Box::pin(async move { self.lease_step(queue, owner, max_items, lease_for, now) })
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
            match self.load_full(id) {
                Ok(item) => Ok(Some(item)),
                Err(OutboxError::NotFound(_)) => Ok(None),
                Err(error) => Err(error),
            }
        })
    }

    fn list_dead<'a>(
        &'a self,
        queue: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<WorkItem>, OutboxError>> {
        Box::pin(async move { self.dead_letters(queue, limit) })
    }

    fn retry_dead(&self, id: ItemId, now: SystemTime) -> BoxFuture<'_, Result<(), OutboxError>> {
        Box::pin(async move { self.durable(self.dead_step(id, now, false)).await })
    }

    fn purge_dead(&self, id: ItemId) -> BoxFuture<'_, Result<(), OutboxError>> {
        Box::pin(async move { self.durable(self.dead_step(id, SystemTime::UNIX_EPOCH, true)).await })
    }

    fn next_due<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<Option<SystemTime>, OutboxError>> {
        Box::pin(async move { self.first_due(queue) })
    }

    fn stats(&self, now: SystemTime) -> BoxFuture<'_, Result<Stats, OutboxError>> {
        Box::pin(async move { self.count(now) })
    }

    fn prune(&self, completed_before: SystemTime) -> BoxFuture<'_, Result<usize, OutboxError>> {
        Box::pin(self.prune_all(completed_before))
    }
}

/// An item's record as stored: the [`WorkItem`] without its payload, in plain numbers and strings.
#[derive(Debug, Serialize, Deserialize)]
struct StoredItem {
    /// The item's id, checked against its key.
    id: u64,
    /// Its queue.
    queue: String,
    /// Its idempotency key.
    key: String,
    /// Attempts made.
    attempts: u32,
    /// Leases ever handed out.
    leases: u64,
    /// Enqueue time, nanoseconds since the epoch.
    created: u64,
    /// Start of the current series of attempts.
    since: u64,
    /// When it may next be leased.
    next: u64,
    /// The last failure's reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
    /// Its state.
    state: StoredState,
}

/// An [`ItemState`] as stored.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "is", rename_all = "kebab-case")]
enum StoredState {
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

/// Encodes an item's record.
fn encode_item(item: &WorkItem) -> Result<Vec<u8>, OutboxError> {
    let state = match &item.state {
        ItemState::Pending => StoredState::Pending,
        ItemState::Leased { owner, token, until } => {
            StoredState::Leased { owner: owner.clone(), token: *token, until: nanos(*until) }
        }
        ItemState::Completed { at } => StoredState::Completed { at: nanos(*at) },
        ItemState::Dead { at, reason, cause } => {
            StoredState::Dead { at: nanos(*at), reason: reason.clone(), cause: cause.as_str().to_owned() }
        }
    };
    let stored = StoredItem {
        id: item.id.0,
        queue: item.queue.clone(),
        key: item.idempotency_key.clone(),
        attempts: item.attempts,
        leases: item.leases,
        created: nanos(item.created_at),
        since: nanos(item.attempts_since),
        next: nanos(item.next_attempt_at),
        last_error: item.last_error.clone(),
        state,
    };
    serde_json::to_vec(&stored).map_err(|error| corrupt(item.id, &format!("cannot encode it: {error}")))
}

/// Decodes the record stored under `id` (without the payload) and checks that it names itself.
fn decode_item(id: ItemId, bytes: &[u8]) -> Result<WorkItem, OutboxError> {
    let stored: StoredItem = serde_json::from_slice(bytes).map_err(|error| corrupt(id, &error.to_string()))?;
    if stored.id != id.0 {
        return Err(corrupt(id, &format!("it says it is item {}", stored.id)));
    }
    let state = match stored.state {
        StoredState::Pending => ItemState::Pending,
        StoredState::Leased { owner, token, until } => ItemState::Leased { owner, token, until: from_nanos(until) },
        StoredState::Completed { at } => ItemState::Completed { at: from_nanos(at) },
        StoredState::Dead { at, reason, cause } => {
            let cause = DeadCause::parse(&cause).ok_or_else(|| corrupt(id, "unknown dead-letter cause"))?;
            ItemState::Dead { at: from_nanos(at), reason, cause }
        }
    };
    Ok(WorkItem {
        id,
        queue: stored.queue,
        idempotency_key: stored.key,
        payload: Vec::new(),
        attempts: stored.attempts,
        leases: stored.leases,
        created_at: from_nanos(stored.created),
        attempts_since: from_nanos(stored.since),
        next_attempt_at: from_nanos(stored.next),
        last_error: stored.last_error,
        state,
    })
}

/// The index entries an item in its current state must have: (key, value).
fn index_entries(item: &WorkItem) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut entries = vec![(idempotency_key(&item.queue, &item.idempotency_key), item.id.0.to_be_bytes().to_vec())];
    let state_entry = match &item.state {
        ItemState::Pending | ItemState::Leased { .. } => due_key(&item.queue, item.next_attempt_at, item.id),
        ItemState::Completed { at } => done_key(*at, item.id),
        ItemState::Dead { .. } => record_key(DEAD, item.id).to_vec(),
    };
    entries.push((state_entry, Vec::new()));
    entries
}

/// Adds to `batch` the writing of `after`'s record and the index changes from `before` (none for a new item).
fn stage(batch: &mut sled::Batch, before: Option<&WorkItem>, after: &WorkItem) -> Result<(), OutboxError> {
    let old = before.map(index_entries).unwrap_or_default();
    let new = index_entries(after);
    for entry in old.iter().filter(|entry| !new.contains(entry)) {
        batch.remove(entry.0.as_slice());
    }
    for (key, value) in new.iter().filter(|entry| !old.contains(entry)) {
        batch.insert(key.as_slice(), value.as_slice());
    }
    batch.insert(&record_key(ITEM, after.id), encode_item(after)?);
    Ok(())
}

/// Adds to `batch` the removal of `item`: record, payload and index entries.
fn unstage(batch: &mut sled::Batch, item: &WorkItem) {
    for (key, _) in index_entries(item) {
        batch.remove(key);
    }
    batch.remove(&record_key(ITEM, item.id));
    batch.remove(&record_key(PAYLOAD, item.id));
}

/// Checks every record and index entry of the tree at start-up: each record decodes, has its payload and exactly
/// the index entries its state calls for, and nothing else is there.
fn check_tree(tree: &sled::Tree) -> Result<(), OutboxError> {
    let mut expected = BTreeMap::new();
    let mut items = BTreeSet::new();
    let mut payloads = BTreeSet::new();
    let mut indexed = BTreeMap::new();
    for entry in tree.iter() {
        let (key, value) = entry?;
        match key.first() {
            Some(&ITEM) => {
                let item = decode_item(id_at_end(&key)?, &value)?;
                expected.extend(index_entries(&item));
                items.insert(item.id);
            }
            Some(&PAYLOAD) => {
                payloads.insert(id_at_end(&key)?);
            }
            Some(&KEY | &DUE | &DONE | &DEAD) => {
                indexed.insert(key.to_vec(), value.to_vec());
            }
            _ => return Err(unknown_key(&key)),
        }
    }
    if let Some(id) = items.symmetric_difference(&payloads).next() {
        let reason = if items.contains(id) { "its payload is missing" } else { "its payload has no record" };
        return Err(corrupt(*id, reason));
    }
    if expected != indexed {
        return Err(OutboxError::Corrupt {
            what: "indexes".to_owned(),
            reason: "they do not match the item records".to_owned(),
        });
    }
    Ok(())
}

/// A [`OutboxError::Corrupt`] about item `id`.
fn corrupt(id: ItemId, reason: &str) -> OutboxError {
    OutboxError::Corrupt { what: format!("item {id}"), reason: reason.to_owned() }
}

/// A [`OutboxError::Corrupt`] about a key this store never writes.
fn unknown_key(key: &[u8]) -> OutboxError {
    OutboxError::Corrupt { what: format!("key {:?}", String::from_utf8_lossy(key)), reason: "unknown key".to_owned() }
}

/// The key of item `id` under `prefix`.
fn record_key(prefix: u8, id: ItemId) -> [u8; 9] {
    let mut key = [prefix; 9];
    key[1..].copy_from_slice(&id.0.to_be_bytes());
    key
}

/// The idempotency index key of `key` in `queue`.
fn idempotency_key(queue: &str, key: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(2 + queue.len() + key.len());
    bytes.push(KEY);
    bytes.extend_from_slice(queue.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(key.as_bytes());
    bytes
}

/// The start of `queue`'s due index; queue names hold no `0x00`, so no queue's prefix starts another's.
fn due_prefix(queue: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(18 + queue.len());
    bytes.push(DUE);
    bytes.extend_from_slice(queue.as_bytes());
    bytes.push(0);
    bytes
}

/// The due index key of item `id` of `queue`, available at `at`.
fn due_key(queue: &str, at: SystemTime, id: ItemId) -> Vec<u8> {
    let mut bytes = due_prefix(queue);
    bytes.extend_from_slice(&nanos(at).to_be_bytes());
    bytes.extend_from_slice(&id.0.to_be_bytes());
    bytes
}

/// The completion index key of item `id`, completed at `at`.
fn done_key(at: SystemTime, id: ItemId) -> Vec<u8> {
    let mut bytes = vec![DONE];
    bytes.extend_from_slice(&nanos(at).to_be_bytes());
    bytes.extend_from_slice(&id.0.to_be_bytes());
    bytes
}

/// The item id in the last eight bytes of an index or record key.
fn id_at_end(key: &[u8]) -> Result<ItemId, OutboxError> {
    // Every key has a prefix byte before the id.
    if key.len() < 9 {
        return Err(unknown_key(key));
    }
    let mut id = [0; 8];
    id.copy_from_slice(&key[key.len() - 8..]);
    Ok(ItemId(u64::from_be_bytes(id)))
}

/// An item id stored as a value.
fn decode_id(bytes: &[u8], what: &str) -> Result<ItemId, OutboxError> {
    let bytes: [u8; 8] = bytes
        .try_into()
        .map_err(|_| OutboxError::Corrupt { what: what.to_owned(), reason: "not an item id".to_owned() })?;
    Ok(ItemId(u64::from_be_bytes(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_keys_sort_by_queue_then_time_then_id() {
        let t = |s: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        let keys = [
            due_key("a", t(1), ItemId(9)),
            due_key("a", t(2), ItemId(1)),
            due_key("a", t(2), ItemId(2)),
            due_key("a", t(1 << 40), ItemId(0)),
            due_key("a-b", t(0), ItemId(0)),
            due_key("ab", t(0), ItemId(0)),
        ];
        assert!(keys.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(!keys[4].starts_with(&due_prefix("a")));
    }

    #[test]
    fn records_round_trip() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789);
        let mut item = WorkItem::new(ItemId(7), "q", "key", b"", now);
        let states = [
            ItemState::Pending,
            ItemState::Leased { owner: "w1".into(), token: 3, until: now + Duration::from_secs(30) },
            ItemState::Completed { at: now },
            ItemState::Dead { at: now, reason: "bad".into(), cause: DeadCause::TooOld },
        ];
        for state in states {
            item.state = state;
            item.last_error = Some("e".into());
            let bytes = encode_item(&item).expect("encode");
            assert_eq!(decode_item(ItemId(7), &bytes).expect("decode"), item);
        }
        let bytes = encode_item(&item).expect("encode");
        assert!(matches!(decode_item(ItemId(8), &bytes), Err(OutboxError::Corrupt { .. })));
    }

    #[test]
    fn short_keys_are_refused() {
        for bad in [&b""[..], b"i", b"i1234567", b"12345678"] {
            assert!(id_at_end(bad).is_err(), "{bad:?}");
        }
        assert_eq!(id_at_end(&record_key(ITEM, ItemId(5))).expect("id"), ItemId(5));
    }
}
