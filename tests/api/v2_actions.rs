//! Deactivate/reactivate, the data endpoint of images without data (contract §3.6, §3.8,
//! §6), and the v1 registry API and v2 on one catalog (§7), on every backend.

use crate::backend_tests;
use crate::support::id_of;
use crate::v2_support::{self as v2, error, no_content};
use reqwest::Method;
use serde_json::{Value, json};

/// An active image of project `owner`, registered through v1 (v2 cannot upload data yet).
async fn active_image(srv: &crate::support::TestServer, owner: &str) -> String {
    id_of(
        &v2::v1_create(
            srv,
            json!({"name": "active", "owner": owner, "status": "active", "size": 4,
                   "disk_format": "raw", "container_format": "bare", "checksum": "abc"}),
        )
        .await,
    )
}

backend_tests! {
    async fn v2_deactivate_and_reactivate(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let id = active_image(&srv, "t1").await;
        let act = |a: &str| format!("/v2/images/{id}/actions/{a}");
        error(&v2::reader(&srv, "t1").post_empty(&act("deactivate")).await, 403);
        error(&v2::member(&srv, "t2").post_empty(&act("deactivate")).await, 404);
        assert_eq!(t1.show(&id).await["status"], "active");
        no_content(&t1.post_empty(&act("deactivate")).await);
        let shown = t1.show(&id).await;
        assert_eq!(shown["status"], "deactivated");
        // Already deactivated: 204 with no change.
        no_content(&t1.post_empty(&act("deactivate")).await);
        assert_eq!(t1.show(&id).await["updated_at"], shown["updated_at"]);
        // Non-admins may not download it; admins may (no data: 204).
        error(&t1.get(&format!("/v2/images/{id}/file")).await, 403);
        error(&v2::reader(&srv, "t1").get(&format!("/v2/images/{id}/file")).await, 403);
        assert_ne!(v2::admin(&srv).get(&format!("/v2/images/{id}/file")).await.status, 403);
        // Metadata stays readable and patchable; listing by status works.
        let r = t1.patch(&id, &json!([{"op": "replace", "path": "/name", "value": "off"}])).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["status"], "deactivated");
        assert_eq!(t1.list_ids("status=deactivated").await, vec![id.clone()]);
        // The v1 registry sees the status.
        assert_eq!(srv.admin().get(&format!("/images/{id}")).await.expect(200).image()["status"], "deactivated");
        no_content(&t1.post_empty(&act("reactivate")).await);
        assert_eq!(t1.show(&id).await["status"], "active");
        no_content(&t1.post_empty(&act("reactivate")).await);
        assert_eq!(t1.show(&id).await["status"], "active");
        // A body is 400; unknown actions are 404.
        let r = t1.send(Method::POST, &act("deactivate"), Some(b"{}".to_vec()), &[]).await;
        error(&r, 400);
        error(&t1.post_empty(&act("explode")).await, 404);
        error(&t1.post_empty(&format!("/v2/images/{}/actions/deactivate", v2::uuid())).await, 404);
        assert_eq!(t1.show(&id).await["status"], "active");
        // A deactivated image may be deleted.
        no_content(&t1.post_empty(&act("deactivate")).await);
        no_content(&t1.delete(&format!("/v2/images/{id}")).await);
        error(&t1.get(&format!("/v2/images/{id}")).await, 404);
    }

    async fn v2_actions_outside_active_or_deactivated_are_403(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let queued = t1.create_id(json!({"name": "queued"})).await;
        error(&t1.post_empty(&format!("/v2/images/{queued}/actions/deactivate")).await, 403);
        error(&t1.post_empty(&format!("/v2/images/{queued}/actions/reactivate")).await, 403);
        error(&v2::admin(&srv).post_empty(&format!("/v2/images/{queued}/actions/deactivate")).await, 403);
        assert_eq!(t1.show(&queued).await["status"], "queued");
        let killed = id_of(&v2::v1_create(&srv, json!({"owner": "t1", "status": "killed"})).await);
        error(&t1.post_empty(&format!("/v2/images/{killed}/actions/deactivate")).await, 403);
        assert_eq!(t1.show(&killed).await["status"], "killed");
        // Another project seeing a public active image may not deactivate it.
        let public = id_of(&v2::v1_create(&srv,
            json!({"owner": "t9", "status": "active", "is_public": true})).await);
        error(&t1.post_empty(&format!("/v2/images/{public}/actions/deactivate")).await, 403);
        assert_eq!(t1.show(&public).await["status"], "active");
    }

    async fn v2_file_of_an_image_without_data_is_204(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let id = t1.create_id(json!({})).await;
        no_content(&t1.get(&format!("/v2/images/{id}/file")).await);
        let r = t1.send(Method::GET, &format!("/v2/images/{id}/file"), None, &[("range", "bytes=0-3")]).await;
        no_content(&r);
        error(&t1.get(&format!("/v2/images/{id}/file?prefer=x")).await, 400);
        error(&v2::member(&srv, "t2").get(&format!("/v2/images/{id}/file")).await, 404);
        error(&t1.get(&format!("/v2/images/{}/file", v2::uuid())).await, 404);
        // A member project (member role) may download, a reader may not.
        t1.add_member(&id, "t2").await;
        no_content(&v2::member(&srv, "t2").get(&format!("/v2/images/{id}/file")).await);
        // Upload needs application/octet-stream, checked before the lookup.
        let r = t1.send(Method::PUT, &format!("/v2/images/{}/file", v2::uuid()), Some(b"data".to_vec()),
            &[("content-type", "text/plain")]).await;
        error(&r, 415);
    }

    async fn v2_sees_v1_images_with_the_mapped_visibility(srv: TestServer) {
        let v1 = srv.admin();
        let public = id_of(&v1.create(json!({"name": "pub", "is_public": true, "owner": "t1"})).await);
        let shared = id_of(&v1.create(json!({"name": "sh", "is_public": false, "owner": "t1",
            "properties": {"os_distro": "debian"}})).await);
        let plain = id_of(&v1.create(json!({"name": "plain", "owner": "t1", "location": "file:///var/x"})).await);
        let t1 = v2::member(&srv, "t1");
        let p = t1.show(&public).await;
        assert_eq!(p["visibility"], "public");
        assert_eq!(p["status"], "active");
        let s = t1.show(&shared).await;
        assert_eq!(s["visibility"], "shared");
        assert_eq!(s["os_distro"], "debian");
        assert_eq!(s["os_hash_algo"], Value::Null);
        assert_eq!(s["tags"], json!([]));
        let pl = t1.show(&plain).await;
        assert_eq!(pl["visibility"], "shared", "v1 create without is_public");
        assert_eq!(crate::support::keys_of(&pl), v2::BASE_FIELDS, "no locations or direct_url");
        // A v1 member is pending in v2: the member can GET it but does not list it by default.
        let r = v1.send(Method::PUT, &format!("/images/{shared}/members/t2"), None, &[]).await;
        assert_eq!(r.status, 204, "{}", r.text);
        let t2 = v2::member(&srv, "t2");
        assert_eq!(t2.show(&shared).await["name"], "sh");
        assert!(!t2.list_ids("").await.contains(&shared));
        assert_eq!(t2.list_ids("member_status=pending&visibility=shared").await, vec![shared.clone()]);
        let r = t2.get(&format!("/v2/images/{shared}/members/t2")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["status"], "pending");
        t2.set_member_status(&shared, "t2", "accepted").await;
        assert_eq!(t2.list_ids("visibility=shared").await, vec![shared.clone()]);
        // v1 still lists the share.
        let r = v1.get(&format!("/images/{shared}/members")).await.expect(200);
        assert_eq!(r.json["members"][0]["member_id"], "t2");
    }

    async fn v1_sees_v2_images_and_changes(srv: TestServer) {
        let v1 = srv.admin();
        let t1 = v2::member(&srv, "t1");
        let admin = v2::admin(&srv);
        let public = admin.create_id(json!({"name": "pub", "visibility": "public", "owner": "t1"})).await;
        let private = t1.create_id(json!({"name": "priv", "visibility": "private", "k": "v",
            "disk_format": "raw"})).await;
        let community = t1.create_id(json!({"name": "comm", "visibility": "community"})).await;
        let p = v1.get(&format!("/images/{public}")).await.expect(200);
        assert_eq!(p.image()["is_public"], true);
        assert_eq!(p.image()["status"], "queued");
        let q = v1.get(&format!("/images/{private}")).await.expect(200);
        assert_eq!(q.image()["is_public"], false);
        assert_eq!(q.image()["owner"], "t1");
        assert_eq!(q.image()["disk_format"], "raw");
        assert_eq!(q.image()["properties"]["k"], "v");
        assert_eq!(v1.get(&format!("/images/{community}")).await.expect(200).image()["is_public"], false);
        // A v2 patch shows in v1.
        let r = t1.patch(&private, &json!([{"op": "replace", "path": "/name", "value": "renamed"},
                                           {"op": "add", "path": "/k2", "value": "v2"},
                                           {"op": "remove", "path": "/k"}])).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let q = v1.get(&format!("/images/{private}")).await.expect(200);
        assert_eq!(q.image()["name"], "renamed");
        assert_eq!(q.image()["properties"], json!({"k2": "v2"}));
        // A v1 update with is_public=false turns the private image shared.
        let r = v1.put(&format!("/images/{private}"), &json!({"image": {"is_public": false}})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(t1.show(&private).await["visibility"], "shared");
        let r = v1.put(&format!("/images/{public}"), &json!({"image": {"is_public": false}})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(t1.show(&public).await["visibility"], "shared");
        // v2 members show in v1 lists of members.
        t1.add_member(&private, "t2").await;
        let r = v1.get(&format!("/images/{private}/members")).await.expect(200);
        assert_eq!(r.json["members"][0]["member_id"], "t2");
        // A v2 delete shows in v1: gone for the tenant, deleted for the admin.
        no_content(&t1.delete(&format!("/v2/images/{community}")).await);
        srv.tenant("t1").get(&format!("/images/{community}")).await.expect_error(404);
        let d = v1.get(&format!("/images/{community}")).await.expect(200);
        assert_eq!(d.image()["deleted"], true);
        assert_eq!(d.image()["status"], "deleted");
    }
}

/// Contract §5: `download_image` needs the member role; a project reader (owner or member
/// project) gets 403. The download handler (src/api/v2/images.rs `download`) never calls
/// `policy::check_download`, so readers get 204.
async fn readers_may_not_download(srv: crate::support::TestServer) {
    let t1 = v2::member(&srv, "t1");
    let id = t1.create_id(json!({})).await;
    t1.add_member(&id, "t2").await;
    no_content(&t1.get(&format!("/v2/images/{id}/file")).await);
    no_content(
        &v2::member(&srv, "t2")
            .get(&format!("/v2/images/{id}/file"))
            .await,
    );
    error(
        &v2::reader(&srv, "t1")
            .get(&format!("/v2/images/{id}/file"))
            .await,
        403,
    );
    error(
        &v2::reader(&srv, "t2")
            .get(&format!("/v2/images/{id}/file"))
            .await,
        403,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_readers_may_not_download() {
    readers_may_not_download(
        crate::support::TestServer::start(crate::support::Backend::Sqlite).await,
    )
    .await
}
