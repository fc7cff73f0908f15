//! v2 image sharing: members with a status the member project sets, only on shared images.

use super::Registry;
use crate::domain::draft::MAX_MEMBERS;
use crate::domain::member::Membership;
use crate::domain::{Caller, Image, ImageId, MemberStatus, policy};
use crate::error::{Error, Result};
use crate::storage::Catalog;

fn member_not_found(member: &str) -> Error {
    Error::NotFound(format!("{member} is not a member of this image"))
}

impl<S: Catalog> Registry<S> {
    /// The image, visible to the caller and shared (403 otherwise).
    async fn shared_image(&self, caller: &Caller, id: &ImageId) -> Result<Image> {
        let image = self.show_v2(caller, id).await?;
        policy::check_shared(&image)?;
        Ok(image)
    }

    /// Every member for the owner project and admins; a member project sees its own row.
    pub async fn members_v2(&self, caller: &Caller, id: &ImageId) -> Result<Vec<Membership>> {
        let image = self.shared_image(caller, id).await?;
        if policy::sees_all_members(&image, caller) {
            return self.store.list_members(&image.id, None).await;
        }
        match &caller.owner {
            Some(me) => self.store.list_members(&image.id, Some(me)).await,
            None => Ok(Vec::new()),
        }
    }

    /// One member; someone else's row is 404 to a member project, as is a non-shared image.
    pub async fn member_v2(
        &self,
        caller: &Caller,
        id: &ImageId,
        member: &str,
    ) -> Result<Membership> {
        let image = self.show_v2(caller, id).await?;
        if policy::check_shared(&image).is_err() {
            return Err(member_not_found(member));
        }
        if !policy::sees_all_members(&image, caller) && caller.owner.as_deref() != Some(member) {
            return Err(member_not_found(member));
        }
        self.store
            .list_members(&image.id, Some(member))
            .await?
            .pop()
            .ok_or_else(|| member_not_found(member))
    }

    pub async fn add_member_v2(
        &self,
        caller: &Caller,
        id: &ImageId,
        member: &str,
    ) -> Result<Membership> {
        let image = self.shared_image(caller, id).await?;
        policy::check_modify(&image, caller)?;
        self.store.add_member(&image.id, member, MAX_MEMBERS).await
    }

    /// The member project's answer. The owner project may not answer for its members.
    pub async fn set_member_status(
        &self,
        caller: &Caller,
        id: &ImageId,
        member: &str,
        status: MemberStatus,
    ) -> Result<Membership> {
        let image = self.shared_image(caller, id).await?;
        if !policy::sees_all_members(&image, caller) && caller.owner.as_deref() != Some(member) {
            return Err(member_not_found(member));
        }
        policy::check_member_status(caller, member)?;
        self.store
            .set_member_status(&image.id, member, status)
            .await?
            .ok_or_else(|| member_not_found(member))
    }

    pub async fn remove_member_v2(
        &self,
        caller: &Caller,
        id: &ImageId,
        member: &str,
    ) -> Result<()> {
        let image = self.shared_image(caller, id).await?;
        if !policy::sees_all_members(&image, caller) && caller.owner.as_deref() != Some(member) {
            return Err(member_not_found(member));
        }
        policy::check_modify(&image, caller)?;
        if self.store.remove_member(&image.id, member, false).await? {
            Ok(())
        } else {
            Err(member_not_found(member))
        }
    }
}
