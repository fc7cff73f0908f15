//! Image memberships: sharing a private image with other tenants.

use super::ImageId;
use crate::error::Error;
use serde::Serialize;

/// One tenant's membership of one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Membership {
    pub member_id: String,
    /// May this member share the image further?
    pub can_share: bool,
}

/// One image shared with a member, as `/shared-images/<member>` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SharedImage {
    pub image_id: ImageId,
    pub can_share: bool,
}

/// One entry of a replacement member list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberGrant {
    pub member_id: String,
    /// `None`: the request did not say.
    pub can_share: Option<bool>,
}

/// Member ids are opaque tenant ids: non-empty, at most 255 characters, no NUL.
pub fn check_member_id(member: &str) -> Result<(), Error> {
    if member.is_empty() || member.chars().count() > 255 || member.contains('\0') {
        return Err(Error::bad_request(
            "Invalid member id: it must be 1 to 255 characters without NUL",
        ));
    }
    Ok(())
}
