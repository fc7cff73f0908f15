//! A local directory of image files. An upload goes to a temporary file in the same directory,
//! which is fsynced, renamed to the image id and followed by an fsync of the directory: a crash
//! leaves either the whole file under its name or a temporary file that `store scrub` finds.

use super::{ByteStream, StoredObject, unavailable};
use crate::error::Result;
use futures::StreamExt;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::PARTIAL_PREFIX as PARTIAL;

#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
}

pub struct FileUpload {
    file: tokio::fs::File,
    tmp: PathBuf,
    target: PathBuf,
    dir: PathBuf,
}

/// Keys are image ids, or the temporary files of uploads (`.partial-<id>-<nonce>`, which
/// `store scrub --delete` removes); anything else could escape the directory.
fn valid_key(key: &str) -> bool {
    let name = key.strip_prefix(PARTIAL).unwrap_or(key);
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

impl FileStore {
    pub async fn open(dir: &Path) -> Result<FileStore> {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| unavailable("create its directory", e))?;
        let dir = tokio::fs::canonicalize(dir)
            .await
            .map_err(|e| unavailable("find its directory", e))?;
        Ok(FileStore { dir })
    }

    fn path(&self, key: &str) -> Result<PathBuf> {
        if valid_key(key) {
            Ok(self.dir.join(key))
        } else {
            Err(crate::error::Error::Internal(format!(
                "invalid object key {key:?}"
            )))
        }
    }

    pub fn location(&self, key: &str) -> String {
        format!("file://{}", self.dir.join(key).display())
    }

    pub async fn begin(&self, key: &str) -> Result<FileUpload> {
        let target = self.path(key)?;
        let tmp = self
            .dir
            .join(format!("{PARTIAL}{key}-{}", uuid::Uuid::new_v4().simple()));
        let file = tokio::fs::File::create(&tmp)
            .await
            .map_err(|e| unavailable("create a file", e))?;
        Ok(FileUpload {
            file,
            tmp,
            target,
            dir: self.dir.clone(),
        })
    }

    pub async fn read(
        &self,
        key: &str,
        start: u64,
        len: Option<u64>,
    ) -> Result<Option<ByteStream>> {
        let mut file = match tokio::fs::File::open(self.path(key)?).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(unavailable("open an image file", e)),
        };
        file.seek(std::io::SeekFrom::Start(start))
            .await
            .map_err(|e| unavailable("read an image file", e))?;
        let reader: Box<dyn tokio::io::AsyncRead + Send + Unpin> = match len {
            Some(n) => Box::new(file.take(n)),
            None => Box::new(file),
        };
        Ok(Some(
            tokio_util::io::ReaderStream::with_capacity(reader, 256 * 1024).boxed(),
        ))
    }

    pub async fn delete(&self, key: &str) -> Result<bool> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(unavailable("delete an image file", e)),
        }
    }

    /// Every file, temporary ones included (under their own names).
    pub async fn list(&self) -> Result<Vec<StoredObject>> {
        let mut out = Vec::new();
        let mut dir = tokio::fs::read_dir(&self.dir)
            .await
            .map_err(|e| unavailable("list its directory", e))?;
        while let Some(entry) = dir
            .next_entry()
            .await
            .map_err(|e| unavailable("list its directory", e))?
        {
            let meta = entry
                .metadata()
                .await
                .map_err(|e| unavailable("list its directory", e))?;
            if meta.is_file() {
                out.push(StoredObject {
                    key: entry.file_name().to_string_lossy().into_owned(),
                    size: meta.len(),
                });
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}

impl FileUpload {
    pub async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        self.file
            .write_all(chunk)
            .await
            .map_err(|e| unavailable("write an image file", e))
    }

    pub async fn commit(mut self) -> Result<()> {
        let done = async {
            self.file.flush().await?;
            self.file.sync_all().await?;
            tokio::fs::rename(&self.tmp, &self.target).await?;
            // The rename is durable only once the directory is.
            tokio::fs::File::open(&self.dir).await?.sync_all().await
        }
        .await;
        if let Err(e) = done {
            let _ = tokio::fs::remove_file(&self.tmp).await;
            return Err(unavailable("store an image file", e));
        }
        Ok(())
    }

    pub async fn abort(self) {
        drop(self.file);
        let _ = tokio::fs::remove_file(&self.tmp).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_image_ids_or_partial_files() {
        assert!(valid_key("9640a98f-efe2-46d0-9be4-7fff3827ede5"));
        assert!(valid_key(
            ".partial-9640a98f-efe2-46d0-9be4-7fff3827ede5-671b21153a1f418f904e03e6a6314da3"
        ));
        for bad in ["", ".partial-", "../etc", ".partial-../x", "a/b", ".hidden"] {
            assert!(!valid_key(bad), "{bad:?}");
        }
    }
}
