//! Filling the catalog (concurrent POSTs, with progress) and finding an existing one.

use crate::catalog;
use reqwest::Client;
use serde::Deserialize;
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What seeding did.
pub struct Seeded {
    pub ids: Vec<String>,
    pub errors: u64,
    pub samples: Vec<String>,
    pub elapsed: Duration,
}

#[derive(Deserialize)]
struct Created {
    image: CreatedImage,
}

#[derive(Deserialize)]
struct CreatedImage {
    id: String,
}

fn fmt_duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// POSTs images `0..count` over `clients` (one worker per client), printing progress to
/// stderr every second.
pub async fn seed(clients: &[Client], base: &str, count: u64, seed: u64, admin: bool) -> Seeded {
    let start = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));

    let progress = {
        let (done, failed) = (Arc::clone(&done), Arc::clone(&failed));
        tokio::spawn(async move {
            // On a terminal the line is redrawn every second; in a log, a line every 10 s.
            let tty = std::io::stderr().is_terminal();
            let every = Duration::from_secs(if tty { 1 } else { 10 });
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let (d, f) = (done.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
                let secs = start.elapsed().as_secs_f64();
                let rate = d as f64 / secs.max(1e-9);
                let eta = if rate > 0.0 {
                    fmt_duration(count.saturating_sub(d) as f64 / rate)
                } else {
                    "?".into()
                };
                let line = format!(
                    "seeding: {d}/{count} images ({:.1}%), {rate:.0}/s, {f} errors, eta {eta}",
                    100.0 * d as f64 / count.max(1) as f64
                );
                if tty {
                    eprint!("\r{line}   ");
                } else {
                    eprintln!("{line}");
                }
                let _ = std::io::stderr().flush();
            }
        })
    };

    let mut tasks = Vec::new();
    for client in clients {
        let client = client.clone();
        let (next, done, failed) = (Arc::clone(&next), Arc::clone(&done), Arc::clone(&failed));
        let url = format!("{base}/images");
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            let mut samples = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let id = uuid::Uuid::new_v4().hyphenated().to_string();
                let body = catalog::image_body(seed, i, &id, admin);
                let result = client.post(&url).json(&body).send().await;
                let outcome = match result {
                    Ok(resp) => {
                        let status = resp.status();
                        match resp.bytes().await {
                            Ok(bytes) if status.is_success() => {
                                // Trust the server's id if it chose another.
                                let id = serde_json::from_slice::<Created>(&bytes)
                                    .map(|c| c.image.id)
                                    .unwrap_or(id);
                                Ok(id)
                            }
                            Ok(bytes) => Err(format!(
                                "POST /images -> {}: {}",
                                status.as_u16(),
                                String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
                            )),
                            Err(e) => Err(format!("POST /images: reading the body: {e}")),
                        }
                    }
                    Err(e) => Err(format!("POST /images -> no answer: {e}")),
                };
                match outcome {
                    Ok(id) => {
                        ids.push(id);
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        if samples.len() < 5 {
                            samples.push(e);
                        }
                    }
                }
            }
            (ids, samples)
        }));
    }

    let mut out = Seeded {
        ids: Vec::with_capacity(count as usize),
        errors: 0,
        samples: Vec::new(),
        elapsed: Duration::ZERO,
    };
    for task in tasks {
        match task.await {
            Ok((ids, samples)) => {
                out.ids.extend(ids);
                for s in samples {
                    if out.samples.len() < 5 {
                        out.samples.push(s);
                    }
                }
            }
            Err(e) => out.samples.push(format!("a seeding worker failed: {e}")),
        }
    }
    progress.abort();
    out.errors = failed.load(Ordering::Relaxed);
    out.elapsed = start.elapsed();
    let secs = out.elapsed.as_secs_f64();
    let line = format!(
        "seeded {} images in {} ({:.0}/s), {} errors",
        out.ids.len(),
        fmt_duration(secs),
        out.ids.len() as f64 / secs.max(1e-9),
        out.errors,
    );
    if std::io::stderr().is_terminal() {
        eprintln!("\r{line}{}", " ".repeat(30));
    } else {
        eprintln!("{line}");
    }
    out
}

#[derive(Deserialize)]
struct Page {
    images: Vec<IdOnly>,
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

/// Up to `want` ids of the images already in the catalog, by walking the brief list
/// (`is_public=none`, so that an admin sees private images too).
pub async fn discover(client: &Client, base: &str, want: u64) -> Result<Vec<String>, String> {
    let mut ids: Vec<String> = Vec::new();
    let mut marker: Option<String> = None;
    let start = Instant::now();
    let mut last_report = Instant::now();
    while (ids.len() as u64) < want {
        let limit = (want - ids.len() as u64).min(1000).to_string();
        let mut q = vec![("limit", limit.as_str()), ("is_public", "none")];
        if let Some(m) = &marker {
            q.push(("marker", m.as_str()));
        }
        let resp = client
            .get(format!("{base}/images"))
            .query(&q)
            .send()
            .await
            .map_err(|e| format!("listing images: {e}"))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| format!("listing images: {e}"))?;
        if !status.is_success() {
            return Err(format!(
                "listing images: {} {}",
                status.as_u16(),
                String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
            ));
        }
        let page: Page = serde_json::from_slice(&bytes)
            .map_err(|e| format!("listing images: not an image list: {e}"))?;
        let n = page.images.len();
        marker = page.images.last().map(|i| i.id.clone());
        ids.extend(page.images.into_iter().map(|i| i.id));
        if last_report.elapsed() >= Duration::from_secs(10) {
            eprintln!("finding existing images: {} so far", ids.len());
            last_report = Instant::now();
        }
        if n == 0 || marker.is_none() {
            break;
        }
    }
    eprintln!(
        "found {} existing images in {:.1}s",
        ids.len(),
        start.elapsed().as_secs_f64()
    );
    Ok(ids)
}
