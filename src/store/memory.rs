//! The message store in memory: the memory outbox and inbox under one step, for tests of code that uses a store.
//! Nothing survives the process; every call is "durable" when it returns.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::{Committed, MessageStore, Step, StoreError, Thread, ThreadWrite};
use crate::inbox::{Inbox, InboxEntry, MemoryInbox};
use crate::outbox::{BoxFuture, MemoryOutbox, Outbox, OutboxConfig};

/// The message store in memory.
pub struct MemoryStore {
    /// The outbox, for the step's half of it.
    outbox: Arc<MemoryOutbox>,
    /// The inbox, for the step's half of it.
    inbox: Arc<MemoryInbox>,
    /// The same outbox, as the trait hands it out.
    dyn_outbox: Arc<dyn Outbox>,
    /// The same inbox, as the trait hands it out.
    dyn_inbox: Arc<dyn Inbox>,
    /// The threads, by key.
    threads: Mutex<HashMap<String, Thread>>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").field("outbox", &self.outbox).field("inbox", &self.inbox).finish()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new(config: OutboxConfig) -> MemoryStore {
        MemoryStore::from_parts(MemoryOutbox::new(config), MemoryInbox::new())
    }

    /// A store over `outbox` and `inbox` (a test that sets the outbox's jitter generator first).
    pub fn from_parts(outbox: MemoryOutbox, inbox: MemoryInbox) -> MemoryStore {
        let outbox = Arc::new(outbox);
        let inbox = Arc::new(inbox);
        let dyn_outbox: Arc<dyn Outbox> = outbox.clone();
        let dyn_inbox: Arc<dyn Inbox> = inbox.clone();
        MemoryStore { outbox, inbox, dyn_outbox, dyn_inbox, threads: Mutex::default() }
    }

    /// Writes `step`: the outbox's half under the outbox's lock, the inbox's inside it, undone if the inbox's fails.
    fn write(&self, step: &Step<'_>, now: SystemTime) -> Result<Committed, StoreError> {
        step.check()?;
        let inbox_half = || -> Result<Option<InboxEntry>, StoreError> {
            if step.smev_id.is_empty() {
                return Ok(None);
            }
            let changed = self.inbox.change(step.smev_id, |entry| {
                step.change(entry, now);
                entry.clone()
            })?;
            Ok(Some(changed))
        };
        let mut threads = self.threads.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(ThreadWrite::Pushed { key }) = step.thread {
            if !threads.contains_key(key) {
                return Err(StoreError::NoThread { key: key.to_owned() });
            }
        }
        let (items, entry) = self.outbox.with_batch(step.batch(), now, inbox_half)?;
        match step.thread {
            Some(ThreadWrite::Open { key, origin }) => {
                threads.entry(key.to_owned()).or_insert_with(|| Thread { origin: origin.to_vec(), last_push: None });
            }
            Some(ThreadWrite::Pushed { key }) => {
                if let Some(thread) = threads.get_mut(key) {
                    thread.last_push = Some(items[0].0);
                }
            }
            None => {}
        }
        Ok(Committed { items, entry })
    }
}

impl MessageStore for MemoryStore {
    fn received<'a>(
        &'a self,
        smev_id: &'a str,
        kind: &'a str,
        summary: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<InboxEntry, StoreError>> {
        Box::pin(async move { Ok(self.inbox.record_received(smev_id, kind, summary, now).await?) })
    }

    fn settle(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }

    fn commit<'a>(&'a self, step: Step<'a>, now: SystemTime) -> BoxFuture<'a, Result<Committed, StoreError>> {
        Box::pin(async move { self.write(&step, now) })
    }

    fn thread<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Thread>, StoreError>> {
        Box::pin(
            async move { Ok(self.threads.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(key).cloned()) },
        )
    }

    fn outbox(&self) -> &Arc<dyn Outbox> {
        &self.dyn_outbox
    }

    fn inbox(&self) -> &Arc<dyn Inbox> {
        &self.dyn_inbox
    }
}
