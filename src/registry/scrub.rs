//! `glimpse store scrub`: the store and the catalog compared. Objects no live image owns
//! (an image deleted while its data could not be removed, an upload cut short by a crash)
//! are orphans, removed with `--delete`; images whose data is missing are reported, never
//! changed (an operator decides whether to restore the data or delete the image).

use super::Registry;
use crate::domain::query::Visibility;
use crate::domain::{ImageId, Status};
use crate::error::Result;
use crate::storage::Catalog;
use crate::store::{PARTIAL_PREFIX, StoredObject};
use std::collections::BTreeSet;

/// Images compared per catalog query.
const PAGE: u64 = 500;

/// What a scrub found (and, with `delete`, removed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScrubReport {
    /// Objects no live image owns, with why.
    pub orphans: Vec<(StoredObject, &'static str)>,
    /// Images that say they have data the store does not hold.
    pub missing: Vec<ImageId>,
    /// How many orphans were removed.
    pub removed: u64,
}

impl<S: Catalog> Registry<S> {
    pub async fn scrub(&self, delete: bool) -> Result<ScrubReport> {
        let store = &self.data.store;
        let objects = store.list().await?;
        let mut report = ScrubReport::default();
        let mut present = BTreeSet::new();
        for object in objects {
            if let Some(why) = self.orphan_reason(&object).await? {
                report.orphans.push((object, why));
            } else {
                present.insert(object.key.clone());
            }
        }
        let mut after: Option<ImageId> = None;
        loop {
            let page = self.store.images_with_data(after.as_ref(), PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.clone());
            for id in page {
                if present.contains(id.as_str()) {
                    continue;
                }
                // Only data this store holds can be missing from it.
                let ours = self
                    .store
                    .get_image(&id, &Visibility::Everything)
                    .await?
                    .and_then(|i| i.location)
                    .is_some_and(|l| l == store.location(id.as_str()));
                if ours {
                    report.missing.push(id);
                }
            }
        }
        if delete {
            for (object, _) in &report.orphans {
                if store.delete(&object.key).await? {
                    report.removed += 1;
                }
            }
        }
        Ok(report)
    }

    /// Why `object` belongs to no live image, if it does not.
    async fn orphan_reason(&self, object: &StoredObject) -> Result<Option<&'static str>> {
        if let Some(rest) = object.key.strip_prefix(PARTIAL_PREFIX) {
            // `<image id>-<nonce>`: a running upload's, while its image is saving.
            let id = rest.get(..36).and_then(ImageId::parse);
            let saving = match id {
                Some(id) => self
                    .store
                    .get_image(&id, &Visibility::Everything)
                    .await?
                    .is_some_and(|i| !i.deleted && i.status == Status::Saving),
                None => false,
            };
            return Ok((!saving).then_some("an upload that did not finish"));
        }
        let Some(id) = ImageId::parse(&object.key) else {
            return Ok(Some("not named after an image"));
        };
        Ok(
            match self.store.get_image(&id, &Visibility::Everything).await? {
                None => Some("no such image"),
                Some(i) if i.deleted => Some("its image is deleted"),
                Some(i)
                    if matches!(
                        i.status,
                        Status::Active | Status::Deactivated | Status::Saving
                    ) =>
                {
                    None
                }
                Some(_) => Some("its image has no data"),
            },
        )
    }
}
