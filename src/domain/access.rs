//! Who may change what. Visibility itself is a query predicate (see `storage::sql::visibility`)
//! so that lists and single reads share one definition; these are the rules for mutations,
//! applied to an image the caller can already see.

use super::{Caller, Image};
use crate::error::Error;

/// Only the owner or an admin may update or delete. An image without an owner can be seen by
/// everyone but changed only by admins (as in the reference).
pub fn check_can_modify(image: &Image, caller: &Caller) -> Result<(), Error> {
    if caller.is_admin {
        return Ok(());
    }
    match (&image.owner, &caller.owner) {
        (Some(owner), Some(me)) if owner == me => Ok(()),
        _ => Err(Error::Forbidden(
            "You are not permitted to modify this image: only its owner or an admin may".into(),
        )),
    }
}

/// Memberships may be changed by the owner, an admin, or a member allowed to share.
/// `my_can_share` is the caller's own membership flag, if the caller is a member.
pub fn check_can_share(
    image: &Image,
    caller: &Caller,
    my_can_share: Option<bool>,
) -> Result<(), Error> {
    if caller.is_admin {
        return Ok(());
    }
    if caller.owner.is_none() {
        return Err(Error::Unauthorized(
            "Changing memberships needs a caller with a tenant".into(),
        ));
    }
    if image.owner.is_some() && image.owner == caller.owner {
        return Ok(());
    }
    if my_can_share == Some(true) {
        return Ok(());
    }
    Err(Error::Forbidden(
        "You are not permitted to share this image: only its owner, an admin or a member with can_share may".into(),
    ))
}

/// A protected image cannot be deleted; a deleted one cannot be deleted again.
pub fn check_can_delete(image: &Image, caller: &Caller) -> Result<(), Error> {
    if image.deleted {
        return Err(Error::image_not_found());
    }
    check_can_modify(image, caller)?;
    if image.protected {
        return Err(Error::Forbidden(
            "Image is protected and cannot be deleted; set protected to false first".into(),
        ));
    }
    Ok(())
}
