//! Listing, reading, creating, updating and deleting images.

use super::Registry;
use crate::domain::access;
use crate::domain::input::ImageInput;
use crate::domain::precondition::Precondition;
use crate::domain::query::{ListParams, ListQuery, Visibility};
use crate::domain::{Caller, Image, ImageId, Status, Timestamp};
use crate::error::{Error, Result};
use crate::storage::Catalog;

/// A requested change of an image.
#[derive(Debug, Clone)]
pub struct ImageUpdate {
    pub input: ImageInput,
    /// Conditional update: the status the image must have now.
    pub from_state: Option<Status>,
    /// The given properties replace all existing ones (none given removes them all).
    pub purge_props: bool,
}

impl<S: Catalog> Registry<S> {
    /// A page of images, with the query it ran (the API layer links the next page from it).
    pub async fn list(
        &self,
        caller: &Caller,
        params: ListParams,
        detail: bool,
    ) -> Result<(ListQuery, Vec<Image>)> {
        let query = ListQuery::for_caller(params, caller, self.limits);
        let images = self.store.list_images(&query, detail).await?;
        Ok((query, images))
    }

    pub async fn show(&self, caller: &Caller, id: &ImageId) -> Result<Image> {
        self.store
            .get_image(id, &Visibility::for_reading(caller))
            .await?
            .ok_or_else(Error::image_not_found)
    }

    pub async fn create(&self, caller: &Caller, input: ImageInput) -> Result<Image> {
        let image = Image::create(input, caller, Timestamp::now(), &self.rules)?;
        self.store.create_image(&image).await?;
        Ok(image)
    }

    pub async fn update(
        &self,
        caller: &Caller,
        id: &ImageId,
        change: ImageUpdate,
        pre: &Precondition,
    ) -> Result<Image> {
        let edit = |current: &Image| {
            access::check_can_modify(current, caller)?;
            pre.check(current)?;
            if let Some(expected) = change.from_state
                && current.status != expected
            {
                return Err(Error::Conflict(format!(
                    "Image status is '{}', not '{}' as from_state requires",
                    current.status, expected
                )));
            }
            current.updated(
                change.input.clone(),
                change.purge_props,
                caller,
                Timestamp::now(),
                &self.rules,
            )
        };
        self.store
            .update_image(id, &Visibility::for_reading(caller), edit)
            .await
    }

    pub async fn delete(&self, caller: &Caller, id: &ImageId, pre: &Precondition) -> Result<Image> {
        let check = |current: &Image| {
            access::check_can_delete(current, caller)?;
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
            .delete_image(id, &Visibility::for_reading(caller), check)
            .await?;
        self.remove_data(&deleted).await;
        Ok(deleted)
    }
}
