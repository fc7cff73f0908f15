//! The auth modes against a real Keystone: tokens validated, never identity headers believed
//! from the network unless the peer is a configured trusted proxy.

use crate::keystone::{
    Token, default_keystone_mode, keystone, keystone_mode, keystone_mode_with_timeout,
};
use crate::proxy::{FaultProxy, Mode};
use crate::support::{As, Backend, TestServer, id_of};
use glimpse::config::{AuthMode, ServerConfig};
use reqwest::Method;
use serde_json::json;
use std::time::{Duration, Instant};

fn with_token<'a>(srv: &'a TestServer, t: &Token) -> As<'a> {
    srv.caller(&[("x-auth-token", &t.token)])
}

/// A member token with every identity header a forger would add, claiming another project
/// and the admin role.
fn forged<'a>(srv: &'a TestServer, t: &Token, claim: &str) -> As<'a> {
    srv.caller(&[
        ("x-auth-token", &t.token),
        ("x-identity-status", "Confirmed"),
        ("x-tenant-id", claim),
        ("x-project-id", claim),
        ("x-tenant", claim),
        ("x-user-id", "someone-else"),
        ("x-roles", "admin"),
        ("x-role", "admin"),
    ])
}

/// Every image the caller's detail list shows, sorted.
async fn listed(c: &As<'_>) -> Vec<String> {
    sorted(
        c.get("/images/detail?is_public=none")
            .await
            .expect(200)
            .ids(),
    )
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

mod sqlite {
    use super::*;

    async fn start() -> TestServer {
        TestServer::start_with(Backend::Sqlite, default_keystone_mode()).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_project_sees_its_own_images_and_the_public_ones() {
        let ks = keystone();
        let srv = start().await;
        let alpha = ks.token("alpha-member", "alpha").await;
        let beta = ks.token("beta-member", "beta").await;
        let admin = ks.token("admin", "admin").await;
        let (a, b) = (with_token(&srv, &alpha), with_token(&srv, &beta));
        let a_private = a.create(json!({"name": "a-private"})).await;
        assert_eq!(a_private["owner"], alpha.project_id.as_str());
        let a_private = id_of(&a_private);
        let public = id_of(&a.create(json!({"name": "public", "is_public": true})).await);
        let b_private = id_of(&b.create(json!({"name": "b-private"})).await);
        assert_eq!(
            listed(&with_token(&srv, &alpha)).await,
            sorted(vec![a_private.clone(), public.clone()])
        );
        assert_eq!(
            listed(&with_token(&srv, &beta)).await,
            sorted(vec![b_private.clone(), public.clone()])
        );
        a.get(&format!("/images/{b_private}"))
            .await
            .expect_error(404);
        b.get(&format!("/images/{a_private}"))
            .await
            .expect_error(404);
        b.delete(&format!("/images/{a_private}"))
            .await
            .expect_error(404);
        let all = listed(&with_token(&srv, &admin)).await;
        assert_eq!(all, sorted(vec![a_private, public, b_private]));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn forged_identity_headers_with_a_member_token_change_nothing() {
        let ks = keystone();
        let srv = start().await;
        let alpha = ks.token("alpha-member", "alpha").await;
        let beta = ks.token("beta-member", "beta").await;
        let theirs = id_of(
            &with_token(&srv, &beta)
                .create(json!({"name": "beta-only"}))
                .await,
        );
        let f = forged(&srv, &alpha, &beta.project_id);
        let mine = f.create(json!({"name": "made-while-forging"})).await;
        assert_eq!(
            mine["owner"],
            alpha.project_id.as_str(),
            "the owner comes from the token"
        );
        f.get(&format!("/images/{theirs}")).await.expect_error(404);
        f.put(
            &format!("/images/{theirs}"),
            &json!({"image": {"name": "x"}}),
        )
        .await
        .expect_error(404);
        f.delete(&format!("/images/{theirs}"))
            .await
            .expect_error(404);
        let seen = f
            .get("/images/detail?is_public=none")
            .await
            .expect(200)
            .ids();
        assert_eq!(
            seen,
            vec![id_of(&mine)],
            "forged admin role listed others' images"
        );
        // An image owned by another project cannot be created either.
        let r = f
            .post(
                "/images",
                &json!({"image": {"name": "x", "owner": beta.project_id}}),
            )
            .await;
        if r.status == 200 {
            assert_eq!(r.image()["owner"], alpha.project_id.as_str());
        }
        with_token(&srv, &beta)
            .get(&format!("/images/{theirs}"))
            .await
            .expect(200);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reader_reads_and_cannot_write() {
        let ks = keystone();
        let srv = start().await;
        let member = ks.token("alpha-member", "alpha").await;
        let reader = ks.token("alpha-reader", "alpha").await;
        let id = id_of(
            &with_token(&srv, &member)
                .create(json!({"name": "team"}))
                .await,
        );
        let r = with_token(&srv, &reader);
        r.get(&format!("/images/{id}")).await.expect(200);
        r.head(&format!("/images/{id}")).await.expect(200);
        assert_eq!(r.get("/images").await.expect(200).ids(), vec![id.clone()]);
        r.get(&format!("/images/{id}/members")).await.expect(200);
        r.post("/images", &json!({"image": {"name": "x"}}))
            .await
            .expect_error(403);
        r.put(
            &format!("/images/{id}"),
            &json!({"image": {"name": "renamed"}}),
        )
        .await
        .expect_error(403);
        r.send(
            Method::PUT,
            &format!("/images/{id}/members/somebody"),
            None,
            &[],
        )
        .await
        .expect_error(403);
        r.delete(&format!("/images/{id}")).await.expect_error(403);
        let after = with_token(&srv, &member)
            .get(&format!("/images/{id}"))
            .await
            .expect(200);
        assert_eq!(after.image()["name"], "team");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn missing_and_invalid_tokens_are_401_with_the_keystone_challenge() {
        let ks = keystone();
        let srv = start().await;
        let challenge = format!("Keystone uri=\"{}\"", ks.auth_url());
        let no_token = srv.admin().get("/images").await.expect_error(401);
        assert_eq!(
            no_token.header("www-authenticate").as_deref(),
            Some(challenge.as_str())
        );
        let headers_only = srv
            .caller(&[
                ("x-identity-status", "Confirmed"),
                ("x-roles", "admin"),
                ("x-tenant-id", "t"),
            ])
            .get("/images")
            .await
            .expect_error(401);
        assert_eq!(
            headers_only.header("www-authenticate").as_deref(),
            Some(challenge.as_str())
        );
        let bogus = "gAAAAABnot-a-real-token";
        let r = srv
            .caller(&[
                ("x-auth-token", bogus),
                ("x-identity-status", "Confirmed"),
                ("x-roles", "admin"),
            ])
            .post("/images", &json!({"image": {"name": "x"}}))
            .await
            .expect_error(401);
        assert_eq!(
            r.header("www-authenticate").as_deref(),
            Some(challenge.as_str())
        );
        assert!(!r.text.contains(bogus), "the token was echoed: {}", r.text);
        // Probes stay open; metrics never show a token.
        srv.admin().get("/healthz").await.expect(200);
        srv.admin().get("/readyz").await.expect(200);
        let metrics = srv.admin().get("/metrics").await.expect(200).text;
        assert!(
            metrics.contains("glimpse_keystone_validations_total"),
            "{metrics}"
        );
        assert!(
            metrics.contains("glimpse_token_cache_lookups_total"),
            "{metrics}"
        );
        assert!(!metrics.contains(bogus));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_revoked_token_stops_working_within_the_cache_time() {
        let ks = keystone();
        let cache = Duration::from_secs(2);
        let srv =
            TestServer::start_with(Backend::Sqlite, keystone_mode(ks.auth_url(), cache)).await;
        let t = ks.token("alpha-member", "alpha").await;
        with_token(&srv, &t).get("/images").await.expect(200);
        ks.revoke(&t.token).await;
        let revoked = Instant::now();
        loop {
            let r = with_token(&srv, &t).get("/images").await;
            if r.status == 401 {
                break;
            }
            assert_eq!(r.status, 200, "{}", r.text);
            assert!(
                revoked.elapsed() < cache + Duration::from_secs(2),
                "a revoked token still works after the cache time"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        with_token(&srv, &t).get("/images").await.expect_error(401);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_expired_token_is_401() {
        let ks = keystone();
        // A long cache: the token's own expiry must bound how long it is believed.
        let srv = TestServer::start_with(
            Backend::Sqlite,
            keystone_mode(ks.auth_url(), Duration::from_secs(600)),
        )
        .await;
        let t = ks.short_token("alpha-member", "alpha").await;
        let issued = Instant::now();
        let first = with_token(&srv, &t).get("/images").await;
        if issued.elapsed() < ks.short_expiration() - Duration::from_secs(1) {
            first.expect(200);
        }
        tokio::time::sleep(ks.short_expiration() + Duration::from_secs(1)).await;
        let r = with_token(&srv, &t).get("/images").await.expect_error(401);
        assert!(r.header("www-authenticate").is_some());
        // A fresh server (empty cache) asks Keystone, which says the same.
        let fresh = TestServer::start_with(Backend::Sqlite, default_keystone_mode()).await;
        with_token(&fresh, &t)
            .get("/images")
            .await
            .expect_error(401);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn keystone_down_is_a_quick_503_for_uncached_tokens_and_recovers() {
        // The bound on one Keystone call: a hung Keystone is a 503 after about this long.
        const TIMEOUT: Duration = Duration::from_secs(5);
        let ks = keystone();
        let proxy = FaultProxy::start(&ks.address()).await;
        let via_proxy = format!("http://127.0.0.1:{}/v3", proxy.port);
        let srv = TestServer::start_with(
            Backend::Sqlite,
            keystone_mode_with_timeout(&via_proxy, Duration::from_secs(60), TIMEOUT),
        )
        .await;
        let cached = ks.token("alpha-member", "alpha").await;
        let later = ks.token("beta-member", "beta").await;
        with_token(&srv, &cached).get("/images").await.expect(200);
        for mode in [Mode::Refuse, Mode::Blackhole] {
            proxy.set(mode);
            proxy.cut();
            let started = Instant::now();
            let r = with_token(&srv, &later)
                .get("/images")
                .await
                .expect_error(503);
            assert!(
                started.elapsed() < TIMEOUT + Duration::from_secs(2),
                "{mode:?}: 503 took {:?}",
                started.elapsed()
            );
            assert!(!r.text.contains(&later.token));
            with_token(&srv, &cached).get("/images").await.expect(200);
        }
        proxy.set(Mode::Pass);
        proxy.cut();
        with_token(&srv, &later).get("/images").await.expect(200);
        srv.admin().get("/readyz").await.expect(200);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn trusted_proxy_believes_headers_only_from_its_cidrs() {
        let srv = TestServer::start_with(Backend::Sqlite, |c: &mut ServerConfig| {
            c.auth = Some(AuthMode::TrustedProxy);
            c.trusted_proxies =
                vec![glimpse::auth::trusted_proxy::Cidr::parse("127.0.0.2/32").expect("cidr")];
        })
        .await;
        let headers = [
            ("x-auth-token", "t"),
            ("x-identity-status", "Confirmed"),
            ("x-tenant-id", "t1"),
            ("x-roles", "member"),
        ];
        let from = |ip: [u8; 4]| {
            reqwest::Client::builder()
                .local_address(std::net::IpAddr::from(ip))
                .build()
                .expect("client")
        };
        let send = |client: reqwest::Client, hs: &'static [(&'static str, &'static str)]| {
            let url = format!("{}/images", srv.base);
            async move {
                let mut req = client.post(url).json(&json!({"image": {"name": "x"}}));
                for (k, v) in hs {
                    req = req.header(*k, *v);
                }
                let resp = req.send().await.expect("sent");
                let status = resp.status().as_u16();
                (
                    status,
                    resp.json::<serde_json::Value>().await.unwrap_or_default(),
                )
            }
        };
        let hs: &'static [(&str, &str)] = Box::leak(Box::new(headers));
        let (status, _) = send(from([127, 0, 0, 1]), hs).await;
        assert_eq!(status, 401, "headers believed from an untrusted peer");
        let (status, body) = send(from([127, 0, 0, 2]), hs).await;
        assert_eq!(status, 200);
        assert_eq!(body["image"]["owner"], "t1");
        let (status, _) = send(from([127, 0, 0, 2]), &[]).await;
        assert_eq!(status, 401, "no token from the proxy is not an admin");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn noauth_makes_every_request_an_admin_without_a_project() {
        let srv = TestServer::start_with(Backend::Sqlite, |c: &mut ServerConfig| {
            c.auth = Some(AuthMode::Noauth);
        })
        .await;
        let tenant = srv.tenant("t1");
        let img = tenant.create(json!({"name": "x"})).await;
        assert!(
            img["owner"].is_null(),
            "noauth took the owner from a header: {img}"
        );
        let plain = srv.caller(&[("x-auth-token", "whatever")]);
        let other = id_of(&plain.create(json!({"name": "y"})).await);
        // Every caller is admin: it sees and changes everything, whatever roles it claims.
        let reader = srv.caller(&[
            ("x-identity-status", "Confirmed"),
            ("x-tenant-id", "t2"),
            ("x-roles", "reader"),
        ]);
        assert_eq!(
            reader
                .get("/images/detail?is_public=none")
                .await
                .expect(200)
                .ids()
                .len(),
            2
        );
        reader.delete(&format!("/images/{other}")).await.expect(200);
    }
}

/// The isolation story per engine in keystone mode: two projects, a member of a third, a
/// reader, an admin, forged headers and no token.
macro_rules! keystone_isolation {
    ($($backend:ident => $variant:expr),*) => {
        $(
            mod $backend {
                use super::*;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn keystone_isolation() {
                    isolation_story(TestServer::start_with($variant, default_keystone_mode()).await).await
                }
            }
        )*
    };
}

/// The access log names the project Keystone vouched for, not the one a client claims in
/// identity headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_log_records_the_authenticated_project() {
    let ks = keystone();
    let dir = tempfile::tempdir().expect("tmp");
    let url = format!("sqlite://{}", dir.path().join("log.db").display());
    let domain = ks.var("KEYSTONE_DOMAIN").to_owned();
    let proc = crate::process::Process::start(
        &url,
        &[
            "--auth",
            "keystone",
            "--keystone-auth-url",
            ks.auth_url(),
            "--keystone-username",
            ks.var("KEYSTONE_SERVICE_USER"),
            "--keystone-password",
            ks.var("KEYSTONE_SERVICE_PASSWORD"),
            "--keystone-project-name",
            ks.var("KEYSTONE_SERVICE_PROJECT"),
            "--keystone-user-domain-name",
            &domain,
            "--keystone-project-domain-name",
            &domain,
        ],
    );
    let alpha = ks.token("alpha-member", "alpha").await;
    let r = reqwest::Client::new()
        .get(format!("{}/images", proc.base))
        .header("x-auth-token", &alpha.token)
        .header("x-tenant-id", "forged-project")
        .header("x-project-id", "forged-project")
        .header("x-openstack-request-id", "req-authenticated-log")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let line = loop {
        let found = proc
            .log
            .lock()
            .expect("log")
            .iter()
            .find(|l| l.contains("req-authenticated-log"))
            .cloned();
        if let Some(l) = found {
            break strip_ansi(&l);
        }
        assert!(std::time::Instant::now() < deadline, "no access log line");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(
        line.contains(&format!("tenant={}", alpha.project_id)),
        "{line} (the token's project: {})",
        alpha.project_id
    );
    assert!(!line.contains("forged-project"), "{line}");
}

/// A log line without its terminal colour codes.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

mod isolation {
    use super::*;

    keystone_isolation!(sqlite => Backend::Sqlite, postgres => Backend::Postgres, mysql => Backend::Mysql);

    async fn isolation_story(srv: TestServer) {
        let ks = keystone();
        let owner = ks.token("alpha-member", "alpha").await;
        let member = ks.token("beta-member", "beta").await;
        let other = ks.token("gamma-member", "gamma").await;
        let reader = ks.token("alpha-reader", "alpha").await;
        let admin = ks.token("admin", "admin").await;
        let o = with_token(&srv, &owner);
        let private = id_of(
            &o.create(json!({"name": "private", "properties": {"secret": "s3cr3t"}}))
                .await,
        );
        let shared = id_of(&o.create(json!({"name": "shared"})).await);
        o.send(
            Method::PUT,
            &format!("/images/{shared}/members/{}", member.project_id),
            None,
            &[],
        )
        .await
        .expect(204);
        let public = id_of(&o.create(json!({"name": "public", "is_public": true})).await);
        assert_eq!(
            listed(&with_token(&srv, &owner)).await,
            sorted(vec![private.clone(), shared.clone(), public.clone()])
        );
        assert_eq!(
            listed(&with_token(&srv, &reader)).await,
            sorted(vec![private.clone(), shared.clone(), public.clone()])
        );
        assert_eq!(
            listed(&with_token(&srv, &member)).await,
            sorted(vec![shared.clone(), public.clone()])
        );
        assert_eq!(
            listed(&with_token(&srv, &other)).await,
            vec![public.clone()]
        );
        assert_eq!(
            listed(&with_token(&srv, &admin)).await,
            sorted(vec![private.clone(), shared.clone(), public.clone()])
        );
        for (who, t) in [("member", &member), ("other", &other)] {
            for c in [with_token(&srv, t), forged(&srv, t, &owner.project_id)] {
                c.get(&format!("/images/{private}")).await.expect_error(404);
                c.put(
                    &format!("/images/{private}"),
                    &json!({"image": {"name": "x"}}),
                )
                .await
                .expect_error(404);
                c.delete(&format!("/images/{private}"))
                    .await
                    .expect_error(404);
                let r = c
                    .put(
                        &format!("/images/{shared}"),
                        &json!({"image": {"name": "x"}}),
                    )
                    .await;
                assert!(
                    matches!(r.status, 403 | 404),
                    "{who} changed the shared image: {}",
                    r.text
                );
                c.delete(&format!("/images/{public}"))
                    .await
                    .expect_error(403);
                assert!(!r.text.contains("s3cr3t"));
            }
        }
        with_token(&srv, &reader)
            .delete(&format!("/images/{private}"))
            .await
            .expect_error(403);
        for c in [
            srv.admin(),
            srv.caller(&[
                ("x-auth-token", "forged"),
                ("x-identity-status", "Confirmed"),
                ("x-roles", "admin"),
            ]),
        ] {
            c.get("/images").await.expect_error(401);
            c.get(&format!("/images/{private}")).await.expect_error(401);
            c.delete(&format!("/images/{public}"))
                .await
                .expect_error(401);
        }
        let shares = with_token(&srv, &other)
            .get(&format!("/shared-images/{}", member.project_id))
            .await
            .expect(200);
        assert_eq!(
            shares.json["shared_images"],
            json!([]),
            "another project's shares leaked"
        );
        let mine = with_token(&srv, &member)
            .get(&format!("/shared-images/{}", member.project_id))
            .await
            .expect(200);
        assert_eq!(mine.json["shared_images"].as_array().map(Vec::len), Some(1));
        // Everything is still as the owner made it.
        let still = with_token(&srv, &admin)
            .get(&format!("/images/{private}"))
            .await
            .expect(200);
        assert_eq!(still.image()["name"], "private");
        with_token(&srv, &admin)
            .get(&format!("/images/{public}"))
            .await
            .expect(200);
    }
}
