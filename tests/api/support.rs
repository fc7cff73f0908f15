//! The test harness: a real glimpse server on an ephemeral loopback port, on a fresh database
//! of the chosen backend (a SQLite file, or a new PostgreSQL / MariaDB database that is dropped
//! afterwards), driven over HTTP with reqwest.

#![allow(dead_code)]

use glimpse::config::{ServerConfig, Settings, Sources};
use glimpse::server::Server;
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use std::time::Duration;

/// The database servers of the tests: a URL of an existing database that an admin user can
/// connect to; each test creates its own database next to it.
const POSTGRES_URL_ENV: &str = "GLIMPSE_TEST_POSTGRES_URL";
const MYSQL_URL_ENV: &str = "GLIMPSE_TEST_MYSQL_URL";
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const DEFAULT_MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/test";

/// The admin URL of a backend's database server (`GLIMPSE_TEST_POSTGRES_URL`,
/// `GLIMPSE_TEST_MYSQL_URL`, or the local defaults).
pub fn admin_url(backend: Backend) -> String {
    let (env, default) = match backend {
        Backend::Postgres => (POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL),
        Backend::Mysql => (MYSQL_URL_ENV, DEFAULT_MYSQL_URL),
        Backend::Sqlite => panic!("SQLite has no database server"),
    };
    std::env::var(env).unwrap_or_else(|_| default.to_owned())
}

/// The URL of database `name` on the backend's server.
pub fn database_url(backend: Backend, name: &str) -> String {
    let mut url = url::Url::parse(&admin_url(backend))
        .unwrap_or_else(|e| panic!("invalid test database URL for {backend:?}: {e}"));
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// `host:port` of the backend's database server.
pub fn server_address(backend: Backend) -> String {
    let url = url::Url::parse(&admin_url(backend))
        .unwrap_or_else(|e| panic!("invalid test database URL for {backend:?}: {e}"));
    let port = url.port().unwrap_or(match backend {
        Backend::Mysql => 3306,
        _ => 5432,
    });
    format!("{}:{port}", url.host_str().unwrap_or("127.0.0.1"))
}

/// `url` with its host and port replaced by `address` (`host:port`).
pub fn with_address(url: &str, address: &str) -> String {
    let mut u = url::Url::parse(url).unwrap_or_else(|e| panic!("invalid URL {url}: {e}"));
    let (host, port) = address.rsplit_once(':').expect("host:port");
    u.set_host(Some(host)).expect("host");
    u.set_port(Some(port.parse().expect("port"))).expect("port");
    u.to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    Mysql,
}

/// A database made for one test, removed when dropped.
pub struct TestDb {
    pub url: String,
    backend: Backend,
    name: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn create(backend: Backend) -> TestDb {
        let name = format!("glimpse_t_{}", uuid::Uuid::new_v4().simple());
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                let url = format!("sqlite://{}", dir.path().join("glimpse.db").display());
                TestDb {
                    url,
                    backend,
                    name,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                admin_exec(backend, &format!("CREATE DATABASE {name}")).await;
                TestDb {
                    url: database_url(backend, &name),
                    backend,
                    name,
                    _dir: None,
                }
            }
            Backend::Mysql => {
                admin_exec(
                    backend,
                    &format!("CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"),
                )
                .await;
                TestDb {
                    url: database_url(backend, &name),
                    backend,
                    name,
                    _dir: None,
                }
            }
        }
    }
}

/// Runs one statement as the server's admin user. Panics with a clear message when the
/// server is not reachable: a backend test never passes without its database.
pub async fn admin_exec(backend: Backend, sql: &str) {
    use sqlx::Connection;
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    let admin = match backend {
        Backend::Sqlite => return,
        _ => admin_url(backend),
    };
    match backend {
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&admin)
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL is not reachable at {admin} ({e}); start it (see .ci/run) or set {POSTGRES_URL_ENV}"));
            sqlx::query(sql)
                .execute(&mut c)
                .await
                .expect("admin statement");
        }
        Backend::Mysql => {
            let mut c = sqlx::MySqlConnection::connect(&admin)
                .await
                .unwrap_or_else(|e| panic!("MariaDB is not reachable at {admin} ({e}); start it (see .ci/run) or set {MYSQL_URL_ENV}"));
            sqlx::query(sql)
                .execute(&mut c)
                .await
                .expect("admin statement");
        }
        Backend::Sqlite => {}
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let sql = match self.backend {
            Backend::Sqlite => return,
            Backend::Postgres => format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            Backend::Mysql => format!("DROP DATABASE IF EXISTS {}", self.name),
        };
        let backend = self.backend;
        // Drop runs inside the test's runtime: use a thread with its own.
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(async {
                    let _ =
                        tokio::time::timeout(Duration::from_secs(10), admin_exec(backend, &sql))
                            .await;
                });
            }
        })
        .join();
    }
}

pub fn default_config(database_url: &str) -> ServerConfig {
    let settings = Settings {
        bind: Some("127.0.0.1:0".parse().expect("addr")),
        images_bind: Some("127.0.0.1:0".parse().expect("addr")),
        database_url: Some(database_url.to_owned()),
        db_max_connections: Some(5),
        db_acquire_timeout: Some(5.0),
        ..Settings::default()
    };
    ServerConfig::from_settings(&settings, &Sources::default()).expect("valid test config")
}

/// A running server and its database.
pub struct TestServer {
    /// The v1 registry API.
    pub base: String,
    /// The v2 images API (same catalog).
    pub v2: String,
    pub http: reqwest::Client,
    pub db: TestDb,
    /// The image store's directory (file store), removed with the server.
    pub store_dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestServer {
    pub async fn start(backend: Backend) -> TestServer {
        Self::start_with(backend, |_| {}).await
    }

    /// Starts a server whose configuration `tweak` may change.
    pub async fn start_with(backend: Backend, tweak: impl FnOnce(&mut ServerConfig)) -> TestServer {
        Self::start_on(TestDb::create(backend).await, tweak).await
    }

    /// Starts a server on an existing test database.
    pub async fn start_on(db: TestDb, tweak: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let store_dir = tempfile::tempdir().expect("store dir");
        let mut config = default_config(&db.url);
        config.store = glimpse::store::StoreConfig::File {
            dir: store_dir.path().to_path_buf(),
        };
        tweak(&mut config);
        let server = Server::bind(config).await.expect("server starts");
        let addr = server.local_addr().expect("addr");
        let v2 = server
            .images_addr()
            .map(|a| format!("http://{a}"))
            .unwrap_or_default();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server.run(async {
            let _ = rx.await;
        }));
        TestServer {
            base: format!("http://{addr}"),
            v2,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            db,
            store_dir,
            stop: Some(tx),
        }
    }

    /// The no-token admin.
    pub fn admin(&self) -> As<'_> {
        As {
            srv: self,
            headers: HeaderMap::new(),
        }
    }

    /// A confirmed tenant with the `member` role.
    pub fn tenant(&self, tenant: &str) -> As<'_> {
        self.caller(&[
            ("x-auth-token", "token"),
            ("x-identity-status", "Confirmed"),
            ("x-tenant-id", tenant),
            ("x-user-id", &format!("user-of-{tenant}")),
            ("x-roles", "member"),
        ])
    }

    /// A confirmed caller with the `admin` role and a tenant.
    pub fn tenant_admin(&self, tenant: &str) -> As<'_> {
        self.caller(&[
            ("x-auth-token", "token"),
            ("x-identity-status", "Confirmed"),
            ("x-tenant-id", tenant),
            ("x-roles", "member,admin"),
        ])
    }

    /// Any set of request-context headers.
    pub fn caller(&self, headers: &[(&str, &str)]) -> As<'_> {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        As {
            srv: self,
            headers: h,
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    /// The body as JSON, or `Null` when it is empty or not JSON.
    pub json: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ascii header").to_owned())
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(self, status: u16) -> Resp {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        self
    }

    /// Asserts an error status with the JSON error body of the spec.
    #[track_caller]
    pub fn expect_error(self, status: u16) -> Resp {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        if status != 304 {
            assert_eq!(
                self.json["error"]["code"], status,
                "error body: {}",
                self.text
            );
            assert!(
                self.json["error"]["message"].is_string(),
                "error body: {}",
                self.text
            );
            assert!(
                self.json["error"]["title"].is_string(),
                "error body: {}",
                self.text
            );
        }
        self
    }

    pub fn image(&self) -> &Value {
        &self.json["image"]
    }

    pub fn images(&self) -> &Vec<Value> {
        self.json["images"].as_array().expect("images array")
    }

    /// The ids of a list response, in order.
    pub fn ids(&self) -> Vec<String> {
        self.images()
            .iter()
            .map(|i| i["id"].as_str().expect("id").to_owned())
            .collect()
    }
}

/// Requests made as one caller.
pub struct As<'a> {
    srv: &'a TestServer,
    headers: HeaderMap,
}

impl As<'_> {
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        extra: &[(&str, &str)],
    ) -> Resp {
        let mut req = self
            .srv
            .http
            .request(method, format!("{}{}", self.srv.base, path))
            .headers(self.headers.clone());
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            text,
            json,
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, None, &[]).await
    }

    pub async fn head(&self, path: &str) -> Resp {
        self.send(Method::HEAD, path, None, &[]).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(Method::DELETE, path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.send(Method::POST, path, Some(body.to_string().into_bytes()), &[])
            .await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Resp {
        self.send(Method::PUT, path, Some(body.to_string().into_bytes()), &[])
            .await
    }

    pub async fn put_with(&self, path: &str, body: &Value, extra: &[(&str, &str)]) -> Resp {
        self.send(
            Method::PUT,
            path,
            Some(body.to_string().into_bytes()),
            extra,
        )
        .await
    }

    pub async fn raw(&self, method: Method, path: &str, body: &[u8]) -> Resp {
        self.send(method, path, Some(body.to_vec()), &[]).await
    }

    /// `GET path` over a bare HTTP/1.1 connection, for responses with more headers than
    /// reqwest (hyper) accepts (100): an image with many properties has one header each.
    pub async fn get_unlimited(&self, path: &str) -> Resp {
        self.bare("GET", path, &[], b"").await
    }

    /// One request over a bare HTTP/1.1 connection: exactly these headers (plus the caller's)
    /// and body bytes, so a test may claim a `content-length` it never sends.
    pub async fn bare(
        &self,
        method: &str,
        path: &str,
        extra: &[(&str, &str)],
        body: &[u8],
    ) -> Resp {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = self.srv.base.trim_start_matches("http://");
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let mut req = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
        for (k, v) in &self.headers {
            req.push_str(&format!("{k}: {}\r\n", v.to_str().expect("ascii")));
        }
        for (k, v) in extra {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).await.expect("write");
        s.write_all(body).await.expect("write body");
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.expect("read");
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("end of headers");
        let head = String::from_utf8(raw[..split].to_vec()).expect("ascii head");
        let mut body = raw[split + 4..].to_vec();
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|c| c.parse().ok())
            .expect("status line");
        let mut headers = HeaderMap::new();
        for l in lines {
            let (k, v) = l.split_once(':').expect("header line");
            headers.append(
                HeaderName::from_bytes(k.trim().as_bytes()).expect("name"),
                HeaderValue::from_str(v.trim()).expect("value"),
            );
        }
        if headers
            .get("transfer-encoding")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"chunked"))
        {
            let mut out = Vec::new();
            let mut rest = &body[..];
            loop {
                let nl = rest
                    .windows(2)
                    .position(|w| w == b"\r\n")
                    .expect("chunk size");
                let size = usize::from_str_radix(
                    std::str::from_utf8(&rest[..nl]).expect("hex").trim(),
                    16,
                )
                .expect("chunk size");
                if size == 0 {
                    break;
                }
                out.extend_from_slice(&rest[nl + 2..nl + 2 + size]);
                rest = &rest[nl + 2 + size + 2..];
            }
            body = out;
        }
        let text = String::from_utf8(body).expect("utf-8 body");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            text,
            json,
        }
    }

    /// Creates an image from the given fields and returns it (asserting 200).
    pub async fn create(&self, fields: Value) -> Value {
        let r = self
            .post("/images", &serde_json::json!({ "image": fields }))
            .await
            .expect(200);
        r.json["image"].clone()
    }
}

/// Generates, for each `async fn name(srv: TestServer) { ... }`, a module `name` with one
/// test per backend (`name::sqlite`, `name::postgres`, `name::mysql`), each on a fresh server
/// and database. An optional `$tweak;` first (a `FnOnce(&mut ServerConfig)`) changes the
/// configuration of those servers. Select engines with nextest filters (for example
/// `cargo nextest run -E 'not test(/mysql$/)'`).
#[macro_export]
macro_rules! backend_tests {
    ($(async fn $name:ident($srv:ident: TestServer) $body:block)*) => {
        $crate::backend_tests! {
            |_: &mut glimpse::config::ServerConfig| {};
            $(async fn $name($srv: TestServer) $body)*
        }
    };
    ($tweak:expr; $(async fn $name:ident($srv:ident: TestServer) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                use $crate::support::{Backend, TestServer};

                async fn story($srv: TestServer) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    story(TestServer::start_with(Backend::Sqlite, $tweak).await).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    story(TestServer::start_with(Backend::Postgres, $tweak).await).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn mysql() {
                    story(TestServer::start_with(Backend::Mysql, $tweak).await).await
                }
            }
        )*
    };
}

/// The `id` of an image object.
pub fn id_of(image: &Value) -> String {
    image["id"].as_str().expect("image id").to_owned()
}

/// `2011-09-27T14:03:11.123456`: ISO 8601, UTC without an offset, exactly six fraction digits.
pub fn is_micro_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 26
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            _ => c.is_ascii_digit(),
        })
        && time::PrimitiveDateTime::parse(
            s,
            &time::format_description::well_known::Iso8601::DEFAULT,
        )
        .is_ok()
}

/// The sorted keys of a JSON object.
pub fn keys_of(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
    k.sort();
    k
}

/// Percent-encodes a query-string value.
pub fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
