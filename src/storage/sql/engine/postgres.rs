//! PostgreSQL: a sqlx pool. What differs from the other engines: list queries are planned
//! for their own values (unnamed statements, see [`Planning`]), no parallel query, and
//! VACUUM after a bulk load.

use super::{Columns, DbError, Decode, Engine, Planning, Session, Sql};
use crate::domain::Timestamp;
use crate::error::Result;
use crate::storage::PoolStats;
use crate::storage::sql::{Backend, PoolSettings};
use sea_query::{PostgresQueryBuilder, QueryStatementWriter};
use sea_query_sqlx::SqlxValues;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgRow};
use sqlx::{AssertSqlSafe, Row, Transaction};
use std::str::FromStr;
use time::PrimitiveDateTime;

pub(crate) static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone)]
pub struct Postgres {
    pool: PgPool,
}

impl Postgres {
    /// A lazy pool: the server starts even if the database is down, answers 503 meanwhile
    /// and recovers when it returns.
    pub fn connect(url: &str, settings: &PoolSettings) -> Result<Self, sqlx::Error> {
        // No parallel query: a page of 25 rows is small, and with many concurrent requests
        // the cores are already busy; the start-up of parallel workers cost more than the
        // whole query without them. Sent in the start-up packet: no round trip.
        let opts =
            PgConnectOptions::from_str(url)?.options([("max_parallel_workers_per_gather", "0")]);
        Ok(Postgres {
            pool: super::network_pool::<sqlx::Postgres>(settings).connect_lazy_with(opts),
        })
    }

    /// The pool, for tests that inspect the server's state.
    #[cfg(test)]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// A pooled connection, in a transaction for writes.
pub enum PgSession {
    Read(PoolConnection<sqlx::Postgres>),
    Write(Transaction<'static, sqlx::Postgres>),
}

impl PgSession {
    fn conn(&mut self) -> &mut PgConnection {
        match self {
            PgSession::Read(c) => c,
            PgSession::Write(t) => t,
        }
    }
}

impl Engine for Postgres {
    type Session = PgSession;
    const BACKEND: Backend = Backend::Postgres;
    const LOCKS_ROWS: bool = true;
    const COALESCES_READS: bool = true;

    fn render(stmt: &impl QueryStatementWriter) -> Sql {
        Sql::render(stmt, PostgresQueryBuilder)
    }

    async fn read(&self) -> Result<PgSession, DbError> {
        Ok(PgSession::Read(self.pool.acquire().await?))
    }

    async fn begin_write(&self) -> Result<PgSession, DbError> {
        Ok(PgSession::Write(self.pool.begin().await?))
    }

    async fn ping(&self) -> Result<(), DbError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    fn pool_stats(&self) -> PoolStats {
        PoolStats {
            open: self.pool.size(),
            idle: self.pool.num_idle(),
            max: self.pool.options().get_max_connections(),
        }
    }

    async fn migrate(&self) -> Result<()> {
        // sqlx takes an advisory lock: instances starting together apply each migration once.
        MIGRATIONS
            .run(&self.pool)
            .await
            .map_err(super::migration_error)
    }

    fn migrations(&self) -> Vec<(i64, String)> {
        super::listed(&MIGRATIONS)
    }

    async fn applied_migrations(&self) -> Result<Vec<i64>> {
        let mut conn = self.pool.acquire().await.map_err(DbError::from)?;
        super::applied_on(&mut *conn).await
    }

    async fn analyze(&self) -> Result<(), DbError> {
        sqlx::query("ANALYZE images, image_properties, image_members")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A VACUUM besides the statistics, so that hint bits and the visibility map are set
    /// once here instead of by the first readers of every page.
    async fn settle_after_import(&self) -> Result<(), DbError> {
        // VACUUM cannot run in a transaction block: sent as a simple query.
        sqlx::raw_sql("VACUUM (ANALYZE) images, image_properties, image_members")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await
    }
}

impl Session for PgSession {
    async fn fetch<D: Decode>(
        &mut self,
        sql: Sql,
        planning: Planning,
        decode: &D,
    ) -> Result<Vec<D::Out>, DbError> {
        let rows = sqlx::query_with(AssertSqlSafe(sql.text), SqlxValues(sql.values))
            .persistent(planning == Planning::Cached)
            .fetch_all(self.conn())
            .await?;
        rows.iter().map(|r| decode.decode(r)).collect()
    }

    async fn execute(&mut self, sql: Sql) -> Result<u64, DbError> {
        let done = sqlx::query_with(AssertSqlSafe(sql.text), SqlxValues(sql.values))
            .execute(self.conn())
            .await?;
        Ok(done.rows_affected())
    }

    async fn commit(self) -> Result<(), DbError> {
        match self {
            PgSession::Read(_) => Ok(()),
            PgSession::Write(t) => Ok(t.commit().await?),
        }
    }

    async fn rollback(self) -> Result<(), DbError> {
        match self {
            PgSession::Read(_) => Ok(()),
            PgSession::Write(t) => Ok(t.rollback().await?),
        }
    }
}

impl Columns for PgRow {
    fn string(&self, c: usize) -> Result<Option<String>, DbError> {
        Ok(self.try_get(c)?)
    }

    fn int(&self, c: usize) -> Result<Option<i64>, DbError> {
        Ok(self.try_get(c)?)
    }

    fn flag(&self, c: usize) -> Result<bool, DbError> {
        Ok(self.try_get(c)?)
    }

    fn timestamp(&self, c: usize) -> Result<Option<Timestamp>, DbError> {
        let t: Option<PrimitiveDateTime> = self.try_get(c)?;
        Ok(t.map(Timestamp::from_primitive))
    }
}
