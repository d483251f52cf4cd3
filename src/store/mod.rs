//! The unit of work of one step of a delivered message, over the outbox and the inbox at once.
//!
//! A lookup used to cost seven awaited durable writes: record the delivery, queue the response, record the
//! response (a second copy of its bytes), queue the acknowledgement, complete the send, mark the request
//! acknowledged, complete the ack. A [`MessageStore`] writes each *step* of a message (what one task does with it)
//! as one durable write, so a lookup costs three: the request task's step (queue the response and the
//! acknowledgement, record the response's MessageID), the send worker's (complete the send) and the ack worker's
//! (complete the ack, mark the request acknowledged). The response's bytes are kept once, in its outbox item; the
//! inbox keeps its MessageID.
//!
//! # Durability contract
//!
//! - [`MessageStore::commit`] returns once the whole step is on disk, or fails having written nothing that a
//!   restart would find: its items, its completion and its inbox change are one write, all or nothing, also across
//!   a crash or power loss in the middle (the sled backend writes a step of several records through the state
//!   directory's journal, `state::journal`: the whole step as one redo record, then its records, then the redo
//!   record removed, replayed at open after a crash; made durable by one wait for the group commit, see
//!   [`crate::outbox`]). A refused step
//!   (a lease no longer held, an entry that does not exist, a bad queue name) changes nothing, in memory either.
//!   A step that changes nothing (every item exists, the response and the ack are recorded already) writes nothing
//!   and returns once whatever it read is on disk, and, if it names a delivered message, once the delivery recorded
//!   before it is too.
//! - [`MessageStore::received`] applies the delivery at once but does not wait for the disk: the step that follows
//!   makes it durable with its own write (a flush covers every earlier write), and [`MessageStore::settle`] does
//!   when no step follows. A crash before either loses only the delivery (its count, or the entry of a first
//!   delivery); SMEV delivers the message again, since it was not acknowledged.
//! - An error of kind durability ([`crate::outbox::OutboxError::Durability`]) means the step may or may not be on
//!   disk and no later write will be accepted: the gateway must stop.
//!
//! # Steps without an inbox entry
//!
//! A step with an empty `smev_id` touches no inbox entry (a status push, a deferred job's response, a worker's
//! completion): it may not record a response or an ack, and its [`Committed::entry`] is `None`. A step with a
//! `smev_id` needs that message's entry (it must have been [`received`](MessageStore::received)), even when it
//! changes nothing in it, and returns the entry as it now stands. A step with nothing at all to do is allowed and
//! writes nothing.
#![forbid(unsafe_code)]

pub mod memory;
pub mod sled;

use std::sync::Arc;
use std::time::SystemTime;

pub use self::memory::MemoryStore;
pub use self::sled::SledStore;
use crate::inbox::{Inbox, InboxEntry, InboxError};
pub use crate::outbox::NewItem;
use crate::outbox::{BoxFuture, ItemId, Lease, Outbox, OutboxError};

/// One step of a delivered message, written as ONE durable write (one group-commit wait), all or nothing.
#[derive(Debug, Clone, Default)]
pub struct Step<'a> {
    /// SMEV's id of the delivered message whose inbox entry the step updates (it must have been received); empty
    /// for a step about no delivered message (see the module documentation).
    pub smev_id: &'a str,
    /// Items to create (the response to send, a deferred job, the acknowledgement...), in order.
    pub enqueue: Vec<NewItem<'a>>,
    /// The MessageID of the response given, recorded in the inbox entry unless one is recorded already (the entry
    /// keeps only the id and the time: the response's bytes live once, in its outbox item).
    pub response_message_id: Option<&'a str>,
    /// A lease to complete in the same write (the worker that finished the step's work), validated like
    /// [`Outbox::complete`]: a lost lease fails the whole step.
    pub complete: Option<&'a Lease>,
    /// Whether the step records the message as acknowledged to SMEV (as [`Inbox::mark_acked`]: the first time
    /// counts).
    pub acked: bool,
    /// A thread the step opens or pushes to (see [`Thread`]), written in the same durable write.
    pub thread: Option<ThreadWrite<'a>>,
}

/// A conversation with the portal that outlives its first request: an application whose later statuses go out as
/// further responses to the request that filed it (the EPGU concentrator's way). Per thread key (chosen by the
/// service, such as its name and the portal's order number) the store keeps the origin the gateway recorded when
/// it answered that request (its encoding is the gateway's: the request's MessageID, ReplyTo, kind of data), and
/// the outbox item of the latest push, so that the next push waits until that one has left: pushes leave in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thread {
    /// What the gateway recorded when the thread was opened; never replaced.
    pub origin: Vec<u8>,
    /// The outbox item of the latest push to the thread, if any.
    pub last_push: Option<ItemId>,
}

/// How a step changes a thread.
#[derive(Debug, Clone, Copy)]
pub enum ThreadWrite<'a> {
    /// Opens the thread `key` with `origin`, unless it is open already: the request that opened it stays its
    /// origin (an edit of an application is answered, but later statuses still answer the first request).
    Open {
        /// The thread's key.
        key: &'a str,
        /// The origin to keep.
        origin: &'a [u8],
    },
    /// Records the step's first item as the thread's latest push. The thread must be open.
    Pushed {
        /// The thread's key.
        key: &'a str,
    },
}

impl<'a> Step<'a> {
    /// Whether the step asks for a change of the inbox entry.
    fn changes_entry(&self) -> bool {
        self.response_message_id.is_some() || self.acked
    }

    /// Refuses a step that would change an inbox entry without naming one, or record a push without an item.
    fn check(&self) -> Result<(), StoreError> {
        if self.smev_id.is_empty() && self.changes_entry() {
            return Err(StoreError::InvalidStep {
                reason: "a step that records a response or an ack must name the delivered message".to_owned(),
            });
        }
        if matches!(self.thread, Some(ThreadWrite::Pushed { .. })) && self.enqueue.is_empty() {
            return Err(StoreError::InvalidStep { reason: "a push to a thread must queue its item".to_owned() });
        }
        Ok(())
    }

    /// Applies the step's inbox change to `entry`; says whether the entry changed.
    fn change(&self, entry: &mut InboxEntry, now: SystemTime) -> bool {
        let responded = self.response_message_id.is_some_and(|id| entry.respond(id, now));
        let acked = self.acked && entry.ack(now);
        responded || acked
    }

    /// The outbox's half of the step.
    fn batch(&self) -> crate::outbox::table::Batch<'_, 'a> {
        crate::outbox::table::Batch { enqueue: &self.enqueue, complete: self.complete }
    }
}

/// What a step left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// The id of each item of [`Step::enqueue`], in order, and whether this step created it (false: the key
    /// existed, nothing changed).
    pub items: Vec<(ItemId, bool)>,
    /// The inbox entry as it now stands; `None` for a step with an empty `smev_id`.
    pub entry: Option<InboxEntry>,
}

/// Why a step or a delivery could not be recorded. Nothing of a failed step is written, except when the error is
/// a durability failure (see the module documentation).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The outbox's half failed: a bad queue or key, a lease no longer held, storage, durability.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    /// The inbox's half failed: no entry for the message, a bad MessageID, storage, durability.
    #[error(transparent)]
    Inbox(#[from] InboxError),
    /// A push to a thread that was never opened.
    #[error("thread {key} is not open")]
    NoThread {
        /// The thread's key.
        key: String,
    },
    /// The thread records cannot be read or written (a damaged record, or the backend failed).
    #[error("threads: {0}")]
    Threads(String),
    /// The step asks for something no store can do.
    #[error("invalid step: {reason}")]
    InvalidStep {
        /// What is wrong with it.
        reason: String,
    },
}

impl StoreError {
    /// Whether the error means the store can no longer make writes durable (the gateway must stop).
    pub fn is_durability(&self) -> bool {
        matches!(self, StoreError::Outbox(OutboxError::Durability(_)) | StoreError::Inbox(InboxError::Durability(_)))
    }
}

/// The outbox and the inbox of one gateway, with the combined write of a message's step. See the module
/// documentation for what is durable when each method returns.
pub trait MessageStore: Send + Sync {
    /// Records a delivery (as [`Inbox::record_received`]: a new entry, or the existing one with the delivery
    /// counted) WITHOUT waiting for it to be durable: the step that follows makes it durable with its own write.
    fn received<'a>(
        &'a self,
        smev_id: &'a str,
        kind: &'a str,
        summary: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<InboxEntry, StoreError>>;

    /// Makes everything written so far durable (for a message left for redelivery without a step).
    fn settle(&self) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Writes one step durably; see [`Step`].
    fn commit<'a>(&'a self, step: Step<'a>, now: SystemTime) -> BoxFuture<'a, Result<Committed, StoreError>>;

    /// The thread `key`, if it was opened (see [`Thread`]).
    fn thread<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Thread>, StoreError>>;

    /// The outbox, for everything else (leases, failures, reads, operators, retention).
    fn outbox(&self) -> &Arc<dyn Outbox>;

    /// The inbox, for everything else (reads, operators, retention).
    fn inbox(&self) -> &Arc<dyn Inbox>;
}
