//! Messages as the emulator keeps them, and the [`Store`] that keeps them.
//!
//! The queue engine holds every message's metadata ([`MessageRecord`]) in memory and asks the store for a payload
//! only when it delivers or shows a message. The store persists both: [`MemoryStore`] for tests and throwaway runs,
//! [`SledStore`] for an emulator whose queues must survive a restart. These types are the stored format: the sled
//! store writes [`MessageRecord`] as JSON, so renaming a field is a format change.

pub mod memory;
pub mod sled;

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use self::memory::MemoryStore;
pub use self::sled::SledStore;

/// Which queue a message lives in: SMEV keeps requests and responses apart (`GetRequest` vs `GetResponse`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Direction {
    /// A consumer's request, polled by the provider with `GetRequest`.
    Request,
    /// A provider's answer, polled by the consumer with `GetResponse`.
    Response,
}

impl Direction {
    /// A lowercase name for logs, errors and the control API.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Request => "request",
            Direction::Response => "response",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The interaction statuses of SMEV 3 (`GetStatus`, `MessageMetadata/Status`), in the order the XSD lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum InteractionStatus {
    /// SMEV knows no message with that id.
    DoesNotExist,
    /// The request waits in the provider's queue.
    RequestIsQueued,
    /// SMEV checked the request and took it (the emulator does not record this step; it exists for the protocol).
    RequestIsAcceptedBySmev,
    /// SMEV refused the request asynchronously.
    RequestIsRejectedBySmev,
    /// The provider answered the request.
    RequestIsProcessed,
    /// The provider works on the request.
    UnderProcessing,
    /// A response waits in the consumer's queue.
    ResponseIsQueued,
    /// SMEV checked the response and took it.
    ResponseIsAcceptedBySmev,
    /// SMEV refused the response asynchronously.
    ResponseIsRejectedBySmev,
    /// The consumer acknowledged the response.
    ResponseIsProcessed,
    /// The message was cancelled.
    Cancelled,
    /// The message left the live store for the archive.
    MessageIsArchived,
    /// The message was handed to its recipient.
    MessageIsDelivered,
}

impl InteractionStatus {
    /// Every status, in the XSD's order; for parsing and for tests.
    pub const ALL: [InteractionStatus; 13] = [
        InteractionStatus::DoesNotExist,
        InteractionStatus::RequestIsQueued,
        InteractionStatus::RequestIsAcceptedBySmev,
        InteractionStatus::RequestIsRejectedBySmev,
        InteractionStatus::RequestIsProcessed,
        InteractionStatus::UnderProcessing,
        InteractionStatus::ResponseIsQueued,
        InteractionStatus::ResponseIsAcceptedBySmev,
        InteractionStatus::ResponseIsRejectedBySmev,
        InteractionStatus::ResponseIsProcessed,
        InteractionStatus::Cancelled,
        InteractionStatus::MessageIsArchived,
        InteractionStatus::MessageIsDelivered,
    ];

    /// The status's name as SMEV writes it, e.g. `requestIsQueued`.
    pub fn as_str(self) -> &'static str {
        match self {
            InteractionStatus::DoesNotExist => "doesNotExist",
            InteractionStatus::RequestIsQueued => "requestIsQueued",
            InteractionStatus::RequestIsAcceptedBySmev => "requestIsAcceptedBySmev",
            InteractionStatus::RequestIsRejectedBySmev => "requestIsRejectedBySmev",
            InteractionStatus::RequestIsProcessed => "requestIsProcessed",
            InteractionStatus::UnderProcessing => "underProcessing",
            InteractionStatus::ResponseIsQueued => "responseIsQueued",
            InteractionStatus::ResponseIsAcceptedBySmev => "responseIsAcceptedBySmev",
            InteractionStatus::ResponseIsRejectedBySmev => "responseIsRejectedBySmev",
            InteractionStatus::ResponseIsProcessed => "responseIsProcessed",
            InteractionStatus::Cancelled => "cancelled",
            InteractionStatus::MessageIsArchived => "messageIsArchived",
            InteractionStatus::MessageIsDelivered => "messageIsDelivered",
        }
    }

    /// The status SMEV names `name`, if any.
    pub fn from_name(name: &str) -> Option<InteractionStatus> {
        InteractionStatus::ALL.into_iter().find(|status| status.as_str() == name)
    }
}

impl fmt::Display for InteractionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a sender says about a message, as the HTTP layer read it from the envelope; the engine routes by it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageHeader {
    /// The SMEV `MessageID` (a lowercase UUID v1); one sender may never use the same one twice.
    pub message_id: String,
    /// Whether this is a request or a response, which decides the queue it joins.
    pub direction: Direction,
    /// The sending information system's mnemonic; duplicates and quotas are counted per sender.
    pub sender: String,
    /// The mnemonic of the system that will receive it. For a response the engine replaces it with the sender of
    /// the original request, since SMEV routes responses by `OriginalMessageId`.
    pub recipient: String,
    /// The namespace URI of the content's root element: with `root_element`, the kind of data ("вид сведений")
    /// that a `MessageTypeSelector` filters on.
    pub namespace_uri: String,
    /// The local name of the content's root element.
    pub root_element: String,
    /// For a response, the `MessageID` of the request it answers; the engine routes the response by it.
    pub original_message_id: Option<String>,
    /// The sender's `ReferenceMessageID`, kept verbatim for the envelope that delivers the message.
    pub reference_message_id: Option<String>,
    /// Whether the sender marked the message `TestMessage`; kept verbatim.
    pub test_message: bool,
    /// When the sender says it sent the message (unix milliseconds), kept for `MessageMetadata/SendingTimestamp`.
    pub sending_timestamp_ms: u64,
}

/// A message as a sender hands it to the engine: routing metadata and the bytes to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Routing and identification.
    pub header: MessageHeader,
    /// The XML the HTTP layer delivers verbatim; opaque to the engine.
    pub payload: Vec<u8>,
}

/// One step in a message's status history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusEntry {
    /// When the message reached this status (unix milliseconds, engine clock).
    pub at_ms: u64,
    /// The status reached.
    pub status: InteractionStatus,
}

/// The recipient's acknowledgement of a message; once present the message is never delivered again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckRecord {
    /// When the `Ack` arrived (unix milliseconds, engine clock).
    pub at_ms: u64,
    /// The `accepted` attribute of `AckTargetMessage`: false means the recipient refused the message, which still
    /// takes it off the queue.
    pub accepted: bool,
}

/// Everything the engine knows about a message except its payload; the store persists it, the engine indexes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRecord {
    /// The engine's arrival number: unique, increasing, the FIFO order of every queue and the store's key.
    pub sequence: u64,
    /// What the sender said, with the recipient resolved for responses.
    pub header: MessageHeader,
    /// When the engine queued the message (unix milliseconds, engine clock).
    pub accepted_ms: u64,
    /// For a response, the sequence of the request it answers, resolved once at send time so later status
    /// updates reach exactly that request even if another sender reused its `MessageID`.
    pub answers: Option<u64>,
    /// The payload's size in bytes, so listings need not read payloads.
    pub payload_len: usize,
    /// Every status the message went through, oldest first; what `GetStatus` reports.
    pub history: Vec<StatusEntry>,
    /// How many times the message was handed out; above one means redelivery.
    pub delivery_count: u32,
    /// When the message was last handed out, if ever.
    pub last_delivery_ms: Option<u64>,
    /// The message is not handed out again before this time (unix milliseconds): the visibility timeout of the
    /// last delivery, persisted so a restart keeps it.
    pub invisible_until_ms: u64,
    /// The recipient's acknowledgement, once it came.
    pub ack: Option<AckRecord>,
}

impl MessageRecord {
    /// The latest status, or `doesNotExist` for a record without history (which the engine never writes).
    pub fn status(&self) -> InteractionStatus {
        self.history.last().map_or(InteractionStatus::DoesNotExist, |entry| entry.status)
    }

    /// Whether the recipient acknowledged the message.
    pub fn is_acked(&self) -> bool {
        self.ack.is_some()
    }

    /// Whether the message may be handed out at `now_ms`: not acknowledged and not within a visibility timeout.
    pub fn is_deliverable(&self, now_ms: u64) -> bool {
        !self.is_acked() && self.invisible_until_ms <= now_ms
    }

    /// Records a new status at `at_ms`.
    pub fn push_status(&mut self, at_ms: u64, status: InteractionStatus) {
        self.history.push(StatusEntry { at_ms, status });
    }
}

/// A whole stored message, as `receive` and `get` hand it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Metadata and delivery state, as of the moment it was read.
    pub record: MessageRecord,
    /// The bytes the sender sent.
    pub payload: Vec<u8>,
}

/// One change the store must make atomically and durably: it exists so that a send (a new message plus its
/// request's history) or an ack never lands half-written.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    /// Records to insert or replace, keyed by their `sequence`.
    pub records: &'a [MessageRecord],
    /// The payload of a newly sent message: its sequence and bytes. Payloads never change once written.
    pub payload: Option<(u64, &'a [u8])>,
}

/// Where messages are kept. The engine calls it under its own lock, so implementations see one call at a time
/// from one engine, but must still be `Send + Sync` to live inside it.
pub trait Store: Send + Sync + fmt::Debug {
    /// Every stored record, in sequence order; the engine rebuilds its index from them when it opens.
    fn load(&self) -> Result<Vec<MessageRecord>, StoreError>;

    /// The payload of message `sequence`; a record without one is an error, never an empty payload.
    fn payload(&self, sequence: u64) -> Result<Vec<u8>, StoreError>;

    /// Makes `change` wholly or not at all; when it returns `Ok` the change survives what the store promises to
    /// survive (nothing for memory, a process crash for sled).
    fn apply(&self, change: Change<'_>) -> Result<(), StoreError>;

    /// Drops every message, as durably as `apply`.
    fn clear(&self) -> Result<(), StoreError>;
}

/// Why the store failed; the engine passes it on as `QueueError::Storage` (an `SMEVFailure` to callers).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The sled database could not be opened (unreadable, locked by another process, or corrupt beyond sled's
    /// own recovery).
    #[error("cannot open the message store at {path}: {source}")]
    Open {
        /// The directory given to `SledStore::open`.
        path: PathBuf,
        /// What sled reported.
        #[source]
        source: ::sled::Error,
    },
    /// Another open store (in this process or another) holds the directory's lock, and did not release it in
    /// time.
    #[error("the message store at {path} is in use by another process")]
    Locked {
        /// The directory given to `SledStore::open`.
        path: PathBuf,
    },
    /// The directory holds something other than a store this emulator wrote, so opening it would start empty
    /// and hide the loss.
    #[error("{path} is not a mock-smev message store: {reason}")]
    NotAStore {
        /// The directory given to `SledStore::open`.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
    /// The store's directory could not be inspected before opening it.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The directory given to `SledStore::open`.
        path: PathBuf,
        /// What the file system reported.
        #[source]
        source: std::io::Error,
    },
    /// A read or write failed after the store was open.
    #[error("message store I/O failed: {0}")]
    Backend(#[from] ::sled::Error),
    /// A stored record is not valid JSON of a [`MessageRecord`], or its key is malformed.
    #[error("stored record {key} cannot be read: {reason}")]
    Corrupt {
        /// The record's key, printed for an operator.
        key: String,
        /// What was wrong with it.
        reason: String,
    },
    /// A record could not be written as JSON (it cannot happen with these types, but serde's API says it may).
    #[error("message record {sequence} cannot be encoded: {source}")]
    Encode {
        /// The record's sequence.
        sequence: u64,
        /// What serde reported.
        #[source]
        source: serde_json::Error,
    },
    /// A record exists but its payload does not.
    #[error("the payload of message {sequence} is missing from the store")]
    MissingPayload {
        /// The record's sequence.
        sequence: u64,
    },
    /// The stored records contradict each other, e.g. one sender's `MessageID` stored twice.
    #[error("the stored messages are inconsistent: {0}")]
    Inconsistent(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_round_trip_and_match_serde() {
        for status in InteractionStatus::ALL {
            assert_eq!(InteractionStatus::from_name(status.as_str()), Some(status));
            let json = serde_json::to_string(&status).expect("a status encodes");
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
        assert_eq!(InteractionStatus::from_name("RequestIsQueued"), None);
    }

    #[test]
    fn smev_spellings() {
        let cases = [
            (InteractionStatus::RequestIsQueued, "requestIsQueued"),
            (InteractionStatus::RequestIsAcceptedBySmev, "requestIsAcceptedBySmev"),
            (InteractionStatus::UnderProcessing, "underProcessing"),
            (InteractionStatus::MessageIsDelivered, "messageIsDelivered"),
            (InteractionStatus::DoesNotExist, "doesNotExist"),
        ];
        for (status, name) in cases {
            assert_eq!(status.to_string(), name);
        }
    }
}
