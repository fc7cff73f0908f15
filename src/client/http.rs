//! The registry's API as the client calls it: URLs, caller headers, and the mapping of every
//! failure (network, HTTP status, malformed answer) to one message and one exit code.

use super::args::ClientOptions;
use super::exit;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;
use std::time::Duration;
use url::Url;

/// Why a command failed: the line shown after `glimpse: ` and the process's exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            code: exit::USAGE,
            message: message.into(),
        }
    }

    fn invalid_response(url: &Url, what: &str) -> Failure {
        Failure {
            code: exit::SERVER,
            message: format!("unexpected answer from {}: {what}", redact(url)),
        }
    }
}

/// A page of a list and where the next one starts, if the registry says there is one.
pub struct Page {
    pub images: Vec<Value>,
    /// The query of the next page (from the `Link: <...>; rel="next"` header).
    pub next: Option<Vec<(String, String)>>,
}

/// A client of one registry, as one caller.
pub struct Api {
    http: reqwest::Client,
    base: Url,
}

impl Api {
    pub fn new(opts: &ClientOptions) -> Result<Api, Failure> {
        let mut headers = HeaderMap::new();
        if let Some(token) = &opts.token {
            let mut put = |name: &'static str, value: &str, flag: &str| {
                HeaderValue::from_str(value.trim())
                    .map(|v| {
                        headers.insert(HeaderName::from_static(name), v);
                    })
                    .map_err(|_| {
                        Failure::usage(format!(
                            "{flag} contains characters that cannot be sent in a header"
                        ))
                    })
            };
            put("x-auth-token", token, "--token")?;
            put("x-identity-status", "Confirmed", "--token")?;
            if let Some(t) = &opts.tenant {
                put("x-tenant-id", t, "--tenant")?;
            }
            if let Some(u) = &opts.user {
                put("x-user-id", u, "--user")?;
            }
            if let Some(r) = &opts.roles {
                put("x-roles", r, "--roles")?;
            }
        }
        let timeout = Duration::from_secs_f64(opts.timeout);
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("glimpse/", env!("CARGO_PKG_VERSION")))
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| Failure {
                code: exit::NETWORK,
                message: format!("cannot set up the HTTP client: {}", root_cause(&e)),
            })?;
        Ok(Api {
            http,
            base: opts.url.clone(),
        })
    }

    /// The base URL followed by the given path segments, each percent-encoded.
    pub fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// Sends a request; anything but a 2xx answer becomes a [`Failure`].
    async fn send(&self, url: &Url, req: RequestBuilder) -> Result<Response, Failure> {
        let resp = req.send().await.map_err(|e| network_failure(url, &e))?;
        if resp.status().is_success() {
            Ok(resp)
        } else {
            Err(status_failure(resp).await)
        }
    }

    fn request(&self, method: Method, url: &Url) -> RequestBuilder {
        self.http.request(method, url.clone())
    }

    /// Sends a request whose answer must be a JSON body.
    async fn json(&self, url: &Url, req: RequestBuilder) -> Result<(Value, HeaderMap), Failure> {
        let resp = self.send(url, req).await?;
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.map_err(|e| network_failure(url, &e))?;
        let value = serde_json::from_slice(&bytes)
            .map_err(|_| Failure::invalid_response(url, "the body is not JSON"))?;
        Ok((value, headers))
    }

    fn json_body(req: RequestBuilder, body: &Value) -> RequestBuilder {
        req.header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
    }

    /// `GET /images/detail` with the given query.
    pub async fn list(&self, query: &[(String, String)]) -> Result<Page, Failure> {
        let mut url = self.url(&["images", "detail"]);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let (body, headers) = self.json(&url, self.request(Method::GET, &url)).await?;
        let Some(images) = body.get("images").and_then(Value::as_array) else {
            return Err(Failure::invalid_response(&url, "no \"images\" list"));
        };
        Ok(Page {
            images: images.clone(),
            next: next_query(&headers),
        })
    }

    /// `GET /images/<id>`: the image and its ETag.
    pub async fn show(&self, id: &str) -> Result<(Value, Option<String>), Failure> {
        let url = self.url(&["images", id]);
        let (body, headers) = self.json(&url, self.request(Method::GET, &url)).await?;
        image_of(&url, body, &headers)
    }

    /// `POST /images`.
    pub async fn create(&self, image: &Value) -> Result<(Value, Option<String>), Failure> {
        let url = self.url(&["images"]);
        let req = Self::json_body(self.request(Method::POST, &url), image);
        let (body, headers) = self.json(&url, req).await?;
        image_of(&url, body, &headers)
    }

    /// `PUT /images/<id>`.
    pub async fn update(
        &self,
        id: &str,
        body: &Value,
        purge_props: bool,
        if_match: Option<&str>,
    ) -> Result<(Value, Option<String>), Failure> {
        let url = self.url(&["images", id]);
        let mut req = Self::json_body(self.request(Method::PUT, &url), body);
        if purge_props {
            req = req.header("x-glance-registry-purge-props", "true");
        }
        if let Some(tag) = if_match {
            req = req.header(reqwest::header::IF_MATCH, etag_header(tag)?);
        }
        let (body, headers) = self.json(&url, req).await?;
        image_of(&url, body, &headers)
    }

    /// `DELETE /images/<id>`: the deleted image.
    pub async fn delete(&self, id: &str, if_match: Option<&str>) -> Result<Value, Failure> {
        let url = self.url(&["images", id]);
        let mut req = self.request(Method::DELETE, &url);
        if let Some(tag) = if_match {
            req = req.header(reqwest::header::IF_MATCH, etag_header(tag)?);
        }
        let (body, headers) = self.json(&url, req).await?;
        image_of(&url, body, &headers).map(|(image, _)| image)
    }

    /// `GET /images/<id>/members`: the whole body, `{"members": [...]}`.
    pub async fn members(&self, id: &str) -> Result<Value, Failure> {
        let url = self.url(&["images", id, "members"]);
        let (body, _) = self.json(&url, self.request(Method::GET, &url)).await?;
        if !body.get("members").is_some_and(Value::is_array) {
            return Err(Failure::invalid_response(&url, "no \"members\" list"));
        }
        Ok(body)
    }

    /// `PUT /images/<id>/members/<member>`, with a body only when `can_share` is given.
    pub async fn add_member(
        &self,
        id: &str,
        member: &str,
        can_share: Option<bool>,
    ) -> Result<(), Failure> {
        let url = self.url(&["images", id, "members", member]);
        let mut req = self.request(Method::PUT, &url);
        if let Some(can_share) = can_share {
            req = Self::json_body(
                req,
                &serde_json::json!({"member": {"can_share": can_share}}),
            );
        }
        self.send(&url, req).await.map(|_| ())
    }

    /// `DELETE /images/<id>/members/<member>`.
    pub async fn remove_member(&self, id: &str, member: &str) -> Result<(), Failure> {
        let url = self.url(&["images", id, "members", member]);
        self.send(&url, self.request(Method::DELETE, &url))
            .await
            .map(|_| ())
    }

    /// `PUT /images/<id>/members`.
    pub async fn replace_members(
        &self,
        id: &str,
        members: &[(String, bool)],
    ) -> Result<(), Failure> {
        let url = self.url(&["images", id, "members"]);
        let memberships: Vec<Value> = members
            .iter()
            .map(|(m, s)| serde_json::json!({"member_id": m, "can_share": s}))
            .collect();
        let body = serde_json::json!({ "memberships": memberships });
        let req = Self::json_body(self.request(Method::PUT, &url), &body);
        self.send(&url, req).await.map(|_| ())
    }

    /// `GET /shared-images/<member>`: the whole body, `{"shared_images": [...]}`.
    pub async fn shared(&self, member: &str) -> Result<Value, Failure> {
        let url = self.url(&["shared-images", member]);
        let (body, _) = self.json(&url, self.request(Method::GET, &url)).await?;
        if !body.get("shared_images").is_some_and(Value::is_array) {
            return Err(Failure::invalid_response(&url, "no \"shared_images\" list"));
        }
        Ok(body)
    }
}

/// `{"image": {...}}` and the ETag header.
fn image_of(
    url: &Url,
    body: Value,
    headers: &HeaderMap,
) -> Result<(Value, Option<String>), Failure> {
    if !body.get("image").is_some_and(Value::is_object) {
        return Err(Failure::invalid_response(url, "no \"image\" object"));
    }
    let etag = headers
        .get(reqwest::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Ok((body, etag))
}

/// An entity tag as `If-Match` wants it: quoted, unless it is already quoted, weak, `*` or a
/// list. People copy ETags without their quotes; the registry compares them with.
fn etag_header(tag: &str) -> Result<HeaderValue, Failure> {
    let tag = tag.trim();
    let value = if tag == "*" || tag.starts_with('"') || tag.starts_with("W/") || tag.contains(',')
    {
        tag.to_owned()
    } else {
        format!("\"{tag}\"")
    };
    HeaderValue::from_str(&value)
        .map_err(|_| Failure::usage("--if-match must be an entity tag in printable ASCII"))
}

/// The query of the `rel="next"` link of a `Link` header, if any.
pub fn next_query(headers: &HeaderMap) -> Option<Vec<(String, String)>> {
    headers
        .get_all(reqwest::header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|link| {
            let (target, params) = link.trim().split_once('>')?;
            let target = target.trim().strip_prefix('<')?;
            let is_next = params.split(';').any(|p| {
                p.trim()
                    .strip_prefix("rel=")
                    .is_some_and(|r| r.trim_matches('"').split(' ').any(|r| r == "next"))
            });
            if !is_next {
                return None;
            }
            let query = target.split_once('?').map_or("", |(_, q)| q);
            Some(
                form_urlencoded::parse(query.as_bytes())
                    .into_owned()
                    .collect(),
            )
        })
}

/// A 4xx or 5xx answer as one line: `404 Not Found: Image not found`.
async fn status_failure(resp: Response) -> Failure {
    let status = resp.status();
    let request_id = resp
        .headers()
        .get("x-openstack-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = resp.text().await.unwrap_or_default();
    let body: Option<Value> = serde_json::from_str(&text).ok();
    let error = body.as_ref().and_then(|b| b.get("error"));
    let reason = status.canonical_reason().unwrap_or("Error");
    let title = error
        .and_then(|e| e.get("title"))
        .and_then(Value::as_str)
        .unwrap_or(reason);
    let detail = match error.and_then(|e| e.get("message")) {
        Some(Value::String(m)) => m.clone(),
        _ => first_line(&text),
    };
    let mut message = format!("{} {}", status.as_u16(), one_line(title));
    let detail = one_line(&detail);
    if !detail.is_empty() && detail != title {
        message.push_str(": ");
        message.push_str(&detail);
    }
    let code = code_of(status);
    if code == exit::SERVER
        && let Some(id) = request_id
    {
        message.push_str(&format!(" (request {})", one_line(&id)));
    }
    Failure { code, message }
}

/// The exit code of a non-2xx status.
pub fn code_of(status: StatusCode) -> u8 {
    match status.as_u16() {
        404 => exit::NOT_FOUND,
        409 | 412 => exit::CONFLICT,
        400..=499 => exit::CLIENT,
        _ => exit::SERVER,
    }
}

fn network_failure(url: &Url, e: &reqwest::Error) -> Failure {
    let root = root_cause(e);
    let what = if e.is_timeout() {
        "no answer in time (see --timeout)".to_owned()
    } else if url.scheme() == "https" && root.contains("scheme is not http") {
        // reqwest is built without TLS: say so rather than "invalid URL".
        "this build of glimpse speaks plain HTTP only (use http://, or a TLS proxy)".to_owned()
    } else {
        root
    };
    let verb = if e.is_connect() {
        "cannot connect to"
    } else {
        "request to"
    };
    let sep = if e.is_connect() { ":" } else { " failed:" };
    Failure {
        code: exit::NETWORK,
        message: one_line(&format!("{verb} {}{sep} {what}", redact(url))),
    }
}

/// The innermost cause of an error: the useful part ("Connection refused (os error 111)").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// A URL for messages: without any password it may carry.
fn redact(url: &Url) -> String {
    let mut u = url.clone();
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    u.to_string()
}

fn first_line(text: &str) -> String {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty());
    line.unwrap_or("").chars().take(300).collect()
}

/// Text made safe for one terminal line: control characters escaped.
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_link_query_is_parsed() {
        let mut h = HeaderMap::new();
        h.insert(
            reqwest::header::LINK,
            HeaderValue::from_static("</images/detail?limit=2&name=a+b&marker=abc>; rel=\"next\""),
        );
        assert_eq!(
            next_query(&h),
            Some(vec![
                ("limit".into(), "2".into()),
                ("name".into(), "a b".into()),
                ("marker".into(), "abc".into()),
            ])
        );
        h.insert(
            reqwest::header::LINK,
            HeaderValue::from_static("</x?marker=1>; rel=\"prev\""),
        );
        assert_eq!(next_query(&h), None);
    }

    #[test]
    fn etags_are_quoted_when_bare() {
        assert_eq!(etag_header("abc-1").unwrap(), "\"abc-1\"");
        assert_eq!(etag_header("\"abc-1\"").unwrap(), "\"abc-1\"");
        assert_eq!(etag_header("*").unwrap(), "*");
    }

    #[test]
    fn statuses_map_to_exit_codes() {
        assert_eq!(code_of(StatusCode::NOT_FOUND), exit::NOT_FOUND);
        assert_eq!(code_of(StatusCode::CONFLICT), exit::CONFLICT);
        assert_eq!(code_of(StatusCode::PRECONDITION_FAILED), exit::CONFLICT);
        assert_eq!(code_of(StatusCode::FORBIDDEN), exit::CLIENT);
        assert_eq!(code_of(StatusCode::SERVICE_UNAVAILABLE), exit::SERVER);
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(one_line("a\nb\u{1b}[31m"), "a\\nb\\u{1b}[31m");
    }
}
