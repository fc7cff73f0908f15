//! How errors look on the v2 API: `{"code", "title", "message"}` at the top level (clients
//! read only the status and `message`). Statuses come from [`Error::status`], the one mapping
//! every API shares.

use crate::error::Error;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A v2 handler's error.
#[derive(Debug)]
pub struct V2Error(pub Error);

impl From<Error> for V2Error {
    fn from(e: Error) -> Self {
        V2Error(e)
    }
}

pub type V2Result<T> = Result<T, V2Error>;

pub fn error_body(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({
        "code": status.as_u16(),
        "title": status.canonical_reason().unwrap_or("Error"),
        "message": message,
    });
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

impl IntoResponse for V2Error {
    fn into_response(self) -> Response {
        let status = self.0.status();
        match self.0 {
            Error::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                error_body(
                    status,
                    "The server could not complete the request; see its log",
                )
            }
            Error::TokenRejected { message, challenge } => {
                let mut resp = error_body(status, &message);
                if let Ok(v) = HeaderValue::from_str(&challenge) {
                    resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
                resp
            }
            Error::UnsupportedMediaType {
                message,
                accept_patch,
            } => {
                let mut resp = error_body(status, &message);
                if let Some(a) = accept_patch {
                    resp.headers_mut()
                        .insert("accept-patch", HeaderValue::from_static(a));
                }
                resp
            }
            Error::RangeNotSatisfiable { size } => {
                let mut resp = error_body(status, &Error::RangeNotSatisfiable { size }.to_string());
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                    resp.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                resp
            }
            other => error_body(status, &other.to_string()),
        }
    }
}

/// Rewrites error responses made outside the handlers (the body limit, timeouts, framework
/// rejections) into the v2 error body, keeping their headers.
pub async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    if is_json {
        // Shared pieces (the body limit, probes) answer in the v1 shape, `{"error": {...}}`.
        let v1 = serde_json::from_slice::<serde_json::Value>(&text).ok();
        let message = v1
            .as_ref()
            .and_then(|v| v.pointer("/error/message"))
            .and_then(|m| m.as_str());
        return match message {
            Some(m) => {
                parts.headers.remove(header::CONTENT_LENGTH);
                Response::from_parts(parts, error_body(status, m).into_body())
            }
            None => Response::from_parts(parts, Body::from(text)),
        };
    }
    let text = String::from_utf8_lossy(&text);
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "The request body is too large".to_string(),
        _ if !text.trim().is_empty() => text.trim().to_string(),
        _ => status.canonical_reason().unwrap_or("Error").to_string(),
    };
    let fresh = error_body(status, &message);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, fresh.into_body())
}

/// python-glanceclient reads a JSON error body as `{"<key>": {"message": …}, …}` and crashes
/// on the flat v2 body (`'int' object has no attribute 'get'`). Glance answers it in
/// text/plain (webob's choice for its `Accept: */*`), and so does glimpse, for that client
/// only: every other client gets the JSON body.
pub async fn plain_errors_for_glanceclient(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let glanceclient = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.starts_with("python-glanceclient"));
    let resp = next.run(req).await;
    let status = resp.status();
    if !glanceclient || !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let message = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
    let text = format!(
        "{} {}\n\n{message}\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=UTF-8"),
    );
    Response::from_parts(parts, Body::from(text))
}
