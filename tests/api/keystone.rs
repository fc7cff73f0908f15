//! Test support for keystone mode: a real Keystone (scripts/services/keystone.sh, ensured once
//! per test process), tokens for its users, and glimpse servers configured against it.

#![allow(dead_code)]

use glimpse::auth::keystone::{DomainRef, Secret};
use glimpse::config::{AuthMode, KeystoneOptions, ServerConfig};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

/// The running Keystone, as `keystone.sh ensure` describes it.
pub struct Keystone {
    vars: HashMap<String, String>,
    http: reqwest::Client,
}

/// A user's token and what Keystone says about its scope.
#[derive(Debug, Clone)]
pub struct Token {
    pub token: String,
    pub project_id: String,
    pub user_id: String,
}

/// Ensures Keystone runs (installing it on first use) and returns it. Fails the test with the
/// script's own message when it cannot start: never skipped.
pub fn keystone() -> &'static Keystone {
    static KEYSTONE: OnceLock<Keystone> = OnceLock::new();
    KEYSTONE.get_or_init(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/services/keystone.sh");
        let out = std::process::Command::new(script)
            .arg("ensure")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
        assert!(
            out.status.success(),
            "Keystone could not be started by {script} ensure; the keystone-mode tests need it:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let vars = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Keystone {
            vars,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
        }
    })
}

impl Keystone {
    pub fn var(&self, key: &str) -> &str {
        self.vars
            .get(key)
            .unwrap_or_else(|| panic!("keystone.sh printed no {key}"))
    }

    pub fn auth_url(&self) -> &str {
        self.var("KEYSTONE_AUTH_URL")
    }

    /// `host:port` of the main server, for a fault proxy in front of it.
    pub fn address(&self) -> String {
        self.auth_url()
            .trim_start_matches("http://")
            .trim_end_matches("/v3")
            .to_owned()
    }

    async fn issue(&self, url: &str, user: &str, project: &str) -> Token {
        let password = if user == "admin" {
            self.var("KEYSTONE_ADMIN_PASSWORD")
        } else {
            self.var("KEYSTONE_USER_PASSWORD")
        };
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": user, "domain": {"id": "default"}, "password": password}}},
            "scope": {"project": {"name": project, "domain": {"id": "default"}}}}});
        // The test Keystone keeps its database in SQLite, and many tests logging in at once
        // sometimes get its "database is locked" 500 or a dropped connection: a login is
        // retried a few times on those, never on any other answer.
        let mut tries = 0;
        let resp = loop {
            tries += 1;
            let sent = self
                .http
                .post(format!("{url}/auth/tokens?nocatalog"))
                .json(&body)
                .send()
                .await;
            match sent {
                Ok(r) if r.status() == 201 || tries >= 5 || r.status() != 500 => break r,
                Err(e) if tries >= 5 => panic!("Keystone answers: {e}"),
                _ => tokio::time::sleep(Duration::from_millis(200 * tries)).await,
            }
        };
        assert_eq!(resp.status(), 201, "token for {user} in {project}");
        let token = resp
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .expect("X-Subject-Token")
            .to_owned();
        let v: Value = resp.json().await.expect("token body");
        Token {
            token,
            project_id: v["token"]["project"]["id"]
                .as_str()
                .expect("project")
                .to_owned(),
            user_id: v["token"]["user"]["id"].as_str().expect("user").to_owned(),
        }
    }

    /// A token of `user` scoped to `project` (users are `<project>-member`, `<project>-reader`,
    /// and `admin` in project `admin`).
    pub async fn token(&self, user: &str, project: &str) -> Token {
        self.issue(self.auth_url(), user, project).await
    }

    /// A token from the short-lived server: it expires after
    /// [`Keystone::short_expiration`].
    pub async fn short_token(&self, user: &str, project: &str) -> Token {
        self.issue(self.var("KEYSTONE_SHORT_AUTH_URL"), user, project)
            .await
    }

    pub fn short_expiration(&self) -> Duration {
        Duration::from_secs(self.var("KEYSTONE_SHORT_EXPIRATION").parse().expect("secs"))
    }

    /// Revokes a token (`DELETE /v3/auth/tokens`, the token revoking itself).
    pub async fn revoke(&self, token: &str) {
        let resp = self
            .http
            .delete(format!("{}/auth/tokens", self.auth_url()))
            .header("x-auth-token", token)
            .header("x-subject-token", token)
            .send()
            .await
            .expect("Keystone answers");
        assert_eq!(resp.status(), 204, "revocation");
    }
}

/// How long glimpse waits for the test Keystone: one Python process serves every test running
/// at the same time on a loaded machine, and an answer can take seconds.
pub const KEYSTONE_TIMEOUT: Duration = Duration::from_secs(15);

/// Configures keystone mode against `auth_url` with a `cache` of validated tokens.
pub fn keystone_mode(auth_url: &str, cache: Duration) -> impl FnOnce(&mut ServerConfig) {
    keystone_mode_with_timeout(auth_url, cache, KEYSTONE_TIMEOUT)
}

/// [`keystone_mode`] with its own bound on each Keystone call.
pub fn keystone_mode_with_timeout(
    auth_url: &str,
    cache: Duration,
    timeout: Duration,
) -> impl FnOnce(&mut ServerConfig) {
    let ks = keystone();
    let options = KeystoneOptions {
        auth_url: Some(auth_url.to_owned()),
        www_authenticate_uri: Some(ks.auth_url().to_owned()),
        username: Some(ks.var("KEYSTONE_SERVICE_USER").to_owned()),
        password: Some(Secret(ks.var("KEYSTONE_SERVICE_PASSWORD").to_owned())),
        project_name: ks.var("KEYSTONE_SERVICE_PROJECT").to_owned(),
        user_domain: DomainRef::Name(ks.var("KEYSTONE_DOMAIN").to_owned()),
        project_domain: DomainRef::Name(ks.var("KEYSTONE_DOMAIN").to_owned()),
        token_cache_time: cache,
        token_cache_size: 1000,
        timeout,
    };
    move |c: &mut ServerConfig| {
        c.auth = Some(AuthMode::Keystone);
        c.keystone = options;
    }
}

/// Keystone mode against the test Keystone, tokens cached for a minute.
pub fn default_keystone_mode() -> impl FnOnce(&mut ServerConfig) {
    keystone_mode(keystone().auth_url(), Duration::from_secs(60))
}
