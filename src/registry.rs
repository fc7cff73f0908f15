//! The registry's use cases: each API operation as domain checks around store calls. The HTTP
//! layer parses and renders; this layer decides; the store persists.

use crate::domain::access;
use crate::domain::input::{Rules, parse_image_body};
use crate::domain::member::{self, Membership, SharedImage};
use crate::domain::query::{ListQuery, PageLimits, Visibility};
use crate::domain::{Caller, Image, ImageId, Timestamp};
use crate::error::{Error, Result};
use crate::storage::Catalog;

/// A conditional write: the `If-Match` tags the image must still have.
#[derive(Debug, Clone, Default)]
pub struct Precondition(pub Option<String>);

impl Precondition {
    fn check(&self, image: &Image) -> Result<()> {
        let Some(tags) = &self.0 else { return Ok(()) };
        let current = image.etag();
        if tags
            .split(',')
            .map(str::trim)
            .any(|t| t == "*" || t == current)
        {
            Ok(())
        } else {
            Err(Error::PreconditionFailed(format!(
                "The image has changed: its current ETag is {current}"
            )))
        }
    }
}

pub struct Registry<S> {
    pub store: S,
    pub rules: Rules,
    pub limits: PageLimits,
}

fn parse_id(id: &str) -> Result<ImageId> {
    ImageId::parse(id).ok_or_else(Error::image_not_found)
}

impl<S: Catalog> Registry<S> {
    pub fn new(store: S, rules: Rules, limits: PageLimits) -> Self {
        Registry {
            store,
            rules,
            limits,
        }
    }

    pub async fn list(
        &self,
        caller: &Caller,
        params: &[(String, String)],
        detail: bool,
    ) -> Result<(ListQuery, Vec<Image>)> {
        let query = ListQuery::parse(params, caller, self.limits)?;
        let images = self.store.list_images(&query, detail).await?;
        Ok((query, images))
    }

    pub async fn show(&self, caller: &Caller, id: &str) -> Result<Image> {
        let id = parse_id(id)?;
        self.store
            .get_image(&id, &Visibility::for_reading(caller))
            .await?
            .ok_or_else(Error::image_not_found)
    }

    pub async fn create(&self, caller: &Caller, body: &[u8]) -> Result<Image> {
        let parsed = parse_image_body(body, &self.rules, true)?;
        let image = Image::create(parsed.image, caller, Timestamp::now(), &self.rules)?;
        self.store.create_image(&image).await?;
        Ok(image)
    }

    pub async fn update(
        &self,
        caller: &Caller,
        id: &str,
        body: &[u8],
        purge_props: bool,
        pre: &Precondition,
    ) -> Result<Image> {
        let id = parse_id(id)?;
        let parsed = parse_image_body(body, &self.rules, false)?;
        let edit = |current: &Image| {
            access::check_can_modify(current, caller)?;
            pre.check(current)?;
            if let Some(expected) = parsed.from_state
                && current.status != expected
            {
                return Err(Error::Conflict(format!(
                    "Image status is '{}', not '{}' as from_state requires",
                    current.status, expected
                )));
            }
            current.updated(
                parsed.image.clone(),
                purge_props,
                caller,
                Timestamp::now(),
                &self.rules,
            )
        };
        self.store
            .update_image(&id, &Visibility::for_reading(caller), edit)
            .await
    }

    pub async fn delete(&self, caller: &Caller, id: &str, pre: &Precondition) -> Result<Image> {
        let id = parse_id(id)?;
        let check = |current: &Image| {
            access::check_can_delete(current, caller)?;
            pre.check(current)?;
            let now = Timestamp::now();
            let mut next = current.clone();
            next.deleted = true;
            next.deleted_at = Some(now);
            next.updated_at = now;
            next.status = crate::domain::Status::Deleted;
            next.version += 1;
            Ok(next)
        };
        self.store
            .delete_image(&id, &Visibility::for_reading(caller), check)
            .await
    }

    /// The image, if the caller can see it and it is not deleted: members only exist on live
    /// images.
    async fn live_image(&self, caller: &Caller, id: &str) -> Result<Image> {
        let image = self.show(caller, id).await?;
        if image.deleted {
            return Err(Error::image_not_found());
        }
        Ok(image)
    }

    /// Owners and admins see every membership; a member sees only their own; anyone else who
    /// can see the image sees none (who it is shared with is the owner's business).
    pub async fn members(&self, caller: &Caller, id: &str) -> Result<Vec<Membership>> {
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

    async fn check_share(&self, caller: &Caller, image: &Image) -> Result<()> {
        let mine = match (&caller.owner, caller.is_admin) {
            (Some(me), false) => self
                .store
                .list_members(&image.id, Some(me))
                .await?
                .first()
                .map(|m| m.can_share),
            _ => None,
        };
        access::check_can_share(image, caller, mine)
    }

    pub async fn replace_members(&self, caller: &Caller, id: &str, body: &[u8]) -> Result<()> {
        let image = self.live_image(caller, id).await?;
        self.check_share(caller, &image).await?;
        let members = member::parse_memberships(body)?;
        self.store.replace_members(&image.id, &members).await
    }

    pub async fn add_member(
        &self,
        caller: &Caller,
        id: &str,
        member_id: &str,
        body: &[u8],
    ) -> Result<()> {
        let image = self.live_image(caller, id).await?;
        self.check_share(caller, &image).await?;
        member::check_member_id(member_id)?;
        let can_share = member::parse_member_body(body)?;
        self.store
            .upsert_member(&image.id, member_id, can_share)
            .await
    }

    pub async fn remove_member(&self, caller: &Caller, id: &str, member_id: &str) -> Result<()> {
        let image = self.live_image(caller, id).await?;
        self.check_share(caller, &image).await?;
        if self.store.remove_member(&image.id, member_id).await? {
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
