//! What the catalog's algorithms need from a database engine, and nothing more: open a read
//! session or a write transaction, run a rendered statement, decode its rows by column
//! position, commit. [`super::SqlCatalog`] is written once against these traits; each engine
//! module ([`sqlite`], [`postgres`], [`mysql`]) implements them with what truly differs:
//! connection set-up, the SQL dialect, error classification, and for SQLite the single
//! writer.

pub mod mysql;
pub mod postgres;
pub mod sqlite;

use super::Backend;
use crate::domain::Timestamp;
use crate::error::{Error, Result};
use crate::storage::PoolStats;
use sea_query::{QueryBuilder, QueryStatementWriter, Values};
use std::future::Future;

/// A statement rendered for one engine: its SQL text and the values of its placeholders.
#[derive(Debug, Clone, PartialEq)]
pub struct Sql {
    pub text: String,
    pub values: Values,
}

impl Sql {
    /// Renders a sea-query statement with an engine's query builder.
    pub fn render(stmt: &impl QueryStatementWriter, builder: impl QueryBuilder) -> Sql {
        let (text, values) = stmt.build(builder);
        Sql { text, values }
    }
}

/// How a statement is planned. This matters on PostgreSQL only: after five executions of a
/// prepared statement it may settle on one generic plan for all parameter values.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Planning {
    /// Prepared once per connection; a generic plan is welcome. For statements whose best
    /// plan is the same for every value (lookups by id, by member, and the pages that
    /// `filter::plan_fits_every_value` admits): planning them each time costs as much as
    /// running them, or more.
    Cached,
    /// Planned for its own values at every execution (on PostgreSQL an unnamed statement,
    /// one extra round trip). For the other list queries: a generic plan for a filter may
    /// start from the wrong index and sort every match, which is fast for a rare value and
    /// very slow for a frequent one.
    PerValues,
}

/// A database engine: where sessions come from, and the engine-wide chores.
pub trait Engine: Send + Sync + 'static {
    type Session: Session;

    /// The SQL dialect statements are built for.
    const BACKEND: Backend;

    /// Whether a write reads the image `FOR UPDATE`. PostgreSQL and MySQL lock the row so
    /// concurrent writers queue instead of racing and retrying; SQLite's `BEGIN IMMEDIATE`
    /// already holds the database's write lock.
    const LOCKS_ROWS: bool;

    /// Whether concurrent reads of single images go to the database together (see
    /// `coalesced_reads`): worth it where a query is a round trip over the network, not where
    /// it is a call into the process's own SQLite.
    const COALESCES_READS: bool;

    /// Renders a statement in this engine's dialect.
    fn render(stmt: &impl QueryStatementWriter) -> Sql;

    /// A session for reads (no transaction on the server engines; a snapshot on SQLite).
    fn read(&self) -> impl Future<Output = Result<Self::Session, DbError>> + Send;

    /// A write transaction.
    fn begin_write(&self) -> impl Future<Output = Result<Self::Session, DbError>> + Send;

    /// Is the database reachable?
    fn ping(&self) -> impl Future<Output = Result<(), DbError>> + Send;

    /// Connection gauges.
    fn pool_stats(&self) -> PoolStats;

    /// Applies the embedded migrations.
    fn migrate(&self) -> impl Future<Output = Result<()>> + Send;

    /// The embedded migrations: (version, description).
    fn migrations(&self) -> Vec<(i64, String)>;

    /// Versions of the migrations applied to the database.
    fn applied_migrations(&self) -> impl Future<Output = Result<Vec<i64>>> + Send;

    /// Full planner statistics (`db analyze`).
    fn analyze(&self) -> impl Future<Output = Result<(), DbError>> + Send;

    /// The periodic statistics refresh of a running server: cheap when nothing changed.
    fn refresh_statistics(&self) -> impl Future<Output = Result<(), DbError>> + Send {
        self.analyze()
    }

    /// Statistics (and whatever else pays off once) after a bulk load.
    fn settle_after_import(&self) -> impl Future<Output = Result<(), DbError>> + Send {
        self.analyze()
    }

    /// Closes every connection.
    fn close(&self) -> impl Future<Output = ()> + Send;
}

/// One connection's work: a read session or a write transaction. Dropping a write session
/// without committing rolls it back.
pub trait Session: Send {
    /// The rows of a SELECT, each decoded by `decode`.
    fn fetch<D: Decode>(
        &mut self,
        sql: Sql,
        planning: Planning,
        decode: &D,
    ) -> impl Future<Output = Result<Vec<D::Out>, DbError>> + Send;

    /// Runs an INSERT, UPDATE or DELETE: the number of rows it touched.
    fn execute(&mut self, sql: Sql) -> impl Future<Output = Result<u64, DbError>> + Send;

    fn commit(self) -> impl Future<Output = Result<(), DbError>> + Send;

    fn rollback(self) -> impl Future<Output = Result<(), DbError>> + Send;
}

/// A row's values by column position. What differs between engines is only how a value is
/// fetched (SQLite keeps timestamps as fixed-width text, the others as native timestamps);
/// the decoders in `rows` are the one mapping from columns to domain values.
pub trait Columns {
    fn string(&self, c: usize) -> Result<Option<String>, DbError>;
    fn int(&self, c: usize) -> Result<Option<i64>, DbError>;
    fn flag(&self, c: usize) -> Result<bool, DbError>;
    fn timestamp(&self, c: usize) -> Result<Option<Timestamp>, DbError>;
}

/// Turns one row into a value.
pub trait Decode: Sync {
    type Out: Send;
    fn decode<R: Columns>(&self, row: &R) -> Result<Self::Out, DbError>;
}

/// What kind of failure an engine reported: decides retrying and the answer's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbErrorKind {
    /// A deadlock, a serialization failure, a busy database: worth retrying the transaction.
    Retryable,
    /// The database cannot be reached (or no connection became free in time).
    Unavailable,
    /// A unique key already holds the value.
    UniqueViolation,
    Other,
}

/// An engine's error, classified by the engine.
#[derive(Debug, Clone)]
pub struct DbError {
    pub kind: DbErrorKind,
    pub message: String,
}

impl DbError {
    pub fn new(kind: DbErrorKind, message: impl std::fmt::Display) -> Self {
        DbError {
            kind,
            message: message.to_string(),
        }
    }

    /// A value a column cannot hold (a NULL in a required column, an unknown status).
    pub fn invalid(c: usize, e: impl std::fmt::Display) -> Self {
        DbError::new(DbErrorKind::Other, format!("column {c}: {e}"))
    }

    /// No connection became free within the acquire timeout.
    pub fn timed_out() -> Self {
        DbError::new(
            DbErrorKind::Unavailable,
            "no database connection became free in time",
        )
    }

    pub fn is_retryable(&self) -> bool {
        self.kind == DbErrorKind::Retryable
    }
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<DbError> for Error {
    fn from(e: DbError) -> Self {
        match e.kind {
            DbErrorKind::Unavailable => {
                tracing::warn!(error = %e, "database unavailable");
                Error::Unavailable("The image database is unavailable; try again shortly".into())
            }
            DbErrorKind::UniqueViolation => {
                Error::Conflict("An image with this id already exists".into())
            }
            DbErrorKind::Retryable => {
                Error::Unavailable("The image database is busy; try again shortly".into())
            }
            DbErrorKind::Other => Error::Internal(format!("database error: {e}")),
        }
    }
}

/// A migration failure as the registry reports it.
pub fn migration_error(e: sqlx::migrate::MigrateError) -> Error {
    match e {
        sqlx::migrate::MigrateError::Execute(e) => Error::from(DbError::from(e)),
        other => Error::Internal(format!("migration failed: {other}")),
    }
}

/// sqlx's errors (PostgreSQL, MySQL, and the migrator on every engine) classified.
impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        use DbErrorKind::*;
        let kind = match &e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Protocol(_) => Unavailable,
            sqlx::Error::Database(db) if db.is_unique_violation() => UniqueViolation,
            sqlx::Error::Database(db) => {
                let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
                match code.as_str() {
                    // Connection-level failures reported as database errors: PostgreSQL's
                    // class 08 and 57P0x (shutdown), MySQL's server-gone codes.
                    c if c.starts_with("08") || c.starts_with("57P") => Unavailable,
                    "1053" | "2006" | "2013" => Unavailable,
                    // PostgreSQL: serialization_failure, deadlock_detected; MySQL/MariaDB:
                    // deadlock, lock wait timeout; SQLite: BUSY, LOCKED and their extended
                    // codes.
                    "40001" | "40P01" | "1213" | "1205" | "5" | "6" | "261" | "262" | "517" => {
                        Retryable
                    }
                    _ => Other,
                }
            }
            _ => Other,
        };
        DbError::new(kind, e)
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::from(DbError::from(e))
    }
}

/// Pool options for a network database: ping only connections idle for a while.
///
/// sqlx's default pings on every acquire: a whole extra round trip per request. A
/// connection busy a moment ago is very likely alive; one that sat idle may have been cut
/// (database restart, proxy, firewall), so it is checked. A connection that died in use
/// fails its query, the request gets a 503 and the pool replaces the connection.
pub(super) fn network_pool<DB: sqlx::Database>(
    settings: &super::PoolSettings,
) -> sqlx::pool::PoolOptions<DB> {
    use sqlx::Connection;
    const PING_IF_IDLE_FOR: std::time::Duration = std::time::Duration::from_secs(1);
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

/// The versions a sqlx migrator recorded in `_sqlx_migrations` on this connection.
pub(super) async fn applied_on<C: sqlx::migrate::Migrate>(conn: &mut C) -> Result<Vec<i64>> {
    conn.ensure_migrations_table("_sqlx_migrations")
        .await
        .map_err(|e| Error::Internal(e.to_string()))?;
    Ok(conn
        .list_applied_migrations("_sqlx_migrations")
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
        .into_iter()
        .map(|m| m.version)
        .collect())
}

/// (version, description) of each migration of a migrator.
pub(super) fn listed(migrator: &sqlx::migrate::Migrator) -> Vec<(i64, String)> {
    migrator
        .iter()
        .map(|m| (m.version, m.description.to_string()))
        .collect()
}
