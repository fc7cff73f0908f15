//! `GET /metrics`: on the API listener, or on a listener of its own (`metrics_bind`).

use super::error::error_response;
use crate::api::{App, AppState};
use crate::storage::Catalog;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;

async fn metrics_handler<S: Catalog>(State(app): App<S>) -> Response {
    if !app.metrics_on_api {
        return error_response(StatusCode::NOT_FOUND, "No such resource");
    }
    metrics_text(&app).await
}

async fn metrics_text<S: Catalog>(app: &AppState<S>) -> Response {
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

pub async fn metrics_any<S: Catalog>(State(app): App<S>, req: axum::extract::Request) -> Response {
    if req.extensions().get::<MetricsListener>().is_some() {
        metrics_text(&app).await
    } else {
        metrics_handler(State(app)).await
    }
}
