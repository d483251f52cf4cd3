//! Group commit: one flusher thread makes everybody's writes durable together.
//!
//! A writer applies its change to sled (in memory, atomically), takes a [`Ticket`] and awaits it. The flusher thread
//! waits until there is at least one ticket it has not covered, notes the latest ticket, calls `Db::flush` (which
//! writes and fsyncs everything applied before the call) and then announces that every ticket up to the noted one is
//! durable. Writes that arrive while a flush runs are covered by the next one, so under load one fsync serves many
//! writers, and alone a writer waits for exactly one.
//!
//! Tickets are taken while the writer still holds its store's write lock, after the write: a ticket therefore
//! covers its own write and every write the writer could have read. Ordering: the write happens before the ticket is
//! counted, the count is read before the flush starts, so a flush that covers a ticket covers its write.
//!
//! A failed flush is final: every waiting and later ticket fails with a [`DurabilityError`], since the
//! in-memory state now holds writes that may never reach the disk. The gateway must stop; on restart sled recovers
//! the state of the last successful flush.
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use tokio::sync::watch;

use super::error::OutboxError;

/// The one way a ticket can fail: flushing failed (now or earlier), so the write may never reach the disk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct DurabilityError(pub(crate) String);

impl From<DurabilityError> for OutboxError {
    fn from(error: DurabilityError) -> OutboxError {
        OutboxError::Durability(error.0)
    }
}

/// A claim that one's writes are flushed by a later flush: the count of writes registered up to and including one's
/// own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[must_use = "a write is durable only once its ticket is waited for"]
pub(crate) struct Ticket(u64);

/// What the flusher has achieved so far, as announced to waiters.
#[derive(Debug, Clone, Default)]
struct Flushed {
    /// Every ticket up to this one is durable.
    upto: u64,
    /// Why flushing failed, once it has; sticky.
    failed: Option<Arc<str>>,
}

/// What writers and the flusher share under the lock.
#[derive(Debug, Default)]
struct Pending {
    /// Writes registered so far.
    registered: u64,
    /// Set when the owner is dropped: flush what is left, then stop.
    shutdown: bool,
}

/// The part shared with the flusher thread.
#[derive(Debug)]
struct Shared {
    /// Registered writes and the shutdown flag.
    pending: Mutex<Pending>,
    /// Wakes the flusher when a write is registered or shutdown is asked for.
    wake: Condvar,
    /// Flushes performed, for statistics and the group-commit test.
    flushes: AtomicU64,
    /// Where the flusher announces progress.
    announce: watch::Sender<Flushed>,
}

impl Shared {
    /// Locks the pending counts, recovering from a poisoned lock: the counts are plain numbers, always consistent.
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The flusher of one sled database, and the handle writers register with.
#[derive(Debug)]
pub(crate) struct GroupCommit {
    /// State shared with the flusher thread.
    shared: Arc<Shared>,
    /// The flusher's progress, cloned by each waiter.
    progress: watch::Receiver<Flushed>,
    /// The flusher thread, joined on drop so the database is flushed and released before the drop returns.
    thread: Option<JoinHandle<()>>,
}

impl GroupCommit {
    /// Starts the flusher thread for `db`.
    pub(crate) fn start(db: sled::Db) -> std::io::Result<GroupCommit> {
        let (announce, progress) = watch::channel(Flushed::default());
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            flushes: AtomicU64::new(0),
            announce,
        });
        let flusher = Arc::clone(&shared);
        let thread =
            std::thread::Builder::new().name("edugate-flush".to_owned()).spawn(move || run_flusher(&flusher, &db))?;
        Ok(GroupCommit { shared, progress, thread: Some(thread) })
    }

    /// Registers a write that has just been applied; call it while still holding the store's write lock.
    pub(crate) fn register(&self) -> Ticket {
        let ticket = {
            let mut pending = self.shared.lock();
            pending.registered += 1;
            pending.registered
        };
        self.shared.wake.notify_one();
        Ticket(ticket)
    }

    /// A ticket covering every write registered so far, for a caller that read state it must not report before
    /// that state is durable (a repeated enqueue returning an item another caller has just written).
    pub(crate) fn covering_registered(&self) -> Ticket {
        Ticket(self.shared.lock().registered)
    }

    /// Waits until the write of `ticket` (and every earlier one) is on disk.
    pub(crate) async fn wait(&self, ticket: Ticket) -> Result<(), DurabilityError> {
        let mut progress = self.progress.clone();
        let reached = progress.wait_for(|flushed| flushed.upto >= ticket.0 || flushed.failed.is_some()).await;
        let flushed = reached.map_err(|_| DurabilityError("the flusher stopped".to_owned()))?;
        match &flushed.failed {
            Some(reason) if flushed.upto < ticket.0 => Err(DurabilityError(reason.to_string())),
            _ => Ok(()),
        }
    }

    /// Refuses once a flush has failed: no later write could be made durable.
    pub(crate) fn check_healthy(&self) -> Result<(), DurabilityError> {
        match &self.progress.borrow().failed {
            Some(reason) => Err(DurabilityError(reason.to_string())),
            None => Ok(()),
        }
    }

    /// Flushes performed so far.
    pub(crate) fn flushes(&self) -> u64 {
        self.shared.flushes.load(Ordering::Relaxed)
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            // A panicking flusher has nothing left to report here; its waiters already saw the channel close.
            let _ = thread.join();
        }
    }
}

/// The flusher thread: flushes whenever writes are registered that no flush has covered, until shutdown.
fn run_flusher(shared: &Shared, db: &sled::Db) {
    let mut done = 0;
    while let Some(target) = next_target(shared, done) {
        let result = db.flush();
        shared.flushes.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(_) => {
                done = target;
                shared.announce.send_replace(Flushed { upto: done, failed: None });
            }
            Err(error) => {
                tracing::error!(%error, "flushing the state directory failed; refusing further writes");
                let failed = Some(Arc::from(error.to_string()));
                shared.announce.send_replace(Flushed { upto: done, failed });
                return;
            }
        }
    }
}

/// Waits until writes past `done` are registered and returns the latest ticket, or `None` at shutdown with nothing
/// left to flush.
fn next_target(shared: &Shared, done: u64) -> Option<u64> {
    let mut pending = shared.lock();
    while pending.registered == done && !pending.shutdown {
        pending = shared.wake.wait(pending).unwrap_or_else(|poisoned| poisoned.into_inner());
    }
    (pending.registered > done).then_some(pending.registered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_ticket_is_flushed_and_flushes_are_shared() {
        let db = sled::Config::new().temporary(true).flush_every_ms(None).open().expect("temporary db");
        let commit = GroupCommit::start(db.clone()).expect("flusher");
        let tickets: Vec<Ticket> = (0..100u32)
            .map(|n| {
                db.insert(n.to_be_bytes(), &b"x"[..]).expect("insert");
                commit.register()
            })
            .collect();
        for ticket in tickets {
            commit.wait(ticket).await.expect("durable");
        }
        assert!(commit.flushes() >= 1 && commit.flushes() <= 100, "{}", commit.flushes());
        let idle = commit.covering_registered();
        commit.wait(idle).await.expect("nothing new to flush");
        assert!(commit.check_healthy().is_ok());
    }

    #[test]
    fn drop_flushes_what_is_left_and_stops() {
        let db = sled::Config::new().temporary(true).flush_every_ms(None).open().expect("temporary db");
        let commit = GroupCommit::start(db.clone()).expect("flusher");
        let shared = Arc::clone(&commit.shared);
        db.insert(b"k", &b"v"[..]).expect("insert");
        let _ = commit.register();
        drop(commit);
        // The thread was joined, so its flush of the registered write is counted.
        assert!(shared.flushes.load(Ordering::Relaxed) >= 1);
        assert_eq!(Arc::strong_count(&shared), 1);
    }
}
