//! Hostile and malformed input: thousands of generated bad requests, each answered with a 4xx
//! and the JSON error body (never a 5xx, never a dropped connection), after which the catalog
//! is exactly as before. SQL-looking strings are data. Slow clients cannot exhaust the server.

use crate::support::{Backend, TestServer};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The whole catalog as an admin sees it (deleted included), for before/after comparison.
async fn snapshot(srv: &TestServer) -> Value {
    let r = srv.admin().get("/images/detail?is_public=none&changes-since=1970-01-01T00:00:00Z&limit=1000&sort_key=id").await.expect(200);
    let mut out = r.json.clone();
    for img in out["images"].as_array_mut().expect("images") {
        let id = img["id"].as_str().expect("id").to_owned();
        let m = srv.admin().get(&format!("/images/{id}/members")).await;
        img["members"] = m.json["members"].clone();
    }
    out
}

fn bad_bodies() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"{".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"\"image\"".to_vec(),
        b"{\"image\": null}".to_vec(),
        b"{\"image\": []}".to_vec(),
        b"{\"image\": \"x\"}".to_vec(),
        b"{\"image\": {\"name\": \"\xff\xfe\"}}".to_vec(),
        b"{\"image\": {\"name\": \"a\\u0000b\"}}".to_vec(),
        b"\xef\xbb\xbf{\"image\": {}}x".to_vec(),
        format!("{}{}", "[".repeat(5000), "]".repeat(5000)).into_bytes(),
        format!(
            "{{\"image\": {{\"properties\": {}}}}}",
            "{\"a\":".repeat(300) + "1" + &"}".repeat(300)
        )
        .into_bytes(),
    ];
    let fields: [(&str, Vec<Value>); 12] = [
        (
            "id",
            vec![
                json!("not-a-uuid"),
                json!(12),
                json!("'; DROP TABLE images; --"),
                json!("00000000-0000-0000-0000-00000000000g"),
            ],
        ),
        (
            "name",
            vec![
                json!("x".repeat(256)),
                json!(1),
                json!(true),
                json!(["a"]),
                json!({"a": 1}),
            ],
        ),
        (
            "status",
            vec![
                json!(""),
                json!("ACTIVE"),
                json!("gone"),
                json!(null),
                json!(3),
            ],
        ),
        (
            "disk_format",
            vec![json!(""), json!("exe"), json!(1), json!("RAW")],
        ),
        (
            "container_format",
            vec![json!(""), json!("zip"), json!(false)],
        ),
        (
            "size",
            vec![
                json!(-1),
                json!(1.5),
                json!("big"),
                json!(9223372036854775808u64),
                json!(-9223372036854775808i64),
                json!([1]),
            ],
        ),
        ("virtual_size", vec![json!(-5), json!("1e10")]),
        ("min_disk", vec![json!(-1), json!("x"), json!(1e300)]),
        ("min_ram", vec![json!(-1), json!({})]),
        (
            "is_public",
            vec![json!("yes"), json!(1), json!("False "), json!([])],
        ),
        ("protected", vec![json!("no"), json!(0)]),
        ("checksum", vec![json!("0".repeat(33)), json!(5)]),
    ];
    for (field, values) in fields {
        for value in values {
            v.push(json!({"image": {field: value}}).to_string().into_bytes());
        }
    }
    let props: [Value; 8] = [
        json!({"a": 1}),
        json!({"a": null}),
        json!({"a": ["x"]}),
        json!({"": "v"}),
        json!({"k\u{0}": "v"}),
        json!({"k".repeat(256): "v"}),
        json!([{"name": "a"}]),
        json!("string"),
    ];
    for p in props {
        v.push(json!({"image": {"properties": p}}).to_string().into_bytes());
    }
    v.push(
        json!({"image": {"properties": {"big": "v".repeat(65536)}}})
            .to_string()
            .into_bytes(),
    );
    let many: serde_json::Map<String, Value> =
        (0..10_000).map(|n| (format!("p{n}"), json!("v"))).collect();
    v.push(
        json!({"image": {"properties": many}})
            .to_string()
            .into_bytes(),
    );
    v.push(vec![b'{'; 2 * 1024 * 1024]);
    v.push(
        json!({"image": {"disk_format": "ami", "container_format": "bare"}})
            .to_string()
            .into_bytes(),
    );
    v.push(
        json!({"image": {}, "from_state": "nonsense"})
            .to_string()
            .into_bytes(),
    );
    v
}

fn bad_queries() -> Vec<String> {
    let mut q: Vec<String> = [
        "limit=-1",
        "limit=abc",
        "limit=99999999999999999999",
        "limit=1e3",
        "limit=%",
        "marker=abc",
        "marker=%zz",
        "marker=00000000-0000-0000-0000-000000000000",
        "sort_key=owner",
        "sort_key=name;DROP%20TABLE%20images",
        "sort_dir=sideways",
        "size_min=x",
        "size_max=99999999999999999999",
        "min_ram=-",
        "min_disk=1.0",
        "protected=maybe",
        "changes-since=yesterday",
        "changes-since=2011-13-45T00:00:00",
        "status=bogus",
        "name=a&name=b",
        "limit=1&limit=2",
        "name=%ff%fe",
        "name=a%00b",
        "property-os=%",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    q.push(format!("name={}", "%41".repeat(3000)).replace("%41%41", "%4"));
    q
}

async fn hostile_requests_change_nothing(srv: TestServer) {
    let admin = srv.admin();
    let tenant = srv.tenant("t1");
    let img = admin
        .create(json!({"name": "victim", "is_public": true, "properties": {"k": "v"}}))
        .await;
    let id = img["id"].as_str().expect("id").to_owned();
    tenant.create(json!({"name": "private-of-t1"})).await;
    admin
        .send(Method::PUT, &format!("/images/{id}/members/t2"), None, &[])
        .await
        .expect(204);
    let before = snapshot(&srv).await;

    let mut sent = 0usize;
    let check = |r: &crate::support::Resp, what: &str| {
        assert!(
            (400..500).contains(&r.status),
            "{what}: answered {} {}",
            r.status,
            r.text
        );
        assert_eq!(
            r.json["error"]["code"], r.status,
            "{what}: error body {}",
            r.text
        );
    };
    for body in bad_bodies() {
        for caller in [&admin, &tenant] {
            let r = caller.raw(Method::POST, "/images", &body).await;
            check(
                &r,
                &format!(
                    "POST {}",
                    String::from_utf8_lossy(&body[..body.len().min(80)])
                ),
            );
            sent += 1;
            // `id` is ignored in an update body (spec section 4): not a bad update.
            if body.starts_with(br#"{"image":{"id""#) {
                continue;
            }
            let r = caller
                .raw(Method::PUT, &format!("/images/{id}"), &body)
                .await;
            check(
                &r,
                &format!(
                    "PUT {}",
                    String::from_utf8_lossy(&body[..body.len().min(80)])
                ),
            );
            sent += 1;
        }
        for path in [
            format!("/images/{id}/members"),
            format!("/images/{id}/members/t3"),
        ] {
            if body.is_empty() && path.ends_with("t3") {
                continue; // an empty body is a valid "add this member"
            }
            let r = admin.raw(Method::PUT, &path, &body).await;
            check(
                &r,
                &format!(
                    "PUT {path} {}",
                    String::from_utf8_lossy(&body[..body.len().min(80)])
                ),
            );
            sent += 1;
        }
    }
    for q in bad_queries() {
        for path in ["/images", "/images/detail", "/"] {
            let r = tenant.get(&format!("{path}?{q}")).await;
            check(&r, &format!("GET {path}?{q}"));
            sent += 1;
        }
    }
    let bad_ids = [
        "not-a-uuid",
        "%00",
        "..%2F..%2Fetc",
        "' OR '1'='1",
        "00000000-0000-0000-0000-000000000000",
    ];
    for bad in bad_ids {
        for method in [Method::GET, Method::DELETE] {
            let r = admin
                .send(method.clone(), &format!("/images/{bad}"), None, &[])
                .await;
            check(&r, &format!("{method} /images/{bad}"));
            sent += 1;
        }
        let r = admin
            .put(&format!("/images/{bad}"), &json!({"image": {"name": "x"}}))
            .await;
        check(&r, &format!("PUT /images/{bad}"));
        sent += 1;
    }
    // Broken request contexts: a token without a confirmed identity is never an admin.
    let contexts: [&[(&str, &str)]; 4] = [
        &[("x-auth-token", "t")],
        &[
            ("x-auth-token", "t"),
            ("x-identity-status", "Invalid"),
            ("x-roles", "admin"),
        ],
        &[
            ("x-auth-token", "t"),
            ("x-tenant-id", "t1"),
            ("x-roles", "admin"),
        ],
        &[
            ("x-auth-token", "t"),
            ("x-identity-status", "Confirmed"),
            ("x-tenant-id", "t2"),
            ("x-roles", "member"),
        ],
    ];
    for ctx in contexts {
        let r = srv
            .caller(ctx)
            .put(
                &format!("/images/{id}"),
                &json!({"image": {"name": "hijack"}}),
            )
            .await;
        check(&r, &format!("PUT with {ctx:?}"));
        sent += 1;
    }
    let r = admin
        .put_with(
            &format!("/images/{id}"),
            &json!({"image": {"name": "hijack"}}),
            &[("if-match", "\"stale\"")],
        )
        .await;
    check(&r, "PUT with a stale If-Match");
    assert!(sent > 300, "sent {sent}");
    assert_eq!(
        snapshot(&srv).await,
        before,
        "hostile requests changed the catalog"
    );
}

async fn sql_looking_strings_are_data(srv: TestServer) {
    let admin = srv.admin();
    let evil = "'; DROP TABLE images; -- \" OR 1=1 /* %_ \\";
    let img = admin
        .create(json!({"name": evil, "is_public": true, "location": evil, "properties": {evil: evil, "q": "%"}}))
        .await;
    assert_eq!(img["name"], evil);
    let id = img["id"].as_str().expect("id");
    let shown = admin.get(&format!("/images/{id}")).await.expect(200);
    assert_eq!(shown.image()["properties"][evil], evil);
    let enc: String = form_urlencoded::byte_serialize(evil.as_bytes()).collect();
    let found = admin
        .get(&format!("/images/detail?name={enc}&property-{enc}={enc}"))
        .await
        .expect(200);
    assert_eq!(found.ids(), vec![id.to_owned()]);
    // LIKE wildcards are not wildcards.
    assert!(
        admin
            .get("/images/detail?name=%25")
            .await
            .expect(200)
            .ids()
            .is_empty()
    );
    assert_eq!(
        admin
            .get("/images/detail?property-q=%25")
            .await
            .expect(200)
            .ids(),
        vec![id.to_owned()]
    );
}

crate::backend_tests! {
    async fn hostile_input_is_4xx_and_changes_nothing(srv: TestServer) {
        hostile_requests_change_nothing(srv).await;
    }

    async fn sql_strings_are_stored_verbatim(srv: TestServer) {
        sql_looking_strings_are_data(srv).await;
    }
}

/// Slowloris: connections that trickle their headers are dropped after the header timeout,
/// and with every connection slot taken by them, a real client is still served once they go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_cannot_exhaust_the_server() {
    let srv = TestServer::start_with(Backend::Sqlite, |c| {
        c.header_read_timeout = Duration::from_secs(1);
        c.max_connections = 8;
    })
    .await;
    let addr = srv.base.trim_start_matches("http://").to_owned();
    let mut slow = Vec::new();
    for _ in 0..8 {
        let mut s = tokio::net::TcpStream::connect(&addr)
            .await
            .expect("connect");
        s.write_all(b"GET /images HTTP/1.1\r\nHost: x\r\n")
            .await
            .expect("write");
        slow.push(s);
    }
    let started = Instant::now();
    let r = srv.admin().get("/healthz").await;
    assert_eq!(r.status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "served after {:?}",
        started.elapsed()
    );
    // The slow connections were closed by the server, not kept forever.
    for mut s in slow {
        let mut buf = [0u8; 256];
        let closed = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return true,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert_eq!(closed, Ok(true), "a slow connection was not closed");
    }
}
