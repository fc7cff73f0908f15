//! The database goes away, hangs, or slows down: glimpse answers 503 within its timeouts
//! (never hangs, never 500s), `/readyz` says so, and service resumes by itself. A write that
//! was refused either happened completely or not at all.

use crate::proxy::{FaultProxy, Mode};
use crate::support::{Backend, TestDb, TestServer, server_address, with_address};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn start_behind_proxy(backend: Backend) -> (TestServer, FaultProxy) {
    let db = TestDb::create(backend).await;
    let upstream = server_address(backend);
    let proxy = FaultProxy::start(&upstream).await;
    let url = with_address(&db.url, &format!("127.0.0.1:{}", proxy.port));
    let srv = TestServer::start_on(db, |c| {
        c.database_url = url;
        c.pool.acquire_timeout = Duration::from_secs(1);
        c.request_timeout = Duration::from_secs(3);
    })
    .await;
    (srv, proxy)
}

async fn wait_ready(srv: &TestServer) {
    let started = Instant::now();
    loop {
        if srv.admin().get("/readyz").await.status == 200 {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "glimpse did not recover by itself"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn outage_and_recovery(backend: Backend) {
    let (srv, proxy) = start_behind_proxy(backend).await;
    let admin = srv.admin();
    let before = admin
        .create(json!({"name": "before", "properties": {"a": "1"}}))
        .await;

    // Down: connections refused and the open ones cut.
    proxy.set(Mode::Refuse);
    proxy.cut();
    for path in [
        "/images",
        "/images/detail",
        &format!("/images/{}", before["id"].as_str().expect("id")),
    ] {
        let t = Instant::now();
        admin.get(path).await.expect_error(503);
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{path} took {:?}",
            t.elapsed()
        );
    }
    admin.get("/readyz").await.expect_error(503);
    admin.get("/healthz").await.expect(200);
    let refused = admin
        .post(
            "/images",
            &json!({"image": {"name": "during-outage", "properties": {"x": "y"}}}),
        )
        .await;
    assert_eq!(refused.status, 503, "{}", refused.text);

    // Back: service resumes without a restart.
    proxy.set(Mode::Pass);
    wait_ready(&srv).await;
    let list = admin.get("/images/detail?is_public=none").await.expect(200);
    let names: Vec<&str> = list
        .images()
        .iter()
        .filter_map(|i| i["name"].as_str())
        .collect();
    assert!(names.contains(&"before"));
    assert!(
        !names.contains(&"during-outage"),
        "a refused write must not appear"
    );

    // Hung database: answered within the request timeout, not left hanging.
    proxy.set(Mode::Blackhole);
    proxy.cut();
    let t = Instant::now();
    let r = admin.get("/images").await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "took {:?}",
        t.elapsed()
    );
    proxy.set(Mode::Pass);
    proxy.cut();
    wait_ready(&srv).await;

    // Slow database: slower, but correct.
    proxy.set(Mode::Slow(Duration::from_millis(20)));
    admin.get("/images").await.expect(200);
    proxy.set(Mode::Pass);
}

/// Writes in flight while connections are cut: each one that was refused is either absent
/// or complete (with all its properties); each one acknowledged is there.
async fn cut_mid_write(backend: Backend) {
    let (srv, proxy) = start_behind_proxy(backend).await;
    let mut tasks = Vec::new();
    for n in 0..40 {
        let http = srv.http.clone();
        let base = srv.base.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({"image": {"name": format!("w{n}"), "properties": {"p1": "1", "p2": "2", "p3": "3"}}});
            let r = http.post(format!("{base}/images")).json(&body).send().await;
            (n, r.map(|r| r.status().as_u16()).unwrap_or(0))
        }));
        if n % 8 == 4 {
            proxy.cut();
        }
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.expect("join"));
    }
    for (_, status) in &outcomes {
        assert!(*status == 200 || *status == 503, "write answered {status}");
    }
    wait_ready(&srv).await;
    let all = srv
        .admin()
        .get("/images/detail?is_public=none&limit=1000")
        .await
        .expect(200);
    let by_name =
        |name: &str| -> Option<Value> { all.images().iter().find(|i| i["name"] == name).cloned() };
    for (n, status) in outcomes {
        let found = by_name(&format!("w{n}"));
        if status == 200 {
            assert!(found.is_some(), "acknowledged write w{n} lost");
        }
        if let Some(img) = found {
            assert_eq!(
                img["properties"].as_object().map(|p| p.len()),
                Some(3),
                "w{n} half-written: {img}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_and_recovery() {
    outage_and_recovery(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_outage_and_recovery() {
    outage_and_recovery(Backend::Mysql).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cut_mid_write_is_all_or_nothing() {
    cut_mid_write(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_cut_mid_write_is_all_or_nothing() {
    cut_mid_write(Backend::Mysql).await;
}
