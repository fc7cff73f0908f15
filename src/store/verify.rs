//! Reading data back with a check: a whole-image read is hashed as it streams (its CRC-32, or
//! for data stored without one its md5), and the last chunk is held back until the hash is
//! known. Data that no longer matches (or has another size) therefore never reaches the client
//! as a complete, good-looking transfer: the stream fails instead, so the client sees a
//! truncated body, and `on_mismatch` reports it.

use super::ByteStream;
use super::digest::{Expected, ReadCheck};
use bytes::Bytes;
use futures::StreamExt;

struct Check {
    inner: ByteStream,
    check: Option<ReadCheck>,
    held: Option<Bytes>,
    seen: u64,
    size: u64,
    on_mismatch: Box<dyn FnOnce(String) + Send>,
    done: bool,
}

/// `inner`, checked against `size` bytes matching `expected`; `on_mismatch` gets a
/// description of what differed.
pub fn verified(
    inner: ByteStream,
    size: u64,
    expected: Expected,
    on_mismatch: impl FnOnce(String) + Send + 'static,
) -> ByteStream {
    let check = Check {
        inner,
        check: Some(ReadCheck::new(expected)),
        held: None,
        seen: 0,
        size,
        on_mismatch: Box::new(on_mismatch),
        done: false,
    };
    futures::stream::unfold(check, |mut c| async move {
        if c.done {
            return None;
        }
        loop {
            match c.inner.next().await {
                Some(Ok(chunk)) => {
                    if let Some(check) = c.check.as_mut() {
                        check.update(&chunk);
                    }
                    c.seen += chunk.len() as u64;
                    if let Some(previous) = c.held.replace(chunk) {
                        return Some((Ok(previous), c));
                    }
                }
                Some(Err(e)) => {
                    c.done = true;
                    return Some((Err(e), c));
                }
                None => {
                    c.done = true;
                    let matched = c.check.take().map_or(Ok(()), ReadCheck::finish);
                    let what = match matched {
                        Ok(()) if c.seen == c.size => {
                            return c.held.take().map(|last| (Ok(last), c));
                        }
                        Ok(()) => format!("{} bytes stored, {} expected", c.seen, c.size),
                        Err(hash) => format!("stored data has {hash}"),
                    };
                    let report = std::mem::replace(&mut c.on_mismatch, Box::new(|_| {}));
                    report(what);
                    return Some((
                        Err(std::io::Error::other(
                            "the stored image data does not match its checksum",
                        )),
                        c,
                    ));
                }
            }
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;
    use std::sync::{Arc, Mutex};

    fn source(chunks: &[&'static [u8]]) -> ByteStream {
        let items: Vec<std::io::Result<Bytes>> =
            chunks.iter().map(|c| Ok(Bytes::from_static(c))).collect();
        futures::stream::iter(items).boxed()
    }

    #[tokio::test]
    async fn good_data_passes_whole() {
        let reported = Arc::new(Mutex::new(None));
        let r = reported.clone();
        let s = verified(
            source(&[b"hello ", b"world"]),
            11,
            Expected::Crc32(0x0d4a_1185),
            move |w| *r.lock().unwrap() = Some(w),
        );
        let got: Vec<Bytes> = s.try_collect().await.unwrap();
        assert_eq!(got.concat(), b"hello world");
        assert!(reported.lock().unwrap().is_none());
    }

    #[tokio::test]
    async fn corrupt_data_fails_before_its_last_chunk() {
        let reported = Arc::new(Mutex::new(None));
        let r = reported.clone();
        let mut s = verified(
            source(&[b"hello ", b"w0rld"]),
            11,
            Expected::Md5("5eb63bbbe01eeed093cb22bb8f5acdc3".into()),
            move |w| *r.lock().unwrap() = Some(w),
        );
        assert_eq!(
            s.next().await.unwrap().unwrap(),
            Bytes::from_static(b"hello ")
        );
        assert!(s.next().await.unwrap().is_err());
        assert!(s.next().await.is_none());
        assert!(reported.lock().unwrap().as_ref().unwrap().contains("md5"));
    }
}
