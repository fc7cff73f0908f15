//! The catalog export format (`glimpse db export` / `db import`): one JSON object per line,
//! one line per image, deleted images included, in id order. Everything needed to rebuild
//! the catalog on another backend is there (ids, timestamps, versions, memberships), and the
//! same catalog always exports to the same bytes.

use crate::domain::{Image, MemberStatus, Timestamp};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogMember {
    pub member: String,
    pub can_share: bool,
    /// Exports written before v2 have none: pending, as the migration gives such rows.
    #[serde(default)]
    pub status: MemberStatus,
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

impl CatalogRecord {
    /// One line of an export. Lines written before v2 carry `is_public` instead of
    /// `visibility`; they are read by the rule the database migration applies (public; shared
    /// when the image has members; private otherwise).
    pub fn from_line(line: &str) -> Result<CatalogRecord, serde_json::Error> {
        let mut v: serde_json::Value = serde_json::from_str(line)?;
        let has_members = v
            .get("members")
            .and_then(|m| m.as_array())
            .is_some_and(|m| !m.is_empty());
        if let Some(image) = v.get_mut("image").and_then(|i| i.as_object_mut())
            && let Some(public) = image.remove("is_public")
            && !image.contains_key("visibility")
        {
            let visibility = match (public.as_bool(), has_members) {
                (Some(true), _) => "public",
                (_, true) => "shared",
                _ => "private",
            };
            image.insert("visibility".into(), visibility.into());
        }
        serde_json::from_value(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_from_before_v2_are_read_by_the_migration_rule() {
        let line = |public: bool, members: &str| {
            format!(
                r#"{{"image": {{"id": "4b1c2a4e-9a0e-4b7a-8d0e-2f1f5a1e2b3c", "name": null, "status": "active",
                "disk_format": null, "container_format": null, "size": null, "virtual_size": null,
                "checksum": null, "min_disk": 0, "min_ram": 0, "is_public": {public}, "protected": false,
                "owner": "t", "location": null, "created_at": "2020-01-01T00:00:00.000000",
                "updated_at": "2020-01-01T00:00:00.000000", "deleted_at": null, "deleted": false,
                "properties": {{}}}}, "version": 1, "members": [{members}]}}"#
            )
        };
        let m = r#"{"member": "x", "can_share": false, "created_at": "2020-01-01T00:00:00.000000", "updated_at": "2020-01-01T00:00:00.000000"}"#;
        let vis = |l: String| {
            CatalogRecord::from_line(&l)
                .unwrap()
                .image
                .visibility
                .as_str()
        };
        assert_eq!(vis(line(true, "")), "public");
        assert_eq!(vis(line(false, m)), "shared");
        assert_eq!(vis(line(false, "")), "private");
    }
}
