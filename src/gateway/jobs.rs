//! What the gateway's outbox items carry. Storage records are private serde structs: the domain types stay free of
//! serialization, and a stored job is only what is needed to do the work again after a crash.
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

/// The outbox queue of messages to send to SMEV (responses and the gateway's own requests).
pub const SEND_QUEUE: &str = "send-to-smev";
/// The outbox queue of acknowledgements.
pub const ACK_QUEUE: &str = "ack";
/// The outbox queue of calls to the school system.
pub const SCHOOL_QUEUE: &str = "call-school";
/// The outbox queue that keeps deliveries the gateway could not read, as dead letters holding their raw bytes, for
/// operators. No worker drains it.
pub const UNREADABLE_QUEUE: &str = "unreadable";

/// A message to send: the *unsigned* envelope, so that a retry after `StaleMessageId` can take a new MessageID and
/// be signed afresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendJob {
    /// The unsigned SOAP envelope as built by the codec.
    pub envelope: String,
    /// For a response: the SMEV id of the request it answers (for the inbox and the logs).
    pub answers: Option<String>,
}

/// An acknowledgement to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckJob {
    /// SMEV's id of the delivered message (`MessageMetadata/MessageId`).
    pub message_id: String,
    /// Whether the gateway accepted it.
    pub accepted: bool,
}

/// An application to submit to the school system, and where its answer goes. The content is kept as received and
/// read again by the worker, so no domain type needs a stored form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchoolJob {
    /// SMEV's id of the request.
    pub message_id: String,
    /// The request's `ReplyTo`.
    pub reply_to: String,
    /// The request's business content.
    pub content: String,
}

/// Why a stored job cannot be read: a bug or a damaged store, never retried.
#[derive(Debug, thiserror::Error)]
#[error("unreadable job: {0}")]
pub struct BadJob(String);

/// Encodes a job for the outbox.
pub fn encode<T: Serialize>(job: &T) -> Vec<u8> {
    serde_json::to_vec(job).expect("jobs are plain data")
}

/// Decodes a job from the outbox.
pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, BadJob> {
    serde_json::from_slice(bytes).map_err(|e| BadJob(e.to_string()))
}

/// The idempotency key of the response to request `smev_id`: at most one response per request, whatever happens.
pub fn response_key(smev_id: &str) -> String {
    format!("response:{smev_id}")
}

/// The idempotency key of the acknowledgement of delivery `delivery` of message `smev_id`.
pub fn ack_key(smev_id: &str, delivery: u32) -> String {
    if delivery <= 1 {
        format!("ack:{smev_id}")
    } else {
        format!("ack:{smev_id}:{delivery}")
    }
}

/// The idempotency key of the school call for request `smev_id`: one per request, so that two requests with the
/// same order both get their answer (the school's own idempotency by order id makes the second a no-op there).
pub fn school_key(smev_id: &str) -> String {
    format!("school:{smev_id}")
}

/// The idempotency key of an unreadable delivery: by its id, so that a redelivery is kept once; without an id, by a
/// digest of its bytes.
pub fn unreadable_key(message_id: Option<&str>, raw: &[u8]) -> String {
    match message_id {
        Some(id) => format!("unreadable:{id}"),
        None => {
            let digest = crate::crypto::digest(crate::crypto::GostAlg::Gost2012_256, raw).unwrap_or_default();
            let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
            format!("unreadable:bytes:{}:{hex}", raw.len())
        }
    }
}
