//! One image's life: create, show, update and delete (spec sections 1, 4 and 5).

use crate::backend_tests;
use crate::support::{id_of, is_micro_timestamp, keys_of};
use reqwest::Method;
use serde_json::{Value, json};

/// Every field of the detailed form, sorted.
pub const DETAIL_FIELDS: [&str; 19] = [
    "checksum",
    "container_format",
    "created_at",
    "deleted",
    "deleted_at",
    "disk_format",
    "id",
    "is_public",
    "location",
    "min_disk",
    "min_ram",
    "name",
    "owner",
    "properties",
    "protected",
    "size",
    "status",
    "updated_at",
    "virtual_size",
];

fn ts(v: &Value) -> String {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("timestamp expected, got {v}"));
    assert!(
        is_micro_timestamp(s),
        "not an ISO 8601 timestamp with microseconds: {s}"
    );
    s.to_owned()
}

backend_tests! {
    async fn create_applies_defaults_and_reads_back_identically(srv: TestServer) {
        let admin = srv.admin();
        let r = admin.post("/images", &json!({"image": {"name": "minimal"}})).await.expect(200);
        let img = r.image().clone();
        assert_eq!(keys_of(&img), DETAIL_FIELDS);
        let id = id_of(&img);
        let parsed = uuid::Uuid::parse_str(&id).expect("generated id is a UUID");
        assert_eq!(parsed.hyphenated().to_string(), id, "canonical lowercase hyphenated form");
        assert_eq!(img["name"], "minimal");
        assert_eq!(img["status"], "active", "absent status on create means active");
        assert_eq!(img["min_disk"], 0);
        assert_eq!(img["min_ram"], 0);
        assert_eq!(img["is_public"], false);
        assert_eq!(img["protected"], false);
        assert_eq!(img["deleted"], false);
        assert_eq!(img["properties"], json!({}));
        for nullable in ["disk_format", "container_format", "size", "virtual_size", "checksum",
                         "location", "deleted_at"] {
            assert!(img[nullable].is_null(), "{nullable} should be null: {img}");
        }
        assert!(img["owner"].is_null(), "the no-token admin owns nothing");
        let created = ts(&img["created_at"]);
        assert_eq!(ts(&img["updated_at"]), created);

        let shown = admin.get(&format!("/images/{id}")).await.expect(200);
        assert_eq!(shown.image(), &img, "what is read back is exactly what was created");
        // `GET /` is the brief list too.
        assert_eq!(admin.get("/?is_public=none").await.expect(200).ids(), vec![id.clone()]);
    }

    async fn create_with_every_field(srv: TestServer) {
        let admin = srv.admin();
        let fields = json!({
            "id": "71c675ab-d94f-49cd-a114-e12490b328d9",
            "name": "full",
            "status": "queued",
            "disk_format": "vmdk",
            "container_format": "ovf",
            "size": 1234,
            "virtual_size": 5678,
            "checksum": "d41d8cd98f00b204e9800998ecf8427e",
            "min_disk": 10,
            "min_ram": 512,
            "is_public": true,
            "protected": true,
            "owner": "tenant-x",
            "location": "swift://acct/container/obj",
            "properties": {"os": "linux", "arch": "x86_64", "empty": ""}
        });
        let img = admin.create(fields.clone()).await;
        for (k, v) in fields.as_object().unwrap() {
            assert_eq!(&img[k], v, "field {k}");
        }
        let shown = admin.get("/images/71c675ab-d94f-49cd-a114-e12490b328d9").await.expect(200);
        assert_eq!(shown.image(), &img);
        // The owner the admin chose makes it that tenant's image.
        let t = srv.tenant("tenant-x");
        let r = t.put("/images/71c675ab-d94f-49cd-a114-e12490b328d9",
                      &json!({"image": {"protected": false}})).await.expect(200);
        assert_eq!(r.image()["protected"], false);
        t.delete("/images/71c675ab-d94f-49cd-a114-e12490b328d9").await.expect(200);
    }

    async fn every_status_can_be_registered(srv: TestServer) {
        let admin = srv.admin();
        for st in ["queued", "saving", "active", "killed", "pending_delete", "deleted",
                   "deactivated", "uploading", "importing"] {
            let img = admin.create(json!({"name": st, "status": st})).await;
            assert_eq!(img["status"], st);
            let shown = admin.get(&format!("/images/{}", id_of(&img))).await.expect(200);
            assert_eq!(shown.image()["status"], st);
        }
    }

    async fn duplicate_id_is_409_even_when_soft_deleted(srv: TestServer) {
        let admin = srv.admin();
        let id = "0f2d6a3e-5b7c-4e8f-9a1b-2c3d4e5f6a7b";
        admin.create(json!({"id": id, "name": "first"})).await;
        let r = admin.post("/images", &json!({"image": {"id": id, "name": "second"}}))
            .await.expect_error(409);
        assert!(r.json["error"]["message"].as_str().unwrap().contains("already exists"), "{}", r.text);
        // The same UUID in another notation is the same id.
        admin.post("/images", &json!({"image": {"id": id.to_uppercase(), "name": "upper"}}))
            .await.expect_error(409);
        admin.post("/images", &json!({"image": {"id": id.replace('-', ""), "name": "simple"}}))
            .await.expect_error(409);
        // The first image is untouched.
        assert_eq!(admin.get(&format!("/images/{id}")).await.expect(200).image()["name"], "first");

        admin.delete(&format!("/images/{id}")).await.expect(200);
        admin.post("/images", &json!({"image": {"id": id, "name": "reborn"}}))
            .await.expect_error(409);
        let still = admin.get(&format!("/images/{id}")).await.expect(200);
        assert_eq!(still.image()["name"], "first");
        assert_eq!(still.image()["deleted"], true);
        // A tenant re-using the id of another tenant's image gets 409 too.
        srv.tenant("t1").post("/images", &json!({"image": {"id": id}})).await.expect_error(409);
    }

    async fn ids_in_other_notations_are_canonicalised(srv: TestServer) {
        let admin = srv.admin();
        let img = admin.create(json!({"id": "A1B2C3D4-E5F6-4A7B-8C9D-0E1F2A3B4C5D"})).await;
        assert_eq!(img["id"], "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d");
        admin.get("/images/a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d").await.expect(200);
        let r = admin.get("/images/A1B2C3D4-E5F6-4A7B-8C9D-0E1F2A3B4C5D").await.expect(200);
        assert_eq!(r.image()["id"], "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d");
    }

    async fn unknown_or_malformed_ids_are_404(srv: TestServer) {
        let admin = srv.admin();
        admin.create(json!({"name": "exists"})).await;
        let missing = "/images/6e5d4c3b-2a19-4807-b6a5-948372615049";
        admin.get(missing).await.expect_error(404);
        assert_eq!(admin.head(missing).await.status, 404);
        admin.put(missing, &json!({"image": {"name": "x"}})).await.expect_error(404);
        admin.delete(missing).await.expect_error(404);
        admin.get("/images/not-a-uuid").await.expect_error(404);
        admin.put("/images/not-a-uuid", &json!({"image": {"name": "x"}})).await.expect_error(404);
        admin.delete("/images/not-a-uuid").await.expect_error(404);
        // Nothing was created by the failed writes.
        assert_eq!(admin.get("/images/detail?is_public=none").await.expect(200).images().len(), 1);
    }

    async fn update_changes_only_the_given_fields(srv: TestServer) {
        let admin = srv.admin();
        let img = admin.create(json!({"name": "before", "disk_format": "raw", "container_format": "bare",
                                      "size": 10, "min_ram": 128, "properties": {"keep": "me"}})).await;
        let id = id_of(&img);
        let r = admin.put(&format!("/images/{id}"), &json!({"image": {
            "name": "after", "status": "saving", "size": 20, "checksum": "abc",
            "is_public": true, "location": "file:///x", "virtual_size": 99, "min_disk": 3
        }})).await.expect(200);
        let u = r.image().clone();
        assert_eq!(u["name"], "after");
        assert_eq!(u["status"], "saving");
        assert_eq!(u["size"], 20);
        assert_eq!(u["checksum"], "abc");
        assert_eq!(u["is_public"], true);
        assert_eq!(u["location"], "file:///x");
        assert_eq!(u["virtual_size"], 99);
        assert_eq!(u["min_disk"], 3);
        // Untouched fields keep their values.
        assert_eq!(u["disk_format"], "raw");
        assert_eq!(u["container_format"], "bare");
        assert_eq!(u["min_ram"], 128);
        assert_eq!(u["properties"], json!({"keep": "me"}));
        assert_eq!(u["created_at"], img["created_at"]);
        assert!(ts(&u["updated_at"]) > ts(&img["updated_at"]), "updated_at moves forward");
        let shown = admin.get(&format!("/images/{id}")).await.expect(200);
        assert_eq!(shown.image(), &u, "the update response is what was stored");

        // Null clears a nullable field.
        let r = admin.put(&format!("/images/{id}"), &json!({"image": {
            "name": null, "checksum": null, "disk_format": null, "container_format": null
        }})).await.expect(200);
        for f in ["name", "checksum", "disk_format", "container_format"] {
            assert!(r.image()[f].is_null(), "{f} cleared: {}", r.text);
        }
        assert_eq!(r.image()["size"], 20);
        // An empty update is allowed and still counts as a change.
        let before = r.image()["updated_at"].clone();
        let r = admin.put(&format!("/images/{id}"), &json!({"image": {}})).await.expect(200);
        assert!(ts(&r.image()["updated_at"]) > ts(&before));
    }

    async fn properties_merge_or_purge(srv: TestServer) {
        let admin = srv.admin();
        let img = admin.create(json!({"properties": {"a": "1", "b": "2"}})).await;
        let path = format!("/images/{}", id_of(&img));
        let props = |r: &crate::support::Resp| r.image()["properties"].clone();

        let r = admin.put(&path, &json!({"image": {"properties": {"b": "3", "c": "4"}}})).await.expect(200);
        assert_eq!(props(&r), json!({"a": "1", "b": "3", "c": "4"}), "merged");
        assert_eq!(props(&admin.get(&path).await.expect(200)), json!({"a": "1", "b": "3", "c": "4"}));

        // Without properties an ordinary update leaves them alone.
        let r = admin.put(&path, &json!({"image": {"name": "n"}})).await.expect(200);
        assert_eq!(props(&r), json!({"a": "1", "b": "3", "c": "4"}));

        for (value, given, expect) in [
            ("true", json!({"x": "1"}), json!({"x": "1"})),
            ("True", json!({"y": "2", "z": "3"}), json!({"y": "2", "z": "3"})),
            ("TRUE", json!({"z": "4"}), json!({"z": "4"})),
        ] {
            let r = admin.put_with(&path, &json!({"image": {"properties": given}}),
                                   &[("x-glance-registry-purge-props", value)]).await.expect(200);
            assert_eq!(props(&r), expect, "purge with header value {value}");
            assert_eq!(props(&admin.get(&path).await.expect(200)), expect);
        }
        // "false" merges.
        let r = admin.put_with(&path, &json!({"image": {"properties": {"w": "5"}}}),
                               &[("X-Glance-Registry-Purge-Props", "false")]).await.expect(200);
        assert_eq!(props(&r), json!({"w": "5", "z": "4"}));
        // Purge without a properties key removes them all.
        let r = admin.put_with(&path, &json!({"image": {"name": "bare"}}),
                               &[("x-glance-registry-purge-props", "true")]).await.expect(200);
        assert_eq!(props(&r), json!({}));
        assert_eq!(r.image()["name"], "bare");
        let shown = admin.get(&path).await.expect(200);
        assert_eq!(props(&shown), json!({}));
        assert!(shown.header("x-image-meta-property-z").is_none());
    }

    async fn property_only_updates_move_updated_at(srv: TestServer) {
        let admin = srv.admin();
        let img = admin.create(json!({"properties": {"a": "1"}})).await;
        let path = format!("/images/{}", id_of(&img));
        let mut last = ts(&img["updated_at"]);
        for body in [
            json!({"image": {"properties": {"a": "2"}}}),
            json!({"image": {"properties": {"b": "1"}}}),
            json!({"image": {"properties": [{"name": "c", "value": "1"}]}}),
        ] {
            let r = admin.put(&path, &body).await.expect(200);
            let now = ts(&r.image()["updated_at"]);
            assert!(now > last, "updated_at {now} after {last}");
            assert_eq!(r.image()["created_at"], img["created_at"]);
            last = now;
        }
        let shown = admin.get(&path).await.expect(200);
        assert_eq!(ts(&shown.image()["updated_at"]), last);
        assert_eq!(shown.image()["properties"], json!({"a": "2", "b": "1", "c": "1"}));
    }

    async fn from_state_makes_updates_conditional(srv: TestServer) {
        let admin = srv.admin();
        let img = admin.create(json!({"name": "q", "status": "queued"})).await;
        let path = format!("/images/{}", id_of(&img));

        let r = admin.put(&path, &json!({"image": {"status": "saving", "name": "changed"}, "from_state": "active"}))
            .await.expect_error(409);
        assert!(r.json["error"]["message"].as_str().unwrap().contains("queued"), "{}", r.text);
        let shown = admin.get(&path).await.expect(200);
        assert_eq!(shown.image(), &img, "a failed conditional update changes nothing");

        let r = admin.put(&path, &json!({"image": {"status": "saving"}, "from_state": "queued"}))
            .await.expect(200);
        assert_eq!(r.image()["status"], "saving");
        // The same condition no longer holds.
        admin.put(&path, &json!({"image": {"status": "active"}, "from_state": "queued"}))
            .await.expect_error(409);
        assert_eq!(admin.get(&path).await.expect(200).image()["status"], "saving");
        // null, as Glance's client sends it, is unconditional.
        let r = admin.put(&path, &json!({"image": {"status": "active"}, "from_state": null}))
            .await.expect(200);
        assert_eq!(r.image()["status"], "active");
        // A from_state that is no status at all is a bad request.
        admin.put(&path, &json!({"image": {"status": "killed"}, "from_state": "bogus"}))
            .await.expect_error(400);
        assert_eq!(admin.get(&path).await.expect(200).image()["status"], "active");
    }

    async fn server_set_fields_in_an_update_are_ignored(srv: TestServer) {
        let admin = srv.admin();
        let img = admin.create(json!({"name": "orig"})).await;
        let id = id_of(&img);
        let other = "11111111-2222-4333-8444-555555555555";
        let r = admin.put(&format!("/images/{id}"), &json!({"image": {
            "id": other,
            "created_at": "2000-01-01T00:00:00.000000",
            "updated_at": "2000-01-01T00:00:00.000000",
            "deleted_at": "2000-01-01T00:00:00.000000",
            "deleted": true,
            "name": "renamed"
        }})).await.expect(200);
        let u = r.image();
        assert_eq!(u["id"], id.as_str());
        assert_eq!(u["name"], "renamed");
        assert_eq!(u["created_at"], img["created_at"]);
        assert!(ts(&u["updated_at"]) > ts(&img["updated_at"]));
        assert!(u["deleted_at"].is_null());
        assert_eq!(u["deleted"], false);
        assert_eq!(u["status"], "active");
        admin.get(&format!("/images/{other}")).await.expect_error(404);
        let shown = admin.get(&format!("/images/{id}")).await.expect(200);
        assert_eq!(shown.image()["deleted"], false);
        assert_eq!(shown.image()["name"], "renamed");
        // Still listed: not deleted.
        assert_eq!(admin.get("/images?is_public=none").await.expect(200).ids(), vec![id]);
    }

    async fn server_set_fields_on_create_are_ignored(srv: TestServer) {
        let admin = srv.admin();
        let img = admin.create(json!({
            "name": "x", "deleted": true, "deleted_at": "2000-01-01T00:00:00.000000",
            "created_at": "2000-01-01T00:00:00.000000", "updated_at": "2000-01-01T00:00:00.000000"
        })).await;
        assert_eq!(img["deleted"], false);
        assert!(img["deleted_at"].is_null());
        assert!(ts(&img["created_at"]).as_str() > "2020-01-01T00:00:00.000000");
        assert_eq!(img["updated_at"], img["created_at"]);
    }

    async fn delete_is_soft_and_takes_properties_and_members_along(srv: TestServer) {
        let admin = srv.admin();
        let owner = srv.tenant("t1");
        let img = owner.create(json!({"name": "doomed", "properties": {"os": "linux"}})).await;
        let id = id_of(&img);
        let path = format!("/images/{id}");
        owner.send(Method::PUT, &format!("{path}/members/t2"), None, &[]).await.expect(204);
        assert_eq!(srv.tenant("t2").get(&path).await.status, 200);

        let r = owner.delete(&path).await.expect(200);
        let d = r.image().clone();
        assert_eq!(keys_of(&d), DETAIL_FIELDS);
        assert_eq!(d["id"], id.as_str());
        assert_eq!(d["deleted"], true);
        assert_eq!(d["status"], "deleted");
        let deleted_at = ts(&d["deleted_at"]);
        assert!(deleted_at >= ts(&img["updated_at"]));
        assert!(ts(&d["updated_at"]) > ts(&img["updated_at"]), "deleting is a change");
        assert_eq!(d["properties"], json!({}));
        assert_eq!(d["name"], "doomed");

        // The row stays: admins read it by id, with no properties left.
        let shown = admin.get(&path).await.expect(200);
        assert_eq!(shown.image(), &d);
        assert!(shown.header("x-image-meta-property-os").is_none());
        assert_eq!(shown.header("x-image-meta-deleted").as_deref(), Some("True"));
        // Invisible to tenants, the owner and the former member included.
        owner.get(&path).await.expect_error(404);
        srv.tenant("t2").get(&path).await.expect_error(404);
        assert!(owner.get("/images").await.expect(200).ids().is_empty());
        assert!(srv.tenant("t2").get("/images").await.expect(200).ids().is_empty());
        // Memberships went with it.
        admin.get(&format!("{path}/members")).await.expect_error(404);
        let shared = admin.get("/shared-images/t2").await.expect(200);
        assert_eq!(shared.json["shared_images"], json!([]));
        // Deleted images are not listed by default, only on request.
        assert!(admin.get("/images?is_public=none").await.expect(200).ids().is_empty());
        assert_eq!(admin.get("/images?is_public=none&deleted=true").await.expect(200).ids(), vec![id.clone()]);
        // No property search finds it any more.
        assert!(admin.get("/images?is_public=none&deleted=true&property-os=linux").await.expect(200).ids().is_empty());
    }

    async fn deleting_twice_is_404_for_admins_too(srv: TestServer) {
        let admin = srv.admin();
        let owner = srv.tenant("t1");
        let a = id_of(&owner.create(json!({"name": "a"})).await);
        let b = id_of(&owner.create(json!({"name": "b"})).await);
        owner.delete(&format!("/images/{a}")).await.expect(200);
        owner.delete(&format!("/images/{a}")).await.expect_error(404);
        admin.delete(&format!("/images/{a}")).await.expect_error(404);
        admin.delete(&format!("/images/{b}")).await.expect(200);
        admin.delete(&format!("/images/{b}")).await.expect_error(404);
        srv.tenant_admin("t1").delete(&format!("/images/{b}")).await.expect_error(404);
    }

    async fn protected_images_cannot_be_deleted(srv: TestServer) {
        let admin = srv.admin();
        let owner = srv.tenant("t1");
        let img = owner.create(json!({"name": "keep", "protected": true, "properties": {"p": "v"}})).await;
        let path = format!("/images/{}", id_of(&img));
        let r = owner.delete(&path).await.expect_error(403);
        assert!(r.json["error"]["message"].as_str().unwrap().contains("protected"), "{}", r.text);
        admin.delete(&path).await.expect_error(403);
        let shown = owner.get(&path).await.expect(200);
        assert_eq!(shown.image(), &img, "a refused delete changes nothing");
        assert_eq!(owner.get("/images").await.expect(200).ids().len(), 1);

        owner.put(&path, &json!({"image": {"protected": false}})).await.expect(200);
        let r = owner.delete(&path).await.expect(200);
        assert_eq!(r.image()["deleted"], true);
        assert_eq!(r.image()["protected"], false);
    }

    async fn sizes_use_the_full_64_bit_range(srv: TestServer) {
        let admin = srv.admin();
        let max = i64::MAX;
        let img = admin.create(json!({"name": "huge", "size": max, "virtual_size": max,
                                      "min_disk": max, "min_ram": max})).await;
        let path = format!("/images/{}", id_of(&img));
        let shown = admin.get(&path).await.expect(200);
        for f in ["size", "virtual_size", "min_disk", "min_ram"] {
            assert_eq!(shown.image()[f].as_i64(), Some(max), "{f}");
        }
        assert_eq!(shown.header("x-image-meta-size").as_deref(), Some("9223372036854775807"));
        assert_eq!(shown.header("x-image-meta-virtual_size").as_deref(), Some("9223372036854775807"));
        let zero = admin.create(json!({"name": "zero", "size": 0})).await;
        assert_eq!(zero["size"], 0);

        let list = admin.get(&format!("/images/detail?is_public=none&size_min={max}")).await.expect(200);
        assert_eq!(list.ids(), vec![id_of(&img)]);
        assert_eq!(list.images()[0]["size"].as_i64(), Some(max));
        let list = admin.get("/images?is_public=none&size_max=0").await.expect(200);
        assert_eq!(list.ids(), vec![id_of(&zero)]);
        let r = admin.put(&path, &json!({"image": {"size": max - 1}})).await.expect(200);
        assert_eq!(r.image()["size"].as_i64(), Some(max - 1));
    }

    async fn unicode_round_trips_everywhere(srv: TestServer) {
        let admin = srv.admin();
        let name = "Ubuntu 日本語 — ñandú 🚀";
        let img = admin.create(json!({"name": name, "location": "file:///données/𝔦𝔪𝔤",
                                      "properties": {"clé": "värde 🚀", "描述": "多字节"}})).await;
        let id = id_of(&img);
        let shown = admin.get(&format!("/images/{id}")).await.expect(200);
        assert_eq!(shown.image()["name"], name);
        assert_eq!(shown.image()["location"], "file:///données/𝔦𝔪𝔤");
        assert_eq!(shown.image()["properties"], json!({"clé": "värde 🚀", "描述": "多字节"}));
        let list = admin.get(&format!("/images/detail?is_public=none&name={}", crate::support::enc(name)))
            .await.expect(200);
        assert_eq!(list.ids(), vec![id.clone()]);
        assert_eq!(list.images()[0]["properties"]["clé"], "värde 🚀");
        let q = format!("/images?is_public=none&property-{}={}", crate::support::enc("描述"),
                        crate::support::enc("多字节"));
        assert_eq!(admin.get(&q).await.expect(200).ids(), vec![id.clone()]);
        // Longest names: 255 characters, each four bytes in UTF-8.
        let long = "🚀".repeat(255);
        let img = admin.create(json!({"name": long, "properties": {"🔑".repeat(255): "ü".repeat(65535)}})).await;
        let shown = admin.get_unlimited(&format!("/images/{}", id_of(&img))).await.expect(200);
        assert_eq!(shown.image()["name"], long.as_str());
        assert_eq!(shown.image()["properties"]["🔑".repeat(255)].as_str().map(|s| s.chars().count()), Some(65535));
    }

    async fn concurrent_writes_lose_nothing(srv: TestServer) {
        let admin = srv.admin();
        let img = admin.create(json!({"name": "busy"})).await;
        let url = format!("{}/images/{}", srv.base, id_of(&img));
        // Eight writers merge a property each at the same time: none is lost.
        let mut tasks = Vec::new();
        for i in 0..8 {
            let (http, url) = (srv.http.clone(), url.clone());
            tasks.push(tokio::spawn(async move {
                let r = http.put(&url).json(&json!({"image": {"properties": {format!("p{i}"): format!("v{i}")}}}))
                    .send().await.expect("sent");
                let status = r.status().as_u16();
                let etag = r.headers().get("etag").map(|v| v.to_str().unwrap().to_owned());
                (status, etag, r.text().await.unwrap())
            }));
        }
        let mut tags = std::collections::BTreeSet::new();
        for t in tasks {
            let (status, etag, text) = t.await.unwrap();
            assert_eq!(status, 200, "{text}");
            assert!(tags.insert(etag.expect("ETag")), "two writes produced the same version");
        }
        let shown = admin.get(&url[srv.base.len()..]).await.expect(200);
        let expected: serde_json::Map<String, Value> =
            (0..8).map(|i| (format!("p{i}"), json!(format!("v{i}")))).collect();
        assert_eq!(shown.image()["properties"], Value::Object(expected));

        // Six creators of one id: exactly one wins, the others get 409.
        let id = "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d";
        let mut tasks = Vec::new();
        for i in 0..6 {
            let (http, base) = (srv.http.clone(), srv.base.clone());
            tasks.push(tokio::spawn(async move {
                http.post(format!("{base}/images")).json(&json!({"image": {"id": id, "name": format!("c{i}")}}))
                    .send().await.expect("sent").status().as_u16()
            }));
        }
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.unwrap());
        }
        statuses.sort();
        assert_eq!(statuses, vec![200, 409, 409, 409, 409, 409]);

        // Five deleters of one image: exactly one deletes it, the others find nothing.
        let mut tasks = Vec::new();
        for _ in 0..5 {
            let (http, url) = (srv.http.clone(), format!("{}/images/{id}", srv.base));
            tasks.push(tokio::spawn(async move {
                http.delete(&url).send().await.expect("sent").status().as_u16()
            }));
        }
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.unwrap());
        }
        statuses.sort();
        assert_eq!(statuses, vec![200, 404, 404, 404, 404]);
    }

    async fn timestamps_have_microseconds_and_survive_storage(srv: TestServer) {
        let admin = srv.admin();
        let mut seen = Vec::new();
        for n in 0..5 {
            let img = admin.create(json!({"name": format!("t{n}")})).await;
            let created = ts(&img["created_at"]);
            let shown = admin.get(&format!("/images/{}", id_of(&img))).await.expect(200);
            assert_eq!(shown.image()["created_at"], created.as_str(), "stored to the microsecond");
            assert_eq!(shown.header("x-image-meta-created_at").as_deref(), Some(created.as_str()));
            seen.push(created);
        }
        let mut sorted = seen.clone();
        sorted.sort();
        assert_eq!(seen, sorted, "created_at increases");
        sorted.dedup();
        assert_eq!(sorted.len(), 5);
    }
}
