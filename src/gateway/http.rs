//! The gateway's HTTP endpoint: health and readiness, and `/metrics` for Prometheus. Routes of the layers above
//! (the operators' API and dashboard) are merged in by whoever assembles the binary ([`super::Gateway::with_routes`]):
//! the gateway knows nothing of them.
//!
//! `/healthz`, `/readyz` and `/metrics` answer without a token, as probes and scrapers expect; they return counts
//! and states, never ids or personal data.
#![forbid(unsafe_code)]

use super::breaker::BreakerState;
use super::handles::Handles;
use crate::metrics::{Snapshot, CONTENT_TYPE};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use tower_http::limit::RequestBodyLimitLayer;

/// The routes, with `extra` merged in, under the request-body limit of `http.max_body_bytes`.
///
/// The limit is the outermost layer, so it applies to every route, the merged ones included, before any handler or
/// extractor reads a byte: a body declared larger is refused with 413 at once, one that turns out larger is cut
/// off at the limit. axum's own extractor limit is set to the same value so the two never disagree.
pub fn router(handles: Handles, extra: Router, max_body: usize) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .with_state(handles)
        .merge(extra)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(RequestBodyLimitLayer::new(max_body))
}

/// Ready when the store answers and can still make writes durable, SMEV answered the last poll (or none was made
/// yet), and neither SMEV's nor the school system's circuit breaker is open. Each check is reported, so that a 503
/// says which one failed: after a failed flush, `"store": "failed: <reason>"`.
async fn ready(State(handles): State<Handles>) -> (StatusCode, Json<serde_json::Value>) {
    let store = match handles.store_health.failure() {
        // The in-memory view still answers after a failed flush; what matters is that nothing more can be kept.
        Some(reason) => Err(format!("failed: {reason}")),
        None => handles.outbox.stats(handles.clock.now()).await.map(drop).map_err(|_| "failing".to_owned()),
    };
    let breakers = handles.breaker_states();
    let poll = handles.metrics.last_poll();
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
        "smev_last_poll": poll.as_ref().map(|p| crate::metrics::health::rfc3339(p.at)),
        "smev_breaker": smev_breaker,
        "breakers": breakers.iter().map(|(destination, state)| {
            serde_json::json!({ "destination": destination, "state": state.name() })
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
async fn metrics(State(handles): State<Handles>) -> impl IntoResponse {
    let stats = handles.outbox.stats(handles.clock.now()).await.unwrap_or_default();
    let kinds = handles
        .registry
        .entries()
        .iter()
        .map(|r| (r.kind.root_element.clone(), handles.paused.is_paused(&r.kind.root_element)))
        .collect();
    let breakers = handles.breaker_states().into_iter().map(|(name, state)| (name, metrics_state(state))).collect();
    let snapshot = Snapshot { stats, breakers, kinds };
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], handles.metrics.render(&snapshot))
}
