//! The operators' HTTP API under `/ops/api/`, on the gateway's own listener.
//!
//! Every call needs `Authorization: Bearer <token>` with a token from `[ops] tokens`; without a valid one the
//! answer is 401, and a role that lacks the right gets 403, both as JSON ([`ErrorBody`]). Roles: `viewer` reads
//! (personal data masked), `operator` also retries, purges, pauses and resumes, `admin` also sees personal data
//! unmasked when it asks with `?pii=true` (which the audit log records).
//!
//! | route | role | answer |
//! |---|---|---|
//! | `GET /ops/api/summary` | viewer | [`SummaryView`] |
//! | `GET /ops/api/items?queue=&state=&key=&after=&limit=` | viewer | `{"items": [ItemView]}` |
//! | `GET /ops/api/items/{id}` | viewer | [`ItemDetail`] |
//! | `POST /ops/api/items/{id}/retry` | operator | [`ActionView`] |
//! | `POST /ops/api/items/{id}/purge` with `{"confirm": id}` | operator | [`ActionView`] |
//! | `POST /ops/api/kinds/{root}/pause`, `.../resume` | operator | [`KindActionView`] |
//! | `GET /ops/api/trace/{id}` | viewer | [`TraceView`] |
//! | `GET /ops/api/audit?limit=` | viewer | `{"entries": [AuditEntry]}` |
#![forbid(unsafe_code)]

use super::desk::{Actor, Desk, ItemQuery};
use super::view::{
    at, BreakerView, CountersView, ErrorBody, FaultView, ItemDetail, KindActionView, KindView, PollView, QueueView,
    SummaryView,
};
use super::AuditLog;
use super::OpsError;
use crate::config::{OpsRole, OpsToken};
use crate::gateway::{jobs, Gateway, Handles};
use crate::outbox::StateFilter;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::collections::HashMap;
use std::sync::Arc;

/// What the operators' API works with: the gateway's handles, the tokens and the audit log (which belongs to
/// the operators' side, not to the gateway).
pub struct OpsState {
    /// The gateway's stores, switches and counters.
    pub handles: Handles,
    /// The bearer tokens and their roles (`[ops] tokens`).
    pub tokens: Vec<OpsToken>,
    /// Who did what.
    pub audit: AuditLog,
}

impl OpsState {
    /// The operators' state for a gateway: its handles, the configured tokens and the audit log in its state
    /// directory.
    pub fn for_gateway(gateway: &Gateway) -> OpsState {
        let config = gateway.config();
        OpsState {
            handles: gateway.handles(),
            tokens: config.ops.tokens.clone(),
            audit: AuditLog::in_store(&config.store.path),
        }
    }
}

/// Plugs the operators' API and dashboard into a gateway's HTTP endpoint.
pub fn attach(gateway: Gateway) -> Gateway {
    let state = OpsState::for_gateway(&gateway);
    gateway.with_routes(router(state))
}

/// The dashboard page and the API's routes, with their state.
pub fn router(state: OpsState) -> Router {
    Router::new()
        .route("/ops", get(|| async { axum::response::Redirect::permanent("/ops/") }))
        .route("/ops/", get(|| async { axum::response::Html(super::dashboard::INDEX_HTML) }))
        .merge(routes())
        .with_state(Arc::new(state))
}

/// The API's routes.
fn routes() -> Router<Arc<OpsState>> {
    Router::new()
        .route("/ops/api/summary", get(summary))
        .route("/ops/api/items", get(list_items))
        .route("/ops/api/items/{id}", get(show_item))
        .route("/ops/api/items/{id}/retry", post(retry_item))
        .route("/ops/api/items/{id}/purge", post(purge_item))
        .route("/ops/api/kinds/{root}/pause", post(pause_kind))
        .route("/ops/api/kinds/{root}/resume", post(resume_kind))
        .route("/ops/api/trace/{id}", get(trace))
        .route("/ops/api/audit", get(audit))
        .route("/ops/api/{*rest}", axum::routing::any(unknown))
}

impl IntoResponse for OpsError {
    fn into_response(self) -> Response {
        let (status, code) = self.status();
        if status >= 500 {
            tracing::error!(error = %self, "operators' API failed");
        }
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = ErrorBody { error: code.to_owned(), message: self.to_string() };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"edugate\""));
        }
        response
    }
}

/// The caller, identified by a valid bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's name.
    pub name: String,
    /// Its role.
    pub role: OpsRole,
}

impl Caller {
    /// Refuses unless the caller's role is at least `needed`.
    fn require(&self, needed: OpsRole, what: &str) -> Result<(), OpsError> {
        if self.role >= needed {
            Ok(())
        } else {
            Err(OpsError::Forbidden(format!(
                "{what} needs the {} role; the token '{}' is {}",
                needed.as_str(),
                self.name,
                self.role.as_str()
            )))
        }
    }

    /// Who the audit log names.
    fn actor(&self) -> Actor {
        Actor { name: self.name.clone(), role: self.role.as_str().to_owned() }
    }
}

impl FromRequestParts<Arc<OpsState>> for Caller {
    type Rejection = OpsError;

    async fn from_request_parts(parts: &mut Parts, shared: &Arc<OpsState>) -> Result<Caller, OpsError> {
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
            .map(str::trim)
            .ok_or(OpsError::Unauthorized)?;
        authenticate(&shared.tokens, presented).ok_or(OpsError::Unauthorized)
    }
}

/// The caller whose token is `presented`. Every configured token is compared in full, in time independent of
/// where the first difference is, so that timing tells nothing about a token.
pub fn authenticate(tokens: &[OpsToken], presented: &str) -> Option<Caller> {
    let mut found = None;
    for token in tokens {
        if constant_time_eq(token.token.as_bytes(), presented.as_bytes()) {
            found = Some(Caller { name: token.name.clone(), role: token.role });
        }
    }
    found
}

/// Compares two byte strings in time that does not depend on where they differ (`subtle`); only whether their
/// lengths differ shows, and a token's length is no secret (it has at least 16 random characters).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    bool::from(subtle::ConstantTimeEq::ct_eq(a, b))
}

/// The desk over the gateway's stores.
fn desk(shared: &OpsState) -> Desk {
    Desk {
        outbox: shared.handles.outbox.clone(),
        inbox: shared.handles.inbox.clone(),
        audit: shared.audit.clone(),
        clock: shared.handles.clock.clone(),
    }
}

/// The query string, or a JSON 400.
type QueryMap = Result<Query<HashMap<String, String>>, QueryRejection>;

/// The query's parameters.
fn params(query: QueryMap) -> Result<HashMap<String, String>, OpsError> {
    query.map(|Query(map)| map).map_err(|e| OpsError::BadRequest(format!("bad query string: {e}")))
}

/// Whether the caller asked for personal data unmasked, which only an admin may.
fn reveal(caller: &Caller, params: &HashMap<String, String>) -> Result<bool, OpsError> {
    match params.get("pii").map(String::as_str) {
        None | Some("false") | Some("0") | Some("") => Ok(false),
        Some("true") | Some("1") => {
            caller.require(OpsRole::Admin, "seeing personal data")?;
            Ok(true)
        }
        Some(other) => Err(OpsError::BadRequest(format!("pii must be true or false, not '{other}'"))),
    }
}

/// A number parameter.
fn number<T: std::str::FromStr>(params: &HashMap<String, String>, name: &str) -> Result<Option<T>, OpsError> {
    params
        .get(name)
        .filter(|value| !value.is_empty())
        .map(|value| value.parse().map_err(|_| OpsError::BadRequest(format!("{name} must be a number, not '{value}'"))))
        .transpose()
}

/// An item id from the path.
fn item_id(raw: &str) -> Result<u64, OpsError> {
    raw.trim_start_matches('#').parse().map_err(|_| OpsError::NotFound(format!("no outbox item {raw}")))
}

async fn summary(caller: Caller, State(shared): State<Arc<OpsState>>) -> Result<Json<SummaryView>, OpsError> {
    let _ = caller;
    let handles = &shared.handles;
    let now = handles.clock.now();
    let stats = handles.outbox.stats(now).await?;
    let mut queues: Vec<QueueView> = Vec::new();
    let names = [jobs::SEND_QUEUE, jobs::ACK_QUEUE, jobs::DEFERRED_QUEUE].map(str::to_owned);
    let others = stats.queues.keys().filter(|queue| !names.contains(queue)).cloned().collect::<Vec<_>>();
    for queue in names.into_iter().chain(others) {
        let counts = stats.queue(&queue);
        queues.push(QueueView {
            queue,
            pending: counts.pending,
            leased: counts.leased,
            completed: counts.completed,
            dead: counts.dead,
            oldest_pending_age_secs: counts.oldest_pending_age.map(|age| age.as_secs_f64()),
        });
    }
    let breakers = handles
        .breaker_states()
        .into_iter()
        .map(|(destination, state)| BreakerView { destination, state: state.name().to_owned() })
        .collect();
    let kinds = handles
        .registry
        .entries()
        .iter()
        .map(|r| KindView {
            root: r.kind.root_element.clone(),
            namespace: r.kind.namespace_uri.clone(),
            handler: r.service.name().to_owned(),
            paused: handles.paused.is_paused(&r.kind.root_element),
        })
        .collect();
    let recent_faults = handles
        .metrics
        .recent_faults()
        .into_iter()
        .map(|f| FaultView { at: at(f.at), fault: f.fault, operation: f.operation, class: f.class.to_owned() })
        .collect();
    let totals = handles.metrics.totals();
    let counters = CountersView {
        received: totals.received,
        sent: totals.sent,
        acked: totals.acked,
        retries: totals.retries,
        dead_lettered: totals.dead_lettered,
        faults: totals.faults,
    };
    let last_poll = handles.metrics.last_poll().map(|p| PollView { at: at(p.at), ok: p.ok, fault: p.fault });
    Ok(Json(SummaryView {
        now: at(now),
        queues,
        breakers,
        kinds,
        paused_kinds: handles.paused.list(),
        recent_faults,
        counters,
        last_poll,
    }))
}

async fn list_items(
    caller: Caller,
    State(shared): State<Arc<OpsState>>,
    query: QueryMap,
) -> Result<Json<serde_json::Value>, OpsError> {
    let params = params(query)?;
    let reveal = reveal(&caller, &params)?;
    let state = match params.get("state").map(String::as_str) {
        None | Some("") => None,
        Some(name) => Some(StateFilter::parse(name).ok_or_else(|| {
            OpsError::BadRequest(format!("state must be pending, leased, completed or dead, not '{name}'"))
        })?),
    };
    let query = ItemQuery {
        queue: params.get("queue").filter(|q| !q.is_empty()).cloned(),
        state,
        key: params.get("key").filter(|k| !k.is_empty()).cloned(),
        after: number(&params, "after")?,
        limit: number(&params, "limit")?.unwrap_or(100),
    };
    let desk = desk(&shared);
    // Unmasked personal data is shown only once the audit log holds who asked for it.
    if reveal {
        desk.record(&caller.actor(), "view-pii", &query.audit_target(), None)?;
    }
    let items = desk.list(&query, reveal).await?;
    Ok(Json(serde_json::json!({ "items": items })))
}

async fn show_item(
    caller: Caller,
    State(shared): State<Arc<OpsState>>,
    Path(id): Path<String>,
    query: QueryMap,
) -> Result<Json<ItemDetail>, OpsError> {
    let params = params(query)?;
    let reveal = reveal(&caller, &params)?;
    let id = item_id(&id)?;
    let desk = desk(&shared);
    if reveal {
        desk.record(&caller.actor(), "view-pii", &format!("item {id}"), None)?;
    }
    Ok(Json(desk.show(id, reveal).await?))
}

async fn retry_item(
    caller: Caller,
    State(shared): State<Arc<OpsState>>,
    Path(id): Path<String>,
) -> Result<Response, OpsError> {
    caller.require(OpsRole::Operator, "retrying a dead letter")?;
    let id = item_id(&id)?;
    Ok(Json(desk(&shared).retry(id, &caller.actor()).await?).into_response())
}

async fn purge_item(
    caller: Caller,
    State(shared): State<Arc<OpsState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, OpsError> {
    caller.require(OpsRole::Operator, "purging a dead letter")?;
    let id = item_id(&id)?;
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let confirmed = match &body["confirm"] {
        serde_json::Value::Number(n) => n.as_u64() == Some(id),
        serde_json::Value::String(s) => s.trim_start_matches('#') == id.to_string(),
        _ => false,
    };
    if !confirmed {
        return Err(OpsError::BadRequest(format!(
            "purging deletes item {id} for good: confirm with the body {{\"confirm\": {id}}}"
        )));
    }
    Ok(Json(desk(&shared).purge(id, &caller.actor()).await?).into_response())
}

async fn pause_kind(
    caller: Caller,
    State(shared): State<Arc<OpsState>>,
    Path(root): Path<String>,
) -> Result<Json<KindActionView>, OpsError> {
    switch_kind(caller, &shared, &root, true).await
}

async fn resume_kind(
    caller: Caller,
    State(shared): State<Arc<OpsState>>,
    Path(root): Path<String>,
) -> Result<Json<KindActionView>, OpsError> {
    switch_kind(caller, &shared, &root, false).await
}

/// Pauses or resumes the polling of a configured kind of data, recording it first.
async fn switch_kind(
    caller: Caller,
    shared: &OpsState,
    root: &str,
    pause: bool,
) -> Result<Json<KindActionView>, OpsError> {
    let action = if pause { "pause" } else { "resume" };
    caller.require(OpsRole::Operator, &format!("{action} of a kind of data"))?;
    if !shared.handles.registry.entries().iter().any(|r| r.kind.root_element == root) {
        return Err(OpsError::NotFound(format!("no configured kind of data has the root element '{root}'")));
    }
    desk(shared).record(&caller.actor(), action, &format!("kind {root}"), None)?;
    let changed = if pause { shared.handles.paused.pause(root) } else { shared.handles.paused.resume(root) };
    tracing::warn!(kind = root, actor = %caller.name, action, "polling of a kind of data switched by an operator");
    Ok(Json(KindActionView { root: root.to_owned(), paused: pause, changed }))
}

async fn trace(
    caller: Caller,
    State(shared): State<Arc<OpsState>>,
    Path(id): Path<String>,
    query: QueryMap,
) -> Result<Response, OpsError> {
    let params = params(query)?;
    let reveal = reveal(&caller, &params)?;
    let desk = desk(&shared);
    if reveal {
        desk.record(&caller.actor(), "view-pii", &format!("trace {id}"), None)?;
    }
    Ok(Json(desk.trace(&id, reveal).await?).into_response())
}

async fn audit(
    caller: Caller,
    State(shared): State<Arc<OpsState>>,
    query: QueryMap,
) -> Result<Json<serde_json::Value>, OpsError> {
    let _ = caller;
    let params = params(query)?;
    let limit = number(&params, "limit")?.unwrap_or(200);
    let entries = desk(&shared).audit_entries(limit)?;
    Ok(Json(serde_json::json!({ "entries": entries })))
}

/// Any other path under `/ops/api/`: authenticated like the rest, then 404.
async fn unknown(caller: Caller) -> OpsError {
    let _ = caller;
    OpsError::NotFound("no such operators' API route".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_in_full() {
        assert!(constant_time_eq(b"abcdefghijklmnop", b"abcdefghijklmnop"));
        assert!(!constant_time_eq(b"abcdefghijklmnop", b"abcdefghijklmnoq"));
        assert!(!constant_time_eq(b"abcdefghijklmnop", b"abcdefghijklmno"));
        assert!(!constant_time_eq(b"", b"\xff"));
        let tokens = vec![OpsToken { name: "duty".into(), token: "0123456789abcdef".into(), role: OpsRole::Viewer }];
        assert_eq!(authenticate(&tokens, "0123456789abcdef").map(|c| c.name).as_deref(), Some("duty"));
        assert!(authenticate(&tokens, "0123456789abcdeg").is_none());
        assert!(authenticate(&[], "").is_none());
    }
}
