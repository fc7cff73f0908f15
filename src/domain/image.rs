//! The image record.

use super::{Status, Timestamp};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// An image id: a UUID, always held in its canonical lowercase hyphenated form so that every
/// backend compares and sorts ids the same way.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ImageId(String);

impl ImageId {
    pub fn generate() -> Self {
        ImageId(uuid::Uuid::new_v4().hyphenated().to_string())
    }

    /// Accepts any hex notation of a UUID (as the reference's `is_uuid_like` did).
    pub fn parse(s: &str) -> Option<Self> {
        uuid::Uuid::try_parse(s)
            .ok()
            .map(|u| ImageId(u.hyphenated().to_string()))
    }

    /// For ids read back from the database, which are canonical already.
    pub fn from_trusted(s: String) -> Self {
        ImageId(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> serde::Deserialize<'de> for ImageId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ImageId::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid image id '{s}'")))
    }
}

impl fmt::Display for ImageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The fields rendered as `x-image-meta-<field>` headers, in order.
pub const META_FIELDS: [&str; 18] = [
    "id",
    "name",
    "status",
    "disk_format",
    "container_format",
    "size",
    "virtual_size",
    "checksum",
    "min_disk",
    "min_ram",
    "is_public",
    "protected",
    "owner",
    "created_at",
    "updated_at",
    "deleted_at",
    "deleted",
    "location",
];

/// One `x-image-meta-*` value before rendering. Booleans render `True`/`False`, as the
/// reference wrote them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaValue<'a> {
    Text(&'a str),
    Int(i64),
    Bool(bool),
    Time(Timestamp),
}

/// Custom key/value properties, ordered by name so output is deterministic.
pub type Properties = BTreeMap<String, String>;

/// An image's metadata: the detailed form of the API (also read back by `db import`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    pub id: ImageId,
    pub name: Option<String>,
    pub status: Status,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub size: Option<i64>,
    pub virtual_size: Option<i64>,
    pub checksum: Option<String>,
    pub min_disk: i64,
    pub min_ram: i64,
    pub is_public: bool,
    pub protected: bool,
    pub owner: Option<String>,
    pub location: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub deleted_at: Option<Timestamp>,
    pub deleted: bool,
    pub properties: Properties,
    /// Bumped on every change (fields, properties, memberships): the ETag, and the
    /// compare-and-set token of every write.
    #[serde(skip)]
    pub version: i64,
}

/// The brief form of `GET /images`: exactly these six fields.
#[derive(Debug, Serialize)]
pub struct BriefImage<'a> {
    pub id: &'a ImageId,
    pub name: &'a Option<String>,
    pub size: Option<i64>,
    pub disk_format: &'a Option<String>,
    pub container_format: &'a Option<String>,
    pub checksum: &'a Option<String>,
}

impl Image {
    pub fn brief(&self) -> BriefImage<'_> {
        BriefImage {
            id: &self.id,
            name: &self.name,
            size: self.size,
            disk_format: &self.disk_format,
            container_format: &self.container_format,
            checksum: &self.checksum,
        }
    }

    /// A strong entity tag: the id and the version counter, so it changes with every change.
    pub fn etag(&self) -> String {
        format!("\"{}-{}\"", self.id.as_str().replace('-', ""), self.version)
    }

    /// The values of the `x-image-meta-*` headers, in [`META_FIELDS`] order: `None` for a
    /// null field. Borrowed and typed rather than rendered to strings, since every
    /// `GET`/`HEAD /images/<id>` renders all of them.
    pub fn meta_fields(&self) -> [Option<MetaValue<'_>>; META_FIELDS.len()] {
        use MetaValue::{Bool, Int, Text, Time};
        [
            Some(Text(self.id.as_str())),
            self.name.as_deref().map(Text),
            Some(Text(self.status.as_str())),
            self.disk_format.as_deref().map(Text),
            self.container_format.as_deref().map(Text),
            self.size.map(Int),
            self.virtual_size.map(Int),
            self.checksum.as_deref().map(Text),
            Some(Int(self.min_disk)),
            Some(Int(self.min_ram)),
            Some(Bool(self.is_public)),
            Some(Bool(self.protected)),
            self.owner.as_deref().map(Text),
            Some(Time(self.created_at)),
            Some(Time(self.updated_at)),
            self.deleted_at.map(Time),
            Some(Bool(self.deleted)),
            self.location.as_deref().map(Text),
        ]
    }
}
