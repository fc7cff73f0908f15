//! Decoding rows into domain values, per backend row type.

use super::schema::*;
use crate::domain::image::Properties;
use crate::domain::member::{Membership, SharedImage};
use crate::domain::{Image, ImageId, Timestamp};
use crate::error::Error;
use sqlx::Row;
use sqlx::mysql::MySqlRow;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use time::PrimitiveDateTime;

/// Row access that differs between backends: SQLite keeps timestamps as fixed-width text,
/// PostgreSQL and MySQL as native microsecond timestamps.
pub trait DecodeRow {
    fn ts_opt(&self, col: &str) -> Result<Option<Timestamp>, sqlx::Error>;
    fn image(&self, with_properties: bool) -> Result<Image, sqlx::Error>;
    fn membership(&self) -> Result<Membership, sqlx::Error>;
    fn shared(&self) -> Result<SharedImage, sqlx::Error>;
}

/// The image columns of a row, by their place in [`IMAGE_COLUMNS`]. What differs between row
/// types (sqlx's, per backend, and rusqlite's for SQLite point reads) is only how a value is
/// fetched; [`decode_image`] is the one mapping from columns to an [`Image`].
pub trait ImageColumns {
    type Error;
    fn string(&self, c: usize) -> Result<Option<String>, Self::Error>;
    fn int(&self, c: usize) -> Result<Option<i64>, Self::Error>;
    fn flag(&self, c: usize) -> Result<bool, Self::Error>;
    fn timestamp(&self, c: usize) -> Result<Option<Timestamp>, Self::Error>;
    /// A value the column cannot hold (a NULL in a required column, an unknown status).
    fn invalid(&self, c: usize, e: Error) -> Self::Error;
}

/// The text of the [`PROPERTY_MAP`] column for `properties`.
pub fn encode_properties(properties: &Properties) -> Result<String, Error> {
    serde_json::to_string(properties)
        .map_err(|e| Error::Internal(format!("cannot encode the properties: {e}")))
}

fn decode_properties(text: &str) -> Result<Properties, Error> {
    serde_json::from_str(text).map_err(|e| Error::Internal(format!("unreadable property map: {e}")))
}

/// An image from a row of the image columns; its properties only `with_properties` (brief
/// lists and markers do not show them, and decoding them is most of a brief list's work).
pub fn decode_image<R: ImageColumns>(r: &R, with_properties: bool) -> Result<Image, R::Error> {
    let null = |c: usize| r.invalid(c, Error::Internal("unexpected NULL".into()));
    let int = |c: usize| r.int(c)?.ok_or_else(|| null(c));
    let ts = |c: usize| r.timestamp(c)?.ok_or_else(|| null(c));
    let text = |c: usize| r.string(c)?.ok_or_else(|| null(c));
    Ok(Image {
        id: ImageId::from_trusted(text(const { col(ID) })?),
        name: r.string(const { col(NAME) })?,
        status: text(const { col(STATUS) })?
            .parse()
            .map_err(|e| r.invalid(const { col(STATUS) }, e))?,
        disk_format: r.string(const { col(DISK_FORMAT) })?,
        container_format: r.string(const { col(CONTAINER_FORMAT) })?,
        size: r.int(const { col(SIZE) })?,
        virtual_size: r.int(const { col(VIRTUAL_SIZE) })?,
        checksum: r.string(const { col(CHECKSUM) })?,
        min_disk: int(const { col(MIN_DISK) })?,
        min_ram: int(const { col(MIN_RAM) })?,
        is_public: r.flag(const { col(IS_PUBLIC) })?,
        protected: r.flag(const { col(PROTECTED) })?,
        owner: r.string(const { col(OWNER) })?,
        location: r.string(const { col(LOCATION) })?,
        created_at: ts(const { col(CREATED_AT) })?,
        updated_at: ts(const { col(UPDATED_AT) })?,
        deleted_at: r.timestamp(const { col(DELETED_AT) })?,
        deleted: r.flag(const { col(DELETED) })?,
        properties: if with_properties {
            let c = const { col(PROPERTY_MAP) };
            decode_properties(&text(c)?).map_err(|e| r.invalid(c, e))?
        } else {
            Properties::new()
        },
        version: int(const { col(VERSION) })?,
    })
}

fn decode_err(col: &str, e: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: col.to_string(),
        source: e.to_string().into(),
    }
}

macro_rules! impl_decode_row {
    ($row:ty, |$r:ident, $col:ident| $ts:expr) => {
        impl DecodeRow for $row {
            fn ts_opt(&self, $col: &str) -> Result<Option<Timestamp>, sqlx::Error> {
                let $r = self;
                $ts
            }

            fn image(&self, with_properties: bool) -> Result<Image, sqlx::Error> {
                decode_image(self, with_properties)
            }

            fn membership(&self) -> Result<Membership, sqlx::Error> {
                Ok(Membership {
                    member_id: self.try_get("member")?,
                    can_share: self.try_get("can_share")?,
                })
            }

            fn shared(&self) -> Result<SharedImage, sqlx::Error> {
                Ok(SharedImage {
                    image_id: ImageId::from_trusted(self.try_get("image_id")?),
                    can_share: self.try_get("can_share")?,
                })
            }
        }

        impl ImageColumns for $row {
            type Error = sqlx::Error;

            fn string(&self, c: usize) -> Result<Option<String>, sqlx::Error> {
                self.try_get(IMAGE_COLUMNS[c])
            }

            fn int(&self, c: usize) -> Result<Option<i64>, sqlx::Error> {
                self.try_get(IMAGE_COLUMNS[c])
            }

            fn flag(&self, c: usize) -> Result<bool, sqlx::Error> {
                self.try_get(IMAGE_COLUMNS[c])
            }

            fn timestamp(&self, c: usize) -> Result<Option<Timestamp>, sqlx::Error> {
                self.ts_opt(IMAGE_COLUMNS[c])
            }

            fn invalid(&self, c: usize, e: Error) -> sqlx::Error {
                decode_err(IMAGE_COLUMNS[c], e)
            }
        }
    };
}

impl_decode_row!(SqliteRow, |r, col| {
    let s: Option<String> = r.try_get(col)?;
    s.map(|s| Timestamp::from_sql_text(&s).map_err(|e| decode_err(col, e)))
        .transpose()
});
impl_decode_row!(PgRow, |r, col| {
    let t: Option<PrimitiveDateTime> = r.try_get(col)?;
    Ok(t.map(Timestamp::from_primitive))
});
impl_decode_row!(MySqlRow, |r, col| {
    let t: Option<PrimitiveDateTime> = r.try_get(col)?;
    Ok(t.map(Timestamp::from_primitive))
});
