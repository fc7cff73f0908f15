//! Real `glimpse serve` processes, for tests that need several instances or kill one.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `glimpse serve` process, killed when dropped.
pub struct Process {
    pub child: Child,
    pub base: String,
    /// The v2 images API.
    pub v2: String,
    /// The image store's directory, unless the test named its own store.
    pub store_dir: tempfile::TempDir,
    /// Every line the server has written to stderr so far.
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Process {
    /// Starts `glimpse serve --bind 127.0.0.1:0` with extra args and waits for its listening line.
    pub fn start(database_url: &str, extra: &[&str]) -> Process {
        let store_dir = tempfile::tempdir().expect("store dir");
        let mut child = Command::new(env!("CARGO_BIN_EXE_glimpse"))
            .args([
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--images-bind",
                "127.0.0.1:0",
                "--database",
                database_url,
                "--log-format",
                "text",
            ])
            .args(extra)
            .env("RUST_LOG", "info")
            .env(
                "GLIMPSE_STORE",
                format!("file:{}", store_dir.path().display()),
            )
            .env_remove("GLIMPSE_CONFIG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn glimpse");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = log.clone();
        std::thread::spawn(move || {
            let mut registry: Option<String> = None;
            let mut images: Option<String> = None;
            let mut sent = false;
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Ok(mut kept) = kept.lock() {
                    kept.push(line.clone());
                }
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or("").to_owned();
                    if line.contains("images API") {
                        images = Some(addr);
                    } else {
                        registry = Some(addr);
                    }
                }
                // The store line comes after the listening lines.
                if !sent
                    && (registry.is_some() || images.is_some())
                    && line.contains("image data stored in")
                {
                    let _ = tx.send((
                        registry.clone().unwrap_or_default(),
                        images.clone().unwrap_or_default(),
                    ));
                    sent = true;
                }
            }
            if !sent && (registry.is_some() || images.is_some()) {
                let _ = tx.send((registry.unwrap_or_default(), images.unwrap_or_default()));
            }
        });
        let (addr, images) = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("glimpse did not report its address");
        Process {
            child,
            base: if addr.is_empty() {
                String::new()
            } else {
                format!("http://{addr}")
            },
            v2: if images.is_empty() {
                String::new()
            } else {
                format!("http://{images}")
            },
            store_dir,
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, no chance to clean up.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, and the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().expect("wait")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
