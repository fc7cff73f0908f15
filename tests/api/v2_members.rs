//! Image sharing on v2: `/v2/images/{id}/members…` and how member status drives what a member
//! project sees (contract §2.4, §3.9, §4.4), on every backend.

use crate::backend_tests;
use crate::support::{Backend, TestServer, keys_of};
use crate::v2_support::{self as v2, error, no_content, sorted};
use reqwest::Method;
use serde_json::json;

backend_tests! {
    async fn v2_members_add_list_show_and_delete(srv: TestServer) {
        let owner = v2::member(&srv, "t1");
        let id = owner.create_id(json!({"name": "to share"})).await;
        let before = owner.show(&id).await;
        let m = owner.add_member(&id, "t2").await;
        assert_eq!(keys_of(&m), ["created_at", "image_id", "member_id", "schema", "status", "updated_at"]);
        assert_eq!(m["member_id"], "t2");
        assert_eq!(m["image_id"], id.as_str());
        assert_eq!(m["status"], "pending");
        assert_eq!(m["schema"], "/v2/schemas/member");
        assert!(m["created_at"].as_str().expect("created_at").ends_with('Z'));
        owner.add_member(&id, "t3").await;
        error(&owner.post(&format!("/v2/images/{id}/members"), &json!({"member": "t2"})).await, 409);
        // The owner (member or reader) and admins list every row.
        for who in [v2::member(&srv, "t1"), v2::reader(&srv, "t1"), v2::admin(&srv)] {
            let r = who.get(&format!("/v2/images/{id}/members")).await;
            assert_eq!(r.status, 200, "{}", r.text);
            assert_eq!(r.json["schema"], "/v2/schemas/members");
            let mut got: Vec<String> = r.json["members"].as_array().expect("members").iter()
                .map(|m| m["member_id"].as_str().expect("id").to_owned()).collect();
            got.sort();
            assert_eq!(got, ["t2", "t3"]);
        }
        // A member sees only its own row; another member's row is 404 to it.
        let r = v2::member(&srv, "t2").get(&format!("/v2/images/{id}/members")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["members"].as_array().expect("members").len(), 1);
        assert_eq!(r.json["members"][0]["member_id"], "t2");
        let r = v2::member(&srv, "t2").get(&format!("/v2/images/{id}/members/t2")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json, m);
        error(&v2::member(&srv, "t2").get(&format!("/v2/images/{id}/members/t3")).await, 404);
        let r = v2::reader(&srv, "t2").get(&format!("/v2/images/{id}/members")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["members"].as_array().expect("members").len(), 1);
        assert_eq!(r.json["members"][0]["member_id"], "t2");
        error(&owner.get(&format!("/v2/images/{id}/members/t9")).await, 404);
        // Outsiders do not see the image at all.
        error(&v2::member(&srv, "t4").get(&format!("/v2/images/{id}/members")).await, 404);
        error(&v2::member(&srv, "t4").post(&format!("/v2/images/{id}/members"), &json!({"member": "t4"})).await, 404);
        // Only the owner project (member role) or an admin adds or deletes members.
        error(&v2::member(&srv, "t2").post(&format!("/v2/images/{id}/members"), &json!({"member": "t5"})).await, 403);
        error(&v2::reader(&srv, "t1").post(&format!("/v2/images/{id}/members"), &json!({"member": "t5"})).await, 403);
        error(&v2::member(&srv, "t2").delete(&format!("/v2/images/{id}/members/t2")).await, 403);
        error(&v2::member(&srv, "t2").delete(&format!("/v2/images/{id}/members/t3")).await, 404);
        error(&v2::reader(&srv, "t1").delete(&format!("/v2/images/{id}/members/t2")).await, 403);
        v2::admin(&srv).add_member(&id, "t5").await;
        no_content(&owner.delete(&format!("/v2/images/{id}/members/t3")).await);
        no_content(&v2::admin(&srv).delete(&format!("/v2/images/{id}/members/t5")).await);
        error(&owner.delete(&format!("/v2/images/{id}/members/t3")).await, 404);
        error(&owner.delete(&format!("/v2/images/{id}/members/never")).await, 404);
        let r = owner.get(&format!("/v2/images/{id}/members")).await;
        assert_eq!(r.json["members"].as_array().expect("members").len(), 1);
        error(&v2::member(&srv, "t3").get(&format!("/v2/images/{id}")).await, 404);
        // The owner may add its own project. Member calls leave updated_at alone.
        owner.add_member(&id, "t1").await;
        assert_eq!(owner.show(&id).await["updated_at"], before["updated_at"]);
    }

    async fn v2_members_bad_bodies(srv: TestServer) {
        let owner = v2::member(&srv, "t1");
        let id = owner.create_id(json!({})).await;
        let path = format!("/v2/images/{id}/members");
        for body in [json!({}), json!([]), json!({"member": ""}), json!({"member": 5}),
                     json!({"member": null}), json!({"member_id": "t2"}), json!({"member": "m".repeat(256)}),
                     json!("t2")] {
            error(&owner.post(&path, &body).await, 400);
        }
        error(&owner.send(Method::POST, &path, None, &[]).await, 400);
        error(&owner.send(Method::POST, &path, Some(b"{nope".to_vec()), &[]).await, 400);
        let r = owner.get(&path).await;
        assert_eq!(r.json["members"], json!([]), "nothing was added");
        owner.add_member(&id, "t2").await;
        let member = v2::member(&srv, "t2");
        let mpath = format!("/v2/images/{id}/members/t2");
        for body in [json!({}), json!({"status": "approved"}), json!({"status": 1}), json!({"status": null})] {
            error(&member.put(&mpath, &body).await, 400);
        }
        assert_eq!(member.get(&mpath).await.json["status"], "pending");
        error(&member.send(Method::GET, &mpath, Some(b"{}".to_vec()), &[]).await, 400);
        error(&owner.send(Method::DELETE, &mpath, Some(b"{}".to_vec()), &[]).await, 400);
    }

    async fn v2_member_status_is_set_by_the_member_only(srv: TestServer) {
        let owner = v2::member(&srv, "t1");
        let id = owner.create_id(json!({"name": "offer"})).await;
        owner.add_member(&id, "t2").await;
        owner.add_member(&id, "t3").await;
        let path = format!("/v2/images/{id}/members/t2");
        // The owner may not decide for the member; a reader member may not either.
        error(&owner.put(&path, &json!({"status": "accepted"})).await, 403);
        error(&v2::reader(&srv, "t2").put(&path, &json!({"status": "accepted"})).await, 403);
        // Another member addressing t2's row: 404.
        error(&v2::member(&srv, "t3").put(&path, &json!({"status": "accepted"})).await, 404);
        assert_eq!(owner.get(&path).await.json["status"], "pending");

        let t2 = v2::member(&srv, "t2");
        let before = t2.get(&path).await.json;
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let m = t2.set_member_status(&id, "t2", "accepted").await;
        assert_eq!(m["status"], "accepted");
        assert_eq!(m["created_at"], before["created_at"]);
        assert_ne!(m["updated_at"], before["updated_at"]);
        assert_eq!(owner.get(&path).await.json["status"], "accepted");
        assert_eq!(t2.set_member_status(&id, "t2", "rejected").await["status"], "rejected");
        assert_eq!(t2.set_member_status(&id, "t2", "pending").await["status"], "pending");
        // An admin may set it too.
        assert_eq!(v2::admin(&srv).set_member_status(&id, "t3", "rejected").await["status"], "rejected");
        assert_eq!(owner.get(&format!("/v2/images/{id}/members/t3")).await.json["status"], "rejected");
    }

    async fn v2_member_status_decides_what_the_member_lists(srv: TestServer) {
        let owner = v2::member(&srv, "t1");
        let t2 = v2::member(&srv, "t2");
        let id = owner.create_id(json!({"name": "offer"})).await;
        let other = owner.create_id(json!({"name": "not offered"})).await;
        owner.add_member(&id, "t2").await;
        // Pending: the member can GET it but its default list lacks it.
        assert_eq!(t2.show(&id).await["name"], "offer");
        assert_eq!(t2.list_ids("").await, Vec::<String>::new());
        assert_eq!(t2.list_ids("member_status=pending").await, vec![id.clone()]);
        assert_eq!(t2.list_ids("member_status=all").await, vec![id.clone()]);
        assert_eq!(t2.list_ids("member_status=accepted").await, Vec::<String>::new());
        assert_eq!(t2.list_ids("visibility=shared&member_status=pending").await, vec![id.clone()]);
        error(&t2.get(&format!("/v2/images/{other}")).await, 404);
        error(&t2.get("/v2/images?member_status=maybe").await, 400);
        // Accepted: listed by default.
        t2.set_member_status(&id, "t2", "accepted").await;
        assert_eq!(t2.list_ids("").await, vec![id.clone()]);
        assert_eq!(v2::reader(&srv, "t2").list_ids("").await, vec![id.clone()]);
        assert_eq!(t2.list_ids("visibility=shared").await, vec![id.clone()]);
        assert_eq!(t2.list_ids("member_status=pending").await, Vec::<String>::new());
        // Rejected: out of the default list, still readable directly.
        t2.set_member_status(&id, "t2", "rejected").await;
        assert_eq!(t2.list_ids("").await, Vec::<String>::new());
        assert_eq!(t2.list_ids("member_status=rejected").await, vec![id.clone()]);
        assert_eq!(t2.show(&id).await["id"], id.as_str());
        // The owner's own images are never filtered by member_status.
        assert_eq!(owner.list_set("member_status=rejected").await, sorted(vec![id.clone(), other.clone()]));
        // A member reading the image may not change it.
        error(&t2.patch(&id, &json!([{"op": "replace", "path": "/name", "value": "x"}])).await, 403);
        error(&t2.delete(&format!("/v2/images/{id}")).await, 403);
        // A deleted membership grants nothing.
        no_content(&owner.delete(&format!("/v2/images/{id}/members/t2")).await);
        error(&t2.get(&format!("/v2/images/{id}")).await, 404);
        assert_eq!(t2.list_ids("member_status=all").await, Vec::<String>::new());
        // Re-adding reuses the row, pending again.
        assert_eq!(owner.add_member(&id, "t2").await["status"], "pending");
        assert_eq!(t2.list_ids("member_status=pending").await, vec![id.clone()]);
    }

    async fn v2_members_exist_only_on_shared_images(srv: TestServer) {
        let owner = v2::member(&srv, "t1");
        let t2 = v2::member(&srv, "t2");
        let private = owner.create_id(json!({"visibility": "private"})).await;
        error(&owner.post(&format!("/v2/images/{private}/members"), &json!({"member": "t2"})).await, 403);
        error(&owner.get(&format!("/v2/images/{private}/members")).await, 403);
        error(&owner.get(&format!("/v2/images/{private}/members/t2")).await, 404);
        error(&v2::admin(&srv).post(&format!("/v2/images/{private}/members"), &json!({"member": "t2"})).await, 403);

        // Members of a shared image go dormant when it turns private and revive on the way back.
        let id = owner.create_id(json!({"name": "flip"})).await;
        owner.add_member(&id, "t2").await;
        t2.set_member_status(&id, "t2", "accepted").await;
        assert_eq!(t2.list_ids("").await, vec![id.clone()]);
        let r = owner.patch(&id, &json!([{"op": "replace", "path": "/visibility", "value": "private"}])).await;
        assert_eq!(r.status, 200, "{}", r.text);
        error(&t2.get(&format!("/v2/images/{id}")).await, 404);
        assert_eq!(t2.list_ids("member_status=all").await, Vec::<String>::new());
        error(&owner.get(&format!("/v2/images/{id}/members")).await, 403);
        error(&owner.delete(&format!("/v2/images/{id}/members/t2")).await, 403);
        let r = owner.patch(&id, &json!([{"op": "replace", "path": "/visibility", "value": "shared"}])).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(t2.list_ids("").await, vec![id.clone()]);
        assert_eq!(t2.get(&format!("/v2/images/{id}/members/t2")).await.json["status"], "accepted");
        // Public images have no members either.
        let r = v2::admin(&srv).patch(&id, &json!([{"op": "replace", "path": "/visibility", "value": "public"}])).await;
        assert_eq!(r.status, 200, "{}", r.text);
        error(&owner.post(&format!("/v2/images/{id}/members"), &json!({"member": "t3"})).await, 403);
        error(&t2.put(&format!("/v2/images/{id}/members/t2"), &json!({"status": "rejected"})).await, 403);
    }

    async fn v2_member_quota_is_128(srv: TestServer) {
        let owner = v2::member(&srv, "t1");
        let id = owner.create_id(json!({})).await;
        for i in 0..128 {
            owner.add_member(&id, &format!("p{i:03}")).await;
        }
        error(&owner.post(&format!("/v2/images/{id}/members"), &json!({"member": "p128"})).await, 413);
        let r = owner.get(&format!("/v2/images/{id}/members")).await;
        assert_eq!(r.json["members"].as_array().expect("members").len(), 128);
        no_content(&owner.delete(&format!("/v2/images/{id}/members/p000")).await);
        owner.add_member(&id, "p128").await;
    }

    async fn v2_readding_a_member_resets_status_and_created_at(srv: TestServer) {
        let owner = v2::member(&srv, "t1");
        let id = owner.create_id(json!({})).await;
        let first = owner.add_member(&id, "t2").await;
        v2::member(&srv, "t2").set_member_status(&id, "t2", "accepted").await;
        no_content(&owner.delete(&format!("/v2/images/{id}/members/t2")).await);
        error(&owner.get(&format!("/v2/images/{id}/members/t2")).await, 404);
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let again = owner.add_member(&id, "t2").await;
        assert_eq!(again["status"], "pending");
        assert_ne!(again["created_at"], first["created_at"]);
        let r = owner.get(&format!("/v2/images/{id}/members")).await;
        assert_eq!(r.json["members"].as_array().expect("members").len(), 1);
    }

    async fn v2_v1_members_on_private_images_stay_dormant(srv: TestServer) {
        let owner = v2::member(&srv, "t1");
        let t2 = v2::member(&srv, "t2");
        let id = owner.create_id(json!({"visibility": "private"})).await;
        let r = srv.admin().send(Method::PUT, &format!("/images/{id}/members/t2"), None, &[]).await;
        assert_eq!(r.status, 204, "{}", r.text);
        // Stored, but it grants nothing while the image is private.
        error(&t2.get(&format!("/v2/images/{id}")).await, 404);
        assert_eq!(t2.list_ids("member_status=all&visibility=all").await, Vec::<String>::new());
        let r = owner.patch(&id, &json!([{"op": "replace", "path": "/visibility", "value": "shared"}])).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(t2.show(&id).await["id"], id.as_str());
        let r = t2.get(&format!("/v2/images/{id}/members/t2")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["status"], "pending");
        assert_eq!(t2.list_ids("member_status=pending").await, vec![id.clone()]);
    }

    async fn v2_concurrent_adds_of_one_member_make_one_row(srv: TestServer) {
        let owner = v2::member(&srv, "t1");
        let id = owner.create_id(json!({})).await;
        let results = v2::concurrently(&srv, "t1", 8, Method::POST,
            |_| format!("/v2/images/{id}/members"), |_| Some(json!({"member": "t2"}))).await;
        assert_eq!(v2::count(&results, 200), 1, "{results:?}");
        assert_eq!(v2::count(&results, 409), 7, "{results:?}");
        let r = owner.get(&format!("/v2/images/{id}/members")).await;
        assert_eq!(r.json["members"].as_array().expect("members").len(), 1);
    }

    async fn v2_member_status_survives_v1_membership_updates(srv: TestServer) {
        let owner = v2::member(&srv, "t1");
        let t2 = v2::member(&srv, "t2");
        let id = owner.create_id(json!({"name": "both apis"})).await;
        owner.add_member(&id, "t2").await;
        owner.add_member(&id, "t3").await;
        t2.set_member_status(&id, "t2", "accepted").await;
        // A v1 update of the membership changes can_share only.
        let v1 = srv.admin();
        let r = v1.put(&format!("/images/{id}/members/t2"), &json!({"member": {"can_share": true}})).await;
        assert_eq!(r.status, 204, "{}", r.text);
        assert_eq!(t2.get(&format!("/v2/images/{id}/members/t2")).await.json["status"], "accepted");
        assert_eq!(t2.list_ids("").await, vec![id.clone()]);
        let r = v1.get(&format!("/images/{id}/members")).await.expect(200);
        assert_eq!(r.json["members"], json!([
            {"member_id": "t2", "can_share": true}, {"member_id": "t3", "can_share": false}]));
        // v1 shows every share whatever its status: t3 is still pending.
        let r = v1.get("/shared-images/t3").await.expect(200);
        assert_eq!(r.json["shared_images"], json!([{"image_id": id, "can_share": false}]));
        // A v1 delete removes the v2 membership.
        let r = v1.delete(&format!("/images/{id}/members/t3")).await;
        assert_eq!(r.status, 204, "{}", r.text);
        error(&v2::member(&srv, "t3").get(&format!("/v2/images/{id}")).await, 404);
    }

    async fn v2_project_admin_lists_its_own_community_images(srv: TestServer) {
        let ops = v2::project_admin(&srv, "ops");
        let own = ops.create_id(json!({"visibility": "community"})).await;
        let other = v2::member(&srv, "t1").create_id(json!({"visibility": "community"})).await;
        assert_eq!(ops.list_ids("").await, vec![own.clone()]);
        assert_eq!(ops.list_set("visibility=community").await, sorted(vec![own.clone(), other.clone()]));
        // An admin may change status of any member row and delete any member.
        let shared = v2::member(&srv, "t1").create_id(json!({})).await;
        ops.add_member(&shared, "t2").await;
        assert_eq!(ops.set_member_status(&shared, "t2", "accepted").await["status"], "accepted");
        no_content(&ops.delete(&format!("/v2/images/{shared}/members/t2")).await);
    }
}

/// 126 members, then 6 concurrent adds of different projects: exactly 2 fit under the quota
/// of 128. On PostgreSQL and MariaDB the quota check of `AddMember`
/// (src/storage/sql/writes.rs) is a plain SELECT count in a READ COMMITTED / REPEATABLE READ
/// transaction with no lock on the image, so concurrent adds each see 126 or 127 rows and the
/// image ends with more than 128 members.
async fn concurrent_adds_respect_the_member_quota(srv: TestServer) {
    let owner = v2::member(&srv, "t1");
    let id = owner.create_id(json!({})).await;
    for i in 0..126 {
        owner.add_member(&id, &format!("p{i:03}")).await;
    }
    let results = v2::concurrently(
        &srv,
        "t1",
        6,
        Method::POST,
        |_| format!("/v2/images/{id}/members"),
        |i| Some(json!({"member": format!("new{i}")})),
    )
    .await;
    assert_eq!(v2::count(&results, 200), 2, "{results:?}");
    assert_eq!(v2::count(&results, 413), 4, "{results:?}");
    let r = owner.get(&format!("/v2/images/{id}/members")).await;
    assert_eq!(r.json["members"].as_array().expect("members").len(), 128);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_concurrent_adds_respect_the_member_quota_sqlite() {
    concurrent_adds_respect_the_member_quota(TestServer::start(Backend::Sqlite).await).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_concurrent_adds_respect_the_member_quota_postgres() {
    concurrent_adds_respect_the_member_quota(TestServer::start(Backend::Postgres).await).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_concurrent_adds_respect_the_member_quota_mysql() {
    concurrent_adds_respect_the_member_quota(TestServer::start(Backend::Mysql).await).await
}

/// Contract §7: a v1 update of a membership "revives a soft-deleted row, which keeps its old
/// status"; §3.9: a v2 re-add reuses the row as pending with a new `created_at`. Meanwhile
/// the removed member sees nothing of the image.
async fn removed_members_revive_as_glance_revives_them(srv: TestServer) {
    let owner = v2::member(&srv, "t1");
    let t2 = v2::member(&srv, "t2");
    let id = owner.create_id(json!({"visibility": "shared"})).await;
    owner.add_member(&id, "t2").await;
    t2.set_member_status(&id, "t2", "accepted").await;
    let first = t2.get(&format!("/v2/images/{id}/members/t2")).await;
    assert_eq!(first.status, 200, "{}", first.text);
    no_content(&owner.delete(&format!("/v2/images/{id}/members/t2")).await);
    assert_eq!(t2.list_ids("member_status=all").await, Vec::<String>::new());
    assert_eq!(t2.get(&format!("/v2/images/{id}")).await.status, 404);
    let r = owner.get(&format!("/v2/images/{id}/members")).await;
    assert_eq!(r.json["members"], json!([]), "{}", r.text);
    // Deleting it again: there is no live member to delete.
    assert_eq!(
        owner
            .delete(&format!("/v2/images/{id}/members/t2"))
            .await
            .status,
        404
    );

    // v1 names the member again: the old answer comes back.
    let r = srv
        .admin()
        .put(
            &format!("/images/{id}/members/t2"),
            &json!({"member": {"can_share": false}}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = t2.get(&format!("/v2/images/{id}/members/t2")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["status"], "accepted");
    assert_eq!(r.json["created_at"], first.json["created_at"]);
    assert_eq!(t2.list_ids("").await, vec![id.clone()]);

    // v2 removes and re-adds it: pending again, created now.
    no_content(&owner.delete(&format!("/v2/images/{id}/members/t2")).await);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let r = owner
        .post(
            &format!("/v2/images/{id}/members"),
            &json!({"member": "t2"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["status"], "pending");
    let again = t2.get(&format!("/v2/images/{id}/members/t2")).await;
    assert_eq!(again.json["status"], "pending", "{}", again.text);
    assert_ne!(again.json["created_at"], first.json["created_at"]);
    assert_eq!(t2.list_ids("").await, Vec::<String>::new());
    assert_eq!(t2.list_ids("member_status=pending").await, vec![id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_removed_members_revive_as_glance_revives_them_sqlite() {
    removed_members_revive_as_glance_revives_them(TestServer::start(Backend::Sqlite).await).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_removed_members_revive_as_glance_revives_them_postgres() {
    removed_members_revive_as_glance_revives_them(TestServer::start(Backend::Postgres).await).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_removed_members_revive_as_glance_revives_them_mysql() {
    removed_members_revive_as_glance_revives_them(TestServer::start(Backend::Mysql).await).await
}
