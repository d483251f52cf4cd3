//! The gateway's HTTP endpoint: health and readiness, `/metrics` for Prometheus, the operators' API under
//! `/ops/api/` and the dashboard page at `/ops/`.
//!
//! `/healthz`, `/readyz` and `/metrics` answer without a token, as probes and scrapers expect; they return counts
//! and states, never ids or personal data. Everything under `/ops/api/` needs a bearer token (see
//! [`crate::ops::api`]); the dashboard page itself is static and holds no data.
#![forbid(unsafe_code)]

use super::breaker::BreakerState;
use super::runtime::Shared;
use crate::metrics::{Snapshot, CONTENT_TYPE};
use crate::ops::api::{breaker_name, breaker_states};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect};
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Arc;
use tower_http::limit::RequestBodyLimitLayer;

/// The routes, with the request-body limit of `http.max_body_bytes`.
///
/// The limit is the outermost layer, so it applies to every route, the operators' API included, before any handler
/// or extractor reads a byte: a body declared larger is refused with 413 at once, one that turns out larger is
/// cut off at the limit. axum's own extractor limit is set to the same value so the two never disagree.
pub fn router(shared: Arc<Shared>) -> Router {
    let max_body = shared.config.http.max_body_bytes;
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .route("/ops", get(|| async { Redirect::permanent("/ops/") }))
        .route("/ops/", get(|| async { Html(crate::ops::dashboard::INDEX_HTML) }))
        .merge(crate::ops::api::routes())
        .with_state(shared)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(RequestBodyLimitLayer::new(max_body))
}

/// Ready when the store answers and can still make writes durable, SMEV answered the last poll (or none was made
/// yet), and neither SMEV's nor the school system's circuit breaker is open. Each check is reported, so that a 503
/// says which one failed: after a failed flush, `"store": "failed: <reason>"`.
async fn ready(State(shared): State<Arc<Shared>>) -> (StatusCode, Json<serde_json::Value>) {
    let store = match shared.store.failure() {
        // The in-memory view still answers after a failed flush; what matters is that nothing more can be kept.
        Some(reason) => Err(format!("failed: {reason}")),
        None => shared.outbox.stats(shared.clock.now()).await.map(drop).map_err(|_| "failing".to_owned()),
    };
    let breakers = breaker_states(&shared);
    let poll = shared.metrics.last_poll();
    let smev_ok = poll.as_ref().is_none_or(|p| p.ok);
    let breakers_ok = breakers.iter().all(|(_, state)| *state != BreakerState::Open);
    let ok = store.is_ok() && smev_ok && breakers_ok;
    let smev_breaker = breakers.first().map(|(_, state)| format!("{state:?}")).unwrap_or_default();
    let body = serde_json::json!({
        "ready": ok,
        "store": match &store { Ok(()) => "ok", Err(reason) => reason.as_str() },
        "smev": match &poll {
            None => "unknown".to_owned(),
            Some(p) if p.ok => "ok".to_owned(),
            Some(p) => format!("failing ({})", p.fault.as_deref().unwrap_or("unknown")),
        },
        "smev_last_poll": poll.as_ref().map(|p| crate::ops::view::at(p.at)),
        "smev_breaker": smev_breaker,
        "breakers": breakers.iter().map(|(destination, state)| {
            serde_json::json!({ "destination": destination, "state": breaker_name(*state) })
        }).collect::<Vec<_>>(),
    });
    (if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, Json(body))
}

/// A breaker's state as the metrics name it (they know nothing of the gateway's breakers).
fn metrics_state(state: BreakerState) -> crate::metrics::BreakerState {
    match state {
        BreakerState::Closed => crate::metrics::BreakerState::Closed,
        BreakerState::Open => crate::metrics::BreakerState::Open,
        BreakerState::HalfOpen => crate::metrics::BreakerState::HalfOpen,
    }
}

/// The metrics in the OpenMetrics text format; the gauges are read now. A failing store leaves its gauges out
/// rather than failing the scrape, so that the counters still tell what happened.
async fn metrics(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let stats = shared.outbox.stats(shared.clock.now()).await.unwrap_or_default();
    let kinds = shared
        .config
        .provider
        .kinds
        .iter()
        .map(|kind| (kind.root.clone(), shared.paused.is_paused(&kind.root)))
        .collect();
    let breakers = breaker_states(&shared).into_iter().map(|(name, state)| (name, metrics_state(state))).collect();
    let snapshot = Snapshot { stats, breakers, kinds };
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], shared.metrics.render(&snapshot))
}
