//! The image data scenarios, over the v2 images API: `upload` (each connection creates an
//! image and streams `--data-size` bytes into it, again and again until the time is up) and
//! `download` (each connection reads one uploaded image whole, again and again). The bytes
//! are generated and hashed nowhere: the load generator stays out of the measurement.

use crate::report::{self, Mem};
use bytes::Bytes;
use futures::StreamExt;
use reqwest::Client;
use serde::Serialize;
use std::time::{Duration, Instant};

/// One data scenario's result.
#[derive(Debug, Clone, Serialize)]
pub struct DataReport {
    pub name: &'static str,
    pub connections: usize,
    pub data_size: u64,
    pub transfers: u64,
    pub errors: u64,
    pub bytes: u64,
    pub seconds: f64,
    pub mib_per_s: f64,
    pub rss_before_kib: Option<u64>,
    pub max_rss_kib_during: Option<u64>,
    pub error_samples: Vec<String>,
}

/// Where and how much.
pub struct DataRun<'a> {
    pub images_url: &'a str,
    pub clients: Vec<Client>,
    pub size: u64,
    pub duration: Duration,
    pub server_pid: Option<u32>,
}

const CHUNK: usize = 1024 * 1024;

/// `size` bytes as a stream of one shared 1 MiB buffer (no copy per chunk).
fn body(size: u64) -> reqwest::Body {
    let block = Bytes::from(
        (0..CHUNK)
            .map(|i| (i as u8).wrapping_mul(31))
            .collect::<Vec<u8>>(),
    );
    let chunks = size.div_ceil(CHUNK as u64);
    let stream = futures::stream::iter((0..chunks).map(move |n| {
        let left = size - n * CHUNK as u64;
        Ok::<Bytes, std::io::Error>(block.slice(..(left.min(CHUNK as u64) as usize)))
    }));
    reqwest::Body::wrap_stream(stream)
}

async fn create(client: &Client, base: &str) -> Result<String, String> {
    let r = client
        .post(format!("{base}/v2/images"))
        .json(&serde_json::json!({
            "name": "glimpse-bench-data",
            "disk_format": "raw",
            "container_format": "bare",
        }))
        .send()
        .await
        .map_err(|e| format!("create: {e}"))?;
    if r.status().as_u16() != 201 {
        return Err(format!("create -> {}", r.status()));
    }
    let v: serde_json::Value = r.json().await.map_err(|e| format!("create: {e}"))?;
    v["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "create: no id".into())
}

async fn upload(client: &Client, base: &str, id: &str, size: u64) -> Result<u64, String> {
    let r = client
        .put(format!("{base}/v2/images/{id}/file"))
        .header("content-type", "application/octet-stream")
        .header("x-openstack-image-size", size.to_string())
        .body(body(size))
        .send()
        .await
        .map_err(|e| format!("upload: {e}"))?;
    if r.status().as_u16() != 204 {
        return Err(format!("upload -> {}", r.status()));
    }
    Ok(size)
}

async fn download(client: &Client, base: &str, id: &str) -> Result<u64, String> {
    let r = client
        .get(format!("{base}/v2/images/{id}/file"))
        .send()
        .await
        .map_err(|e| format!("download: {e}"))?;
    if r.status().as_u16() != 200 {
        return Err(format!("download -> {}", r.status()));
    }
    let mut stream = r.bytes_stream();
    let mut n = 0u64;
    while let Some(chunk) = stream.next().await {
        n += chunk.map_err(|e| format!("download: {e}"))?.len() as u64;
    }
    Ok(n)
}

async fn delete(client: &Client, base: &str, id: &str) {
    let _ = client.delete(format!("{base}/v2/images/{id}")).send().await;
}

/// Runs `upload` or `download` and reports it.
pub async fn run(name: &'static str, run: &DataRun<'_>) -> Result<DataReport, String> {
    let base = run.images_url;
    let download_ids = if name == "download" {
        let mut ids = Vec::new();
        for c in &run.clients {
            let id = create(c, base).await?;
            upload(c, base, &id, run.size).await?;
            ids.push(id);
        }
        ids
    } else {
        Vec::new()
    };
    let before = run.server_pid.and_then(report::read_mem);
    // The server's RSS, sampled every 50 ms while the transfers run.
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sampler = run.server_pid.map(|pid| {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                if let Some(Mem { rss_kib, .. }) = report::read_mem(pid) {
                    peak.fetch_max(rss_kib, std::sync::atomic::Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    });
    let started = Instant::now();
    let deadline = started + run.duration;
    let mut tasks = Vec::new();
    for (n, client) in run.clients.iter().enumerate() {
        let client = client.clone();
        let base = base.to_owned();
        let size = run.size;
        let id = download_ids.get(n).cloned();
        tasks.push(tokio::spawn(async move {
            let (mut transfers, mut bytes, mut errors) = (0u64, 0u64, 0u64);
            let mut samples = Vec::new();
            // At least one transfer, however short the duration.
            while transfers + errors == 0 || Instant::now() < deadline {
                let result = match &id {
                    Some(id) => download(&client, &base, id).await,
                    None => match create(&client, &base).await {
                        Ok(id) => {
                            let r = upload(&client, &base, &id, size).await;
                            delete(&client, &base, &id).await;
                            r
                        }
                        Err(e) => Err(e),
                    },
                };
                match result {
                    Ok(n) => {
                        transfers += 1;
                        bytes += n;
                    }
                    Err(e) => {
                        errors += 1;
                        if samples.len() < 3 {
                            samples.push(e);
                        }
                    }
                }
            }
            (transfers, bytes, errors, samples)
        }));
    }
    let (mut transfers, mut bytes, mut errors, mut samples) = (0, 0, 0, Vec::new());
    for t in tasks {
        let (t, b, e, s) = t.await.map_err(|e| format!("worker: {e}"))?;
        transfers += t;
        bytes += b;
        errors += e;
        samples.extend(s);
    }
    let elapsed = started.elapsed();
    let max_during = match sampler {
        Some(task) => {
            task.abort();
            Some(peak.load(std::sync::atomic::Ordering::Relaxed))
        }
        None => None,
    };
    for (c, id) in run.clients.iter().zip(&download_ids) {
        delete(c, base, id).await;
    }
    Ok(DataReport {
        name,
        connections: run.clients.len(),
        data_size: run.size,
        transfers,
        errors,
        bytes,
        seconds: elapsed.as_secs_f64(),
        mib_per_s: bytes as f64 / (1024.0 * 1024.0) / elapsed.as_secs_f64().max(1e-9),
        rss_before_kib: before.map(|m| m.rss_kib),
        max_rss_kib_during: max_during,
        error_samples: samples,
    })
}

pub fn header() -> String {
    format!(
        "{:<10} {:>5} {:>12} {:>9} {:>7} {:>10} {:>12} {:>12}",
        "scenario", "conns", "size", "transfers", "errors", "MiB/s", "RSS before", "RSS max"
    )
}

pub fn row(r: &DataReport) -> String {
    let mib = |k: Option<u64>| k.map_or("-".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
    format!(
        "{:<10} {:>5} {:>12} {:>9} {:>7} {:>10.1} {:>12} {:>12}",
        r.name,
        r.connections,
        r.data_size,
        r.transfers,
        r.errors,
        r.mib_per_s,
        mib(r.rss_before_kib),
        mib(r.max_rss_kib_during)
    )
}
