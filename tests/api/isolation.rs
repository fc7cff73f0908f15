//! Tenant isolation as a matrix: every kind of image × every kind of caller × every endpoint,
//! with the expected status, and nothing revealed about images a caller cannot see (their 404
//! is byte-for-byte the 404 of an id that never existed).

use crate::support::{As, TestServer, id_of};
use reqwest::Method;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Public,
    Private,
    SharedNoReshare,
    SharedReshare,
    Deleted,
    Protected,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Owner,
    Other,
    Member,
    Admin,
    NoToken,
    Unconfirmed,
}

const KINDS: [Kind; 6] = [
    Kind::Public,
    Kind::Private,
    Kind::SharedNoReshare,
    Kind::SharedReshare,
    Kind::Deleted,
    Kind::Protected,
];
const WHO: [Who; 6] = [
    Who::Owner,
    Who::Other,
    Who::Member,
    Who::Admin,
    Who::NoToken,
    Who::Unconfirmed,
];

fn caller<'a>(srv: &'a TestServer, who: Who) -> As<'a> {
    match who {
        Who::Owner => srv.tenant("acme-corp"),
        Who::Other => srv.tenant("other"),
        Who::Member => srv.tenant("member"),
        Who::Admin => srv.tenant_admin("ops"),
        Who::NoToken => srv.admin(),
        Who::Unconfirmed => srv.caller(&[
            ("x-auth-token", "t"),
            ("x-tenant-id", "acme-corp"),
            ("x-roles", "admin"),
        ]),
    }
}

/// Creates one image of the kind, owned by tenant "acme-corp".
async fn make(srv: &TestServer, kind: Kind) -> String {
    let owner = srv.tenant("acme-corp");
    let img = owner
        .create(
            json!({"name": format!("{kind:?}"), "is_public": kind == Kind::Public,
                       "protected": kind == Kind::Protected, "properties": {"secret": "s3cr3t"}}),
        )
        .await;
    let id = id_of(&img);
    let share = |can_share: bool| {
        let id = id.clone();
        async move {
            srv.tenant("acme-corp")
                .send(
                    Method::PUT,
                    &format!("/images/{id}/members/member"),
                    Some(
                        json!({"member": {"can_share": can_share}})
                            .to_string()
                            .into_bytes(),
                    ),
                    &[],
                )
                .await
                .expect(204);
        }
    };
    match kind {
        Kind::SharedNoReshare => share(false).await,
        Kind::SharedReshare => share(true).await,
        Kind::Deleted => {
            share(true).await;
            owner.delete(&format!("/images/{id}")).await.expect(200);
        }
        _ => {}
    }
    id
}

fn sees(kind: Kind, who: Who) -> bool {
    match who {
        Who::Admin | Who::NoToken => true,
        Who::Unconfirmed => false,
        _ if kind == Kind::Deleted => false,
        Who::Owner => true,
        Who::Member => matches!(
            kind,
            Kind::Public | Kind::SharedNoReshare | Kind::SharedReshare
        ),
        Who::Other => kind == Kind::Public,
    }
}

fn is_admin(who: Who) -> bool {
    matches!(who, Who::Admin | Who::NoToken)
}

/// The status each endpoint must answer.
fn expected(endpoint: &str, kind: Kind, who: Who) -> u16 {
    if who == Who::Unconfirmed {
        return 401;
    }
    if !sees(kind, who) {
        return 404;
    }
    let owns = who == Who::Owner || is_admin(who);
    let may_share = owns || (who == Who::Member && kind == Kind::SharedReshare);
    match endpoint {
        "get" | "head" => 200,
        "list-members" if kind == Kind::Deleted => 404,
        "list-members" => 200,
        "update" if owns => 200,
        "update" => 403,
        "delete" if kind == Kind::Deleted => 404,
        "delete" if !owns => 403,
        "delete" if kind == Kind::Protected => 403,
        "delete" => 200,
        "add-member" | "remove-member" if kind == Kind::Deleted => 404,
        "add-member" if may_share => 204,
        "remove-member"
            if may_share && matches!(kind, Kind::SharedNoReshare | Kind::SharedReshare) =>
        {
            204
        }
        "remove-member" if may_share => 404,
        "add-member" | "remove-member" => 403,
        other => unreachable!("{other}"),
    }
}

async fn call(c: &As<'_>, endpoint: &str, id: &str) -> crate::support::Resp {
    match endpoint {
        "get" => c.get(&format!("/images/{id}")).await,
        "head" => c.head(&format!("/images/{id}")).await,
        "list-members" => c.get(&format!("/images/{id}/members")).await,
        "update" => {
            c.put(
                &format!("/images/{id}"),
                &json!({"image": {"name": "changed"}}),
            )
            .await
        }
        "delete" => c.delete(&format!("/images/{id}")).await,
        "add-member" => {
            c.send(
                Method::PUT,
                &format!("/images/{id}/members/newbie"),
                None,
                &[],
            )
            .await
        }
        "remove-member" => c.delete(&format!("/images/{id}/members/member")).await,
        other => unreachable!("{other}"),
    }
}

fn reveals_nothing(body: &str, kind: Kind) -> bool {
    !body.contains("s3cr3t") && !body.contains(&format!("{kind:?}")) && !body.contains("acme-corp")
}

crate::backend_tests! {
    async fn isolation_matrix(srv: TestServer) {
        let ghost = "6f1c3bb2-0000-4000-8000-000000000000";
        let mut cells = 0;
        for kind in KINDS {
            // Read-only endpoints share one image per kind.
            let id = make(&srv, kind).await;
            for who in WHO {
                let c = caller(&srv, who);
                for endpoint in ["get", "head", "list-members"] {
                    let r = call(&c, endpoint, &id).await;
                    assert_eq!(r.status, expected(endpoint, kind, who), "{endpoint} {kind:?} as {who:?}: {}", r.text);
                    if r.status == 404 && endpoint != "head" {
                        let missing = call(&c, endpoint, ghost).await;
                        assert_eq!(r.text, missing.text, "{endpoint} {kind:?} as {who:?}: 404 differs from a missing id");
                    }
                    if r.status >= 400 {
                        assert!(reveals_nothing(&r.text, kind), "{endpoint} {kind:?} as {who:?} revealed: {}", r.text);
                    }
                    cells += 1;
                }
                // Member lists: the owner and admins see everyone, a member only itself.
                let r = c.get(&format!("/images/{id}/members")).await;
                if r.status == 200 {
                    let members: Vec<&str> = r.json["members"].as_array().expect("members").iter().filter_map(|m| m["member_id"].as_str()).collect();
                    let shared = matches!(kind, Kind::SharedNoReshare | Kind::SharedReshare);
                    let want: Vec<&str> = match who {
                        Who::Owner | Who::Admin | Who::NoToken if shared => vec!["member"],
                        Who::Member if shared => vec!["member"],
                        _ => vec![],
                    };
                    assert_eq!(members, want, "members of {kind:?} as {who:?}");
                }
                // Lists: an image appears exactly where it is visible (and not deleted).
                let list = c.get("/images/detail?is_public=none&limit=1000").await;
                if who != Who::Unconfirmed {
                    let listed = list.ids().contains(&id);
                    assert_eq!(listed, sees(kind, who) && kind != Kind::Deleted, "list {kind:?} as {who:?}");
                    // Filters and markers do not reveal it either.
                    let by_name = c.get(&format!("/images/detail?is_public=none&name={kind:?}")).await;
                    assert_eq!(by_name.ids().contains(&id), listed, "name filter {kind:?} as {who:?}");
                    let marker = c.get(&format!("/images?marker={id}")).await;
                    let marker_ok = sees(kind, who) && (kind != Kind::Deleted || is_admin(who));
                    assert_eq!(marker.status == 200, marker_ok, "marker {kind:?} as {who:?}: {}", marker.text);
                    let since = c.get("/images/detail?changes-since=2000-01-01T00:00:00Z&is_public=none&limit=1000").await;
                    let in_changes = since.ids().contains(&id);
                    let may_know = match who {
                        Who::Admin | Who::NoToken => true,
                        Who::Owner => true,
                        Who::Member => matches!(kind, Kind::Public | Kind::SharedNoReshare | Kind::SharedReshare),
                        Who::Other => kind == Kind::Public,
                        Who::Unconfirmed => false,
                    };
                    assert!(!in_changes || may_know, "changes-since leaked {kind:?} to {who:?}");
                } else {
                    assert_eq!(list.status, 401);
                }
            }
            // Mutating endpoints: a fresh image per caller.
            for who in WHO {
                for endpoint in ["update", "delete", "add-member", "remove-member"] {
                    let id = make(&srv, kind).await;
                    let c = caller(&srv, who);
                    let before = srv.admin().get(&format!("/images/{id}")).await.json;
                    let r = call(&c, endpoint, &id).await;
                    assert_eq!(r.status, expected(endpoint, kind, who), "{endpoint} {kind:?} as {who:?}: {}", r.text);
                    if r.status >= 400 {
                        assert!(reveals_nothing(&r.text, kind), "{endpoint} {kind:?} as {who:?} revealed: {}", r.text);
                        let after = srv.admin().get(&format!("/images/{id}")).await.json;
                        assert_eq!(before, after, "refused {endpoint} {kind:?} as {who:?} changed the image");
                    }
                    cells += 1;
                }
            }
        }
        // /shared-images: a tenant sees its own memberships, or those of images it owns.
        let r = srv.tenant("other").get("/shared-images/member").await.expect(200);
        assert_eq!(r.json["shared_images"], json!([]), "another tenant's shares leaked");
        let mine = srv.tenant("member").get("/shared-images/member").await.expect(200);
        let owners = srv.tenant("acme-corp").get("/shared-images/member").await.expect(200);
        assert_eq!(mine.json, owners.json);
        assert!(!mine.json["shared_images"].as_array().expect("list").is_empty());
        srv.caller(&[("x-auth-token", "t")]).get("/shared-images/member").await.expect_error(401);
        let _: Value = mine.json;
        assert!(cells >= 6 * 6 * 7);
    }
}
