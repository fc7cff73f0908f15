//! The header-driven request context (`X-Identity-Status`, `X-Tenant-Id`, `X-Roles`, …) that an
//! authenticating front end sets: believed only in the loopback default and from trusted proxies.

use super::AuthError;
use crate::domain::Caller;
use axum::http::HeaderMap;

fn header<'a>(h: &'a HeaderMap, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| h.get(*n))
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Builds the caller from headers. No token: admin if `no_token_is_admin`, else 401.
/// A token with a confirmed identity: a tenant caller. Anything else: 401.
pub fn caller_from_headers(
    h: &HeaderMap,
    owner_is_tenant: bool,
    no_token_is_admin: bool,
) -> Result<Caller, AuthError> {
    if h.get("x-auth-token").is_none() {
        return if no_token_is_admin {
            Ok(Caller::anonymous_admin())
        } else {
            Err(AuthError::unauthenticated(
                "Authentication required: send X-Auth-Token",
            ))
        };
    }
    let confirmed =
        header(h, &["x-identity-status"]).is_some_and(|s| s.eq_ignore_ascii_case("confirmed"));
    if !confirmed {
        return Err(AuthError::unauthenticated(
            "The token's identity is not confirmed",
        ));
    }
    let tenant = header(h, &["x-tenant-id", "x-tenant", "x-project-id"]).map(str::to_owned);
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
        assert!(caller_from_headers(&h(&[]), true, false).is_err());
    }

    #[test]
    fn unconfirmed_token_is_401() {
        let r = caller_from_headers(
            &h(&[("x-auth-token", "t"), ("x-tenant-id", "a")]),
            true,
            true,
        );
        assert!(r.is_err());
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
