//! The control API: JSON over HTTP under `/control/`, on the same listener as the SOAP endpoints. Integrators and
//! tests use it to make the emulator fail on demand, look into its queues, act as the portal and start afresh.
//!
//! Every error is JSON: `{"error": "...", "fault": "..."}`, `fault` being the SMEV fault's name when there is one.
#![forbid(unsafe_code)]

use crate::inject::{self, Effect, InjectError, Rule, Trigger};
use crate::state::AppState;
use crate::{Direction, ListFilter, MessageRecord, MessageState};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use edugate::smev::{FaultKind, ResponseBody, RetryClass, SmevFault};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// A control API failure, answered as JSON with its status.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// The HTTP status.
    status: StatusCode,
    /// What went wrong, for people.
    message: String,
    /// The SMEV fault behind it, if any (boxed: faults are large and errors travel by value).
    fault: Option<Box<SmevFault>>,
}

impl ApiError {
    /// An error with no fault behind it.
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into(), fault: None }
    }

    /// A request the API cannot accept.
    fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// An SMEV fault, with a status that says what the caller can do about it: 409 already done, 503 try again
    /// later, 422 never as it is.
    fn fault(fault: SmevFault) -> ApiError {
        let status = match fault.retry_class() {
            RetryClass::AlreadyDone => StatusCode::CONFLICT,
            RetryClass::Retry | RetryClass::BackOffAndAlert => StatusCode::SERVICE_UNAVAILABLE,
            RetryClass::NewMessageId | RetryClass::RetryWithLaterEol | RetryClass::Final => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
        };
        ApiError { status, message: fault.faultstring.clone(), fault: Some(Box::new(fault)) }
    }
}

impl From<InjectError> for ApiError {
    fn from(e: InjectError) -> ApiError {
        ApiError::bad_request(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body =
            json!({ "error": self.message, "fault": self.fault.as_ref().map(|f| inject::fault_label(&f.kind)) });
        if let Some(FaultKind::InvalidContent(errors)) = self.fault.as_deref().map(|f| &f.kind) {
            body["validation_errors"] =
                errors.iter().map(|e| json!({ "message": e.message, "position": e.position })).collect();
        }
        (self.status, Json(body)).into_response()
    }
}

/// A JSON answer or a JSON error.
type ApiResult = Result<(StatusCode, Json<Value>), ApiError>;

/// Reads a JSON request body strictly: unknown fields are refused, so a misspelt option never passes silently.
fn body_json<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("request body: {e}")))
}

/// Runs blocking emulator work (signing, the store) off the async threads.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("internal error: {e}")))
}

/// The control API's routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/control/faults", post(add_fault).get(list_rules).delete(clear_rules))
        .route("/control/latency", post(add_latency))
        .route("/control/drop", post(add_drop))
        .route("/control/queues", get(queues))
        .route("/control/messages", get(messages))
        .route("/control/messages/{id}", get(message))
        .route("/control/portal/send", post(portal_send))
        .route("/control/portal/responses/{request_id}", get(portal_response))
        .route("/control/portal/responses/{request_id}/all", get(portal_responses))
        .route("/control/reset", post(reset))
}

/// `GET /healthz`: the server is up and answering.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Any path the server does not have.
pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, format!("no such endpoint: {}", uri.path()))
}

/// `POST /control/faults`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultBody {
    /// The operation (`SendRequest`, ...); every operation when absent or `*`.
    operation: Option<String>,
    /// The fault's name (`SMEVFailure`, `SignatureVerificationFault/SignatureIsInvalid`, ...).
    fault: String,
    /// Fail the next this many calls.
    count: Option<u64>,
    /// Fail each call with this probability.
    probability: Option<f64>,
}

/// `POST /control/latency`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LatencyBody {
    /// The operation; every operation when absent or `*`.
    operation: Option<String>,
    /// The delay in milliseconds.
    ms: u64,
    /// Delay only the next this many calls; every call when absent.
    count: Option<u64>,
}

/// `POST /control/drop`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DropBody {
    /// The operation; every operation when absent or `*`.
    operation: Option<String>,
    /// Drop the next this many calls.
    count: Option<u64>,
    /// Drop each call with this probability.
    probability: Option<f64>,
}

/// A rule as the control API shows it.
fn rule_json(rule: &Rule) -> Value {
    let mut value = json!({
        "id": rule.id,
        "operation": rule.operation.map_or("*", |op| op.name()),
        "fired": rule.fired,
    });
    match &rule.effect {
        Effect::Fault(kind) => {
            value["effect"] = "fault".into();
            value["fault"] = inject::fault_label(kind).into();
        }
        Effect::Drop => value["effect"] = "drop".into(),
        Effect::Latency(delay) => {
            value["effect"] = "latency".into();
            value["ms"] = (delay.as_millis() as u64).into();
        }
    }
    match rule.trigger {
        Trigger::Count { remaining } => value["remaining"] = remaining.into(),
        Trigger::Probability(p) => value["probability"] = p.into(),
        Trigger::Always => {}
    }
    value
}

/// Adds a rule and answers it with 201.
fn added(state: &AppState, operation: Option<&str>, effect: Effect, trigger: Trigger) -> ApiResult {
    let operation = inject::parse_operation(operation)?;
    let rule = state.injector.add(operation, effect, trigger)?;
    tracing::info!(rule = %rule_json(&rule), "injection added");
    Ok((StatusCode::CREATED, Json(rule_json(&rule))))
}

async fn add_fault(State(state): State<Arc<AppState>>, body: Bytes) -> ApiResult {
    let body: FaultBody = body_json(&body)?;
    let kind = inject::parse_fault(&body.fault)?;
    let trigger = Trigger::from_options(body.count, body.probability)?;
    added(&state, body.operation.as_deref(), Effect::Fault(kind), trigger)
}

async fn add_latency(State(state): State<Arc<AppState>>, body: Bytes) -> ApiResult {
    let body: LatencyBody = body_json(&body)?;
    let trigger = match body.count {
        None => Trigger::Always,
        Some(count) => Trigger::from_options(Some(count), None)?,
    };
    added(&state, body.operation.as_deref(), Effect::Latency(Duration::from_millis(body.ms)), trigger)
}

async fn add_drop(State(state): State<Arc<AppState>>, body: Bytes) -> ApiResult {
    let body: DropBody = body_json(&body)?;
    let trigger = Trigger::from_options(body.count, body.probability)?;
    added(&state, body.operation.as_deref(), Effect::Drop, trigger)
}

/// `GET /control/faults`: every injection rule in force.
async fn list_rules(State(state): State<Arc<AppState>>) -> ApiResult {
    let rules: Vec<Value> = state.injector.rules().iter().map(rule_json).collect();
    Ok((StatusCode::OK, Json(json!({ "rules": rules }))))
}

/// `DELETE /control/faults`: removes every fault, drop and latency rule.
async fn clear_rules(State(state): State<Arc<AppState>>) -> ApiResult {
    let cleared = state.injector.clear();
    tracing::info!(cleared, "injections cleared");
    Ok((StatusCode::OK, Json(json!({ "cleared": cleared }))))
}

/// `GET /control/queues`: the depth of every non-empty queue.
async fn queues(State(state): State<Arc<AppState>>) -> ApiResult {
    let depths: Vec<Value> = state
        .emulator
        .queues()
        .queue_depths()
        .into_iter()
        .map(|d| {
            json!({
                "recipient": d.recipient,
                "direction": d.direction.as_str(),
                "pending": d.pending,
                "deliverable": d.deliverable,
            })
        })
        .collect();
    Ok((StatusCode::OK, Json(json!({ "queues": depths }))))
}

/// The name of a message state in the control API.
fn state_name(state: MessageState) -> &'static str {
    match state {
        MessageState::Queued => "queued",
        MessageState::Delivered => "delivered",
        MessageState::Acknowledged => "acknowledged",
    }
}

/// A message's metadata, without its payload.
fn summary_json(record: &MessageRecord) -> Value {
    let h = &record.header;
    json!({
        "message_id": h.message_id,
        "sequence": record.sequence,
        "direction": h.direction.as_str(),
        "sender": h.sender,
        "recipient": h.recipient,
        "namespace_uri": h.namespace_uri,
        "root_element": h.root_element,
        "original_message_id": h.original_message_id,
        "reference_message_id": h.reference_message_id,
        "test_message": h.test_message,
        "accepted_ms": record.accepted_ms,
        "payload_bytes": record.payload_len,
        "status": record.status().as_str(),
        "state": state_name(MessageState::of(record)),
        "delivery_count": record.delivery_count,
        "last_delivery_ms": record.last_delivery_ms,
        "ack": record.ack.map(|a| json!({ "at_ms": a.at_ms, "accepted": a.accepted })),
    })
}

/// `GET /control/messages?direction=&recipient=&sender=&state=`.
async fn messages(State(state): State<Arc<AppState>>, Query(query): Query<HashMap<String, String>>) -> ApiResult {
    let mut filter = ListFilter::default();
    for (key, value) in query {
        match key.as_str() {
            "direction" => {
                filter.direction = Some(match value.as_str() {
                    "request" => Direction::Request,
                    "response" => Direction::Response,
                    other => return Err(ApiError::bad_request(format!("direction '{other}': request or response"))),
                })
            }
            "state" => {
                filter.state = Some(match value.as_str() {
                    "queued" => MessageState::Queued,
                    "delivered" => MessageState::Delivered,
                    "acknowledged" => MessageState::Acknowledged,
                    other => {
                        return Err(ApiError::bad_request(format!(
                            "state '{other}': queued, delivered or acknowledged"
                        )))
                    }
                })
            }
            "recipient" => filter.recipient = Some(value),
            "sender" => filter.sender = Some(value),
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown filter '{other}' (direction, recipient, sender, state)"
                )))
            }
        }
    }
    let list: Vec<Value> = state.emulator.queues().list(&filter).iter().map(|s| summary_json(&s.record)).collect();
    Ok((StatusCode::OK, Json(json!({ "messages": list }))))
}

/// `GET /control/messages/{id}`: metadata, status history and the envelope as the sender posted it.
async fn message(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> ApiResult {
    let emulator = state.emulator.clone();
    let lookup = id.clone();
    let stored = blocking(move || emulator.queues().get(&lookup))
        .await?
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no message {id}")))?;
    let mut value = summary_json(&stored.record);
    value["history"] = stored
        .record
        .history
        .iter()
        .map(|entry| json!({ "at_ms": entry.at_ms, "status": entry.status.as_str() }))
        .collect();
    value["payload"] = String::from_utf8_lossy(&stored.payload).into_owned().into();
    Ok((StatusCode::OK, Json(value)))
}

/// `POST /control/portal/send`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PortalSendBody {
    /// The business content; its root element names the kind of data.
    content: String,
    /// Whether to mark the request `TestMessage`.
    #[serde(default)]
    test_message: bool,
}

/// `POST /control/portal/send`: sends a request as the portal, signed with its key, through the SOAP core.
async fn portal_send(State(state): State<Arc<AppState>>, body: Bytes) -> ApiResult {
    let body: PortalSendBody = body_json(&body)?;
    let emulator = state.emulator.clone();
    let message_id =
        blocking(move || emulator.portal_send(&body.content, body.test_message).map_err(ApiError::fault)).await??;
    tracing::info!(%message_id, "the portal sent a request");
    Ok((StatusCode::CREATED, Json(json!({ "message_id": message_id }))))
}

/// `GET /control/portal/responses/{request_id}`: collects the portal's responses, then shows the latest one to
/// this request; 404 until one has arrived.
async fn portal_response(State(state): State<Arc<AppState>>, Path(request_id): Path<String>) -> ApiResult {
    let emulator = state.emulator.clone();
    let lookup = request_id.clone();
    let found =
        blocking(move || emulator.portal_poll().map(|_| emulator.portal_response(&lookup)).map_err(ApiError::fault));
    let response = found
        .await??
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no response to {request_id} yet")))?;
    Ok((StatusCode::OK, Json(portal_response_json(&response))))
}

/// `GET /control/portal/responses/{request_id}/all`: collects the portal's responses, then shows every one to this
/// request so far, in arrival order, each as `GET /control/portal/responses/{request_id}` shows one; `[]` for a
/// request with no response yet, 404 for a request the emulator does not know.
async fn portal_responses(State(state): State<Arc<AppState>>, Path(request_id): Path<String>) -> ApiResult {
    let emulator = state.emulator.clone();
    let lookup = request_id.clone();
    let found =
        blocking(move || emulator.portal_poll().map(|_| emulator.portal_responses(&lookup)).map_err(ApiError::fault));
    let responses =
        found.await??.ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no request {request_id}")))?;
    Ok((StatusCode::OK, Json(responses.iter().map(portal_response_json).collect())))
}

/// One response the portal received, as the control API shows it.
fn portal_response_json(response: &crate::soap::PortalResponse) -> Value {
    let mut value = json!({
        "request_message_id": response.request_message_id,
        "response_message_id": response.response_message_id,
        "signatures_valid": response.signatures_valid,
    });
    match &response.body {
        ResponseBody::Content { content, .. } => {
            value["kind"] = "content".into();
            value["content"] = content.clone().into();
        }
        ResponseBody::Rejected(reasons) => {
            value["kind"] = "rejected".into();
            value["reasons"] =
                reasons.iter().map(|r| json!({ "code": r.code.as_str(), "description": r.description })).collect();
        }
        ResponseBody::Status(status) => {
            value["kind"] = "status".into();
            value["status"] = json!({
                "code": status.code,
                "description": status.description,
                "parameters": status.parameters.iter().map(|(k, v)| json!({ "key": k, "value": v })).collect::<Vec<_>>(),
            });
        }
        ResponseBody::AsyncStatus(status) => {
            value["kind"] = "async_status".into();
            value["status"] = json!({ "category": status.category, "details": status.details });
        }
    }
    value
}

/// `POST /control/reset`: forgets every message, status, portal response and injection rule.
async fn reset(State(state): State<Arc<AppState>>) -> ApiResult {
    let emulator = state.emulator.clone();
    blocking(move || emulator.reset())
        .await?
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let cleared = state.injector.clear();
    tracing::info!(cleared, "reset");
    Ok((StatusCode::OK, Json(json!({ "reset": true, "rules_cleared": cleared }))))
}
