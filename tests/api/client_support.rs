//! Running the real OpenStack clients (python-openstackclient, python-glanceclient and
//! openstacksdk from the venv of `scripts/services/openstack-clients.sh`) against a test
//! server, either without auth (`--os-auth-type none`) or as a user of the test Keystone, and
//! reading what they print: `-f json`, glanceclient's tables, a script's lines.

#![allow(dead_code)]

use crate::keystone::keystone;
use crate::services;
use crate::support::TestServer;
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// One client binary with the global options that point it at a server as one caller.
#[derive(Debug, Clone)]
pub struct Cli {
    bin: PathBuf,
    prefix: Vec<String>,
    /// Environment variables set for the client (after every inherited `OS_*` is removed).
    env: Vec<(String, String)>,
    /// What the caller is, for messages.
    who: String,
    /// The Keystone this client logs in to, if any (see [`login_failed`]).
    login: Option<String>,
}

/// Whether a failed run failed at the client's own login, not at glimpse: the test Keystone
/// (one SQLite database behind two servers) sometimes answers a login with a 500 ("database
/// is locked") or drops the connection when many tests log in at once. keystoneauth then
/// prints only this line, or names the token URL; glimpse's own errors read differently.
fn login_failed(auth_url: &str, stderr: &str) -> bool {
    stderr.trim() == "Internal Server Error (HTTP 500)"
        || stderr.contains(&format!("{auth_url}/auth/tokens"))
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

/// The password-auth options for `user` scoped to `project` of the test Keystone.
fn keystone_options(user: &str, project: &str) -> Vec<String> {
    let ks = keystone();
    strings(&[
        "--os-auth-type",
        "password",
        "--os-auth-url",
        ks.auth_url(),
        "--os-identity-api-version",
        "3",
        "--os-username",
        user,
        "--os-password",
        ks.var("KEYSTONE_USER_PASSWORD"),
        "--os-project-name",
        project,
        "--os-user-domain-id",
        "default",
        "--os-project-domain-id",
        "default",
    ])
}

/// `openstack --os-auth-type none --os-endpoint <v2>`.
pub fn openstack_noauth(srv: &TestServer) -> Cli {
    Cli {
        bin: services::openstack_clients().openstack.clone(),
        prefix: strings(&["--os-auth-type", "none", "--os-endpoint", &srv.v2]),
        env: Vec::new(),
        who: "noauth".into(),
        login: None,
    }
}

/// `openstack` as `user` of `project` through Keystone. The test Keystone's catalog has no
/// image service and the CLI has no option for one, so the image endpoint is openstacksdk's
/// per-service override, `OS_IMAGE_ENDPOINT_OVERRIDE` (read from the environment only).
pub fn openstack_as(srv: &TestServer, user: &str, project: &str) -> Cli {
    let mut prefix = keystone_options(user, project);
    prefix.extend(strings(&["--os-image-api-version", "2"]));
    Cli {
        bin: services::openstack_clients().openstack.clone(),
        prefix,
        env: vec![("OS_IMAGE_ENDPOINT_OVERRIDE".into(), srv.v2.clone())],
        who: format!("{user}@{project}"),
        login: Some(keystone().auth_url().to_owned()),
    }
}

/// `glance --os-image-url <v2> --os-auth-token x` (any token: the server ignores it).
pub fn glance_noauth(srv: &TestServer) -> Cli {
    Cli {
        bin: services::openstack_clients().glance.clone(),
        prefix: strings(&["--os-image-url", &srv.v2, "--os-auth-token", "token"]),
        env: Vec::new(),
        who: "noauth".into(),
        login: None,
    }
}

/// `glance` as `user` of `project`: it logs in to Keystone and talks to `--os-image-url`.
pub fn glance_as(srv: &TestServer, user: &str, project: &str) -> Cli {
    let mut prefix = keystone_options(user, project);
    // glanceclient names the auth plugin with --os-auth-type too, but takes no
    // --os-identity-api-version.
    let i = prefix
        .iter()
        .position(|a| a == "--os-identity-api-version")
        .expect("option");
    prefix.drain(i..i + 2);
    prefix.extend(strings(&["--os-image-url", &srv.v2]));
    Cli {
        bin: services::openstack_clients().glance.clone(),
        prefix,
        env: Vec::new(),
        who: format!("{user}@{project}"),
        login: Some(keystone().auth_url().to_owned()),
    }
}

impl Cli {
    /// Runs the client with `args` after the global options. With `tty`, stdin is a
    /// pseudo-terminal (through `script`): `openstack image create` without `--file` reads
    /// image data from any other stdin. A run that failed at its Keystone login (before
    /// sending anything to glimpse) is tried again, at most three times in all.
    pub async fn run(&self, args: &[&str], tty: bool) -> Output {
        let mut attempt = 1;
        loop {
            let out = self.run_once(args, tty).await;
            let retry = match &self.login {
                // Both streams: on a terminal (`script`) the client's stderr is in stdout.
                Some(url) if !out.status.success() && attempt < 3 => login_failed(
                    url,
                    &format!(
                        "{}{}",
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr)
                    ),
                ),
                _ => false,
            };
            if !retry {
                return out;
            }
            attempt += 1;
        }
    }

    async fn run_once(&self, args: &[&str], tty: bool) -> Output {
        let bin = self.bin.clone();
        let env = self.env.clone();
        let mut all = self.prefix.clone();
        all.extend(strings(args));
        tokio::task::spawn_blocking(move || {
            let mut cmd = if tty {
                let line = std::iter::once(bin.display().to_string())
                    .chain(all)
                    .map(|a| quote(&a))
                    .collect::<Vec<_>>()
                    .join(" ");
                let mut c = Command::new("script");
                c.args(["-qec", &line, "/dev/null"]);
                c
            } else {
                let mut c = Command::new(&bin);
                c.args(&all);
                c
            };
            // The clients read OS_* variables too: only the options given here count.
            for (k, _) in std::env::vars() {
                if k.starts_with("OS_") {
                    cmd.env_remove(k);
                }
            }
            cmd.envs(env)
                .env("COLUMNS", "400")
                .stdin(Stdio::null())
                .output()
                .expect("run the client")
        })
        .await
        .expect("client task")
    }

    /// Runs and asserts success, returning stdout (without the carriage returns of `script`).
    pub async fn ok(&self, args: &[&str], tty: bool) -> String {
        let out = self.run(args, tty).await;
        let stdout = String::from_utf8_lossy(&out.stdout).replace('\r', "");
        assert!(
            out.status.success(),
            "{} {args:?} as {}: {}\nstdout: {stdout}\nstderr: {}",
            self.bin.display(),
            self.who,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// Runs and asserts failure, returning stdout and stderr together.
    pub async fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args, false).await;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !out.status.success(),
            "{} {args:?} as {} should fail: {text}",
            self.bin.display(),
            self.who
        );
        assert!(
            !text.contains("Traceback"),
            "a clean error, not a crash: {text}"
        );
        text
    }

    /// `args` with `-f json` appended, asserting success, parsed.
    pub async fn json(&self, args: &[&str], tty: bool) -> Value {
        let mut all = args.to_vec();
        all.extend(["-f", "json"]);
        let stdout = self.ok(&all, tty).await;
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{args:?} as {}: not JSON ({e}): {stdout}", self.who))
    }

    /// The `ID` column of `openstack image list <args> -f json`, sorted.
    pub async fn list_ids(&self, args: &[&str]) -> Vec<String> {
        let mut all = vec!["image", "list"];
        all.extend(args);
        let list = self.json(&all, false).await;
        let mut ids: Vec<String> = list
            .as_array()
            .unwrap_or_else(|| panic!("a list: {list}"))
            .iter()
            .map(|i| i["ID"].as_str().expect("ID").to_owned())
            .collect();
        ids.sort();
        ids
    }

    /// A glanceclient table, parsed (see [`table`]).
    pub async fn table(&self, args: &[&str]) -> Table {
        table(&self.ok(args, false).await)
    }
}

/// The rows of a PrettyTable as printed by glanceclient: the header row, then the data rows,
/// each a list of trimmed cells.
#[derive(Debug)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// The cells of column `name`, in order.
    pub fn column(&self, name: &str) -> Vec<String> {
        let i = self
            .header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name} in {:?}", self.header));
        self.rows.iter().map(|r| r[i].clone()).collect()
    }

    /// The value of a `Property | Value` table (image-show, image-update).
    pub fn property(&self, key: &str) -> Option<String> {
        self.rows
            .iter()
            .find(|r| r.first().map(String::as_str) == Some(key))
            .map(|r| r[1].clone())
    }
}

/// Parses `+---+` / `| a | b |` tables; the first `|` line is the header.
pub fn table(text: &str) -> Table {
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('|'))
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_owned())
                .collect::<Vec<_>>()
        });
    let header = lines
        .next()
        .unwrap_or_else(|| panic!("no table in: {text}"));
    Table {
        header,
        rows: lines.collect(),
    }
}

/// Runs a Python script with the clients' interpreter (openstacksdk importable), returning
/// stdout; `args` become `sys.argv[1:]`.
pub async fn python(script: &str, args: &[&str]) -> String {
    let py = services::openstack_clients().python.clone();
    let script = script.to_owned();
    let args = strings(args);
    let out = tokio::task::spawn_blocking(move || {
        Command::new(&py)
            .arg("-c")
            .arg(&script)
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("run python")
    })
    .await
    .expect("python task");
    assert!(
        out.status.success(),
        "python script failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
