//! The image record.

use super::{ImageVisibility, Status, Timestamp};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
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

/// Custom key/value properties, ordered by name so output is deterministic.
pub type Properties = BTreeMap<String, String>;

/// An image's tags, ordered so output is deterministic.
pub type Tags = BTreeSet<String>;

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
    /// Who the image is for; v1's `is_public` is `visibility == Public`.
    #[serde(default)]
    pub visibility: ImageVisibility,
    pub protected: bool,
    pub owner: Option<String>,
    pub location: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub deleted_at: Option<Timestamp>,
    pub deleted: bool,
    pub properties: Properties,
    /// Hidden from default v2 lists.
    #[serde(default)]
    pub os_hidden: bool,
    /// The multihash of the data (v2 uploads; null for v1 images).
    #[serde(default)]
    pub os_hash_algo: Option<String>,
    #[serde(default)]
    pub os_hash_value: Option<String>,
    /// A CRC-32 of the stored data, to verify downloads at wire speed (internal: no API
    /// shows it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_crc32: Option<u32>,
    /// v2 tags, kept sorted and unique.
    #[serde(default)]
    pub tags: Tags,
    /// Bumped on every change (fields, properties, memberships): the ETag, and the
    /// compare-and-set token of every write.
    #[serde(skip)]
    pub version: i64,
}

impl Image {
    /// What names this version of the image in a conditional request (the opaque part of its
    /// entity tag): the id and the version counter, so it changes with every change.
    pub fn version_tag(&self) -> String {
        format!("{}-{}", self.id.as_str().replace('-', ""), self.version)
    }
}
