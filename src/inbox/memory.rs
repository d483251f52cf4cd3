//! The inbox in memory, for tests of code that uses an inbox. Nothing survives the process.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

use super::{validate_message_id, Inbox, InboxEntry, InboxError, RecordedResponse};
use crate::outbox::BoxFuture;

/// The inbox in memory.
#[derive(Debug, Default)]
pub struct MemoryInbox {
    /// Entries by MessageID.
    entries: Mutex<BTreeMap<String, InboxEntry>>,
}

impl MemoryInbox {
    /// An empty inbox.
    pub fn new() -> MemoryInbox {
        MemoryInbox::default()
    }

    /// Takes the lock; every change is a single map operation, so a poisoned lock holds consistent entries.
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, InboxEntry>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Applies `change` to the entry of `message_id`.
    pub(crate) fn change<T>(
        &self,
        message_id: &str,
        change: impl FnOnce(&mut InboxEntry) -> T,
    ) -> Result<T, InboxError> {
        validate_message_id(message_id)?;
        let mut entries = self.lock();
        let entry = entries.get_mut(message_id).ok_or_else(|| InboxError::NotFound(message_id.to_owned()))?;
        Ok(change(entry))
    }
}

impl Inbox for MemoryInbox {
    fn record_received<'a>(
        &'a self,
        message_id: &'a str,
        kind: &'a str,
        summary: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<InboxEntry, InboxError>> {
        Box::pin(async move {
            validate_message_id(message_id)?;
            let mut entries = self.lock();
            let entry = match entries.get_mut(message_id) {
                Some(entry) => {
                    entry.redelivered(now);
                    entry.clone()
                }
                None => InboxEntry::new(message_id, kind, summary, now),
            };
            entries.insert(message_id.to_owned(), entry.clone());
            Ok(entry)
        })
    }

    fn record_response<'a>(
        &'a self,
        message_id: &'a str,
        response_message_id: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<RecordedResponse, InboxError>> {
        Box::pin(async move {
            self.change(message_id, |entry| {
                entry.respond(response_message_id, now);
                entry.response.clone().unwrap_or_else(|| unreachable!("recorded above"))
            })
        })
    }

    fn get<'a>(&'a self, message_id: &'a str) -> BoxFuture<'a, Result<Option<InboxEntry>, InboxError>> {
        Box::pin(async move {
            validate_message_id(message_id)?;
            Ok(self.lock().get(message_id).cloned())
        })
    }

    fn mark_acked<'a>(&'a self, message_id: &'a str, now: SystemTime) -> BoxFuture<'a, Result<InboxEntry, InboxError>> {
        Box::pin(async move {
            self.change(message_id, |entry| {
                entry.ack(now);
                entry.clone()
            })
        })
    }

    fn prune(&self, before: SystemTime) -> BoxFuture<'_, Result<usize, InboxError>> {
        Box::pin(async move {
            let mut entries = self.lock();
            let count = entries.len();
            entries.retain(|_, entry| entry.last_activity() >= before);
            Ok(count - entries.len())
        })
    }
}
