//! The query string of `GET /images` and `/images/detail`: which parameters exist, what type
//! each has, and the 400s for values that are not of it. What the caller may ask for is the
//! domain's decision ([`ListQuery::for_caller`]).

use crate::domain::query::{Filters, ListParams, PublicScope, SortDir, SortKey, may_choose_scope};
use crate::domain::{Caller, ImageId, Status, Timestamp};
use crate::error::Error;
use std::collections::HashSet;

#[cfg(test)]
use crate::domain::query::{ListQuery, PageLimits};

const PROPERTY_PREFIX: &str = "property-";

/// The parameters a list understands besides `property-<name>`.
const KNOWN: [&str; 16] = [
    "name",
    "status",
    "disk_format",
    "container_format",
    "min_ram",
    "min_disk",
    "protected",
    "size_min",
    "size_max",
    "changes-since",
    "is_public",
    "deleted",
    "sort_key",
    "sort_dir",
    "limit",
    "marker",
];

fn int(name: &str, v: &str) -> Result<i64, Error> {
    v.trim()
        .parse::<i64>()
        .map_err(|_| Error::bad_request(format!("Invalid {name} '{v}': {name} must be an integer")))
}

/// `protected`, as the reference read it: `true`/`1` or `false`/`0`, in any case.
fn protected(v: &str) -> Result<bool, Error> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(Error::bad_request(format!(
            "Invalid protected '{v}': protected must be true or false (or 1 or 0)"
        ))),
    }
}

/// `deleted`, with the spellings of the reference's `bool_from_string` (trimmed, any case).
/// The reference took every other value as false; here it is 400, like every other value a
/// parameter cannot have.
fn deleted(v: &str) -> Result<bool, Error> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "t" | "true" | "on" | "y" | "yes" => Ok(true),
        "0" | "f" | "false" | "off" | "n" | "no" => Ok(false),
        _ => Err(Error::bad_request(format!(
            "Invalid deleted '{v}': deleted must be true or false"
        ))),
    }
}

/// `is_public`, as the reference read it: `true`/`1`, `false`/`0` or `none`, in any case.
fn public_scope(v: &str) -> Result<PublicScope, Error> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(PublicScope::Public),
        "false" | "0" => Ok(PublicScope::NonPublic),
        "none" => Ok(PublicScope::Any),
        other => Err(Error::bad_request(format!(
            "Invalid is_public '{other}': is_public must be true, false or none (or 1 or 0)"
        ))),
    }
}

fn sort_key(v: &str) -> Result<SortKey, Error> {
    SortKey::ALL
        .into_iter()
        .find(|k| k.as_str() == v)
        .ok_or_else(|| {
            Error::bad_request(format!(
                "Invalid sort_key '{v}': sort_key must be one of {}",
                SortKey::ALL.map(SortKey::as_str).join(", ")
            ))
        })
}

fn sort_dir(v: &str) -> Result<SortDir, Error> {
    match v {
        "desc" => Ok(SortDir::Desc),
        "asc" => Ok(SortDir::Asc),
        _ => Err(Error::bad_request(format!(
            "Invalid sort_dir '{v}': sort_dir must be asc or desc"
        ))),
    }
}

fn limit(v: &str) -> Result<u64, Error> {
    v.trim().parse::<u64>().map_err(|_| {
        Error::bad_request(format!(
            "Invalid limit '{v}': limit must be a non-negative integer"
        ))
    })
}

/// Reads decoded query-string pairs. Unknown parameters are ignored (as in the reference); a
/// known parameter given twice is 400, since which one wins is a guess. The admin-only
/// parameters are read only from callers who may use them, so a tenant's are ignored whatever
/// their value.
pub fn parse(pairs: &[(String, String)], caller: &Caller) -> Result<ListParams, Error> {
    let mut seen = HashSet::new();
    for (k, _) in pairs {
        let known = k.starts_with(PROPERTY_PREFIX) || KNOWN.contains(&k.as_str());
        if known && !seen.insert(k.as_str()) {
            return Err(Error::bad_request(format!(
                "Query parameter '{k}' was given more than once"
            )));
        }
    }
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());

    let filters = Filters {
        name: get("name").map(str::to_owned),
        status: get("status").map(str::to_owned),
        disk_format: get("disk_format").map(str::to_owned),
        container_format: get("container_format").map(str::to_owned),
        min_ram: get("min_ram").map(|v| int("min_ram", v)).transpose()?,
        min_disk: get("min_disk").map(|v| int("min_disk", v)).transpose()?,
        protected: get("protected").map(protected).transpose()?,
        size_min: get("size_min").map(|v| int("size_min", v)).transpose()?,
        size_max: get("size_max").map(|v| int("size_max", v)).transpose()?,
        changes_since: get("changes-since")
            .map(Timestamp::parse_iso8601)
            .transpose()?,
        properties: pairs
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(PROPERTY_PREFIX)?.to_owned(), v.clone())))
            .collect(),
        ..Filters::default()
    };
    if let Some(s) = &filters.status {
        // Reject typos loudly rather than silently matching nothing.
        s.parse::<Status>()?;
    }
    let (is_public, deleted) = if may_choose_scope(caller) {
        (
            get("is_public").map(public_scope).transpose()?,
            get("deleted").map(deleted).transpose()?,
        )
    } else {
        (None, None)
    };
    Ok(ListParams {
        filters,
        is_public,
        deleted,
        sort_key: get("sort_key").map(sort_key).transpose()?,
        sort_dir: get("sort_dir").map(sort_dir).transpose()?,
        limit: get("limit").map(limit).transpose()?,
        marker: get("marker")
            .map(|v| ImageId::parse(v).ok_or_else(|| Error::bad_request("Invalid marker format")))
            .transpose()?,
    })
}

/// For tests of other layers that describe a list by its query string.
#[cfg(test)]
pub trait ParseListQuery: Sized {
    fn parse(
        pairs: &[(String, String)],
        caller: &Caller,
        limits: PageLimits,
    ) -> Result<Self, Error>;
}

#[cfg(test)]
impl ParseListQuery for ListQuery {
    fn parse(
        pairs: &[(String, String)],
        caller: &Caller,
        limits: PageLimits,
    ) -> Result<Self, Error> {
        Ok(ListQuery::for_caller(parse(pairs, caller)?, caller, limits))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::query::{DeletedScope, Visibility};

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
        assert_eq!(lq.order[0], (SortKey::CreatedAt, SortDir::Desc));
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
        assert!(q("is_public=maybe&deleted=maybe", &tenant()).is_ok());
        let lq = q("is_public=false&deleted=true", &Caller::anonymous_admin()).unwrap();
        assert_eq!(lq.visibility, Visibility::NonPublic);
        assert_eq!(lq.deleted, DeletedScope::DeletedOnly);
        assert!(q("is_public=maybe", &Caller::anonymous_admin()).is_err());
    }

    #[test]
    fn booleans_are_spelled_as_the_reference_read_them() {
        let admin = Caller::anonymous_admin();
        for (v, scope) in [
            ("true", Visibility::PublicOwnShared { owner: None }),
            ("TRUE", Visibility::PublicOwnShared { owner: None }),
            ("1", Visibility::PublicOwnShared { owner: None }),
            ("False", Visibility::NonPublic),
            ("0", Visibility::NonPublic),
            ("NONE", Visibility::Everything),
        ] {
            assert_eq!(
                q(&format!("is_public={v}"), &admin).unwrap().visibility,
                scope,
                "{v}"
            );
        }
        for bad in ["yes", "no", "t", " true", "2", ""] {
            assert!(
                q(&format!("is_public={bad}"), &admin).is_err(),
                "is_public={bad}"
            );
        }
        for (v, want) in [
            ("true", true),
            ("1", true),
            ("TRUE", true),
            ("false", false),
            ("0", false),
        ] {
            assert_eq!(
                q(&format!("protected={v}"), &admin)
                    .unwrap()
                    .filters
                    .protected,
                Some(want),
                "{v}"
            );
        }
        for bad in ["yes", "no", "on", "off", "t", "f", "maybe", ""] {
            assert!(
                q(&format!("protected={bad}"), &admin).is_err(),
                "protected={bad}"
            );
        }
        for v in ["1", "t", "true", "on", "y", "yes", "YES", "%20True%20"] {
            assert_eq!(
                q(&format!("deleted={v}"), &admin).unwrap().deleted,
                DeletedScope::DeletedOnly,
                "{v}"
            );
        }
        for v in ["0", "f", "false", "off", "n", "no", "No"] {
            assert_eq!(
                q(&format!("deleted={v}"), &admin).unwrap().deleted,
                DeletedScope::Live,
                "{v}"
            );
        }
        assert!(q("deleted=maybe", &admin).is_err());
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
