//! Server configuration: the settings of `glimpse serve`, whatever their source.

use crate::domain::input::Rules;
use crate::domain::query::PageLimits;
use crate::storage::sql::PoolSettings;
use std::net::SocketAddr;

/// Whether a request without `X-Auth-Token` is served as an admin (the reference's "noauth").
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum NoAuth {
    /// Allowed on a loopback address; refused at start on any other (choose explicitly).
    Auto,
    /// Always allowed: only behind a front end that strips or sets the auth headers.
    Allow,
    /// Never: a request without a token is 401.
    Deny,
}

/// Everything `glimpse serve` needs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub bind: SocketAddr,
    pub database_url: String,
    pub pool: PoolSettings,
    pub limits: PageLimits,
    pub rules: Rules,
    pub owner_is_tenant: bool,
    pub max_body_bytes: usize,
    pub noauth: NoAuth,
}

impl ServerConfig {
    /// Resolves `auto` against the bind address. A no-token admin on a public address is
    /// refused unless the operator asked for it by name.
    pub fn noauth_allowed(&self) -> Result<bool, String> {
        match self.noauth {
            NoAuth::Allow => Ok(true),
            NoAuth::Deny => Ok(false),
            NoAuth::Auto if self.bind.ip().is_loopback() => Ok(true),
            NoAuth::Auto => Err(format!(
                "refusing to start: {} is not a loopback address, and requests without X-Auth-Token \
                 would be served as admin. Run behind Keystone's auth_token middleware with \
                 --noauth deny, or accept the risk with --noauth allow",
                self.bind
            )),
        }
    }
}
