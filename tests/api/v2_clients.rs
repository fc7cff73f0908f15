//! The real OpenStack clients against the v2 API of a `noauth` server: python-openstackclient
//! (`openstack --os-auth-type none --os-endpoint …`) and python-glanceclient, creating,
//! listing, changing and deleting images, checked through the HTTP API too.

use crate::client_support;
use crate::support::{Backend, TestServer};
use crate::v2_support::{self as v2, no_content};
use glimpse::config::{AuthMode, ServerConfig};
use serde_json::{Value, json};
use std::process::Output;

async fn noauth_server() -> TestServer {
    TestServer::start_with(Backend::Sqlite, |c: &mut ServerConfig| {
        c.auth = Some(AuthMode::Noauth);
    })
    .await
}

/// Runs `openstack --os-auth-type none --os-endpoint <v2> <args>` and returns its output.
/// With `tty`, stdin is a pseudo-terminal: `image create` without `--file` reads image data
/// from any other stdin.
async fn openstack(srv: &TestServer, args: &[&str], tty: bool) -> Output {
    client_support::openstack_noauth(srv).run(args, tty).await
}

/// `openstack … -f json` (the arguments carry `-f json`), asserting success, parsed.
async fn openstack_json(srv: &TestServer, args: &[&str], tty: bool) -> Value {
    let stdout = client_support::openstack_noauth(srv).ok(args, tty).await;
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("openstack {args:?}: not JSON ({e}): {stdout}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_openstack_client_creates_lists_shows_sets_and_deletes_images() {
    let srv = noauth_server().await;
    let created = openstack_json(
        &srv,
        &[
            "image",
            "create",
            "--private",
            "--property",
            "k=v",
            "--tag",
            "red",
            "--min-ram",
            "64",
            "-f",
            "json",
            "cli-image",
        ],
        true,
    )
    .await;
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(created["name"], "cli-image");
    assert_eq!(created["status"], "queued");
    assert_eq!(created["visibility"], "private");
    // What the client created, through the API.
    let admin = v2::admin(&srv);
    let img = admin.show(&id).await;
    assert_eq!(img["name"], "cli-image");
    assert_eq!(img["k"], "v");
    assert_eq!(img["tags"], json!(["red"]));
    assert_eq!(img["min_ram"], 64);
    assert_eq!(img["visibility"], "private");
    assert_eq!(img["owner"], Value::Null, "noauth creates ownerless images");
    assert_eq!(img["owner_specified.openstack.object"], "images/cli-image");

    // A second image made through the API shows in the client's list.
    let other = admin
        .create_id(json!({"name": "api-image", "visibility": "public"}))
        .await;
    let list = openstack_json(&srv, &["image", "list", "-f", "json"], false).await;
    let mut listed: Vec<String> = list
        .as_array()
        .expect("list")
        .iter()
        .map(|i| i["ID"].as_str().expect("ID").to_owned())
        .collect();
    listed.sort();
    assert_eq!(listed, v2::sorted(vec![id.clone(), other.clone()]));
    let list = openstack_json(&srv, &["image", "list", "--private", "-f", "json"], false).await;
    assert_eq!(list.as_array().expect("list").len(), 1);
    assert_eq!(list[0]["ID"], id.as_str());
    let list = openstack_json(
        &srv,
        &["image", "list", "--property", "k=v", "--long", "-f", "json"],
        false,
    )
    .await;
    assert_eq!(list.as_array().expect("list").len(), 1);
    assert_eq!(list[0]["Name"], "cli-image");
    assert_eq!(list[0]["Tags"], json!(["red"]));

    // set, by name (the client finds the image by listing).
    let out = openstack(
        &srv,
        &[
            "image",
            "set",
            "--name",
            "renamed",
            "--property",
            "k2=v2",
            "--tag",
            "blue",
            "--min-disk",
            "2",
            "--protected",
            "cli-image",
        ],
        false,
    )
    .await;
    assert!(out.status.success(), "image set: {out:?}");
    let img = admin.show(&id).await;
    assert_eq!(img["name"], "renamed");
    assert_eq!(img["k"], "v");
    assert_eq!(img["k2"], "v2");
    assert_eq!(img["tags"], json!(["blue", "red"]));
    assert_eq!(img["min_disk"], 2);
    assert_eq!(img["protected"], true);
    let shown = openstack_json(&srv, &["image", "show", "-f", "json", &id], false).await;
    assert_eq!(shown["name"], "renamed");
    assert_eq!(shown["protected"], true);
    assert_eq!(shown["properties"]["k2"], "v2");

    // Protected: the client's delete fails and the image stays.
    let out = openstack(&srv, &["image", "delete", &id], false).await;
    assert!(!out.status.success(), "deleting a protected image: {out:?}");
    assert_eq!(admin.show(&id).await["name"], "renamed");
    let out = openstack(&srv, &["image", "set", "--unprotected", &id], false).await;
    assert!(out.status.success(), "image set --unprotected: {out:?}");
    let out = openstack(
        &srv,
        &["image", "unset", "--property", "k", "--tag", "blue", &id],
        false,
    )
    .await;
    assert!(out.status.success(), "image unset: {out:?}");
    let img = admin.show(&id).await;
    assert_eq!(img["protected"], false);
    assert!(img.get("k").is_none(), "{img}");
    assert_eq!(img["tags"], json!(["red"]));
    let out = openstack(&srv, &["image", "delete", "renamed"], false).await;
    assert!(out.status.success(), "image delete: {out:?}");
    v2::error(&admin.get(&format!("/v2/images/{id}")).await, 404);
    let list = openstack_json(&srv, &["image", "list", "-f", "json"], false).await;
    assert_eq!(list.as_array().expect("list").len(), 1);
    assert_eq!(list[0]["ID"], other.as_str());
    // Finding a missing name fails cleanly.
    let out = openstack(&srv, &["image", "show", "no-such-image"], false).await;
    assert!(!out.status.success(), "show of a missing image: {out:?}");
}

/// `glance --os-image-url <v2> --os-auth-token x <args>`.
async fn glance(srv: &TestServer, args: &[&str]) -> Output {
    client_support::glance_noauth(srv).run(args, false).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_glance_client_updates_with_schema_based_patches() {
    let srv = noauth_server().await;
    let admin = v2::admin(&srv);
    let id = admin
        .create_id(json!({"name": "g", "tags": ["a"], "k": "v"}))
        .await;
    // glanceclient validates the current body against /v2/schemas/image, then sends a patch
    // that replaces null base fields and the whole tag list.
    let out = glance(
        &srv,
        &[
            "image-update",
            "--name",
            "g2",
            "--disk-format",
            "qcow2",
            "--property",
            "k2=v2",
            "--remove-property",
            "k",
            &id,
        ],
    )
    .await;
    assert!(out.status.success(), "glance image-update: {out:?}");
    let img = admin.show(&id).await;
    assert_eq!(img["name"], "g2");
    assert_eq!(img["disk_format"], "qcow2");
    assert_eq!(img["k2"], "v2");
    assert!(img.get("k").is_none(), "{img}");
    assert_eq!(img["tags"], json!(["a"]));
    let out = glance(&srv, &["image-tag-update", &id, "b"]).await;
    assert!(out.status.success(), "glance image-tag-update: {out:?}");
    assert_eq!(admin.show(&id).await["tags"], json!(["a", "b"]));
    let out = glance(&srv, &["image-list"]).await;
    assert!(out.status.success(), "glance image-list: {out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains(&id));
    let out = glance(&srv, &["image-delete", &id]).await;
    assert!(out.status.success(), "glance image-delete: {out:?}");
    v2::error(&admin.get(&format!("/v2/images/{id}")).await, 404);
    no_content(
        &admin
            .get(&format!(
                "/v2/images/{}/file",
                admin.create_id(json!({})).await
            ))
            .await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_glance_client_reports_errors_cleanly() {
    let srv = noauth_server().await;
    let out = glance(&srv, &["image-show", &v2::uuid()]).await;
    assert!(!out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("AttributeError"), "{stderr}");
    assert!(
        stderr.contains("404") || stderr.contains("No image with"),
        "{stderr}"
    );
}
