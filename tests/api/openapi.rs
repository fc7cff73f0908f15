//! The OpenAPI document (`openapi.json`) against the server: the served document is the
//! checked-in file; every route of the router is documented and every documented path is
//! routed; and live responses of a realistic session (successes and errors) match the
//! document: the status is documented for the operation, the documented headers are present and
//! valid, and the body validates against the JSON Schema (image schemas are strict, so a new,
//! renamed or retyped field fails here).

use crate::backend_tests;
use crate::support::{As, Resp, id_of};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

const DOC_TEXT: &str = include_str!("../../openapi.json");
/// The sources that declare routes: each API version's and the shared ones.
const ROUTER_SRC: [&str; 3] = [
    include_str!("../../src/api/v1/mod.rs"),
    include_str!("../../src/api/common/mod.rs"),
    // The registry listener's own routes (`/openapi.json`).
    include_str!("../../src/api/mod.rs"),
];
const METHODS: [&str; 5] = ["get", "head", "post", "put", "delete"];

/// The document, with helpers to resolve references and validate against its schemas.
pub struct Doc {
    root: Value,
    validators: Mutex<HashMap<String, jsonschema::Validator>>,
}

impl Doc {
    pub fn load() -> Doc {
        let root: Value = serde_json::from_str(DOC_TEXT).expect("openapi.json is JSON");
        Doc {
            root,
            validators: Mutex::new(HashMap::new()),
        }
    }

    /// Follows `$ref`s (local ones, `#/...`) until a non-reference object.
    fn resolve<'a>(&'a self, mut v: &'a Value) -> &'a Value {
        for _ in 0..16 {
            let Some(r) = v.get("$ref").and_then(Value::as_str) else {
                return v;
            };
            let ptr = r
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("non-local $ref {r}"));
            v = self
                .root
                .pointer(ptr)
                .unwrap_or_else(|| panic!("dangling $ref {r}"));
        }
        panic!("$ref chain too long");
    }

    /// Validation errors of `instance` against `schema` (a schema object of the document, whose
    /// `$ref`s resolve against the whole document).
    fn errors(&self, schema: &Value, instance: &Value) -> Vec<String> {
        let key = schema.to_string();
        let mut cache = self.validators.lock().expect("lock");
        let validator = cache.entry(key).or_insert_with(|| {
            let mut root = self.root.clone();
            root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
            root["allOf"] = json!([schema]);
            jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .should_validate_formats(true)
                .build(&root)
                .unwrap_or_else(|e| panic!("schema {schema} does not compile: {e}"))
        });
        validator
            .iter_errors(instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }

    #[track_caller]
    fn validate(&self, what: &str, schema: &Value, instance: &Value) {
        let errors = self.errors(schema, instance);
        assert!(
            errors.is_empty(),
            "{what} does not match the document:\n  {}\ninstance: {instance:#}",
            errors.join("\n  ")
        );
    }

    fn schema(&self, name: &str) -> Value {
        json!({ "$ref": format!("#/components/schemas/{name}") })
    }

    /// The operation `method template`, e.g. `("get", "/images/{id}")`.
    fn operation(&self, method: &str, template: &str) -> &Value {
        let op = &self.root["paths"][template][method];
        assert!(op.is_object(), "{method} {template} is not documented");
        op
    }

    /// Checks a live response of `method template` against the document.
    #[track_caller]
    pub fn check(&self, method: &str, template: &str, resp: &Resp) {
        let op = self.operation(method, template);
        let code = resp.status.to_string();
        let documented = op["responses"].get(&code).unwrap_or_else(|| {
            panic!(
                "{method} {template} answered {code}, which the document does not list; body: {}",
                resp.text
            )
        });
        self.check_response(&format!("{method} {template} {code}"), documented, resp);
    }

    /// Checks a response against a response object of the document.
    #[track_caller]
    fn check_response(&self, what: &str, documented: &Value, resp: &Resp) {
        let r = self.resolve(documented);
        let empty = serde_json::Map::new();
        let headers = r["headers"].as_object().unwrap_or(&empty);
        for (name, h) in headers {
            let h = self.resolve(h);
            let value = resp.headers.get(name.as_str());
            if h["required"] == true {
                assert!(value.is_some(), "{what}: header {name} is missing");
            }
            if let Some(v) = value {
                let v = v.to_str().expect("ASCII header value");
                let schema = &h["schema"];
                let ty = &self.resolve(schema)["type"];
                let instance = if ty == "integer" {
                    match v.parse::<i64>() {
                        Ok(n) => json!(n),
                        Err(_) => json!(v),
                    }
                } else {
                    json!(v)
                };
                self.validate(&format!("{what}: header {name}"), schema, &instance);
            }
        }
        // Image metadata headers must be documented ones (or property headers).
        for name in resp.headers.keys() {
            let n = name.as_str();
            if n.starts_with("x-image-meta-") && !n.starts_with("x-image-meta-property-") {
                assert!(
                    headers.keys().any(|k| k.eq_ignore_ascii_case(n)),
                    "{what}: header {n} is not documented"
                );
            }
        }
        match r["content"].as_object() {
            None => assert!(
                resp.text.is_empty(),
                "{what}: no body is documented, got {}",
                resp.text
            ),
            Some(content) => {
                let ct = resp
                    .header("content-type")
                    .unwrap_or_else(|| panic!("{what}: no content-type"));
                let (media, m) = content
                    .iter()
                    .find(|(media, _)| media.as_str() == ct || ct.starts_with(media.as_str()))
                    .unwrap_or_else(|| {
                        panic!("{what}: content-type {ct} is not documented ({content:?})")
                    });
                if media.starts_with("application/json") {
                    let body: Value = serde_json::from_str(&resp.text).unwrap_or_else(|e| {
                        panic!("{what}: body is not JSON ({e}): {}", resp.text)
                    });
                    self.validate(&format!("{what}: body"), &m["schema"], &body);
                } else {
                    self.validate(&format!("{what}: body"), &m["schema"], &json!(resp.text));
                }
            }
        }
    }

    /// A 405 answer, against the document's `MethodNotAllowed` response.
    #[track_caller]
    pub fn check_405(&self, resp: &Resp) {
        assert_eq!(resp.status, 405, "body: {}", resp.text);
        self.check_response(
            "405",
            &json!({"$ref": "#/components/responses/MethodNotAllowed"}),
            resp,
        );
    }

    /// The request body example of an operation, if it has one.
    fn example<'a>(&'a self, op: &'a Value) -> Option<&'a Value> {
        let body = self.resolve(op.get("requestBody")?);
        body["content"]["application/json"].get("example")
    }

    /// `(path, method)` of every documented operation.
    fn operations(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (path, item) in self.root["paths"].as_object().expect("paths") {
            for m in METHODS {
                if item.get(m).is_some() {
                    out.push((path.clone(), m.to_owned()));
                }
            }
        }
        out
    }
}

/// The paths the router serves, read from its source (`.route("<path>", ...)`).
fn routed_paths() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for src in ROUTER_SRC {
        let mut rest = src;
        while let Some(i) = rest.find(".route(") {
            rest = rest[i + ".route(".len()..].trim_start();
            if let Some(lit) = rest.strip_prefix('"') {
                let end = lit.find('"').expect("closing quote");
                out.insert(lit[..end].to_owned());
            }
        }
    }
    out
}

fn method_of(m: &str) -> Method {
    Method::from_bytes(m.to_ascii_uppercase().as_bytes()).expect("method")
}

#[test]
fn document_is_openapi_3_1_with_resolvable_refs_and_valid_examples() {
    let doc = Doc::load();
    assert!(
        doc.root["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1.")),
        "an OpenAPI 3.1 document"
    );
    // Every $ref points somewhere.
    fn walk(doc: &Doc, v: &Value, at: &str) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    let ptr = r.strip_prefix('#').expect("local $ref");
                    assert!(doc.root.pointer(ptr).is_some(), "{at}: dangling $ref {r}");
                }
                for (k, v) in m {
                    walk(doc, v, &format!("{at}/{k}"));
                }
            }
            Value::Array(a) => {
                for (i, v) in a.iter().enumerate() {
                    walk(doc, v, &format!("{at}/{i}"));
                }
            }
            _ => {}
        }
    }
    walk(&doc, &doc.root, "");
    // Operation ids are unique; request examples match their schemas.
    let mut ids = BTreeSet::new();
    for (path, m) in doc.operations() {
        let op = doc.operation(&m, &path);
        let id = op["operationId"].as_str().expect("operationId");
        assert!(ids.insert(id.to_owned()), "duplicate operationId {id}");
        if let Some(example) = doc.example(op) {
            let body = doc.resolve(&op["requestBody"]);
            doc.validate(
                &format!("{m} {path} request example"),
                &body["content"]["application/json"]["schema"],
                example,
            );
        }
    }
}

#[test]
fn image_schemas_are_strict() {
    let doc = Doc::load();
    let image = json!({
        "id": "71c675ab-d94f-49cd-a114-e12490b328d9", "name": null, "status": "active",
        "disk_format": "qcow2", "container_format": "bare", "size": 1, "virtual_size": null,
        "checksum": null, "min_disk": 0, "min_ram": 0, "is_public": false, "protected": false,
        "owner": "t1", "location": null, "created_at": "2011-09-27T14:03:11.123456",
        "updated_at": "2011-09-27T14:03:11.123456", "deleted_at": null, "deleted": false,
        "properties": {"os": "linux"}
    });
    doc.validate("a valid image", &doc.schema("Image"), &image);
    let drifts: [(&str, Value); 7] = [
        ("extra", json!("field")),
        ("size", json!("1")),
        ("is_public", json!("False")),
        ("created_at", json!("2011-09-27T14:03:11Z")),
        ("status", json!("ACTIVE")),
        ("properties", json!({"os": 1})),
        ("id", json!("71C675AB-D94F-49CD-A114-E12490B328D9")),
    ];
    for (field, value) in drifts {
        let mut bad = image.clone();
        bad[field] = value;
        assert!(
            !doc.errors(&doc.schema("Image"), &bad).is_empty(),
            "the Image schema accepts drift in {field}"
        );
    }
    let mut missing = image.clone();
    missing
        .as_object_mut()
        .expect("object")
        .remove("deleted_at");
    assert!(!doc.errors(&doc.schema("Image"), &missing).is_empty());
    let brief = json!({"id": "71c675ab-d94f-49cd-a114-e12490b328d9", "name": "a", "size": null,
                       "disk_format": null, "container_format": null, "checksum": null});
    doc.validate("a brief image", &doc.schema("BriefImage"), &brief);
    let mut seven = brief.clone();
    seven["status"] = json!("active");
    assert!(!doc.errors(&doc.schema("BriefImage"), &seven).is_empty());
}

#[test]
fn every_routed_path_is_documented_and_every_documented_path_is_routed() {
    let doc = Doc::load();
    let routed = routed_paths();
    assert!(
        routed.contains("/images/{id}") && routed.len() > 10,
        "read the routes: {routed:?}"
    );
    let documented: BTreeSet<String> = doc.root["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .cloned()
        .collect();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from openapi.json: {undocumented:?}"
    );
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        unrouted.is_empty(),
        "documented paths the router lacks: {unrouted:?}"
    );
}

/// `GET /images/{id}` and friends, as one caller, checked against the document.
struct Checked<'a> {
    doc: &'a Doc,
    who: As<'a>,
}

impl Checked<'_> {
    async fn call(
        &self,
        method: &str,
        template: &str,
        path: &str,
        body: Option<Value>,
        extra: &[(&str, &str)],
    ) -> Resp {
        let body = body.map(|b| b.to_string().into_bytes());
        let r = self.who.send(method_of(method), path, body, extra).await;
        self.doc.check(method, template, &r);
        r
    }
}

backend_tests! {
    async fn served_document_is_the_checked_in_file(srv: TestServer) {
        let doc = Doc::load();
        let r = srv.admin().get("/openapi.json").await.expect(200);
        assert!(r.text == DOC_TEXT, "GET /openapi.json differs from the checked-in openapi.json");
        doc.check("get", "/openapi.json", &r);
    }

    async fn every_documented_operation_answers(srv: TestServer) {
        let doc = Doc::load();
        let admin = srv.admin();
        let img = admin.create(json!({"name": "probe", "is_public": true})).await;
        let id = id_of(&img);
        admin.put(&format!("/images/{id}/members/tenant-x"), &json!({})).await.expect(204);
        let mut ops = doc.operations();
        // Deletions last, the image's after its member's.
        ops.sort_by_key(|(p, m)| (m == "delete", p.ends_with("{id}")));
        for (template, m) in ops {
            let path = template.replace("{id}", &id).replace("{member}", "tenant-x");
            let op = doc.operation(&m, &template);
            let body = doc.example(op).map(|b| b.to_string().into_bytes());
            if m == "delete" && template.contains("{member}") {
                // The replaceMembers example replaced the memberships.
                admin.put(&path, &json!({})).await.expect(204);
            }
            let r = admin.send(method_of(&m), &path, body, &[]).await;
            assert_ne!(r.status, 404, "{m} {path} answered 404: {}", r.text);
            assert!(r.status < 300, "{m} {path} answered {}: {}", r.status, r.text);
            doc.check(&m, &template, &r);
        }
    }

    async fn a_session_conforms_to_the_document(srv: TestServer) {
        let doc = Doc::load();
        let admin = Checked { doc: &doc, who: srv.admin() };
        let alice = Checked { doc: &doc, who: srv.tenant("alice") };
        let bob = Checked { doc: &doc, who: srv.tenant("bob") };

        // Create: every field, the seed's list notation of properties, and a minimal image.
        let full = admin.call("post", "/images", "/images", Some(json!({"image": {
            "id": "71C675AB-D94F-49CD-A114-E12490B328D9", "name": "cirros", "status": "queued",
            "disk_format": "qcow2", "container_format": "bare", "size": 13_287_936,
            "virtual_size": 41_126_400, "checksum": "443b7623e27ecf03dc9e01ee93f67afe",
            "min_disk": 1, "min_ram": "64", "is_public": "true", "protected": false,
            "owner": "alice", "location": "file:///var/lib/glance/images/cirros",
            "properties": [{"name": "os_distro", "value": "cirros"}, {"name": "Arch", "value": "x86_64"}],
            "unknown_field": "ignored"
        }})), &[]).await.expect(200);
        let full_id = id_of(full.image());
        assert_eq!(full_id, "71c675ab-d94f-49cd-a114-e12490b328d9");
        let bare = alice.call("post", "/images", "/images", Some(json!({"image": {}})), &[])
            .await.expect(200);
        let bare_id = id_of(bare.image());
        let slash = alice.call("post", "/images/", "/images/",
            Some(json!({"image": {"name": "private", "disk_format": "aki", "container_format": "aki",
                                  "properties": {"kernel": "yes"}}})), &[]).await.expect(200);
        let private_id = id_of(slash.image());

        // Show, HEAD, conditional GET.
        let shown = alice.call("get", "/images/{id}", &format!("/images/{full_id}"), None, &[])
            .await.expect(200);
        let tag = shown.header("etag").expect("etag");
        alice.call("head", "/images/{id}", &format!("/images/{full_id}"), None, &[]).await.expect(200);
        alice.call("get", "/images/{id}", &format!("/images/{full_id}"), None,
            &[("if-none-match", &tag)]).await.expect(304);
        admin.call("get", "/images/{id}", &format!("/images/{bare_id}"), None, &[]).await.expect(200);

        // Lists: brief and detailed, filters, a full page with a Link, every sort key.
        for (template, path) in [("/", "/"), ("/images", "/images"), ("/images/", "/images/"),
                                 ("/images/detail", "/images/detail")] {
            let r = alice.call("get", template, path, None, &[]).await.expect(200);
            assert_eq!(r.images().len(), 3, "{path}");
            let r = alice.call("get", template, &format!("{path}?limit=1&sort_dir=asc"), None, &[])
                .await.expect(200);
            assert!(r.header("link").is_some(), "{path}: a full page has a Link");
        }
        for key in ["id", "name", "status", "disk_format", "container_format", "size",
                    "created_at", "updated_at"] {
            admin.call("get", "/images/detail", &format!("/images/detail?sort_key={key}&is_public=none"),
                None, &[]).await.expect(200);
        }
        let filtered = alice.call("get", "/images/detail",
            "/images/detail?property-os_distro=cirros&size_min=1&size_max=99999999&disk_format=qcow2\
             &container_format=bare&status=queued&min_ram=64&min_disk=1&protected=false&name=cirros",
            None, &[]).await.expect(200);
        assert_eq!(filtered.ids(), vec![full_id.clone()]);

        // Update: merge, purge, from_state, If-Match.
        let updated = admin.call("put", "/images/{id}", &format!("/images/{full_id}"),
            Some(json!({"image": {"status": "active", "properties": {"os_version": "0.6"}},
                        "from_state": "queued"})), &[("if-match", &tag)]).await.expect(200);
        let tag2 = updated.header("etag").expect("etag");
        admin.call("put", "/images/{id}", &format!("/images/{full_id}"),
            Some(json!({"image": {"name": null, "checksum": null, "properties": {"only": "this"}},
                        "from_state": null})),
            &[("x-glance-registry-purge-props", "True")]).await.expect(200);
        alice.call("put", "/images/{id}", &format!("/images/{bare_id}"),
            Some(json!({"image": {"name": "renamed", "is_public": true}})), &[]).await.expect(200);

        // Members and shared images.
        alice.call("put", "/images/{id}/members", &format!("/images/{private_id}/members"),
            Some(json!({"memberships": [{"member_id": "bob", "can_share": false},
                                        {"member_id": "carol"}]})), &[]).await.expect(204);
        alice.call("put", "/images/{id}/members/{member}",
            &format!("/images/{private_id}/members/dave"),
            Some(json!({"member": {"can_share": true}})), &[]).await.expect(204);
        alice.call("put", "/images/{id}/members/{member}",
            &format!("/images/{private_id}/members/erin"), None, &[]).await.expect(204);
        let members = alice.call("get", "/images/{id}/members",
            &format!("/images/{private_id}/members"), None, &[]).await.expect(200);
        assert_eq!(members.json["members"].as_array().expect("members").len(), 4);
        bob.call("get", "/images/{id}/members", &format!("/images/{private_id}/members"), None, &[])
            .await.expect(200);
        let shared = bob.call("get", "/shared-images/{member}", "/shared-images/bob", None, &[])
            .await.expect(200);
        assert_eq!(shared.json["shared_images"][0]["image_id"], private_id.as_str());
        admin.call("get", "/shared-images/{member}", "/shared-images/nobody", None, &[])
            .await.expect(200);
        alice.call("delete", "/images/{id}/members/{member}",
            &format!("/images/{private_id}/members/erin"), None, &[]).await.expect(204);

        // Errors, each with the documented status and body.
        let img = format!("/images/{full_id}");
        let unknown = "/images/00000000-0000-0000-0000-000000000000";
        for q in ["sort_key=owner", "sort_dir=up", "size_min=big", "limit=-1", "marker=nope",
                  "changes-since=yesterday", "status=bogus", "name=a&name=b"] {
            alice.call("get", "/images", &format!("/images?{q}"), None, &[]).await.expect_error(400);
        }
        admin.call("get", "/images/detail", "/images/detail?is_public=maybe", None, &[])
            .await.expect_error(400);
        for body in [json!({}), json!({"image": {"status": ""}}), json!({"image": {"size": -1}}),
                     json!({"image": {"disk_format": "ami"}}), json!({"image": {"is_public": "no"}}),
                     json!({"image": {"properties": {"n": 1}}}), json!({"image": {"id": "x"}})] {
            alice.call("post", "/images", "/images", Some(body), &[]).await.expect_error(400);
        }
        let r = alice.who.send(Method::POST, "/images", Some(b"not json".to_vec()), &[]).await;
        doc.check("post", "/images", &r.expect_error(400));
        alice.call("put", "/images/{id}", &img, Some(json!({"image": {"container_format": ""}})),
            &[]).await.expect_error(400);
        alice.call("put", "/images/{id}/members", &format!("/images/{private_id}/members"),
            Some(json!({"memberships": [{"member_id": "bob", "can_share": "false"}]})), &[])
            .await.expect_error(400);
        let unconfirmed = Checked { doc: &doc, who: srv.caller(&[("x-auth-token", "t"),
                                                                  ("x-tenant-id", "alice")]) };
        unconfirmed.call("get", "/images", "/images", None, &[]).await.expect_error(401);
        unconfirmed.call("head", "/images/{id}", &img, None, &[]).await.expect(401);
        let no_tenant = Checked { doc: &doc, who: srv.caller(&[("x-auth-token", "t"),
                                                               ("x-identity-status", "Confirmed")]) };
        no_tenant.call("put", "/images/{id}/members/{member}", &format!("/images/{bare_id}/members/x"),
            None, &[]).await.expect_error(401);
        bob.call("put", "/images/{id}", &format!("/images/{bare_id}"),
            Some(json!({"image": {"name": "mine"}})), &[]).await.expect_error(403);
        bob.call("delete", "/images/{id}", &format!("/images/{bare_id}"), None, &[])
            .await.expect_error(403);
        bob.call("put", "/images/{id}/members/{member}", &format!("/images/{bare_id}/members/bob"),
            None, &[]).await.expect_error(403);
        bob.call("get", "/images/{id}", unknown, None, &[]).await.expect_error(404);
        bob.call("head", "/images/{id}", unknown, None, &[]).await.expect(404);
        bob.call("get", "/images/{id}", "/images/not-a-uuid", None, &[]).await.expect_error(404);
        bob.call("put", "/images/{id}", unknown, Some(json!({"image": {}})), &[]).await.expect_error(404);
        bob.call("delete", "/images/{id}", unknown, None, &[]).await.expect_error(404);
        bob.call("get", "/images/{id}/members", &format!("{unknown}/members"), None, &[])
            .await.expect_error(404);
        alice.call("delete", "/images/{id}/members/{member}",
            &format!("/images/{private_id}/members/erin"), None, &[]).await.expect_error(404);
        admin.call("post", "/images", "/images", Some(json!({"image": {"id": full_id}})), &[])
            .await.expect_error(409);
        admin.call("put", "/images/{id}", &img, Some(json!({"image": {}, "from_state": "saving"})),
            &[]).await.expect_error(409);
        admin.call("put", "/images/{id}", &img, Some(json!({"image": {"name": "x"}})),
            &[("if-match", &tag2)]).await.expect_error(412);
        admin.call("delete", "/images/{id}", &img, None, &[("if-match", &tag)]).await.expect_error(412);
        let many: serde_json::Map<String, Value> =
            (0..200).map(|i| (format!("p{i}"), json!("v"))).collect();
        admin.call("put", "/images/{id}", &img, Some(json!({"image": {"properties": many}})), &[])
            .await.expect_error(413);
        for (m, path) in [(Method::DELETE, "/images"), (Method::POST, "/images/detail"),
                          (Method::POST, &img), (Method::PATCH, "/images/detail"),
                          (Method::POST, "/healthz"), (Method::DELETE, "/shared-images/bob")] {
            doc.check_405(&admin.who.send(m, path, None, &[]).await);
        }
        let protected = admin.call("post", "/images", "/images",
            Some(json!({"image": {"protected": true}})), &[]).await.expect(200);
        admin.call("delete", "/images/{id}", &format!("/images/{}", id_of(protected.image())),
            None, &[]).await.expect_error(403);

        // Delete, and see it through changes-since.
        let deleted = alice.call("delete", "/images/{id}", &format!("/images/{private_id}"), None, &[])
            .await.expect(200);
        assert_eq!(deleted.image()["deleted"], true);
        alice.call("delete", "/images/{id}", &format!("/images/{private_id}"), None, &[])
            .await.expect_error(404);
        admin.call("get", "/images/{id}", &format!("/images/{private_id}"), None, &[]).await.expect(200);
        let since = alice.call("get", "/images/detail", "/images/detail?changes-since=2000-01-01T00:00:00Z",
            None, &[]).await.expect(200);
        assert!(since.ids().contains(&private_id), "changes-since lists the deleted image");
        admin.call("get", "/images/detail", "/images/detail?deleted=true&is_public=none", None, &[])
            .await.expect(200);

        // Probes and metrics, with a request id that comes back.
        let r = admin.call("get", "/healthz", "/healthz", None, &[("x-openstack-request-id", "req-mine")])
            .await.expect(200);
        assert_eq!(r.header("x-openstack-request-id").as_deref(), Some("req-mine"));
        admin.call("get", "/readyz", "/readyz", None, &[]).await.expect(200);
        admin.call("get", "/metrics", "/metrics", None, &[]).await.expect(200);
    }
}

// A small body limit, so the oversized body fits in the socket buffers and the client finishes
// sending before the server answers.
backend_tests! { |c: &mut glimpse::config::ServerConfig| c.max_body_bytes = 4096;
    async fn oversized_bodies_conform(srv: TestServer) {
        let doc = Doc::load();
        let admin = Checked { doc: &doc, who: srv.admin() };
        let img = admin.call("post", "/images", "/images", Some(json!({"image": {}})), &[])
            .await.expect(200);
        let path = format!("/images/{}", id_of(img.image()));
        let huge = || Some(json!({"image": {"name": "x", "location": "y".repeat(8192)}}));
        admin.call("post", "/images", "/images", huge(), &[]).await.expect_error(413);
        admin.call("put", "/images/{id}", &path, huge(), &[]).await.expect_error(413);
        let many = vec![json!({"member_id": "m".repeat(255)}); 40];
        let members = Some(json!({"memberships": many}));
        admin.call("put", "/images/{id}/members", &format!("{path}/members"), members, &[])
            .await.expect_error(413);
    }
}
