//! Prometheus metrics: request counts and latencies by route template, in-flight requests,
//! database operation latencies (recorded where they happen, through the `metrics` facade),
//! and gauges read at scrape time (pool state, images by status, cached briefly because
//! counting a large catalog is not free).

use crate::storage::Catalog;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::fmt::Write;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const COUNTS_TTL: Duration = Duration::from_secs(15);
const UPKEEP_EVERY: Duration = Duration::from_secs(1);

/// The process-wide recorder (one per process, however many servers a test starts).
fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new();
        let builder = builder
            .set_buckets(&LATENCY_BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        let _ = metrics::set_global_recorder(recorder);
        // Histograms queue every observation until they are folded into their buckets, which
        // happens at a scrape or an upkeep. Without a scraper the queue would grow with every
        // request, so fold it every second.
        let upkeep = handle.clone();
        let spawned = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("cannot start the metrics upkeep thread: {e}");
        }
        handle
    })
}

/// Scrape-time state of one server.
pub struct Metrics {
    counts: Mutex<Option<(Instant, String)>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let _ = handle();
        Metrics {
            counts: Mutex::new(None),
        }
    }

    /// The exposition text.
    pub async fn render<S: Catalog>(&self, store: &S) -> String {
        let crate::storage::PoolStats {
            open: size,
            idle,
            max,
        } = store.pool_stats();
        let mut out = handle().render();
        let _ = writeln!(
            out,
            "# HELP glimpse_db_pool_connections Database connections by state."
        );
        let _ = writeln!(out, "# TYPE glimpse_db_pool_connections gauge");
        let _ = writeln!(out, "glimpse_db_pool_connections{{state=\"idle\"}} {idle}");
        let _ = writeln!(
            out,
            "glimpse_db_pool_connections{{state=\"in_use\"}} {}",
            (size as usize).saturating_sub(idle)
        );
        let _ = writeln!(
            out,
            "# HELP glimpse_db_pool_max_connections Configured pool size."
        );
        let _ = writeln!(out, "# TYPE glimpse_db_pool_max_connections gauge");
        let _ = writeln!(out, "glimpse_db_pool_max_connections {max}");
        let in_flight = DB_OPS_IN_FLIGHT
            .load(std::sync::atomic::Ordering::Relaxed)
            .max(0) as usize;
        let in_use = (size as usize).saturating_sub(idle);
        let _ = writeln!(
            out,
            "# HELP glimpse_db_pool_waiting Store operations waiting for a connection (estimate: operations under way minus connections in use)."
        );
        let _ = writeln!(out, "# TYPE glimpse_db_pool_waiting gauge");
        let _ = writeln!(
            out,
            "glimpse_db_pool_waiting {}",
            in_flight.saturating_sub(in_use)
        );
        out.push_str(&self.image_counts(store).await);
        out
    }

    async fn image_counts<S: Catalog>(&self, store: &S) -> String {
        if let Ok(guard) = self.counts.lock()
            && let Some((at, text)) = guard.as_ref()
            && at.elapsed() < COUNTS_TTL
        {
            return text.clone();
        }
        let mut text = String::new();
        match store.image_counts().await {
            Ok(counts) => {
                let _ = writeln!(
                    text,
                    "# HELP glimpse_images Images by status (deleted ones as status=\"deleted\"), refreshed every {}s.",
                    COUNTS_TTL.as_secs()
                );
                let _ = writeln!(text, "# TYPE glimpse_images gauge");
                for (status, n) in counts {
                    let _ = writeln!(text, "glimpse_images{{status=\"{status}\"}} {n}");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot count images for metrics");
                return text;
            }
        }
        if let Ok(mut guard) = self.counts.lock() {
            *guard = Some((Instant::now(), text.clone()));
        }
        text
    }
}

/// Records one finished request.
pub fn record_request(method: &str, route: &str, status: u16, elapsed: Duration) {
    let labels = [
        ("method", method.to_owned()),
        ("route", route.to_owned()),
        ("status", status.to_string()),
    ];
    metrics::counter!("glimpse_http_requests_total", &labels).increment(1);
    metrics::histogram!("glimpse_http_request_duration_seconds", "method" => method.to_owned(), "route" => route.to_owned())
        .record(elapsed.as_secs_f64());
}

/// Marks a request as being served; the guard marks it done when dropped, also when the
/// request is cancelled (the client went away, or the timeout answered first).
pub fn request_started() -> InFlightGuard {
    metrics::gauge!("glimpse_http_requests_in_flight").increment(1.0);
    InFlightGuard
}

pub struct InFlightGuard;

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        metrics::gauge!("glimpse_http_requests_in_flight").decrement(1.0);
    }
}

/// Store operations under way (waiting for a connection or running).
static DB_OPS_IN_FLIGHT: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// Marks a store operation as started; the guard marks it finished.
pub fn db_op_started() -> DbOpGuard {
    DB_OPS_IN_FLIGHT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    DbOpGuard
}

pub struct DbOpGuard;

impl Drop for DbOpGuard {
    fn drop(&mut self) {
        DB_OPS_IN_FLIGHT.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Records one store operation.
pub fn record_db(op: &'static str, elapsed: Duration) {
    metrics::histogram!("glimpse_db_operation_duration_seconds", "op" => op)
        .record(elapsed.as_secs_f64());
}

/// One image data transfer (`upload`/`download`) and how it ended, with its bytes.
pub fn record_transfer(direction: &'static str, outcome: &'static str, bytes: u64) {
    metrics::counter!("glimpse_image_transfers_total", "direction" => direction, "outcome" => outcome)
        .increment(1);
    metrics::counter!("glimpse_image_data_bytes_total", "direction" => direction).increment(bytes);
}

/// Stored data found wrong when read back: `missing`, or `corrupt` (its hash differs).
pub fn record_data_fault(kind: &'static str) {
    metrics::counter!("glimpse_image_data_faults_total", "kind" => kind).increment(1);
}

/// One SQLite group commit and the writes it made durable: their ratio is the mean batch.
pub fn record_group_commit(writes: usize) {
    metrics::counter!("glimpse_sqlite_commits_total").increment(1);
    metrics::counter!("glimpse_sqlite_committed_writes_total").increment(writes as u64);
}

/// One pass of the SQLite checkpoint thread: the WAL's length and how much of it is copied.
pub fn record_checkpoint(frames: i64, copied: i64) {
    metrics::counter!("glimpse_sqlite_checkpoints_total").increment(1);
    metrics::gauge!("glimpse_sqlite_wal_frames").set(frames as f64);
    metrics::gauge!("glimpse_sqlite_wal_frames_copied").set(copied as f64);
}

/// The committer copied the WAL's last frames itself, so that the next batch rewinds it.
pub fn record_wal_catch_up() {
    metrics::counter!("glimpse_sqlite_wal_catch_ups_total").increment(1);
}
