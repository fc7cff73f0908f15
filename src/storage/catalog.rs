//! The catalog export format (`glimpse db export` / `db import`): one JSON object per line,
//! one line per image, deleted images included, in id order. Everything needed to rebuild
//! the catalog on another backend is there (ids, timestamps, versions, memberships), and the
//! same catalog always exports to the same bytes.

use crate::domain::image::Properties;
use crate::domain::{ImageId, Status, Timestamp};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogImage {
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
    pub version: i64,
    pub properties: Properties,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogMember {
    pub member: String,
    pub can_share: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One line of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogRecord {
    pub image: CatalogImage,
    pub members: Vec<CatalogMember>,
}

impl From<crate::domain::Image> for CatalogImage {
    fn from(i: crate::domain::Image) -> Self {
        CatalogImage {
            id: i.id,
            name: i.name,
            status: i.status,
            disk_format: i.disk_format,
            container_format: i.container_format,
            size: i.size,
            virtual_size: i.virtual_size,
            checksum: i.checksum,
            min_disk: i.min_disk,
            min_ram: i.min_ram,
            is_public: i.is_public,
            protected: i.protected,
            owner: i.owner,
            location: i.location,
            created_at: i.created_at,
            updated_at: i.updated_at,
            deleted_at: i.deleted_at,
            deleted: i.deleted,
            version: i.version,
            properties: i.properties,
        }
    }
}

impl From<CatalogImage> for crate::domain::Image {
    fn from(i: CatalogImage) -> Self {
        crate::domain::Image {
            id: i.id,
            name: i.name,
            status: i.status,
            disk_format: i.disk_format,
            container_format: i.container_format,
            size: i.size,
            virtual_size: i.virtual_size,
            checksum: i.checksum,
            min_disk: i.min_disk,
            min_ram: i.min_ram,
            is_public: i.is_public,
            protected: i.protected,
            owner: i.owner,
            location: i.location,
            created_at: i.created_at,
            updated_at: i.updated_at,
            deleted_at: i.deleted_at,
            deleted: i.deleted,
            properties: i.properties,
            version: i.version,
        }
    }
}
