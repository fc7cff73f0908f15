//! The SQL catalog over SQLite, PostgreSQL or MySQL/MariaDB.
//!
//! Statements are built once with sea-query ([`statements`], [`filter`]) and rendered for
//! the engine picked at start-up from the database URL. The algorithms that run them are
//! written once ([`catalog`], [`maintenance`]) over the [`engine::Engine`] trait; each engine
//! module ([`engine::sqlite`], [`engine::postgres`], [`engine::mysql`]) holds only what
//! differs. [`SqlStore`] is the catalog on whichever engine the URL names.

pub mod catalog;
mod coalesced_reads;
pub mod engine;
pub mod filter;
mod maintenance;
#[cfg(test)]
mod migration_tests;
mod plan_hints;
mod point_read;
mod rows;
pub mod schema;
pub mod statements;
#[cfg(test)]
pub(crate) mod test_db;
#[cfg(test)]
mod tests;
mod writes;

use crate::domain::member::{MemberGrant, Membership, SharedImage};
use crate::domain::query::{ListQuery, Visibility};
use crate::domain::{Caller, Image, ImageId, MemberStatus, Timestamp};
use crate::error::{Error, Result};
use crate::storage::{Catalog, Edit, PoolStats};
use catalog::SqlCatalog;
use engine::mysql::MySql;
use engine::postgres::Postgres;
use engine::sqlite::Sqlite;
use sea_query::Value;
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
    pub fn from_url(url: &str) -> Result<Self> {
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

/// The catalog on the engine the database URL names. Each method forwards to the
/// [`SqlCatalog`] of that engine.
#[derive(Clone)]
pub enum SqlStore {
    Sqlite(SqlCatalog<Sqlite>),
    Postgres(SqlCatalog<Postgres>),
    MySql(SqlCatalog<MySql>),
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SqlStore({})", self.backend().name())
    }
}

impl SqlStore {
    /// Opens the catalog at `url`. On PostgreSQL and MySQL the pool is lazy: the server
    /// starts even if the database is down, answers 503 meanwhile and recovers when it
    /// returns. A SQLite file is created if missing.
    pub async fn connect(url: &str, settings: &PoolSettings) -> Result<Self> {
        let bad = |e: sqlx::Error| {
            Error::bad_request(format!("Invalid database URL '{}': {e}", redact_url(url)))
        };
        Ok(match Backend::from_url(url)? {
            Backend::Sqlite => SqlStore::Sqlite(SqlCatalog::new(Sqlite::open(url, settings)?)),
            Backend::Postgres => SqlStore::Postgres(SqlCatalog::new(
                Postgres::connect(url, settings).map_err(bad)?,
            )),
            Backend::MySql => {
                SqlStore::MySql(SqlCatalog::new(MySql::connect(url, settings).map_err(bad)?))
            }
        })
    }

    pub fn backend(&self) -> Backend {
        match self {
            SqlStore::Sqlite(_) => Backend::Sqlite,
            SqlStore::Postgres(_) => Backend::Postgres,
            SqlStore::MySql(_) => Backend::MySql,
        }
    }

    /// Applies the embedded migrations. On PostgreSQL and MySQL instances starting together
    /// apply each migration once (a lock around the migrator).
    pub async fn migrate(&self) -> Result<()> {
        match self {
            SqlStore::Sqlite(c) => c.migrate().await,
            SqlStore::Postgres(c) => c.migrate().await,
            SqlStore::MySql(c) => c.migrate().await,
        }
    }

    /// Applied and pending migrations: (version, description, applied).
    pub async fn migration_status(&self) -> Result<Vec<(i64, String, bool)>> {
        match self {
            SqlStore::Sqlite(c) => c.migration_status().await,
            SqlStore::Postgres(c) => c.migration_status().await,
            SqlStore::MySql(c) => c.migration_status().await,
        }
    }

    /// Full planner statistics (`db analyze`).
    pub async fn analyze(&self) -> Result<()> {
        match self {
            SqlStore::Sqlite(c) => c.analyze().await,
            SqlStore::Postgres(c) => c.analyze().await,
            SqlStore::MySql(c) => c.analyze().await,
        }
    }

    /// The periodic statistics refresh of a running server: cheap when nothing changed.
    pub async fn refresh_statistics(&self) -> Result<()> {
        match self {
            SqlStore::Sqlite(c) => c.refresh_statistics().await,
            SqlStore::Postgres(c) => c.refresh_statistics().await,
            SqlStore::MySql(c) => c.refresh_statistics().await,
        }
    }

    /// Statistics (and on PostgreSQL a VACUUM) after a bulk load.
    pub async fn settle_after_import(&self) -> Result<()> {
        match self {
            SqlStore::Sqlite(c) => c.settle_after_import().await,
            SqlStore::Postgres(c) => c.settle_after_import().await,
            SqlStore::MySql(c) => c.settle_after_import().await,
        }
    }

    /// Permanently removes images soft-deleted before `cutoff`; with `dry_run` only counts.
    pub async fn purge_deleted(&self, cutoff: Timestamp, dry_run: bool) -> Result<u64> {
        match self {
            SqlStore::Sqlite(c) => c.purge_deleted(cutoff, dry_run).await,
            SqlStore::Postgres(c) => c.purge_deleted(cutoff, dry_run).await,
            SqlStore::MySql(c) => c.purge_deleted(cutoff, dry_run).await,
        }
    }

    /// Writes the whole catalog as JSON lines, in id order, to `out`.
    pub async fn export(&self, out: &mut (dyn std::io::Write + Send)) -> Result<u64> {
        match self {
            SqlStore::Sqlite(c) => c.export(out).await,
            SqlStore::Postgres(c) => c.export(out).await,
            SqlStore::MySql(c) => c.export(out).await,
        }
    }

    /// Reads a catalog export and inserts it (see [`SqlCatalog::import`]).
    pub async fn import<R: std::io::BufRead>(
        &self,
        input: R,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64> {
        match self {
            SqlStore::Sqlite(c) => c.import(input, progress).await,
            SqlStore::Postgres(c) => c.import(input, progress).await,
            SqlStore::MySql(c) => c.import(input, progress).await,
        }
    }

    pub async fn close(&self) {
        match self {
            SqlStore::Sqlite(c) => c.close().await,
            SqlStore::Postgres(c) => c.close().await,
            SqlStore::MySql(c) => c.close().await,
        }
    }
}

impl Catalog for SqlStore {
    async fn ping(&self) -> Result<()> {
        match self {
            SqlStore::Sqlite(c) => c.ping().await,
            SqlStore::Postgres(c) => c.ping().await,
            SqlStore::MySql(c) => c.ping().await,
        }
    }

    async fn create_image(&self, image: &Image) -> Result<()> {
        match self {
            SqlStore::Sqlite(c) => c.create_image(image).await,
            SqlStore::Postgres(c) => c.create_image(image).await,
            SqlStore::MySql(c) => c.create_image(image).await,
        }
    }

    async fn get_image(&self, id: &ImageId, vis: &Visibility) -> Result<Option<Image>> {
        match self {
            SqlStore::Sqlite(c) => c.get_image(id, vis).await,
            SqlStore::Postgres(c) => c.get_image(id, vis).await,
            SqlStore::MySql(c) => c.get_image(id, vis).await,
        }
    }

    async fn list_images(&self, query: &ListQuery, with_properties: bool) -> Result<Vec<Image>> {
        match self {
            SqlStore::Sqlite(c) => c.list_images(query, with_properties).await,
            SqlStore::Postgres(c) => c.list_images(query, with_properties).await,
            SqlStore::MySql(c) => c.list_images(query, with_properties).await,
        }
    }

    async fn update_image<F: Edit>(
        &self,
        id: &ImageId,
        vis: &Visibility,
        edit: F,
    ) -> Result<Image> {
        match self {
            SqlStore::Sqlite(c) => c.update_image(id, vis, edit).await,
            SqlStore::Postgres(c) => c.update_image(id, vis, edit).await,
            SqlStore::MySql(c) => c.update_image(id, vis, edit).await,
        }
    }

    async fn delete_image<F: Edit>(
        &self,
        id: &ImageId,
        vis: &Visibility,
        check: F,
    ) -> Result<Image> {
        match self {
            SqlStore::Sqlite(c) => c.delete_image(id, vis, check).await,
            SqlStore::Postgres(c) => c.delete_image(id, vis, check).await,
            SqlStore::MySql(c) => c.delete_image(id, vis, check).await,
        }
    }

    async fn list_members(&self, id: &ImageId, only: Option<&str>) -> Result<Vec<Membership>> {
        match self {
            SqlStore::Sqlite(c) => c.list_members(id, only).await,
            SqlStore::Postgres(c) => c.list_members(id, only).await,
            SqlStore::MySql(c) => c.list_members(id, only).await,
        }
    }

    async fn upsert_member(
        &self,
        id: &ImageId,
        member: &str,
        can_share: Option<bool>,
    ) -> Result<()> {
        match self {
            SqlStore::Sqlite(c) => c.upsert_member(id, member, can_share).await,
            SqlStore::Postgres(c) => c.upsert_member(id, member, can_share).await,
            SqlStore::MySql(c) => c.upsert_member(id, member, can_share).await,
        }
    }

    async fn remove_member(&self, id: &ImageId, member: &str, touch: bool) -> Result<bool> {
        match self {
            SqlStore::Sqlite(c) => c.remove_member(id, member, touch).await,
            SqlStore::Postgres(c) => c.remove_member(id, member, touch).await,
            SqlStore::MySql(c) => c.remove_member(id, member, touch).await,
        }
    }

    async fn add_member(&self, id: &ImageId, member: &str, max: usize) -> Result<Membership> {
        match self {
            SqlStore::Sqlite(c) => c.add_member(id, member, max).await,
            SqlStore::Postgres(c) => c.add_member(id, member, max).await,
            SqlStore::MySql(c) => c.add_member(id, member, max).await,
        }
    }

    async fn set_member_status(
        &self,
        id: &ImageId,
        member: &str,
        status: MemberStatus,
    ) -> Result<Option<Membership>> {
        match self {
            SqlStore::Sqlite(c) => c.set_member_status(id, member, status).await,
            SqlStore::Postgres(c) => c.set_member_status(id, member, status).await,
            SqlStore::MySql(c) => c.set_member_status(id, member, status).await,
        }
    }

    async fn replace_members(&self, id: &ImageId, grants: &[MemberGrant]) -> Result<()> {
        match self {
            SqlStore::Sqlite(c) => c.replace_members(id, grants).await,
            SqlStore::Postgres(c) => c.replace_members(id, grants).await,
            SqlStore::MySql(c) => c.replace_members(id, grants).await,
        }
    }

    async fn image_counts(&self) -> Result<Vec<(String, i64)>> {
        match self {
            SqlStore::Sqlite(c) => c.image_counts().await,
            SqlStore::Postgres(c) => c.image_counts().await,
            SqlStore::MySql(c) => c.image_counts().await,
        }
    }

    async fn images_with_data(&self, after: Option<&ImageId>, limit: u64) -> Result<Vec<ImageId>> {
        match self {
            SqlStore::Sqlite(c) => c.images_with_data(after, limit).await,
            SqlStore::Postgres(c) => c.images_with_data(after, limit).await,
            SqlStore::MySql(c) => c.images_with_data(after, limit).await,
        }
    }

    async fn stale_uploads(&self, cutoff: Timestamp, limit: u64) -> Result<Vec<ImageId>> {
        match self {
            SqlStore::Sqlite(c) => c.stale_uploads(cutoff, limit).await,
            SqlStore::Postgres(c) => c.stale_uploads(cutoff, limit).await,
            SqlStore::MySql(c) => c.stale_uploads(cutoff, limit).await,
        }
    }

    fn pool_stats(&self) -> PoolStats {
        match self {
            SqlStore::Sqlite(c) => c.pool_stats(),
            SqlStore::Postgres(c) => c.pool_stats(),
            SqlStore::MySql(c) => c.pool_stats(),
        }
    }

    async fn shared_images(&self, member: &str, caller: &Caller) -> Result<Vec<SharedImage>> {
        match self {
            SqlStore::Sqlite(c) => c.shared_images(member, caller).await,
            SqlStore::Postgres(c) => c.shared_images(member, caller).await,
            SqlStore::MySql(c) => c.shared_images(member, caller).await,
        }
    }
}
