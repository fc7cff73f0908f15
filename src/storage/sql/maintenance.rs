//! Database maintenance: purging old soft-deleted images, and exporting/importing the whole
//! catalog. Like `ops`, written once and stamped out per backend.

use super::rows::DecodeRow;
use super::statements as st;
use super::{Backend, Pools, SqlStore};
use crate::domain::{ImageId, Timestamp};
use crate::error::{Error, Result};
use crate::storage::catalog::{CatalogMember, CatalogRecord};
use sea_query_sqlx::SqlxBinder;
use sqlx::{AssertSqlSafe, Row};

/// Rows per purge transaction: small enough that the server's writers never wait long.
pub const PURGE_BATCH: u64 = 500;
/// Images per export query.
const EXPORT_PAGE: u64 = 500;

macro_rules! maintenance_ops {
    ($module:ident, $db:ty, $qb:expr, $backend:expr, $begin_write:expr) => {
        mod $module {
            use super::*;

            type Pool = sqlx::Pool<$db>;
            const B: Backend = $backend;

            macro_rules! q {
                ($stmt:expr) => {{
                    let (sql, values) = $stmt.build_sqlx($qb);
                    sqlx::query_with(AssertSqlSafe(sql), values)
                }};
            }

            pub async fn purge(pool: &Pool, cutoff: Timestamp, dry_run: bool) -> Result<u64> {
                let mut total = 0u64;
                loop {
                    let mut tx = pool.begin_with($begin_write).await?;
                    let limit = if dry_run { u64::MAX / 2 } else { PURGE_BATCH };
                    let ids: Vec<String> = q!(st::select_purgeable(B, cutoff, limit))
                        .fetch_all(&mut *tx)
                        .await?
                        .iter()
                        .map(|r| r.try_get::<String, _>("id"))
                        .collect::<Result<_, _>>()?;
                    if dry_run || ids.is_empty() {
                        tx.rollback().await?;
                        return Ok(total + if dry_run { ids.len() as u64 } else { 0 });
                    }
                    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
                    q!(st::delete_properties_of(&refs))
                        .execute(&mut *tx)
                        .await?;
                    q!(st::delete_members_of(&refs)).execute(&mut *tx).await?;
                    q!(st::delete_images(&refs)).execute(&mut *tx).await?;
                    tx.commit().await?;
                    total += ids.len() as u64;
                    // Let the server's writers in between batches.
                    tokio::task::yield_now().await;
                }
            }

            pub async fn export_page(
                pool: &Pool,
                after: Option<ImageId>,
            ) -> Result<Vec<CatalogRecord>> {
                let mut conn = pool.acquire().await?;
                let rows = q!(st::select_export_page(after.as_ref(), EXPORT_PAGE))
                    .fetch_all(&mut *conn)
                    .await?;
                let images = rows
                    .iter()
                    .map(|r| r.image(true))
                    .collect::<Result<Vec<_>, _>>()?;
                if images.is_empty() {
                    return Ok(Vec::new());
                }
                let ids: Vec<String> = images.iter().map(|i| i.id.as_str().to_owned()).collect();
                let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
                let mut members: Vec<Vec<CatalogMember>> = vec![Vec::new(); images.len()];
                for row in q!(st::select_members_of(&refs))
                    .fetch_all(&mut *conn)
                    .await?
                {
                    let image_id: String = row.try_get("image_id")?;
                    let m = CatalogMember {
                        member: row.try_get("member")?,
                        can_share: row.try_get("can_share")?,
                        created_at: row
                            .ts_opt("created_at")?
                            .ok_or_else(|| Error::Internal("member without created_at".into()))?,
                        updated_at: row
                            .ts_opt("updated_at")?
                            .ok_or_else(|| Error::Internal("member without updated_at".into()))?,
                    };
                    if let Ok(n) = ids.binary_search(&image_id) {
                        members[n].push(m);
                    }
                }
                Ok(images
                    .into_iter()
                    .zip(members)
                    .map(|(image, members)| CatalogRecord {
                        version: image.version,
                        image,
                        members,
                    })
                    .collect())
            }

            pub async fn import_batch(pool: &Pool, records: &[CatalogRecord]) -> Result<()> {
                let mut tx = pool.begin_with($begin_write).await?;
                for rec in records {
                    let mut image = rec.image.clone();
                    image.version = rec.version;
                    q!(st::insert_image(B, &image)?)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| {
                            let e = Error::from(e);
                            match e {
                                Error::Conflict(_) => Error::Conflict(format!(
                                    "image {} already exists in the target database",
                                    image.id
                                )),
                                other => other,
                            }
                        })?;
                    if let Some(ins) = st::insert_properties(&image.id, &image.properties) {
                        q!(ins).execute(&mut *tx).await?;
                    }
                    for m in &rec.members {
                        q!(st::insert_member_row(B, &image.id, m))
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }
        }
    };
}

maintenance_ops!(
    sqlite,
    sqlx::Sqlite,
    sea_query::SqliteQueryBuilder,
    Backend::Sqlite,
    "BEGIN IMMEDIATE"
);
maintenance_ops!(
    postgres,
    sqlx::Postgres,
    sea_query::PostgresQueryBuilder,
    Backend::Postgres,
    "BEGIN"
);
maintenance_ops!(
    mysql,
    sqlx::MySql,
    sea_query::MysqlQueryBuilder,
    Backend::MySql,
    "BEGIN"
);

macro_rules! on_backend {
    ($self:ident, $op:ident ( $($arg:expr),* )) => {
        match &$self.pools {
            Pools::Sqlite { write, .. } => sqlite::$op(write, $($arg),*).await,
            Pools::Postgres(p) => postgres::$op(p, $($arg),*).await,
            Pools::MySql(p) => mysql::$op(p, $($arg),*).await,
        }
    };
}

impl SqlStore {
    /// Permanently removes images soft-deleted before `cutoff`, with their properties and
    /// memberships, in batches of [`PURGE_BATCH`]; with `dry_run`, only counts them.
    pub async fn purge_deleted(&self, cutoff: Timestamp, dry_run: bool) -> Result<u64> {
        on_backend!(self, purge(cutoff, dry_run))
    }

    /// Writes the whole catalog as JSON lines, in id order, to `out`.
    pub async fn export(&self, out: &mut (dyn std::io::Write + Send)) -> Result<u64> {
        let mut after: Option<ImageId> = None;
        let mut count = 0u64;
        loop {
            let page = on_backend!(self, export_page(after.clone()))?;
            let Some(last) = page.last() else {
                return Ok(count);
            };
            after = Some(last.image.id.clone());
            for rec in &page {
                let line =
                    serde_json::to_string(rec).map_err(|e| Error::Internal(e.to_string()))?;
                writeln!(out, "{line}")
                    .map_err(|e| Error::Internal(format!("cannot write export: {e}")))?;
                count += 1;
            }
        }
    }

    /// Reads a catalog export and inserts it, a batch of images per transaction. An image
    /// that already exists stops the import with a 409-style error naming it. `progress` is
    /// told the running count after every batch (a million images take minutes).
    pub async fn import<R: std::io::BufRead>(
        &self,
        input: R,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64> {
        let mut batch = Vec::with_capacity(200);
        let mut count = 0u64;
        for (n, line) in input.lines().enumerate() {
            let line = line.map_err(|e| Error::bad_request(format!("cannot read import: {e}")))?;
            if line.trim().is_empty() {
                continue;
            }
            let rec: CatalogRecord = serde_json::from_str(&line).map_err(|e| {
                Error::bad_request(format!("line {}: not a catalog record: {e}", n + 1))
            })?;
            batch.push(rec);
            if batch.len() == 200 {
                on_backend!(self, import_batch(&batch))?;
                count += batch.len() as u64;
                batch.clear();
                progress(count);
            }
        }
        if !batch.is_empty() {
            on_backend!(self, import_batch(&batch))?;
            count += batch.len() as u64;
        }
        Ok(count)
    }
}
