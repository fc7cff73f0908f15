//! Image statuses.

use crate::error::Error;
use std::fmt;
use std::str::FromStr;

/// The life-cycle state of an image. The seed's four, the reference's two more, and the three
/// later Glance releases added (so that newer API servers can still use glimpse).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Queued,
    Saving,
    Active,
    Killed,
    PendingDelete,
    Deleted,
    Deactivated,
    Uploading,
    Importing,
}

impl Status {
    pub const ALL: [Status; 9] = [
        Status::Queued,
        Status::Saving,
        Status::Active,
        Status::Killed,
        Status::PendingDelete,
        Status::Deleted,
        Status::Deactivated,
        Status::Uploading,
        Status::Importing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Saving => "saving",
            Status::Active => "active",
            Status::Killed => "killed",
            Status::PendingDelete => "pending_delete",
            Status::Deleted => "deleted",
            Status::Deactivated => "deactivated",
            Status::Uploading => "uploading",
            Status::Importing => "importing",
        }
    }

    fn allowed() -> String {
        Status::ALL.map(Status::as_str).join(", ")
    }
}

impl FromStr for Status {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                Error::bad_request(format!(
                    "Invalid status '{s}': status must be one of {}",
                    Status::allowed()
                ))
            })
    }
}

impl serde::Serialize for Status {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Status {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_status() {
        for st in Status::ALL {
            assert_eq!(st.as_str().parse::<Status>(), Ok(st));
        }
    }

    #[test]
    fn rejects_empty_and_unknown() {
        assert!("".parse::<Status>().is_err());
        assert!("ACTIVE".parse::<Status>().is_err());
        let msg = "bogus".parse::<Status>().unwrap_err().to_string();
        assert!(msg.contains("queued") && msg.contains("bogus"), "{msg}");
    }
}
