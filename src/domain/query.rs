//! What a list request asks for: filters, scope, order and page, parsed and validated from the
//! query string. The storage layer compiles this into SQL in one place.

use super::{Caller, ImageId, Status, Timestamp};
use crate::error::Error;
use std::collections::HashSet;

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
    const ALL: [SortKey; 8] = [
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

const PROPERTY_PREFIX: &str = "property-";

fn int(name: &str, v: &str) -> Result<i64, Error> {
    v.trim()
        .parse::<i64>()
        .map_err(|_| Error::bad_request(format!("Invalid {name} '{v}': {name} must be an integer")))
}

fn boolean(name: &str, v: &str) -> Result<bool, Error> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(Error::bad_request(format!(
            "Invalid {name} '{v}': {name} must be true or false"
        ))),
    }
}

impl ListQuery {
    /// Parses decoded query-string pairs. Unknown parameters are ignored (as in the
    /// reference); a known parameter given twice is 400, since which one wins is a guess.
    pub fn parse(
        pairs: &[(String, String)],
        caller: &Caller,
        limits: PageLimits,
    ) -> Result<Self, Error> {
        let mut seen = HashSet::new();
        for (k, _) in pairs {
            let known = k.starts_with(PROPERTY_PREFIX)
                || matches!(
                    k.as_str(),
                    "name"
                        | "status"
                        | "disk_format"
                        | "container_format"
                        | "min_ram"
                        | "min_disk"
                        | "protected"
                        | "size_min"
                        | "size_max"
                        | "changes-since"
                        | "is_public"
                        | "deleted"
                        | "sort_key"
                        | "sort_dir"
                        | "limit"
                        | "marker"
                );
            if known && !seen.insert(k.as_str()) {
                return Err(Error::bad_request(format!(
                    "Query parameter '{k}' was given more than once"
                )));
            }
        }
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());

        let mut filters = Filters {
            name: get("name").map(str::to_owned),
            status: get("status").map(str::to_owned),
            disk_format: get("disk_format").map(str::to_owned),
            container_format: get("container_format").map(str::to_owned),
            min_ram: get("min_ram").map(|v| int("min_ram", v)).transpose()?,
            min_disk: get("min_disk").map(|v| int("min_disk", v)).transpose()?,
            protected: get("protected")
                .map(|v| boolean("protected", v))
                .transpose()?,
            size_min: get("size_min").map(|v| int("size_min", v)).transpose()?,
            size_max: get("size_max").map(|v| int("size_max", v)).transpose()?,
            changes_since: get("changes-since")
                .map(Timestamp::parse_iso8601)
                .transpose()?,
            properties: Vec::new(),
        };
        for (k, v) in pairs {
            if let Some(prop) = k.strip_prefix(PROPERTY_PREFIX) {
                filters.properties.push((prop.to_owned(), v.clone()));
            }
        }
        if let Some(s) = &filters.status {
            // Reject typos loudly rather than silently matching nothing.
            s.parse::<Status>()?;
        }

        let (visibility, deleted) = if caller.is_admin {
            let visibility = match get("is_public").map(str::to_ascii_lowercase).as_deref() {
                None | Some("true") => Visibility::PublicOwnShared {
                    owner: caller.owner.clone(),
                },
                Some("false") => Visibility::NonPublic,
                Some("none") => Visibility::Everything,
                Some(other) => {
                    return Err(Error::bad_request(format!(
                        "Invalid is_public '{other}': is_public must be true, false or none"
                    )));
                }
            };
            let deleted = match get("deleted").map(|v| boolean("deleted", v)).transpose()? {
                Some(true) => DeletedScope::DeletedOnly,
                Some(false) => DeletedScope::Live,
                None if filters.changes_since.is_some() => DeletedScope::All,
                None => DeletedScope::Live,
            };
            (visibility, deleted)
        } else {
            let deleted = if filters.changes_since.is_some() {
                DeletedScope::All
            } else {
                DeletedScope::Live
            };
            (
                Visibility::Visible {
                    owner: caller.owner.clone(),
                },
                deleted,
            )
        };

        let sort_key = match get("sort_key") {
            None => SortKey::CreatedAt,
            Some(v) => SortKey::ALL
                .into_iter()
                .find(|k| k.as_str() == v)
                .ok_or_else(|| {
                    Error::bad_request(format!(
                        "Invalid sort_key '{v}': sort_key must be one of {}",
                        SortKey::ALL.map(SortKey::as_str).join(", ")
                    ))
                })?,
        };
        let sort_dir = match get("sort_dir") {
            None | Some("desc") => SortDir::Desc,
            Some("asc") => SortDir::Asc,
            Some(v) => {
                return Err(Error::bad_request(format!(
                    "Invalid sort_dir '{v}': sort_dir must be asc or desc"
                )));
            }
        };
        let limit = match get("limit") {
            None => limits.default,
            Some(v) => v
                .trim()
                .parse::<u64>()
                .map_err(|_| {
                    Error::bad_request(format!(
                        "Invalid limit '{v}': limit must be a non-negative integer"
                    ))
                })?
                .min(limits.max),
        }
        .min(limits.max);
        let marker = match get("marker") {
            None => None,
            Some(v) => {
                Some(ImageId::parse(v).ok_or_else(|| Error::bad_request("Invalid marker format"))?)
            }
        };
        Ok(ListQuery {
            visibility,
            deleted,
            filters,
            sort_key,
            sort_dir,
            limit,
            marker,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str, caller: &Caller) -> Result<ListQuery, Error> {
        let pairs: Vec<(String, String)> =
            form_urlencoded::parse(s.as_bytes()).into_owned().collect();
        ListQuery::parse(&pairs, caller, PageLimits::default())
    }

    fn tenant() -> Caller {
        Caller::authenticated(Some("t1".into()), None, vec![], true)
    }

    #[test]
    fn defaults() {
        let lq = q("", &Caller::anonymous_admin()).unwrap();
        assert_eq!(lq.sort_key, SortKey::CreatedAt);
        assert_eq!(lq.sort_dir, SortDir::Desc);
        assert_eq!(lq.limit, 25);
        assert_eq!(lq.deleted, DeletedScope::Live);
        assert_eq!(lq.visibility, Visibility::PublicOwnShared { owner: None });
    }

    #[test]
    fn limit_is_capped_and_validated() {
        assert_eq!(q("limit=5000", &tenant()).unwrap().limit, 1000);
        assert_eq!(q("limit=0", &tenant()).unwrap().limit, 0);
        for bad in [
            "limit=-1",
            "limit=abc",
            "limit=1.5",
            "limit=99999999999999999999999",
        ] {
            assert!(q(bad, &tenant()).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_values_are_400() {
        for bad in [
            "sort_key=owner",
            "sort_dir=up",
            "size_min=big",
            "size_max=1e3",
            "min_ram=x",
            "protected=maybe",
            "changes-since=yesterday",
            "marker=abc",
            "status=bogus",
            "name=a&name=b",
        ] {
            assert!(
                matches!(q(bad, &tenant()), Err(Error::BadRequest(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn admin_only_params_are_ignored_for_tenants() {
        let lq = q("is_public=none&deleted=true&is_public_x=1", &tenant()).unwrap();
        assert_eq!(
            lq.visibility,
            Visibility::Visible {
                owner: Some("t1".into())
            }
        );
        assert_eq!(lq.deleted, DeletedScope::Live);
        let lq = q("is_public=false&deleted=true", &Caller::anonymous_admin()).unwrap();
        assert_eq!(lq.visibility, Visibility::NonPublic);
        assert_eq!(lq.deleted, DeletedScope::DeletedOnly);
        assert!(q("is_public=maybe", &Caller::anonymous_admin()).is_err());
    }

    #[test]
    fn changes_since_includes_deleted() {
        let lq = q("changes-since=2011-01-01T00:00:00Z", &tenant()).unwrap();
        assert_eq!(lq.deleted, DeletedScope::All);
    }

    #[test]
    fn property_filters_and_unknown_params() {
        let lq = q("property-os=linux&property-arch=x86_64&foo=bar", &tenant()).unwrap();
        assert_eq!(
            lq.filters.properties,
            vec![
                ("os".to_string(), "linux".to_string()),
                ("arch".to_string(), "x86_64".to_string())
            ]
        );
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any query string parses to a query or a 400, never a panic, and a parsed limit
        /// never exceeds the cap.
        #[test]
        fn arbitrary_query_strings(q in "[a-z_=&%0-9.:TZ-]{0,80}") {
            let pairs: Vec<(String, String)> = form_urlencoded::parse(q.as_bytes()).into_owned().collect();
            for caller in [Caller::anonymous_admin(), Caller::authenticated(Some("t".into()), None, vec![], true)] {
                match ListQuery::parse(&pairs, &caller, PageLimits::default()) {
                    Ok(lq) => prop_assert!(lq.limit <= 1000),
                    Err(e) => prop_assert!(matches!(e, Error::BadRequest(_))),
                }
            }
        }
    }
}
