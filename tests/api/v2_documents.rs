//! v2 fixed documents and routing (contract §1, §3.10, §3.11): the versions document, unknown
//! paths, 405 with `Allow`, the schemas, `/v2/info/*`, identity and body rules. None of this
//! touches storage, so it runs on SQLite only.

use crate::support::{Backend, TestServer, keys_of};
use crate::v2_support::{self as v2, BASE_FIELDS, error};
use reqwest::Method;
use serde_json::{Value, json};

async fn start() -> TestServer {
    TestServer::start(Backend::Sqlite).await
}

fn expected_versions(base: &str) -> Value {
    let ids = [
        "v2.7", "v2.6", "v2.5", "v2.4", "v2.3", "v2.2", "v2.1", "v2.0",
    ];
    let list: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            json!({
                "id": id,
                "status": if i == 0 { "CURRENT" } else { "SUPPORTED" },
                "links": [{"rel": "self", "href": format!("{base}/v2/")}],
            })
        })
        .collect();
    json!({ "versions": list })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_versions_document_is_300_at_root_and_200_at_versions_without_identity() {
    let srv = start().await;
    let expected = expected_versions(&srv.v2);
    // An unconfirmed token is no identity at all; versions need none.
    let nobody = v2::caller(
        &srv,
        &[("x-auth-token", "t"), ("x-identity-status", "Invalid")],
    );
    let root = nobody.get("/").await;
    assert_eq!(root.status, 300, "{}", root.text);
    assert_eq!(root.json, expected);
    assert_eq!(
        root.header("content-type").as_deref(),
        Some("application/json")
    );
    for path in ["/versions", "/versions/anything", "/versions/v2"] {
        let r = nobody.get(path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert_eq!(r.json, expected, "{path}");
        assert_eq!(r.text, root.text, "{path}: identical bodies");
    }
    // The same identity-less caller gets 401 on a real endpoint.
    error(&nobody.get("/v2/images").await, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_unknown_versions_get_300_and_unrouted_v2_paths_404_or_501() {
    let srv = start().await;
    let admin = v2::admin(&srv);
    let expected = expected_versions(&srv.v2);
    for path in ["/v1/images", "/v3", "/foo", "/v2.8/images", "/images"] {
        let r = admin.get(path).await;
        assert_eq!(r.status, 300, "{path}: {}", r.text);
        assert_eq!(r.json, expected, "{path}");
    }
    for path in [
        "/v2",
        "/v2/",
        "/v2/nothing",
        "/v2/info/stores",
        "/v2/tasks",
        "/v2/cache",
    ] {
        error(&admin.get(path).await, 404);
    }
    error(&admin.post("/v2/nothing", &json!({})).await, 404);
    let r = admin.post("/foo", &json!({})).await;
    assert_eq!(r.status, 300, "{}", r.text);
    assert_eq!(r.json, expected);
    let r = admin
        .send(
            Method::from_bytes(b"PROPFIND").expect("method"),
            "/v2/nothing",
            None,
            &[],
        )
        .await;
    error(&r, 501);
    // A /v2.N/ prefix for an advertised N is routed as /v2/.
    let id = admin.create_id(json!({"name": "minor"})).await;
    for prefix in ["v2.0", "v2.3", "v2.7"] {
        let r = admin.get(&format!("/{prefix}/images/{id}")).await;
        assert_eq!(r.status, 200, "{prefix}: {}", r.text);
        assert_eq!(r.json["name"], "minor");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_wrong_methods_get_405_with_exact_allow() {
    let srv = start().await;
    let admin = v2::admin(&srv);
    let id = admin.create_id(json!({})).await;
    let cases: Vec<(Method, String, &str)> = vec![
        (Method::PUT, "/v2/images".into(), "GET, POST"),
        (Method::HEAD, "/v2/images".into(), "GET, POST"),
        (
            Method::PATCH,
            format!("/v2/images/{id}/tags/x"),
            "PUT, DELETE",
        ),
        (Method::DELETE, format!("/v2/images/{id}/file"), "GET, PUT"),
        (Method::DELETE, "/v2/images".into(), "GET, POST"),
        (
            Method::POST,
            format!("/v2/images/{id}"),
            "GET, PATCH, DELETE",
        ),
        (
            Method::PUT,
            format!("/v2/images/{id}"),
            "GET, PATCH, DELETE",
        ),
        (
            Method::HEAD,
            format!("/v2/images/{id}"),
            "GET, PATCH, DELETE",
        ),
        (Method::POST, format!("/v2/images/{id}/file"), "GET, PUT"),
        (
            Method::GET,
            format!("/v2/images/{id}/tags/x"),
            "PUT, DELETE",
        ),
        (Method::PUT, format!("/v2/images/{id}/members"), "GET, POST"),
        (
            Method::POST,
            format!("/v2/images/{id}/members/p"),
            "GET, PUT, DELETE",
        ),
        (
            Method::GET,
            format!("/v2/images/{id}/actions/deactivate"),
            "POST",
        ),
        (Method::POST, "/v2/schemas/image".into(), "GET"),
        (Method::DELETE, "/v2/info/import".into(), "GET"),
    ];
    for (method, path, allow) in cases {
        let r = admin.send(method.clone(), &path, None, &[]).await;
        assert_eq!(r.status, 405, "{method} {path}: {}", r.text);
        assert_eq!(r.header("allow").as_deref(), Some(allow), "{method} {path}");
        if method != Method::HEAD {
            error(&r, 405);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_image_schema_declares_every_rendered_field() {
    let srv = start().await;
    let admin = v2::admin(&srv);
    let r = admin.get("/v2/schemas/image").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let s = &r.json;
    assert_eq!(s["name"], "image");
    assert_eq!(s["additionalProperties"], json!({"type": "string"}));
    assert_eq!(
        s["links"],
        json!([
            {"rel": "self", "href": "{self}"},
            {"rel": "enclosure", "href": "{file}"},
            {"rel": "describedby", "href": "{schema}"},
        ])
    );
    let props = &s["properties"];
    for f in BASE_FIELDS
        .iter()
        .chain(["direct_url", "locations", "stores"].iter())
    {
        assert!(props[*f].is_object(), "schema lacks {f}");
        assert!(props[*f].get("is_base").is_none(), "{f} is base");
    }
    for custom in [
        "kernel_id",
        "ramdisk_id",
        "instance_uuid",
        "architecture",
        "os_distro",
        "os_version",
        "description",
        "cinder_encryption_key_id",
        "cinder_encryption_key_deletion_policy",
    ] {
        assert_eq!(props[custom]["is_base"], false, "{custom}");
    }
    assert_eq!(props["visibility"]["type"], "string");
    let mut vis: Vec<String> = props["visibility"]["enum"]
        .as_array()
        .expect("enum")
        .iter()
        .map(|v| v.as_str().expect("str").to_owned())
        .collect();
    vis.sort();
    assert_eq!(vis, ["community", "private", "public", "shared"]);
    assert_eq!(props["name"]["maxLength"], 255);
    assert_eq!(props["name"]["type"], json!(["null", "string"]));
    assert_eq!(props["size"]["type"], json!(["null", "integer"]));
    for ro in [
        "status",
        "checksum",
        "size",
        "virtual_size",
        "created_at",
        "updated_at",
        "self",
        "file",
        "schema",
    ] {
        assert_eq!(props[ro]["readOnly"], true, "{ro} is read-only");
    }
    let disk = props["disk_format"]["enum"].as_array().expect("disk enum");
    assert!(disk.contains(&Value::Null) && disk.contains(&json!("qcow2")));
    let container = props["container_format"]["enum"]
        .as_array()
        .expect("container enum");
    assert!(container.contains(&Value::Null) && container.contains(&json!("bare")));

    // Every field a created image has is declared by the schema.
    let img = admin
        .create(json!({"name": "s", "architecture": "x86_64"}))
        .await;
    assert_eq!(
        keys_of(&img)
            .into_iter()
            .filter(|k| k != "architecture")
            .collect::<Vec<_>>(),
        BASE_FIELDS
    );
    for k in keys_of(&img) {
        assert!(
            props[&k].is_object(),
            "{k} is rendered but not in the schema"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_images_member_and_members_schemas_have_the_contract_shape() {
    let srv = start().await;
    let admin = v2::admin(&srv);
    let image = admin.get("/v2/schemas/image").await.json;
    let images = admin.get("/v2/schemas/images").await;
    assert_eq!(images.status, 200, "{}", images.text);
    let s = &images.json;
    assert_eq!(s["name"], "images");
    assert_eq!(s["properties"]["images"]["type"], "array");
    assert_eq!(s["properties"]["images"]["items"], image);
    for k in ["first", "next", "schema"] {
        assert_eq!(s["properties"][k]["type"], "string", "{k}");
    }
    assert_eq!(
        s["links"],
        json!([
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ])
    );

    let member = admin.get("/v2/schemas/member").await;
    assert_eq!(member.status, 200, "{}", member.text);
    let m = &member.json;
    assert_eq!(m["name"], "member");
    assert!(m.get("additionalProperties").is_none(), "{m}");
    assert_eq!(
        keys_of(&m["properties"]),
        [
            "created_at",
            "image_id",
            "member_id",
            "schema",
            "status",
            "updated_at"
        ]
    );
    assert_eq!(m["properties"]["member_id"]["type"], "string");
    assert!(m["properties"]["image_id"]["pattern"].is_string());
    assert_eq!(
        m["properties"]["status"]["enum"],
        json!(["pending", "accepted", "rejected"])
    );
    assert_eq!(m["properties"]["schema"]["readOnly"], true);

    let members = admin.get("/v2/schemas/members").await;
    assert_eq!(members.status, 200, "{}", members.text);
    let ms = &members.json;
    assert_eq!(ms["name"], "members");
    assert_eq!(ms["properties"]["members"]["type"], "array");
    assert_eq!(ms["properties"]["members"]["items"], member.json);
    assert_eq!(ms["properties"]["schema"]["type"], "string");
    assert_eq!(
        ms["links"],
        json!([{"rel": "describedby", "href": "{schema}"}])
    );

    // Schemas take no body, need an identity, and any project reader may read them.
    let r = admin
        .send(Method::GET, "/v2/schemas/image", Some(b"{}".to_vec()), &[])
        .await;
    error(&r, 400);
    let nobody = v2::caller(&srv, &[("x-auth-token", "t")]);
    error(&nobody.get("/v2/schemas/image").await, 401);
    let r = v2::reader(&srv, "p1").get("/v2/schemas/member").await;
    assert_eq!(r.json, member.json);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_info_endpoints_and_out_of_scope_answers() {
    let srv = start().await;
    let admin = v2::admin(&srv);
    let r = admin.get("/v2/info/import").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json,
        json!({"import-methods": {"description": "Import methods available.", "type": "array", "value": []}})
    );
    let r = admin.get("/v2/info/usage").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json, json!({"usage": {}}));
    error(&admin.get("/v2/info/stores/detail").await, 404);

    let id = admin.create_id(json!({})).await;
    let r = admin.get(&format!("/v2/images/{id}/tasks")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json, json!({"tasks": []}));
    error(
        &admin.get(&format!("/v2/images/{}/tasks", v2::uuid())).await,
        404,
    );
    // Import fails before the image is looked up.
    error(
        &admin
            .post(&format!("/v2/images/{}/import", v2::uuid()), &json!({}))
            .await,
        400,
    );
    error(
        &admin
            .send(
                Method::PUT,
                &format!("/v2/images/{id}/stage"),
                Some(b"x".to_vec()),
                &[("content-type", "application/octet-stream")],
            )
            .await,
        404,
    );
    // A PATCH of /locations is refused.
    error(
        &admin
            .patch(
                &id,
                &json!([{"op": "add", "path": "/locations/-", "value": {"url": "http://x", "metadata": {}}}]),
            )
            .await,
        403,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_endpoints_need_an_identity_and_errors_are_json() {
    let srv = start().await;
    let admin = v2::admin(&srv);
    let id = admin.create_id(json!({"name": "x"})).await;
    let unconfirmed = v2::caller(
        &srv,
        &[
            ("x-auth-token", "t"),
            ("x-project-id", "p1"),
            ("x-roles", "member"),
        ],
    );
    let paths = [
        "/v2/images".to_string(),
        format!("/v2/images/{id}"),
        format!("/v2/images/{id}/members"),
        format!("/v2/images/{id}/file"),
        "/v2/schemas/images".to_string(),
        "/v2/info/import".to_string(),
    ];
    for p in &paths {
        error(&unconfirmed.get(p).await, 401);
    }
    error(&unconfirmed.post("/v2/images", &json!({})).await, 401);
    error(&unconfirmed.delete(&format!("/v2/images/{id}")).await, 401);
    // Nothing was created or deleted by the unauthenticated calls.
    assert_eq!(admin.list_ids("").await, vec![id.clone()]);

    // Ids that are no UUID, too long, or unknown are 404 (never 400).
    for bad in [
        "not-a-uuid".to_string(),
        format!("{id}0"),
        v2::uuid(),
        "x".repeat(40),
    ] {
        error(&admin.get(&format!("/v2/images/{bad}")).await, 404);
        error(&admin.delete(&format!("/v2/images/{bad}")).await, 404);
    }
    // Malformed JSON bodies are 400 whatever the Content-Type.
    for ct in ["application/json", "text/plain"] {
        let r = admin
            .send(
                Method::POST,
                "/v2/images",
                Some(b"{not json".to_vec()),
                &[("content-type", ct)],
            )
            .await;
        error(&r, 400);
    }
    let r = admin
        .send(Method::POST, "/v2/images", Some(b"\"str\"".to_vec()), &[])
        .await;
    error(&r, 400);
    // A body where none is taken is 400 before anything else, even for a missing image.
    let r = admin
        .send(
            Method::GET,
            &format!("/v2/images/{}", v2::uuid()),
            Some(b"{}".to_vec()),
            &[],
        )
        .await;
    error(&r, 400);
    // `Accept` is ignored.
    let r = admin
        .send(
            Method::GET,
            &format!("/v2/images/{id}"),
            None,
            &[("accept", "text/html")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_versions_with_a_trailing_slash_is_200() {
    let srv = start().await;
    let r = v2::admin(&srv).get("/versions/").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json, expected_versions(&srv.v2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_ids_are_case_sensitive() {
    let srv = start().await;
    let admin = v2::admin(&srv);
    let id = admin.create_id(json!({"name": "x"})).await;
    assert_eq!(admin.show(&id).await["name"], "x");
    error(
        &admin
            .get(&format!("/v2/images/{}", id.to_uppercase()))
            .await,
        404,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_public_endpoint_makes_the_absolute_links() {
    let srv = TestServer::start_with(Backend::Sqlite, |c: &mut glimpse::config::ServerConfig| {
        c.public_endpoint = Some("https://images.example.com".into());
    })
    .await;
    let admin = v2::admin(&srv);
    let r = admin.get("/").await;
    assert_eq!(r.status, 300, "{}", r.text);
    assert_eq!(r.json, expected_versions("https://images.example.com"));
    let r = admin.post("/v2/images", &json!({})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.header("location"),
        Some(format!(
            "https://images.example.com/v2/images/{}",
            v2::id(&r.json)
        ))
    );
    // Root-relative links in bodies do not change.
    assert_eq!(r.json["self"], format!("/v2/images/{}", v2::id(&r.json)));
}
