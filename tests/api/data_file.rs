//! Image data on the local file store (spec §3.5, §3.6, §6): uploads in every framing a
//! client uses, the refusals that leave an image queued, ranges, the download policy, data
//! removed with its image, a delete racing an upload, and corrupt data never served whole.

use crate::backend_tests;
use crate::support::TestServer;
use md5::Md5;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha512};

/// A confirmed caller of project `t` with `roles`.
fn caller(t: &str, roles: &str) -> Vec<(&'static str, String)> {
    vec![
        ("x-auth-token", "token".to_owned()),
        ("x-identity-status", "Confirmed".to_owned()),
        ("x-tenant-id", t.to_owned()),
        ("x-user-id", format!("user-of-{t}")),
        ("x-roles", roles.to_owned()),
    ]
}

fn tenant(t: &str) -> Vec<(&'static str, String)> {
    caller(t, "member")
}

fn owner() -> Vec<(&'static str, String)> {
    tenant("t1")
}

fn reader() -> Vec<(&'static str, String)> {
    caller("t1", "reader")
}

fn admin() -> Vec<(&'static str, String)> {
    caller("ops", "member,admin")
}

fn headers(who: &[(&'static str, String)]) -> reqwest::header::HeaderMap {
    let mut h = reqwest::header::HeaderMap::new();
    for (k, v) in who {
        h.insert(
            reqwest::header::HeaderName::from_static(k),
            v.parse().expect("value"),
        );
    }
    h
}

/// A response of the v2 API, body as bytes.
struct Got {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Got {
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ascii").to_owned())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    #[track_caller]
    fn expect(self, status: u16) -> Got {
        assert_eq!(
            self.status,
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        self
    }
}

async fn call(
    srv: &TestServer,
    method: Method,
    path: &str,
    who: &[(&str, String)],
    extra: &[(&str, &str)],
    body: Option<reqwest::Body>,
) -> Got {
    let mut req = srv.http.request(method, format!("{}{path}", srv.v2));
    for (k, v) in who {
        req = req.header(*k, v);
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.body(b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.expect("body").to_vec();
    Got {
        status,
        headers,
        body,
    }
}

async fn create(srv: &TestServer, who: &[(&str, String)], fields: Value) -> String {
    let body = serde_json::to_vec(&fields).expect("json");
    let got = call(
        srv,
        Method::POST,
        "/v2/images",
        who,
        &[("content-type", "application/json")],
        Some(body.into()),
    )
    .await
    .expect(201);
    got.json()["id"].as_str().expect("id").to_owned()
}

async fn raw_image(srv: &TestServer, who: &[(&str, String)]) -> String {
    create(
        srv,
        who,
        json!({"name": "data", "disk_format": "raw", "container_format": "bare"}),
    )
    .await
}

async fn show(srv: &TestServer, id: &str) -> Value {
    call(
        srv,
        Method::GET,
        &format!("/v2/images/{id}"),
        &admin(),
        &[],
        None,
    )
    .await
    .expect(200)
    .json()
}

/// How the upload tells its size.
#[derive(Debug, Clone, Copy)]
enum Framing {
    /// `Content-Length`.
    Length,
    /// `X-OpenStack-Image-Size` with a chunked body (openstacksdk with a known size).
    ImageSize,
    /// Chunked, no size at all (a pipe).
    Chunked,
}

fn chunked(data: Vec<u8>) -> reqwest::Body {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        data.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    reqwest::Body::wrap_stream(futures::stream::iter(chunks))
}

async fn upload(
    srv: &TestServer,
    who: &[(&str, String)],
    id: &str,
    data: &[u8],
    framing: Framing,
) -> Got {
    let size = data.len().to_string();
    let mut extra = vec![("content-type", "application/octet-stream")];
    let body = match framing {
        Framing::Length => reqwest::Body::from(data.to_vec()),
        Framing::ImageSize => {
            extra.push(("x-openstack-image-size", size.as_str()));
            chunked(data.to_vec())
        }
        Framing::Chunked => chunked(data.to_vec()),
    };
    call(
        srv,
        Method::PUT,
        &format!("/v2/images/{id}/file"),
        who,
        &extra,
        Some(body),
    )
    .await
}

async fn download(srv: &TestServer, who: &[(&str, String)], id: &str, range: Option<&str>) -> Got {
    let extra: Vec<(&str, &str)> = range.map(|r| ("range", r)).into_iter().collect();
    call(
        srv,
        Method::GET,
        &format!("/v2/images/{id}/file"),
        who,
        &extra,
        None,
    )
    .await
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i as u32).wrapping_mul(2_654_435_761) >> 13) as u8 ^ seed)
        .collect()
}

fn md5_hex(data: &[u8]) -> String {
    hex(&Md5::digest(data))
}

fn sha512_hex(data: &[u8]) -> String {
    hex(&Sha512::digest(data))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The files in the store directory (temporary ones included).
fn stored_files(srv: &TestServer) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(srv.store_dir.path())
        .expect("store dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The image is queued with no size: what every failed upload must leave.
async fn assert_queued(srv: &TestServer, id: &str) {
    let img = show(srv, id).await;
    assert_eq!(img["status"], "queued", "{img}");
    assert_eq!(img["size"], Value::Null, "{img}");
    assert_eq!(img["checksum"], Value::Null, "{img}");
}

backend_tests! {
    async fn uploads_round_trip_in_every_framing(srv: TestServer) {
        for (n, framing) in [Framing::Length, Framing::ImageSize, Framing::Chunked]
            .into_iter()
            .enumerate()
        {
            let data = pattern(3 * 1024 * 1024 + 17 + n, n as u8);
            let id = raw_image(&srv, &owner()).await;
            upload(&srv, &owner(), &id, &data, framing).await.expect(204);
            let img = show(&srv, &id).await;
            assert_eq!(img["status"], "active", "{framing:?}: {img}");
            assert_eq!(img["size"], data.len(), "{framing:?}");
            assert_eq!(img["virtual_size"], data.len(), "raw bare: virtual size is the size");
            assert_eq!(img["checksum"], md5_hex(&data), "{framing:?}");
            assert_eq!(img["os_hash_algo"], "sha512");
            assert_eq!(img["os_hash_value"], sha512_hex(&data), "{framing:?}");

            let got = download(&srv, &owner(), &id, None).await.expect(200);
            assert_eq!(got.header("content-type").as_deref(), Some("application/octet-stream"));
            assert_eq!(got.header("content-length"), Some(data.len().to_string()));
            assert_eq!(got.header("content-md5"), Some(md5_hex(&data)));
            assert!(got.body == data, "{framing:?}: downloaded bytes differ");

            // v1 sees where the data lives, and the file is there under the image id.
            let v1 = srv.admin().get(&format!("/images/{id}")).await.expect(200);
            let location = v1.image()["location"].as_str().expect("location").to_owned();
            assert!(location.starts_with("file://") && location.ends_with(&id), "{location}");
            assert_eq!(v1.image()["size"], data.len());
            assert_eq!(v1.image()["checksum"], md5_hex(&data));
        }
        let files = stored_files(&srv);
        assert_eq!(files.len(), 3, "one file per image, nothing temporary: {files:?}");
    }

    async fn an_empty_body_makes_an_active_image_of_size_zero(srv: TestServer) {
        let id = raw_image(&srv, &owner()).await;
        upload(&srv, &owner(), &id, b"", Framing::Length).await.expect(204);
        let img = show(&srv, &id).await;
        assert_eq!(img["status"], "active");
        assert_eq!(img["size"], 0);
        assert_eq!(img["virtual_size"], Value::Null, "no virtual size for empty data");
        assert_eq!(img["checksum"], "d41d8cd98f00b204e9800998ecf8427e");
        let got = download(&srv, &owner(), &id, None).await.expect(200);
        assert!(got.body.is_empty());
        assert_eq!(got.header("content-length").as_deref(), Some("0"));
        // No range can be satisfied on zero bytes.
        let r = download(&srv, &owner(), &id, Some("bytes=0-0")).await.expect(416);
        assert_eq!(r.header("content-range").as_deref(), Some("bytes */0"));
    }

    async fn refused_uploads_leave_the_image_queued_and_the_store_empty(srv: TestServer) {
        let id = raw_image(&srv, &owner()).await;
        let path = format!("/v2/images/{id}/file");
        let data = pattern(4096, 7);
        // The media type is checked first, even before the image is looked up.
        for ct in [None, Some("application/json"), Some("text/plain")] {
            let extra: Vec<(&str, &str)> = ct.map(|c| ("content-type", c)).into_iter().collect();
            let r = call(&srv, Method::PUT, &path, &owner(), &extra, Some(data.clone().into())).await;
            assert_eq!(r.status, 415, "{ct:?}");
            assert!(r.json()["message"].is_string());
        }
        let r = call(
            &srv,
            Method::PUT,
            &format!("/v2/images/{}/file", uuid::Uuid::new_v4()),
            &owner(),
            &[("content-type", "text/plain")],
            Some(data.clone().into()),
        )
        .await;
        assert_eq!(r.status, 415, "415 before 404");

        // A declared size the body does not match, either way.
        for declared in ["100", "8000"] {
            let r = call(
                &srv,
                Method::PUT,
                &path,
                &owner(),
                &[
                    ("content-type", "application/octet-stream"),
                    ("x-openstack-image-size", declared),
                ],
                Some(chunked(data.clone())),
            )
            .await;
            assert_eq!(r.status, 400, "declared {declared}: {}", String::from_utf8_lossy(&r.body));
            assert_queued(&srv, &id).await;
        }
        for bad in ["-1", "big", "1.5"] {
            let r = call(
                &srv,
                Method::PUT,
                &path,
                &owner(),
                &[
                    ("content-type", "application/octet-stream"),
                    ("x-openstack-image-size", bad),
                ],
                Some(data.clone().into()),
            )
            .await;
            assert_eq!(r.status, 400, "size {bad}");
        }
        assert_queued(&srv, &id).await;

        // Formats must be set before data.
        let bare = create(&srv, &owner(), json!({"name": "no formats"})).await;
        upload(&srv, &owner(), &bare, &data, Framing::Length).await.expect(400);
        assert_queued(&srv, &bare).await;
        assert!(stored_files(&srv).is_empty(), "{:?}", stored_files(&srv));

        // Once active, another upload is a conflict and changes nothing.
        upload(&srv, &owner(), &id, &data, Framing::Length).await.expect(204);
        let before = show(&srv, &id).await;
        upload(&srv, &owner(), &id, &pattern(10, 1), Framing::Length).await.expect(409);
        let after = show(&srv, &id).await;
        assert_eq!(before["checksum"], after["checksum"]);
        assert_eq!(download(&srv, &owner(), &id, None).await.expect(200).body, data);
    }

    async fn only_the_owning_project_and_admins_upload(srv: TestServer) {
        let id = create(
            &srv,
            &owner(),
            json!({"name": "shared", "disk_format": "raw", "container_format": "bare", "visibility": "shared"}),
        )
        .await;
        let data = pattern(1000, 3);
        // Another project cannot see it: 404.
        upload(&srv, &tenant("t2"), &id, &data, Framing::Length).await.expect(404);
        // A member project sees it but may not upload.
        let body = serde_json::to_vec(&json!({"member": "t2"})).expect("json");
        call(&srv, Method::POST, &format!("/v2/images/{id}/members"), &owner(),
            &[("content-type", "application/json")], Some(body.into())).await.expect(200);
        upload(&srv, &tenant("t2"), &id, &data, Framing::Length).await.expect(403);
        // A reader of the owning project may not either.
        let reader = reader();
        upload(&srv, &reader, &id, &data, Framing::Length).await.expect(403);
        assert_queued(&srv, &id).await;
        // An admin may.
        upload(&srv, &admin(), &id, &data, Framing::Length).await.expect(204);
        assert_eq!(show(&srv, &id).await["status"], "active");
    }

    async fn ranges_are_served_as_glance_serves_them(srv: TestServer) {
        let data = pattern(1000, 9);
        let id = raw_image(&srv, &owner()).await;
        // No data yet: 204, whatever the range.
        let r = download(&srv, &owner(), &id, Some("bytes=0-10")).await.expect(204);
        assert!(r.body.is_empty());
        upload(&srv, &owner(), &id, &data, Framing::Length).await.expect(204);
        let md5 = md5_hex(&data);
        for (range, start, end) in [
            ("bytes=0-9", 0usize, 9usize),
            ("bytes=990-", 990, 999),
            ("bytes=-10", 990, 999),
            ("bytes=500-5000", 500, 999),
            ("bytes=-5000", 0, 999),
            ("bytes=0-0", 0, 0),
        ] {
            let r = download(&srv, &owner(), &id, Some(range)).await.expect(206);
            assert_eq!(r.body, &data[start..=end], "{range}");
            assert_eq!(r.header("content-range"), Some(format!("bytes {start}-{end}/1000")), "{range}");
            assert_eq!(r.header("content-length"), Some((end - start + 1).to_string()), "{range}");
            assert_eq!(r.header("content-md5").as_deref(), Some(md5.as_str()), "the whole image's md5");
        }
        let r = download(&srv, &owner(), &id, Some("bytes=0-1,5-6")).await.expect(400);
        assert!(r.json()["message"].is_string());
        for bad in ["bytes=1000-", "bytes=5-2", "bytes=x-y", "pages=1-2", "bytes=-0"] {
            let r = download(&srv, &owner(), &id, Some(bad)).await.expect(416);
            assert_eq!(r.header("content-range").as_deref(), Some("bytes */1000"), "{bad}");
        }
        // The legacy request header reads the same way.
        let r = call(&srv, Method::GET, &format!("/v2/images/{id}/file"), &owner(),
            &[("content-range", "bytes 10-19/1000")], None).await.expect(206);
        assert_eq!(r.body, &data[10..20]);
    }

    async fn downloads_follow_the_policy(srv: TestServer) {
        let data = pattern(2048, 5);
        let id = raw_image(&srv, &owner()).await;
        // Queued: nothing to send.
        download(&srv, &owner(), &id, None).await.expect(204);
        upload(&srv, &owner(), &id, &data, Framing::Length).await.expect(204);
        // Private: another project cannot see it; a reader sees it but may not download.
        download(&srv, &tenant("t2"), &id, None).await.expect(404);
        let reader = reader();
        download(&srv, &reader, &id, None).await.expect(403);
        // Deactivated: admins only.
        call(&srv, Method::POST, &format!("/v2/images/{id}/actions/deactivate"), &owner(), &[], None)
            .await
            .expect(204);
        download(&srv, &owner(), &id, None).await.expect(403);
        assert_eq!(download(&srv, &admin(), &id, None).await.expect(200).body, data);
        call(&srv, Method::POST, &format!("/v2/images/{id}/actions/reactivate"), &owner(), &[], None)
            .await
            .expect(204);
        assert_eq!(download(&srv, &owner(), &id, None).await.expect(200).body, data);
        // Community: any project's member may download.
        let patch = br#"[{"op":"replace","path":"/visibility","value":"community"}]"#.to_vec();
        call(&srv, Method::PATCH, &format!("/v2/images/{id}"), &owner(),
            &[("content-type", "application/openstack-images-v2.1-json-patch")], Some(patch.into()))
            .await
            .expect(200);
        assert_eq!(download(&srv, &tenant("t2"), &id, None).await.expect(200).body, data);
    }

    async fn deleting_an_image_deletes_its_data(srv: TestServer) {
        let a = raw_image(&srv, &owner()).await;
        let b = raw_image(&srv, &owner()).await;
        upload(&srv, &owner(), &a, &pattern(5000, 1), Framing::Length).await.expect(204);
        upload(&srv, &owner(), &b, &pattern(6000, 2), Framing::Chunked).await.expect(204);
        assert_eq!(stored_files(&srv), {
            let mut v = vec![a.clone(), b.clone()];
            v.sort();
            v
        });
        call(&srv, Method::DELETE, &format!("/v2/images/{a}"), &owner(), &[], None).await.expect(204);
        assert_eq!(stored_files(&srv), vec![b.clone()], "v2 delete removes the file");
        download(&srv, &owner(), &a, None).await.expect(404);
        // The v1 registry API deletes the same way.
        srv.admin().delete(&format!("/images/{b}")).await.expect(200);
        assert!(stored_files(&srv).is_empty(), "{:?}", stored_files(&srv));
    }

    async fn a_delete_during_an_upload_wins_and_nothing_is_stored(srv: TestServer) {
        let id = raw_image(&srv, &owner()).await;
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(2);
        let body = reqwest::Body::wrap_stream(futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|chunk| (chunk, rx))
        }));
        let put = {
            let http = srv.http.clone();
            let url = format!("{}/v2/images/{id}/file", srv.v2);
            tokio::spawn(async move {
                http.put(url)
                    .headers(headers(&owner()))
                    .header("content-type", "application/octet-stream")
                    .body(body)
                    .send()
                    .await
            })
        };
        tx.send(Ok(pattern(256 * 1024, 1))).await.expect("send");
        // Wait until the upload has begun: the image is saving.
        let mut saving = false;
        for _ in 0..100 {
            if show(&srv, &id).await["status"] == "saving" {
                saving = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(saving, "the upload never reached saving");
        call(&srv, Method::DELETE, &format!("/v2/images/{id}"), &owner(), &[], None).await.expect(204);
        tx.send(Ok(pattern(256 * 1024, 2))).await.expect("send");
        drop(tx);
        let resp = put.await.expect("task").expect("response");
        assert_eq!(resp.status().as_u16(), 410);
        let body: Value = resp.json().await.expect("json body");
        assert!(body["message"].as_str().is_some_and(|m| m.contains("deleted")), "{body}");
        call(&srv, Method::GET, &format!("/v2/images/{id}"), &owner(), &[], None).await.expect(404);
        assert!(stored_files(&srv).is_empty(), "{:?}", stored_files(&srv));
    }

    async fn corrupt_data_is_never_served_as_a_whole_good_transfer(srv: TestServer) {
        let data = pattern(600 * 1024, 4);
        let id = raw_image(&srv, &owner()).await;
        upload(&srv, &owner(), &id, &data, Framing::Length).await.expect(204);
        // Flip one byte of the stored file, keeping its length.
        let file = srv.store_dir.path().join(&id);
        let mut bytes = std::fs::read(&file).expect("stored file");
        bytes[1000] ^= 0xff;
        std::fs::write(&file, &bytes).expect("rewrite");

        let resp = srv
            .http
            .get(format!("{}/v2/images/{id}/file", srv.v2))
            .headers(headers(&owner()))
            .send()
            .await
            .expect("response head");
        assert_eq!(resp.status().as_u16(), 200);
        let whole = resp.bytes().await;
        match whole {
            Err(_) => {}
            Ok(b) => assert!(b.len() < data.len(), "a corrupt image was sent whole"),
        }
        let metrics = srv.http.get(format!("{}/metrics", srv.base)).send().await.expect("metrics");
        let text = metrics.text().await.expect("text");
        assert!(
            text.lines().any(|l| l.starts_with("glimpse_image_data_faults_total{kind=\"corrupt\"}")),
            "no corrupt-data metric"
        );
        // A range cannot be checked, and is served as stored.
        let r = download(&srv, &owner(), &id, Some("bytes=0-99")).await.expect(206);
        assert_eq!(r.body, &data[..100]);
    }
}

/// The size cap, declared and while streaming (a small cap for the test).
mod size_cap {
    use super::*;
    use crate::support::Backend;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn uploads_over_the_cap_are_413_and_leave_nothing() {
        let srv = TestServer::start_with(Backend::Sqlite, |c| c.image_size_cap = 10_000).await;
        let id = raw_image(&srv, &owner()).await;
        let big = pattern(20_000, 1);
        for framing in [Framing::Length, Framing::ImageSize, Framing::Chunked] {
            let r = upload(&srv, &owner(), &id, &big, framing).await;
            assert_eq!(
                r.status,
                413,
                "{framing:?}: {}",
                String::from_utf8_lossy(&r.body)
            );
            assert!(
                r.json()["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("10000"))
            );
            assert_queued(&srv, &id).await;
        }
        assert!(stored_files(&srv).is_empty(), "{:?}", stored_files(&srv));
        // Exactly the cap is fine.
        let fits = pattern(10_000, 2);
        upload(&srv, &owner(), &id, &fits, Framing::Chunked)
            .await
            .expect(204);
        assert_eq!(show(&srv, &id).await["size"], 10_000);
    }
}

/// `If-Match` on an upload: a stale entity tag is 412 before any byte is stored.
mod conditional_upload {
    use super::*;
    use crate::support::Backend;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stale_if_match_is_412_and_stores_nothing() {
        let srv = TestServer::start(Backend::Sqlite).await;
        let id = raw_image(&srv, &owner()).await;
        let current = call(
            &srv,
            Method::GET,
            &format!("/v2/images/{id}"),
            &owner(),
            &[],
            None,
        )
        .await
        .expect(200)
        .header("etag")
        .expect("etag");
        let data = pattern(5000, 8);
        let put = |etag: String| {
            let data = data.clone();
            let srv = &srv;
            let id = id.clone();
            async move {
                call(
                    srv,
                    Method::PUT,
                    &format!("/v2/images/{id}/file"),
                    &owner(),
                    &[
                        ("content-type", "application/octet-stream"),
                        ("if-match", &etag),
                    ],
                    Some(data.into()),
                )
                .await
            }
        };
        let stale = format!("\"{}-999\"", id.replace('-', ""));
        let r = put(stale).await;
        assert_eq!(r.status, 412, "{}", String::from_utf8_lossy(&r.body));
        assert_queued(&srv, &id).await;
        assert!(stored_files(&srv).is_empty());
        put(current).await.expect(204);
        assert_eq!(show(&srv, &id).await["status"], "active");
        assert_eq!(
            download(&srv, &owner(), &id, None).await.expect(200).body,
            data
        );
    }
}
