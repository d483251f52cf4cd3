//! A durable store on sled, for an emulator whose queues must survive a restart.
//!
//! Layout, all in sled's default tree:
//! - `format` -> `mock-smev-store/1`, written when the store is created and checked on every open;
//! - `m` + sequence (8 bytes, big-endian) -> the [`MessageRecord`] as JSON;
//! - `p` + sequence -> the payload bytes, written once.
//!
//! Big-endian sequences make sled's key order the queues' FIFO order. Every change is one sled batch (atomic) and
//! is flushed to disk before `apply` returns, so an accepted send or ack survives a crash. Flushing per write caps
//! the store at a few hundred writes a second on an ordinary disk; the emulator is a test double, not the
//! throughput-critical part, so durability wins.

use std::collections::BTreeSet;
use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use ::sled::{Batch, Db, IVec};

use super::{Change, MessageRecord, Store, StoreError};

/// How long [`SledStore::open`] waits for a held directory lock before giving up.
pub const LOCK_WAIT: Duration = Duration::from_secs(2);
/// How often a held lock is tried again.
const LOCK_RETRY: Duration = Duration::from_millis(10);

/// The key of the format marker.
const FORMAT_KEY: &[u8] = b"format";
/// The format marker's value; a store written in another format is refused rather than misread.
const FORMAT: &[u8] = b"mock-smev-store/1";
/// The first byte of a record key.
const RECORD_PREFIX: u8 = b'm';
/// The first byte of a payload key.
const PAYLOAD_PREFIX: u8 = b'p';

/// Messages in a sled database directory, durable across restarts and crashes.
#[derive(Debug)]
pub struct SledStore {
    /// The directory, for error messages.
    path: PathBuf,
    /// The open database; sled locks the directory against a second process while it is open.
    db: Db,
}

impl SledStore {
    /// Opens the store in directory `path`, creating it if it does not exist.
    ///
    /// A directory that already holds files must be a store this emulator wrote: anything else (garbage, another
    /// program's files, a store whose marker sled could not recover) is an error, never a silent empty start.
    ///
    /// If another open store holds the directory, this waits up to [`LOCK_WAIT`] for it to be released, then fails
    /// with [`StoreError::Locked`].
    pub fn open(path: impl AsRef<Path>) -> Result<SledStore, StoreError> {
        SledStore::open_with_lock_wait(path, LOCK_WAIT)
    }

    /// Like [`SledStore::open`], waiting at most `lock_wait` for the directory's lock.
    pub fn open_with_lock_wait(path: impl AsRef<Path>, lock_wait: Duration) -> Result<SledStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let existed = holds_files(&path)?;
        let db = open_db_waiting(&path, lock_wait)?;
        let store = SledStore { path, db };
        store.check_format(existed)?;
        Ok(store)
    }

    /// The directory this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Checks the format marker of an existing store, or writes it into a new one.
    fn check_format(&self, existed: bool) -> Result<(), StoreError> {
        match self.db.get(FORMAT_KEY)? {
            Some(found) if found == FORMAT => Ok(()),
            Some(found) => Err(self.not_a_store(format!(
                "its format is {:?}, this emulator reads {:?}",
                String::from_utf8_lossy(&found),
                String::from_utf8_lossy(FORMAT)
            ))),
            None if existed => Err(self.not_a_store(
                "it has files but no format marker: it is damaged or was not written by this emulator".to_owned(),
            )),
            None => {
                self.db.insert(FORMAT_KEY, FORMAT)?;
                self.db.flush()?;
                Ok(())
            }
        }
    }

    /// A [`StoreError::NotAStore`] for this directory.
    fn not_a_store(&self, reason: String) -> StoreError {
        StoreError::NotAStore { path: self.path.clone(), reason }
    }
}

impl Store for SledStore {
    fn load(&self) -> Result<Vec<MessageRecord>, StoreError> {
        let mut records = Vec::new();
        let mut payloads = BTreeSet::new();
        for entry in self.db.iter() {
            let (key, value) = entry?;
            match classify(&key)? {
                Key::Format => {}
                Key::Record(sequence) => records.push(decode_record(sequence, &value)?),
                Key::Payload(sequence) => {
                    payloads.insert(sequence);
                }
            }
        }
        // A record whose payload is gone could never be delivered; say so now rather than at delivery time.
        if let Some(record) = records.iter().find(|record| !payloads.contains(&record.sequence)) {
            return Err(StoreError::MissingPayload { sequence: record.sequence });
        }
        Ok(records)
    }

    fn payload(&self, sequence: u64) -> Result<Vec<u8>, StoreError> {
        let bytes = self.db.get(key(PAYLOAD_PREFIX, sequence))?;
        bytes.map(|bytes| bytes.to_vec()).ok_or(StoreError::MissingPayload { sequence })
    }

    fn apply(&self, change: Change<'_>) -> Result<(), StoreError> {
        let mut batch = Batch::default();
        if let Some((sequence, bytes)) = change.payload {
            batch.insert(&key(PAYLOAD_PREFIX, sequence), bytes);
        }
        for record in change.records {
            let json = serde_json::to_vec(record)
                .map_err(|source| StoreError::Encode { sequence: record.sequence, source })?;
            batch.insert(&key(RECORD_PREFIX, record.sequence), json);
        }
        self.db.apply_batch(batch)?;
        self.db.flush()?;
        Ok(())
    }

    fn clear(&self) -> Result<(), StoreError> {
        // One batch removes every message but keeps the format marker, so a crash midway leaves either the old
        // store or an empty one, both still recognisable.
        let mut batch = Batch::default();
        for entry in self.db.iter().keys() {
            let key = entry?;
            if key != FORMAT_KEY {
                batch.remove(key);
            }
        }
        self.db.apply_batch(batch)?;
        self.db.flush()?;
        Ok(())
    }
}

/// What a key in the tree is.
enum Key {
    /// The format marker.
    Format,
    /// A message record, with its sequence.
    Record(u64),
    /// A payload, with its sequence.
    Payload(u64),
}

/// Reads a key, refusing any this store never writes.
fn classify(key: &IVec) -> Result<Key, StoreError> {
    if key == FORMAT_KEY {
        return Ok(Key::Format);
    }
    let corrupt =
        || StoreError::Corrupt { key: format!("{:?}", String::from_utf8_lossy(key)), reason: "unknown key".to_owned() };
    let (&prefix, rest) = key.split_first().ok_or_else(corrupt)?;
    let sequence = u64::from_be_bytes(rest.try_into().map_err(|_| corrupt())?);
    match prefix {
        RECORD_PREFIX => Ok(Key::Record(sequence)),
        PAYLOAD_PREFIX => Ok(Key::Payload(sequence)),
        _ => Err(corrupt()),
    }
}

/// Decodes the record stored under `sequence` and checks that it names itself.
fn decode_record(sequence: u64, value: &[u8]) -> Result<MessageRecord, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt { key: format!("message record {sequence}"), reason };
    let record: MessageRecord = serde_json::from_slice(value).map_err(|error| corrupt(error.to_string()))?;
    if record.sequence != sequence {
        return Err(corrupt(format!("it says it is record {}", record.sequence)));
    }
    Ok(record)
}

/// The key of `sequence` under `prefix`.
fn key(prefix: u8, sequence: u64) -> [u8; 9] {
    let mut key = [prefix; 9];
    key[1..].copy_from_slice(&sequence.to_be_bytes());
    key
}

/// Opens the sled database in `path`, retrying while its lock is held, for at most `lock_wait`.
///
/// sled releases a dropped database's lock only when its I/O thread pool finished the last writes, shortly after
/// the drop; without this wait an emulator reopening its store in the same process (or a test) races that pool.
fn open_db_waiting(path: &Path, lock_wait: Duration) -> Result<Db, StoreError> {
    let deadline = Instant::now() + lock_wait;
    loop {
        match open_db(path) {
            Err(StoreError::Open { source, .. }) if is_lock_error(&source) => {
                if Instant::now() >= deadline {
                    return Err(StoreError::Locked { path: path.to_path_buf() });
                }
                thread::sleep(LOCK_RETRY);
            }
            opened => return opened,
        }
    }
}

/// Whether sled failed to take the directory's file lock. sled 0.34 reports it only as an `Io` error of kind
/// `Other` with this message, so the message is the one way to tell it from real I/O failures.
fn is_lock_error(error: &::sled::Error) -> bool {
    matches!(error, ::sled::Error::Io(io) if io.kind() == std::io::ErrorKind::Other
        && io.to_string().contains("could not acquire lock"))
}

/// Opens the sled database in `path`.
///
/// Every `apply` flushes, so sled's background flusher has nothing to do and is turned off: without its thread,
/// dropping the store releases the directory's lock at once, and a reopen in the same process does not race it.
///
/// sled reports most damage as `Corruption`, but a few malformed files make its recovery panic instead; that
/// panic is turned into an error too, since the half-built database is dropped either way.
fn open_db(path: &Path) -> Result<Db, StoreError> {
    let open = || ::sled::Config::new().path(path).flush_every_ms(None).open();
    match panic::catch_unwind(AssertUnwindSafe(open)) {
        Ok(opened) => opened.map_err(|source| StoreError::Open { path: path.to_path_buf(), source }),
        Err(_) => Err(StoreError::NotAStore {
            path: path.to_path_buf(),
            reason: "the database files are damaged (sled's recovery failed)".to_owned(),
        }),
    }
}

/// Whether `path` is a directory with something in it; a plain file there is not a store.
fn holds_files(path: &Path) -> Result<bool, StoreError> {
    let io_error = |source: std::io::Error| StoreError::Io { path: path.to_path_buf(), source };
    match fs::metadata(path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(io_error(error)),
        Ok(metadata) if !metadata.is_dir() => {
            Err(StoreError::NotAStore { path: path.to_path_buf(), reason: "it is not a directory".to_owned() })
        }
        Ok(_) => Ok(fs::read_dir(path).map_err(io_error)?.next().is_some()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_in_sequence_order() {
        let keys: Vec<[u8; 9]> =
            [1u64, 255, 256, 65_536, u64::MAX].into_iter().map(|s| key(RECORD_PREFIX, s)).collect();
        assert!(keys.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn foreign_keys_are_corruption() {
        for bad in [&b""[..], b"m123", b"x12345678", b"formats"] {
            assert!(matches!(classify(&IVec::from(bad)), Err(StoreError::Corrupt { .. })), "{bad:?}");
        }
        assert!(matches!(classify(&IVec::from(&key(PAYLOAD_PREFIX, 7)[..])), Ok(Key::Payload(7))));
    }
}
