//! The emulator's SOAP core: one SOAP request in, one SOAP answer out, synchronously. It authenticates the caller
//! by its signature and registered certificate, validates content, drives the queue engine and signs what it
//! delivers. The HTTP server runs it on a blocking thread; tests may call it directly.
#![forbid(unsafe_code)]
// A fault is this module's ordinary answer, not an exceptional path: returning it by value keeps the code plain,
// and its size (a few strings) is irrelevant next to the XML each call parses and signs.
#![allow(clippy::result_large_err)]

use crate::config::{Config, KindConfig, SystemConfig};
use crate::{Clock, Direction, Envelope, MessageHeader, QueueError, Queues, Selector, StoredMessage, SystemClock};
use base64::Engine as _;
use edugate::crypto::{Certificate, KeySource, PrivateKey};
use edugate::dsig::{verify_signature, DsigError, KeySelection, Signer, Validity, VerifyOptions};
use edugate::smev::build::{self, DeliveredRequest, DeliveredResponse};
use edugate::smev::parse::{self, Call, CallBody};
use edugate::smev::{
    format_datetime, AsyncProcessingStatus, FaultKind, KindOfData, MessageId, MessageMetadata, MessageType, Operation,
    Party, ResponseBody, SendRequest, SignatureFaultKind, SmevError, SmevFault, Version,
};
use edugate::xml::{self, Document, Limits};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use time::OffsetDateTime;

/// The parts of a stored call that a delivery copies.
struct Copied {
    /// The sender's signed element, self-contained: verbatim, or re-expressed in the polled version.
    data: String,
    /// The sender's `ds:Signature`, self-contained; none when the data was re-expressed (it would not verify).
    signature: Option<String>,
    /// The attachments' bytes.
    attachments: Vec<edugate::smev::AttachmentContent>,
}

/// The `Id` a re-expressed sender's element gets when the stored one had none.
const SENDER_DATA_ID: &str = "SIGNED_BY_SENDER";

/// A send call on its way into a queue.
struct Sent<'a, 'd> {
    /// The posted envelope, stored as it is.
    doc: &'a Document<'d>,
    /// `SendRequest` or `SendResponse`.
    operation: Operation,
    /// The attachments' total size, which a refusal for size or quota reports.
    attachment_bytes: i64,
}

/// The total size of attachments in bytes, as the faults schema's `xs:long` size fields count it.
fn attachment_bytes(attachments: &[edugate::smev::AttachmentContent]) -> i64 {
    attachments.iter().map(|a| i64::try_from(a.content.len()).unwrap_or(i64::MAX)).fold(0, i64::saturating_add)
}

/// A registered information system, loaded.
struct Registered {
    config: SystemConfig,
    cert: Certificate,
    der: Vec<u8>,
}

/// What the HTTP layer sends back.
#[derive(Debug, Clone)]
pub struct SoapReply {
    /// HTTP status: 200, or 500 for a SOAP fault as SOAP 1.1 requires.
    pub status: u16,
    /// The SOAP envelope.
    pub body: String,
    /// The operation, when the call could be read that far.
    pub operation: Option<Operation>,
    /// The fault answered, if any.
    pub fault: Option<SmevFault>,
}

/// A response the emulator received while acting as the portal.
#[derive(Debug, Clone)]
pub struct PortalResponse {
    /// The portal's request this answers.
    pub request_message_id: String,
    /// The response's own id.
    pub response_message_id: String,
    /// What the provider answered.
    pub body: ResponseBody,
    /// Whether the provider's and SMEV's signatures verified.
    pub signatures_valid: bool,
    /// The delivered envelope.
    pub envelope: String,
}

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A key, certificate or the engine failed.
    #[error("{what}: {source}")]
    Crypto {
        /// Which configuration key.
        what: String,
        /// Why.
        source: edugate::crypto::CryptoError,
    },
    /// The signing certificate does not match the key.
    #[error("{0}")]
    Signer(#[from] DsigError),
    /// The store could not be opened.
    #[error("storage.sled_path: {0}")]
    Store(#[from] crate::StoreError),
    /// A kind's schema does not compile.
    #[error("{0}")]
    Schema(#[from] crate::validate::SchemaStartError),
}

/// The SMEV 3 emulator.
pub struct Emulator {
    config: Config,
    queues: Arc<Queues>,
    clock: Arc<dyn Clock>,
    smev: Signer,
    portal: Signer,
    systems: Vec<Registered>,
    /// Asynchronous statuses waiting for `GetStatus`, per sender.
    statuses: Mutex<HashMap<String, VecDeque<AsyncProcessingStatus>>>,
    /// Responses the portal received, by its request's id, in arrival order (a provider may answer one request
    /// several times: EPGU's status changes are further responses to the application's request).
    portal_responses: Mutex<HashMap<String, Vec<PortalResponse>>>,
    /// The kinds' compiled schemas.
    schemas: crate::validate::Schemas,
}

fn load_signer(key: &std::path::Path, cert: &std::path::Path, what: &str) -> Result<Signer, StartError> {
    let crypto = |source| StartError::Crypto { what: what.to_string(), source };
    let key = PrivateKey::load(&KeySource::PemFile(key.to_path_buf())).map_err(crypto)?;
    let cert = Certificate::load(cert).map_err(crypto)?;
    Ok(Signer::new(key, cert)?)
}

fn ms_to_datetime(ms: u64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format_datetime(t)
}

fn fault(kind: FaultKind, message: impl Into<String>) -> SmevFault {
    SmevFault::new(kind, message)
}

fn signature_fault(kind: SignatureFaultKind, message: impl Into<String>) -> SmevFault {
    fault(FaultKind::SignatureVerification(kind), message)
}

impl Emulator {
    /// Starts an emulator over the configured store, on the system clock.
    pub fn open(config: Config) -> Result<Emulator, StartError> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let queues = match &config.storage.sled_path {
            Some(path) => {
                let store: Arc<dyn crate::Store> = Arc::new(crate::SledStore::open(path)?);
                Queues::open(store, clock.clone(), config.limits.queue_limits())?
            }
            None => Queues::in_memory(config.limits.queue_limits()),
        };
        Emulator::with_queues(config, queues, clock)
    }

    /// Starts an emulator over given queues and clock (tests use a manual clock).
    pub fn with_queues(config: Config, queues: Queues, clock: Arc<dyn Clock>) -> Result<Emulator, StartError> {
        let engine = edugate::crypto::EngineConfig { engine_id: config.engine.clone(), dynamic_path: None };
        edugate::crypto::init_engine(&engine).map_err(|source| StartError::Crypto { what: "engine".into(), source })?;
        let smev = load_signer(&config.key, &config.cert, "key/cert")?;
        let mut systems = Vec::new();
        for (i, s) in config.systems.iter().enumerate() {
            let cert = Certificate::load(&s.cert)
                .map_err(|source| StartError::Crypto { what: format!("systems[{i}].cert"), source })?;
            systems.push(Registered { der: cert.to_der(), cert, config: s.clone() });
        }
        let portal_config = config.systems.iter().find(|s| s.mnemonic == config.portal).expect("validated portal");
        let portal_key = portal_config.key.clone().expect("validated portal key");
        let portal = load_signer(&portal_key, &portal_config.cert, "portal key")?;
        let schemas = crate::validate::Schemas::compile(&config.kinds)?;
        Ok(Emulator {
            config,
            queues: Arc::new(queues),
            clock,
            smev,
            portal,
            systems,
            statuses: Mutex::new(HashMap::new()),
            portal_responses: Mutex::new(HashMap::new()),
            schemas,
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The queue engine, for the control API.
    pub fn queues(&self) -> &Queues {
        &self.queues
    }

    fn reply_fault(&self, version: Version, operation: Option<Operation>, f: SmevFault) -> SoapReply {
        // The fault as the version's schema has it, so that what is recorded is what goes on the wire.
        let f = SmevFault { kind: f.kind.in_version(version), ..f };
        tracing::info!(operation = operation.map(|o| o.name()), fault = f.kind.name(), "fault");
        SoapReply { status: 500, body: build::fault(version, &f), operation, fault: Some(f) }
    }

    fn reply(operation: Operation, body: String) -> SoapReply {
        SoapReply { status: 200, body, operation: Some(operation), fault: None }
    }

    /// Handles one SOAP request posted to the endpoint of `version`.
    pub fn handle(&self, version: Version, body: &[u8]) -> SoapReply {
        if body.len() > self.config.limits.max_body_bytes {
            let f =
                fault(FaultKind::Unspecified, format!("request body over {} bytes", self.config.limits.max_body_bytes));
            return SoapReply { status: 413, ..self.reply_fault(version, None, f) };
        }
        let limits = Limits { max_document_bytes: self.config.limits.max_body_bytes, ..Limits::default() };
        let doc = match xml::parse_bytes(body, &limits) {
            Ok(doc) => doc,
            Err(e) => return self.reply_fault(version, None, client_fault(format!("malformed XML: {e}"))),
        };
        let call = match parse::parse_call(&doc) {
            Ok(call) => call,
            Err(e) => {
                let f = if parse::body_child(&doc).is_ok() && !parse::has_header(&doc) {
                    signature_fault(SignatureFaultKind::PoorSoapEnvelopeFormat, "soap:Header is missing")
                } else {
                    client_fault(format!("malformed SMEV message: {e}"))
                };
                return self.reply_fault(version, None, f);
            }
        };
        let operation = call.operation;
        if call.version != version {
            let f = client_fault(format!(
                "a {} message posted to the {} endpoint",
                call.version.as_str(),
                version.as_str()
            ));
            return self.reply_fault(version, Some(operation), f);
        }
        if !parse::has_header(&doc) {
            let f = signature_fault(SignatureFaultKind::PoorSoapEnvelopeFormat, "soap:Header is missing");
            return self.reply_fault(version, Some(operation), f);
        }
        let result = self.authenticate(&doc, &call).and_then(|caller| self.dispatch(&doc, call.clone(), caller));
        match result {
            Ok(body) => {
                tracing::debug!(operation = operation.name(), "ok");
                Self::reply(operation, body)
            }
            Err(f) => self.reply_fault(version, Some(operation), f),
        }
    }

    /// Finds the registered system that signed the call, checking that the signature verifies and covers the
    /// element the operation requires.
    fn authenticate(&self, doc: &Document<'_>, call: &Call) -> Result<&Registered, SmevFault> {
        let signature = call.signature.ok_or_else(|| {
            signature_fault(SignatureFaultKind::NoSignatureFound, "CallerInformationSystemSignature is missing")
        })?;
        self.check_sender_certificate(doc, signature)?;
        let trusted: Vec<Certificate> = self.systems.iter().map(|s| s.cert.clone()).collect();
        let options = VerifyOptions {
            keys: KeySelection::Trusted(trusted),
            validity: if self.config.check_certificate_validity { Validity::Now } else { Validity::Skip },
            digest_only: false,
            ..VerifyOptions::default()
        };
        // A message with more signatures than the verifier's limit is refused before any is checked.
        edugate::dsig::find_signatures(doc, &options.limits).map_err(|e| dsig_fault(&e))?;
        let verified = match verify_signature(doc, signature, &options) {
            Ok(v) => v,
            Err(e) if !self.config.require_signatures && !matches!(e, DsigError::CertificateNotTrusted { .. }) => {
                tracing::warn!(error = %e, "accepting a bad signature (require_signatures = false)");
                return self.signer_of_unverified(doc, signature);
            }
            Err(e) => return Err(dsig_fault(&e)),
        };
        if !verified.covers(call.signed_node) {
            return Err(signature_fault(
                SignatureFaultKind::IncorrectSignatureTarget,
                format!("the signature must cover {}", doc.element(call.signed_node).local),
            ));
        }
        let der = verified.certificate.as_ref().map(|c| c.to_der()).unwrap_or_default();
        self.systems.iter().find(|s| s.der == der).ok_or_else(|| {
            signature_fault(SignatureFaultKind::CertificateIsNotFound, "the certificate is not registered")
        })
    }

    /// Refuses a signature whose KeyInfo certificate is over `limits.max_certificate_bytes` or is not a registered
    /// system's, on its bytes as sent: no caller's certificate is decoded (or kept by the verifier's certificate
    /// cache) unless it is one of the few registered. A signature without a certificate, or one too malformed to
    /// read, is left to the verifier, which refuses it with the exact fault.
    fn check_sender_certificate(&self, doc: &Document<'_>, signature: edugate::xml::NodeId) -> Result<(), SmevFault> {
        let Ok(model) = edugate::dsig::SignatureModel::read(doc, signature) else { return Ok(()) };
        let Some(der) = model.certificate_der else { return Ok(()) };
        let limit = self.config.limits.max_certificate_bytes;
        if der.len() > limit {
            let message = format!("the certificate is {} bytes, over the limit of {limit}", der.len());
            return Err(signature_fault(SignatureFaultKind::CertificateIsNotFound, message));
        }
        if !self.systems.iter().any(|s| s.der == der) {
            return Err(signature_fault(
                SignatureFaultKind::CertificateIsNotFound,
                "the certificate is not registered",
            ));
        }
        Ok(())
    }

    fn signer_of_unverified(
        &self,
        doc: &Document<'_>,
        signature: edugate::xml::NodeId,
    ) -> Result<&Registered, SmevFault> {
        let model = edugate::dsig::SignatureModel::read(doc, signature).map_err(|e| dsig_fault(&e))?;
        let der = model.certificate_der.unwrap_or_default();
        self.systems.iter().find(|s| s.der == der).ok_or_else(|| {
            signature_fault(SignatureFaultKind::CertificateIsNotFound, "the certificate is not registered")
        })
    }

    fn dispatch(&self, doc: &Document<'_>, call: Call, caller: &Registered) -> Result<String, SmevFault> {
        let v = call.version;
        let mnemonic = caller.config.mnemonic.as_str();
        match call.body {
            CallBody::SendRequest(request, kind) => self.send_request(doc, v, caller, request, kind),
            CallBody::SendResponse(response, kind) => {
                let original = decode_reply_to(&response.to).ok_or_else(|| {
                    fault(FaultKind::TargetMessageIsNotFound, format!("'To' ({}) names no request", response.to))
                })?;
                if let (Some(k), ResponseBody::Content { content, .. }) = (&kind, &response.body) {
                    check_content(self.schemas.of_namespace(&k.namespace_uri), content)?;
                }
                let kind = match kind {
                    Some(kind) => kind,
                    None => self.kind_of_message(&original),
                };
                let header = MessageHeader {
                    message_id: response.message_id.to_string(),
                    direction: Direction::Response,
                    sender: mnemonic.to_string(),
                    recipient: String::new(),
                    namespace_uri: kind.namespace_uri,
                    root_element: kind.root_element,
                    original_message_id: Some(original),
                    reference_message_id: None,
                    test_message: false,
                    sending_timestamp_ms: self.clock.now_ms(),
                };
                let attachment_bytes = attachment_bytes(&response.attachments);
                let sent = Sent { doc, operation: Operation::SendResponse, attachment_bytes };
                self.enqueue(v, caller, header, sent)
            }
            CallBody::GetRequest(selector) => {
                let got = self.receive(mnemonic, Direction::Request, selector.kind.as_ref())?;
                let Some(stored) = got else { return build::get_request_response(v, None, Some(&self.smev)).map_err(smev_fault) };
                self.deliver_request(v, &stored)
            }
            CallBody::GetResponse(selector) => {
                let got = self.receive(mnemonic, Direction::Response, selector.kind.as_ref())?;
                let Some(stored) = got else { return build::get_response_response(v, None, Some(&self.smev)).map_err(smev_fault) };
                self.deliver_response(v, &stored)
            }
            CallBody::Ack(ack) => {
                self.queues.ack(mnemonic, &ack.message_id, ack.accepted).map_err(queue_fault)?;
                Ok(build::ack_response(v))
            }
            CallBody::GetStatus(_) => {
                let status = self.statuses.lock().unwrap_or_else(|p| p.into_inner()).get_mut(mnemonic).and_then(|q| q.pop_front());
                build::get_status_response(v, status.as_ref(), Some(&self.smev)).map_err(smev_fault)
            }
            CallBody::GetIncomingQueueStatistics => Ok(format!(
                "<soap:Envelope xmlns:soap=\"{}\"><soap:Header/><soap:Body><ns:GetIncomingQueueStatisticsResponse xmlns:ns=\"{}\"/></soap:Body></soap:Envelope>",
                edugate::smev::SOAP_ENV_NS,
                v.types_ns()
            )),
        }
    }

    fn kind_of_message(&self, message_id: &str) -> KindOfData {
        match self.queues.get(message_id) {
            Ok(Some(m)) => KindOfData::new(m.record.header.namespace_uri, m.record.header.root_element),
            _ => KindOfData::new("", ""),
        }
    }

    fn registered_kind(&self, kind: &KindOfData) -> Option<&KindConfig> {
        self.config.kinds.iter().find(|k| k.namespace == kind.namespace_uri && k.root == kind.root_element)
    }

    fn send_request(
        &self,
        doc: &Document<'_>,
        v: Version,
        caller: &Registered,
        request: SendRequest,
        kind: KindOfData,
    ) -> Result<String, SmevFault> {
        self.check_message_id(&request.message_id)?;
        if let Some(eol) = &request.eol {
            let passed = edugate::smev::ids::parse_datetime(eol)
                .map(|t| t.unix_timestamp() * 1000 < self.clock.now_ms() as i64)
                .unwrap_or(false);
            if passed {
                return Err(fault(FaultKind::EndOfLifeReached, format!("EOL {eol} has passed")));
            }
        }
        let registered = self.registered_kind(&kind).ok_or_else(|| {
            fault(
                FaultKind::BusinessDataTypeIsNotSupported {
                    namespace_uri: kind.namespace_uri.clone(),
                    root_element: kind.root_element.clone(),
                },
                format!("kind of data {kind} is not registered"),
            )
        })?;
        check_content(self.schemas.of_kind(&registered.namespace, &registered.root), &request.content)?;
        let sent =
            Sent { doc, operation: Operation::SendRequest, attachment_bytes: attachment_bytes(&request.attachments) };
        let header = MessageHeader {
            message_id: request.message_id.to_string(),
            direction: Direction::Request,
            sender: caller.config.mnemonic.clone(),
            recipient: registered.provider.clone(),
            namespace_uri: kind.namespace_uri,
            root_element: kind.root_element,
            original_message_id: None,
            reference_message_id: request.reference_message_id.map(|m| m.to_string()),
            test_message: request.test_message,
            sending_timestamp_ms: self.clock.now_ms(),
        };
        self.enqueue(v, caller, header, sent)
    }

    fn check_message_id(&self, id: &MessageId) -> Result<(), SmevFault> {
        if id.version() != 1 {
            return Err(fault(FaultKind::InvalidMessageIdFormat, format!("MessageID {id} is not a version-1 UUID")));
        }
        let now_secs = self.clock.now_ms() / 1000;
        if let Some(t) = id.unix_time() {
            if t + self.config.limits.stale_message_id_secs < now_secs {
                return Err(fault(FaultKind::StaleMessageId, format!("MessageID {id} is too old")));
            }
        }
        Ok(())
    }

    fn enqueue(
        &self,
        v: Version,
        caller: &Registered,
        header: MessageHeader,
        sent: Sent<'_, '_>,
    ) -> Result<String, SmevFault> {
        let Sent { doc, operation, attachment_bytes } = sent;
        let message_id = header.message_id.clone();
        let direction = header.direction;
        let receipt = self
            .queues
            .send(Envelope { header, payload: doc.source().as_bytes().to_vec() })
            .map_err(|e| send_fault(e, attachment_bytes))?;
        tracing::info!(operation = operation.name(), sender = %caller.config.mnemonic, recipient = %receipt.recipient, message_id = %message_id, "queued");
        let status = receipt.status.as_str().to_string();
        self.statuses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(caller.config.mnemonic.clone())
            .or_default()
            .push_back(AsyncProcessingStatus {
                original_message_id: message_id.clone(),
                category: status.clone(),
                details: None,
                fault: None,
            });
        let metadata = MessageMetadata {
            message_id: Some(message_id),
            message_type: if direction == Direction::Request { MessageType::Request } else { MessageType::Response },
            sender: Some(self.party(&caller.config.mnemonic)),
            sending_timestamp: ms_to_datetime(receipt.accepted_ms),
            recipient: Some(self.party(&receipt.recipient)),
            delivery_timestamp: None,
            status: Some(status),
        };
        let built = if operation == Operation::SendRequest {
            build::send_request_response(v, &metadata, Some(&self.smev))
        } else {
            build::send_response_response(v, &metadata, Some(&self.smev))
        };
        built.map_err(smev_fault)
    }

    fn party(&self, mnemonic: &str) -> Party {
        let name = self.systems.iter().find(|s| s.config.mnemonic == mnemonic).map(|s| s.config.name.clone());
        Party { mnemonic: Some(mnemonic.to_string()), human_readable_name: name.unwrap_or_default() }
    }

    fn receive(
        &self,
        recipient: &str,
        direction: Direction,
        kind: Option<&KindOfData>,
    ) -> Result<Option<StoredMessage>, SmevFault> {
        let selector = kind.map(|k| Selector { namespace_uri: &k.namespace_uri, root_element: &k.root_element });
        self.queues.receive(recipient, direction, selector).map_err(queue_fault)
    }

    fn metadata_of(&self, stored: &StoredMessage, message_type: MessageType) -> MessageMetadata {
        let h = &stored.record.header;
        MessageMetadata {
            message_id: Some(h.message_id.clone()),
            message_type,
            sender: Some(self.party(&h.sender)),
            sending_timestamp: ms_to_datetime(h.sending_timestamp_ms),
            recipient: Some(self.party(&h.recipient)),
            delivery_timestamp: Some(ms_to_datetime(self.clock.now_ms())),
            status: Some("messageIsDelivered".into()),
        }
    }

    /// What a delivery copies from a stored call (the envelope exactly as the sender posted it), for a poller of
    /// version `polled`. The stored envelope is parsed once.
    ///
    /// Sent in the polled version: the signed data and the sender's signature, each made self-contained so they
    /// verify where they are put, and the attachments.
    ///
    /// Sent in the other version: SMEV delivers in the version of the endpoint that polls, so the signed data is
    /// re-expressed in that version (its element names live in the version's namespace, and 1.2 and 1.3 order and
    /// require fields differently). The sender's signature covered the element in its own namespace and cannot
    /// verify over the re-expressed one, so it is not delivered: SMEV's signature over the whole delivery vouches
    /// for it, and the business content and its `PersonalSignature` are carried unchanged (that signature still
    /// verifies). See docs/integrators.md, "Versions".
    fn copy_stored(stored: &StoredMessage, polled: Version) -> Result<Copied, SmevFault> {
        let text = std::str::from_utf8(&stored.payload)
            .map_err(|_| fault(FaultKind::SmevFailure, "stored message is not UTF-8"))?;
        let limits = Limits { max_document_bytes: usize::MAX, ..Limits::default() };
        let doc = xml::parse(text, &limits).map_err(|e| smev_fault(e.into()))?;
        let call = parse::parse_call(&doc).map_err(smev_fault)?;
        if call.version == polled {
            let data = doc.self_contained_source(call.signed_node).into_owned();
            let signature = call.signature.map(|s| doc.self_contained_source(s).into_owned());
            let attachments = match call.body {
                CallBody::SendRequest(r, _) => r.attachments,
                CallBody::SendResponse(r, _) => r.attachments,
                _ => Vec::new(),
            };
            return Ok(Copied { data, signature, attachments });
        }
        let id = doc.attr(call.signed_node, "Id").unwrap_or(SENDER_DATA_ID).to_string();
        tracing::info!(
            sent = call.version.as_str(),
            polled = polled.as_str(),
            message_id = %stored.record.header.message_id,
            "delivered in the polled version; the sender's signature is not delivered"
        );
        let (data, attachments) = match call.body {
            CallBody::SendRequest(r, _) => (build::sender_provided_request_data_in(polled, &r, &id), r.attachments),
            CallBody::SendResponse(r, _) => (build::sender_provided_response_data_in(polled, &r, &id), r.attachments),
            _ => return Err(fault(FaultKind::SmevFailure, "a stored message is neither a request nor a response")),
        };
        Ok(Copied { data: data.map_err(smev_fault)?, signature: None, attachments })
    }

    fn deliver_request(&self, v: Version, stored: &StoredMessage) -> Result<String, SmevFault> {
        let copied = Self::copy_stored(stored, v)?;
        let delivered = DeliveredRequest {
            sender_provided_data: &copied.data,
            metadata: self.metadata_of(stored, MessageType::Request),
            reply_to: Some(encode_reply_to(&stored.record.header.sender, &stored.record.header.message_id)),
            sender_signature: copied.signature.as_deref(),
            attachments: copied.attachments,
        };
        build::get_request_response(v, Some(&delivered), Some(&self.smev)).map_err(smev_fault)
    }

    fn deliver_response(&self, v: Version, stored: &StoredMessage) -> Result<String, SmevFault> {
        let copied = Self::copy_stored(stored, v)?;
        let delivered = DeliveredResponse {
            original_message_id: stored.record.header.original_message_id.clone(),
            original_transaction_code: None,
            reference_message_id: None,
            sender_provided_data: &copied.data,
            metadata: self.metadata_of(stored, MessageType::Response),
            sender_signature: copied.signature.as_deref(),
            attachments: copied.attachments,
        };
        build::get_response_response(v, Some(&delivered), Some(&self.smev)).map_err(smev_fault)
    }

    /// Acts as the portal: sends a request with `content` (its root element names the kind of data), signed with
    /// the portal's key, through the same path as any caller. Returns the request's MessageID.
    pub fn portal_send(&self, content: &str, test_message: bool) -> Result<String, SmevFault> {
        let mut request = SendRequest::new(content);
        request.test_message = test_message;
        let envelope = build::send_request(Version::V1_3, &request, Some(&self.portal)).map_err(smev_fault)?;
        let reply = self.handle(Version::V1_3, envelope.as_bytes());
        match reply.fault {
            Some(f) => Err(f),
            None => Ok(request.message_id.to_string()),
        }
    }

    /// Acts as the portal: takes every response waiting for it, checks its signatures, acknowledges it and keeps
    /// it for [`Emulator::portal_response`]. Returns how many arrived.
    pub fn portal_poll(&self) -> Result<usize, SmevFault> {
        let mut count = 0;
        loop {
            let selector = edugate::smev::MessageTypeSelector {
                kind: None,
                timestamp: edugate::smev::now_datetime(),
                node_id: None,
            };
            let envelope = build::get_response(Version::V1_3, &selector, Some(&self.portal)).map_err(smev_fault)?;
            let reply = self.handle(Version::V1_3, envelope.as_bytes());
            if let Some(f) = reply.fault {
                return Err(f);
            }
            let doc = xml::parse(&reply.body, &Limits { max_document_bytes: usize::MAX, ..Limits::default() })
                .map_err(|e| smev_fault(e.into()))?;
            let Some(received) = parse::received_response(&doc).map_err(smev_fault)? else { return Ok(count) };
            let reports = edugate::dsig::verify_document(&doc, &VerifyOptions::default());
            let signatures_valid = reports.map(|r| r.iter().all(|r| r.outcome.is_ok())).unwrap_or(false);
            let request_message_id = received.original_message_id.clone().unwrap_or_default();
            let ack_id = received.metadata.message_id.clone().unwrap_or_default();
            let response = PortalResponse {
                request_message_id: request_message_id.clone(),
                response_message_id: received.response.message_id.to_string(),
                body: received.response.body,
                signatures_valid,
                envelope: reply.body.clone(),
            };
            self.portal_responses
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(request_message_id)
                .or_default()
                .push(response);
            let ack = build::ack(
                Version::V1_3,
                &edugate::smev::Ack { message_id: ack_id, accepted: true },
                Some(&self.portal),
            )
            .map_err(smev_fault)?;
            if let Some(f) = self.handle(Version::V1_3, ack.as_bytes()).fault {
                return Err(f);
            }
            count += 1;
        }
    }

    /// The latest response the portal received for its request, if any has arrived (see
    /// [`Emulator::portal_poll`]).
    pub fn portal_response(&self, request_message_id: &str) -> Option<PortalResponse> {
        let responses = self.portal_responses.lock().unwrap_or_else(|p| p.into_inner());
        responses.get(request_message_id).and_then(|all| all.last()).cloned()
    }

    /// Every response the portal received for its request so far, in arrival order; `None` when the emulator knows
    /// no such request and no response to it.
    pub fn portal_responses(&self, request_message_id: &str) -> Option<Vec<PortalResponse>> {
        let received = self.portal_responses.lock().unwrap_or_else(|p| p.into_inner()).get(request_message_id).cloned();
        match received {
            Some(all) => Some(all),
            None => match self.queues.get(request_message_id) {
                Ok(Some(m)) if m.record.header.direction == Direction::Request => Some(Vec::new()),
                _ => None,
            },
        }
    }

    /// Forgets every message, status and portal response.
    pub fn reset(&self) -> Result<(), QueueError> {
        self.queues.reset()?;
        self.statuses.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.portal_responses.lock().unwrap_or_else(|p| p.into_inner()).clear();
        Ok(())
    }
}

/// Validates business content against a schema, when there is one: SMEV's `InvalidContent` with libxml2's first
/// errors when it does not match.
fn check_content(schema: Option<&edugate::schema::Schema>, content: &str) -> Result<(), SmevFault> {
    let Some(schema) = schema else { return Ok(()) };
    match crate::validate::validate(schema, content) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(errors)) => Err(fault(
            FaultKind::InvalidContent(errors),
            format!("the content does not match the kind of data's schema {}", schema.name()),
        )),
        Err(e) => Err(fault(FaultKind::SmevFailure, e)),
    }
}

fn client_fault(message: String) -> SmevFault {
    let mut f = fault(FaultKind::Unspecified, message);
    f.faultcode = "soap:Client".into();
    f
}

fn smev_fault(e: SmevError) -> SmevFault {
    match e {
        SmevError::Fault(f) => *f,
        other => fault(FaultKind::SmevFailure, other.to_string()),
    }
}

fn dsig_fault(e: &DsigError) -> SmevFault {
    let kind = match e {
        DsigError::CertificateNotTrusted { .. } | DsigError::NoCertificate | DsigError::BadCertificate(_) => {
            SignatureFaultKind::CertificateIsNotFound
        }
        DsigError::CertificateValidity(_) => SignatureFaultKind::CertificateIsExpired,
        DsigError::NoSignature => SignatureFaultKind::NoSignatureFound,
        _ => SignatureFaultKind::SignatureIsInvalid,
    };
    signature_fault(kind, e.to_string())
}

/// The fault for a refused send: as [`queue_fault`], and a spent quota reports the message's attachments. mock-smev's
/// quota counts messages per minute rather than bytes, so what remains of it is 0 bytes.
fn send_fault(e: QueueError, attachment_bytes: i64) -> SmevFault {
    match e {
        QueueError::QuoteLimitExceeded { .. } => fault(
            FaultKind::QuoteLimitExceeded {
                remained_total_quote_size: 0,
                real_total_attachment_size: attachment_bytes,
            },
            e.to_string(),
        ),
        other => queue_fault(other),
    }
}

fn queue_fault(e: QueueError) -> SmevFault {
    let message = e.to_string();
    let kind = match e {
        QueueError::MessageIsAlreadySent { .. } => FaultKind::MessageIsAlreadySent,
        QueueError::DestinationOverflow { recipient, .. } => {
            FaultKind::DestinationOverflow { broker: "mock-smev".into(), destination: recipient }
        }
        QueueError::QuoteLimitExceeded { .. } => {
            FaultKind::QuoteLimitExceeded { remained_total_quote_size: 0, real_total_attachment_size: 0 }
        }
        QueueError::TargetMessageIsNotFound { .. } => FaultKind::TargetMessageIsNotFound,
        QueueError::Storage(_) => FaultKind::SmevFailure,
    };
    fault(kind, message)
}

/// The `ReplyTo` token: opaque to providers, it names the request so that a response can be routed back.
pub fn encode_reply_to(sender: &str, message_id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{sender}|{message_id}"))
}

/// The request a `To` token names.
pub fn decode_reply_to(token: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.trim()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (_, id) = text.split_once('|')?;
    Some(id.to_string())
}
