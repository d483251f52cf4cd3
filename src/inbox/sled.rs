//! The inbox in the `inbox` tree of the gateway's sled state directory.
//!
//! Layout of the tree:
//! - `e` + MessageID -> the entry as JSON.
//!
//! Earlier versions also kept `r` + MessageID -> a second copy of the response's bytes; the response now lives only
//! in its outbox item, and [`SledInbox::open`] deletes such records.
//!
//! Writes are single-key (atomic, and far cheaper than sled batches) under a writer lock, made durable by the state
//! directory's group commit; `crate::store` writes an entry in one sled transaction with the outbox records of the
//! same step.
#![forbid(unsafe_code)]

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::{validate_message_id, Inbox, InboxEntry, InboxError, RecordedResponse};
use crate::outbox::item::{from_nanos, nanos};
use crate::outbox::BoxFuture;
use crate::state::commit::Ticket;
use crate::state::{OpenError, StateDb};

/// The name of the inbox's tree in the state directory.
const TREE: &str = "inbox";
/// Prefix of entries.
const ENTRY: u8 = b'e';
/// Prefix of the response bodies earlier versions kept, deleted at open.
const LEGACY_RESPONSE: u8 = b'r';

/// The inbox on sled, durable across crashes and restarts.
#[derive(Debug)]
pub struct SledInbox {
    /// The state directory, for its group commit.
    state: StateDb,
    /// The inbox's tree.
    tree: sled::Tree,
    /// Makes read-modify-write sequences atomic between tasks.
    writer: Mutex<()>,
}

impl SledInbox {
    /// Opens the inbox in an open state directory, checking every stored entry first.
    pub fn open(state: &StateDb) -> Result<SledInbox, OpenError> {
        let tree = state.tree(TREE)?;
        check_tree(&tree).map_err(|error| state.damaged(format!("inbox: {error}")))?;
        Ok(SledInbox { state: state.clone(), tree, writer: Mutex::new(()) })
    }

    /// Opens (or creates) the state directory `path` and the inbox in it.
    pub fn open_path(path: impl AsRef<Path>) -> Result<SledInbox, OpenError> {
        SledInbox::open(&StateDb::open(path)?)
    }

    /// Takes the writer lock, refusing to write once durability has failed.
    fn lock(&self) -> Result<MutexGuard<'_, ()>, InboxError> {
        self.state.commit().check_healthy()?;
        Ok(self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// The entry of `message_id`.
    fn load(&self, message_id: &str) -> Result<Option<InboxEntry>, InboxError> {
        let Some(bytes) = self.tree.get(key(ENTRY, message_id)).map_err(backend)? else { return Ok(None) };
        decode_entry(message_id, &bytes).map(Some)
    }

    /// Stores `entry`, registering the write with the group commit.
    fn store(&self, entry: &InboxEntry) -> Result<Ticket, InboxError> {
        self.write(entry)?;
        Ok(self.state.commit().register())
    }

    /// Writes `entry` without registering the write: a later registered write's flush makes it durable.
    fn write(&self, entry: &InboxEntry) -> Result<(), InboxError> {
        let (stored_key, value) = entry_record(entry)?;
        self.tree.insert(stored_key, value).map_err(backend)?;
        Ok(())
    }

    /// Records a delivery as [`Inbox::record_received`] does, without registering the write with the group commit
    /// (see [`crate::store::MessageStore::received`]).
    pub(crate) fn receive_unregistered(
        &self,
        message_id: &str,
        kind: &str,
        summary: &str,
        now: SystemTime,
    ) -> Result<InboxEntry, InboxError> {
        validate_message_id(message_id)?;
        let _writer = self.lock()?;
        let entry = Self::received_entry(self.load(message_id)?, message_id, kind, summary, now);
        self.write(&entry)?;
        Ok(entry)
    }

    /// The entry after a delivery: `existing` with the delivery counted, or a new one.
    fn received_entry(
        existing: Option<InboxEntry>,
        message_id: &str,
        kind: &str,
        summary: &str,
        now: SystemTime,
    ) -> InboxEntry {
        match existing {
            Some(mut entry) => {
                entry.redelivered(now);
                entry
            }
            None => InboxEntry::new(message_id, kind, summary, now),
        }
    }

    /// Takes the writer lock and applies `change` to the entry of `message_id`: the inbox's half of a step of
    /// `crate::store`, which writes the entry's record (when `change` changed it) in the same transaction as the
    /// outbox's, and must hold the returned guard until it has registered that write.
    pub(crate) fn stage(
        &self,
        message_id: &str,
        change: impl FnOnce(&mut InboxEntry) -> bool,
    ) -> Result<Staged<'_>, InboxError> {
        validate_message_id(message_id)?;
        let writer = self.lock()?;
        let mut entry = self.load(message_id)?.ok_or_else(|| InboxError::NotFound(message_id.to_owned()))?;
        let record = if change(&mut entry) { Some(entry_record(&entry)?) } else { None };
        Ok(Staged { _writer: writer, entry, record })
    }

    /// The inbox's tree, for a transaction over it and the outbox's.
    pub(crate) fn tree(&self) -> &sled::Tree {
        &self.tree
    }

    /// Waits until `ticket` is durable, then returns `value`.
    async fn durable<T>(&self, step: Result<(T, Ticket), InboxError>) -> Result<T, InboxError> {
        let (value, ticket) = step?;
        self.state.commit().wait(ticket).await?;
        Ok(value)
    }

    /// The step of [`Inbox::record_received`].
    fn receive_step(
        &self,
        message_id: &str,
        kind: &str,
        summary: &str,
        now: SystemTime,
    ) -> Result<(InboxEntry, Ticket), InboxError> {
        validate_message_id(message_id)?;
        let _writer = self.lock()?;
        let entry = Self::received_entry(self.load(message_id)?, message_id, kind, summary, now);
        let ticket = self.store(&entry)?;
        Ok((entry, ticket))
    }

    /// The step of [`Inbox::record_response`].
    fn respond_step(
        &self,
        message_id: &str,
        response_message_id: &str,
        now: SystemTime,
    ) -> Result<(RecordedResponse, Ticket), InboxError> {
        let staged = self.stage(message_id, |entry| entry.respond(response_message_id, now))?;
        let response = staged.entry.response.clone().unwrap_or_else(|| unreachable!("recorded by the change"));
        Ok((response, self.finish(staged)?))
    }

    /// The step of [`Inbox::mark_acked`].
    fn ack_step(&self, message_id: &str, now: SystemTime) -> Result<(InboxEntry, Ticket), InboxError> {
        let staged = self.stage(message_id, |entry| entry.ack(now))?;
        let entry = staged.entry.clone();
        Ok((entry, self.finish(staged)?))
    }

    /// Writes a staged change of one entry on its own and registers it; an unchanged entry (already recorded,
    /// perhaps by a caller still waiting for its flush) waits for every write registered so far.
    fn finish(&self, staged: Staged<'_>) -> Result<Ticket, InboxError> {
        match staged.record {
            Some((stored_key, value)) => {
                self.tree.insert(stored_key, value).map_err(backend)?;
                Ok(self.state.commit().register())
            }
            None => Ok(self.state.commit().covering_registered()),
        }
    }

    /// The step of [`Inbox::prune`].
    fn prune_step(&self, before: SystemTime) -> Result<(usize, Option<Ticket>), InboxError> {
        let _writer = self.lock()?;
        let mut idle = Vec::new();
        for entry in self.tree.scan_prefix([ENTRY]) {
            let (stored_key, value) = entry.map_err(backend)?;
            let message_id = message_id_of(&stored_key)?;
            if decode_entry(&message_id, &value)?.last_activity() < before {
                idle.push(message_id);
            }
        }
        for message_id in &idle {
            self.tree.remove(key(ENTRY, message_id)).map_err(backend)?;
        }
        let ticket = (!idle.is_empty()).then(|| self.state.commit().register());
        Ok((idle.len(), ticket))
    }
}

impl Inbox for SledInbox {
    fn record_received<'a>(
        &'a self,
        message_id: &'a str,
        kind: &'a str,
        summary: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<InboxEntry, InboxError>> {
        Box::pin(async move { self.durable(self.receive_step(message_id, kind, summary, now)).await })
    }

    fn record_response<'a>(
        &'a self,
        message_id: &'a str,
        response_message_id: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<RecordedResponse, InboxError>> {
        Box::pin(async move { self.durable(self.respond_step(message_id, response_message_id, now)).await })
    }

    fn get<'a>(&'a self, message_id: &'a str) -> BoxFuture<'a, Result<Option<InboxEntry>, InboxError>> {
        Box::pin(async move {
            validate_message_id(message_id)?;
            self.load(message_id)
        })
    }

    fn mark_acked<'a>(&'a self, message_id: &'a str, now: SystemTime) -> BoxFuture<'a, Result<InboxEntry, InboxError>> {
        Box::pin(async move { self.durable(self.ack_step(message_id, now)).await })
    }

    fn prune(&self, before: SystemTime) -> BoxFuture<'_, Result<usize, InboxError>> {
        Box::pin(async move {
            let (removed, ticket) = self.prune_step(before)?;
            if let Some(ticket) = ticket {
                self.state.commit().wait(ticket).await?;
            }
            Ok(removed)
        })
    }
}

/// The inbox's half of one step of `crate::store`: the entry as the step leaves it, and its record if the step
/// changed it; holds the inbox's writer lock.
pub(crate) struct Staged<'s> {
    /// The writer lock, held until the step's write is registered.
    _writer: MutexGuard<'s, ()>,
    /// The entry as the step leaves it.
    pub(crate) entry: InboxEntry,
    /// The key and value to write, if the step changed the entry.
    pub(crate) record: Option<(Vec<u8>, Vec<u8>)>,
}

/// An entry as stored: the [`InboxEntry`], times in nanoseconds since the epoch.
#[derive(Debug, Serialize, Deserialize)]
struct StoredEntry {
    /// The request's MessageID, checked against the key.
    id: String,
    /// Its kind.
    kind: String,
    /// Its summary.
    summary: String,
    /// First delivery.
    received: u64,
    /// Last delivery.
    last_received: u64,
    /// Deliveries.
    deliveries: u32,
    /// The response's MessageID and time, once recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    response: Option<StoredResponse>,
    /// The ack's time, once acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    acked: Option<u64>,
}

/// A [`RecordedResponse`] as stored.
#[derive(Debug, Serialize, Deserialize)]
struct StoredResponse {
    /// The response's MessageID.
    id: String,
    /// When it was recorded.
    at: u64,
}

/// The key and value of `entry`'s record.
fn entry_record(entry: &InboxEntry) -> Result<(Vec<u8>, Vec<u8>), InboxError> {
    Ok((key(ENTRY, &entry.message_id), encode_entry(entry)?))
}

/// Encodes an entry.
fn encode_entry(entry: &InboxEntry) -> Result<Vec<u8>, InboxError> {
    let stored = StoredEntry {
        id: entry.message_id.clone(),
        kind: entry.kind.clone(),
        summary: entry.summary.clone(),
        received: nanos(entry.received_at),
        last_received: nanos(entry.last_received_at),
        deliveries: entry.deliveries,
        response: entry
            .response
            .as_ref()
            .map(|r| StoredResponse { id: r.message_id.clone(), at: nanos(r.recorded_at) }),
        acked: entry.acked_at.map(nanos),
    };
    serde_json::to_vec(&stored).map_err(|error| corrupt(&entry.message_id, &format!("cannot encode it: {error}")))
}

/// Decodes the entry stored under `message_id` and checks that it names itself.
fn decode_entry(message_id: &str, bytes: &[u8]) -> Result<InboxEntry, InboxError> {
    let stored: StoredEntry = serde_json::from_slice(bytes).map_err(|error| corrupt(message_id, &error.to_string()))?;
    if stored.id != message_id {
        return Err(corrupt(message_id, &format!("it says it is the entry of {:?}", stored.id)));
    }
    Ok(InboxEntry {
        message_id: stored.id,
        kind: stored.kind,
        summary: stored.summary,
        received_at: from_nanos(stored.received),
        last_received_at: from_nanos(stored.last_received),
        deliveries: stored.deliveries,
        response: stored.response.map(|r| RecordedResponse { message_id: r.id, recorded_at: from_nanos(r.at) }),
        acked_at: stored.acked.map(from_nanos),
    })
}

/// Checks every entry at start-up: each decodes, and nothing else is in the tree but the response bodies earlier
/// versions kept, which are deleted (the response lives in its outbox item).
fn check_tree(tree: &sled::Tree) -> Result<(), InboxError> {
    for item in tree.iter() {
        let (stored_key, value) = item.map_err(backend)?;
        let message_id = message_id_of(&stored_key)?;
        if stored_key[0] == ENTRY {
            decode_entry(&message_id, &value)?;
        } else {
            tracing::debug!(message_id, "deleting a response body an earlier version kept in the inbox");
            tree.remove(&stored_key).map_err(backend)?;
        }
    }
    Ok(())
}

/// The key of `message_id` under `prefix`.
fn key(prefix: u8, message_id: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(1 + message_id.len());
    bytes.push(prefix);
    bytes.extend_from_slice(message_id.as_bytes());
    bytes
}

/// The MessageID in a key, refusing keys this store never writes.
fn message_id_of(stored_key: &[u8]) -> Result<String, InboxError> {
    let unknown = || InboxError::Corrupt {
        what: format!("key {:?}", String::from_utf8_lossy(stored_key)),
        reason: "unknown key".to_owned(),
    };
    match stored_key.split_first() {
        Some((&(ENTRY | LEGACY_RESPONSE), rest)) if !rest.is_empty() => {
            String::from_utf8(rest.to_vec()).map_err(|_| unknown())
        }
        _ => Err(unknown()),
    }
}

/// An [`InboxError::Backend`] for a sled failure.
fn backend(error: sled::Error) -> InboxError {
    InboxError::Backend(Box::new(error))
}

/// A [`InboxError::Corrupt`] about the entry of `message_id`.
fn corrupt(message_id: &str, reason: &str) -> InboxError {
    InboxError::Corrupt { what: format!("entry {message_id:?}"), reason: reason.to_owned() }
}
