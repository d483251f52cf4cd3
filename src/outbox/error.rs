//! The outbox's errors: those of its operations, and those of opening the gateway's state directory.
#![forbid(unsafe_code)]

use std::path::PathBuf;

use super::id::ItemId;

/// A boxed error from a backend's storage engine, so that the API names no engine's types.
pub type BackendError = Box<dyn std::error::Error + Send + Sync + 'static>;

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

/// Why the gateway's state directory could not be opened. The gateway refuses to start on any of these rather than
/// start empty and lose the work it held.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Another process (or another open handle in this one) holds the directory.
    #[error("the state directory {path} is in use by another process")]
    Locked {
        /// The directory.
        path: PathBuf,
    },
    /// The path holds something other than the gateway's state: a file, another program's files, or a store whose
    /// format marker is missing or of another version.
    #[error("{path} is not an edugate state directory: {reason}")]
    NotAStore {
        /// The path.
        path: PathBuf,
        /// Why not.
        reason: String,
    },
    /// The store's files or records are damaged.
    #[error("the state directory {path} is damaged: {reason}")]
    Damaged {
        /// The directory.
        path: PathBuf,
        /// What is damaged.
        reason: String,
    },
    /// The directory cannot be read or created.
    #[error("cannot use the state directory {path}: {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The storage engine failed to open the directory.
    #[error("cannot open the state directory {path}: {source}")]
    Backend {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: BackendError,
    },
}
