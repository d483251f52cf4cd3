//! The one client of mock-smev's control API (`/control/...`, JSON over HTTP): it sends requests as the portal,
//! waits, within a bound, for the portal's responses, lists the emulator's messages and injects and clears faults.
//! `edugate demo`, the integration tests and the benchmarks all talk to the emulator through it, so the shape of
//! the API is written down once, as the typed records below.
//!
//! It lives in the library's top layer rather than in mock-smev because `edugate demo` uses it and mock-smev
//! depends on this library: the other way round would be a dependency cycle between the two packages.
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// How long [`ControlClient::wait_portal_response`] sleeps between two looks at the portal's responses.
const POLL_EVERY: Duration = Duration::from_millis(100);

/// What can go wrong talking to the control API.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The request did not reach mock-smev, or its answer could not be read (is the emulator running?).
    #[error("mock-smev's control API, {what}: {source}")]
    Transport {
        /// The call, for the message (`POST /control/portal/send`).
        what: String,
        /// The HTTP client's error.
        #[source]
        source: reqwest::Error,
    },
    /// mock-smev answered with an error status.
    #[error("mock-smev refused {what}: {status} {message}")]
    Refused {
        /// The call, for the message.
        what: String,
        /// The HTTP status (422 for content SMEV would refuse, 400 for a malformed call, ...).
        status: u16,
        /// The emulator's explanation.
        message: String,
        /// The SMEV fault behind the refusal (`InvalidContent`, ...), when there is one.
        fault: Option<String>,
    },
    /// mock-smev's answer is not the JSON this client expects: the emulator and the client disagree on the API.
    #[error("mock-smev's answer to {what} is not what the control API promises: {source}")]
    Unreadable {
        /// The call, for the message.
        what: String,
        /// The decoder's complaint.
        #[source]
        source: serde_json::Error,
    },
    /// The portal received no response to a request within the bound given.
    #[error("no response to {request_id} within {waited:?} (is the gateway running?)")]
    NoResponse {
        /// The request's MessageID.
        request_id: String,
        /// The bound that ran out.
        waited: Duration,
    },
}

impl ControlError {
    /// The SMEV fault of a refusal (`InvalidContent`, ...), if this is one.
    pub fn fault(&self) -> Option<&str> {
        match self {
            ControlError::Refused { fault, .. } => fault.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status of a refusal, if this is one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ControlError::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The body of a control API error, as mock-smev writes it.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    /// What went wrong, for people.
    error: String,
    /// The SMEV fault's name, when there is one.
    fault: Option<String>,
}

/// The portal's response to one of its requests (`GET /control/portal/responses/{id}`, the latest; `.../all`, each).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PortalResponse {
    /// The MessageID of the request answered.
    pub request_message_id: String,
    /// The response's own MessageID.
    pub response_message_id: String,
    /// Whether mock-smev found every signature on the response valid.
    pub signatures_valid: bool,
    /// What the response says.
    #[serde(flatten)]
    pub answer: PortalAnswer,
}

impl PortalResponse {
    /// The business content of a content answer, if this is one.
    pub fn content(&self) -> Option<&str> {
        match &self.answer {
            PortalAnswer::Content { content } => Some(content),
            _ => None,
        }
    }

    /// The reasons of a refusal; none for any other answer.
    pub fn reasons(&self) -> &[Reason] {
        match &self.answer {
            PortalAnswer::Rejected { reasons } => reasons,
            _ => &[],
        }
    }

    /// The answer's kind as the control API names it (`content`, `rejected`, `status`, `async_status`).
    pub fn kind(&self) -> &'static str {
        match self.answer {
            PortalAnswer::Content { .. } => "content",
            PortalAnswer::Rejected { .. } => "rejected",
            PortalAnswer::Status { .. } => "status",
            PortalAnswer::AsyncStatus { .. } => "async_status",
        }
    }
}

/// The four things a response can carry, tagged by the control API's `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PortalAnswer {
    /// Business content.
    Content {
        /// The content's XML.
        content: String,
    },
    /// A refusal with its reasons.
    Rejected {
        /// Why, as codes and descriptions.
        reasons: Vec<Reason>,
    },
    /// The provider's status of the request.
    Status {
        /// The status.
        status: StatusAnswer,
    },
    /// SMEV's own status of the request.
    AsyncStatus {
        /// The status.
        status: AsyncStatusAnswer,
    },
}

/// One reason of a refusal.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Reason {
    /// The code (`NO_DATA`, `ACCESS_DENIED`, ...).
    pub code: String,
    /// A description a person can read.
    pub description: String,
}

/// A provider's status answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StatusAnswer {
    /// The provider's status code.
    pub code: i32,
    /// A description a person can read.
    pub description: String,
    /// Named values that go with the status.
    pub parameters: Vec<StatusParameter>,
}

/// A named value of a status answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StatusParameter {
    /// The name.
    pub key: String,
    /// The value.
    pub value: String,
}

/// SMEV's own status of a request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AsyncStatusAnswer {
    /// The interaction status (`requestIsRejectedBySmev`, ...).
    pub category: String,
    /// Details a person can read.
    pub details: Option<String>,
}

/// Which way a message travels, as the control API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// A request, from a consumer to a provider.
    Request,
    /// A response, from a provider back to the consumer.
    Response,
}

impl Direction {
    /// The name the control API's filters use.
    fn as_str(self) -> &'static str {
        match self {
            Direction::Request => "request",
            Direction::Response => "response",
        }
    }
}

/// Where a message is in its life at mock-smev.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageState {
    /// Waiting in its queue.
    Queued,
    /// Handed out, not yet acknowledged.
    Delivered,
    /// Acknowledged by its recipient.
    Acknowledged,
}

/// A recipient's acknowledgement of a message.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AckRecord {
    /// When it came (unix milliseconds, the emulator's clock).
    pub at_ms: u64,
    /// Whether the recipient accepted the message.
    pub accepted: bool,
}

/// A message as the control API lists it: metadata, no payload.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MessageSummary {
    /// The SMEV MessageID.
    pub message_id: String,
    /// The emulator's arrival number.
    pub sequence: u64,
    /// Request or response.
    pub direction: Direction,
    /// The sending system's mnemonic.
    pub sender: String,
    /// The receiving system's mnemonic.
    pub recipient: String,
    /// The namespace of the content's root element.
    pub namespace_uri: String,
    /// The local name of the content's root element.
    pub root_element: String,
    /// For a response, the MessageID of the request it answers.
    pub original_message_id: Option<String>,
    /// The sender's ReferenceMessageID.
    pub reference_message_id: Option<String>,
    /// Whether the sender marked it `TestMessage`.
    pub test_message: bool,
    /// When the emulator queued it (unix milliseconds).
    pub accepted_ms: u64,
    /// The payload's size.
    pub payload_bytes: u64,
    /// Its latest SMEV status.
    pub status: String,
    /// Queued, delivered or acknowledged.
    pub state: MessageState,
    /// How many times it was handed out.
    pub delivery_count: u32,
    /// When it was last handed out.
    pub last_delivery_ms: Option<u64>,
    /// The recipient's acknowledgement, once it came.
    pub ack: Option<AckRecord>,
}

/// One status a message went through.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HistoryEntry {
    /// When (unix milliseconds).
    pub at_ms: u64,
    /// The SMEV status.
    pub status: String,
}

/// One message in full (`GET /control/messages/{id}`): metadata, status history and the envelope as posted.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MessageDetail {
    /// What the listing shows.
    #[serde(flatten)]
    pub summary: MessageSummary,
    /// Every status, oldest first.
    pub history: Vec<HistoryEntry>,
    /// The envelope exactly as its sender posted it.
    pub payload: String,
}

/// `GET /control/messages`.
#[derive(Deserialize)]
struct MessageList {
    /// The messages, in arrival order.
    messages: Vec<MessageSummary>,
}

/// `POST /control/portal/send`'s answer.
#[derive(Deserialize)]
struct Sent {
    /// The new request's MessageID.
    message_id: String,
}

/// `POST /control/portal/send`'s body.
#[derive(Serialize)]
struct PortalSend<'a> {
    /// The business content.
    content: &'a str,
}

/// `POST /control/faults`'s body.
#[derive(Serialize)]
struct FaultRule<'a> {
    /// The SMEV operation (`SendResponse`, `GetRequest`, `Ack`, ...).
    operation: &'a str,
    /// The fault's name (`SMEVFailure`, `SignatureVerificationFault/SignatureIsInvalid`, ...).
    fault: &'a str,
    /// How many calls fail.
    count: u32,
}

/// A client of one mock-smev's control API.
#[derive(Debug, Clone)]
pub struct ControlClient {
    /// `http://host:port`, without a trailing slash.
    base: String,
    /// The HTTP client (keeps connections to the emulator open).
    http: reqwest::Client,
}

impl ControlClient {
    /// A client of mock-smev at `target`: `host:port` or `http://host:port`.
    pub fn new(target: &str) -> ControlClient {
        let target = target.trim_end_matches('/');
        let base = if target.contains("://") { target.to_string() } else { format!("http://{target}") };
        ControlClient { base, http: reqwest::Client::new() }
    }

    /// The emulator's base URL (`http://host:port`).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends `content` as the portal (mock-smev signs it with the portal's key); returns the request's MessageID.
    pub async fn portal_send(&self, content: &str) -> Result<String, ControlError> {
        let body = serde_json::to_string(&PortalSend { content }).expect("a string serializes");
        let sent: Sent = self.call(reqwest::Method::POST, "/control/portal/send", Some(body)).await?;
        Ok(sent.message_id)
    }

    /// The portal's response to request `id`, if it has arrived (one look, no waiting).
    pub async fn portal_response(&self, id: &str) -> Result<Option<PortalResponse>, ControlError> {
        self.optional(&format!("/control/portal/responses/{id}")).await
    }

    /// Every response the portal received for request `id` so far, in arrival order (empty before the first);
    /// `None` when mock-smev knows no such request.
    pub async fn portal_responses(&self, id: &str) -> Result<Option<Vec<PortalResponse>>, ControlError> {
        self.optional(&format!("/control/portal/responses/{id}/all")).await
    }

    /// Waits at most `limit` for the portal's response to request `id`.
    pub async fn wait_portal_response(&self, id: &str, limit: Duration) -> Result<PortalResponse, ControlError> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(response) = self.portal_response(id).await? {
                return Ok(response);
            }
            if Instant::now() >= deadline {
                return Err(ControlError::NoResponse { request_id: id.to_string(), waited: limit });
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    /// Every message of `direction` the emulator holds, in arrival order.
    pub async fn messages(&self, direction: Direction) -> Result<Vec<MessageSummary>, ControlError> {
        let path = format!("/control/messages?direction={}", direction.as_str());
        let list: MessageList = self.call(reqwest::Method::GET, &path, None).await?;
        Ok(list.messages)
    }

    /// One message in full, if the emulator knows it.
    pub async fn message(&self, id: &str) -> Result<Option<MessageDetail>, ControlError> {
        self.optional(&format!("/control/messages/{id}")).await
    }

    /// Makes the next `count` calls of `operation` fail with `fault`.
    pub async fn inject_fault(&self, operation: &str, fault: &str, count: u32) -> Result<(), ControlError> {
        let body = serde_json::to_string(&FaultRule { operation, fault, count }).expect("strings serialize");
        let _: serde_json::Value = self.call(reqwest::Method::POST, "/control/faults", Some(body)).await?;
        Ok(())
    }

    /// Removes every fault, drop and latency rule.
    pub async fn clear_faults(&self) -> Result<(), ControlError> {
        let _: serde_json::Value = self.call(reqwest::Method::DELETE, "/control/faults", None).await?;
        Ok(())
    }

    /// A GET whose 404 means "not there (yet)".
    async fn optional<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, ControlError> {
        match self.call(reqwest::Method::GET, path, None).await {
            Ok(found) => Ok(Some(found)),
            Err(ControlError::Refused { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One call: sends `body` (JSON) if any, and decodes a successful answer as `T`.
    async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<String>,
    ) -> Result<T, ControlError> {
        let what = format!("{method} {}", path.split('?').next().unwrap_or(path));
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.header("Content-Type", "application/json").body(body);
        }
        let transport = |source| ControlError::Transport { what: what.clone(), source };
        let reply = request.send().await.map_err(transport)?;
        let status = reply.status();
        let text = reply.text().await.map_err(transport)?;
        if !status.is_success() {
            let (message, fault) = match serde_json::from_str::<ErrorBody>(&text) {
                Ok(body) => (body.error, body.fault),
                Err(_) => (text, None),
            };
            return Err(ControlError::Refused { what, status: status.as_u16(), message, fault });
        }
        serde_json::from_str(&text).map_err(|source| ControlError::Unreadable { what, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_portal_response_reads_each_kind_of_answer() {
        let content = r#"{"request_message_id":"a","response_message_id":"b","signatures_valid":true,
                          "kind":"content","content":"<x/>"}"#;
        let response: PortalResponse = serde_json::from_str(content).unwrap();
        assert_eq!((response.content(), response.kind()), (Some("<x/>"), "content"));
        let rejected = r#"{"request_message_id":"a","response_message_id":"b","signatures_valid":false,
                           "kind":"rejected","reasons":[{"code":"NO_DATA","description":"нет"}]}"#;
        let response: PortalResponse = serde_json::from_str(rejected).unwrap();
        assert_eq!(response.reasons()[0].code, "NO_DATA");
        assert_eq!(response.content(), None);
        let status = r#"{"request_message_id":"a","response_message_id":"b","signatures_valid":true,
                         "kind":"status","status":{"code":3,"description":"d","parameters":[{"key":"k","value":"v"}]}}"#;
        let response: PortalResponse = serde_json::from_str(status).unwrap();
        assert_eq!(response.kind(), "status");
    }

    #[test]
    fn a_target_is_a_base_url_with_or_without_its_scheme() {
        assert_eq!(ControlClient::new("127.0.0.1:8080").base(), "http://127.0.0.1:8080");
        assert_eq!(ControlClient::new("http://127.0.0.1:8080/").base(), "http://127.0.0.1:8080");
    }
}
