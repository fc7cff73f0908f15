//! The request body limit. An oversized body is answered 413 with the JSON error, but only
//! after the rest of it has been read and discarded (up to a cap): answering while the client
//! is still sending makes most clients see a reset connection instead of the answer.

use super::error::error_response;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use http_body_util::BodyExt;

/// Beyond this much junk, stop reading and close: politeness has a limit.
const DRAIN_CAP: usize = 64 * 1024 * 1024;
/// How long to wait for more of an oversized body before answering anyway.
const DRAIN_IDLE: std::time::Duration = std::time::Duration::from_millis(500);

fn too_large(max: usize) -> Response {
    error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("The request body is too large: at most {max} bytes are accepted"),
    )
}

/// Buffers the body (handlers need it whole anyway) if it is within `max` bytes.
pub async fn limit_body(max: usize, req: Request, next: Next) -> Response {
    let (parts, mut body) = req.into_parts();
    let declared = parts
        .headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut buf: Vec<u8> = Vec::new();
    let mut seen: usize = 0;
    let mut over = declared.is_some_and(|n| n > max as u64);
    loop {
        // Once the body is known to be too large, stop waiting for a client that has gone
        // quiet (one that announced a length it never sends): answer after a short pause.
        let next_frame = if over {
            match tokio::time::timeout(DRAIN_IDLE, body.frame()).await {
                Ok(f) => f,
                Err(_) => break,
            }
        } else {
            body.frame().await
        };
        let Some(frame) = next_frame else { break };
        let Ok(frame) = frame else {
            return error_response(
                StatusCode::BAD_REQUEST,
                "The request body could not be read",
            );
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len());
        if seen > max {
            over = true;
            buf = Vec::new();
        }
        if over {
            if seen > DRAIN_CAP {
                break;
            }
            continue;
        }
        buf.extend_from_slice(&data);
    }
    if over {
        return too_large(max);
    }
    next.run(Request::from_parts(parts, Body::from(Bytes::from(buf))))
        .await
}
