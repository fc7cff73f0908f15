//! What a run reports: the table on stdout, the JSON file, and the server's memory.

use crate::runner::Measured;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// The server's memory from `/proc/<pid>/status`, in KiB.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Mem {
    /// Resident set size now.
    pub rss_kib: u64,
    /// The peak resident set size of the process so far.
    pub hwm_kib: u64,
}

pub fn read_mem(pid: u32) -> Option<Mem> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some(Mem {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct MemReport {
    pub before: Option<Mem>,
    pub after: Option<Mem>,
    /// Largest RSS seen while sampling every 100 ms during the measurement.
    pub max_rss_kib_during: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Self {
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        Latency {
            mean: h.mean() / 1000.0,
            p50: ms(0.5),
            p90: ms(0.9),
            p99: ms(0.99),
            p999: ms(0.999),
            max: h.max() as f64 / 1000.0,
        }
    }
}

/// One side of a mix: its requests and their latencies.
#[derive(Debug, Clone, Serialize)]
pub struct Part {
    pub requests: u64,
    pub latency_ms: Latency,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    pub name: String,
    pub connections: usize,
    pub duration_s: f64,
    pub requests: u64,
    pub requests_per_s: f64,
    pub errors: u64,
    pub latency_ms: Latency,
    /// Answers by HTTP status; 0 counts requests that got no answer.
    pub statuses: BTreeMap<u16, u64>,
    /// Requests by kind (for `mixed`).
    pub ops: BTreeMap<&'static str, u64>,
    /// A mix's reads and writes apart (only when it has both).
    pub reads: Option<Part>,
    pub writes: Option<Part>,
    pub error_samples: Vec<String>,
    pub warmup_requests: u64,
    pub warmup_errors: u64,
    pub memory: Option<MemReport>,
}

impl ScenarioReport {
    pub fn new(
        name: &str,
        connections: usize,
        m: Measured,
        warmup: Option<Measured>,
        memory: Option<MemReport>,
    ) -> Self {
        let mixes = !m.reads.is_empty() && !m.writes.is_empty();
        let part = |h: &Histogram<u64>| {
            mixes.then(|| Part {
                requests: h.len(),
                latency_ms: Latency::of(h),
            })
        };
        let (reads, writes) = (part(&m.reads), part(&m.writes));
        let latency_ms = Latency::of(&m.all());
        let secs = m.elapsed.as_secs_f64();
        let (warmup_requests, warmup_errors, mut samples) = match warmup {
            Some(w) => (w.requests, w.errors, w.samples),
            None => (0, 0, Vec::new()),
        };
        samples.extend(m.samples);
        samples.truncate(5);
        ScenarioReport {
            name: name.to_owned(),
            connections,
            duration_s: secs,
            requests: m.requests,
            requests_per_s: if secs > 0.0 {
                m.requests as f64 / secs
            } else {
                0.0
            },
            errors: m.errors,
            latency_ms,
            statuses: m.statuses,
            ops: m.ops,
            reads,
            writes,
            error_samples: samples,
            warmup_requests,
            warmup_errors,
            memory,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SeedReport {
    /// Images created by this run (0 when an existing catalog was reused).
    pub created: u64,
    pub errors: u64,
    pub seconds: f64,
    pub images_per_s: f64,
    pub error_samples: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: Option<String>,
    pub os: String,
    /// The target's host is a loopback address: the load generator shares the machine.
    pub same_host: bool,
    /// The 1, 5 and 15 minute load averages when the run started: anything else busy on
    /// the machine skews the figures.
    pub load_average: Option<[f64; 3]>,
}

impl Machine {
    pub fn detect(url: &str) -> Self {
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|r| r.trim_start_matches([' ', '\t', ':']).trim().to_owned())
        });
        let same_host = url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .is_some_and(|h| {
                h == "localhost"
                    || h.trim_matches(['[', ']'])
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            });
        let load_average = std::fs::read_to_string("/proc/loadavg").ok().and_then(|t| {
            let mut it = t.split_whitespace().map(|v| v.parse::<f64>().ok());
            Some([it.next()??, it.next()??, it.next()??])
        });
        Machine {
            load_average,
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model,
            os: std::env::consts::OS.to_owned(),
            same_host,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub tool: &'static str,
    pub version: &'static str,
    pub url: String,
    /// Seconds since the Unix epoch when the run started.
    pub started_at: u64,
    pub machine: Machine,
    pub catalog_images: u64,
    pub connections: usize,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub seed: Option<SeedReport>,
    pub scenarios: Vec<ScenarioReport>,
    /// `show` requests/s over `healthz` requests/s, when both ran.
    pub show_to_healthz: Option<f64>,
    pub total_errors: u64,
    pub server_pid: Option<u32>,
}

pub fn header() -> String {
    format!(
        "{:<16} {:>10} {:>9} {:>9} {:>9} {:>9} {:>8} {:>10}",
        "scenario", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors", "rss MiB"
    )
}

/// The row, and for a mix a row each for its reads and its writes.
pub fn rows(r: &ScenarioReport) -> String {
    let mut out = row(r);
    let secs = r.duration_s.max(f64::MIN_POSITIVE);
    for (label, part) in [("reads", &r.reads), ("writes", &r.writes)] {
        if let Some(p) = part {
            let l = &p.latency_ms;
            out.push_str(&format!(
                "\n{:<16} {:>10.1} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                format!("  {} {label}", r.name),
                p.requests as f64 / secs,
                l.p50,
                l.p90,
                l.p99,
                l.max
            ));
        }
    }
    out
}

pub fn row(r: &ScenarioReport) -> String {
    let rss = r
        .memory
        .as_ref()
        .and_then(|m| m.max_rss_kib_during.or(m.after.map(|a| a.rss_kib)))
        .map_or_else(|| "-".to_string(), |k| format!("{:.1}", k as f64 / 1024.0));
    format!(
        "{:<16} {:>10.1} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>8} {:>10}",
        r.name,
        r.requests_per_s,
        r.latency_ms.p50,
        r.latency_ms.p90,
        r.latency_ms.p99,
        r.latency_ms.max,
        r.errors,
        rss
    )
}

/// A line nobody can miss.
pub fn loud(msg: &str) {
    let bar = "!".repeat(78);
    eprintln!("{bar}\n!!! WARNING: {msg}\n{bar}");
}

pub fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}
