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
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect};
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Arc;

/// The routes.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .route("/ops", get(|| async { Redirect::permanent("/ops/") }))
        .route("/ops/", get(|| async { Html(crate::ops::dashboard::INDEX_HTML) }))
        .merge(crate::ops::api::routes())
        .with_state(shared)
}

/// Ready when the store answers, SMEV answered the last poll (or none was made yet), and neither SMEV's nor the
/// school system's circuit breaker is open. Each check is reported, so that a 503 says which one failed.
async fn ready(State(shared): State<Arc<Shared>>) -> (StatusCode, Json<serde_json::Value>) {
    let store = shared.outbox.stats(shared.clock.now()).await;
    let breakers = breaker_states(&shared);
    let poll = shared.metrics.last_poll();
    let smev_ok = poll.as_ref().is_none_or(|p| p.ok);
    let breakers_ok = breakers.iter().all(|(_, state)| *state != BreakerState::Open);
    let ok = store.is_ok() && smev_ok && breakers_ok;
    let smev_breaker = breakers.first().map(|(_, state)| format!("{state:?}")).unwrap_or_default();
    let body = serde_json::json!({
        "ready": ok,
        "store": if store.is_ok() { "ok" } else { "failing" },
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

/// The metrics in the Prometheus text format; the gauges are read now. A failing store leaves its gauges out
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
    let snapshot = Snapshot { stats, breakers: breaker_states(&shared), kinds };
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], shared.metrics.render(&snapshot))
}
