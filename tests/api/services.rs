//! The real external parts the tests use (nginx, an S3 server, the OpenStack clients), each
//! installed and started by its script in `scripts/services/`, run once per test process.
//! A part that cannot be had fails the test with the script's message; it is never skipped.

#![allow(dead_code)]

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::signer::Signer;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Debian's nginx binary; each test starts its own instances (see `nginx.rs`).
#[derive(Debug)]
pub struct Nginx {
    pub bin: PathBuf,
    pub version: String,
}

/// The shared S3-compatible server (s3s-fs) on its fixed loopback port.
#[derive(Debug)]
pub struct S3 {
    /// The server binary, for tests that start private instances ([`S3Instance`]).
    pub bin: PathBuf,
    pub endpoint: String,
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
    pub data_dir: PathBuf,
    pub log: PathBuf,
}

/// The OpenStack command-line clients, in their virtualenv.
#[derive(Debug)]
pub struct OpenStackClients {
    pub openstack: PathBuf,
    pub glance: PathBuf,
    pub python: PathBuf,
    pub openstack_version: String,
    pub glance_version: String,
}

pub fn nginx() -> &'static Nginx {
    static PART: OnceLock<Nginx> = OnceLock::new();
    PART.get_or_init(|| {
        let v = Ensured::run("nginx");
        Nginx {
            bin: v.path("NGINX_BIN"),
            version: v.get("NGINX_VERSION"),
        }
    })
}

pub fn s3() -> &'static S3 {
    static PART: OnceLock<S3> = OnceLock::new();
    PART.get_or_init(|| {
        let v = Ensured::run("s3");
        S3 {
            bin: v.path("S3_BIN"),
            endpoint: v.get("S3_ENDPOINT"),
            region: v.get("S3_REGION"),
            access_key: v.get("S3_ACCESS_KEY"),
            secret_key: v.get("S3_SECRET_KEY"),
            data_dir: v.path("S3_DATA_DIR"),
            log: v.path("S3_LOG"),
        }
    })
}

pub fn openstack_clients() -> &'static OpenStackClients {
    static PART: OnceLock<OpenStackClients> = OnceLock::new();
    PART.get_or_init(|| {
        let v = Ensured::run("openstack-clients");
        OpenStackClients {
            openstack: v.path("OPENSTACK_BIN"),
            glance: v.path("GLANCE_BIN"),
            python: v.path("OPENSTACK_PYTHON"),
            openstack_version: v.get("OPENSTACK_VERSION"),
            glance_version: v.get("GLANCE_VERSION"),
        }
    })
}

/// The `KEY=VALUE` lines printed by `scripts/services/<part>.sh ensure`.
struct Ensured {
    script: PathBuf,
    values: HashMap<String, String>,
}

impl Ensured {
    fn run(part: &str) -> Ensured {
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scripts/services")
            .join(format!("{part}.sh"));
        let out = Command::new("bash")
            .arg(&script)
            .arg("ensure")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "the test part `{part}` is not available: `{} ensure` failed ({}):\n{stderr}",
            script.display(),
            out.status
        );
        let values = stdout
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        Ensured { script, values }
    }

    fn get(&self, key: &str) -> String {
        self.values.get(key).cloned().unwrap_or_else(|| {
            panic!(
                "`{} ensure` printed no {key}= line (got {:?})",
                self.script.display(),
                self.values.keys().collect::<Vec<_>>()
            )
        })
    }

    fn path(&self, key: &str) -> PathBuf {
        PathBuf::from(self.get(key))
    }
}

/// A free loopback port (bound, then released for the caller to use).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Waits until something accepts TCP connections on `127.0.0.1:port`.
pub fn wait_for_port(port: u16, what: &str, within: Duration) {
    let deadline = Instant::now() + within;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not answer on 127.0.0.1:{port} within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A private S3 server (the same s3s-fs binary and keys as the shared one) on a port and data
/// directory of its own, for tests that stop and restart the server under a client.
pub struct S3Instance {
    pub endpoint: String,
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Option<Child>,
}

impl S3Instance {
    pub fn start() -> S3Instance {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let mut s = S3Instance {
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
            dir,
            child: None,
        };
        s.restart();
        s
    }

    /// Starts the server again on the same port and data (after [`S3Instance::kill`]).
    pub fn restart(&mut self) {
        self.kill();
        let part = s3();
        let log = std::fs::File::create(self.dir.path().join("server.log")).expect("log file");
        let data = self.dir.path().join("data");
        std::fs::create_dir_all(&data).expect("data dir");
        let child = Command::new(&part.bin)
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", &part.access_key])
            .args(["--secret-key", &part.secret_key])
            .arg(&data)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", part.bin.display()));
        self.child = Some(child);
        wait_for_port(self.port, "a private s3s-fs", Duration::from_secs(30));
    }

    /// SIGKILL: the server vanishes mid-request.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

impl Drop for S3Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A client of the bucket `bucket` on `endpoint`, with the test server's keys.
pub fn client(endpoint: &str, bucket: &str) -> AmazonS3 {
    let s3 = s3();
    AmazonS3Builder::new()
        .with_endpoint(endpoint)
        .with_allow_http(true)
        .with_region(&s3.region)
        .with_access_key_id(&s3.access_key)
        .with_secret_access_key(&s3.secret_key)
        .with_bucket_name(bucket)
        .build()
        .expect("S3 client")
}

/// Creates a fresh bucket with a signed `PUT /<bucket>/` (object_store has no bucket API).
pub async fn create_bucket(endpoint: &str) -> (String, AmazonS3) {
    let bucket = format!("glimpse-t-{}", uuid::Uuid::new_v4().simple());
    let store = client(endpoint, &bucket);
    let url = store
        .signed_url(
            reqwest::Method::PUT,
            &object_store::path::Path::from(""),
            Duration::from_secs(60),
        )
        .await
        .expect("signed URL");
    let r = reqwest::Client::new()
        .put(url)
        .send()
        .await
        .expect("create bucket");
    let status = r.status();
    assert!(
        status.is_success(),
        "CreateBucket {bucket}: {status} {}",
        r.text().await.unwrap_or_default()
    );
    (bucket, store)
}
