//! The HTTP layer: routing, parsing, headers and error mapping. Handlers stay thin; the
//! decisions are in [`crate::registry`] and [`crate::domain`].

mod body_limit;
pub mod caller;
pub mod error;
mod health;
pub mod images;
mod members;
pub mod meta_headers;
mod request_log;

use crate::registry::Registry;
use crate::storage::ImageStore;
use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, put};
use serde::Serialize;
use std::sync::Arc;
use tower_http::timeout::TimeoutLayer;

/// What every handler shares.
pub struct AppState<S> {
    pub registry: Registry<S>,
    pub owner_is_tenant: bool,
    /// Decides each request's caller.
    pub auth: crate::auth::Authenticator,
    pub max_body_bytes: usize,
    /// How long one request may take before it is answered 503.
    pub request_timeout: std::time::Duration,
    pub metrics: crate::metrics::Metrics,
    /// Serve `/metrics` on the API listener (off when disabled or moved to its own).
    pub metrics_on_api: bool,
}

/// A JSON response. Serialising our own types cannot fail; if it ever did, say so as a 500.
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    // Most bodies are one image or a page of them: start at a size that fits one image
    // instead of growing from 128 bytes four times.
    let mut bytes = Vec::with_capacity(1024);
    match serde_json::to_writer(&mut bytes, body) {
        Ok(()) => {
            let mut resp = Response::new(Body::from(bytes));
            *resp.status_mut() = status;
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
        Err(e) => error::error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("serialisation failed: {e}"),
        ),
    }
}

/// The OpenAPI description of the API, checked into the repository and compiled in.
pub const OPENAPI_JSON: &str = include_str!("../../openapi.json");

async fn openapi() -> Response {
    let mut resp = Response::new(Body::from(OPENAPI_JSON));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

async fn metrics_handler<S: ImageStore>(State(app): State<Arc<AppState<S>>>) -> Response {
    if !app.metrics_on_api {
        return error::error_response(StatusCode::NOT_FOUND, "No such resource");
    }
    metrics_text(&app).await
}

async fn metrics_text<S: ImageStore>(app: &AppState<S>) -> Response {
    let text = app.metrics.render(&app.registry.store).await;
    let mut resp = Response::new(Body::from(text));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}

/// A router that serves only `/metrics` (for `metrics_bind`), proxying to the API router's
/// handler so both render the same state.
pub fn metrics_router(api: Router) -> Router {
    use tower::ServiceExt;
    Router::new().route(
        "/metrics",
        get(move |req: axum::extract::Request| {
            let api = api.clone();
            async move {
                let (mut parts, body) = req.into_parts();
                parts.extensions.insert(MetricsListener);
                match api
                    .oneshot(axum::extract::Request::from_parts(parts, body))
                    .await
                {
                    Ok(r) => r,
                    Err(never) => match never {},
                }
            }
        }),
    )
}

/// Marks a request that came through the dedicated metrics listener.
#[derive(Clone, Copy)]
struct MetricsListener;

async fn metrics_any<S: ImageStore>(
    State(app): State<Arc<AppState<S>>>,
    req: axum::extract::Request,
) -> Response {
    if req.extensions().get::<MetricsListener>().is_some() {
        metrics_text(&app).await
    } else {
        metrics_handler(State(app)).await
    }
}

/// The whole API.
pub fn router<S: ImageStore>(state: Arc<AppState<S>>) -> Router {
    let max_body = state.max_body_bytes;
    let timeout = state.request_timeout;
    Router::new()
        .route("/", get(images::list_brief::<S>))
        .route(
            "/images",
            get(images::list_brief::<S>).post(images::create::<S>),
        )
        .route(
            "/images/",
            get(images::list_brief::<S>).post(images::create::<S>),
        )
        .route("/images/detail", get(images::list_detail::<S>))
        .route(
            "/images/{id}",
            get(images::show::<S>)
                .head(images::head::<S>)
                .put(images::update::<S>)
                .delete(images::delete::<S>),
        )
        .route(
            "/images/{id}/members",
            get(members::list::<S>).put(members::replace::<S>),
        )
        .route(
            "/images/{id}/members/{member}",
            put(members::add::<S>).delete(members::remove::<S>),
        )
        .route("/shared-images/{member}", get(members::shared::<S>))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz::<S>))
        .route("/openapi.json", get(openapi))
        .route("/metrics", get(metrics_any::<S>))
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
