//! What a list request means: filters, scope, order and page, and which scope a caller may
//! ask for. The API layer reads the parameters; the storage layer compiles the query into SQL
//! in one place.

use super::{Caller, ImageId, Timestamp};

/// Which images a caller's query may return, before any filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    /// Admin with `is_public=none`, and admins reading one image.
    Everything,
    /// What a non-admin may see: public, owned by them, ownerless, or shared with them.
    Visible { owner: Option<String> },
    /// An admin's default list: public plus their own and shared ones.
    PublicOwnShared { owner: Option<String> },
    /// Admin with `is_public=false`.
    NonPublic,
}

impl Visibility {
    /// The images a caller may read one at a time.
    pub fn for_reading(caller: &Caller) -> Self {
        if caller.is_admin {
            Visibility::Everything
        } else {
            Visibility::Visible {
                owner: caller.owner.clone(),
            }
        }
    }
}

/// Which deleted (and killed) images a list includes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeletedScope {
    /// Not deleted and not killed: the default.
    Live,
    /// Only deleted ones (admin `deleted=true`).
    DeletedOnly,
    /// Everything, as `changes-since` needs to report deletions.
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Id,
    Name,
    Status,
    DiskFormat,
    ContainerFormat,
    Size,
    CreatedAt,
    UpdatedAt,
}

impl SortKey {
    pub const ALL: [SortKey; 8] = [
        SortKey::Id,
        SortKey::Name,
        SortKey::Status,
        SortKey::DiskFormat,
        SortKey::ContainerFormat,
        SortKey::Size,
        SortKey::CreatedAt,
        SortKey::UpdatedAt,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Id => "id",
            SortKey::Name => "name",
            SortKey::Status => "status",
            SortKey::DiskFormat => "disk_format",
            SortKey::ContainerFormat => "container_format",
            SortKey::Size => "size",
            SortKey::CreatedAt => "created_at",
            SortKey::UpdatedAt => "updated_at",
        }
    }

    /// Whether the column may be NULL. NULLs sort first in ascending order and last in
    /// descending order, on every backend.
    pub fn nullable(self) -> bool {
        matches!(
            self,
            SortKey::Name | SortKey::DiskFormat | SortKey::ContainerFormat | SortKey::Size
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortDir {
    Asc,
    Desc,
}

/// Exact-match and range filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    pub name: Option<String>,
    pub status: Option<String>,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub min_ram: Option<i64>,
    pub min_disk: Option<i64>,
    pub protected: Option<bool>,
    pub size_min: Option<i64>,
    pub size_max: Option<i64>,
    pub changes_since: Option<Timestamp>,
    /// `property-<name>=<value>` pairs; all must match.
    pub properties: Vec<(String, String)>,
}

/// A validated list request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub visibility: Visibility,
    pub deleted: DeletedScope,
    pub filters: Filters,
    pub sort_key: SortKey,
    pub sort_dir: SortDir,
    pub limit: u64,
    pub marker: Option<ImageId>,
}

/// The paging limits (configurable, as Glance's `limit_param_default` and `api_limit_max`).
#[derive(Debug, Clone, Copy)]
pub struct PageLimits {
    pub default: u64,
    pub max: u64,
}

impl Default for PageLimits {
    fn default() -> Self {
        PageLimits {
            default: 25,
            max: 1000,
        }
    }
}

/// The admin's choice of visibility with `is_public`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicScope {
    /// `true` (and the default): public plus the admin's own and shared images.
    Public,
    /// `false`: only images that are not public.
    NonPublic,
    /// `none`: every image.
    Any,
}

/// What a list request asked for, each value already of its type; `None` where the request
/// left it out. [`ListQuery::for_caller`] turns it into what the caller may have.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListParams {
    pub filters: Filters,
    /// Admin only (see [`may_choose_scope`]).
    pub is_public: Option<PublicScope>,
    /// Admin only: `true` lists only deleted images.
    pub deleted: Option<bool>,
    pub sort_key: Option<SortKey>,
    pub sort_dir: Option<SortDir>,
    pub limit: Option<u64>,
    pub marker: Option<ImageId>,
}

/// Whether the caller may choose the visibility and deleted scope of a list (`is_public`,
/// `deleted`). For anyone else those parameters are ignored, as the reference ignored them.
pub fn may_choose_scope(caller: &Caller) -> bool {
    caller.is_admin
}

impl ListQuery {
    /// The query a caller gets for what they asked: their visibility, the deleted scope
    /// (`changes-since` reports deletions), the default order and the page size within
    /// `limits`.
    pub fn for_caller(params: ListParams, caller: &Caller, limits: PageLimits) -> Self {
        let reports_changes = params.filters.changes_since.is_some();
        let default_deleted = if reports_changes {
            DeletedScope::All
        } else {
            DeletedScope::Live
        };
        let (visibility, deleted) = if may_choose_scope(caller) {
            let visibility = match params.is_public.unwrap_or(PublicScope::Public) {
                PublicScope::Public => Visibility::PublicOwnShared {
                    owner: caller.owner.clone(),
                },
                PublicScope::NonPublic => Visibility::NonPublic,
                PublicScope::Any => Visibility::Everything,
            };
            let deleted = match params.deleted {
                Some(true) => DeletedScope::DeletedOnly,
                Some(false) => DeletedScope::Live,
                None => default_deleted,
            };
            (visibility, deleted)
        } else {
            let visibility = Visibility::Visible {
                owner: caller.owner.clone(),
            };
            (visibility, default_deleted)
        };
        ListQuery {
            visibility,
            deleted,
            filters: params.filters,
            sort_key: params.sort_key.unwrap_or(SortKey::CreatedAt),
            sort_dir: params.sort_dir.unwrap_or(SortDir::Desc),
            limit: params.limit.unwrap_or(limits.default).min(limits.max),
            marker: params.marker,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> Caller {
        Caller::authenticated(Some("t1".into()), None, vec![], true)
    }

    fn query(params: ListParams, caller: &Caller) -> ListQuery {
        ListQuery::for_caller(params, caller, PageLimits::default())
    }

    #[test]
    fn defaults() {
        let lq = query(ListParams::default(), &Caller::anonymous_admin());
        assert_eq!(lq.sort_key, SortKey::CreatedAt);
        assert_eq!(lq.sort_dir, SortDir::Desc);
        assert_eq!(lq.limit, 25);
        assert_eq!(lq.deleted, DeletedScope::Live);
        assert_eq!(lq.visibility, Visibility::PublicOwnShared { owner: None });
    }

    #[test]
    fn limit_is_capped() {
        let lq = query(
            ListParams {
                limit: Some(5000),
                ..ListParams::default()
            },
            &tenant(),
        );
        assert_eq!(lq.limit, 1000);
    }

    #[test]
    fn scope_is_the_admins_choice_only() {
        let asked = ListParams {
            is_public: Some(PublicScope::Any),
            deleted: Some(true),
            ..ListParams::default()
        };
        let lq = query(asked.clone(), &tenant());
        assert_eq!(
            lq.visibility,
            Visibility::Visible {
                owner: Some("t1".into())
            }
        );
        assert_eq!(lq.deleted, DeletedScope::Live);
        let lq = query(asked, &Caller::anonymous_admin());
        assert_eq!(lq.visibility, Visibility::Everything);
        assert_eq!(lq.deleted, DeletedScope::DeletedOnly);
    }

    #[test]
    fn changes_since_includes_deleted() {
        let mut params = ListParams::default();
        params.filters.changes_since = Some(Timestamp::now());
        assert_eq!(query(params, &tenant()).deleted, DeletedScope::All);
    }
}
