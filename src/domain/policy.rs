//! The v2 policy (Glance's secure-RBAC defaults, simplified): which roles may do what to an
//! image the caller can already see. Denials here are 403; an image the caller cannot see is
//! 404 before any of these run.

use super::{Caller, Image, ImageVisibility};
use crate::error::Error;

fn forbidden(what: &str) -> Error {
    Error::Forbidden(format!("You are not authorized to {what}"))
}

/// Whether the caller has the member role (or more) in the image's owning project.
fn is_owning_member(image: &Image, caller: &Caller) -> bool {
    !caller.read_only && image.owner.is_some() && image.owner == caller.owner
}

/// Creating an image needs the member role; a non-admin creates only for their own project.
pub fn check_create(caller: &Caller, owner: Option<&str>) -> Result<(), Error> {
    if caller.is_admin {
        return Ok(());
    }
    if caller.read_only || caller.owner.is_none() {
        return Err(forbidden(
            "create images: that needs the member role in a project",
        ));
    }
    if owner != caller.owner.as_deref() {
        return Err(forbidden("create images owned by another project"));
    }
    Ok(())
}

/// PATCH, tags, delete, deactivate/reactivate, adding and removing members.
pub fn check_modify(image: &Image, caller: &Caller) -> Result<(), Error> {
    if caller.is_admin || is_owning_member(image, caller) {
        Ok(())
    } else {
        Err(forbidden(
            "change this image: only its project's members and admins may",
        ))
    }
}

/// Downloading needs the member role (a reader may see an image but not fetch its data).
pub fn check_download(caller: &Caller) -> Result<(), Error> {
    if caller.read_only {
        Err(forbidden("download image data: that needs the member role"))
    } else {
        Ok(())
    }
}

/// Setting a visibility: `public` is for admins; `community` for the owning project's members.
pub fn check_visibility(caller: &Caller, v: ImageVisibility) -> Result<(), Error> {
    if v == ImageVisibility::Public && !caller.is_admin {
        return Err(forbidden("publicize images: only admins may"));
    }
    Ok(())
}

/// Changing the owner of an existing image is for admins only.
pub fn check_owner_change(caller: &Caller) -> Result<(), Error> {
    if caller.is_admin {
        Ok(())
    } else {
        Err(forbidden("change the owner of an image"))
    }
}

/// Members can be managed only on shared images.
pub fn check_shared(image: &Image) -> Result<(), Error> {
    if image.visibility == ImageVisibility::Shared {
        Ok(())
    } else {
        Err(Error::Forbidden("Only shared images have members.".into()))
    }
}

/// Whether the caller sees every member row (owner project and admins) or only its own.
pub fn sees_all_members(image: &Image, caller: &Caller) -> bool {
    caller.is_admin || (image.owner.is_some() && image.owner == caller.owner)
}

/// A member's status is changed by the member project (member role) or an admin.
pub fn check_member_status(caller: &Caller, member: &str) -> Result<(), Error> {
    if caller.is_admin {
        return Ok(());
    }
    if !caller.read_only && caller.owner.as_deref() == Some(member) {
        return Ok(());
    }
    Err(forbidden(
        "change the status of this membership: only the member project may",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ImageId, Status, Timestamp};

    fn image(owner: &str) -> Image {
        let now = Timestamp::now();
        Image {
            id: ImageId::generate(),
            name: None,
            status: Status::Queued,
            disk_format: None,
            container_format: None,
            size: None,
            virtual_size: None,
            checksum: None,
            min_disk: 0,
            min_ram: 0,
            visibility: ImageVisibility::Shared,
            protected: false,
            owner: Some(owner.into()),
            location: None,
            created_at: now,
            updated_at: now,
            deleted_at: None,
            deleted: false,
            properties: Default::default(),
            os_hidden: false,
            os_hash_algo: None,
            os_hash_value: None,
            data_crc32: None,
            tags: Default::default(),
            version: 1,
        }
    }

    fn member(p: &str) -> Caller {
        Caller::authenticated(Some(p.into()), None, vec!["member".into()], true)
    }

    fn reader(p: &str) -> Caller {
        let mut c = member(p);
        c.read_only = true;
        c
    }

    #[test]
    fn the_policy_table() {
        let img = image("p");
        assert!(check_modify(&img, &Caller::anonymous_admin()).is_ok());
        assert!(check_modify(&img, &member("p")).is_ok());
        assert!(check_modify(&img, &reader("p")).is_err());
        assert!(check_modify(&img, &member("x")).is_err());
        assert!(check_create(&member("p"), Some("p")).is_ok());
        assert!(check_create(&member("p"), Some("x")).is_err());
        assert!(check_create(&member("p"), None).is_err());
        assert!(check_create(&reader("p"), Some("p")).is_err());
        assert!(check_visibility(&member("p"), ImageVisibility::Public).is_err());
        assert!(check_visibility(&member("p"), ImageVisibility::Community).is_ok());
        assert!(check_member_status(&member("x"), "x").is_ok());
        assert!(check_member_status(&member("p"), "x").is_err());
        assert!(check_member_status(&reader("x"), "x").is_err());
        assert!(sees_all_members(&img, &reader("p")) && !sees_all_members(&img, &member("x")));
    }
}
