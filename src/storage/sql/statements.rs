//! The SQL statements of the registry, built once with sea-query and rendered per backend.

use super::Backend;
use super::filter;
use super::rows::{encode_properties, encode_tags};
use super::schema::*;
use crate::domain::image::Tags;
use crate::domain::query::{DeletedScope, ListQuery, Visibility};
use crate::domain::{Image, ImageId, MemberStatus, Timestamp};
use crate::error::Result;
use sea_query::{
    DeleteStatement, Expr, ExprTrait, InsertStatement, OnConflict, Query, SelectStatement,
    SimpleExpr, UpdateStatement, Value,
};

/// Every column of an image but its id. The property map goes with the rest of the row, so it
/// can never disagree with the image it belongs to.
fn image_values(b: Backend, i: &Image) -> Result<Vec<(&'static str, SimpleExpr)>> {
    let v = |x: Value| -> SimpleExpr { x.into() };
    Ok(vec![
        (NAME, v(i.name.clone().into())),
        (STATUS, v(i.status.as_str().into())),
        (DISK_FORMAT, v(i.disk_format.clone().into())),
        (CONTAINER_FORMAT, v(i.container_format.clone().into())),
        (SIZE, v(i.size.into())),
        (VIRTUAL_SIZE, v(i.virtual_size.into())),
        (CHECKSUM, v(i.checksum.clone().into())),
        (MIN_DISK, v(i.min_disk.into())),
        (MIN_RAM, v(i.min_ram.into())),
        (VISIBILITY, v(i.visibility.as_str().into())),
        (PROTECTED, v(i.protected.into())),
        (OWNER, v(i.owner.clone().into())),
        (LOCATION, v(i.location.clone().into())),
        (CREATED_AT, v(b.ts(i.created_at))),
        (UPDATED_AT, v(b.ts(i.updated_at))),
        (DELETED_AT, v(b.ts_opt(i.deleted_at))),
        (DELETED, v(i.deleted.into())),
        (VERSION, v(i.version.into())),
        (PROPERTY_MAP, v(encode_properties(&i.properties)?.into())),
        (OS_HIDDEN, v(i.os_hidden.into())),
        (OS_HASH_ALGO, v(i.os_hash_algo.clone().into())),
        (OS_HASH_VALUE, v(i.os_hash_value.clone().into())),
        (TAG_LIST, v(encode_tags(&i.tags)?.into())),
        (DATA_CRC32, v(i.data_crc32.map(i64::from).into())),
    ])
}

pub fn insert_image(b: Backend, i: &Image) -> Result<InsertStatement> {
    let vals = image_values(b, i)?;
    let mut cols = vec![ID];
    cols.extend(vals.iter().map(|(c, _)| *c));
    let mut exprs: Vec<SimpleExpr> = vec![i.id.as_str().into()];
    exprs.extend(vals.into_iter().map(|(_, e)| e));
    Ok(Query::insert()
        .into_table(IMAGES)
        .columns(cols)
        .values_panic(exprs)
        .to_owned())
}

/// Writes the columns in which `next` differs from `current` (and the version), only if the
/// row still has `current`'s version. Only the indexes of those columns change: an update that
/// sets every column rewrites an entry in every index of the table.
pub fn update_image(b: Backend, current: &Image, next: &Image) -> Result<UpdateStatement> {
    let before = image_values(b, current)?;
    let changed = image_values(b, next)?
        .into_iter()
        .zip(before)
        .filter(|((column, now), (_, was))| *column == VERSION || now != was)
        .map(|(set, _)| set);
    Ok(Query::update()
        .table(IMAGES)
        .values(changed)
        .and_where(Expr::col(ID).eq(next.id.as_str()))
        .and_where(Expr::col(VERSION).eq(current.version))
        .to_owned())
}

/// Bumps the version (and `updated_at`) of an image whose memberships changed, so that its
/// ETag and `changes-since` see the change.
pub fn touch_image(b: Backend, id: &ImageId, now: Timestamp) -> UpdateStatement {
    Query::update()
        .table(IMAGES)
        .value(VERSION, Expr::col(VERSION).add(1))
        .value(UPDATED_AT, b.ts(now))
        .and_where(Expr::col(ID).eq(id.as_str()))
        .to_owned()
}

fn select_images() -> SelectStatement {
    Query::select()
        .columns(IMAGE_COLUMNS.map(|c| (IMAGES, c)))
        .from(IMAGES)
        .to_owned()
}

/// One image by id, if visible. Non-admins never see deleted rows this way.
pub fn select_image(id: &ImageId, vis: &Visibility) -> SelectStatement {
    let mut s = select_images();
    s.and_where(Expr::col((IMAGES, ID)).eq(id.as_str()));
    readable_as(&mut s, vis);
    s
}

/// The images among `ids` that [`select_image`] would read as `vis`, in no particular order.
pub fn select_images_by_id(ids: &[&ImageId], vis: &Visibility) -> SelectStatement {
    let mut s = select_images();
    s.and_where(Expr::col((IMAGES, ID)).is_in(ids.iter().map(|id| id.as_str())));
    readable_as(&mut s, vis);
    s
}

/// What a read of single images as `vis` may return.
fn readable_as(s: &mut SelectStatement, vis: &Visibility) {
    if let Some(v) = filter::visibility(vis) {
        s.cond_where(v);
    }
    if vis.is_restricted() {
        s.and_where(Expr::col((IMAGES, DELETED)).eq(false));
    }
}

/// The marker image of a list query: one this caller could page through (visible to them,
/// and for a non-admin not deleted unless the query lists deleted images too).
pub fn select_marker(marker: &ImageId, q: &ListQuery) -> SelectStatement {
    let vis = q.visibility.of_marker();
    let mut s = select_image(marker, &Visibility::Everything);
    if let Some(c) = filter::visibility(&vis) {
        s.cond_where(c);
    }
    if vis.is_restricted() && q.deleted != DeletedScope::All {
        s.and_where(Expr::col((IMAGES, DELETED)).eq(false));
    }
    s
}

/// A page of a list query, after `marker` (already resolved to its image).
pub fn list_images(
    b: Backend,
    q: &ListQuery,
    marker: Option<&Image>,
    selective: &[bool],
) -> SelectStatement {
    let mut s = select_images();
    let sorted = filter::sorted_property(q);
    if let Some(n) = sorted {
        // The page walks this filter's entries in the sorted property index, in list order,
        // and stops at the limit: 25 entries for a page, however many images match.
        s.inner_join(
            PROPERTIES,
            Expr::col((PROPERTIES, IMAGE_ID)).equals((IMAGES, ID)),
        );
        let (name, value) = &q.filters.properties[n];
        s.and_where(Expr::col((PROPERTIES, NAME)).eq(name.as_str()));
        filter::property_value(b, &mut s, value);
        // Checked in the index entry: an image of another visibility is skipped without
        // reading its row.
        if let Some(only) = q.listed_visibilities() {
            let only = only.into_iter().map(|v| v.as_str());
            s.and_where(Expr::col((PROPERTIES, IMAGE_VISIBILITY)).is_in(only));
        }
    }
    s.cond_where(filter::list_condition(b, q, selective, sorted));
    let by = filter::SortSource::of(sorted);
    if let Some(m) = marker {
        s.cond_where(filter::keyset(b, &q.order, m, by));
    }
    filter::order(b, &mut s, &q.order, by);
    s.limit(q.limit);
    s
}

pub fn delete_properties(id: &ImageId) -> DeleteStatement {
    Query::delete()
        .from_table(PROPERTIES)
        .and_where(Expr::col(IMAGE_ID).eq(id.as_str()))
        .to_owned()
}

/// Deletes the property rows of image `id` named in `names` (not empty).
pub fn delete_some_properties(id: &ImageId, names: &[&str]) -> DeleteStatement {
    Query::delete()
        .from_table(PROPERTIES)
        .and_where(Expr::col(IMAGE_ID).eq(id.as_str()))
        .and_where(Expr::col(NAME).is_in(names.iter().copied()))
        .to_owned()
}

/// Inserts all of `image`'s properties; `None` when there are none (an empty INSERT is
/// invalid SQL). Each row carries the image's `created_at`, the sort key of the sorted
/// property index, and its visibility, checked in that index.
pub fn insert_properties(b: Backend, image: &Image) -> Option<InsertStatement> {
    insert_some_properties(b, image, |_| true)
}

/// Inserts the properties of `image` whose names `wanted` accepts; `None` if none is.
pub fn insert_some_properties(
    b: Backend,
    image: &Image,
    wanted: impl Fn(&str) -> bool,
) -> Option<InsertStatement> {
    let mut rows = image
        .properties
        .iter()
        .filter(|(k, _)| wanted(k))
        .peekable();
    rows.peek()?;
    let mut ins = Query::insert();
    ins.into_table(PROPERTIES)
        .columns([IMAGE_ID, NAME, VALUE, IMAGE_CREATED_AT, IMAGE_VISIBILITY]);
    for (k, v) in rows {
        ins.values_panic([
            image.id.as_str().into(),
            k.as_str().into(),
            v.as_str().into(),
            b.ts(image.created_at).into(),
            image.visibility.as_str().into(),
        ]);
    }
    Some(ins)
}

pub fn delete_tags(id: &ImageId) -> DeleteStatement {
    Query::delete()
        .from_table(TAGS)
        .and_where(Expr::col(IMAGE_ID).eq(id.as_str()))
        .to_owned()
}

/// Inserts all of `tags`; `None` when there are none.
pub fn insert_tags(id: &ImageId, tags: &Tags) -> Option<InsertStatement> {
    if tags.is_empty() {
        return None;
    }
    let mut ins = Query::insert();
    ins.into_table(TAGS).columns([IMAGE_ID, VALUE]);
    for t in tags {
        ins.values_panic([id.as_str().into(), t.as_str().into()]);
    }
    Some(ins)
}

pub fn delete_tags_of(ids: &[&str]) -> DeleteStatement {
    Query::delete()
        .from_table(TAGS)
        .and_where(Expr::col(IMAGE_ID).is_in(ids.iter().copied()))
        .to_owned()
}

pub fn select_members(id: &ImageId, only_member: Option<&str>) -> SelectStatement {
    let mut s = Query::select();
    s.columns([MEMBER, CAN_SHARE, STATUS, CREATED_AT, UPDATED_AT])
        .from(MEMBERS)
        .and_where(Expr::col(IMAGE_ID).eq(id.as_str()))
        .and_where(Expr::col(DELETED).eq(false))
        .order_by(MEMBER, sea_query::Order::Asc);
    if let Some(m) = only_member {
        s.and_where(Expr::col(MEMBER).eq(m));
    }
    s
}

/// Soft-deletes live memberships (all of an image, or one): the tombstone keeps the old
/// status for a v1 revive (contract §7).
pub fn delete_members(
    b: Backend,
    id: &ImageId,
    only_member: Option<&str>,
    now: Timestamp,
) -> UpdateStatement {
    let mut d = Query::update();
    d.table(MEMBERS)
        .value(DELETED, true)
        .value(UPDATED_AT, b.ts(now))
        .and_where(Expr::col(IMAGE_ID).eq(id.as_str()))
        .and_where(Expr::col(DELETED).eq(false));
    if let Some(m) = only_member {
        d.and_where(Expr::col(MEMBER).eq(m));
    }
    d
}

/// Adds a membership, or updates `can_share` of an existing one (when given); a tombstone
/// comes back to life with its old status, as Glance's v1 registry revived it.
pub fn upsert_member(
    b: Backend,
    id: &ImageId,
    member: &str,
    can_share: Option<bool>,
    now: Timestamp,
) -> InsertStatement {
    let mut on_conflict = OnConflict::columns([IMAGE_ID, MEMBER]);
    match can_share {
        Some(_) => on_conflict.update_columns([CAN_SHARE, UPDATED_AT, DELETED]),
        // A live membership keeps its flag; a tombstone starts over with false, as Glance's
        // member update defaults it. (Before `deleted` is cleared: MySQL assigns in order.)
        None => on_conflict
            .value(
                CAN_SHARE,
                Expr::case(Expr::col((MEMBERS, DELETED)).eq(true), false)
                    .finally(Expr::col((MEMBERS, CAN_SHARE))),
            )
            .update_columns([UPDATED_AT, DELETED]),
    };
    Query::insert()
        .into_table(MEMBERS)
        .columns([IMAGE_ID, MEMBER, CAN_SHARE, CREATED_AT, UPDATED_AT, DELETED])
        .values_panic([
            id.as_str().into(),
            member.into(),
            can_share.unwrap_or(false).into(),
            b.ts(now).into(),
            b.ts(now).into(),
            false.into(),
        ])
        .on_conflict(on_conflict)
        .to_owned()
}

/// A v2 re-add of a removed member reuses its tombstone: pending, `can_share` false,
/// `created_at` now (contract §3.9). Changes no row when there is none.
pub fn revive_member(b: Backend, id: &ImageId, member: &str, now: Timestamp) -> UpdateStatement {
    Query::update()
        .table(MEMBERS)
        .value(DELETED, false)
        .value(CAN_SHARE, false)
        .value(STATUS, MemberStatus::Pending.as_str())
        .value(CREATED_AT, b.ts(now))
        .value(UPDATED_AT, b.ts(now))
        .and_where(Expr::col(IMAGE_ID).eq(id.as_str()))
        .and_where(Expr::col(MEMBER).eq(member))
        .and_where(Expr::col(DELETED).eq(true))
        .to_owned()
}

/// A new v2 membership: pending, `can_share` false.
pub fn insert_member(b: Backend, id: &ImageId, member: &str, now: Timestamp) -> InsertStatement {
    Query::insert()
        .into_table(MEMBERS)
        .columns([IMAGE_ID, MEMBER, CAN_SHARE, STATUS, CREATED_AT, UPDATED_AT])
        .values_panic([
            id.as_str().into(),
            member.into(),
            false.into(),
            MemberStatus::Pending.as_str().into(),
            b.ts(now).into(),
            b.ts(now).into(),
        ])
        .to_owned()
}

/// A member project's answer.
pub fn update_member_status(
    b: Backend,
    id: &ImageId,
    member: &str,
    status: MemberStatus,
    now: Timestamp,
) -> UpdateStatement {
    Query::update()
        .table(MEMBERS)
        .value(STATUS, status.as_str())
        .value(UPDATED_AT, b.ts(now))
        .and_where(Expr::col(IMAGE_ID).eq(id.as_str()))
        .and_where(Expr::col(MEMBER).eq(member))
        .and_where(Expr::col(DELETED).eq(false))
        .to_owned()
}

/// Memberships of `member` in live images, limited to rows the caller may know about: admins
/// see all; others only their own memberships and those of images they own.
pub fn select_shared(member: &str, caller_owner: Option<&str>, is_admin: bool) -> SelectStatement {
    let mut s = Query::select();
    s.column((MEMBERS, IMAGE_ID))
        .column((MEMBERS, CAN_SHARE))
        .from(MEMBERS)
        .inner_join(IMAGES, Expr::col((IMAGES, ID)).equals((MEMBERS, IMAGE_ID)))
        .and_where(Expr::col((MEMBERS, MEMBER)).eq(member))
        .and_where(Expr::col((MEMBERS, DELETED)).eq(false))
        .and_where(Expr::col((IMAGES, DELETED)).eq(false))
        .order_by((MEMBERS, IMAGE_ID), sea_query::Order::Asc);
    if !is_admin {
        match caller_owner {
            Some(me) if me == member => {}
            Some(me) => {
                s.and_where(Expr::col((IMAGES, OWNER)).eq(me));
            }
            None => {
                s.and_where(Expr::cust("1 = 0"));
            }
        }
    }
    s
}

/// Images by status, deleted ones under `deleted` (their status says so already).
pub fn count_by_status() -> SelectStatement {
    Query::select()
        .column(STATUS)
        .expr_as(Expr::cust("COUNT(*)"), "n")
        .from(IMAGES)
        .group_by_col(STATUS)
        .to_owned()
}

/// All images (deleted included) in id order after `after`, for export.
pub fn select_export_page(after: Option<&ImageId>, limit: u64) -> SelectStatement {
    let mut s = select_images();
    if let Some(a) = after {
        s.and_where(Expr::col((IMAGES, ID)).gt(a.as_str()));
    }
    s.order_by((IMAGES, ID), sea_query::Order::Asc).limit(limit);
    s
}

/// Full membership rows of a page of images, for export.
pub fn select_members_of(ids: &[&str]) -> SelectStatement {
    Query::select()
        .columns([IMAGE_ID, MEMBER, CAN_SHARE, CREATED_AT, UPDATED_AT, STATUS])
        .from(MEMBERS)
        .and_where(Expr::col(IMAGE_ID).is_in(ids.iter().copied()))
        .and_where(Expr::col(DELETED).eq(false))
        .order_by(IMAGE_ID, sea_query::Order::Asc)
        .order_by(MEMBER, sea_query::Order::Asc)
        .to_owned()
}

pub fn insert_member_row(
    b: Backend,
    id: &ImageId,
    m: &crate::storage::export::CatalogMember,
) -> InsertStatement {
    Query::insert()
        .into_table(MEMBERS)
        .columns([IMAGE_ID, MEMBER, CAN_SHARE, CREATED_AT, UPDATED_AT, STATUS])
        .values_panic([
            id.as_str().into(),
            m.member.as_str().into(),
            m.can_share.into(),
            b.ts(m.created_at).into(),
            b.ts(m.updated_at).into(),
            m.status.as_str().into(),
        ])
        .to_owned()
}

/// Ids of images soft-deleted before `cutoff`, oldest first, a batch at a time.
/// The image's id, to lock its row (`FOR UPDATE`) before a write that reads other rows of it.
pub fn select_image_id(id: &ImageId) -> SelectStatement {
    Query::select()
        .column(ID)
        .from(IMAGES)
        .and_where(Expr::col(ID).eq(id.as_str()))
        .to_owned()
}

/// Images in `saving` whose upload last reported progress before `cutoff`.
pub fn select_stale_uploads(b: Backend, cutoff: Timestamp, limit: u64) -> SelectStatement {
    Query::select()
        .column(ID)
        .from(IMAGES)
        .and_where(Expr::col(STATUS).eq("saving"))
        .and_where(Expr::col(DELETED).eq(false))
        .and_where(Expr::col(UPDATED_AT).lt(b.ts(cutoff)))
        .order_by(UPDATED_AT, sea_query::Order::Asc)
        .limit(limit)
        .to_owned()
}

/// Live images that say they have stored data, in id order after `after`.
pub fn select_images_with_data(after: Option<&ImageId>, limit: u64) -> SelectStatement {
    let mut q = Query::select();
    q.column(ID)
        .from(IMAGES)
        .and_where(Expr::col(DELETED).eq(false))
        .and_where(Expr::col(STATUS).is_in(["active", "deactivated"]))
        .and_where(Expr::col(LOCATION).is_not_null())
        .order_by(ID, sea_query::Order::Asc)
        .limit(limit);
    if let Some(a) = after {
        q.and_where(Expr::col(ID).gt(a.as_str()));
    }
    q.to_owned()
}

pub fn select_purgeable(b: Backend, cutoff: Timestamp, limit: u64) -> SelectStatement {
    Query::select()
        .column(ID)
        .from(IMAGES)
        .and_where(Expr::col(DELETED).eq(true))
        .and_where(Expr::col(DELETED_AT).lt(b.ts(cutoff)))
        .order_by(DELETED_AT, sea_query::Order::Asc)
        .limit(limit)
        .to_owned()
}

pub fn delete_images(ids: &[&str]) -> DeleteStatement {
    Query::delete()
        .from_table(IMAGES)
        .and_where(Expr::col(ID).is_in(ids.iter().copied()))
        .to_owned()
}

pub fn delete_properties_of(ids: &[&str]) -> DeleteStatement {
    Query::delete()
        .from_table(PROPERTIES)
        .and_where(Expr::col(IMAGE_ID).is_in(ids.iter().copied()))
        .to_owned()
}

pub fn delete_members_of(ids: &[&str]) -> DeleteStatement {
    Query::delete()
        .from_table(MEMBERS)
        .and_where(Expr::col(IMAGE_ID).is_in(ids.iter().copied()))
        .to_owned()
}

/// At most `limit` ids of images with this property value, straight from the property index:
/// how selective a property filter is.
pub fn probe_property(b: Backend, name: &str, value: &str, limit: u64) -> SelectStatement {
    let mut s = Query::select();
    s.column(IMAGE_ID)
        .from(PROPERTIES)
        .and_where(Expr::col((PROPERTIES, NAME)).eq(name))
        .limit(limit);
    if b == Backend::Postgres {
        filter::pg_value_prefix(&mut s, value);
    } else {
        s.and_where(Expr::col((PROPERTIES, VALUE)).eq(value));
    }
    s
}
