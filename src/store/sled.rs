//! The message store on sled: the outbox and the inbox of one state directory, a step written whole or not at all
//! (through the directory's journal, `state::journal`, when it has several records) and made durable by one wait for
//! the directory's group commit.
//!
//! The outbox's lock is held from the step's first check to the registration of its write (the inbox's writer lock
//! inside it, always in that order), so the outbox's in-memory table never shows a step half made: a refused step is
//! undone in memory before anything is written, and a failed write is undone too. A step that changes one outbox
//! record and no inbox entry (a worker's completion) is a single-key write, which sled makes atomic; a step of
//! several records goes through the journal, never a sled transaction (which cost a lookup about 475 µs of CPU).
#![forbid(unsafe_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use super::{Committed, MessageStore, Step, StoreError, Thread, ThreadWrite};
use crate::inbox::{Inbox, InboxEntry, SledInbox};
use crate::outbox::sled::Record;
use crate::outbox::{BoxFuture, Outbox, OutboxConfig, OutboxError, SledOutbox};
use crate::state::commit::Ticket;
use crate::state::{OpenError, StateDb};

/// The message store on sled, durable across crashes and restarts, for one gateway process.
pub struct SledStore {
    /// The state directory, for its group commit.
    state: StateDb,
    /// The outbox, for the step's half of it.
    outbox: Arc<SledOutbox>,
    /// The inbox, for the step's half of it.
    inbox: Arc<SledInbox>,
    /// The same outbox, as the trait hands it out.
    dyn_outbox: Arc<dyn Outbox>,
    /// The same inbox, as the trait hands it out.
    dyn_inbox: Arc<dyn Inbox>,
    /// The threads (see [`Thread`]): `o<key>` the origin, `p<key>` the latest push's item id (8 bytes, big-endian).
    threads: sled::Tree,
}

/// The threads' tree in the state directory.
const THREADS: &str = "threads";
/// Key prefix of a thread's origin.
const ORIGIN: u8 = b'o';
/// Key prefix of a thread's latest push.
const PUSHED: u8 = b'p';

/// The key of a thread's record of kind `prefix`.
fn thread_key(prefix: u8, key: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(key.len() + 1);
    bytes.push(prefix);
    bytes.extend_from_slice(key.as_bytes());
    bytes
}

/// Checks every stored thread record: a known prefix and UTF-8 key, an item id of 8 bytes.
fn check_threads(tree: &sled::Tree) -> Result<(), String> {
    for record in tree.iter() {
        let (key, value) = record.map_err(|e| e.to_string())?;
        let name = std::str::from_utf8(&key[1.min(key.len())..]).map_err(|_| format!("key {key:?} is not UTF-8"))?;
        match key.first() {
            Some(&ORIGIN) => {}
            Some(&PUSHED) if value.len() == 8 => {}
            Some(&PUSHED) => return Err(format!("thread {name}: a latest push of {} bytes", value.len())),
            _ => return Err(format!("thread record {key:?} has an unknown prefix")),
        }
    }
    Ok(())
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore").field("path", &self.state.path()).finish_non_exhaustive()
    }
}

impl SledStore {
    /// Opens the outbox and the inbox of an open state directory, checking every stored record (see
    /// [`SledOutbox::open`] and [`SledInbox::open`]).
    pub fn open(state: &StateDb, config: OutboxConfig) -> Result<SledStore, OpenError> {
        SledStore::with_outbox(SledOutbox::open(state, config)?)
    }

    /// Opens (or creates) the state directory `path` and the store in it.
    pub fn open_path(path: impl AsRef<Path>, config: OutboxConfig) -> Result<SledStore, OpenError> {
        SledStore::open(&StateDb::open(path)?, config)
    }

    /// A store over `outbox` (a test that sets its jitter generator first) and the inbox of its state directory.
    /// The inbox must be used through this store only: another handle on it would not share its writer lock.
    pub fn with_outbox(outbox: SledOutbox) -> Result<SledStore, OpenError> {
        let state = outbox.state().clone();
        let inbox = Arc::new(SledInbox::open(&state)?);
        let threads = state.tree(THREADS)?;
        check_threads(&threads).map_err(|error| state.damaged(format!("threads: {error}")))?;
        let outbox = Arc::new(outbox);
        let dyn_outbox: Arc<dyn Outbox> = outbox.clone();
        let dyn_inbox: Arc<dyn Inbox> = inbox.clone();
        Ok(SledStore { state, outbox, inbox, dyn_outbox, dyn_inbox, threads })
    }

    /// The state directory the store lives in.
    pub fn state(&self) -> &StateDb {
        &self.state
    }

    /// Applies and writes `step` as one atomic write, and returns what it left with the ticket to wait for.
    fn write(&self, step: &Step<'_>, now: SystemTime) -> Result<(Committed, Ticket), StoreError> {
        step.check()?;
        if let Some(ThreadWrite::Pushed { key }) = step.thread {
            if self.threads.get(thread_key(ORIGIN, key)).map_err(threads_error)?.is_none() {
                return Err(StoreError::NoThread { key: key.to_owned() });
            }
        }
        let commit = self.state.commit();
        let (items, entry, ticket) = self.outbox.write_batch(step.batch(), now, |outbox, records, items| {
            let staged = match step.smev_id {
                "" => None,
                smev_id => Some(self.inbox.stage(smev_id, |entry| step.change(entry, now))?),
            };
            let entry_record = staged.as_ref().and_then(|staged| staged.record.as_ref());
            let thread_record = self.thread_record(step, items)?;
            let ticket = if records.is_empty() && entry_record.is_none() && thread_record.is_none() {
                match staged {
                    // Nothing changed, but the delivery recorded before the step is registered by nobody: a fresh
                    // ticket makes it durable too, as every step does.
                    Some(_) => commit.register(),
                    // Nothing changed; what the step read may have been written by a caller still waiting for its
                    // flush.
                    None => commit.covering_registered(),
                }
            } else {
                let trees = (outbox, self.inbox.tree(), &self.threads);
                write_records(self.state.journal(), trees, &records, entry_record, thread_record.as_ref())?;
                commit.register()
            };
            // The inbox's writer lock is released here, after the registration.
            Ok::<_, StoreError>((staged.map(|staged| staged.entry), ticket))
        })?;
        Ok((Committed { items, entry }, ticket))
    }

    /// The thread record `step` writes, if any: an origin not stored yet, or the latest push (the step's first
    /// item). Called under the outbox's lock, which every step takes, so no other step opens the thread meanwhile.
    fn thread_record(
        &self,
        step: &Step<'_>,
        items: &[(crate::outbox::ItemId, bool)],
    ) -> Result<Option<Record>, StoreError> {
        match step.thread {
            Some(ThreadWrite::Open { key, origin }) => {
                let record_key = thread_key(ORIGIN, key);
                let open = self.threads.get(&record_key).map_err(threads_error)?.is_some();
                Ok((!open).then(|| (record_key, origin.to_vec())))
            }
            Some(ThreadWrite::Pushed { key }) => {
                Ok(items.first().map(|(id, _)| (thread_key(PUSHED, key), id.0.to_be_bytes().to_vec())))
            }
            None => Ok(None),
        }
    }
}

/// A [`StoreError::Threads`] for a sled failure on the threads' tree.
fn threads_error(error: sled::Error) -> StoreError {
    StoreError::Threads(error.to_string())
}

/// Writes a step's records so that a crash leaves all or none of them: one single-key write when there is one
/// record, the state directory's journal otherwise (a sled transaction over both trees cost about a quarter of a
/// lookup's CPU; see `state::journal`).
fn write_records(
    journal: &crate::state::journal::Journal,
    (outbox, inbox, threads): (&sled::Tree, &sled::Tree, &sled::Tree),
    records: &[Record],
    entry: Option<&Record>,
    thread: Option<&Record>,
) -> Result<(), OutboxError> {
    let mut writes: Vec<crate::state::journal::Write<'_>> = Vec::with_capacity(records.len() + 2);
    writes.extend(records.iter().map(|(key, value)| (outbox, key.as_slice(), value.as_slice())));
    writes.extend(entry.map(|(key, value)| (inbox, key.as_slice(), value.as_slice())));
    writes.extend(thread.map(|(key, value)| (threads, key.as_slice(), value.as_slice())));
    journal.write_all(&writes).map_err(backend)
}

/// An [`OutboxError::Backend`] for a sled failure.
fn backend(error: sled::Error) -> OutboxError {
    OutboxError::Backend(Box::new(error))
}

impl MessageStore for SledStore {
    fn received<'a>(
        &'a self,
        smev_id: &'a str,
        kind: &'a str,
        summary: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<InboxEntry, StoreError>> {
        Box::pin(async move { Ok(self.inbox.receive_unregistered(smev_id, kind, summary, now)?) })
    }

    fn settle(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            // A fresh registration: the deliveries written since the last one are registered by nobody.
            let commit = self.state.commit();
            commit.wait(commit.register()).await.map_err(OutboxError::from)?;
            Ok(())
        })
    }

    fn commit<'a>(&'a self, step: Step<'a>, now: SystemTime) -> BoxFuture<'a, Result<Committed, StoreError>> {
        Box::pin(async move {
            let (committed, ticket) = self.write(&step, now)?;
            self.state.commit().wait(ticket).await.map_err(OutboxError::from)?;
            Ok(committed)
        })
    }

    fn thread<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Thread>, StoreError>> {
        Box::pin(async move {
            let Some(origin) = self.threads.get(thread_key(ORIGIN, key)).map_err(threads_error)? else {
                return Ok(None);
            };
            let pushed = self.threads.get(thread_key(PUSHED, key)).map_err(threads_error)?;
            let last_push = match pushed {
                None => None,
                Some(bytes) => {
                    let id = <[u8; 8]>::try_from(bytes.as_ref())
                        .map_err(|_| StoreError::Threads(format!("thread {key}: a damaged latest push")))?;
                    Some(crate::outbox::ItemId(u64::from_be_bytes(id)))
                }
            };
            Ok(Some(Thread { origin: origin.to_vec(), last_push }))
        })
    }

    fn outbox(&self) -> &Arc<dyn Outbox> {
        &self.dyn_outbox
    }

    fn inbox(&self) -> &Arc<dyn Inbox> {
        &self.dyn_inbox
    }
}
