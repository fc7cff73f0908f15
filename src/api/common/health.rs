//! Probes for load balancers and orchestrators.

use super::error::{error_response, json};
use crate::api::AppState;
use crate::storage::Catalog;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use std::sync::Arc;

/// The process is up and serving HTTP.
pub async fn healthz() -> Response {
    json(StatusCode::OK, &serde_json::json!({"status": "ok"}))
}

/// The database answers: send traffic here.
pub async fn readyz<S: Catalog>(State(app): State<Arc<AppState<S>>>) -> Response {
    match app.registry.store.ping().await {
        Ok(()) => json(StatusCode::OK, &serde_json::json!({"status": "ready"})),
        Err(e) => error_response(StatusCode::SERVICE_UNAVAILABLE, &format!("not ready: {e}")),
    }
}
