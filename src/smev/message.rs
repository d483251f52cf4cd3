//! Typed SMEV messages: what the builders take and the parsers return.
//!
//! These are domain types, deliberately not `Serialize`: the only wire form is the schema-shaped XML that
//! [`super::build`] writes and [`super::parse`] reads.
#![forbid(unsafe_code)]

use super::{MessageId, SmevFault};

/// The Id the consumer's signature references.
pub const SIGNED_BY_CONSUMER: &str = "SIGNED_BY_CONSUMER";
/// The Id the provider's signature references.
pub const SIGNED_BY_PROVIDER: &str = "SIGNED_BY_PROVIDER";
/// The Id of the signed element of polls, acks and status requests.
pub const SIGNED_BY_CALLER: &str = "SIGNED_BY_CALLER";
/// The Id SMEV's own signature references.
pub const SIGNED_BY_SMEV: &str = "SIGNED_BY_SMEV";

/// A kind of data ("вид сведений"): the qualified name of the business content's root element.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KindOfData {
    /// Namespace URI of the root element.
    pub namespace_uri: String,
    /// Local name of the root element.
    pub root_element: String,
}

impl KindOfData {
    /// A kind of data from its namespace and root element.
    pub fn new(namespace_uri: impl Into<String>, root_element: impl Into<String>) -> KindOfData {
        KindOfData { namespace_uri: namespace_uri.into(), root_element: root_element.into() }
    }
}

impl std::fmt::Display for KindOfData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{{{}}}{}", self.namespace_uri, self.root_element)
    }
}

/// Describes one attachment carried in the message itself (MTOM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentHeader {
    /// Links the header to its `AttachmentContent` by Id.
    pub content_id: String,
    /// The attachment's MIME type.
    pub mime_type: String,
    /// A detached PKCS#7 signature of the attachment, when the sender signed it.
    pub signature_pkcs7: Option<Vec<u8>>,
}

/// Describes one large attachment passed through SMEV's file storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefAttachmentHeader {
    /// The file's id in SMEV's storage.
    pub uuid: String,
    /// The file's GOST hash, base64.
    pub hash: String,
    /// The file's MIME type.
    pub mime_type: String,
    /// A detached PKCS#7 signature of the file.
    pub signature_pkcs7: Option<Vec<u8>>,
}

/// The bytes of an attachment carried in the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentContent {
    /// The Id a header's `content_id` names.
    pub id: String,
    /// The bytes.
    pub content: Vec<u8>,
}

/// What a consumer sends (`SenderProvidedRequestData`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendRequest {
    /// The request's id.
    pub message_id: MessageId,
    /// The id of an earlier message this one continues.
    pub reference_message_id: Option<MessageId>,
    /// A code issued for this transaction by the portal, when the kind of data requires it.
    pub transaction_code: Option<String>,
    /// The sender's node, for multi-node information systems.
    pub node_id: Option<String>,
    /// When the request stops being useful (xs:dateTime).
    pub eol: Option<String>,
    /// The business content: one self-contained XML element.
    pub content: String,
    /// A `ds:Signature` of a person over the content, when the kind of data asks for one.
    pub personal_signature: Option<String>,
    /// Headers of attachments carried in the message.
    pub attachment_headers: Vec<AttachmentHeader>,
    /// Headers of attachments in SMEV's file storage.
    pub ref_attachment_headers: Vec<RefAttachmentHeader>,
    /// A test message: SMEV routes it to the provider's test queue.
    pub test_message: bool,
    /// The attachments' bytes, in `AttachmentContentList` (outside the signed element).
    pub attachments: Vec<AttachmentContent>,
}

impl SendRequest {
    /// A request with a fresh MessageID and this content, nothing else.
    pub fn new(content: impl Into<String>) -> SendRequest {
        SendRequest {
            message_id: MessageId::new_v1(),
            reference_message_id: None,
            transaction_code: None,
            node_id: None,
            eol: None,
            content: content.into(),
            personal_signature: None,
            attachment_headers: Vec::new(),
            ref_attachment_headers: Vec::new(),
            test_message: false,
            attachments: Vec::new(),
        }
    }
}

/// Why a provider refuses a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectCode {
    /// The requester may not have this data.
    AccessDenied,
    /// There is no such data.
    NoData,
    /// The request cannot be understood.
    UnknownRequestDescription,
    /// The provider failed.
    Failure,
}

impl RejectCode {
    /// The schema's value.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectCode::AccessDenied => "ACCESS_DENIED",
            RejectCode::NoData => "NO_DATA",
            RejectCode::UnknownRequestDescription => "UNKNOWN_REQUEST_DESCRIPTION",
            RejectCode::Failure => "FAILURE",
        }
    }

    /// The code with this schema value.
    pub fn parse(text: &str) -> Option<RejectCode> {
        [RejectCode::AccessDenied, RejectCode::NoData, RejectCode::UnknownRequestDescription, RejectCode::Failure]
            .into_iter()
            .find(|c| c.as_str() == text)
    }
}

/// One reason a provider gives for refusing a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The category.
    pub code: RejectCode,
    /// A reason a person can read.
    pub description: String,
}

/// An intermediate status a provider reports before its final answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestStatus {
    /// The provider's status code.
    pub code: i32,
    /// Named values that go with the status.
    pub parameters: Vec<(String, String)>,
    /// A description a person can read.
    pub description: String,
}

/// A status SMEV itself reports about a message (for example its rejection after asynchronous checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsyncProcessingStatus {
    /// The message the status is about.
    pub original_message_id: String,
    /// The interaction status (`requestIsRejectedBySmev`, ...).
    pub category: String,
    /// Details a person can read.
    pub details: Option<String>,
    /// The fault, when the status is a rejection.
    pub fault: Option<SmevFault>,
}

/// What a response carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseBody {
    /// The answer's business content.
    Content {
        /// One self-contained XML element.
        content: String,
        /// A person's `ds:Signature` over it.
        personal_signature: Option<String>,
        /// Headers of attachments carried in the message.
        attachment_headers: Vec<AttachmentHeader>,
    },
    /// The request is refused.
    Rejected(Vec<Rejection>),
    /// An intermediate status.
    Status(RequestStatus),
    /// A status from SMEV (only SMEV sends these).
    AsyncStatus(AsyncProcessingStatus),
}

/// What a provider sends (`SenderProvidedResponseData`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendResponse {
    /// The response's own id.
    pub message_id: MessageId,
    /// Where it goes: the request's `ReplyTo`, copied.
    pub to: String,
    /// The answer.
    pub body: ResponseBody,
    /// The attachments' bytes.
    pub attachments: Vec<AttachmentContent>,
}

/// Which messages a poll asks for (`MessageTypeSelector`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageTypeSelector {
    /// Only messages of this kind of data; any kind when `None`.
    pub kind: Option<KindOfData>,
    /// The time of the poll (xs:dateTime); part of what is signed, so a poll cannot be replayed later.
    pub timestamp: String,
    /// The polling node.
    pub node_id: Option<String>,
}

/// An acknowledgement of a delivered message (`AckTargetMessage`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// The delivered message's id (from its `MessageMetadata/MessageId`).
    pub message_id: String,
    /// Whether the recipient accepted it.
    pub accepted: bool,
}

/// A poll for asynchronous processing statuses (`GetStatusRequest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetStatus {
    /// The time of the poll (xs:dateTime).
    pub timestamp: String,
}

/// `MessageMetadata/MessageType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// A request to one provider.
    Request,
    /// A request to every subscriber.
    Broadcast,
    /// A response.
    Response,
}

impl MessageType {
    /// The schema's value.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Request => "REQUEST",
            MessageType::Broadcast => "BROADCAST",
            MessageType::Response => "RESPONSE",
        }
    }

    /// The type with this schema value.
    pub fn parse(text: &str) -> Option<MessageType> {
        [MessageType::Request, MessageType::Broadcast, MessageType::Response].into_iter().find(|t| t.as_str() == text)
    }
}

/// A sender or recipient in metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    /// The information system's mnemonic.
    pub mnemonic: Option<String>,
    /// Its name for people.
    pub human_readable_name: String,
}

/// What SMEV says about a message it queued or delivers (`MessageMetadata`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMetadata {
    /// SMEV's id of the message (the one to acknowledge).
    pub message_id: Option<String>,
    /// Request, broadcast or response.
    pub message_type: MessageType,
    /// Who sent it.
    pub sender: Option<Party>,
    /// When it was sent (xs:dateTime).
    pub sending_timestamp: String,
    /// Who receives it.
    pub recipient: Option<Party>,
    /// When it was delivered (xs:dateTime).
    pub delivery_timestamp: Option<String>,
    /// The interaction status.
    pub status: Option<String>,
}
