//! The emulator's HTTP server: the SOAP endpoints of message-exchange 1.3 and 1.2, the JSON control API and a
//! health check, on one listener.
//!
//! hyper serves each connection through [`edugate::serve`] (rather than `axum::serve`): a fault injection rule may
//! drop a connection without answering, which only a service error can do; connections are bounded in number, in
//! header-read time and in idle time (`[server]` in the configuration); shutdown drains connections for a bounded
//! grace period and then cuts the rest.
//!
//! A SOAP call goes: read the body within the size limit and the read timeout, tell the operation from the
//! SOAPAction header (or the body's first element), ask the [`Injector`], and only then run the SOAP core on a
//! blocking thread, so that an injected failure never changes a queue. The core runs behind the [`ParseGate`]:
//! reading a body costs its size, parsing it costs many times that, so parsing is what is bounded.
#![forbid(unsafe_code)]

use crate::inject::Action;
pub use crate::state::{AppState, ParseGate, ParseTurn, ServerOptions};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Request, Response, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use edugate::serve::ServeLimits;
use edugate::smev::{build, FaultKind, Operation, SmevFault, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// Marks a response that must not be sent: the connection is closed instead (see [`connection_service`]).
#[derive(Debug, Clone, Copy)]
struct DropConnection;

/// The service error that makes hyper close a connection without answering; it exists only for fault injection.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped on purpose by a fault injection rule")]
pub struct DroppedOnPurpose;

/// Why a SOAP request's body could not be read.
#[derive(Debug, thiserror::Error)]
enum BodyError {
    /// The body is over the configured limit. `drained` tells whether it was read to its end, so the connection
    /// can stay open; otherwise the answer closes it.
    #[error("request body over {limit} bytes")]
    TooLarge {
        /// The configured limit.
        limit: usize,
        /// Whether the rest of the body was read and thrown away.
        drained: bool,
    },
    /// The body did not arrive within the read timeout.
    #[error("request body not received within {0:?}")]
    Timeout(Duration),
    /// The connection broke while the body was being read.
    #[error("request body broken: {0}")]
    Broken(String),
}

/// Oversize bodies up to this many bytes beyond the limit (or the limit itself, if larger) are read and thrown
/// away before the SOAP fault is answered, so that the client, still sending, reliably reads the fault instead of
/// a reset. Beyond that is the transport's limit: 413 at once, and the connection closes.
const DRAIN_ALLOWANCE: usize = 8 * 1024 * 1024;

/// The application's routes: SOAP, control API, health check.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", post(soap_1_3))
        .route("/smev/1.3", post(soap_1_3))
        .route("/smev/1.2", post(soap_1_2))
        .route("/healthz", get(crate::control::healthz))
        .merge(crate::control::routes())
        .fallback(crate::control::not_found)
        .with_state(state)
}

/// Serves `listener` until `shutdown` completes, then stops accepting, lets calls in progress finish for the grace
/// period and closes what is left.
pub async fn run(listener: TcpListener, state: Arc<AppState>, shutdown: impl Future<Output = ()>) -> io::Result<()> {
    let app = router(state.clone());
    let server = &state.emulator.config().server;
    let limits = ServeLimits {
        // `--read-timeout` has always bounded the headers too; the configured value may only shorten it.
        header_read_timeout: Duration::from_millis(server.header_read_timeout_ms).min(state.options.read_timeout),
        idle_timeout: Duration::from_millis(server.idle_timeout_ms),
        max_connections: server.max_connections,
        grace: state.options.grace,
        // Half-closed connections are answered: a client may shut its sending side once its request is out, and a
        // truncated body then still gets its SOAP fault.
        half_close: true,
    };
    let stats = state.connections.clone();
    edugate::serve::serve(listener, limits, stats, move || connection_service(app.clone()), shutdown).await
}

/// The per-connection service: the router, except that a response marked [`DropConnection`] becomes a service
/// error, on which hyper closes the connection without writing anything.
fn connection_service(
    app: Router,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = Response<Body>,
    Error = DroppedOnPurpose,
    Future = impl Future<Output = Result<Response<Body>, DroppedOnPurpose>> + Send,
> + Clone {
    hyper::service::service_fn(move |request: Request<Incoming>| {
        let app = app.clone();
        async move {
            let response = match app.oneshot(request.map(Body::new)).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            if response.extensions().get::<DropConnection>().is_some() {
                Err(DroppedOnPurpose)
            } else {
                Ok(response)
            }
        }
    })
}

async fn soap_1_3(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response<Body> {
    soap(state, Version::V1_3, headers, body).await
}

async fn soap_1_2(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response<Body> {
    soap(state, Version::V1_2, headers, body).await
}

/// One SOAP call: read, consult the injector, run the core.
async fn soap(state: Arc<AppState>, version: Version, headers: HeaderMap, body: Body) -> Response<Body> {
    let limit = state.emulator.config().limits.max_body_bytes;
    let timeout = state.options.read_timeout;
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let read = tokio::time::timeout(timeout, read_body(body, declared, limit)).await;
    let bytes = match read.unwrap_or(Err(BodyError::Timeout(timeout))) {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::info!(error = %e, "refused a request body");
            let (status, close) = match e {
                // Read to its end: SMEV's answer, a SOAP fault (with the 500 of SOAP 1.1 faults).
                BodyError::TooLarge { drained: true, .. } => (StatusCode::INTERNAL_SERVER_ERROR, false),
                // Beyond what the transport will read: 413, and the connection closes.
                BodyError::TooLarge { drained: false, .. } => (StatusCode::PAYLOAD_TOO_LARGE, true),
                BodyError::Timeout(_) => (StatusCode::REQUEST_TIMEOUT, true),
                BodyError::Broken(_) => (StatusCode::BAD_REQUEST, true),
            };
            let mut response = soap_response(status, build::fault(version, &client_fault(e.to_string())));
            if close {
                response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            return response;
        }
    };
    let operation = operation_from_soap_action(&headers).or_else(|| sniff_operation(&bytes));
    let decision = state.injector.decide(operation);
    if let Some(delay) = decision.delay {
        tracing::info!(operation = operation.map(Operation::name), ?delay, "injected latency");
        tokio::time::sleep(delay).await;
    }
    match decision.action {
        Action::Pass => {}
        Action::Drop => {
            tracing::info!(operation = operation.map(Operation::name), "injected dropped connection");
            let mut response = Response::new(Body::empty());
            response.extensions_mut().insert(DropConnection);
            return response;
        }
        Action::Fault(fault) => {
            tracing::info!(operation = operation.map(Operation::name), fault = %fault, "injected fault");
            return soap_response(StatusCode::INTERNAL_SERVER_ERROR, build::fault(version, &fault));
        }
    }
    let emulator = state.emulator.clone();
    let turn = state.parses.enter(bytes.len()).await;
    let handled = tokio::task::spawn_blocking(move || {
        let reply = emulator.handle(version, &bytes);
        drop(turn);
        reply
    });
    match handled.await {
        Ok(reply) => {
            let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            soap_response(status, reply.body)
        }
        Err(e) => {
            tracing::error!(error = %e, "the SOAP core failed");
            let fault = SmevFault::new(FaultKind::SmevFailure, "internal error in mock-smev");
            soap_response(StatusCode::INTERNAL_SERVER_ERROR, build::fault(version, &fault))
        }
    }
}

/// Reads a body of at most `limit` bytes; a larger one is read on and thrown away up to the drain allowance.
async fn read_body(mut body: Body, declared: Option<u64>, limit: usize) -> Result<Bytes, BodyError> {
    let drain_cap = limit.saturating_add(limit.max(DRAIN_ALLOWANCE));
    if declared.is_some_and(|n| n > drain_cap as u64) {
        return Err(BodyError::TooLarge { limit, drained: false });
    }
    if declared.is_some_and(|n| n > limit as u64) {
        // Known to be too large: read it only to keep the connection usable.
        while let Some(frame) = body.frame().await {
            frame.map_err(|e| BodyError::Broken(e.to_string()))?;
        }
        return Err(BodyError::TooLarge { limit, drained: true });
    }
    let mut buffer = Vec::with_capacity(declared.map_or(0, |n| n as usize).min(1 << 20));
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyError::Broken(e.to_string()))?;
        let Ok(data) = frame.into_data() else { continue };
        total = total.saturating_add(data.len());
        if total <= limit {
            buffer.extend_from_slice(&data);
        } else if total > drain_cap {
            return Err(BodyError::TooLarge { limit, drained: false });
        } else {
            buffer = Vec::new();
        }
    }
    if total > limit {
        return Err(BodyError::TooLarge { limit, drained: true });
    }
    Ok(Bytes::from(buffer))
}

/// A SOAP answer.
fn soap_response(status: StatusCode, envelope: String) -> Response<Body> {
    let mut response = Response::new(Body::from(envelope));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml; charset=utf-8"));
    response
}

/// A fault without typed detail that blames the caller (`soap:Client`).
fn client_fault(message: String) -> SmevFault {
    let mut fault = SmevFault::new(FaultKind::Unspecified, message);
    fault.faultcode = "soap:Client".into();
    fault
}

/// The operation a SOAPAction header names: `"urn:SendRequest"`, with or without quotes or the `urn:` prefix.
pub fn operation_from_soap_action(headers: &HeaderMap) -> Option<Operation> {
    let action = headers.get("soapaction")?.to_str().ok()?.trim().trim_matches('"');
    let name = action.rsplit([':', '/']).next()?;
    Operation::ALL.into_iter().find(|op| op.name() == name)
}

/// The operation of a body without SOAPAction: the local name of the first element inside `Body`, found by a
/// cheap scan (the SOAP core parses the body properly; this only picks the injection rules).
pub fn sniff_operation(body: &[u8]) -> Option<Operation> {
    let text = std::str::from_utf8(body).ok()?;
    let mut rest = text;
    let after_body = loop {
        let at = rest.find("Body")?;
        let (before, after) = rest.split_at(at);
        rest = &after[4..];
        let opens = before.ends_with('<') || (before.ends_with(':') && before.rfind('<') > before.rfind('>'));
        if opens && rest.starts_with(|c: char| c == '>' || c.is_whitespace()) {
            break &rest[rest.find('>')? + 1..];
        }
    };
    let mut rest = after_body;
    loop {
        let at = rest.find('<')?;
        rest = &rest[at + 1..];
        if rest.starts_with("!--") {
            rest = &rest[rest.find("-->")? + 3..];
            continue;
        }
        if rest.starts_with(['?', '!', '/']) {
            continue;
        }
        let end = rest.find(|c: char| c.is_whitespace() || c == '>' || c == '/')?;
        let qname = &rest[..end];
        let local = qname.rsplit(':').next()?;
        return Operation::from_request_element(local);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soap_action_forms() {
        for value in ["\"urn:GetRequest\"", "urn:GetRequest", " \"GetRequest\" ", "urn://x/1.3/GetRequest"] {
            let mut headers = HeaderMap::new();
            headers.insert("SOAPAction", HeaderValue::from_str(value).unwrap());
            assert_eq!(operation_from_soap_action(&headers), Some(Operation::GetRequest), "{value}");
        }
        let mut headers = HeaderMap::new();
        headers.insert("SOAPAction", HeaderValue::from_static("\"\""));
        assert_eq!(operation_from_soap_action(&headers), None);
    }

    #[test]
    fn sniffs_the_body_element() {
        let body = r#"<?xml version="1.0"?><s:Envelope xmlns:s="x"><s:Header/><!-- Body --><s:Body >
            <!-- <ns:GetStatusRequest> --><ns:AckRequest xmlns:ns="y"/></s:Body></s:Envelope>"#;
        assert_eq!(sniff_operation(body.as_bytes()), Some(Operation::Ack));
        assert_eq!(sniff_operation(b"<Envelope><Body><SendRequestRequest>"), Some(Operation::SendRequest));
        assert_eq!(sniff_operation(b"<Envelope><BodyX><SendRequestRequest>"), None);
        assert_eq!(sniff_operation(b"<oops"), None);
        assert_eq!(sniff_operation(&[0xff, 0xfe]), None);
    }
}
