//! The benchmark tool keeps working: a tiny run of `glimpse-bench` against a real glimpse
//! server (in this process, on a temporary SQLite file) must seed its images and complete
//! requests in every scenario (the v1 ones on the registry API, the v2 ones on the images API)
//! with no error. Figures are printed, never asserted.

use glimpse::config::{ServerConfig, Settings, Sources};
use glimpse::server::Server;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;

/// A glimpse server running in this process on `database_url`, until [`Running::stop`].
struct Running {
    addr: SocketAddr,
    /// The v2 images API.
    images: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn serve(database_url: String) -> Running {
    let settings = Settings {
        bind: Some("127.0.0.1:0".parse().expect("addr")),
        images_bind: Some("127.0.0.1:0".parse().expect("addr")),
        database_url: Some(database_url),
        db_max_connections: Some(5),
        db_acquire_timeout: Some(10.0),
        ..Settings::default()
    };
    let config: ServerConfig =
        ServerConfig::from_settings(&settings, &Sources::default()).expect("valid config");
    let server = Server::bind(config).await.expect("server starts");
    let addr = server.local_addr().expect("addr");
    let images = server.images_addr().expect("the images API is served");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    Running {
        addr,
        images,
        stop,
        serving,
    }
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(10), self.serving).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_tool_runs_every_scenario_without_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = serve(format!(
        "sqlite://{}",
        dir.path().join("bench.db").display()
    ))
    .await;
    let addr = server.addr;
    let images = server.images;

    let json_out = dir.path().join("results.json");
    let ids_file = dir.path().join("ids.txt");
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_glimpse-bench"))
        .args(["--url", &format!("http://{addr}")])
        .args(["--images-url", &format!("http://{images}")])
        .args(["--images", "300", "--duration", "1", "--warmup", "0"])
        .args(["--connections", "4", "--threads", "1"])
        .arg("--ids-file")
        .arg(&ids_file)
        .arg("--json-out")
        .arg(&json_out)
        .args(["--server-pid", &std::process::id().to_string()])
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(180), run)
        .await
        .expect("the benchmark finishes within 3 minutes")
        .expect("the benchmark starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}\n{stderr}");
    assert!(
        output.status.success(),
        "glimpse-bench failed ({}):\n{stdout}\n{stderr}",
        output.status
    );

    let report: Value =
        serde_json::from_slice(&std::fs::read(&json_out).expect("JSON written")).expect("JSON");
    assert_eq!(report["seed"]["created"], 300, "{}", report["seed"]);
    assert_eq!(report["seed"]["errors"], 0);
    assert_eq!(report["total_errors"], 0);
    let ids = std::fs::read_to_string(&ids_file).expect("ids written");
    assert_eq!(ids.lines().count(), 300);

    let scenarios = report["scenarios"].as_array().expect("scenarios");
    let names: Vec<&str> = scenarios
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "show",
            "head",
            "list-brief",
            "list-detail",
            "filter-property",
            "filter-half",
            "filter-1pct",
            "filter-one",
            "filter-and-sort",
            "page-walk",
            "v2-show",
            "v2-list",
            "v2-list-filter",
            "create",
            "update",
            "v2-patch",
            "mixed",
            "healthz"
        ]
    );
    for s in scenarios {
        let name = &s["name"];
        assert_eq!(s["errors"], 0, "{name}: {}", s["error_samples"]);
        assert!(
            s["requests"].as_u64().unwrap_or(0) > 0,
            "{name}: no request"
        );
        assert!(s["requests_per_s"].as_f64().unwrap_or(0.0) > 0.0, "{name}");
        assert!(s["latency_ms"]["p99"].as_f64().unwrap_or(-1.0) >= 0.0);
        assert!(s["memory"]["after"]["rss_kib"].as_u64().unwrap_or(0) > 0);
    }

    // v2-patch changed seeded images: some now carry its property and a min_ram it sets.
    let client = reqwest::Client::new();
    let mut patched = 0;
    for id in ids.lines() {
        let image: Value = client
            .get(format!("http://{images}/v2/images/{id}"))
            .send()
            .await
            .expect("v2 show")
            .json()
            .await
            .expect("JSON");
        assert_eq!(image["id"], id);
        if image["bench_touched"].is_string() {
            assert!(
                [512, 1024, 2048, 4096].contains(&image["min_ram"].as_u64().unwrap_or(0)),
                "{image}"
            );
            patched += 1;
        }
    }
    assert!(patched > 0, "no image was patched by v2-patch");

    // Reusing the catalog: from the ids file, and by listing.
    for reuse in [
        vec!["--ids-file".to_owned(), ids_file.display().to_string()],
        vec![],
    ] {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_glimpse-bench"))
            .args(["--url", &format!("http://{addr}"), "--skip-seed"])
            .args(["--scenarios", "show,update", "--duration", "0.3"])
            .args(["--warmup", "0", "--connections", "2", "--threads", "1"])
            .args(&reuse)
            .kill_on_drop(true)
            .output()
            .await
            .expect("the benchmark starts");
        assert!(
            output.status.success(),
            "reusing the catalog ({reuse:?}) failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    server.stop().await;
}

/// The million-image path: `--write-catalog` writes a catalog that `glimpse db import` loads,
/// and the scenarios then run over it (ids from the ids file) without errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn written_catalog_imports_and_serves_every_scenario() {
    let dir = tempfile::tempdir().expect("tempdir");
    let catalog = dir.path().join("catalog.jsonl");
    let ids_file = dir.path().join("ids.txt");
    let db = format!("sqlite://{}", dir.path().join("imported.db").display());

    let written = std::process::Command::new(env!("CARGO_BIN_EXE_glimpse-bench"))
        .args(["--images", "400", "--rng-seed", "9", "--write-catalog"])
        .arg(&catalog)
        .arg("--ids-file")
        .arg(&ids_file)
        .output()
        .expect("glimpse-bench starts");
    assert!(
        written.status.success(),
        "{}",
        String::from_utf8_lossy(&written.stderr)
    );
    let imported = std::process::Command::new(env!("CARGO_BIN_EXE_glimpse"))
        .args(["db", "import", "--database", &db, "--input"])
        .arg(&catalog)
        .output()
        .expect("glimpse starts");
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );

    let server = serve(db).await;
    let addr = server.addr;
    let images = server.images;

    // Every written id is in the catalog, with the generated metadata.
    let ids: Vec<String> = std::fs::read_to_string(&ids_file)
        .expect("ids written")
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(ids.len(), 400);
    let client = reqwest::Client::new();
    let page: Value = client
        .get(format!("http://{addr}/images/detail"))
        .query(&[("is_public", "none"), ("limit", "1000")])
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("JSON");
    let listed: std::collections::HashSet<&str> = page["images"]
        .as_array()
        .expect("images")
        .iter()
        .filter_map(|i| i["id"].as_str())
        .collect();
    assert_eq!(listed.len(), 400);
    assert!(ids.iter().all(|id| listed.contains(id.as_str())));
    let one: Value = client
        .get(format!("http://{addr}/images/{}", ids[7]))
        .send()
        .await
        .expect("show")
        .json()
        .await
        .expect("JSON");
    assert_eq!(one["image"]["properties"]["build_id"], "b00000007");

    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_glimpse-bench"))
        .args(["--url", &format!("http://{addr}"), "--skip-seed"])
        .args(["--images-url", &format!("http://{images}")])
        .args([
            "--rng-seed",
            "9",
            "--scenarios",
            "show,list-detail,filter-property,v2-show,v2-list-filter",
        ])
        .args(["--duration", "0.5", "--warmup", "0", "--connections", "2"])
        .args(["--threads", "1", "--ids-file"])
        .arg(&ids_file)
        .kill_on_drop(true)
        .output()
        .await
        .expect("the benchmark starts");
    assert!(
        run.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    server.stop().await;
}

/// A v2 scenario asked for without the v2 API's URL is refused up front (before any request),
/// saying what is missing.
#[test]
fn v2_scenarios_without_images_url_are_refused() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_glimpse-bench"))
        .args(["--url", "http://127.0.0.1:9", "--skip-seed"])
        .args(["--scenarios", "show,v2-list", "--duration", "0.1"])
        .output()
        .expect("glimpse-bench starts");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("v2-list") && stderr.contains("--images-url"),
        "{stderr}"
    );
}
