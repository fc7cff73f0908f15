//! Image data on the S3 store, against a real S3 server (s3s-fs): round trips of several sizes
//! (empty, one byte, more than one part, several 8 MiB parts) sent with `Content-Length`, with
//! `X-OpenStack-Image-Size` and a chunked body, and chunked without any length; every byte
//! compared, the hashes checked against hashes computed here, ranges, the object in the bucket,
//! v1's `location`, and the object gone after DELETE. Then the S3 server killed under an upload
//! and a download (a private instance per test), and glimpse recovering once it is back.
//!
//! The helpers at the top (images and transfers over the v2 API) serve the other `data_*`
//! files too.

#![allow(dead_code)]

use crate::services::{self, S3Instance};
use crate::support::{Backend, TestServer};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use glimpse::config::ServerConfig;
use glimpse::store::StoreConfig;
use glimpse::store::s3::S3Settings;
use md5::Md5;
use object_store::ObjectStoreExt;
use object_store::aws::AmazonS3;
use object_store::path::Path;
use serde_json::{Value, json};
use sha2::{Digest, Sha512};
use std::time::{Duration, Instant};

pub const MIB: usize = 1024 * 1024;

/// `len` bytes of a pattern that repeats only every 251 × 256 bytes (no run of a part size
/// repeats), so a misplaced block shows.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i % 251) as u8) ^ ((i / 251) as u8).wrapping_mul(7) ^ seed)
        .collect()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn md5_hex(data: &[u8]) -> String {
    hex(&Md5::digest(data))
}

pub fn sha512_hex(data: &[u8]) -> String {
    hex(&Sha512::digest(data))
}

/// A client with a timeout long enough for the slowest transfer here.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .expect("client")
}

/// Creates a raw/bare image through v2 (as the no-token admin) and returns its id.
pub async fn create_image(v2: &str, name: &str) -> String {
    create_image_with(
        v2,
        json!({"name": name, "disk_format": "raw", "container_format": "bare"}),
    )
    .await
}

pub async fn create_image_with(v2: &str, body: Value) -> String {
    let r = http()
        .post(format!("{v2}/v2/images"))
        .json(&body)
        .send()
        .await
        .expect("create image");
    let status = r.status().as_u16();
    let v: Value = r.json().await.expect("create body");
    assert_eq!(status, 201, "create image: {v}");
    v["id"].as_str().expect("id").to_owned()
}

/// `GET /v2/images/{id}`, asserting 200.
pub async fn show(v2: &str, id: &str) -> Value {
    let r = http()
        .get(format!("{v2}/v2/images/{id}"))
        .send()
        .await
        .expect("show image");
    let status = r.status().as_u16();
    let v: Value = r.json().await.expect("image body");
    assert_eq!(status, 200, "show image {id}: {v}");
    v
}

/// Polls the image until its status is `status`; the image then.
pub async fn wait_for_status(v2: &str, id: &str, status: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let image = show(v2, id).await;
        if image["status"] == status {
            return image;
        }
        assert!(
            Instant::now() < deadline,
            "image {id} is still {} after {within:?}, expected {status}: {image}",
            image["status"]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// How an upload announces its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// A plain body with `Content-Length`.
    Length,
    /// `X-OpenStack-Image-Size` and a chunked body (glanceclient with a known size).
    ImageSize,
    /// A chunked body and no size at all (a pipe).
    Chunked,
}

/// `data` as a stream of uneven chunks (1 MiB and a bit, so chunk and part edges differ).
pub fn chunked(data: Bytes) -> reqwest::Body {
    let step = MIB + 4099;
    let chunks: Vec<std::io::Result<Bytes>> = (0..data.len())
        .step_by(step)
        .map(|i| Ok(data.slice(i..(i + step).min(data.len()))))
        .collect();
    reqwest::Body::wrap_stream(futures::stream::iter(chunks))
}

/// `PUT /v2/images/{id}/file` with `data`, sent as `how`; the status and body.
pub async fn upload(v2: &str, id: &str, data: &[u8], how: Sent) -> (u16, String) {
    let data = Bytes::copy_from_slice(data);
    let req = http()
        .put(format!("{v2}/v2/images/{id}/file"))
        .header("content-type", "application/octet-stream");
    let req = match how {
        Sent::Length => req.body(data),
        Sent::ImageSize => req
            .header("x-openstack-image-size", data.len().to_string())
            .body(chunked(data)),
        Sent::Chunked => req.body(chunked(data)),
    };
    let r = req.send().await.expect("upload sent");
    let status = r.status().as_u16();
    (status, r.text().await.unwrap_or_default())
}

/// A response read whole.
pub struct Got {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Got {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// `GET /v2/images/{id}/file` with extra headers, read whole.
pub async fn download(v2: &str, id: &str, extra: &[(&str, &str)]) -> Got {
    let mut req = http().get(format!("{v2}/v2/images/{id}/file"));
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let r = req.send().await.expect("download sent");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = r.bytes().await.expect("download body").to_vec();
    Got {
        status,
        headers,
        body,
    }
}

/// Asserts that image `id` is active with exactly `data`, by its fields and a full download.
pub async fn assert_holds(v2: &str, id: &str, data: &[u8]) {
    let md5 = md5_hex(data);
    let image = show(v2, id).await;
    assert_eq!(image["status"], "active", "{image}");
    assert_eq!(image["size"], data.len() as u64, "{image}");
    assert_eq!(image["checksum"], md5.as_str(), "{image}");
    assert_eq!(image["os_hash_algo"], "sha512", "{image}");
    assert_eq!(image["os_hash_value"], sha512_hex(data).as_str(), "{image}");
    // Only raw bare data has a known virtual size: its size (spec 2.1).
    let raw_bare = image["disk_format"] == "raw" && image["container_format"] == "bare";
    if raw_bare && !data.is_empty() {
        assert_eq!(image["virtual_size"], data.len() as u64, "{image}");
    } else {
        assert_eq!(image["virtual_size"], Value::Null, "{image}");
    }
    let got = download(v2, id, &[]).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.header("content-type"), Some("application/octet-stream"));
    assert_eq!(
        got.header("content-length"),
        Some(data.len().to_string().as_str())
    );
    assert_eq!(got.header("content-md5"), Some(md5.as_str()));
    assert_eq!(got.body.len(), data.len(), "downloaded length");
    assert!(
        got.body == data,
        "downloaded bytes differ from the uploaded ones"
    );
}

/// Reads `Range: bytes=first-last` of `data` and compares it.
pub async fn assert_range(v2: &str, id: &str, data: &[u8], first: usize, last: usize) {
    let got = download(v2, id, &[("range", &format!("bytes={first}-{last}"))]).await;
    assert_eq!(got.status, 206, "range {first}-{last}");
    assert_eq!(
        got.header("content-range"),
        Some(format!("bytes {first}-{last}/{}", data.len()).as_str())
    );
    assert_eq!(
        got.header("content-length"),
        Some((last - first + 1).to_string().as_str())
    );
    assert_eq!(got.header("content-md5"), Some(md5_hex(data).as_str()));
    assert!(
        got.body == data[first..=last],
        "range {first}-{last} differs"
    );
}

/// The objects of `store` under `prefix`, as (key, size).
pub async fn objects(store: &AmazonS3, prefix: &str) -> Vec<(String, u64)> {
    let prefix = (!prefix.is_empty()).then(|| Path::from(prefix));
    let mut out: Vec<(String, u64)> = object_store::ObjectStore::list(store, prefix.as_ref())
        .map_ok(|m| (m.location.to_string(), m.size))
        .try_collect()
        .await
        .expect("list the bucket");
    out.sort();
    out
}

/// The S3 store settings for `bucket` on `endpoint`, objects under `images/`.
pub fn s3_store(endpoint: &str, bucket: &str) -> StoreConfig {
    let s3 = services::s3();
    StoreConfig::S3(S3Settings {
        bucket: bucket.to_owned(),
        prefix: "images".into(),
        endpoint: Some(endpoint.to_owned()),
        region: s3.region.clone(),
        access_key: Some(s3.access_key.clone()),
        secret_key: Some(s3.secret_key.clone()),
    })
}

/// A server on `backend` whose store is a fresh bucket on `endpoint`; the bucket's name and
/// a client of it.
pub async fn s3_server(
    backend: Backend,
    endpoint: &str,
    tweak: impl FnOnce(&mut ServerConfig),
) -> (TestServer, String, AmazonS3) {
    let (bucket, store) = services::create_bucket(endpoint).await;
    let config = s3_store(endpoint, &bucket);
    let srv = TestServer::start_with(backend, move |c| {
        c.store = config;
        tweak(c);
    })
    .await;
    (srv, bucket, store)
}

/// v1's `location` of an image (registry API, as admin).
async fn v1_location(srv: &TestServer, id: &str) -> Value {
    let r = srv
        .caller(&[("x-roles", "admin")])
        .get(&format!("/images/{id}"))
        .await
        .expect(200);
    r.json["image"]["location"].clone()
}

// ---------------------------------------------------------------------------------------------
// Round trips

async fn round_trips(backend: Backend) {
    let s3 = services::s3();
    let (srv, bucket, store) = s3_server(backend, &s3.endpoint, |_| {}).await;
    let sizes = [0, 1, 5 * MIB + 3, 20 * MIB];
    for (n, size) in sizes.into_iter().enumerate() {
        let data = pattern(size, n as u8 + 1);
        for how in [Sent::Length, Sent::ImageSize, Sent::Chunked] {
            let what = format!("{size} bytes sent as {how:?}");
            let id = create_image(&srv.v2, &what).await;
            let (status, body) = upload(&srv.v2, &id, &data, how).await;
            assert_eq!(status, 204, "upload of {what}: {body}");
            assert_holds(&srv.v2, &id, &data).await;

            // Ranges: across the first 8 MiB part boundary when there is one.
            match size {
                0 => {
                    let got = download(&srv.v2, &id, &[("range", "bytes=0-0")]).await;
                    assert_eq!(got.status, 416, "a range of an empty image");
                }
                1 => assert_range(&srv.v2, &id, &data, 0, 0).await,
                _ => {
                    assert_range(&srv.v2, &id, &data, 1, 1000).await;
                    assert_range(&srv.v2, &id, &data, size - 17, size - 1).await;
                    if size > 8 * MIB {
                        assert_range(&srv.v2, &id, &data, 8 * MIB - 5, 8 * MIB + 5).await;
                    }
                }
            }

            // The object is in the bucket under the image's id, whole.
            let key = format!("images/{id}");
            let listed = objects(&store, "images").await;
            assert_eq!(listed, vec![(key.clone(), size as u64)], "{what}");
            assert_eq!(
                v1_location(&srv, &id).await,
                format!("s3://{bucket}/{key}"),
                "{what}"
            );

            // DELETE removes the object.
            let r = http()
                .delete(format!("{}/v2/images/{id}", srv.v2))
                .send()
                .await
                .expect("delete");
            assert_eq!(r.status(), 204);
            let head = store.head(&Path::from(key.as_str())).await;
            assert!(
                matches!(head, Err(object_store::Error::NotFound { .. })),
                "the object of a deleted image is still there: {head:?}"
            );
        }
    }
    assert_eq!(objects(&store, "").await, vec![], "the bucket is empty");
}

mod data_s3_round_trips {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        round_trips(Backend::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        round_trips(Backend::Postgres).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mysql() {
        round_trips(Backend::Mysql).await
    }
}

/// Two images in one bucket: each object is its own, and deleting one leaves the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_s3_images_keep_their_own_objects() {
    let s3 = services::s3();
    let (srv, _bucket, store) = s3_server(Backend::Sqlite, &s3.endpoint, |_| {}).await;
    let a = pattern(3 * MIB, 11);
    let b = pattern(3 * MIB, 12);
    let ia = create_image(&srv.v2, "a").await;
    let ib = create_image(&srv.v2, "b").await;
    assert_eq!(upload(&srv.v2, &ia, &a, Sent::Length).await.0, 204);
    assert_eq!(upload(&srv.v2, &ib, &b, Sent::Chunked).await.0, 204);
    assert_holds(&srv.v2, &ia, &a).await;
    assert_holds(&srv.v2, &ib, &b).await;
    // A second upload of an active image is refused and changes nothing.
    assert_eq!(upload(&srv.v2, &ia, &b, Sent::Length).await.0, 409);
    assert_holds(&srv.v2, &ia, &a).await;
    let r = http()
        .delete(format!("{}/v2/images/{ia}", srv.v2))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 204);
    assert_eq!(
        objects(&store, "images").await,
        vec![(format!("images/{ib}"), b.len() as u64)]
    );
    assert_holds(&srv.v2, &ib, &b).await;
}

/// A declared size that the body does not match: 400, the image queued again, no object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_s3_size_mismatch_leaves_no_object() {
    let s3 = services::s3();
    let (srv, _bucket, store) = s3_server(Backend::Postgres, &s3.endpoint, |_| {}).await;
    let id = create_image(&srv.v2, "short").await;
    let data = Bytes::from(pattern(9 * MIB, 3));
    let r = http()
        .put(format!("{}/v2/images/{id}/file", srv.v2))
        .header("content-type", "application/octet-stream")
        .header("x-openstack-image-size", (10 * MIB).to_string())
        .body(chunked(data.clone()))
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status(), 400);
    let image = show(&srv.v2, &id).await;
    assert_eq!(image["status"], "queued", "{image}");
    assert_eq!(image["size"], Value::Null, "{image}");
    assert_eq!(objects(&store, "").await, vec![]);
    // And the image takes the right data afterwards.
    assert_eq!(upload(&srv.v2, &id, &data, Sent::ImageSize).await.0, 204);
    assert_holds(&srv.v2, &id, &data).await;
}

// ---------------------------------------------------------------------------------------------
// Faults: a private S3 server killed under glimpse

/// The body of an upload that the test feeds chunk by chunk.
fn fed_body() -> (
    tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
    reqwest::Body,
) {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    let stream = tokio_stream_from(rx);
    (tx, reqwest::Body::wrap_stream(stream))
}

fn tokio_stream_from(
    rx: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) })
}

/// The image is back in `queued` with no size.
async fn assert_requeued(v2: &str, id: &str, within: Duration) {
    let image = wait_for_status(v2, id, "queued", within).await;
    assert_eq!(image["size"], Value::Null, "{image}");
    assert_eq!(image["checksum"], Value::Null, "{image}");
}

async fn s3_killed_mid_upload(backend: Backend) {
    let mut s3 = S3Instance::start();
    let (srv, _bucket, store) = s3_server(backend, &s3.endpoint, |_| {}).await;
    let id = create_image(&srv.v2, "cut").await;
    let (tx, body) = fed_body();
    let url = format!("{}/v2/images/{id}/file", srv.v2);
    let put = tokio::spawn(async move {
        http()
            .put(url)
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await
    });
    let data = pattern(40 * MIB, 5);
    let chunks: Vec<Bytes> = data.chunks(MIB).map(Bytes::copy_from_slice).collect();
    // Some bytes, enough for the first part to be on its way, then the server dies.
    for c in &chunks[..10] {
        tx.send(Ok(c.clone())).await.expect("feed");
    }
    wait_for_status(&srv.v2, &id, "saving", Duration::from_secs(30)).await;
    s3.kill();
    // The rest, from a task of its own: glimpse may stop reading at any point (then the
    // channel fills, and sending fails once the request is answered).
    let rest: Vec<Bytes> = chunks[10..].to_vec();
    tokio::spawn(async move {
        for c in rest {
            if tx.send(Ok(c)).await.is_err() {
                break;
            }
        }
    });
    let answer = tokio::time::timeout(Duration::from_secs(240), put)
        .await
        .expect("the upload is answered")
        .expect("upload task");
    match answer {
        Ok(r) => {
            let status = r.status().as_u16();
            let text = r.text().await.unwrap_or_default();
            eprintln!("the upload was answered {status}: {text}");
            assert!(
                (500..600).contains(&status),
                "an upload whose store died must fail with 5xx, got {status}: {text}"
            );
            assert_eq!(status, 503, "{text}");
        }
        // The server may answer before reading the whole body and close the connection.
        Err(e) => eprintln!("the upload's connection failed: {e}"),
    }
    assert_requeued(&srv.v2, &id, Duration::from_secs(10)).await;

    s3.restart();
    let listed = objects(&store, "").await;
    assert!(
        listed.iter().all(|(k, _)| !k.contains(&id)),
        "a half object is left: {listed:?}"
    );
    // Without restarting glimpse, the same image takes its data now.
    let (status, text) = upload(&srv.v2, &id, &data, Sent::Chunked).await;
    assert_eq!(status, 204, "upload after the S3 server is back: {text}");
    assert_holds(&srv.v2, &id, &data).await;
    assert_eq!(
        objects(&store, "").await,
        vec![(format!("images/{id}"), data.len() as u64)]
    );
}

mod data_s3_killed_mid_upload {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        s3_killed_mid_upload(Backend::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        s3_killed_mid_upload(Backend::Postgres).await
    }
}

/// The S3 server is down when an upload starts: 503, the image still queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_s3_down_before_an_upload() {
    let mut s3 = S3Instance::start();
    let (srv, _bucket, store) = s3_server(Backend::Sqlite, &s3.endpoint, |_| {}).await;
    let id = create_image(&srv.v2, "down").await;
    s3.kill();
    let data = pattern(MIB, 9);
    let (status, text) = upload(&srv.v2, &id, &data, Sent::Length).await;
    assert_eq!(status, 503, "{text}");
    let error: Value = serde_json::from_str(&text).expect("a JSON error body");
    assert_eq!(error["code"], 503, "{text}");
    assert_requeued(&srv.v2, &id, Duration::from_secs(10)).await;
    s3.restart();
    assert_eq!(objects(&store, "").await, vec![]);
    assert_eq!(upload(&srv.v2, &id, &data, Sent::Length).await.0, 204);
    assert_holds(&srv.v2, &id, &data).await;
}

/// The S3 server is down for a download: 503 with a JSON body; back up, the data is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_s3_down_before_a_download() {
    let mut s3 = S3Instance::start();
    let (srv, _bucket, _store) = s3_server(Backend::Postgres, &s3.endpoint, |_| {}).await;
    let id = create_image(&srv.v2, "down").await;
    let data = pattern(3 * MIB + 1, 4);
    assert_eq!(upload(&srv.v2, &id, &data, Sent::Length).await.0, 204);
    s3.kill();
    let got = download(&srv.v2, &id, &[]).await;
    assert_eq!(got.status, 503, "{}", String::from_utf8_lossy(&got.body));
    assert_eq!(got.header("content-type"), Some("application/json"));
    let error: Value = serde_json::from_slice(&got.body).expect("a JSON error body");
    assert_eq!(error["code"], 503, "{error}");
    assert!(error["message"].is_string(), "{error}");
    // A range read fails the same way.
    let got = download(&srv.v2, &id, &[("range", "bytes=0-9")]).await;
    assert_eq!(got.status, 503);
    // The image itself is untouched.
    assert_eq!(show(&srv.v2, &id).await["status"], "active");
    s3.restart();
    assert_holds(&srv.v2, &id, &data).await;
}

/// The S3 server dies while a 20 MiB image streams out: the client never gets a complete
/// body (the transfer fails or ends short); once the server is back, downloads work again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_s3_killed_mid_download() {
    let mut s3 = S3Instance::start();
    let (srv, _bucket, _store) = s3_server(Backend::Sqlite, &s3.endpoint, |_| {}).await;
    let id = create_image(&srv.v2, "big").await;
    let data = pattern(20 * MIB, 6);
    assert_eq!(upload(&srv.v2, &id, &data, Sent::Length).await.0, 204);

    let r = http()
        .get(format!("{}/v2/images/{id}/file", srv.v2))
        .send()
        .await
        .expect("download");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok()),
        Some(data.len().to_string().as_str())
    );
    let mut body = r.bytes_stream();
    let mut got: Vec<u8> = Vec::new();
    let first = body
        .next()
        .await
        .expect("a first chunk")
        .expect("first chunk");
    got.extend_from_slice(&first);
    s3.kill();
    let mut failed = None;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(c) => got.extend_from_slice(&c),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    eprintln!(
        "the client got {} of {} bytes; error: {failed:?}",
        got.len(),
        data.len()
    );
    assert!(
        failed.is_some() || got.len() < data.len(),
        "the download completed although the store died under it"
    );
    assert!(
        got[..] == data[..got.len()],
        "the bytes that did arrive are the image's"
    );

    s3.restart();
    assert_holds(&srv.v2, &id, &data).await;
    assert_eq!(show(&srv.v2, &id).await["status"], "active");
}

// ---------------------------------------------------------------------------------------------
// Races and upkeep on the S3 store

/// Starts a chunked upload fed by the test; the sender and the request's task.
fn start_fed_upload(
    v2: &str,
    id: &str,
) -> (
    tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
    tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>,
) {
    let (tx, body) = fed_body();
    let url = format!("{v2}/v2/images/{id}/file");
    let put = tokio::spawn(async move {
        http()
            .put(url)
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await
    });
    (tx, put)
}

/// DELETE while the data streams in: the DELETE wins (204), the upload gets 410, and the
/// bucket keeps nothing of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_s3_delete_during_upload() {
    let s3 = services::s3();
    let (srv, _bucket, store) = s3_server(Backend::Postgres, &s3.endpoint, |_| {}).await;
    let id = create_image(&srv.v2, "raced").await;
    let (tx, put) = start_fed_upload(&srv.v2, &id);
    let data = pattern(12 * MIB, 8);
    let chunks: Vec<Bytes> = data.chunks(MIB).map(Bytes::copy_from_slice).collect();
    for c in &chunks[..9] {
        tx.send(Ok(c.clone())).await.expect("feed");
    }
    wait_for_status(&srv.v2, &id, "saving", Duration::from_secs(30)).await;
    let r = http()
        .delete(format!("{}/v2/images/{id}", srv.v2))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 204);
    for c in &chunks[9..] {
        if tx.send(Ok(c.clone())).await.is_err() {
            break;
        }
    }
    drop(tx);
    let r = tokio::time::timeout(Duration::from_secs(120), put)
        .await
        .expect("the upload is answered")
        .expect("task")
        .expect("an answer");
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    assert_eq!(status, 410, "{text}");
    let r = http()
        .get(format!("{}/v2/images/{id}", srv.v2))
        .send()
        .await
        .expect("show");
    assert_eq!(r.status(), 404, "the image stays deleted");
    assert_eq!(
        objects(&store, "").await,
        vec![],
        "nothing of the upload is kept"
    );
}

/// An upload that takes several times the stale time, sending all along, is alive: the upkeep
/// (every stale_after/2) leaves it alone thanks to its heartbeat, and it completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_s3_slow_upload_outlives_the_stale_time() {
    let s3 = services::s3();
    let (srv, _bucket, store) = s3_server(Backend::Sqlite, &s3.endpoint, |c| {
        c.upload_stale_after = Duration::from_secs(2);
    })
    .await;
    let id = create_image(&srv.v2, "slow").await;
    let (tx, put) = start_fed_upload(&srv.v2, &id);
    let data = pattern(9 * MIB + 1, 10);
    let piece = data.len() / 30 + 1;
    let started = Instant::now();
    for c in data.chunks(piece) {
        tx.send(Ok(Bytes::copy_from_slice(c))).await.expect("feed");
        tokio::time::sleep(Duration::from_millis(250)).await;
        let image = show(&srv.v2, &id).await;
        assert_eq!(
            image["status"], "saving",
            "a live upload was given up: {image}"
        );
    }
    drop(tx);
    assert!(started.elapsed() > Duration::from_secs(4));
    let r = put.await.expect("task").expect("an answer");
    let status = r.status().as_u16();
    assert_eq!(status, 204, "{}", r.text().await.unwrap_or_default());
    assert_holds(&srv.v2, &id, &data).await;
    assert_eq!(objects(&store, "images").await.len(), 1);
}

/// `glimpse store scrub` on the S3 store `s3://bucket/images` at `endpoint`, asserting exit 0;
/// its output.
async fn scrub_s3(database: &str, endpoint: &str, bucket: &str, delete: bool) -> String {
    let s3 = services::s3();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_glimpse"));
    cmd.args(["store", "scrub", "--database", database])
        .args(["--store", &format!("s3://{bucket}/images")])
        .args(["--s3-endpoint", endpoint])
        .args(["--s3-region", &s3.region])
        .args(["--s3-access-key", &s3.access_key])
        .args(["--s3-secret-key", &s3.secret_key])
        .env_remove("GLIMPSE_CONFIG")
        .env_remove("GLIMPSE_STORE")
        .stdin(std::process::Stdio::null());
    if delete {
        cmd.arg("--delete");
    }
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("scrub finishes")
        .expect("run glimpse store scrub");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "scrub: {}\n{text}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// `glimpse store scrub` on an S3 store, with the S3 flags: objects of deleted images and
/// objects not named after an image are orphans (removed with `--delete`); an image whose
/// object went away is reported missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_s3_store_scrub() {
    let s3 = services::s3();
    let (srv, bucket, store) = s3_server(Backend::Sqlite, &s3.endpoint, |_| {}).await;
    let data = pattern(MIB, 13);
    let kept = create_image(&srv.v2, "kept").await;
    let deleted = create_image(&srv.v2, "deleted").await;
    let lost = create_image(&srv.v2, "lost").await;
    for id in [&kept, &deleted, &lost] {
        assert_eq!(upload(&srv.v2, id, &data, Sent::Length).await.0, 204);
    }
    let r = http()
        .delete(format!("{}/v2/images/{deleted}", srv.v2))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 204);
    // The deleted image's object back (as if its removal had failed), a stray object, and the
    // lost image's object gone.
    let payload = object_store::PutPayload::from(data.clone());
    store
        .put(&Path::from(format!("images/{deleted}")), payload.clone())
        .await
        .expect("put");
    store
        .put(&Path::from("images/stray"), payload)
        .await
        .expect("put");
    store
        .delete(&Path::from(format!("images/{lost}")))
        .await
        .expect("delete");

    let out = scrub_s3(&srv.db.url, &s3.endpoint, &bucket, false).await;
    let orphans: Vec<&str> = out.lines().filter(|l| l.starts_with("orphan")).collect();
    assert_eq!(orphans.len(), 2, "{out}");
    assert!(orphans.iter().any(|l| l.contains(&deleted)), "{out}");
    assert!(orphans.iter().any(|l| l.contains("stray")), "{out}");
    let missing: Vec<&str> = out.lines().filter(|l| l.starts_with("missing")).collect();
    assert_eq!(missing.len(), 1, "{out}");
    assert!(missing[0].contains(&lost), "{out}");
    assert!(!out.contains(&kept), "{out}");
    assert_eq!(
        objects(&store, "images").await.len(),
        3,
        "a dry run removes nothing"
    );

    let out = scrub_s3(&srv.db.url, &s3.endpoint, &bucket, true).await;
    assert!(out.contains("2 orphaned objects removed"), "{out}");
    assert_eq!(
        objects(&store, "").await,
        vec![(format!("images/{kept}"), data.len() as u64)]
    );
    assert_holds(&srv.v2, &kept, &data).await;
}

/// Data changed in the bucket behind glimpse's back: a whole download never completes (the
/// read-back check fails the transfer before its last bytes), the image stays as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_s3_corrupt_object_is_never_served_whole() {
    let s3 = services::s3();
    let (srv, _bucket, store) = s3_server(Backend::Sqlite, &s3.endpoint, |_| {}).await;
    let id = create_image(&srv.v2, "rot").await;
    let data = pattern(2 * MIB + 9, 14);
    assert_eq!(upload(&srv.v2, &id, &data, Sent::Length).await.0, 204);
    let mut rotten = data.clone();
    rotten[MIB] ^= 0x40;
    store
        .put(
            &Path::from(format!("images/{id}")),
            object_store::PutPayload::from(rotten),
        )
        .await
        .expect("overwrite");
    let r = http()
        .get(format!("{}/v2/images/{id}/file", srv.v2))
        .send()
        .await
        .expect("download");
    assert_eq!(r.status(), 200);
    match r.bytes().await {
        Err(e) => eprintln!("the download failed as it should: {e}"),
        Ok(body) => assert!(
            body.len() < data.len(),
            "a corrupt object was served whole ({} bytes)",
            body.len()
        ),
    }
    let image = show(&srv.v2, &id).await;
    assert_eq!(image["status"], "active", "{image}");
    assert_eq!(image["checksum"], md5_hex(&data).as_str());
}

/// The size cap on the S3 store: a declared size above it is refused before any data is read,
/// a chunked body that grows past it is cut off with 413; both leave the image queued and the
/// bucket empty. Exactly the cap is fine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_s3_size_cap() {
    let s3 = services::s3();
    let cap = 9 * MIB;
    let (srv, _bucket, store) = s3_server(Backend::Postgres, &s3.endpoint, |c| {
        c.image_size_cap = cap as u64;
    })
    .await;
    let id = create_image(&srv.v2, "capped").await;
    let r = http()
        .put(format!("{}/v2/images/{id}/file", srv.v2))
        .header("content-type", "application/octet-stream")
        .header("x-openstack-image-size", (cap + 1).to_string())
        .body(Bytes::from_static(b"x"))
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status(), 413);
    assert_requeued(&srv.v2, &id, Duration::from_secs(10)).await;

    // Chunked past the cap: more than one part is on its way when the cap is crossed.
    let (tx, put) = start_fed_upload(&srv.v2, &id);
    let too_big = pattern(cap + MIB, 15);
    tokio::spawn(async move {
        for c in too_big.chunks(MIB) {
            if tx.send(Ok(Bytes::copy_from_slice(c))).await.is_err() {
                break;
            }
        }
    });
    match put.await.expect("task") {
        Ok(r) => assert_eq!(r.status(), 413),
        Err(e) => eprintln!("the connection failed when the cap was crossed: {e}"),
    }
    assert_requeued(&srv.v2, &id, Duration::from_secs(10)).await;
    assert_eq!(objects(&store, "").await, vec![]);

    let exact = pattern(cap, 16);
    assert_eq!(upload(&srv.v2, &id, &exact, Sent::Chunked).await.0, 204);
    assert_holds(&srv.v2, &id, &exact).await;
}

/// DELETE while the S3 server is down: the image is deleted all the same (its data cannot be
/// removed, and a deleted image never comes back for it); the object left behind is an orphan
/// that scrub removes once the server is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_s3_down_during_delete_leaves_an_orphan_for_scrub() {
    let mut s3 = S3Instance::start();
    let (srv, bucket, store) = s3_server(Backend::Sqlite, &s3.endpoint, |_| {}).await;
    let id = create_image(&srv.v2, "orphaned").await;
    let data = pattern(MIB + 2, 17);
    assert_eq!(upload(&srv.v2, &id, &data, Sent::Length).await.0, 204);
    s3.kill();
    let r = http()
        .delete(format!("{}/v2/images/{id}", srv.v2))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 204);
    let r = http()
        .get(format!("{}/v2/images/{id}", srv.v2))
        .send()
        .await
        .expect("show");
    assert_eq!(r.status(), 404);
    s3.restart();
    assert_eq!(
        objects(&store, "").await.len(),
        1,
        "the object is still there"
    );
    let out = scrub_s3(&srv.db.url, &s3.endpoint, &bucket, false).await;
    assert!(
        out.lines()
            .any(|l| l.starts_with("orphan") && l.contains(&id) && l.contains("deleted")),
        "{out}"
    );
    let out = scrub_s3(&srv.db.url, &s3.endpoint, &bucket, true).await;
    assert!(out.contains("1 orphaned objects removed"), "{out}");
    assert_eq!(objects(&store, "").await, vec![]);
}
