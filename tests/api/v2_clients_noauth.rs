//! The real OpenStack clients against a `noauth` server, every command's output read back:
//! visibilities and their list filters, hidden images, paging past the page size (the CLI and
//! openstacksdk both follow `next`), and python-glanceclient's list, show, update, tags and
//! members. The clients need not run per engine: SQLite, as in `v2_clients.rs`.

use crate::client_support::{Cli, glance_noauth, openstack_noauth, python};
use crate::support::{Backend, TestServer};
use crate::v2_support::{self as v2};
use glimpse::config::{AuthMode, ServerConfig};
use serde_json::{Value, json};

async fn noauth_server() -> TestServer {
    TestServer::start_with(Backend::Sqlite, |c: &mut ServerConfig| {
        c.auth = Some(AuthMode::Noauth);
    })
    .await
}

/// `openstack image create --<visibility> <name>`, checking what it printed.
async fn create(os: &Cli, visibility: &str, name: &str) -> String {
    let flag = format!("--{visibility}");
    let created = os.json(&["image", "create", &flag, name], true).await;
    assert_eq!(created["name"], name, "{created}");
    assert_eq!(created["visibility"], visibility, "{created}");
    assert_eq!(created["status"], "queued", "{created}");
    created["id"].as_str().expect("id").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_openstack_client_creates_shows_and_lists_each_visibility() {
    let srv = noauth_server().await;
    let os = openstack_noauth(&srv);
    let mut made = Vec::new();
    for vis in ["public", "private", "shared", "community"] {
        let id = create(&os, vis, &format!("vis-{vis}")).await;
        let shown = os.json(&["image", "show", &id], false).await;
        assert_eq!(shown["id"], id.as_str());
        assert_eq!(shown["visibility"], vis, "{shown}");
        // Through the API too.
        assert_eq!(v2::admin(&srv).show(&id).await["visibility"], vis);
        made.push((vis, id));
    }
    for (vis, id) in &made {
        let flag = format!("--{vis}");
        assert_eq!(
            os.list_ids(&[&flag]).await,
            vec![id.clone()],
            "image list {flag}"
        );
    }
    // Glance's default list without a project never has community images; `--all` (the
    // client's `visibility=all`) has every one.
    let all = v2::sorted(made.iter().map(|(_, id)| id.clone()).collect());
    let not_community = v2::sorted(made[..3].iter().map(|(_, id)| id.clone()).collect());
    assert_eq!(os.list_ids(&[]).await, not_community);
    assert_eq!(os.list_ids(&["--all"]).await, all);
    // The long list names each visibility.
    let long = os.json(&["image", "list", "--long", "--all"], false).await;
    for (vis, id) in &made {
        let row = long
            .as_array()
            .expect("list")
            .iter()
            .find(|r| r["ID"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} in {long}"));
        assert_eq!(row["Visibility"], *vis, "{row}");
    }
    // Changing a visibility with the client shows in its lists.
    let private = &made[1].1;
    os.ok(&["image", "set", "--community", private], false)
        .await;
    assert_eq!(
        os.json(&["image", "show", private], false).await["visibility"],
        "community"
    );
    assert_eq!(
        os.list_ids(&["--community"]).await,
        v2::sorted(vec![private.clone(), made[3].1.clone()])
    );
    assert!(os.list_ids(&["--private"]).await.is_empty());
    assert!(!os.list_ids(&[]).await.contains(private));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_openstack_client_hides_and_unhides_images() {
    let srv = noauth_server().await;
    let os = openstack_noauth(&srv);
    let admin = v2::admin(&srv);
    let shown_one = admin.create_id(json!({"name": "plain"})).await;
    let hidden = admin.create_id(json!({"name": "to-hide"})).await;
    os.ok(&["image", "set", "--hidden", &hidden], false).await;
    // The client prints os_hidden among the properties, under its wire name.
    let img = os.json(&["image", "show", &hidden], false).await;
    assert_eq!(img["properties"]["os_hidden"], true, "{img}");
    assert_eq!(admin.show(&hidden).await["os_hidden"], true);
    // The default list leaves hidden images out; `--hidden` lists only them.
    assert_eq!(os.list_ids(&[]).await, vec![shown_one.clone()]);
    assert_eq!(os.list_ids(&["--hidden"]).await, vec![hidden.clone()]);
    // A hidden image is still found by name.
    assert_eq!(
        os.json(&["image", "show", "to-hide"], false).await["id"],
        hidden.as_str()
    );
    os.ok(&["image", "set", "--unhidden", &hidden], false).await;
    assert_eq!(
        os.json(&["image", "show", &hidden], false).await["properties"]["os_hidden"],
        false
    );
    assert_eq!(
        os.list_ids(&[]).await,
        v2::sorted(vec![shown_one, hidden.clone()])
    );
    assert!(os.list_ids(&["--hidden"]).await.is_empty());
}

/// Lists every image with openstacksdk, `limit` a page, printing one id a line.
const SDK_LIST: &str = r#"
import sys
import openstack
conn = openstack.connection.Connection(
    auth_type="none", auth={"endpoint": sys.argv[1]}, image_api_version="2")
for image in conn.image.images(limit=int(sys.argv[2])):
    print(image.id)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_openstack_client_and_sdk_page_through_more_than_a_page() {
    let srv = noauth_server().await;
    let admin = v2::admin(&srv);
    let mut created = Vec::new();
    for i in 0..250 {
        created.push(
            admin
                .create_id(json!({"name": format!("page-{i:03}"), "visibility": "public"}))
                .await,
        );
    }
    created.sort();
    // The server's pages are smaller than the list: the client must follow `next`.
    let r = admin.get("/v2/images?limit=100").await;
    assert_eq!(v2::ids(&r.json).len(), 100);
    assert!(r.json["next"].is_string(), "{}", r.text);

    let os = openstack_noauth(&srv);
    // Without --limit the SDK follows `next` from the server's default page size.
    let list = os.json(&["image", "list"], false).await;
    let rows = list.as_array().expect("list");
    assert_eq!(rows.len(), 250, "every image, none twice");
    let mut ids: Vec<String> = rows
        .iter()
        .map(|r| r["ID"].as_str().expect("ID").to_owned())
        .collect();
    ids.sort();
    assert_eq!(ids, created);
    // Sorted by name (the client's default).
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r["Name"].as_str().expect("Name"))
        .collect();
    let mut by_name = names.clone();
    by_name.sort_unstable();
    assert_eq!(names, by_name);
    // --max-items stops after that many, across pages.
    let list = os
        .json(&["image", "list", "--max-items", "150"], false)
        .await;
    assert_eq!(list.as_array().expect("list").len(), 150);
    // --limit is one page (python-openstackclient then turns the SDK's paging off, and sorts
    // rows itself); --marker continues after the page's last image in the server's order, so
    // three pages of 100 give every image once.
    let server_order = admin.list_ids("limit=1000").await;
    let mut paged = Vec::new();
    let mut marker: Option<String> = None;
    for expected in [100, 100, 50] {
        let mut args = vec!["image", "list", "--limit", "100"];
        if let Some(m) = &marker {
            args.extend(["--marker", m.as_str()]);
        }
        let page = os.json(&args, false).await;
        let page: Vec<String> = page
            .as_array()
            .expect("page")
            .iter()
            .map(|r| r["ID"].as_str().expect("ID").to_owned())
            .collect();
        assert_eq!(page.len(), expected, "a page of --limit 100");
        marker = page
            .iter()
            .max_by_key(|id| server_order.iter().position(|s| s == *id))
            .cloned();
        paged.extend(page);
    }
    paged.sort();
    assert_eq!(paged, created);

    let out = python(SDK_LIST, &[&srv.v2, "50"]).await;
    let mut seen: Vec<String> = out.lines().map(str::to_owned).collect();
    assert_eq!(
        seen.len(),
        250,
        "openstacksdk yields each image once: {out}"
    );
    seen.sort();
    assert_eq!(seen, created);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_glance_client_lists_shows_updates_tags_and_shares() {
    let srv = noauth_server().await;
    let admin = v2::admin(&srv);
    let glance = glance_noauth(&srv);
    let a = admin
        .create_id(json!({"name": "g-a", "visibility": "shared", "tags": ["x"]}))
        .await;
    let b = admin
        .create_id(json!({"name": "g-b", "visibility": "private"}))
        .await;

    let list = glance.table(&["image-list"]).await;
    let mut ids = list.column("ID");
    ids.sort();
    assert_eq!(ids, v2::sorted(vec![a.clone(), b.clone()]));
    let names = list.column("Name");
    assert!(names.contains(&"g-a".to_owned()), "{names:?}");
    // Filters reach the server.
    let list = glance
        .table(&["image-list", "--visibility", "shared"])
        .await;
    assert_eq!(list.column("ID"), vec![a.clone()]);

    let shown = glance.table(&["image-show", &a]).await;
    assert_eq!(shown.header, vec!["Property", "Value"]);
    assert_eq!(shown.property("id").as_deref(), Some(a.as_str()));
    assert_eq!(shown.property("name").as_deref(), Some("g-a"));
    assert_eq!(shown.property("visibility").as_deref(), Some("shared"));
    assert_eq!(shown.property("status").as_deref(), Some("queued"));
    // glanceclient prints lists as JSON.
    assert_eq!(shown.property("tags").as_deref(), Some(r#"["x"]"#));

    let updated = glance
        .table(&[
            "image-update",
            "--property",
            "os_distro=debian",
            "--property",
            "k=v",
            &a,
        ])
        .await;
    assert_eq!(updated.property("os_distro").as_deref(), Some("debian"));
    assert_eq!(updated.property("k").as_deref(), Some("v"));
    let img = admin.show(&a).await;
    assert_eq!(img["os_distro"], "debian");
    assert_eq!(img["k"], "v");
    let list = glance
        .table(&["image-list", "--property-filter", "os_distro=debian"])
        .await;
    assert_eq!(list.column("ID"), vec![a.clone()]);

    glance.ok(&["image-tag-update", &a, "y"], false).await;
    let shown = glance.table(&["image-show", &a]).await;
    let tags: Value = serde_json::from_str(&shown.property("tags").expect("tags")).expect("JSON");
    assert_eq!(tags, json!(["x", "y"]));
    assert_eq!(admin.show(&a).await["tags"], json!(["x", "y"]));
    glance.ok(&["image-tag-delete", &a, "x"], false).await;
    assert_eq!(admin.show(&a).await["tags"], json!(["y"]));

    let member = glance.table(&["member-create", &a, "project-beta"]).await;
    assert_eq!(member.column("Image ID"), vec![a.clone()]);
    assert_eq!(member.column("Member ID"), vec!["project-beta"]);
    assert_eq!(member.column("Status"), vec!["pending"]);
    glance
        .ok(&["member-create", &a, "project-gamma"], false)
        .await;
    let members = glance.table(&["member-list", "--image-id", &a]).await;
    let mut rows: Vec<(String, String)> = members
        .column("Member ID")
        .into_iter()
        .zip(members.column("Status"))
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        vec![
            ("project-beta".to_owned(), "pending".to_owned()),
            ("project-gamma".to_owned(), "pending".to_owned())
        ]
    );
    assert!(members.column("Image ID").iter().all(|i| *i == a));
    let accepted = glance
        .table(&["member-update", &a, "project-beta", "accepted"])
        .await;
    assert_eq!(accepted.column("Status"), vec!["accepted"]);
    let r = admin.get(&format!("/v2/images/{a}/members")).await;
    let statuses: Value = r.json["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| json!([m["member_id"], m["status"]]))
        .collect();
    assert!(
        statuses
            .as_array()
            .expect("array")
            .contains(&json!(["project-beta", "accepted"])),
        "{statuses}"
    );
    glance
        .ok(&["member-delete", &a, "project-gamma"], false)
        .await;
    let members = glance.table(&["member-list", "--image-id", &a]).await;
    assert_eq!(members.column("Member ID"), vec!["project-beta"]);
    // Members only on shared images: a clean error for a private one.
    let err = glance.fails(&["member-create", &b, "project-beta"]).await;
    assert!(err.contains("403") || err.contains("shared"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_openstack_client_deactivates_saves_and_filters_by_status() {
    let srv = noauth_server().await;
    let admin = v2::admin(&srv);
    let os = openstack_noauth(&srv);
    let id = admin
        .create_id(json!({"name": "with-data", "disk_format": "raw", "container_format": "bare"}))
        .await;
    let queued = admin.create_id(json!({"name": "no-data"})).await;
    let r = admin
        .send(
            reqwest::Method::PUT,
            &format!("/v2/images/{id}/file"),
            Some(b"hello".to_vec()),
            &[("content-type", "application/octet-stream")],
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let shown = os.json(&["image", "show", &id], false).await;
    assert_eq!(shown["status"], "active", "{shown}");
    assert_eq!(shown["size"], 5);
    assert_eq!(shown["checksum"], "5d41402abc4b2a76b9719d911017c592");
    assert_eq!(shown["properties"]["os_hash_algo"], "sha512", "{shown}");
    assert_eq!(os.list_ids(&["--status", "active"]).await, vec![id.clone()]);
    assert_eq!(
        os.list_ids(&["--status", "queued"]).await,
        vec![queued.clone()]
    );

    os.ok(&["image", "set", "--deactivate", &id], false).await;
    assert_eq!(
        os.json(&["image", "show", &id], false).await["status"],
        "deactivated"
    );
    assert_eq!(
        os.list_ids(&["--status", "deactivated"]).await,
        vec![id.clone()]
    );
    // An admin may still download a deactivated image.
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("saved");
    os.ok(
        &["image", "save", "--file", &file.display().to_string(), &id],
        false,
    )
    .await;
    assert_eq!(std::fs::read(&file).expect("saved"), b"hello");
    os.ok(&["image", "set", "--activate", &id], false).await;
    assert_eq!(
        os.json(&["image", "show", &id], false).await["status"],
        "active"
    );
    // Reactivating a queued image: glimpse answers 403 as Glance does, but openstacksdk does
    // not read the answers of image actions, so the client says nothing; the image stays
    // queued.
    os.ok(&["image", "set", "--activate", &queued], false).await;
    assert_eq!(
        os.json(&["image", "show", &queued], false).await["status"],
        "queued"
    );
    let r = admin
        .post_empty(&format!("/v2/images/{queued}/actions/reactivate"))
        .await;
    v2::error(&r, 403);

    // Several changes in one `set`, then `unset`, each read back from `show`.
    os.ok(
        &[
            "image",
            "set",
            "--name",
            "renamed",
            "--min-ram",
            "3",
            "--property",
            "os_distro=x",
            "--tag",
            "q",
            &id,
        ],
        false,
    )
    .await;
    let shown = os.json(&["image", "show", "renamed"], false).await;
    assert_eq!(shown["id"], id.as_str());
    assert_eq!(shown["min_ram"], 3);
    assert_eq!(shown["properties"]["os_distro"], "x");
    assert_eq!(shown["tags"], json!(["q"]));
    assert_eq!(os.list_ids(&["--tag", "q"]).await, vec![id.clone()]);
    assert_eq!(os.list_ids(&["--name", "renamed"]).await, vec![id.clone()]);
    os.ok(
        &[
            "image",
            "unset",
            "--tag",
            "q",
            "--property",
            "os_distro",
            &id,
        ],
        false,
    )
    .await;
    let shown = os.json(&["image", "show", &id], false).await;
    assert_eq!(shown["tags"], json!([]));
    assert!(shown["properties"].get("os_distro").is_none(), "{shown}");
    assert!(os.list_ids(&["--tag", "q"]).await.is_empty());
}
