//! `glimpse db export | import | purge`, run as a user would, against every backend.

use crate::support::{Backend, TestDb, TestServer};
use serde_json::json;
use std::process::Command;

fn glimpse(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_glimpse"))
        .args(args)
        .env_remove("GLIMPSE_CONFIG")
        .output()
        .expect("run glimpse");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A catalog with what an export must carry: properties, Unicode, 64-bit sizes, memberships,
/// a deleted image, private and public images of several owners.
async fn seed(srv: &TestServer) {
    let admin = srv.admin();
    for n in 0..12 {
        let img = admin
            .create(json!({
                "name": format!("image-{n} ☃"),
                "is_public": n % 3 == 0,
                "owner": format!("tenant-{}", n % 4),
                "size": 9_223_372_036_854_775_807i64 - n,
                "disk_format": "qcow2", "container_format": "bare",
                "properties": {"n": n.to_string(), "distro": "ubuntu", "ключ": "значение"},
            }))
            .await;
        let id = img["id"].as_str().expect("id");
        if n % 4 == 1 {
            admin
                .send(
                    reqwest::Method::PUT,
                    &format!("/images/{id}/members/tenant-x"),
                    None,
                    &[],
                )
                .await
                .expect(204);
        }
        if n == 5 {
            admin.delete(&format!("/images/{id}")).await.expect(200);
        }
    }
}

fn export(url: &str, path: &std::path::Path) -> Vec<u8> {
    let (ok, _, err) = glimpse(&[
        "db",
        "export",
        "--database",
        url,
        "--output",
        path.to_str().expect("path"),
    ]);
    assert!(ok, "export failed: {err}");
    std::fs::read(path).expect("read export")
}

async fn round_trip_from(source: Backend) {
    let srv = TestServer::start(source).await;
    seed(&srv).await;
    let dir = tempfile::tempdir().expect("tmp");
    let first = export(&srv.db.url, &dir.path().join("a.jsonl"));
    assert_eq!(
        first.iter().filter(|b| **b == b'\n').count(),
        12,
        "one line per image, deleted included"
    );
    // Deterministic: the same catalog gives the same bytes.
    assert_eq!(export(&srv.db.url, &dir.path().join("b.jsonl")), first);
    for target in [Backend::Sqlite, Backend::Postgres, Backend::Mysql] {
        if target == source {
            continue;
        }
        let db = TestDb::create(target).await;
        let (ok, _, err) = glimpse(&[
            "db",
            "import",
            "--database",
            &db.url,
            "--input",
            dir.path().join("a.jsonl").to_str().expect("p"),
        ]);
        assert!(ok, "import into {target:?} failed: {err}");
        let again = export(&db.url, &dir.path().join(format!("{target:?}.jsonl")));
        assert_eq!(
            String::from_utf8_lossy(&again),
            String::from_utf8_lossy(&first),
            "{source:?} -> {target:?} is lossless"
        );
        // Importing twice is refused, naming the image, and changes nothing.
        let (ok, _, err) = glimpse(&[
            "db",
            "import",
            "--database",
            &db.url,
            "--input",
            dir.path().join("a.jsonl").to_str().expect("p"),
        ]);
        assert!(!ok && err.contains("already exists"), "{err}");
        assert_eq!(export(&db.url, &dir.path().join("again.jsonl")), first);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_import_from_sqlite() {
    round_trip_from(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_import_from_postgres() {
    round_trip_from(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_import_from_mysql() {
    round_trip_from(Backend::Mysql).await;
}

crate::backend_tests! {
    async fn purge_removes_only_old_deleted_images(srv: TestServer) {
        let admin = srv.admin();
        let keep = admin.create(json!({"name": "keep", "is_public": true})).await;
        let gone = admin.create(json!({"name": "gone", "is_public": true, "properties": {"a": "b"}})).await;
        let gone_id = gone["id"].as_str().expect("id");
        admin.send(reqwest::Method::PUT, &format!("/images/{gone_id}/members/t9"), None, &[]).await.expect(204);
        admin.delete(&format!("/images/{gone_id}")).await.expect(200);

        // Deleted just now: not older than a day.
        let (ok, out, err) = glimpse(&["db", "purge", "--database", &srv.db.url, "--older-than", "1d"]);
        assert!(ok, "{err}");
        assert!(out.contains("purged 0"), "{out}");
        admin.get(&format!("/images/{gone_id}")).await.expect(200);

        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let (ok, out, _) = glimpse(&["db", "purge", "--database", &srv.db.url, "--older-than", "5ms", "--dry-run"]);
        assert!(ok && out.contains("1 images"), "{out}");
        admin.get(&format!("/images/{gone_id}")).await.expect(200);

        let (ok, out, err) = glimpse(&["db", "purge", "--database", &srv.db.url, "--older-than", "5ms"]);
        assert!(ok && out.contains("purged 1"), "{out} {err}");
        admin.get(&format!("/images/{gone_id}")).await.expect_error(404);
        admin.get(&format!("/images/{}", keep["id"].as_str().expect("id"))).await.expect(200);
        let changes = admin.get("/images/detail?changes-since=2000-01-01T00:00:00Z&is_public=none").await.expect(200);
        assert_eq!(changes.ids(), vec![keep["id"].as_str().expect("id").to_owned()]);
    }
}
