//! `GET /v2/images` (contract §4): paging, sorting, filters and what each caller sees by
//! default, on every backend.

use crate::backend_tests;
use crate::support::enc;
use crate::v2_support::{self as v2, error, link_params, sorted};
use serde_json::{Value, json};
use std::time::Duration;

/// Creates an image through v1 as the admin (so it may have a size and a status), returning
/// its id.
async fn v1_image(srv: &crate::support::TestServer, fields: Value) -> String {
    crate::support::id_of(&v2::v1_create(srv, fields).await)
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = list
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    v.sort();
    v
}

backend_tests! {
    async fn v2_list_pages_with_limit_marker_and_next(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let mut made = Vec::new();
        for i in 0..5 {
            made.push(t1.create_id(json!({"name": format!("img{i}")})).await);
        }
        // Default order is created_at desc: newest first.
        let all = t1.list_ids("").await;
        let mut newest_first = made.clone();
        newest_first.reverse();
        assert_eq!(all, newest_first);

        let r = t1.get("/v2/images?limit=2").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(v2::ids(&r.json), newest_first[..2].to_vec());
        assert_eq!(r.json["first"], "/v2/images?limit=2");
        assert_eq!(r.json["schema"], "/v2/schemas/images");
        let next = r.json["next"].as_str().expect("next").to_owned();
        assert!(next.starts_with("/v2/images?"), "{next}");
        assert_eq!(link_params(&next), pairs(&[("limit", "2"), ("marker", &newest_first[1])]));
        // Follow next links to the end.
        let mut seen = v2::ids(&r.json);
        let mut link = Some(next);
        let mut pages = 1;
        while let Some(l) = link {
            let r = t1.get(&l).await;
            assert_eq!(r.status, 200, "{l}: {}", r.text);
            seen.extend(v2::ids(&r.json));
            link = r.json["next"].as_str().map(str::to_owned);
            pages += 1;
            assert!(pages < 10, "no end of pages");
        }
        assert_eq!(seen, newest_first);
        // 5 images by 2: pages of 2, 2, 1 (the short page has no next).
        assert_eq!(pages, 3);

        // A page that happens to be full still gets next; the following page is empty.
        let r = t1.get(&format!("/v2/images?limit=2&marker={}", newest_first[2])).await;
        assert_eq!(v2::ids(&r.json), newest_first[3..].to_vec());
        let next = r.json["next"].as_str().expect("next of a full page").to_owned();
        let r = t1.get(&next).await;
        assert_eq!(v2::ids(&r.json), Vec::<String>::new());
        assert!(r.json.get("next").is_none(), "{}", r.text);

        let r = t1.get("/v2/images?limit=0").await;
        assert_eq!(v2::ids(&r.json), Vec::<String>::new());
        assert!(r.json.get("next").is_none(), "{}", r.text);
        for bad in ["limit=-1", "limit=abc", "limit=1.5"] {
            error(&t1.get(&format!("/v2/images?{bad}")).await, 400);
        }
        // A marker that is unknown, deleted or invisible is 400.
        error(&t1.get(&format!("/v2/images?marker={}", v2::uuid())).await, 400);
        let invisible = v2::member(&srv, "t2").create_id(json!({"visibility": "private"})).await;
        error(&t1.get(&format!("/v2/images?marker={invisible}")).await, 400);
        assert_eq!(t1.get(&format!("/v2/images?marker={}", made[4])).await.status, 200);
        let gone = made[4].clone();
        let d = t1.delete(&format!("/v2/images/{gone}")).await;
        assert_eq!(d.status, 204, "{}", d.text);
        error(&t1.get(&format!("/v2/images?marker={gone}")).await, 400);

        // The first link keeps the other parameters and drops the marker.
        let r = t1.get(&format!("/v2/images?name=img1&marker={}&limit=3", made[3])).await;
        assert_eq!(link_params(r.json["first"].as_str().expect("first")),
            pairs(&[("limit", "3"), ("name", "img1")]));
    }

    async fn v2_list_sorts_by_keys_and_directions(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let b = t1.create_id(json!({"name": "b", "disk_format": "raw"})).await;
        let a = t1.create_id(json!({"name": "a", "disk_format": "qcow2"})).await;
        let c = t1.create_id(json!({"name": "c", "disk_format": "raw"})).await;
        let none = t1.create_id(json!({})).await;
        let asc = vec![none.clone(), a.clone(), b.clone(), c.clone()];
        let desc = vec![c.clone(), b.clone(), a.clone(), none.clone()];
        assert_eq!(t1.list_ids("sort_key=name&sort_dir=asc").await, asc, "NULL sorts first in asc");
        assert_eq!(t1.list_ids("sort_key=name&sort_dir=desc").await, desc);
        assert_eq!(t1.list_ids("sort_key=name").await, desc, "default direction desc");
        assert_eq!(t1.list_ids("sort=name:asc").await, asc);
        assert_eq!(t1.list_ids("sort=name").await, desc);
        assert_eq!(t1.list_ids("sort=name:desc").await, desc);
        // Two keys: disk_format asc, then created_at desc.
        assert_eq!(t1.list_ids("sort=disk_format:asc,created_at:desc").await,
            vec![none.clone(), a.clone(), c.clone(), b.clone()]);
        assert_eq!(t1.list_ids(&format!("sort={}", enc("disk_format:desc,name:asc"))).await,
            vec![b.clone(), c.clone(), a.clone(), none.clone()]);
        assert_eq!(t1.list_ids("sort_key=disk_format&sort_key=name&sort_dir=asc&sort_dir=desc").await,
            vec![none.clone(), a.clone(), c.clone(), b.clone()]);
        assert_eq!(t1.list_ids("sort_dir=asc").await, vec![b.clone(), a.clone(), c.clone(), none.clone()],
            "sort_dir alone sorts created_at");
        // A sorted, paged walk visits every image once.
        let r = t1.get("/v2/images?sort=name:asc&limit=3").await;
        assert_eq!(v2::ids(&r.json), asc[..3].to_vec());
        let r = t1.get(r.json["next"].as_str().expect("next")).await;
        assert_eq!(v2::ids(&r.json), asc[3..].to_vec());
        for bad in ["sort_key=owner", "sort_key=name&sort_dir=up", "sort=name:up", "sort=name,",
                    "sort=bogus:asc", "sort=name&sort_key=name", "sort=name&sort_dir=asc",
                    "sort_key=name&sort_key=id&sort_dir=asc&sort_dir=desc&sort_dir=asc"] {
            error(&t1.get(&format!("/v2/images?{bad}")).await, 400);
        }
    }

    async fn v2_list_filters_by_core_fields(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let a = t1.create_id(json!({"name": "alpha", "disk_format": "raw", "container_format": "bare",
            "min_ram": 128, "protected": true})).await;
        let b = t1.create_id(json!({"name": "beta, gamma", "disk_format": "qcow2"})).await;
        let c = t1.create_id(json!({"name": "x:y", "min_disk": 5})).await;
        assert_eq!(t1.list_ids("name=alpha").await, vec![a.clone()]);
        assert_eq!(t1.list_ids("name=eq:alpha").await, vec![a.clone()]);
        assert_eq!(t1.list_ids("name=Alpha").await, Vec::<String>::new(), "case-sensitive");
        assert_eq!(t1.list_ids(&format!("name={}", enc("eq:x:y"))).await, vec![c.clone()]);
        error(&t1.get(&format!("/v2/images?name={}", enc("x:y"))).await, 400);
        assert_eq!(t1.list_set(&format!("name={}", enc("in:alpha,\"beta, gamma\""))).await,
            sorted(vec![a.clone(), b.clone()]));
        error(&t1.get(&format!("/v2/images?name={}", enc("in:\"alpha"))).await, 400);
        assert_eq!(t1.list_set("status=queued").await, sorted(vec![a.clone(), b.clone(), c.clone()]));
        assert_eq!(t1.list_ids("status=active").await, Vec::<String>::new());
        assert_eq!(t1.list_ids(&format!("id={b}")).await, vec![b.clone()]);
        assert_eq!(t1.list_set(&format!("id=in:{a},{c}")).await, sorted(vec![a.clone(), c.clone()]));
        assert_eq!(t1.list_ids("disk_format=qcow2").await, vec![b.clone()]);
        assert_eq!(t1.list_set("disk_format=in:qcow2,raw").await, sorted(vec![a.clone(), b.clone()]));
        assert_eq!(t1.list_ids("container_format=bare").await, vec![a.clone()]);
        assert_eq!(t1.list_ids("min_ram=128").await, vec![a.clone()]);
        assert_eq!(t1.list_ids("min_disk=5").await, vec![c.clone()]);
        assert_eq!(t1.list_ids("protected=true").await, vec![a.clone()]);
        assert_eq!(t1.list_set("protected=false").await, sorted(vec![b.clone(), c.clone()]));
        error(&t1.get("/v2/images?protected=True").await, 400);
        assert_eq!(t1.list_set("owner=t1").await, sorted(vec![a.clone(), b.clone(), c.clone()]));
        assert_eq!(t1.list_ids("owner=t2").await, Vec::<String>::new());
        error(&t1.get("/v2/images?changes-since=2020-01-01T00:00:00Z").await, 400);
        error(&t1.get("/v2/images?name=gt:alpha").await, 400);
        // Filters combine with AND.
        assert_eq!(t1.list_ids("disk_format=raw&name=beta").await, Vec::<String>::new());
        assert_eq!(t1.list_ids("disk_format=raw&name=alpha").await, vec![a.clone()]);
    }

    async fn v2_list_filters_by_size_and_time(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let small = v1_image(&srv, json!({"name": "small", "size": 10, "owner": "t1", "checksum": "c0ffee"})).await;
        let big = v1_image(&srv, json!({"name": "big", "size": 1000, "owner": "t1"})).await;
        let nosize = t1.create_id(json!({"name": "nosize"})).await;
        assert_eq!(t1.list_set("size_min=10").await, sorted(vec![small.clone(), big.clone()]));
        assert_eq!(t1.list_ids("size_min=11").await, vec![big.clone()]);
        assert_eq!(t1.list_ids("size_max=10").await, vec![small.clone()]);
        assert_eq!(t1.list_ids("size_min=10&size_max=999").await, vec![small.clone()]);
        assert_eq!(t1.list_ids("size=1000").await, vec![big.clone()]);
        error(&t1.get("/v2/images?size_min=ten").await, 400);
        assert_eq!(t1.list_ids("checksum=c0ffee").await, vec![small.clone()]);
        assert_eq!(t1.list_ids("checksum=c0ffe").await, Vec::<String>::new());
        assert_eq!(t1.list_set("status=in:active,queued").await,
            sorted(vec![small.clone(), big.clone(), nosize.clone()]));
        assert_eq!(t1.list_set("status=active").await, sorted(vec![small.clone(), big.clone()]));
        error(&t1.get("/v2/images?limit=").await, 400);
        error(&t1.get("/v2/images?size_max=1.5").await, 400);
        assert!(!t1.list_ids("size_max=100000").await.contains(&nosize));
        // NULL sizes sort lowest on every backend.
        assert_eq!(t1.list_ids("sort=size:asc").await, vec![nosize.clone(), small.clone(), big.clone()]);
        assert_eq!(t1.list_ids("sort_key=size&sort_dir=desc").await,
            vec![big.clone(), small.clone(), nosize.clone()]);

        tokio::time::sleep(Duration::from_millis(1100)).await;
        let later = t1.create_id(json!({"name": "later"})).await;
        let first_at = t1.show(&nosize).await["created_at"].as_str().expect("ts").to_owned();
        let later_at = t1.show(&later).await["created_at"].as_str().expect("ts").to_owned();
        assert_ne!(first_at, later_at);
        let q = |op: &str, t: &str| format!("created_at={}", enc(&format!("{op}:{t}")));
        assert!(t1.list_ids(&q("eq", &first_at)).await.contains(&nosize), "eq matches the second");
        assert!(!t1.list_ids(&q("eq", &first_at)).await.contains(&later));
        assert_eq!(t1.list_ids(&q("gt", &first_at)).await, vec![later.clone()]);
        assert_eq!(t1.list_ids(&q("gte", &later_at)).await, vec![later.clone()]);
        assert!(!t1.list_ids(&q("lt", &later_at)).await.contains(&later));
        assert!(t1.list_ids(&q("lt", &later_at)).await.contains(&nosize));
        assert!(t1.list_ids(&q("lte", &later_at)).await.contains(&later));
        assert!(!t1.list_ids(&q("neq", &later_at)).await.contains(&later));
        assert!(t1.list_ids(&format!("updated_at={}", enc(&format!("gte:{later_at}")))).await.contains(&later));
        error(&t1.get(&format!("/v2/images?{}", q("around", &later_at))).await, 400);
        error(&t1.get("/v2/images?created_at=gt:yesterday").await, 400);
    }

    async fn v2_list_filters_by_tags_and_extra_properties(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let ab = t1.create_id(json!({"tags": ["a", "b"], "os_distro": "debian", "k": "v1"})).await;
        let a = t1.create_id(json!({"tags": ["a"], "os_distro": "ubuntu"})).await;
        let none = t1.create_id(json!({"k": "v2"})).await;
        assert_eq!(t1.list_set("tag=a").await, sorted(vec![ab.clone(), a.clone()]));
        assert_eq!(t1.list_ids("tag=a&tag=b").await, vec![ab.clone()], "repeated tags are AND");
        assert_eq!(t1.list_ids("tag=b&tag=c").await, Vec::<String>::new());
        assert_eq!(t1.list_ids(&format!("tag={}", enc(" b "))).await, vec![ab.clone()], "trimmed");
        assert_eq!(t1.list_ids("os_distro=debian").await, vec![ab.clone()]);
        assert_eq!(t1.list_ids("k=v2").await, vec![none.clone()]);
        assert_eq!(t1.list_ids("k=v3").await, Vec::<String>::new());
        assert_eq!(t1.list_ids("unknown_key=x").await, Vec::<String>::new());
        assert_eq!(t1.list_ids("k=v1&tag=a").await, vec![ab.clone()]);
        // The next link keeps repeated parameters.
        let r = t1.get("/v2/images?tag=a&tag=b&limit=1").await;
        assert_eq!(link_params(r.json["next"].as_str().expect("next")),
            pairs(&[("limit", "1"), ("marker", &ab), ("tag", "a"), ("tag", "b")]));
        // A removed property no longer matches.
        let r = t1.patch(&none, &json!([{"op": "remove", "path": "/k"}])).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(t1.list_ids("k=v2").await, Vec::<String>::new());
    }

    async fn v2_list_visibility_filters_and_defaults(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let t2 = v2::member(&srv, "t2");
        let admin = v2::admin(&srv);
        let public = admin.create_id(json!({"name": "public", "visibility": "public", "owner": "t9"})).await;
        let mine_private = t1.create_id(json!({"name": "private", "visibility": "private"})).await;
        let mine_shared = t1.create_id(json!({"name": "shared"})).await;
        let mine_community = t1.create_id(json!({"name": "community1", "visibility": "community"})).await;
        let mine_hidden = t1.create_id(json!({"name": "hidden", "os_hidden": true})).await;
        let other_community = t2.create_id(json!({"name": "community2", "visibility": "community"})).await;
        let other_private = t2.create_id(json!({"name": "private2", "visibility": "private"})).await;
        let ownerless = admin.create_id(json!({"name": "ownerless"})).await;

        // Default: public, own images of any visibility, no hidden, no community of others.
        assert_eq!(t1.list_set("").await,
            sorted(vec![public.clone(), mine_private.clone(), mine_shared.clone(), mine_community.clone()]));
        assert_eq!(v2::reader(&srv, "t1").list_set("").await, t1.list_set("").await);
        assert_eq!(t1.list_ids("os_hidden=true").await, vec![mine_hidden.clone()]);
        assert_eq!(t1.list_ids("os_hidden=True").await, vec![mine_hidden.clone()]);
        error(&t1.get("/v2/images?os_hidden=maybe").await, 400);
        assert_eq!(t1.list_ids("visibility=public").await, vec![public.clone()]);
        assert_eq!(t1.list_ids("visibility=private").await, vec![mine_private.clone()]);
        assert_eq!(t1.list_ids("visibility=shared").await, vec![mine_shared.clone()]);
        assert_eq!(t1.list_set("visibility=community").await,
            sorted(vec![mine_community.clone(), other_community.clone()]));
        assert_eq!(t1.list_set("visibility=all").await,
            sorted(vec![public.clone(), mine_private.clone(), mine_shared.clone(),
                        mine_community.clone(), other_community.clone()]));
        error(&t1.get("/v2/images?visibility=secret").await, 400);
        // The other project sees its own images and the public one.
        assert_eq!(t2.list_set("").await,
            sorted(vec![public.clone(), other_community.clone(), other_private.clone()]));
        // The admin sees every project's images but community ones of others only on request.
        assert_eq!(admin.list_set("").await,
            sorted(vec![public.clone(), mine_private.clone(), mine_shared.clone(), other_private.clone(),
                        ownerless.clone()]));
        assert_eq!(admin.list_set("visibility=community").await,
            sorted(vec![mine_community.clone(), other_community.clone()]));
        assert_eq!(admin.list_ids("os_hidden=true").await, vec![mine_hidden.clone()]);
        assert_eq!(admin.list_set("owner=t2&visibility=all").await,
            sorted(vec![other_community.clone(), other_private.clone()]));
        // An ownerless non-public image is readable by anyone but listed for no non-admin.
        assert!(!t1.list_ids("visibility=all").await.contains(&ownerless));
        assert_eq!(t1.show(&ownerless).await["owner"], Value::Null);
    }

    async fn v2_list_never_shows_killed_or_deleted_images(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let killed = v1_image(&srv, json!({"name": "killed", "status": "killed", "owner": "t1"})).await;
        let live = t1.create_id(json!({"name": "live"})).await;
        let deleted = t1.create_id(json!({"name": "deleted"})).await;
        let r = t1.delete(&format!("/v2/images/{deleted}")).await;
        assert_eq!(r.status, 204, "{}", r.text);
        assert_eq!(t1.list_ids("visibility=all").await, vec![live.clone()]);
        assert_eq!(t1.list_ids("status=killed").await, Vec::<String>::new());
        assert_eq!(v2::admin(&srv).list_ids("status=killed").await, Vec::<String>::new());
        assert_eq!(v2::admin(&srv).list_ids("status=deleted").await, Vec::<String>::new());
        // A killed image can still be shown, and deleted.
        assert_eq!(t1.show(&killed).await["status"], "killed");
        let r = t1.delete(&format!("/v2/images/{killed}")).await;
        assert_eq!(r.status, 204, "{}", r.text);
        error(&t1.get(&format!("/v2/images/{killed}")).await, 404);
    }

    async fn v2_list_sort_tie_breakers_and_byte_order(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let s1 = t1.create_id(json!({"name": "same"})).await;
        let s2 = t1.create_id(json!({"name": "same"})).await;
        let upper = t1.create_id(json!({"name": "B"})).await;
        let lower = t1.create_id(json!({"name": "a"})).await;
        // One direction given: the tie-breakers (created_at, id) follow it.
        assert_eq!(t1.list_ids("sort=name:asc").await,
            vec![upper.clone(), lower.clone(), s1.clone(), s2.clone()], "byte order: B < a < same");
        assert_eq!(t1.list_ids("sort_key=name&sort_dir=asc").await,
            vec![upper.clone(), lower.clone(), s1.clone(), s2.clone()]);
        assert_eq!(t1.list_ids("sort=name:desc").await,
            vec![s2.clone(), s1.clone(), lower.clone(), upper.clone()]);
        // Two directions: the tie-breakers are desc.
        assert_eq!(t1.list_ids("sort=name:asc,disk_format:asc").await,
            vec![upper.clone(), lower.clone(), s2.clone(), s1.clone()]);
        // A marker inside a run of equal names continues after it.
        assert_eq!(t1.list_ids(&format!("sort=name:asc&marker={s1}")).await, vec![s2.clone()]);
        assert_eq!(t1.list_ids(&format!("sort=name:desc&marker={s2}")).await,
            vec![s1.clone(), lower.clone(), upper.clone()]);
        // Filters on names are byte-exact too.
        assert_eq!(t1.list_ids("name=b").await, Vec::<String>::new());
        assert_eq!(t1.list_ids("name=B").await, vec![upper.clone()]);
    }

    async fn v2_list_default_page_is_25(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let mut made = Vec::new();
        for i in 0..26 {
            made.push(t1.create_id(json!({"name": format!("n{i:02}")})).await);
        }
        let r = t1.get("/v2/images").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(v2::ids(&r.json).len(), 25);
        assert_eq!(r.json["first"], "/v2/images");
        let next = r.json["next"].as_str().expect("next").to_owned();
        assert_eq!(link_params(&next), pairs(&[("marker", &made[1])]), "no limit added");
        assert_eq!(t1.list_ids(&next.replacen("/v2/images?", "", 1)).await, vec![made[0].clone()]);
        // Values above 1000 are clamped, not refused.
        assert_eq!(t1.list_ids("limit=5000").await.len(), 26);
    }

    async fn v2_list_time_filters_with_bare_and_offset_timestamps(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let img = t1.create(json!({"name": "t"})).await;
        let id = v2::id(&img);
        let at = img["created_at"].as_str().expect("created_at").to_owned();
        assert_eq!(t1.list_ids(&format!("created_at={}", enc(&at))).await, vec![id.clone()], "bare means eq");
        // The same instant written with an offset, and without one (UTC).
        let t = time::OffsetDateTime::parse(&at, &time::format_description::well_known::Rfc3339).expect("ts");
        let plus_one = t.to_offset(time::UtcOffset::from_hms(1, 0, 0).expect("offset"));
        let with_offset = plus_one
            .format(&time::format_description::well_known::Rfc3339).expect("format");
        assert!(with_offset.ends_with("+01:00"), "{with_offset}");
        assert_eq!(t1.list_ids(&format!("created_at={}", enc(&format!("eq:{with_offset}")))).await,
            vec![id.clone()]);
        let naive = at.trim_end_matches('Z');
        assert_eq!(t1.list_ids(&format!("created_at={}", enc(&format!("gte:{naive}")))).await, vec![id.clone()]);
        let hour_later = (t + time::Duration::hours(1))
            .format(&time::format_description::well_known::Rfc3339).expect("format");
        assert_eq!(t1.list_ids(&format!("created_at={}", enc(&format!("gt:{hour_later}")))).await,
            Vec::<String>::new());
        assert_eq!(t1.list_ids(&format!("created_at={}", enc(&format!("lt:{hour_later}")))).await,
            vec![id.clone()]);
    }

    async fn v2_list_in_operator_quoting(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let quoted = t1.create_id(json!({"name": "say \"hi\", ok"})).await;
        let plain = t1.create_id(json!({"name": "plain"})).await;
        t1.create_id(json!({"name": "other"})).await;
        let q = enc(r#"in:"say \"hi\", ok",plain"#);
        assert_eq!(t1.list_set(&format!("name={q}")).await, sorted(vec![quoted.clone(), plain.clone()]));
        assert_eq!(t1.list_ids(&format!("name={}", enc("in:plain"))).await, vec![plain.clone()]);
        for bad in [r#"in:"plain"x"#, r#"in:pl"ain"#, r#"in:"unclosed"#] {
            error(&t1.get(&format!("/v2/images?name={}", enc(bad))).await, 400);
        }
    }

    async fn v2_list_admin_ignores_member_status_and_a_body_is_allowed(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let admin = v2::admin(&srv);
        let id = t1.create_id(json!({"name": "shared"})).await;
        t1.add_member(&id, "t2").await;
        assert_eq!(admin.list_ids("member_status=rejected").await, vec![id.clone()]);
        assert_eq!(admin.list_ids("member_status=pending").await, vec![id.clone()]);
        // Deleted images are never listed, whatever `deleted` says.
        let gone = t1.create_id(json!({})).await;
        let r = t1.delete(&format!("/v2/images/{gone}")).await;
        assert_eq!(r.status, 204, "{}", r.text);
        assert_eq!(admin.list_ids("deleted=true").await, vec![id.clone()]);
        // GET /v2/images does not reject a body.
        let r = t1.send(reqwest::Method::GET, "/v2/images", Some(b"{}".to_vec()), &[]).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(v2::ids(&r.json), vec![id.clone()]);
    }

    async fn v2_list_shared_filter_covers_own_and_accepted_images(srv: TestServer) {
        let t1 = v2::member(&srv, "t1");
        let t2 = v2::member(&srv, "t2");
        let offered = t1.create_id(json!({"name": "offered"})).await;
        let own = t2.create_id(json!({"name": "own shared"})).await;
        t2.create_id(json!({"name": "own private", "visibility": "private"})).await;
        t1.add_member(&offered, "t2").await;
        assert_eq!(t2.list_ids("visibility=shared").await, vec![own.clone()]);
        t2.set_member_status(&offered, "t2", "accepted").await;
        assert_eq!(t2.list_set("visibility=shared").await, sorted(vec![own.clone(), offered.clone()]));
        // The owner lists its shared image whatever its members said.
        t2.set_member_status(&offered, "t2", "rejected").await;
        assert_eq!(t1.list_ids("visibility=shared").await, vec![offered.clone()]);
        assert_eq!(t2.list_ids("visibility=shared").await, vec![own.clone()]);
    }
}
