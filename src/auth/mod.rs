//! Who is calling. One entry point, [`Authenticator::authenticate`], turns a request's headers
//! and peer address into a [`Caller`] according to the configured mode:
//!
//! - `keystone`: the `X-Auth-Token` is validated with Keystone v3 (cached); identity headers
//!   sent by the client are ignored.
//! - `trusted-proxy`: the identity headers of a front end, believed only from listed addresses.
//! - `noauth`: every request is an admin without a project (Glance's unauthenticated context).
//! - the loopback default: no token is admin and identity headers are believed, safe only
//!   because nobody else can connect.

pub mod cache;
pub mod headers;
pub mod keystone;
pub mod trusted_proxy;

use crate::domain::Caller;
use axum::http::HeaderMap;
use cache::{CachePolicy, Lookup, TokenCache, Verdict};
use keystone::{Answer, KeystoneClient, ServiceCredentials, TokenInfo};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use trusted_proxy::Cidr;

/// The modes, as configured.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Today's behaviour on a loopback bind.
    Loopback,
    TrustedProxy(Vec<Cidr>),
    NoAuth,
    Keystone(Box<KeystoneSettings>),
}

/// Everything keystone mode needs.
#[derive(Debug, Clone)]
pub struct KeystoneSettings {
    pub auth_url: String,
    /// Sent in `WWW-Authenticate: Keystone uri="..."` so clients know where to log in.
    pub www_authenticate_uri: String,
    pub credentials: ServiceCredentials,
    /// The longest one call to Keystone may take; an uncached token then gets 503.
    pub timeout: Duration,
    pub cache: CachePolicy,
}

/// The mode plus what every mode shares.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub mode: Mode,
    /// Roles that make a caller admin (compared without case).
    pub admin_roles: Vec<String>,
    pub owner_is_tenant: bool,
}

/// Why a request has no caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// 401; `challenge` is the Keystone URI for `WWW-Authenticate`, in keystone mode.
    Unauthenticated {
        message: &'static str,
        challenge: Option<Arc<str>>,
    },
    /// 503: Keystone cannot answer about a token that is not cached.
    Unavailable(String),
}

impl AuthError {
    fn unauthenticated(message: &'static str) -> AuthError {
        AuthError::Unauthenticated {
            message,
            challenge: None,
        }
    }
}

/// Roles that may change images in keystone mode, besides the admin roles: Glance's secure
/// RBAC gives a project's `reader` reads only.
const WRITER_ROLES: [&str; 2] = ["member", "_member_"];

struct KeystoneAuth {
    client: KeystoneClient,
    cache: TokenCache,
    challenge: Arc<str>,
    timeout: Duration,
}

enum Inner {
    Loopback,
    TrustedProxy(Vec<Cidr>),
    NoAuth,
    Keystone(Box<KeystoneAuth>),
}

/// Decides who each request's caller is.
pub struct Authenticator {
    inner: Inner,
    admin_roles: Vec<String>,
    owner_is_tenant: bool,
}

impl Authenticator {
    pub fn new(config: AuthConfig) -> Result<Authenticator, String> {
        let inner = match config.mode {
            Mode::Loopback => Inner::Loopback,
            Mode::TrustedProxy(c) => Inner::TrustedProxy(c),
            Mode::NoAuth => Inner::NoAuth,
            Mode::Keystone(k) => Inner::Keystone(Box::new(KeystoneAuth {
                client: KeystoneClient::new(&k.auth_url, k.credentials.clone(), k.timeout)?,
                cache: TokenCache::new(k.cache),
                challenge: format!("Keystone uri=\"{}\"", k.www_authenticate_uri).into(),
                timeout: k.timeout,
            })),
        };
        Ok(Authenticator {
            inner,
            admin_roles: config
                .admin_roles
                .iter()
                .map(|r| r.to_ascii_lowercase())
                .collect(),
            owner_is_tenant: config.owner_is_tenant,
        })
    }

    /// The name of the mode, for the start-up log line.
    pub fn mode_name(&self) -> &'static str {
        match self.inner {
            Inner::Loopback => "loopback default",
            Inner::TrustedProxy(_) => "trusted-proxy",
            Inner::NoAuth => "noauth",
            Inner::Keystone(_) => "keystone",
        }
    }

    /// The caller of a request with these headers from this peer.
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
        peer: SocketAddr,
    ) -> Result<Caller, AuthError> {
        match &self.inner {
            Inner::Loopback => self.caller_from_headers(headers, true),
            Inner::NoAuth => Ok(Caller::anonymous_admin()),
            Inner::TrustedProxy(proxies) => {
                if trusted_proxy::is_trusted(proxies, peer.ip()) {
                    self.caller_from_headers(headers, false)
                } else {
                    Err(AuthError::unauthenticated(
                        "Identity headers are accepted only from the configured trusted proxies",
                    ))
                }
            }
            Inner::Keystone(k) => self.caller_from_keystone(k, headers).await,
        }
    }

    fn caller_from_headers(
        &self,
        headers: &HeaderMap,
        no_token_is_admin: bool,
    ) -> Result<Caller, AuthError> {
        let mut caller =
            headers::caller_from_headers(headers, self.owner_is_tenant, no_token_is_admin)?;
        if !caller.roles.is_empty() {
            caller.is_admin = self.has_admin_role(&caller.roles);
        }
        // A front end that says `reader` (and no writing role) means a reader, as Keystone's
        // roles do; a caller naming no roles keeps today's meaning (may write).
        let has = |names: &[&str]| {
            caller
                .roles
                .iter()
                .any(|r| names.iter().any(|n| n.eq_ignore_ascii_case(r)))
        };
        caller.read_only = !caller.is_admin && has(&["reader"]) && !has(&WRITER_ROLES);
        Ok(caller)
    }

    fn has_admin_role(&self, roles: &[String]) -> bool {
        roles
            .iter()
            .any(|r| self.admin_roles.iter().any(|a| a.eq_ignore_ascii_case(r)))
    }

    async fn caller_from_keystone(
        &self,
        k: &KeystoneAuth,
        headers: &HeaderMap,
    ) -> Result<Caller, AuthError> {
        let rejected = |message| AuthError::Unauthenticated {
            message,
            challenge: Some(k.challenge.clone()),
        };
        let token = headers
            .get("x-auth-token")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| rejected("Authentication required: send X-Auth-Token"))?;
        let validate = async {
            let started = Instant::now();
            let answer = tokio::time::timeout(k.timeout, k.client.validate(token)).await;
            let outcome = match &answer {
                Ok(Ok(Answer::Valid(_))) => "valid",
                Ok(Ok(Answer::Invalid)) => "invalid",
                Ok(Err(_)) | Err(_) => "unavailable",
            };
            metrics::counter!("glimpse_keystone_validations_total", "outcome" => outcome)
                .increment(1);
            metrics::histogram!("glimpse_keystone_validation_duration_seconds")
                .record(started.elapsed().as_secs_f64());
            match answer {
                Ok(Ok(Answer::Valid(info))) => Ok(Verdict::Valid(Arc::new(info))),
                Ok(Ok(Answer::Invalid)) => Ok(Verdict::Rejected),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(keystone::Unavailable(
                    "Keystone did not answer in time".into(),
                )),
            }
        };
        let (verdict, lookup) = k
            .cache
            .get_or_validate(token, validate)
            .await
            .map_err(|e| AuthError::Unavailable(format!("{e}; try again later")))?;
        let result = match lookup {
            Lookup::Hit => "hit",
            Lookup::Miss => "miss",
        };
        metrics::counter!("glimpse_token_cache_lookups_total", "result" => result).increment(1);
        match verdict {
            Verdict::Valid(info) if !info.remaining().is_zero() => Ok(self.keystone_caller(&info)),
            _ => Err(rejected("The token is invalid, expired or revoked")),
        }
    }

    fn keystone_caller(&self, info: &TokenInfo) -> Caller {
        let tenant = info.project_id.clone().or_else(|| info.domain_id.clone());
        let mut caller = Caller::authenticated(
            info.project_id.clone(),
            Some(info.user_id.clone()),
            info.roles.clone(),
            self.owner_is_tenant,
        );
        caller.tenant = tenant;
        caller.is_admin = self.has_admin_role(&info.roles);
        caller.read_only = !caller.is_admin
            && !info
                .roles
                .iter()
                .any(|r| WRITER_ROLES.iter().any(|w| w.eq_ignore_ascii_case(r)));
        caller
    }
}
