//! The request id (`x-openstack-request-id`) and the one log line per request.

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

const REQUEST_ID: &str = "x-openstack-request-id";

/// A caller's request id is reused when it looks like one (bounded, printable, no spaces);
/// otherwise a fresh `req-<uuid>` is made.
fn request_id(req: &Request) -> String {
    req.headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 128
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| format!("req-{}", uuid::Uuid::new_v4()))
}

/// Who the request turned out to be, filled in by the caller extractor once authentication
/// has decided: the log names the authenticated project, never one a client merely claimed.
#[derive(Debug, Clone, Default)]
pub struct LoggedCaller(Arc<OnceLock<(String, String)>>);

impl LoggedCaller {
    /// Records the authenticated project and user (`-` where there is none).
    pub fn set(&self, project: Option<&str>, user: Option<&str>) {
        let _ = self.0.set((
            project.unwrap_or("-").to_owned(),
            user.unwrap_or("-").to_owned(),
        ));
    }
}

pub async fn request_id_and_log(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(&req);
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        // Unmatched paths are not labels: their number is unbounded.
        .unwrap_or_else(|| "unmatched".to_owned());
    let caller = LoggedCaller::default();
    req.extensions_mut().insert(caller.clone());
    let in_flight = crate::metrics::request_started();
    let mut resp = next.run(req).await;
    drop(in_flight);
    crate::metrics::record_request(
        method.as_str(),
        &route,
        resp.status().as_u16(),
        started.elapsed(),
    );
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    tracing::info!(
        target: "glimpse::access",
        request_id = %id,
        method = %method,
        route = %route,
        status = resp.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        tenant = %caller.0.get().map_or("-", |c| c.0.as_str()),
        user = %caller.0.get().map_or("-", |c| c.1.as_str()),
        "request"
    );
    resp
}
