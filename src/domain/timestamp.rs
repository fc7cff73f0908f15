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

    /// This instant `n` whole seconds later.
    pub fn plus_seconds(self, n: i64) -> Self {
        Timestamp(self.0.saturating_add(time::Duration::seconds(n)))
    }

    /// This instant without its fraction of a second (what v2 shows).
    pub fn whole_second(self) -> Self {
        Timestamp(self.0.replace_nanosecond(0).unwrap_or(self.0))
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
        match self.fixed_width(b' ') {
            Some(b) => b.as_str().to_owned(),
            None => self.0.format(SQL_TEXT).unwrap_or_default(),
        }
    }

    /// `YYYY-MM-DD<sep>HH:MM:SS.ffffff` written digit by digit. A single-image response
    /// carries four timestamps (two in the body, two in headers) and the general-purpose
    /// formatter was a visible part of its cost. `None` outside years 0 to 9999 (which the
    /// registry never stores), where the general formatter takes over.
    fn fixed_width(self, sep: u8) -> Option<FixedWidth> {
        let t = self.0;
        let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
        let mut b = *b"0000-00-00T00:00:00.000000";
        b[10] = sep;
        let mut put = |at: usize, width: usize, mut v: u32| {
            for i in (at..at + width).rev() {
                b[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, 4, year);
        put(5, 2, u32::from(u8::from(t.month())));
        put(8, 2, u32::from(t.day()));
        put(11, 2, u32::from(t.hour()));
        put(14, 2, u32::from(t.minute()));
        put(17, 2, u32::from(t.second()));
        put(20, 6, t.microsecond());
        Some(FixedWidth(b))
    }

    /// Hands the wire form (as `Display` writes it) to `f` without allocating when it can.
    pub fn with_wire_text<R>(self, f: impl FnOnce(&str) -> R) -> R {
        match self.fixed_width(b'T') {
            Some(b) => f(b.as_str()),
            None => f(&self.to_string()),
        }
    }

    /// Reads the fixed-width form [`Self::to_sql_text`] writes without the general parser
    /// (every image read decodes two or three timestamps); `None` for anything else.
    fn parse_fixed_width(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 26
            || b[4] != b'-'
            || b[7] != b'-'
            || !matches!(b[10], b' ' | b'T')
            || b[13] != b':'
            || b[16] != b':'
            || b[19] != b'.'
        {
            return None;
        }
        let num = |from: usize, to: usize| -> Option<u32> {
            b[from..to].iter().try_fold(0u32, |acc, &c| {
                c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
            })
        };
        let month = time::Month::try_from(u8::try_from(num(5, 7)?).ok()?).ok()?;
        let date = time::Date::from_calendar_date(
            i32::try_from(num(0, 4)?).ok()?,
            month,
            u8::try_from(num(8, 10)?).ok()?,
        )
        .ok()?;
        let time = time::Time::from_hms_micro(
            u8::try_from(num(11, 13)?).ok()?,
            u8::try_from(num(14, 16)?).ok()?,
            u8::try_from(num(17, 19)?).ok()?,
            num(20, 26)?,
        )
        .ok()?;
        Some(Timestamp(PrimitiveDateTime::new(date, time)))
    }

    pub fn from_sql_text(s: &str) -> Result<Self, Error> {
        if let Some(t) = Self::parse_fixed_width(s) {
            return Ok(t);
        }
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

/// A timestamp's fixed-width text, on the stack.
struct FixedWidth([u8; 26]);

impl FixedWidth {
    fn as_str(&self) -> &str {
        // Only ASCII digits and separators are ever written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(b) = self.fixed_width(b'T') {
            return f.write_str(b.as_str());
        }
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

    proptest::proptest! {
        /// The digit-by-digit forms are exactly what the general formatter and parser give.
        #[test]
        fn fixed_width_text_matches_the_general_formatter(
            day in 1i32..=3_652_059,
            micros in 0i64..86_400_000_000,
        ) {
            let date = time::Date::from_julian_day(day + 1_721_425).unwrap();
            let t = time::Time::MIDNIGHT + time::Duration::microseconds(micros);
            let ts = Timestamp(PrimitiveDateTime::new(date, t));
            let wire = ts.0.format(WIRE).unwrap();
            let sql = ts.0.format(SQL_TEXT).unwrap();
            proptest::prop_assert_eq!(ts.to_string(), wire);
            proptest::prop_assert_eq!(ts.to_sql_text(), sql.clone());
            proptest::prop_assert_eq!(Timestamp::parse_fixed_width(&sql), Some(ts));
            proptest::prop_assert_eq!(
                Timestamp::from_sql_text(&sql).unwrap().0,
                PrimitiveDateTime::parse(&sql, SQL_TEXT).unwrap()
            );
        }
    }

    #[test]
    fn the_fixed_width_reader_leaves_other_text_to_the_general_parser() {
        for s in [
            "2011-09-27 14:03:11",
            "2011-02-30 00:00:00.000000",
            "2011-09-27 14:03:1x.000000",
            "+011-09-27 14:03:11.000000",
        ] {
            assert_eq!(Timestamp::parse_fixed_width(s), None, "{s}");
        }
        // Without a fraction it still reads, through the general parser.
        assert_eq!(
            Timestamp::from_sql_text("2011-09-27 14:03:11")
                .unwrap()
                .to_string(),
            "2011-09-27T14:03:11.000000"
        );
    }
}
