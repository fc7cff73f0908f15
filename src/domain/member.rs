//! Image memberships: sharing a private image with other tenants.

use super::{ImageId, MemberStatus, Timestamp};
use crate::error::Error;
use serde::Serialize;

/// One tenant's membership of one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Membership {
    pub member_id: String,
    /// May this member share the image further? (v1 only)
    pub can_share: bool,
    /// The member project's answer (v2 only; v1 rows start pending).
    #[serde(skip)]
    pub status: MemberStatus,
    #[serde(skip)]
    pub created_at: Option<Timestamp>,
    #[serde(skip)]
    pub updated_at: Option<Timestamp>,
}

/// One image shared with a member, as `/shared-images/<member>` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SharedImage {
    pub image_id: ImageId,
    pub can_share: bool,
}

/// One entry of a replacement member list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberGrant {
    pub member_id: String,
    /// `None`: the request did not say.
    pub can_share: Option<bool>,
}

/// Member ids are opaque tenant ids: non-empty, at most 255 characters, no NUL.
pub fn check_member_id(member: &str) -> Result<(), Error> {
    if member.is_empty() || member.chars().count() > 255 || member.contains('\0') {
        return Err(Error::bad_request(
            "Invalid member id: it must be 1 to 255 characters without NUL",
        ));
    }
    Ok(())
}

/// The memberships a replacement list asks for, given the `current` ones: an entry that does
/// not say `can_share` keeps the member's flag, and a new member gets false.
pub fn resolve_grants(grants: Vec<MemberGrant>, current: &[Membership]) -> Vec<Membership> {
    grants
        .into_iter()
        .map(|g| {
            let kept = || {
                current
                    .iter()
                    .find(|m| m.member_id == g.member_id)
                    .is_some_and(|m| m.can_share)
            };
            Membership {
                can_share: g.can_share.unwrap_or_else(kept),
                member_id: g.member_id,
                status: MemberStatus::Pending,
                created_at: None,
                updated_at: None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(id: &str, can_share: Option<bool>) -> MemberGrant {
        MemberGrant {
            member_id: id.into(),
            can_share,
        }
    }

    fn member(id: &str, can_share: bool) -> Membership {
        Membership {
            member_id: id.into(),
            can_share,
            status: MemberStatus::Pending,
            created_at: None,
            updated_at: None,
        }
    }

    #[test]
    fn unsaid_can_share_is_kept_and_new_members_get_false() {
        let current = [
            member("kept", true),
            member("reset", true),
            member("gone", true),
        ];
        let got = resolve_grants(
            vec![
                grant("kept", None),
                grant("reset", Some(false)),
                grant("new", None),
                grant("new-sharer", Some(true)),
            ],
            &current,
        );
        assert_eq!(
            got,
            [
                member("kept", true),
                member("reset", false),
                member("new", false),
                member("new-sharer", true)
            ]
        );
    }
}
