//! The outbox's errors; those of opening the gateway's state directory are [`crate::state`]'s, re-exported here.
#![forbid(unsafe_code)]

use super::id::ItemId;

pub use crate::state::{BackendError, OpenError};

/// Why an outbox operation failed.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// No item has this id (it never existed, or it was pruned or purged).
    #[error("no work item {0}")]
    NotFound(ItemId),
    /// The lease is no longer the item's: it lapsed and another worker leased the item, or the item was finished.
    /// The caller must drop its work on the item; the other worker owns it now.
    #[error("the lease on work item {id} is no longer held")]
    StaleLease {
        /// The item.
        id: ItemId,
    },
    /// An operator action for dead letters named an item that is not dead-lettered.
    #[error("work item {id} is not dead-lettered")]
    NotDead {
        /// The item.
        id: ItemId,
    },
    /// The queue name is not usable.
    #[error("invalid queue name {queue:?}: {reason}")]
    InvalidQueue {
        /// The name given.
        queue: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The idempotency key is not usable.
    #[error("invalid idempotency key: {reason}")]
    InvalidKey {
        /// What is wrong with it.
        reason: String,
    },
    /// A lease was asked for by nobody: leases must name their owner.
    #[error("a lease owner must not be empty")]
    InvalidOwner,
    /// A stored record cannot be read: the store is damaged.
    #[error("the outbox store is damaged: {what}: {reason}")]
    Corrupt {
        /// Which record.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The change was applied in memory but could not be made durable. The store refuses every later write too:
    /// the gateway must stop, and on restart finds the store as it was at the last successful flush.
    #[error("the outbox could not make its writes durable: {0}")]
    Durability(String),
    /// The storage engine failed.
    #[error("outbox storage: {0}")]
    Backend(#[source] BackendError),
}
