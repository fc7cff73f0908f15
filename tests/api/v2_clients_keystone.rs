//! The real OpenStack clients through the real Keystone: each logs in with a password
//! (`--os-auth-url`, a project and a user of `scripts/services/keystone.sh`) and talks to a
//! keystone-mode server. Sharing between projects, the reader role, and isolation, each
//! command's output read back. SQLite only, as the other client tests.

use crate::client_support::{Cli, glance_as, openstack_as, table};
use crate::keystone::default_keystone_mode;
use crate::support::{Backend, TestServer};

async fn keystone_server() -> TestServer {
    TestServer::start_with(Backend::Sqlite, default_keystone_mode()).await
}

/// The id of project `name`, from `openstack token issue` as its member.
async fn project_id(srv: &TestServer, name: &str) -> String {
    let token = openstack_as(srv, &format!("{name}-member"), name)
        .json(&["token", "issue"], false)
        .await;
    token["project_id"]
        .as_str()
        .unwrap_or_else(|| panic!("project_id in {token}"))
        .to_owned()
}

/// `(member id, status)` rows of `openstack image member list <image>`, sorted.
async fn members(os: &Cli, image: &str) -> Vec<(String, String)> {
    let list = os.json(&["image", "member", "list", image], false).await;
    let mut rows: Vec<(String, String)> = list
        .as_array()
        .unwrap_or_else(|| panic!("a list: {list}"))
        .iter()
        .map(|m| {
            (
                m["Member ID"].as_str().expect("Member ID").to_owned(),
                m["Status"].as_str().expect("Status").to_owned(),
            )
        })
        .collect();
    rows.sort();
    rows
}

/// A 403 whose message says what was refused (glimpse's message, as the client prints it).
#[track_caller]
fn forbidden(text: &str, what: &str) {
    assert!(
        text.contains("403") && text.contains(&format!("You are not authorized to {what}")),
        "a 403 refusing to {what}: {text}"
    );
}

/// The CLI's answer for an image the caller cannot see: not found, never forbidden.
#[track_caller]
fn not_found(text: &str, id: &str) {
    assert!(
        text.contains(&format!("No Image found for {id}")),
        "not found: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_openstack_client_shares_an_image_between_keystone_projects() {
    let srv = keystone_server().await;
    let alpha_id = project_id(&srv, "alpha").await;
    let beta_id = project_id(&srv, "beta").await;
    let alpha = openstack_as(&srv, "alpha-member", "alpha");
    let beta = openstack_as(&srv, "beta-member", "beta");

    let private = alpha
        .json(&["image", "create", "--private", "alpha-private"], true)
        .await;
    assert_eq!(private["visibility"], "private", "{private}");
    assert_eq!(private["owner"], alpha_id.as_str(), "{private}");
    let private = private["id"].as_str().expect("id").to_owned();
    let shared = alpha
        .json(&["image", "create", "--shared", "alpha-shared"], true)
        .await;
    assert_eq!(shared["visibility"], "shared", "{shared}");
    assert_eq!(shared["owner"], alpha_id.as_str(), "{shared}");
    let shared = shared["id"].as_str().expect("id").to_owned();
    assert_eq!(
        alpha.list_ids(&[]).await,
        crate::v2_support::sorted(vec![private.clone(), shared.clone()])
    );

    // Sharing: the member starts pending.
    let added = alpha
        .json(&["image", "add", "project", &shared, &beta_id], false)
        .await;
    assert_eq!(added["image_id"], shared.as_str(), "{added}");
    assert_eq!(added["member_id"], beta_id.as_str(), "{added}");
    assert_eq!(added["status"], "pending", "{added}");
    assert_eq!(
        members(&alpha, &shared).await,
        vec![(beta_id.clone(), "pending".to_owned())]
    );

    // Pending: beta can see the image and its own membership, but it is not in beta's lists
    // until accepted, except when asking for pending ones.
    assert!(beta.list_ids(&[]).await.is_empty());
    assert!(beta.list_ids(&["--shared"]).await.is_empty());
    assert_eq!(
        beta.list_ids(&["--shared", "--member-status", "pending"])
            .await,
        vec![shared.clone()]
    );
    let shown = beta.json(&["image", "show", &shared], false).await;
    assert_eq!(shown["name"], "alpha-shared", "{shown}");
    assert_eq!(
        members(&beta, &shared).await,
        vec![(beta_id.clone(), "pending".to_owned())]
    );

    beta.ok(&["image", "set", "--accept", &shared], false).await;
    assert_eq!(beta.list_ids(&[]).await, vec![shared.clone()]);
    assert_eq!(beta.list_ids(&["--shared"]).await, vec![shared.clone()]);
    assert!(
        beta.list_ids(&["--shared", "--member-status", "pending"])
            .await
            .is_empty()
    );
    assert_eq!(
        members(&alpha, &shared).await,
        vec![(beta_id.clone(), "accepted".to_owned())]
    );
    let got = beta
        .json(&["image", "member", "get", &shared, &beta_id], false)
        .await;
    assert_eq!(got["status"], "accepted", "{got}");

    // beta's reader lists and shows the shared image, but creates nothing.
    let beta_reader = openstack_as(&srv, "beta-reader", "beta");
    assert_eq!(beta_reader.list_ids(&[]).await, vec![shared.clone()]);
    let shown = beta_reader.json(&["image", "show", &shared], false).await;
    assert_eq!(shown["id"], shared.as_str());
    forbidden(
        &beta_reader
            .fails(&[
                "image",
                "create",
                "--private",
                "--file",
                "/dev/null",
                "reader-image",
            ])
            .await,
        "create images",
    );
    assert_eq!(beta_reader.list_ids(&[]).await, vec![shared.clone()]);
    // A member of another project cannot change alpha's image either.
    forbidden(
        &beta
            .fails(&["image", "set", "--name", "taken", &shared])
            .await,
        "change this image",
    );

    // alpha's reader sees alpha's images and changes none.
    let alpha_reader = openstack_as(&srv, "alpha-reader", "alpha");
    assert_eq!(
        alpha_reader.list_ids(&[]).await,
        crate::v2_support::sorted(vec![private.clone(), shared.clone()])
    );
    forbidden(
        &alpha_reader
            .fails(&["image", "set", "--name", "renamed", &private])
            .await,
        "change this image",
    );
    forbidden(
        &alpha_reader
            .fails(&["image", "set", "--property", "k=v", &private])
            .await,
        "change this image",
    );
    let shown = alpha.json(&["image", "show", &private], false).await;
    assert_eq!(shown["name"], "alpha-private", "{shown}");
    assert!(shown["properties"].get("k").is_none(), "unchanged: {shown}");

    // gamma sees neither: not found, not forbidden.
    let gamma = openstack_as(&srv, "gamma-member", "gamma");
    assert!(gamma.list_ids(&[]).await.is_empty());
    not_found(&gamma.fails(&["image", "show", &private]).await, &private);
    not_found(&gamma.fails(&["image", "show", &shared]).await, &shared);
    let err = gamma.fails(&["image", "member", "list", &shared]).await;
    not_found(&err, &shared);

    // Taking the member away: beta no longer lists it.
    alpha
        .ok(&["image", "remove", "project", &shared, &beta_id], false)
        .await;
    assert!(beta.list_ids(&[]).await.is_empty());
    assert!(members(&alpha, &shared).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_glance_client_through_keystone_shares_and_isolates() {
    let srv = keystone_server().await;
    let alpha_id = project_id(&srv, "alpha").await;
    let beta_id = project_id(&srv, "beta").await;
    let alpha = glance_as(&srv, "alpha-member", "alpha");
    let beta = glance_as(&srv, "beta-member", "beta");
    let gamma = glance_as(&srv, "gamma-member", "gamma");

    // On a terminal: glanceclient would upload any other stdin as the image data.
    let created = table(
        &alpha
            .ok(
                &[
                    "image-create",
                    "--name",
                    "g-shared",
                    "--visibility",
                    "shared",
                ],
                true,
            )
            .await,
    );
    let id = created.property("id").expect("id");
    assert_eq!(
        created.property("owner").as_deref(),
        Some(alpha_id.as_str())
    );
    assert_eq!(created.property("visibility").as_deref(), Some("shared"));
    assert_eq!(created.property("status").as_deref(), Some("queued"));

    let member = alpha.table(&["member-create", &id, &beta_id]).await;
    assert_eq!(member.column("Member ID"), vec![beta_id.clone()]);
    assert_eq!(member.column("Status"), vec!["pending"]);
    assert!(beta.table(&["image-list"]).await.rows.is_empty());
    let updated = beta
        .table(&["member-update", &id, &beta_id, "accepted"])
        .await;
    assert_eq!(updated.column("Status"), vec!["accepted"]);
    assert_eq!(
        beta.table(&["image-list"]).await.column("ID"),
        vec![id.clone()]
    );
    let members = alpha.table(&["member-list", "--image-id", &id]).await;
    assert_eq!(members.column("Member ID"), vec![beta_id.clone()]);
    assert_eq!(members.column("Status"), vec!["accepted"]);

    // beta may read but not change it.
    let shown = beta.table(&["image-show", &id]).await;
    assert_eq!(shown.property("name").as_deref(), Some("g-shared"));
    forbidden(
        &beta.fails(&["image-update", "--name", "x", &id]).await,
        "change this image",
    );
    // glanceclient shows the id directly: the server's 404, never a 403.
    let err = gamma.fails(&["image-show", &id]).await;
    assert!(err.contains("HTTP 404 Not Found"), "{err}");
    assert!(gamma.table(&["image-list"]).await.rows.is_empty());
    // A reader creates nothing (on a terminal, so that no stdin is taken for data).
    let beta_reader = glance_as(&srv, "beta-reader", "beta");
    let out = beta_reader
        .run(&["image-create", "--name", "by-reader"], true)
        .await;
    assert!(!out.status.success(), "{out:?}");
    forbidden(&String::from_utf8_lossy(&out.stdout), "create images");
    assert_eq!(
        beta_reader.table(&["image-list"]).await.column("ID"),
        vec![id.clone()]
    );
    // The owner's view is unchanged.
    let shown = alpha.table(&["image-show", &id]).await;
    assert_eq!(shown.property("name").as_deref(), Some("g-shared"));
}
