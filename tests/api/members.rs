//! Image memberships and `/shared-images` (spec sections 1 and 2).

use crate::backend_tests;
use crate::support::{As, Resp, id_of};
use reqwest::Method;
use serde_json::{Value, json};

async fn add(who: &As<'_>, image: &str, member: &str, body: Option<Value>) -> Resp {
    who.send(
        Method::PUT,
        &format!("/images/{image}/members/{member}"),
        body.map(|b| b.to_string().into_bytes()),
        &[],
    )
    .await
}

async fn members(who: &As<'_>, image: &str) -> Value {
    who.get(&format!("/images/{image}/members"))
        .await
        .expect(200)
        .json["members"]
        .clone()
}

async fn shared(who: &As<'_>, member: &str) -> Value {
    who.get(&format!("/shared-images/{member}"))
        .await
        .expect(200)
        .json["shared_images"]
        .clone()
}

backend_tests! {
    async fn add_update_and_remove_one_member(srv: TestServer) {
        let owner = srv.tenant("t1");
        let img = id_of(&owner.create(json!({"name": "private"})).await);
        assert_eq!(members(&owner, &img).await, json!([]));

        let r = add(&owner, &img, "t2", None).await.expect(204);
        assert!(r.text.is_empty(), "204 has no body: {}", r.text);
        assert_eq!(members(&owner, &img).await, json!([{"member_id": "t2", "can_share": false}]));
        add(&owner, &img, "t3", Some(json!({"member": {"can_share": true}}))).await.expect(204);
        assert_eq!(members(&owner, &img).await, json!([
            {"member_id": "t2", "can_share": false}, {"member_id": "t3", "can_share": true}]));
        // Updating an existing membership.
        add(&owner, &img, "t2", Some(json!({"member": {"can_share": true}}))).await.expect(204);
        assert_eq!(members(&owner, &img).await[0], json!({"member_id": "t2", "can_share": true}));
        // Without a body (or without can_share) an existing flag is kept.
        add(&owner, &img, "t2", None).await.expect(204);
        add(&owner, &img, "t2", Some(json!({"member": {}}))).await.expect(204);
        assert_eq!(members(&owner, &img).await[0], json!({"member_id": "t2", "can_share": true}));
        add(&owner, &img, "t2", Some(json!({"member": {"can_share": false}}))).await.expect(204);
        assert_eq!(members(&owner, &img).await[0], json!({"member_id": "t2", "can_share": false}));

        let r = owner.delete(&format!("/images/{img}/members/t3")).await.expect(204);
        assert!(r.text.is_empty());
        assert_eq!(members(&owner, &img).await, json!([{"member_id": "t2", "can_share": false}]));
        // Removing a membership that is not there is 404.
        owner.delete(&format!("/images/{img}/members/t3")).await.expect_error(404);
        owner.delete(&format!("/images/{img}/members/never")).await.expect_error(404);
        assert_eq!(members(&owner, &img).await, json!([{"member_id": "t2", "can_share": false}]));
        // Re-adding works like a first add: can_share starts false again.
        add(&owner, &img, "t3", None).await.expect(204);
        assert_eq!(members(&owner, &img).await[1], json!({"member_id": "t3", "can_share": false}));
        assert_eq!(shared(&srv.admin(), "t3").await, json!([{"image_id": img, "can_share": false}]));
        // Removed and re-added with can_share.
        owner.delete(&format!("/images/{img}/members/t3")).await.expect(204);
        add(&owner, &img, "t3", Some(json!({"member": {"can_share": true}}))).await.expect(204);
        assert_eq!(members(&owner, &img).await[1], json!({"member_id": "t3", "can_share": true}));
    }

    async fn can_share_must_be_a_json_boolean(srv: TestServer) {
        let owner = srv.tenant("t1");
        let img = id_of(&owner.create(json!({"name": "private"})).await);
        for bad in [json!("false"), json!("true"), json!(1), json!(0), json!("yes"), json!([]), json!({})] {
            add(&owner, &img, "t2", Some(json!({"member": {"can_share": bad.clone()}})))
                .await.expect_error(400);
            let r = owner.send(Method::PUT, &format!("/images/{img}/members"),
                Some(json!({"memberships": [{"member_id": "t2", "can_share": bad}]}).to_string().into_bytes()), &[])
                .await;
            r.expect_error(400);
        }
        // The string "false" in particular must not have made anyone a sharer (or member).
        assert_eq!(members(&owner, &img).await, json!([]));
        srv.tenant("t2").get(&format!("/images/{img}")).await.expect_error(404);
        // An existing membership is not changed by a rejected update either.
        add(&owner, &img, "t2", None).await.expect(204);
        add(&owner, &img, "t2", Some(json!({"member": {"can_share": "true"}}))).await.expect_error(400);
        assert_eq!(members(&owner, &img).await, json!([{"member_id": "t2", "can_share": false}]));
        // Other malformed bodies.
        for raw in [&b"not json"[..], b"{\"member\": \"x\"}", b"{\"member\": [true]}", b"[1"] {
            let r = owner.send(Method::PUT, &format!("/images/{img}/members/t4"), Some(raw.to_vec()), &[]).await;
            r.expect_error(400);
        }
        assert_eq!(members(&owner, &img).await, json!([{"member_id": "t2", "can_share": false}]));
    }

    async fn replace_all_memberships(srv: TestServer) {
        let owner = srv.tenant("t1");
        let img = id_of(&owner.create(json!({"name": "private"})).await);
        let put_all = |body: Value| {
            let path = format!("/images/{img}/members");
            let o = &owner;
            async move { o.send(Method::PUT, &path, Some(body.to_string().into_bytes()), &[]).await }
        };
        let r = put_all(json!({"memberships": [{"member_id": "t2", "can_share": false},
                                               {"member_id": "t3", "can_share": true}]})).await.expect(204);
        assert!(r.text.is_empty());
        assert_eq!(members(&owner, &img).await, json!([
            {"member_id": "t2", "can_share": false}, {"member_id": "t3", "can_share": true}]));
        put_all(json!({"memberships": [{"member_id": "t3", "can_share": false}, {"member_id": "t4"}]}))
            .await.expect(204);
        assert_eq!(members(&owner, &img).await, json!([
            {"member_id": "t3", "can_share": false}, {"member_id": "t4", "can_share": false}]));
        srv.tenant("t2").get(&format!("/images/{img}")).await.expect_error(404);
        srv.tenant("t4").get(&format!("/images/{img}")).await.expect(200);
        // Malformed bodies change nothing.
        for bad in [json!({}), json!({"memberships": {}}), json!({"memberships": [{"can_share": true}]}),
                    json!({"memberships": [{"member_id": 5}]}), json!({"memberships": "t2"}),
                    json!({"memberships": [{"member_id": ""}]}), json!([])] {
            put_all(bad).await.expect_error(400);
        }
        owner.send(Method::PUT, &format!("/images/{img}/members"), Some(b"nope".to_vec()), &[])
            .await.expect_error(400);
        assert_eq!(members(&owner, &img).await.as_array().unwrap().len(), 2);
        put_all(json!({"memberships": []})).await.expect(204);
        assert_eq!(members(&owner, &img).await, json!([]));
        srv.tenant("t3").get(&format!("/images/{img}")).await.expect_error(404);
    }

    async fn replacing_the_list_keeps_an_unsaid_can_share(srv: TestServer) {
        let owner = srv.tenant("t1");
        let img = id_of(&owner.create(json!({"name": "private"})).await);
        let path = format!("/images/{img}/members");
        let put_all = |body: Value| {
            let o = &owner;
            let path = path.clone();
            async move { o.send(Method::PUT, &path, Some(body.to_string().into_bytes()), &[]).await }
        };
        put_all(json!({"memberships": [{"member_id": "t2", "can_share": true},
                                       {"member_id": "t3", "can_share": true},
                                       {"member_id": "t4", "can_share": false}]})).await.expect(204);
        // t2 says nothing: kept; t3 says false: reset; t4 says true; t5 is new: false; t6 new, true.
        put_all(json!({"memberships": [{"member_id": "t2"}, {"member_id": "t3", "can_share": false},
                                       {"member_id": "t4", "can_share": true}, {"member_id": "t5"},
                                       {"member_id": "t6", "can_share": true}]})).await.expect(204);
        assert_eq!(members(&owner, &img).await, json!([
            {"member_id": "t2", "can_share": true}, {"member_id": "t3", "can_share": false},
            {"member_id": "t4", "can_share": true}, {"member_id": "t5", "can_share": false},
            {"member_id": "t6", "can_share": true}]));
        // A member that was removed and comes back with nothing said starts over at false.
        put_all(json!({"memberships": [{"member_id": "t5"}]})).await.expect(204);
        put_all(json!({"memberships": [{"member_id": "t5"}, {"member_id": "t6"}]})).await.expect(204);
        assert_eq!(members(&owner, &img).await, json!([
            {"member_id": "t5", "can_share": false}, {"member_id": "t6", "can_share": false}]));
        // A member with can_share may itself replace the list, keeping its own flag.
        put_all(json!({"memberships": [{"member_id": "t5", "can_share": true}]})).await.expect(204);
        let t5 = srv.tenant("t5");
        t5.send(Method::PUT, &path,
                Some(json!({"memberships": [{"member_id": "t5"}, {"member_id": "t7"}]}).to_string().into_bytes()), &[])
            .await.expect(204);
        assert_eq!(members(&owner, &img).await, json!([
            {"member_id": "t5", "can_share": true}, {"member_id": "t7", "can_share": false}]));
    }

    async fn membership_makes_a_private_image_visible(srv: TestServer) {
        let owner = srv.tenant("t1");
        let t2 = srv.tenant("t2");
        let img = id_of(&owner.create(json!({"name": "private"})).await);
        t2.get(&format!("/images/{img}")).await.expect_error(404);
        assert!(t2.get("/images").await.expect(200).ids().is_empty());
        add(&owner, &img, "t2", None).await.expect(204);
        assert_eq!(t2.get(&format!("/images/{img}")).await.expect(200).image()["name"], "private");
        assert_eq!(t2.head(&format!("/images/{img}")).await.status, 200);
        assert_eq!(t2.get("/images").await.expect(200).ids(), vec![img.clone()]);
        assert_eq!(t2.get("/images/detail").await.expect(200).ids(), vec![img.clone()]);
        // ...but does not let the member change it.
        t2.put(&format!("/images/{img}"), &json!({"image": {"name": "mine now"}})).await.expect_error(403);
        t2.delete(&format!("/images/{img}")).await.expect_error(403);
        assert_eq!(owner.get(&format!("/images/{img}")).await.expect(200).image()["name"], "private");
        owner.delete(&format!("/images/{img}/members/t2")).await.expect(204);
        t2.get(&format!("/images/{img}")).await.expect_error(404);
        assert!(t2.get("/images").await.expect(200).ids().is_empty());
    }

    async fn who_may_change_memberships(srv: TestServer) {
        let admin = srv.admin();
        let owner = srv.tenant("t1");
        let sharer = srv.tenant("t2");
        let plain = srv.tenant("t3");
        let outsider = srv.tenant("t9");
        let img = id_of(&owner.create(json!({"name": "private"})).await);
        add(&owner, &img, "t2", Some(json!({"member": {"can_share": true}}))).await.expect(204);
        add(&owner, &img, "t3", None).await.expect(204);

        // A member without can_share may not change memberships.
        add(&plain, &img, "t5", None).await.expect_error(403);
        plain.delete(&format!("/images/{img}/members/t2")).await.expect_error(403);
        plain.send(Method::PUT, &format!("/images/{img}/members"),
                   Some(br#"{"memberships": []}"#.to_vec()), &[]).await.expect_error(403);
        // A member with can_share may.
        add(&sharer, &img, "t5", None).await.expect(204);
        sharer.delete(&format!("/images/{img}/members/t5")).await.expect(204);
        // Someone who cannot see the image learns nothing: 404.
        add(&outsider, &img, "t9", None).await.expect_error(404);
        outsider.delete(&format!("/images/{img}/members/t3")).await.expect_error(404);
        outsider.get(&format!("/images/{img}/members")).await.expect_error(404);
        outsider.send(Method::PUT, &format!("/images/{img}/members"),
                      Some(br#"{"memberships": []}"#.to_vec()), &[]).await.expect_error(404);
        // Admins may.
        add(&admin, &img, "t6", None).await.expect(204);
        admin.delete(&format!("/images/{img}/members/t6")).await.expect(204);
        add(&srv.tenant_admin("t7"), &img, "t8", None).await.expect(204);
        assert_eq!(members(&owner, &img).await, json!([
            {"member_id": "t2", "can_share": true}, {"member_id": "t3", "can_share": false},
            {"member_id": "t8", "can_share": false}]));

        // On a public image, a non-member can see it but not share it.
        let public = id_of(&owner.create(json!({"name": "public", "is_public": true})).await);
        add(&outsider, &public, "t9", None).await.expect_error(403);
        outsider.delete(&format!("/images/{public}/members/t9")).await.expect_error(403);
        // A non-admin caller with no tenant: 401.
        let no_tenant = srv.caller(&[("x-auth-token", "tok"), ("x-identity-status", "Confirmed"),
                                     ("x-roles", "member")]);
        add(&no_tenant, &public, "t9", None).await.expect_error(401);
        no_tenant.delete(&format!("/images/{public}/members/t9")).await.expect_error(401);
        no_tenant.send(Method::PUT, &format!("/images/{public}/members"),
                       Some(br#"{"memberships": []}"#.to_vec()), &[]).await.expect_error(401);
        assert_eq!(members(&owner, &public).await, json!([]));
    }

    async fn member_lists_do_not_leak(srv: TestServer) {
        let owner = srv.tenant("t1");
        let img = id_of(&owner.create(json!({"name": "public", "is_public": true})).await);
        add(&owner, &img, "t2", None).await.expect(204);
        add(&owner, &img, "t3", Some(json!({"member": {"can_share": true}}))).await.expect(204);
        let all = json!([{"member_id": "t2", "can_share": false}, {"member_id": "t3", "can_share": true}]);
        assert_eq!(members(&owner, &img).await, all);
        assert_eq!(members(&srv.admin(), &img).await, all);
        // A member sees only their own membership, even one allowed to share.
        assert_eq!(members(&srv.tenant("t2"), &img).await, json!([{"member_id": "t2", "can_share": false}]));
        assert_eq!(members(&srv.tenant("t3"), &img).await, json!([{"member_id": "t3", "can_share": true}]));
        // Someone who merely sees the public image sees nobody.
        assert_eq!(members(&srv.tenant("t9"), &img).await, json!([]));
        let no_tenant = srv.caller(&[("x-auth-token", "tok"), ("x-identity-status", "Confirmed")]);
        assert_eq!(members(&no_tenant, &img).await, json!([]));
    }

    async fn shared_images_lists_memberships(srv: TestServer) {
        let admin = srv.admin();
        let t1 = srv.tenant("t1");
        let t3 = srv.tenant("t3");
        let a = id_of(&t1.create(json!({"name": "a"})).await);
        let b = id_of(&t1.create(json!({"name": "b", "is_public": true})).await);
        let c = id_of(&t3.create(json!({"name": "c"})).await);
        let _unshared = id_of(&t1.create(json!({"name": "unshared"})).await);
        add(&t1, &a, "t2", Some(json!({"member": {"can_share": true}}))).await.expect(204);
        add(&t1, &b, "t2", None).await.expect(204);
        add(&t3, &c, "t2", None).await.expect(204);
        add(&t3, &c, "t4", None).await.expect(204);
        let mut expected = vec![json!({"image_id": a, "can_share": true}), json!({"image_id": b, "can_share": false}),
                                json!({"image_id": c, "can_share": false})];
        expected.sort_by(|x, y| x["image_id"].as_str().cmp(&y["image_id"].as_str()));
        let r = admin.get("/shared-images/t2").await.expect(200);
        assert_eq!(r.json, json!({"shared_images": expected.clone()}));
        assert_eq!(shared(&srv.tenant("t2"), "t2").await, json!(expected.clone()), "the member itself");
        assert_eq!(shared(&srv.tenant_admin("t8"), "t2").await, json!(expected.clone()));
        // Another tenant learns only about its own images' memberships.
        let own: Vec<Value> = expected.iter().filter(|e| e["image_id"] != c.as_str()).cloned().collect();
        assert_eq!(shared(&t1, "t2").await, json!(own));
        assert_eq!(shared(&t3, "t2").await, json!([{"image_id": c, "can_share": false}]));
        assert_eq!(shared(&srv.tenant("t9"), "t2").await, json!([]));
        let no_tenant = srv.caller(&[("x-auth-token", "tok"), ("x-identity-status", "Confirmed")]);
        assert_eq!(shared(&no_tenant, "t2").await, json!([]));
        assert_eq!(shared(&admin, "nobody").await, json!([]));
        assert_eq!(shared(&admin, "t4").await, json!([{"image_id": c, "can_share": false}]));
        // Removed memberships and deleted images drop out.
        t1.delete(&format!("/images/{b}/members/t2")).await.expect(204);
        t3.delete(&format!("/images/{c}")).await.expect(200);
        assert_eq!(shared(&admin, "t2").await, json!([{"image_id": a, "can_share": true}]));
        assert_eq!(shared(&admin, "t4").await, json!([]));
    }

    async fn members_of_missing_or_deleted_images_are_404(srv: TestServer) {
        let admin = srv.admin();
        let owner = srv.tenant("t1");
        let img = id_of(&owner.create(json!({"name": "x"})).await);
        add(&owner, &img, "t2", None).await.expect(204);
        owner.delete(&format!("/images/{img}")).await.expect(200);
        for who in [&admin, &owner] {
            who.get(&format!("/images/{img}/members")).await.expect_error(404);
            add(who, &img, "t3", None).await.expect_error(404);
            who.delete(&format!("/images/{img}/members/t2")).await.expect_error(404);
            who.send(Method::PUT, &format!("/images/{img}/members"),
                     Some(br#"{"memberships": []}"#.to_vec()), &[]).await.expect_error(404);
        }
        let missing = "6e5d4c3b-2a19-4807-b6a5-948372615049";
        admin.get(&format!("/images/{missing}/members")).await.expect_error(404);
        add(&admin, missing, "t3", None).await.expect_error(404);
        admin.delete(&format!("/images/{missing}/members/t3")).await.expect_error(404);
        admin.get("/images/not-a-uuid/members").await.expect_error(404);
    }

    async fn concurrent_membership_changes_lose_nothing(srv: TestServer) {
        let owner = srv.tenant("t1");
        let img = id_of(&owner.create(json!({"name": "popular"})).await);
        let mut tasks = Vec::new();
        for i in 0..8 {
            let (http, url) = (srv.http.clone(), format!("{}/images/{img}/members/m{i}", srv.base));
            tasks.push(tokio::spawn(async move {
                http.put(&url).header("x-auth-token", "t").header("x-identity-status", "Confirmed")
                    .header("x-tenant-id", "t1").send().await.expect("sent").status().as_u16()
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), 204);
        }
        let got = members(&owner, &img).await;
        let ids: Vec<&str> = got.as_array().unwrap().iter().map(|m| m["member_id"].as_str().unwrap()).collect();
        assert_eq!(ids, (0..8).map(|i| format!("m{i}")).collect::<Vec<_>>());
    }

    async fn member_ids_are_opaque_strings(srv: TestServer) {
        let admin = srv.admin();
        let img = id_of(&admin.create(json!({"name": "x", "owner": "t1"})).await);
        add(&admin, &img, "tenant%20%C3%A9", None).await.expect(204);
        add(&admin, &img, "a%2Fb", None).await.expect(204);
        let long = "m".repeat(255);
        add(&admin, &img, &long, None).await.expect(204);
        let got = members(&admin, &img).await;
        let ids: Vec<&str> = got.as_array().unwrap().iter().map(|m| m["member_id"].as_str().unwrap()).collect();
        assert_eq!(ids, vec!["a/b", long.as_str(), "tenant é"]);
        add(&admin, &img, &"m".repeat(256), None).await.expect_error(400);
        // Member ids are exact: a near miss is another member.
        admin.delete(&format!("/images/{img}/members/tenant%20%C3%A9%20")).await.expect_error(404);
        admin.delete(&format!("/images/{img}/members/TENANT%20%C3%A9")).await.expect_error(404);
        admin.delete(&format!("/images/{img}/members/tenant%20%C3%A9")).await.expect(204);
        assert_eq!(members(&admin, &img).await.as_array().unwrap().len(), 2);
    }
}
