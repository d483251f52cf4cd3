//! Group commit: one flusher thread makes everybody's writes durable together.
//!
//! A writer applies its change to sled (in memory, atomically), takes a [`Ticket`] and awaits it. The flusher thread
//! waits until there is at least one ticket it has not covered, notes the latest ticket, calls `Db::flush` (which
//! writes sled's log up to everything applied before the call), fsyncs the log and any new blob files
//! ([`DiskSync`]), and then announces that every ticket up to the noted one is durable. Writes that arrive while a
//! flush runs are covered by the next one, so under load one fsync serves many writers, and alone a writer waits
//! for exactly one.
//!
//! Tickets are taken while the writer still holds its store's write lock, after the write: a ticket therefore
//! covers its own write and every write the writer could have read. Ordering: the write happens before the ticket is
//! counted, the count is read before the flush starts, so a flush that covers a ticket covers its write.
//!
//! A failed flush is final: every waiting and later ticket fails with a [`DurabilityError`], since the
//! in-memory state now holds writes that may never reach the disk. The gateway must stop; on restart sled recovers
//! the state of the last successful flush.
#![forbid(unsafe_code)]

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::watch;

/// The one way a ticket can fail: flushing failed (now or earlier), so the write may never reach the disk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct DurabilityError(pub(crate) String);

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
    /// Whether the flusher is waiting for writes; only then does a writer wake it (a wake is a system call).
    idle: bool,
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
    /// Writes a caller waited for (one per durable step): what `ARCHITECTURE.md` counts per lookup, and what the
    /// test of that count reads.
    waits: AtomicU64,
    /// Where the flusher announces progress.
    announce: watch::Sender<Flushed>,
    /// A failure the next flush reports instead of flushing, set by [`GroupCommit::inject_failure`]: the one way
    /// to drill the gateway's reaction to a disk that fails its fsync (tests, operators' rehearsals).
    injected: Mutex<Option<String>>,
    /// Held by a test to keep the flusher from flushing, so that a write stays not yet durable.
    #[cfg(test)]
    hold: Mutex<()>,
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
    /// Starts the flusher thread for `db`, which makes its flushes durable with `disk`.
    pub(crate) fn start(db: sled::Db, disk: DiskSync) -> io::Result<GroupCommit> {
        let (announce, progress) = watch::channel(Flushed::default());
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            flushes: AtomicU64::new(0),
            waits: AtomicU64::new(0),
            announce,
            injected: Mutex::new(None),
            #[cfg(test)]
            hold: Mutex::new(()),
        });
        let flusher = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("edugate-flush".to_owned())
            .spawn(move || run_flusher(&flusher, &db, disk))?;
        Ok(GroupCommit { shared, progress, thread: Some(thread) })
    }

    /// Registers a write that has just been applied; call it while still holding the store's write lock.
    pub(crate) fn register(&self) -> Ticket {
        let (ticket, idle) = {
            let mut pending = self.shared.lock();
            pending.registered += 1;
            (pending.registered, std::mem::take(&mut pending.idle))
        };
        if idle {
            self.shared.wake.notify_one();
        }
        Ticket(ticket)
    }

    /// A ticket covering every write registered so far, for a caller that read state it must not report before
    /// that state is durable (a repeated enqueue returning an item another caller has just written).
    pub(crate) fn covering_registered(&self) -> Ticket {
        Ticket(self.shared.lock().registered)
    }

    /// Waits until the write of `ticket` (and every earlier one) is on disk.
    pub(crate) async fn wait(&self, ticket: Ticket) -> Result<(), DurabilityError> {
        self.shared.waits.fetch_add(1, Ordering::Relaxed);
        let mut progress = self.progress.clone();
        let reached = progress.wait_for(|flushed| flushed.upto >= ticket.0 || flushed.failed.is_some()).await;
        let flushed = reached.map_err(|_| DurabilityError("the flusher stopped".to_owned()))?;
        match &flushed.failed {
            Some(reason) if flushed.upto < ticket.0 => Err(DurabilityError(reason.to_string())),
            _ => Ok(()),
        }
    }

    /// Keeps the flusher from flushing while the guard lives (it finishes a flush in progress first).
    #[cfg(test)]
    pub(crate) fn hold_flushes(&self) -> MutexGuard<'_, ()> {
        self.shared.hold.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether the write of `ticket` (and every earlier one) is on disk already.
    pub(crate) fn is_durable(&self, ticket: Ticket) -> bool {
        self.progress.borrow().upto >= ticket.0
    }

    /// Refuses once a flush has failed: no later write could be made durable.
    pub(crate) fn check_healthy(&self) -> Result<(), DurabilityError> {
        match &self.progress.borrow().failed {
            Some(reason) => Err(DurabilityError(reason.to_string())),
            None => Ok(()),
        }
    }

    /// Why flushing failed, once it has.
    pub(crate) fn failure(&self) -> Option<String> {
        self.progress.borrow().failed.as_deref().map(str::to_owned)
    }

    /// Waits until flushing fails and says why; never completes while the disk keeps its writes.
    pub(crate) async fn failed(&self) -> String {
        let mut progress = self.progress.clone();
        let reason = match progress.wait_for(|flushed| flushed.failed.is_some()).await {
            Ok(flushed) => flushed.failed.as_deref().map(str::to_owned),
            Err(_) => None,
        };
        match reason {
            Some(reason) => reason,
            // The flusher is gone only when the database is being dropped: nothing failed.
            None => std::future::pending().await,
        }
    }

    /// Makes the next flush fail with `reason`, exactly as a failed fsync would: the failure is sticky.
    pub(crate) fn inject_failure(&self, reason: &str) {
        *self.shared.injected.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(reason.to_owned());
    }

    /// Flushes performed so far.
    pub(crate) fn flushes(&self) -> u64 {
        self.shared.flushes.load(Ordering::Relaxed)
    }

    /// How many times a writer has waited for its write to be durable.
    pub(crate) fn waits(&self) -> u64 {
        self.shared.waits.load(Ordering::Relaxed)
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
fn run_flusher(shared: &Shared, db: &sled::Db, mut disk: DiskSync) {
    let mut done = 0;
    let mut last_group = 0;
    while let Some(mut target) = next_target(shared, done) {
        if last_group >= GATHER_AFTER {
            target = gather(shared);
        }
        last_group = target - done;
        #[cfg(test)]
        let _held = shared.hold.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let injected = shared.injected.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        let result = match injected {
            Some(reason) => Err(reason),
            None => db.flush().map_err(|error| error.to_string()).and_then(|_| disk.sync()),
        };
        shared.flushes.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(()) => {
                done = target;
                shared.announce.send_replace(Flushed { upto: done, failed: None });
            }
            Err(error) => {
                tracing::error!(%error, "flushing the state directory failed; refusing further writes");
                let failed = Some(Arc::from(error));
                shared.announce.send_replace(Flushed { upto: done, failed });
                return;
            }
        }
    }
}

/// What makes sled's flushed log durable: sled 0.34 "flushes" with `sync_file_range` on Linux, which neither
/// flushes the disk's write cache nor persists file metadata, and never syncs the blob files it writes for large
/// values. An fsync of each does.
#[derive(Debug)]
pub(crate) struct DiskSync {
    /// sled's log file, opened only to fsync it (fsync acts on the file, whichever handle asks); `None` for a
    /// temporary database, which has no files.
    log: Option<File>,
    /// The directory of sled's blob files.
    blobs: PathBuf,
    /// Blob files synced already; each is written once, before the flush that covers it.
    synced: HashSet<OsString>,
}

impl DiskSync {
    /// The files of the sled database in directory `dir`, whose entries are synced now (sled just created them).
    pub(crate) fn open(dir: &Path) -> io::Result<DiskSync> {
        File::open(dir)?.sync_all()?;
        let log = File::open(dir.join("db"))?;
        Ok(DiskSync { log: Some(log), blobs: dir.join("blobs"), synced: HashSet::new() })
    }

    /// Nothing to sync: for a temporary database.
    #[cfg(test)]
    pub(crate) fn none() -> DiskSync {
        DiskSync { log: None, blobs: PathBuf::new(), synced: HashSet::new() }
    }

    /// Fsyncs the log, then every blob file not synced yet and, if there was one, the blob directory.
    fn sync(&mut self) -> Result<(), String> {
        let Some(log) = &self.log else { return Ok(()) };
        log.sync_all().map_err(|error| format!("fsync of the log: {error}"))?;
        self.sync_new_blobs().map_err(|error| format!("fsync of a blob file: {error}"))
    }

    /// Fsyncs the blob files written since the last call.
    fn sync_new_blobs(&mut self) -> io::Result<()> {
        let entries = match fs::read_dir(&self.blobs) {
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
            entries => entries?,
        };
        let mut present = HashSet::new();
        let mut any_new = false;
        for entry in entries {
            let name = entry?.file_name();
            if !self.synced.contains(&name) {
                match File::open(self.blobs.join(&name)) {
                    // sled removes blobs it no longer needs; one removed meanwhile needs no sync.
                    Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
                    file => file?.sync_all()?,
                }
                any_new = true;
            }
            present.insert(name);
        }
        if any_new {
            File::open(&self.blobs)?.sync_all()?;
        }
        self.synced = present;
        Ok(())
    }
}

/// How long the flusher lets a group grow before flushing it, when the previous group held [`GATHER_AFTER`] writes
/// or more.
///
/// Writers that run concurrently register within microseconds of each other; a flush started on the first one
/// would leave the rest for the next flush, and each flush costs CPU the writers need.
const GATHER: Duration = Duration::from_micros(100);

/// The size of a group that shows real concurrency. One producer and one worker make groups of two (an enqueue and
/// a completion); they are flushed at once, so their latency is not taxed.
const GATHER_AFTER: u64 = 4;

/// Lets the group grow for [`GATHER`] and returns the latest ticket then.
fn gather(shared: &Shared) -> u64 {
    std::thread::sleep(GATHER);
    shared.lock().registered
}

/// Waits until writes past `done` are registered and returns the latest ticket, or `None` at shutdown with nothing
/// left to flush.
fn next_target(shared: &Shared, done: u64) -> Option<u64> {
    let mut pending = shared.lock();
    while pending.registered == done && !pending.shutdown {
        pending.idle = true;
        pending = shared.wake.wait(pending).unwrap_or_else(|poisoned| poisoned.into_inner());
    }
    pending.idle = false;
    (pending.registered > done).then_some(pending.registered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_ticket_is_flushed_and_flushes_are_shared() {
        let db = sled::Config::new().temporary(true).flush_every_ms(None).open().expect("temporary db");
        let commit = GroupCommit::start(db.clone(), DiskSync::none()).expect("flusher");
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

    #[tokio::test]
    async fn a_failed_sync_fails_the_waiting_write_and_every_later_one() {
        let db = sled::Config::new().temporary(true).flush_every_ms(None).open().expect("temporary db");
        // fsync of a character device fails (EINVAL): a disk that cannot make writes durable.
        let log = File::open("/dev/null").expect("/dev/null");
        let disk = DiskSync { log: Some(log), blobs: PathBuf::from("/nonexistent"), synced: HashSet::new() };
        let commit = GroupCommit::start(db.clone(), disk).expect("flusher");
        db.insert(b"k", &b"v"[..]).expect("insert");
        let ticket = commit.register();
        assert!(commit.wait(ticket).await.is_err());
        assert!(commit.check_healthy().is_err());
        let later = commit.register();
        assert!(commit.wait(later).await.is_err());
    }

    #[tokio::test]
    async fn an_injected_failure_is_sticky_and_announced() {
        let db = sled::Config::new().temporary(true).flush_every_ms(None).open().expect("temporary db");
        let commit = GroupCommit::start(db.clone(), DiskSync::none()).expect("flusher");
        let first = commit.register();
        commit.wait(first).await.expect("durable");
        assert_eq!(commit.failure(), None);
        commit.inject_failure("fsync of the log: injected");
        let ticket = commit.register();
        assert_eq!(commit.wait(ticket).await, Err(DurabilityError("fsync of the log: injected".into())));
        assert_eq!(commit.failed().await, "fsync of the log: injected");
        assert_eq!(commit.failure().as_deref(), Some("fsync of the log: injected"));
        let later = commit.register();
        assert!(commit.wait(later).await.is_err(), "the failure is sticky");
    }

    #[test]
    fn drop_flushes_what_is_left_and_stops() {
        let db = sled::Config::new().temporary(true).flush_every_ms(None).open().expect("temporary db");
        let commit = GroupCommit::start(db.clone(), DiskSync::none()).expect("flusher");
        let shared = Arc::clone(&commit.shared);
        db.insert(b"k", &b"v"[..]).expect("insert");
        let _ = commit.register();
        drop(commit);
        // The thread was joined, so its flush of the registered write is counted.
        assert!(shared.flushes.load(Ordering::Relaxed) >= 1);
        assert_eq!(Arc::strong_count(&shared), 1);
    }
}
