//! Single-image reads on SQLite without a thread hop.
//!
//! sqlx-sqlite runs every connection on a worker thread of its own and hands each command and
//! each result row across a channel; for a primary-key read that answers from the page cache
//! in microseconds, those hand-offs (futex wake-ups, context switches) were most of the cost
//! of `GET /images/<id>`: under load 40 % of the server's CPU went to the worker threads,
//! half of it in the kernel. A point read is short and bounded, so it runs right here, on the
//! calling thread, over a small set of rusqlite connections (one per runtime worker thread,
//! so a reader never waits for another). Lists, which can scan, run on list threads
//! ([`super::sqlite_list`]).
//!
//! The statement is the same sea-query statement the other backends run
//! ([`statements::select_image`]: one image row, properties included), rendered for SQLite.

use super::rows::{ImageColumns, decode_image};
use super::statements;
use crate::domain::query::Visibility;
use crate::domain::{Image, ImageId, Timestamp};
use crate::error::{Error, Result};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OpenFlags, Row};
use sea_query::{SqliteQueryBuilder, Value};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, TryLockError};
use std::time::Duration;

/// Read connections for point reads.
pub struct PointReader {
    conns: Box<[Mutex<Connection>]>,
    next: AtomicUsize,
    /// The point-read statement per visibility shape, rendered on first use.
    templates: [OnceLock<Template>; SHAPES],
}

/// The statement of a point read, rendered once per visibility shape: building it with
/// sea-query on every request was 5 % of a point read. It is still built by
/// [`statements::select_image`], like every other backend's, so the query logic
/// stays in one place; only the SQL text and the places of its parameters are kept.
#[derive(Debug)]
struct Template {
    sql: String,
    params: Vec<Param>,
}

/// What goes into each placeholder of a [`Template`].
#[derive(Debug)]
enum Param {
    Id,
    Owner,
    Fixed(SqlValue),
}

/// Stand-ins for the request's values while a template is rendered; a parameter that renders
/// as one of them is filled from the request.
const ID_STANDIN: &str = "\u{0}point-read-id";
const OWNER_STANDIN: &str = "\u{0}point-read-owner";

/// The visibility shapes a point read can have: each variant, with and without an owner.
const SHAPES: usize = 6;

fn shape(vis: &Visibility) -> usize {
    match vis {
        Visibility::Everything => 0,
        Visibility::NonPublic => 1,
        Visibility::Visible { owner: None } => 2,
        Visibility::Visible { owner: Some(_) } => 3,
        Visibility::PublicOwnShared { owner: None } => 4,
        Visibility::PublicOwnShared { owner: Some(_) } => 5,
    }
}

fn owner(vis: &Visibility) -> Option<&str> {
    match vis {
        Visibility::Visible { owner } | Visibility::PublicOwnShared { owner } => owner.as_deref(),
        Visibility::Everything | Visibility::NonPublic => None,
    }
}

impl Template {
    /// Renders the statement for `vis`'s shape, with stand-ins for the id and the owner.
    fn render(vis: &Visibility) -> Result<Self> {
        let standin = match vis {
            Visibility::Visible { owner: Some(_) } => Visibility::Visible {
                owner: Some(OWNER_STANDIN.into()),
            },
            Visibility::PublicOwnShared { owner: Some(_) } => Visibility::PublicOwnShared {
                owner: Some(OWNER_STANDIN.into()),
            },
            other => other.clone(),
        };
        let id = ImageId::from_trusted(ID_STANDIN.into());
        let (sql, values) = statements::select_image(&id, &standin).build(SqliteQueryBuilder);
        let params = values
            .into_iter()
            .map(|v| match v {
                Value::String(Some(s)) if s == ID_STANDIN => Ok(Param::Id),
                Value::String(Some(s)) if s == OWNER_STANDIN => Ok(Param::Owner),
                other => sql_value(other).map(Param::Fixed),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Template { sql, params })
    }

    /// The parameters of a read of `id` as `vis`, in placeholder order.
    fn bind(&self, id: &ImageId, vis: &Visibility) -> Vec<SqlValue> {
        self.params
            .iter()
            .map(|p| match p {
                Param::Id => SqlValue::Text(id.as_str().to_owned()),
                Param::Owner => owner(vis).map_or(SqlValue::Null, |o| SqlValue::Text(o.into())),
                Param::Fixed(v) => v.clone(),
            })
            .collect()
    }
}

impl std::fmt::Debug for PointReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PointReader")
            .field("connections", &self.conns.len())
            .finish()
    }
}

pub(super) fn db_err(e: rusqlite::Error) -> Error {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            Error::Unavailable("the database is busy; try again".into())
        }
        _ => Error::Internal(format!("sqlite read: {e}")),
    }
}

/// A connection to the (existing) database file at `path` that only reads: `query_only`
/// makes SQLite refuse any write through it.
pub(super) fn open_reader(path: &Path, busy_timeout: Duration) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )
    .map_err(db_err)?;
    conn.pragma_update(None, "query_only", true)
        .map_err(db_err)?;
    conn.busy_timeout(busy_timeout).map_err(db_err)?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

impl PointReader {
    /// Opens `n` read-only connections to the (existing) database file at `path`.
    pub fn open(path: &Path, n: usize) -> Result<Self> {
        // Readers in WAL mode wait only in rare moments (WAL recovery); never long, since
        // this runs on a runtime thread.
        let conns = (0..n.max(1))
            .map(|_| open_reader(path, Duration::from_millis(250)).map(Mutex::new))
            .collect::<Result<Vec<_>>>()?;
        Ok(PointReader {
            conns: conns.into_boxed_slice(),
            next: AtomicUsize::new(0),
            templates: Default::default(),
        })
    }

    fn template(&self, vis: &Visibility) -> Result<&Template> {
        let slot = &self.templates[shape(vis)];
        if let Some(t) = slot.get() {
            return Ok(t);
        }
        let t = Template::render(vis)?;
        Ok(slot.get_or_init(|| t))
    }

    /// A free connection if there is one, else waits for one (only when more threads than
    /// connections read at once).
    fn conn(&self) -> MutexGuard<'_, Connection> {
        let n = self.conns.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for k in 0..n {
            match self.conns[(start + k) % n].try_lock() {
                Ok(g) => return g,
                // A reader that panicked leaves a consistent connection (SQLite rolls back).
                Err(TryLockError::Poisoned(p)) => return p.into_inner(),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        self.conns[start % n]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// One image (if visible) with its properties: one row.
    pub fn get_image(&self, id: &ImageId, vis: &Visibility) -> Result<Option<Image>> {
        let template = self.template(vis)?;
        let params = template.bind(id, vis);
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&template.sql).map_err(db_err)?;
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params))
            .map_err(db_err)?;
        match rows.next().map_err(db_err)? {
            Some(row) => Ok(Some(decode_image(row, true).map_err(db_err)?)),
            None => Ok(None),
        }
    }
}

/// A sea-query value as rusqlite binds it (the kinds the registry's statements use).
pub(super) fn sql_value(v: Value) -> Result<SqlValue> {
    let int = |x: Option<i64>| x.map_or(SqlValue::Null, SqlValue::Integer);
    Ok(match v {
        Value::Bool(b) => int(b.map(i64::from)),
        Value::TinyInt(x) => int(x.map(i64::from)),
        Value::SmallInt(x) => int(x.map(i64::from)),
        Value::Int(x) => int(x.map(i64::from)),
        Value::BigInt(x) => int(x),
        Value::TinyUnsigned(x) => int(x.map(i64::from)),
        Value::SmallUnsigned(x) => int(x.map(i64::from)),
        Value::Unsigned(x) => int(x.map(i64::from)),
        Value::BigUnsigned(x) => match x.map(i64::try_from).transpose() {
            Ok(x) => int(x),
            Err(_) => return Err(Error::Internal("sqlite read: integer out of range".into())),
        },
        Value::String(s) => s.map_or(SqlValue::Null, SqlValue::Text),
        other => {
            return Err(Error::Internal(format!(
                "sqlite read: cannot bind {other:?}"
            )));
        }
    })
}

/// Point reads decode with the same mapping as every other read, by column position.
impl ImageColumns for Row<'_> {
    type Error = rusqlite::Error;

    fn string(&self, c: usize) -> rusqlite::Result<Option<String>> {
        self.get(c)
    }

    fn int(&self, c: usize) -> rusqlite::Result<Option<i64>> {
        self.get(c)
    }

    fn flag(&self, c: usize) -> rusqlite::Result<bool> {
        self.get(c)
    }

    fn timestamp(&self, c: usize) -> rusqlite::Result<Option<Timestamp>> {
        let s: Option<String> = self.get(c)?;
        s.map(|s| Timestamp::from_sql_text(&s).map_err(|e| self.invalid(c, e)))
            .transpose()
    }

    fn invalid(&self, c: usize, e: Error) -> rusqlite::Error {
        rusqlite::Error::FromSqlConversionFailure(c, rusqlite::types::Type::Text, Box::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bundled SQLite is built without `SQLITE_ENABLE_MEMORY_MANAGEMENT` (set in
    /// `.cargo/config.toml`): with it, every connection's page cache sits behind one global
    /// mutex that the concurrent readers fought over.
    #[test]
    fn sqlite_is_built_with_a_private_page_cache_per_connection() {
        let Ok(conn) = Connection::open_in_memory() else {
            panic!("in-memory SQLite")
        };
        let Ok(mut stmt) = conn.prepare("PRAGMA compile_options") else {
            panic!("compile_options")
        };
        let options: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .map(|rows| rows.filter_map(|r| r.ok()).collect())
            .unwrap_or_default();
        assert!(
            options.iter().any(|o| o.starts_with("THREADSAFE")),
            "{options:?}"
        );
        assert!(
            !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "{options:?}"
        );
    }

    /// A template filled in for a request must be exactly the statement sea-query builds for
    /// that request, for every visibility shape.
    #[test]
    fn a_filled_template_is_the_statement_built_for_the_request() {
        let id = ImageId::from_trusted("4b1c2a4e-9a0e-4b7a-8d0e-2f1f5a1e2b3c".into());
        let owner = Some("tenant-a".to_string());
        let cases = [
            Visibility::Everything,
            Visibility::NonPublic,
            Visibility::Visible { owner: None },
            Visibility::Visible {
                owner: owner.clone(),
            },
            Visibility::PublicOwnShared { owner: None },
            Visibility::PublicOwnShared { owner },
        ];
        let mut seen = std::collections::HashSet::new();
        for vis in &cases {
            assert!(seen.insert(shape(vis)), "two cases share a shape: {vis:?}");
            let t = Template::render(vis).unwrap();
            let (sql, values) = statements::select_image(&id, vis).build(SqliteQueryBuilder);
            let expected: Vec<SqlValue> =
                values.into_iter().map(|v| sql_value(v).unwrap()).collect();
            assert_eq!(t.sql, sql, "{vis:?}");
            assert_eq!(t.bind(&id, vis), expected, "{vis:?}");
        }
    }
}
