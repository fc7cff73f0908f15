//! Who is calling: the request context, from Keystone's answer about a token or from the
//! headers of a trusted front end.

/// The caller of one request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Caller {
    /// Admins see and change everything.
    pub is_admin: bool,
    /// The identity that owns images and is matched against memberships: the tenant, or the
    /// user when the registry runs with `owner_is_tenant = false`. `None` for a caller without
    /// a tenant (and for the no-token admin), who owns nothing and is a member of nothing.
    pub owner: Option<String>,
    /// For logs only.
    pub tenant: Option<String>,
    pub user: Option<String>,
    pub roles: Vec<String>,
    /// A reader (Glance's secure RBAC): may read what it can see, never change anything.
    pub read_only: bool,
}

impl Caller {
    /// The no-token caller of the reference's "noauth" mode.
    pub fn anonymous_admin() -> Self {
        Caller {
            is_admin: true,
            ..Caller::default()
        }
    }

    /// A caller authenticated by the front end. Role `admin` (any case) makes an admin.
    pub fn authenticated(
        tenant: Option<String>,
        user: Option<String>,
        roles: Vec<String>,
        owner_is_tenant: bool,
    ) -> Self {
        let is_admin = roles.iter().any(|r| r.eq_ignore_ascii_case("admin"));
        let owner = if owner_is_tenant {
            tenant.clone()
        } else {
            user.clone()
        };
        Caller {
            is_admin,
            owner,
            tenant,
            user,
            roles,
            read_only: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_role_is_case_insensitive_and_owner_follows_config() {
        let c = Caller::authenticated(
            Some("t1".into()),
            Some("u1".into()),
            vec!["member".into(), "Admin".into()],
            true,
        );
        assert!(c.is_admin);
        assert_eq!(c.owner.as_deref(), Some("t1"));
        let c = Caller::authenticated(Some("t1".into()), Some("u1".into()), vec![], false);
        assert!(!c.is_admin);
        assert_eq!(c.owner.as_deref(), Some("u1"));
    }
}
