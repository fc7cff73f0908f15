//! Decoding rows into domain values, per backend row type.

use super::statements::{PROPERTY_NAME, PROPERTY_VALUE};
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
    fn image(&self) -> Result<Image, sqlx::Error>;
    fn property(&self) -> Result<(String, String, String), sqlx::Error>;
    /// The property of a row of [`super::statements::select_image_with_properties`], if any.
    fn joined_property(&self) -> Result<Option<(String, String)>, sqlx::Error>;
    fn membership(&self) -> Result<Membership, sqlx::Error>;
    fn shared(&self) -> Result<SharedImage, sqlx::Error>;
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

            fn image(&self) -> Result<Image, sqlx::Error> {
                let r = self;
                let ts = |c: &str| r.ts_opt(c)?.ok_or_else(|| decode_err(c, "unexpected NULL"));
                let status: String = r.try_get("status")?;
                Ok(Image {
                    id: ImageId::from_trusted(r.try_get("id")?),
                    name: r.try_get("name")?,
                    status: status.parse().map_err(|e: Error| decode_err("status", e))?,
                    disk_format: r.try_get("disk_format")?,
                    container_format: r.try_get("container_format")?,
                    size: r.try_get("size")?,
                    virtual_size: r.try_get("virtual_size")?,
                    checksum: r.try_get("checksum")?,
                    min_disk: r.try_get("min_disk")?,
                    min_ram: r.try_get("min_ram")?,
                    is_public: r.try_get("is_public")?,
                    protected: r.try_get("protected")?,
                    owner: r.try_get("owner")?,
                    location: r.try_get("location")?,
                    created_at: ts("created_at")?,
                    updated_at: ts("updated_at")?,
                    deleted_at: r.ts_opt("deleted_at")?,
                    deleted: r.try_get("deleted")?,
                    properties: Default::default(),
                    version: r.try_get("version")?,
                })
            }

            fn property(&self) -> Result<(String, String, String), sqlx::Error> {
                Ok((
                    self.try_get("image_id")?,
                    self.try_get("name")?,
                    self.try_get("value")?,
                ))
            }

            fn joined_property(&self) -> Result<Option<(String, String)>, sqlx::Error> {
                let name: Option<String> = self.try_get(PROPERTY_NAME)?;
                let value: Option<String> = self.try_get(PROPERTY_VALUE)?;
                Ok(name.zip(value))
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
