//! `PATCH /v2/images/{id}` and the tag API (contract §3.3, §3.7), on every backend, with
//! concurrent writers.

use crate::backend_tests;
use crate::v2_support::{self as v2, PATCH_V20, error, no_content};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

backend_tests! {
    async fn v2_patch_adds_replaces_and_removes_core_and_extra_properties(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let img = t1.create(json!({"name": "before", "k1": "v1"})).await;
        let id = v2::id(&img);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let r = t1.patch(&id, &json!([
            {"op": "replace", "path": "/name", "value": "after"},
            {"op": "add", "path": "/min_ram", "value": 256},
            {"op": "replace", "path": "/disk_format", "value": "qcow2"},
            {"op": "add", "path": "/container_format", "value": "bare"},
            {"op": "replace", "path": "/k1", "value": "v1b"},
            {"op": "add", "path": "/k2", "value": "v2"},
            {"op": "add", "path": "/owner_specified.openstack.md5", "value": ""},
            {"op": "add", "path": "/a~1b~0c", "value": "escaped"},
            {"op": "replace", "path": "/os_hidden", "value": true},
            {"op": "replace", "path": "/visibility", "value": "private"},
        ])).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let p = r.json.clone();
        assert_eq!(p["name"], "after");
        assert_eq!(p["min_ram"], 256);
        assert_eq!(p["disk_format"], "qcow2");
        assert_eq!(p["container_format"], "bare");
        assert_eq!(p["k1"], "v1b");
        assert_eq!(p["k2"], "v2");
        assert_eq!(p["owner_specified.openstack.md5"], "");
        assert_eq!(p["a/b~c"], "escaped");
        assert_eq!(p["os_hidden"], true);
        assert_eq!(p["visibility"], "private");
        assert_eq!(p["created_at"], img["created_at"]);
        assert_ne!(p["updated_at"], img["updated_at"], "updated_at moves");
        assert_eq!(t1.show(&id).await, p);

        // add of an existing extra property overwrites it; remove deletes it.
        let r = t1.patch(&id, &json!([{"op": "add", "path": "/k2", "value": "again"},
                                      {"op": "remove", "path": "/k1"}])).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["k2"], "again");
        assert!(r.json.get("k1").is_none(), "{}", r.text);
        // replace or remove of a missing extra property is 409, and nothing changes.
        error(&t1.patch(&id, &json!([{"op": "add", "path": "/k3", "value": "x"},
                                     {"op": "replace", "path": "/nope", "value": "x"}])).await, 409);
        error(&t1.patch(&id, &json!([{"op": "remove", "path": "/nope"}])).await, 409);
        let now = t1.show(&id).await;
        assert!(now.get("k3").is_none(), "a failed patch changes nothing: {now}");
        // remove of a base field is 403.
        error(&t1.patch(&id, &json!([{"op": "remove", "path": "/name"}])).await, 403);
        // Nulls where allowed.
        let r = t1.patch(&id, &json!([{"op": "replace", "path": "/name", "value": null},
                                      {"op": "replace", "path": "/disk_format", "value": null}])).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["name"], Value::Null);
        assert_eq!(r.json["disk_format"], Value::Null);
        // An empty patch changes nothing, updated_at included.
        let before = t1.show(&id).await;
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let r = t1.patch(&id, &json!([])).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json, before);
    }

    async fn v2_patch_tags_with_replace_and_add(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let id = t1.create_id(json!({"tags": ["old"]})).await;
        let r = t1.patch(&id, &json!([{"op": "replace", "path": "/tags", "value": ["z", "a", "z"]}])).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["tags"], json!(["a", "z"]));
        let r = t1.patch(&id, &json!([{"op": "add", "path": "/tags", "value": []}])).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["tags"], json!([]));
        let tags: Vec<String> = (0..129).map(|i| format!("t{i}")).collect();
        error(&t1.patch(&id, &json!([{"op": "replace", "path": "/tags", "value": tags}])).await, 413);
        error(&t1.patch(&id, &json!([{"op": "add", "path": "/tags/-", "value": "x"}])).await, 400);
        error(&t1.patch(&id, &json!([{"op": "replace", "path": "/tags", "value": "x"}])).await, 400);
        assert_eq!(t1.show(&id).await["tags"], json!([]));
    }

    async fn v2_patch_refuses_bad_operations_before_the_lookup(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let id = t1.create_id(json!({"name": "n"})).await;
        let missing = v2::uuid();
        let bad_ops = [
            json!({}),
            json!([{"op": "move", "from": "/name", "path": "/x"}]),
            json!([{"op": "copy", "from": "/name", "path": "/x"}]),
            json!([{"op": "test", "path": "/name", "value": "n"}]),
            json!([{"path": "/name", "value": "x"}]),
            json!([{"op": "replace", "value": "x"}]),
            json!([{"op": "replace", "path": "name", "value": "x"}]),
            json!([{"op": "replace", "path": "/name/", "value": "x"}]),
            json!([{"op": "replace", "path": "//name", "value": "x"}]),
            json!([{"op": "replace", "path": "/a~2", "value": "x"}]),
            json!([{"op": "replace", "path": "/name/x", "value": "x"}]),
            json!([{"op": "replace", "path": "/name"}]),
            json!([{"op": "add", "path": "/k"}]),
            json!([{"op": "replace", "path": "/min_ram", "value": -1}]),
            json!([{"op": "replace", "path": "/min_disk", "value": "1"}]),
            json!([{"op": "replace", "path": "/protected", "value": null}]),
            json!([{"op": "replace", "path": "/visibility", "value": "everyone"}]),
            json!([{"op": "replace", "path": "/disk_format", "value": "floppy"}]),
            json!([{"op": "add", "path": "/k", "value": 1}]),
            json!([{"op": "add", "path": "/k", "value": null}]),
            json!([{"op": "add", "path": "/kernel_id", "value": "abc"}]),
            json!([{"op": "add", "path": format!("/{}", "k".repeat(256)), "value": "v"}]),
            json!(["add"]),
        ];
        for ops in &bad_ops {
            error(&t1.patch(&id, ops).await, 400);
            error(&t1.patch(&missing, ops).await, 400);
        }
        for root in ["created_at", "updated_at", "status", "checksum", "size", "virtual_size",
                     "direct_url", "self", "file", "schema", "id", "os_hash_algo", "os_hash_value",
                     "location", "deleted", "deleted_at", "os_glance_x"] {
            let ops = json!([{"op": "replace", "path": format!("/{root}"), "value": "x"}]);
            error(&t1.patch(&id, &ops).await, 403);
            error(&t1.patch(&missing, &ops).await, 403);
        }
        // A wrong or missing Content-Type is 415 with Accept-Patch.
        let ok_ops = json!([{"op": "replace", "path": "/name", "value": "x"}]);
        for ct in ["application/json", "application/json-patch+json", "text/plain"] {
            let r = t1.patch_as(&id, &ok_ops, ct).await;
            error(&r, 415);
            assert_eq!(r.header("accept-patch").as_deref(),
                Some("application/openstack-images-v2.0-json-patch, application/openstack-images-v2.1-json-patch"));
            error(&t1.patch_as(&missing, &ok_ops, ct).await, 415);
        }
        let r = t1.send(Method::PATCH, &format!("/v2/images/{id}"),
            Some(ok_ops.to_string().into_bytes()), &[("content-type", "")]).await;
        error(&r, 415);
        // Parameters of the media type are ignored; openstacksdk's `Accept: ""` is fine.
        let r = t1.send(Method::PATCH, &format!("/v2/images/{id}"),
            Some(json!([{"op": "add", "path": "/sdk", "value": "yes"}]).to_string().into_bytes()),
            &[("content-type", "application/openstack-images-v2.1-json-patch; charset=utf-8"), ("accept", "")]).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["sdk"], "yes");
        // Nothing else was changed by the refused patches; a valid patch of a missing image is 404.
        assert_eq!(t1.show(&id).await["name"], "n");
        error(&t1.patch(&missing, &ok_ops).await, 404);
    }

    async fn v2_patch_draft4_dialect(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let id = t1.create_id(json!({"k": "v"})).await;
        let r = t1.patch_as(&id, &json!([{"replace": "/name", "value": "d4"}, {"add": "/k2", "value": "x"}]),
            PATCH_V20).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["name"], "d4");
        assert_eq!(r.json["k2"], "x");
        // In v2.0, add of an existing key is a conflict; two op keys are 400.
        error(&t1.patch_as(&id, &json!([{"add": "/k", "value": "y"}]), PATCH_V20).await, 409);
        error(&t1.patch_as(&id, &json!([{"add": "/name", "value": "y"}]), PATCH_V20).await, 409);
        error(&t1.patch_as(&id, &json!([{"add": "/a", "replace": "/b", "value": "y"}]), PATCH_V20).await, 400);
        let r = t1.patch_as(&id, &json!([{"remove": "/k"}]), PATCH_V20).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(r.json.get("k").is_none());
    }

    async fn v2_patch_policy_owner_visibility_and_other_projects(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let admin = v2::admin(&srv);
        let id = t1.create_id(json!({"name": "mine"})).await;
        let rename = json!([{"op": "replace", "path": "/name", "value": "stolen"}]);
        // Another project cannot see the shared image: 404.
        error(&v2::member(&srv, "t2").patch(&id, &rename).await, 404);
        // A reader of the owning project sees it but may not change it: 403.
        error(&v2::reader(&srv, "t1").patch(&id, &rename).await, 403);
        error(&v2::reader(&srv, "t1").patch(&id, &json!([])).await, 403);
        // A project that sees a public image may not change it.
        let public = admin.create_id(json!({"visibility": "public", "owner": "t9"})).await;
        error(&t1.patch(&public, &rename).await, 403);
        assert_eq!(t1.show(&public).await["name"], Value::Null);
        // Owner changes are for admins only, by add or replace.
        error(&t1.patch(&id, &json!([{"op": "replace", "path": "/owner", "value": "t2"}])).await, 403);
        error(&t1.patch(&id, &json!([{"op": "add", "path": "/owner", "value": "t2"}])).await, 403);
        // Public needs an admin; community only a member of the owner.
        error(&t1.patch(&id, &json!([{"op": "replace", "path": "/visibility", "value": "public"}])).await, 403);
        let r = t1.patch(&id, &json!([{"op": "replace", "path": "/visibility", "value": "community"}])).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["visibility"], "community");
        error(&v2::member(&srv, "t2").patch(&id, &json!([{"op": "replace", "path": "/visibility", "value": "community"}])).await, 403);
        error(&v2::member(&srv, "t2").patch(&id, &rename).await, 403);
        assert_eq!(t1.show(&id).await["name"], "mine");
        let r = admin.patch(&id, &json!([{"op": "replace", "path": "/visibility", "value": "public"},
                                         {"op": "replace", "path": "/owner", "value": "t2"}])).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["owner"], "t2");
        assert_eq!(r.json["visibility"], "public");
        // Now t2 owns it and t1 only sees it.
        error(&t1.patch(&id, &rename).await, 403);
        let r = v2::member(&srv, "t2").patch(&id, &rename).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }

    async fn v2_patch_formats_only_while_queued(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let active = crate::support::id_of(&v2::v1_create(&srv,
            json!({"name": "a", "owner": "t1", "status": "active", "size": 3,
                   "disk_format": "raw", "container_format": "bare"})).await);
        error(&t1.patch(&active, &json!([{"op": "replace", "path": "/disk_format", "value": "qcow2"}])).await, 403);
        error(&t1.patch(&active, &json!([{"op": "replace", "path": "/container_format", "value": "ovf"}])).await, 403);
        // Other metadata may be patched in any status.
        let r = t1.patch(&active, &json!([{"op": "replace", "path": "/name", "value": "renamed"},
                                         {"op": "add", "path": "/k", "value": "v"}])).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["disk_format"], "raw");
        assert_eq!(r.json["name"], "renamed");
        assert_eq!(r.json["status"], "active");
    }

    async fn v2_patch_property_quota(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let mut props = serde_json::Map::new();
        for i in 0..128 {
            props.insert(format!("p{i}"), json!("v"));
        }
        let id = t1.create_id(Value::Object(props)).await;
        error(&t1.patch(&id, &json!([{"op": "add", "path": "/one_more", "value": "v"}])).await, 413);
        // Replacing an existing one is fine at the limit, and so is swapping one for another.
        let r = t1.patch(&id, &json!([{"op": "replace", "path": "/p0", "value": "w"}])).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = t1.patch(&id, &json!([{"op": "remove", "path": "/p1"},
                                      {"op": "add", "path": "/one_more", "value": "v"}])).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["one_more"], "v");
        assert!(r.json.get("p1").is_none());
    }

    async fn v2_tags_put_and_delete(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let img = t1.create(json!({})).await;
        let id = v2::id(&img);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        no_content(&t1.put_empty(&format!("/v2/images/{id}/tags/blue")).await);
        let shown = t1.show(&id).await;
        assert_eq!(shown["tags"], json!(["blue"]));
        assert_ne!(shown["updated_at"], img["updated_at"]);
        // Idempotent, and updated_at still moves.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        no_content(&t1.put_empty(&format!("/v2/images/{id}/tags/blue")).await);
        let again = t1.show(&id).await;
        assert_eq!(again["tags"], json!(["blue"]));
        assert_ne!(again["updated_at"], shown["updated_at"]);
        no_content(&t1.put_empty(&format!("/v2/images/{id}/tags/{}", "with%20space")).await);
        no_content(&t1.put_empty(&format!("/v2/images/{id}/tags/a%2Fb")).await);
        assert_eq!(t1.show(&id).await["tags"], json!(["a/b", "blue", "with space"]));
        no_content(&t1.delete(&format!("/v2/images/{id}/tags/blue")).await);
        error(&t1.delete(&format!("/v2/images/{id}/tags/blue")).await, 404);
        assert_eq!(t1.show(&id).await["tags"], json!(["a/b", "with space"]));
        error(&t1.put_empty(&format!("/v2/images/{id}/tags/{}", "t".repeat(256))).await, 400);
        let r = t1.send(Method::PUT, &format!("/v2/images/{id}/tags/x"), Some(b"{}".to_vec()), &[]).await;
        error(&r, 400);
        // Policy: readers 403, invisible 404, missing 404.
        error(&v2::reader(&srv, "t1").put_empty(&format!("/v2/images/{id}/tags/r")).await, 403);
        error(&v2::reader(&srv, "t1").delete(&format!("/v2/images/{id}/tags/with%20space")).await, 403);
        error(&v2::member(&srv, "t2").put_empty(&format!("/v2/images/{id}/tags/r")).await, 404);
        error(&t1.put_empty(&format!("/v2/images/{}/tags/r", v2::uuid())).await, 404);
        assert_eq!(t1.show(&id).await["tags"], json!(["a/b", "with space"]));
    }

    async fn v2_tags_limit_is_128(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let tags: Vec<String> = (0..128).map(|i| format!("t{i:03}")).collect();
        let id = t1.create_id(json!({"tags": tags})).await;
        error(&t1.put_empty(&format!("/v2/images/{id}/tags/extra")).await, 413);
        // An existing tag is still fine at the limit.
        no_content(&t1.put_empty(&format!("/v2/images/{id}/tags/t000")).await);
        assert_eq!(t1.show(&id).await["tags"].as_array().expect("tags").len(), 128);
        no_content(&t1.delete(&format!("/v2/images/{id}/tags/t000")).await);
        no_content(&t1.put_empty(&format!("/v2/images/{id}/tags/extra")).await);
        let tags = t1.show(&id).await["tags"].clone();
        assert_eq!(tags.as_array().expect("tags").len(), 128);
        assert!(tags.as_array().expect("tags").contains(&json!("extra")));
    }

    async fn v2_concurrent_tag_puts_and_patches_lose_nothing(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let id = t1.create_id(json!({"name": "busy"})).await;
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..24 {
            let http = srv.http.clone();
            let base = format!("{}/v2/images/{id}", srv.v2);
            tasks.spawn(async move {
                let req = if i % 2 == 0 {
                    http.put(format!("{base}/tags/tag{:02}", i / 2))
                } else {
                    let ops = json!([{"op": "add", "path": format!("/prop{:02}", i / 2),
                                      "value": format!("v{}", i / 2)}]);
                    http.patch(&base)
                        .header("content-type", v2::PATCH_V21)
                        .body(ops.to_string())
                };
                let r = req
                    .header("x-auth-token", "t")
                    .header("x-identity-status", "Confirmed")
                    .header("x-project-id", "t1")
                    .header("x-roles", "member")
                    .send()
                    .await
                    .expect("sent");
                let status = r.status().as_u16();
                (i, status, r.text().await.expect("body"))
            });
        }
        while let Some(done) = tasks.join_next().await {
            let (i, status, text) = done.expect("task");
            let want = if i % 2 == 0 { 204 } else { 200 };
            assert_eq!(status, want, "request {i}: {text}");
        }
        let img = t1.show(&id).await;
        let expected: Vec<String> = (0..12).map(|i| format!("tag{i:02}")).collect();
        assert_eq!(img["tags"], json!(expected));
        for i in 0..12 {
            assert_eq!(img[format!("prop{i:02}")], format!("v{i}"), "{img}");
        }
    }

    async fn v2_patch_and_tag_edge_cases(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let admin = v2::admin(&srv);
        let id = t1.create_id(json!({"name": "e"})).await;
        for ops in [
            json!([{"op": "replace", "path": "/name", "value": "\u{1F600}"}]),
            json!([{"op": "add", "path": "/k", "value": "\u{1F600}"}]),
            json!([{"op": "add", "path": "/k\u{1F600}", "value": "v"}]),
            json!([{"op": "replace", "path": "/tags", "value": ["t".repeat(256)]}]),
            json!([{"op": "replace", "path": "/tags", "value": ["\u{1F600}"]}]),
            json!([{"op": "replace", "path": "/name", "value": "n".repeat(256)}]),
            json!([{"op": "replace", "path": "/owner", "value": "o".repeat(256)}]),
        ] {
            error(&admin.patch(&id, &ops).await, 400);
        }
        error(&t1.put_empty(&format!("/v2/images/{id}/tags/%F0%9F%98%80")).await, 400);
        assert_eq!(t1.show(&id).await["name"], "e");
        // Whitespace around pointer segments is trimmed.
        let r = t1.patch(&id, &json!([{"op": "replace", "path": "/ name ", "value": "trimmed"}])).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["name"], "trimmed");
        // An admin may set any owner, null included; the image then has no owning project.
        let r = admin.patch(&id, &json!([{"op": "replace", "path": "/owner", "value": null}])).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["owner"], Value::Null);
        error(&t1.patch(&id, &json!([{"op": "replace", "path": "/name", "value": "mine?"}])).await, 403);
        // The deleted image is gone for patches, tags and actions.
        let r = admin.patch(&id, &json!([{"op": "replace", "path": "/owner", "value": "t1"}])).await;
        assert_eq!(r.status, 200, "{}", r.text);
        no_content(&t1.delete(&format!("/v2/images/{id}")).await);
        error(&t1.patch(&id, &json!([{"op": "replace", "path": "/name", "value": "x"}])).await, 404);
        error(&t1.patch_as(&id, &json!([{"replace": "/name", "value": "x"}]), PATCH_V20).await, 404);
        error(&t1.put_empty(&format!("/v2/images/{id}/tags/x")).await, 404);
        error(&t1.delete(&format!("/v2/images/{id}/tags/x")).await, 404);
        error(&t1.post_empty(&format!("/v2/images/{id}/actions/deactivate")).await, 404);
        error(&t1.get(&format!("/v2/images/{id}/members")).await, 404);
        error(&t1.get(&format!("/v2/images/{id}/file")).await, 404);
    }

    async fn v2_patch_checks_operations_in_order(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let id = t1.create_id(json!({"name": "o"})).await;
        let read_only = json!({"op": "replace", "path": "/status", "value": "active"});
        let bad_op = json!({"op": "move", "from": "/name", "path": "/x"});
        let rename = json!({"op": "replace", "path": "/name", "value": "changed"});
        error(&t1.patch(&id, &json!([read_only, bad_op])).await, 403);
        error(&t1.patch(&id, &json!([bad_op, read_only])).await, 400);
        error(&t1.patch(&id, &json!([rename, bad_op])).await, 400);
        error(&t1.patch(&id, &json!([rename, read_only])).await, 403);
        // The media type is checked first of all.
        error(&t1.patch_as(&id, &json!([bad_op]), "application/json").await, 415);
        // Policy after the lookup: a reader gets 400 for a bad op, 403 for a good one.
        error(&v2::reader(&srv, "t1").patch(&id, &json!([bad_op])).await, 400);
        error(&v2::reader(&srv, "t1").patch(&id, &json!([rename])).await, 403);
        // A later failing operation undoes the earlier ones.
        let r = t1.patch(&id, &json!([rename, {"op": "remove", "path": "/missing"}])).await;
        error(&r, 409);
        let r = t1.patch(&id, &json!([rename, {"op": "replace", "path": "/visibility", "value": "public"}])).await;
        error(&r, 403);
        assert_eq!(t1.show(&id).await["name"], "o");
    }
}
