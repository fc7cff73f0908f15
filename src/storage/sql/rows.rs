//! Decoding rows into domain values: one mapping per kind of row, by column position, over
//! every engine's rows (see [`Columns`]).

use super::engine::{Columns, DbError, Decode};
use super::schema::*;
use crate::domain::image::{Properties, Tags};
use crate::domain::member::{Membership, SharedImage};
use crate::domain::{Image, ImageId, Timestamp};
use crate::error::Error;
use crate::storage::export::CatalogMember;

/// The text of the [`PROPERTY_MAP`] column for `properties`.
pub fn encode_properties(properties: &Properties) -> Result<String, Error> {
    serde_json::to_string(properties)
        .map_err(|e| Error::Internal(format!("cannot encode the properties: {e}")))
}

fn decode_properties(text: &str) -> Result<Properties, Error> {
    serde_json::from_str(text).map_err(|e| Error::Internal(format!("unreadable property map: {e}")))
}

/// The text of the [`TAG_LIST`] column for `tags`.
pub fn encode_tags(tags: &Tags) -> Result<String, Error> {
    serde_json::to_string(tags).map_err(|e| Error::Internal(format!("cannot encode the tags: {e}")))
}

fn decode_tags(text: &str) -> Result<Tags, Error> {
    serde_json::from_str(text).map_err(|e| Error::Internal(format!("unreadable tag list: {e}")))
}

fn required<T>(c: usize, v: Option<T>) -> Result<T, DbError> {
    v.ok_or_else(|| DbError::invalid(c, "unexpected NULL"))
}

/// An image from a row of [`IMAGE_COLUMNS`]; its properties only `with_properties` (brief
/// lists and markers do not show them, and decoding them is most of a brief list's work).
pub struct ImageRow {
    pub with_properties: bool,
}

impl Decode for ImageRow {
    type Out = Image;

    fn decode<R: Columns>(&self, r: &R) -> Result<Image, DbError> {
        let int = |c: usize| required(c, r.int(c)?);
        let ts = |c: usize| required(c, r.timestamp(c)?);
        let text = |c: usize| required(c, r.string(c)?);
        Ok(Image {
            id: ImageId::from_trusted(text(const { col(ID) })?),
            name: r.string(const { col(NAME) })?,
            status: text(const { col(STATUS) })?
                .parse()
                .map_err(|e: Error| DbError::invalid(const { col(STATUS) }, e))?,
            disk_format: r.string(const { col(DISK_FORMAT) })?,
            container_format: r.string(const { col(CONTAINER_FORMAT) })?,
            size: r.int(const { col(SIZE) })?,
            virtual_size: r.int(const { col(VIRTUAL_SIZE) })?,
            checksum: r.string(const { col(CHECKSUM) })?,
            min_disk: int(const { col(MIN_DISK) })?,
            min_ram: int(const { col(MIN_RAM) })?,
            visibility: text(const { col(VISIBILITY) })?
                .parse()
                .map_err(|e: Error| DbError::invalid(const { col(VISIBILITY) }, e))?,
            protected: r.flag(const { col(PROTECTED) })?,
            owner: r.string(const { col(OWNER) })?,
            location: r.string(const { col(LOCATION) })?,
            created_at: ts(const { col(CREATED_AT) })?,
            updated_at: ts(const { col(UPDATED_AT) })?,
            deleted_at: r.timestamp(const { col(DELETED_AT) })?,
            deleted: r.flag(const { col(DELETED) })?,
            properties: if self.with_properties {
                let c = const { col(PROPERTY_MAP) };
                decode_properties(&text(c)?).map_err(|e| DbError::invalid(c, e))?
            } else {
                Properties::new()
            },
            os_hidden: r.flag(const { col(OS_HIDDEN) })?,
            os_hash_algo: r.string(const { col(OS_HASH_ALGO) })?,
            os_hash_value: r.string(const { col(OS_HASH_VALUE) })?,
            data_crc32: r
                .int(const { col(DATA_CRC32) })?
                .and_then(|v| u32::try_from(v).ok()),
            tags: if self.with_properties {
                let c = const { col(TAG_LIST) };
                decode_tags(&text(c)?).map_err(|e| DbError::invalid(c, e))?
            } else {
                Tags::new()
            },
            version: int(const { col(VERSION) })?,
        })
    }
}

/// A membership from `(member, can_share, status, created_at, updated_at)`
/// ([`super::statements::select_members`]).
pub struct MemberRow;

impl Decode for MemberRow {
    type Out = Membership;

    fn decode<R: Columns>(&self, r: &R) -> Result<Membership, DbError> {
        Ok(Membership {
            member_id: required(0, r.string(0)?)?,
            can_share: r.flag(1)?,
            status: required(2, r.string(2)?)?
                .parse()
                .map_err(|e: Error| DbError::invalid(2, e))?,
            created_at: r.timestamp(3)?,
            updated_at: r.timestamp(4)?,
        })
    }
}

/// A shared image from `(image_id, can_share)` ([`super::statements::select_shared`]).
pub struct SharedRow;

impl Decode for SharedRow {
    type Out = SharedImage;

    fn decode<R: Columns>(&self, r: &R) -> Result<SharedImage, DbError> {
        Ok(SharedImage {
            image_id: ImageId::from_trusted(required(0, r.string(0)?)?),
            can_share: r.flag(1)?,
        })
    }
}

/// `(status, n)` ([`super::statements::count_by_status`]).
pub struct CountRow;

impl Decode for CountRow {
    type Out = (String, i64);

    fn decode<R: Columns>(&self, r: &R) -> Result<(String, i64), DbError> {
        Ok((required(0, r.string(0)?)?, required(1, r.int(1)?)?))
    }
}

/// The first column, a text (ids).
pub struct TextRow;

impl Decode for TextRow {
    type Out = String;

    fn decode<R: Columns>(&self, r: &R) -> Result<String, DbError> {
        required(0, r.string(0)?)
    }
}

/// Nothing from the row: for rows that are only counted.
pub struct AnyRow;

impl Decode for AnyRow {
    type Out = ();

    fn decode<R: Columns>(&self, _r: &R) -> Result<(), DbError> {
        Ok(())
    }
}

/// `(image_id, member, can_share, created_at, updated_at)`
/// ([`super::statements::select_members_of`]), for export.
pub struct ExportMemberRow;

impl Decode for ExportMemberRow {
    type Out = (String, CatalogMember);

    fn decode<R: Columns>(&self, r: &R) -> Result<(String, CatalogMember), DbError> {
        let ts = |c: usize| -> Result<Timestamp, DbError> { required(c, r.timestamp(c)?) };
        Ok((
            required(0, r.string(0)?)?,
            CatalogMember {
                member: required(1, r.string(1)?)?,
                can_share: r.flag(2)?,
                created_at: ts(3)?,
                updated_at: ts(4)?,
                status: required(5, r.string(5)?)?
                    .parse()
                    .map_err(|e: Error| DbError::invalid(5, e))?,
            },
        ))
    }
}
