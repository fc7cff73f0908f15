//! The migrations on a catalog that already holds images: a database created by an earlier
//! glimpse must come through an upgrade with every image's properties readable.

use super::engine::{mysql, postgres, sqlite};
use super::test_db::TestDb;
use super::{PoolSettings, SqlStore};
use crate::api::v1::list_params::ParseListQuery;
use crate::domain::query::{ListQuery, PageLimits, Visibility};
use crate::domain::{Caller, ImageId};
use crate::storage::Catalog;
use sqlx::Connection;
use sqlx::migrate::Migrator;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// The migrations of `all` before the one that added the property map.
fn before_property_map(all: &Migrator) -> Migrator {
    let Some(map) = all
        .migrations
        .iter()
        .find(|m| m.description.contains("image property map"))
    else {
        panic!("no property-map migration")
    };
    Migrator {
        migrations: Cow::Owned(
            all.migrations
                .iter()
                .filter(|m| m.version < map.version)
                .cloned()
                .collect(),
        ),
        ..Migrator::DEFAULT
    }
}

/// Rows as an earlier glimpse wrote them: two public images, one with properties (one of
/// them needing JSON escaping), one without.
const OLD_ROWS: &[&str] = &[
    "INSERT INTO images (id, name, status, is_public, created_at, updated_at) VALUES \
     ('00000000-0000-4000-8000-000000000001', 'with', 'active', TRUE, \
      '2026-01-02 03:04:05.000006', '2026-01-02 03:04:05.000006')",
    "INSERT INTO images (id, name, status, is_public, created_at, updated_at) VALUES \
     ('00000000-0000-4000-8000-000000000002', 'without', 'active', TRUE, \
      '2026-01-02 03:04:06.000006', '2026-01-02 03:04:06.000006')",
    "INSERT INTO image_properties (image_id, name, value) VALUES \
     ('00000000-0000-4000-8000-000000000001', 'os', 'linux'), \
     ('00000000-0000-4000-8000-000000000001', 'note', 'say \"hi\" to é, {x}: [1]')",
];

/// Applies the migrations before the property map and writes [`OLD_ROWS`] on a connection
/// of its own, as an earlier glimpse would have.
async fn old_catalog<C: Connection + sqlx::migrate::Migrate>(url: &str, all: &Migrator)
where
    for<'c> &'c mut C: sqlx::Executor<'c>,
{
    let Ok(mut conn) = C::connect(url).await else {
        panic!("the database opens: {url}")
    };
    let applied = before_property_map(all)
        .run_direct(None, &mut conn, false)
        .await;
    assert!(applied.is_ok(), "older migrations: {applied:?}");
    for sql in OLD_ROWS {
        let done = sqlx::raw_sql(*sql).execute(&mut conn).await.map(|_| ());
        assert!(done.is_ok(), "{sql}: {done:?}");
    }
    let _ = conn.close().await;
}

/// Upgrades a database holding [`OLD_ROWS`] and checks what a reader gets.
async fn upgrade_keeps_properties(url: &str) {
    let Ok(store) = SqlStore::connect(url, &PoolSettings::default()).await else {
        panic!("store opens: {url}")
    };
    let migrated = store.migrate().await;
    assert!(migrated.is_ok(), "upgrade: {migrated:?}");

    let with = ImageId::from_trusted("00000000-0000-4000-8000-000000000001".into());
    let without = ImageId::from_trusted("00000000-0000-4000-8000-000000000002".into());
    let expected: BTreeMap<String, String> = [
        ("os".to_owned(), "linux".to_owned()),
        ("note".to_owned(), "say \"hi\" to é, {x}: [1]".to_owned()),
    ]
    .into();
    let shown = store.get_image(&with, &Visibility::Everything).await;
    let Ok(Some(shown)) = shown else {
        panic!("image with properties readable: {shown:?}")
    };
    assert_eq!(shown.properties, expected);
    let shown = store.get_image(&without, &Visibility::Everything).await;
    let Ok(Some(shown)) = shown else {
        panic!("image without properties readable: {shown:?}")
    };
    assert!(shown.properties.is_empty());

    // A detail list filtered by a property finds the image through the property rows and
    // shows the properties from its map.
    let caller = Caller {
        is_admin: true,
        ..Caller::default()
    };
    let pairs = vec![("property-os".to_owned(), "linux".to_owned())];
    let Ok(query) = ListQuery::parse(&pairs, &caller, PageLimits::default()) else {
        panic!("query parses")
    };
    let listed = store.list_images(&query, true).await;
    let Ok(listed) = listed else {
        panic!("list: {listed:?}")
    };
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, with);
    assert_eq!(listed[0].properties, expected);
    store.close().await;
}

#[tokio::test]
async fn an_upgraded_sqlite_catalog_keeps_every_property() {
    let db = TestDb::sqlite();
    let url = format!("{}?mode=rwc", db.url);
    old_catalog::<sqlx::SqliteConnection>(&url, &sqlite::MIGRATIONS).await;
    upgrade_keeps_properties(&db.url).await;
}

#[tokio::test]
async fn an_upgraded_postgresql_catalog_keeps_every_property() {
    let db = TestDb::postgres().await;
    old_catalog::<sqlx::PgConnection>(&db.url, &postgres::MIGRATIONS).await;
    upgrade_keeps_properties(&db.url).await;
    db.drop_database().await;
}

#[tokio::test]
async fn an_upgraded_mysql_catalog_keeps_every_property() {
    let db = TestDb::mysql().await;
    old_catalog::<sqlx::MySqlConnection>(&db.url, &mysql::MIGRATIONS).await;
    upgrade_keeps_properties(&db.url).await;
    db.drop_database().await;
}
