//! MySQL and MariaDB: a sqlx pool. What differs from the other engines: utf8mb4 with a
//! binary collation (property values compare byte for byte), and a migration lock of our
//! own.

use super::{Columns, DbError, Decode, Engine, Planning, Session, Sql};
use crate::domain::Timestamp;
use crate::error::{Error, Result};
use crate::storage::PoolStats;
use crate::storage::sql::{Backend, PoolSettings};
use sea_query::{MysqlQueryBuilder, QueryStatementWriter};
use sea_query_sqlx::SqlxValues;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlPool, MySqlRow};
use sqlx::pool::PoolConnection;
use sqlx::{AssertSqlSafe, Row, Transaction};
use std::str::FromStr;
use time::PrimitiveDateTime;

pub(crate) static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/mysql");

#[derive(Debug, Clone)]
pub struct MySql {
    pool: MySqlPool,
}

impl MySql {
    /// A lazy pool: the server starts even if the database is down, answers 503 meanwhile
    /// and recovers when it returns.
    pub fn connect(url: &str, settings: &PoolSettings) -> Result<Self, sqlx::Error> {
        let url = url.replacen("mariadb://", "mysql://", 1);
        let opts = MySqlConnectOptions::from_str(&url)?
            .charset("utf8mb4")
            .collation("utf8mb4_bin");
        Ok(MySql {
            pool: super::network_pool::<sqlx::MySql>(settings).connect_lazy_with(opts),
        })
    }
}

/// A pooled connection, in a transaction for writes.
pub enum MySqlSession {
    Read(PoolConnection<sqlx::MySql>),
    Write(Transaction<'static, sqlx::MySql>),
}

impl MySqlSession {
    fn conn(&mut self) -> &mut MySqlConnection {
        match self {
            MySqlSession::Read(c) => c,
            MySqlSession::Write(t) => t,
        }
    }
}

impl Engine for MySql {
    type Session = MySqlSession;
    const BACKEND: Backend = Backend::MySql;
    const LOCKS_ROWS: bool = true;
    const COALESCES_READS: bool = true;

    fn render(stmt: &impl QueryStatementWriter) -> Sql {
        Sql::render(stmt, MysqlQueryBuilder)
    }

    async fn read(&self) -> Result<MySqlSession, DbError> {
        Ok(MySqlSession::Read(self.pool.acquire().await?))
    }

    async fn begin_write(&self) -> Result<MySqlSession, DbError> {
        Ok(MySqlSession::Write(self.pool.begin().await?))
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

    /// MariaDB ignores the negative `GET_LOCK` timeout sqlx uses, so concurrent starts could
    /// both apply a migration: take a named lock ourselves (with a real timeout) on one
    /// connection and run the migrator on that same connection.
    async fn migrate(&self) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        let got: Option<i64> = sqlx::query("SELECT GET_LOCK('glimpse_migrations', 120)")
            .fetch_one(&mut *conn)
            .await?
            .try_get(0)?;
        if got != Some(1) {
            return Err(Error::Unavailable(
                "could not take the migration lock within 120 s".into(),
            ));
        }
        let result = MIGRATIONS.run_direct(None, &mut *conn, false).await;
        let _ = sqlx::query("SELECT RELEASE_LOCK('glimpse_migrations')")
            .execute(&mut *conn)
            .await;
        result.map_err(super::migration_error)
    }

    fn migrations(&self) -> Vec<(i64, String)> {
        super::listed(&MIGRATIONS)
    }

    async fn applied_migrations(&self) -> Result<Vec<i64>> {
        let mut conn = self.pool.acquire().await?;
        super::applied_on(&mut *conn).await
    }

    async fn analyze(&self) -> Result<(), DbError> {
        sqlx::query("ANALYZE TABLE images, image_properties, image_members")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await
    }
}

impl Session for MySqlSession {
    async fn fetch<D: Decode>(
        &mut self,
        sql: Sql,
        _planning: Planning,
        decode: &D,
    ) -> Result<Vec<D::Out>, DbError> {
        let rows = sqlx::query_with(AssertSqlSafe(sql.text), SqlxValues(sql.values))
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
            MySqlSession::Read(_) => Ok(()),
            MySqlSession::Write(t) => Ok(t.commit().await?),
        }
    }

    async fn rollback(self) -> Result<(), DbError> {
        match self {
            MySqlSession::Read(_) => Ok(()),
            MySqlSession::Write(t) => Ok(t.rollback().await?),
        }
    }
}

impl Columns for MySqlRow {
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
