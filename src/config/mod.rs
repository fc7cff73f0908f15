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
use crate::auth::cache::CachePolicy;
use crate::auth::keystone::{DomainRef, Secret, ServiceCredentials};
use crate::auth::trusted_proxy::{self, Cidr};
use crate::auth::{AuthConfig, KeystoneSettings, Mode};
use crate::domain::formats::Formats;
use crate::domain::input::Rules;
use crate::domain::query::PageLimits;
use crate::storage::sql::{PoolSettings, redact_url};
use crate::store::StoreConfig;
use crate::store::s3::S3Settings;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The old auth setting, kept as a spelling of [`AuthMode`]: `deny` is trusted-proxy, `allow`
/// is noauth on any bind, `auto` the loopback default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NoAuth {
    /// The loopback default; refused at start on any other address (choose explicitly).
    Auto,
    /// `--auth noauth`, also on a non-loopback bind.
    Allow,
    /// `--auth trusted-proxy`: a request without a token is 401.
    Deny,
}

/// How callers are authenticated (see [`crate::auth`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMode {
    /// Validate X-Auth-Token with Keystone v3; identity headers are ignored.
    Keystone,
    /// Believe identity headers only from --trusted-proxies (default: loopback).
    TrustedProxy,
    /// Every request is an admin without a project, whatever it sends.
    Noauth,
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
    /// Address and port of the v1 registry API [default: 127.0.0.1:9191, the registry's
    /// traditional port].
    #[arg(long, visible_alias = "registry-bind", env = "GLIMPSE_BIND")]
    #[serde(alias = "registry_bind")]
    pub bind: Option<SocketAddr>,

    /// Serve the v1 registry API; false serves only the v2 images API [default: true].
    #[arg(long, env = "GLIMPSE_REGISTRY_API")]
    pub registry_api: Option<bool>,

    /// Address and port of the Glance v2 images API [default: 127.0.0.1:9292, Glance's API
    /// port].
    #[arg(long, env = "GLIMPSE_IMAGES_BIND")]
    pub images_bind: Option<SocketAddr>,

    /// Serve the v2 images API; false serves only the v1 registry API [default: true].
    #[arg(long, env = "GLIMPSE_IMAGES_API")]
    pub images_api: Option<bool>,

    /// The public base URL of the images API, for the links of its version documents
    /// (e.g. https://image.example.com); by default the request's own host.
    #[arg(long, env = "GLIMPSE_PUBLIC_ENDPOINT")]
    pub public_endpoint: Option<String>,

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

    /// Authentication: keystone, trusted-proxy or noauth [default: none chosen: on a loopback
    /// bind no token is admin and identity headers are believed; elsewhere glimpse refuses to start].
    #[arg(long, env = "GLIMPSE_AUTH", value_enum)]
    pub auth: Option<AuthMode>,

    /// The old spelling of --auth: deny is trusted-proxy, allow is noauth on any bind, auto is
    /// the loopback default. --auth wins when both are set.
    #[arg(long, env = "GLIMPSE_NOAUTH", value_enum)]
    pub noauth: Option<NoAuth>,

    /// Addresses or CIDRs whose identity headers trusted-proxy mode believes, comma-separated
    /// [default: 127.0.0.0/8,::1].
    #[arg(long, env = "GLIMPSE_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Option<Vec<String>>,

    /// Allow --auth noauth on a non-loopback bind [default: false].
    #[arg(long, env = "GLIMPSE_NOAUTH_ON_PUBLIC_BIND")]
    pub noauth_on_public_bind: Option<bool>,

    /// Roles that make a caller admin, comma-separated [default: admin].
    #[arg(long, env = "GLIMPSE_ADMIN_ROLES", value_delimiter = ',')]
    pub admin_roles: Option<Vec<String>>,

    /// Keystone URL glimpse validates tokens with, e.g. https://keystone:5000 (keystone_authtoken auth_url).
    #[arg(long, env = "GLIMPSE_KEYSTONE_AUTH_URL")]
    pub keystone_auth_url: Option<String>,

    /// Public Keystone URL sent to clients in WWW-Authenticate [default: keystone_auth_url].
    #[arg(long, env = "GLIMPSE_KEYSTONE_WWW_AUTHENTICATE_URI")]
    pub keystone_www_authenticate_uri: Option<String>,

    /// glimpse's service user in Keystone.
    #[arg(long, env = "GLIMPSE_KEYSTONE_USERNAME")]
    pub keystone_username: Option<String>,

    /// The service user's password (masked by `config show`).
    #[arg(long, env = "GLIMPSE_KEYSTONE_PASSWORD")]
    pub keystone_password: Option<String>,

    /// The service user's project [default: service].
    #[arg(long, env = "GLIMPSE_KEYSTONE_PROJECT_NAME")]
    pub keystone_project_name: Option<String>,

    /// The service user's domain, by name [default: Default].
    #[arg(long, env = "GLIMPSE_KEYSTONE_USER_DOMAIN_NAME")]
    pub keystone_user_domain_name: Option<String>,

    /// The service user's domain, by id (wins over the name).
    #[arg(long, env = "GLIMPSE_KEYSTONE_USER_DOMAIN_ID")]
    pub keystone_user_domain_id: Option<String>,

    /// The service project's domain, by name [default: Default].
    #[arg(long, env = "GLIMPSE_KEYSTONE_PROJECT_DOMAIN_NAME")]
    pub keystone_project_domain_name: Option<String>,

    /// The service project's domain, by id (wins over the name).
    #[arg(long, env = "GLIMPSE_KEYSTONE_PROJECT_DOMAIN_ID")]
    pub keystone_project_domain_id: Option<String>,

    /// Accepted for glance-api.conf compatibility; glimpse uses keystone_auth_url as given.
    #[arg(long, env = "GLIMPSE_KEYSTONE_REGION_NAME")]
    pub keystone_region_name: Option<String>,

    /// Seconds a validated token is believed without asking Keystone again [default: 300].
    #[arg(long, env = "GLIMPSE_TOKEN_CACHE_TIME")]
    pub token_cache_time: Option<f64>,

    /// Most tokens kept in the cache [default: 10000].
    #[arg(long, env = "GLIMPSE_TOKEN_CACHE_SIZE")]
    pub token_cache_size: Option<u64>,

    /// Seconds one Keystone call may take before an uncached token gets 503 [default: 3].
    #[arg(long, env = "GLIMPSE_KEYSTONE_TIMEOUT")]
    pub keystone_timeout: Option<f64>,

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

    /// Where image data is stored: file:/DIR, or s3://BUCKET/PREFIX [default: file: a
    /// glimpse-images directory beside the SQLite file, or ./glimpse-images].
    #[arg(long, env = "GLIMPSE_STORE")]
    pub store: Option<String>,

    /// The S3 endpoint, e.g. http://127.0.0.1:9000 [default: AWS].
    #[arg(long, env = "GLIMPSE_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,

    /// The S3 region [default: us-east-1].
    #[arg(long, env = "GLIMPSE_S3_REGION")]
    pub s3_region: Option<String>,

    /// The S3 access key.
    #[arg(long, env = "GLIMPSE_S3_ACCESS_KEY")]
    pub s3_access_key: Option<String>,

    /// The S3 secret key (masked by `config show`).
    #[arg(long, env = "GLIMPSE_S3_SECRET_KEY")]
    pub s3_secret_key: Option<String>,

    /// Largest image upload in bytes; more is 413 [default: 1099511627776, 1 TiB].
    #[arg(long, env = "GLIMPSE_IMAGE_SIZE_CAP")]
    pub image_size_cap: Option<u64>,

    /// Seconds after which an upload that stopped reporting progress is given up and its image
    /// returned to queued (its instance died) [default: 120].
    #[arg(long, env = "GLIMPSE_UPLOAD_STALE_AFTER")]
    pub upload_stale_after: Option<f64>,

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
            registry_api,
            images_bind,
            images_api,
            public_endpoint,
            database_url,
            api_limit_max,
            limit_param_default,
            owner_is_tenant,
            max_body_bytes,
            auth,
            noauth,
            trusted_proxies,
            noauth_on_public_bind,
            admin_roles,
            keystone_auth_url,
            keystone_www_authenticate_uri,
            keystone_username,
            keystone_password,
            keystone_project_name,
            keystone_user_domain_name,
            keystone_user_domain_id,
            keystone_project_domain_name,
            keystone_project_domain_id,
            keystone_region_name,
            token_cache_time,
            token_cache_size,
            keystone_timeout,
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
            store,
            s3_endpoint,
            s3_region,
            s3_access_key,
            s3_secret_key,
            image_size_cap,
            upload_stale_after,
        )
    }

    /// The built-in defaults, every field set.
    pub fn defaults() -> Settings {
        let formats = Formats::default();
        Settings {
            bind: Some(SocketAddr::from(([127, 0, 0, 1], 9191))),
            registry_api: Some(true),
            images_bind: Some(SocketAddr::from(([127, 0, 0, 1], 9292))),
            images_api: Some(true),
            public_endpoint: None,
            database_url: Some("sqlite://glimpse.db".into()),
            api_limit_max: Some(1000),
            limit_param_default: Some(25),
            owner_is_tenant: Some(true),
            max_body_bytes: Some(1024 * 1024),
            auth: None,
            noauth: None,
            trusted_proxies: None,
            noauth_on_public_bind: Some(false),
            admin_roles: Some(vec!["admin".into()]),
            keystone_auth_url: None,
            keystone_www_authenticate_uri: None,
            keystone_username: None,
            keystone_password: None,
            keystone_project_name: Some("service".into()),
            keystone_user_domain_name: Some("Default".into()),
            keystone_user_domain_id: None,
            keystone_project_domain_name: Some("Default".into()),
            keystone_project_domain_id: None,
            keystone_region_name: None,
            token_cache_time: Some(300.0),
            token_cache_size: Some(10_000),
            keystone_timeout: Some(3.0),
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
            store: None,
            s3_endpoint: None,
            s3_region: Some("us-east-1".into()),
            s3_access_key: None,
            s3_secret_key: None,
            image_size_cap: Some(1 << 40),
            upload_stale_after: Some(120.0),
        }
    }

    /// Reads a TOML settings file; an unknown key or a wrong type names the key and the file.
    pub fn from_toml_file(path: &Path) -> Result<Settings, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("invalid config file {}: {e}", path.display()))
    }

    /// The effective settings as TOML, database and Keystone passwords masked.
    pub fn to_toml_masked(&self) -> String {
        let mut shown = self.clone();
        shown.database_url = shown.database_url.as_deref().map(redact_url);
        if shown.keystone_password.is_some() {
            shown.keystone_password = Some("****".into());
        }
        if shown.s3_secret_key.is_some() {
            shown.s3_secret_key = Some("****".into());
        }
        toml::to_string(&shown).unwrap_or_else(|e| format!("# cannot render settings: {e}\n"))
    }
}

/// Where settings come from besides flags and environment.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Sources {
    /// A TOML file with any of the settings below (keys as the flags, with underscores).
    #[arg(long, env = "GLIMPSE_CONFIG")]
    pub config: Option<PathBuf>,

    /// An existing glance-registry.conf or glance-api.conf to take bind_host, bind_port,
    /// sql_connection, api_limit_max, limit_param_default, owner_is_tenant,
    /// [paste_deploy] flavor and [keystone_authtoken] from.
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

/// The image store from `store` and the `s3_*` settings; without `store`, a directory beside
/// the SQLite file (or in the working directory for a database server).
fn store_config(s: &Settings, database_url: &str) -> Result<StoreConfig, String> {
    let spec = match &s.store {
        Some(spec) => spec.clone(),
        None => {
            let beside = database_url
                .strip_prefix("sqlite://")
                .or_else(|| database_url.strip_prefix("sqlite:"))
                .map(|f| f.split('?').next().unwrap_or(f))
                .filter(|f| !f.is_empty() && !f.starts_with(':'))
                .and_then(|f| Path::new(f).parent().map(Path::to_path_buf))
                .unwrap_or_default();
            format!("file:{}", beside.join("glimpse-images").display())
        }
    };
    if let Some(rest) = spec.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!(
                "{spec}: an S3 store names its bucket, s3://BUCKET[/PREFIX]"
            ));
        }
        return Ok(StoreConfig::S3(S3Settings {
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
            endpoint: s.s3_endpoint.clone().filter(|e| !e.is_empty()),
            region: s.s3_region.clone().unwrap_or_else(|| "us-east-1".into()),
            access_key: s.s3_access_key.clone(),
            secret_key: s.s3_secret_key.clone(),
        }));
    }
    let dir = spec
        .strip_prefix("file://")
        .or_else(|| spec.strip_prefix("file:"))
        .ok_or_else(|| format!("{spec}: the store is file:/DIR or s3://BUCKET[/PREFIX]"))?;
    if dir.is_empty() {
        return Err(format!(
            "{spec}: a file store names its directory, file:/DIR"
        ));
    }
    Ok(StoreConfig::File {
        dir: PathBuf::from(dir),
    })
}

/// Everything `glimpse serve` needs, validated.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The v1 registry API's listener, if it is served.
    pub bind: Option<SocketAddr>,
    /// The v2 images API's listener, if it is served.
    pub images_bind: Option<SocketAddr>,
    /// The base of absolute links in version documents; the request's host when unset.
    pub public_endpoint: Option<String>,
    pub database_url: String,
    pub pool: PoolSettings,
    pub limits: PageLimits,
    pub rules: Rules,
    pub owner_is_tenant: bool,
    pub max_body_bytes: usize,
    /// The chosen mode; `None` is the loopback default (or what `noauth` says).
    pub auth: Option<AuthMode>,
    /// The old setting, read only when `auth` is unset.
    pub noauth: NoAuth,
    pub trusted_proxies: Vec<Cidr>,
    pub noauth_on_public_bind: bool,
    pub admin_roles: Vec<String>,
    /// Keystone settings, checked when keystone mode is chosen.
    pub keystone: KeystoneOptions,
    pub request_timeout: Duration,
    pub header_read_timeout: Duration,
    pub max_connections: usize,
    pub shutdown_timeout: Duration,
    pub metrics: bool,
    pub metrics_bind: Option<SocketAddr>,
    pub meta_headers: HeaderBudget,
    /// Where image data lives.
    pub store: StoreConfig,
    pub image_size_cap: u64,
    /// How long an upload may go without a heartbeat before it counts as dead.
    pub upload_stale_after: Duration,
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
        let images_api: bool = get!(images_api);
        let images_bind: SocketAddr = get!(images_bind);
        let registry_api: bool = get!(registry_api);
        if !registry_api && !images_api {
            return Err(format!(
                "invalid settings registry_api = false and images_api = false (from {from}): \
                 nothing would be served; keep at least one API on"
            ));
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
        let store = store_config(&s, &database_url)
            .map_err(|e| format!("invalid setting store (from {from}): {e}"))?;
        Ok(ServerConfig {
            store,
            image_size_cap: get!(image_size_cap),
            upload_stale_after: seconds("upload_stale_after", get!(upload_stale_after), &from)?,
            bind: registry_api.then_some(get!(bind)),
            images_bind: images_api.then_some(images_bind),
            public_endpoint: s
                .public_endpoint
                .as_deref()
                .map(|e| e.trim_end_matches('/').to_owned()),
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
            auth: s.auth,
            noauth: s.noauth.unwrap_or(NoAuth::Auto),
            trusted_proxies: match &s.trusted_proxies {
                Some(list) => list
                    .iter()
                    .filter(|c| !c.trim().is_empty())
                    .map(|c| Cidr::parse(c))
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("invalid setting trusted_proxies (from {from}): {e}"))?,
                None => trusted_proxy::loopback(),
            },
            noauth_on_public_bind: get!(noauth_on_public_bind),
            admin_roles: get!(admin_roles),
            keystone: KeystoneOptions {
                auth_url: s.keystone_auth_url.clone(),
                www_authenticate_uri: s.keystone_www_authenticate_uri.clone(),
                username: s.keystone_username.clone(),
                password: s.keystone_password.clone().map(Secret),
                project_name: get!(keystone_project_name),
                user_domain: domain(&s.keystone_user_domain_id, &s.keystone_user_domain_name),
                project_domain: domain(
                    &s.keystone_project_domain_id,
                    &s.keystone_project_domain_name,
                ),
                token_cache_time: seconds("token_cache_time", get!(token_cache_time), &from)?,
                token_cache_size: get!(token_cache_size),
                timeout: seconds("keystone_timeout", get!(keystone_timeout), &from)?,
            },
            request_timeout: seconds("request_timeout", get!(request_timeout), &from)?,
            header_read_timeout: seconds("header_read_timeout", get!(header_read_timeout), &from)?,
            max_connections,
            shutdown_timeout: seconds("shutdown_timeout", get!(shutdown_timeout), &from)?,
            metrics: get!(metrics),
            metrics_bind: s.metrics_bind,
            meta_headers,
        })
    }

    /// The addresses glimpse listens on for its APIs.
    pub fn listeners(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        self.bind.into_iter().chain(self.images_bind)
    }

    /// The auth mode to run with, resolved against the bind address: without an explicit
    /// mode, a non-loopback bind is refused (anyone could claim to be admin there).
    pub fn auth_config(&self) -> Result<AuthConfig, String> {
        let public = self.listeners().any(|a| !a.ip().is_loopback());
        let first = self.listeners().find(|a| !a.ip().is_loopback());
        let (mode, noauth_allowed_publicly) = match (self.auth, self.noauth) {
            (Some(AuthMode::Keystone), _) => {
                (Mode::Keystone(Box::new(self.keystone_settings()?)), false)
            }
            (Some(AuthMode::TrustedProxy), _) | (None, NoAuth::Deny) => {
                (Mode::TrustedProxy(self.trusted_proxies.clone()), false)
            }
            (Some(AuthMode::Noauth), _) => (Mode::NoAuth, self.noauth_on_public_bind),
            (None, NoAuth::Allow) => (Mode::NoAuth, true),
            (None, NoAuth::Auto) if public => {
                return Err(format!(
                    "refusing to start: {} is not a loopback address and no auth mode is chosen, so \
                     anyone could claim to be admin. Choose one: --auth keystone (validate tokens \
                     with Keystone), --auth trusted-proxy (believe identity headers from \
                     --trusted-proxies only; the old --noauth deny), or --auth noauth with \
                     --noauth-on-public-bind true (everyone is admin)",
                    first.map_or_else(String::new, |a| a.to_string())
                ));
            }
            (None, NoAuth::Auto) => (Mode::Loopback, false),
        };
        if matches!(mode, Mode::NoAuth) && public && !noauth_allowed_publicly {
            return Err(format!(
                "refusing to start: --auth noauth makes every request an admin, and {} is not a \
                 loopback address; allow it explicitly with --noauth-on-public-bind true",
                first.map_or_else(String::new, |a| a.to_string())
            ));
        }
        Ok(AuthConfig {
            mode,
            admin_roles: self.admin_roles.clone(),
            owner_is_tenant: self.owner_is_tenant,
        })
    }

    fn keystone_settings(&self) -> Result<KeystoneSettings, String> {
        let k = &self.keystone;
        let need = |v: &Option<String>, key: &str| {
            v.clone().filter(|s| !s.trim().is_empty()).ok_or_else(|| {
                format!("--auth keystone needs {key} (flag --{}, or [keystone_authtoken] in --glance-config)", key.replace('_', "-"))
            })
        };
        let auth_url = need(&k.auth_url, "keystone_auth_url")?;
        url::Url::parse(&auth_url)
            .map_err(|e| format!("invalid setting keystone_auth_url = {auth_url}: {e}"))?;
        Ok(KeystoneSettings {
            www_authenticate_uri: k
                .www_authenticate_uri
                .clone()
                .unwrap_or_else(|| auth_url.clone()),
            auth_url,
            credentials: ServiceCredentials {
                username: need(&k.username, "keystone_username")?,
                password: Secret(need(
                    &k.password.as_ref().map(|p| p.0.clone()),
                    "keystone_password",
                )?),
                user_domain: k.user_domain.clone(),
                project_name: k.project_name.clone(),
                project_domain: k.project_domain.clone(),
            },
            timeout: k.timeout,
            cache: CachePolicy {
                token_ttl: k.token_cache_time,
                rejection_ttl: REJECTION_TTL.min(k.token_cache_time),
                max_entries: k.token_cache_size.max(1),
            },
        })
    }
}

/// How long a rejected token is remembered: long enough to absorb a retry storm, short enough
/// that a just-issued token is not refused for long.
const REJECTION_TTL: Duration = Duration::from_secs(10);

/// The Keystone settings, before keystone mode checks that the required ones are set.
#[derive(Debug, Clone)]
pub struct KeystoneOptions {
    pub auth_url: Option<String>,
    pub www_authenticate_uri: Option<String>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub project_name: String,
    pub user_domain: DomainRef,
    pub project_domain: DomainRef,
    pub token_cache_time: Duration,
    pub token_cache_size: u64,
    pub timeout: Duration,
}

/// A domain by id when one is given, else by name (Keystone's own rule).
fn domain(id: &Option<String>, name: &Option<String>) -> DomainRef {
    match (id, name) {
        (Some(id), _) => DomainRef::Id(id.clone()),
        (None, Some(name)) => DomainRef::Name(name.clone()),
        (None, None) => DomainRef::Name("Default".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_config_file_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/glimpse.toml");
        let s = Settings::from_toml_file(&path).unwrap();
        let config = ServerConfig::from_settings(&s, &Sources::default()).unwrap();
        assert_eq!(
            config.store,
            StoreConfig::File {
                dir: "/var/lib/glimpse/images".into()
            }
        );
    }

    #[test]
    fn the_store_is_beside_the_sqlite_file_unless_named() {
        let with = |store: Option<&str>, db: &str| {
            let s = Settings {
                store: store.map(str::to_owned),
                s3_endpoint: Some("http://127.0.0.1:9000".into()),
                s3_access_key: Some("ak".into()),
                ..Default::default()
            };
            store_config(&s, db)
        };
        let file = |d: &str| Ok(StoreConfig::File { dir: d.into() });
        assert_eq!(
            with(None, "sqlite:///var/lib/glimpse/g.db"),
            file("/var/lib/glimpse/glimpse-images")
        );
        assert_eq!(with(None, "sqlite://glimpse.db"), file("glimpse-images"));
        assert_eq!(with(None, "postgres://db/glance"), file("glimpse-images"));
        assert_eq!(
            with(Some("file:/srv/img"), "sqlite://g.db"),
            file("/srv/img")
        );
        assert_eq!(
            with(Some("file:///srv/img"), "sqlite://g.db"),
            file("/srv/img")
        );
        let Ok(StoreConfig::S3(s3)) = with(Some("s3://images/glance/"), "sqlite://g.db") else {
            panic!("an S3 store");
        };
        assert_eq!(
            (s3.bucket.as_str(), s3.prefix.as_str()),
            ("images", "glance")
        );
        assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert!(with(Some("s3://"), "sqlite://g.db").is_err());
        assert!(with(Some("swift://x"), "sqlite://g.db").is_err());
    }

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
    fn auth_modes_resolve_against_the_bind() {
        let at = |bind: &str, s: Settings| {
            let s = Settings {
                bind: Some(bind.parse().unwrap()),
                ..s
            };
            ServerConfig::from_settings(&s, &Sources::default())
                .unwrap()
                .auth_config()
                .map(|c| c.mode)
        };
        assert!(matches!(
            at("127.0.0.1:1", Settings::default()),
            Ok(Mode::Loopback)
        ));
        let e = at("0.0.0.0:1", Settings::default()).unwrap_err();
        assert!(e.contains("keystone") && e.contains("trusted-proxy") && e.contains("noauth"));
        let noauth = || Settings {
            auth: Some(AuthMode::Noauth),
            ..Default::default()
        };
        assert!(at("0.0.0.0:1", noauth()).is_err());
        let public_noauth = Settings {
            noauth_on_public_bind: Some(true),
            ..noauth()
        };
        assert!(matches!(at("0.0.0.0:1", public_noauth), Ok(Mode::NoAuth)));
        let deny = Settings {
            noauth: Some(NoAuth::Deny),
            ..Default::default()
        };
        assert!(matches!(at("0.0.0.0:1", deny), Ok(Mode::TrustedProxy(_))));
        let keystone = Settings {
            auth: Some(AuthMode::Keystone),
            ..Default::default()
        };
        let e = at("0.0.0.0:1", keystone.clone()).unwrap_err();
        assert!(e.contains("keystone_auth_url"), "{e}");
        let complete = Settings {
            keystone_auth_url: Some("https://id.example:5000".into()),
            keystone_username: Some("glimpse".into()),
            keystone_password: Some("pw".into()),
            ..keystone
        };
        assert!(matches!(at("0.0.0.0:1", complete), Ok(Mode::Keystone(_))));
    }

    #[test]
    fn show_masks_passwords_and_round_trips() {
        let s = Settings {
            keystone_password: Some("k3ystone".into()),
            database_url: Some("postgres://glimpse:s3cret@db/glimpse".into()),
            ..Default::default()
        }
        .over(Settings::defaults());
        let shown = s.to_toml_masked();
        assert!(
            !shown.contains("s3cret") && !shown.contains("k3ystone") && shown.contains("****"),
            "{shown}"
        );
        let back: Settings = toml::from_str(&shown).unwrap();
        assert_eq!(back.api_limit_max, Some(1000));
    }
}
