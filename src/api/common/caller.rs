//! The caller of a request, as the configured [`crate::auth::Authenticator`] decides it.

use crate::api::AppState;
use crate::auth::AuthError;
use crate::domain::Caller;
use crate::error::Error;
use crate::storage::Catalog;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use std::net::SocketAddr;
use std::sync::Arc;

/// The tenant a request claims, for logs (before authentication is decided).
pub fn tenant_of(h: &HeaderMap) -> Option<&str> {
    ["x-tenant-id", "x-tenant", "x-project-id"]
        .iter()
        .find_map(|n| h.get(*n))
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The address of the connection a request came on, set by the server for each connection.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

impl From<AuthError> for Error {
    fn from(e: AuthError) -> Error {
        match e {
            AuthError::Unauthenticated {
                message,
                challenge: Some(challenge),
            } => Error::TokenRejected {
                message: message.into(),
                challenge: challenge.to_string(),
            },
            AuthError::Unauthenticated { message, .. } => Error::Unauthorized(message.into()),
            AuthError::Unavailable(m) => Error::Unavailable(m),
        }
    }
}

/// Extractor: the caller of this request.
pub struct Ctx(pub Caller);

/// The caller of a request as authentication decides it, recorded for the access log.
pub async fn authenticate<S: Catalog>(parts: &Parts, state: &AppState<S>) -> Result<Caller, Error> {
    let peer = parts
        .extensions
        .get::<Peer>()
        .map(|p| p.0)
        .ok_or_else(|| Error::Internal("request without a peer address".into()))?;
    let caller = state.auth.authenticate(&parts.headers, peer).await?;
    if let Some(log) = parts.extensions.get::<super::request_log::LoggedCaller>() {
        log.set(caller.tenant.as_deref(), caller.user.as_deref());
    }
    Ok(caller)
}

impl<S: Catalog> FromRequestParts<Arc<AppState<S>>> for Ctx {
    type Rejection = Error;

    /// The v1 rule for readers applies here: they may only read.
    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState<S>>,
    ) -> Result<Self, Error> {
        let caller = authenticate(parts, state).await?;
        if caller.read_only && !matches!(parts.method, Method::GET | Method::HEAD) {
            return Err(Error::Forbidden(
                "The reader role may only read images; changing them needs the member role".into(),
            ));
        }
        Ok(Ctx(caller))
    }
}
