//! The `x-image-meta-*` header block of `GET`/`HEAD /images/<id>` stays within its budget, so
//! that ordinary clients (Python's `http.client`, hyper/reqwest) and proxies read every image,
//! however many and however long its properties are; the JSON body of `GET` has them all.

use crate::backend_tests;
use crate::support::{Resp, TestServer, id_of};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const INCOMPLETE: &str = "x-glimpse-meta-incomplete";
/// The base fields a crowded image has a header for (no owner: the no-token admin has none).
const BASE: [&str; 11] = [
    "id",
    "name",
    "status",
    "min_disk",
    "min_ram",
    "is_public",
    "protected",
    "created_at",
    "updated_at",
    "deleted",
    "location",
];

/// An image at the property limit (128) whose values are long (1,000 characters).
async fn crowded_image(srv: &TestServer) -> Value {
    let properties: serde_json::Map<String, Value> = (0..128)
        .map(|i| {
            (
                format!("prop_{i:03}"),
                json!(format!("{i:03}").repeat(333) + "v"),
            )
        })
        .collect();
    srv.admin()
        .create(json!({"name": "crowded", "location": "file:///x", "properties": properties}))
        .await
}

/// `name: value\r\n` bytes and the lines of the `x-image-meta-*` headers.
fn meta_block(r: &Resp) -> (usize, usize, BTreeMap<String, String>) {
    let meta: BTreeMap<String, String> = r
        .headers
        .iter()
        .filter(|(k, _)| k.as_str().starts_with("x-image-meta-"))
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().expect("ascii").to_owned()))
        .collect();
    let bytes = meta.iter().map(|(k, v)| k.len() + v.len() + 4).sum();
    (meta.len(), bytes, meta)
}

/// The headers of a crowded image: within budget, base fields all there, then a prefix of the
/// properties in name order with their exact values, and the note saying how many are missing.
fn check_budget(r: &Resp, image: &Value, max_lines: usize, max_bytes: usize) {
    let (lines, bytes, meta) = meta_block(r);
    assert!(
        lines <= max_lines,
        "{lines} meta headers, budget {max_lines}"
    );
    assert!(
        bytes <= max_bytes,
        "{bytes} bytes of meta headers, budget {max_bytes}"
    );
    for f in BASE {
        assert!(
            meta.contains_key(&format!("x-image-meta-{f}")),
            "base field {f} is sent"
        );
    }
    let props: Vec<(&String, &String)> = meta
        .iter()
        .filter(|(k, _)| k.starts_with("x-image-meta-property-"))
        .collect();
    let all = image["properties"].as_object().expect("properties");
    for (i, (k, v)) in props.iter().enumerate() {
        let name = format!("prop_{i:03}");
        assert_eq!(
            **k,
            format!("x-image-meta-property-{name}"),
            "properties in name order"
        );
        assert_eq!(all[&name], v.as_str(), "the value of {name} is whole");
    }
    let omitted = BASE.len() + all.len() - meta.len();
    assert!(omitted > 0, "a crowded image does not fit");
    let note = r.header(INCOMPLETE).expect("the incomplete note");
    assert!(note.starts_with(&format!("{omitted} omitted")), "{note}");
    assert!(
        note.contains(&format!("GET /images/{}", id_of(image))),
        "{note}"
    );
}

/// Reads the image with Python's standard `http.client` (the library under `requests` and
/// Glance's own registry client) and reports what it saw.
fn python_read(base: &str, path: &str) -> Value {
    let script = r#"
import http.client, json, sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
out = {}
for method in ("GET", "HEAD"):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.request(method, sys.argv[2])
    r = c.getresponse()
    body = r.read()
    out[method] = {
        "status": r.status,
        "headers": len(r.getheaders()),
        "incomplete": r.getheader("x-glimpse-meta-incomplete"),
        "meta": sum(1 for k, _ in r.getheaders() if k.lower().startswith("x-image-meta-")),
        "properties": len(json.loads(body)["image"]["properties"]) if body else None,
    }
    c.close()
print(json.dumps(out))
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", script, base, path])
        .output()
        .unwrap_or_else(|e| panic!("python3 is needed for this test and cannot be run: {e}"));
    assert!(
        out.status.success(),
        "Python's http.client could not read {path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the script's JSON")
}

backend_tests! {
    async fn a_crowded_image_is_readable_by_python_and_reqwest(srv: TestServer) {
        let img = crowded_image(&srv).await;
        let path = format!("/images/{}", id_of(&img));
        let admin = srv.admin();
        // reqwest (hyper): the whole response is read, the headers are within the defaults.
        let get = admin.get(&path).await.expect(200);
        assert_eq!(get.image()["properties"], img["properties"], "the JSON body has everything");
        check_budget(&get, &img, 64, 3072);
        let head = admin.head(&path).await.expect(200);
        check_budget(&head, &img, 64, 3072);
        assert_eq!(meta_block(&head).2, meta_block(&get).2, "HEAD and GET send the same headers");
        assert_eq!(head.header(INCOMPLETE), get.header(INCOMPLETE));
        // The whole header block (not only the meta part) fits nginx's default 4 KiB buffer.
        let block: usize = get.headers.iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
        assert!(block + "HTTP/1.1 200 OK\r\n\r\n".len() < 4096, "{block} bytes of headers");
        assert!(get.headers.len() < 100, "{} headers", get.headers.len());

        // Python's http.client refuses more than 100 headers: it reads this one.
        let py = python_read(&srv.base, &path);
        for m in ["GET", "HEAD"] {
            assert_eq!(py[m]["status"], 200, "{m}: {py}");
            assert!(py[m]["headers"].as_u64().is_some_and(|n| n < 100), "{m}: {py}");
            assert!(py[m]["incomplete"].as_str().is_some_and(|s| s.contains("omitted")), "{m}: {py}");
            assert_eq!(py[m]["meta"].as_u64(), Some(meta_block(&get).0 as u64), "{m}: {py}");
        }
        assert_eq!(py["GET"]["properties"], 128, "{py}");

        // A small image is sent whole, with no note.
        let small = admin.create(json!({"name": "small", "properties": {"a": "1"}})).await;
        let r = admin.get(&format!("/images/{}", id_of(&small))).await.expect(200);
        assert_eq!(r.header(INCOMPLETE), None);
        assert_eq!(r.header("x-image-meta-property-a").as_deref(), Some("1"));
    }
}

backend_tests! {
    |c: &mut glimpse::config::ServerConfig| {
        c.meta_headers.max_headers = 20;
        c.meta_headers.max_bytes = 100_000;
    };

    async fn the_header_budget_is_configurable(srv: TestServer) {
        let img = crowded_image(&srv).await;
        let path = format!("/images/{}", id_of(&img));
        let r = srv.admin().get(&path).await.expect(200);
        let (lines, _, meta) = meta_block(&r);
        assert_eq!(lines, 20, "exactly the budget: {meta:?}");
        // 11 base fields (id, name, status, min_disk, min_ram, is_public, protected, created_at,
        // updated_at, deleted, location), then 9 properties; 119 left out.
        assert_eq!(r.header(INCOMPLETE).as_deref().and_then(|s| s.split(' ').next()), Some("119"));
        check_budget(&r, &img, 20, 100_000);
    }
}
