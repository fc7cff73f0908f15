//! Micro-benchmarks of the pure hot paths of a request: parsing and validating a list query,
//! parsing and validating an image body, serialising a page of images, and rendering the
//! `x-image-meta-*` headers. Run with `cargo bench` (or `cargo bench -- --quick`).

use axum::http::HeaderMap;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use glimpse::api::v1::image_body::parse_image_body;
use glimpse::api::v1::list_params;
use glimpse::api::v1::meta_headers::{HeaderBudget, add_image_meta};
use glimpse::domain::input::Rules;
use glimpse::domain::query::{ListQuery, PageLimits};
use glimpse::domain::{Caller, Image, ImageId, ImageVisibility, Status, Timestamp};
use serde::Serialize;
use std::hint::black_box;

/// A typical catalog image: a distribution image with eight properties.
fn image(i: usize) -> Image {
    let now = Timestamp::now();
    let mut properties = std::collections::BTreeMap::new();
    for (k, v) in [
        ("os_distro", "ubuntu"),
        ("os_version", "22.04"),
        ("architecture", "x86_64"),
        ("hw_disk_bus", "virtio"),
        ("hw_vif_model", "virtio"),
        ("hypervisor_type", "kvm"),
        ("owner_team", "team-17"),
        (
            "description",
            "Ubuntu 22.04 x86_64 image built by the image pipeline, run 3f9a1c2b7d10",
        ),
    ] {
        properties.insert(k.to_owned(), v.to_owned());
    }
    properties.insert("build_id".to_owned(), format!("b{i:08}"));
    Image {
        id: ImageId::generate(),
        name: Some(format!("ubuntu-22.04-server-cloudimg-x86_64-{i}")),
        status: Status::Active,
        disk_format: Some("qcow2".into()),
        container_format: Some("bare".into()),
        size: Some(2_361_393_152),
        virtual_size: Some(10_737_418_240),
        checksum: Some("2d0a4a6bd9c4b4c8f4e3c1a0b9e8d7f6".into()),
        min_disk: 10,
        min_ram: 1024,
        visibility: ImageVisibility::Public,
        protected: false,
        owner: Some("4f1e9c2ab3d54e6f8a7b6c5d4e3f2a1b".into()),
        location: Some("file:///var/lib/glance/images/6c3b8a2e-1f0d-4c9b-8e7a-5d4c3b2a1f0e".into()),
        created_at: now,
        updated_at: now,
        deleted_at: None,
        deleted: false,
        properties,
        os_hidden: false,
        os_hash_algo: None,
        os_hash_value: None,
        data_crc32: None,
        tags: Default::default(),
        version: 3,
    }
}

fn pairs(q: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

fn query_parsing(c: &mut Criterion) {
    let admin = Caller::anonymous_admin();
    let tenant = Caller::authenticated(
        Some("4f1e9c2ab3d54e6f8a7b6c5d4e3f2a1b".into()),
        Some("u1".into()),
        vec!["member".into()],
        true,
    );
    let limits = PageLimits::default();
    let mut g = c.benchmark_group("list_query");
    for (name, q, caller) in [
        ("plain", "limit=25", &admin),
        (
            "filters_sort_marker",
            "name=ubuntu-22.04&status=active&size_min=1048576&size_max=10737418240\
             &sort_key=size&sort_dir=asc&limit=25&marker=6c3b8a2e-1f0d-4c9b-8e7a-5d4c3b2a1f0e",
            &tenant,
        ),
        (
            "properties_changes_since",
            "property-os_distro=ubuntu&property-architecture=x86_64\
             &changes-since=2024-01-01T00:00:00Z&is_public=none&limit=100",
            &admin,
        ),
    ] {
        // From the raw query string, as a request arrives.
        g.bench_function(name, |b| {
            b.iter(|| {
                let p = pairs(black_box(q));
                list_params::parse(&p, caller)
                    .map(|params| ListQuery::for_caller(params, caller, limits))
            })
        });
    }
    g.finish();
}

fn body_parsing(c: &mut Criterion) {
    let rules = Rules::default();
    let create = serde_json::to_vec(&serde_json::json!({
        "image": {
            "name": "ubuntu-22.04-server-cloudimg-x86_64",
            "status": "active",
            "disk_format": "qcow2",
            "container_format": "bare",
            "size": 2361393152u64,
            "virtual_size": 10737418240u64,
            "checksum": "2d0a4a6bd9c4b4c8f4e3c1a0b9e8d7f6",
            "min_disk": 10,
            "min_ram": 1024,
            "is_public": true,
            "owner": "4f1e9c2ab3d54e6f8a7b6c5d4e3f2a1b",
            "location": "file:///var/lib/glance/images/6c3b8a2e",
            "properties": {
                "os_distro": "ubuntu", "os_version": "22.04", "architecture": "x86_64",
                "hw_disk_bus": "virtio", "hw_vif_model": "virtio", "build_id": "b00000042"
            }
        }
    }))
    .unwrap_or_default();
    let update = br#"{"image": {"min_ram": 2048, "properties": {"bench_touched": "7"}}}"#;
    let mut g = c.benchmark_group("image_body");
    g.throughput(Throughput::Bytes(create.len() as u64));
    g.bench_function("create", |b| {
        b.iter(|| parse_image_body(black_box(&create), &rules, true))
    });
    g.throughput(Throughput::Bytes(update.len() as u64));
    g.bench_function("update", |b| {
        b.iter(|| parse_image_body(black_box(update), &rules, false))
    });
    g.finish();
}

#[derive(Serialize)]
struct Page<'a, T> {
    images: &'a [T],
}

#[derive(Serialize)]
struct One<'a> {
    image: &'a Image,
}

fn serialisation(c: &mut Criterion) {
    let page: Vec<Image> = (0..25).map(image).collect();
    let brief: Vec<_> = page.iter().map(glimpse::api::v1::render::brief).collect();
    let mut g = c.benchmark_group("json");
    g.throughput(Throughput::Elements(25));
    g.bench_function("detail_page_25", |b| {
        b.iter(|| {
            serde_json::to_vec(&Page {
                images: black_box(&page),
            })
        })
    });
    g.bench_function("brief_page_25", |b| {
        b.iter(|| {
            serde_json::to_vec(&Page {
                images: black_box(&brief),
            })
        })
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("one_image", |b| {
        b.iter(|| {
            serde_json::to_vec(&One {
                image: black_box(&page[0]),
            })
        })
    });
    g.finish();
}

fn headers(c: &mut Criterion) {
    let img = image(1);
    let mut odd = image(2);
    odd.name = Some("Ubuntu «noble» ünïcode\nname".into());
    odd.properties
        .insert("Display Name".into(), "Überbild 100%".into());
    let mut g = c.benchmark_group("meta_headers");
    g.bench_function("plain_image", |b| {
        b.iter(|| {
            let mut h = HeaderMap::new();
            add_image_meta(&mut h, black_box(&img), HeaderBudget::default());
            h
        })
    });
    g.bench_function("encoded_values", |b| {
        b.iter(|| {
            let mut h = HeaderMap::new();
            add_image_meta(&mut h, black_box(&odd), HeaderBudget::default());
            h
        })
    });
    g.finish();
}

criterion_group!(benches, query_parsing, body_parsing, serialisation, headers);
criterion_main!(benches);
