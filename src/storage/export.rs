//! The catalog export format (`glimpse db export` / `db import`): one JSON object per line,
//! one line per image, deleted images included, in id order. Everything needed to rebuild
//! the catalog on another backend is there (ids, timestamps, versions, memberships), and the
//! same catalog always exports to the same bytes.

use crate::domain::{Image, Timestamp};
use serde::{Deserialize, Serialize};

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
    /// The image as the API's detailed form has it (deleted ones included)...
    pub image: Image,
    /// ...and its version, which the API form leaves out (it is the ETag).
    pub version: i64,
    pub members: Vec<CatalogMember>,
}
