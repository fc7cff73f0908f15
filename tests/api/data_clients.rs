//! Image data through the real OpenStack clients against a `noauth` server, on the file store
//! and on S3: `openstack image create --file` and from a pipe (chunked, no size),
//! `openstack image save`, `glance image-create --file` and `glance image-download` (which
//! verifies the checksum). Every byte compared, the hashes checked through the HTTP API.

use crate::data_s3::{MIB, assert_holds, http, md5_hex, pattern, s3_store, sha512_hex};
use crate::services;
use crate::support::{Backend, TestServer};
use glimpse::config::{AuthMode, ServerConfig};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Where a client's stdin comes from.
enum Input {
    Null,
    /// A pipe the test writes these bytes into, then closes.
    Pipe(Vec<u8>),
}

fn run(bin: PathBuf, args: Vec<String>, input: Input) -> Output {
    let mut cmd = Command::new(&bin);
    cmd.args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match input {
        Input::Null => {
            cmd.stdin(Stdio::null());
            cmd.output().expect("run the client")
        }
        Input::Pipe(data) => {
            cmd.stdin(Stdio::piped());
            let mut child = cmd.spawn().expect("start the client");
            let mut stdin = child.stdin.take().expect("stdin");
            let writer = std::thread::spawn(move || {
                // The client may stop reading early (on an error): ignore a broken pipe.
                let _ = stdin.write_all(&data);
            });
            let out = child.wait_with_output().expect("wait for the client");
            let _ = writer.join();
            out
        }
    }
}

/// `openstack --os-auth-type none --os-endpoint <v2> <args>`, asserting success; stdout.
async fn openstack(v2: &str, args: &[&str], input: Input) -> String {
    let bin = services::openstack_clients().openstack.clone();
    let mut all: Vec<String> = vec![
        "--os-auth-type".into(),
        "none".into(),
        "--os-endpoint".into(),
        v2.to_owned(),
    ];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    let shown = args.join(" ");
    let out = tokio::task::spawn_blocking(move || run(bin, all, input))
        .await
        .expect("client task");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "openstack {shown}: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

async fn openstack_json(v2: &str, args: &[&str], input: Input) -> Value {
    let stdout = openstack(v2, args, input).await;
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("openstack {args:?}: not JSON ({e}): {stdout}"))
}

/// `glance --os-image-url <v2> --os-auth-token x <args>`, asserting success; stdout.
async fn glance(v2: &str, args: &[&str]) -> String {
    let bin = services::openstack_clients().glance.clone();
    let mut all: Vec<String> = vec![
        "--os-image-url".into(),
        v2.to_owned(),
        "--os-auth-token".into(),
        "x".into(),
    ];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    let shown = args.join(" ");
    let out = tokio::task::spawn_blocking(move || run(bin, all, Input::Null))
        .await
        .expect("client task");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "glance {shown}: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

async fn noauth_server(tweak: impl FnOnce(&mut ServerConfig)) -> TestServer {
    TestServer::start_with(Backend::Sqlite, |c: &mut ServerConfig| {
        c.auth = Some(AuthMode::Noauth);
        tweak(c);
    })
    .await
}

fn write_file(dir: &Path, name: &str, data: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, data).expect("write the image file");
    path.display().to_string()
}

/// The ids of the images named `name`.
async fn ids_named(v2: &str, name: &str) -> Vec<String> {
    let v: Value = http()
        .get(format!("{v2}/v2/images?name={name}"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("list body");
    v["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_owned())
        .collect()
}

/// `openstack image create --file`, `image show`, `image save` and `glance image-download`.
async fn openstack_create_save_and_glance_download(srv: &TestServer) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = pattern(3 * MIB + 7, 21);
    let file = write_file(dir.path(), "in.raw", &data);
    let created = openstack_json(
        &srv.v2,
        &[
            "image",
            "create",
            "--file",
            &file,
            "--disk-format",
            "raw",
            "--container-format",
            "bare",
            "-f",
            "json",
            "from-file",
        ],
        Input::Null,
    )
    .await;
    let id = created["id"].as_str().expect("id").to_owned();
    let shown = openstack_json(&srv.v2, &["image", "show", "-f", "json", &id], Input::Null).await;
    assert_eq!(shown["status"], "active", "{shown}");
    assert_eq!(shown["checksum"], md5_hex(&data).as_str(), "{shown}");
    assert_eq!(shown["size"], data.len() as u64, "{shown}");
    assert_holds(&srv.v2, &id, &data).await;

    let out = dir.path().join("saved.raw");
    openstack(
        &srv.v2,
        &["image", "save", "--file", &out.display().to_string(), &id],
        Input::Null,
    )
    .await;
    let saved = std::fs::read(&out).expect("saved file");
    assert!(saved == data, "openstack image save gave other bytes");

    let out2 = dir.path().join("downloaded.raw");
    glance(
        &srv.v2,
        &["image-download", "--file", &out2.display().to_string(), &id],
    )
    .await;
    let downloaded = std::fs::read(&out2).expect("downloaded file");
    assert!(downloaded == data, "glance image-download gave other bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_clients_openstack_create_save_and_glance_download() {
    let srv = noauth_server(|_| {}).await;
    openstack_create_save_and_glance_download(&srv).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_clients_on_the_s3_store() {
    let s3 = services::s3();
    let (bucket, objects) = services::create_bucket(&s3.endpoint).await;
    let store = s3_store(&s3.endpoint, &bucket);
    let srv = noauth_server(move |c| c.store = store).await;
    openstack_create_save_and_glance_download(&srv).await;
    // The image's object is in the bucket.
    let listed = crate::data_s3::objects(&objects, "images").await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].1, (3 * MIB + 7) as u64);

    // And glance's chunked upload lands there too.
    glance_create_from_file(&srv).await;
    assert_eq!(crate::data_s3::objects(&objects, "images").await.len(), 2);
}

/// `openstack image create` reading the data from a pipe: chunked, no size announced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_clients_openstack_create_from_a_pipe() {
    let srv = noauth_server(|_| {}).await;
    let data = pattern(6 * MIB + 5, 22);
    let created = openstack_json(
        &srv.v2,
        &[
            "image",
            "create",
            "--disk-format",
            "raw",
            "--container-format",
            "bare",
            "-f",
            "json",
            "from-pipe",
        ],
        Input::Pipe(data.clone()),
    )
    .await;
    let id = created["id"].as_str().expect("id").to_owned();
    assert_holds(&srv.v2, &id, &data).await;
    let shown = openstack_json(&srv.v2, &["image", "show", "-f", "json", &id], Input::Null).await;
    assert_eq!(shown["status"], "active", "{shown}");
    assert_eq!(shown["checksum"], md5_hex(&data).as_str(), "{shown}");
}

async fn glance_create_from_file(srv: &TestServer) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = pattern(2 * MIB + 3, 23);
    let file = write_file(dir.path(), "in.qcow2", &data);
    let name = format!("g-{}", uuid::Uuid::new_v4().simple());
    glance(
        &srv.v2,
        &[
            "image-create",
            "--file",
            &file,
            "--disk-format",
            "qcow2",
            "--container-format",
            "bare",
            "--name",
            &name,
        ],
    )
    .await;
    let ids = ids_named(&srv.v2, &name).await;
    assert_eq!(ids.len(), 1, "{ids:?}");
    let id = &ids[0];
    assert_holds(&srv.v2, id, &data).await;
    let image = crate::data_s3::show(&srv.v2, id).await;
    assert_eq!(image["disk_format"], "qcow2");
    assert_eq!(image["os_hash_value"], sha512_hex(&data).as_str());
    // Not raw: glimpse does not know the virtual size.
    assert_eq!(image["virtual_size"], Value::Null, "{image}");

    let out = dir.path().join("downloaded.qcow2");
    glance(
        &srv.v2,
        &["image-download", "--file", &out.display().to_string(), id],
    )
    .await;
    assert!(std::fs::read(&out).expect("downloaded") == data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_clients_glance_create_from_a_file() {
    let srv = noauth_server(|_| {}).await;
    glance_create_from_file(&srv).await;
}
