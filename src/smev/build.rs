//! Envelope builders: typed messages to signed SOAP envelope text, in the element order of the official schemas.
//!
//! Client-side builders (`send_request`, `get_request`, ...) make what an information system sends; server-side
//! builders (`send_request_response`, `get_request_response`, `fault`, ...) make what SMEV answers, for mock-smev.
#![forbid(unsafe_code)]

use super::message::*;
use super::{FaultKind, MessageId, SmevError, SmevFault, Version, SOAP_ENV_NS};
use crate::dsig::{Placement, Signer};
use crate::xml::escape::{escape, Escape};
use crate::xml::{self, Limits};
use base64::Engine as _;
use std::borrow::Cow;

/// Escapes text content.
fn esc(s: &str) -> Cow<'_, str> {
    escape(s, Escape::Text)
}

/// Escapes an attribute value (always written in double quotes).
fn esc_attr(s: &str) -> Cow<'_, str> {
    escape(s, Escape::Attribute)
}

/// A string builder for envelopes; names are written with their prefixes (`ns:` types, `b:` basic, `f:` faults).
struct Out {
    s: String,
    /// Whether business content is written as given, without parsing it first (see
    /// [`send_response_unsigned_trusted`]).
    trust_content: bool,
}

impl Out {
    fn new(capacity: usize) -> Out {
        Out { s: String::with_capacity(capacity), trust_content: false }
    }

    fn open(&mut self, name: &str) {
        self.s.push('<');
        self.s.push_str(name);
        self.s.push('>');
    }

    fn open_id(&mut self, name: &str, id: &str) {
        self.s.push('<');
        self.s.push_str(name);
        self.s.push_str(" Id=\"");
        self.s.push_str(&esc_attr(id));
        self.s.push_str("\">");
    }

    fn close(&mut self, name: &str) {
        self.s.push_str("</");
        self.s.push_str(name);
        self.s.push('>');
    }

    fn leaf(&mut self, name: &str, text: &str) {
        self.open(name);
        self.s.push_str(&esc(text));
        self.close(name);
    }

    fn opt_leaf(&mut self, name: &str, text: Option<&str>) {
        if let Some(text) = text {
            self.leaf(name, text);
        }
    }

    fn empty(&mut self, name: &str) {
        self.s.push('<');
        self.s.push_str(name);
        self.s.push_str("/>");
    }

    fn raw(&mut self, xml: &str) {
        self.s.push_str(xml);
    }
}

/// Starts an envelope whose body holds `element` (a types-namespace element), declaring the namespaces used.
fn envelope_start(version: Version, element: &str) -> Out {
    let mut out = Out::new(2048);
    out.raw("<soap:Envelope xmlns:soap=\"");
    out.raw(SOAP_ENV_NS);
    out.raw("\"><soap:Header/><soap:Body><ns:");
    out.raw(element);
    out.raw(" xmlns:ns=\"");
    out.raw(version.types_ns());
    out.raw("\" xmlns:b=\"");
    out.raw(version.basic_ns());
    out.raw("\" xmlns:f=\"");
    out.raw(version.faults_ns());
    out.raw("\">");
    out
}

fn envelope_end(mut out: Out, element: &str) -> String {
    out.raw("</ns:");
    out.raw(element);
    out.raw("></soap:Body></soap:Envelope>");
    out.s
}

/// Checks that business content is one self-contained, namespaced XML element and returns just that element
/// (without an XML declaration or surrounding comments).
pub fn checked_content(content: &str) -> Result<&str, SmevError> {
    let doc = xml::parse(content, &Limits::default())?;
    let root = doc.root();
    if doc.element(root).ns.is_none() {
        return Err(SmevError::InvalidValue {
            field: "MessagePrimaryContent",
            reason: "the content's root element must be in a namespace".into(),
        });
    }
    // What edugate signs never holds a carriage return (`&#13;`): SMEV stacks disagree on how the SMEV transform
    // treats one, so a signature over it might not verify at the other end. Raw line ends are LF once parsed.
    if has_carriage_return(&doc, root) {
        return Err(SmevError::InvalidValue {
            field: "MessagePrimaryContent",
            reason: "the content holds a carriage return (&#13;), which SMEV stacks digest differently".into(),
        });
    }
    let span = doc.element(root).span.clone();
    let base = doc.source().as_ptr() as usize - content.as_ptr() as usize;
    Ok(&content[base + span.start..base + span.end])
}

/// Whether any text or attribute value in the subtree of `element` holds a carriage return.
fn has_carriage_return(doc: &xml::Document<'_>, element: xml::NodeId) -> bool {
    doc.element(element).attrs.iter().any(|a| a.value.contains('\r'))
        || doc.children(element).any(|child| match &doc.node(child).kind {
            xml::NodeKind::Text(text) => text.contains('\r'),
            xml::NodeKind::Element(_) => has_carriage_return(doc, child),
            _ => false,
        })
}

/// Checks that a personal signature is one `ds:Signature` element.
fn checked_signature(xml_text: &str) -> Result<&str, SmevError> {
    let doc = xml::parse(xml_text, &Limits::default())?;
    if !doc.is(doc.root(), crate::dsig::DSIG_NS, "Signature") {
        return Err(SmevError::InvalidValue { field: "PersonalSignature", reason: "must be a ds:Signature".into() });
    }
    Ok(xml_text.trim())
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn attachment_headers(out: &mut Out, headers: &[AttachmentHeader]) {
    if headers.is_empty() {
        return;
    }
    out.open("b:AttachmentHeaderList");
    for h in headers {
        out.open("b:AttachmentHeader");
        out.leaf("b:contentId", &h.content_id);
        out.leaf("b:MimeType", &h.mime_type);
        if let Some(sig) = &h.signature_pkcs7 {
            out.leaf("b:SignaturePKCS7", &b64(sig));
        }
        out.close("b:AttachmentHeader");
    }
    out.close("b:AttachmentHeaderList");
}

fn ref_attachment_headers(out: &mut Out, headers: &[RefAttachmentHeader]) {
    if headers.is_empty() {
        return;
    }
    out.open("b:RefAttachmentHeaderList");
    for h in headers {
        out.open("b:RefAttachmentHeader");
        out.leaf("b:uuid", &h.uuid);
        out.leaf("b:Hash", &h.hash);
        out.leaf("b:MimeType", &h.mime_type);
        if let Some(sig) = &h.signature_pkcs7 {
            out.leaf("b:SignaturePKCS7", &b64(sig));
        }
        out.close("b:RefAttachmentHeader");
    }
    out.close("b:RefAttachmentHeaderList");
}

fn attachment_contents(out: &mut Out, attachments: &[AttachmentContent]) {
    if attachments.is_empty() {
        return;
    }
    out.open("b:AttachmentContentList");
    for a in attachments {
        out.open("b:AttachmentContent");
        out.leaf("b:Id", &a.id);
        out.leaf("b:Content", &b64(&a.content));
        out.close("b:AttachmentContent");
    }
    out.close("b:AttachmentContentList");
}

fn primary_content(out: &mut Out, content: &str, personal_signature: Option<&str>) -> Result<(), SmevError> {
    out.open("b:MessagePrimaryContent");
    out.raw(if out.trust_content { content.trim() } else { checked_content(content)? });
    out.close("b:MessagePrimaryContent");
    if let Some(sig) = personal_signature {
        out.open("ns:PersonalSignature");
        out.raw(checked_signature(sig)?);
        out.close("ns:PersonalSignature");
    }
    Ok(())
}

/// Signs the element with `id` into the holder `holder` when a signer is given.
fn signed(xml: String, id: &str, holder: &'static str, signer: Option<&Signer>) -> Result<String, SmevError> {
    match signer {
        Some(signer) => Ok(signer.sign(&xml, id, Placement::Holder(holder))?),
        None => Ok(xml),
    }
}

const CALLER: &str = "CallerInformationSystemSignature";
const SMEV: &str = "SMEVSignature";

/// `SenderProvidedRequestData` with the given Id. Version 1.2 requires `ReferenceMessageID` and
/// `TransactionCode`: a first message references itself and has an empty transaction code.
fn sender_provided_request_data(out: &mut Out, v: Version, r: &SendRequest, id: &str) -> Result<(), SmevError> {
    let v12 = v == Version::V1_2;
    out.open_id("ns:SenderProvidedRequestData", id);
    out.leaf("ns:MessageID", r.message_id.as_str());
    let reference = r.reference_message_id.as_ref().or(v12.then_some(&r.message_id));
    out.opt_leaf("ns:ReferenceMessageID", reference.map(|m| m.as_str()));
    out.opt_leaf("ns:TransactionCode", r.transaction_code.as_deref().or(v12.then_some("")));
    out.opt_leaf("ns:NodeID", r.node_id.as_deref());
    out.opt_leaf("ns:EOL", r.eol.as_deref());
    primary_content(out, &r.content, r.personal_signature.as_deref())?;
    attachment_headers(out, &r.attachment_headers);
    ref_attachment_headers(out, &r.ref_attachment_headers);
    if r.test_message {
        out.empty("ns:TestMessage");
    }
    out.close("ns:SenderProvidedRequestData");
    Ok(())
}

/// `SendRequestRequest`: a consumer's request, signed over `SenderProvidedRequestData`.
pub fn send_request(version: Version, r: &SendRequest, signer: Option<&Signer>) -> Result<String, SmevError> {
    let mut out = envelope_start(version, "SendRequestRequest");
    sender_provided_request_data(&mut out, version, r, SIGNED_BY_CONSUMER)?;
    attachment_contents(&mut out, &r.attachments);
    signed(envelope_end(out, "SendRequestRequest"), SIGNED_BY_CONSUMER, CALLER, signer)
}

fn response_body(out: &mut Out, version: Version, body: &ResponseBody) -> Result<(), SmevError> {
    match body {
        ResponseBody::Content { content, personal_signature, attachment_headers: headers } => {
            primary_content(out, content, personal_signature.as_deref())?;
            attachment_headers(out, headers);
        }
        ResponseBody::Rejected(rejections) => {
            if rejections.is_empty() {
                return Err(SmevError::InvalidValue { field: "RequestRejected", reason: "at least one reason".into() });
            }
            for r in rejections {
                out.open("ns:RequestRejected");
                out.leaf("ns:RejectionReasonCode", r.code.as_str());
                out.leaf("ns:RejectionReasonDescription", &r.description);
                out.close("ns:RequestRejected");
            }
        }
        ResponseBody::Status(s) => {
            out.open("ns:RequestStatus");
            out.leaf("ns:StatusCode", &s.code.to_string());
            for (key, value) in &s.parameters {
                out.open("ns:StatusParameter");
                out.leaf("ns:Key", key);
                out.leaf("ns:Value", value);
                out.close("ns:StatusParameter");
            }
            out.leaf("ns:StatusDescription", &s.description);
            out.close("ns:RequestStatus");
        }
        ResponseBody::AsyncStatus(s) => async_processing_status(out, version, s),
    }
    Ok(())
}

fn async_processing_status(out: &mut Out, version: Version, s: &AsyncProcessingStatus) {
    out.open("ns:AsyncProcessingStatus");
    out.leaf("ns:OriginalMessageId", &s.original_message_id);
    out.leaf("ns:StatusCategory", &s.category);
    out.opt_leaf("ns:StatusDetails", s.details.as_deref());
    if let Some(fault) = &s.fault {
        // The element is a `basic:SmevFault`: `Code` and `Description` are always allowed; a fault with fields of
        // its own names its type in `xsi:type`.
        let kind = fault.kind.in_version(version);
        match kind.complex_type_name() {
            Some(name) => {
                out.raw("<ns:SmevFault xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"f:");
                out.raw(name);
                out.raw("\">");
            }
            None => out.open("ns:SmevFault"),
        }
        code_and_description(out, version, fault);
        fault_fields(out, &kind);
        out.close("ns:SmevFault");
    }
    out.close("ns:AsyncProcessingStatus");
}

/// `SenderProvidedResponseData` with the given Id.
fn sender_provided_response_data(out: &mut Out, version: Version, r: &SendResponse, id: &str) -> Result<(), SmevError> {
    out.open_id("ns:SenderProvidedResponseData", id);
    out.leaf("ns:MessageID", r.message_id.as_str());
    out.leaf("ns:To", &r.to);
    response_body(out, version, &r.body)?;
    out.close("ns:SenderProvidedResponseData");
    Ok(())
}

/// An unsigned `SendResponseRequest` whose business content the caller produced itself (the gateway's handlers
/// write it, or copy an element already parsed): the content is written as given rather than parsed first. The
/// envelope is parsed in full when it is signed, so malformed content still never leaves.
pub fn send_response_unsigned_trusted(version: Version, r: &SendResponse) -> Result<String, SmevError> {
    let mut out = envelope_start(version, "SendResponseRequest");
    out.trust_content = true;
    sender_provided_response_data(&mut out, version, r, SIGNED_BY_PROVIDER)?;
    attachment_contents(&mut out, &r.attachments);
    Ok(envelope_end(out, "SendResponseRequest"))
}

/// `SendResponseRequest`: a provider's answer, signed over `SenderProvidedResponseData`.
pub fn send_response(version: Version, r: &SendResponse, signer: Option<&Signer>) -> Result<String, SmevError> {
    let mut out = envelope_start(version, "SendResponseRequest");
    sender_provided_response_data(&mut out, version, r, SIGNED_BY_PROVIDER)?;
    attachment_contents(&mut out, &r.attachments);
    signed(envelope_end(out, "SendResponseRequest"), SIGNED_BY_PROVIDER, CALLER, signer)
}

fn selector(out: &mut Out, s: &MessageTypeSelector) {
    out.open_id("b:MessageTypeSelector", SIGNED_BY_CALLER);
    if let Some(kind) = &s.kind {
        out.leaf("b:NamespaceURI", &kind.namespace_uri);
        out.leaf("b:RootElementLocalName", &kind.root_element);
    }
    out.leaf("b:Timestamp", &s.timestamp);
    out.opt_leaf("b:NodeID", s.node_id.as_deref());
    out.close("b:MessageTypeSelector");
}

/// `GetRequestRequest`: a provider's poll for requests, signed over the selector.
pub fn get_request(version: Version, s: &MessageTypeSelector, signer: Option<&Signer>) -> Result<String, SmevError> {
    let mut out = envelope_start(version, "GetRequestRequest");
    selector(&mut out, s);
    signed(envelope_end(out, "GetRequestRequest"), SIGNED_BY_CALLER, CALLER, signer)
}

/// `GetResponseRequest`: a consumer's poll for responses, signed over the selector.
pub fn get_response(version: Version, s: &MessageTypeSelector, signer: Option<&Signer>) -> Result<String, SmevError> {
    let mut out = envelope_start(version, "GetResponseRequest");
    selector(&mut out, s);
    signed(envelope_end(out, "GetResponseRequest"), SIGNED_BY_CALLER, CALLER, signer)
}

/// `AckRequest`: acknowledges a delivered message, signed over `AckTargetMessage`.
pub fn ack(version: Version, a: &Ack, signer: Option<&Signer>) -> Result<String, SmevError> {
    let mut out = envelope_start(version, "AckRequest");
    out.raw("<b:AckTargetMessage Id=\"");
    out.raw(SIGNED_BY_CALLER);
    out.raw(if a.accepted { "\" accepted=\"true\">" } else { "\" accepted=\"false\">" });
    out.raw(&esc(&a.message_id));
    out.close("b:AckTargetMessage");
    signed(envelope_end(out, "AckRequest"), SIGNED_BY_CALLER, CALLER, signer)
}

/// `GetStatusRequest`: a poll for asynchronous statuses, signed over `Timestamp` (the schema requires the
/// signature).
pub fn get_status(version: Version, g: &GetStatus, signer: Option<&Signer>) -> Result<String, SmevError> {
    let mut out = envelope_start(version, "GetStatusRequest");
    out.open_id("b:Timestamp", SIGNED_BY_CALLER);
    out.raw(&esc(&g.timestamp));
    out.close("b:Timestamp");
    signed(envelope_end(out, "GetStatusRequest"), SIGNED_BY_CALLER, CALLER, signer)
}

fn party(out: &mut Out, name: &str, p: &Party) {
    out.open(name);
    out.opt_leaf("ns:Mnemonic", p.mnemonic.as_deref());
    out.leaf("ns:HumanReadableName", &p.human_readable_name);
    out.close(name);
}

fn metadata(out: &mut Out, m: &MessageMetadata, id: Option<&str>) {
    match id {
        Some(id) => out.open_id("ns:MessageMetadata", id),
        None => out.open("ns:MessageMetadata"),
    }
    out.opt_leaf("ns:MessageId", m.message_id.as_deref());
    out.leaf("ns:MessageType", m.message_type.as_str());
    if let Some(s) = &m.sender {
        party(out, "ns:Sender", s);
    }
    out.leaf("ns:SendingTimestamp", &m.sending_timestamp);
    if let Some(r) = &m.recipient {
        party(out, "ns:Recipient", r);
    }
    out.opt_leaf("ns:DeliveryTimestamp", m.delivery_timestamp.as_deref());
    out.opt_leaf("ns:Status", m.status.as_deref());
    out.close("ns:MessageMetadata");
}

/// `SendRequestResponse` (SMEV's receipt), signed by SMEV over `MessageMetadata`.
pub fn send_request_response(
    version: Version,
    m: &MessageMetadata,
    smev: Option<&Signer>,
) -> Result<String, SmevError> {
    receipt(version, "SendRequestResponse", m, smev)
}

/// `SendResponseResponse` (SMEV's receipt), signed by SMEV over `MessageMetadata`.
pub fn send_response_response(
    version: Version,
    m: &MessageMetadata,
    smev: Option<&Signer>,
) -> Result<String, SmevError> {
    receipt(version, "SendResponseResponse", m, smev)
}

fn receipt(version: Version, element: &str, m: &MessageMetadata, smev: Option<&Signer>) -> Result<String, SmevError> {
    let mut out = envelope_start(version, element);
    metadata(&mut out, m, Some(SIGNED_BY_SMEV));
    signed(envelope_end(out, element), SIGNED_BY_SMEV, SMEV, smev)
}

/// Declares the envelope prefixes (`ns:` types, `b:` basic, `f:` faults of `version`) on the root of `element`, a
/// fragment this module wrote, so that it stands alone.
fn standalone(version: Version, element: String) -> String {
    let name_end = element.find([' ', '>', '/']).unwrap_or(element.len());
    let mut out = String::with_capacity(element.len() + 300);
    out.push_str(&element[..name_end]);
    for (prefix, ns) in [("ns", version.types_ns()), ("b", version.basic_ns()), ("f", version.faults_ns())] {
        out.push_str(" xmlns:");
        out.push_str(prefix);
        out.push_str("=\"");
        out.push_str(ns);
        out.push('"');
    }
    out.push_str(&element[name_end..]);
    out
}

/// A consumer's `SenderProvidedRequestData` alone and self-contained, as `version` writes it, with `Id` `id`. SMEV
/// delivers in the version of the endpoint that polls: mock-smev re-expresses a request sent in the other version
/// with this (the business content and `PersonalSignature` are carried as they were sent).
pub fn sender_provided_request_data_in(version: Version, r: &SendRequest, id: &str) -> Result<String, SmevError> {
    let mut out = Out::new(r.content.len() + 1024);
    sender_provided_request_data(&mut out, version, r, id)?;
    Ok(standalone(version, out.s))
}

/// A provider's `SenderProvidedResponseData` alone and self-contained, as `version` writes it, with `Id` `id` (see
/// [`sender_provided_request_data_in`]).
pub fn sender_provided_response_data_in(version: Version, r: &SendResponse, id: &str) -> Result<String, SmevError> {
    let mut out = Out::new(1024);
    sender_provided_response_data(&mut out, version, r, id)?;
    Ok(standalone(version, out.s))
}

/// A request as SMEV delivers it to the provider.
#[derive(Debug, Clone)]
pub struct DeliveredRequest<'a> {
    /// The sender's `SenderProvidedRequestData`, verbatim and self-contained (see
    /// [`crate::xml::Document::self_contained_source`]), so the sender's signature still verifies.
    pub sender_provided_data: &'a str,
    /// What SMEV says about the message.
    pub metadata: MessageMetadata,
    /// Where the response goes (an opaque token the provider copies into `To`).
    pub reply_to: Option<String>,
    /// The sender's `ds:Signature`, verbatim.
    pub sender_signature: Option<&'a str>,
    /// The attachments' bytes.
    pub attachments: Vec<AttachmentContent>,
}

/// `GetRequestResponse`: one request, or none when the queue is empty; signed by SMEV over `Request`.
pub fn get_request_response(
    version: Version,
    request: Option<&DeliveredRequest<'_>>,
    smev: Option<&Signer>,
) -> Result<String, SmevError> {
    let mut out = envelope_start(version, "GetRequestResponse");
    let Some(r) = request else { return Ok(envelope_end(out, "GetRequestResponse")) };
    out.open("ns:RequestMessage");
    out.open_id("ns:Request", SIGNED_BY_SMEV);
    out.raw(r.sender_provided_data);
    metadata(&mut out, &r.metadata, None);
    out.opt_leaf("ns:ReplyTo", r.reply_to.as_deref());
    if let Some(sig) = r.sender_signature {
        out.open("ns:SenderInformationSystemSignature");
        out.raw(sig);
        out.close("ns:SenderInformationSystemSignature");
    }
    out.close("ns:Request");
    attachment_contents(&mut out, &r.attachments);
    out.close("ns:RequestMessage");
    signed(envelope_end(out, "GetRequestResponse"), SIGNED_BY_SMEV, SMEV, smev)
}

/// A response as SMEV delivers it to the consumer.
#[derive(Debug, Clone)]
pub struct DeliveredResponse<'a> {
    /// The id of the request this answers (required by 1.2).
    pub original_message_id: Option<String>,
    /// The request's transaction code (required by 1.2, where an empty one is written when absent).
    pub original_transaction_code: Option<String>,
    /// The id of the message this one continues (required by 1.2, where the original id is written when absent).
    pub reference_message_id: Option<String>,
    /// The provider's `SenderProvidedResponseData`, verbatim and self-contained.
    pub sender_provided_data: &'a str,
    /// What SMEV says about the message.
    pub metadata: MessageMetadata,
    /// The provider's `ds:Signature`, verbatim.
    pub sender_signature: Option<&'a str>,
    /// The attachments' bytes.
    pub attachments: Vec<AttachmentContent>,
}

/// `GetResponseResponse`: one response, or none when the queue is empty; signed by SMEV over `Response`.
pub fn get_response_response(
    version: Version,
    response: Option<&DeliveredResponse<'_>>,
    smev: Option<&Signer>,
) -> Result<String, SmevError> {
    let mut out = envelope_start(version, "GetResponseResponse");
    let Some(r) = response else { return Ok(envelope_end(out, "GetResponseResponse")) };
    out.open("ns:ResponseMessage");
    out.open_id("ns:Response", SIGNED_BY_SMEV);
    let v12 = version == Version::V1_2;
    out.opt_leaf("ns:OriginalMessageId", r.original_message_id.as_deref());
    out.opt_leaf("ns:OriginalTransactionCode", r.original_transaction_code.as_deref().or(v12.then_some("")));
    let reference = r.reference_message_id.as_deref().or(if v12 { r.original_message_id.as_deref() } else { None });
    out.opt_leaf("ns:ReferenceMessageID", reference);
    out.raw(r.sender_provided_data);
    metadata(&mut out, &r.metadata, None);
    if let Some(sig) = r.sender_signature {
        out.open("ns:SenderInformationSystemSignature");
        out.raw(sig);
        out.close("ns:SenderInformationSystemSignature");
    }
    out.close("ns:Response");
    attachment_contents(&mut out, &r.attachments);
    out.close("ns:ResponseMessage");
    signed(envelope_end(out, "GetResponseResponse"), SIGNED_BY_SMEV, SMEV, smev)
}

/// An SMEV-generated response carrying an asynchronous status (how SMEV tells a consumer its request was
/// rejected after being queued), as the `SenderProvidedResponseData` to put in a [`DeliveredResponse`].
pub fn async_status_response_data(
    version: Version,
    message_id: &MessageId,
    to: &str,
    s: &AsyncProcessingStatus,
) -> String {
    let mut out = Out::new(1024);
    out.raw("<ns:SenderProvidedResponseData xmlns:ns=\"");
    out.raw(version.types_ns());
    out.raw("\" xmlns:f=\"");
    out.raw(version.faults_ns());
    out.raw("\" xmlns:b=\"");
    out.raw(version.basic_ns());
    out.raw("\" Id=\"SIGNED_ASYNC_BY_SMEV\">");
    out.leaf("ns:MessageID", message_id.as_str());
    out.leaf("ns:To", to);
    async_processing_status(&mut out, version, s);
    out.close("ns:SenderProvidedResponseData");
    out.s
}

/// `AckResponse`.
pub fn ack_response(version: Version) -> String {
    let out = envelope_start(version, "AckResponse");
    envelope_end(out, "AckResponse")
}

/// `GetStatusResponse`: one status, or none; signed by SMEV over `AsyncProcessingStatusData`.
pub fn get_status_response(
    version: Version,
    status: Option<&AsyncProcessingStatus>,
    smev: Option<&Signer>,
) -> Result<String, SmevError> {
    let mut out = envelope_start(version, "GetStatusResponse");
    let Some(s) = status else { return Ok(envelope_end(out, "GetStatusResponse")) };
    out.open("ns:SmevAsyncProcessingMessage");
    out.open_id("ns:AsyncProcessingStatusData", SIGNED_BY_SMEV);
    async_processing_status(&mut out, version, s);
    out.close("ns:AsyncProcessingStatusData");
    out.close("ns:SmevAsyncProcessingMessage");
    signed(envelope_end(out, "GetStatusResponse"), SIGNED_BY_SMEV, SMEV, smev)
}

/// `Code` and `Description`, where the fault's type has them; a `Code` longer than the version allows is cut.
fn code_and_description(out: &mut Out, version: Version, f: &SmevFault) {
    if let Some(code) = f.code.as_deref() {
        let max = super::fault::code_max_chars(version);
        let cut = code.char_indices().nth(max).map_or(code, |(at, _)| &code[..at]);
        out.leaf("b:Code", cut);
    }
    out.opt_leaf("b:Description", f.description.as_deref());
}

/// One `ValidationError`; its `errorPosition` is an `xs:int`, so a position outside it is clamped.
fn validation_error(out: &mut Out, position: i64, message: &str) {
    let position = position.clamp(i64::from(i32::MIN), i64::from(i32::MAX));
    out.raw("<f:ValidationError errorPosition=\"");
    out.raw(&position.to_string());
    out.raw("\">");
    out.raw(&esc(message));
    out.close("f:ValidationError");
}

/// The fields the faults schema adds to `kind`'s type, in the schema's order.
fn fault_fields(out: &mut Out, kind: &FaultKind) {
    match kind {
        FaultKind::InvalidContent(errors) => {
            // The schema requires at least one.
            if errors.is_empty() {
                validation_error(out, -1, "the content does not match the kind of data's schema");
            }
            for e in errors {
                validation_error(out, e.position, &e.message);
            }
        }
        FaultKind::SignatureVerification(k) => out.leaf("f:SignatureVerificationFault", k.as_str()),
        FaultKind::BusinessDataTypeIsNotSupported { namespace_uri, root_element } => {
            out.leaf("f:RootElementLocalName", root_element);
            out.leaf("f:RootElementNamespaceURI", namespace_uri);
        }
        FaultKind::DestinationOverflow { broker, destination } => {
            out.leaf("f:MessageBrokerAddress", broker);
            out.leaf("f:DestinationName", destination);
        }
        FaultKind::QuoteLimitExceeded { remained_total_quote_size, real_total_attachment_size } => {
            out.leaf("f:RemainedTotalQuoteSize", &remained_total_quote_size.to_string());
            out.leaf("f:RealTotalAttachmentSize", &real_total_attachment_size.to_string());
        }
        FaultKind::AttachmentSizeLimitExceeded { permitted_total_attachment_size, real_total_attachment_size } => {
            out.leaf("f:PermittedTotalAttachmentSize", &permitted_total_attachment_size.to_string());
            out.leaf("f:RealTotalAttachmentSize", &real_total_attachment_size.to_string());
        }
        _ => {}
    }
}

/// A SOAP fault envelope with the typed SMEV detail, exactly as the faults schema of `version` types it: a fault
/// the version lacks becomes its closest one ([`FaultKind::in_version`]); a `basic:Void` fault is an empty element
/// (its message stays in `faultstring`); the others carry `Code` and `Description` when given, then their fields.
pub fn fault(version: Version, f: &SmevFault) -> String {
    let mut out = Out::new(1024);
    out.raw("<soap:Envelope xmlns:soap=\"");
    out.raw(SOAP_ENV_NS);
    out.raw("\"><soap:Body><soap:Fault>");
    out.leaf("faultcode", &f.faultcode);
    out.leaf("faultstring", &f.faultstring);
    let kind = f.kind.in_version(version);
    if kind != FaultKind::Unspecified {
        out.raw("<detail><f:");
        out.raw(kind.name());
        out.raw(" xmlns:f=\"");
        out.raw(version.faults_ns());
        out.raw("\" xmlns:b=\"");
        out.raw(version.basic_ns());
        out.raw("\">");
        if kind.has_code_and_description(version) {
            code_and_description(&mut out, version, f);
        }
        fault_fields(&mut out, &kind);
        out.raw("</f:");
        out.raw(kind.name());
        out.raw("></detail>");
    }
    out.raw("</soap:Fault></soap:Body></soap:Envelope>");
    out.s
}

/// An unsigned `SendRequestRequest` or `SendResponseRequest` built earlier (as the gateway's outbox keeps them)
/// with a new MessageID: SMEV refused the old one as stale. Only the id's text changes; the envelope is signed
/// afresh when it is sent.
pub fn renew_message_id(unsigned: &str) -> Result<(String, MessageId), SmevError> {
    let doc = xml::parse(unsigned, &Limits::default())?;
    let call = super::parse::body_child(&doc)?;
    let data = doc
        .child_elements(call)
        .next()
        .filter(|&d| matches!(doc.element(d).local, "SenderProvidedRequestData" | "SenderProvidedResponseData"))
        .ok_or_else(|| SmevError::Malformed("no sender's data to renew the MessageID of".into()))?;
    let id = doc
        .child_elements(data)
        .find(|&n| doc.element(n).local == "MessageID")
        .ok_or_else(|| SmevError::Malformed("the sender's data has no MessageID".into()))?;
    let element = doc.element(id);
    let text_start = element.start_tag_end;
    let text_end = unsigned[..element.span.end]
        .rfind("</")
        .filter(|&end| end >= text_start)
        .ok_or_else(|| SmevError::Malformed("an empty MessageID".into()))?;
    let fresh = MessageId::new_v1();
    let mut out = String::with_capacity(unsigned.len());
    out.push_str(&unsigned[..text_start]);
    out.push_str(fresh.as_str());
    out.push_str(&unsigned[text_end..]);
    Ok((out, fresh))
}

#[cfg(test)]
mod renew_tests {
    use super::*;

    #[test]
    fn renewing_changes_only_the_message_id() {
        let response = SendResponse {
            message_id: MessageId::new_v1(),
            to: "to".into(),
            body: ResponseBody::Content {
                content: "<a:X xmlns:a=\"urn:a\">MessageID</a:X>".into(),
                personal_signature: None,
                attachment_headers: vec![],
            },
            attachments: Vec::new(),
        };
        let unsigned = send_response_unsigned_trusted(Version::V1_3, &response).unwrap();
        let (renewed, fresh) = renew_message_id(&unsigned).unwrap();
        assert_ne!(fresh, response.message_id);
        assert_eq!(renewed, unsigned.replace(response.message_id.as_str(), fresh.as_str()));
        assert!(renew_message_id("<x/>").is_err());
    }
}
