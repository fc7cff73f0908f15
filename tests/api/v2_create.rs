//! `POST /v2/images`, `GET /v2/images/{id}` and `DELETE /v2/images/{id}` (contract §2, §3.1,
//! §3.2, §3.4), on every backend.

use crate::backend_tests;
use crate::support::keys_of;
use crate::v2_support::{self as v2, BASE_FIELDS, error, no_content};
use serde_json::{Value, json};

backend_tests! {
    async fn v2_create_applies_the_defaults_and_reads_back(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let r = t1.post("/v2/images", &json!({})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let img = r.json.clone();
        assert_eq!(keys_of(&img), BASE_FIELDS);
        let id = v2::id(&img);
        let parsed = uuid::Uuid::parse_str(&id).expect("uuid");
        assert_eq!(parsed.hyphenated().to_string(), id, "lowercase uuid");
        assert_eq!(img["status"], "queued");
        assert_eq!(img["visibility"], "shared");
        assert_eq!(img["protected"], false);
        assert_eq!(img["os_hidden"], false);
        assert_eq!(img["owner"], "t1");
        assert_eq!(img["tags"], json!([]));
        assert_eq!(img["min_disk"], 0);
        assert_eq!(img["min_ram"], 0);
        for null in ["name", "checksum", "os_hash_algo", "os_hash_value", "size", "virtual_size",
                     "container_format", "disk_format"] {
            assert_eq!(img[null], Value::Null, "{null}");
        }
        assert_eq!(img["self"], format!("/v2/images/{id}"));
        assert_eq!(img["file"], format!("/v2/images/{id}/file"));
        assert_eq!(img["schema"], "/v2/schemas/image");
        assert_eq!(img["created_at"], img["updated_at"]);
        let created = img["created_at"].as_str().expect("created_at");
        assert!(time::OffsetDateTime::parse(created, &time::format_description::well_known::Rfc3339).is_ok(),
            "{created}");
        assert!(created.ends_with('Z') && created.len() == 20, "no fraction: {created}");
        let location = r.header("location").expect("Location");
        assert!(location.starts_with("http://"), "{location}");
        assert!(location.ends_with(&format!("/v2/images/{id}")), "{location}");
        assert!(r.header("openstack-image-import-methods").is_none());
        // GET gives exactly the created body.
        assert_eq!(t1.show(&id).await, img);
    }

    async fn v2_create_keeps_given_fields_and_extra_properties(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let given = v2::uuid();
        let img = t1.create(json!({
            "id": given, "name": "full", "visibility": "private", "protected": true,
            "os_hidden": true, "container_format": "bare", "disk_format": "qcow2",
            "min_disk": 3, "min_ram": 512, "tags": ["b", "a", "b"],
            "owner": "t1", "architecture": "x86_64", "owner_specified.openstack.md5": "",
            "a:b/c": "odd key"
        })).await;
        assert_eq!(img["id"], given);
        assert_eq!(img["name"], "full");
        assert_eq!(img["visibility"], "private");
        assert_eq!(img["protected"], true);
        assert_eq!(img["os_hidden"], true);
        assert_eq!(img["container_format"], "bare");
        assert_eq!(img["disk_format"], "qcow2");
        assert_eq!(img["min_disk"], 3);
        assert_eq!(img["min_ram"], 512);
        assert_eq!(img["tags"], json!(["a", "b"]), "sorted, duplicates collapse");
        assert_eq!(img["architecture"], "x86_64");
        assert_eq!(img["owner_specified.openstack.md5"], "");
        assert_eq!(img["a:b/c"], "odd key");
        assert_eq!(t1.show(&given).await, img);
        // The same id again, by anyone, is a conflict.
        error(&t1.post("/v2/images", &json!({"id": given})).await, 409);
        error(&v2::admin(&srv).post("/v2/images", &json!({"id": given, "name": "other"})).await, 409);
        // Even after the image is deleted (the row is only soft-deleted).
        let p = v2::admin(&srv).patch(&given, &json!([{"op": "replace", "path": "/protected", "value": false}])).await;
        assert_eq!(p.status, 200, "{}", p.text);
        no_content(&t1.delete(&format!("/v2/images/{given}")).await);
        error(&t1.post("/v2/images", &json!({"id": given})).await, 409);
    }

    async fn v2_create_refuses_reserved_read_only_and_ill_typed_fields(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let forbidden = [
            json!({"self": "/x"}), json!({"file": "/x"}), json!({"schema": "/x"}),
            json!({"direct_url": "x"}), json!({"stores": "x"}), json!({"status": "active"}),
            json!({"checksum": "x"}), json!({"size": 1}), json!({"virtual_size": 1}),
            json!({"created_at": "2020-01-01T00:00:00Z"}), json!({"updated_at": "2020-01-01T00:00:00Z"}),
            json!({"locations": []}), json!({"location": "x"}), json!({"deleted": false}),
            json!({"deleted_at": "x"}), json!({"os_glance_foo": "x"}), json!({"os_hash_algo": "md5"}),
            json!({"os_hash_value": "ab"}),
        ];
        for body in forbidden {
            error(&t1.post("/v2/images", &body).await, 403);
        }
        let bad = [
            json!({"visibility": "everyone"}), json!({"visibility": null}), json!({"protected": null}),
            json!({"protected": "true"}), json!({"os_hidden": "yes"}), json!({"min_disk": -1}),
            json!({"min_ram": "1"}), json!({"min_disk": null}), json!({"name": "n".repeat(256)}),
            json!({"name": 7}), json!({"id": "not-a-uuid"}), json!({"disk_format": "floppy"}),
            json!({"container_format": "zip"}), json!({"tags": "a"}), json!({"tags": [1]}),
            json!({"tags": ["t".repeat(256)]}), json!({"custom": 1}), json!({"custom": true}),
            json!({"custom": null}), json!({"custom": {"a": "b"}}), json!({"custom": ["a"]}),
            json!({("k".repeat(256)): "v"}), json!({"kernel_id": "abc"}),
            json!({"cinder_encryption_key_deletion_policy": "sometimes"}),
            json!({"name": "emoji \u{1F600}"}), json!({"custom": "\u{1F600}"}),
            json!({"key\u{1F600}": "v"}), json!({"tags": ["\u{1F600}"]}),
        ];
        for body in bad {
            error(&t1.post("/v2/images", &body).await, 400);
        }
        let r = t1.send(reqwest::Method::POST, "/v2/images", Some(b"[]".to_vec()), &[]).await;
        error(&r, 400);
        // Nothing was created by the refused requests.
        assert_eq!(t1.list_ids("visibility=all").await, Vec::<String>::new());
        // Valid custom schema properties pass.
        let k = v2::uuid();
        let img = t1.create(json!({"kernel_id": k, "ramdisk_id": null,
            "cinder_encryption_key_deletion_policy": "do_not_delete"})).await;
        assert_eq!(img["kernel_id"], k);
        assert_eq!(img["cinder_encryption_key_deletion_policy"], "do_not_delete");
    }

    async fn v2_create_policy_for_owner_visibility_and_roles(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        error(&t1.post("/v2/images", &json!({"visibility": "public"})).await, 403);
        error(&t1.post("/v2/images", &json!({"owner": "t2"})).await, 403);
        error(&t1.post("/v2/images", &json!({"owner": null})).await, 403);
        error(&v2::reader(&srv, "t1").post("/v2/images", &json!({"name": "r"})).await, 403);
        assert_eq!(t1.list_ids("visibility=all").await, Vec::<String>::new());
        let c = t1.create(json!({"visibility": "community"})).await;
        assert_eq!(c["visibility"], "community");
        // An admin may choose any owner, null included, and make public images.
        let admin = v2::admin(&srv);
        let a = admin.create(json!({"owner": "t9", "visibility": "public"})).await;
        assert_eq!(a["owner"], "t9");
        assert_eq!(a["visibility"], "public");
        let n = admin.create(json!({"name": "ownerless"})).await;
        assert_eq!(n["owner"], Value::Null, "the no-project admin owns nothing");
        let pa = v2::project_admin(&srv, "ops").create(json!({})).await;
        assert_eq!(pa["owner"], "ops");
        let n2 = v2::project_admin(&srv, "ops").create(json!({"owner": null})).await;
        assert_eq!(n2["owner"], Value::Null);
    }

    async fn v2_create_limits_tags_and_properties(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let tags: Vec<String> = (0..129).map(|i| format!("tag{i}")).collect();
        error(&t1.post("/v2/images", &json!({"tags": tags})).await, 413);
        let img = t1.create(json!({"tags": &tags[..128]})).await;
        assert_eq!(img["tags"].as_array().expect("tags").len(), 128);
        let mut props = serde_json::Map::new();
        for i in 0..129 {
            props.insert(format!("p{i}"), json!("v"));
        }
        error(&t1.post("/v2/images", &Value::Object(props.clone())).await, 413);
        props.remove("p0");
        let img = t1.create(Value::Object(props)).await;
        assert_eq!(img["p128"], "v");
        assert_eq!(keys_of(&img).len(), BASE_FIELDS.len() + 128);
    }

    async fn v2_show_hides_what_the_caller_may_not_see(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let t2 = v2::member(&srv, "t2");
        let admin = v2::admin(&srv);
        let private = t1.create_id(json!({"visibility": "private"})).await;
        let shared = t1.create_id(json!({"visibility": "shared"})).await;
        let community = t1.create_id(json!({"visibility": "community"})).await;
        let public = admin.create_id(json!({"visibility": "public", "owner": "t9"})).await;
        let ownerless = admin.create_id(json!({"name": "nobody's"})).await;
        for id in [&private, &shared] {
            error(&t2.get(&format!("/v2/images/{id}")).await, 404);
            error(&v2::reader(&srv, "t2").get(&format!("/v2/images/{id}")).await, 404);
            error(&t2.delete(&format!("/v2/images/{id}")).await, 404);
            assert_eq!(t1.show(id).await["id"], id.as_str());
            assert_eq!(admin.show(id).await["id"], id.as_str());
            assert_eq!(v2::reader(&srv, "t1").show(id).await["id"], id.as_str());
        }
        for id in [&community, &public, &ownerless] {
            assert_eq!(t2.show(id).await["id"], id.as_str());
            assert_eq!(v2::reader(&srv, "t2").show(id).await["id"], id.as_str());
        }
    }

    async fn v2_delete_is_204_then_404_and_v1_sees_it(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let id = t1.create_id(json!({"name": "doomed", "tags": ["x"], "k": "v"})).await;
        assert_eq!(srv.admin().get(&format!("/images/{id}")).await.status, 200);
        error(&v2::reader(&srv, "t1").delete(&format!("/v2/images/{id}")).await, 403);
        error(&v2::member(&srv, "t2").delete(&format!("/v2/images/{id}")).await, 404);
        assert_eq!(t1.show(&id).await["name"], "doomed");
        no_content(&t1.delete(&format!("/v2/images/{id}")).await);
        error(&t1.get(&format!("/v2/images/{id}")).await, 404);
        error(&t1.delete(&format!("/v2/images/{id}")).await, 404);
        error(&v2::admin(&srv).get(&format!("/v2/images/{id}")).await, 404);
        assert_eq!(t1.list_ids("").await, Vec::<String>::new());
        // The v1 registry sees the image deleted: gone for the tenant and from lists, shown
        // as deleted to the admin.
        srv.tenant("t1").get(&format!("/images/{id}")).await.expect_error(404);
        let v1 = srv.admin().get(&format!("/images/{id}")).await.expect(200);
        assert_eq!(v1.image()["deleted"], true);
        assert_eq!(v1.image()["status"], "deleted");
        let v1 = srv.admin().get("/images/detail?is_public=none").await.expect(200);
        assert!(!v1.ids().contains(&id), "{}", v1.text);
    }

    async fn v2_protected_images_cannot_be_deleted_until_unprotected(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let admin = v2::admin(&srv);
        let id = t1.create_id(json!({"protected": true})).await;
        error(&t1.delete(&format!("/v2/images/{id}")).await, 403);
        error(&admin.delete(&format!("/v2/images/{id}")).await, 403);
        assert_eq!(t1.show(&id).await["protected"], true);
        // Protection blocks nothing else.
        let r = t1.patch(&id, &json!([{"op": "replace", "path": "/name", "value": "still"}])).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = t1.patch(&id, &json!([{"op": "replace", "path": "/protected", "value": false}])).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["protected"], false);
        no_content(&t1.delete(&format!("/v2/images/{id}")).await);
        error(&t1.get(&format!("/v2/images/{id}")).await, 404);
    }

    async fn v2_concurrent_creates_with_one_id_make_one_image(srv: TestServer) {
        let given = v2::uuid();
        let results = v2::concurrently(&srv, "t1", 8, reqwest::Method::POST,
            |_| "/v2/images".to_string(), |i| Some(json!({"id": given, "name": format!("n{i}")}))).await;
        assert_eq!(v2::count(&results, 201), 1, "{results:?}");
        assert_eq!(v2::count(&results, 409), 7, "{results:?}");
        let t1 = v2::member(&srv, "t1");
        assert_eq!(t1.list_ids("").await, vec![given.clone()]);
        let winner = results.iter().find(|(s, _)| *s == 201).expect("winner");
        let body: Value = serde_json::from_str(&winner.1).expect("json");
        assert_eq!(t1.show(&given).await["name"], body["name"]);
    }

    async fn v2_concurrent_deletes_answer_204_once(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let id = t1.create_id(json!({})).await;
        let results = v2::concurrently(&srv, "t1", 6, reqwest::Method::DELETE,
            |_| format!("/v2/images/{id}"), |_| None).await;
        assert_eq!(v2::count(&results, 204), 1, "{results:?}");
        assert_eq!(v2::count(&results, 404), 5, "{results:?}");
        error(&t1.get(&format!("/v2/images/{id}")).await, 404);
    }

    async fn v2_create_checks_in_the_contract_order(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let many: Vec<String> = (0..129).map(|i| format!("t{i}")).collect();
        // A disallowed key is found before a schema violation, and both before policy.
        error(&t1.post("/v2/images", &json!({"self": "/x", "visibility": "bad"})).await, 403);
        error(&t1.post("/v2/images", &json!({"visibility": "public", "min_disk": -1})).await, 400);
        error(&t1.post("/v2/images", &json!({"visibility": "public", "custom": 1})).await, 400);
        // Policy comes before the tag quota and the read-only keys.
        error(&t1.post("/v2/images", &json!({"visibility": "public", "tags": many})).await, 403);
        error(&t1.post("/v2/images", &json!({"owner": "t2", "tags": many})).await, 403);
        // The tag quota before read-only keys; an existing id is checked last.
        error(&t1.post("/v2/images", &json!({"tags": many, "size": 1})).await, 413);
        let id = t1.create_id(json!({})).await;
        error(&t1.post("/v2/images", &json!({"id": id, "tags": many})).await, 413);
        error(&t1.post("/v2/images", &json!({"id": id, "visibility": "public"})).await, 403);
        error(&t1.post("/v2/images", &json!({"id": id, "min_ram": -5})).await, 400);
        error(&t1.post("/v2/images", &json!({"id": id})).await, 409);
        assert_eq!(t1.list_ids("").await, vec![id.clone()]);
    }
}
