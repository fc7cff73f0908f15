//! Reading the caller from the headers an authenticating front end sets (spec section 2).

use crate::api::AppState;
use crate::domain::Caller;
use crate::error::Error;
use crate::storage::Catalog;
use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use std::sync::Arc;

fn header<'a>(h: &'a HeaderMap, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| h.get(*n))
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The tenant a request claims, for logs (before authentication is decided).
pub fn tenant_of(h: &HeaderMap) -> Option<&str> {
    header(h, &["x-tenant-id", "x-tenant", "x-project-id"])
}

/// Builds the caller from headers. No token: admin if the no-auth mode is allowed, else 401.
/// A token with a confirmed identity: a tenant caller. Anything else: 401.
pub fn caller_from_headers(
    h: &HeaderMap,
    owner_is_tenant: bool,
    noauth: bool,
) -> Result<Caller, Error> {
    if h.get("x-auth-token").is_none() {
        return if noauth {
            Ok(Caller::anonymous_admin())
        } else {
            Err(Error::Unauthorized(
                "Authentication required: send X-Auth-Token".into(),
            ))
        };
    }
    let confirmed =
        header(h, &["x-identity-status"]).is_some_and(|s| s.eq_ignore_ascii_case("confirmed"));
    if !confirmed {
        return Err(Error::Unauthorized(
            "The token's identity is not confirmed".into(),
        ));
    }
    let tenant = tenant_of(h).map(str::to_owned);
    let user = header(h, &["x-user-id", "x-user"]).map(str::to_owned);
    let roles = header(h, &["x-roles", "x-role"])
        .map(|r| {
            r.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    Ok(Caller::authenticated(tenant, user, roles, owner_is_tenant))
}

/// Extractor: the caller of this request.
pub struct Ctx(pub Caller);

impl<S: Catalog> FromRequestParts<Arc<AppState<S>>> for Ctx {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState<S>>,
    ) -> Result<Self, Error> {
        caller_from_headers(&parts.headers, state.owner_is_tenant, state.noauth).map(Ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(*k, v.parse().unwrap());
        }
        m
    }

    #[test]
    fn no_token_is_admin_only_when_allowed() {
        assert!(caller_from_headers(&h(&[]), true, true).unwrap().is_admin);
        assert!(matches!(
            caller_from_headers(&h(&[]), true, false),
            Err(Error::Unauthorized(_))
        ));
    }

    #[test]
    fn unconfirmed_token_is_401() {
        let r = caller_from_headers(
            &h(&[("x-auth-token", "t"), ("x-tenant-id", "a")]),
            true,
            true,
        );
        assert!(matches!(r, Err(Error::Unauthorized(_))));
    }

    #[test]
    fn confirmed_tenant_with_alternate_headers() {
        let c = caller_from_headers(
            &h(&[
                ("x-auth-token", "t"),
                ("x-identity-status", "Confirmed"),
                ("x-project-id", "p1"),
                ("x-role", "member, ADMIN"),
            ]),
            true,
            true,
        )
        .unwrap();
        assert_eq!(c.owner.as_deref(), Some("p1"));
        assert!(c.is_admin);
    }
}
