//! Each external part works as the tests will use it: the S3 server with a real S3 client
//! (buckets, objects, multipart uploads, a private instance that stops and comes back), nginx,
//! and the OpenStack clients.

use crate::services::{self, S3Instance, create_bucket};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload, WriteMultipart};
use std::time::Duration;

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_server_stores_objects_and_multipart_uploads() {
    let endpoint = &services::s3().endpoint;
    let (_bucket, store) = create_bucket(endpoint).await;

    let small = Path::from("images/small");
    store
        .put(&small, PutPayload::from(b"hello, s3".to_vec()))
        .await
        .expect("put");
    let got = store
        .get(&small)
        .await
        .expect("get")
        .bytes()
        .await
        .expect("body");
    assert_eq!(&got[..], b"hello, s3");
    let ranged = store.get_range(&small, 7..9).await.expect("range");
    assert_eq!(&ranged[..], b"s3");

    // Three parts: two of S3's 5 MiB minimum and a short last one.
    let big = Path::from("images/big");
    let data = pattern(10 * 1024 * 1024 + 12_345, 7);
    let upload = store.put_multipart(&big).await.expect("start multipart");
    let mut w = WriteMultipart::new_with_chunk_size(upload, 5 * 1024 * 1024);
    for chunk in data.chunks(1024 * 1024) {
        w.write(chunk);
    }
    w.finish().await.expect("complete multipart");
    let head = store.head(&big).await.expect("head");
    assert_eq!(head.size, data.len() as u64);
    let got = store
        .get(&big)
        .await
        .expect("get")
        .bytes()
        .await
        .expect("body");
    assert!(got[..] == data[..], "multipart object differs");

    // An aborted multipart upload leaves no object behind.
    let aborted = Path::from("images/aborted");
    let mut upload = store.put_multipart(&aborted).await.expect("start");
    upload
        .put_part(PutPayload::from(pattern(5 * 1024 * 1024, 1)))
        .await
        .expect("part");
    upload.abort().await.expect("abort");
    let missing = store.head(&aborted).await;
    assert!(
        matches!(missing, Err(object_store::Error::NotFound { .. })),
        "aborted upload left {missing:?}"
    );

    // The shared server keeps its data between runs: leave no 10 MiB object behind.
    store.delete(&big).await.expect("delete");
    store.delete(&small).await.expect("delete");
    assert!(matches!(
        store.get(&small).await,
        Err(object_store::Error::NotFound { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_server_refuses_wrong_keys() {
    let s3 = services::s3();
    let (bucket, store) = create_bucket(&s3.endpoint).await;
    store
        .put(&Path::from("k"), PutPayload::from(b"v".to_vec()))
        .await
        .expect("put");
    let wrong = AmazonS3Builder::new()
        .with_endpoint(&s3.endpoint)
        .with_allow_http(true)
        .with_region(&s3.region)
        .with_access_key_id(&s3.access_key)
        .with_secret_access_key("not-the-secret")
        .with_bucket_name(&bucket)
        .build()
        .expect("client");
    assert!(wrong.get(&Path::from("k")).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_s3_instance_stops_and_comes_back_with_its_data() {
    let mut server = S3Instance::start();
    let (_bucket, store) = create_bucket(&server.endpoint).await;
    let key = Path::from("kept");
    store
        .put(&key, PutPayload::from(b"survives a restart".to_vec()))
        .await
        .expect("put");

    server.kill();
    let down = tokio::time::timeout(Duration::from_secs(60), store.get(&key)).await;
    assert!(
        matches!(down, Ok(Err(_))),
        "a stopped server must fail the request"
    );

    server.restart();
    let got = store
        .get(&key)
        .await
        .expect("get")
        .bytes()
        .await
        .expect("body");
    assert_eq!(&got[..], b"survives a restart");
}

#[test]
fn nginx_binary_runs() {
    let nginx = services::nginx();
    let out = std::process::Command::new(&nginx.bin)
        .arg("-v")
        .output()
        .expect("run nginx -v");
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains(&format!("nginx/{}", nginx.version)),
        "nginx -v: {text}"
    );
}

/// `X.Y.Z` with numeric parts.
fn is_version(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() >= 2
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

#[test]
fn openstack_clients_report_their_versions() {
    let clients = services::openstack_clients();
    let out = std::process::Command::new(&clients.openstack)
        .arg("--version")
        .output()
        .expect("run openstack --version");
    assert!(out.status.success(), "openstack --version: {out:?}");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let mut words = text.split_whitespace();
    assert_eq!(
        words.next(),
        Some("openstack"),
        "openstack --version: {text}"
    );
    let version = words.next().unwrap_or_default();
    assert!(is_version(version), "openstack --version: {text}");
    assert_eq!(version, clients.openstack_version);

    let out = std::process::Command::new(&clients.glance)
        .arg("--version")
        .output()
        .expect("run glance --version");
    assert!(out.status.success(), "glance --version: {out:?}");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(is_version(text.trim()), "glance --version: {text}");
    assert_eq!(text.trim(), clients.glance_version);
}
