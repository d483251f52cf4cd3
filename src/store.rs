//! TEMPORARY adapter (replaced by the real unit of work): the MessageStore API over an outbox and an inbox.
#![forbid(unsafe_code)]

use crate::inbox::{Inbox, InboxEntry, InboxError};
use crate::outbox::{BoxFuture, ItemId, Lease, Outbox, OutboxError};
use std::sync::Arc;
use std::time::SystemTime;

/// An item to create.
pub struct NewItem<'a> {
    /// Queue.
    pub queue: &'a str,
    /// Key.
    pub key: &'a str,
    /// Payload.
    pub payload: &'a [u8],
}

/// One step.
pub struct Step<'a> {
    /// Message.
    pub smev_id: &'a str,
    /// Items.
    pub enqueue: Vec<NewItem<'a>>,
    /// Response id.
    pub response_message_id: Option<&'a str>,
    /// Lease to complete.
    pub complete: Option<&'a Lease>,
    /// Acked.
    pub acked: bool,
}

/// What a step left.
pub struct Committed {
    /// Items.
    pub items: Vec<(ItemId, bool)>,
    /// Entry.
    pub entry: Option<InboxEntry>,
}

/// Errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Outbox.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    /// Inbox.
    #[error(transparent)]
    Inbox(#[from] InboxError),
}

/// The unit of work.
pub trait MessageStore: Send + Sync {
    /// Received.
    fn received<'a>(
        &'a self,
        smev_id: &'a str,
        kind: &'a str,
        summary: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<InboxEntry, StoreError>>;
    /// Settle.
    fn settle(&self) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Commit.
    fn commit<'a>(&'a self, step: Step<'a>, now: SystemTime) -> BoxFuture<'a, Result<Committed, StoreError>>;
    /// Outbox.
    fn outbox(&self) -> &Arc<dyn Outbox>;
    /// Inbox.
    fn inbox(&self) -> &Arc<dyn Inbox>;
}

/// Adapter.
pub struct Separate {
    /// Outbox.
    pub outbox: Arc<dyn Outbox>,
    /// Inbox.
    pub inbox: Arc<dyn Inbox>,
}

impl MessageStore for Separate {
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
        Box::pin(async move { Ok(()) })
    }
    fn commit<'a>(&'a self, step: Step<'a>, now: SystemTime) -> BoxFuture<'a, Result<Committed, StoreError>> {
        Box::pin(async move {
            let mut items = Vec::new();
            for item in &step.enqueue {
                let id = self.outbox.enqueue(item.queue, item.key, item.payload, now).await?;
                items.push((id, true));
            }
            let mut entry = None;
            if let Some(id) = step.response_message_id {
                self.inbox.record_response(step.smev_id, id, b"", now).await?;
            }
            if let Some(lease) = step.complete {
                self.outbox.complete(lease, now).await?;
            }
            if step.acked {
                entry = Some(self.inbox.mark_acked(step.smev_id, now).await?);
            }
            Ok(Committed { items, entry })
        })
    }
    fn outbox(&self) -> &Arc<dyn Outbox> {
        &self.outbox
    }
    fn inbox(&self) -> &Arc<dyn Inbox> {
        &self.inbox
    }
}

/// Temporary sled store.
pub struct SledStore;

impl SledStore {
    /// Opens.
    #[allow(clippy::new_ret_no_self)]
    pub fn open(state: &crate::outbox::StateDb, config: crate::outbox::OutboxConfig) -> Result<Separate, StoreError> {
        let outbox: Arc<dyn Outbox> = Arc::new(
            crate::outbox::SledOutbox::open(state, config)
                .map_err(|e| StoreError::Outbox(OutboxError::Backend(e.to_string().into())))?,
        );
        let inbox: Arc<dyn Inbox> = Arc::new(
            crate::inbox::SledInbox::open(state)
                .map_err(|e| StoreError::Outbox(OutboxError::Backend(e.to_string().into())))?,
        );
        Ok(Separate { outbox, inbox })
    }
}
