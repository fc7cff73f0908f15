//! Reading an existing `glance-registry.conf` or `glance-api.conf` (its `[paste_deploy]` flavor
//! and `[keystone_authtoken]`), so a site can switch without rewriting its configuration. SQLAlchemy database URLs are translated to the URLs glimpse uses.

use super::{AuthMode, Settings};
use ini::Ini;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

/// Translates a SQLAlchemy URL: drops the `+driver` part, renames `postgresql`, and maps
/// SQLite's three- and four-slash forms (relative and absolute paths).
pub fn translate_sqlalchemy_url(url: &str) -> Result<String, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("'{url}' is not a database URL"))?;
    let dialect = scheme
        .split('+')
        .next()
        .unwrap_or(scheme)
        .to_ascii_lowercase();
    match dialect.as_str() {
        "sqlite" => match rest {
            "" => Ok("sqlite::memory:".into()),
            // sqlite:///relative.db -> rest "/relative.db"; sqlite:////abs.db -> "//abs.db"
            r if r.starts_with("//") => Ok(format!("sqlite://{}", &r[1..])),
            r => Ok(format!("sqlite://{}", r.trim_start_matches('/'))),
        },
        "postgresql" | "postgres" => Ok(format!("postgres://{}", strip_query(rest))),
        "mysql" | "mariadb" => Ok(format!("mysql://{}", strip_query(rest))),
        other => Err(format!("unsupported database dialect '{other}' in '{url}'")),
    }
}

/// SQLAlchemy query options (`?charset=utf8`, driver flags) mean nothing to glimpse, which
/// always talks utf8mb4.
fn strip_query(rest: &str) -> &str {
    rest.split('?').next().unwrap_or(rest)
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Reads the settings glimpse understands from a glance-registry.conf.
pub fn read_glance_config(path: &Path) -> Result<Settings, String> {
    let conf = Ini::load_from_file(path)
        .map_err(|e| format!("cannot read glance config {}: {e}", path.display()))?;
    let bad =
        |key: &str, v: &str| format!("invalid {key} = {v} in glance config {}", path.display());
    let get = |section: Option<&str>, key: &str| -> Option<String> {
        conf.section(section)
            .and_then(|s| s.get(key))
            .map(|v| v.trim().to_owned())
    };
    let default = |key: &str| get(Some("DEFAULT"), key).or_else(|| get(None, key));
    let mut s = Settings::default();

    let host = default("bind_host");
    let port = default("bind_port");
    if host.is_some() || port.is_some() {
        let ip: IpAddr = match &host {
            Some(h) => h.parse().map_err(|_| bad("bind_host", h))?,
            None => IpAddr::from([127, 0, 0, 1]),
        };
        let port: u16 = match &port {
            Some(p) => p.parse().map_err(|_| bad("bind_port", p))?,
            None => 9191,
        };
        s.bind = Some(SocketAddr::new(ip, port));
    }
    let connection = get(Some("database"), "connection").or_else(|| default("sql_connection"));
    if let Some(c) = connection {
        s.database_url = Some(
            translate_sqlalchemy_url(&c)
                .map_err(|e| format!("{e} (glance config {})", path.display()))?,
        );
    }
    if let Some(v) = default("api_limit_max") {
        s.api_limit_max = Some(v.parse().map_err(|_| bad("api_limit_max", &v))?);
    }
    if let Some(v) = default("limit_param_default") {
        s.limit_param_default = Some(v.parse().map_err(|_| bad("limit_param_default", &v))?);
    }
    if let Some(v) = default("owner_is_tenant") {
        s.owner_is_tenant = Some(parse_bool(&v).ok_or_else(|| bad("owner_is_tenant", &v))?);
    }
    if get(Some("paste_deploy"), "flavor").is_some_and(|f| f.starts_with("keystone")) {
        s.auth = Some(AuthMode::Keystone);
    }
    let authtoken = |key: &str| get(Some("keystone_authtoken"), key).filter(|v| !v.is_empty());
    s.keystone_auth_url = authtoken("auth_url");
    s.keystone_www_authenticate_uri =
        authtoken("www_authenticate_uri").or_else(|| authtoken("auth_uri"));
    s.keystone_username = authtoken("username");
    s.keystone_password = authtoken("password");
    s.keystone_project_name = authtoken("project_name");
    s.keystone_user_domain_name = authtoken("user_domain_name");
    s.keystone_user_domain_id = authtoken("user_domain_id");
    s.keystone_project_domain_name = authtoken("project_domain_name");
    s.keystone_project_domain_id = authtoken("project_domain_id");
    s.keystone_region_name = authtoken("region_name");
    if let Some(v) = authtoken("token_cache_time") {
        s.token_cache_time = Some(v.parse().map_err(|_| bad("token_cache_time", &v))?);
    }
    if let Some(v) = default("image_size_cap") {
        s.image_size_cap = Some(v.parse().map_err(|_| bad("image_size_cap", &v))?);
    }
    read_glance_store(&mut s, |key| {
        get(Some("glance_store"), key).filter(|v| !v.is_empty())
    })
    .map_err(|e| format!("{e} in glance config {}", path.display()))?;
    if authtoken("memcached_servers").is_some() {
        // Logging is not set up yet when the configuration is read.
        eprintln!(
            "glimpse: ignoring [keystone_authtoken] memcached_servers in {}: validated tokens are cached in memory",
            path.display()
        );
    }
    Ok(s)
}

/// `[glance_store]`: `default_store` (file or s3) with `filesystem_store_datadir`, or the
/// `s3_store_*` keys; other stores are refused, since glimpse cannot serve their data.
fn read_glance_store(
    s: &mut Settings,
    store: impl Fn(&str) -> Option<String>,
) -> Result<(), String> {
    let Some(kind) = store("default_store") else {
        return Ok(());
    };
    match kind.as_str() {
        "file" => {
            let dir = store("filesystem_store_datadir")
                .unwrap_or_else(|| "/var/lib/glance/images".into());
            s.store = Some(format!("file:{dir}"));
        }
        "s3" => {
            let bucket = store("s3_store_bucket")
                .ok_or("[glance_store] default_store = s3 needs s3_store_bucket")?;
            s.store = Some(format!("s3://{bucket}"));
            // glance_store takes a host without a scheme as https.
            s.s3_endpoint = store("s3_store_host").map(|h| {
                if h.starts_with("http://") || h.starts_with("https://") {
                    h
                } else {
                    format!("https://{h}")
                }
            });
            s.s3_access_key = store("s3_store_access_key");
            s.s3_secret_key = store("s3_store_secret_key");
            s.s3_region = store("s3_store_region_name");
        }
        other => {
            return Err(format!(
                "invalid [glance_store] default_store = {other}: glimpse stores image data in file or s3"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translates_sqlalchemy_urls() {
        let t = |u: &str| translate_sqlalchemy_url(u).unwrap();
        assert_eq!(
            t("mysql://glance:pw@db/glance"),
            "mysql://glance:pw@db/glance"
        );
        assert_eq!(
            t("mysql+pymysql://glance:pw@db/glance?charset=utf8"),
            "mysql://glance:pw@db/glance"
        );
        assert_eq!(
            t("postgresql+psycopg2://g:pw@db:5432/glance"),
            "postgres://g:pw@db:5432/glance"
        );
        assert_eq!(t("sqlite:///relative.db"), "sqlite://relative.db");
        assert_eq!(
            t("sqlite:////var/lib/glance/glance.sqlite"),
            "sqlite:///var/lib/glance/glance.sqlite"
        );
        assert!(translate_sqlalchemy_url("oracle://x/y").is_err());
    }

    #[test]
    fn reads_the_registry_options() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("glance-registry.conf");
        std::fs::write(
            &p,
            "[DEFAULT]\nbind_host = 0.0.0.0\nbind_port = 9292\napi_limit_max = 500\nlimit_param_default = 10\n\
             owner_is_tenant = False\nverbose = True\n\n[database]\nconnection = mysql+pymysql://g:pw@db/glance\n",
        )
        .unwrap();
        let s = read_glance_config(&p).unwrap();
        assert_eq!(s.bind, Some("0.0.0.0:9292".parse().unwrap()));
        assert_eq!(s.database_url.as_deref(), Some("mysql://g:pw@db/glance"));
        assert_eq!(
            (s.api_limit_max, s.limit_param_default, s.owner_is_tenant),
            (Some(500), Some(10), Some(false))
        );
    }

    #[test]
    fn reads_keystone_authtoken() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("glance-api.conf");
        std::fs::write(
            &p,
            "[paste_deploy]\nflavor = keystone\n\n[keystone_authtoken]\n\
             www_authenticate_uri = https://id.example:5000\nauth_url = https://id.example:5000\n\
             memcached_servers = mc:11211\nauth_type = password\nproject_domain_name = Default\n\
             user_domain_id = default\nproject_name = service\nusername = glance\n\
             password = pw\nregion_name = RegionOne\ntoken_cache_time = 60\n",
        )
        .unwrap();
        let s = read_glance_config(&p).unwrap();
        assert_eq!(s.auth, Some(AuthMode::Keystone));
        assert_eq!(
            s.keystone_auth_url.as_deref(),
            Some("https://id.example:5000")
        );
        assert_eq!(s.keystone_username.as_deref(), Some("glance"));
        assert_eq!(s.keystone_password.as_deref(), Some("pw"));
        assert_eq!(s.keystone_user_domain_id.as_deref(), Some("default"));
        assert_eq!(s.keystone_project_domain_name.as_deref(), Some("Default"));
        assert_eq!(s.token_cache_time, Some(60.0));
        assert_eq!(s.keystone_region_name.as_deref(), Some("RegionOne"));
    }

    #[test]
    fn old_sql_connection_key() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("g.conf");
        std::fs::write(
            &p,
            "[DEFAULT]\nsql_connection = sqlite:///glance.sqlite\nbind_port = x\n",
        )
        .unwrap();
        let e = read_glance_config(&p).unwrap_err();
        assert!(e.contains("bind_port"), "{e}");
    }

    #[test]
    fn reads_the_glance_store_section() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("glance-api.conf");
        std::fs::write(
            &p,
            "[DEFAULT]\nimage_size_cap = 2048\n\n[glance_store]\ndefault_store = s3\n\
             s3_store_host = 127.0.0.1:9000\ns3_store_access_key = ak\n\
             s3_store_secret_key = sk\ns3_store_bucket = images\n",
        )
        .unwrap();
        let s = read_glance_config(&p).unwrap();
        assert_eq!(s.store.as_deref(), Some("s3://images"));
        assert_eq!(s.s3_endpoint.as_deref(), Some("https://127.0.0.1:9000"));
        assert_eq!(s.s3_access_key.as_deref(), Some("ak"));
        assert_eq!(s.s3_secret_key.as_deref(), Some("sk"));
        assert_eq!(s.image_size_cap, Some(2048));

        std::fs::write(
            &p,
            "[glance_store]\ndefault_store = file\nfilesystem_store_datadir = /srv/images/\n",
        )
        .unwrap();
        let s = read_glance_config(&p).unwrap();
        assert_eq!(s.store.as_deref(), Some("file:/srv/images/"));

        std::fs::write(&p, "[glance_store]\ndefault_store = swift\n").unwrap();
        assert!(read_glance_config(&p).unwrap_err().contains("swift"));
    }
}
