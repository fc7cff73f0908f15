//! Runs a scenario: C workers, each with its own keep-alive connection, sending one request
//! after another (a closed loop) until the deadline, each recording latencies in its own
//! histogram; the histograms are merged at the end.

use crate::scenario::{Op, Outcome, Scenario, Target, Worker};
use hdrhistogram::Histogram;
use reqwest::Client;
use reqwest::header::HeaderMap;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Error samples kept per scenario, for the report.
const SAMPLES: usize = 5;

/// Latencies are recorded in microseconds, from 1 µs to 10 minutes, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).unwrap_or_else(|_| {
        // The bounds are constants that hdrhistogram accepts; this arm cannot run.
        Histogram::new(3).unwrap_or_else(|e| panic!("hdrhistogram: {e}"))
    })
}

/// One client per connection: a pool of one idle connection, so a worker keeps exactly one
/// keep-alive connection open (a new one only if the server closed it).
pub fn client(headers: &HeaderMap, timeout: Duration) -> Result<Client, String> {
    Client::builder()
        .default_headers(headers.clone())
        .pool_max_idle_per_host(1)
        .tcp_nodelay(true)
        .no_proxy()
        .timeout(timeout)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// What one phase of a scenario measured.
pub struct Measured {
    /// Latencies of reads and of writes apart (a mix's reads must not wait for its writes,
    /// and one histogram hides whether they do); [`Measured::all`] is both together.
    pub reads: Histogram<u64>,
    pub writes: Histogram<u64>,
    pub requests: u64,
    pub errors: u64,
    /// Answers by status (0 for requests that got no answer).
    pub statuses: BTreeMap<u16, u64>,
    pub ops: BTreeMap<&'static str, u64>,
    pub samples: Vec<String>,
    pub elapsed: Duration,
}

impl Measured {
    fn new() -> Self {
        Measured {
            reads: new_histogram(),
            writes: new_histogram(),
            requests: 0,
            errors: 0,
            statuses: BTreeMap::new(),
            ops: BTreeMap::new(),
            samples: Vec::new(),
            elapsed: Duration::ZERO,
        }
    }

    /// Every request's latency, reads and writes together.
    pub fn all(&self) -> Histogram<u64> {
        let mut all = self.reads.clone();
        // Both histograms have the same bounds, so adding cannot fail.
        let _ = all.add(&self.writes);
        all
    }

    fn merge(&mut self, other: Measured) {
        // Both histograms have the same bounds, so adding cannot fail.
        let _ = self.reads.add(&other.reads);
        let _ = self.writes.add(&other.writes);
        self.requests += other.requests;
        self.errors += other.errors;
        for (k, v) in other.statuses {
            *self.statuses.entry(k).or_default() += v;
        }
        for (k, v) in other.ops {
            *self.ops.entry(k).or_default() += v;
        }
        for s in other.samples {
            if self.samples.len() < SAMPLES {
                self.samples.push(s);
            }
        }
    }

    fn record(&mut self, op: Op, outcome: Outcome, took: Duration) {
        self.requests += 1;
        *self.ops.entry(op.name()).or_default() += 1;
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX).max(1);
        if op.is_write() {
            self.writes.saturating_record(micros);
        } else {
            self.reads.saturating_record(micros);
        }
        let (status, sample) = match outcome {
            Outcome::Ok => (200, None),
            Outcome::Status(code, body) => (code, Some(format!("{} -> {code}: {body}", op.name()))),
            Outcome::Transport(e) => (0, Some(format!("{} -> no answer: {e}", op.name()))),
        };
        if let Some(s) = sample {
            self.errors += 1;
            if self.samples.len() < SAMPLES {
                self.samples.push(s);
            }
            *self.statuses.entry(status).or_default() += 1;
        } else {
            *self.statuses.entry(200).or_default() += 1;
        }
    }
}

/// Runs `scenario` on every client for `duration`. Requests started before the deadline are
/// counted; the rate is over the time until the last one finished.
pub async fn run_phase(
    clients: &[Client],
    workers: &mut Vec<Worker>,
    target: &Arc<Target>,
    scenario: Scenario,
    duration: Duration,
) -> Measured {
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::with_capacity(clients.len());
    for (client, mut worker) in clients.iter().cloned().zip(workers.drain(..)) {
        let target = Arc::clone(target);
        tasks.push(tokio::spawn(async move {
            let mut m = Measured::new();
            while Instant::now() < deadline {
                let op = scenario.pick(&mut worker.rng);
                let t0 = Instant::now();
                let outcome = worker.run(&client, &target, op).await;
                m.record(op, outcome, t0.elapsed());
            }
            (m, worker)
        }));
    }
    let mut total = Measured::new();
    for task in tasks {
        match task.await {
            Ok((m, worker)) => {
                total.merge(m);
                workers.push(worker);
            }
            Err(e) => {
                total.errors += 1;
                total.samples.push(format!("a worker failed: {e}"));
            }
        }
    }
    total.elapsed = start.elapsed();
    total
}
