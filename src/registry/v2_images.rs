//! The v2 images API's use cases: its visibility rules (community images, dormant members,
//! member status) and its policy, over the same catalog the v1 use cases write.

use super::Registry;
use crate::domain::draft::NewImage;
use crate::domain::patch::{self, Change};
use crate::domain::precondition::Precondition;
use crate::domain::query::{ListQuery, V2ListParams, Visibility};
use crate::domain::{Caller, Image, ImageId, Status, Timestamp, policy};
use crate::error::{Error, Result};
use crate::storage::Catalog;

impl<S: Catalog> Registry<S> {
    /// One image as v2 shows it: killed ones too, deleted ones never.
    pub async fn show_v2(&self, caller: &Caller, id: &ImageId) -> Result<Image> {
        match self
            .store
            .get_image(id, &Visibility::for_reading_v2(caller))
            .await?
        {
            Some(image) if !image.deleted => Ok(image),
            _ => Err(Error::image_not_found()),
        }
    }

    /// A page of a v2 list, with the query it ran.
    pub async fn list_v2(
        &self,
        caller: &Caller,
        params: V2ListParams,
    ) -> Result<(ListQuery, Vec<Image>)> {
        let query = ListQuery::for_v2(params, caller, self.limits);
        let images = self.store.list_images(&query, true).await?;
        Ok((query, images))
    }

    pub async fn create_v2(&self, caller: &Caller, new: NewImage) -> Result<Image> {
        let image = new.into_image(caller, Timestamp::now(), &self.rules)?;
        self.store.create_image(&image).await?;
        Ok(image)
    }

    /// Applies `edit` to a live image the caller can see, if `pre` holds.
    async fn change_v2(
        &self,
        caller: &Caller,
        id: &ImageId,
        pre: &Precondition,
        edit: impl Fn(&Image) -> Result<Image> + Send + Sync,
    ) -> Result<Image> {
        let guarded = |current: &Image| {
            if current.deleted {
                return Err(Error::image_not_found());
            }
            pre.check(current)?;
            edit(current)
        };
        self.store
            .update_image(id, &Visibility::for_reading_v2(caller), guarded)
            .await
    }

    /// A JSON-patch update; an empty patch changes nothing (not even `updated_at`).
    pub async fn patch(
        &self,
        caller: &Caller,
        id: &ImageId,
        changes: &[Change],
        pre: &Precondition,
    ) -> Result<Image> {
        if changes.is_empty() {
            let image = self.show_v2(caller, id).await?;
            policy::check_modify(&image, caller)?;
            pre.check(&image)?;
            return Ok(image);
        }
        let now = Timestamp::now();
        self.change_v2(caller, id, pre, |current| {
            patch::apply(current, changes, caller, &self.rules, now)
        })
        .await
    }

    pub async fn add_tag(&self, caller: &Caller, id: &ImageId, tag: &str) -> Result<Image> {
        let now = Timestamp::now();
        self.change_v2(caller, id, &Precondition::None, |current| {
            patch::add_tag(current, tag, caller, now)
        })
        .await
    }

    pub async fn remove_tag(&self, caller: &Caller, id: &ImageId, tag: &str) -> Result<Image> {
        let now = Timestamp::now();
        self.change_v2(caller, id, &Precondition::None, |current| {
            patch::remove_tag(current, tag, caller, now)
        })
        .await
    }

    /// deactivate (`to` = deactivated) or reactivate (`to` = active).
    pub async fn set_active(&self, caller: &Caller, id: &ImageId, to: Status) -> Result<Image> {
        let now = Timestamp::now();
        self.change_v2(caller, id, &Precondition::None, |current| {
            patch::set_active(current, to, caller, now)
        })
        .await
    }

    /// Deletes an image: the policy first, then `protected` (which binds admins too).
    pub async fn delete_v2(
        &self,
        caller: &Caller,
        id: &ImageId,
        pre: &Precondition,
    ) -> Result<Image> {
        let check = |current: &Image| {
            if current.deleted {
                return Err(Error::image_not_found());
            }
            policy::check_modify(current, caller)?;
            if current.protected {
                return Err(Error::Forbidden(format!(
                    "Image {} is protected and cannot be deleted.",
                    current.id
                )));
            }
            pre.check(current)?;
            let now = Timestamp::now();
            let mut next = current.clone();
            next.deleted = true;
            next.deleted_at = Some(now);
            next.updated_at = now;
            next.status = Status::Deleted;
            next.version += 1;
            Ok(next)
        };
        let deleted = self
            .store
            .delete_image(id, &Visibility::for_reading_v2(caller), check)
            .await?;
        self.remove_data(&deleted).await;
        Ok(deleted)
    }
}
