//! Sharing images with other tenants: memberships and `/shared-images`.

use super::Registry;
use crate::domain::access;
use crate::domain::member::{MemberGrant, Membership, SharedImage};
use crate::domain::{Caller, Image, ImageId};
use crate::error::{Error, Result};
use crate::storage::Catalog;

/// A live image whose memberships the caller may change: only [`Registry::image_to_share`]
/// makes one, so no membership change skips the check.
#[derive(Debug)]
pub struct Shareable {
    id: ImageId,
}

impl<S: Catalog> Registry<S> {
    /// The image, if the caller can see it and it is not deleted: members only exist on live
    /// images.
    async fn live_image(&self, caller: &Caller, id: &ImageId) -> Result<Image> {
        let image = self.show(caller, id).await?;
        if image.deleted {
            return Err(Error::image_not_found());
        }
        Ok(image)
    }

    /// Owners and admins see every membership; a member sees only their own; anyone else who
    /// can see the image sees none (who it is shared with is the owner's business).
    pub async fn members(&self, caller: &Caller, id: &ImageId) -> Result<Vec<Membership>> {
        let image = self.live_image(caller, id).await?;
        let owns = image.owner.is_some() && image.owner == caller.owner;
        if caller.is_admin || owns {
            return self.store.list_members(&image.id, None).await;
        }
        match &caller.owner {
            Some(me) => self.store.list_members(&image.id, Some(me)).await,
            None => Ok(Vec::new()),
        }
    }

    /// The image, if the caller may change who it is shared with: 404 if they cannot see it,
    /// 403 if they may not share it.
    pub async fn image_to_share(&self, caller: &Caller, id: &ImageId) -> Result<Shareable> {
        let image = self.live_image(caller, id).await?;
        let mine = match (&caller.owner, caller.is_admin) {
            (Some(me), false) => self
                .store
                .list_members(&image.id, Some(me))
                .await?
                .first()
                .map(|m| m.can_share),
            _ => None,
        };
        access::check_can_share(&image, caller, mine)?;
        Ok(Shareable { id: image.id })
    }

    /// Replaces the whole member list. An entry that does not say `can_share` keeps the
    /// member's current one (false for a new member), as the reference did.
    pub async fn replace_members(&self, image: &Shareable, grants: Vec<MemberGrant>) -> Result<()> {
        self.store.replace_members(&image.id, &grants).await
    }

    /// Adds a member, or changes its `can_share` (`None` keeps it; false for a new member).
    pub async fn add_member(
        &self,
        image: &Shareable,
        member_id: &str,
        can_share: Option<bool>,
    ) -> Result<()> {
        self.store
            .upsert_member(&image.id, member_id, can_share)
            .await
    }

    pub async fn remove_member(&self, image: &Shareable, member_id: &str) -> Result<()> {
        if self.store.remove_member(&image.id, member_id, true).await? {
            Ok(())
        } else {
            Err(Error::NotFound(format!(
                "Image is not shared with member '{member_id}'"
            )))
        }
    }

    pub async fn shared_images(
        &self,
        caller: &Caller,
        member_id: &str,
    ) -> Result<Vec<SharedImage>> {
        self.store.shared_images(member_id, caller).await
    }
}
