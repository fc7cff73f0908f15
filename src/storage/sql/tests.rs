//! Unit tests of the catalog's algorithms on real databases.

use super::PoolSettings;
use super::catalog::SqlCatalog;
use super::engine::Engine;
use super::engine::mysql::MySql;
use super::engine::postgres::Postgres;
use super::engine::sqlite::Sqlite;
use super::test_db::TestDb;
use crate::api::v1::list_params::ParseListQuery;
use crate::domain::query::{ListQuery, PageLimits, Visibility};
use crate::domain::status::Status;
use crate::domain::{Caller, Image, ImageId, Timestamp};
use crate::error::Error;
use crate::storage::Catalog;
use std::time::Duration;

/// A migrated catalog on the SQLite file at `url`.
async fn sqlite_catalog(url: &str, settings: &PoolSettings) -> SqlCatalog<Sqlite> {
    let Ok(engine) = Sqlite::open(url, settings) else {
        panic!("store opens: {url}")
    };
    let store = SqlCatalog::new(engine);
    assert!(store.migrate().await.is_ok());
    store
}

/// A public image numbered `n` with one property, `os`.
pub(super) fn image(n: usize, os: &str) -> Image {
    let now = Timestamp::now();
    Image {
        id: ImageId::from_trusted(uuid::Uuid::new_v4().to_string()),
        name: Some(format!("img-{n}")),
        status: Status::Active,
        disk_format: None,
        container_format: None,
        size: None,
        virtual_size: None,
        checksum: None,
        min_disk: 0,
        min_ram: 0,
        visibility: crate::domain::ImageVisibility::Public,
        protected: false,
        owner: None,
        location: None,
        created_at: now,
        updated_at: now,
        deleted_at: None,
        deleted: false,
        properties: [("os".to_owned(), os.to_owned())].into(),
        os_hidden: false,
        os_hash_algo: None,
        os_hash_value: None,
        data_crc32: None,
        tags: Default::default(),
        version: 1,
    }
}

/// The plan hint only picks a plan: a value remembered as frequent that is in fact rare
/// (or absent) lists exactly what the probe would have found.
#[tokio::test]
async fn a_stale_frequent_verdict_changes_the_plan_not_the_result() {
    let db = TestDb::sqlite();
    let store = sqlite_catalog(&db.url, &PoolSettings::default()).await;
    let mut linux = Vec::new();
    for n in 0..30 {
        let img = image(n, if n % 10 == 0 { "linux" } else { "bsd" });
        assert!(store.create_image(&img).await.is_ok());
        if n % 10 == 0 {
            linux.push(img.id.as_str().to_owned());
        }
    }
    let caller = Caller {
        is_admin: true,
        owner: None,
        tenant: None,
        ..Caller::default()
    };
    let query = |os: &str| {
        let pairs = vec![("property-os".to_owned(), os.to_owned())];
        ListQuery::parse(&pairs, &caller, PageLimits::default())
    };
    let listed = |images: Vec<Image>| {
        let mut ids: Vec<String> = images.iter().map(|i| i.id.as_str().to_owned()).collect();
        ids.sort();
        ids
    };
    linux.sort();
    let Ok(q) = query("linux") else {
        panic!("query parses")
    };
    let probed = store.list_images(&q, false).await.map(listed);
    assert_eq!(probed.as_ref().ok(), Some(&linux));
    store.frequent.remember("os", "linux");
    store.frequent.remember("os", "hurd");
    let hinted = store.list_images(&q, false).await.map(listed);
    assert_eq!(hinted.ok(), Some(linux));
    let Ok(q) = query("hurd") else {
        panic!("query parses")
    };
    let none = store.list_images(&q, false).await.map(listed);
    assert_eq!(none.ok(), Some(Vec::new()));
}

/// On PostgreSQL a point read is prepared once and settles on a generic plan (planning
/// it each time cost more than running it); so does a page with one property filter in the
/// default order, which walks the sorted property index whatever the value. A list with more
/// filters is planned for its own values every time: it never becomes a cached statement
/// that could switch to a generic plan (one that sorts every image carrying a frequent
/// value). And no parallel query on glimpse's connections.
#[tokio::test]
async fn postgresql_plans_list_queries_for_their_values_and_reuses_point_reads() {
    use sqlx::Row;
    let db = TestDb::postgres().await;
    let one = PoolSettings {
        max_connections: 1,
        ..Default::default()
    };
    let Ok(engine) = Postgres::connect(&db.url, &one) else {
        panic!("store opens")
    };
    let store = SqlCatalog::new(engine);
    assert!(store.migrate().await.is_ok());
    let mut ids = Vec::new();
    for n in 0..4 {
        let img = image(n, if n == 0 { "linux" } else { "bsd" });
        assert!(store.create_image(&img).await.is_ok());
        ids.push(img.id);
    }
    let caller = Caller {
        is_admin: true,
        ..Caller::default()
    };
    let pairs = vec![("property-os".to_owned(), "bsd".to_owned())];
    let Ok(q) = ListQuery::parse(&pairs, &caller, PageLimits::default()) else {
        panic!("query parses")
    };
    let two = vec![
        ("property-os".to_owned(), "bsd".to_owned()),
        ("name".to_owned(), "img-2".to_owned()),
    ];
    let Ok(q2) = ListQuery::parse(&two, &caller, PageLimits::default()) else {
        panic!("query parses")
    };
    for _ in 0..8 {
        let listed = store.list_images(&q, true).await.map(|v| v.len());
        assert_eq!(listed.ok(), Some(3));
        let listed = store.list_images(&q2, true).await.map(|v| v.len());
        assert_eq!(listed.ok(), Some(1));
        let shown = store.get_image(&ids[0], &Visibility::Everything).await;
        assert!(matches!(shown, Ok(Some(ref i)) if i.id == ids[0]));
    }
    let pool = store.engine().pool();
    let Ok(rows) =
        sqlx::query("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements")
            .fetch_all(pool)
            .await
    else {
        panic!("pg_prepared_statements readable")
    };
    let stats: Vec<(String, i64, i64)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let lists: Vec<_> = stats
        .iter()
        .filter(|s| s.0.contains("ORDER BY") && !s.0.contains("_sqlx_migrations"))
        .collect();
    assert!(
        lists
            .iter()
            .all(|s| !s.0.contains(r#""images"."name" = $"#)),
        "a list with two filters kept prepared: {lists:?}"
    );
    let sorted = lists.iter().find(|s| s.0.contains("image_properties"));
    assert!(
        matches!(sorted, Some((_, generic, _)) if *generic > 0),
        "the single property filter should run a cached generic plan: {stats:?}"
    );
    // The point read: the image row by id (no list, no write).
    let point = stats.iter().find(|s| {
        s.0.starts_with("SELECT")
            && s.0.contains(r#""images"."id" IN ($1)"#)
            && !s.0.contains("ORDER BY")
    });
    assert!(
        matches!(point, Some((_, generic, _)) if *generic > 0),
        "the point read should run a cached generic plan: {stats:?}"
    );
    let parallel = sqlx::query_scalar::<_, String>("SHOW max_parallel_workers_per_gather")
        .fetch_one(pool)
        .await;
    assert_eq!(parallel.ok().as_deref(), Some("0"), "no parallel query");
    store.close().await;
    db.drop_database().await;
}

/// The running server's statistics refresh analyzes a table without statistics, leaves
/// fresh statistics alone (a full `ANALYZE` reads the whole file), and analyzes again
/// once the table has grown tenfold.
#[tokio::test]
async fn the_periodic_statistics_refresh_analyzes_only_what_is_stale() {
    let db = TestDb::sqlite();
    let store = sqlite_catalog(&db.url, &PoolSettings::default()).await;
    let file = db.url.trim_start_matches("sqlite://").to_owned();
    let rows_in_stats = || async {
        let Ok(conn) = rusqlite::Connection::open(&file) else {
            panic!("the database file opens")
        };
        let stat: Option<String> = conn
            .query_row(
                "SELECT stat FROM sqlite_stat1 WHERE idx = 'sqlite_autoindex_images_1'",
                [],
                |r| r.get(0),
            )
            .ok();
        stat.and_then(|s| s.split(' ').next().map(str::to_owned))
    };
    let add = |from: usize, to: usize| {
        let store = &store;
        async move {
            for n in from..to {
                assert!(store.create_image(&image(n, "linux")).await.is_ok());
            }
        }
    };
    add(0, 20).await;
    assert!(store.refresh_statistics().await.is_ok());
    assert_eq!(rows_in_stats().await.as_deref(), Some("20"));
    add(20, 60).await;
    assert!(store.refresh_statistics().await.is_ok());
    assert_eq!(
        rows_in_stats().await.as_deref(),
        Some("20"),
        "fresh enough: kept"
    );
    add(60, 240).await;
    assert!(store.refresh_statistics().await.is_ok());
    assert_eq!(
        rows_in_stats().await.as_deref(),
        Some("240"),
        "grew tenfold"
    );
}

/// The writer never checkpoints; the checkpoint thread copies the WAL into the database
/// file and the WAL is rewound from its start once long, so under steady writes it stays
/// near its mark instead of growing with every commit (each of these commits writes a
/// dozen frames: without the rewinding the WAL ends far beyond the bound checked), and
/// everything written is in the database once the store is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_is_copied_and_rewound_while_writes_go_on() {
    use super::engine::sqlite::REWIND_FRAMES;
    let db = TestDb::sqlite();
    let file = db.url.trim_start_matches("sqlite://").to_owned();
    let store = sqlite_catalog(&db.url, &PoolSettings::default()).await;
    let writes = 2 * REWIND_FRAMES as usize / 3;
    for n in 0..writes {
        let mut img = image(n, "linux");
        img.properties
            .insert("description".into(), format!("{n:0>1500}"));
        assert!(store.create_image(&img).await.is_ok());
    }
    let wal = std::fs::metadata(format!("{file}-wal")).map_or(0, |m| m.len());
    let frame = 4096 + 24;
    assert!(
        wal < 2 * REWIND_FRAMES as u64 * frame,
        "the WAL grew to {} frames for {writes} commits",
        wal / frame
    );
    drop(store);
    let Ok(conn) = rusqlite::Connection::open(&file) else {
        panic!("the database file opens")
    };
    let count: Result<i64, _> = conn.query_row("SELECT count(*) FROM images", [], |r| r.get(0));
    assert_eq!(count.ok(), Some(writes as i64));
}

/// With every reader connection busy, a read waits at most the acquire timeout and is
/// then refused as unavailable (503), not queued without bound; once a connection is free
/// again reads are served.
#[tokio::test]
async fn a_read_waits_for_a_free_connection_only_as_long_as_the_acquire_timeout() {
    let db = TestDb::sqlite();
    let one = PoolSettings {
        max_connections: 1,
        acquire_timeout: Duration::from_millis(100),
    };
    let store = sqlite_catalog(&db.url, &one).await;
    let created = image(1, "linux");
    assert!(store.create_image(&created).await.is_ok());
    let caller = Caller {
        is_admin: true,
        ..Caller::default()
    };
    let Ok(query) = ListQuery::parse(&[], &caller, PageLimits::default()) else {
        panic!("query parses")
    };

    let Ok(busy) = store.engine().read().await else {
        panic!("the only reader is free at first")
    };
    let started = std::time::Instant::now();
    let refused = store.list_images(&query, true).await;
    assert!(
        matches!(refused, Err(Error::Unavailable(_))),
        "got {refused:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));

    drop(busy);
    let served = store.list_images(&query, true).await;
    let Ok(served) = served else {
        panic!("served once a reader is free: {served:?}")
    };
    assert_eq!(served.len(), 1);
    assert_eq!(served[0].id, created.id);
    assert_eq!(served[0].properties, created.properties);
}

/// The images the coalescing test reads: public, private to tenant-a, private to tenant-b,
/// and a deleted public one.
fn reading_fixture() -> Vec<Image> {
    use crate::domain::ImageVisibility;
    let mut images: Vec<Image> = (0..4).map(|n| image(n, "linux")).collect();
    images[1].visibility = ImageVisibility::Private;
    images[1].owner = Some("tenant-a".into());
    images[2].visibility = ImageVisibility::Private;
    images[2].owner = Some("tenant-b".into());
    images[3].deleted = true;
    images[3].deleted_at = Some(Timestamp::now());
    images
}

/// Every read of the fixture, by several callers, all at once; each gets what the store
/// answers it.
async fn read_all_at_once<C: Catalog>(store: &C, ids: &[ImageId]) -> Vec<Option<ImageId>> {
    let callers = [
        Visibility::Everything,
        Visibility::Visible {
            owner: Some("tenant-a".into()),
        },
        Visibility::Visible { owner: None },
        Visibility::Readable {
            project: Some("tenant-b".into()),
        },
    ];
    let mut reads = Vec::new();
    for _ in 0..3 {
        for vis in &callers {
            for id in ids {
                reads.push(async move { store.get_image(id, vis).await });
            }
        }
    }
    let answers = futures::future::join_all(reads).await;
    answers
        .into_iter()
        .map(|a| match a {
            Ok(found) => found.map(|i| i.id),
            Err(e) => panic!("a read failed: {e}"),
        })
        .collect()
}

/// Reads of single images that arrive together go to PostgreSQL and MySQL as a few queries,
/// and each gets exactly what SQLite (one query per read) answers: its image if that caller
/// may read it, else nothing.
#[tokio::test]
async fn concurrent_point_reads_coalesce_and_each_gets_its_own_answer() {
    let images = reading_fixture();
    let mut ids: Vec<ImageId> = images.iter().map(|i| i.id.clone()).collect();
    ids.push(ImageId::from_trusted(uuid::Uuid::new_v4().to_string()));

    let local = TestDb::sqlite();
    let sqlite = sqlite_catalog(&local.url, &PoolSettings::default()).await;
    for i in &images {
        assert!(sqlite.create_image(i).await.is_ok());
    }
    let expected = read_all_at_once(&sqlite, &ids).await;
    // The fixture tells the callers apart: tenant-a reads its own private image, not
    // tenant-b's; nobody but the admin reads the deleted one; nobody reads the missing one.
    assert_eq!(expected[1].as_ref(), Some(&ids[1]));
    assert_eq!(expected[ids.len() + 1].as_ref(), Some(&ids[1]));
    assert_eq!(expected[ids.len() + 2], None);
    assert_eq!(expected[3].as_ref(), Some(&ids[3]));
    assert_eq!(expected[ids.len() + 3], None);
    assert!(expected[ids.len() - 1].is_none());

    let pg = TestDb::postgres().await;
    let Ok(engine) = Postgres::connect(&pg.url, &PoolSettings::default()) else {
        panic!("store opens")
    };
    coalesced_reads_answer_as_sqlite(SqlCatalog::new(engine), &images, &ids, &expected).await;
    pg.drop_database().await;

    let my = TestDb::mysql().await;
    let Ok(engine) = MySql::connect(&my.url, &PoolSettings::default()) else {
        panic!("store opens")
    };
    coalesced_reads_answer_as_sqlite(SqlCatalog::new(engine), &images, &ids, &expected).await;
    my.drop_database().await;
}

async fn coalesced_reads_answer_as_sqlite<E: Engine>(
    store: SqlCatalog<E>,
    images: &[Image],
    ids: &[ImageId],
    expected: &[Option<ImageId>],
) {
    assert!(store.migrate().await.is_ok());
    for i in images {
        assert!(store.create_image(i).await.is_ok());
    }
    let before = store.coalesced_queries();
    let answers = read_all_at_once(&store, ids).await;
    assert_eq!(answers, expected, "{:?}", E::BACKEND);
    let queries = store.coalesced_queries() - before;
    assert!(
        queries * 3 <= answers.len() as u64,
        "{} reads took {queries} queries on {:?}",
        answers.len(),
        E::BACKEND
    );
    store.close().await;
}

/// The list scopes of both APIs, with and without a project.
fn every_list_scope() -> Vec<Visibility> {
    use crate::domain::MemberStatus;
    let p = || Some("p".to_owned());
    vec![
        Visibility::Everything,
        Visibility::NonPublic,
        Visibility::Visible { owner: None },
        Visibility::Visible { owner: p() },
        Visibility::PublicOwnShared { owner: None },
        Visibility::PublicOwnShared { owner: p() },
        Visibility::ListedFor {
            project: None,
            member_status: None,
            community: false,
        },
        Visibility::ListedFor {
            project: None,
            member_status: None,
            community: true,
        },
        Visibility::ListedFor {
            project: p(),
            member_status: Some(MemberStatus::Accepted),
            community: false,
        },
        Visibility::ListedFor {
            project: p(),
            member_status: None,
            community: true,
        },
        Visibility::AdminList {
            project: None,
            community: false,
        },
        Visibility::AdminList {
            project: p(),
            community: false,
        },
        Visibility::AdminList {
            project: None,
            community: true,
        },
    ]
}

/// For every scope (and with each `visibility` filter): the ids a list finds with and
/// without a property filter every image matches.
async fn lists_with_and_without_the_property<C: Catalog>(
    store: &C,
) -> Vec<(Vec<ImageId>, Vec<ImageId>)> {
    use crate::domain::ImageVisibility;
    let admin = Caller {
        is_admin: true,
        ..Caller::default()
    };
    let Ok(base) = ListQuery::parse(&[], &admin, PageLimits::default()) else {
        panic!("query parses")
    };
    let mut out = Vec::new();
    let filters = std::iter::once(None).chain(ImageVisibility::ALL.map(Some));
    for only in filters {
        for scope in every_list_scope() {
            let mut plain = base.clone();
            plain.visibility = scope;
            plain.filters.visibility = only;
            plain.limit = 100;
            let mut filtered = plain.clone();
            filtered.filters.properties = vec![("os".into(), "linux".into())];
            let ids = |r: Result<Vec<Image>, Error>| match r {
                Ok(v) => v.into_iter().map(|i| i.id).collect::<Vec<_>>(),
                Err(e) => panic!("list: {e}"),
            };
            out.push((
                ids(store.list_images(&plain, true).await),
                ids(store.list_images(&filtered, true).await),
            ));
        }
    }
    out
}

/// A page walking the sorted property index checks each entry's copy of its image's
/// visibility before reading the image: for every list scope and `visibility` filter it lists
/// exactly what the same list without the property filter lists, also after every image
/// changed its visibility.
#[tokio::test]
async fn a_property_filtered_page_lists_what_its_scope_admits() {
    use crate::domain::ImageVisibility;
    let db = TestDb::sqlite();
    let store = sqlite_catalog(&db.url, &PoolSettings::default()).await;
    let mut n = 0;
    for vis in ImageVisibility::ALL {
        for owner in [None, Some("p"), Some("q")] {
            let mut img = image(n, "linux");
            img.visibility = vis;
            img.owner = owner.map(str::to_owned);
            assert!(store.create_image(&img).await.is_ok());
            if vis == ImageVisibility::Shared && owner == Some("q") {
                assert!(store.upsert_member(&img.id, "p", None).await.is_ok());
                let accepted = store
                    .set_member_status(&img.id, "p", crate::domain::MemberStatus::Accepted)
                    .await;
                assert!(accepted.is_ok());
            }
            n += 1;
        }
    }
    for round in 0..2 {
        let lists = lists_with_and_without_the_property(&store).await;
        for (plain, filtered) in &lists {
            assert_eq!(plain, filtered, "round {round}");
        }
        // The scopes do tell the images apart.
        let sizes: std::collections::BTreeSet<usize> = lists.iter().map(|l| l.0.len()).collect();
        assert!(sizes.len() > 4, "{sizes:?}");
        // Every image moves on to the next visibility.
        let Ok(all) = store.list_images(&lists_query_everything(), false).await else {
            panic!("list everything")
        };
        for img in all {
            let next = |i: &Image| {
                let mut next = i.clone();
                let at = ImageVisibility::ALL.iter().position(|v| *v == i.visibility);
                next.visibility = ImageVisibility::ALL[(at.unwrap_or(0) + 1) % 4];
                Ok(next)
            };
            let moved = store
                .update_image(&img.id, &Visibility::Everything, next)
                .await;
            assert!(moved.is_ok(), "{moved:?}");
        }
    }
}

/// Every live image, for an admin.
fn lists_query_everything() -> ListQuery {
    let admin = Caller {
        is_admin: true,
        ..Caller::default()
    };
    let pairs = vec![("is_public".to_owned(), "none".to_owned())];
    let Ok(mut q) = ListQuery::parse(&pairs, &admin, PageLimits::default()) else {
        panic!("query parses")
    };
    q.limit = 100;
    q
}

/// The images a filter `property-<name>=<value>` lists, for an admin (any visibility).
async fn listed_by_property<C: Catalog>(store: &C, name: &str, value: &str) -> Vec<ImageId> {
    let mut q = lists_query_everything();
    q.filters.properties = vec![(name.into(), value.into())];
    match store.list_images(&q, false).await {
        Ok(v) => v.into_iter().map(|i| i.id).collect(),
        Err(e) => panic!("list: {e}"),
    }
}

/// An update rewrites only the property rows that changed (and the columns that changed):
/// afterwards every property filter finds the image by its new values only, and the image
/// reads back as written.
async fn an_update_leaves_the_property_rows_as_the_map<E: Engine>(store: SqlCatalog<E>) {
    assert!(store.migrate().await.is_ok());
    let mut img = image(0, "linux");
    img.properties.insert("kept".into(), "same".into());
    img.properties.insert("dropped".into(), "soon".into());
    assert!(store.create_image(&img).await.is_ok());
    let edit = |i: &Image| {
        let mut next = i.clone();
        next.properties.insert("os".into(), "bsd".into());
        next.properties.remove("dropped");
        next.properties.insert("added".into(), "new".into());
        next.min_ram = 512;
        next.version += 1;
        Ok(next)
    };
    let updated = store
        .update_image(&img.id, &Visibility::Everything, edit)
        .await;
    assert!(updated.is_ok(), "{updated:?}");
    let one = vec![img.id.clone()];
    for (name, value, found) in [
        ("os", "bsd", true),
        ("os", "linux", false),
        ("kept", "same", true),
        ("dropped", "soon", false),
        ("added", "new", true),
    ] {
        let listed = listed_by_property(&store, name, value).await;
        assert_eq!(
            listed == one,
            found,
            "{name}={value}: {listed:?} ({:?})",
            E::BACKEND
        );
    }
    let Ok(Some(shown)) = store.get_image(&img.id, &Visibility::Everything).await else {
        panic!("the image reads back")
    };
    let expected: Vec<(&str, &str)> = vec![("added", "new"), ("kept", "same"), ("os", "bsd")];
    let got: Vec<(&str, &str)> = shown
        .properties
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(got, expected);
    assert_eq!((shown.min_ram, shown.name.as_deref()), (512, Some("img-0")));
    store.close().await;
}

#[tokio::test]
async fn an_update_rewrites_only_the_changed_property_rows() {
    let local = TestDb::sqlite();
    an_update_leaves_the_property_rows_as_the_map(
        sqlite_catalog(&local.url, &PoolSettings::default()).await,
    )
    .await;
    let pg = TestDb::postgres().await;
    let Ok(engine) = Postgres::connect(&pg.url, &PoolSettings::default()) else {
        panic!("store opens")
    };
    an_update_leaves_the_property_rows_as_the_map(SqlCatalog::new(engine)).await;
    pg.drop_database().await;
    let my = TestDb::mysql().await;
    let Ok(engine) = MySql::connect(&my.url, &PoolSettings::default()) else {
        panic!("store opens")
    };
    an_update_leaves_the_property_rows_as_the_map(SqlCatalog::new(engine)).await;
    my.drop_database().await;
}
