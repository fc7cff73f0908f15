//! The command-line client (`glimpse image|member|shared`) against a real server over HTTP,
//! through `glimpse::client::run_args`, which parses and runs exactly as the binary does.

use glimpse::client::{Outcome, exit, run_args};
use glimpse::config::{ServerConfig, Settings, Sources};
use glimpse::server::Server;
use serde_json::Value;

/// A server on a fresh SQLite file, stopped when dropped.
struct TestServer {
    url: String,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestServer {
    async fn start() -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let settings = Settings {
            bind: Some("127.0.0.1:0".parse().expect("addr")),
            images_bind: Some("127.0.0.1:0".parse().expect("addr")),
            database_url: Some(format!(
                "sqlite://{}",
                dir.path().join("glimpse.db").display()
            )),
            db_max_connections: Some(5),
            db_acquire_timeout: Some(5.0),
            ..Settings::default()
        };
        let config =
            ServerConfig::from_settings(&settings, &Sources::default()).expect("valid config");
        let server = Server::bind(config).await.expect("server starts");
        let addr = server.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server.run(async {
            let _ = rx.await;
        }));
        TestServer {
            url: format!("http://{addr}"),
            _dir: dir,
            stop: Some(tx),
        }
    }

    /// Runs the client as the no-token admin.
    async fn admin(&self, args: &[&str]) -> Outcome {
        let mut all = vec!["--url", self.url.as_str()];
        all.extend_from_slice(args);
        run_args(all).await
    }

    /// Runs the client as a confirmed tenant with the `member` role.
    async fn tenant(&self, tenant: &str, args: &[&str]) -> Outcome {
        let user = format!("user-of-{tenant}");
        let mut all = vec![
            "--url",
            self.url.as_str(),
            "--token",
            "tok",
            "--tenant",
            tenant,
            "--user",
            &user,
            "--roles",
            "member",
        ];
        all.extend_from_slice(args);
        run_args(all).await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// Asserts the exit code, showing the output when it differs; returns the outcome.
#[track_caller]
fn expect(o: Outcome, code: u8) -> Outcome {
    assert_eq!(
        o.code, code,
        "unexpected exit code\nstdout: {}\nstderr: {}",
        o.stdout, o.stderr
    );
    o
}

fn json_of(o: &Outcome) -> Value {
    serde_json::from_str(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", o.stdout))
}

/// The value of one row of an `image show` table.
fn row<'a>(table: &'a str, field: &str) -> Option<&'a str> {
    table.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == field).then(|| v.trim())
    })
}

async fn create(srv: &TestServer, args: &[&str]) -> String {
    let mut all = vec!["image", "create", "--json"];
    all.extend_from_slice(args);
    let o = expect(srv.admin(&all).await, exit::OK);
    json_of(&o)["image"]["id"].as_str().expect("id").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_with_properties_then_show() {
    let srv = TestServer::start().await;
    let id = "6ee3cb6e-36f4-4cfb-9f4e-6d8e3d2a0a01";
    let o = expect(
        srv.admin(&[
            "image",
            "create",
            "--id",
            id,
            "--name",
            "cirros",
            "--disk-format",
            "qcow2",
            "--container-format",
            "bare",
            "--size",
            "13000000",
            "--virtual-size",
            "41126400",
            "--checksum",
            "ee1eca47dc88f4879d8a229cc70a07c6",
            "--min-disk",
            "1",
            "--min-ram",
            "64",
            "--is-public",
            "true",
            "--protected",
            "false",
            "--owner",
            "t1",
            "--location",
            "file:///var/lib/images/cirros",
            "--property",
            "os=linux",
            "--property",
            "arch=x86_64",
        ])
        .await,
        exit::OK,
    );
    assert_eq!(row(&o.stdout, "id"), Some(id));
    assert_eq!(row(&o.stdout, "property:os"), Some("linux"));

    // The table: every field, each property on its own row, and the ETag.
    let o = expect(srv.admin(&["image", "show", id]).await, exit::OK);
    let t = &o.stdout;
    assert!(t.starts_with("FIELD "), "{t}");
    assert_eq!(row(t, "name"), Some("cirros"));
    assert_eq!(row(t, "status"), Some("active"));
    assert_eq!(row(t, "disk_format"), Some("qcow2"));
    assert_eq!(row(t, "size"), Some("13000000"));
    assert_eq!(row(t, "virtual_size"), Some("41126400"));
    assert_eq!(row(t, "min_ram"), Some("64"));
    assert_eq!(row(t, "is_public"), Some("true"));
    assert_eq!(row(t, "owner"), Some("t1"));
    assert_eq!(row(t, "location"), Some("file:///var/lib/images/cirros"));
    assert_eq!(row(t, "deleted_at"), Some("-"));
    assert_eq!(row(t, "property:arch"), Some("x86_64"));
    assert_eq!(row(t, "property:os"), Some("linux"));
    let etag = row(t, "etag").expect("etag row").to_owned();
    assert!(etag.starts_with('"'), "{etag}");
    // The value column is aligned.
    let col = t.lines().next().unwrap().find("VALUE").unwrap();
    assert!(
        t.lines().all(|l| l.len() > col && &l[col - 2..col] == "  "),
        "{t}"
    );

    // JSON for scripts: the registry's body.
    let o = expect(srv.admin(&["image", "show", id, "--json"]).await, exit::OK);
    let v = json_of(&o);
    assert_eq!(v["image"]["name"], "cirros");
    assert_eq!(v["image"]["properties"]["os"], "linux");
    assert_eq!(v["image"]["checksum"], "ee1eca47dc88f4879d8a229cc70a07c6");
    assert_eq!(v["image"]["is_public"], true);

    let o = expect(srv.admin(&["image", "show", id, "--etag"]).await, exit::OK);
    assert_eq!(o.stdout.trim(), etag);

    // Creating the same id again is a conflict.
    let o = expect(
        srv.admin(&["image", "create", "--id", id]).await,
        exit::CONFLICT,
    );
    assert!(
        o.stderr.starts_with("glimpse: 409 Conflict: "),
        "{}",
        o.stderr
    );
    assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
    assert!(o.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filters_and_follows_pages() {
    let srv = TestServer::start().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let name = format!("img-{i}");
        let os = if i % 2 == 0 { "os=linux" } else { "os=bsd" };
        let size = format!("{}", (i + 1) * 100);
        ids.push(
            create(
                &srv,
                &[
                    "--name",
                    &name,
                    "--disk-format",
                    "raw",
                    "--container-format",
                    "bare",
                    "--size",
                    &size,
                    "--is-public",
                    "true",
                    "--property",
                    os,
                ],
            )
            .await,
        );
    }
    let other = create(
        &srv,
        &[
            "--name",
            "iso",
            "--disk-format",
            "iso",
            "--container-format",
            "bare",
            "--is-public",
            "true",
        ],
    )
    .await;

    // A readable table: a header and one aligned line per image.
    let o = expect(srv.admin(&["image", "list"]).await, exit::OK);
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines.len(), 7, "{}", o.stdout);
    assert!(lines[0].starts_with("ID "), "{}", lines[0]);
    for h in ["NAME", "STATUS", "DISK_FORMAT", "CONTAINER_FORMAT", "SIZE"] {
        assert!(lines[0].contains(h), "{}", lines[0]);
    }
    let name_col = lines[0].find("NAME").unwrap();
    for l in &lines[1..] {
        assert_eq!(&l[name_col - 2..name_col], "  ", "{l}");
        assert_ne!(&l[name_col..name_col + 1], " ", "{l}");
    }
    assert!(o.stdout.contains(&other));
    assert!(o.stderr.is_empty(), "{}", o.stderr);

    // Filters mirror the API's.
    let o = expect(
        srv.admin(&[
            "image",
            "list",
            "--json",
            "--disk-format",
            "raw",
            "--size-min",
            "200",
            "--size-max",
            "400",
        ])
        .await,
        exit::OK,
    );
    let names: Vec<String> = json_of(&o)["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["img-3", "img-2", "img-1"]);
    let o = expect(
        srv.admin(&[
            "image",
            "list",
            "--json",
            "--property",
            "os=bsd",
            "--sort-key",
            "name",
            "--sort-dir",
            "asc",
        ])
        .await,
        exit::OK,
    );
    let names: Vec<String> = json_of(&o)["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["img-1", "img-3"]);
    let o = expect(
        srv.admin(&["image", "list", "--name", "iso"]).await,
        exit::OK,
    );
    assert_eq!(o.stdout.lines().count(), 2, "{}", o.stdout);

    // One page of two, with a hint on stderr; --all walks all pages (6 images, pages of 2).
    let o = expect(
        srv.admin(&["image", "list", "--limit", "2"]).await,
        exit::OK,
    );
    assert_eq!(o.stdout.lines().count(), 3, "{}", o.stdout);
    assert!(o.stderr.contains("--all"), "{}", o.stderr);
    let o = expect(
        srv.admin(&[
            "image",
            "list",
            "--limit",
            "2",
            "--all",
            "--json",
            "--sort-key",
            "name",
            "--sort-dir",
            "asc",
        ])
        .await,
        exit::OK,
    );
    let listed: Vec<String> = json_of(&o)["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, ["img-0", "img-1", "img-2", "img-3", "img-4", "iso"]);
    let o = expect(
        srv.admin(&["image", "list", "--limit", "2", "--all"]).await,
        exit::OK,
    );
    assert_eq!(o.stdout.lines().count(), 7, "{}", o.stdout);
    for id in ids.iter().chain([&other]) {
        assert_eq!(o.stdout.matches(id.as_str()).count(), 1, "{}", o.stdout);
    }
    // --all with filters keeps them on every page.
    let o = expect(
        srv.admin(&[
            "image",
            "list",
            "--limit",
            "1",
            "--all",
            "--json",
            "--property",
            "os=linux",
        ])
        .await,
        exit::OK,
    );
    assert_eq!(json_of(&o)["images"].as_array().unwrap().len(), 3);
    // Starting from a marker.
    let o = expect(
        srv.admin(&[
            "image",
            "list",
            "--json",
            "--sort-key",
            "name",
            "--sort-dir",
            "asc",
            "--marker",
            &ids[3],
        ])
        .await,
        exit::OK,
    );
    assert_eq!(json_of(&o)["images"].as_array().unwrap().len(), 2);

    // A filter the registry refuses: one line, exit 1.
    let o = expect(
        srv.admin(&["image", "list", "--changes-since", "yesterday"])
            .await,
        exit::CLIENT,
    );
    assert!(
        o.stderr.starts_with("glimpse: 400 Bad Request: "),
        "{}",
        o.stderr
    );
    assert_eq!(o.stderr.lines().count(), 1);
    // A flag value the client refuses before sending anything: exit 2.
    let o = expect(
        srv.admin(&["image", "list", "--sort-key", "bogus"]).await,
        exit::USAGE,
    );
    assert!(o.stderr.contains("--sort-key"), "{}", o.stderr);
    expect(
        srv.admin(&["image", "list", "--size-min", "-1"]).await,
        exit::USAGE,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_purge_if_match_and_delete() {
    let srv = TestServer::start().await;
    let id = create(
        &srv,
        &[
            "--name",
            "old",
            "--status",
            "queued",
            "--property",
            "a=1",
            "--property",
            "b=2",
            "--checksum",
            "abc",
        ],
    )
    .await;

    // Merge a property and rename.
    let o = expect(
        srv.admin(&[
            "image",
            "update",
            &id,
            "--name",
            "new",
            "--property",
            "c=3",
            "--json",
        ])
        .await,
        exit::OK,
    );
    let v = json_of(&o);
    assert_eq!(v["image"]["name"], "new");
    assert_eq!(
        v["image"]["properties"],
        serde_json::json!({"a": "1", "b": "2", "c": "3"})
    );

    // --purge-props replaces them all; --unset clears a field.
    let o = expect(
        srv.admin(&[
            "image",
            "update",
            &id,
            "--purge-props",
            "--property",
            "d=4",
            "--unset",
            "checksum",
        ])
        .await,
        exit::OK,
    );
    assert_eq!(row(&o.stdout, "property:d"), Some("4"));
    assert_eq!(row(&o.stdout, "property:a"), None);
    assert_eq!(row(&o.stdout, "checksum"), Some("-"));
    let etag = row(&o.stdout, "etag").expect("etag").to_owned();

    // --if-match: the current ETag (with or without its quotes) passes, a stale one is exit 4.
    let bare = etag.trim_matches('"').to_owned();
    let o = expect(
        srv.admin(&[
            "image",
            "update",
            &id,
            "--min-ram",
            "128",
            "--if-match",
            &bare,
        ])
        .await,
        exit::OK,
    );
    assert_eq!(row(&o.stdout, "min_ram"), Some("128"));
    let o = expect(
        srv.admin(&[
            "image",
            "update",
            &id,
            "--name",
            "lost",
            "--if-match",
            &etag,
        ])
        .await,
        exit::CONFLICT,
    );
    assert!(
        o.stderr.starts_with("glimpse: 412 Precondition Failed: "),
        "{}",
        o.stderr
    );
    assert_eq!(o.stderr.lines().count(), 1);
    // --from-state: a status that does not hold is exit 4, one that does passes.
    expect(
        srv.admin(&[
            "image",
            "update",
            &id,
            "--status",
            "saving",
            "--from-state",
            "active",
        ])
        .await,
        exit::CONFLICT,
    );
    expect(
        srv.admin(&[
            "image",
            "update",
            &id,
            "--status",
            "saving",
            "--from-state",
            "queued",
        ])
        .await,
        exit::OK,
    );
    // --purge-props alone removes every property.
    let o = expect(
        srv.admin(&["image", "update", &id, "--purge-props", "--json"])
            .await,
        exit::OK,
    );
    assert_eq!(json_of(&o)["image"]["properties"], serde_json::json!({}));
    assert_eq!(json_of(&o)["image"]["name"], "new");
    // An invalid value is the registry's 400: exit 1.
    let o = expect(
        srv.admin(&["image", "update", &id, "--disk-format", "floppy"])
            .await,
        exit::CLIENT,
    );
    assert!(o.stderr.contains("disk_format"), "{}", o.stderr);
    // Nothing to update: usage.
    expect(srv.admin(&["image", "update", &id]).await, exit::USAGE);

    // Delete with a stale ETag is refused; then delete, and the image is gone.
    expect(
        srv.admin(&["image", "delete", &id, "--if-match", &etag])
            .await,
        exit::CONFLICT,
    );
    let o = expect(srv.admin(&["image", "delete", &id]).await, exit::OK);
    assert!(o.stdout.contains(&id));
    let o = expect(
        srv.tenant("t1", &["image", "show", &id]).await,
        exit::NOT_FOUND,
    );
    assert!(
        o.stderr.starts_with("glimpse: 404 Not Found"),
        "{}",
        o.stderr
    );
    assert_eq!(o.stderr.lines().count(), 1);
    let o = expect(srv.admin(&["image", "delete", &id]).await, exit::NOT_FOUND);
    assert!(
        o.stderr.starts_with("glimpse: 404 Not Found"),
        "{}",
        o.stderr
    );
    expect(
        srv.admin(&["image", "show", "00000000-0000-0000-0000-000000000000"])
            .await,
        exit::NOT_FOUND,
    );
    // A protected image cannot be deleted: 403 is exit 1.
    let p = create(&srv, &["--protected", "true"]).await;
    let o = expect(srv.admin(&["image", "delete", &p]).await, exit::CLIENT);
    assert!(
        o.stderr.starts_with("glimpse: 403 Forbidden"),
        "{}",
        o.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_and_shared() {
    let srv = TestServer::start().await;
    let id = create(&srv, &["--name", "private", "--owner", "t1"]).await;

    expect(srv.admin(&["member", "add", &id, "t2"]).await, exit::OK);
    let o = expect(
        srv.admin(&["member", "add", &id, "t3", "--can-share"])
            .await,
        exit::OK,
    );
    assert!(o.stdout.contains("t3"), "{}", o.stdout);
    let o = expect(srv.admin(&["member", "list", &id]).await, exit::OK);
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["MEMBER", "CAN_SHARE"]
    );
    let mut rows: Vec<Vec<&str>> = lines[1..]
        .iter()
        .map(|l| l.split_whitespace().collect())
        .collect();
    rows.sort();
    assert_eq!(rows, [vec!["t2", "false"], vec!["t3", "true"]]);

    // --can-share false takes the right back.
    expect(
        srv.admin(&["member", "add", &id, "t3", "--can-share", "false"])
            .await,
        exit::OK,
    );
    let o = expect(
        srv.admin(&["member", "list", &id, "--json"]).await,
        exit::OK,
    );
    let mut members: Vec<(String, bool)> = json_of(&o)["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["member_id"].as_str().unwrap().to_owned(),
                m["can_share"].as_bool().unwrap(),
            )
        })
        .collect();
    members.sort();
    assert_eq!(
        members,
        [("t2".to_owned(), false), ("t3".to_owned(), false)]
    );

    // The member sees the image; shared lists it.
    expect(srv.tenant("t2", &["image", "show", &id]).await, exit::OK);
    let o = expect(srv.admin(&["shared", "t2"]).await, exit::OK);
    assert!(o.stdout.starts_with("IMAGE_ID"), "{}", o.stdout);
    assert!(o.stdout.contains(&id), "{}", o.stdout);
    let o = expect(srv.admin(&["shared", "t2", "--json"]).await, exit::OK);
    assert_eq!(json_of(&o)["shared_images"][0]["image_id"], id.as_str());
    // The TENANT argument is not taken for the caller's --tenant (no warning, and with a token
    // the caller stays who it is).
    assert!(o.stderr.is_empty(), "{}", o.stderr);
    let o = expect(
        srv.tenant("t1", &["shared", "t2", "--json"]).await,
        exit::OK,
    );
    assert_eq!(json_of(&o)["shared_images"][0]["image_id"], id.as_str());
    let o = expect(
        srv.tenant("t2", &["shared", "t2", "--json"]).await,
        exit::OK,
    );
    assert_eq!(json_of(&o)["shared_images"][0]["image_id"], id.as_str());

    // A member without can_share cannot change memberships: 403, exit 1.
    expect(
        srv.tenant("t2", &["member", "add", &id, "t9"]).await,
        exit::CLIENT,
    );

    // Remove; removing again is 404.
    expect(srv.admin(&["member", "remove", &id, "t2"]).await, exit::OK);
    expect(
        srv.admin(&["member", "remove", &id, "t2"]).await,
        exit::NOT_FOUND,
    );
    expect(
        srv.tenant("t2", &["image", "show", &id]).await,
        exit::NOT_FOUND,
    );

    // Replace all memberships.
    expect(
        srv.admin(&["member", "replace", &id, "t4", "t5:can_share", "t6:false"])
            .await,
        exit::OK,
    );
    let o = expect(
        srv.admin(&["member", "list", &id, "--json"]).await,
        exit::OK,
    );
    let mut members: Vec<(String, bool)> = json_of(&o)["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["member_id"].as_str().unwrap().to_owned(),
                m["can_share"].as_bool().unwrap(),
            )
        })
        .collect();
    members.sort();
    assert_eq!(
        members,
        [
            ("t4".to_owned(), false),
            ("t5".to_owned(), true),
            ("t6".to_owned(), false)
        ]
    );
    // t5 may share further.
    expect(
        srv.tenant("t5", &["member", "add", &id, "t7"]).await,
        exit::OK,
    );
    let o = expect(srv.admin(&["shared", "t2"]).await, exit::OK);
    assert_eq!(o.stdout.lines().count(), 1, "{}", o.stdout);

    // Replace needs members or --clear; --clear removes them all.
    expect(srv.admin(&["member", "replace", &id]).await, exit::USAGE);
    expect(
        srv.admin(&["member", "replace", &id, "t4:maybe"]).await,
        exit::USAGE,
    );
    expect(
        srv.admin(&["member", "replace", &id, "--clear"]).await,
        exit::OK,
    );
    let o = expect(
        srv.admin(&["member", "list", &id, "--json"]).await,
        exit::OK,
    );
    assert_eq!(json_of(&o)["members"], serde_json::json!([]));
    // Members of an image that does not exist.
    expect(
        srv.admin(&["member", "list", "00000000-0000-0000-0000-000000000000"])
            .await,
        exit::NOT_FOUND,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_headers_are_sent() {
    let srv = TestServer::start().await;
    // t1 creates a private image: the owner comes from the X-Tenant-Id the client sends.
    let o = expect(
        srv.tenant("t1", &["image", "create", "--name", "mine", "--json"])
            .await,
        exit::OK,
    );
    let v = json_of(&o);
    assert_eq!(v["image"]["owner"], "t1");
    assert_eq!(v["image"]["is_public"], false);
    let id = v["image"]["id"].as_str().unwrap().to_owned();

    // t1 sees it, t2 does not (404, exit 3), and t2's list does not have it.
    expect(srv.tenant("t1", &["image", "show", &id]).await, exit::OK);
    let o = expect(
        srv.tenant("t2", &["image", "show", &id]).await,
        exit::NOT_FOUND,
    );
    assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
    let o = expect(
        srv.tenant("t2", &["image", "list", "--json"]).await,
        exit::OK,
    );
    assert_eq!(json_of(&o)["images"], serde_json::json!([]));
    let o = expect(srv.tenant("t1", &["image", "list"]).await, exit::OK);
    assert!(o.stdout.contains(&id));
    // t2 cannot update or delete it either.
    expect(
        srv.tenant("t2", &["image", "update", &id, "--name", "x"])
            .await,
        exit::NOT_FOUND,
    );
    expect(
        srv.tenant("t2", &["image", "delete", &id]).await,
        exit::NOT_FOUND,
    );
    // Roles are sent: an admin role in another tenant sees it.
    let o = run_args([
        "--url",
        &srv.url,
        "--token",
        "tok",
        "--tenant",
        "t9",
        "--roles",
        "member,admin",
        "image",
        "show",
        &id,
    ])
    .await;
    expect(o, exit::OK);
    // A token without a tenant is a caller that owns nothing.
    let o = run_args(["--url", &srv.url, "--token", "tok", "image", "show", &id]).await;
    expect(o, exit::NOT_FOUND);
    // Without a token the tenant is not sent (a warning says so), and the no-token admin sees it.
    let o = run_args(["--url", &srv.url, "--tenant", "t2", "image", "show", &id]).await;
    let o = expect(o, exit::OK);
    assert!(o.stderr.contains("warning"), "{}", o.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_and_network_errors() {
    // Nothing listens on port 1 of the loopback: exit 6, one line.
    let o = expect(
        run_args(["--url", "http://127.0.0.1:1", "image", "list"]).await,
        exit::NETWORK,
    );
    assert!(
        o.stderr
            .starts_with("glimpse: cannot connect to http://127.0.0.1:1/"),
        "{}",
        o.stderr
    );
    assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
    // https on a port where nothing listens: still a network error (whatever TLS support).
    let o = expect(
        run_args(["--url", "https://127.0.0.1:1", "image", "list"]).await,
        exit::NETWORK,
    );
    assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
    // A server that accepts the connection and never answers: a timeout, exit 6.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let silent_url = format!("http://{}", silent.local_addr().expect("addr"));
    let hold = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((c, _)) = silent.accept().await {
            conns.push(c);
        }
    });
    let o = expect(
        run_args([
            "--url",
            &silent_url,
            "--timeout",
            "0.5",
            "image",
            "show",
            "x",
        ])
        .await,
        exit::NETWORK,
    );
    assert!(o.stderr.contains("no answer in time"), "{}", o.stderr);
    hold.abort();
    // A URL that is not one, an unknown flag, a property without '=', a missing argument: exit 2.
    expect(
        run_args(["--url", "not a url", "image", "list"]).await,
        exit::USAGE,
    );
    expect(
        run_args(["--url", "ftp://h/", "image", "list"]).await,
        exit::USAGE,
    );
    expect(run_args(["image", "list", "--bogus"]).await, exit::USAGE);
    expect(
        run_args(["image", "create", "--property", "novalue"]).await,
        exit::USAGE,
    );
    expect(run_args(["image", "show"]).await, exit::USAGE);
    expect(
        run_args(["image", "create", "--is-public", "perhaps"]).await,
        exit::USAGE,
    );
    // Help is not an error.
    let o = expect(run_args(["image", "list", "--help"]).await, exit::OK);
    assert!(o.stdout.contains("--changes-since"), "{}", o.stdout);

    // A server that is not the registry: a 404 without a JSON body still gives one line, and a
    // path prefix in --url is kept.
    let srv = TestServer::start().await;
    let prefixed = format!("{}/prefix", srv.url);
    let o = expect(
        run_args(["--url", &prefixed, "image", "list"]).await,
        exit::NOT_FOUND,
    );
    assert_eq!(o.stderr, "glimpse: 404 Not Found: No such resource\n");
    // Ids with characters that need encoding stay one path segment.
    let o = expect(
        run_args(["--url", &srv.url, "image", "show", "a/b?c"]).await,
        exit::NOT_FOUND,
    );
    assert_eq!(o.stderr, "glimpse: 404 Not Found: Image not found\n");
}
