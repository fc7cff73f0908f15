//! The SQL store: one implementation of [`ImageStore`](super::ImageStore) over SQLite,
//! PostgreSQL or MySQL/MariaDB. Statements are built once with sea-query ([`statements`],
//! [`filter`]) and rendered for the backend picked at start-up from the database URL; the
//! code that runs them is written once and stamped out per backend by [`ops`].

pub mod filter;
mod maintenance;
#[cfg(test)]
mod migration_tests;
mod ops;
mod plan_hints;
mod rows;
pub mod schema;
mod sqlite_list;
mod sqlite_point;
pub mod statements;

use crate::domain::Timestamp;
use crate::error::Error;
use sea_query::Value;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool};
use sqlx::postgres::{PgConnectOptions, PgPool};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;

/// The database engine behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    MySql,
}

impl Backend {
    /// Picks the backend from a URL scheme.
    pub fn from_url(url: &str) -> Result<Self, Error> {
        let scheme = url
            .split_once(':')
            .map(|(s, _)| s.to_ascii_lowercase())
            .unwrap_or_default();
        match scheme.as_str() {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            "mysql" | "mariadb" => Ok(Backend::MySql),
            _ => Err(Error::bad_request(format!(
                "Unsupported database URL '{}': use sqlite://, postgres:// or mysql:// (or mariadb://)",
                redact_url(url)
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::MySql => "mysql",
        }
    }

    /// A timestamp as this backend stores it.
    pub fn ts(self, t: Timestamp) -> Value {
        match self {
            Backend::Sqlite => Value::String(Some(t.to_sql_text())),
            Backend::Postgres | Backend::MySql => Value::TimeDateTime(Some(t.as_primitive())),
        }
    }

    pub fn ts_opt(self, t: Option<Timestamp>) -> Value {
        match (self, t) {
            (_, Some(t)) => self.ts(t),
            (Backend::Sqlite, None) => Value::String(None),
            (_, None) => Value::TimeDateTime(None),
        }
    }
}

/// The URL with any password replaced, for logs and `config show`.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("****"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// Connection pool settings.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_connections: u32,
    /// How long a request waits for a connection before it is answered 503.
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(3),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) enum Pools {
    /// SQLite allows one writer at a time: writes queue in order for the single connection of
    /// `write` (instead of spinning in SQLite's busy handler); single-image reads use `point`,
    /// lists `list`, other reads (members, counts) `read`.
    Sqlite {
        read: SqlitePool,
        write: SqlitePool,
        /// Single-image reads without sqlx's thread hop (`None` for an in-memory database).
        point: Option<std::sync::Arc<sqlite_point::PointReader>>,
        /// List queries, each run whole on a list thread (`None` for an in-memory database).
        list: Option<std::sync::Arc<sqlite_list::ListReader>>,
    },
    Postgres(PgPool),
    MySql(MySqlPool),
}

/// The registry's store on a SQL database.
#[derive(Clone, Debug)]
pub struct SqlStore {
    pub(crate) pools: Pools,
    /// Images in the catalog, counted when statistics are refreshed: sizes the choice between
    /// the two plans of a property filter (see `ops::probe_selectivity`).
    pub(crate) catalog_size: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Property values recently found frequent: their plan needs no probe.
    pub(crate) frequent: std::sync::Arc<plan_hints::FrequentValues>,
}

/// Read connections on SQLite, whatever the pool setting: enough for two cores.
const SQLITE_MAX_READERS: u32 = 4;

/// A pooled server connection idle for longer than this is pinged before it is handed out.
/// sqlx's default pings on every acquire: a whole extra round trip per request (a third of
/// a single-image read on PostgreSQL). A connection busy a moment ago is very likely alive;
/// one that sat idle may have been cut (database restart, proxy, firewall), so it is checked.
/// A connection that died in use fails its query, the request gets a 503 and the pool
/// replaces the connection.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// Pool options for a network database: ping only connections idle for a while.
fn network_pool<DB: sqlx::Database>(settings: &PoolSettings) -> sqlx::pool::PoolOptions<DB> {
    use sqlx::Connection;
    sqlx::pool::PoolOptions::<DB>::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(settings.acquire_timeout)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IF_IDLE_FOR {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");
static MYSQL_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/mysql");

impl SqlStore {
    /// Opens a pool for `url`. The pool is lazy: the server starts even if the database is
    /// down, answers 503 meanwhile and recovers when it returns.
    pub async fn connect(url: &str, settings: &PoolSettings) -> Result<Self, Error> {
        let bad = |e: sqlx::Error| {
            Error::bad_request(format!("Invalid database URL '{}': {e}", redact_url(url)))
        };
        let pools = match Backend::from_url(url)? {
            Backend::Sqlite => {
                let opts = SqliteConnectOptions::from_str(url)
                    .map_err(bad)?
                    .create_if_missing(true)
                    // WAL lets readers run beside the writer; FULL syncs the WAL on every
                    // commit, so an acknowledged write survives a power cut, not just a crash.
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(Duration::from_secs(5))
                    .foreign_keys(true);
                // A local file does not go away: no ping before each use (with sqlx-sqlite
                // each ping is another round trip to the connection's worker thread).
                let write = SqlitePoolOptions::new()
                    .test_before_acquire(false)
                    .max_connections(1)
                    .acquire_timeout(settings.acquire_timeout.max(Duration::from_secs(10)))
                    .connect_with(opts.clone())
                    .await
                    .map_err(Error::from)?;
                // On a couple of cores more readers only add threads and page caches.
                let readers = settings.max_connections.min(SQLITE_MAX_READERS);
                let read = SqlitePoolOptions::new()
                    .test_before_acquire(false)
                    .max_connections(readers)
                    .acquire_timeout(settings.acquire_timeout)
                    .connect_with(opts.clone())
                    .await
                    .map_err(Error::from)?;
                // One point-read connection per runtime worker thread (the file exists now:
                // the writer created it).
                let file = opts.get_filename();
                let (point, list) = if file.is_file() {
                    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
                    let point = sqlite_point::PointReader::open(file, threads)?;
                    // One list thread per core: a list is CPU work on cached pages, and each
                    // thread adds a page cache and an allocator heap.
                    let list = sqlite_list::ListReader::open(
                        file,
                        threads.min(readers as usize),
                        settings.acquire_timeout,
                    )?;
                    (
                        Some(std::sync::Arc::new(point)),
                        Some(std::sync::Arc::new(list)),
                    )
                } else {
                    (None, None)
                };
                Pools::Sqlite {
                    read,
                    write,
                    point,
                    list,
                }
            }
            Backend::Postgres => {
                // List queries are planned for their own values (`Planning::PerValues` in
                // ops.rs); every other statement is prepared once and may use a generic plan.
                // No parallel query: a page of 25 rows is small, and with many concurrent
                // requests the cores are already busy; on a property filter at a million
                // images PostgreSQL chose a Gather Merge over two workers whose start-up alone
                // took 10 ms of a 14 ms query (1.1–3.7 ms without). Sent in the start-up
                // packet: no round trip.
                let opts = PgConnectOptions::from_str(url)
                    .map_err(bad)?
                    .options([("max_parallel_workers_per_gather", "0")]);
                Pools::Postgres(network_pool::<sqlx::Postgres>(settings).connect_lazy_with(opts))
            }
            Backend::MySql => {
                let url = url.replacen("mariadb://", "mysql://", 1);
                let opts = MySqlConnectOptions::from_str(&url)
                    .map_err(bad)?
                    .charset("utf8mb4")
                    .collation("utf8mb4_bin");
                Pools::MySql(network_pool::<sqlx::MySql>(settings).connect_lazy_with(opts))
            }
        };
        Ok(SqlStore {
            pools,
            catalog_size: Default::default(),
            frequent: Default::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        match self.pools {
            Pools::Sqlite { .. } => Backend::Sqlite,
            Pools::Postgres(_) => Backend::Postgres,
            Pools::MySql(_) => Backend::MySql,
        }
    }

    /// Applies the embedded migrations of this backend. sqlx takes an advisory lock on
    /// PostgreSQL and MySQL, so instances starting together apply each migration once.
    pub async fn migrate(&self) -> Result<(), Error> {
        let r = match &self.pools {
            Pools::Sqlite { write, .. } => SQLITE_MIGRATIONS.run(write).await,
            Pools::Postgres(p) => POSTGRES_MIGRATIONS.run(p).await,
            Pools::MySql(p) => return migrate_mysql(p).await,
        };
        r.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(e) => Error::from(e),
            other => Error::Internal(format!("migration failed: {other}")),
        })
    }

    /// Applied and pending migrations: (version, description, applied).
    pub async fn migration_status(&self) -> Result<Vec<(i64, String, bool)>, Error> {
        use sqlx::migrate::Migrate;
        let migrator = match &self.pools {
            Pools::Sqlite { .. } => &SQLITE_MIGRATIONS,
            Pools::Postgres(_) => &POSTGRES_MIGRATIONS,
            Pools::MySql(_) => &MYSQL_MIGRATIONS,
        };
        macro_rules! applied {
            ($p:expr) => {{
                let mut conn = $p.acquire().await?;
                conn.ensure_migrations_table("_sqlx_migrations")
                    .await
                    .map_err(|e| Error::Internal(e.to_string()))?;
                conn.list_applied_migrations("_sqlx_migrations")
                    .await
                    .map_err(|e| Error::Internal(e.to_string()))?
            }};
        }
        let applied = match &self.pools {
            Pools::Sqlite { write, .. } => applied!(write),
            Pools::Postgres(p) => applied!(p),
            Pools::MySql(p) => applied!(p),
        };
        Ok(migrator
            .iter()
            .map(|m| {
                (
                    m.version,
                    m.description.to_string(),
                    applied.iter().any(|a| a.version == m.version),
                )
            })
            .collect())
    }

    /// Refreshes the planner's statistics, so that it picks the right index for each filter
    /// as the catalog grows (PostgreSQL's autovacuum may be off; SQLite never analyzes by
    /// itself). On SQLite this reads the whole file (see [`Self::refresh_statistics`]): it is
    /// for `db analyze` and after a bulk import, not for a running server's routine.
    pub async fn analyze(&self) -> Result<(), Error> {
        match &self.pools {
            Pools::Sqlite { write, .. } => {
                let mut conn = write.acquire().await?;
                sqlx::query("PRAGMA analysis_limit = 1000")
                    .execute(&mut *conn)
                    .await?;
                sqlx::query("ANALYZE").execute(&mut *conn).await?;
            }
            Pools::Postgres(p) => {
                sqlx::query("ANALYZE images, image_properties, image_members")
                    .execute(p)
                    .await?;
            }
            Pools::MySql(p) => {
                sqlx::query("ANALYZE TABLE images, image_properties, image_members")
                    .execute(p)
                    .await?;
            }
        }
        Ok(())
    }

    /// The periodic statistics refresh of a running server: cheap when nothing changed.
    ///
    /// On SQLite a full `ANALYZE` reads every page of the file, `analysis_limit` or not
    /// (measured: 1.9 GB of reads at a million images, a CPU-second taken from the requests
    /// every few minutes). `PRAGMA optimize` analyzes only tables whose statistics are
    /// missing or whose size changed tenfold since they were taken, with a sampling limit;
    /// at a steady million images it costs 6 ms and reads 16 pages. PostgreSQL and MySQL
    /// sample on their own, so a plain `ANALYZE` stays cheap there.
    pub async fn refresh_statistics(&self) -> Result<(), Error> {
        match &self.pools {
            Pools::Sqlite { write, .. } => {
                // 0x2: analyze what needs it; 0x10: with a sampling limit; 0x10000: judge
                // every table, not only those this connection has queried.
                sqlx::query("PRAGMA optimize = 0x10012")
                    .execute(write)
                    .await?;
                Ok(())
            }
            Pools::Postgres(_) | Pools::MySql(_) => self.analyze().await,
        }
    }

    /// After a bulk load (`db import`): planner statistics everywhere and, on PostgreSQL, a
    /// VACUUM too, so that hint bits and the visibility map are set once here instead of by
    /// the first readers of every page (which made the first pass over a freshly loaded
    /// million-image catalog markedly slower than the next).
    pub async fn settle_after_import(&self) -> Result<(), Error> {
        if let Pools::Postgres(p) = &self.pools {
            // VACUUM cannot run in a transaction block: sent as a simple query.
            sqlx::raw_sql("VACUUM (ANALYZE) images, image_properties, image_members")
                .execute(p)
                .await?;
            return Ok(());
        }
        self.analyze().await
    }

    /// Pool gauges: (open, idle, max).
    pub fn pool_stats(&self) -> (u32, usize, u32) {
        match &self.pools {
            Pools::Sqlite { read, write, .. } => (
                read.size() + write.size(),
                read.num_idle() + write.num_idle(),
                read.options().get_max_connections() + 1,
            ),
            Pools::Postgres(p) => (p.size(), p.num_idle(), p.options().get_max_connections()),
            Pools::MySql(p) => (p.size(), p.num_idle(), p.options().get_max_connections()),
        }
    }

    pub async fn close(&self) {
        match &self.pools {
            Pools::Sqlite { read, write, .. } => {
                read.close().await;
                write.close().await;
            }
            Pools::Postgres(p) => p.close().await,
            Pools::MySql(p) => p.close().await,
        }
    }
}

/// MariaDB ignores the negative `GET_LOCK` timeout sqlx uses, so concurrent starts could both
/// apply a migration: take a named lock ourselves (with a real timeout) on one connection and
/// run the migrator on that same connection.
async fn migrate_mysql(pool: &MySqlPool) -> Result<(), Error> {
    use sqlx::Row;
    let mut conn = pool.acquire().await?;
    let got: Option<i64> = sqlx::query("SELECT GET_LOCK('glimpse_migrations', 120)")
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
    if got != Some(1) {
        return Err(Error::Unavailable(
            "could not take the migration lock within 120 s".into(),
        ));
    }
    let result = MYSQL_MIGRATIONS.run(&mut *conn).await;
    let _ = sqlx::query("SELECT RELEASE_LOCK('glimpse_migrations')")
        .execute(&mut *conn)
        .await;
    result.map_err(|e| match e {
        sqlx::migrate::MigrateError::Execute(e) => Error::from(e),
        other => Error::Internal(format!("migration failed: {other}")),
    })
}

/// Errors worth retrying the whole transaction for: deadlocks, serialization failures, and
/// SQLite's busy/locked answers.
pub(crate) fn is_retryable(e: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = e else {
        return false;
    };
    let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
    matches!(
        code.as_str(),
        // PostgreSQL: serialization_failure, deadlock_detected
        "40001" | "40P01"
        // MySQL/MariaDB: deadlock, lock wait timeout
        | "1213" | "1205"
        // SQLite: BUSY, LOCKED and their extended codes
        | "5" | "6" | "261" | "262" | "517"
    )
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Protocol(_) => {
                tracing::warn!(error = %e, "database unavailable");
                Error::Unavailable("The image database is unavailable; try again shortly".into())
            }
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                Error::Conflict("An image with this id already exists".into())
            }
            sqlx::Error::Database(db) => {
                let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
                // Connection-level failures reported as database errors: PostgreSQL's class 08
                // and 57P0x (shutdown), MySQL's server-gone codes.
                if code.starts_with("08")
                    || code.starts_with("57P")
                    || code == "1053"
                    || code == "2006"
                    || code == "2013"
                {
                    tracing::warn!(error = %e, "database unavailable");
                    return Error::Unavailable(
                        "The image database is unavailable; try again shortly".into(),
                    );
                }
                if is_retryable(&e) {
                    return Error::Unavailable(
                        "The image database is busy; try again shortly".into(),
                    );
                }
                Error::Internal(format!("database error: {e}"))
            }
            _ => Error::Internal(format!("database error: {e}")),
        }
    }
}
