//! The inbox in the `inbox` tree of the gateway's sled state directory.
//!
//! Layout of the tree:
//! - `e` + MessageID -> the entry as JSON (everything but the response's body);
//! - `r` + MessageID -> the response's body, once recorded.
//!
//! Writes are single-key (atomic, and far cheaper than sled batches) under a writer lock, made durable by the state
//! directory's group commit. A response's body is written before the entry that records it, and an entry is removed
//! before its body, so a crash between the two leaves at worst a body no entry mentions, which
//! [`SledInbox::open`] deletes.
#![forbid(unsafe_code)]

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::{validate_message_id, Inbox, InboxEntry, InboxError, RecordedResponse};
use crate::outbox::commit::Ticket;
use crate::outbox::item::{from_nanos, nanos};
use crate::outbox::{BoxFuture, OpenError, StateDb};

/// The name of the inbox's tree in the state directory.
const TREE: &str = "inbox";
/// Prefix of entries.
const ENTRY: u8 = b'e';
/// Prefix of response bodies.
const RESPONSE: u8 = b'r';

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

    /// The entry of `message_id` without the response's body.
    fn load(&self, message_id: &str) -> Result<Option<InboxEntry>, InboxError> {
        let Some(bytes) = self.tree.get(key(ENTRY, message_id))? else { return Ok(None) };
        decode_entry(message_id, &bytes).map(Some)
    }

    /// The entry of `message_id` with the response's body.
    fn load_full(&self, message_id: &str) -> Result<Option<InboxEntry>, InboxError> {
        let Some(mut entry) = self.load(message_id)? else { return Ok(None) };
        if let Some(response) = &mut entry.response {
            let body = self.tree.get(key(RESPONSE, message_id))?;
            response.body = body.ok_or_else(|| corrupt(message_id, "its response body is missing"))?.to_vec();
        }
        Ok(Some(entry))
    }

    /// Stores `entry` (after `body`, if given), registering the writes with the group commit.
    fn store(&self, entry: &InboxEntry, body: Option<&[u8]>) -> Result<Ticket, InboxError> {
        let encoded = encode_entry(entry)?;
        if let Some(body) = body {
            self.tree.insert(key(RESPONSE, &entry.message_id), body)?;
        }
        self.tree.insert(key(ENTRY, &entry.message_id), encoded)?;
        Ok(self.state.commit().register())
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
        let entry = match self.load_full(message_id)? {
            Some(mut entry) => {
                entry.redelivered(now);
                entry
            }
            None => InboxEntry::new(message_id, kind, summary, now),
        };
        let ticket = self.store(&entry, None)?;
        Ok((entry, ticket))
    }

    /// The step of [`Inbox::record_response`].
    fn respond_step(
        &self,
        message_id: &str,
        response_message_id: &str,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(RecordedResponse, Ticket), InboxError> {
        validate_message_id(message_id)?;
        let _writer = self.lock()?;
        let mut entry = self.load_full(message_id)?.ok_or_else(|| InboxError::NotFound(message_id.to_owned()))?;
        if let Some(existing) = entry.response {
            // Already recorded, perhaps by a caller still waiting for its flush: wait for that flush too.
            return Ok((existing, self.state.commit().covering_registered()));
        }
        let response =
            RecordedResponse { message_id: response_message_id.to_owned(), body: body.to_vec(), recorded_at: now };
        entry.response = Some(response.clone());
        let ticket = self.store(&entry, Some(body))?;
        Ok((response, ticket))
    }

    /// The step of [`Inbox::mark_acked`].
    fn ack_step(&self, message_id: &str, now: SystemTime) -> Result<(InboxEntry, Ticket), InboxError> {
        validate_message_id(message_id)?;
        let _writer = self.lock()?;
        let mut entry = self.load_full(message_id)?.ok_or_else(|| InboxError::NotFound(message_id.to_owned()))?;
        if entry.acked_at.is_some() {
            return Ok((entry, self.state.commit().covering_registered()));
        }
        entry.acked_at = Some(now);
        let ticket = self.store(&entry, None)?;
        Ok((entry, ticket))
    }

    /// The step of [`Inbox::prune`].
    fn prune_step(&self, before: SystemTime) -> Result<(usize, Option<Ticket>), InboxError> {
        let _writer = self.lock()?;
        let mut idle = Vec::new();
        for entry in self.tree.scan_prefix([ENTRY]) {
            let (stored_key, value) = entry?;
            let message_id = message_id_of(&stored_key)?;
            if decode_entry(&message_id, &value)?.last_activity() < before {
                idle.push(message_id);
            }
        }
        for message_id in &idle {
            self.tree.remove(key(ENTRY, message_id))?;
            self.tree.remove(key(RESPONSE, message_id))?;
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
        body: &'a [u8],
        now: SystemTime,
    ) -> BoxFuture<'a, Result<RecordedResponse, InboxError>> {
        Box::pin(async move { self.durable(self.respond_step(message_id, response_message_id, body, now)).await })
    }

    fn get<'a>(&'a self, message_id: &'a str) -> BoxFuture<'a, Result<Option<InboxEntry>, InboxError>> {
        Box::pin(async move {
            validate_message_id(message_id)?;
            self.load_full(message_id)
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

/// An entry as stored: the [`InboxEntry`] without the response's body, times in nanoseconds since the epoch.
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

/// A [`RecordedResponse`] as stored, without its body.
#[derive(Debug, Serialize, Deserialize)]
struct StoredResponse {
    /// The response's MessageID.
    id: String,
    /// When it was recorded.
    at: u64,
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

/// Decodes the entry stored under `message_id` (the response without its body) and checks that it names itself.
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
        response: stored.response.map(|r| RecordedResponse {
            message_id: r.id,
            body: Vec::new(),
            recorded_at: from_nanos(r.at),
        }),
        acked_at: stored.acked.map(from_nanos),
    })
}

/// Checks every entry at start-up: each decodes, has its response body if it has a response, and nothing else is
/// in the tree. A body no entry mentions (a crash between writing the body and the entry, or between removing the
/// entry and the body) is deleted.
fn check_tree(tree: &sled::Tree) -> Result<(), InboxError> {
    let mut with_response = BTreeSet::new();
    let mut bodies = BTreeSet::new();
    for item in tree.iter() {
        let (stored_key, value) = item?;
        let message_id = message_id_of(&stored_key)?;
        match stored_key[0] {
            ENTRY => {
                if decode_entry(&message_id, &value)?.response.is_some() {
                    with_response.insert(message_id);
                }
            }
            _ => {
                bodies.insert(message_id);
            }
        }
    }
    if let Some(message_id) = with_response.difference(&bodies).next() {
        return Err(corrupt(message_id, "its response body is missing"));
    }
    for message_id in bodies.difference(&with_response) {
        tracing::warn!(message_id, "deleting a response body that no inbox entry records");
        tree.remove(key(RESPONSE, message_id))?;
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
        Some((&(ENTRY | RESPONSE), rest)) if !rest.is_empty() => {
            String::from_utf8(rest.to_vec()).map_err(|_| unknown())
        }
        _ => Err(unknown()),
    }
}

/// A [`InboxError::Corrupt`] about the entry of `message_id`.
fn corrupt(message_id: &str, reason: &str) -> InboxError {
    InboxError::Corrupt { what: format!("entry {message_id:?}"), reason: reason.to_owned() }
}
