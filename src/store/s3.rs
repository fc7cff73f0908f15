//! S3-compatible object storage through the `object_store` crate: multipart uploads (aborted
//! on failure, so no partial object is ever visible), ranged reads, listings.

use super::{ByteStream, StoredObject, unavailable};
use crate::error::Result;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, WriteMultipart};
use std::sync::Arc;

/// Where and how to reach the bucket.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Settings {
    pub bucket: String,
    /// Objects are `<prefix>/<image id>` (no prefix: at the bucket's root).
    pub prefix: String,
    /// e.g. `http://127.0.0.1:9390`; unset: AWS.
    pub endpoint: Option<String>,
    pub region: String,
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
}

/// The secret key never reaches a log line.
impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key", &self.access_key)
            .field("secret_key", &self.secret_key.as_ref().map(|_| "****"))
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct S3Store {
    client: Arc<AmazonS3>,
    bucket: String,
    prefix: String,
    endpoint: String,
}

pub struct S3Upload {
    write: WriteMultipart,
}

/// Parts of a multipart upload: S3's minimum, so that the part being filled and the one in
/// flight stay a few MiB of memory whatever the image size.
const PART: usize = 5 * 1024 * 1024;

impl S3Store {
    pub fn open(s: &S3Settings) -> Result<S3Store> {
        let mut b = AmazonS3Builder::new()
            .with_bucket_name(&s.bucket)
            .with_region(&s.region);
        if let Some(e) = &s.endpoint {
            b = b.with_endpoint(e).with_allow_http(e.starts_with("http://"));
        }
        if let Some(k) = &s.access_key {
            b = b.with_access_key_id(k);
        }
        if let Some(k) = &s.secret_key {
            b = b.with_secret_access_key(k);
        }
        let client = b.build().map_err(|e| {
            crate::error::Error::bad_request(format!("invalid S3 store settings: {e}"))
        })?;
        Ok(S3Store {
            client: Arc::new(client),
            bucket: s.bucket.clone(),
            prefix: s.prefix.trim_matches('/').to_owned(),
            endpoint: s.endpoint.clone().unwrap_or_else(|| "AWS".into()),
        })
    }

    fn path(&self, key: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(key)
        } else {
            Path::from(format!("{}/{key}", self.prefix))
        }
    }

    pub fn describe(&self) -> String {
        format!("s3://{}/{} at {}", self.bucket, self.prefix, self.endpoint)
    }

    pub fn location(&self, key: &str) -> String {
        format!("s3://{}/{}", self.bucket, self.path(key))
    }

    pub async fn begin(&self, key: &str) -> Result<S3Upload> {
        let upload = self
            .client
            .put_multipart(&self.path(key))
            .await
            .map_err(|e| unavailable("start an upload", e))?;
        Ok(S3Upload {
            write: WriteMultipart::new_with_chunk_size(upload, PART),
        })
    }

    pub async fn read(
        &self,
        key: &str,
        start: u64,
        len: Option<u64>,
    ) -> Result<Option<ByteStream>> {
        let range = match len {
            Some(n) => Some(GetRange::Bounded(start..start + n)),
            None if start > 0 => Some(GetRange::Offset(start)),
            None => None,
        };
        let opts = GetOptions {
            range,
            ..GetOptions::default()
        };
        match self.client.get_opts(&self.path(key), opts).await {
            Ok(got) => Ok(Some(
                got.into_stream().map_err(std::io::Error::other).boxed(),
            )),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(unavailable("read an object", e)),
        }
    }

    pub async fn delete(&self, key: &str) -> Result<bool> {
        let path = self.path(key);
        match self.client.head(&path).await {
            Err(object_store::Error::NotFound { .. }) => return Ok(false),
            Err(e) => return Err(unavailable("look up an object", e)),
            Ok(_) => {}
        }
        self.client
            .delete(&path)
            .await
            .map_err(|e| unavailable("delete an object", e))?;
        Ok(true)
    }

    pub async fn list(&self) -> Result<Vec<StoredObject>> {
        let prefix = (!self.prefix.is_empty()).then(|| Path::from(self.prefix.as_str()));
        let metas: Vec<_> = self
            .client
            .list(prefix.as_ref())
            .try_collect()
            .await
            .map_err(|e| unavailable("list objects", e))?;
        let mut out: Vec<StoredObject> = metas
            .into_iter()
            .map(|m| StoredObject {
                key: m.location.filename().unwrap_or_default().to_owned(),
                size: m.size,
            })
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}

impl S3Upload {
    pub async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        // One part in flight while the next fills: memory stays two parts.
        self.write
            .wait_for_capacity(1)
            .await
            .map_err(|e| unavailable("upload a part", e))?;
        self.write.write(chunk);
        Ok(())
    }

    pub async fn commit(self) -> Result<()> {
        self.write
            .finish()
            .await
            .map(|_| ())
            .map_err(|e| unavailable("complete an upload", e))
    }

    pub async fn abort(self) {
        if let Err(e) = self.write.abort().await {
            tracing::warn!(error = %e, "aborting an S3 upload failed; the bucket may keep its parts");
        }
    }
}
