//! The inbox: every request received from SMEV, recorded by its MessageID before it is processed, with the MessageID
//! of the response the gateway gave.
//!
//! SMEV delivers a request again until it is acknowledged, and operators of other gateways report redeliveries for
//! weeks when acks fail. The inbox makes processing exactly once per MessageID: the gateway records the request
//! ([`Inbox::record_received`]) before doing anything, records its response ([`Inbox::record_response`]) together
//! with queueing it, and marks the request acknowledged ([`Inbox::mark_acked`]) after the ack. A redelivered request
//! finds its entry: if it records a response, that response is in the outbox already (under the request's response
//! key, the one place its bytes are kept), so the gateway only acknowledges again, without processing; if not, the
//! earlier processing was interrupted (a crash) and is redone.
//!
//! [`crate::store::MessageStore`] writes an entry's changes in the same durable write as the outbox items of the
//! same step; this trait remains for reads, operators and retention.
//!
//! Durability is that of the outbox (see [`crate::outbox`]): [`SledInbox`] lives in the same state directory, in its
//! own tree, and every method that changes an entry returns only once the change is on disk.
#![forbid(unsafe_code)]

pub mod memory;
pub mod sled;

use std::time::SystemTime;

pub use self::memory::MemoryInbox;
pub use self::sled::SledInbox;
use crate::outbox::BoxFuture;
use crate::state::commit::DurabilityError;
use crate::state::BackendError;

/// The longest MessageID accepted (SMEV's are 36-character UUIDs).
pub const MAX_MESSAGE_ID_LEN: usize = 128;

/// The record of one request received from SMEV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxEntry {
    /// The request's SMEV MessageID, the key.
    pub message_id: String,
    /// What kind of request it is (e.g. the kind of data's root element), for operators and statistics.
    pub kind: String,
    /// A short description for operators; never personal data.
    pub summary: String,
    /// When it was first received.
    pub received_at: SystemTime,
    /// When it was last received; far later than `received_at` means SMEV keeps redelivering it.
    pub last_received_at: SystemTime,
    /// How many times it was received; more than one is a redelivery.
    pub deliveries: u32,
    /// The response the gateway gave, once recorded.
    pub response: Option<RecordedResponse>,
    /// When the request was acknowledged to SMEV, once it was.
    pub acked_at: Option<SystemTime>,
}

/// Which response the gateway gave to a request. Only its id and time: the response's bytes live once, in the
/// outbox item that sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedResponse {
    /// The response's own MessageID; a redelivered request is answered under the same one.
    pub message_id: String,
    /// When it was recorded.
    pub recorded_at: SystemTime,
}

impl InboxEntry {
    /// A first delivery of `message_id`.
    fn new(message_id: &str, kind: &str, summary: &str, now: SystemTime) -> InboxEntry {
        InboxEntry {
            message_id: message_id.to_owned(),
            kind: kind.to_owned(),
            summary: summary.to_owned(),
            received_at: now,
            last_received_at: now,
            deliveries: 1,
            response: None,
            acked_at: None,
        }
    }

    /// Counts another delivery.
    fn redelivered(&mut self, now: SystemTime) {
        self.deliveries = self.deliveries.saturating_add(1);
        self.last_received_at = self.last_received_at.max(now);
    }

    /// Records `response_message_id` as the response given, unless one is recorded already; says whether the entry
    /// changed.
    pub(crate) fn respond(&mut self, response_message_id: &str, now: SystemTime) -> bool {
        if self.response.is_some() {
            return false;
        }
        self.response = Some(RecordedResponse { message_id: response_message_id.to_owned(), recorded_at: now });
        true
    }

    /// Records the acknowledgement, unless one is recorded already; says whether the entry changed.
    pub(crate) fn ack(&mut self, now: SystemTime) -> bool {
        if self.acked_at.is_some() {
            return false;
        }
        self.acked_at = Some(now);
        true
    }

    /// The last time anything happened to the entry; retention counts from here.
    pub fn last_activity(&self) -> SystemTime {
        let responded = self.response.as_ref().map(|response| response.recorded_at);
        [Some(self.last_received_at), responded, self.acked_at].into_iter().flatten().max().unwrap_or(self.received_at)
    }
}

/// Why an inbox operation failed.
#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    /// No entry has this MessageID.
    #[error("no inbox entry for message {0}")]
    NotFound(String),
    /// The MessageID is not usable as a key.
    #[error("invalid message id {message_id:?}: {reason}")]
    InvalidMessageId {
        /// The id given.
        message_id: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A stored record cannot be read.
    #[error("the inbox store is damaged: {what}: {reason}")]
    Corrupt {
        /// Which record.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The change could not be made durable; no later write will be accepted (see [`crate::outbox`]).
    #[error("the inbox could not make its writes durable: {0}")]
    Durability(String),
    /// The storage engine failed.
    #[error("inbox storage: {0}")]
    Backend(#[source] BackendError),
}

impl From<DurabilityError> for InboxError {
    fn from(error: DurabilityError) -> InboxError {
        InboxError::Durability(error.0)
    }
}

/// Checks that `message_id` is usable: 1 to [`MAX_MESSAGE_ID_LEN`] bytes.
pub(crate) fn validate_message_id(message_id: &str) -> Result<(), InboxError> {
    if message_id.is_empty() || message_id.len() > MAX_MESSAGE_ID_LEN {
        return Err(InboxError::InvalidMessageId {
            message_id: message_id.chars().take(MAX_MESSAGE_ID_LEN).collect(),
            reason: format!("it must be 1 to {MAX_MESSAGE_ID_LEN} bytes long"),
        });
    }
    Ok(())
}

/// The record of requests received from SMEV. See the module documentation for how the gateway uses it.
pub trait Inbox: Send + Sync {
    /// Records a delivery of request `message_id`: a new entry the first time, otherwise the existing entry with the
    /// delivery counted (its kind and summary unchanged). Returns the entry as it now stands.
    fn record_received<'a>(
        &'a self,
        message_id: &'a str,
        kind: &'a str,
        summary: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<InboxEntry, InboxError>>;

    /// Records the MessageID of the response to request `message_id` and returns the record; if a response is
    /// already recorded, keeps and returns that one instead, so that every delivery is answered the same way.
    fn record_response<'a>(
        &'a self,
        message_id: &'a str,
        response_message_id: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<RecordedResponse, InboxError>>;

    /// The entry of request `message_id`, with its response.
    fn get<'a>(&'a self, message_id: &'a str) -> BoxFuture<'a, Result<Option<InboxEntry>, InboxError>>;

    /// Records that request `message_id` was acknowledged to SMEV (the first time counts) and returns the entry.
    fn mark_acked<'a>(&'a self, message_id: &'a str, now: SystemTime) -> BoxFuture<'a, Result<InboxEntry, InboxError>>;

    /// Removes entries whose last activity (delivery, response or ack) was before `before`, and returns how many.
    /// Keep `before` well beyond SMEV's redelivery window: a request redelivered after its entry is pruned is
    /// processed again.
    fn prune(&self, before: SystemTime) -> BoxFuture<'_, Result<usize, InboxError>>;
}
