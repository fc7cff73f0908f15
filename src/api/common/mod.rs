//! What every API version shares: the error mapping, the caller, the body limit, the request
//! id and log, entity tags, probes, `/openapi.json` and `/metrics`.

pub mod body_limit;
pub mod caller;
pub mod error;
pub mod etag;
mod health;
pub mod metrics;
pub mod openapi;
pub mod query;
pub mod request_log;

pub use error::json;

use super::AppState;
use crate::storage::Catalog;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::IntoResponse;
use axum::routing::get;
use std::sync::Arc;

pub use openapi::OPENAPI_JSON;

/// The routes that are not part of any API version.
pub fn routes<S: Catalog>() -> Router<Arc<AppState<S>>> {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz::<S>))
        .route("/metrics", get(metrics::metrics_any::<S>))
}

/// Which API's error body a listener's framework errors get.
#[derive(Debug, Clone, Copy)]
pub enum ErrorBodies {
    V1,
    V2,
}

/// Requests whose body is streamed (image data), with no body limit and no overall timeout:
/// their handler bounds them itself (size cap, idle timeout).
pub type Streams = fn(&Request) -> bool;

/// No request of this listener is streamed.
pub fn never_streams(_: &Request) -> bool {
    false
}

/// `routes` with the state and the layers every request passes: timeout and body limit
/// (unless `streams` says the request is streamed), JSON error bodies (of `errors`' shape),
/// request id and log.
pub fn layers<S: Catalog>(
    routes: Router<Arc<AppState<S>>>,
    state: Arc<AppState<S>>,
    errors: ErrorBodies,
    streams: Streams,
) -> Router {
    let max_body = state.max_body_bytes;
    let timeout = state.request_timeout;
    routes
        .with_state(state)
        .layer(axum::middleware::from_fn(
            move |req: Request, next: Next| async move {
                if streams(&req) {
                    return next.run(req).await;
                }
                match tokio::time::timeout(timeout, next.run(req)).await {
                    Ok(resp) => resp,
                    Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
                }
            },
        ))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn(
            move |req: Request, next: Next| async move {
                if streams(&req) {
                    next.run(req).await
                } else {
                    body_limit::limit_body(max_body, req, next).await
                }
            },
        ))
        // Outside the body limit, so that its 413 gets the JSON error body too.
        .layer(axum::middleware::map_response(move |resp| async move {
            match errors {
                ErrorBodies::V1 => error::json_errors(resp).await,
                ErrorBodies::V2 => crate::api::v2::error::json_errors(resp).await,
            }
        }))
        .layer(axum::middleware::from_fn(request_log::request_id_and_log))
}
