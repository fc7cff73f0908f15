//! Who an image is for (Glance's `visibility`, one column shared by both APIs), and the
//! status of one project's membership of a shared image.

use crate::error::Error;
use std::fmt;
use std::str::FromStr;

/// An image's visibility. The v1 registry API sees only `is_public`, which is
/// `visibility == Public` on reads; its writes map `true` to `Public` and `false` to `Shared`
/// (the rules Glance ran while both APIs served one database).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ImageVisibility {
    /// Readable and listed for everyone.
    Public,
    /// Readable by everyone, listed only for its owner or on request.
    Community,
    /// Readable by its owner and its member projects; the default of a new image.
    #[default]
    Shared,
    /// Its owner (and admins) only.
    Private,
}

impl ImageVisibility {
    pub const ALL: [ImageVisibility; 4] = [
        ImageVisibility::Public,
        ImageVisibility::Community,
        ImageVisibility::Shared,
        ImageVisibility::Private,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ImageVisibility::Public => "public",
            ImageVisibility::Community => "community",
            ImageVisibility::Shared => "shared",
            ImageVisibility::Private => "private",
        }
    }

    /// What the v1 API calls `is_public`.
    pub fn is_public(self) -> bool {
        self == ImageVisibility::Public
    }

    /// What a v1 write of `is_public` means.
    pub fn from_is_public(is_public: bool) -> Self {
        if is_public {
            ImageVisibility::Public
        } else {
            ImageVisibility::Shared
        }
    }
}

impl FromStr for ImageVisibility {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        ImageVisibility::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                Error::bad_request(format!(
                    "Invalid visibility '{s}': it must be one of public, community, shared, private"
                ))
            })
    }
}

impl fmt::Display for ImageVisibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ImageVisibility {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ImageVisibility {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Where a member project stands on a shared image (v2). v1 writes leave new rows `Pending`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MemberStatus {
    #[default]
    Pending,
    Accepted,
    Rejected,
}

impl MemberStatus {
    pub const ALL: [MemberStatus; 3] = [
        MemberStatus::Pending,
        MemberStatus::Accepted,
        MemberStatus::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Pending => "pending",
            MemberStatus::Accepted => "accepted",
            MemberStatus::Rejected => "rejected",
        }
    }
}

impl FromStr for MemberStatus {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        MemberStatus::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                Error::bad_request(format!(
                    "Invalid member status '{s}': it must be one of pending, accepted, rejected"
                ))
            })
    }
}

impl serde::Serialize for MemberStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for MemberStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_v1_maps_to_public_or_shared() {
        for v in ImageVisibility::ALL {
            assert_eq!(v.as_str().parse::<ImageVisibility>().ok(), Some(v));
        }
        assert!("Public".parse::<ImageVisibility>().is_err());
        assert_eq!(
            ImageVisibility::from_is_public(false),
            ImageVisibility::Shared
        );
        assert!(ImageVisibility::from_is_public(true).is_public());
        assert!(!ImageVisibility::Community.is_public());
        for s in MemberStatus::ALL {
            assert_eq!(s.as_str().parse::<MemberStatus>().ok(), Some(s));
        }
    }
}
