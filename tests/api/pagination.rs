//! Keyset pagination by `marker` (spec section 3): every sort key and direction, ties and NULLs,
//! bad markers, and walking while images are added.

use crate::backend_tests;
use crate::support::{As, id_of};
use serde_json::{Value, json};
use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

const SORT_KEYS: [&str; 8] = [
    "id",
    "name",
    "status",
    "disk_format",
    "container_format",
    "size",
    "created_at",
    "updated_at",
];

/// A sort value: NULL sorts before every value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum SortValue {
    Null,
    Int(i64),
    Text(String),
}

fn sort_value(img: &Value, key: &str) -> SortValue {
    match &img[key] {
        Value::Null => SortValue::Null,
        Value::Number(n) => SortValue::Int(n.as_i64().expect("i64")),
        Value::String(s) => SortValue::Text(s.clone()),
        other => panic!("unexpected {key}: {other}"),
    }
}

/// The order the spec defines: the key, then created_at, then id, all in one direction; NULLs
/// first ascending and last descending (byte order for text).
fn expected_order(images: &[Value], key: &str, dir: &str) -> Vec<String> {
    let mut v: Vec<&Value> = images.iter().collect();
    v.sort_by(|a, b| {
        let ord: Ordering = sort_value(a, key)
            .cmp(&sort_value(b, key))
            .then_with(|| sort_value(a, "created_at").cmp(&sort_value(b, "created_at")))
            .then_with(|| sort_value(a, "id").cmp(&sort_value(b, "id")));
        ord
    });
    let mut ids: Vec<String> = v.into_iter().map(id_of).collect();
    if dir == "desc" {
        ids.reverse();
    }
    ids
}

/// Walks every page of `GET <base>&limit=<limit>` by marker and returns the ids in order.
async fn walk(who: &As<'_>, base: &str, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    for _ in 0..200 {
        let q = match &marker {
            None => format!("{base}&limit={limit}"),
            Some(m) => format!("{base}&limit={limit}&marker={m}"),
        };
        let page = who.get(&q).await.expect(200).ids();
        assert!(page.len() <= limit, "{q}: {} > {limit}", page.len());
        out.extend(page.iter().cloned());
        if page.len() < limit {
            return out;
        }
        marker = page.last().cloned();
    }
    panic!("pagination of {base} did not end");
}

/// Walks by following `Link` headers instead.
async fn walk_links(who: &As<'_>, first: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut next = Some(first.to_owned());
    let mut n = 0;
    while let Some(url) = next {
        n += 1;
        assert!(n < 200, "Link headers never end");
        let r = who.get(&url).await.expect(200);
        out.extend(r.ids());
        next = r.header("link").map(|l| {
            let s = l.find('<').unwrap() + 1;
            l[s..l.find('>').unwrap()].to_owned()
        });
    }
    out
}

fn assert_each_once(got: &[String], expected: &[String], what: &str) {
    let set: BTreeSet<&String> = got.iter().collect();
    assert_eq!(set.len(), got.len(), "{what}: duplicates in {got:?}");
    let want: BTreeSet<&String> = expected.iter().collect();
    assert_eq!(set, want, "{what}: not every image exactly once");
}

/// Fourteen images with ties and NULLs on every nullable sort key.
async fn dataset(admin: &As<'_>) -> Vec<String> {
    let names = [
        json!(null),
        json!("a"),
        json!("a"),
        json!("B"),
        json!("b"),
        json!(null),
        json!("🚀"),
        json!("a"),
        json!("B"),
        json!(""),
        json!("é"),
        json!("Z"),
        json!("a "),
        json!(null),
    ];
    let sizes = [
        json!(null),
        json!(0),
        json!(10),
        json!(10),
        json!(null),
        json!(5),
        json!(10),
        json!(i64::MAX),
        json!(0),
        json!(5),
        json!(null),
        json!(10),
        json!(3),
        json!(5),
    ];
    let statuses = ["active", "queued", "saving"];
    let disks = [
        json!(null),
        json!("raw"),
        json!("qcow2"),
        json!("raw"),
        json!("vhd"),
    ];
    let containers = [json!("bare"), json!(null), json!("ovf"), json!("bare")];
    let mut ids = Vec::new();
    for i in 0..14 {
        let img = admin
            .create(json!({
                "name": names[i], "size": sizes[i], "status": statuses[i % 3],
                "disk_format": disks[i % 5], "container_format": containers[i % 4],
            }))
            .await;
        ids.push(id_of(&img));
    }
    // Scramble updated_at against created_at.
    for i in [3, 11, 0, 7, 5] {
        admin
            .put(
                &format!("/images/{}", ids[i]),
                &json!({"image": {"min_disk": i}}),
            )
            .await
            .expect(200);
    }
    ids
}

backend_tests! {
    async fn every_sort_key_and_direction_walks_each_image_once(srv: TestServer) {
        let admin = srv.admin();
        let ids = dataset(&admin).await;
        let all = admin.get("/images/detail?is_public=none&limit=1000").await.expect(200);
        let images: Vec<Value> = all.images().clone();
        assert_eq!(images.len(), ids.len());
        for key in SORT_KEYS {
            for dir in ["asc", "desc"] {
                let base = format!("/images/detail?is_public=none&sort_key={key}&sort_dir={dir}");
                let expected = expected_order(&images, key, dir);
                let full = admin.get(&format!("{base}&limit=1000")).await.expect(200).ids();
                assert_eq!(full, expected, "order of {key} {dir}");
                for limit in [1, 4] {
                    let pages = walk(&admin, &base, limit).await;
                    assert_eq!(pages, expected, "pages of {limit} by {key} {dir}");
                }
                let brief = walk(&admin, &format!("/images?is_public=none&sort_key={key}&sort_dir={dir}"), 3).await;
                assert_eq!(brief, expected, "brief pages by {key} {dir}");
                let linked = walk_links(&admin, &format!("{base}&limit=5")).await;
                assert_eq!(linked, expected, "Link walk by {key} {dir}");
            }
        }
    }

    async fn pages_with_filters_and_tenant_visibility(srv: TestServer) {
        let admin = srv.admin();
        let t1 = srv.tenant("t1");
        let t2 = srv.tenant("t2");
        let mut visible = Vec::new();
        for i in 0..6 {
            visible.push(id_of(&t1.create(json!({"name": format!("own{}", i % 2), "properties": {"tag": "x"}})).await));
            // Private to someone else: never listed for t1, never a page boundary.
            t2.create(json!({"name": format!("own{}", i % 2), "properties": {"tag": "x"}})).await;
        }
        for i in 0..3 {
            visible.push(id_of(&t2.create(json!({"name": format!("pub{i}"), "is_public": true,
                                                 "properties": {"tag": "x"}})).await));
        }
        let shared = id_of(&t2.create(json!({"name": "own0", "properties": {"tag": "x"}})).await);
        t2.send(reqwest::Method::PUT, &format!("/images/{shared}/members/t1"), None, &[]).await.expect(204);
        visible.push(shared);
        admin.create(json!({"name": "own0", "properties": {"tag": "y"}, "is_public": true})).await;
        for key in ["name", "created_at", "size"] {
            for dir in ["asc", "desc"] {
                let base = format!("/images/detail?property-tag=x&sort_key={key}&sort_dir={dir}");
                let full = t1.get(&format!("{base}&limit=1000")).await.expect(200).ids();
                assert_each_once(&full, &visible, "full list");
                let pages = walk(&t1, &base, 2).await;
                assert_eq!(pages, full, "{key} {dir}");
            }
        }
        let own0 = walk(&t1, "/images?name=own0&sort_key=name", 1).await;
        assert_eq!(own0.len(), 5, "three own0 of t1, one shared, one public");
    }

    async fn bad_markers_are_400(srv: TestServer) {
        let admin = srv.admin();
        let t1 = srv.tenant("t1");
        let t2 = srv.tenant("t2");
        let mine = id_of(&t1.create(json!({"name": "mine"})).await);
        t1.create(json!({"name": "mine too"})).await;
        let theirs = id_of(&t2.create(json!({"name": "theirs"})).await);
        let gone = id_of(&t1.create(json!({"name": "gone"})).await);
        t1.delete(&format!("/images/{gone}")).await.expect(200);
        for (who, marker) in [
            (&t1, "abc".to_owned()),
            (&t1, "".to_owned()),
            (&t1, "1234".to_owned()),
            (&admin, "not-a-uuid".to_owned()),
            (&t1, "6e5d4c3b-2a19-4807-b6a5-948372615049".to_owned()),
            (&admin, "6e5d4c3b-2a19-4807-b6a5-948372615049".to_owned()),
            (&t1, theirs.clone()),
            (&t1, gone.clone()),
        ] {
            for path in ["/images", "/images/detail"] {
                let r = who.get(&format!("{path}?marker={marker}")).await.expect_error(400);
                let msg = r.json["error"]["message"].as_str().unwrap().to_ascii_lowercase();
                assert!(msg.contains("marker"), "{msg}");
            }
        }
        // Valid markers work; the owner may use their own, the admin any.
        let r = t1.get(&format!("/images?marker={mine}&sort_dir=asc")).await.expect(200);
        assert_eq!(r.images().len(), 1);
        t2.get(&format!("/images?marker={theirs}")).await.expect(200);
        admin.get(&format!("/images?is_public=none&marker={theirs}")).await.expect(200);
        // With changes-since deleted images are listed, so they are valid markers too.
        t1.get(&format!("/images?changes-since=2000-01-01T00:00:00Z&marker={gone}")).await.expect(200);
    }

    async fn walking_while_images_are_added(srv: TestServer) {
        let admin = srv.admin();
        let names = ["d", "h", "l", "p", "t", "x", "b", "f", "j"];
        let mut originals = Vec::new();
        for n in names {
            originals.push(id_of(&admin.create(json!({"name": n})).await));
        }
        let mut inserted = 0usize;
        for (key, dir) in [("created_at", "desc"), ("created_at", "asc"), ("name", "asc"), ("name", "desc"),
                           ("id", "asc"), ("updated_at", "desc")] {
            let base = format!("/images?is_public=none&sort_key={key}&sort_dir={dir}&limit=2");
            let mut seen: Vec<String> = Vec::new();
            let mut marker: Option<String> = None;
            let mut pages = 0;
            loop {
                pages += 1;
                assert!(pages < 100);
                let q = match &marker { None => base.clone(), Some(m) => format!("{base}&marker={m}") };
                let page = admin.get(&q).await.expect(200).ids();
                seen.extend(page.iter().cloned());
                if page.len() < 2 { break; }
                marker = page.last().cloned();
                if pages <= 4 {
                    // Two more images land on both sides of the marker.
                    for n in ["a", "m"] {
                        inserted += 1;
                        admin.create(json!({"name": format!("{n}{inserted:03}")})).await;
                    }
                }
            }
            let unique: BTreeSet<&String> = seen.iter().collect();
            assert_eq!(unique.len(), seen.len(), "{key} {dir}: an image was listed twice");
            let mut count: HashMap<&String, usize> = HashMap::new();
            for id in &seen { *count.entry(id).or_default() += 1; }
            for id in &originals {
                assert_eq!(count.get(id), Some(&1), "{key} {dir}: original {id} not listed exactly once");
            }
            if (key, dir) == ("created_at", "desc") {
                assert_eq!(seen.len(), originals.len(), "newer images are before the first page");
            }
        }
    }
}
