//! Database maintenance over any [`Engine`]: purging old soft-deleted images, exporting and
//! importing the whole catalog, migrations and planner statistics.

use super::catalog::SqlCatalog;
use super::engine::{Engine, Planning, Session};
use super::rows::{ExportMemberRow, ImageRow, TextRow};
use super::statements as st;
use crate::domain::{ImageId, Timestamp};
use crate::error::{Error, Result};
use crate::storage::export::{CatalogMember, CatalogRecord};

/// Rows per purge transaction: small enough that the server's writers never wait long.
pub const PURGE_BATCH: u64 = 500;
/// Images per export query.
const EXPORT_PAGE: u64 = 500;
/// Images per import transaction.
const IMPORT_BATCH: usize = 200;

impl<E: Engine> SqlCatalog<E> {
    /// Applies the embedded migrations of this engine.
    pub async fn migrate(&self) -> Result<()> {
        self.engine.migrate().await
    }

    /// Applied and pending migrations: (version, description, applied).
    pub async fn migration_status(&self) -> Result<Vec<(i64, String, bool)>> {
        let applied = self.engine.applied_migrations().await?;
        Ok(self
            .engine
            .migrations()
            .into_iter()
            .map(|(version, description)| (version, description, applied.contains(&version)))
            .collect())
    }

    /// Refreshes the planner's statistics, so that it picks the right index for each filter
    /// as the catalog grows (PostgreSQL's autovacuum may be off; SQLite never analyzes by
    /// itself). For `db analyze`; a running server uses [`Self::refresh_statistics`].
    pub async fn analyze(&self) -> Result<()> {
        Ok(self.engine.analyze().await?)
    }

    /// The periodic statistics refresh of a running server: cheap when nothing changed.
    pub async fn refresh_statistics(&self) -> Result<()> {
        Ok(self.engine.refresh_statistics().await?)
    }

    /// After a bulk load (`db import`): planner statistics, and whatever else the engine
    /// does once after a load.
    pub async fn settle_after_import(&self) -> Result<()> {
        Ok(self.engine.settle_after_import().await?)
    }

    pub async fn close(&self) {
        self.engine.close().await
    }

    /// Permanently removes images soft-deleted before `cutoff`, with their properties and
    /// memberships, in batches of [`PURGE_BATCH`]; with `dry_run`, only counts them.
    pub async fn purge_deleted(&self, cutoff: Timestamp, dry_run: bool) -> Result<u64> {
        let mut total = 0u64;
        loop {
            let mut tx = self.engine.begin_write().await?;
            let limit = if dry_run { u64::MAX / 2 } else { PURGE_BATCH };
            let select = E::render(&st::select_purgeable(E::BACKEND, cutoff, limit));
            let ids = tx.fetch(select, Planning::Cached, &TextRow).await?;
            if dry_run || ids.is_empty() {
                tx.rollback().await?;
                return Ok(total + if dry_run { ids.len() as u64 } else { 0 });
            }
            let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
            tx.execute(E::render(&st::delete_properties_of(&refs)))
                .await?;
            tx.execute(E::render(&st::delete_tags_of(&refs))).await?;
            tx.execute(E::render(&st::delete_members_of(&refs))).await?;
            tx.execute(E::render(&st::delete_images(&refs))).await?;
            tx.commit().await?;
            total += ids.len() as u64;
            // Let the server's writers in between batches.
            tokio::task::yield_now().await;
        }
    }

    /// Writes the whole catalog as JSON lines, in id order, to `out`.
    pub async fn export(&self, out: &mut (dyn std::io::Write + Send)) -> Result<u64> {
        let mut after: Option<ImageId> = None;
        let mut count = 0u64;
        loop {
            let page = self.export_page(after.as_ref()).await?;
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

    /// One page of the export: images after `after` in id order, with their memberships.
    async fn export_page(&self, after: Option<&ImageId>) -> Result<Vec<CatalogRecord>> {
        let mut s = self.engine.read().await?;
        let all = ImageRow {
            with_properties: true,
        };
        let select = E::render(&st::select_export_page(after, EXPORT_PAGE));
        let images = s.fetch(select, Planning::Cached, &all).await?;
        if images.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = images.iter().map(|i| i.id.as_str()).collect();
        let mut members: Vec<Vec<CatalogMember>> = vec![Vec::new(); images.len()];
        let select = E::render(&st::select_members_of(&ids));
        for (image_id, m) in s.fetch(select, Planning::Cached, &ExportMemberRow).await? {
            if let Ok(n) = ids.binary_search(&image_id.as_str()) {
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

    /// Reads a catalog export and inserts it, a batch of images per transaction. An image
    /// that already exists stops the import with a 409-style error naming it. `progress` is
    /// told the running count after every batch (a million images take minutes).
    pub async fn import<R: std::io::BufRead>(
        &self,
        input: R,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64> {
        let mut batch = Vec::with_capacity(IMPORT_BATCH);
        let mut count = 0u64;
        for (n, line) in input.lines().enumerate() {
            let line = line.map_err(|e| Error::bad_request(format!("cannot read import: {e}")))?;
            if line.trim().is_empty() {
                continue;
            }
            let rec = CatalogRecord::from_line(&line).map_err(|e| {
                Error::bad_request(format!("line {}: not a catalog record: {e}", n + 1))
            })?;
            batch.push(rec);
            if batch.len() == IMPORT_BATCH {
                self.import_batch(&batch).await?;
                count += batch.len() as u64;
                batch.clear();
                progress(count);
            }
        }
        if !batch.is_empty() {
            self.import_batch(&batch).await?;
            count += batch.len() as u64;
        }
        Ok(count)
    }

    async fn import_batch(&self, records: &[CatalogRecord]) -> Result<()> {
        let mut tx = self.engine.begin_write().await?;
        for rec in records {
            let mut image = rec.image.clone();
            image.version = rec.version;
            let insert = E::render(&st::insert_image(E::BACKEND, &image)?);
            tx.execute(insert).await.map_err(|e| match Error::from(e) {
                Error::Conflict(_) => Error::Conflict(format!(
                    "image {} already exists in the target database",
                    image.id
                )),
                other => other,
            })?;
            if let Some(ins) = st::insert_properties(E::BACKEND, &image) {
                tx.execute(E::render(&ins)).await?;
            }
            if let Some(ins) = st::insert_tags(&image.id, &image.tags) {
                tx.execute(E::render(&ins)).await?;
            }
            for m in &rec.members {
                tx.execute(E::render(&st::insert_member_row(E::BACKEND, &image.id, m)))
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}
