//! Image data: where the bytes of an image live, behind one small interface ([`DataStore`])
//! with two implementations, a local directory ([`file`]) and S3-compatible object storage
//! ([`s3`]). Objects are named by image id. Nothing here knows HTTP or the catalog: the use
//! cases (`registry::image_data`) decide when to write, read and delete.

pub mod digest;
pub mod file;
pub mod s3;
pub mod verify;

use crate::error::{Error, Result};
use bytes::Bytes;
use futures::stream::BoxStream;

/// A stream of image bytes, as read back from a store.
pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

/// Objects of uploads not yet committed (file store) start with this; `store scrub` tells
/// them from images by it.
pub const PARTIAL_PREFIX: &str = ".partial-";

/// Which store, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// A directory; objects are `<dir>/<image id>`.
    File { dir: std::path::PathBuf },
    /// A bucket, objects under `prefix`.
    S3(s3::S3Settings),
}

/// The configured store.
#[derive(Debug, Clone)]
pub enum DataStore {
    File(file::FileStore),
    S3(s3::S3Store),
}

/// One object being written: nothing shows under its name until [`Upload::commit`].
pub enum Upload {
    File(file::FileUpload),
    S3(s3::S3Upload),
}

/// One stored object, as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub key: String,
    pub size: u64,
}

impl DataStore {
    pub async fn open(config: &StoreConfig) -> Result<DataStore> {
        Ok(match config {
            StoreConfig::File { dir } => DataStore::File(file::FileStore::open(dir).await?),
            StoreConfig::S3(s) => DataStore::S3(s3::S3Store::open(s)?),
        })
    }

    /// The store, for people: its directory, or its bucket and endpoint.
    pub fn describe(&self) -> String {
        match self {
            DataStore::File(f) => f.location(""),
            DataStore::S3(s) => s.describe(),
        }
    }

    /// Where an object lives, as v1's `location` shows it.
    pub fn location(&self, key: &str) -> String {
        match self {
            DataStore::File(f) => f.location(key),
            DataStore::S3(s) => s.location(key),
        }
    }

    /// Starts writing `key`.
    pub async fn begin(&self, key: &str) -> Result<Upload> {
        Ok(match self {
            DataStore::File(f) => Upload::File(f.begin(key).await?),
            DataStore::S3(s) => Upload::S3(s.begin(key).await?),
        })
    }

    /// The bytes of `key` from `start`, `len` of them (`None`: to the end); `None` if there
    /// is no such object.
    pub async fn read(
        &self,
        key: &str,
        start: u64,
        len: Option<u64>,
    ) -> Result<Option<ByteStream>> {
        match self {
            DataStore::File(f) => f.read(key, start, len).await,
            DataStore::S3(s) => s.read(key, start, len).await,
        }
    }

    /// Removes `key`; true if it existed.
    pub async fn delete(&self, key: &str) -> Result<bool> {
        match self {
            DataStore::File(f) => f.delete(key).await,
            DataStore::S3(s) => s.delete(key).await,
        }
    }

    /// Every object in the store.
    pub async fn list(&self) -> Result<Vec<StoredObject>> {
        match self {
            DataStore::File(f) => f.list().await,
            DataStore::S3(s) => s.list().await,
        }
    }
}

impl Upload {
    pub async fn write(&mut self, chunk: Bytes) -> Result<()> {
        match self {
            Upload::File(u) => u.write(&chunk).await,
            Upload::S3(u) => u.write(&chunk).await,
        }
    }

    /// Makes the object durable under its name.
    pub async fn commit(self) -> Result<()> {
        match self {
            Upload::File(u) => u.commit().await,
            Upload::S3(u) => u.commit().await,
        }
    }

    /// Discards everything written.
    pub async fn abort(self) {
        match self {
            Upload::File(u) => u.abort().await,
            Upload::S3(u) => u.abort().await,
        }
    }
}

/// A store that cannot be reached or refuses: 503, the request may be retried.
pub(crate) fn unavailable(what: &str, e: impl std::fmt::Display) -> Error {
    tracing::warn!(error = %e, "image store: {what} failed");
    Error::Unavailable(format!("The image store failed to {what}; retry later"))
}
