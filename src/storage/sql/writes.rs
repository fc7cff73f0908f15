//! The writes, written once over any [`Engine`]: each is one transaction ([`write_tx`])
//! retried as a whole; a change to an image goes through one compare-and-set on its version
//! ([`compare_and_set`]).

use super::engine::{DbError, Engine, Planning, Session};
use super::rows::{ImageRow, MemberRow, TextRow};
use super::statements as st;
use crate::domain::member::{MemberGrant, Membership, resolve_grants};
use crate::domain::query::Visibility;
use crate::domain::{Image, ImageId, MemberStatus, Timestamp};
use crate::error::{Error, Result};
use crate::storage::Edit;
use std::future::Future;

/// How many times a write transaction is retried after a deadlock, a serialization failure or
/// a concurrent change, before the caller gets a 409/503.
const WRITE_ATTEMPTS: usize = 8;

/// A failed attempt: a database error (maybe retryable) or a rule the edit refused.
pub enum Fail {
    Db(DbError),
    Rule(Error),
    /// The row changed between our read and our write: read again.
    Raced,
}

impl From<DbError> for Fail {
    fn from(e: DbError) -> Self {
        Fail::Db(e)
    }
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail::Rule(e)
    }
}

/// How an attempt wants its transaction ended.
pub enum Done<T> {
    Commit(T),
    /// Nothing changed that should show (a version bump for a no-op): undo it.
    Rollback(T),
}

/// The statements of one write transaction. It may run more than once (see [`write_tx`]), so
/// it must not change anything outside the transaction.
pub trait WriteAttempt<E: Engine>: Sync {
    type Out: Send;
    fn run(
        &self,
        tx: &mut E::Session,
    ) -> impl Future<Output = Result<Done<Self::Out>, Fail>> + Send;
}

/// Runs `attempt` in a write transaction until it succeeds, fails for good, or runs out of
/// tries; a retryable database error or a lost compare-and-set starts it over, after a
/// short, growing pause. A transaction that fails is rolled back (its session dropped).
pub async fn write_tx<E: Engine, A: WriteAttempt<E>>(engine: &E, attempt: &A) -> Result<A::Out> {
    for n in 0..WRITE_ATTEMPTS {
        let outcome = async {
            let mut tx = engine.begin_write().await?;
            match attempt.run(&mut tx).await? {
                Done::Commit(v) => {
                    tx.commit().await?;
                    Ok(v)
                }
                Done::Rollback(v) => {
                    tx.rollback().await?;
                    Ok(v)
                }
            }
        }
        .await;
        match outcome {
            Ok(v) => return Ok(v),
            Err(Fail::Rule(e)) => return Err(e),
            Err(Fail::Db(e)) if e.is_retryable() && n + 1 < WRITE_ATTEMPTS => {
                tracing::debug!(error = %e, attempt = n, "retrying write transaction");
            }
            Err(Fail::Db(e)) => return Err(e.into()),
            Err(Fail::Raced) => {}
        }
        tokio::time::sleep(std::time::Duration::from_millis(2 << n.min(6))).await;
    }
    Err(Error::Conflict(
        "The image is being changed by others right now; retry the request".into(),
    ))
}

/// The compare-and-set step of a write: reads the image (locking its row where the engine
/// locks rows), computes its next state with `edit`, and writes every column only if the
/// row still has the version that was read. Returns (current, next).
async fn compare_and_set<E: Engine>(
    tx: &mut E::Session,
    id: &ImageId,
    vis: &Visibility,
    edit: impl Fn(&Image) -> Result<Image>,
) -> Result<(Image, Image), Fail> {
    let mut read = st::select_image(id, vis);
    if E::LOCKS_ROWS {
        read.lock(sea_query::LockType::Update);
    }
    let with_properties = ImageRow {
        with_properties: true,
    };
    let current = tx
        .fetch(E::render(&read), Planning::Cached, &with_properties)
        .await?
        .pop()
        .ok_or_else(Error::image_not_found)?;
    let next = edit(&current)?;
    let update = st::update_image(E::BACKEND, &current, &next)?;
    if tx.execute(E::render(&update)).await? != 1 {
        return Err(Fail::Raced);
    }
    Ok((current, next))
}

/// Inserts a new image with its properties.
pub struct CreateImage<'a>(pub &'a Image);

impl<E: Engine> WriteAttempt<E> for CreateImage<'_> {
    type Out = ();

    async fn run(&self, tx: &mut E::Session) -> Result<Done<()>, Fail> {
        let image = self.0;
        tx.execute(E::render(&st::insert_image(E::BACKEND, image)?))
            .await?;
        if let Some(ins) = st::insert_properties(E::BACKEND, image) {
            tx.execute(E::render(&ins)).await?;
        }
        if let Some(ins) = st::insert_tags(&image.id, &image.tags) {
            tx.execute(E::render(&ins)).await?;
        }
        Ok(Done::Commit(()))
    }
}

/// Applies an edit to an image; its property rows are rewritten only if they changed.
pub struct UpdateImage<'a, F> {
    pub id: &'a ImageId,
    pub vis: &'a Visibility,
    pub edit: F,
}

impl<E: Engine, F: Edit> WriteAttempt<E> for UpdateImage<'_, F> {
    type Out = Image;

    async fn run(&self, tx: &mut E::Session) -> Result<Done<Image>, Fail> {
        let (current, next) = compare_and_set::<E>(tx, self.id, self.vis, &self.edit).await?;
        // The property rows carry copies of the image's created_at and visibility: all are
        // rewritten when one of those changes, else only the rows of changed properties.
        if next.created_at != current.created_at || next.visibility != current.visibility {
            tx.execute(E::render(&st::delete_properties(&next.id)))
                .await?;
            if let Some(ins) = st::insert_properties(E::BACKEND, &next) {
                tx.execute(E::render(&ins)).await?;
            }
        } else if next.properties != current.properties {
            let changed = |name: &str| next.properties.get(name) != current.properties.get(name);
            let gone: Vec<&str> = current
                .properties
                .keys()
                .map(String::as_str)
                .filter(|k| changed(k))
                .collect();
            if !gone.is_empty() {
                tx.execute(E::render(&st::delete_some_properties(&next.id, &gone)))
                    .await?;
            }
            if let Some(ins) = st::insert_some_properties(E::BACKEND, &next, changed) {
                tx.execute(E::render(&ins)).await?;
            }
        }
        if next.tags != current.tags {
            tx.execute(E::render(&st::delete_tags(&next.id))).await?;
            if let Some(ins) = st::insert_tags(&next.id, &next.tags) {
                tx.execute(E::render(&ins)).await?;
            }
        }
        Ok(Done::Commit(next))
    }
}

/// Soft-deletes an image once `check` approves: the row stays, properties and tags go, and
/// its memberships become tombstones.
pub struct DeleteImage<'a, F> {
    pub id: &'a ImageId,
    pub vis: &'a Visibility,
    pub check: F,
}

impl<E: Engine, F: Edit> WriteAttempt<E> for DeleteImage<'_, F> {
    type Out = Image;

    async fn run(&self, tx: &mut E::Session) -> Result<Done<Image>, Fail> {
        let soft_delete = |current: &Image| {
            let mut next = (self.check)(current)?;
            next.properties.clear();
            next.tags.clear();
            Ok(next)
        };
        let (_, next) = compare_and_set::<E>(tx, self.id, self.vis, soft_delete).await?;
        tx.execute(E::render(&st::delete_properties(self.id)))
            .await?;
        tx.execute(E::render(&st::delete_tags(self.id))).await?;
        let members_gone = st::delete_members(E::BACKEND, self.id, None, Timestamp::now());
        tx.execute(E::render(&members_gone)).await?;
        Ok(Done::Commit(next))
    }
}

/// Adds or updates one membership; the image's version moves with it.
pub struct UpsertMember<'a> {
    pub id: &'a ImageId,
    pub member: &'a str,
    pub can_share: Option<bool>,
}

impl<E: Engine> WriteAttempt<E> for UpsertMember<'_> {
    type Out = ();

    async fn run(&self, tx: &mut E::Session) -> Result<Done<()>, Fail> {
        let now = Timestamp::now();
        // The image row first, then memberships: the lock order of image updates.
        tx.execute(E::render(&st::touch_image(E::BACKEND, self.id, now)))
            .await?;
        let upsert = st::upsert_member(E::BACKEND, self.id, self.member, self.can_share, now);
        tx.execute(E::render(&upsert)).await?;
        Ok(Done::Commit(()))
    }
}

/// Removes one membership: true if there was one. With `touch` the image's version and
/// `updated_at` move (v1); v2 member calls leave the image alone.
pub struct RemoveMember<'a> {
    pub id: &'a ImageId,
    pub member: &'a str,
    pub touch: bool,
}

impl<E: Engine> WriteAttempt<E> for RemoveMember<'_> {
    type Out = bool;

    async fn run(&self, tx: &mut E::Session) -> Result<Done<bool>, Fail> {
        let now = Timestamp::now();
        if self.touch {
            tx.execute(E::render(&st::touch_image(E::BACKEND, self.id, now)))
                .await?;
        }
        let gone = st::delete_members(E::BACKEND, self.id, Some(self.member), now);
        if tx.execute(E::render(&gone)).await? == 0 {
            // Nothing changed: leave the version alone.
            return Ok(Done::Rollback(false));
        }
        Ok(Done::Commit(true))
    }
}

/// Replaces all memberships of an image; those that stay keep their rows (and `created_at`).
/// Unsaid `can_share` flags are resolved against the rows read in this transaction, so a
/// concurrent change of a flag cannot be overwritten with a stale copy.
pub struct ReplaceMembers<'a> {
    pub id: &'a ImageId,
    pub grants: &'a [MemberGrant],
}

impl<E: Engine> WriteAttempt<E> for ReplaceMembers<'_> {
    type Out = ();

    async fn run(&self, tx: &mut E::Session) -> Result<Done<()>, Fail> {
        let now = Timestamp::now();
        tx.execute(E::render(&st::touch_image(E::BACKEND, self.id, now)))
            .await?;
        let select = E::render(&st::select_members(self.id, None));
        let existing = tx.fetch(select, Planning::Cached, &MemberRow).await?;
        let members = resolve_grants(self.grants.to_vec(), &existing);
        for old in &existing {
            if !members.iter().any(|m| m.member_id == old.member_id) {
                let gone = st::delete_members(E::BACKEND, self.id, Some(&old.member_id), now);
                tx.execute(E::render(&gone)).await?;
            }
        }
        for m in &members {
            let upsert =
                st::upsert_member(E::BACKEND, self.id, &m.member_id, Some(m.can_share), now);
            tx.execute(E::render(&upsert)).await?;
        }
        Ok(Done::Commit(()))
    }
}

/// Adds a v2 membership (pending): 409 if the project is a member already, 413 beyond `max`.
pub struct AddMember<'a> {
    pub id: &'a ImageId,
    pub member: &'a str,
    pub max: usize,
}

impl<E: Engine> WriteAttempt<E> for AddMember<'_> {
    type Out = Membership;

    async fn run(&self, tx: &mut E::Session) -> Result<Done<Membership>, Fail> {
        // Concurrent adds to one image queue on its row, so the count below stays true until
        // this insert commits (SQLite's single writer already serialises them).
        if E::LOCKS_ROWS {
            let mut lock = st::select_image_id(self.id);
            lock.lock(sea_query::LockType::Update);
            tx.fetch(E::render(&lock), Planning::Cached, &TextRow)
                .await?;
        }
        let select = E::render(&st::select_members(self.id, None));
        let existing = tx.fetch(select, Planning::Cached, &MemberRow).await?;
        if existing.iter().any(|m| m.member_id == self.member) {
            return Err(Error::Conflict(format!(
                "Member {} already exists for this image",
                self.member
            ))
            .into());
        }
        if existing.len() >= self.max {
            return Err(Error::TooLarge(format!(
                "Maximum number of image members exceeded: at most {} are allowed",
                self.max
            ))
            .into());
        }
        let now = Timestamp::now();
        let revive = st::revive_member(E::BACKEND, self.id, self.member, now);
        if tx.execute(E::render(&revive)).await? == 0 {
            let insert = st::insert_member(E::BACKEND, self.id, self.member, now);
            tx.execute(E::render(&insert)).await?;
        }
        Ok(Done::Commit(Membership {
            member_id: self.member.to_owned(),
            can_share: false,
            status: MemberStatus::Pending,
            created_at: Some(now),
            updated_at: Some(now),
        }))
    }
}

/// Sets a member's status; `None` if the project is not a member.
pub struct SetMemberStatus<'a> {
    pub id: &'a ImageId,
    pub member: &'a str,
    pub status: MemberStatus,
}

impl<E: Engine> WriteAttempt<E> for SetMemberStatus<'_> {
    type Out = Option<Membership>;

    async fn run(&self, tx: &mut E::Session) -> Result<Done<Option<Membership>>, Fail> {
        let now = Timestamp::now();
        let update = st::update_member_status(E::BACKEND, self.id, self.member, self.status, now);
        if tx.execute(E::render(&update)).await? == 0 {
            return Ok(Done::Rollback(None));
        }
        let select = E::render(&st::select_members(self.id, Some(self.member)));
        let row = tx.fetch(select, Planning::Cached, &MemberRow).await?.pop();
        Ok(Done::Commit(row))
    }
}
