//! What the gateway's outbox items carry, and their idempotency keys. A stored job is only what is needed to do
//! the work again after a crash, with what it is (its SMEV operation, the kind of data it belongs to) as typed
//! fields, so that nothing downstream reads an envelope to find out. The records are private to this module's
//! encoding: the domain types stay free of serialization.
//!
//! A send job is a JSON header line followed by the unsigned envelope's bytes as they are: the envelope (megabytes
//! at worst) is neither escaped into a JSON string nor unescaped again.
#![forbid(unsafe_code)]

use crate::smev::Operation;
use serde::{Deserialize, Serialize};

/// The outbox queue of messages to send to SMEV (responses and the gateway's own requests).
pub const SEND_QUEUE: &str = "send-to-smev";
/// The outbox queue of acknowledgements.
pub const ACK_QUEUE: &str = "ack";
/// The outbox queue of work deferred to the school system by a kind of data's service.
pub const DEFERRED_QUEUE: &str = "call-school";
/// The outbox queue that keeps deliveries the gateway could not read, as dead letters holding their raw bytes, for
/// operators. No worker drains it.
pub const UNREADABLE_QUEUE: &str = "unreadable";

/// The queues the gateway's workers drain.
pub const DRAINED: [&str; 3] = [SEND_QUEUE, ACK_QUEUE, DEFERRED_QUEUE];

/// Which SMEV call a send job makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Send {
    /// `SendRequest`: the gateway's own request (a status push).
    Request,
    /// `SendResponse`: the answer to a delivered request.
    Response,
}

impl Send {
    /// The SMEV operation.
    pub fn operation(self) -> Operation {
        match self {
            Send::Request => Operation::SendRequest,
            Send::Response => Operation::SendResponse,
        }
    }
}

/// A message to send: the *unsigned* envelope, so that a retry after `StaleMessageId` can take a new MessageID and
/// be signed afresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendJob {
    /// What the job is.
    pub head: SendHead,
    /// The unsigned SOAP envelope as the codec built it.
    pub envelope: String,
}

/// Everything of a send job but its envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendHead {
    /// The SMEV call.
    pub send: Send,
    /// The kind of data the exchange belongs to, for the metrics: the kind polled (configuration), `unverified`
    /// for an answer to a request whose signatures failed, or `request` for the gateway's own requests.
    pub kind: String,
    /// The message's own MessageID (the response's id, recorded in the inbox for redeliveries).
    pub message_id: String,
    /// For a response: the SMEV id of the request it answers (for the logs).
    pub answers: Option<String>,
}

/// An acknowledgement to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckJob {
    /// SMEV's id of the delivered message (`MessageMetadata/MessageId`).
    pub message_id: String,
    /// Whether the gateway accepted it.
    pub accepted: bool,
    /// The kind of data of the message acknowledged, for the metrics (as in [`SendHead::kind`]).
    pub kind: String,
}

/// Work a kind of data's service deferred to the school system, and where its answer goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeferredJob {
    /// The service that deferred it and runs it.
    pub service: String,
    /// The kind of data (metrics label of the answer).
    pub kind: String,
    /// SMEV's id of the request.
    pub message_id: String,
    /// The request's `ReplyTo`.
    pub reply_to: String,
    /// The service's own record of the work.
    pub work: String,
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

/// Encodes a send job: its head as one line of JSON (which escapes every newline inside it), then the envelope.
pub fn encode_send(head: &SendHead, envelope: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(envelope.len() + 160);
    serde_json::to_writer(&mut out, head).expect("jobs are plain data");
    out.push(b'\n');
    out.extend_from_slice(envelope.as_bytes());
    out
}

/// Decodes a send job, taking the payload so that the envelope is not copied.
pub fn decode_send(mut payload: Vec<u8>) -> Result<SendJob, BadJob> {
    let line = payload.iter().position(|&b| b == b'\n').ok_or_else(|| BadJob("a send job without a head".into()))?;
    let head: SendHead = decode(&payload[..line])?;
    payload.drain(..=line);
    let envelope = String::from_utf8(payload).map_err(|e| BadJob(e.to_string()))?;
    Ok(SendJob { head, envelope })
}

/// Decodes only a send job's head (operators and metrics need no envelope).
pub fn decode_send_head(payload: &[u8]) -> Result<SendHead, BadJob> {
    let line = payload.iter().position(|&b| b == b'\n').ok_or_else(|| BadJob("a send job without a head".into()))?;
    decode(&payload[..line])
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

/// The idempotency key of the deferred work for request `smev_id`: one per request, so that two requests with the
/// same order both get their answer (the school's own idempotency by order id makes the second a no-op there).
pub fn deferred_key(smev_id: &str) -> String {
    format!("school:{smev_id}")
}

/// The idempotency key of a status push: one per change of a service's feed, by the service's name and the
/// change's cursor.
pub fn status_key(service: &str, cursor: u64) -> String {
    format!("status:{service}:{cursor}")
}

/// What a thread keeps of the request that opened it (see [`crate::store::Thread`]): where its further responses
/// go and how they are written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// SMEV's id of the request, for the logs and the operators' traces.
    pub message_id: String,
    /// The request's `ReplyTo`: every further response is addressed to it.
    pub reply_to: String,
    /// The metrics label of the exchange (see [`SendHead::kind`]).
    pub kind: String,
    /// The namespace of the request's content: the further responses are written in it.
    pub namespace: String,
    /// The version its registration named (a region's own namespace says which version of a format it speaks).
    #[serde(default)]
    pub version: String,
}

/// The SMEV id a key of this module names, and what the key is for (operators' traces read keys back).
pub fn key_message_id(key: &str) -> Option<(&'static str, &str)> {
    let (prefix, rest) = key.split_once(':')?;
    let what = match prefix {
        "response" => "response",
        "ack" => "ack",
        "school" => "deferred",
        "unreadable" => "unreadable",
        _ => return None,
    };
    let id = rest.split(':').next().unwrap_or(rest);
    Some((what, id))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_send_job_keeps_its_envelope_byte_for_byte() {
        let head = SendHead {
            send: Send::Response,
            kind: "ProgressRequest".into(),
            message_id: "m-1".into(),
            answers: Some("r-1\nwith a newline".into()),
        };
        let envelope = "<s:Envelope a=\"1\">\n\"quoted\"\n</s:Envelope>";
        let job = decode_send(encode_send(&head, envelope)).unwrap();
        assert_eq!((job.head, job.envelope.as_str()), (head.clone(), envelope));
        assert_eq!(decode_send_head(&encode_send(&head, "")).unwrap(), head);
        assert!(decode_send(b"no head".to_vec()).is_err());
    }

    #[test]
    fn keys_name_their_message() {
        assert_eq!(key_message_id(&ack_key("m-1", 3)), Some(("ack", "m-1")));
        assert_eq!(key_message_id(&response_key("m-2")), Some(("response", "m-2")));
        assert_eq!(key_message_id(&deferred_key("m-3")), Some(("deferred", "m-3")));
        assert_eq!(key_message_id("status:7"), None);
    }
}
