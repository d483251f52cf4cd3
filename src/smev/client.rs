//! The SMEV HTTP client: thin I/O around the codec. It builds and signs envelopes with [`super::build`], posts
//! them with the operation's SOAPAction, enforces timeouts and a response size limit, decodes MTOM responses and
//! SOAP faults, and classifies every failure as retryable or final from its type.
//!
//! Signing an envelope and parsing an answer are CPU work proportional to the message (an answer may be megabytes
//! of XML): both run on a [`CpuPool`]'s blocking threads, and only the network I/O stays on the async thread.
#![forbid(unsafe_code)]

use super::delivered::{self, Delivered, DeliveryCheck};
use super::message::*;
use super::parse::{self, ReceivedRequest, ReceivedResponse};
use super::unreadable::{self, UnreadableDelivery};
use super::{build, mtom, now_datetime, Operation, RetryClass, SmevError, SmevFault, Version};
use crate::cpu::{CpuPool, PoolError};
use crate::dsig::Signer;
use crate::xml::{self, Limits};
use futures_util::StreamExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// TLS settings for the SMEV endpoint.
#[derive(Debug, Clone, Default)]
pub struct TlsConfig {
    /// A CA certificate (PEM) to trust in addition to the system's, for a test contour or a mock with its own CA.
    pub ca_cert: Option<PathBuf>,
    /// A client certificate (PEM) for endpoints that require mutual TLS.
    pub client_cert: Option<PathBuf>,
    /// The client certificate's key (PEM PKCS#8).
    pub client_key: Option<PathBuf>,
}

/// Where and how to talk to SMEV.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The endpoint URL of the message-exchange service for `version`.
    pub endpoint: String,
    /// The schema version the endpoint speaks.
    pub version: Version,
    /// How long to wait for a connection.
    pub connect_timeout: Duration,
    /// How long to wait for the whole response.
    pub read_timeout: Duration,
    /// Largest response accepted; a larger one is cut off and refused rather than buffered.
    pub max_response_bytes: usize,
    /// TLS settings.
    pub tls: TlsConfig,
}

impl ClientConfig {
    /// A configuration for `endpoint` with defaults that suit SMEV's production limits.
    pub fn new(endpoint: impl Into<String>) -> ClientConfig {
        ClientConfig {
            endpoint: endpoint.into(),
            version: Version::V1_3,
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(60),
            max_response_bytes: 32 * 1024 * 1024,
            tls: TlsConfig::default(),
        }
    }
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The client could not be configured (bad TLS files, bad URL).
    #[error("SMEV client configuration: {0}")]
    Config(String),
    /// The connection failed or broke.
    #[error("SMEV transport error: {0}")]
    Transport(String),
    /// No response within the timeout.
    #[error("SMEV did not answer within {0:?}")]
    Timeout(Duration),
    /// The response was larger than allowed.
    #[error("SMEV response larger than {limit} bytes")]
    TooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// An HTTP error status without a SOAP fault in the body.
    #[error("SMEV answered HTTP {status}: {snippet}")]
    Http {
        /// The status code.
        status: u16,
        /// The start of the body, for the log.
        snippet: String,
    },
    /// SMEV answered with a fault.
    #[error("{0}")]
    Fault(Box<SmevFault>),
    /// The request could not be built or the response could not be read.
    #[error(transparent)]
    Smev(#[from] SmevError),
    /// Signing or reading off the async threads did not complete (the work panicked or the runtime is stopping).
    #[error(transparent)]
    Cpu(#[from] PoolError),
    /// SMEV delivered a message (to GetRequest or GetResponse) that cannot be read. Unlike an unreadable answer to
    /// any other call, it must be acknowledged and kept, or SMEV delivers it again for ever.
    #[error("SMEV delivered an unreadable message ({}): {}", .0.message_id.as_deref().unwrap_or("no id found"), .0.reason)]
    Unreadable(Box<UnreadableDelivery>),
}

impl ClientError {
    /// What the caller does about it, decided from the error's type.
    pub fn retry_class(&self) -> RetryClass {
        match self {
            ClientError::Transport(_) | ClientError::Timeout(_) => RetryClass::Retry,
            ClientError::Http { status, .. } if *status >= 500 || *status == 429 || *status == 408 => RetryClass::Retry,
            ClientError::Http { .. } => RetryClass::Final,
            ClientError::Fault(f) => f.retry_class(),
            // An answer we cannot read may be a proxy's error page: try again rather than lose the message.
            ClientError::Smev(SmevError::Xml(_)) | ClientError::Smev(SmevError::Malformed(_)) => RetryClass::Retry,
            ClientError::Smev(SmevError::Fault(f)) => f.retry_class(),
            ClientError::TooLarge { .. } | ClientError::Config(_) | ClientError::Smev(_) => RetryClass::Final,
            // Polling again at once is right: the delivery is dealt with by the caller, and the queue may hold more.
            ClientError::Unreadable(_) => RetryClass::Final,
            // Nothing was sent, or the answer was not read: the outbox tries again later.
            ClientError::Cpu(_) => RetryClass::Retry,
        }
    }
}

/// An unreadable delivery of `operation`, as an error.
fn unreadable_delivery(operation: Operation, message_id: Option<String>, reason: String, raw: Vec<u8>) -> ClientError {
    ClientError::Unreadable(Box::new(UnreadableDelivery { operation, message_id, reason, raw }))
}

/// Whether the body of a parsed answer is the operation's own answer element (`GetRequestResponse`, ...), holding a
/// message: then it is a delivery even when no id can be found in it.
fn is_delivery_answer(doc: &xml::Document<'_>, operation: Operation) -> bool {
    let Ok(child) = parse::body_child(doc) else { return false };
    let answer = format!("{}Response", operation.name());
    doc.element(child).local == answer && doc.child_elements(child).next().is_some()
}

/// A message received from SMEV: the envelope text and what was read from it. The node ids in `message` refer to
/// the document obtained by parsing `envelope` again (which is how a caller verifies its signatures).
#[derive(Debug, Clone)]
pub struct Received<T> {
    /// The SOAP envelope exactly as received (the root part of an MTOM response).
    pub envelope: String,
    /// The parsed message.
    pub message: T,
}

/// The bytes of a message's attachments: they are encoded into the envelope that is then signed, so they count
/// towards the size that decides whether signing leaves the async threads.
fn attachment_bytes(attachments: &[AttachmentContent]) -> usize {
    attachments.iter().map(|a| a.content.len()).sum()
}

/// An answer as it came off the wire, to be decoded (MTOM, UTF-8), parsed and read on the CPU pool.
struct Answer {
    /// The operation it answers (whether it delivers a message decides how an unreadable answer is reported).
    operation: Operation,
    /// The HTTP status.
    status: u16,
    /// The Content-Type, which says whether the body is MTOM.
    content_type: String,
    /// The body, within the client's size limit.
    body: Vec<u8>,
}

impl Answer {
    /// Decodes the answer and reads it with `read`, parsing it once: a SOAP fault (which comes with HTTP 500) as
    /// [`ClientError::Fault`], any other answer outside 2xx as [`ClientError::Http`], an unreadable delivery as
    /// [`ClientError::Unreadable`]. Returns what `read` made of it and the answer's text.
    fn read<T>(
        self,
        read: impl FnOnce(&xml::Document<'_>) -> Result<T, SmevError>,
    ) -> Result<(T, String), ClientError> {
        let Answer { operation, status, content_type, body } = self;
        let xml_bytes = if mtom::is_multipart(&content_type) {
            mtom::decode(&content_type, &body)?.root.body.to_vec()
        } else {
            body
        };
        let success = (200..300).contains(&status);
        let text = match String::from_utf8(xml_bytes) {
            Ok(text) => text,
            Err(e) if success && unreadable::delivers(operation) => {
                let raw = e.into_bytes();
                let id = unreadable::scan_message_id(&String::from_utf8_lossy(&raw));
                let reason = "the answer is not UTF-8".to_owned();
                return Err(unreadable_delivery(operation, id, reason, raw));
            }
            Err(_) => return Err(ClientError::Http { status, snippet: "response body is not UTF-8".into() }),
        };
        let http_error = |text: &str| ClientError::Http { status, snippet: text.chars().take(200).collect() };
        let value = match xml::parse(&text, &Limits::default()) {
            Ok(doc) => {
                // A SOAP fault comes with HTTP 500; read it before judging by the status.
                if let Ok(child) = parse::body_child(&doc) {
                    if doc.is(child, super::SOAP_ENV_NS, "Fault") {
                        return Err(ClientError::Fault(Box::new(parse::read_fault(&doc, child))));
                    }
                }
                if !success {
                    return Err(http_error(&text));
                }
                match read(&doc) {
                    Ok(value) => value,
                    Err(e) if unreadable::delivers(operation) => {
                        let id = unreadable::message_id_in(&doc);
                        let delivered = id.is_some() || is_delivery_answer(&doc, operation);
                        drop(doc);
                        if !delivered {
                            return Err(e.into());
                        }
                        return Err(unreadable_delivery(operation, id, e.to_string(), text.into_bytes()));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Err(_) if !success => return Err(http_error(&text)),
            // Not XML at all: a delivery only if an id SMEV gave can be found in it (else perhaps a proxy's page).
            Err(e) if unreadable::delivers(operation) => match unreadable::scan_message_id(&text) {
                Some(id) => return Err(unreadable_delivery(operation, Some(id), e.to_string(), text.into_bytes())),
                None => return Err(SmevError::from(e).into()),
            },
            Err(e) => return Err(SmevError::from(e).into()),
        };
        Ok((value, text))
    }
}

/// A client of one SMEV endpoint, signing with one information system's key.
#[derive(Clone)]
pub struct SmevClient {
    http: reqwest::Client,
    config: Arc<ClientConfig>,
    signer: Arc<Signer>,
    /// Told how long each signed envelope took to build and sign, and whether it succeeded (for metrics).
    sign_observer: Option<SignObserver>,
    /// Where envelopes are signed and answers parsed, off the async threads (by default one per core; the gateway
    /// shares its own).
    cpu: CpuPool,
}

/// A callback told the outcome and duration of each signature the client makes.
pub type SignObserver = Arc<dyn Fn(bool, Duration) + Send + Sync>;

fn read_file(path: &PathBuf) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path).map_err(|e| ClientError::Config(format!("reading {}: {e}", path.display())))
}

impl SmevClient {
    /// A client for `config`, signing with `signer`.
    pub fn new(config: ClientConfig, signer: Arc<Signer>) -> Result<SmevClient, ClientError> {
        reqwest::Url::parse(&config.endpoint)
            .map_err(|e| ClientError::Config(format!("endpoint '{}': {e}", config.endpoint)))?;
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.read_timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            // SMEV never redirects a SOAP call; a 307 or 308 would make the client post a signed envelope to
            // wherever the answer points. A redirect is an HTTP error like any other answer outside 2xx.
            .redirect(reqwest::redirect::Policy::none());
        if let Some(ca) = &config.tls.ca_cert {
            let cert = reqwest::Certificate::from_pem(&read_file(ca)?)
                .map_err(|e| ClientError::Config(format!("CA certificate {}: {e}", ca.display())))?;
            builder = builder.add_root_certificate(cert);
        }
        match (&config.tls.client_cert, &config.tls.client_key) {
            (Some(cert), Some(key)) => {
                let identity = reqwest::Identity::from_pkcs8_pem(&read_file(cert)?, &read_file(key)?)
                    .map_err(|e| ClientError::Config(format!("client certificate {}: {e}", cert.display())))?;
                builder = builder.identity(identity);
            }
            (None, None) => {}
            _ => return Err(ClientError::Config("client_cert and client_key go together".into())),
        }
        let http = builder.build().map_err(|e| ClientError::Config(e.to_string()))?;
        Ok(SmevClient { http, config: Arc::new(config), signer, sign_observer: None, cpu: CpuPool::per_core() })
    }

    /// The same client, reporting every signature it makes to `observer`.
    pub fn with_sign_observer(mut self, observer: SignObserver) -> SmevClient {
        self.sign_observer = Some(observer);
        self
    }

    /// The same client, signing and parsing in `pool` (shared with the caller's other CPU work, under one bound).
    pub fn with_cpu_pool(mut self, pool: CpuPool) -> SmevClient {
        self.cpu = pool;
        self
    }

    /// Builds and signs an envelope with `build(version, signer)`, on the CPU pool when its content (`bytes`) is
    /// large, timing it for the observer. What `build` needs is moved into it.
    async fn signed<F>(&self, bytes: usize, build: F) -> Result<String, ClientError>
    where
        F: FnOnce(Version, &Signer) -> Result<String, SmevError> + Send + 'static,
    {
        let (signer, observer, version) = (self.signer.clone(), self.sign_observer.clone(), self.version());
        let work = move || {
            let started = std::time::Instant::now();
            let result = build(version, &signer);
            if let Some(observer) = &observer {
                observer(result.is_ok(), started.elapsed());
            }
            result
        };
        Ok(self.cpu.run(bytes, work).await??)
    }

    /// The schema version this client speaks.
    pub fn version(&self) -> Version {
        self.config.version
    }
    /// Posts a signed envelope and returns SMEV's answer: a SOAP fault (which comes with HTTP 500) as
    /// [`ClientError::Fault`], any other answer outside 2xx as [`ClientError::Http`].
    pub async fn call(&self, operation: Operation, envelope: String) -> Result<String, ClientError> {
        Ok(self.exchange(operation, envelope, |_| Ok(())).await?.1)
    }

    /// Posts a signed envelope and reads SMEV's answer with `read`, parsing the answer once for both: faults and
    /// HTTP errors as in [`SmevClient::call`]. Returns what `read` made of it and the answer itself.
    async fn exchange<T>(
        &self,
        operation: Operation,
        envelope: String,
        read: impl FnOnce(&xml::Document<'_>) -> Result<T, SmevError> + Send + 'static,
    ) -> Result<(T, String), ClientError>
    where
        T: Send + 'static,
    {
        let response = self
            .http
            .post(&self.config.endpoint)
            .header("Content-Type", "text/xml; charset=utf-8")
            .header("SOAPAction", format!("\"{}\"", operation.soap_action()))
            .body(envelope)
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        let status = response.status().as_u16();
        let content_type =
            response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("text/xml").to_string();
        let body = self.read_limited(response).await?;
        // The answer's bytes move to the blocking thread: decoding and parsing them is CPU work.
        let answer = Answer { operation, status, content_type, body };
        self.cpu.run(answer.body.len(), move || answer.read(read)).await?
    }

    fn transport_error(&self, e: reqwest::Error) -> ClientError {
        if e.is_timeout() {
            ClientError::Timeout(self.config.read_timeout)
        } else {
            ClientError::Transport(e.to_string())
        }
    }

    async fn read_limited(&self, response: reqwest::Response) -> Result<Vec<u8>, ClientError> {
        let limit = self.config.max_response_bytes;
        if response.content_length().is_some_and(|n| n as usize > limit) {
            return Err(ClientError::TooLarge { limit });
        }
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.transport_error(e))?;
            if body.len() + chunk.len() > limit {
                return Err(ClientError::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// Sends a request; returns SMEV's receipt.
    pub async fn send_request(&self, request: &SendRequest) -> Result<MessageMetadata, ClientError> {
        let (request, bytes) = (request.clone(), request.content.len() + attachment_bytes(&request.attachments));
        let envelope = self.signed(bytes, move |v, signer| build::send_request(v, &request, Some(signer))).await?;
        let read = |doc: &xml::Document<'_>| Ok(parse::send_receipt(doc, Operation::SendRequest)?.0);
        Ok(self.exchange(Operation::SendRequest, envelope, read).await?.0)
    }

    /// Signs and sends an envelope built earlier without a signature (as the gateway's outbox keeps them), so that a
    /// large message is neither parsed into typed form nor rebuilt: `SendRequest` signs `SIGNED_BY_CONSUMER`,
    /// `SendResponse` signs `SIGNED_BY_PROVIDER`. The envelope moves to the signing thread. Returns SMEV's receipt.
    pub async fn send_unsigned(&self, operation: Operation, unsigned: String) -> Result<MessageMetadata, ClientError> {
        let id = match operation {
            Operation::SendRequest => SIGNED_BY_CONSUMER,
            Operation::SendResponse => SIGNED_BY_PROVIDER,
            other => return Err(SmevError::Malformed(format!("{} is not sent from the outbox", other.name())).into()),
        };
        let bytes = unsigned.len();
        let sign = move |_: Version, signer: &Signer| {
            signer.sign(&unsigned, id, crate::dsig::Placement::CallerSignature).map_err(SmevError::Dsig)
        };
        let envelope = self.signed(bytes, sign).await?;
        let read = move |doc: &xml::Document<'_>| Ok(parse::send_receipt(doc, operation)?.0);
        Ok(self.exchange(operation, envelope, read).await?.0)
    }

    /// Sends a response; returns SMEV's receipt.
    pub async fn send_response(&self, response: &SendResponse) -> Result<MessageMetadata, ClientError> {
        let content = match &response.body {
            ResponseBody::Content { content, .. } => content.len(),
            _ => 0,
        };
        let bytes = content + attachment_bytes(&response.attachments);
        let response = response.clone();
        let envelope = self.signed(bytes, move |v, signer| build::send_response(v, &response, Some(signer))).await?;
        let read = |doc: &xml::Document<'_>| Ok(parse::send_receipt(doc, Operation::SendResponse)?.0);
        Ok(self.exchange(Operation::SendResponse, envelope, read).await?.0)
    }

    fn selector(kind: Option<&KindOfData>) -> MessageTypeSelector {
        MessageTypeSelector { kind: kind.cloned(), timestamp: now_datetime(), node_id: None }
    }

    /// Polls for a request of a kind of data and checks what is delivered in the same parse of SMEV's answer: the
    /// typed request, its signatures against `check`, and, when it is trusted, its content read by `read` (the
    /// caller's reader of the kind of data). Nothing parses the envelope again.
    pub async fn get_request_checked<R: Send + 'static>(
        &self,
        kind: Option<&KindOfData>,
        check: Arc<DeliveryCheck>,
        read: impl FnOnce(&xml::Document<'_>, xml::NodeId) -> R + Send + 'static,
    ) -> Result<Option<Delivered<ReceivedRequest, R>>, ClientError> {
        let selector = Self::selector(kind);
        let envelope = self.signed(0, move |v, signer| build::get_request(v, &selector, Some(signer))).await?;
        let read = move |doc: &xml::Document<'_>| {
            Ok(parse::received_request(doc)?.map(|message| delivered::check_request(doc, message, &check, read)))
        };
        Ok(self.exchange(Operation::GetRequest, envelope, read).await?.0)
    }

    /// Polls for a response to the gateway's own requests and checks it in the same parse (see
    /// [`SmevClient::get_request_checked`]).
    pub async fn get_response_checked(
        &self,
        kind: Option<&KindOfData>,
        check: Arc<DeliveryCheck>,
    ) -> Result<Option<Delivered<ReceivedResponse, ()>>, ClientError> {
        let selector = Self::selector(kind);
        let envelope = self.signed(0, move |v, signer| build::get_response(v, &selector, Some(signer))).await?;
        let read = move |doc: &xml::Document<'_>| {
            Ok(parse::received_response(doc)?.map(|message| delivered::check_response(doc, message, &check)))
        };
        Ok(self.exchange(Operation::GetResponse, envelope, read).await?.0)
    }

    /// Polls for a request of a kind of data (any kind when `None`).
    pub async fn get_request(
        &self,
        kind: Option<&KindOfData>,
    ) -> Result<Option<Received<ReceivedRequest>>, ClientError> {
        let selector = Self::selector(kind);
        let envelope = self.signed(0, move |v, signer| build::get_request(v, &selector, Some(signer))).await?;
        let (message, answer) = self.exchange(Operation::GetRequest, envelope, parse::received_request).await?;
        Ok(message.map(|message| Received { envelope: answer, message }))
    }

    /// Polls for a response of a kind of data (any kind when `None`).
    pub async fn get_response(
        &self,
        kind: Option<&KindOfData>,
    ) -> Result<Option<Received<ReceivedResponse>>, ClientError> {
        let selector = Self::selector(kind);
        let envelope = self.signed(0, move |v, signer| build::get_response(v, &selector, Some(signer))).await?;
        let (message, answer) = self.exchange(Operation::GetResponse, envelope, parse::received_response).await?;
        Ok(message.map(|message| Received { envelope: answer, message }))
    }

    /// Acknowledges a delivered message by SMEV's id for it (`MessageMetadata/MessageId`).
    pub async fn ack(&self, message_id: &str, accepted: bool) -> Result<(), ClientError> {
        let ack = Ack { message_id: message_id.to_string(), accepted };
        let envelope = self.signed(0, move |v, signer| build::ack(v, &ack, Some(signer))).await?;
        self.exchange(Operation::Ack, envelope, parse::ack_response).await?;
        Ok(())
    }

    /// Polls for an asynchronous processing status.
    pub async fn get_status(&self) -> Result<Option<AsyncProcessingStatus>, ClientError> {
        let status = GetStatus { timestamp: now_datetime() };
        let envelope = self.signed(0, move |v, signer| build::get_status(v, &status, Some(signer))).await?;
        Ok(self.exchange(Operation::GetStatus, envelope, parse::status_response).await?.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Answers every connection on `listener` with `answer` after reading the request, counting the connections.
    async fn answer_all(listener: tokio::net::TcpListener, answer: String, seen: Arc<AtomicUsize>) {
        while let Ok((mut stream, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            let mut buf = vec![0u8; 64 * 1024];
            let _ = stream.read(&mut buf).await;
            let _ = stream.write_all(answer.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
    }

    /// Regression: the client followed redirects, so a 307 from whatever answered at SMEV's address made it post
    /// the signed envelope again to the address the answer named. A redirect is now an HTTP error, and nothing
    /// reaches the other address.
    #[tokio::test]
    async fn a_redirect_is_an_error_and_nothing_follows_it() {
        crate::crypto::ensure_default_engine().unwrap();
        let elsewhere = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = format!("http://{}/smev", elsewhere.local_addr().unwrap());
        let followed = Arc::new(AtomicUsize::new(0));
        tokio::spawn(answer_all(elsewhere, "HTTP/1.1 500 X\r\ncontent-length: 0\r\n\r\n".into(), followed.clone()));
        let redirecting = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}/smev", redirecting.local_addr().unwrap());
        let redirect = format!("HTTP/1.1 307 Temporary Redirect\r\nlocation: {target}\r\ncontent-length: 0\r\n\r\n");
        tokio::spawn(answer_all(redirecting, redirect, Arc::default()));
        let certs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("certs-dev");
        let key = crate::crypto::PrivateKey::from_pem(&std::fs::read(certs.join("gateway.key")).unwrap()).unwrap();
        let cert = crate::crypto::Certificate::load(&certs.join("gateway.crt")).unwrap();
        let client = SmevClient::new(ClientConfig::new(endpoint), Arc::new(Signer::new(key, cert).unwrap())).unwrap();
        let error = client.ack("6a1b2c3d-d03c-11f0-8de9-0242ac120002", true).await.unwrap_err();
        assert!(matches!(error, ClientError::Http { status: 307, .. }), "{error:?}");
        assert_eq!(error.retry_class(), RetryClass::Final);
        assert_eq!(followed.load(Ordering::SeqCst), 0, "the redirect was not followed");
    }

    /// Regression: a message of small content and megabytes of attachments was built and signed on the async
    /// threads, since only its content was counted.
    #[test]
    fn attachments_count_towards_the_size_of_what_is_signed() {
        let attachment = |n: usize| AttachmentContent { id: "a".into(), content: vec![0; n] };
        assert_eq!(attachment_bytes(&[]), 0);
        assert_eq!(
            attachment_bytes(&[attachment(crate::cpu::INLINE_BELOW), attachment(3)]),
            crate::cpu::INLINE_BELOW + 3
        );
    }
}
