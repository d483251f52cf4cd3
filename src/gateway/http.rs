//! The gateway's HTTP endpoint: health and readiness now; the operators' API joins it later.
#![forbid(unsafe_code)]

use super::runtime::Shared;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Arc;

/// The routes.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new().route("/healthz", get(|| async { "ok" })).route("/readyz", get(ready)).with_state(shared)
}

/// Ready when the store answers and the breaker on SMEV is not open.
async fn ready(State(shared): State<Arc<Shared>>) -> (StatusCode, Json<serde_json::Value>) {
    let store = shared.outbox.stats(shared.clock.now()).await;
    let breaker = shared.breakers.state(super::worker::SMEV_DESTINATION);
    let ok = store.is_ok() && breaker != super::breaker::BreakerState::Open;
    let body = serde_json::json!({
        "store": if store.is_ok() { "ok" } else { "failing" },
        "smev_breaker": format!("{breaker:?}"),
    });
    (if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, Json(body))
}
