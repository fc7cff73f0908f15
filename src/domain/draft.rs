//! A v2 create request, typed: every field already valid on its own (the API layer checked
//! types, enums, patterns and lengths); the rules here span the caller and the limits.

use super::image::{Properties, Tags};
use super::input::{Field, Rules, check_property_count};
use super::{Caller, Image, ImageId, ImageVisibility, Status, Timestamp, policy};
use crate::error::Error;

/// At most this many tags on one image (Glance's `image_tag_quota`); more is 413.
pub const MAX_TAGS: usize = 128;

/// At most this many members of one image (Glance's `image_member_quota`); more is 413.
pub const MAX_MEMBERS: usize = 128;

/// What a v2 create asked for.
#[derive(Debug, Clone, Default)]
pub struct NewImage {
    pub id: Option<ImageId>,
    pub name: Option<String>,
    pub visibility: Option<ImageVisibility>,
    pub protected: Option<bool>,
    pub os_hidden: Option<bool>,
    pub owner: Field<String>,
    pub container_format: Option<String>,
    pub disk_format: Option<String>,
    pub min_disk: Option<i64>,
    pub min_ram: Option<i64>,
    pub tags: Tags,
    pub properties: Properties,
    /// A key only the server writes (`status`, `size`, …) that the body named: 403, but only
    /// after the policy and the tag quota, as Glance's ImageFactory checks it.
    pub read_only: Option<String>,
}

pub fn check_tag_count(n: usize) -> Result<(), Error> {
    if n > MAX_TAGS {
        return Err(Error::TooLarge(format!(
            "Maximum number of tags exceeded: at most {MAX_TAGS} are allowed per image"
        )));
    }
    Ok(())
}

impl NewImage {
    /// The queued image this request creates, after the policy allows it: the owner is the
    /// caller's project unless an admin names one.
    pub fn into_image(
        self,
        caller: &Caller,
        now: Timestamp,
        rules: &Rules,
    ) -> Result<Image, Error> {
        let owner = match self.owner {
            Field::Absent => caller.owner.clone(),
            Field::Null => None,
            Field::Set(o) => Some(o),
        };
        policy::check_create(caller, owner.as_deref())?;
        let visibility = self.visibility.unwrap_or_default();
        policy::check_visibility(caller, visibility)?;
        check_tag_count(self.tags.len())?;
        if let Some(k) = &self.read_only {
            return Err(Error::Forbidden(format!("Attribute '{k}' is read-only.")));
        }
        check_property_count(self.properties.len(), rules)?;
        Ok(Image {
            id: self.id.unwrap_or_else(ImageId::generate),
            name: self.name,
            status: Status::Queued,
            disk_format: self.disk_format,
            container_format: self.container_format,
            size: None,
            virtual_size: None,
            checksum: None,
            min_disk: self.min_disk.unwrap_or(0),
            min_ram: self.min_ram.unwrap_or(0),
            visibility,
            protected: self.protected.unwrap_or(false),
            owner,
            location: None,
            created_at: now,
            updated_at: now,
            deleted_at: None,
            deleted: false,
            properties: self.properties,
            os_hidden: self.os_hidden.unwrap_or(false),
            os_hash_algo: None,
            os_hash_value: None,
            data_crc32: None,
            tags: self.tags,
            version: 1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_keys_are_refused_after_the_policy_and_the_tag_quota() {
        let member = Caller::authenticated(Some("p".into()), None, vec!["member".into()], true);
        let rules = Rules::default();
        let now = Timestamp::now();
        let asking = |tags: usize, visibility: Option<ImageVisibility>| NewImage {
            tags: (0..tags).map(|i| format!("t{i}")).collect(),
            visibility,
            read_only: Some("size".into()),
            ..NewImage::default()
        };
        let err = |n: NewImage| n.into_image(&member, now, &rules).unwrap_err();
        assert!(matches!(err(asking(129, None)), Error::TooLarge(_)));
        assert!(matches!(err(asking(1, None)), Error::Forbidden(m) if m.contains("read-only")));
        assert!(matches!(
            err(asking(129, Some(ImageVisibility::Public))),
            Error::Forbidden(m) if m.contains("publicize")
        ));
    }
}
