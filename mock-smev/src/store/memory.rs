//! A store that keeps messages in process memory: the default, for tests and throwaway emulator runs.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{Change, MessageRecord, Store, StoreError};

/// Messages in memory, lost when the process ends.
///
/// It still behaves as a real store (records and payloads kept apart, changes applied whole), so an engine can be
/// reopened over the same `Arc<MemoryStore>` to exercise the index rebuild without a disk.
#[derive(Debug, Default)]
pub struct MemoryStore {
    /// The stored messages by sequence.
    messages: Mutex<BTreeMap<u64, Slot>>,
}

/// One message's place in a [`MemoryStore`].
#[derive(Debug, Default)]
struct Slot {
    /// The latest metadata written, if any was (a payload could in principle arrive first within one change).
    record: Option<MessageRecord>,
    /// The payload, written once when the message was sent.
    payload: Option<Vec<u8>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// The map, even after a panic elsewhere: every change below is applied in one step, so no half-change exists.
    fn lock(&self) -> MutexGuard<'_, BTreeMap<u64, Slot>> {
        self.messages.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Store for MemoryStore {
    fn load(&self) -> Result<Vec<MessageRecord>, StoreError> {
        Ok(self.lock().values().filter_map(|slot| slot.record.clone()).collect())
    }

    fn payload(&self, sequence: u64) -> Result<Vec<u8>, StoreError> {
        self.lock().get(&sequence).and_then(|slot| slot.payload.clone()).ok_or(StoreError::MissingPayload { sequence })
    }

    fn apply(&self, change: Change<'_>) -> Result<(), StoreError> {
        let mut messages = self.lock();
        if let Some((sequence, bytes)) = change.payload {
            messages.entry(sequence).or_default().payload = Some(bytes.to_vec());
        }
        for record in change.records {
            messages.entry(record.sequence).or_default().record = Some(record.clone());
        }
        Ok(())
    }

    fn clear(&self) -> Result<(), StoreError> {
        self.lock().clear();
        Ok(())
    }
}
