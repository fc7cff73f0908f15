//! The catalog's algorithms, written once over any [`Engine`]: the reads, the list with its
//! property probes, and each write as one [`writes`](super::writes) transaction.

use super::coalesced_reads::CoalescedReads;
use super::engine::{DbError, Engine, Planning, Session};
use super::filter;
use super::plan_hints::FrequentValues;
use super::point_read::PointReads;
use super::rows::{AnyRow, CountRow, ImageRow, MemberRow, SharedRow, TextRow};
use super::statements as st;
use super::writes::{self, write_tx};
use crate::domain::member::{MemberGrant, Membership, SharedImage};
use crate::domain::query::{ListQuery, Visibility};
use crate::domain::{Caller, Image, ImageId, MemberStatus, Timestamp};
use crate::error::{Error, Result};
use crate::storage::{Catalog, Edit, PoolStats};
use std::sync::Arc;
use std::time::Instant;

/// A property filter matching at most this many images drives the list query.
const SELECTIVE: u64 = 2000;

/// The catalog on one engine.
pub struct SqlCatalog<E> {
    pub(super) engine: Arc<E>,
    /// Property values recently found frequent: their plan needs no probe.
    pub(super) frequent: Arc<FrequentValues>,
    point_reads: Arc<PointReads>,
    /// Point reads gone together, on the engines where that pays ([`Engine::COALESCES_READS`]).
    coalesced: Arc<CoalescedReads>,
}

impl<E> Clone for SqlCatalog<E> {
    fn clone(&self) -> Self {
        SqlCatalog {
            engine: Arc::clone(&self.engine),
            frequent: Arc::clone(&self.frequent),
            point_reads: Arc::clone(&self.point_reads),
            coalesced: Arc::clone(&self.coalesced),
        }
    }
}

impl<E: Engine> SqlCatalog<E> {
    pub fn new(engine: E) -> Self {
        SqlCatalog {
            engine: Arc::new(engine),
            frequent: Default::default(),
            point_reads: Default::default(),
            coalesced: Default::default(),
        }
    }

    pub fn engine(&self) -> &E {
        &self.engine
    }

    /// The point-read queries sent so far on an engine that coalesces them.
    #[cfg(test)]
    pub fn coalesced_queries(&self) -> u64 {
        self.coalesced.queries()
    }
}

/// The answer to a marker that names no image the caller could page through.
fn invalid_marker() -> Error {
    Error::bad_request("Invalid marker: no image with that id is visible to you")
}

/// Probes each property filter in the property index, reading at most [`SELECTIVE`] + 1
/// entries: a filter with at most [`SELECTIVE`] matches drives the query from those matches,
/// a more frequent one is checked while walking the sort index (where a page fills quickly).
/// Either way a page costs about O(SELECTIVE), whatever the catalog size. `None`: some filter
/// matches nothing. A value recently found frequent is not probed again (see
/// [`FrequentValues`]).
async fn probe_selectivity<E: Engine>(
    session: &mut E::Session,
    query: &ListQuery,
    frequent: &FrequentValues,
) -> Result<Option<Vec<bool>>, DbError> {
    let mut flags = Vec::with_capacity(query.filters.properties.len());
    for (name, value) in &query.filters.properties {
        if frequent.is_frequent(name, value) {
            flags.push(false);
            continue;
        }
        let probe = st::probe_property(E::BACKEND, name, value, SELECTIVE + 1);
        let n = session
            .fetch(E::render(&probe), Planning::Cached, &AnyRow)
            .await?
            .len() as u64;
        let Some(flag) = frequent.verdict(name, value, n, SELECTIVE) else {
            return Ok(None);
        };
        flags.push(flag);
    }
    Ok(Some(flags))
}

/// Runs one catalog operation counted in the in-flight gauge and timed into the
/// `glimpse_db_operation_duration_seconds` histogram under `op`.
async fn timed<T>(op: &'static str, work: impl std::future::Future<Output = T>) -> T {
    let started = Instant::now();
    let _in_flight = crate::metrics::db_op_started();
    let result = work.await;
    crate::metrics::record_db(op, started.elapsed());
    result
}

impl<E: Engine> Catalog for SqlCatalog<E> {
    async fn ping(&self) -> Result<()> {
        timed("ping", async { Ok(self.engine.ping().await?) }).await
    }

    async fn create_image(&self, image: &Image) -> Result<()> {
        timed(
            "create_image",
            write_tx(&*self.engine, &writes::CreateImage(image)),
        )
        .await
    }

    async fn get_image(&self, id: &ImageId, vis: &Visibility) -> Result<Option<Image>> {
        timed("get_image", async {
            if E::COALESCES_READS {
                return Ok(self.coalesced.read(&self.engine, id, vis).await?);
            }
            let mut s = self.engine.read().await?;
            let sql = self.point_reads.statement::<E>(id, vis);
            let row = ImageRow {
                with_properties: true,
            };
            Ok(s.fetch(sql, Planning::Cached, &row).await?.pop())
        })
        .await
    }

    /// The marker, then (unless the page is empty anyway) the property probes, then the
    /// page: a fixed number of statements, each its own snapshot.
    async fn list_images(&self, query: &ListQuery, with_properties: bool) -> Result<Vec<Image>> {
        timed("list_images", async {
            let mut s = self.engine.read().await?;
            let marker = match &query.marker {
                None => None,
                Some(m) => {
                    let sel = E::render(&st::select_marker(m, query));
                    let brief = ImageRow {
                        with_properties: false,
                    };
                    let found = s.fetch(sel, Planning::Cached, &brief).await?.pop();
                    Some(found.ok_or_else(invalid_marker)?)
                }
            };
            if query.limit == 0 {
                return Ok(Vec::new());
            }
            // A page that walks the sorted property index needs no probe: it reads as many
            // entries as the page holds (or finds none).
            let selective = if filter::sorted_property(query).is_some() {
                vec![false]
            } else {
                let probed = probe_selectivity::<E>(&mut s, query, &self.frequent).await?;
                let Some(selective) = probed else {
                    return Ok(Vec::new());
                };
                selective
            };
            let page = st::list_images(E::BACKEND, query, marker.as_ref(), &selective);
            let rows = ImageRow { with_properties };
            let planning = if filter::plan_fits_every_value(query) {
                Planning::Cached
            } else {
                Planning::PerValues
            };
            Ok(s.fetch(E::render(&page), planning, &rows).await?)
        })
        .await
    }

    async fn update_image<F: Edit>(
        &self,
        id: &ImageId,
        vis: &Visibility,
        edit: F,
    ) -> Result<Image> {
        let attempt = writes::UpdateImage { id, vis, edit };
        timed("update_image", write_tx(&*self.engine, &attempt)).await
    }

    async fn delete_image<F: Edit>(
        &self,
        id: &ImageId,
        vis: &Visibility,
        check: F,
    ) -> Result<Image> {
        let attempt = writes::DeleteImage { id, vis, check };
        timed("delete_image", write_tx(&*self.engine, &attempt)).await
    }

    async fn list_members(
        &self,
        id: &ImageId,
        only_member: Option<&str>,
    ) -> Result<Vec<Membership>> {
        timed("list_members", async {
            let mut s = self.engine.read().await?;
            let sql = E::render(&st::select_members(id, only_member));
            Ok(s.fetch(sql, Planning::Cached, &MemberRow).await?)
        })
        .await
    }

    async fn upsert_member(
        &self,
        id: &ImageId,
        member: &str,
        can_share: Option<bool>,
    ) -> Result<()> {
        let attempt = writes::UpsertMember {
            id,
            member,
            can_share,
        };
        timed("upsert_member", write_tx(&*self.engine, &attempt)).await
    }

    async fn remove_member(&self, id: &ImageId, member: &str, touch: bool) -> Result<bool> {
        let attempt = writes::RemoveMember { id, member, touch };
        timed("remove_member", write_tx(&*self.engine, &attempt)).await
    }

    async fn add_member(&self, id: &ImageId, member: &str, max: usize) -> Result<Membership> {
        let attempt = writes::AddMember { id, member, max };
        timed("add_member", write_tx(&*self.engine, &attempt)).await
    }

    async fn set_member_status(
        &self,
        id: &ImageId,
        member: &str,
        status: MemberStatus,
    ) -> Result<Option<Membership>> {
        let attempt = writes::SetMemberStatus { id, member, status };
        timed("set_member_status", write_tx(&*self.engine, &attempt)).await
    }

    async fn replace_members(&self, id: &ImageId, grants: &[MemberGrant]) -> Result<()> {
        let attempt = writes::ReplaceMembers { id, grants };
        timed("replace_members", write_tx(&*self.engine, &attempt)).await
    }

    async fn image_counts(&self) -> Result<Vec<(String, i64)>> {
        timed("image_counts", async {
            let mut s = self.engine.read().await?;
            let sql = E::render(&st::count_by_status());
            Ok(s.fetch(sql, Planning::Cached, &CountRow).await?)
        })
        .await
    }

    fn pool_stats(&self) -> PoolStats {
        self.engine.pool_stats()
    }

    async fn images_with_data(&self, after: Option<&ImageId>, limit: u64) -> Result<Vec<ImageId>> {
        timed("images_with_data", async {
            let mut s = self.engine.read().await?;
            let sql = E::render(&st::select_images_with_data(after, limit));
            let ids = s.fetch(sql, Planning::Cached, &TextRow).await?;
            Ok(ids.iter().filter_map(|id| ImageId::parse(id)).collect())
        })
        .await
    }

    async fn stale_uploads(&self, cutoff: Timestamp, limit: u64) -> Result<Vec<ImageId>> {
        timed("stale_uploads", async {
            let mut s = self.engine.read().await?;
            let sql = E::render(&st::select_stale_uploads(E::BACKEND, cutoff, limit));
            let ids = s.fetch(sql, Planning::Cached, &TextRow).await?;
            Ok(ids.iter().filter_map(|id| ImageId::parse(id)).collect())
        })
        .await
    }

    async fn shared_images(&self, member: &str, caller: &Caller) -> Result<Vec<SharedImage>> {
        timed("shared_images", async {
            let mut s = self.engine.read().await?;
            let stmt = st::select_shared(member, caller.owner.as_deref(), caller.is_admin);
            Ok(s.fetch(E::render(&stmt), Planning::Cached, &SharedRow)
                .await?)
        })
        .await
    }
}
