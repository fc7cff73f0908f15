//! What an operator meets: configuration precedence and `config show`, start-up refusals,
//! structured logs, and metrics.

use crate::process::Process;
use crate::support::{Backend, TestServer};
use serde_json::json;
use std::process::{Command, Stdio};

fn glimpse(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_glimpse"));
    cmd.args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("GLIMPSE_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run glimpse");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn value_of(toml_text: &str, key: &str) -> String {
    toml_text
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("{key} missing in:\n{toml_text}"))
        .to_owned()
}

#[test]
fn precedence_is_flag_env_file_glance_default() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("glimpse.toml");
    std::fs::write(&file, "api_limit_max = 20\nlimit_param_default = 7\n").expect("write");
    let glance = dir.path().join("glance-registry.conf");
    std::fs::write(
        &glance,
        "[DEFAULT]\nbind_port = 9393\nlimit_param_default = 3\nowner_is_tenant = False\nsql_connection = postgresql+psycopg2://glance:pw@db/glance\n",
    )
    .expect("write");
    let f = file.to_str().expect("p");
    let g = glance.to_str().expect("p");

    let (code, out, _) = glimpse(&["config", "show"], &[]);
    assert_eq!(code, 0);
    assert_eq!(value_of(&out, "api_limit_max"), "1000", "default");

    let (_, out, _) = glimpse(&["config", "show", "--glance-config", g], &[]);
    assert_eq!(
        value_of(&out, "limit_param_default"),
        "3",
        "glance config over default"
    );
    assert_eq!(value_of(&out, "bind"), "\"127.0.0.1:9393\"");
    assert_eq!(value_of(&out, "owner_is_tenant"), "false");
    assert_eq!(
        value_of(&out, "database_url"),
        "\"postgres://glance:****@db/glance\"",
        "password masked"
    );

    let (_, out, _) = glimpse(
        &["config", "show", "--config", f, "--glance-config", g],
        &[],
    );
    assert_eq!(
        value_of(&out, "limit_param_default"),
        "7",
        "file over glance config"
    );
    assert_eq!(value_of(&out, "api_limit_max"), "20");

    let (_, out, _) = glimpse(
        &["config", "show", "--config", f],
        &[("GLIMPSE_API_LIMIT_MAX", "30")],
    );
    assert_eq!(value_of(&out, "api_limit_max"), "30", "env over file");

    let (_, out, _) = glimpse(
        &["config", "show", "--config", f, "--api-limit-max", "40"],
        &[("GLIMPSE_API_LIMIT_MAX", "30")],
    );
    assert_eq!(value_of(&out, "api_limit_max"), "40", "flag over env");

    let (_, out, _) = glimpse(&["config", "show"], &[("GLIMPSE_CONFIG", f)]);
    assert_eq!(
        value_of(&out, "api_limit_max"),
        "20",
        "GLIMPSE_CONFIG names the file"
    );
}

#[test]
fn invalid_settings_stop_the_start_naming_setting_and_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "api_limit_max = \"lots\"\n").expect("write");
    let (code, _, err) = glimpse(&["serve", "--config", file.to_str().expect("p")], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("api_limit_max") && err.contains("bad.toml"),
        "{err}"
    );

    std::fs::write(&file, "limit_param_default = 0\n").expect("write");
    let (code, _, err) = glimpse(&["serve", "--config", file.to_str().expect("p")], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("limit_param_default") && err.contains("bad.toml"),
        "{err}"
    );

    let (code, _, err) = glimpse(&["serve", "--database", "oracle://x"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("database_url"), "{err}");
}

#[test]
fn no_token_admin_is_refused_off_loopback_unless_chosen() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = format!("sqlite://{}", dir.path().join("x.db").display());
    let (code, _, err) = glimpse(&["serve", "--bind", "0.0.0.0:0", "--database", &db], &[]);
    assert_ne!(code, 0);
    assert!(
        err.contains("--noauth deny") && err.contains("not a loopback"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_have_one_line_per_request_and_no_secrets() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = format!("sqlite://{}", dir.path().join("log.db").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_glimpse"))
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--images-bind",
            "127.0.0.1:0",
            "--database",
            &db,
            "--log-format",
            "json",
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let first = rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("start line");
    let v: serde_json::Value = serde_json::from_str(&first).expect("json log line");
    let addr = v["message"]
        .as_str()
        .expect("message")
        .split("http://")
        .nth(1)
        .expect("addr")
        .split(' ')
        .next()
        .expect("addr")
        .to_owned();
    let http = reqwest::Client::new();
    let r = http
        .get(format!("http://{addr}/images"))
        .header("x-auth-token", "super-secret-token")
        .header("x-identity-status", "Confirmed")
        .header("x-tenant-id", "tenant-42")
        .header("x-openstack-request-id", "req-test-123")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let lines: Vec<String> = rx.try_iter().collect();
    let access: Vec<serde_json::Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["request_id"] == "req-test-123")
        .collect();
    assert_eq!(access.len(), 1, "one line per request: {lines:?}");
    let line = &access[0];
    assert_eq!(line["method"], "GET");
    assert_eq!(line["route"], "/images");
    assert_eq!(line["status"], 200);
    assert_eq!(line["tenant"], "tenant-42");
    assert!(line["latency_ms"].is_number());
    assert!(
        lines.iter().all(|l| !l.contains("super-secret-token")),
        "token leaked into logs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_by_route_pool_and_status() {
    let srv = TestServer::start(Backend::Sqlite).await;
    let admin = srv.admin();
    let img = admin.create(json!({"name": "m", "status": "queued"})).await;
    admin
        .get(&format!("/images/{}", img["id"].as_str().expect("id")))
        .await
        .expect(200);
    let m = admin.get("/metrics").await.expect(200);
    let text = m.text;
    assert!(
        text.contains(
            "glimpse_http_requests_total{method=\"GET\",route=\"/images/{id}\",status=\"200\"}"
        ),
        "{text}"
    );
    assert!(
        text.contains("glimpse_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("glimpse_http_requests_in_flight"), "{text}");
    assert!(
        text.contains("glimpse_db_operation_duration_seconds"),
        "{text}"
    );
    assert!(
        text.contains("glimpse_db_pool_connections{state=\"idle\"}"),
        "{text}"
    );
    assert!(text.contains("glimpse_db_pool_waiting "), "{text}");
    assert!(
        text.contains("glimpse_images{status=\"queued\"} 1"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_be_turned_off_or_moved() {
    let off = TestServer::start_with(Backend::Sqlite, |c| c.metrics = false).await;
    off.admin().get("/metrics").await.expect_error(404);

    let dir = tempfile::tempdir().expect("tmp");
    let db = format!("sqlite://{}", dir.path().join("m.db").display());
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("probe");
    let port = probe.local_addr().expect("addr").port();
    drop(probe);
    let p = Process::start(&db, &["--metrics-bind", &format!("127.0.0.1:{port}")]);
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(format!("{}/metrics", p.base))
            .send()
            .await
            .expect("api")
            .status(),
        404
    );
    let r = http
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .expect("metrics");
    assert_eq!(r.status(), 200);
    assert!(
        r.text()
            .await
            .expect("text")
            .contains("glimpse_db_pool_connections")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn either_api_can_be_turned_off_but_not_both() {
    let dir = tempfile::tempdir().expect("tmp");
    let http = reqwest::Client::new();

    let db = format!("sqlite://{}", dir.path().join("v2only.db").display());
    let v2_only = Process::start(&db, &["--registry-api", "false"]);
    assert!(v2_only.base.is_empty(), "no registry listener was reported");
    assert!(
        !v2_only
            .log
            .lock()
            .expect("log")
            .iter()
            .any(|l| l.contains("listening on") && !l.contains("images API")),
        "the registry API listened"
    );
    let created: serde_json::Value = http
        .post(format!("{}/v2/images", v2_only.v2))
        .json(&json!({"name": "only-v2", "disk_format": "raw", "container_format": "bare"}))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    let id = created["id"].as_str().expect("id");
    let shown = http
        .get(format!("{}/v2/images/{id}", v2_only.v2))
        .send()
        .await
        .expect("show");
    assert_eq!(shown.status(), 200);
    let probe = http
        .get(format!("{}/healthz", v2_only.v2))
        .send()
        .await
        .expect("healthz");
    assert_eq!(probe.status(), 200, "probes stay on the remaining listener");

    let db = format!("sqlite://{}", dir.path().join("v1only.db").display());
    let v1_only = Process::start(&db, &["--images-api", "false"]);
    assert!(v1_only.v2.is_empty());
    let r = http
        .post(format!("{}/images", v1_only.base))
        .json(&json!({"image": {"name": "only-v1", "disk_format": "raw", "container_format": "bare"}}))
        .send()
        .await
        .expect("v1 create");
    assert_eq!(r.status(), 200);

    let db = format!("sqlite://{}", dir.path().join("none.db").display());
    let (code, _, err) = glimpse(
        &[
            "serve",
            "--database",
            &db,
            "--registry-api",
            "false",
            "--images-api",
            "false",
        ],
        &[],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("registry_api") && err.contains("nothing would be served"),
        "{err}"
    );
}
