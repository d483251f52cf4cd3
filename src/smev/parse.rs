//! Envelope parsers: SOAP envelopes to typed messages, checking element order and cardinality as the schemas set
//! them. Client-side parsers read what SMEV answers; [`parse_call`] reads what an information system sends
//! (mock-smev's side). Results carry the [`NodeId`]s of the signed elements so callers can check signatures cover
//! exactly what they process.
#![forbid(unsafe_code)]

use super::fault::ValidationError;
use super::message::*;
use super::{FaultKind, MessageId, Operation, SignatureFaultKind, SmevError, SmevFault, Version, SOAP_ENV_NS};
use crate::xml::{Document, NodeId};
use base64::Engine as _;

fn malformed(what: impl Into<String>) -> SmevError {
    SmevError::Malformed(what.into())
}

/// Reads an element's children in order, as a schema sequence.
struct Seq<'d, 'a> {
    doc: &'d Document<'a>,
    parent: NodeId,
    kids: Vec<NodeId>,
    next: usize,
}

impl<'d, 'a> Seq<'d, 'a> {
    fn new(doc: &'d Document<'a>, parent: NodeId) -> Self {
        Seq { doc, parent, kids: doc.child_elements(parent).collect(), next: 0 }
    }

    /// The next child if it is `{ns}local`.
    fn opt(&mut self, ns: &str, local: &str) -> Option<NodeId> {
        let &id = self.kids.get(self.next)?;
        if self.doc.is(id, ns, local) {
            self.next += 1;
            Some(id)
        } else {
            None
        }
    }

    /// The next child, which must be `{ns}local`.
    fn req(&mut self, ns: &str, local: &str) -> Result<NodeId, SmevError> {
        self.opt(ns, local).ok_or_else(|| {
            let found = self.kids.get(self.next).map_or("nothing".to_string(), |&k| self.doc.describe(k));
            malformed(format!("{} must have {local} here, found {found}", self.doc.element(self.parent).local))
        })
    }

    /// Text of an optional leaf.
    fn opt_text(&mut self, ns: &str, local: &str) -> Option<String> {
        self.opt(ns, local).map(|n| self.doc.text(n))
    }

    /// Text of a required leaf.
    fn req_text(&mut self, ns: &str, local: &str) -> Result<String, SmevError> {
        let n = self.req(ns, local)?;
        Ok(self.doc.text(n))
    }

    /// Every consecutive child named `{ns}local`.
    fn many(&mut self, ns: &str, local: &str) -> Vec<NodeId> {
        let mut out = Vec::new();
        while let Some(n) = self.opt(ns, local) {
            out.push(n);
        }
        out
    }

    /// Nothing may follow.
    fn end(&self) -> Result<(), SmevError> {
        match self.kids.get(self.next) {
            None => Ok(()),
            Some(&k) => Err(malformed(format!(
                "unexpected {} in {}",
                self.doc.describe(k),
                self.doc.element(self.parent).local
            ))),
        }
    }
}

/// The first element child of `soap:Body`, after checking the envelope's shape.
pub fn body_child(doc: &Document<'_>) -> Result<NodeId, SmevError> {
    let root = doc.root();
    if !doc.is(root, SOAP_ENV_NS, "Envelope") {
        return Err(malformed(format!("the document element is {}, not a SOAP 1.1 Envelope", doc.describe(root))));
    }
    let body = doc.child(root, SOAP_ENV_NS, "Body").ok_or_else(|| malformed("the envelope has no soap:Body"))?;
    let mut kids = doc.child_elements(body);
    let first = kids.next().ok_or_else(|| malformed("soap:Body is empty"))?;
    if kids.next().is_some() {
        return Err(malformed("soap:Body has more than one element"));
    }
    Ok(first)
}

/// Whether the envelope has a `soap:Header` (SMEV answers `PoorSOAPEnvelopeFormat` when it has not).
pub fn has_header(doc: &Document<'_>) -> bool {
    doc.child(doc.root(), SOAP_ENV_NS, "Header").is_some()
}

/// Reads a `soap:Fault` into a typed fault.
pub fn read_fault(doc: &Document<'_>, fault: NodeId) -> SmevFault {
    let leaf = |name: &str| {
        doc.child_elements(fault).find(|&c| doc.element(c).local == name).map(|c| doc.text(c).trim().to_string())
    };
    let faultcode = leaf("faultcode").unwrap_or_default();
    let faultstring = leaf("faultstring").unwrap_or_default();
    let detail = doc.child_elements(fault).find(|&c| doc.element(c).local == "detail");
    let typed = detail.and_then(|d| doc.child_elements(d).next());
    let (kind, code, description) = match typed {
        Some(t) => read_fault_detail(doc, t),
        None => (FaultKind::Unspecified, None, None),
    };
    SmevFault { kind, faultcode, faultstring, code, description }
}

/// Reads a typed fault element (a fault detail, or `SmevFault` inside `AsyncProcessingStatus`, whose type is in
/// `xsi:type`). Both forms are read: the schema's (a `basic:Void` fault empty, size details present) and the older
/// one mock-smev sent (`Description` on every fault, no size details: the sizes read as 0).
fn read_fault_detail(doc: &Document<'_>, t: NodeId) -> (FaultKind, Option<String>, Option<String>) {
    let child_text = |name: &str| {
        doc.child_elements(t).find(|&c| doc.element(c).local == name).map(|c| doc.text(c).trim().to_string())
    };
    let size = |name: &str| child_text(name).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
    let name = match doc.element(t).local {
        "SmevFault" => doc
            .element(t)
            .attrs
            .iter()
            .find(|a| a.local == "type")
            .map(|a| a.value.rsplit(':').next().unwrap_or("").to_string())
            .unwrap_or_default(),
        other => other.to_string(),
    };
    let kind = match name.as_str() {
        "MessageIsAlreadySent" => FaultKind::MessageIsAlreadySent,
        "StaleMessageId" => FaultKind::StaleMessageId,
        "SMEVFailure" => FaultKind::SmevFailure,
        "EndOfLifeReached" => FaultKind::EndOfLifeReached,
        "DestinationOverflow" => FaultKind::DestinationOverflow {
            broker: child_text("MessageBrokerAddress").unwrap_or_default(),
            destination: child_text("DestinationName").unwrap_or_default(),
        },
        "QuoteLimitExceeded" => FaultKind::QuoteLimitExceeded {
            remained_total_quote_size: size("RemainedTotalQuoteSize"),
            real_total_attachment_size: size("RealTotalAttachmentSize"),
        },
        "InvalidContent" => FaultKind::InvalidContent(
            doc.child_elements(t)
                .filter(|&c| doc.element(c).local == "ValidationError")
                .map(|c| ValidationError {
                    message: doc.text(c),
                    position: doc.attr(c, "errorPosition").and_then(|p| p.trim().parse().ok()).unwrap_or(-1),
                })
                .collect(),
        ),
        "SignatureVerificationFault" => match child_text("SignatureVerificationFault") {
            Some(sub) => {
                SignatureFaultKind::parse(&sub).map_or(FaultKind::Unspecified, FaultKind::SignatureVerification)
            }
            None => FaultKind::SignatureVerification(SignatureFaultKind::SignatureIsInvalid),
        },
        "SenderIsNotRegistered" => FaultKind::SenderIsNotRegistered,
        "RecipientIsNotFound" => FaultKind::RecipientIsNotFound,
        "AccessDenied" => FaultKind::AccessDenied,
        "BusinessDataTypeIsNotSupported" => FaultKind::BusinessDataTypeIsNotSupported {
            namespace_uri: child_text("RootElementNamespaceURI").unwrap_or_default(),
            root_element: child_text("RootElementLocalName").unwrap_or_default(),
        },
        "InvalidMessageIdFormat" => FaultKind::InvalidMessageIdFormat,
        "TransactionCodeInvalid" => FaultKind::TransactionCodeInvalid,
        "UnknownMessageType" => FaultKind::UnknownMessageType,
        "AttachmentSizeLimitExceeded" => FaultKind::AttachmentSizeLimitExceeded {
            permitted_total_attachment_size: size("PermittedTotalAttachmentSize"),
            real_total_attachment_size: size("RealTotalAttachmentSize"),
        },
        "TargetMessageIsNotFound" => FaultKind::TargetMessageIsNotFound,
        "PersonalAccessDenied" => FaultKind::PersonalAccessDenied,
        "AttachmentContentMiscoordination" => FaultKind::AttachmentContentMiscoordination,
        "RequestIsNotFound" => FaultKind::RequestIsNotFound,
        "IncorrectResponseContentType" => FaultKind::IncorrectResponseContentType,
        _ => FaultKind::Unspecified,
    };
    (kind, child_text("Code"), child_text("Description"))
}

/// The body's element, which must be `local` in a message-exchange types namespace; a fault becomes
/// `SmevError::Fault`.
pub fn expect_body(doc: &Document<'_>, local: &str) -> Result<(Version, NodeId), SmevError> {
    let child = body_child(doc)?;
    if doc.is(child, SOAP_ENV_NS, "Fault") {
        return Err(SmevError::Fault(Box::new(read_fault(doc, child))));
    }
    let version = Version::from_types_ns(doc.element_ns(child))
        .ok_or_else(|| malformed(format!("{} is not an SMEV message-exchange element", doc.describe(child))))?;
    if doc.element(child).local != local {
        return Err(malformed(format!("expected {local}, found {}", doc.element(child).local)));
    }
    Ok((version, child))
}

fn party(doc: &Document<'_>, node: NodeId, ns: &str) -> Result<Party, SmevError> {
    let mut seq = Seq::new(doc, node);
    let mnemonic = seq.opt_text(ns, "Mnemonic");
    let human_readable_name = seq.opt_text(ns, "HumanReadableName").unwrap_or_default();
    seq.end()?;
    Ok(Party { mnemonic, human_readable_name })
}

/// Reads `MessageMetadata`.
pub fn metadata(doc: &Document<'_>, node: NodeId, v: Version) -> Result<MessageMetadata, SmevError> {
    let ns = v.types_ns();
    let mut seq = Seq::new(doc, node);
    let message_id = seq.opt_text(ns, "MessageId");
    let type_text = seq.req_text(ns, "MessageType")?;
    let message_type =
        MessageType::parse(type_text.trim()).ok_or_else(|| malformed(format!("unknown MessageType '{type_text}'")))?;
    let sender = seq.opt(ns, "Sender").map(|n| party(doc, n, ns)).transpose()?;
    let sending_timestamp = seq.req_text(ns, "SendingTimestamp")?;
    let recipient = seq.opt(ns, "Recipient").map(|n| party(doc, n, ns)).transpose()?;
    let delivery_timestamp = seq.opt_text(ns, "DeliveryTimestamp");
    let status = seq.opt_text(ns, "Status");
    seq.end()?;
    Ok(MessageMetadata { message_id, message_type, sender, sending_timestamp, recipient, delivery_timestamp, status })
}

/// Reads `SendRequestResponse` or `SendResponseResponse`: SMEV's receipt.
pub fn send_receipt(doc: &Document<'_>, operation: Operation) -> Result<(MessageMetadata, NodeId), SmevError> {
    let (v, body) = expect_body(doc, &operation.response_element())?;
    let mut seq = Seq::new(doc, body);
    let node = seq.req(v.types_ns(), "MessageMetadata")?;
    seq.opt(v.types_ns(), "SMEVSignature");
    seq.end()?;
    Ok((metadata(doc, node, v)?, node))
}

fn decode_b64(text: &str, field: &'static str) -> Result<Vec<u8>, SmevError> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| SmevError::InvalidValue { field, reason: "not base64".into() })
}

fn attachment_headers(
    doc: &Document<'_>,
    seq: &mut Seq<'_, '_>,
    v: Version,
) -> Result<Vec<AttachmentHeader>, SmevError> {
    let b = v.basic_ns();
    let Some(list) = seq.opt(b, "AttachmentHeaderList") else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    let mut items = Seq::new(doc, list);
    for h in items.many(b, "AttachmentHeader") {
        let mut s = Seq::new(doc, h);
        let content_id = s.req_text(b, "contentId")?;
        s.opt(b, "NamespaceUri");
        let mime_type = s.req_text(b, "MimeType")?;
        let signature_pkcs7 = s.opt_text(b, "SignaturePKCS7").map(|t| decode_b64(&t, "SignaturePKCS7")).transpose()?;
        s.opt(b, "Archive");
        s.end()?;
        out.push(AttachmentHeader { content_id, mime_type, signature_pkcs7 });
    }
    items.end()?;
    Ok(out)
}

fn ref_attachment_headers(
    doc: &Document<'_>,
    seq: &mut Seq<'_, '_>,
    v: Version,
) -> Result<Vec<RefAttachmentHeader>, SmevError> {
    let b = v.basic_ns();
    let Some(list) = seq.opt(b, "RefAttachmentHeaderList") else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    let mut items = Seq::new(doc, list);
    for h in items.many(b, "RefAttachmentHeader") {
        let mut s = Seq::new(doc, h);
        let uuid = s.req_text(b, "uuid")?;
        s.opt(b, "FileName");
        s.opt(b, "NamespaceUri");
        let hash = s.req_text(b, "Hash")?;
        let mime_type = s.req_text(b, "MimeType")?;
        let signature_pkcs7 = s.opt_text(b, "SignaturePKCS7").map(|t| decode_b64(&t, "SignaturePKCS7")).transpose()?;
        s.opt(b, "Archive");
        s.end()?;
        out.push(RefAttachmentHeader { uuid, hash, mime_type, signature_pkcs7 });
    }
    items.end()?;
    Ok(out)
}

/// Reads `AttachmentContentList`, if it is next.
fn attachment_contents(
    doc: &Document<'_>,
    seq: &mut Seq<'_, '_>,
    v: Version,
) -> Result<Vec<AttachmentContent>, SmevError> {
    let b = v.basic_ns();
    let Some(list) = seq.opt(b, "AttachmentContentList") else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    let mut items = Seq::new(doc, list);
    for a in items.many(b, "AttachmentContent") {
        let mut s = Seq::new(doc, a);
        let id = s.req_text(b, "Id")?;
        let content = decode_b64(&s.req_text(b, "Content")?, "AttachmentContent")?;
        s.end()?;
        out.push(AttachmentContent { id, content });
    }
    items.end()?;
    Ok(out)
}

/// The business content under `MessagePrimaryContent`: self-contained text and its kind of data.
fn primary_content(doc: &Document<'_>, node: NodeId) -> Result<(String, KindOfData), SmevError> {
    let mut kids = doc.child_elements(node);
    let root = kids.next().ok_or_else(|| malformed("MessagePrimaryContent is empty"))?;
    if kids.next().is_some() {
        return Err(malformed("MessagePrimaryContent holds more than one element"));
    }
    let e = doc.element(root);
    let ns = e.ns.map(|n| doc.ns_uri(n).to_string()).ok_or_else(|| malformed("the content's root has no namespace"))?;
    Ok((doc.self_contained_source(root).into_owned(), KindOfData::new(ns, e.local)))
}

fn personal_signature(doc: &Document<'_>, node: NodeId) -> Option<String> {
    doc.child_elements(node).next().map(|s| doc.self_contained_source(s).into_owned())
}

fn message_id(text: &str) -> Result<MessageId, SmevError> {
    MessageId::parse(text.trim())
}

/// Reads `SenderProvidedRequestData` (without its attachments' bytes, which sit outside it).
pub fn sender_provided_request_data(
    doc: &Document<'_>,
    node: NodeId,
    v: Version,
) -> Result<(SendRequest, KindOfData), SmevError> {
    let (t, b) = (v.types_ns(), v.basic_ns());
    let mut seq = Seq::new(doc, node);
    let message_id = message_id(&seq.req_text(t, "MessageID")?)?;
    let reference_message_id = seq.opt_text(t, "ReferenceMessageID").map(|m| self::message_id(&m)).transpose()?;
    let transaction_code = seq.opt_text(t, "TransactionCode");
    let node_id = seq.opt_text(t, "NodeID");
    let eol = seq.opt_text(t, "EOL");
    let (content, kind) = primary_content(doc, seq.req(b, "MessagePrimaryContent")?)?;
    let personal_signature = seq.opt(t, "PersonalSignature").and_then(|n| personal_signature(doc, n));
    let attachment_headers = attachment_headers(doc, &mut seq, v)?;
    let ref_attachment_headers = ref_attachment_headers(doc, &mut seq, v)?;
    seq.opt(t, "BusinessProcessMetadata");
    let test_message = seq.opt(t, "TestMessage").is_some();
    seq.end()?;
    let request = SendRequest {
        message_id,
        reference_message_id,
        transaction_code,
        node_id,
        eol,
        content,
        personal_signature,
        attachment_headers,
        ref_attachment_headers,
        test_message,
        attachments: Vec::new(),
    };
    Ok((request, kind))
}

fn async_status(doc: &Document<'_>, node: NodeId, v: Version) -> Result<AsyncProcessingStatus, SmevError> {
    let t = v.types_ns();
    let mut seq = Seq::new(doc, node);
    let original_message_id = seq.req_text(t, "OriginalMessageId")?;
    let category = seq.req_text(t, "StatusCategory")?;
    let details = seq.opt_text(t, "StatusDetails");
    seq.opt("urn://x-artefacts-smev-gov-ru/services/message-exchange/types/routing/1.3", "RoutingStatus");
    let fault = seq.opt(t, "SmevFault").map(|f| {
        let (kind, code, description) = read_fault_detail(doc, f);
        SmevFault {
            kind,
            faultcode: String::new(),
            faultstring: description.clone().unwrap_or_default(),
            code,
            description,
        }
    });
    seq.end()?;
    Ok(AsyncProcessingStatus { original_message_id, category, details, fault })
}

/// Reads `SenderProvidedResponseData`; the kind of data is known for content answers only.
pub fn sender_provided_response_data(
    doc: &Document<'_>,
    node: NodeId,
    v: Version,
) -> Result<(SendResponse, Option<KindOfData>), SmevError> {
    let (t, b) = (v.types_ns(), v.basic_ns());
    let mut seq = Seq::new(doc, node);
    let message_id = message_id(&seq.req_text(t, "MessageID")?)?;
    let to = seq.req_text(t, "To")?;
    let mut kind = None;
    let body = if let Some(content) = seq.opt(b, "MessagePrimaryContent") {
        let (content, k) = primary_content(doc, content)?;
        kind = Some(k);
        let personal_signature = seq.opt(t, "PersonalSignature").and_then(|n| personal_signature(doc, n));
        let attachment_headers = attachment_headers(doc, &mut seq, v)?;
        ref_attachment_headers(doc, &mut seq, v)?;
        ResponseBody::Content { content, personal_signature, attachment_headers }
    } else if let Some(status) = seq.opt(t, "RequestStatus") {
        let mut s = Seq::new(doc, status);
        let code_text = s.req_text(t, "StatusCode")?;
        let code = code_text.trim().parse().map_err(|_| SmevError::InvalidValue {
            field: "StatusCode",
            reason: format!("'{code_text}' is not an int"),
        })?;
        let mut parameters = Vec::new();
        for p in s.many(t, "StatusParameter") {
            let mut ps = Seq::new(doc, p);
            parameters.push((ps.req_text(t, "Key")?, ps.req_text(t, "Value")?));
            ps.end()?;
        }
        let description = s.req_text(t, "StatusDescription")?;
        s.end()?;
        ResponseBody::Status(RequestStatus { code, parameters, description })
    } else if let Some(status) = seq.opt(t, "AsyncProcessingStatus") {
        ResponseBody::AsyncStatus(async_status(doc, status, v)?)
    } else {
        let mut rejections = Vec::new();
        for r in seq.many(t, "RequestRejected") {
            let mut s = Seq::new(doc, r);
            let code_text = s.req_text(t, "RejectionReasonCode")?;
            let code = RejectCode::parse(code_text.trim())
                .ok_or_else(|| malformed(format!("unknown RejectionReasonCode '{code_text}'")))?;
            let description = s.req_text(t, "RejectionReasonDescription")?;
            s.end()?;
            rejections.push(Rejection { code, description });
        }
        if rejections.is_empty() {
            return Err(malformed("SenderProvidedResponseData has no content, rejection or status"));
        }
        ResponseBody::Rejected(rejections)
    };
    seq.end()?;
    Ok((SendResponse { message_id, to, body, attachments: Vec::new() }, kind))
}

/// A request delivered by `GetRequest`.
#[derive(Debug, Clone)]
pub struct ReceivedRequest {
    /// The `Request` element SMEV signed.
    pub request_node: NodeId,
    /// The `SenderProvidedRequestData` element the consumer signed.
    pub data_node: NodeId,
    /// The consumer's data.
    pub request: SendRequest,
    /// The content's kind of data.
    pub kind: KindOfData,
    /// SMEV's metadata (its `MessageId` is what to acknowledge).
    pub metadata: MessageMetadata,
    /// Where the response goes (copy into `To`).
    pub reply_to: Option<String>,
}

/// Reads `GetRequestResponse`: `None` when the queue is empty.
pub fn received_request(doc: &Document<'_>) -> Result<Option<ReceivedRequest>, SmevError> {
    let (v, body) = expect_body(doc, "GetRequestResponse")?;
    let t = v.types_ns();
    let mut seq = Seq::new(doc, body);
    let Some(message) = seq.opt(t, "RequestMessage") else {
        seq.end()?;
        return Ok(None);
    };
    seq.end()?;
    let mut m = Seq::new(doc, message);
    let request_node = m.req(t, "Request")?;
    let attachments = attachment_contents(doc, &mut m, v)?;
    m.opt(t, "SMEVSignature");
    m.end()?;
    let mut r = Seq::new(doc, request_node);
    let data_node = r.req(t, "SenderProvidedRequestData")?;
    let (mut request, kind) = sender_provided_request_data(doc, data_node, v)?;
    request.attachments = attachments;
    let metadata = metadata(doc, r.req(t, "MessageMetadata")?, v)?;
    doc.child(request_node, v.basic_ns(), "FSAttachmentsList").map(|_| r.opt(v.basic_ns(), "FSAttachmentsList"));
    let reply_to = r.opt_text(t, "ReplyTo");
    r.opt(t, "SenderInformationSystemSignature");
    r.end()?;
    Ok(Some(ReceivedRequest { request_node, data_node, request, kind, metadata, reply_to }))
}

/// A response delivered by `GetResponse`.
#[derive(Debug, Clone)]
pub struct ReceivedResponse {
    /// The `Response` element SMEV signed.
    pub response_node: NodeId,
    /// The `SenderProvidedResponseData` element the provider (or SMEV, for asynchronous statuses) signed.
    pub data_node: NodeId,
    /// The id of the request this answers.
    pub original_message_id: Option<String>,
    /// The provider's data.
    pub response: SendResponse,
    /// The content's kind of data, for content answers.
    pub kind: Option<KindOfData>,
    /// SMEV's metadata (its `MessageId` is what to acknowledge).
    pub metadata: MessageMetadata,
}

/// Reads `GetResponseResponse`: `None` when the queue is empty.
pub fn received_response(doc: &Document<'_>) -> Result<Option<ReceivedResponse>, SmevError> {
    let (v, body) = expect_body(doc, "GetResponseResponse")?;
    let t = v.types_ns();
    let mut seq = Seq::new(doc, body);
    let Some(message) = seq.opt(t, "ResponseMessage") else {
        seq.end()?;
        return Ok(None);
    };
    seq.end()?;
    let mut m = Seq::new(doc, message);
    let response_node = m.req(t, "Response")?;
    let attachments = attachment_contents(doc, &mut m, v)?;
    m.opt(t, "SMEVSignature");
    m.end()?;
    let mut r = Seq::new(doc, response_node);
    let original_message_id = r.opt_text(t, "OriginalMessageId");
    r.opt(t, "OriginalTransactionCode");
    r.opt(t, "ReferenceMessageID");
    let data_node = r.req(t, "SenderProvidedResponseData")?;
    let (mut response, kind) = sender_provided_response_data(doc, data_node, v)?;
    response.attachments = attachments;
    let metadata = metadata(doc, r.req(t, "MessageMetadata")?, v)?;
    r.opt(v.basic_ns(), "FSAttachmentsList");
    r.opt(t, "SenderInformationSystemSignature");
    r.end()?;
    Ok(Some(ReceivedResponse { response_node, data_node, original_message_id, response, kind, metadata }))
}

/// Reads `GetStatusResponse`: `None` when there is no status.
pub fn status_response(doc: &Document<'_>) -> Result<Option<AsyncProcessingStatus>, SmevError> {
    let (v, body) = expect_body(doc, "GetStatusResponse")?;
    let t = v.types_ns();
    let mut seq = Seq::new(doc, body);
    let Some(message) = seq.opt(t, "SmevAsyncProcessingMessage") else {
        seq.end()?;
        return Ok(None);
    };
    seq.end()?;
    let mut m = Seq::new(doc, message);
    let data = m.req(t, "AsyncProcessingStatusData")?;
    m.opt(t, "SMEVSignature");
    m.end()?;
    let mut d = Seq::new(doc, data);
    let status = async_status(doc, d.req(t, "AsyncProcessingStatus")?, v)?;
    d.end()?;
    Ok(Some(status))
}

/// Reads `AckResponse`.
pub fn ack_response(doc: &Document<'_>) -> Result<(), SmevError> {
    expect_body(doc, "AckResponse").map(|_| ())
}

/// What an information system asks of SMEV (mock-smev's side).
#[derive(Debug, Clone)]
pub enum CallBody {
    /// `SendRequestRequest`.
    SendRequest(SendRequest, KindOfData),
    /// `SendResponseRequest`.
    SendResponse(SendResponse, Option<KindOfData>),
    /// `GetRequestRequest`.
    GetRequest(MessageTypeSelector),
    /// `GetResponseRequest`.
    GetResponse(MessageTypeSelector),
    /// `AckRequest`.
    Ack(Ack),
    /// `GetStatusRequest`.
    GetStatus(GetStatus),
    /// `GetIncomingQueueStatisticsRequest` (1.2).
    GetIncomingQueueStatistics,
}

/// A parsed call.
#[derive(Debug, Clone)]
pub struct Call {
    /// The schema version of the call.
    pub version: Version,
    /// The operation.
    pub operation: Operation,
    /// The element the caller must have signed (`SenderProvidedRequestData`, `MessageTypeSelector`, ...).
    pub signed_node: NodeId,
    /// The `ds:Signature` in `CallerInformationSystemSignature`, if any.
    pub signature: Option<NodeId>,
    /// What was asked.
    pub body: CallBody,
}

/// Reads an incoming call: operation, signed element and content.
pub fn parse_call(doc: &Document<'_>) -> Result<Call, SmevError> {
    let child = body_child(doc)?;
    let version = Version::from_types_ns(doc.element_ns(child))
        .ok_or_else(|| malformed(format!("{} is not an SMEV message-exchange operation", doc.describe(child))))?;
    let operation = Operation::from_request_element(doc.element(child).local)
        .filter(|op| op.exists_in(version))
        .ok_or_else(|| malformed(format!("unknown operation element {}", doc.element(child).local)))?;
    let (t, b) = (version.types_ns(), version.basic_ns());
    let mut seq = Seq::new(doc, child);
    let (signed_node, body) = match operation {
        Operation::SendRequest => {
            let node = seq.req(t, "SenderProvidedRequestData")?;
            let (mut request, kind) = sender_provided_request_data(doc, node, version)?;
            request.attachments = attachment_contents(doc, &mut seq, version)?;
            (node, CallBody::SendRequest(request, kind))
        }
        Operation::SendResponse => {
            let node = seq.req(t, "SenderProvidedResponseData")?;
            let (mut response, kind) = sender_provided_response_data(doc, node, version)?;
            response.attachments = attachment_contents(doc, &mut seq, version)?;
            (node, CallBody::SendResponse(response, kind))
        }
        Operation::GetRequest | Operation::GetResponse => {
            let node = seq.req(b, "MessageTypeSelector")?;
            let selector = read_selector(doc, node, version)?;
            let body = if operation == Operation::GetRequest {
                CallBody::GetRequest(selector)
            } else {
                CallBody::GetResponse(selector)
            };
            (node, body)
        }
        Operation::Ack => {
            let node = seq.req(b, "AckTargetMessage")?;
            let accepted = doc.attr(node, "accepted").is_none_or(|a| matches!(a.trim(), "true" | "1"));
            (node, CallBody::Ack(Ack { message_id: doc.text(node).trim().to_string(), accepted }))
        }
        Operation::GetStatus => {
            let node = seq.req(b, "Timestamp")?;
            (node, CallBody::GetStatus(GetStatus { timestamp: doc.text(node).trim().to_string() }))
        }
        Operation::GetIncomingQueueStatistics => {
            seq.opt(t, "NodeID");
            let node = seq.req(b, "Timestamp")?;
            (node, CallBody::GetIncomingQueueStatistics)
        }
    };
    let holder = seq.opt(t, "CallerInformationSystemSignature");
    if version == Version::V1_3 {
        seq.opt("urn://x-artefacts-smev-gov-ru/services/message-exchange/types/routing/1.3", "Routing");
    }
    seq.end()?;
    let signature = holder.and_then(|h| doc.child(h, crate::dsig::DSIG_NS, "Signature"));
    Ok(Call { version, operation, signed_node, signature, body })
}

fn read_selector(doc: &Document<'_>, node: NodeId, v: Version) -> Result<MessageTypeSelector, SmevError> {
    let b = v.basic_ns();
    let mut seq = Seq::new(doc, node);
    let kind = match seq.opt_text(b, "NamespaceURI") {
        Some(ns) => Some(KindOfData::new(ns.trim(), seq.req_text(b, "RootElementLocalName")?.trim())),
        None => None,
    };
    let timestamp = seq.req_text(b, "Timestamp")?;
    let node_id = seq.opt_text(b, "NodeID");
    seq.end()?;
    Ok(MessageTypeSelector { kind, timestamp, node_id })
}
