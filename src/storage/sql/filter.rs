//! The list query compiled to SQL conditions, in one place for every backend: visibility,
//! deleted scope, filters, the keyset predicate and the order.

use super::Backend;
use super::schema::*;
use crate::domain::Image;
use crate::domain::query::{
    Comparison, DeletedScope, Filters, IntColumn, ListQuery, SortDir, SortKey, TextColumn,
    TimeColumn, Visibility,
};
use crate::domain::status::Status;
use crate::domain::{ImageVisibility, MemberStatus};
use sea_query::{
    Cond, Condition, Expr, ExprTrait, NullOrdering, Order, Query, SelectStatement, Value,
};

fn col(c: &'static str) -> Expr {
    Expr::col((IMAGES, c))
}

/// `EXISTS (a membership of this image for project [with this status])`.
fn member_of(project: &str, status: Option<MemberStatus>) -> Expr {
    let mut sub = Query::select();
    sub.expr(Expr::cust("1"))
        .from(MEMBERS)
        .and_where(Expr::col((MEMBERS, IMAGE_ID)).equals((IMAGES, ID)))
        .and_where(Expr::col((MEMBERS, MEMBER)).eq(project))
        .and_where(Expr::col((MEMBERS, DELETED)).eq(false));
    if let Some(st) = status {
        sub.and_where(Expr::col((MEMBERS, STATUS)).eq(st.as_str()));
    }
    Expr::exists(sub.to_owned())
}

fn is(v: ImageVisibility) -> Expr {
    col(VISIBILITY).eq(v.as_str())
}

/// A shared image this project is a member of: members of images of any other visibility
/// are dormant.
fn shared_with(project: &str, status: Option<MemberStatus>) -> Condition {
    Cond::all()
        .add(is(ImageVisibility::Shared))
        .add(member_of(project, status))
}

/// Who may see which rows. Non-admins also never see deleted rows except through
/// `changes-since` (handled by [`deleted_scope`]).
pub fn visibility(vis: &Visibility) -> Option<Condition> {
    match vis {
        Visibility::Everything => None,
        Visibility::NonPublic => Some(Cond::all().add(col(VISIBILITY).ne("public"))),
        Visibility::Visible { owner } => {
            let mut c = Cond::any()
                .add(is(ImageVisibility::Public))
                .add(col(OWNER).is_null());
            if let Some(o) = owner {
                c = c.add(col(OWNER).eq(o.as_str())).add(shared_with(o, None));
            }
            Some(c)
        }
        Visibility::PublicOwnShared { owner } => {
            let mut c = Cond::any().add(is(ImageVisibility::Public));
            if let Some(o) = owner {
                c = c.add(col(OWNER).eq(o.as_str())).add(shared_with(o, None));
            }
            Some(c)
        }
        Visibility::Readable { project } => {
            let mut c = Cond::any()
                .add(is(ImageVisibility::Public))
                .add(is(ImageVisibility::Community))
                .add(col(OWNER).is_null());
            if let Some(p) = project {
                c = c.add(col(OWNER).eq(p.as_str())).add(shared_with(p, None));
            }
            Some(c)
        }
        Visibility::ListedFor {
            project,
            member_status,
            community,
        } => {
            let mut c = Cond::any().add(is(ImageVisibility::Public));
            if *community {
                c = c.add(is(ImageVisibility::Community));
            }
            if let Some(p) = project {
                c = c
                    .add(col(OWNER).eq(p.as_str()))
                    .add(shared_with(p, *member_status));
            }
            Some(c)
        }
        Visibility::AdminList {
            community: true, ..
        } => None,
        Visibility::AdminList {
            project,
            community: false,
        } => {
            let mut c = Cond::any().add(col(VISIBILITY).ne(ImageVisibility::Community.as_str()));
            if let Some(p) = project {
                c = c.add(col(OWNER).eq(p.as_str()));
            }
            Some(c)
        }
    }
}

/// Deleted and killed images are hidden unless asked for.
pub fn deleted_scope(scope: DeletedScope) -> Option<Condition> {
    match scope {
        DeletedScope::Live => Some(
            Cond::all()
                .add(col(DELETED).eq(false))
                .add(col(STATUS).ne(Status::Killed.as_str())),
        ),
        DeletedScope::DeletedOnly => Some(Cond::all().add(col(DELETED).eq(true))),
        DeletedScope::All => None,
    }
}

/// Which property filter a page walks in the sorted property index
/// (`ix_image_properties_listed`, by name, value, then the image's `created_at` and id): the
/// only one, when the list is in that index's order (`created_at`, then `id`, the same way;
/// the default of both APIs). With several property filters, the rarest should drive, which
/// takes the probes of `catalog::probe_selectivity`.
pub fn sorted_property(q: &ListQuery) -> Option<usize> {
    (in_index_order(q) && q.filters.properties.len() == 1).then_some(0)
}

/// The default order of both APIs: `created_at`, then `id`, the same way.
fn in_index_order(q: &ListQuery) -> bool {
    matches!(
        q.order.as_slice(),
        [(SortKey::CreatedAt, a), (SortKey::Id, b)] if a == b
    )
}

/// Whether a page's best plan is the same for every value of its parameters, so that it may
/// be prepared once per connection instead of planned per request (on PostgreSQL planning a
/// filtered page cost as much as running it): the default order, no filter but the
/// visibility and `os_hidden` ones, and at most one property filter, walked in the sorted
/// property index. Other filters are planned for their values: a rare name or size range
/// deserves its own index, a frequent one the order's.
pub fn plan_fits_every_value(q: &ListQuery) -> bool {
    let f = &q.filters;
    let scaffolding = Filters {
        visibility: f.visibility,
        os_hidden: f.os_hidden,
        properties: f.properties.clone(),
        ..Filters::default()
    };
    in_index_order(q) && f.properties.len() <= 1 && *f == scaffolding
}

/// Where the `created_at` and `id` of the order are read: the image row, or the property row
/// of the sorted filter (the same values, in index order).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SortSource {
    Image,
    Property,
}

impl SortSource {
    pub fn of(sorted: Option<usize>) -> Self {
        match sorted {
            Some(_) => SortSource::Property,
            None => SortSource::Image,
        }
    }

    fn column(self, key: SortKey) -> (&'static str, &'static str) {
        match (self, key) {
            (SortSource::Property, SortKey::CreatedAt) => (PROPERTIES, IMAGE_CREATED_AT),
            (SortSource::Property, SortKey::Id) => (PROPERTIES, IMAGE_ID),
            _ => (IMAGES, column_of(key)),
        }
    }
}

/// `image_properties.value = value`, in the form the engine's property index holds.
pub fn property_value(b: Backend, s: &mut SelectStatement, value: &str) {
    if b == Backend::Postgres {
        pg_value_prefix(s, value);
    } else {
        s.and_where(Expr::col((PROPERTIES, VALUE)).eq(value));
    }
}

/// Exact-match, range and property filters. `selective[i]` says whether property filter `i`
/// matches few enough images to drive the query (see `catalog::probe_selectivity`); the
/// `sorted` one is the page's join (see [`sorted_property`]), not a condition here.
pub fn filters(b: Backend, f: &Filters, selective: &[bool], sorted: Option<usize>) -> Condition {
    let mut c = Cond::all();
    let text = [
        (NAME, &f.name),
        (STATUS, &f.status),
        (DISK_FORMAT, &f.disk_format),
        (CONTAINER_FORMAT, &f.container_format),
    ];
    for (column, v) in text {
        if let Some(v) = v {
            c = c.add(col(column).eq(v.as_str()));
        }
    }
    if let Some(v) = f.min_ram {
        c = c.add(col(MIN_RAM).eq(v));
    }
    if let Some(v) = f.min_disk {
        c = c.add(col(MIN_DISK).eq(v));
    }
    if let Some(v) = f.protected {
        c = c.add(col(PROTECTED).eq(v));
    }
    if let Some(v) = f.size_min {
        c = c.add(col(SIZE).gte(v));
    }
    if let Some(v) = f.size_max {
        c = c.add(col(SIZE).lte(v));
    }
    if let Some(t) = f.changes_since {
        c = c.add(col(UPDATED_AT).gt(b.ts(t)));
    }
    for (column, values) in &f.one_of {
        let column = col(text_column(*column));
        c = match values.as_slice() {
            [one] => c.add(column.eq(one.as_str())),
            many => c.add(column.is_in(many.iter().map(String::as_str))),
        };
    }
    for (column, v) in &f.equal {
        let name = match column {
            IntColumn::Size => SIZE,
            IntColumn::VirtualSize => VIRTUAL_SIZE,
            IntColumn::MinRam => MIN_RAM,
            IntColumn::MinDisk => MIN_DISK,
        };
        c = c.add(col(name).eq(*v));
    }
    for (column, op, t) in &f.times {
        let column = col(match column {
            TimeColumn::CreatedAt => CREATED_AT,
            TimeColumn::UpdatedAt => UPDATED_AT,
        });
        // v2 shows whole seconds: `T` stands for the instants [T, T + 1 s).
        let (start, end) = (b.ts(*t), b.ts(t.plus_seconds(1)));
        c = c.add(match op {
            Comparison::Lt => Cond::all().add(column.lt(start)),
            Comparison::Lte => Cond::all().add(column.lt(end)),
            Comparison::Gt => Cond::all().add(column.gte(end)),
            Comparison::Gte => Cond::all().add(column.gte(start)),
            Comparison::Eq => Cond::all()
                .add(column.clone().gte(start))
                .add(column.lt(end)),
            Comparison::Neq => Cond::any()
                .add(column.clone().lt(start))
                .add(column.gte(end)),
        });
    }
    if let Some(v) = f.visibility {
        c = c.add(is(v));
    }
    if let Some(h) = f.os_hidden {
        c = c.add(col(OS_HIDDEN).eq(h));
    }
    for tag in &f.tags {
        c = c.add(Expr::exists(
            Query::select()
                .expr(Expr::cust("1"))
                .from(TAGS)
                .and_where(Expr::col((TAGS, IMAGE_ID)).equals((IMAGES, ID)))
                .and_where(Expr::col((TAGS, VALUE)).eq(tag.as_str()))
                .to_owned(),
        ));
    }
    for (n, (name, value)) in f.properties.iter().enumerate() {
        if sorted == Some(n) {
            continue;
        }
        let driving = selective.get(n).copied().unwrap_or(false);
        let mut sub = Query::select();
        sub.from(PROPERTIES)
            .and_where(Expr::col((PROPERTIES, NAME)).eq(name.as_str()));
        property_value(b, &mut sub, value);
        if driving {
            // Few images match: `id IN (...)` lets the planner start from the property
            // index and sort just those.
            sub.column((PROPERTIES, IMAGE_ID));
            c = c.add(col(ID).in_subquery(sub));
        } else {
            // Many match: walk the sort index and check each row; a page fills quickly.
            sub.expr(Expr::cust("1"))
                .and_where(Expr::col((PROPERTIES, IMAGE_ID)).equals((IMAGES, ID)));
            c = c.add(Expr::exists(sub));
        }
    }
    c
}

/// PostgreSQL indexes a prefix of the value (a btree cannot hold 64 KiB values). A value
/// shorter than the prefix is compared through the indexed expression alone; a longer one
/// also in full. (Both predicates together make the planner misjudge how many rows match.)
pub fn pg_value_prefix(sub: &mut SelectStatement, value: &str) {
    let prefix: String = value.chars().take(PG_VALUE_PREFIX).collect();
    let whole = prefix.len() == value.len();
    sub.and_where(Expr::cust(PG_VALUE_PREFIX_EXPR).eq(prefix));
    if !whole {
        sub.and_where(Expr::col((PROPERTIES, VALUE)).eq(value));
    }
}

/// Must match the expression index of the PostgreSQL migration.
const PG_VALUE_PREFIX: usize = 200;
const PG_VALUE_PREFIX_EXPR: &str = r#"substr("image_properties"."value", 1, 200)"#;

fn text_column(c: TextColumn) -> &'static str {
    match c {
        TextColumn::Id => ID,
        TextColumn::Name => NAME,
        TextColumn::Status => STATUS,
        TextColumn::DiskFormat => DISK_FORMAT,
        TextColumn::ContainerFormat => CONTAINER_FORMAT,
        TextColumn::Owner => OWNER,
        TextColumn::Checksum => CHECKSUM,
        TextColumn::OsHashAlgo => OS_HASH_ALGO,
        TextColumn::OsHashValue => OS_HASH_VALUE,
    }
}

fn column_of(key: SortKey) -> &'static str {
    match key {
        SortKey::Id => ID,
        SortKey::Name => NAME,
        SortKey::Status => STATUS,
        SortKey::DiskFormat => DISK_FORMAT,
        SortKey::ContainerFormat => CONTAINER_FORMAT,
        SortKey::Size => SIZE,
        SortKey::CreatedAt => CREATED_AT,
        SortKey::UpdatedAt => UPDATED_AT,
    }
}

/// The marker image's value of a sort column; `None` for NULL.
fn value_of(b: Backend, key: SortKey, m: &Image) -> Option<Value> {
    match key {
        SortKey::Id => Some(m.id.as_str().into()),
        SortKey::Name => m.name.clone().map(Value::from),
        SortKey::Status => Some(m.status.as_str().into()),
        SortKey::DiskFormat => m.disk_format.clone().map(Value::from),
        SortKey::ContainerFormat => m.container_format.clone().map(Value::from),
        SortKey::Size => m.size.map(Value::from),
        SortKey::CreatedAt => Some(b.ts(m.created_at)),
        SortKey::UpdatedAt => Some(b.ts(m.updated_at)),
    }
}

/// Rows strictly after the marker in the total order: a lexicographic comparison over the
/// order's columns (each in its own direction) where NULL sorts before every value. A
/// redundant range bound on the leading column lets every engine start an index scan at the
/// marker instead of walking from the first row, so a page costs the same wherever it is.
pub fn keyset(
    b: Backend,
    order: &[(SortKey, SortDir)],
    marker: &Image,
    by: SortSource,
) -> Condition {
    after(b, order, marker, by)
}

fn after(b: Backend, cols: &[(SortKey, SortDir)], m: &Image, by: SortSource) -> Condition {
    let Some((&(first, dir), rest)) = cols.split_first() else {
        // Equal on every column: not after.
        return Cond::all().add(Expr::cust("1 = 0"));
    };
    let c = Expr::col(by.column(first));
    let tail = || after(b, rest, m, by);
    match (value_of(b, first, m), dir) {
        (None, SortDir::Asc) => Cond::any()
            .add(c.clone().is_not_null())
            .add(Cond::all().add(c.is_null()).add(tail())),
        (None, SortDir::Desc) => Cond::all().add(c.is_null()).add(tail()),
        (Some(v), SortDir::Asc) => Cond::all().add(c.clone().gte(v.clone())).add(
            Cond::any()
                .add(c.clone().gt(v.clone()))
                .add(Cond::all().add(c.eq(v)).add(tail())),
        ),
        (Some(v), SortDir::Desc) => {
            let strictly = Cond::any()
                .add(c.clone().lt(v.clone()))
                .add(Cond::all().add(c.clone().eq(v.clone())).add(tail()));
            if first.nullable() {
                Cond::any()
                    .add(c.clone().is_null())
                    .add(Cond::all().add(c.lte(v)).add(strictly))
            } else {
                Cond::all().add(c.lte(v)).add(strictly)
            }
        }
    }
}

/// ORDER BY the total order. NULLs first ascending and last descending, which is SQLite's and
/// MySQL's natural order; PostgreSQL is told explicitly.
pub fn order(b: Backend, stmt: &mut SelectStatement, order: &[(SortKey, SortDir)], by: SortSource) {
    for &(k, dir) in order {
        let o = match dir {
            SortDir::Asc => Order::Asc,
            SortDir::Desc => Order::Desc,
        };
        let c = by.column(k);
        if b == Backend::Postgres && k.nullable() {
            let nulls = match dir {
                SortDir::Asc => NullOrdering::First,
                SortDir::Desc => NullOrdering::Last,
            };
            stmt.order_by_with_nulls(c, o, nulls);
        } else {
            stmt.order_by(c, o);
        }
    }
}

/// The whole WHERE of a list query, marker excluded.
pub fn list_condition(
    b: Backend,
    q: &ListQuery,
    selective: &[bool],
    sorted: Option<usize>,
) -> Condition {
    let mut c = Cond::all();
    if let Some(v) = visibility(&q.visibility) {
        c = c.add(v);
    }
    if let Some(d) = deleted_scope(q.deleted) {
        c = c.add(d);
    }
    c.add(filters(b, &q.filters, selective, sorted))
}
