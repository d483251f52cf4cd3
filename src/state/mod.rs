//! The gateway's state directory: one sled database holding the outbox and the inbox, each in its own tree, with one
//! group-commit flusher for both (module `commit`). The sled machinery the outbox, the inbox and the message store
//! share lives here, so that none of them depends on another's sled internals.
//!
//! Layout:
//! - default tree: `format` -> `edugate-state/1`, written when the directory is created and checked on every open;
//! - tree `outbox`: see [`crate::outbox::sled`];
//! - tree `inbox`: see [`crate::inbox::sled`];
//! - tree `journal`: multi-key writes in progress (module `journal`), empty but after a crash.
#![forbid(unsafe_code)]

use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

pub(crate) mod commit;
pub mod error;
pub(crate) mod journal;

use self::commit::{DiskSync, GroupCommit};
pub use self::error::{BackendError, OpenError};
use self::journal::Journal;

/// How long [`StateDb::open`] waits for a held directory lock before giving up.
pub const LOCK_WAIT: Duration = Duration::from_secs(2);
/// How often a held lock is tried again.
const LOCK_RETRY: Duration = Duration::from_millis(10);
/// The key of the format marker.
const FORMAT_KEY: &[u8] = b"format";
/// The format marker's value; a directory written in another format is refused rather than misread.
const FORMAT: &[u8] = b"edugate-state/1";

/// The open state directory. Cheap to clone; the last clone dropped flushes what is left and releases the directory.
#[derive(Debug, Clone)]
pub struct StateDb {
    /// The database and its flusher, shared by the outbox and the inbox.
    inner: Arc<Inner>,
}

/// What the clones of a [`StateDb`] share.
#[derive(Debug)]
struct Inner {
    /// The flusher; declared first so it is dropped (and its thread joined, flushing the rest) before the database.
    commit: GroupCommit,
    /// The directory, for error messages.
    path: PathBuf,
    /// Where multi-key writes go, so that a crash leaves them whole or absent.
    journal: Journal,
    /// The open database; sled locks the directory against a second process while it is open.
    db: sled::Db,
}

impl StateDb {
    /// Opens the state directory `path`, creating it if it does not exist.
    ///
    /// A directory that already holds files must be one this gateway wrote: anything else (garbage, another
    /// program's files, damaged sled files) is an error, never a silent empty start. If another handle holds the
    /// directory, this waits up to [`LOCK_WAIT`] for it, then fails with [`OpenError::Locked`].
    pub fn open(path: impl AsRef<Path>) -> Result<StateDb, OpenError> {
        StateDb::open_with_lock_wait(path, LOCK_WAIT)
    }

    /// Like [`StateDb::open`], waiting at most `lock_wait` for the directory's lock.
    pub fn open_with_lock_wait(path: impl AsRef<Path>, lock_wait: Duration) -> Result<StateDb, OpenError> {
        let path = path.as_ref().to_path_buf();
        let existed = holds_files(&path)?;
        let db = open_db_waiting(&path, lock_wait)?;
        check_format(&path, &db, existed)?;
        let damaged = |reason| OpenError::Damaged { path: path.clone(), reason };
        journal::replay(&db).map_err(damaged)?;
        let journal = Journal::new(&db).map_err(|source| backend_error(&path, source))?;
        let io_error = |source| OpenError::Io { path: path.clone(), source };
        let commit = GroupCommit::start(db.clone(), DiskSync::open(&path).map_err(io_error)?).map_err(io_error)?;
        Ok(StateDb { inner: Arc::new(Inner { commit, path, journal, db }) })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// How many flushes the group commit has performed since the directory was opened.
    pub fn flushes(&self) -> u64 {
        self.inner.commit.flushes()
    }

    /// How many awaited durable writes the outbox and the inbox have made since the directory was opened: each
    /// step of a message that its caller waits for counts once, however many writes a flush covers.
    pub fn durable_waits(&self) -> u64 {
        self.inner.commit.waits()
    }

    /// Why the directory can no longer make writes durable, once a flush has failed: every later write of the
    /// outbox and the inbox fails, so the gateway must stop (a restart recovers the last flushed state).
    pub fn failure(&self) -> Option<String> {
        self.inner.commit.failure()
    }

    /// Completes when a flush fails, with the reason; the gateway's runtime waits on it to stop.
    pub async fn failed(&self) -> String {
        self.inner.commit.failed().await
    }

    /// Makes the next flush fail with `reason` as a failed fsync would, sticky like one: for tests and for
    /// rehearsing the gateway's reaction to a failing disk. Compiled in always, so the binary tested is the one
    /// shipped; nothing in the gateway calls it.
    pub fn inject_flush_failure(&self, reason: &str) {
        self.inner.commit.inject_failure(reason);
    }

    /// The tree `name`, opened or created.
    pub(crate) fn tree(&self, name: &str) -> Result<sled::Tree, OpenError> {
        self.inner.db.open_tree(name).map_err(|source| self.backend(source))
    }

    /// A new id, unique in this directory across restarts and increasing.
    pub(crate) fn generate_id(&self) -> Result<u64, sled::Error> {
        self.inner.db.generate_id()
    }

    /// Where a write of several records goes, so that a crash leaves it whole or absent.
    pub(crate) fn journal(&self) -> &Journal {
        &self.inner.journal
    }

    /// The group commit every writer of this directory registers with.
    pub(crate) fn commit(&self) -> &GroupCommit {
        &self.inner.commit
    }

    /// An [`OpenError::Damaged`] for this directory.
    pub(crate) fn damaged(&self, reason: String) -> OpenError {
        OpenError::Damaged { path: self.inner.path.clone(), reason }
    }

    /// An [`OpenError::Backend`] for this directory.
    pub(crate) fn backend(&self, source: sled::Error) -> OpenError {
        backend_error(&self.inner.path, source)
    }
}

/// Checks the format marker of an existing directory, or writes it into a new one.
fn check_format(path: &Path, db: &sled::Db, existed: bool) -> Result<(), OpenError> {
    let not_a_store = |reason: String| OpenError::NotAStore { path: path.to_path_buf(), reason };
    match db.get(FORMAT_KEY).map_err(|source| backend_error(path, source))? {
        Some(found) if found == FORMAT => Ok(()),
        Some(found) => Err(not_a_store(format!(
            "its format is {:?}, this gateway reads {:?}",
            String::from_utf8_lossy(&found),
            String::from_utf8_lossy(FORMAT)
        ))),
        None if existed => Err(not_a_store(
            "it has files but no format marker: it is damaged or was not written by this gateway".to_owned(),
        )),
        None => {
            db.insert(FORMAT_KEY, FORMAT).map_err(|source| backend_error(path, source))?;
            db.flush().map_err(|source| backend_error(path, source))?;
            Ok(())
        }
    }
}

/// An [`OpenError`] for a sled failure at `path`: damage is [`OpenError::Damaged`], the rest
/// [`OpenError::Backend`].
fn backend_error(path: &Path, source: sled::Error) -> OpenError {
    match source {
        sled::Error::Corruption { .. } => {
            OpenError::Damaged { path: path.to_path_buf(), reason: format!("sled reports corruption: {source}") }
        }
        source => OpenError::Backend { path: path.to_path_buf(), source: Box::new(source) },
    }
}

/// Opens the sled database in `path`, retrying while its lock is held, for at most `lock_wait`.
///
/// sled releases a dropped database's lock only when its I/O threads finished, shortly after the drop; without this
/// wait a gateway reopening its state in the same process (or a test) would race them.
fn open_db_waiting(path: &Path, lock_wait: Duration) -> Result<sled::Db, OpenError> {
    let deadline = Instant::now() + lock_wait;
    loop {
        match open_db(path) {
            Err(OpenError::Backend { source, .. }) if is_lock_error(source.as_ref()) => {
                if Instant::now() >= deadline {
                    return Err(OpenError::Locked { path: path.to_path_buf() });
                }
                thread::sleep(LOCK_RETRY);
            }
            opened => return opened,
        }
    }
}

/// Whether sled failed to take the directory's file lock. sled 0.34 reports it only as an `Io` error of kind
/// `Other` with this message, so the message is the one way to tell it from real I/O failures.
fn is_lock_error(error: &(dyn std::error::Error + 'static)) -> bool {
    matches!(error.downcast_ref::<sled::Error>(), Some(sled::Error::Io(io))
        if io.kind() == std::io::ErrorKind::Other && io.to_string().contains("could not acquire lock"))
}

/// Opens the sled database in `path`.
///
/// The group commit does all flushing, so sled's own periodic flusher is off: durability points are ours, and
/// without its thread a dropped database releases its lock promptly.
///
/// sled reports most damage as `Corruption`, but some malformed files make its recovery panic instead; that panic
/// becomes [`OpenError::Damaged`] too, since the half-built database is dropped either way.
fn open_db(path: &Path) -> Result<sled::Db, OpenError> {
    let open = || sled::Config::new().path(path).flush_every_ms(None).open();
    match panic::catch_unwind(AssertUnwindSafe(open)) {
        Ok(opened) => opened.map_err(|source| backend_error(path, source)),
        Err(_) => Err(OpenError::Damaged {
            path: path.to_path_buf(),
            reason: "the database files are damaged (sled's recovery failed)".to_owned(),
        }),
    }
}

/// Whether `path` is a directory with something in it; a plain file there is not a state directory.
fn holds_files(path: &Path) -> Result<bool, OpenError> {
    let io_error = |source: std::io::Error| OpenError::Io { path: path.to_path_buf(), source };
    match fs::metadata(path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(io_error(error)),
        Ok(metadata) if !metadata.is_dir() => {
            Err(OpenError::NotAStore { path: path.to_path_buf(), reason: "it is not a directory".to_owned() })
        }
        Ok(_) => Ok(fs::read_dir(path).map_err(io_error)?.next().is_some()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A journal record that cannot be read fails the directory's opening, naming the journal, rather than being
    /// skipped: a step would be lost half made.
    #[test]
    fn a_damaged_journal_record_fails_the_opening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        drop(StateDb::open(&path).unwrap());
        {
            let db = sled::Config::new().path(&path).open().unwrap();
            db.open_tree(journal::TREE).unwrap().insert(1u64.to_be_bytes(), &[0, 0, 0, 9, 1][..]).unwrap();
            db.flush().unwrap();
        }
        let error = StateDb::open(&path).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("journal record") && text.contains("damaged"), "{text}");
    }

    /// A step interrupted by a crash is whole after the next opening, and the journal is empty again.
    #[test]
    fn opening_replays_an_interrupted_step() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        drop(StateDb::open(&path).unwrap());
        {
            let db = sled::Config::new().path(&path).open().unwrap();
            let (a, b) = (db.open_tree("a").unwrap(), db.open_tree("b").unwrap());
            db.open_tree(journal::TREE)
                .unwrap()
                .insert(3u64.to_be_bytes(), journal::encode(&[(&a, b"k", b"1"), (&b, b"k", b"2")]))
                .unwrap();
            a.insert(b"k", b"1").unwrap();
            db.flush().unwrap();
        }
        let state = StateDb::open(&path).unwrap();
        assert_eq!(state.tree("b").unwrap().get(b"k").unwrap().as_deref(), Some(&b"2"[..]));
        assert!(state.tree(journal::TREE).unwrap().is_empty());
    }
}
