//! The API layer: every wire format (JSON bodies, query strings, headers, entity tags) lives
//! here. Each API version (`v1`, the Glance registry API) reads requests into typed inputs,
//! calls the use cases in [`crate::registry`] and renders their results; [`common`] holds what
//! every version shares (errors, the caller, limits, logs, probes).

pub mod common;
pub mod v1;
pub mod v2;

use crate::registry::Registry;
use crate::storage::Catalog;
use axum::Router;
use axum::extract::State;
use std::sync::Arc;

pub use common::metrics::metrics_router;

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
    /// The public base URL of the images API (version documents, `Location`).
    pub public_endpoint: Option<String>,
    /// How many `x-image-meta-*` headers one image response may carry.
    pub meta_budget: v1::meta_headers::HeaderBudget,
}

/// The state extractor of every handler.
pub type App<S> = State<Arc<AppState<S>>>;

/// The registry listener: the v1 routes and the shared ones, inside the shared layers.
pub fn router<S: Catalog>(state: Arc<AppState<S>>) -> Router {
    let routes = v1::routes::<S>()
        .merge(common::routes::<S>())
        .route(
            "/openapi.json",
            axum::routing::get(common::openapi::openapi),
        )
        .fallback(|| async {
            common::error::error_response(axum::http::StatusCode::NOT_FOUND, "No such resource")
        });
    common::layers(
        routes,
        state,
        common::ErrorBodies::V1,
        common::never_streams,
    )
}

/// The images listener: the v2 routes and the shared ones, inside the shared layers, with
/// `/v2.N/` prefixes routed as `/v2/`.
pub fn images_router<S: Catalog>(state: Arc<AppState<S>>) -> Router {
    let routes = v2::routes::<S>().merge(common::routes::<S>());
    let inner = common::layers(routes, state, common::ErrorBodies::V2, v2::is_data_upload);
    Router::new()
        .fallback_service(inner)
        .layer(axum::middleware::map_request(|req| async {
            v2::strip_minor_version(req)
        }))
        .layer(axum::middleware::from_fn(
            v2::error::plain_errors_for_glanceclient,
        ))
}
