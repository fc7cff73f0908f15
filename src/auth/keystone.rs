//! A Keystone v3 client for validating tokens: glimpse's own service token (password auth,
//! renewed before it expires) asks `GET /v3/auth/tokens` about each caller's token
//! (`X-Subject-Token`). Neither token ever appears in an error or a log line.

use serde::Deserialize;
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use tokio::sync::Mutex;

/// Who a valid token belongs to, from Keystone's answer only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub user_id: String,
    pub project_id: Option<String>,
    pub domain_id: Option<String>,
    pub roles: Vec<String>,
    pub expires_at: OffsetDateTime,
}

impl TokenInfo {
    /// Time left before the token expires (zero once it has).
    pub fn remaining(&self) -> Duration {
        let left = self.expires_at - OffsetDateTime::now_utc();
        left.try_into().unwrap_or(Duration::ZERO)
    }
}

/// Keystone could not give an answer (down, slow, or refusing glimpse's own credentials).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(pub String);

/// A password, printed as `****` by `Debug` so that no config dump shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("****")
    }
}

/// Glimpse's own identity, for `POST /v3/auth/tokens`.
#[derive(Debug, Clone)]
pub struct ServiceCredentials {
    pub username: String,
    pub password: Secret,
    pub user_domain: DomainRef,
    pub project_name: String,
    pub project_domain: DomainRef,
}

/// A domain named by id or by name (Keystone accepts either).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainRef {
    Id(String),
    Name(String),
}

impl DomainRef {
    fn json(&self) -> serde_json::Value {
        match self {
            DomainRef::Id(id) => serde_json::json!({ "id": id }),
            DomainRef::Name(name) => serde_json::json!({ "name": name }),
        }
    }
}

/// A service token is renewed when less than this is left of it.
const RENEW_BEFORE: Duration = Duration::from_secs(120);

struct ServiceToken {
    token: String,
    renew_at: Instant,
}

pub struct KeystoneClient {
    http: reqwest::Client,
    /// `.../v3`, without a trailing slash.
    base: String,
    credentials: ServiceCredentials,
    service: Mutex<Option<ServiceToken>>,
}

/// What Keystone says about a caller's token.
pub enum Answer {
    Valid(TokenInfo),
    /// 404: unknown, expired or revoked.
    Invalid,
}

#[derive(Deserialize)]
struct TokenBody {
    token: TokenData,
}

#[derive(Deserialize)]
struct TokenData {
    expires_at: String,
    user: Named,
    project: Option<Named>,
    domain: Option<Named>,
    #[serde(default)]
    roles: Vec<Role>,
}

#[derive(Deserialize)]
struct Named {
    id: String,
}

#[derive(Deserialize)]
struct Role {
    name: String,
}

/// `http://host:5000` and `http://host:5000/v3/` both become `http://host:5000/v3`.
pub fn v3_base(auth_url: &str) -> String {
    let trimmed = auth_url.trim().trim_end_matches('/');
    if trimmed.ends_with("/v3") {
        trimmed.to_owned()
    } else {
        format!("{trimmed}/v3")
    }
}

fn unreachable(e: &reqwest::Error) -> Unavailable {
    // reqwest's errors name the URL, never headers: no token can leak through them.
    let what = if e.is_timeout() {
        "did not answer in time"
    } else if e.is_connect() {
        "cannot be reached"
    } else {
        "failed"
    };
    Unavailable(format!("Keystone {what}"))
}

impl KeystoneClient {
    pub fn new(
        auth_url: &str,
        credentials: ServiceCredentials,
        timeout: Duration,
    ) -> Result<KeystoneClient, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| format!("cannot build the Keystone client: {e}"))?;
        Ok(KeystoneClient {
            http,
            base: v3_base(auth_url),
            credentials,
            service: Mutex::new(None),
        })
    }

    /// Password auth for glimpse's own project-scoped token.
    async fn issue_service_token(&self) -> Result<ServiceToken, Unavailable> {
        let c = &self.credentials;
        let body = serde_json::json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": c.username, "domain": c.user_domain.json(), "password": c.password.0}}},
            "scope": {"project": {"name": c.project_name, "domain": c.project_domain.json()}}
        }});
        let started = Instant::now();
        let resp = self
            .http
            .post(format!("{}/auth/tokens", self.base))
            .json(&body)
            .send()
            .await
            .map_err(|e| unreachable(&e))?;
        record_latency("issue", started);
        let status = resp.status();
        if !status.is_success() {
            return Err(Unavailable(format!(
                "Keystone refused glimpse's service credentials (HTTP {})",
                status.as_u16()
            )));
        }
        let token = resp
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| Unavailable("Keystone issued no service token".into()))?;
        let parsed: TokenBody = resp
            .json()
            .await
            .map_err(|_| Unavailable("Keystone's token answer is malformed".into()))?;
        let life = TokenInfo {
            user_id: String::new(),
            project_id: None,
            domain_id: None,
            roles: Vec::new(),
            expires_at: expiry(&parsed.token.expires_at)?,
        }
        .remaining();
        // Renew two minutes early, or half-way for a token shorter-lived than that.
        let early = if life > RENEW_BEFORE * 2 {
            life - RENEW_BEFORE
        } else {
            life / 2
        };
        Ok(ServiceToken {
            token,
            renew_at: Instant::now() + early,
        })
    }

    /// The current service token, issued or renewed when due (one request at a time).
    async fn service_token(&self, force_new: bool) -> Result<String, Unavailable> {
        let mut slot = self.service.lock().await;
        match slot.as_ref() {
            Some(t) if !force_new && Instant::now() < t.renew_at => Ok(t.token.clone()),
            _ => {
                let fresh = self.issue_service_token().await?;
                let token = fresh.token.clone();
                *slot = Some(fresh);
                Ok(token)
            }
        }
    }

    /// Asks Keystone about `subject`. A rejected service token is renewed once.
    pub async fn validate(&self, subject: &str) -> Result<Answer, Unavailable> {
        let mut renewed = false;
        loop {
            let service = self.service_token(renewed).await?;
            let started = Instant::now();
            let ask = || {
                self.http
                    .get(format!("{}/auth/tokens?nocatalog", self.base))
                    .header("x-auth-token", &service)
                    .header("x-subject-token", subject)
                    .send()
            };
            // A pooled connection the server has just closed fails at once: one more try on a
            // fresh one (never after a timeout, which already took the time allowed).
            let resp = match ask().await {
                Err(e) if !e.is_timeout() => ask().await,
                other => other,
            }
            .map_err(|e| unreachable(&e))?;
            record_latency("validate", started);
            match resp.status().as_u16() {
                200 => {
                    let body: TokenBody = resp
                        .json()
                        .await
                        .map_err(|_| Unavailable("Keystone's token answer is malformed".into()))?;
                    let t = body.token;
                    return Ok(Answer::Valid(TokenInfo {
                        user_id: t.user.id,
                        project_id: t.project.map(|p| p.id),
                        domain_id: t.domain.map(|d| d.id),
                        roles: t.roles.into_iter().map(|r| r.name).collect(),
                        expires_at: expiry(&t.expires_at)?,
                    }));
                }
                404 => return Ok(Answer::Invalid),
                401 if !renewed => renewed = true,
                403 => {
                    return Err(Unavailable(
                        "glimpse's service user may not validate tokens (give it the service role)"
                            .into(),
                    ));
                }
                other => {
                    return Err(Unavailable(format!(
                        "Keystone answered HTTP {other} to a token validation"
                    )));
                }
            }
        }
    }
}

fn expiry(text: &str) -> Result<OffsetDateTime, Unavailable> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|_| Unavailable("Keystone's token expiry is malformed".into()))
}

fn record_latency(call: &'static str, started: Instant) {
    metrics::histogram!("glimpse_keystone_request_duration_seconds", "call" => call)
        .record(started.elapsed().as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_urls_get_one_v3() {
        assert_eq!(v3_base("http://k:5000"), "http://k:5000/v3");
        assert_eq!(v3_base("http://k:5000/v3/"), "http://k:5000/v3");
        assert_eq!(v3_base("https://k/identity/"), "https://k/identity/v3");
    }

    #[test]
    fn keystone_answers_parse() {
        let body = r#"{"token": {"expires_at": "2030-01-01T00:00:00.000000Z",
            "user": {"id": "u1", "name": "n", "domain": {"id": "default"}},
            "project": {"id": "p1", "name": "alpha", "domain": {"id": "default"}},
            "roles": [{"id": "r1", "name": "member"}, {"id": "r2", "name": "reader"}]}}"#;
        let t: TokenBody = serde_json::from_str(body).unwrap();
        assert!(expiry(&t.token.expires_at).is_ok());
        assert_eq!(t.token.user.id, "u1");
        assert_eq!(t.token.project.unwrap().id, "p1");
        assert_eq!(t.token.roles.len(), 2);
    }
}
