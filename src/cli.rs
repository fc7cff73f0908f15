//! The command line: `glimpse serve` and friends.

use crate::config::{NoAuth, ServerConfig};
use crate::domain::input::Rules;
use crate::domain::query::PageLimits;
use crate::storage::sql::PoolSettings;
use clap::{ArgAction, Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "glimpse",
    version,
    about = "An image-metadata registry speaking the OpenStack Glance registry (v1) API"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the registry server.
    Serve(ServeArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to listen on (9191 is the Glance registry's traditional port).
    #[arg(long, env = "GLIMPSE_BIND", default_value = "127.0.0.1:9191")]
    pub bind: SocketAddr,

    /// Database URL: sqlite://FILE, postgres://USER@HOST/DB or mysql://USER@HOST/DB.
    #[arg(
        long = "database",
        env = "GLIMPSE_DATABASE_URL",
        default_value = "sqlite://glimpse.db"
    )]
    pub database: String,

    /// Largest page a list may return, whatever `limit` asks for.
    #[arg(long, env = "GLIMPSE_API_LIMIT_MAX", default_value_t = 1000)]
    pub api_limit_max: u64,

    /// Page size when a list request gives no `limit`.
    #[arg(long, env = "GLIMPSE_LIMIT_PARAM_DEFAULT", default_value_t = 25)]
    pub limit_param_default: u64,

    /// Images belong to the caller's tenant (true) or to the user (false).
    #[arg(long, env = "GLIMPSE_OWNER_IS_TENANT", default_value_t = true, action = ArgAction::Set)]
    pub owner_is_tenant: bool,

    /// Largest request body accepted; larger ones are 413.
    #[arg(long, env = "GLIMPSE_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Serve requests without X-Auth-Token as admin: auto (only on a loopback address), allow, deny.
    #[arg(long, env = "GLIMPSE_NOAUTH", value_enum, default_value_t = NoAuth::Auto)]
    pub noauth: NoAuth,

    /// Most properties one image may have; more is 413.
    #[arg(long, env = "GLIMPSE_MAX_PROPERTIES", default_value_t = 128)]
    pub max_properties: usize,

    /// Database connections in the pool.
    #[arg(long, env = "GLIMPSE_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,

    /// Seconds a request waits for a database connection before it is answered 503.
    #[arg(long, env = "GLIMPSE_DB_ACQUIRE_TIMEOUT", default_value_t = 3.0)]
    pub db_acquire_timeout: f64,
}

impl ServeArgs {
    pub fn into_config(self) -> Result<ServerConfig, String> {
        if self.limit_param_default == 0 || self.api_limit_max == 0 {
            return Err("--limit-param-default and --api-limit-max must be at least 1".into());
        }
        if !(self.db_acquire_timeout > 0.0 && self.db_acquire_timeout.is_finite()) {
            return Err("--db-acquire-timeout must be a positive number of seconds".into());
        }
        Ok(ServerConfig {
            bind: self.bind,
            database_url: self.database,
            pool: PoolSettings {
                max_connections: self.db_max_connections.max(1),
                acquire_timeout: Duration::from_secs_f64(self.db_acquire_timeout),
            },
            limits: PageLimits {
                default: self.limit_param_default.min(self.api_limit_max),
                max: self.api_limit_max,
            },
            rules: Rules {
                max_properties: self.max_properties,
                ..Rules::default()
            },
            owner_is_tenant: self.owner_is_tenant,
            max_body_bytes: self.max_body_bytes,
            noauth: self.noauth,
        })
    }
}
