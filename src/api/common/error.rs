//! The one place where errors become HTTP responses (for every API version), and JSON
//! responses.

use crate::error::Error;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A JSON response. Serialising our own types cannot fail; if it ever did, say so as a 500.
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    // Most bodies are one image or a page of them: start at a size that fits one image.
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
        Err(e) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("serialisation failed: {e}"),
        ),
    }
}

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Unauthorized(_) | Error::TokenRejected { .. } => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Error::Gone(_) => StatusCode::GONE,
            Error::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// `{"error": {"code", "title", "message"}}`, the body of every error response.
pub fn error_response(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({
        "error": {
            "code": status.as_u16(),
            "title": status.canonical_reason().unwrap_or("Error"),
            "message": message,
        }
    });
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            // Details of real bugs go to the log, never to the caller.
            Error::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                error_response(
                    status,
                    "The server could not complete the request; see its log",
                )
            }
            Error::TokenRejected { message, challenge } => {
                let mut resp = error_response(status, message);
                if let Ok(v) = HeaderValue::from_str(challenge) {
                    resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
                resp
            }
            other => error_response(status, &other.to_string()),
        }
    }
}

/// Rewrites error responses produced outside our handlers (unknown routes, wrong methods, body
/// limits, framework rejections) into the JSON error body, keeping their headers (`Allow`).
pub async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let message = match status {
        StatusCode::NOT_FOUND => "No such resource".to_string(),
        StatusCode::METHOD_NOT_ALLOWED => {
            "Method not allowed on this resource; see the Allow header".to_string()
        }
        StatusCode::PAYLOAD_TOO_LARGE => "The request body is too large".to_string(),
        _ if !text.trim().is_empty() => text.trim().to_string(),
        _ => status.canonical_reason().unwrap_or("Error").to_string(),
    };
    let fresh = error_response(status, &message);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, fresh.into_body())
}
