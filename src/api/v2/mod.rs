//! The Glance v2 images API, on its own listener (Glance's API port), over the same catalog
//! as the v1 registry API: `/versions`, `/v2/images…`, members, tags, actions, schemas and
//! info, with the routing rules of Glance's WSGI router (405 with `Allow`, 404 or 501 for
//! unknown routes, 300 for an unknown version).

pub mod data_range;
pub mod documents;
pub mod error;
pub mod image_body;
mod images;
pub mod list_params;
mod members;
pub mod patch_body;

use super::AppState;
use crate::api::App;
use crate::api::common::caller::authenticate;
use crate::api::common::json;
use crate::domain::Caller;
use crate::storage::Catalog;
use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use axum::routing::{MethodRouter, get};
use error::{V2Error, error_body};
use std::sync::Arc;

/// Extractor: the caller, with v2 error bodies.
pub struct Caller2(pub Caller);

impl<S: Catalog> FromRequestParts<Arc<AppState<S>>> for Caller2 {
    type Rejection = V2Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState<S>>,
    ) -> Result<Self, V2Error> {
        // Readers reach the v2 policy, which answers 404 for what they cannot see and 403
        // for what they may not change.
        Ok(Caller2(authenticate(parts, state).await?))
    }
}

/// Extractor for endpoints that take no body: any body is 400, before anything else.
pub struct NoBody;

impl<T: Sync> FromRequestParts<T> for NoBody {
    type Rejection = V2Error;

    async fn from_request_parts(parts: &mut Parts, _: &T) -> Result<Self, V2Error> {
        let h = &parts.headers;
        let length = h
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
        let chunked = matches!(parts.method, Method::POST | Method::PUT | Method::PATCH)
            && h.contains_key(header::TRANSFER_ENCODING);
        if length > 0 || chunked {
            return Err(crate::error::Error::bad_request("This request takes no body").into());
        }
        Ok(NoBody)
    }
}

fn not_allowed(allow: &'static str) -> Response {
    let mut resp = error_body(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method not allowed on this resource; see the Allow header",
    );
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    resp
}

/// A route answering exactly `allow`: HEAD and every other method get 405 with that list.
fn only<S: Catalog>(
    allow: &'static str,
    methods: MethodRouter<Arc<AppState<S>>>,
) -> MethodRouter<Arc<AppState<S>>> {
    methods
        .head(move || async move { not_allowed(allow) })
        .fallback(move || async move { not_allowed(allow) })
}

async fn versions_300<S: Catalog>(State(app): App<S>, headers: HeaderMap) -> Response {
    let doc = documents::versions(app.public_endpoint.as_deref(), &headers);
    json(StatusCode::MULTIPLE_CHOICES, &doc)
}

async fn versions_200<S: Catalog>(State(app): App<S>, headers: HeaderMap) -> Response {
    let doc = documents::versions(app.public_endpoint.as_deref(), &headers);
    json(StatusCode::OK, &doc)
}

/// Unrouted paths: under `/v2` 404 (or 501 for methods Glance never routes); elsewhere the
/// path names no known version, which is answered with the versions (300).
async fn unrouted<S: Catalog>(
    State(app): App<S>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let path = uri.path();
    if path == "/v2" || path.starts_with("/v2/") {
        let known = [
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::PATCH,
        ];
        if known.contains(&method) {
            error_body(StatusCode::NOT_FOUND, "No such resource")
        } else {
            error_body(StatusCode::NOT_IMPLEMENTED, "Method not implemented")
        }
    } else {
        versions_300(State(app), headers).await
    }
}

fn doc<S: Catalog>(make: fn(&AppState<S>) -> serde_json::Value) -> MethodRouter<Arc<AppState<S>>> {
    only(
        "GET",
        get(
            move |_: NoBody, State(app): App<S>, _: Caller2| async move {
                json(StatusCode::OK, &make(&app))
            },
        ),
    )
}

/// The description of this API.
pub const OPENAPI_V2_JSON: &str = include_str!("../../../openapi-v2.json");

async fn openapi() -> Response {
    let mut resp = Response::new(axum::body::Body::from(OPENAPI_V2_JSON));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// The routes of the images API.
pub fn routes<S: Catalog>() -> Router<Arc<AppState<S>>> {
    use axum::routing::{post, put};
    Router::new()
        .route("/", get(versions_300::<S>))
        .route("/versions", get(versions_200::<S>))
        .route("/versions/", get(versions_200::<S>))
        .route("/versions/{*rest}", get(versions_200::<S>))
        .route(
            "/v2/images",
            only(
                "GET, POST",
                get(images::list::<S>).post(images::create::<S>),
            ),
        )
        .route(
            "/v2/images/{id}",
            only(
                "GET, PATCH, DELETE",
                get(images::show::<S>)
                    .patch(images::update::<S>)
                    .delete(images::delete::<S>),
            ),
        )
        .route(
            "/v2/images/{id}/file",
            only(
                "GET, PUT",
                get(images::download::<S>).put(images::upload::<S>),
            ),
        )
        .route(
            "/v2/images/{id}/tags/{tag}",
            only(
                "PUT, DELETE",
                put(images::add_tag::<S>).delete(images::remove_tag::<S>),
            ),
        )
        .route(
            "/v2/images/{id}/members",
            only(
                "GET, POST",
                get(members::list::<S>).post(members::create::<S>),
            ),
        )
        .route(
            "/v2/images/{id}/members/{member}",
            only(
                "GET, PUT, DELETE",
                get(members::show::<S>)
                    .put(members::update::<S>)
                    .delete(members::delete::<S>),
            ),
        )
        .route(
            "/v2/images/{id}/actions/deactivate",
            only("POST", post(images::deactivate::<S>)),
        )
        .route(
            "/v2/images/{id}/actions/reactivate",
            only("POST", post(images::reactivate::<S>)),
        )
        .route(
            "/v2/images/{id}/tasks",
            only("GET", get(images::tasks::<S>)),
        )
        .route("/v2/images/{id}/import", only("POST", post(images::import)))
        .route(
            "/v2/images/{id}/stage",
            put(|_: Caller2| async { error_body(StatusCode::NOT_FOUND, "Staging is not enabled") }),
        )
        .route(
            "/v2/schemas/image",
            doc::<S>(|a| documents::image_schema(&a.registry.rules.formats)),
        )
        .route(
            "/v2/schemas/images",
            doc::<S>(|a| documents::images_schema(&a.registry.rules.formats)),
        )
        .route(
            "/v2/schemas/member",
            doc::<S>(|_| documents::member_schema()),
        )
        .route(
            "/v2/schemas/members",
            doc::<S>(|_| documents::members_schema()),
        )
        .route("/openapi.json", get(openapi))
        .route("/v2/info/import", doc::<S>(|_| documents::import_info()))
        .route("/v2/info/usage", doc::<S>(|_| documents::usage_info()))
        .fallback(unrouted::<S>)
}

/// `PUT /v2/images/{id}/file`: image data, streamed to the store.
pub fn is_data_upload(req: &axum::extract::Request) -> bool {
    req.method() == Method::PUT
        && req
            .uri()
            .path()
            .strip_prefix("/v2/images/")
            .and_then(|rest| rest.strip_suffix("/file"))
            .is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

/// `/v2.N/…` for an advertised N is routed as `/v2/…`, as Glance's version negotiation does.
pub fn strip_minor_version(mut req: Request) -> Request {
    let path = req.uri().path();
    let Some(rest) = path.strip_prefix('/') else {
        return req;
    };
    let (first, tail) = rest.split_once('/').unwrap_or((rest, ""));
    if first != "v2" && documents::is_advertised(first) {
        let mut new_path = format!("/v2/{tail}");
        if let Some(q) = req.uri().query() {
            new_path.push('?');
            new_path.push_str(q);
        }
        if let Ok(uri) = new_path.parse::<Uri>() {
            *req.uri_mut() = uri;
        }
    }
    req
}
