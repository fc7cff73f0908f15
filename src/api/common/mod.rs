//! What every API version shares: the error mapping, the caller, the body limit, the request
//! id and log, entity tags, probes, `/openapi.json` and `/metrics`.

pub mod body_limit;
pub mod caller;
pub mod error;
pub mod etag;
mod health;
pub mod metrics;
mod openapi;
pub mod query;
pub mod request_log;

pub use error::json;

use super::AppState;
use crate::storage::Catalog;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::get;
use std::sync::Arc;
use tower_http::timeout::TimeoutLayer;

pub use openapi::OPENAPI_JSON;

/// The routes that are not part of any API version.
pub fn routes<S: Catalog>() -> Router<Arc<AppState<S>>> {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz::<S>))
        .route("/openapi.json", get(openapi::openapi))
        .route("/metrics", get(metrics::metrics_any::<S>))
}

/// `routes` with the unknown-route 404, the state, and the layers every request passes:
/// timeout, body limit, JSON error bodies, request id and log.
pub fn layers<S: Catalog>(routes: Router<Arc<AppState<S>>>, state: Arc<AppState<S>>) -> Router {
    let max_body = state.max_body_bytes;
    let timeout = state.request_timeout;
    routes
        .fallback(|| async { error::error_response(StatusCode::NOT_FOUND, "No such resource") })
        .with_state(state)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            timeout,
        ))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn(move |req, next| {
            body_limit::limit_body(max_body, req, next)
        }))
        // Outside the body limit, so that its 413 gets the JSON error body too.
        .layer(axum::middleware::map_response(error::json_errors))
        .layer(axum::middleware::from_fn(request_log::request_id_and_log))
}
