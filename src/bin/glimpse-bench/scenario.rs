//! The named scenarios and the requests each one sends.

use crate::catalog;
use crate::rng::Rng;
use reqwest::{Client, Method};
use serde::Deserialize;
use std::sync::Arc;

/// Pages a `page-walk` follows before starting over: 100 pages of 100 = 10,000 images.
pub const WALK_PAGES: u32 = 100;
pub const WALK_LIMIT: u32 = 100;

/// One kind of request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    Show,
    Head,
    ListBrief,
    ListDetail,
    FilterProperty,
    /// `filter-property` at three fixed selectivities: a value on half of the catalog, on
    /// 1 %, and on one image.
    FilterHalf,
    FilterPercent,
    FilterOne,
    FilterAndSort,
    PageWalk,
    Create,
    Update,
    Healthz,
    /// `GET /v2/images/<id>` on the v2 images API.
    V2Show,
    /// `GET /v2/images?limit=25`.
    V2List,
    /// `GET /v2/images?limit=25&<property>=<value>`, the filters of `filter-property`.
    V2ListFilter,
    /// `PATCH /v2/images/<id>`: `min_ram` replaced and a property set, with no If-Match.
    V2Patch,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Show => "show",
            Op::Head => "head",
            Op::ListBrief => "list-brief",
            Op::ListDetail => "list-detail",
            Op::FilterProperty => "filter-property",
            Op::FilterHalf => "filter-half",
            Op::FilterPercent => "filter-1pct",
            Op::FilterOne => "filter-one",
            Op::FilterAndSort => "filter-and-sort",
            Op::PageWalk => "page-walk",
            Op::Create => "create",
            Op::Update => "update",
            Op::Healthz => "healthz",
            Op::V2Show => "v2-show",
            Op::V2List => "v2-list",
            Op::V2ListFilter => "v2-list-filter",
            Op::V2Patch => "v2-patch",
        }
    }

    /// Whether the op needs ids of existing images.
    pub fn needs_ids(self) -> bool {
        matches!(
            self,
            Op::Show | Op::Head | Op::Update | Op::V2Show | Op::V2Patch
        )
    }

    /// Whether the op changes the catalog (for `mixed`'s separate read and write latencies).
    pub fn is_write(self) -> bool {
        matches!(self, Op::Create | Op::Update | Op::V2Patch)
    }

    /// Whether the op goes to the v2 images API (`--images-url`) rather than the registry.
    pub fn is_v2(self) -> bool {
        matches!(
            self,
            Op::V2Show | Op::V2List | Op::V2ListFilter | Op::V2Patch
        )
    }
}

/// `mixed`: 90% reads, 10% writes. HEAD stays out of the mix: the Python reference registry
/// does not route `HEAD /images/<id>` (it answers 404), and the mix must mean the same on
/// every registry it compares.
const MIXED: &[(Op, u32)] = &[
    (Op::Show, 55),
    (Op::ListBrief, 10),
    (Op::ListDetail, 15),
    (Op::FilterProperty, 5),
    (Op::FilterAndSort, 5),
    (Op::Update, 6),
    (Op::Create, 4),
];

/// A named scenario: one op, or a weighted mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Single(Op),
    Mixed,
}

pub const ALL: &[Scenario] = &[
    Scenario::Single(Op::Show),
    Scenario::Single(Op::Head),
    Scenario::Single(Op::ListBrief),
    Scenario::Single(Op::ListDetail),
    Scenario::Single(Op::FilterProperty),
    Scenario::Single(Op::FilterHalf),
    Scenario::Single(Op::FilterPercent),
    Scenario::Single(Op::FilterOne),
    Scenario::Single(Op::FilterAndSort),
    Scenario::Single(Op::PageWalk),
    // The v2 reads before `create`, on the same catalog as the v1 reads.
    Scenario::Single(Op::V2Show),
    Scenario::Single(Op::V2List),
    Scenario::Single(Op::V2ListFilter),
    Scenario::Single(Op::Create),
    Scenario::Single(Op::Update),
    Scenario::Single(Op::V2Patch),
    Scenario::Mixed,
    Scenario::Single(Op::Healthz),
];

/// The content type of a v2 PATCH body (the one Glance documents; 2.0 is the legacy one).
const V2_PATCH: &str = "application/openstack-images-v2.1-json-patch";

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Single(op) => op.name(),
            Scenario::Mixed => "mixed",
        }
    }

    pub fn needs_ids(self) -> bool {
        match self {
            Scenario::Single(op) => op.needs_ids(),
            Scenario::Mixed => true,
        }
    }

    /// Whether the scenario needs the v2 images API (`--images-url`).
    pub fn is_v2(self) -> bool {
        match self {
            Scenario::Single(op) => op.is_v2(),
            Scenario::Mixed => false,
        }
    }

    pub fn pick(self, rng: &mut Rng) -> Op {
        match self {
            Scenario::Single(op) => op,
            Scenario::Mixed => *rng.weighted(MIXED),
        }
    }

    /// Parses `--scenarios`: a comma-separated list of names, or `all`. Without the v2 images
    /// API (`v2` false), `all` leaves the v2 scenarios out and naming one is an error.
    pub fn parse_list(s: &str, v2: bool) -> Result<Vec<Scenario>, String> {
        let mut out = Vec::new();
        for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name == "all" {
                out.extend(ALL.iter().filter(|sc| v2 || !sc.is_v2()));
                continue;
            }
            let sc = ALL.iter().find(|sc| sc.name() == name).ok_or_else(|| {
                let names: Vec<_> = ALL.iter().map(|s| s.name()).collect();
                format!(
                    "unknown scenario '{name}'; known: {} (or all)",
                    names.join(", ")
                )
            })?;
            if sc.is_v2() && !v2 {
                return Err(format!(
                    "scenario {name} runs against the v2 images API: give its base URL with \
                     --images-url (e.g. http://127.0.0.1:9292)"
                ));
            }
            out.push(*sc);
        }
        if out.is_empty() {
            return Err("no scenario given".into());
        }
        Ok(out)
    }
}

/// What every worker of a run shares.
pub struct Target {
    /// The server's base URL, without a trailing slash.
    pub base: String,
    /// The v2 images API's base URL (`--images-url`), without a trailing slash; the v2
    /// scenarios run only with it.
    pub images_base: Option<String>,
    /// Ids of images known to exist.
    pub ids: Arc<Vec<String>>,
    /// How many images the catalog was seeded with (for `build_id` filters).
    pub catalog_size: u64,
    pub seed: u64,
    /// Set `owner` on created images (the caller is an admin).
    pub admin: bool,
}

/// A worker's state across requests.
pub struct Worker {
    pub id: u64,
    pub rng: Rng,
    counter: u64,
    walk_marker: Option<String>,
    walk_pages: u32,
}

/// The result of one request.
pub enum Outcome {
    /// A 2xx answer.
    Ok,
    /// Any other status, with the start of its body.
    Status(u16, String),
    /// No answer: connection, timeout or body errors.
    Transport(String),
}

#[derive(Deserialize)]
struct Page {
    images: Vec<IdOnly>,
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

fn query(path: &str, pairs: &[(&str, &str)]) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        ser.append_pair(k, v);
    }
    format!("{path}?{}", ser.finish())
}

impl Worker {
    pub fn new(id: u64, seed: u64) -> Self {
        Worker {
            id,
            rng: Rng::derive(seed ^ 0x5ce4_a210, id),
            counter: 0,
            walk_marker: None,
            walk_pages: 0,
        }
    }

    fn random_id<'a>(&mut self, t: &'a Target) -> &'a str {
        t.ids[self.rng.below(t.ids.len() as u64) as usize].as_str()
    }

    /// The method, path and body of the next request of `op`.
    fn request(&mut self, t: &Target, op: Op) -> (Method, String, Option<Vec<u8>>) {
        match op {
            Op::V2Show => (
                Method::GET,
                format!("/v2/images/{}", self.random_id(t)),
                None,
            ),
            Op::V2List => (Method::GET, "/v2/images?limit=25".into(), None),
            Op::V2ListFilter => {
                let (k, v) = catalog::property_filter(&mut self.rng, t.catalog_size);
                let path = query("/v2/images", &[("limit", "25"), (&k, &v)]);
                (Method::GET, path, None)
            }
            Op::V2Patch => {
                self.counter += 1;
                let min_ram = *self.rng.pick(&[512u64, 1024, 2048, 4096]);
                // `add` of a property that exists replaces it (RFC 6902), so every PATCH
                // after an image's first one rewrites the same property.
                let body = serde_json::json!([
                    {"op": "replace", "path": "/min_ram", "value": min_ram},
                    {"op": "add", "path": "/bench_touched", "value": self.counter.to_string()},
                ]);
                (
                    Method::PATCH,
                    format!("/v2/images/{}", self.random_id(t)),
                    serde_json::to_vec(&body).ok(),
                )
            }
            Op::Show => (Method::GET, format!("/images/{}", self.random_id(t)), None),
            Op::Head => (Method::HEAD, format!("/images/{}", self.random_id(t)), None),
            Op::ListBrief => (Method::GET, "/images?limit=25".into(), None),
            Op::ListDetail => (Method::GET, "/images/detail?limit=25".into(), None),
            Op::FilterProperty => {
                let (k, v) = catalog::property_filter(&mut self.rng, t.catalog_size);
                let key = format!("property-{k}");
                let path = query("/images/detail", &[(&key, &v), ("limit", "25")]);
                (Method::GET, path, None)
            }
            Op::FilterHalf | Op::FilterPercent | Op::FilterOne => {
                let i = self.rng.below(t.catalog_size.max(1));
                let (key, value) = match op {
                    Op::FilterHalf => ("property-bench_half", catalog::half(i).to_owned()),
                    Op::FilterPercent => ("property-bench_cohort", catalog::cohort(i)),
                    _ => ("property-build_id", catalog::build_id(i)),
                };
                let path = query("/images/detail", &[(key, &value), ("limit", "25")]);
                (Method::GET, path, None)
            }
            Op::FilterAndSort => {
                let (lo, hi) = catalog::size_window(&mut self.rng);
                let (lo, hi) = (lo.to_string(), hi.to_string());
                let name = catalog::common_name(&mut self.rng);
                let dir = if self.rng.chance(0.5) { "asc" } else { "desc" };
                let path = match self.rng.below(3) {
                    0 => query(
                        "/images/detail",
                        &[
                            ("status", "active"),
                            ("size_min", &lo),
                            ("size_max", &hi),
                            ("sort_key", "size"),
                            ("sort_dir", dir),
                            ("limit", "25"),
                        ],
                    ),
                    1 => query(
                        "/images/detail",
                        &[
                            ("name", &name),
                            ("sort_key", "size"),
                            ("sort_dir", dir),
                            ("limit", "25"),
                        ],
                    ),
                    _ => query(
                        "/images/detail",
                        &[
                            ("name", &name),
                            ("status", "active"),
                            ("size_min", &lo),
                            ("sort_key", "size"),
                            ("sort_dir", dir),
                            ("limit", "25"),
                        ],
                    ),
                };
                (Method::GET, path, None)
            }
            Op::PageWalk => {
                let limit = WALK_LIMIT.to_string();
                let mut pairs = vec![("limit", limit.as_str()), ("is_public", "none")];
                if let Some(m) = &self.walk_marker {
                    pairs.push(("marker", m.as_str()));
                }
                (Method::GET, query("/images/detail", &pairs), None)
            }
            Op::Create => {
                self.counter += 1;
                // Far above any seeded index, distinct per worker and request.
                let i = (1u64 << 40) + (self.id << 28) + self.counter;
                let id = uuid::Uuid::new_v4().hyphenated().to_string();
                let body = catalog::image_body(t.seed, i, &id, t.admin);
                (
                    Method::POST,
                    "/images".into(),
                    serde_json::to_vec(&body).ok(),
                )
            }
            Op::Update => {
                self.counter += 1;
                let body = serde_json::json!({
                    "image": {
                        "min_ram": *self.rng.pick(&[512u64, 1024, 2048, 4096]),
                        "properties": {
                            "bench_touched": self.counter.to_string(),
                            "bench_worker": self.id.to_string(),
                        },
                    },
                });
                (
                    Method::PUT,
                    format!("/images/{}", self.random_id(t)),
                    serde_json::to_vec(&body).ok(),
                )
            }
            Op::Healthz => (Method::GET, "/healthz".into(), None),
        }
    }

    /// Sends one request of `op` and reads the whole answer.
    pub async fn run(&mut self, client: &Client, t: &Target, op: Op) -> Outcome {
        let base = if op.is_v2() {
            match &t.images_base {
                Some(b) => b,
                None => return Outcome::Transport(format!("{} needs --images-url", op.name())),
            }
        } else {
            &t.base
        };
        let (method, path, body) = self.request(t, op);
        let mut req = client.request(method, format!("{base}{path}"));
        if let Some(body) = body {
            let content_type = if op == Op::V2Patch {
                V2_PATCH
            } else {
                "application/json"
            };
            req = req
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(body);
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return Outcome::Transport(format!("{e}")),
        };
        let status = resp.status();
        let bytes = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => return Outcome::Transport(format!("reading the body: {e}")),
        };
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned();
            return Outcome::Status(status.as_u16(), text);
        }
        if op == Op::PageWalk {
            match serde_json::from_slice::<Page>(&bytes) {
                Ok(page) => {
                    self.walk_pages += 1;
                    let full = page.images.len() >= WALK_LIMIT as usize;
                    match page.images.into_iter().last() {
                        Some(last) if full && self.walk_pages < WALK_PAGES => {
                            self.walk_marker = Some(last.id);
                        }
                        _ => {
                            self.walk_marker = None;
                            self.walk_pages = 0;
                        }
                    }
                }
                Err(e) => {
                    self.walk_marker = None;
                    self.walk_pages = 0;
                    return Outcome::Transport(format!("page-walk: the page is not a list: {e}"));
                }
            }
        }
        Outcome::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_lists_parse() {
        assert_eq!(
            Scenario::parse_list("all", true).map(|v| v.len()),
            Ok(ALL.len())
        );
        assert_eq!(
            Scenario::parse_list("show, mixed", false),
            Ok(vec![Scenario::Single(Op::Show), Scenario::Mixed])
        );
        assert!(Scenario::parse_list("shw", true).is_err());
        assert!(Scenario::parse_list("", true).is_err());
    }

    #[test]
    fn v2_scenarios_need_the_images_api() {
        let without = Scenario::parse_list("all", false).expect("all");
        assert!(!without.is_empty() && without.iter().all(|s| !s.is_v2()));
        let err = Scenario::parse_list("show,v2-show", false).expect_err("refused");
        assert!(err.contains("--images-url"), "{err}");
        assert_eq!(
            Scenario::parse_list("v2-patch", true),
            Ok(vec![Scenario::Single(Op::V2Patch)])
        );
    }
}
