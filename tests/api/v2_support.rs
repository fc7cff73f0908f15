//! Helpers for the v2 images API tests: requests sent to `TestServer.v2` as a given caller,
//! JSON-patch requests, and checks of the v2 error body (`{"code", "title", "message"}`).

#![allow(dead_code)]

use crate::support::{Resp, TestServer};
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};

/// The media type of RFC 6902 patches on v2.
pub const PATCH_V21: &str = "application/openstack-images-v2.1-json-patch";
/// The deprecated draft-4 patch media type.
pub const PATCH_V20: &str = "application/openstack-images-v2.0-json-patch";

/// The fields every v2 image body has, sorted.
pub const BASE_FIELDS: [&str; 22] = [
    "checksum",
    "container_format",
    "created_at",
    "disk_format",
    "file",
    "id",
    "min_disk",
    "min_ram",
    "name",
    "os_hash_algo",
    "os_hash_value",
    "os_hidden",
    "owner",
    "protected",
    "schema",
    "self",
    "size",
    "status",
    "tags",
    "updated_at",
    "virtual_size",
    "visibility",
];

/// Requests to the v2 API as one caller.
pub struct V2<'a> {
    pub srv: &'a TestServer,
    headers: HeaderMap,
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(
            HeaderName::from_bytes(k.as_bytes()).expect("name"),
            HeaderValue::from_str(v).expect("value"),
        );
    }
    h
}

/// The no-token admin of the loopback default (no project).
pub fn admin(srv: &TestServer) -> V2<'_> {
    V2 {
        srv,
        headers: HeaderMap::new(),
    }
}

/// A caller of project `project` with the given roles (comma-separated).
pub fn with_roles<'a>(srv: &'a TestServer, project: &str, roles: &str) -> V2<'a> {
    V2 {
        srv,
        headers: headers(&[
            ("x-auth-token", "token"),
            ("x-identity-status", "Confirmed"),
            ("x-project-id", project),
            ("x-user-id", &format!("user-of-{project}")),
            ("x-roles", roles),
        ]),
    }
}

/// A project member (may write the project's images).
pub fn member<'a>(srv: &'a TestServer, project: &str) -> V2<'a> {
    with_roles(srv, project, "member")
}

/// A project reader (read only).
pub fn reader<'a>(srv: &'a TestServer, project: &str) -> V2<'a> {
    with_roles(srv, project, "reader")
}

/// An admin scoped to a project.
pub fn project_admin<'a>(srv: &'a TestServer, project: &str) -> V2<'a> {
    with_roles(srv, project, "admin")
}

/// Any set of request headers.
pub fn caller<'a>(srv: &'a TestServer, pairs: &[(&str, &str)]) -> V2<'a> {
    V2 {
        srv,
        headers: headers(pairs),
    }
}

impl V2<'_> {
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
            .request(method, format!("{}{}", self.srv.v2, path))
            .headers(self.headers.clone());
        let mut typed = false;
        for (k, v) in extra {
            typed |= k.eq_ignore_ascii_case("content-type");
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            if !typed {
                req = req.header("content-type", "application/json");
            }
            req = req.body(b);
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

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(Method::DELETE, path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.send(Method::POST, path, Some(body.to_string().into_bytes()), &[])
            .await
    }

    /// A POST without a body (the actions).
    pub async fn post_empty(&self, path: &str) -> Resp {
        self.send(Method::POST, path, None, &[]).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Resp {
        self.send(Method::PUT, path, Some(body.to_string().into_bytes()), &[])
            .await
    }

    /// A PUT without a body (tags).
    pub async fn put_empty(&self, path: &str) -> Resp {
        self.send(Method::PUT, path, None, &[]).await
    }

    /// A v2.1 JSON-patch of image `id`.
    pub async fn patch(&self, id: &str, ops: &Value) -> Resp {
        self.patch_as(id, ops, PATCH_V21).await
    }

    /// A JSON-patch of image `id` sent with the given media type.
    pub async fn patch_as(&self, id: &str, ops: &Value, content_type: &str) -> Resp {
        self.send(
            Method::PATCH,
            &format!("/v2/images/{id}"),
            Some(ops.to_string().into_bytes()),
            &[("content-type", content_type)],
        )
        .await
    }

    /// Creates an image (asserting 201) and returns its body.
    pub async fn create(&self, fields: Value) -> Value {
        let r = self.post("/v2/images", &fields).await;
        assert_eq!(r.status, 201, "create {fields}: {}", r.text);
        r.json
    }

    /// Creates an image and returns its id.
    pub async fn create_id(&self, fields: Value) -> String {
        id(&self.create(fields).await)
    }

    /// `GET /v2/images/{id}`, asserting 200.
    pub async fn show(&self, id: &str) -> Value {
        let r = self.get(&format!("/v2/images/{id}")).await;
        assert_eq!(r.status, 200, "show {id}: {}", r.text);
        r.json
    }

    /// The ids of `GET /v2/images?{query}`, asserting 200.
    pub async fn list_ids(&self, query: &str) -> Vec<String> {
        let r = self.get(&format!("/v2/images?{query}")).await;
        assert_eq!(r.status, 200, "list ?{query}: {}", r.text);
        ids(&r.json)
    }

    /// The same ids sorted, for comparisons that ignore order.
    pub async fn list_set(&self, query: &str) -> Vec<String> {
        let mut v = self.list_ids(query).await;
        v.sort();
        v
    }

    /// Adds member `project` to image `id`, asserting 200.
    pub async fn add_member(&self, id: &str, project: &str) -> Value {
        let r = self
            .post(
                &format!("/v2/images/{id}/members"),
                &json!({"member": project}),
            )
            .await;
        assert_eq!(r.status, 200, "add member {project}: {}", r.text);
        r.json
    }

    /// Sets the status of member `project` of image `id`, asserting 200.
    pub async fn set_member_status(&self, id: &str, project: &str, status: &str) -> Value {
        let r = self
            .put(
                &format!("/v2/images/{id}/members/{project}"),
                &json!({"status": status}),
            )
            .await;
        assert_eq!(r.status, 200, "member {project} -> {status}: {}", r.text);
        r.json
    }
}

/// The `id` of an image body.
pub fn id(image: &Value) -> String {
    image["id"].as_str().expect("image id").to_owned()
}

/// The ids of a list body, in order.
pub fn ids(list: &Value) -> Vec<String> {
    list["images"]
        .as_array()
        .unwrap_or_else(|| panic!("images array in {list}"))
        .iter()
        .map(id)
        .collect()
}

/// `ids` sorted.
pub fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Asserts a v2 error: the status and the body `{"code", "title", "message"}`.
#[track_caller]
pub fn error(r: &Resp, status: u16) {
    assert_eq!(r.status, status, "unexpected status; body: {}", r.text);
    assert_eq!(r.json["code"], status, "error body: {}", r.text);
    assert!(r.json["message"].is_string(), "error body: {}", r.text);
    assert!(r.json["title"].is_string(), "error body: {}", r.text);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json"),
        "error content type"
    );
}

/// Asserts a 204 with an empty body.
#[track_caller]
pub fn no_content(r: &Resp) {
    assert_eq!(r.status, 204, "unexpected status; body: {}", r.text);
    assert!(r.text.is_empty(), "204 has no body: {}", r.text);
}

/// The decoded query parameters of a link such as `/v2/images?a=1&b=2`, sorted.
pub fn link_params(link: &str) -> Vec<(String, String)> {
    let q = link.split_once('?').map(|(_, q)| q).unwrap_or("");
    let mut v: Vec<(String, String)> = form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    v.sort();
    v
}

/// Creates an image through the v1 registry API as the no-token admin, returning its v1 body.
pub async fn v1_create(srv: &TestServer, fields: Value) -> Value {
    srv.admin().create(fields).await
}

/// A new random UUID string.
pub fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Sends the same request `n` times at once as a member of `project` (each on its own task),
/// returning the statuses and bodies in completion order.
pub async fn concurrently(
    srv: &TestServer,
    project: &str,
    n: usize,
    method: Method,
    path: impl Fn(usize) -> String,
    body: impl Fn(usize) -> Option<Value>,
) -> Vec<(u16, String)> {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let req = srv
            .http
            .request(method.clone(), format!("{}{}", srv.v2, path(i)))
            .header("x-auth-token", "token")
            .header("x-identity-status", "Confirmed")
            .header("x-project-id", project)
            .header("x-roles", "member");
        let req = match body(i) {
            Some(b) => req
                .header("content-type", "application/json")
                .body(b.to_string()),
            None => req,
        };
        tasks.spawn(async move {
            let r = req.send().await.expect("sent");
            let status = r.status().as_u16();
            (status, r.text().await.expect("body"))
        });
    }
    let mut out = Vec::new();
    while let Some(done) = tasks.join_next().await {
        out.push(done.expect("task"));
    }
    out
}

/// How many of `results` have `status`.
pub fn count(results: &[(u16, String)], status: u16) -> usize {
    results.iter().filter(|(s, _)| *s == status).count()
}
