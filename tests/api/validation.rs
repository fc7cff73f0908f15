//! Every rule of the image (spec sections 1 and 4) on create and on update: invalid input is
//! 400 (413 for the property quota and oversized bodies) with a message naming the field, and
//! nothing is written.

use crate::backend_tests;
use crate::support::{As, id_of};
use reqwest::Method;
use serde_json::{Value, json};

/// Asserts that creating `fields` fails with `status` and a message containing every needle.
async fn create_fails(who: &As<'_>, fields: Value, status: u16, needles: &[&str]) {
    let r = who
        .post("/images", &json!({ "image": fields.clone() }))
        .await;
    assert_eq!(
        r.status, status,
        "create {fields} should be {status}; got {}",
        r.text
    );
    let r = r.expect_error(status);
    let msg = r.json["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    for n in needles {
        assert!(
            msg.contains(n),
            "create {fields}: message {msg:?} lacks {n:?}"
        );
    }
}

/// Asserts that the update fails with `status`, naming the needles, and changes nothing.
async fn update_fails(who: &As<'_>, id: &str, body: Value, status: u16, needles: &[&str]) {
    let path = format!("/images/{id}");
    let before = who.get_unlimited(&path).await.expect(200);
    let r = who.put(&path, &body).await;
    assert_eq!(
        r.status, status,
        "update {body} should be {status}; got {}",
        r.text
    );
    let r = r.expect_error(status);
    let msg = r.json["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    for n in needles {
        assert!(
            msg.contains(n),
            "update {body}: message {msg:?} lacks {n:?}"
        );
    }
    let after = who.get_unlimited(&path).await.expect(200);
    assert_eq!(
        after.image(),
        before.image(),
        "a rejected update {body} changed the image"
    );
    assert_eq!(after.header("etag"), before.header("etag"));
}

async fn count_all(admin: &As<'_>) -> usize {
    admin
        .get("/images?is_public=none&limit=1000")
        .await
        .expect(200)
        .images()
        .len()
}

backend_tests! {
    async fn statuses_on_create(srv: TestServer) {
        let admin = srv.admin();
        for bad in [json!(""), json!("bogus"), json!("ACTIVE"), json!(" active"), json!(null), json!(3), json!(["active"])] {
            create_fails(&admin, json!({"name": "x", "status": bad}), 400, &["status"]).await;
        }
        // The message names the allowed values.
        create_fails(&admin, json!({"status": "bogus"}), 400, &["status", "queued", "active", "killed", "pending_delete"]).await;
        assert_eq!(count_all(&admin).await, 0);
        let img = admin.create(json!({"status": "pending_delete"})).await;
        assert_eq!(img["status"], "pending_delete");
    }

    async fn disk_and_container_formats_on_create(srv: TestServer) {
        let admin = srv.admin();
        for bad in ["", "zip", "QCOW2", "qcow2 ", "bare"] {
            create_fails(&admin, json!({"disk_format": bad}), 400, &["disk_format", "qcow2", "vmdk"]).await;
        }
        for bad in ["", "zip", "BARE", "raw"] {
            create_fails(&admin, json!({"container_format": bad}), 400, &["container_format", "bare", "ovf"]).await;
        }
        for bad in [json!(1), json!(true), json!({})] {
            create_fails(&admin, json!({"disk_format": bad.clone()}), 400, &["disk_format"]).await;
            create_fails(&admin, json!({"container_format": bad}), 400, &["container_format"]).await;
        }
        assert_eq!(count_all(&admin).await, 0);
        // Every format of the seed (and the later ones) is accepted; null is too.
        for d in ["raw", "vhd", "vhdx", "vmdk", "qcow2", "vdi", "iso", "ploop"] {
            let img = admin.create(json!({"disk_format": d, "container_format": "bare"})).await;
            assert_eq!(img["disk_format"], d);
        }
        for c in ["bare", "ovf", "ova", "docker", "compressed"] {
            let img = admin.create(json!({"disk_format": "raw", "container_format": c})).await;
            assert_eq!(img["container_format"], c);
        }
        let img = admin.create(json!({"disk_format": null, "container_format": null})).await;
        assert!(img["disk_format"].is_null() && img["container_format"].is_null());
        let img = admin.create(json!({"disk_format": "iso"})).await;
        assert!(img["container_format"].is_null());
    }

    async fn amazon_formats_must_match_on_create(srv: TestServer) {
        let admin = srv.admin();
        for (d, c) in [
            (json!("ami"), json!("bare")),
            (json!("raw"), json!("aki")),
            (json!("ari"), json!(null)),
            (json!(null), json!("aki")),
            (json!("ami"), json!("ari")),
            (json!("aki"), json!("ami")),
        ] {
            create_fails(&admin, json!({"disk_format": d, "container_format": c}), 400,
                         &["disk_format", "container_format"]).await;
        }
        // Leaving one of them out is the same as null.
        create_fails(&admin, json!({"disk_format": "ari"}), 400, &["ari"]).await;
        create_fails(&admin, json!({"container_format": "ami"}), 400, &["ami"]).await;
        assert_eq!(count_all(&admin).await, 0);
        for f in ["ami", "ari", "aki"] {
            let img = admin.create(json!({"disk_format": f, "container_format": f})).await;
            assert_eq!((img["disk_format"].as_str(), img["container_format"].as_str()), (Some(f), Some(f)));
        }
    }

    async fn ids_on_create(srv: TestServer) {
        let admin = srv.admin();
        for bad in [json!("not-a-uuid"), json!("71c675ab-d94f-49cd-a114-e12490b328d"),
                    json!("71c675ab-d94f-49cd-a114-e12490b328d9x"), json!("g1c675ab-d94f-49cd-a114-e12490b328d9"),
                    json!(""), json!(42), json!(true)] {
            create_fails(&admin, json!({"id": bad}), 400, &["id"]).await;
        }
        assert_eq!(count_all(&admin).await, 0);
        let img = admin.create(json!({"id": null, "name": "null id means generate"})).await;
        assert!(uuid::Uuid::parse_str(img["id"].as_str().unwrap()).is_ok());
    }

    async fn lengths_on_create(srv: TestServer) {
        let admin = srv.admin();
        create_fails(&admin, json!({"name": "n".repeat(256)}), 400, &["name", "255"]).await;
        create_fails(&admin, json!({"name": "é".repeat(256)}), 400, &["name"]).await;
        create_fails(&admin, json!({"checksum": "c".repeat(33)}), 400, &["checksum", "32"]).await;
        create_fails(&admin, json!({"name": 5}), 400, &["name"]).await;
        create_fails(&admin, json!({"checksum": 5}), 400, &["checksum"]).await;
        create_fails(&admin, json!({"location": ["x"]}), 400, &["location"]).await;
        // The owner column holds 255 characters: more is a clear 400, not a database error.
        create_fails(&admin, json!({"owner": "o".repeat(256)}), 400, &["owner"]).await;
        assert_eq!(count_all(&admin).await, 0);
        let img = admin.create(json!({"name": "n".repeat(255), "checksum": "c".repeat(32)})).await;
        assert_eq!(img["name"].as_str().unwrap().len(), 255);
        assert_eq!(img["checksum"].as_str().unwrap().len(), 32);
        // Locations: up to 65,535 characters, whatever their encoded size.
        create_fails(&admin, json!({"location": "l".repeat(65536)}), 400, &["location"]).await;
        let long_location = format!("file:///{}", "é".repeat(65535 - 8));
        let img = admin.create(json!({"location": long_location})).await;
        let shown = admin.get_unlimited(&format!("/images/{}", id_of(&img))).await.expect(200);
        assert_eq!(shown.image()["location"].as_str(), Some(long_location.as_str()));
        let img = admin.create(json!({"name": ""})).await;
        assert_eq!(img["name"], "");
    }

    async fn integers_on_create(srv: TestServer) {
        let admin = srv.admin();
        for field in ["size", "virtual_size", "min_disk", "min_ram"] {
            for bad in [json!(-1), json!(i64::MIN), json!(1.5), json!(9223372036854775808u64),
                        json!("abc"), json!(true), json!([1]), json!({})] {
                create_fails(&admin, json!({ field: bad }), 400, &[field]).await;
            }
        }
        assert_eq!(count_all(&admin).await, 0);
        let img = admin.create(json!({"size": 0, "virtual_size": 0, "min_disk": 0, "min_ram": 0})).await;
        assert_eq!((img["size"].as_i64(), img["min_ram"].as_i64()), (Some(0), Some(0)));
    }

    async fn booleans_on_create(srv: TestServer) {
        let admin = srv.admin();
        for field in ["is_public", "protected"] {
            for bad in [json!("yes"), json!("1"), json!(1), json!(0), json!("t"), json!(""), json!([true]), json!({})] {
                create_fails(&admin, json!({ field: bad }), 400, &[field]).await;
            }
        }
        assert_eq!(count_all(&admin).await, 0);
        // JSON booleans and the strings "true"/"false"; the string "false" really is false.
        for (given, expect) in [(json!(true), true), (json!(false), false), (json!("true"), true),
                                (json!("false"), false), (json!("True"), true), (json!("False"), false)] {
            let img = admin.create(json!({"is_public": given.clone(), "protected": given.clone()})).await;
            assert_eq!(img["is_public"], expect, "is_public {given}");
            assert_eq!(img["protected"], expect, "protected {given}");
            let shown = admin.get(&format!("/images/{}", id_of(&img))).await.expect(200);
            assert_eq!(shown.image()["is_public"], expect);
        }
        // A string "false" image is not public: a tenant cannot see it.
        let img = admin.create(json!({"is_public": "false", "owner": "t1"})).await;
        srv.tenant("t2").get(&format!("/images/{}", id_of(&img))).await.expect_error(404);
    }

    async fn properties_on_create(srv: TestServer) {
        let admin = srv.admin();
        for bad in [json!({"a": 1}), json!({"a": null}), json!({"a": true}), json!({"a": [1]}),
                    json!({"a": {"b": "c"}}), json!({"a": 1.5})] {
            create_fails(&admin, json!({"properties": bad}), 400, &["propert"]).await;
        }
        for bad in [json!("x"), json!(5), json!(true), json!([1]), json!(["a"]),
                    json!([{"name": "a"}]), json!([{"value": "a"}]), json!([{"name": 1, "value": "a"}]),
                    json!([{"name": "a", "value": 1}]), json!([{"name": "a", "value": null}])] {
            create_fails(&admin, json!({"properties": bad}), 400, &["propert"]).await;
        }
        create_fails(&admin, json!({"properties": {"": "v"}}), 400, &["property name"]).await;
        create_fails(&admin, json!({"properties": {"k".repeat(256): "v"}}), 400, &["property name"]).await;
        create_fails(&admin, json!({"properties": {"k": "v".repeat(65536)}}), 400, &["k", "65535"]).await;
        assert_eq!(count_all(&admin).await, 0);

        // The seed's list notation.
        let img = admin.create(json!({"properties": [{"name": "os", "value": "linux"},
                                                     {"name": "empty", "value": ""}]})).await;
        assert_eq!(img["properties"], json!({"os": "linux", "empty": ""}));
        let shown = admin.get(&format!("/images/{}", id_of(&img))).await.expect(200);
        assert_eq!(shown.image()["properties"], json!({"os": "linux", "empty": ""}));
        // The longest name and value are accepted.
        let img = admin.create(json!({"properties": {"k".repeat(255): "v".repeat(65535)}})).await;
        let shown = admin.get_unlimited(&format!("/images/{}", id_of(&img))).await.expect(200);
        assert_eq!(shown.image()["properties"]["k".repeat(255)].as_str().map(str::len), Some(65535));
    }

    async fn property_names_differing_only_in_trailing_spaces_are_distinct(srv: TestServer) {
        let admin = srv.admin();
        let img = admin.create(json!({"name": "sp", "properties": {"a": "1", "a ": "2"}})).await;
        let shown = admin.get(&format!("/images/{}", id_of(&img))).await.expect(200);
        assert_eq!(shown.image()["properties"], json!({"a": "1", "a ": "2"}));
    }

    async fn nul_characters_are_400_not_database_errors(srv: TestServer) {
        let admin = srv.admin();
        for field in ["name", "checksum", "location", "owner"] {
            create_fails(&admin, json!({ field: "a\u{0}b" }), 400, &[field]).await;
        }
        create_fails(&admin, json!({"properties": {"a\u{0}b": "v"}}), 400, &["NUL"]).await;
        create_fails(&admin, json!({"properties": {"k": "v\u{0}"}}), 400, &["NUL"]).await;
        assert_eq!(count_all(&admin).await, 0);
        let img = admin.create(json!({"name": "ok"})).await;
        let id = id_of(&img);
        update_fails(&admin, &id, json!({"image": {"name": "\u{0}"}}), 400, &["NUL"]).await;
        admin.send(Method::PUT, &format!("/images/{id}/members/a%00b"), None, &[]).await.expect_error(400);
        admin.send(Method::PUT, &format!("/images/{id}/members"),
                   Some(json!({"memberships": [{"member_id": "a\u{0}"}]}).to_string().into_bytes()), &[])
            .await.expect_error(400);
        assert_eq!(admin.get(&format!("/images/{id}/members")).await.expect(200).json["members"], json!([]));
    }

    async fn property_quota_is_413(srv: TestServer) {
        let admin = srv.admin();
        let many = |n: usize, prefix: &str| -> Value {
            Value::Object((0..n).map(|i| (format!("{prefix}{i}"), json!("v"))).collect())
        };
        create_fails(&admin, json!({"properties": many(129, "p")}), 413, &["128"]).await;
        let list: Vec<Value> = (0..129).map(|i| json!({"name": format!("p{i}"), "value": "v"})).collect();
        create_fails(&admin, json!({"properties": list}), 413, &[]).await;
        assert_eq!(count_all(&admin).await, 0);
        let img = admin.create(json!({"properties": many(128, "p")})).await;
        assert_eq!(img["properties"].as_object().unwrap().len(), 128);
        let shown = admin.get_unlimited(&format!("/images/{}", id_of(&img))).await.expect(200);
        assert_eq!(shown.image()["properties"].as_object().unwrap().len(), 128);
        assert_eq!(shown.image(), &img);
    }

    async fn malformed_bodies(srv: TestServer) {
        let admin = srv.admin();
        for body in [&b""[..], b"   ", b"not json", b"{", b"[]", b"\"image\"", b"null", b"{\"name\": \"x\"}",
                     b"{\"image\": \"x\"}", b"{\"image\": null}", b"{\"image\": [1]}", b"{\"images\": {}}",
                     b"{\"image\": {\"name\": \"x\"}", b"\xff\xfe"] {
            let r = admin.raw(Method::POST, "/images", body).await;
            assert_eq!(r.status, 400, "body {:?}: {}", String::from_utf8_lossy(body), r.text);
            r.expect_error(400);
        }
        assert_eq!(count_all(&admin).await, 0);
        // Unknown fields are ignored, inside and outside the image.
        let r = admin.post("/images", &json!({"image": {"name": "x", "foo": "bar", "kernel_id": 7},
                                              "extra": true})).await.expect(200);
        assert_eq!(r.image()["name"], "x");
        assert!(r.image().get("foo").is_none());
        assert!(r.image().get("kernel_id").is_none());
    }

    async fn invalid_updates_change_nothing(srv: TestServer) {
        let admin = srv.admin();
        let img = admin.create(json!({"name": "orig", "disk_format": "qcow2", "container_format": "bare",
                                      "size": 5, "properties": {"a": "1"}})).await;
        let id = id_of(&img);
        let cases: Vec<(Value, &[&str])> = vec![
            (json!({"status": ""}), &["status", "queued"]),
            (json!({"status": "bogus", "name": "changed"}), &["status", "queued"]),
            (json!({"status": null}), &["status"]),
            (json!({"disk_format": ""}), &["disk_format", "qcow2"]),
            (json!({"disk_format": "zip", "name": "changed"}), &["disk_format", "vmdk"]),
            (json!({"container_format": ""}), &["container_format", "bare"]),
            (json!({"container_format": "zip"}), &["container_format", "ovf"]),
            (json!({"name": "n".repeat(256)}), &["name"]),
            (json!({"checksum": "c".repeat(33)}), &["checksum"]),
            (json!({"size": -1}), &["size"]),
            (json!({"virtual_size": -7}), &["virtual_size"]),
            (json!({"min_disk": -1}), &["min_disk"]),
            (json!({"min_ram": -1, "name": "changed"}), &["min_ram"]),
            (json!({"min_ram": "lots"}), &["min_ram"]),
            (json!({"is_public": "yes"}), &["is_public"]),
            (json!({"protected": 1}), &["protected"]),
            (json!({"properties": {"b": 5}}), &["b"]),
            (json!({"properties": {"b": null}}), &["b"]),
            (json!({"properties": {"": "x"}}), &["property name"]),
            (json!({"properties": "x"}), &["properties"]),
            (json!({"name": "changed", "properties": {"a": "2", "b": ["x"]}}), &["b"]),
            // The formats tie holds on update too, on the resulting image.
            (json!({"disk_format": "ami"}), &["disk_format", "container_format"]),
            (json!({"container_format": "aki"}), &["disk_format", "container_format"]),
            (json!({"disk_format": "ari", "container_format": "aki"}), &["ari", "aki"]),
        ];
        for (fields, needles) in cases {
            update_fails(&admin, &id, json!({ "image": fields }), 400, needles).await;
        }
        for body in [json!({}), json!({"name": "x"}), json!({"image": "x"}), json!({"image": null}), json!([])] {
            update_fails(&admin, &id, body, 400, &[]).await;
        }
        let path = format!("/images/{id}");
        for raw in [&b"not json"[..], b"", b"{\"image\": {"] {
            admin.raw(Method::PUT, &path, raw).await.expect_error(400);
        }
        let shown = admin.get(&path).await.expect(200);
        assert_eq!(shown.image(), &img, "nothing changed after all those rejected updates");
    }

    async fn amazon_formats_must_match_on_update(srv: TestServer) {
        let admin = srv.admin();
        let img = admin.create(json!({"disk_format": "ami", "container_format": "ami"})).await;
        let id = id_of(&img);
        update_fails(&admin, &id, json!({"image": {"disk_format": "raw"}}), 400, &["disk_format"]).await;
        update_fails(&admin, &id, json!({"image": {"container_format": "bare"}}), 400, &["container_format"]).await;
        update_fails(&admin, &id, json!({"image": {"container_format": null}}), 400, &["ami"]).await;
        update_fails(&admin, &id, json!({"image": {"disk_format": "aki"}}), 400, &["aki"]).await;
        // Changing both together is fine.
        let r = admin.put(&format!("/images/{id}"),
                          &json!({"image": {"disk_format": "raw", "container_format": "bare"}})).await.expect(200);
        assert_eq!(r.image()["disk_format"], "raw");
        let r = admin.put(&format!("/images/{id}"),
                          &json!({"image": {"disk_format": "aki", "container_format": "aki"}})).await.expect(200);
        assert_eq!(r.image()["container_format"], "aki");
        let r = admin.put(&format!("/images/{id}"),
                          &json!({"image": {"disk_format": null, "container_format": null}})).await.expect(200);
        assert!(r.image()["disk_format"].is_null());
    }

    async fn property_quota_on_update(srv: TestServer) {
        let admin = srv.admin();
        let props = |range: std::ops::Range<usize>| -> Value {
            Value::Object(range.map(|i| (format!("p{i}"), json!("v"))).collect())
        };
        let img = admin.create(json!({"properties": props(0..100)})).await;
        let id = id_of(&img);
        // 100 kept + 29 new = 129: too many once merged.
        update_fails(&admin, &id, json!({"image": {"properties": props(100..129)}}), 413, &["128"]).await;
        // Overwriting existing ones does not count twice.
        let r = admin.put(&format!("/images/{id}"), &json!({"image": {"properties": props(50..128)}}))
            .await.expect(200);
        assert_eq!(r.image()["properties"].as_object().unwrap().len(), 128);
        update_fails(&admin, &id, json!({"image": {"properties": {"one-more": "v"}}}), 413, &[]).await;
        // Purging replaces, so only the given count matters.
        let path = format!("/images/{id}");
        admin.put_with(&path, &json!({"image": {"properties": props(200..329)}}),
                       &[("x-glance-registry-purge-props", "true")]).await.expect_error(413);
        assert_eq!(admin.get_unlimited(&path).await.expect(200).image()["properties"].as_object().unwrap().len(), 128);
        let r = admin.put_with(&path, &json!({"image": {"properties": props(200..328)}}),
                               &[("x-glance-registry-purge-props", "true")]).await.expect(200);
        let keys = r.image()["properties"].as_object().unwrap();
        assert_eq!(keys.len(), 128);
        assert!(keys.contains_key("p200") && !keys.contains_key("p0"));
    }

    async fn bodies_over_one_mebibyte_are_413(srv: TestServer) {
        let admin = srv.admin();
        // Just under the limit: parsed (and valid: 15 values of 65,000 bytes).
        let props: serde_json::Map<String, Value> =
            (0..15).map(|i| (format!("p{i}"), json!("x".repeat(65_000)))).collect();
        let body = json!({"image": {"name": "big", "properties": props}}).to_string().into_bytes();
        assert!(body.len() < 1024 * 1024);
        let r = admin.raw(Method::POST, "/images", &body).await.expect(200);
        assert_eq!(r.image()["properties"].as_object().unwrap().len(), 15);
        // Over it: 413 before the body is even read. (A bare connection announces the length
        // and sends nothing: an HTTP client that is still sending when the server answers and
        // closes may lose the answer.)
        let id = id_of(r.image());
        for (method, path, len) in [("POST", "/images".to_owned(), 1024 * 1024 + 1),
                                    ("POST", "/images".to_owned(), 50 * 1024 * 1024),
                                    ("PUT", format!("/images/{id}"), 1024 * 1024 + 1),
                                    ("PUT", format!("/images/{id}/members"), 2 * 1024 * 1024)] {
            let len = len.to_string();
            let r = admin.bare(method, &path, &[("content-type", "application/json"), ("content-length", &len)], b"")
                .await;
            r.expect_error(413);
        }
        assert_eq!(count_all(&admin).await, 1);
        assert_eq!(admin.get_unlimited(&format!("/images/{id}")).await.expect(200).image()["name"], "big");
    }
}

backend_tests! {
    |c: &mut glimpse::config::ServerConfig| {
        c.max_body_bytes = 2048;
        c.rules.max_properties = 3;
        c.rules.formats.disk.push("lz4img".into());
        c.rules.formats.container.push("tarball".into());
    };

    async fn configured_limits_and_formats(srv: TestServer) {
        let admin = srv.admin();
        let small = json!({"image": {"name": "x".repeat(1500)}}).to_string().into_bytes();
        assert!(small.len() < 2048);
        admin.raw(Method::POST, "/images", &small).await.expect_error(400); // name too long, but parsed
        admin.bare("POST", "/images", &[("content-length", "2049")], b"").await.expect_error(413);
        // Exactly at the limit is still read.
        let at = json!({"image": {"location": "x".repeat(2048 - 25)}}).to_string();
        assert_eq!(at.len(), 2048);
        let r = admin.bare("POST", "/images", &[("content-length", "2048")], at.as_bytes()).await.expect(200);
        admin.delete(&format!("/images/{}", id_of(r.image()))).await.expect(200);
        create_fails(&admin, json!({"properties": {"a": "1", "b": "2", "c": "3", "d": "4"}}), 413, &["3"]).await;
        let img = admin.create(json!({"disk_format": "lz4img", "container_format": "tarball",
                                      "properties": {"a": "1", "b": "2", "c": "3"}})).await;
        assert_eq!(img["disk_format"], "lz4img");
        update_fails(&admin, &id_of(&img), json!({"image": {"properties": {"d": "4"}}}), 413, &[]).await;
        create_fails(&admin, json!({"disk_format": "zip"}), 400, &["lz4img"]).await;
        create_fails(&admin, json!({"container_format": "zip"}), 400, &["tarball"]).await;
    }
}
