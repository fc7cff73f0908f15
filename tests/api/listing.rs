//! `GET /images` and `GET /images/detail` (spec section 3): filters, scope, order, limits and
//! the `Link` header.

use crate::backend_tests;
use crate::support::{As, enc, id_of, keys_of};
use glimpse::domain::query::PageLimits;
use serde_json::{Value, json};
use std::collections::BTreeSet;

fn set(ids: Vec<String>) -> BTreeSet<String> {
    ids.into_iter().collect()
}

fn set_of(ids: &[&String]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).clone()).collect()
}

/// The ids of `GET <path>`, asserting 200, as a set.
async fn ids(who: &As<'_>, path: &str) -> BTreeSet<String> {
    set(who.get(path).await.expect(200).ids())
}

/// The target of a `Link: <...>; rel="next"` header.
fn next_of(link: &str) -> String {
    let start = link.find('<').expect("<") + 1;
    let end = link.find('>').expect(">");
    assert!(link[end..].contains("rel=\"next\""), "{link}");
    link[start..end].to_owned()
}

backend_tests! {
    async fn brief_and_detail_forms(srv: TestServer) {
        let admin = srv.admin();
        let img = admin.create(json!({"name": "f", "disk_format": "raw", "container_format": "bare",
                                      "size": 7, "checksum": "abc", "is_public": true, "location": "s3://x",
                                      "properties": {"os": "linux"}})).await;
        let brief = admin.get("/images").await.expect(200);
        assert_eq!(brief.images().len(), 1);
        let b = &brief.images()[0];
        assert_eq!(keys_of(b), ["checksum", "container_format", "disk_format", "id", "name", "size"]);
        for k in ["id", "name", "size", "disk_format", "container_format", "checksum"] {
            assert_eq!(b[k], img[k], "{k}");
        }
        let root = admin.get("/").await.expect(200);
        assert_eq!(root.json, brief.json, "GET / is the brief list");
        let detail = admin.get("/images/detail").await.expect(200);
        assert_eq!(detail.images().len(), 1);
        assert_eq!(keys_of(&detail.images()[0]), crate::images::DETAIL_FIELDS);
        assert_eq!(&detail.images()[0], &img, "the detailed form is the whole image, properties included");
        // Any caller who can see the image gets its location (the API server needs it).
        let t = srv.tenant("t9");
        assert_eq!(t.get("/images/detail").await.expect(200).images()[0]["location"], "s3://x");
    }

    async fn exact_match_filters(srv: TestServer) {
        let admin = srv.admin();
        let mk = |v: Value| admin.create(v);
        let plain_foo = id_of(&mk(json!({"name": "foo", "status": "queued", "disk_format": "raw", "container_format": "bare",
                                   "min_ram": 512, "min_disk": 10, "protected": true})).await);
        let foo_upper = id_of(&mk(json!({"name": "Foo", "status": "saving", "disk_format": "qcow2", "container_format": "ovf",
                                         "min_ram": 1024, "min_disk": 10})).await);
        let foo_bar = id_of(&mk(json!({"name": "foo bar", "disk_format": "raw", "container_format": "ovf",
                                       "min_ram": 512})).await);
        let foo_space = id_of(&mk(json!({"name": "foo ", "disk_format": "vhd", "container_format": "docker"})).await);
        let nameless = id_of(&mk(json!({"status": "queued"})).await);
        let base = "/images?is_public=none";
        assert_eq!(ids(&admin, &format!("{base}&name=foo")).await, set_of(&[&plain_foo]), "case-sensitive, exact");
        assert_eq!(ids(&admin, &format!("{base}&name=Foo")).await, set_of(&[&foo_upper]));
        assert_eq!(ids(&admin, &format!("{base}&name=foo%20bar")).await, set_of(&[&foo_bar]));
        assert_eq!(ids(&admin, &format!("{base}&name=foo+bar")).await, set_of(&[&foo_bar]));
        assert_eq!(ids(&admin, &format!("{base}&name=foo%20")).await, set_of(&[&foo_space]), "trailing space matters");
        assert!(ids(&admin, &format!("{base}&name=fo")).await.is_empty());
        assert!(ids(&admin, &format!("{base}&name=FOO")).await.is_empty());
        assert!(ids(&admin, &format!("{base}&name=foo%25")).await.is_empty(), "% is no wildcard");
        assert!(ids(&admin, &format!("{base}&name=f_o")).await.is_empty(), "_ is no wildcard");
        assert_eq!(ids(&admin, &format!("{base}&status=queued")).await, set_of(&[&plain_foo, &nameless]));
        assert_eq!(ids(&admin, &format!("{base}&status=saving")).await, set_of(&[&foo_upper]));
        assert!(ids(&admin, &format!("{base}&status=pending_delete")).await.is_empty());
        assert_eq!(ids(&admin, &format!("{base}&disk_format=raw")).await, set_of(&[&plain_foo, &foo_bar]));
        assert!(ids(&admin, &format!("{base}&disk_format=RAW")).await.is_empty());
        assert_eq!(ids(&admin, &format!("{base}&container_format=ovf")).await, set_of(&[&foo_upper, &foo_bar]));
        assert_eq!(ids(&admin, &format!("{base}&container_format=docker")).await, set_of(&[&foo_space]));
        assert_eq!(ids(&admin, &format!("{base}&min_ram=512")).await, set_of(&[&plain_foo, &foo_bar]));
        assert_eq!(ids(&admin, &format!("{base}&min_ram=1024")).await, set_of(&[&foo_upper]));
        assert_eq!(ids(&admin, &format!("{base}&min_ram=0")).await, set_of(&[&foo_space, &nameless]));
        assert_eq!(ids(&admin, &format!("{base}&min_disk=10")).await, set_of(&[&plain_foo, &foo_upper]));
        assert_eq!(ids(&admin, &format!("{base}&protected=true")).await, set_of(&[&plain_foo]));
        assert_eq!(ids(&admin, &format!("{base}&protected=false")).await,
                   set_of(&[&foo_upper, &foo_bar, &foo_space, &nameless]));
        // Filters combine with AND.
        assert_eq!(ids(&admin, &format!("{base}&disk_format=raw&min_ram=512&container_format=bare")).await,
                   set_of(&[&plain_foo]));
        assert!(ids(&admin, &format!("{base}&name=foo&status=saving")).await.is_empty());
        // The detailed list filters the same way.
        assert_eq!(set(admin.get("/images/detail?is_public=none&name=Foo").await.expect(200).ids()),
                   set_of(&[&foo_upper]));
        // Exact in Unicode too: no case or accent folding.
        let e_acute = id_of(&mk(json!({"name": "é"})).await);
        mk(json!({"name": "É"})).await;
        mk(json!({"name": "e"})).await;
        assert_eq!(ids(&admin, &format!("{base}&name=%C3%A9")).await, set_of(&[&e_acute]));
        // Broken query strings are 400, not guessed at.
        for bad in ["name=%zz", "name=%ff", "name=%00", "property-os=%C3"] {
            admin.get(&format!("{base}&{bad}")).await.expect_error(400);
        }
        // Non-integers and bad booleans are 400.
        for bad in ["min_ram=x", "min_disk=1.5", "protected=maybe", "status=bogus"] {
            admin.get(&format!("{base}&{bad}")).await.expect_error(400);
        }
    }

    async fn property_filters(srv: TestServer) {
        let admin = srv.admin();
        let a = id_of(&admin.create(json!({"name": "a", "properties": {"os": "linux", "arch": "x86_64"}})).await);
        let b = id_of(&admin.create(json!({"name": "b", "properties": {"os": "linux", "arch": "arm"}})).await);
        let c = id_of(&admin.create(json!({"name": "c", "properties": {"os": "Linux"}})).await);
        let d = id_of(&admin.create(json!({"name": "d", "properties": {"os": "linux ", "long": "v".repeat(300)}})).await);
        let _e = id_of(&admin.create(json!({"name": "e"})).await);
        let base = "/images?is_public=none";
        assert_eq!(ids(&admin, &format!("{base}&property-os=linux")).await, set_of(&[&a, &b]));
        assert_eq!(ids(&admin, &format!("{base}&property-os=Linux")).await, set_of(&[&c]));
        assert_eq!(ids(&admin, &format!("{base}&property-os=linux%20")).await, set_of(&[&d]));
        assert_eq!(ids(&admin, &format!("{base}&property-os=linux&property-arch=arm")).await, set_of(&[&b]));
        assert!(ids(&admin, &format!("{base}&property-os=linux&property-arch=sparc")).await.is_empty());
        assert!(ids(&admin, &format!("{base}&property-OS=linux")).await.is_empty(), "names are case-sensitive");
        assert!(ids(&admin, &format!("{base}&property-missing=x")).await.is_empty());
        assert!(ids(&admin, &format!("{base}&property-os=lin")).await.is_empty());
        // Values longer than any index prefix still match exactly.
        assert_eq!(ids(&admin, &format!("{base}&property-long={}", "v".repeat(300))).await, set_of(&[&d]));
        assert!(ids(&admin, &format!("{base}&property-long={}", "v".repeat(299))).await.is_empty());
        assert!(ids(&admin, &format!("{base}&property-long={}w", "v".repeat(300))).await.is_empty());
        // Combined with ordinary filters.
        assert_eq!(ids(&admin, &format!("{base}&property-os=linux&name=b")).await, set_of(&[&b]));
        // An updated property is found by its new value only.
        admin.put(&format!("/images/{a}"), &json!({"image": {"properties": {"os": "bsd"}}})).await.expect(200);
        assert_eq!(ids(&admin, &format!("{base}&property-os=linux")).await, set_of(&[&b]));
        assert_eq!(ids(&admin, &format!("{base}&property-os=bsd")).await, set_of(&[&a]));
    }

    async fn size_ranges(srv: TestServer) {
        let admin = srv.admin();
        let mut by_size = Vec::new();
        for s in [0i64, 10, 100, 1000, i64::MAX] {
            by_size.push((s, id_of(&admin.create(json!({"name": format!("s{s}"), "size": s})).await)));
        }
        let unsized_ = id_of(&admin.create(json!({"name": "nosize"})).await);
        let base = "/images?is_public=none";
        let expect = |lo: i64, hi: i64| -> BTreeSet<String> {
            by_size.iter().filter(|(s, _)| *s >= lo && *s <= hi).map(|(_, i)| i.clone()).collect()
        };
        assert_eq!(ids(&admin, &format!("{base}&size_min=10")).await, expect(10, i64::MAX), "inclusive");
        assert_eq!(ids(&admin, &format!("{base}&size_max=100")).await, expect(0, 100), "inclusive");
        assert_eq!(ids(&admin, &format!("{base}&size_min=10&size_max=1000")).await, expect(10, 1000));
        assert_eq!(ids(&admin, &format!("{base}&size_min=11&size_max=999")).await, expect(11, 999));
        assert_eq!(ids(&admin, &format!("{base}&size_min=100&size_max=100")).await, expect(100, 100));
        assert!(ids(&admin, &format!("{base}&size_min=1001&size_max=1000")).await.is_empty());
        assert_eq!(ids(&admin, &format!("{base}&size_min=0")).await, expect(0, i64::MAX), "NULL sizes are out of range");
        assert!(!ids(&admin, &format!("{base}&size_max={}", i64::MAX)).await.contains(&unsized_));
        for bad in ["size_min=abc", "size_max=1.5", "size_min=", "size_max=1e3", "size_min=10abc",
                    "size_max=99999999999999999999"] {
            admin.get(&format!("{base}&{bad}")).await.expect_error(400);
        }
    }

    async fn changes_since_reports_updates_and_deletions(srv: TestServer) {
        let admin = srv.admin();
        let old = admin.create(json!({"name": "old", "is_public": true})).await;
        let gone = admin.create(json!({"name": "gone", "is_public": true})).await;
        let changed = admin.create(json!({"name": "changed", "is_public": true})).await;
        let killed = admin.create(json!({"name": "killed", "is_public": true, "status": "killed"})).await;
        // The boundary: everything after `mark` is a change.
        let mark = admin.put(&format!("/images/{}", id_of(&killed)), &json!({"image": {"min_ram": 1}}))
            .await.expect(200).image()["updated_at"].as_str().unwrap().to_owned();
        let upd = admin.put(&format!("/images/{}", id_of(&changed)), &json!({"image": {"name": "changed2"}}))
            .await.expect(200);
        let changed_at = upd.image()["updated_at"].as_str().unwrap().to_owned();
        let del = admin.delete(&format!("/images/{}", id_of(&gone))).await.expect(200);
        let deleted_at = del.image()["updated_at"].as_str().unwrap().to_owned();
        let fresh = admin.create(json!({"name": "fresh", "is_public": true})).await;

        let cs = |t: &str| format!("/images/detail?changes-since={}", enc(t));
        // Strictly after: the image updated exactly at `mark` is not included.
        let got = admin.get(&cs(&mark)).await.expect(200);
        assert_eq!(set(got.ids()), set_of(&[&id_of(&changed), &id_of(&gone), &id_of(&fresh)]));
        let deleted = got.images().iter().find(|i| i["id"] == id_of(&gone).as_str()).unwrap();
        assert_eq!(deleted["deleted"], true, "deletions are reported with deleted=true");
        assert_eq!(deleted["status"], "deleted");
        // Tenants learn about deletions of images they could see, too.
        let t = srv.tenant("t1");
        assert_eq!(set(t.get(&cs(&mark)).await.expect(200).ids()),
                   set_of(&[&id_of(&changed), &id_of(&gone), &id_of(&fresh)]));
        assert_eq!(ids(&admin, &cs(&changed_at)).await, set_of(&[&id_of(&gone), &id_of(&fresh)]));
        assert_eq!(ids(&admin, &cs(&deleted_at)).await, set_of(&[&id_of(&fresh)]));
        assert!(ids(&admin, &cs(fresh["updated_at"].as_str().unwrap())).await.is_empty());
        // A microsecond before an update includes it.
        let before_killed = {
            let t = time::PrimitiveDateTime::parse(&mark, &time::format_description::well_known::Iso8601::DEFAULT).unwrap();
            t - time::Duration::microseconds(1)
        };
        let fmt = time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]");
        let just_before = before_killed.format(fmt).unwrap();
        let got = ids(&admin, &cs(&just_before)).await;
        assert!(got.contains(&id_of(&killed)), "killed images are reported through changes-since");
        assert!(!got.contains(&id_of(&old)));
        // Other ISO 8601 forms of the same instants: Z, an offset, no fraction.
        assert_eq!(ids(&admin, &cs(&format!("{just_before}Z"))).await, got);
        let plus_two = (before_killed + time::Duration::hours(2)).format(fmt).unwrap();
        assert_eq!(ids(&admin, &cs(&format!("{plus_two}+02:00"))).await, got, "offsets are honoured");
        let minus = (before_killed - time::Duration::minutes(90)).format(fmt).unwrap();
        assert_eq!(ids(&admin, &cs(&format!("{minus}-01:30"))).await, got);
        assert_eq!(ids(&admin, &cs("2000-01-01T00:00:00Z")).await.len(), 5);
        assert_eq!(ids(&admin, &cs("2000-01-01T00:00:00")).await.len(), 5);
        assert_eq!(ids(&admin, &cs("2000-01-01T00:00:00.5+05:00")).await.len(), 5);
        assert!(ids(&admin, &cs("2999-01-01T00:00:00Z")).await.is_empty());
        // Nobody learns through changes-since about private images they could not see.
        let t1 = srv.tenant("t1");
        let private = id_of(&t1.create(json!({"name": "private"})).await);
        t1.delete(&format!("/images/{private}")).await.expect(200);
        assert!(ids(&t1, &cs(&mark)).await.contains(&private), "the owner learns of its deletion");
        assert!(!ids(&srv.tenant("t2"), &cs(&mark)).await.contains(&private));
        assert!(!ids(&srv.tenant("t2"), &cs("2000-01-01T00:00:00Z")).await.contains(&private));
        // An admin can still exclude the deleted ones.
        let live = ids(&admin, &format!("{}&deleted=false", cs(&mark))).await;
        assert_eq!(live, set_of(&[&id_of(&changed), &id_of(&fresh)]));
        // The edges of the calendar are handled, not crashed on.
        assert_eq!(ids(&admin, &cs("1000-01-01T00:00:00Z")).await.len(), 5);
        assert!(ids(&admin, &cs("9999-12-31T23:59:59.999999Z")).await.is_empty());
        for edge in ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00Z", "0000-01-01T00:00:00+01:00"] {
            let r = admin.get(&cs(edge)).await;
            assert!(r.status == 200 || r.status == 400, "changes-since={edge}: {} {}", r.status, r.text);
        }
        for bad in ["yesterday", "2011-13-01T00:00:00", "2011-09-27T25:00:00Z", "", "12345"] {
            admin.get(&cs(bad)).await.expect_error(400);
        }
    }

    async fn killed_and_deleted_are_hidden_by_default(srv: TestServer) {
        let admin = srv.admin();
        let live = id_of(&admin.create(json!({"name": "live", "is_public": true})).await);
        let killed = id_of(&admin.create(json!({"name": "killed", "is_public": true, "status": "killed"})).await);
        let gone = id_of(&admin.create(json!({"name": "gone", "is_public": true})).await);
        admin.delete(&format!("/images/{gone}")).await.expect(200);
        let t = srv.tenant("t1");
        for who in [&admin, &t] {
            assert_eq!(ids(who, "/images").await, set_of(&[&live]));
            assert_eq!(ids(who, "/images/detail").await, set_of(&[&live]));
            assert!(ids(who, "/images?status=killed").await.is_empty(), "even with status=killed");
            assert!(ids(who, "/images?status=deleted").await.is_empty());
            // Both can still be read by id (killed) or by admins (deleted).
            who.get(&format!("/images/{killed}")).await.expect(200);
        }
        assert_eq!(ids(&admin, "/images?deleted=true").await, set_of(&[&gone]));
        assert_eq!(ids(&admin, "/images?deleted=true&status=deleted").await, set_of(&[&gone]));
        assert_eq!(ids(&admin, "/images?deleted=false").await, set_of(&[&live]));
        admin.get("/images?deleted=maybe").await.expect_error(400);
    }

    async fn is_public_and_deleted_are_admin_only(srv: TestServer) {
        let admin = srv.admin();
        let t1 = srv.tenant("t1");
        let t2 = srv.tenant("t2");
        let public = id_of(&t1.create(json!({"name": "public", "is_public": true})).await);
        let private1 = id_of(&t1.create(json!({"name": "private1"})).await);
        let private2 = id_of(&t2.create(json!({"name": "private2"})).await);
        let shared = id_of(&t2.create(json!({"name": "shared-with-t1"})).await);
        t2.send(reqwest::Method::PUT, &format!("/images/{shared}/members/t1"), None, &[]).await.expect(204);
        let ownerless = id_of(&admin.create(json!({"name": "ownerless"})).await);
        let doomed = id_of(&t1.create(json!({"name": "doomed"})).await);
        t1.delete(&format!("/images/{doomed}")).await.expect(200);

        // A tenant always gets public + own + shared (+ ownerless): admin-only parameters are ignored.
        let tenant_view = set_of(&[&public, &private1, &shared, &ownerless]);
        for q in ["", "?is_public=true", "?is_public=false", "?is_public=none", "?is_public=bogus",
                  "?deleted=true", "?deleted=false", "?is_public=none&deleted=true"] {
            assert_eq!(ids(&t1, &format!("/images{q}")).await, tenant_view, "tenant with {q:?}");
        }
        assert_eq!(ids(&t2, "/images").await, set_of(&[&public, &private2, &shared, &ownerless]));

        // The no-token admin owns nothing: by default just the public ones.
        assert_eq!(ids(&admin, "/images").await, set_of(&[&public]));
        assert_eq!(ids(&admin, "/images?is_public=true").await, set_of(&[&public]));
        assert_eq!(ids(&admin, "/images?is_public=false").await,
                   set_of(&[&private1, &private2, &shared, &ownerless]));
        assert_eq!(ids(&admin, "/images?is_public=none").await,
                   set_of(&[&public, &private1, &private2, &shared, &ownerless]));
        assert_eq!(ids(&admin, "/images?is_public=none&deleted=true").await, set_of(&[&doomed]));
        assert_eq!(ids(&admin, "/images?is_public=false&deleted=true").await, set_of(&[&doomed]));
        assert!(ids(&admin, "/images?is_public=true&deleted=true").await.is_empty());
        // An admin with a tenant: public plus their own and shared ones.
        assert_eq!(ids(&srv.tenant_admin("t1"), "/images").await, set_of(&[&public, &private1, &shared]));
        assert_eq!(ids(&srv.tenant_admin("t1"), "/images?is_public=true").await,
                   set_of(&[&public, &private1, &shared]));
        assert_eq!(ids(&srv.tenant_admin("t1"), "/images?is_public=false").await,
                   set_of(&[&private1, &private2, &shared, &ownerless]));
        assert_eq!(ids(&srv.tenant_admin("t2"), "/images").await, set_of(&[&public, &private2, &shared]));
        assert_eq!(ids(&srv.tenant_admin("t3"), "/images?is_public=none").await.len(), 5);
        admin.get("/images?is_public=bogus").await.expect_error(400);
    }

    async fn sort_keys_directions_and_nulls(srv: TestServer) {
        let admin = srv.admin();
        // Names chosen so byte order differs from case-insensitive order.
        let specs = [
            (json!(null), json!(null), "queued"),
            (json!("b"), json!(30), "active"),
            (json!("B"), json!(10), "saving"),
            (json!("a"), json!(null), "active"),
            (json!(null), json!(20), "active"),
            (json!("é"), json!(0), "queued"),
        ];
        let mut made = Vec::new();
        for (name, size, status) in specs {
            made.push(admin.create(json!({"name": name, "size": size, "status": status})).await);
        }
        let id = |i: usize| id_of(&made[i]);
        let list = |q: &str| { let q = q.to_owned(); let a = &admin; async move {
            a.get(&format!("/images?is_public=none&{q}")).await.expect(200).ids() } };
        // name: NULLs first ascending (in created_at order), last descending.
        assert_eq!(list("sort_key=name&sort_dir=asc").await, vec![id(0), id(4), id(2), id(3), id(1), id(5)]);
        assert_eq!(list("sort_key=name&sort_dir=desc").await, vec![id(5), id(1), id(3), id(2), id(4), id(0)]);
        assert_eq!(list("sort_key=size&sort_dir=asc").await, vec![id(0), id(3), id(5), id(2), id(4), id(1)]);
        assert_eq!(list("sort_key=size&sort_dir=desc").await, vec![id(1), id(4), id(2), id(5), id(3), id(0)]);
        // Default: created_at, newest first.
        let newest_first: Vec<String> = (0..6).rev().map(id).collect();
        assert_eq!(list("").await, newest_first);
        assert_eq!(list("sort_key=created_at").await, newest_first);
        assert_eq!(list("sort_dir=desc").await, newest_first);
        assert_eq!(list("sort_dir=asc").await, (0..6).map(id).collect::<Vec<_>>());
        // status ties are broken by created_at in the same direction.
        assert_eq!(list("sort_key=status&sort_dir=asc").await, vec![id(1), id(3), id(4), id(0), id(5), id(2)]);
        assert_eq!(list("sort_key=status&sort_dir=desc").await, vec![id(2), id(5), id(0), id(4), id(3), id(1)]);
        let mut by_id: Vec<String> = (0..6).map(id).collect();
        by_id.sort();
        assert_eq!(list("sort_key=id&sort_dir=asc").await, by_id);
        by_id.reverse();
        assert_eq!(list("sort_key=id").await, by_id);
        // updated_at follows the latest change.
        admin.put(&format!("/images/{}", id(2)), &json!({"image": {"min_ram": 1}})).await.expect(200);
        admin.put(&format!("/images/{}", id(0)), &json!({"image": {"min_ram": 1}})).await.expect(200);
        assert_eq!(list("sort_key=updated_at&sort_dir=asc").await, vec![id(1), id(3), id(4), id(5), id(2), id(0)]);
        assert_eq!(list("sort_key=updated_at").await, vec![id(0), id(2), id(5), id(4), id(3), id(1)]);
        for bad in ["sort_key=owner", "sort_key=NAME", "sort_key=", "sort_key=properties", "sort_dir=up",
                    "sort_dir=ASC", "sort_dir="] {
            admin.get(&format!("/images?{bad}")).await.expect_error(400);
        }
    }

    async fn format_sort_keys_order_nulls_first_ascending(srv: TestServer) {
        let admin = srv.admin();
        let formats = [(json!(null), json!(null)), (json!("vhd"), json!("ovf")), (json!("aki"), json!("aki")),
                       (json!("raw"), json!(null)), (json!(null), json!("bare"))];
        let mut made = Vec::new();
        for (d, c) in formats {
            made.push(id_of(&admin.create(json!({"disk_format": d, "container_format": c})).await));
        }
        let list = |q: &str| { let q = q.to_owned(); let a = &admin; async move {
            a.get(&format!("/images/detail?is_public=none&{q}")).await.expect(200).ids() } };
        let m = |is: &[usize]| is.iter().map(|i| made[*i].clone()).collect::<Vec<_>>();
        assert_eq!(list("sort_key=disk_format&sort_dir=asc").await, m(&[0, 4, 2, 3, 1]));
        assert_eq!(list("sort_key=disk_format&sort_dir=desc").await, m(&[1, 3, 2, 4, 0]));
        assert_eq!(list("sort_key=container_format&sort_dir=asc").await, m(&[0, 3, 2, 4, 1]));
        assert_eq!(list("sort_key=container_format&sort_dir=desc").await, m(&[1, 4, 2, 3, 0]));
    }

    async fn limits_default_and_cap(srv: TestServer) {
        let admin = srv.admin();
        for n in 0..27 {
            admin.create(json!({"name": format!("img{n:02}")})).await;
        }
        let page = admin.get("/images?is_public=none").await.expect(200);
        assert_eq!(page.images().len(), 25, "default limit");
        assert!(page.header("link").is_some());
        assert_eq!(admin.get("/images/detail?is_public=none").await.expect(200).images().len(), 25);
        assert_eq!(admin.get("/images?is_public=none&limit=1000").await.expect(200).images().len(), 27);
        assert_eq!(admin.get("/images?is_public=none&limit=5000").await.expect(200).images().len(), 27,
                   "over the cap is capped, not refused");
        assert_eq!(admin.get("/images?is_public=none&limit=3").await.expect(200).images().len(), 3);
        let none = admin.get("/images?is_public=none&limit=0").await.expect(200);
        assert!(none.images().is_empty());
        for bad in ["-1", "-25", "abc", "1.5", "", "99999999999999999999999"] {
            admin.get(&format!("/images?is_public=none&limit={bad}")).await.expect_error(400);
        }
        // Unknown parameters are ignored.
        let plain = admin.get("/images?is_public=none&limit=1000").await.expect(200).ids();
        let noisy = admin.get("/images?is_public=none&limit=1000&foo=bar&sort=name&page=2&owner=x&x-y=z")
            .await.expect(200).ids();
        assert_eq!(noisy, plain);
    }

    async fn link_header_points_to_the_next_page(srv: TestServer) {
        let admin = srv.admin();
        let mut all = Vec::new();
        for _ in 0..5 {
            all.push(id_of(&admin.create(json!({"name": "same", "properties": {"k": "v v"}})).await));
        }
        admin.create(json!({"name": "other"})).await;
        all.reverse(); // newest first
        let first = admin.get("/images/detail?is_public=none&name=same&property-k=v%20v&limit=2").await.expect(200);
        assert_eq!(first.ids(), all[0..2]);
        let link = first.header("link").expect("a full page has a Link header");
        let next = next_of(&link);
        assert!(next.starts_with("/images/detail?"), "{next}");
        assert!(next.contains(&format!("marker={}", all[1])), "{next}");
        assert!(next.contains("limit=2") && next.contains("name=same"), "{next}");
        let second = admin.get(&next).await.expect(200);
        assert_eq!(second.ids(), all[2..4]);
        let third = admin.get(&next_of(&second.header("link").unwrap())).await.expect(200);
        assert_eq!(third.ids(), all[4..5]);
        assert!(third.header("link").is_none(), "a partial page is the last one");
        // A full last page links to an empty one.
        let brief = admin.get("/images?is_public=none&name=same&limit=5").await.expect(200);
        assert_eq!(brief.ids(), all);
        let next = next_of(&brief.header("link").unwrap());
        assert!(next.starts_with("/images?"), "{next}");
        let empty = admin.get(&next).await.expect(200);
        assert!(empty.ids().is_empty());
        assert!(empty.header("link").is_none());
        // A marker in the request is replaced, not repeated.
        let r = admin.get(&format!("/images?is_public=none&name=same&limit=1&marker={}", all[0])).await.expect(200);
        let next = next_of(&r.header("link").unwrap());
        assert_eq!(next.matches("marker=").count(), 1, "{next}");
        assert!(next.contains(&format!("marker={}", all[1])));
    }
}

backend_tests! {
    |c: &mut glimpse::config::ServerConfig| c.limits = PageLimits { default: 3, max: 5 };

    async fn configured_limits(srv: TestServer) {
        let admin = srv.admin();
        for n in 0..7 {
            admin.create(json!({"name": format!("n{n}")})).await;
        }
        assert_eq!(admin.get("/images?is_public=none").await.expect(200).images().len(), 3);
        assert_eq!(admin.get("/images/detail?is_public=none&limit=4").await.expect(200).images().len(), 4);
        assert_eq!(admin.get("/images?is_public=none&limit=5").await.expect(200).images().len(), 5);
        assert_eq!(admin.get("/images?is_public=none&limit=6").await.expect(200).images().len(), 5);
        let capped = admin.get("/images?is_public=none&limit=1000").await.expect(200);
        assert_eq!(capped.images().len(), 5);
        // Full at the cap, so there is a next page, holding the other two.
        let next = next_of(&capped.header("link").expect("Link"));
        let rest = admin.get(&next).await.expect(200);
        assert_eq!(rest.images().len(), 2);
        assert!(rest.header("link").is_none());
        let mut all = capped.ids();
        all.extend(rest.ids());
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 7);
        admin.get("/images?is_public=none&limit=-1").await.expect_error(400);
    }
}
