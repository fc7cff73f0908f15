//! Headers: `x-image-meta-*` (spec section 6), ETags and conditional requests, request ids,
//! 405/404 answers and the probes (sections 7 and 8).

use crate::backend_tests;
use crate::support::{Resp, id_of};
use reqwest::Method;
use serde_json::json;
use std::collections::BTreeMap;

/// The `x-image-meta-*` headers of a response, decoded.
fn meta(r: &Resp) -> BTreeMap<String, String> {
    r.headers
        .iter()
        .filter(|(k, _)| k.as_str().starts_with("x-image-meta-"))
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().expect("ascii").to_owned()))
        .collect()
}

/// Everything the process logs at info level for `glimpse::access`, from the moment the first
/// test asks for it (one global subscriber per test process).
fn access_log() -> &'static std::sync::Mutex<Vec<u8>> {
    static LOG: std::sync::OnceLock<&'static std::sync::Mutex<Vec<u8>>> =
        std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let log: &'static std::sync::Mutex<Vec<u8>> =
            Box::leak(Box::new(std::sync::Mutex::new(Vec::new())));
        struct W(&'static std::sync::Mutex<Vec<u8>>);
        impl std::io::Write for W {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("glimpse::access=info"))
            .with_ansi(false)
            .with_writer(move || W(log))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
        log
    })
}

fn logged_lines_with(needle: &str) -> Vec<String> {
    let log = access_log().lock().unwrap();
    String::from_utf8_lossy(&log)
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_owned)
        .collect()
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .expect("utf-8")
        .into_owned()
}

fn etag(r: &Resp) -> String {
    let e = r.header("etag").expect("ETag header");
    assert!(
        e.starts_with('"') && e.ends_with('"') && e.len() > 2,
        "a strong, quoted tag: {e}"
    );
    e
}

backend_tests! {
    async fn image_meta_headers_on_get_and_head(srv: TestServer) {
        let admin = srv.admin();
        let img = admin.create(json!({
            "name": "cirros", "status": "queued", "disk_format": "qcow2", "container_format": "bare",
            "size": 13_000_000, "virtual_size": 41_000_000, "min_disk": 1, "min_ram": 64,
            "is_public": true, "protected": false, "owner": "t1", "location": "file:///var/lib/x",
            "properties": {"os_distro": "cirros", "Arch": "x86_64", "empty": ""}
        })).await;
        let path = format!("/images/{}", id_of(&img));
        let get = admin.get(&path).await.expect(200);
        let m = meta(&get);
        let want: BTreeMap<String, String> = [
            ("id", img["id"].as_str().unwrap()), ("name", "cirros"), ("status", "queued"),
            ("disk_format", "qcow2"), ("container_format", "bare"), ("size", "13000000"),
            ("virtual_size", "41000000"), ("min_disk", "1"), ("min_ram", "64"), ("is_public", "True"),
            ("protected", "False"), ("owner", "t1"), ("location", "file:///var/lib/x"),
            ("created_at", img["created_at"].as_str().unwrap()), ("updated_at", img["updated_at"].as_str().unwrap()),
            ("deleted", "False"), ("property-os_distro", "cirros"), ("property-arch", "x86_64"),
            ("property-empty", ""),
        ].into_iter().map(|(k, v)| (format!("x-image-meta-{k}"), v.to_owned())).collect();
        assert_eq!(m, want, "every non-null field, and nothing for null ones (checksum, deleted_at)");

        let head = admin.head(&path).await.expect(200);
        assert!(head.text.is_empty(), "HEAD has no body");
        assert_eq!(meta(&head), want);
        assert_eq!(head.header("etag"), get.header("etag"));

        // After an update and a delete the headers follow.
        admin.put(&path, &json!({"image": {"checksum": "abc", "is_public": false, "protected": true,
                                           "name": null}})).await.expect(200);
        let m = meta(&admin.head(&path).await.expect(200));
        assert_eq!(m.get("x-image-meta-checksum").map(String::as_str), Some("abc"));
        assert_eq!(m.get("x-image-meta-is_public").map(String::as_str), Some("False"));
        assert_eq!(m.get("x-image-meta-protected").map(String::as_str), Some("True"));
        assert!(!m.contains_key("x-image-meta-name"), "null name: no header");
        admin.put(&path, &json!({"image": {"protected": false}})).await.expect(200);
        let deleted = admin.delete(&path).await.expect(200);
        let m = meta(&admin.get(&path).await.expect(200));
        assert_eq!(m.get("x-image-meta-deleted").map(String::as_str), Some("True"));
        assert_eq!(m.get("x-image-meta-status").map(String::as_str), Some("deleted"));
        assert_eq!(m.get("x-image-meta-deleted_at").map(String::as_str), deleted.image()["deleted_at"].as_str());
        assert!(!m.keys().any(|k| k.starts_with("x-image-meta-property-")));
    }

    async fn non_ascii_header_values_are_percent_encoded(srv: TestServer) {
        let admin = srv.admin();
        let img = admin.create(json!({
            "name": "café ☕", "location": "file:///données",
            "properties": {"note": "line1\nline2", "plain": "100% ok", "emoji": "🚀", "tab": "a\tb", "x.y": "dotted",
                           "a b:é": "odd name", "pad": " x ", "blank": "  "}
        })).await;
        let r = admin.get(&format!("/images/{}", id_of(&img))).await.expect(200);
        let name = r.header("x-image-meta-name").unwrap();
        assert_eq!(name, "caf%C3%A9%20%E2%98%95");
        assert_eq!(decode(&name), "café ☕");
        assert_eq!(decode(&r.header("x-image-meta-location").unwrap()), "file:///données");
        let note = r.header("x-image-meta-property-note").unwrap();
        assert!(!note.contains('\n'));
        assert_eq!(decode(&note), "line1\nline2");
        assert_eq!(decode(&r.header("x-image-meta-property-emoji").unwrap()), "🚀");
        // Printable ASCII goes as is.
        assert_eq!(r.header("x-image-meta-property-plain").as_deref(), Some("100% ok"));
        // Tokens that are legal in a header name are kept.
        assert_eq!(r.header("x-image-meta-property-x.y").as_deref(), Some("dotted"));
        assert_eq!(decode(&r.header("x-image-meta-property-tab").unwrap()), "a\tb");
        // Leading and trailing spaces would be trimmed by header parsers: encoded too.
        assert_eq!(decode(&r.header("x-image-meta-property-pad").unwrap()), " x ");
        assert_eq!(decode(&r.header("x-image-meta-property-blank").unwrap()), "  ");
        // Other characters of a name are percent-encoded (header names are lower case).
        assert_eq!(r.header("x-image-meta-property-a%20b%3a%c3%a9").as_deref(), Some("odd name"));
        // The JSON body is not encoded.
        assert_eq!(r.image()["name"], "café ☕");
        let h = admin.head(&format!("/images/{}", id_of(&img))).await.expect(200);
        assert_eq!(h.header("x-image-meta-name").as_deref(), Some("caf%C3%A9%20%E2%98%95"));
    }

    async fn etag_changes_on_every_change(srv: TestServer) {
        let owner = srv.tenant("t1");
        let created = owner.post("/images", &json!({"image": {"name": "e"}})).await.expect(200);
        let id = id_of(created.image());
        let path = format!("/images/{id}");
        let mut tags = vec![etag(&created)];
        let current = |r: &Resp| etag(r);
        assert_eq!(current(&owner.get(&path).await.expect(200)), tags[0], "GET gives the tag of the write");
        assert_eq!(current(&owner.head(&path).await.expect(200)), tags[0]);
        assert_eq!(current(&owner.get(&path).await.expect(200)), tags[0], "reads change nothing");

        let writes: Vec<(Method, String, Option<serde_json::Value>)> = vec![
            (Method::PUT, path.clone(), Some(json!({"image": {"name": "e2"}}))),
            (Method::PUT, path.clone(), Some(json!({"image": {"properties": {"k": "v"}}}))),
            (Method::PUT, path.clone(), Some(json!({"image": {}}))),
            (Method::PUT, format!("{path}/members/t2"), None),
            (Method::PUT, format!("{path}/members/t2"), Some(json!({"member": {"can_share": true}}))),
            (Method::PUT, format!("{path}/members"), Some(json!({"memberships": [{"member_id": "t3"}]}))),
            (Method::DELETE, format!("{path}/members/t3"), None),
        ];
        for (method, p, body) in writes {
            let r = owner.send(method.clone(), &p, body.map(|b| b.to_string().into_bytes()), &[]).await;
            assert!(r.status == 200 || r.status == 204, "{method} {p}: {}", r.text);
            let shown = owner.get(&path).await.expect(200);
            let tag = current(&shown);
            assert!(!tags.contains(&tag), "{method} {p} did not change the ETag ({tag})");
            if r.status == 200 {
                assert_eq!(current(&r), tag, "the write response carries the new tag");
            }
            tags.push(tag);
        }
        // Failed writes change nothing.
        let before = tags.last().unwrap().clone();
        owner.put(&path, &json!({"image": {"status": "bogus"}})).await.expect_error(400);
        owner.delete(&format!("{path}/members/nobody")).await.expect_error(404);
        assert_eq!(current(&owner.get(&path).await.expect(200)), before);
        // The delete response carries a new tag too.
        let d = owner.delete(&path).await.expect(200);
        assert!(!tags.contains(&current(&d)));
        assert_eq!(current(&srv.admin().get(&path).await.expect(200)), current(&d));
        // Each image has its own tags.
        let other = owner.post("/images", &json!({"image": {"name": "e"}})).await.expect(200);
        assert!(!tags.contains(&etag(&other)));
    }

    async fn if_none_match_answers_304(srv: TestServer) {
        let admin = srv.admin();
        let created = admin.post("/images", &json!({"image": {"name": "c"}})).await.expect(200);
        let path = format!("/images/{}", id_of(created.image()));
        let tag = etag(&created);
        let get_if = |v: String| { let p = path.clone(); let a = &admin; async move {
            a.send(Method::GET, &p, None, &[("if-none-match", &v)]).await } };
        for v in [tag.clone(), "*".to_owned(), format!("\"nope\", {tag}"), format!("W/{tag}")] {
            let r = get_if(v.clone()).await;
            assert_eq!(r.status, 304, "If-None-Match: {v}");
            assert!(r.text.is_empty());
            assert_eq!(r.header("etag").as_deref(), Some(tag.as_str()));
        }
        let r = get_if("\"something-else\"".to_owned()).await.expect(200);
        assert_eq!(r.image()["name"], "c");
        admin.put(&path, &json!({"image": {"name": "c2"}})).await.expect(200);
        let r = get_if(tag.clone()).await.expect(200);
        assert_eq!(r.image()["name"], "c2", "a stale tag gets the new image");
        assert_ne!(etag(&r), tag);
        let r = get_if(etag(&r)).await;
        assert_eq!(r.status, 304);
    }

    async fn if_match_makes_writes_conditional(srv: TestServer) {
        let admin = srv.admin();
        let created = admin.post("/images", &json!({"image": {"name": "m", "properties": {"a": "1"}}})).await.expect(200);
        let path = format!("/images/{}", id_of(created.image()));
        let stale = etag(&created);
        let r = admin.put_with(&path, &json!({"image": {"name": "first"}}), &[("if-match", &stale)])
            .await.expect(200);
        let fresh = etag(&r);
        let snapshot = admin.get(&path).await.expect(200);
        // A second writer holding the old tag loses, and changes nothing.
        let r = admin.put_with(&path, &json!({"image": {"name": "second", "properties": {"b": "2"}}}),
                               &[("if-match", &stale)]).await.expect_error(412);
        assert!(r.json["error"]["message"].as_str().unwrap().contains("changed"), "{}", r.text);
        admin.put_with(&path, &json!({"image": {"name": "second"}}), &[("if-match", "\"garbage\"")])
            .await.expect_error(412);
        admin.send(Method::DELETE, &path, None, &[("if-match", &stale)]).await.expect_error(412);
        let now = admin.get(&path).await.expect(200);
        assert_eq!(now.image(), snapshot.image());
        assert_eq!(etag(&now), fresh);
        // A membership change makes an earlier tag stale too.
        admin.send(Method::PUT, &format!("{path}/members/t2"), None, &[]).await.expect(204);
        admin.put_with(&path, &json!({"image": {"name": "third"}}), &[("if-match", &fresh)])
            .await.expect_error(412);
        let current = etag(&admin.get(&path).await.expect(200));
        // Matching tags (one of a list, or *) let the write through.
        let r = admin.put_with(&path, &json!({"image": {"name": "third"}}),
                               &[("if-match", &format!("\"x\", {current}"))]).await.expect(200);
        assert_eq!(r.image()["name"], "third");
        let r = admin.put_with(&path, &json!({"image": {"name": "fourth"}}), &[("if-match", "*")]).await.expect(200);
        let last = etag(&r);
        let r = admin.send(Method::DELETE, &path, None, &[("if-match", &last)]).await.expect(200);
        assert_eq!(r.image()["deleted"], true);
    }

    async fn request_ids(srv: TestServer) {
        let admin = srv.admin();
        let img = admin.create(json!({"name": "r"})).await;
        let mut seen = std::collections::BTreeSet::new();
        let responses = vec![
            admin.get("/images").await,
            admin.get(&format!("/images/{}", id_of(&img))).await,
            admin.head(&format!("/images/{}", id_of(&img))).await,
            admin.get("/images/6e5d4c3b-2a19-4807-b6a5-948372615049").await,
            admin.get("/nowhere").await,
            admin.send(Method::PATCH, "/images", None, &[]).await,
            admin.post("/images", &json!({"image": {"status": "bogus"}})).await,
            admin.send(Method::PUT, &format!("/images/{}/members/t2", id_of(&img)), None, &[]).await,
            admin.get("/healthz").await,
            srv.caller(&[("x-auth-token", "t")]).get("/images").await,
        ];
        for r in &responses {
            let id = r.header("x-openstack-request-id").unwrap_or_else(|| panic!("no request id: {r:?}"));
            let uuid = id.strip_prefix("req-").unwrap_or_else(|| panic!("req-<uuid>: {id}"));
            let parsed = uuid::Uuid::parse_str(uuid).expect("a UUID");
            assert_eq!(parsed.hyphenated().to_string(), uuid);
            assert!(seen.insert(id.clone()), "request ids are unique: {id}");
        }
        // A caller's id is reused.
        for mine in ["req-3f2b8c1e-7d4a-4e5b-9c6d-1a2b3c4d5e6f", "my-trace_42"] {
            let r = admin.send(Method::GET, "/images", None, &[("x-openstack-request-id", mine)]).await;
            assert_eq!(r.header("x-openstack-request-id").as_deref(), Some(mine));
            let r = admin.send(Method::GET, "/images/not-a-uuid", None, &[("x-openstack-request-id", mine)]).await;
            assert_eq!(r.status, 404);
            assert_eq!(r.header("x-openstack-request-id").as_deref(), Some(mine));
        }
        // Each request's id is in its log line.
        access_log();
        let r = admin.get(&format!("/images/{}", id_of(&img))).await.expect(200);
        let generated = r.header("x-openstack-request-id").unwrap();
        let lines = logged_lines_with(&generated);
        assert_eq!(lines.len(), 1, "one log line per request: {lines:?}");
        assert!(lines[0].contains("status=200") && lines[0].contains("GET"), "{}", lines[0]);
        let mine = format!("trace-{}", uuid::Uuid::new_v4().simple());
        admin.send(Method::DELETE, "/images/6e5d4c3b-2a19-4807-b6a5-948372615049", None,
                   &[("x-openstack-request-id", &mine)]).await.expect_error(404);
        let lines = logged_lines_with(&mine);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("status=404"), "{}", lines[0]);
        // One that does not look like an id is replaced.
        let r = admin.send(Method::GET, "/images", None, &[("x-openstack-request-id", "bad id; drop table")]).await;
        assert!(r.header("x-openstack-request-id").unwrap().starts_with("req-"));
    }

    async fn wrong_methods_are_405_with_allow(srv: TestServer) {
        let admin = srv.admin();
        let img = admin.create(json!({"name": "x"})).await;
        let id = id_of(&img);
        let cases: Vec<(Method, String, Vec<&str>)> = vec![
            (Method::POST, format!("/images/{id}"), vec!["GET", "HEAD", "PUT", "DELETE"]),
            (Method::PATCH, format!("/images/{id}"), vec!["GET", "PUT", "DELETE"]),
            (Method::DELETE, "/images".to_owned(), vec!["GET", "POST"]),
            (Method::PUT, "/images".to_owned(), vec!["GET", "POST"]),
            (Method::POST, "/images/detail".to_owned(), vec!["GET"]),
            (Method::POST, format!("/images/{id}/members"), vec!["GET", "PUT"]),
            (Method::DELETE, format!("/images/{id}/members"), vec!["GET", "PUT"]),
            (Method::GET, format!("/images/{id}/members/t2"), vec!["PUT", "DELETE"]),
            (Method::POST, "/shared-images/t2".to_owned(), vec!["GET"]),
            (Method::DELETE, "/healthz".to_owned(), vec!["GET"]),
        ];
        for (method, path, allowed) in cases {
            let r = admin.send(method.clone(), &path, Some(b"{}".to_vec()), &[]).await;
            assert_eq!(r.status, 405, "{method} {path}");
            let allow = r.header("allow").unwrap_or_else(|| panic!("{method} {path}: no Allow header"));
            let allow: Vec<String> = allow.split(',').map(|s| s.trim().to_owned()).collect();
            for a in allowed {
                assert!(allow.iter().any(|x| x == a), "{method} {path}: Allow {allow:?} lacks {a}");
            }
            assert!(!allow.iter().any(|x| *x == method.as_str()), "{method} {path}: Allow {allow:?}");
            let r = r.expect_error(405);
            assert_eq!(r.header("content-type").as_deref(), Some("application/json"));
        }
        // Nothing was changed by them.
        assert_eq!(admin.get(&format!("/images/{id}")).await.expect(200).image(), &img);
    }

    async fn unknown_paths_are_404_json(srv: TestServer) {
        let admin = srv.admin();
        for path in ["/nope", "/v1/images", "/images/x/y/z", "/images/detail/more", "/shared-images",
                     "/shared-images/t1/extra", "/healthz/x"] {
            let r = admin.get(path).await;
            assert_eq!(r.status, 404, "{path}");
            let r = r.expect_error(404);
            assert_eq!(r.header("content-type").as_deref(), Some("application/json"));
            assert!(r.header("x-openstack-request-id").is_some());
        }
        let r = admin.post("/nope", &json!({})).await.expect_error(404);
        assert_eq!(r.json["error"]["title"], "Not Found");
    }

    async fn errors_have_the_json_shape(srv: TestServer) {
        let admin = srv.admin();
        let r = admin.post("/images", &json!({"image": {"status": "bogus"}})).await.expect_error(400);
        assert_eq!(r.json["error"]["title"], "Bad Request");
        assert_eq!(r.header("content-type").as_deref(), Some("application/json"));
        let r = srv.caller(&[("x-auth-token", "t")]).get("/images").await.expect_error(401);
        assert_eq!(r.json["error"]["title"], "Unauthorized");
        let img = srv.tenant("t1").create(json!({"name": "x", "is_public": true})).await;
        let r = srv.tenant("t2").delete(&format!("/images/{}", id_of(&img))).await.expect_error(403);
        assert_eq!(r.json["error"]["title"], "Forbidden");
        let r = admin.post("/images", &json!({"image": {"id": img["id"]}})).await.expect_error(409);
        assert_eq!(r.json["error"]["title"], "Conflict");
        let props: serde_json::Map<String, serde_json::Value> = (0..129).map(|i| (format!("p{i}"), json!("v"))).collect();
        let r = admin.post("/images", &json!({"image": {"properties": props}})).await.expect_error(413);
        assert_eq!(r.json["error"]["title"], "Payload Too Large");
    }

    async fn probes(srv: TestServer) {
        let r = srv.admin().get("/healthz").await.expect(200);
        assert_eq!(r.json["status"], "ok");
        let r = srv.admin().get("/readyz").await.expect(200);
        assert_eq!(r.json["status"], "ready");
        // Probes do not need credentials, and do not care about bad ones.
        srv.caller(&[("x-auth-token", "t")]).get("/healthz").await.expect(200);
        srv.caller(&[("x-auth-token", "t")]).get("/readyz").await.expect(200);
    }
}

backend_tests! {
    // With a budget large enough for them (the default one is not: see meta_budget.rs), every
    // property gets its header.
    |c: &mut glimpse::config::ServerConfig| {
        c.meta_headers.max_headers = 1000;
        c.meta_headers.max_bytes = 1 << 20;
    };

    async fn one_header_per_property_even_for_many(srv: TestServer) {
        let admin = srv.admin();
        let props: serde_json::Map<String, serde_json::Value> =
            (0..128).map(|i| (format!("prop{i:03}"), json!(format!("value {i}")))).collect();
        let img = admin.create(json!({"name": "many", "properties": props})).await;
        let r = admin.get_unlimited(&format!("/images/{}", id_of(&img))).await.expect(200);
        let m = meta(&r);
        for i in 0..128 {
            assert_eq!(m.get(&format!("x-image-meta-property-prop{i:03}")).map(String::as_str),
                       Some(format!("value {i}").as_str()));
        }
        assert_eq!(m.keys().filter(|k| k.starts_with("x-image-meta-property-")).count(), 128);
        assert_eq!(r.image(), &img);
    }
}
