//! Callers and what they may see and change (spec section 2).

use crate::backend_tests;
use crate::support::{As, id_of};
use glimpse::config::NoAuth;
use reqwest::Method;
use serde_json::json;

/// A confirmed caller with exactly these extra headers.
fn confirmed<'a>(srv: &'a crate::support::TestServer, extra: &[(&str, &str)]) -> As<'a> {
    let mut h = vec![("x-auth-token", "tok"), ("x-identity-status", "Confirmed")];
    h.extend_from_slice(extra);
    srv.caller(&h)
}

backend_tests! {
    async fn private_images_of_others_are_404_not_403(srv: TestServer) {
        let t1 = srv.tenant("t1");
        let t2 = srv.tenant("t2");
        let img = t1.create(json!({"name": "secret", "properties": {"k": "v"}})).await;
        let id = id_of(&img);
        let path = format!("/images/{id}");
        let missing = "/images/6e5d4c3b-2a19-4807-b6a5-948372615049";
        let private = t2.get(&path).await.expect_error(404);
        let absent = t2.get(missing).await.expect_error(404);
        assert_eq!(private.json, absent.json, "a private image looks exactly like a missing one");
        assert!(!private.text.contains("secret"));
        assert_eq!(t2.head(&path).await.status, 404);
        assert!(t2.head(&path).await.header("x-image-meta-name").is_none());
        let r = t2.put(&path, &json!({"image": {"name": "pwned"}})).await.expect_error(404);
        assert_eq!(r.json, t2.put(missing, &json!({"image": {"name": "pwned"}})).await.json);
        t2.delete(&path).await.expect_error(404);
        t2.get(&format!("{path}/members")).await.expect_error(404);
        t2.send(Method::PUT, &format!("{path}/members/t2"), None, &[]).await.expect_error(404);
        assert!(t2.get("/images").await.expect(200).ids().is_empty());
        assert!(t2.get("/images/detail?name=secret").await.expect(200).ids().is_empty());
        // Nothing changed.
        assert_eq!(t1.get(&path).await.expect(200).image(), &img);
        assert_eq!(t1.get(&format!("{path}/members")).await.expect(200).json["members"], json!([]));
    }

    async fn visible_but_not_owned_is_403(srv: TestServer) {
        let admin = srv.admin();
        let t1 = srv.tenant("t1");
        let t2 = srv.tenant("t2");
        let public = t1.create(json!({"name": "public", "is_public": true})).await;
        let shared = t1.create(json!({"name": "shared"})).await;
        t1.send(Method::PUT, &format!("/images/{}/members/t2", id_of(&shared)), None, &[]).await.expect(204);
        let ownerless = admin.create(json!({"name": "ownerless"})).await;
        assert!(ownerless["owner"].is_null());
        for img in [&public, &shared, &ownerless] {
            let path = format!("/images/{}", id_of(img));
            let before = t2.get(&path).await.expect(200);
            t2.put(&path, &json!({"image": {"name": "mine"}})).await.expect_error(403);
            t2.delete(&path).await.expect_error(403);
            let after = t2.get(&path).await.expect(200);
            assert_eq!(after.image()["name"], before.image()["name"]);
            assert_eq!(after.image()["updated_at"], before.image()["updated_at"]);
        }
        // Ownerless images are visible to every tenant, listed too, but only admins change them.
        let t3 = srv.tenant("t3");
        assert!(t3.get("/images").await.expect(200).ids().contains(&id_of(&ownerless)));
        t1.put(&format!("/images/{}", id_of(&ownerless)), &json!({"image": {"name": "x"}})).await.expect_error(403);
        admin.put(&format!("/images/{}", id_of(&ownerless)), &json!({"image": {"name": "x"}})).await.expect(200);
        // The owner and any admin may change and delete.
        t1.put(&format!("/images/{}", id_of(&public)), &json!({"image": {"name": "p2"}})).await.expect(200);
        srv.tenant_admin("t9").put(&format!("/images/{}", id_of(&shared)), &json!({"image": {"name": "s2"}}))
            .await.expect(200);
        srv.tenant_admin("t9").delete(&format!("/images/{}", id_of(&shared))).await.expect(200);
        t1.delete(&format!("/images/{}", id_of(&public))).await.expect(200);
    }

    async fn owner_comes_from_the_tenant(srv: TestServer) {
        let admin = srv.admin();
        let t1 = srv.tenant("t1");
        let t2 = srv.tenant("t2");
        let img = t1.create(json!({"name": "x", "owner": "t2"})).await;
        assert_eq!(img["owner"], "t1", "a non-admin's owner is ignored");
        let path = format!("/images/{}", id_of(&img));
        t2.get(&path).await.expect_error(404);
        let r = t1.put(&path, &json!({"image": {"owner": "t2", "name": "renamed"}})).await.expect(200);
        assert_eq!(r.image()["owner"], "t1");
        assert_eq!(r.image()["name"], "renamed", "the rest of the update applies");
        let r = t1.put(&path, &json!({"image": {"owner": null}})).await.expect(200);
        assert_eq!(r.image()["owner"], "t1");
        t2.get(&path).await.expect_error(404);

        // Admins may set and change it.
        let r = admin.put(&path, &json!({"image": {"owner": "t2"}})).await.expect(200);
        assert_eq!(r.image()["owner"], "t2");
        t1.get(&path).await.expect_error(404);
        t2.put(&path, &json!({"image": {"min_ram": 1}})).await.expect(200);
        let ta = srv.tenant_admin("ta");
        assert_eq!(ta.create(json!({})).await["owner"], "ta");
        assert_eq!(ta.create(json!({"owner": "other"})).await["owner"], "other");
        assert!(ta.create(json!({"owner": null})).await["owner"].is_null());
        let r = admin.put(&path, &json!({"image": {"owner": null}})).await.expect(200);
        assert!(r.image()["owner"].is_null());
        t1.get(&path).await.expect(200);
    }

    async fn deleted_images_are_for_admins_only(srv: TestServer) {
        let t1 = srv.tenant("t1");
        let img = t1.create(json!({"name": "x", "is_public": true})).await;
        let path = format!("/images/{}", id_of(&img));
        t1.delete(&path).await.expect(200);
        for who in [t1, srv.tenant("t2")] {
            who.get(&path).await.expect_error(404);
            assert_eq!(who.head(&path).await.status, 404);
            who.put(&path, &json!({"image": {"name": "y"}})).await.expect_error(404);
        }
        for admin in [srv.admin(), srv.tenant_admin("t5")] {
            let r = admin.get(&path).await.expect(200);
            assert_eq!(r.image()["deleted"], true);
            assert_eq!(admin.head(&path).await.status, 200);
        }
    }

    async fn unconfirmed_tokens_are_401(srv: TestServer) {
        srv.admin().create(json!({"name": "x", "is_public": true})).await;
        let callers = [
            srv.caller(&[("x-auth-token", "tok"), ("x-tenant-id", "t1"), ("x-roles", "admin")]),
            srv.caller(&[("x-auth-token", "tok"), ("x-identity-status", "Invalid"), ("x-tenant-id", "t1")]),
            srv.caller(&[("x-auth-token", "tok"), ("x-identity-status", ""), ("x-roles", "admin")]),
        ];
        for c in &callers {
            c.get("/images").await.expect_error(401);
            c.get("/images/detail").await.expect_error(401);
            c.post("/images", &json!({"image": {"name": "y"}})).await.expect_error(401);
            c.get("/shared-images/t1").await.expect_error(401);
        }
        assert_eq!(srv.admin().get("/images?is_public=none").await.expect(200).ids().len(), 1);
    }

    async fn alternate_tenant_user_and_role_headers(srv: TestServer) {
        let by_tenant = confirmed(&srv, &[("x-tenant", "alt-tenant")]).create(json!({})).await;
        assert_eq!(by_tenant["owner"], "alt-tenant");
        let by_project = confirmed(&srv, &[("x-project-id", "proj-1")]).create(json!({})).await;
        assert_eq!(by_project["owner"], "proj-1");
        // Same tenant through another header: same owner.
        let same = confirmed(&srv, &[("x-project-id", "alt-tenant")]);
        same.put(&format!("/images/{}", id_of(&by_tenant)), &json!({"image": {"name": "n"}})).await.expect(200);
        // Admin role, any case, in X-Roles or X-Role, among others.
        let secret = srv.tenant("owner").create(json!({"name": "secret"})).await;
        let path = format!("/images/{}", id_of(&secret));
        for roles in [("x-roles", "admin"), ("x-roles", "ADMIN"), ("x-roles", "member, Admin"),
                      ("x-roles", "reader,admin ,member"), ("x-role", "Admin")] {
            let c = confirmed(&srv, &[("x-tenant-id", "other"), roles]);
            c.get(&path).await.expect(200);
        }
        for roles in [("x-roles", "administrator"), ("x-roles", "member"), ("x-roles", "admin_x,reader"),
                      ("x-roles", "")] {
            let c = confirmed(&srv, &[("x-tenant-id", "other"), roles]);
            c.get(&path).await.expect_error(404);
        }
    }

    async fn callers_without_a_tenant_are_members_of_nothing(srv: TestServer) {
        let t1 = srv.tenant("t1");
        let public = id_of(&t1.create(json!({"name": "public", "is_public": true})).await);
        let private = id_of(&t1.create(json!({"name": "private"})).await);
        let shared = id_of(&t1.create(json!({"name": "shared"})).await);
        t1.send(Method::PUT, &format!("/images/{shared}/members/t2"), None, &[]).await.expect(204);
        let ownerless = id_of(&srv.admin().create(json!({"name": "ownerless"})).await);
        let anon = confirmed(&srv, &[("x-user-id", "u1"), ("x-roles", "member")]);
        let mut seen = anon.get("/images").await.expect(200).ids();
        seen.sort();
        let mut expect = vec![public.clone(), ownerless.clone()];
        expect.sort();
        assert_eq!(seen, expect);
        anon.get(&format!("/images/{private}")).await.expect_error(404);
        anon.get(&format!("/images/{shared}")).await.expect_error(404);
        anon.get(&format!("/images/{public}")).await.expect(200);
    }
}

backend_tests! {
    |c: &mut glimpse::config::ServerConfig| c.noauth = NoAuth::Deny;

    async fn no_token_is_401_when_noauth_is_denied(srv: TestServer) {
        let anon = srv.admin();
        anon.get("/images").await.expect_error(401);
        anon.post("/images", &json!({"image": {"name": "x"}})).await.expect_error(401);
        anon.get("/images/6e5d4c3b-2a19-4807-b6a5-948372615049").await.expect_error(401);
        let t1 = srv.tenant("t1");
        let img = t1.create(json!({"name": "x"})).await;
        assert_eq!(img["owner"], "t1");
        anon.get(&format!("/images/{}", id_of(&img))).await.expect_error(401);
        anon.delete(&format!("/images/{}", id_of(&img))).await.expect_error(401);
        t1.get(&format!("/images/{}", id_of(&img))).await.expect(200);
        // Probes stay open.
        anon.get("/healthz").await.expect(200);
        anon.get("/readyz").await.expect(200);
    }
}

backend_tests! {
    |c: &mut glimpse::config::ServerConfig| c.owner_is_tenant = false;

    async fn owner_is_the_user_when_so_configured(srv: TestServer) {
        let u1 = confirmed(&srv, &[("x-tenant-id", "t1"), ("x-user-id", "u1")]);
        let u2 = confirmed(&srv, &[("x-tenant-id", "t1"), ("x-user", "u2")]);
        let img = u1.create(json!({"name": "x"})).await;
        assert_eq!(img["owner"], "u1");
        let path = format!("/images/{}", id_of(&img));
        u2.get(&path).await.expect_error(404);
        u1.send(Method::PUT, &format!("{path}/members/u2"), None, &[]).await.expect(204);
        u2.get(&path).await.expect(200);
        u2.put(&path, &json!({"image": {"name": "y"}})).await.expect_error(403);
        assert_eq!(u2.create(json!({})).await["owner"], "u2");
    }
}
