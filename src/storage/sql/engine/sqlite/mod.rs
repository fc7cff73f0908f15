//! SQLite on rusqlite connections, statements run in place on the calling thread.
//!
//! sqlx-sqlite runs every connection on a worker thread of its own and hands each command and
//! each result row across a channel; for reads that answer from the page cache in
//! microseconds those hand-offs (wake-ups, context switches) were most of the cost. Here a
//! statement is a plain function call on a connection the session holds.
//!
//! - Reads take one of a bounded set of reader connections (`query_only`); a read waits at
//!   most the acquire timeout for a free one, then gets a 503, as with a pool.
//! - Writes queue in order for the one writer connection (instead of spinning in SQLite's
//!   busy handler), and the writes that queued together commit together ([`writer`]: group
//!   commit, one savepoint each). WAL lets readers run beside the writer; `synchronous =
//!   FULL` syncs the WAL on every commit, so an acknowledged write survives a power cut, not
//!   just a crash.
//! - WAL checkpoints run on a thread of their own ([`checkpointer`]), not inside a commit.
//! - An in-memory database has no file to share: its reads go to the writer connection.
//! - Migrations run through sqlx's embedded migrator on a short-lived sqlx connection, so
//!   databases created by earlier versions (which carry `_sqlx_migrations`) stay compatible.

use super::{Columns, DbError, DbErrorKind, Decode, Engine, Planning, Session, Sql};
use crate::domain::Timestamp;
use crate::error::{Error, Result};
use crate::storage::PoolStats;
use crate::storage::sql::{Backend, PoolSettings};
use checkpointer::Checkpointer;
#[cfg(test)]
pub use checkpointer::REWIND_FRAMES;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OpenFlags, Row};
use sea_query::{QueryStatementWriter, SqliteQueryBuilder, Value};
use sqlx::ConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedMutexGuard, OwnedSemaphorePermit, Semaphore};
use writer::{WriteSession, Writer};

mod checkpointer;
mod writer;

pub(crate) static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Reader connections, whatever the pool setting: enough for two cores.
const MAX_READERS: u32 = 4;

/// How long a statement waits in SQLite's busy handler for a lock another process holds
/// (`glimpse db purge` beside a running server).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Readers in WAL mode wait only in rare moments (WAL recovery), and never long, since they
/// run on runtime threads.
const READER_BUSY_TIMEOUT: Duration = Duration::from_secs(1);

/// The writer's page cache (KiB; SQLite's default is 2 MiB): an insert touches a leaf of every
/// index of the images and properties tables, and with a small cache those leaves are read
/// again from the OS cache, or spilled mid-transaction, on most writes.
const WRITER_CACHE_KIB: u32 = 32 * 1024;

/// Each reader's page cache (KiB; SQLite's default is 2 MiB). A page of a rare property
/// value reads its images from all over the table; with the default cache most of those
/// pages are copied in again from the OS cache for every page served. Bounded: at most this
/// much per reader, and there are at most four readers.
const READER_CACHE_KIB: u32 = 32 * 1024;

/// Statements each connection keeps prepared (list queries come in many shapes).
const STATEMENT_CACHE: usize = 64;

pub struct Sqlite {
    writer: Arc<tokio::sync::Mutex<Writer>>,
    /// `None` for an in-memory database.
    readers: Option<Arc<Readers>>,
    read_timeout: Duration,
    write_timeout: Duration,
    /// For the sqlx connection of the migrator.
    options: SqliteConnectOptions,
    in_memory: bool,
}

impl std::fmt::Debug for Sqlite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sqlite")
            .field("readers", &self.readers.as_ref().map(|r| r.size))
            .finish()
    }
}

/// The idle reader connections, and a permit for each connection.
struct Readers {
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
    size: usize,
}

/// Whether the URL names an in-memory database (`sqlite::memory:`, `?mode=memory`).
fn in_memory(url: &str) -> bool {
    let rest = url.split_once(':').map_or("", |(_, r)| r);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    path.trim_start_matches('/') == ":memory:" || query.split('&').any(|p| p == "mode=memory")
}

impl Sqlite {
    /// Opens the database at `url`, creating the file if it is missing.
    pub fn open(url: &str, settings: &PoolSettings) -> Result<Self> {
        let bad = |e: sqlx::Error| {
            Error::bad_request(format!(
                "Invalid database URL '{}': {e}",
                crate::storage::sql::redact_url(url)
            ))
        };
        let options = SqliteConnectOptions::from_str(url)
            .map_err(bad)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let file = options.get_filename().to_owned();
        let in_memory = in_memory(url);
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        if in_memory {
            // The name sqlx gave it, shared with the migrator's connection.
            flags |= OpenFlags::SQLITE_OPEN_MEMORY | OpenFlags::SQLITE_OPEN_SHARED_CACHE;
        }
        let writer = Connection::open_with_flags(&file, flags).map_err(open_failed)?;
        // Each write's savepoint journals the pages it changes: in memory, not in a file.
        writer
            .execute_batch(&format!(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
                 PRAGMA temp_store = MEMORY; PRAGMA cache_size = -{WRITER_CACHE_KIB}; \
                 PRAGMA wal_autocheckpoint = {};",
                if in_memory { 1000 } else { 0 }
            ))
            .map_err(open_failed)?;
        writer.busy_timeout(BUSY_TIMEOUT).map_err(open_failed)?;
        stable_plans(&writer)?;
        writer.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let readers = if in_memory {
            None
        } else {
            // On a couple of cores more readers only add page caches.
            let n = settings.max_connections.clamp(1, MAX_READERS) as usize;
            let conns = (0..n)
                .map(|_| open_reader(&file))
                .collect::<Result<Vec<_>>>()?;
            Some(Arc::new(Readers {
                idle: Mutex::new(conns),
                permits: Arc::new(Semaphore::new(n)),
                size: n,
            }))
        };
        // The checkpoint thread replaces SQLite's automatic checkpoint on the writer.
        let checkpointer = if in_memory {
            None
        } else {
            let conn = Connection::open_with_flags(&file, flags).map_err(open_failed)?;
            conn.busy_timeout(READER_BUSY_TIMEOUT)
                .map_err(open_failed)?;
            Some(Checkpointer::start(conn).map_err(|e| {
                Error::Internal(format!("cannot start the SQLite checkpointer: {e}"))
            })?)
        };
        Ok(Sqlite {
            writer: Writer::start(writer, checkpointer)
                .map_err(|e| Error::Internal(format!("cannot start the SQLite committer: {e}")))?,
            readers,
            read_timeout: settings.acquire_timeout,
            write_timeout: settings.acquire_timeout.max(Duration::from_secs(10)),
            options,
            in_memory,
        })
    }

    /// A short-lived sqlx connection, for the migrator.
    async fn migrator_connection(&self) -> Result<sqlx::SqliteConnection> {
        Ok(self.options.connect().await.map_err(DbError::from)?)
    }

    /// The writer connection, waiting in line at most the write timeout.
    async fn writer(&self) -> Result<OwnedMutexGuard<Writer>, DbError> {
        writer::lock(&self.writer, self.write_timeout).await
    }

    /// Runs `sql` on the writer (statistics upkeep), inside the open batch if there is one.
    async fn on_writer(&self, sql: &str) -> Result<(), DbError> {
        let w = self.writer().await?;
        blocking(|| w.conn.execute_batch(sql))?;
        Ok(())
    }
}

fn open_failed(e: rusqlite::Error) -> Error {
    Error::from(DbError::new(
        DbErrorKind::Unavailable,
        format!("cannot open the SQLite database: {e}"),
    ))
}

/// A connection to the database file at `path` that only reads: `query_only` makes SQLite
/// refuse any write through it.
fn open_reader(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )
    .map_err(open_failed)?;
    conn.pragma_update(None, "query_only", true)
        .map_err(open_failed)?;
    conn.execute_batch(&format!("PRAGMA cache_size = -{READER_CACHE_KIB};"))
        .map_err(open_failed)?;
    stable_plans(&conn)?;
    conn.busy_timeout(READER_BUSY_TIMEOUT)
        .map_err(open_failed)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Plans that do not depend on the values bound to a statement. Otherwise SQLite reads the
/// bound `LIMIT` while planning a list and marks the statement to be compiled again whenever
/// that parameter is bound anew, that is on every execution of a cached statement. Glimpse's
/// statements are shaped so that one plan is right for every value, so nothing is lost.
fn stable_plans(conn: &Connection) -> Result<()> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .map_err(open_failed)?;
    Ok(())
}

/// Runs `f`, which may block (an fsync, a full ANALYZE), without stalling the runtime's
/// other tasks: on a multi-threaded runtime the worker hands its tasks to another thread
/// meanwhile. A current-thread runtime (unit tests) just runs it.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

impl Engine for Sqlite {
    type Session = SqliteSession;
    const BACKEND: Backend = Backend::Sqlite;
    const LOCKS_ROWS: bool = false;
    const COALESCES_READS: bool = false;

    fn render(stmt: &impl QueryStatementWriter) -> Sql {
        Sql::render(stmt, SqliteQueryBuilder)
    }

    async fn read(&self) -> Result<SqliteSession, DbError> {
        let Some(readers) = &self.readers else {
            return Ok(SqliteSession::OnWriter(self.writer().await?));
        };
        let permit = match Arc::clone(&readers.permits).try_acquire_owned() {
            Ok(p) => p,
            Err(_) => tokio::time::timeout(
                self.read_timeout,
                Arc::clone(&readers.permits).acquire_owned(),
            )
            .await
            .map_err(|_| DbError::timed_out())?
            .map_err(|_| DbError::new(DbErrorKind::Unavailable, "the readers are closed"))?,
        };
        let conn = readers
            .idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .ok_or_else(|| DbError::new(DbErrorKind::Other, "a reader permit without a reader"))?;
        Ok(SqliteSession::Reader(Reader {
            conn: Some(conn),
            readers: Arc::clone(readers),
            _permit: permit,
        }))
    }

    async fn begin_write(&self) -> Result<SqliteSession, DbError> {
        let write = WriteSession::begin(&self.writer, self.write_timeout).await?;
        Ok(SqliteSession::Write(write))
    }

    async fn ping(&self) -> Result<(), DbError> {
        let mut s = self.read().await?;
        s.fetch(
            Sql {
                text: "SELECT 1".into(),
                values: sea_query::Values(Vec::new()),
            },
            Planning::Cached,
            &crate::storage::sql::rows::AnyRow,
        )
        .await?;
        Ok(())
    }

    fn pool_stats(&self) -> PoolStats {
        let writer_idle = usize::from(self.writer.try_lock().is_ok());
        let (size, idle) = match &self.readers {
            Some(r) => (r.size, r.permits.available_permits()),
            None => (0, 0),
        };
        PoolStats {
            open: size as u32 + 1,
            idle: idle + writer_idle,
            max: size as u32 + 1,
        }
    }

    async fn migrate(&self) -> Result<()> {
        let mut conn = self.migrator_connection().await?;
        let done = MIGRATIONS.run_direct(None, &mut conn, false).await;
        if !self.in_memory {
            use sqlx::Connection as _;
            let _ = conn.close().await;
        }
        // (An in-memory database's migrator connection is dropped, not closed: the writer
        // keeps the shared database alive either way.)
        done.map_err(super::migration_error)
    }

    fn migrations(&self) -> Vec<(i64, String)> {
        super::listed(&MIGRATIONS)
    }

    async fn applied_migrations(&self) -> Result<Vec<i64>> {
        let mut conn = self.migrator_connection().await?;
        super::applied_on(&mut conn).await
    }

    /// A full `ANALYZE` reads the whole file, `analysis_limit` or not: for `db analyze` and
    /// after a bulk import, not for a running server's routine.
    async fn analyze(&self) -> Result<(), DbError> {
        self.on_writer("PRAGMA analysis_limit = 1000; ANALYZE;")
            .await
    }

    /// `PRAGMA optimize` analyzes only tables whose statistics are missing or whose size
    /// changed tenfold since they were taken, with a sampling limit: cheap on a steady
    /// catalog of any size.
    async fn refresh_statistics(&self) -> Result<(), DbError> {
        // 0x2: analyze what needs it; 0x10: with a sampling limit; 0x10000: judge every
        // table, not only those this connection has queried.
        self.on_writer("PRAGMA optimize = 0x10012").await
    }

    async fn close(&self) {
        if let Some(r) = &self.readers {
            r.permits.close();
            r.idle.lock().unwrap_or_else(|p| p.into_inner()).clear();
        }
    }
}

/// A reader connection, back to the idle set when the session ends.
pub struct Reader {
    conn: Option<Connection>,
    readers: Arc<Readers>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Reader {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.readers
                .idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(conn);
        }
    }
}

/// A reader, a read on the writer (in-memory databases), or a write.
pub enum SqliteSession {
    Reader(Reader),
    OnWriter(OwnedMutexGuard<Writer>),
    Write(WriteSession),
}

impl SqliteSession {
    fn conn(&self) -> Result<&Connection, DbError> {
        match self {
            SqliteSession::Reader(r) => r
                .conn
                .as_ref()
                .ok_or_else(|| DbError::new(DbErrorKind::Other, "the reader is gone")),
            SqliteSession::OnWriter(w) => Ok(&w.conn),
            SqliteSession::Write(w) => w.conn(),
        }
    }
}

/// Runs `sql`, handing each row to `each`.
fn each_row(
    conn: &Connection,
    sql: Sql,
    mut each: impl FnMut(&Row<'_>) -> Result<(), DbError>,
) -> Result<(), DbError> {
    let params = sql
        .values
        .0
        .into_iter()
        .map(sql_value)
        .collect::<Result<Vec<_>, _>>()?;
    let mut stmt = conn.prepare_cached(&sql.text)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
    while let Some(row) = rows.next()? {
        each(row)?;
    }
    Ok(())
}

impl Session for SqliteSession {
    async fn fetch<D: Decode>(
        &mut self,
        sql: Sql,
        _planning: Planning,
        decode: &D,
    ) -> Result<Vec<D::Out>, DbError> {
        let mut out = Vec::new();
        each_row(self.conn()?, sql, |row| {
            out.push(decode.decode(row)?);
            Ok(())
        })?;
        Ok(out)
    }

    async fn execute(&mut self, sql: Sql) -> Result<u64, DbError> {
        let params = sql
            .values
            .0
            .into_iter()
            .map(sql_value)
            .collect::<Result<Vec<_>, _>>()?;
        let conn = self.conn()?;
        let n = conn
            .prepare_cached(&sql.text)?
            .execute(rusqlite::params_from_iter(params))?;
        Ok(n as u64)
    }

    async fn commit(self) -> Result<(), DbError> {
        match self {
            SqliteSession::Write(w) => w.commit().await,
            _ => Ok(()),
        }
    }

    async fn rollback(self) -> Result<(), DbError> {
        match self {
            SqliteSession::Write(w) => w.rollback(),
            _ => Ok(()),
        }
    }
}

/// A sea-query value as rusqlite binds it (the kinds the registry's statements use).
pub fn sql_value(v: Value) -> Result<SqlValue, DbError> {
    let int = |x: Option<i64>| x.map_or(SqlValue::Null, SqlValue::Integer);
    Ok(match v {
        Value::Bool(b) => int(b.map(i64::from)),
        Value::TinyInt(x) => int(x.map(i64::from)),
        Value::SmallInt(x) => int(x.map(i64::from)),
        Value::Int(x) => int(x.map(i64::from)),
        Value::BigInt(x) => int(x),
        Value::TinyUnsigned(x) => int(x.map(i64::from)),
        Value::SmallUnsigned(x) => int(x.map(i64::from)),
        Value::Unsigned(x) => int(x.map(i64::from)),
        Value::BigUnsigned(x) => match x.map(i64::try_from).transpose() {
            Ok(x) => int(x),
            Err(_) => return Err(DbError::new(DbErrorKind::Other, "integer out of range")),
        },
        Value::String(s) => s.map_or(SqlValue::Null, SqlValue::Text),
        other => {
            return Err(DbError::new(
                DbErrorKind::Other,
                format!("cannot bind {other:?}"),
            ));
        }
    })
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode::*;
        /// SQLITE_CONSTRAINT_PRIMARYKEY and SQLITE_CONSTRAINT_UNIQUE.
        const UNIQUE: [std::ffi::c_int; 2] = [1555, 2067];
        let kind = match e.sqlite_error() {
            Some(f) if matches!(f.code, DatabaseBusy | DatabaseLocked) => DbErrorKind::Retryable,
            Some(f) if UNIQUE.contains(&f.extended_code) => DbErrorKind::UniqueViolation,
            _ => DbErrorKind::Other,
        };
        DbError::new(kind, e)
    }
}

impl Columns for Row<'_> {
    fn string(&self, c: usize) -> Result<Option<String>, DbError> {
        Ok(self.get(c)?)
    }

    fn int(&self, c: usize) -> Result<Option<i64>, DbError> {
        Ok(self.get(c)?)
    }

    fn flag(&self, c: usize) -> Result<bool, DbError> {
        Ok(self.get(c)?)
    }

    fn timestamp(&self, c: usize) -> Result<Option<Timestamp>, DbError> {
        let s: Option<String> = self.get(c)?;
        s.map(|s| Timestamp::from_sql_text(&s).map_err(|e| DbError::invalid(c, e)))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bundled SQLite is built without `SQLITE_ENABLE_MEMORY_MANAGEMENT` (set in
    /// `.cargo/config.toml`): with it, every connection's page cache sits behind one global
    /// mutex that the concurrent readers fought over.
    #[test]
    fn sqlite_is_built_with_a_private_page_cache_per_connection() {
        let Ok(conn) = Connection::open_in_memory() else {
            panic!("in-memory SQLite")
        };
        let Ok(mut stmt) = conn.prepare("PRAGMA compile_options") else {
            panic!("compile_options")
        };
        let options: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .map(|rows| rows.filter_map(|r| r.ok()).collect())
            .unwrap_or_default();
        assert!(
            options.iter().any(|o| o.starts_with("THREADSAFE")),
            "{options:?}"
        );
        assert!(
            !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "{options:?}"
        );
    }

    #[test]
    fn in_memory_urls_are_recognised() {
        assert!(in_memory("sqlite::memory:"));
        assert!(in_memory("sqlite://:memory:"));
        assert!(in_memory("sqlite://x.db?mode=memory"));
        assert!(!in_memory("sqlite:///tmp/x.db"));
    }
}
