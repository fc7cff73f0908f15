//! Several glimpse processes on one database behave as one registry (PostgreSQL and MariaDB).

use crate::process::Process;
use crate::support::{Backend, TestDb};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

async fn post(http: &reqwest::Client, base: &str, body: Value) -> Option<Value> {
    let r = http
        .post(format!("{base}/images"))
        .json(&body)
        .send()
        .await
        .ok()?;
    if r.status() != 200 {
        return None;
    }
    r.json::<Value>().await.ok().map(|v| v["image"].clone())
}

async fn put(http: &reqwest::Client, url: String, body: Value) -> u16 {
    match http.put(url).json(&body).send().await {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

async fn get_json(http: &reqwest::Client, url: String) -> Value {
    let r = http.get(&url).send().await;
    let r = r.unwrap_or_else(|e| panic!("GET {url}: {e}"));
    r.json()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: not JSON: {e}"))
}

/// Runs `racer(0..n)` all at once and returns their results in racer order.
async fn race<T, F, Fut>(n: usize, racer: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(|i| tokio::spawn(racer(i))).collect();
    let mut results = Vec::with_capacity(n);
    for t in tasks {
        results.push(t.await.expect("racer panicked"));
    }
    results
}

async fn two_instances_one_registry(backend: Backend) {
    let db = TestDb::create(backend).await;
    // Both start at once: migrations must be applied exactly once under the migration lock.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| Process::start(&db.url, &[]));
        let b = s.spawn(|| Process::start(&db.url, &[]));
        (a.join().expect("a"), b.join().expect("b"))
    });
    registry_story(&[a.base.clone(), b.base.clone()]).await;
}

/// Writes and reads spread over `bases` (two instances, or a load balancer twice) behave as
/// one registry: concurrent creates, property merges and member changes are all kept, and
/// paging sees every image once.
pub async fn registry_story(bases: &[String; 2]) {
    let http = reqwest::Client::new();

    // Read-your-writes across instances.
    let img = post(
        &http,
        &bases[0],
        json!({"image": {"name": "seen-by-both", "is_public": true}}),
    )
    .await
    .expect("create");
    let id = img["id"].as_str().expect("id").to_owned();
    let seen: Value = get_json(&http, format!("{}/images/{id}", bases[1])).await;
    assert_eq!(seen["image"]["name"], "seen-by-both");

    // Concurrent creates through both instances.
    let creates = race(60, |n| {
        let http = http.clone();
        let base = bases[n % 2].clone();
        async move {
            let body = json!({"image": {"name": format!("img-{n}"), "properties": {"n": n.to_string(), "k": "v"}}});
            post(&http, &base, body).await
        }
    })
    .await;
    let mut created = BTreeMap::new();
    for img in creates.into_iter().flatten() {
        created.insert(img["id"].as_str().expect("id").to_owned(), img);
    }
    assert_eq!(created.len(), 60, "every create acknowledged");

    // Concurrent merges of distinct properties into one image from both instances: every
    // acknowledged property must survive (no lost update).
    let updates = race(40, |n| {
        let http = http.clone();
        let url = format!("{}/images/{id}", bases[n % 2]);
        let body = json!({"image": {"properties": {format!("p{n}"): format!("v{n}")}}});
        async move { put(&http, url, body).await }
    })
    .await;
    let mut acked = BTreeSet::new();
    let mut refused = Vec::new();
    for (n, status) in updates.into_iter().enumerate() {
        if status == 200 {
            acked.insert(format!("p{n}"));
        } else {
            refused.push(status);
        }
    }
    assert!(
        refused.is_empty(),
        "concurrent merges must all succeed; refused: {refused:?}"
    );
    for base in bases {
        let v: Value = get_json(&http, format!("{base}/images/{id}")).await;
        let props = v["image"]["properties"].as_object().expect("props");
        for p in &acked {
            assert!(
                props.contains_key(p),
                "acknowledged property {p} lost (seen through {base})"
            );
        }
    }

    // Concurrent membership changes through both instances.
    let adds = race(20, |n| {
        let http = http.clone();
        let url = format!("{}/images/{id}/members/tenant-{n}", bases[n % 2]);
        async move {
            http.put(url)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    })
    .await;
    assert!(adds.iter().all(|s| *s == 204), "member adds: {adds:?}");
    let members: Value = get_json(&http, format!("{}/images/{id}/members", bases[0])).await;
    assert_eq!(members["members"].as_array().expect("members").len(), 20);

    // Every acknowledged create is there, whole, through both instances; no duplicates.
    for base in bases {
        let mut seen = BTreeMap::new();
        let mut marker: Option<String> = None;
        loop {
            let mut url =
                format!("{base}/images/detail?is_public=none&limit=25&sort_key=name&sort_dir=asc");
            if let Some(m) = &marker {
                url.push_str(&format!("&marker={m}"));
            }
            let page: Value = get_json(&http, url).await;
            let images = page["images"].as_array().expect("images").clone();
            for i in &images {
                let iid = i["id"].as_str().expect("id").to_owned();
                assert!(
                    seen.insert(iid.clone(), i.clone()).is_none(),
                    "duplicate {iid}"
                );
            }
            if images.len() < 25 {
                break;
            }
            marker = images
                .last()
                .and_then(|i| i["id"].as_str())
                .map(str::to_owned);
        }
        for (cid, img) in &created {
            let got = seen
                .get(cid)
                .unwrap_or_else(|| panic!("acknowledged image {cid} missing via {base}"));
            assert_eq!(got["properties"], img["properties"], "properties of {cid}");
        }
        assert_eq!(seen.len(), created.len() + 1);
    }
}

/// Many clients race to move one image out of `queued` with `from_state` through two
/// processes: exactly one wins, the others get 409.
async fn one_winner_per_state(backend: Backend) {
    let db = TestDb::create(backend).await;
    let a = Process::start(&db.url, &[]);
    let b = Process::start(&db.url, &[]);
    one_winner_story(&a.base, &b.base).await;
}

/// Conditional writes raced through `a` and `b`: one winner per state and per version.
pub async fn one_winner_story(a: &str, b: &str) {
    let http = reqwest::Client::new();
    for round in 0..3 {
        let img = post(
            &http,
            a,
            json!({"image": {"name": format!("race-{round}"), "status": "queued"}}),
        )
        .await
        .expect("create");
        let id = img["id"].as_str().expect("id").to_owned();
        let statuses = race(16, |n| {
            let http = http.clone();
            let url = format!("{}/images/{id}", if n % 2 == 0 { a } else { b });
            let body = json!({"image": {"status": "saving", "properties": {"winner": n.to_string()}}, "from_state": "queued"});
            async move { put(&http, url, body).await }
        })
        .await;
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "one winner: {statuses:?}"
        );
        assert!(
            statuses.iter().all(|s| *s == 200 || *s == 409),
            "{statuses:?}"
        );
    }

    // Optimistic concurrency with ETags: everyone read version v; exactly one write with
    // `If-Match: v` wins, the others get 412, and the winner's change is the one stored.
    let img = post(&http, a, json!({"image": {"name": "etag-race"}}))
        .await
        .expect("create");
    let id = img["id"].as_str().expect("id").to_owned();
    for round in 0..3 {
        let head = http
            .head(format!("{a}/images/{id}"))
            .send()
            .await
            .expect("head");
        let etag = head.headers()["etag"].to_str().expect("etag").to_owned();
        let statuses = race(16, |n| {
            let http = http.clone();
            let etag = etag.clone();
            let url = format!("{}/images/{id}", if n % 2 == 0 { a } else { b });
            async move {
                let r = http
                    .put(url)
                    .header("if-match", etag)
                    .json(&json!({"image": {"name": format!("r{round}-w{n}")}}))
                    .send()
                    .await
                    .expect("put");
                r.status().as_u16()
            }
        })
        .await;
        let mut winners = Vec::new();
        for (n, status) in statuses.into_iter().enumerate() {
            assert!(
                status == 200 || status == 412,
                "If-Match race answered {status}"
            );
            if status == 200 {
                winners.push(n);
            }
        }
        assert_eq!(winners.len(), 1, "one winner per version: {winners:?}");
        let now: Value = get_json(&http, format!("{b}/images/{id}")).await;
        assert_eq!(
            now["image"]["name"],
            format!("r{round}-w{}", winners[0]),
            "the winner's write is the one stored"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_two_instances_one_registry() {
    two_instances_one_registry(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mysql_two_instances_one_registry() {
    two_instances_one_registry(Backend::Mysql).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_from_state_race_has_one_winner() {
    one_winner_per_state(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mysql_from_state_race_has_one_winner() {
    one_winner_per_state(Backend::Mysql).await;
}
