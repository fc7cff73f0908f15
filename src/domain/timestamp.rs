//! Timestamps: UTC, microsecond precision, ISO 8601 on the wire.

use crate::error::Error;
use serde::{Serialize, Serializer};
use std::fmt;
use time::format_description::well_known::Iso8601;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// A UTC instant truncated to microseconds, the precision every backend stores exactly, so a
/// value read back compares equal to the value written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(PrimitiveDateTime);

const WIRE: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]");
const SQL_TEXT: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:6]");

impl Timestamp {
    pub fn now() -> Self {
        let now = OffsetDateTime::now_utc();
        Self::from_primitive(PrimitiveDateTime::new(now.date(), now.time()))
    }

    /// Truncates to microseconds.
    pub fn from_primitive(t: PrimitiveDateTime) -> Self {
        let micros = t.nanosecond() / 1_000 * 1_000;
        Timestamp(t.replace_nanosecond(micros).unwrap_or(t))
    }

    pub fn as_primitive(self) -> PrimitiveDateTime {
        self.0
    }

    /// Parses any ISO 8601 date-time a client may send in `changes-since`: with `T` or a space,
    /// with or without a fraction, with `Z`, an offset, or nothing (taken as UTC).
    pub fn parse_iso8601(s: &str) -> Result<Self, Error> {
        let bad = || {
            Error::bad_request(format!(
                "Invalid changes-since value '{s}': expected an ISO 8601 date-time such as 2011-09-27T14:03:11Z"
            ))
        };
        let normalized = s.trim().replacen(' ', "T", 1);
        if let Ok(t) = OffsetDateTime::parse(&normalized, &Iso8601::DEFAULT) {
            // In UTC the instant may fall outside the calendar (`9999-12-31T23:00-02:00`).
            let utc = t.checked_to_offset(UtcOffset::UTC).ok_or_else(bad)?;
            return in_range(PrimitiveDateTime::new(utc.date(), utc.time())).ok_or_else(bad);
        }
        if let Ok(t) = PrimitiveDateTime::parse(&normalized, &Iso8601::DEFAULT) {
            return in_range(t).ok_or_else(bad);
        }
        Err(bad())
    }

    /// The fixed-width text form used where a backend stores timestamps as text (SQLite):
    /// fixed width makes text order equal time order.
    pub fn to_sql_text(self) -> String {
        self.0.format(SQL_TEXT).unwrap_or_default()
    }

    pub fn from_sql_text(s: &str) -> Result<Self, Error> {
        PrimitiveDateTime::parse(s, SQL_TEXT)
            .or_else(|_| PrimitiveDateTime::parse(&s.replacen(' ', "T", 1), &Iso8601::DEFAULT))
            .map(Self::from_primitive)
            .map_err(|e| Error::Internal(format!("bad timestamp '{s}' in database: {e}")))
    }

    /// Microseconds since the Unix epoch, for compact export and ETags.
    pub fn unix_micros(self) -> i128 {
        self.0.assume_utc().unix_timestamp_nanos() / 1_000
    }
}

/// Years 1 to 9999: what every backend stores and compares (MySQL cannot take year 0 or less).
fn in_range(t: PrimitiveDateTime) -> Option<Timestamp> {
    (1..=9999)
        .contains(&t.year())
        .then(|| Timestamp::from_primitive(t))
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.format(WIRE) {
            Ok(s) => f.write_str(&s),
            Err(_) => Err(fmt::Error),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse_iso8601(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_clients_send() {
        let z = Timestamp::parse_iso8601("2011-09-27T14:03:11Z").unwrap();
        assert_eq!(z.to_string(), "2011-09-27T14:03:11.000000");
        let frac = Timestamp::parse_iso8601("2011-09-27T14:03:11.123456").unwrap();
        assert_eq!(frac.to_string(), "2011-09-27T14:03:11.123456");
        let off = Timestamp::parse_iso8601("2011-09-27T16:03:11.5+02:00").unwrap();
        assert_eq!(off.to_string(), "2011-09-27T14:03:11.500000");
        let space = Timestamp::parse_iso8601("2011-09-27 14:03:11").unwrap();
        assert_eq!(space, z);
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "",
            "yesterday",
            "2011-13-45T00:00:00",
            "2011-09-27T14:03:11Zjunk",
            "9999-12-31T23:59:59-01:00",
            "0000-01-01T00:00:00+01:00",
            "0000-06-01T00:00:00Z",
        ] {
            assert!(Timestamp::parse_iso8601(s).is_err(), "{s}");
        }
    }

    #[test]
    fn sql_text_round_trips_and_orders() {
        let a = Timestamp::parse_iso8601("2011-09-27T14:03:11.000009Z").unwrap();
        let b = Timestamp::parse_iso8601("2011-09-27T14:03:11.1Z").unwrap();
        assert_eq!(Timestamp::from_sql_text(&a.to_sql_text()).unwrap(), a);
        assert!(a.to_sql_text() < b.to_sql_text());
    }
}
