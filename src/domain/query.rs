//! What a list request means: filters, scope, order and page, and which scope a caller may
//! ask for. The API layer reads the parameters; the storage layer compiles the query into SQL
//! in one place.

use super::{Caller, ImageId, ImageVisibility, MemberStatus, Timestamp};

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
    /// v2, one image: public, community, ownerless, owned by the project, or shared with it
    /// (whatever the member status).
    Readable { project: Option<String> },
    /// v2, a non-admin's list: public, owned by the project, shared with it with
    /// `member_status` (`None`: any), and with `community` every community image.
    ListedFor {
        project: Option<String>,
        member_status: Option<MemberStatus>,
        community: bool,
    },
    /// v2, an admin's list: everything but, unless `community`, community images of other
    /// projects.
    AdminList {
        project: Option<String>,
        community: bool,
    },
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

    /// The images a v2 caller may read one at a time.
    pub fn for_reading_v2(caller: &Caller) -> Self {
        if caller.is_admin {
            Visibility::Everything
        } else {
            Visibility::Readable {
                project: caller.owner.clone(),
            }
        }
    }

    /// Which images may serve as this list's marker: those the caller could read.
    pub fn of_marker(&self) -> Visibility {
        match self {
            Visibility::Visible { owner } => Visibility::Visible {
                owner: owner.clone(),
            },
            Visibility::ListedFor { project, .. } => Visibility::Readable {
                project: project.clone(),
            },
            _ => Visibility::Everything,
        }
    }

    /// The visibilities an image must have to be in this scope whoever owns it; `None`: any
    /// (a scope that admits images by owner, ownerlessness or membership admits every
    /// visibility).
    fn only_visibilities(&self) -> Option<Vec<ImageVisibility>> {
        use ImageVisibility::*;
        match self {
            Visibility::NonPublic => Some(vec![Community, Shared, Private]),
            Visibility::PublicOwnShared { owner: None } => Some(vec![Public]),
            Visibility::ListedFor {
                project: None,
                community,
                ..
            } => Some(if *community {
                vec![Public, Community]
            } else {
                vec![Public]
            }),
            Visibility::AdminList {
                project: None,
                community: false,
            } => Some(vec![Public, Shared, Private]),
            Visibility::Everything
            | Visibility::Visible { .. }
            | Visibility::PublicOwnShared { owner: Some(_) }
            | Visibility::Readable { .. }
            | Visibility::ListedFor {
                project: Some(_), ..
            }
            | Visibility::AdminList { .. } => None,
        }
    }

    /// Whether a non-admin reads through it (who never sees deleted rows).
    pub fn is_restricted(&self) -> bool {
        matches!(
            self,
            Visibility::Visible { .. } | Visibility::Readable { .. } | Visibility::ListedFor { .. }
        )
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

/// A text column a v2 filter matches against a set of values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextColumn {
    Id,
    Name,
    Status,
    DiskFormat,
    ContainerFormat,
    Owner,
    Checksum,
    OsHashAlgo,
    OsHashValue,
}

/// An integer column a v2 filter compares for equality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntColumn {
    Size,
    VirtualSize,
    MinRam,
    MinDisk,
}

/// A time column of a v2 range filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeColumn {
    CreatedAt,
    UpdatedAt,
}

/// A comparison of a v2 time filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Lt,
    Lte,
    Gt,
    Gte,
    Eq,
    Neq,
}

/// Exact-match and range filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// v2: each column must be one of its values.
    pub one_of: Vec<(TextColumn, Vec<String>)>,
    /// v2: each column must equal its value.
    pub equal: Vec<(IntColumn, i64)>,
    /// v2: each comparison must hold (`[start, end)` instants already, see [`Comparison`]).
    pub times: Vec<(TimeColumn, Comparison, Timestamp)>,
    /// v2: exactly this visibility.
    pub visibility: Option<ImageVisibility>,
    /// v2: `os_hidden` must be this.
    pub os_hidden: Option<bool>,
    /// v2: every one of these tags.
    pub tags: Vec<String>,
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
    /// The total order: the sort keys, then the `created_at` and `id` tie-breakers.
    pub order: Vec<(SortKey, SortDir)>,
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
    /// The visibilities an image must have to be listed (its scope and the `visibility`
    /// filter together); `None`: any. A necessary condition, not the whole rule: storage
    /// checks it early where an index holds a copy of each image's visibility.
    pub fn listed_visibilities(&self) -> Option<Vec<ImageVisibility>> {
        let scope = self.visibility.only_visibilities();
        match (scope, self.filters.visibility) {
            (scope, None) => scope,
            (None, Some(v)) => Some(vec![v]),
            (Some(scope), Some(v)) => Some(scope.into_iter().filter(|s| *s == v).collect()),
        }
    }

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
            order: total_order(
                &[(
                    params.sort_key.unwrap_or(SortKey::CreatedAt),
                    params.sort_dir.unwrap_or(SortDir::Desc),
                )],
                params.sort_dir.unwrap_or(SortDir::Desc),
            ),
            limit: params.limit.unwrap_or(limits.default).min(limits.max),
            marker: params.marker,
        }
    }
}

/// The `visibility` a v2 list asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisibilityParam {
    Only(ImageVisibility),
    /// `all`: no restriction within what the caller may see, community images included.
    All,
}

/// What a v2 list request asked for, each value already of its type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct V2ListParams {
    pub filters: Filters,
    pub visibility: Option<VisibilityParam>,
    /// `None`: the default (accepted); `Some(None)`: `all`.
    pub member_status: Option<Option<MemberStatus>>,
    /// The sort keys as asked (empty: `created_at desc`), and the tie-breakers' direction.
    pub sort: Vec<(SortKey, SortDir)>,
    pub ties: Option<SortDir>,
    pub limit: Option<u64>,
    pub marker: Option<ImageId>,
}

impl ListQuery {
    /// A v2 list for `caller` (section 4.4 of the contract): hidden images only on request,
    /// community images of others only with `visibility=community|all`, shares by status.
    pub fn for_v2(params: V2ListParams, caller: &Caller, limits: PageLimits) -> Self {
        let mut filters = params.filters;
        let community = match params.visibility {
            Some(VisibilityParam::All) => true,
            Some(VisibilityParam::Only(v)) => {
                filters.visibility = Some(v);
                v == ImageVisibility::Community
            }
            None => false,
        };
        filters.os_hidden = Some(filters.os_hidden.unwrap_or(false));
        let visibility = if caller.is_admin {
            Visibility::AdminList {
                project: caller.owner.clone(),
                community,
            }
        } else {
            Visibility::ListedFor {
                project: caller.owner.clone(),
                member_status: params.member_status.unwrap_or(Some(MemberStatus::Accepted)),
                community,
            }
        };
        let keys = if params.sort.is_empty() {
            vec![(SortKey::CreatedAt, SortDir::Desc)]
        } else {
            params.sort
        };
        ListQuery {
            visibility,
            deleted: DeletedScope::Live,
            filters,
            order: total_order(&keys, params.ties.unwrap_or(SortDir::Desc)),
            limit: params.limit.unwrap_or(limits.default).min(limits.max),
            marker: params.marker,
        }
    }
}

/// `keys` followed by the tie-breakers `created_at` and `id` (in direction `ties`) where they
/// are not keys already: an order in which no two images are equal, as keyset paging needs.
pub fn total_order(keys: &[(SortKey, SortDir)], ties: SortDir) -> Vec<(SortKey, SortDir)> {
    let mut order = keys.to_vec();
    for tie in [SortKey::CreatedAt, SortKey::Id] {
        if !order.iter().any(|(k, _)| *k == tie) {
            order.push((tie, ties));
        }
    }
    order
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
        assert_eq!(
            lq.order,
            [
                (SortKey::CreatedAt, SortDir::Desc),
                (SortKey::Id, SortDir::Desc)
            ]
        );
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
