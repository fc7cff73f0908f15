//! Uploads that never finish: glimpse killed with SIGKILL in the middle of one (a real
//! `glimpse serve`, on a SQLite file and on PostgreSQL), then restarted; a client that goes
//! away mid-upload; `glimpse store scrub` finding what is left over (and data gone missing);
//! and the memory bound of large transfers, measured on a real server process.

use crate::data_s3::{
    MIB, Sent, assert_holds, create_image, http, pattern, show, upload, wait_for_status,
};
use crate::process::Process;
use crate::support::{Backend, TestDb, TestServer};
use bytes::Bytes;
use futures::StreamExt;
use md5::{Digest, Md5};
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// The names of the files in `dir`.
fn files_in(dir: &Path) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = std::fs::read_dir(dir)
        .expect("read the store directory")
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().map(|m| m.len()).unwrap_or(0),
            )
        })
        .collect();
    out.sort();
    out
}

/// Opens a connection to `base` and sends the head of `PUT /v2/images/{id}/file` with
/// `Content-Length: declared`, then `send` bytes of it.
async fn raw_upload(base: &str, id: &str, declared: u64, send: usize) -> TcpStream {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "PUT /v2/images/{id}/file HTTP/1.1\r\nhost: {addr}\r\n\
         content-type: application/octet-stream\r\ncontent-length: {declared}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.expect("write head");
    let data = pattern(send, 1);
    for piece in data.chunks(256 * 1024) {
        s.write_all(piece).await.expect("write body");
    }
    s.flush().await.expect("flush");
    s
}

/// Waits until the store directory holds a partial file of `id` with at least `bytes`.
async fn wait_for_partial(dir: &Path, id: &str, bytes: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = files_in(dir)
            .into_iter()
            .find(|(n, size)| n.starts_with(&format!(".partial-{id}")) && *size >= bytes);
        if let Some((name, _)) = found {
            return name;
        }
        assert!(
            Instant::now() < deadline,
            "no partial file of {id} with {bytes} bytes in the store: {:?}",
            files_in(dir)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `glimpse store scrub` on a database and a store directory; its exit status and output.
async fn scrub(database: &str, store: &Path, delete: bool) -> (bool, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_glimpse"));
    cmd.args(["store", "scrub", "--database", database])
        .arg("--store")
        .arg(format!("file:{}", store.display()))
        .env_remove("GLIMPSE_CONFIG")
        .env_remove("GLIMPSE_STORE")
        .stdin(std::process::Stdio::null());
    if delete {
        cmd.arg("--delete");
    }
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("scrub finishes")
        .expect("run glimpse store scrub");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!(
        "store scrub{}: {}\n{text}{}",
        if delete { " --delete" } else { "" },
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

async fn killed_mid_upload(backend: Backend) {
    let db = TestDb::create(backend).await;
    let store = tempfile::tempdir().expect("store dir");
    let store_arg = format!("file:{}", store.path().display());
    let mut first = Process::start(&db.url, &["--store", &store_arg]);
    let id = create_image(&first.v2, "crash").await;
    let conn = raw_upload(&first.v2, &id, 50_000_000, 4 * MIB).await;
    let partial = wait_for_partial(store.path(), &id, MIB as u64).await;
    first.kill();
    drop(conn);

    // A new process (uploads count as dead only after 120 s): the image is still saving, and
    // scrub leaves the file of what may be a running upload alone.
    let mut second = Process::start(&db.url, &["--store", &store_arg]);
    let image = show(&second.v2, &id).await;
    assert_eq!(image["status"], "saving", "{image}");
    let (ok, out) = scrub(&db.url, store.path(), false).await;
    assert!(ok, "scrub failed: {out}");
    assert!(
        !out.contains(&partial),
        "scrub calls a saving image's upload an orphan: {out}"
    );
    second.kill();

    // Restarted with a short stale time: the dead upload's image is queued again.
    let third = Process::start(
        &db.url,
        &["--store", &store_arg, "--upload-stale-after", "2"],
    );
    let image = wait_for_status(&third.v2, &id, "queued", Duration::from_secs(10)).await;
    assert_eq!(image["size"], Value::Null, "{image}");

    // The partial file is an orphan now: listed, kept without --delete, removed with it.
    let (ok, out) = scrub(&db.url, store.path(), false).await;
    assert!(ok, "scrub failed: {out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("orphan") && l.contains(&partial)),
        "scrub does not list the orphan {partial}: {out}"
    );
    assert!(
        store.path().join(&partial).exists(),
        "scrub without --delete removed {partial}"
    );
    let (ok, out) = scrub(&db.url, store.path(), true).await;
    assert!(ok, "scrub --delete failed: {out}");
    assert!(
        out.contains("1 orphaned objects removed"),
        "scrub --delete: {out}"
    );
    assert!(
        !store.path().join(&partial).exists(),
        "{partial} is still there"
    );
    let left: Vec<_> = files_in(store.path())
        .into_iter()
        .filter(|(n, _)| n.contains(&id))
        .collect();
    assert!(left.is_empty(), "files of {id} left: {left:?}");
    let (ok, out) = scrub(&db.url, store.path(), false).await;
    assert!(ok && out.contains("0 orphaned objects"), "{out}");

    // And the image takes its data.
    let data = pattern(5 * MIB + 11, 2);
    let (status, text) = upload(&third.v2, &id, &data, Sent::Length).await;
    assert_eq!(status, 204, "{text}");
    assert_holds(&third.v2, &id, &data).await;
    assert_eq!(
        files_in(store.path()),
        vec![(id.clone(), data.len() as u64)]
    );
}

mod data_crash_killed_mid_upload {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        killed_mid_upload(Backend::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        killed_mid_upload(Backend::Postgres).await
    }
}

async fn client_disconnects_mid_upload(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let id = create_image(&srv.v2, "gone").await;
    let conn = raw_upload(&srv.v2, &id, 10 * MIB as u64, MIB).await;
    wait_for_status(&srv.v2, &id, "saving", Duration::from_secs(10)).await;
    drop(conn);
    let image = wait_for_status(&srv.v2, &id, "queued", Duration::from_secs(10)).await;
    assert_eq!(image["size"], Value::Null, "{image}");
    assert_eq!(image["checksum"], Value::Null, "{image}");
    // The upload task cleans up before it requeues: nothing is left.
    assert_eq!(files_in(srv.store_dir.path()), vec![]);
    // The image takes data afterwards.
    let data = pattern(2 * MIB, 3);
    assert_eq!(upload(&srv.v2, &id, &data, Sent::Chunked).await.0, 204);
    assert_holds(&srv.v2, &id, &data).await;
}

mod data_crash_client_disconnects_mid_upload {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        client_disconnects_mid_upload(Backend::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        client_disconnects_mid_upload(Backend::Postgres).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mysql() {
        client_disconnects_mid_upload(Backend::Mysql).await
    }
}

/// An image whose data file went away by hand: scrub reports it as missing (with and without
/// `--delete`) and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_crash_scrub_reports_missing_data() {
    let srv = TestServer::start(Backend::Sqlite).await;
    let kept = create_image(&srv.v2, "kept").await;
    let lost = create_image(&srv.v2, "lost").await;
    let data = pattern(MIB, 4);
    assert_eq!(upload(&srv.v2, &kept, &data, Sent::Length).await.0, 204);
    assert_eq!(upload(&srv.v2, &lost, &data, Sent::Length).await.0, 204);
    std::fs::remove_file(srv.store_dir.path().join(&lost)).expect("remove the data file");
    for delete in [false, true] {
        let (ok, out) = scrub(&srv.db.url, srv.store_dir.path(), delete).await;
        assert!(ok, "scrub failed: {out}");
        let missing: Vec<&str> = out.lines().filter(|l| l.starts_with("missing")).collect();
        assert_eq!(missing.len(), 1, "{out}");
        assert!(missing[0].contains(&lost), "{out}");
        assert!(!out.contains(&kept), "{out}");
        assert!(!out.lines().any(|l| l.starts_with("orphan")), "{out}");
    }
    assert_eq!(show(&srv.v2, &lost).await["status"], "active");
    assert_holds(&srv.v2, &kept, &data).await;
}

/// Deleting an image removes its file; data of a deleted image left behind (as after a failed
/// removal) is an orphan that scrub removes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_crash_scrub_removes_data_of_deleted_images() {
    let srv = TestServer::start(Backend::Postgres).await;
    let id = create_image(&srv.v2, "doomed").await;
    let data = pattern(MIB + 1, 5);
    assert_eq!(upload(&srv.v2, &id, &data, Sent::Length).await.0, 204);
    let saved = std::fs::read(srv.store_dir.path().join(&id)).expect("the data file");
    assert!(saved == data);
    let r = http()
        .delete(format!("{}/v2/images/{id}", srv.v2))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 204);
    assert_eq!(files_in(srv.store_dir.path()), vec![]);
    // Put it back, as if the removal had failed.
    std::fs::write(srv.store_dir.path().join(&id), &saved).expect("write");
    let (ok, out) = scrub(&srv.db.url, srv.store_dir.path(), false).await;
    assert!(ok, "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("orphan") && l.contains(&id)),
        "{out}"
    );
    assert_eq!(files_in(srv.store_dir.path()).len(), 1);
    let (ok, out) = scrub(&srv.db.url, srv.store_dir.path(), true).await;
    assert!(ok, "{out}");
    assert_eq!(files_in(srv.store_dir.path()), vec![]);
}

// ---------------------------------------------------------------------------------------------
// Memory bound

/// The resident set size of process `pid`, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS");
    kb * 1024
}

/// Samples the RSS of `pid` every 50 ms until told to stop; the largest value seen.
fn sample_rss(
    pid: u32,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<u64>,
) {
    let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let mut max = rss(pid);
        loop {
            tokio::select! {
                _ = &mut rx => break,
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
            max = max.max(rss(pid));
        }
        max.max(rss(pid))
    });
    (tx, task)
}

/// The size of the memory-bound transfers (`GLIMPSE_TEST_BIG_IMAGE_MIB` overrides).
fn big_image_bytes() -> u64 {
    let mib: u64 = std::env::var("GLIMPSE_TEST_BIG_IMAGE_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    mib * MIB as u64
}

/// Block `i` of the big image: a 1 MiB pattern with the block's number in front, so a lost,
/// repeated or misplaced block changes the hash.
fn block(base: &Bytes, i: u64) -> Bytes {
    let mut b = base.to_vec();
    b[..8].copy_from_slice(&i.to_le_bytes());
    Bytes::from(b)
}

const LIMIT: u64 = 32 * MIB as u64;

/// A 1 GiB image up and down through a real server: its RSS grows by at most 32 MiB during
/// each transfer. The data is generated and hashed (upload) or compared (download) on the fly,
/// never held here. The issue asks for 2 GiB; in a debug build that takes minutes (the
/// server's sha512 and md5 are unoptimised), so the default is 1 GiB:
/// `GLIMPSE_TEST_BIG_IMAGE_MIB=2048` runs the full size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_memory_bound_of_large_transfers() {
    let db = TestDb::create(Backend::Sqlite).await;
    let srv = Process::start(&db.url, &[]);
    let pid = srv.pid();
    let id = create_image(&srv.v2, "big").await;
    // Warm up: a small image up and down, so one-time allocations are in the baseline.
    let warm = create_image(&srv.v2, "warm").await;
    let small = pattern(4 * MIB, 9);
    assert_eq!(upload(&srv.v2, &warm, &small, Sent::Chunked).await.0, 204);
    assert_holds(&srv.v2, &warm, &small).await;

    let size = big_image_bytes();
    let blocks = size / MIB as u64;
    let base = Bytes::from(pattern(MIB, 7));
    let base_down = base.clone();
    let started = Instant::now();

    // Upload, chunked, hashing what is sent.
    let before_up = rss(pid);
    let (stop, sampler) = sample_rss(pid);
    let sent_md5 = std::sync::Arc::new(std::sync::Mutex::new(Some(Md5::new())));
    let hasher = sent_md5.clone();
    let body = futures::stream::iter(0..blocks).map(move |i| {
        let b = block(&base, i);
        if let Some(h) = hasher.lock().expect("lock").as_mut() {
            h.update(&b);
        }
        Ok::<_, std::io::Error>(b)
    });
    let r = http()
        .put(format!("{}/v2/images/{id}/file", srv.v2))
        .header("content-type", "application/octet-stream")
        .header("x-openstack-image-size", size.to_string())
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .expect("upload");
    let status = r.status().as_u16();
    assert_eq!(status, 204, "{}", r.text().await.unwrap_or_default());
    let _ = stop.send(());
    let peak_up = sampler.await.expect("sampler");
    let upload_took = started.elapsed();
    let md5 = crate::data_s3::hex(
        &sent_md5
            .lock()
            .expect("lock")
            .take()
            .expect("hasher")
            .finalize(),
    );
    let image = show(&srv.v2, &id).await;
    assert_eq!(image["status"], "active", "{image}");
    assert_eq!(image["size"], size, "{image}");
    assert_eq!(image["checksum"], md5.as_str(), "{image}");

    // Download, hashing what arrives.
    let before_down = rss(pid);
    let (stop, sampler) = sample_rss(pid);
    let r = http()
        .get(format!("{}/v2/images/{id}/file", srv.v2))
        .send()
        .await
        .expect("download");
    assert_eq!(r.status(), 200);
    // Every byte compared with the block it belongs to, as it arrives.
    let mut stream = r.bytes_stream();
    let mut len = 0u64;
    let mut expected = block(&base_down, 0);
    while let Some(chunk) = stream.next().await {
        let mut chunk = chunk.expect("download chunk");
        while !chunk.is_empty() {
            let at = (len % MIB as u64) as usize;
            let n = chunk.len().min(MIB - at);
            assert!(
                chunk[..n] == expected[at..at + n],
                "the download differs within block {}",
                len / MIB as u64
            );
            len += n as u64;
            chunk = chunk.slice(n..);
            if len.is_multiple_of(MIB as u64) {
                expected = block(&base_down, len / MIB as u64);
            }
        }
    }
    let _ = stop.send(());
    let peak_down = sampler.await.expect("sampler");
    assert_eq!(len, size);
    let took = started.elapsed();

    let up = peak_up.saturating_sub(before_up);
    let down = peak_down.saturating_sub(before_down);
    eprintln!(
        "{} MiB: upload RSS {} -> peak {} KiB (+{} KiB) in {upload_took:?}; download RSS {} -> \
         peak {} KiB (+{} KiB); {took:?} in all",
        size / MIB as u64,
        before_up / 1024,
        peak_up / 1024,
        up / 1024,
        before_down / 1024,
        peak_down / 1024,
        down / 1024,
    );
    assert!(
        up <= LIMIT,
        "the server's RSS grew by {} KiB during the upload",
        up / 1024
    );
    assert!(
        down <= LIMIT,
        "the server's RSS grew by {} KiB during the download",
        down / 1024
    );
    // The file on disk is the image, whole.
    assert_eq!(
        std::fs::metadata(srv.store_dir.path().join(&id))
            .expect("data file")
            .len(),
        size
    );
}

// ---------------------------------------------------------------------------------------------
// The upkeep and live uploads

/// An upload whose client pauses longer than the stale time (but less than the idle timeout)
/// is alive: the upkeep must not give it up. Otherwise the image goes back to `queued` under
/// a running upload, a second upload is let in, and the two end up overwriting (and, on the
/// loser's cleanup, deleting) each other's data.
async fn paused_upload_is_not_given_up(backend: Backend) {
    let srv = TestServer::start_with(backend, |c| {
        c.upload_stale_after = Duration::from_secs(2);
    })
    .await;
    let id = create_image(&srv.v2, "paused").await;
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    let body =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    let url = format!("{}/v2/images/{id}/file", srv.v2);
    let first = tokio::spawn(async move {
        http()
            .put(url)
            .header("content-type", "application/octet-stream")
            .body(reqwest::Body::wrap_stream(body))
            .send()
            .await
    });
    let data = pattern(4 * MIB, 6);
    tx.send(Ok(Bytes::copy_from_slice(&data[..MIB])))
        .await
        .expect("feed");
    wait_for_status(&srv.v2, &id, "saving", Duration::from_secs(10)).await;
    // Three stale times without a byte (the idle timeout is 30 s).
    tokio::time::sleep(Duration::from_secs(6)).await;
    let image = show(&srv.v2, &id).await;
    assert_eq!(
        image["status"], "saving",
        "a live (paused) upload was given up: {image}"
    );
    // So a second upload is refused...
    let other = pattern(MIB, 7);
    let (status, text) = upload(&srv.v2, &id, &other, Sent::Length).await;
    assert_eq!(status, 409, "a second upload was let in: {text}");
    // ...and the first one completes with its data.
    tx.send(Ok(Bytes::copy_from_slice(&data[MIB..])))
        .await
        .expect("feed");
    drop(tx);
    let r = first.await.expect("task").expect("an answer");
    let status = r.status().as_u16();
    assert_eq!(status, 204, "{}", r.text().await.unwrap_or_default());
    assert_holds(&srv.v2, &id, &data).await;
}

mod data_crash_paused_upload_is_not_given_up {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        paused_upload_is_not_given_up(Backend::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        paused_upload_is_not_given_up(Backend::Postgres).await
    }
}
