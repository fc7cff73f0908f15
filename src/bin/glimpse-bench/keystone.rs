//! `--keystone-*`: a real token for the run, obtained from Keystone by password auth, so that
//! a glimpse in keystone mode can be measured as clients use it (X-Auth-Token only).

use std::time::Duration;

/// Who to log in as.
pub struct Login<'a> {
    pub auth_url: &'a str,
    pub user: &'a str,
    pub password: &'a str,
    pub project: &'a str,
    pub domain: &'a str,
}

/// The token and whether Keystone gave it an `admin` role.
pub async fn issue(login: &Login<'_>) -> Result<(String, bool), String> {
    let base = login.auth_url.trim_end_matches('/');
    let base = if base.ends_with("/v3") {
        base.to_owned()
    } else {
        format!("{base}/v3")
    };
    let body = serde_json::json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": login.user, "domain": {"name": login.domain}, "password": login.password}}},
        "scope": {"project": {"name": login.project, "domain": {"name": login.domain}}}}});
    let resp = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| format!("cannot build a client: {e}"))?
        .post(format!("{base}/auth/tokens?nocatalog"))
        .json(&body)
        .send()
        .await
        .map_err(|e| format!("Keystone at {base}: {e}"))?;
    if resp.status().as_u16() != 201 {
        return Err(format!(
            "Keystone at {base} refused {} in project {}: HTTP {}",
            login.user,
            login.project,
            resp.status().as_u16()
        ));
    }
    let token = resp
        .headers()
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or("Keystone issued no X-Subject-Token")?;
    let v: serde_json::Value = resp
        .json()
        .await
        .map_err(|e| format!("Keystone's token answer: {e}"))?;
    let admin = v["token"]["roles"]
        .as_array()
        .is_some_and(|roles| roles.iter().any(|r| r["name"] == "admin"));
    Ok((token, admin))
}
