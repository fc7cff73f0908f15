//! The code that runs statements, written once and stamped out for each backend's pool type
//! by `backend_ops!` (sqlx's drivers are distinct types; a macro keeps one copy of the logic
//! without a wall of generic bounds). [`SqlStore`] dispatches to the module of its backend.

use super::plan_hints::FrequentValues;
use super::rows::DecodeRow;
use super::statements as st;
use super::{Backend, Pools, SqlStore, is_retryable};
use crate::domain::member::{Membership, SharedImage};
use crate::domain::query::{ListQuery, Visibility};
use crate::domain::{Caller, Image, ImageId, Timestamp};
use crate::error::{Error, Result};
use crate::storage::{Edit, ImageStore};
use sea_query_sqlx::SqlxBinder;
use sqlx::{AssertSqlSafe, Row};
use std::time::Instant;

/// How many times a write transaction is retried after a deadlock, a serialization failure or
/// a concurrent change, before the caller gets a 409/503.
const WRITE_ATTEMPTS: usize = 8;

/// A property filter matching at most this many images drives the list query.
const SELECTIVE: u64 = 2000;

/// When to drive a list from a property filter's matches (cost ~ m lookups and a sort) rather
/// than walk the sort index checking each row (cost ~ 25·N/m rows for a page of 25): the two
/// meet near m = sqrt(25·N). Capped, so a page never costs more than ~SELECTIVE lookups.
fn selective_threshold(catalog_size: u64) -> u64 {
    if catalog_size == 0 {
        return SELECTIVE;
    }
    ((25.0 * catalog_size as f64).sqrt() as u64).clamp(50, SELECTIVE)
}

/// A failed attempt: a database error (maybe retryable) or a rule the edit refused.
enum Fail {
    Db(sqlx::Error),
    Rule(Error),
    /// The row changed between our read and our write: read again.
    Raced,
}

impl From<sqlx::Error> for Fail {
    fn from(e: sqlx::Error) -> Self {
        Fail::Db(e)
    }
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail::Rule(e)
    }
}

/// Runs `attempt` until it succeeds, fails for good, or runs out of tries.
async fn retry<T, F, Fut>(mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Fail>>,
{
    for n in 0..WRITE_ATTEMPTS {
        match attempt().await {
            Ok(v) => return Ok(v),
            Err(Fail::Rule(e)) => return Err(e),
            Err(Fail::Db(e)) if is_retryable(&e) && n + 1 < WRITE_ATTEMPTS => {
                tracing::debug!(error = %e, attempt = n, "retrying write transaction");
            }
            Err(Fail::Db(e)) => return Err(e.into()),
            Err(Fail::Raced) => {}
        }
        tokio::time::sleep(std::time::Duration::from_millis(2 << n.min(6))).await;
    }
    Err(Error::Conflict(
        "The image is being changed by others right now; retry the request".into(),
    ))
}

/// How a statement is planned. This matters on PostgreSQL only: after five executions of a
/// prepared statement it may settle on one generic plan for all parameter values.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Planning {
    /// Prepared once per connection; a generic plan is welcome. For statements whose best
    /// plan is the same for every value (lookups by id, by member): planning a point read
    /// each time cost more than executing it (PostgreSQL `show` 6,600 → 10,400 req/s).
    Cached,
    /// Planned for its own values at every execution (on PostgreSQL an unnamed statement,
    /// one extra round trip). For list queries: a generic plan for a property filter starts
    /// from the property index and sorts every match, 2 ms for a rare value and 2.5 s for
    /// one that 30 % of a million images carry.
    PerValues,
}

/// The answer to a marker that names no image the caller could page through.
pub(super) fn invalid_marker() -> Error {
    Error::bad_request("Invalid marker: no image with that id is visible to you")
}

macro_rules! backend_ops {
    ($module:ident, $db:ty, $qb:expr, $backend:expr, $begin_write:expr) => {
        pub(super) mod $module {
            use super::*;

            type Pool = sqlx::Pool<$db>;
            type Conn = <$db as sqlx::Database>::Connection;
            const B: Backend = $backend;

            macro_rules! q {
                ($stmt:expr) => {{
                    let (sql, values) = $stmt.build_sqlx($qb);
                    sqlx::query_with(AssertSqlSafe(sql), values)
                }};
                ($stmt:expr, $planning:expr) => {{
                    q!($stmt).persistent(B != Backend::Postgres || $planning == Planning::Cached)
                }};
            }

            /// Images of a SELECT, their properties from each row's property map: one query.
            async fn fetch_images(
                conn: &mut Conn,
                stmt: &sea_query::SelectStatement,
                planning: Planning,
                with_properties: bool,
            ) -> Result<Vec<Image>, sqlx::Error> {
                let rows = q!(stmt, planning).fetch_all(&mut *conn).await?;
                rows.iter().map(|r| r.image(with_properties)).collect()
            }

            /// Reads the image for a write. PostgreSQL and MySQL lock the row (FOR UPDATE) so
            /// concurrent writers queue instead of racing and retrying; SQLite's BEGIN
            /// IMMEDIATE already holds the database's write lock.
            async fn fetch_for_write(
                conn: &mut Conn,
                id: &ImageId,
                vis: &Visibility,
            ) -> Result<Option<Image>, sqlx::Error> {
                let mut stmt = st::select_image(id, vis);
                if B != Backend::Sqlite {
                    stmt.lock(sea_query::LockType::Update);
                }
                let mut v = fetch_images(conn, &stmt, Planning::Cached, true).await?;
                Ok(v.pop())
            }

            /// Probes each property filter in the property index, reading at most
            /// [`SELECTIVE`] + 1 entries: a filter with at most [`SELECTIVE`] matches drives
            /// the query from those matches, a more frequent one is checked while walking the
            /// sort index (where a page fills quickly). Either way a page costs about
            /// O(SELECTIVE), whatever the catalog size. `None`: some filter matches nothing.
            /// A value recently found frequent is not probed again (see [`FrequentValues`]).
            async fn probe_selectivity(
                conn: &mut Conn,
                query: &ListQuery,
                selective: u64,
                frequent: &FrequentValues,
            ) -> Result<Option<Vec<bool>>, sqlx::Error> {
                let mut flags = Vec::with_capacity(query.filters.properties.len());
                for (name, value) in &query.filters.properties {
                    if frequent.is_frequent(name, value) {
                        flags.push(false);
                        continue;
                    }
                    let n = q!(st::probe_property(B, name, value, selective + 1))
                        .fetch_all(&mut *conn)
                        .await?
                        .len() as u64;
                    let Some(flag) = frequent.verdict(name, value, n, selective) else {
                        return Ok(None);
                    };
                    flags.push(flag);
                }
                Ok(Some(flags))
            }

            async fn write_properties(conn: &mut Conn, image: &Image) -> Result<(), sqlx::Error> {
                q!(st::delete_properties(&image.id))
                    .execute(&mut *conn)
                    .await?;
                if let Some(ins) = st::insert_properties(&image.id, &image.properties) {
                    q!(ins).execute(&mut *conn).await?;
                }
                Ok(())
            }

            pub async fn ping(pool: &Pool, _wpool: &Pool) -> Result<()> {
                sqlx::query("SELECT 1").execute(pool).await?;
                Ok(())
            }

            pub async fn create_image(_pool: &Pool, wpool: &Pool, image: &Image) -> Result<()> {
                retry(|| async {
                    let mut tx = wpool.begin_with($begin_write).await?;
                    q!(st::insert_image(B, image)?).execute(&mut *tx).await?;
                    if let Some(ins) = st::insert_properties(&image.id, &image.properties) {
                        q!(ins).execute(&mut *tx).await?;
                    }
                    tx.commit().await?;
                    Ok(())
                })
                .await
            }

            pub async fn get_image(
                pool: &Pool,
                _wpool: &Pool,
                id: &ImageId,
                vis: &Visibility,
            ) -> Result<Option<Image>> {
                let mut conn = pool.acquire().await?;
                let stmt = st::select_image(id, vis);
                Ok(fetch_images(&mut conn, &stmt, Planning::Cached, true)
                    .await?
                    .pop())
            }

            pub async fn list_images(
                pool: &Pool,
                _wpool: &Pool,
                query: &ListQuery,
                with_properties: bool,
                selective: u64,
                frequent: &FrequentValues,
            ) -> Result<Vec<Image>> {
                let mut conn = pool.acquire().await?;
                let marker = match &query.marker {
                    None => None,
                    Some(m) => {
                        let sel = st::select_marker(m, query);
                        let found = fetch_images(&mut conn, &sel, Planning::Cached, false)
                            .await?
                            .pop();
                        Some(found.ok_or_else(invalid_marker)?)
                    }
                };
                if query.limit == 0 {
                    return Ok(Vec::new());
                }
                let Some(selective) =
                    probe_selectivity(&mut conn, query, selective, frequent).await?
                else {
                    return Ok(Vec::new());
                };
                Ok(fetch_images(
                    &mut conn,
                    &st::list_images(B, query, marker.as_ref(), &selective),
                    Planning::PerValues,
                    with_properties,
                )
                .await?)
            }

            pub async fn update_image<E: Edit>(
                _pool: &Pool,
                wpool: &Pool,
                id: &ImageId,
                vis: &Visibility,
                edit: E,
            ) -> Result<Image> {
                retry(|| async {
                    let mut tx = wpool.begin_with($begin_write).await?;
                    let current = fetch_for_write(&mut tx, id, vis)
                        .await?
                        .ok_or_else(Error::image_not_found)?;
                    let next = edit(&current)?;
                    let done = q!(st::update_image(B, &next, current.version)?)
                        .execute(&mut *tx)
                        .await?;
                    if done.rows_affected() != 1 {
                        return Err(Fail::Raced);
                    }
                    if next.properties != current.properties {
                        write_properties(&mut tx, &next).await?;
                    }
                    tx.commit().await?;
                    Ok(next)
                })
                .await
            }

            pub async fn delete_image<E: Edit>(
                _pool: &Pool,
                wpool: &Pool,
                id: &ImageId,
                vis: &Visibility,
                check: E,
            ) -> Result<Image> {
                retry(|| async {
                    let mut tx = wpool.begin_with($begin_write).await?;
                    let current = fetch_for_write(&mut tx, id, vis)
                        .await?
                        .ok_or_else(Error::image_not_found)?;
                    let mut next = check(&current)?;
                    next.properties.clear();
                    let done = q!(st::update_image(B, &next, current.version)?)
                        .execute(&mut *tx)
                        .await?;
                    if done.rows_affected() != 1 {
                        return Err(Fail::Raced);
                    }
                    q!(st::delete_properties(id)).execute(&mut *tx).await?;
                    q!(st::delete_members(id, None)).execute(&mut *tx).await?;
                    tx.commit().await?;
                    Ok(next)
                })
                .await
            }

            pub async fn list_members(
                pool: &Pool,
                _wpool: &Pool,
                id: &ImageId,
                only: Option<&str>,
            ) -> Result<Vec<Membership>> {
                let rows = q!(st::select_members(id, only)).fetch_all(pool).await?;
                Ok(rows
                    .iter()
                    .map(|r| r.membership())
                    .collect::<Result<_, _>>()?)
            }

            pub async fn upsert_member(
                _pool: &Pool,
                wpool: &Pool,
                id: &ImageId,
                member: &str,
                can_share: Option<bool>,
            ) -> Result<()> {
                retry(|| async {
                    let now = Timestamp::now();
                    let mut tx = wpool.begin_with($begin_write).await?;
                    // The image row first, then memberships: the lock order of image updates.
                    q!(st::touch_image(B, id, now)).execute(&mut *tx).await?;
                    q!(st::upsert_member(B, id, member, can_share, now))
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok(())
                })
                .await
            }

            pub async fn remove_member(
                _pool: &Pool,
                wpool: &Pool,
                id: &ImageId,
                member: &str,
            ) -> Result<bool> {
                retry(|| async {
                    let mut tx = wpool.begin_with($begin_write).await?;
                    q!(st::touch_image(B, id, Timestamp::now()))
                        .execute(&mut *tx)
                        .await?;
                    let gone = q!(st::delete_members(id, Some(member)))
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if gone == 0 {
                        // Nothing changed: leave the version alone.
                        tx.rollback().await?;
                        return Ok(false);
                    }
                    tx.commit().await?;
                    Ok(true)
                })
                .await
            }

            pub async fn replace_members(
                _pool: &Pool,
                wpool: &Pool,
                id: &ImageId,
                members: &[Membership],
            ) -> Result<()> {
                retry(|| async {
                    let now = Timestamp::now();
                    let mut tx = wpool.begin_with($begin_write).await?;
                    q!(st::touch_image(B, id, now)).execute(&mut *tx).await?;
                    let existing: Vec<Membership> = q!(st::select_members(id, None))
                        .fetch_all(&mut *tx)
                        .await?
                        .iter()
                        .map(|r| r.membership())
                        .collect::<Result<_, _>>()?;
                    for old in &existing {
                        if !members.iter().any(|m| m.member_id == old.member_id) {
                            q!(st::delete_members(id, Some(&old.member_id)))
                                .execute(&mut *tx)
                                .await?;
                        }
                    }
                    for m in members {
                        q!(st::upsert_member(
                            B,
                            id,
                            &m.member_id,
                            Some(m.can_share),
                            now
                        ))
                        .execute(&mut *tx)
                        .await?;
                    }
                    tx.commit().await?;
                    Ok(())
                })
                .await
            }

            pub async fn image_counts(pool: &Pool, _wpool: &Pool) -> Result<Vec<(String, i64)>> {
                let rows = q!(st::count_by_status()).fetch_all(pool).await?;
                let mut out = Vec::with_capacity(rows.len());
                for r in rows {
                    out.push((r.try_get::<String, _>("status")?, r.try_get::<i64, _>("n")?));
                }
                Ok(out)
            }

            pub async fn shared_images(
                pool: &Pool,
                _wpool: &Pool,
                member: &str,
                caller: &Caller,
            ) -> Result<Vec<SharedImage>> {
                let stmt = st::select_shared(member, caller.owner.as_deref(), caller.is_admin);
                let rows = q!(stmt).fetch_all(pool).await?;
                Ok(rows.iter().map(|r| r.shared()).collect::<Result<_, _>>()?)
            }
        }
    };
}

// SQLite takes the write lock when the transaction starts (BEGIN IMMEDIATE): a deferred
// transaction that reads and then writes fails outright if another writer got there first.
backend_ops!(
    sqlite,
    sqlx::Sqlite,
    sea_query::SqliteQueryBuilder,
    Backend::Sqlite,
    "BEGIN IMMEDIATE"
);
backend_ops!(
    postgres,
    sqlx::Postgres,
    sea_query::PostgresQueryBuilder,
    Backend::Postgres,
    "BEGIN"
);
backend_ops!(
    mysql,
    sqlx::MySql,
    sea_query::MysqlQueryBuilder,
    Backend::MySql,
    "BEGIN"
);

/// Calls the same operation on whichever backend this store runs.
/// Timed: every operation's latency goes to the `glimpse_db_operation_duration_seconds`
/// histogram.
macro_rules! dispatch {
    ($self:ident, $op:ident ( $($arg:expr),* )) => {{
        timed(stringify!($op), async {
            match &$self.pools {
                Pools::Sqlite { read, write, .. } => sqlite::$op(read, write, $($arg),*).await,
                Pools::Postgres(p) => postgres::$op(p, p, $($arg),*).await,
                Pools::MySql(p) => mysql::$op(p, p, $($arg),*).await,
            }
        })
        .await
    }};
}

/// Runs one store operation counted in the in-flight gauge and timed into the
/// `glimpse_db_operation_duration_seconds` histogram under `op`.
async fn timed<T>(op: &'static str, work: impl std::future::Future<Output = T>) -> T {
    let started = Instant::now();
    let _in_flight = crate::metrics::db_op_started();
    let result = work.await;
    crate::metrics::record_db(op, started.elapsed());
    result
}

impl ImageStore for SqlStore {
    async fn ping(&self) -> Result<()> {
        dispatch!(self, ping())
    }

    async fn create_image(&self, image: &Image) -> Result<()> {
        dispatch!(self, create_image(image))
    }

    async fn get_image(&self, id: &ImageId, vis: &Visibility) -> Result<Option<Image>> {
        // SQLite point reads run in place (see `sqlite_point`), counted like every other op.
        if let Pools::Sqlite {
            point: Some(point), ..
        } = &self.pools
        {
            return timed("get_image", async { point.get_image(id, vis) }).await;
        }
        dispatch!(self, get_image(id, vis))
    }

    async fn list_images(&self, query: &ListQuery, with_properties: bool) -> Result<Vec<Image>> {
        let selective =
            selective_threshold(self.catalog_size.load(std::sync::atomic::Ordering::Relaxed));
        // SQLite lists run on a list thread (see `sqlite_list`), counted like every other op.
        if let Pools::Sqlite {
            list: Some(list), ..
        } = &self.pools
        {
            let listed = list.list_images(query, with_properties, selective, &self.frequent);
            return timed("list_images", listed).await;
        }
        dispatch!(
            self,
            list_images(query, with_properties, selective, &self.frequent)
        )
    }

    async fn update_image<E: Edit>(
        &self,
        id: &ImageId,
        vis: &Visibility,
        edit: E,
    ) -> Result<Image> {
        dispatch!(self, update_image(id, vis, edit))
    }

    async fn delete_image<E: Edit>(
        &self,
        id: &ImageId,
        vis: &Visibility,
        check: E,
    ) -> Result<Image> {
        dispatch!(self, delete_image(id, vis, check))
    }

    async fn list_members(
        &self,
        id: &ImageId,
        only_member: Option<&str>,
    ) -> Result<Vec<Membership>> {
        dispatch!(self, list_members(id, only_member))
    }

    async fn upsert_member(
        &self,
        id: &ImageId,
        member: &str,
        can_share: Option<bool>,
    ) -> Result<()> {
        dispatch!(self, upsert_member(id, member, can_share))
    }

    async fn remove_member(&self, id: &ImageId, member: &str) -> Result<bool> {
        dispatch!(self, remove_member(id, member))
    }

    async fn replace_members(&self, id: &ImageId, members: &[Membership]) -> Result<()> {
        dispatch!(self, replace_members(id, members))
    }

    async fn image_counts(&self) -> Result<Vec<(String, i64)>> {
        dispatch!(self, image_counts())
    }

    fn pool_stats(&self) -> (u32, usize, u32) {
        SqlStore::pool_stats(self)
    }

    async fn shared_images(&self, member: &str, caller: &Caller) -> Result<Vec<SharedImage>> {
        dispatch!(self, shared_images(member, caller))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::api::v1::list_params::ParseListQuery;
    use crate::domain::Caller;
    use crate::domain::query::PageLimits;
    use crate::domain::status::Status;

    /// A public image numbered `n` with one property, `os`.
    pub(in crate::storage::sql) fn image(n: usize, os: &str) -> Image {
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
            is_public: true,
            protected: false,
            owner: None,
            location: None,
            created_at: now,
            updated_at: now,
            deleted_at: None,
            deleted: false,
            properties: [("os".to_owned(), os.to_owned())].into(),
            version: 1,
        }
    }

    /// The plan hint only picks a plan: a value remembered as frequent that is in fact rare
    /// (or absent) lists exactly what the probe would have found.
    #[tokio::test]
    async fn a_stale_frequent_verdict_changes_the_plan_not_the_result() {
        let dir = tempfile::tempdir().map_err(|e| e.to_string());
        let Ok(dir) = dir else { panic!("tempdir") };
        let url = format!("sqlite://{}", dir.path().join("hints.db").display());
        let store = SqlStore::connect(&url, &super::super::PoolSettings::default()).await;
        let Ok(store) = store else {
            panic!("store opens")
        };
        assert!(store.migrate().await.is_ok());
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
    /// it each time cost more than running it), while a list query is planned for its own
    /// filter values every time: it never becomes a cached statement that could switch to a
    /// generic plan (one that sorts every image carrying a frequent property value). And no
    /// parallel query on glimpse's connections.
    #[tokio::test]
    async fn postgresql_plans_list_queries_for_their_values_and_reuses_point_reads() {
        use sqlx::{Connection, Row};
        const ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";
        let name = format!("glimpse_u_{}", uuid::Uuid::new_v4().simple());
        let admin = |sql: String| async move {
            let Ok(mut c) = sqlx::PgConnection::connect(ADMIN).await else {
                panic!("PostgreSQL must be running on 127.0.0.1:5432 for this test")
            };
            assert!(
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut c)
                    .await
                    .is_ok()
            );
        };
        admin(format!("CREATE DATABASE {name}")).await;
        let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
        let one = super::super::PoolSettings {
            max_connections: 1,
            ..Default::default()
        };
        let Ok(store) = SqlStore::connect(&url, &one).await else {
            panic!("store opens")
        };
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
        for _ in 0..8 {
            let listed = store.list_images(&q, true).await.map(|v| v.len());
            assert_eq!(listed.ok(), Some(3));
            let shown = store.get_image(&ids[0], &Visibility::Everything).await;
            assert!(matches!(shown, Ok(Some(ref i)) if i.id == ids[0]));
        }
        let super::super::Pools::Postgres(pool) = &store.pools else {
            panic!("a PostgreSQL store")
        };
        let Ok(rows) = sqlx::query(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements",
        )
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
        assert!(lists.is_empty(), "list statements kept prepared: {lists:?}");
        // The point read: the image row by id (no list, no write).
        let point = stats.iter().find(|s| {
            s.0.starts_with("SELECT")
                && s.0.contains(r#""images"."id" = $1"#)
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
        admin(format!("DROP DATABASE {name} WITH (FORCE)")).await;
    }

    /// The running server's statistics refresh analyzes a table without statistics, leaves
    /// fresh statistics alone (a full `ANALYZE` reads the whole file), and analyzes again
    /// once the table has grown tenfold.
    #[tokio::test]
    async fn the_periodic_statistics_refresh_analyzes_only_what_is_stale() {
        let Ok(dir) = tempfile::tempdir() else {
            panic!("tempdir")
        };
        let url = format!("sqlite://{}", dir.path().join("stats.db").display());
        let Ok(store) = SqlStore::connect(&url, &super::super::PoolSettings::default()).await
        else {
            panic!("store opens")
        };
        assert!(store.migrate().await.is_ok());
        let rows_in_stats = || async {
            let super::super::Pools::Sqlite { write, .. } = &store.pools else {
                panic!("a SQLite store")
            };
            let stat: Option<String> = sqlx::query_scalar(
                "SELECT stat FROM sqlite_stat1 WHERE idx = 'sqlite_autoindex_images_1'",
            )
            .fetch_optional(write)
            .await
            .unwrap_or(None);
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
}
