//! `GET /openapi.json`: the description of the API, checked into the repository and compiled in.

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::Response;

pub const OPENAPI_JSON: &str = include_str!("../../../openapi.json");

pub async fn openapi() -> Response {
    let mut resp = Response::new(Body::from(OPENAPI_JSON));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}
