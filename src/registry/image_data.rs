//! Image data: upload, download, the data side of delete, and the upkeep that gives up
//! abandoned uploads. Every status change of an upload (`queued→saving→active`, back to
//! `queued` on failure) is a compare-and-set write on the image row, so two uploads, an upload
//! and a delete, or two instances never both win. While an upload streams it touches the row
//! now and then (its heartbeat); an upload whose heartbeat stopped (its instance died) is
//! returned to `queued` by [`Registry::requeue_stale_uploads`] on any instance.

use super::Registry;
use crate::domain::byte_range::{ByteRange, RangeRequest};
use crate::domain::precondition::Precondition;
use crate::domain::query::Visibility;
use crate::domain::{Caller, Image, ImageId, Status, Timestamp, policy};
use crate::error::{Error, Result};
use crate::storage::Catalog;
use crate::store::digest::{DataDigest, Expected, MULTIHASH_ALGO};
use crate::store::{ByteStream, DataStore, Upload, verify};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Where image data goes, and the limits of uploads.
#[derive(Debug, Clone)]
pub struct DataSettings {
    pub store: DataStore,
    /// The largest image, in bytes.
    pub size_cap: u64,
    /// An upload whose heartbeat is older than this counts as dead.
    pub stale_after: Duration,
    /// How long an upload may wait for its next bytes before it is given up.
    pub idle_timeout: Duration,
}

/// What a download gets.
pub enum ImageData {
    /// The image has no data (yet): 204.
    Empty,
    /// The data, all of it (`range: None`) or the part asked for.
    Bytes {
        /// The md5 of the whole data.
        checksum: Option<String>,
        size: u64,
        range: Option<ByteRange>,
        stream: ByteStream,
    },
}

/// Images the upkeep looks at per pass.
const STALE_BATCH: u64 = 100;

/// The image has stored data of ours: uploaded, and not since deleted.
fn has_data(image: &Image) -> bool {
    matches!(image.status, Status::Active | Status::Deactivated)
        && image.size.is_some()
        && image.location.is_some()
}

impl<S: Catalog> Registry<S> {
    /// Stores the bytes of `body` as the data of image `id`: checks, `queued→saving`, the
    /// stream to the store with its hashes, then `saving→active` with size and hashes. On any
    /// failure nothing stays in the store and the image is `queued` again (or stays deleted,
    /// if it was deleted meanwhile: 410). `pre` is the request's `If-Match` (412 before any
    /// byte is stored); `declared` is the size the client announced (0 or none: unknown).
    /// `cancel` fires when the client is gone.
    pub async fn upload<B>(
        &self,
        caller: &Caller,
        id: &ImageId,
        pre: &Precondition,
        declared: Option<u64>,
        body: B,
        cancel: CancellationToken,
    ) -> Result<Image>
    where
        B: Stream<Item = std::io::Result<Bytes>> + Send + Unpin,
    {
        let declared = declared.filter(|n| *n > 0);
        let cap = self.data.size_cap;
        let start = Timestamp::now();
        self.store
            .update_image(id, &Visibility::for_reading_v2(caller), |current| {
                if current.deleted {
                    return Err(Error::image_not_found());
                }
                policy::check_modify(current, caller)?;
                pre.check(current)?;
                if current.status != Status::Queued {
                    return Err(Error::Conflict(format!(
                        "Image status transition from {} to saving is not allowed",
                        current.status
                    )));
                }
                if current.disk_format.is_none() || current.container_format.is_none() {
                    return Err(Error::bad_request(
                        "Properties disk_format and container_format must be set prior to uploading data",
                    ));
                }
                if let Some(n) = declared
                    && n > cap
                {
                    return Err(too_large(cap));
                }
                let mut next = current.clone();
                next.status = Status::Saving;
                next.updated_at = start;
                next.version += 1;
                Ok(next)
            })
            .await?;
        let upload = match self.data.store.begin(id.as_str()).await {
            Ok(u) => u,
            Err(e) => return Err(self.give_up(id, e).await),
        };
        let hashes = match self.stream_to(id, upload, declared, body, cancel).await {
            Ok(h) => h,
            Err(e) => return Err(self.give_up(id, e).await),
        };
        let location = self.data.store.location(id.as_str());
        let done = self
            .store
            .update_image(id, &Visibility::Everything, |current| {
                still_saving(current)?;
                let mut next = current.clone();
                next.status = Status::Active;
                next.size = Some(hashes.len as i64);
                next.virtual_size = virtual_size(current, hashes.len);
                next.checksum = Some(hashes.md5.clone());
                next.os_hash_algo = Some(MULTIHASH_ALGO.to_owned());
                next.os_hash_value = Some(hashes.sha512.clone());
                next.data_crc32 = Some(hashes.crc32);
                next.location = Some(location.clone());
                next.updated_at = Timestamp::now();
                next.version += 1;
                Ok(next)
            })
            .await;
        match done {
            Ok(image) => {
                crate::metrics::record_transfer("upload", "stored", hashes.len);
                Ok(image)
            }
            Err(e) => {
                // The image went away (or the database did): its data must not stay behind.
                self.remove_object(id).await;
                crate::metrics::record_transfer("upload", "failed", 0);
                Err(match e {
                    Error::NotFound(_) => deleted_meanwhile(),
                    other => other,
                })
            }
        }
    }

    /// Streams `body` into `upload` and commits it; hashes what passed. The heartbeat runs on
    /// its own timer beside the stream, so an upload stays alive while its client pauses or
    /// the store is slow to take a part: were it to beat only when bytes arrive, the upkeep
    /// would return a live upload's image to `queued`, let a second upload in, and the two
    /// would overwrite (and the loser's cleanup delete) each other's data.
    async fn stream_to<B>(
        &self,
        id: &ImageId,
        mut upload: Upload,
        declared: Option<u64>,
        body: B,
        cancel: CancellationToken,
    ) -> Result<crate::store::digest::Hashes>
    where
        B: Stream<Item = std::io::Result<Bytes>> + Send + Unpin,
    {
        let beat_every = self.data.stale_after / 4;
        let mut digest = DataDigest::default();
        let failed: Option<Error> = {
            let pump = self.pump(&mut upload, &mut digest, declared, body, &cancel);
            let beats = async {
                let mut tick = tokio::time::interval(beat_every.max(Duration::from_millis(10)));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    if let Err(e) = self.heartbeat(id).await {
                        return e;
                    }
                }
            };
            tokio::select! {
                failed = pump => failed,
                e = beats => Some(e),
            }
        };
        if let Some(e) = failed {
            upload.abort().await;
            return Err(e);
        }
        if let Some(n) = declared
            && digest.len() != n
        {
            upload.abort().await;
            return Err(size_mismatch(n, digest.len()));
        }
        if cancel.is_cancelled() {
            upload.abort().await;
            return Err(client_gone());
        }
        upload.commit().await?;
        Ok(digest.finish())
    }

    /// Moves `body` into `upload`, hashing it, until the body ends (`None`) or fails.
    async fn pump<B>(
        &self,
        upload: &mut Upload,
        digest: &mut DataDigest,
        declared: Option<u64>,
        mut body: B,
        cancel: &CancellationToken,
    ) -> Option<Error>
    where
        B: Stream<Item = std::io::Result<Bytes>> + Send + Unpin,
    {
        let cap = self.data.size_cap;
        let idle = self.data.idle_timeout;
        loop {
            let next = tokio::select! {
                _ = cancel.cancelled() => return Some(client_gone()),
                next = tokio::time::timeout(idle, body.next()) => next,
            };
            let chunk = match next {
                Err(_) => {
                    return Some(Error::bad_request(format!(
                        "No image data arrived for {} s; the upload is given up",
                        idle.as_secs()
                    )));
                }
                Ok(None) => return None,
                Ok(Some(Err(e))) => {
                    return Some(Error::bad_request(format!(
                        "The image data could not be read: {e}"
                    )));
                }
                Ok(Some(Ok(chunk))) => chunk,
            };
            let total = digest.len() + chunk.len() as u64;
            if total > cap {
                return Some(too_large(cap));
            }
            if let Some(n) = declared
                && total > n
            {
                return Some(size_mismatch(n, total));
            }
            digest.update(&chunk);
            if let Err(e) = upload.write(chunk).await {
                return Some(e);
            }
        }
    }

    /// Shows that the upload of `id` is alive; fails if the image was deleted meanwhile.
    async fn heartbeat(&self, id: &ImageId) -> Result<()> {
        let result = self
            .store
            .update_image(id, &Visibility::Everything, |current| {
                still_saving(current)?;
                let mut next = current.clone();
                next.updated_at = Timestamp::now();
                next.version += 1;
                Ok(next)
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(Error::NotFound(_)) => Err(deleted_meanwhile()),
            Err(e) => Err(e),
        }
    }

    /// After a failed upload: the image back to `queued` (unless it was deleted meanwhile,
    /// which the caller learns as 410), and the error to answer with.
    async fn give_up(&self, id: &ImageId, error: Error) -> Error {
        crate::metrics::record_transfer("upload", "failed", 0);
        let requeued = self
            .store
            .update_image(id, &Visibility::Everything, |current| {
                if current.deleted {
                    return Err(deleted_meanwhile());
                }
                if current.status != Status::Saving {
                    return Ok(current.clone());
                }
                Ok(requeued(current))
            })
            .await;
        match requeued {
            Ok(_) => error,
            Err(Error::Gone(m)) => Error::Gone(m),
            Err(Error::NotFound(_)) => deleted_meanwhile(),
            Err(e) => {
                // The upkeep will requeue it once its heartbeat is stale.
                tracing::warn!(image = %id, error = %e, "cannot return a failed upload's image to queued");
                error
            }
        }
    }

    /// The data of an image: 204 without data, the checks of the download policy, then the
    /// bytes (a whole-image read verified against the checksum as it streams). `range` reads
    /// the request's range once the data's size is known (a range on no data is ignored).
    pub async fn download(
        &self,
        caller: &Caller,
        id: &ImageId,
        range: impl FnOnce(u64) -> Result<Option<RangeRequest>>,
    ) -> Result<ImageData> {
        let image = self.show_v2(caller, id).await?;
        if image.status == Status::Deactivated && !caller.is_admin {
            return Err(Error::Forbidden(
                "The image is deactivated; only admins may download it".into(),
            ));
        }
        policy::check_download(caller)?;
        if !has_data(&image) {
            return Ok(ImageData::Empty);
        }
        let size = image.size.unwrap_or(0).max(0) as u64;
        let range = range(size)?.map(|r| r.resolve(size)).transpose()?;
        let (start, len) = match range {
            Some(r) => (r.start, Some(r.len())),
            None => (0, None),
        };
        let store = &self.data.store;
        let Some(stream) = store.read(id.as_str(), start, len).await? else {
            if image.location.as_deref() == Some(store.location(id.as_str()).as_str()) {
                tracing::error!(image = %id, "the image is {} but its data is missing from the store", image.status);
                crate::metrics::record_data_fault("missing");
            }
            return Ok(ImageData::Empty);
        };
        let expected = match (image.data_crc32, &image.checksum) {
            (Some(crc), _) => Some(Expected::Crc32(crc)),
            (None, Some(md5)) => Some(Expected::Md5(md5.clone())),
            (None, None) => None,
        };
        let stream = match (&range, expected) {
            (None, Some(expected)) => {
                let image_id = id.clone();
                verify::verified(stream, size, expected, move |what| {
                    tracing::error!(image = %image_id, "image data does not match its checksum: {what}");
                    crate::metrics::record_data_fault("corrupt");
                })
            }
            _ => stream,
        };
        crate::metrics::record_transfer("download", "started", range.map_or(size, |r| r.len()));
        Ok(ImageData::Bytes {
            checksum: image.checksum,
            size,
            range,
            stream,
        })
    }

    /// Removes the stored data of a deleted image, if it had some of ours. A failure leaves
    /// an orphan that `store scrub` finds; the image stays deleted either way.
    pub(super) async fn remove_data(&self, image: &Image) {
        let store = &self.data.store;
        if image.location.as_deref() == Some(store.location(image.id.as_str()).as_str()) {
            self.remove_object(&image.id).await;
        }
    }

    async fn remove_object(&self, id: &ImageId) {
        if let Err(e) = self.data.store.delete(id.as_str()).await {
            tracing::warn!(image = %id, error = %e, "cannot remove image data; `glimpse store scrub` will find it");
        }
    }

    /// Returns to `queued` the images whose upload stopped showing signs of life; the number
    /// returned. Runs at start and periodically on every instance.
    pub async fn requeue_stale_uploads(&self) -> Result<u64> {
        let stale_after = self.data.stale_after;
        let cutoff = Timestamp::now().plus_seconds(-(stale_after.as_secs() as i64).max(1));
        let mut count = 0;
        for id in self.store.stale_uploads(cutoff, STALE_BATCH).await? {
            let result = self
                .store
                .update_image(&id, &Visibility::Everything, |current| {
                    if current.deleted
                        || current.status != Status::Saving
                        || current.updated_at >= cutoff
                    {
                        return Err(Error::Conflict("alive".into()));
                    }
                    Ok(requeued(current))
                })
                .await;
            if result.is_ok() {
                tracing::warn!(image = %id, "an upload stopped without finishing (its instance died?); the image is queued again");
                count += 1;
            }
        }
        Ok(count)
    }
}

/// An upload may go on only while its image is live and `saving`.
fn still_saving(current: &Image) -> Result<()> {
    if current.deleted {
        return Err(deleted_meanwhile());
    }
    if current.status != Status::Saving {
        return Err(Error::Conflict(format!(
            "The upload was given up meanwhile (the image is {})",
            current.status
        )));
    }
    Ok(())
}

/// The image after a failed upload.
fn requeued(current: &Image) -> Image {
    let mut next = current.clone();
    next.status = Status::Queued;
    next.size = None;
    next.virtual_size = None;
    next.data_crc32 = None;
    next.updated_at = Timestamp::now();
    next.version += 1;
    next
}

/// glimpse does not inspect image content: only raw bare data has a known virtual size.
fn virtual_size(image: &Image, size: u64) -> Option<i64> {
    (image.disk_format.as_deref() == Some("raw")
        && image.container_format.as_deref() == Some("bare")
        && size > 0)
        .then_some(size as i64)
}

fn too_large(cap: u64) -> Error {
    Error::TooLarge(format!(
        "The image is larger than the image size cap of {cap} bytes"
    ))
}

fn size_mismatch(declared: u64, got: u64) -> Error {
    Error::bad_request(format!(
        "The request declared {declared} bytes of image data but {got} arrived"
    ))
}

fn client_gone() -> Error {
    Error::bad_request("The client went away during the upload")
}

fn deleted_meanwhile() -> Error {
    Error::Gone("The image was deleted during the upload; its data was discarded".into())
}
