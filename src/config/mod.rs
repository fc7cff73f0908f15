//! Configuration: every setting of `glimpse serve`, from flags, `GLIMPSE_*` environment
//! variables, a TOML file (`--config`), or an existing `glance-registry.conf`
//! (`--glance-config`), with a fixed precedence:
//!
//! flag > environment > `--config` TOML file > `--glance-config` file > built-in default.
//!
//! Each source is read into a [`Settings`] layer whose fields are all optional; layers are
//! merged field by field and the result is validated once into a [`ServerConfig`].

pub mod glance;

use crate::api::v1::meta_headers::HeaderBudget;
use crate::domain::formats::Formats;
use crate::domain::input::Rules;
use crate::domain::query::PageLimits;
use crate::storage::sql::{PoolSettings, redact_url};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Whether a request without `X-Auth-Token` is served as an admin (the reference's "noauth").
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NoAuth {
    /// Allowed on a loopback address; refused at start on any other (choose explicitly).
    Auto,
    /// Always allowed: only behind a front end that strips or sets the auth headers.
    Allow,
    /// Never: a request without a token is 401.
    Deny,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// One layer of settings. Every field is optional so that layers can be merged; the same
/// struct is the TOML file's schema and the flags of `glimpse serve`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address and port to listen on [default: 127.0.0.1:9191, the registry's traditional port].
    #[arg(long, env = "GLIMPSE_BIND")]
    pub bind: Option<SocketAddr>,

    /// Database URL: sqlite://FILE, postgres://USER@HOST/DB, mysql:// or mariadb://USER@HOST/DB
    /// [default: sqlite://glimpse.db].
    #[arg(long = "database", env = "GLIMPSE_DATABASE_URL")]
    pub database_url: Option<String>,

    /// Largest page a list may return, whatever `limit` asks for [default: 1000].
    #[arg(long, env = "GLIMPSE_API_LIMIT_MAX")]
    pub api_limit_max: Option<u64>,

    /// Page size when a list request gives no `limit` [default: 25].
    #[arg(long, env = "GLIMPSE_LIMIT_PARAM_DEFAULT")]
    pub limit_param_default: Option<u64>,

    /// Images belong to the caller's tenant (true) or user (false) [default: true].
    #[arg(long, env = "GLIMPSE_OWNER_IS_TENANT")]
    pub owner_is_tenant: Option<bool>,

    /// Largest request body accepted; larger is 413 [default: 1048576].
    #[arg(long, env = "GLIMPSE_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,

    /// Serve requests without X-Auth-Token as admin: auto (loopback only), allow, deny [default: auto].
    #[arg(long, env = "GLIMPSE_NOAUTH", value_enum)]
    pub noauth: Option<NoAuth>,

    /// Most properties one image may have; more is 413 [default: 128].
    #[arg(long, env = "GLIMPSE_MAX_PROPERTIES")]
    pub max_properties: Option<usize>,

    /// Accepted disk formats, comma-separated [default: ami,ari,aki,vhd,vhdx,vmdk,raw,qcow2,vdi,iso,ploop].
    #[arg(long, env = "GLIMPSE_DISK_FORMATS", value_delimiter = ',')]
    pub disk_formats: Option<Vec<String>>,

    /// Accepted container formats, comma-separated [default: ami,ari,aki,bare,ovf,ova,docker,compressed].
    #[arg(long, env = "GLIMPSE_CONTAINER_FORMATS", value_delimiter = ',')]
    pub container_formats: Option<Vec<String>>,

    /// Database connections in the pool [default: 16].
    #[arg(long, env = "GLIMPSE_DB_MAX_CONNECTIONS")]
    pub db_max_connections: Option<u32>,

    /// Seconds a request waits for a database connection before it is answered 503 [default: 3].
    #[arg(long, env = "GLIMPSE_DB_ACQUIRE_TIMEOUT")]
    pub db_acquire_timeout: Option<f64>,

    /// Seconds a request may take in all before it is answered 503 [default: 30].
    #[arg(long, env = "GLIMPSE_REQUEST_TIMEOUT")]
    pub request_timeout: Option<f64>,

    /// Seconds a client has to send its request headers [default: 10].
    #[arg(long, env = "GLIMPSE_HEADER_READ_TIMEOUT")]
    pub header_read_timeout: Option<f64>,

    /// Most concurrent client connections; more wait in the kernel's backlog [default: 1024].
    #[arg(long, env = "GLIMPSE_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,

    /// Seconds in-flight requests get to finish after SIGTERM [default: 30].
    #[arg(long, env = "GLIMPSE_SHUTDOWN_TIMEOUT")]
    pub shutdown_timeout: Option<f64>,

    /// Log format: text or json [default: text].
    #[arg(long, env = "GLIMPSE_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,

    /// Log level or filter, e.g. info or glimpse=debug (RUST_LOG is used when unset) [default: info].
    #[arg(long, env = "GLIMPSE_LOG_LEVEL")]
    pub log_level: Option<String>,

    /// Serve Prometheus metrics at /metrics [default: true].
    #[arg(long, env = "GLIMPSE_METRICS")]
    pub metrics: Option<bool>,

    /// Serve /metrics on this separate address instead of the API listener.
    #[arg(long, env = "GLIMPSE_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,

    /// Most x-image-meta-* header lines on GET/HEAD /images/<id>; the rest is only in the JSON
    /// body of GET [default: 64].
    #[arg(long, env = "GLIMPSE_META_HEADER_MAX_COUNT")]
    pub meta_header_max_count: Option<usize>,

    /// Most bytes of x-image-meta-* header lines on GET/HEAD /images/<id> [default: 3072].
    #[arg(long, env = "GLIMPSE_META_HEADER_MAX_BYTES")]
    pub meta_header_max_bytes: Option<usize>,
}

macro_rules! merge_fields {
    ($hi:ident, $lo:ident, $($f:ident),* $(,)?) => {
        Settings { $($f: $hi.$f.or($lo.$f)),* }
    };
}

impl Settings {
    /// `self` where set, else `lower`.
    pub fn over(self, lower: Settings) -> Settings {
        let hi = self;
        let lo = lower;
        merge_fields!(
            hi,
            lo,
            bind,
            database_url,
            api_limit_max,
            limit_param_default,
            owner_is_tenant,
            max_body_bytes,
            noauth,
            max_properties,
            disk_formats,
            container_formats,
            db_max_connections,
            db_acquire_timeout,
            request_timeout,
            header_read_timeout,
            max_connections,
            shutdown_timeout,
            log_format,
            log_level,
            metrics,
            metrics_bind,
            meta_header_max_count,
            meta_header_max_bytes,
        )
    }

    /// The built-in defaults, every field set.
    pub fn defaults() -> Settings {
        let formats = Formats::default();
        Settings {
            bind: Some(SocketAddr::from(([127, 0, 0, 1], 9191))),
            database_url: Some("sqlite://glimpse.db".into()),
            api_limit_max: Some(1000),
            limit_param_default: Some(25),
            owner_is_tenant: Some(true),
            max_body_bytes: Some(1024 * 1024),
            noauth: Some(NoAuth::Auto),
            max_properties: Some(128),
            disk_formats: Some(formats.disk),
            container_formats: Some(formats.container),
            db_max_connections: Some(16),
            db_acquire_timeout: Some(3.0),
            request_timeout: Some(30.0),
            header_read_timeout: Some(10.0),
            max_connections: Some(1024),
            shutdown_timeout: Some(30.0),
            log_format: Some(LogFormat::Text),
            log_level: None,
            metrics: Some(true),
            metrics_bind: None,
            meta_header_max_count: Some(HeaderBudget::default().max_headers),
            meta_header_max_bytes: Some(HeaderBudget::default().max_bytes),
        }
    }

    /// Reads a TOML settings file; an unknown key or a wrong type names the key and the file.
    pub fn from_toml_file(path: &Path) -> Result<Settings, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("invalid config file {}: {e}", path.display()))
    }

    /// The effective settings as TOML, database password masked.
    pub fn to_toml_masked(&self) -> String {
        let mut shown = self.clone();
        shown.database_url = shown.database_url.as_deref().map(redact_url);
        toml::to_string(&shown).unwrap_or_else(|e| format!("# cannot render settings: {e}\n"))
    }
}

/// Where settings come from besides flags and environment.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Sources {
    /// A TOML file with any of the settings below (keys as the flags, with underscores).
    #[arg(long, env = "GLIMPSE_CONFIG")]
    pub config: Option<PathBuf>,

    /// An existing glance-registry.conf to take bind_host, bind_port, sql_connection,
    /// api_limit_max, limit_param_default and owner_is_tenant from.
    #[arg(long, env = "GLIMPSE_GLANCE_CONFIG")]
    pub glance_config: Option<PathBuf>,
}

impl Sources {
    /// Merges flags/env (`cli`) over the files over the defaults.
    pub fn resolve(&self, cli: Settings) -> Result<Settings, String> {
        let mut merged = cli;
        if let Some(path) = &self.config {
            merged = merged.over(Settings::from_toml_file(path)?);
        }
        if let Some(path) = &self.glance_config {
            merged = merged.over(glance::read_glance_config(path)?);
        }
        Ok(merged.over(Settings::defaults()))
    }

    fn describe(&self) -> String {
        let mut s = "flags, environment".to_string();
        if let Some(p) = &self.config {
            s += &format!(", {}", p.display());
        }
        if let Some(p) = &self.glance_config {
            s += &format!(", {}", p.display());
        }
        s
    }
}

/// Everything `glimpse serve` needs, validated.
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
    pub request_timeout: Duration,
    pub header_read_timeout: Duration,
    pub max_connections: usize,
    pub shutdown_timeout: Duration,
    pub metrics: bool,
    pub metrics_bind: Option<SocketAddr>,
    pub meta_headers: HeaderBudget,
}

fn seconds(name: &str, v: f64, from: &str) -> Result<Duration, String> {
    if v > 0.0 && v.is_finite() && v < 86_400.0 {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(format!(
            "invalid setting {name} = {v} (from {from}): must be a positive number of seconds"
        ))
    }
}

impl ServerConfig {
    /// Validates fully merged settings (see [`Sources::resolve`]).
    pub fn from_settings(s: &Settings, sources: &Sources) -> Result<ServerConfig, String> {
        let from = sources.describe();
        let d = Settings::defaults();
        let s = s.clone().over(d);
        let missing = |n: &str| format!("setting {n} has no value");
        macro_rules! get {
            ($f:ident) => {
                s.$f.clone().ok_or_else(|| missing(stringify!($f)))?
            };
        }
        let api_limit_max: u64 = get!(api_limit_max);
        let limit_default: u64 = get!(limit_param_default);
        if api_limit_max == 0 {
            return Err(format!(
                "invalid setting api_limit_max = 0 (from {from}): must be at least 1"
            ));
        }
        if limit_default == 0 {
            return Err(format!(
                "invalid setting limit_param_default = 0 (from {from}): must be at least 1"
            ));
        }
        let database_url: String = get!(database_url);
        crate::storage::sql::Backend::from_url(&database_url)
            .map_err(|e| format!("invalid setting database_url (from {from}): {e}"))?;
        let db_max: u32 = get!(db_max_connections);
        if db_max == 0 {
            return Err(format!(
                "invalid setting db_max_connections = 0 (from {from}): must be at least 1"
            ));
        }
        let disk: Vec<String> = get!(disk_formats);
        let container: Vec<String> = get!(container_formats);
        if disk.is_empty() || container.is_empty() {
            return Err(format!(
                "invalid setting disk_formats/container_formats (from {from}): the lists cannot be empty"
            ));
        }
        let max_connections: usize = get!(max_connections);
        if max_connections == 0 {
            return Err(format!(
                "invalid setting max_connections = 0 (from {from}): must be at least 1"
            ));
        }
        let meta_headers = HeaderBudget {
            max_headers: get!(meta_header_max_count),
            max_bytes: get!(meta_header_max_bytes),
        };
        // Room for the id and the status, so that every image says at least what it is.
        if meta_headers.max_headers < 2 || meta_headers.max_bytes < 256 {
            return Err(format!(
                "invalid setting meta_header_max_count/meta_header_max_bytes (from {from}): \
                 at least 2 headers and 256 bytes"
            ));
        }
        Ok(ServerConfig {
            bind: get!(bind),
            database_url,
            pool: PoolSettings {
                max_connections: db_max,
                acquire_timeout: seconds("db_acquire_timeout", get!(db_acquire_timeout), &from)?,
            },
            limits: PageLimits {
                default: limit_default.min(api_limit_max),
                max: api_limit_max,
            },
            rules: Rules {
                formats: Formats { disk, container },
                max_properties: get!(max_properties),
            },
            owner_is_tenant: get!(owner_is_tenant),
            max_body_bytes: get!(max_body_bytes),
            noauth: get!(noauth),
            request_timeout: seconds("request_timeout", get!(request_timeout), &from)?,
            header_read_timeout: seconds("header_read_timeout", get!(header_read_timeout), &from)?,
            max_connections,
            shutdown_timeout: seconds("shutdown_timeout", get!(shutdown_timeout), &from)?,
            metrics: get!(metrics),
            metrics_bind: s.metrics_bind,
            meta_headers,
        })
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn higher_layers_win_field_by_field() {
        let flag = Settings {
            api_limit_max: Some(10),
            ..Default::default()
        };
        let file = Settings {
            api_limit_max: Some(20),
            limit_param_default: Some(5),
            ..Default::default()
        };
        let merged = flag.over(file).over(Settings::defaults());
        assert_eq!(merged.api_limit_max, Some(10));
        assert_eq!(merged.limit_param_default, Some(5));
        assert_eq!(merged.max_properties, Some(128));
    }

    #[test]
    fn file_errors_name_the_key_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("glimpse.toml");
        std::fs::write(&p, "bind = \"nope\"\n").unwrap();
        let e = Settings::from_toml_file(&p).unwrap_err();
        assert!(e.contains("bind") && e.contains("glimpse.toml"), "{e}");
        std::fs::write(&p, "bindd = \"127.0.0.1:1\"\n").unwrap();
        let e = Settings::from_toml_file(&p).unwrap_err();
        assert!(e.contains("bindd"), "{e}");
    }

    #[test]
    fn invalid_values_name_the_setting() {
        let s = Settings {
            api_limit_max: Some(0),
            ..Default::default()
        };
        let e = ServerConfig::from_settings(&s, &Sources::default()).unwrap_err();
        assert!(e.contains("api_limit_max"), "{e}");
        let s = Settings {
            database_url: Some("oracle://x".into()),
            ..Default::default()
        };
        let e = ServerConfig::from_settings(&s, &Sources::default()).unwrap_err();
        assert!(e.contains("database_url"), "{e}");
    }

    #[test]
    fn show_masks_passwords_and_round_trips() {
        let s = Settings {
            database_url: Some("postgres://glimpse:s3cret@db/glimpse".into()),
            ..Default::default()
        }
        .over(Settings::defaults());
        let shown = s.to_toml_masked();
        assert!(
            !shown.contains("s3cret") && shown.contains("****"),
            "{shown}"
        );
        let back: Settings = toml::from_str(&shown).unwrap();
        assert_eq!(back.api_limit_max, Some(1000));
    }
}
