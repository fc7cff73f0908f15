//! Persistence. The rest of glimpse sees only the [`Catalog`] trait; the SQL engines
//! (SQLite, PostgreSQL, MySQL/MariaDB) live behind it in [`sql`], chosen once at start-up.

pub mod export;
pub mod sql;

use crate::domain::member::{MemberGrant, Membership, SharedImage};
use crate::domain::query::{ListQuery, Visibility};
use crate::domain::{Caller, Image, ImageId, MemberStatus, Timestamp};
use crate::error::Result;
use std::future::Future;

/// Computes an image's next state from its current one, or refuses with an error. The store
/// calls it inside the write transaction and may call it again if the image changed meanwhile,
/// so it must be a pure function of its input.
pub trait Edit: Fn(&Image) -> Result<Image> + Send + Sync {}
impl<F: Fn(&Image) -> Result<Image> + Send + Sync> Edit for F {}

/// Connection gauges, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections open now.
    pub open: u32,
    /// Of those, connections free for the next operation.
    pub idle: usize,
    /// The most connections there can be.
    pub max: u32,
}

/// Everything the use cases need from the image catalog.
pub trait Catalog: Send + Sync + 'static {
    /// Is the database reachable? (`/readyz`)
    fn ping(&self) -> impl Future<Output = Result<()>> + Send;

    /// Inserts a new image with its properties; `Conflict` if the id exists (even deleted).
    fn create_image(&self, image: &Image) -> impl Future<Output = Result<()>> + Send;

    /// One image with its properties, if it exists and `visibility` lets the caller see it.
    fn get_image(
        &self,
        id: &ImageId,
        visibility: &Visibility,
    ) -> impl Future<Output = Result<Option<Image>>> + Send;

    /// One page of images in the query's total order, after its marker. `NotFound`-free: an
    /// unknown or invisible marker is a `BadRequest`.
    fn list_images(
        &self,
        query: &ListQuery,
        with_properties: bool,
    ) -> impl Future<Output = Result<Vec<Image>>> + Send;

    /// Reads the image, applies `edit`, and writes the result atomically with its properties,
    /// only if nobody changed the image in between (compare-and-set on its version).
    fn update_image<E: Edit>(
        &self,
        id: &ImageId,
        visibility: &Visibility,
        edit: E,
    ) -> impl Future<Output = Result<Image>> + Send;

    /// Soft-deletes the image after `check` approves its current state: the row stays (for
    /// `changes-since`), its properties and memberships go.
    fn delete_image<E: Edit>(
        &self,
        id: &ImageId,
        visibility: &Visibility,
        check: E,
    ) -> impl Future<Output = Result<Image>> + Send;

    /// The memberships of an image; with `only_member`, just that member's.
    fn list_members(
        &self,
        id: &ImageId,
        only_member: Option<&str>,
    ) -> impl Future<Output = Result<Vec<Membership>>> + Send;

    /// Adds or updates one membership (`can_share: None` keeps an existing flag, false for new).
    fn upsert_member(
        &self,
        id: &ImageId,
        member: &str,
        can_share: Option<bool>,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Removes one membership; false if there was none. `touch` moves the image's version
    /// and `updated_at` with it (v1).
    fn remove_member(
        &self,
        id: &ImageId,
        member: &str,
        touch: bool,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Adds a pending membership: `Conflict` if the project is a member already, `TooLarge`
    /// if the image has `max` members.
    fn add_member(
        &self,
        id: &ImageId,
        member: &str,
        max: usize,
    ) -> impl Future<Output = Result<Membership>> + Send;

    /// Records a member project's answer; `None` if it is not a member.
    fn set_member_status(
        &self,
        id: &ImageId,
        member: &str,
        status: MemberStatus,
    ) -> impl Future<Output = Result<Option<Membership>>> + Send;

    /// Replaces all memberships of an image at once; a grant that leaves `can_share` unsaid
    /// keeps the member's current flag, read in the same transaction as the write.
    fn replace_members(
        &self,
        id: &ImageId,
        grants: &[MemberGrant],
    ) -> impl Future<Output = Result<()>> + Send;

    /// How many images there are by status (deleted ones counted as `deleted`).
    fn image_counts(&self) -> impl Future<Output = Result<Vec<(String, i64)>>> + Send;

    /// Connection gauges.
    fn pool_stats(&self) -> PoolStats;

    /// Up to `limit` live images that have stored data (active or deactivated, with a
    /// location), in id order after `after`: `store scrub` walks them.
    fn images_with_data(
        &self,
        after: Option<&ImageId>,
        limit: u64,
    ) -> impl Future<Output = Result<Vec<ImageId>>> + Send;

    /// Up to `limit` live images in `saving` whose upload last reported progress before
    /// `cutoff` (its instance died or lost the connection).
    fn stale_uploads(
        &self,
        cutoff: Timestamp,
        limit: u64,
    ) -> impl Future<Output = Result<Vec<ImageId>>> + Send;

    /// Live images shared with `member` that `caller` may know about.
    fn shared_images(
        &self,
        member: &str,
        caller: &Caller,
    ) -> impl Future<Output = Result<Vec<SharedImage>>> + Send;
}
