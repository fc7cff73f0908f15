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

    /// The `(field, value)` pairs of the `x-image-meta-*` headers: every non-null field,
    /// booleans written `True`/`False` as the reference wrote them.
    pub fn meta_fields(&self) -> Vec<(&'static str, String)> {
        fn b(v: bool) -> String {
            if v { "True" } else { "False" }.to_string()
        }
        let mut out = vec![("id", self.id.to_string())];
        let mut opt = |k: &'static str, v: Option<String>| {
            if let Some(v) = v {
                out.push((k, v));
            }
        };
        opt("name", self.name.clone());
        opt("status", Some(self.status.to_string()));
        opt("disk_format", self.disk_format.clone());
        opt("container_format", self.container_format.clone());
        opt("size", self.size.map(|v| v.to_string()));
        opt("virtual_size", self.virtual_size.map(|v| v.to_string()));
        opt("checksum", self.checksum.clone());
        opt("min_disk", Some(self.min_disk.to_string()));
        opt("min_ram", Some(self.min_ram.to_string()));
        opt("is_public", Some(b(self.is_public)));
        opt("protected", Some(b(self.protected)));
        opt("owner", self.owner.clone());
        opt("created_at", Some(self.created_at.to_string()));
        opt("updated_at", Some(self.updated_at.to_string()));
        opt("deleted_at", self.deleted_at.map(|t| t.to_string()));
        opt("deleted", Some(b(self.deleted)));
        opt("location", self.location.clone());
        out
    }
}
