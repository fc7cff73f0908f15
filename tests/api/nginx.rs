//! nginx (Debian's binary) in front of two `glimpse serve` processes on one database, with the
//! deployment configuration `deploy/nginx.conf` filled in with loopback addresses.

#![allow(dead_code)]

use crate::process::Process;
use crate::services::{self, free_port};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The deployment configuration shown in the README, with `@INSTANCE_A@`, `@INSTANCE_B@` and
/// `@LISTEN@` to fill in.
pub fn config_template() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/nginx.conf");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// A running nginx of its own (prefix, pid, logs and temporary files in a temporary
/// directory), stopped when dropped.
pub struct NginxFront {
    pub base: String,
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl NginxFront {
    /// Starts nginx on a free loopback port in front of two `host:port` upstreams.
    pub fn start(instance_a: &str, instance_b: &str) -> NginxFront {
        let nginx = services::nginx();
        let dir = tempfile::tempdir().expect("tempdir");
        // nginx's workers run as an unprivileged user when the master runs as root: they must
        // be able to reach the temporary directories.
        set_mode(dir.path(), 0o755);
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let site = config_template()
            .replace("@INSTANCE_A@", instance_a)
            .replace("@INSTANCE_B@", instance_b)
            .replace("@LISTEN@", &listen);
        assert!(
            !site
                .lines()
                .any(|l| !l.trim_start().starts_with('#') && l.contains('@')),
            "deploy/nginx.conf has a placeholder the tests do not fill in"
        );
        let d = dir.path().display();
        std::fs::write(dir.path().join("glimpse.conf"), site).expect("write site");
        let main = format!(
            "pid {d}/nginx.pid;\n\
             error_log {d}/error.log info;\n\
             worker_processes 1;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n\
             \x20   log_format upstreams '$request_method|$status|$upstream_addr';\n\
             \x20   access_log {d}/access.log upstreams;\n\
             \x20   client_body_temp_path {d}/client_body;\n\
             \x20   proxy_temp_path {d}/proxy;\n\
             \x20   fastcgi_temp_path {d}/fastcgi;\n\
             \x20   uwsgi_temp_path {d}/uwsgi;\n\
             \x20   scgi_temp_path {d}/scgi;\n\
             \x20   include {d}/glimpse.conf;\n\
             }}\n"
        );
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, main).expect("write nginx.conf");
        let child = Command::new(&nginx.bin)
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(&conf)
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", nginx.bin.display()));
        let mut front = NginxFront {
            base: format!("http://{listen}"),
            port,
            dir,
            child: Some(child),
        };
        front.wait_until_listening();
        front
    }

    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!(
                    "nginx exited ({status}) before listening; error log:\n{}",
                    self.error_log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "nginx did not listen on 127.0.0.1:{} within 30 s; error log:\n{}",
                self.port,
                self.error_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }

    /// The upstream addresses nginx sent requests to, from its access log.
    pub fn upstreams_served(&self) -> BTreeSet<String> {
        self.access_log()
            .lines()
            .filter_map(|l| l.split('|').nth(2))
            .flat_map(|addrs| addrs.split(", "))
            .filter(|a| a.contains(':'))
            .map(str::to_owned)
            .collect()
    }

    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_owned()
    }
}

impl Drop for NginxFront {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGTERM: the master stops its workers too (SIGKILL would orphan them).
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Two glimpse instances on one database, and nginx in front of them.
pub struct Cluster {
    pub nginx: NginxFront,
    pub instances: Vec<Process>,
}

impl Cluster {
    pub fn start(database_url: &str) -> Cluster {
        // Both start at once: migrations are applied once under the migration lock.
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| Process::start(database_url, &[]));
            let b = s.spawn(|| Process::start(database_url, &[]));
            (a.join().expect("a"), b.join().expect("b"))
        });
        let nginx = NginxFront::start(host_port(&a.base), host_port(&b.base));
        Cluster {
            nginx,
            instances: vec![a, b],
        }
    }

    /// The load balancer's URL.
    pub fn base(&self) -> &str {
        &self.nginx.base
    }
}

fn host_port(base: &str) -> &str {
    base.trim_start_matches("http://")
}
