//! glimpse behind a real load balancer: nginx with `deploy/nginx.conf` in front of two
//! instances on one PostgreSQL or MariaDB database. The scale-out stories run through it, and
//! stopping one instance in the middle of a write load loses no acknowledged write.

use crate::nginx::{Cluster, config_template};
use crate::scale_out::{one_winner_story, registry_story};
use crate::support::{Backend, TestDb};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

async fn scale_out_stories_through_nginx(backend: Backend) {
    let db = TestDb::create(backend).await;
    let cluster = Cluster::start(&db.url);
    let base = cluster.base().to_owned();
    registry_story(&[base.clone(), base.clone()]).await;
    one_winner_story(&base, &base).await;
    let served = cluster.nginx.upstreams_served();
    for p in &cluster.instances {
        let addr = p.base.trim_start_matches("http://");
        assert!(
            served.contains(addr),
            "nginx sent nothing to {addr}; it served through {served:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_scale_out_through_nginx() {
    scale_out_stories_through_nginx(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mysql_scale_out_through_nginx() {
    scale_out_stories_through_nginx(Backend::Mysql).await;
}

#[derive(Debug, Clone, Copy)]
enum Stop {
    Kill,
    Terminate,
}

/// What one request of the write load asked and got.
#[derive(Debug)]
struct Outcome {
    what: &'static str,
    started: Instant,
    ended: Instant,
    /// HTTP status, or 0 when no response came.
    status: u16,
}

impl Outcome {
    fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// One image a writer created, and what was acknowledged about it.
#[derive(Debug)]
struct Written {
    id: String,
    name: String,
    props: Value,
    merged: Option<(String, String)>,
    member: Option<String>,
}

const WRITERS: usize = 8;
const ROUNDS: usize = 30;

async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    match req.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.json().await.unwrap_or(Value::Null))
        }
        Err(_) => (0, Value::Null),
    }
}

/// One writer: `ROUNDS` times create an image, merge a property into it, add a member.
async fn writer(
    http: reqwest::Client,
    base: String,
    w: usize,
    acked: Arc<AtomicUsize>,
) -> (Vec<Outcome>, Vec<Written>) {
    let mut outcomes = Vec::new();
    let mut written = Vec::new();
    for round in 0..ROUNDS {
        let name = format!("w{w}-r{round}");
        let props = json!({"writer": w.to_string(), "round": round.to_string()});
        let started = Instant::now();
        let (status, body) = send(
            http.post(format!("{base}/images"))
                .json(&json!({"image": {"name": name, "properties": props}})),
        )
        .await;
        outcomes.push(Outcome {
            what: "create",
            started,
            ended: Instant::now(),
            status,
        });
        let Some(id) = body["image"]["id"].as_str().filter(|_| status == 200) else {
            continue;
        };
        acked.fetch_add(1, Ordering::Relaxed);
        let mut img = Written {
            id: id.to_owned(),
            name,
            props,
            merged: None,
            member: None,
        };

        let (key, value) = (format!("merged-{round}"), format!("by-w{w}"));
        let started = Instant::now();
        let (status, _) = send(
            http.put(format!("{base}/images/{id}"))
                .json(&json!({"image": {"properties": {&key: &value}}})),
        )
        .await;
        outcomes.push(Outcome {
            what: "merge",
            started,
            ended: Instant::now(),
            status,
        });
        if status == 200 {
            img.merged = Some((key, value));
        }

        let tenant = format!("tenant-{w}-{round}");
        let started = Instant::now();
        let (status, _) = send(http.put(format!("{base}/images/{id}/members/{tenant}"))).await;
        outcomes.push(Outcome {
            what: "member",
            started,
            ended: Instant::now(),
            status,
        });
        if status == 204 {
            img.member = Some(tenant);
        }
        written.push(img);
    }
    (outcomes, written)
}

async fn get_json(http: &reqwest::Client, url: String) -> Value {
    let r = http
        .get(&url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert_eq!(r.status(), 200, "GET {url}");
    r.json()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: not JSON: {e}"))
}

/// Stopping one of two instances while writers run through nginx: every write that got a
/// 2xx is readable afterwards with its content, and the other instance serves the rest.
async fn no_acknowledged_write_lost(backend: Backend, stop: Stop) {
    let db = TestDb::create(backend).await;
    let mut cluster = Cluster::start(&db.url);
    let base = cluster.base().to_owned();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let acked = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| tokio::spawn(writer(http.clone(), base.clone(), w, acked.clone())))
        .collect();

    // Stop instance A once the load is well under way.
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.load(Ordering::Relaxed) < WRITERS * ROUNDS / 4 {
        assert!(Instant::now() < deadline, "the write load did not start");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut victim = cluster.instances.remove(0);
    let stop_started = Instant::now();
    let stopped = tokio::task::spawn_blocking(move || {
        match stop {
            Stop::Kill => victim.kill(),
            Stop::Terminate => {
                let status = victim.terminate();
                assert!(status.success(), "SIGTERM exit: {status}");
            }
        }
        Instant::now()
    })
    .await
    .expect("stop");

    let mut outcomes = Vec::new();
    let mut written = Vec::new();
    for w in writers {
        let (o, i) = w.await.expect("writer panicked");
        outcomes.extend(o);
        written.extend(i);
    }

    // Only the requests in flight while the instance went away (or sent just after) may fail,
    // and only with a gateway error or no answer: never a 4xx (a retried write refused as a
    // duplicate).
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| !o.ok()).collect();
    for f in &failed {
        assert!(
            f.status == 0 || f.status >= 500,
            "a {} request failed with {}: {f:?}",
            f.what,
            f.status
        );
        assert!(
            f.ended >= stop_started && f.started <= stopped + Duration::from_millis(500),
            "a {} request failed outside the stop (started {:?} before it began, ended {:?} \
             after it ended); failures: {failed:?}",
            f.what,
            stop_started.saturating_duration_since(f.started),
            f.ended.saturating_duration_since(stopped)
        );
    }
    let served_after = outcomes
        .iter()
        .filter(|o| o.started > stopped && o.ok())
        .count();
    let before = outcomes.iter().filter(|o| o.started < stop_started).count();
    eprintln!(
        "{stop:?}: {before} requests before the stop, {served_after} served after it, {} failed: {failed:?}",
        failed.len()
    );
    assert!(
        before > 0 && before < outcomes.len() / 2,
        "the stop must come in the middle of the load ({before} of {} before it)",
        outcomes.len()
    );
    assert!(
        served_after >= WRITERS * ROUNDS,
        "the surviving instance served only {served_after} requests after the stop"
    );

    // Every acknowledged write is there, whole, through nginx (now: the survivor alone).
    assert!(written.len() >= WRITERS * ROUNDS - failed.len());
    for img in &written {
        let got = get_json(&http, format!("{base}/images/{}", img.id)).await;
        let got = &got["image"];
        assert_eq!(got["name"], img.name.as_str(), "name of {}", img.id);
        for (k, v) in img.props.as_object().expect("props") {
            assert_eq!(&got["properties"][k], v, "property {k} of {}", img.id);
        }
        if let Some((k, v)) = &img.merged {
            assert_eq!(got["properties"][k], v.as_str(), "merged {k} of {}", img.id);
        }
        if let Some(tenant) = &img.member {
            let m = get_json(&http, format!("{base}/images/{}/members", img.id)).await;
            let members: BTreeSet<&str> = m["members"]
                .as_array()
                .expect("members")
                .iter()
                .filter_map(|m| m["member_id"].as_str())
                .collect();
            assert!(
                members.contains(tenant.as_str()),
                "member {tenant} of {} lost: {members:?}",
                img.id
            );
        }
    }
    let survivor = cluster.instances[0].base.trim_start_matches("http://");
    let served = cluster.nginx.upstreams_served();
    assert!(
        served.contains(survivor),
        "nothing went to the survivor: {served:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_sigkill_of_an_instance_loses_no_acknowledged_write() {
    no_acknowledged_write_lost(Backend::Postgres, Stop::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_sigterm_of_an_instance_loses_no_acknowledged_write() {
    no_acknowledged_write_lost(Backend::Postgres, Stop::Terminate).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mysql_sigkill_of_an_instance_loses_no_acknowledged_write() {
    no_acknowledged_write_lost(Backend::Mysql, Stop::Kill).await;
}

/// The README's deployment section shows `deploy/nginx.conf` as it is, the file the tests run.
#[test]
fn readme_shows_the_nginx_configuration_the_tests_use() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let block = format!("```nginx\n{}```", config_template());
    assert!(
        readme.contains(&block),
        "README.md must show deploy/nginx.conf verbatim in an ```nginx block"
    );
}

/// An image at the property limit whose values are long, read through nginx with its default
/// `proxy_buffer_size`: the header budget keeps the upstream header block small enough, so the
/// proxy answers 200 (not 502) for GET and HEAD, and the JSON body still has every property.
async fn crowded_image_through_nginx(backend: Backend) {
    let db = TestDb::create(backend).await;
    let cluster = Cluster::start(&db.url);
    let base = cluster.base().to_owned();
    let properties: serde_json::Map<String, Value> = (0..128)
        .map(|i| (format!("prop_{i:03}"), json!(format!("{i:03}").repeat(333))))
        .collect();
    let http = reqwest::Client::new();
    let created: Value = http
        .post(format!("{base}/images"))
        .json(&json!({"image": {"name": "crowded", "properties": properties}}))
        .send()
        .await
        .expect("create through nginx")
        .json()
        .await
        .expect("create body");
    let id = created["image"]["id"].as_str().expect("id").to_owned();
    for _ in 0..4 {
        // Several reads, so that both instances answer at least once.
        let head = http
            .head(format!("{base}/images/{id}"))
            .send()
            .await
            .expect("head through nginx");
        assert_eq!(head.status(), 200, "HEAD of a crowded image through nginx");
        assert!(head.headers().contains_key("x-glimpse-meta-incomplete"));
        let get = http
            .get(format!("{base}/images/{id}"))
            .send()
            .await
            .expect("get through nginx");
        assert_eq!(get.status(), 200, "GET of a crowded image through nginx");
        let body: Value = get.json().await.expect("image body");
        assert_eq!(
            body["image"]["properties"],
            Value::Object(properties.clone()),
            "the JSON body carries every property"
        );
    }
    assert!(
        !cluster.nginx.error_log().contains("too big header"),
        "nginx logged an oversized upstream header: {}",
        cluster.nginx.error_log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_crowded_image_through_nginx() {
    crowded_image_through_nginx(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mysql_crowded_image_through_nginx() {
    crowded_image_through_nginx(Backend::Mysql).await;
}
