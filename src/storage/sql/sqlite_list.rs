//! List queries on SQLite, each run whole on one of a few list threads that own a rusqlite
//! connection each.
//!
//! Through sqlx-sqlite every result row crossed from the connection's worker thread to the
//! caller through a channel, copied into an owned row: for a page of 25 images and their
//! properties (some 200 rows) half of the server's CPU went to those hand-offs (perf,
//! `list-detail` at 10,000 images: 51 % in sqlx-sqlite's worker threads, 16 % in context
//! switches). Here a list (marker lookup, property probes, the page with each image's
//! property map) costs one hop to a list thread and one back. A list can scan, so unlike a
//! point read it never runs on a runtime thread. Fixed threads rather than tokio's blocking
//! pool: `spawn_blocking` grew the pool to ~20 threads under load, each with its own allocator
//! heap (RSS 56 -> 137 MiB in `page-walk`). The statements are the ones every backend runs
//! ([`statements`]).

use super::Backend;
use super::ops::invalid_marker;
use super::plan_hints::FrequentValues;
use super::rows::decode_image;
use super::sqlite_point::{db_err, open_reader, sql_value};
use super::statements as st;
use crate::domain::Image;
use crate::domain::query::ListQuery;
use crate::error::{Error, Result};
use rusqlite::{Connection, Row};
use sea_query::{SelectStatement, SqliteQueryBuilder};
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Semaphore, oneshot};

/// Work for a list thread: runs on its connection.
type Job = Box<dyn FnOnce(&Connection) + Send>;

/// The list threads, fed through one queue, and a permit per thread so that a list waits
/// (up to the acquire timeout, then 503) for a free thread instead of queueing without bound.
pub struct ListReader {
    jobs: Sender<Job>,
    threads: usize,
    permits: Arc<Semaphore>,
    /// How long a list waits for a free thread before it is answered 503, as with a pool.
    acquire_timeout: Duration,
}

impl std::fmt::Debug for ListReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListReader")
            .field("threads", &self.threads)
            .finish()
    }
}

impl ListReader {
    /// Starts `n` list threads, each with a read-only connection to the (existing) database
    /// file at `path`. They stop when the reader is dropped.
    pub fn open(path: &Path, n: usize, acquire_timeout: Duration) -> Result<Self> {
        let n = n.max(1);
        let (tx, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..n {
            let conn = open_reader(path, Duration::from_secs(5))?;
            let rx = Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("sqlite-list-{i}"))
                .spawn(move || serve_jobs(&conn, &rx))
                .map_err(|e| Error::Internal(format!("cannot start a list thread: {e}")))?;
        }
        Ok(ListReader {
            jobs: tx,
            threads: n,
            permits: Arc::new(Semaphore::new(n)),
            acquire_timeout,
        })
    }

    /// A page of images for `query` (see `ops::list_images` for the steps and the reasons).
    pub async fn list_images(
        &self,
        query: &ListQuery,
        with_properties: bool,
        selective: u64,
        frequent: &Arc<FrequentValues>,
    ) -> Result<Vec<Image>> {
        let permit =
            tokio::time::timeout(self.acquire_timeout, self.permits.clone().acquire_owned())
                .await
                .map_err(|_| {
                    Error::Unavailable(
                        "no database connection became free in time; try again".into(),
                    )
                })?
                .map_err(|_| Error::Internal("sqlite list: the reader is closed".into()))?;
        let (reply, answer) = oneshot::channel();
        let query = query.clone();
        let frequent = Arc::clone(frequent);
        let job: Job = Box::new(move |conn| {
            let _permit = permit;
            let _ = reply.send(list_here(
                conn,
                &query,
                with_properties,
                selective,
                &frequent,
            ));
        });
        self.jobs
            .send(job)
            .map_err(|_| Error::Internal("sqlite list: the list threads stopped".into()))?;
        answer
            .await
            .map_err(|_| Error::Internal("sqlite list: the list failed".into()))?
    }
}

/// A list thread's loop: one job after another until the reader is dropped. A job that
/// panics answers nothing (its caller gets a 500) and the thread goes on.
fn serve_jobs(conn: &Connection, jobs: &Mutex<Receiver<Job>>) {
    loop {
        let job = jobs.lock().unwrap_or_else(|p| p.into_inner()).recv();
        let Ok(job) = job else { return };
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(conn)));
    }
}

/// The steps of a list, in one read transaction: the marker, the page and its properties
/// come from one snapshot of the catalog (and SQLite begins one read, not four). Ending it
/// rolls back nothing: it only read.
fn list_here(
    conn: &Connection,
    query: &ListQuery,
    with_properties: bool,
    selective: u64,
    frequent: &FrequentValues,
) -> Result<Vec<Image>> {
    let snapshot = conn.unchecked_transaction().map_err(db_err)?;
    let conn: &Connection = &snapshot;
    let marker = match &query.marker {
        None => None,
        Some(m) => {
            let found = fetch_images(conn, &st::select_marker(m, query), false)?.pop();
            Some(found.ok_or_else(invalid_marker)?)
        }
    };
    if query.limit == 0 {
        return Ok(Vec::new());
    }
    let mut flags = Vec::with_capacity(query.filters.properties.len());
    for (name, value) in &query.filters.properties {
        if frequent.is_frequent(name, value) {
            flags.push(false);
            continue;
        }
        let probe = st::probe_property(Backend::Sqlite, name, value, selective + 1);
        let mut n = 0u64;
        each_row(conn, &probe, |_| {
            n += 1;
            Ok(())
        })?;
        let Some(flag) = frequent.verdict(name, value, n, selective) else {
            return Ok(Vec::new());
        };
        flags.push(flag);
    }
    let page = st::list_images(Backend::Sqlite, query, marker.as_ref(), &flags);
    fetch_images(conn, &page, with_properties)
}

/// Runs a SELECT, handing each row to `f`.
fn each_row(
    conn: &Connection,
    stmt: &SelectStatement,
    mut f: impl FnMut(&Row<'_>) -> Result<()>,
) -> Result<()> {
    let (sql, values) = stmt.build(SqliteQueryBuilder);
    let params = values
        .into_iter()
        .map(sql_value)
        .collect::<Result<Vec<_>>>()?;
    let mut prepared = conn.prepare_cached(&sql).map_err(db_err)?;
    let mut rows = prepared
        .query(rusqlite::params_from_iter(params))
        .map_err(db_err)?;
    while let Some(row) = rows.next().map_err(db_err)? {
        f(row)?;
    }
    Ok(())
}

/// The images of a SELECT of image columns, their properties from each row's property map.
fn fetch_images(
    conn: &Connection,
    stmt: &SelectStatement,
    with_properties: bool,
) -> Result<Vec<Image>> {
    let mut images = Vec::new();
    each_row(conn, stmt, |row| {
        images.push(decode_image(row, with_properties).map_err(db_err)?);
        Ok(())
    })?;
    Ok(images)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::v1::list_params::ParseListQuery;
    use crate::domain::Caller;
    use crate::domain::query::PageLimits;
    use crate::storage::ImageStore;
    use crate::storage::sql::{PoolSettings, SqlStore};

    /// With every list thread busy, a list waits at most the acquire timeout and is then
    /// refused as unavailable (503), not queued without bound; once a thread is free again
    /// lists are served.
    #[tokio::test]
    async fn a_list_waits_for_a_free_thread_only_as_long_as_the_acquire_timeout() {
        let Ok(dir) = tempfile::tempdir() else {
            panic!("tempdir")
        };
        let path = dir.path().join("lists.db");
        let url = format!("sqlite://{}", path.display());
        let Ok(store) = SqlStore::connect(&url, &PoolSettings::default()).await else {
            panic!("store opens")
        };
        assert!(store.migrate().await.is_ok());
        let created = super::super::ops::tests::image(1, "linux");
        assert!(store.create_image(&created).await.is_ok());
        let Ok(reader) = ListReader::open(&path, 1, Duration::from_millis(100)) else {
            panic!("list reader opens")
        };
        let caller = Caller {
            is_admin: true,
            ..Caller::default()
        };
        let Ok(query) = ListQuery::parse(&[], &caller, PageLimits::default()) else {
            panic!("query parses")
        };
        let frequent = Arc::new(FrequentValues::default());

        let Ok(busy) = reader.permits.clone().try_acquire_owned() else {
            panic!("the only thread is free at first")
        };
        let started = std::time::Instant::now();
        let refused = reader.list_images(&query, true, 10, &frequent).await;
        assert!(
            matches!(refused, Err(Error::Unavailable(_))),
            "got {refused:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(2));

        drop(busy);
        let served = reader.list_images(&query, true, 10, &frequent).await;
        let Ok(served) = served else {
            panic!("served once a thread is free: {served:?}")
        };
        assert_eq!(served.len(), 1);
        assert_eq!(served[0].id, created.id);
        assert_eq!(served[0].properties, created.properties);
    }
}
