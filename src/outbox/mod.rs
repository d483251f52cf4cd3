//! The durable outbox: every piece of work in flight (a message to send to SMEV, a call to a school system, an
//! acknowledgement) is a [`WorkItem`] in a queue, retried with backoff until it succeeds or is dead-lettered.
//!
//! # Model
//!
//! Producers [`Outbox::enqueue`] work under an idempotency key; workers [`Outbox::lease`] due items for a while,
//! then [`complete`](Outbox::complete), [`fail`](Outbox::fail), [`release`](Outbox::release) or
//! [`extend`](Outbox::extend) them. A lease that lapses (its worker crashed or hung) makes the item available again;
//! a lapsed lease counts as an attempt, so a poison item that crashes workers is dead-lettered eventually. Retries
//! follow a queue's [`BackoffPolicy`]; dead letters wait for an operator ([`Outbox::retry_dead`],
//! [`Outbox::purge_dead`]); completed items are kept until [`Outbox::prune`]d, so that a late repeat of an enqueue
//! is still recognised and the store stays bounded.
//!
//! Every operation takes `now`: the rules are deterministic under test, and a backend shared by several gateway
//! instances does not depend on one process's clock more than it must. Leases name their owner and carry a token,
//! so nothing assumes one process: a PostgreSQL backend (`SELECT ... FOR UPDATE SKIP LOCKED`) implements the same
//! trait for gateways that share work.
//!
//! # Why an async trait of boxed futures
//!
//! Durable writes wait for a flush (below), and waiting is what async code does well: a thousand producers waiting
//! for one fsync are a thousand parked tasks, not a thousand blocked threads. A database backend is async anyway.
//! The futures are boxed so that the trait is object-safe (`Arc<dyn Outbox>` chosen at start-up); one allocation per
//! call is nothing next to an fsync.
//!
//! # Durability: what is on disk when a call returns
//!
//! [`SledOutbox`] applies each change as one atomic single-key sled write, in memory, and then waits for the *group
//! commit* (module `crate::state::commit`): a flusher thread that, whenever writes are waiting, calls sled's `flush`
//! (which writes its log) and then `fsync`s the log file and any new blob files, and wakes every writer whose write
//! that covered.
//! One fsync thus serves every write made while the previous one ran. (sled's own flush uses `sync_file_range` on
//! Linux, which neither flushes the disk's write cache nor persists file metadata, and never syncs blob files; the
//! extra fsync is what makes "on disk" survive a power loss, not only a process crash.)
//!
//! - [`Outbox::enqueue`] returns once the item is on disk: a crash, power loss or `kill -9` after it returns cannot
//!   lose the item. A repeated key returns the existing item, also only once that item is on disk.
//! - [`Outbox::complete`], [`Outbox::fail`], [`Outbox::release`], [`Outbox::retry_dead`], [`Outbox::purge_dead`]
//!   and [`Outbox::prune`] return once their change is on disk.
//! - [`Outbox::lease`] and [`Outbox::extend`] are applied at once and flushed with the next group, but do not wait
//!   for it: a crash before that flush forgets the lease, and the item is leased again as if the lease had lapsed
//!   (only the attempt is not counted). Waiting would add an fsync to every lease for no gain in safety. A lease
//!   does wait, though, when an item it hands out was created so recently that its creation may not be on disk
//!   yet (another producer's enqueue still waiting for its flush): work done on an item a crash could forget would
//!   be done again under a new identity.
//! - An error from any of them means the change may or may not be on disk; [`OutboxError::Durability`] also means
//!   no later write will be accepted, and the gateway must stop.
//!
//! [`crate::store::MessageStore::commit`] makes several of these changes (items to create, a completion) and an
//! inbox change as one write, all or nothing, with one wait for the group commit: see [`crate::store`].
//!
//! Processing is at least once: a worker that crashes after its effect but before `complete` returns does the work
//! again after the lease lapses, so every downstream call carries the item's idempotency key.
//!
//! # What the sled backend keeps where
//!
//! Each change is one single-key sled write; the indexes (due items per queue, idempotency keys, completed items,
//! dead letters) and every retained item's metadata live in memory, in a table rebuilt from disk at open, while
//! payloads stay on disk. Memory therefore grows with the items retained, which [`Outbox::prune`] bounds. sled locks
//! its directory, so one process owns a [`SledOutbox`]; gateways that share work need a shared-database backend.
#![forbid(unsafe_code)]

pub mod backoff;
pub mod clock;
pub mod dead;
pub mod error;
pub mod id;
pub mod item;
pub mod memory;
pub mod poll;
pub mod sled;
pub(crate) mod table;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

pub use self::backoff::{BackoffPolicy, OutboxConfig};
pub use self::clock::{Clock, SystemClock, TokioClock};
pub use self::dead::DeadCause;
pub use self::error::{BackendError, OpenError, OutboxError};
pub use self::id::ItemId;
pub use self::item::{FailOutcome, FailureKind, ItemState, Lease, WorkItem};
pub use self::memory::MemoryOutbox;
pub use self::poll::{lease_when_due, LeaseWait};
pub use self::sled::SledOutbox;
pub use self::table::NewItem;
pub use crate::state::StateDb;

/// A boxed future that may move between threads, as the trait's methods return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A store of durable work, shared by producers and workers.
///
/// See the module documentation for the model and for what is durable when each method returns.
pub trait Outbox: Send + Sync {
    /// Adds work to `queue` under `idempotency_key`, due at once, and returns its id; if the queue already holds an
    /// item with that key (pending, leased, completed and not yet pruned, or dead), returns that item's id and adds
    /// nothing, whatever the payload.
    fn enqueue<'a>(
        &'a self,
        queue: &'a str,
        idempotency_key: &'a str,
        payload: &'a [u8],
        now: SystemTime,
    ) -> BoxFuture<'a, Result<ItemId, OutboxError>>;

    /// Leases up to `max_items` items of `queue` that are available at `now` (pending and due, or leased with the
    /// lease lapsed) to `owner` until `now + lease_for`, in order of `next_attempt_at`, then id. Each lease counts
    /// an attempt.
    fn lease<'a>(
        &'a self,
        queue: &'a str,
        owner: &'a str,
        max_items: usize,
        lease_for: Duration,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Vec<Lease>, OutboxError>>;

    /// Moves the end of `lease` to `now + lease_for`, for work that takes longer than expected; returns the lease as
    /// it now stands.
    fn extend<'a>(
        &'a self,
        lease: &'a Lease,
        lease_for: Duration,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Lease, OutboxError>>;

    /// Marks the leased item done.
    fn complete<'a>(&'a self, lease: &'a Lease, now: SystemTime) -> BoxFuture<'a, Result<(), OutboxError>>;

    /// Records a failed attempt: the item is rescheduled after the queue's backoff (or at the time a
    /// [`FailureKind::RetryAt`] names), or dead-lettered with the reason if the failure is final or the policy's
    /// limits are reached.
    fn fail<'a>(
        &'a self,
        lease: &'a Lease,
        failure: FailureKind,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<FailOutcome, OutboxError>>;

    /// Gives the leased item back, due at once, without counting the attempt (graceful shutdown).
    fn release<'a>(&'a self, lease: &'a Lease, now: SystemTime) -> BoxFuture<'a, Result<(), OutboxError>>;

    /// The item `id` with its payload, if it exists.
    fn get(&self, id: ItemId) -> BoxFuture<'_, Result<Option<WorkItem>, OutboxError>>;

    /// Up to `limit` dead letters, of `queue` or of every queue, in id order.
    fn list_dead<'a>(
        &'a self,
        queue: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<WorkItem>, OutboxError>>;

    /// Moves a dead letter back to pending, due at once, with its attempts reset (an operator fixed the cause).
    fn retry_dead(&self, id: ItemId, now: SystemTime) -> BoxFuture<'_, Result<(), OutboxError>>;

    /// Deletes a dead letter for good (an operator gave up on it).
    fn purge_dead(&self, id: ItemId) -> BoxFuture<'_, Result<(), OutboxError>>;

    /// When the first item of `queue` becomes available (possibly in the past), or `None` if the queue is empty;
    /// lets a worker sleep until then.
    fn next_due<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<Option<SystemTime>, OutboxError>>;

    /// Counts of items by queue and state, the age of each queue's oldest unfinished item, and the flushes done.
    fn stats(&self, now: SystemTime) -> BoxFuture<'_, Result<Stats, OutboxError>>;

    /// Removes items completed before `completed_before` and returns how many. Dead letters stay until purged.
    fn prune(&self, completed_before: SystemTime) -> BoxFuture<'_, Result<usize, OutboxError>>;

    /// Up to `filter.limit` items that match `filter`, in id order, *without* their payloads (`payload` is empty;
    /// [`Outbox::get`] reads one). For operators: it walks every retained item, so it is not for the hot path.
    fn list<'a>(&'a self, filter: &'a ListFilter) -> BoxFuture<'a, Result<Vec<WorkItem>, OutboxError>>;
}

/// Which items [`Outbox::list`] returns: every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Only items of this queue.
    pub queue: Option<String>,
    /// Only items in this state.
    pub state: Option<StateFilter>,
    /// Only items whose idempotency key contains this text (keys name the SMEV message they are about).
    pub key_contains: Option<String>,
    /// Only items whose payload contains these bytes; costs a read of every candidate's payload.
    pub payload_contains: Option<Vec<u8>>,
    /// Only items with an id above this one, for paging.
    pub after: Option<ItemId>,
    /// At most this many items.
    pub limit: usize,
}

/// An [`ItemState`] without its details, for filtering and display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateFilter {
    /// [`ItemState::Pending`].
    Pending,
    /// [`ItemState::Leased`].
    Leased,
    /// [`ItemState::Completed`].
    Completed,
    /// [`ItemState::Dead`].
    Dead,
}

impl StateFilter {
    /// Every state, in an item's order of life.
    pub const ALL: [StateFilter; 4] =
        [StateFilter::Pending, StateFilter::Leased, StateFilter::Completed, StateFilter::Dead];

    /// The state `state` is in.
    pub fn of(state: &ItemState) -> StateFilter {
        match state {
            ItemState::Pending => StateFilter::Pending,
            ItemState::Leased { .. } => StateFilter::Leased,
            ItemState::Completed { .. } => StateFilter::Completed,
            ItemState::Dead { .. } => StateFilter::Dead,
        }
    }

    /// The state's name in the operators' API.
    pub fn as_str(self) -> &'static str {
        match self {
            StateFilter::Pending => "pending",
            StateFilter::Leased => "leased",
            StateFilter::Completed => "completed",
            StateFilter::Dead => "dead",
        }
    }

    /// The state named `name`.
    pub fn parse(name: &str) -> Option<StateFilter> {
        StateFilter::ALL.into_iter().find(|state| state.as_str() == name)
    }
}

impl ListFilter {
    /// Whether `item` passes every condition but the payload's.
    pub(crate) fn matches_metadata(&self, item: &WorkItem) -> bool {
        self.queue.as_deref().is_none_or(|queue| queue == item.queue)
            && self.state.is_none_or(|state| state == StateFilter::of(&item.state))
            && self.key_contains.as_deref().is_none_or(|text| item.idempotency_key.contains(text))
            && self.after.is_none_or(|after| item.id > after)
    }

    /// Whether `payload` passes the payload's condition.
    pub(crate) fn matches_payload(&self, payload: &[u8]) -> bool {
        match &self.payload_contains {
            None => true,
            Some(needle) if needle.is_empty() => true,
            Some(needle) => payload.windows(needle.len()).any(|window| window == needle.as_slice()),
        }
    }
}

/// What an outbox holds, for health checks and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Counts per queue; queues with no items are absent.
    pub queues: BTreeMap<String, QueueStats>,
    /// Flushes the group commit has performed since the store was opened (zero for stores without one); far fewer
    /// than writes under load, which is the point.
    pub flushes: u64,
}

/// The counts of one queue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Items waiting for their next attempt or due now.
    pub pending: u64,
    /// Items leased to a worker (including leases that lapsed and were not yet taken over).
    pub leased: u64,
    /// Completed items not yet pruned.
    pub completed: u64,
    /// Dead letters waiting for an operator.
    pub dead: u64,
    /// How long the oldest pending or leased item has been in the queue; a growing value means work is stuck.
    pub oldest_pending_age: Option<Duration>,
}

impl Stats {
    /// Counts `item`.
    pub(crate) fn add(&mut self, item: &WorkItem, now: SystemTime) {
        let queue = self.queues.entry(item.queue.clone()).or_default();
        match item.state {
            ItemState::Pending => queue.pending += 1,
            ItemState::Leased { .. } => queue.leased += 1,
            ItemState::Completed { .. } => queue.completed += 1,
            ItemState::Dead { .. } => queue.dead += 1,
        }
        if item.is_queued() {
            let age = now.duration_since(item.created_at).unwrap_or_default();
            queue.oldest_pending_age = Some(queue.oldest_pending_age.map_or(age, |oldest| oldest.max(age)));
        }
    }

    /// The counts of `queue` (all zero if it has no items).
    pub fn queue(&self, queue: &str) -> QueueStats {
        self.queues.get(queue).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both backends list the same items for the same filter, in id order, without payloads.
    #[tokio::test]
    async fn list_filters_alike_in_both_backends() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sled = SledOutbox::open_path(dir.path(), OutboxConfig::default()).expect("open");
        let memory = MemoryOutbox::new(OutboxConfig::default());
        let backends: [&dyn Outbox; 2] = [&memory, &sled];
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        for outbox in backends {
            let a = outbox.enqueue("q", "response:m1", b"<x>42</x>", now).await.expect("enqueue");
            let b = outbox.enqueue("q", "ack:m1", b"{}", now).await.expect("enqueue");
            let c = outbox.enqueue("other", "school:m2", b"<orderId>42</orderId>", now).await.expect("enqueue");
            let lease = outbox.lease("q", "w", 1, Duration::from_secs(5), now).await.expect("lease").remove(0);
            outbox.fail(&lease, FailureKind::Final { reason: "bad".into() }, now).await.expect("fail");
            let list = |filter: ListFilter| async move {
                let items = outbox.list(&filter).await.expect("list");
                assert!(items.iter().all(|item| item.payload.is_empty()), "no payloads");
                items.into_iter().map(|item| item.id).collect::<Vec<_>>()
            };
            let all = ListFilter { limit: 10, ..ListFilter::default() };
            assert_eq!(list(all.clone()).await, vec![a, b, c]);
            assert_eq!(list(ListFilter { queue: Some("q".into()), ..all.clone() }).await, vec![a, b]);
            assert_eq!(list(ListFilter { state: Some(StateFilter::Dead), ..all.clone() }).await, vec![a]);
            assert_eq!(list(ListFilter { key_contains: Some("m1".into()), ..all.clone() }).await, vec![a, b]);
            assert_eq!(list(ListFilter { payload_contains: Some(b">42<".to_vec()), ..all.clone() }).await, vec![a, c]);
            assert_eq!(list(ListFilter { after: Some(a), limit: 1, ..all.clone() }).await, vec![b]);
        }
    }
}
