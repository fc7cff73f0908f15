//! Which bytes of an image's data a download asks for, and how that resolves against the
//! data's size (RFC 9110 §14.1.2, with Glance's choices: one range only; an end past the data
//! is clamped; a suffix longer than the data is the whole of it).

use crate::error::{Error, Result};

/// A range as the client wrote it, before the data's size is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// `a-b`, both inclusive.
    FromTo(u64, u64),
    /// `a-`: from `a` to the end.
    From(u64),
    /// `-n`: the last `n` bytes.
    Suffix(u64),
}

/// A resolved, non-empty range: `start..=end` within the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

impl ByteRange {
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }
}

impl RangeRequest {
    /// The bytes this asks for out of `size`; 416 when none of them exist.
    pub fn resolve(self, size: u64) -> Result<ByteRange> {
        let unsatisfiable = Err(Error::RangeNotSatisfiable { size });
        if size == 0 {
            return unsatisfiable;
        }
        match self {
            RangeRequest::FromTo(a, b) if a <= b && a < size => Ok(ByteRange {
                start: a,
                end: b.min(size - 1),
            }),
            RangeRequest::From(a) if a < size => Ok(ByteRange {
                start: a,
                end: size - 1,
            }),
            RangeRequest::Suffix(n) if n > 0 => Ok(ByteRange {
                start: size.saturating_sub(n),
                end: size - 1,
            }),
            _ => unsatisfiable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_resolve_like_glance() {
        let r = |q: RangeRequest, size| q.resolve(size).map(|b| (b.start, b.end));
        assert_eq!(r(RangeRequest::FromTo(0, 9), 100), Ok((0, 9)));
        assert_eq!(r(RangeRequest::FromTo(90, 200), 100), Ok((90, 99)));
        assert_eq!(r(RangeRequest::From(10), 100), Ok((10, 99)));
        assert_eq!(r(RangeRequest::Suffix(10), 100), Ok((90, 99)));
        assert_eq!(r(RangeRequest::Suffix(500), 100), Ok((0, 99)));
        let none = Err(Error::RangeNotSatisfiable { size: 100 });
        assert_eq!(r(RangeRequest::From(100), 100), none);
        assert_eq!(r(RangeRequest::FromTo(5, 4), 100), none);
        assert_eq!(r(RangeRequest::Suffix(0), 100), none);
        assert_eq!(
            r(RangeRequest::From(0), 0),
            Err(Error::RangeNotSatisfiable { size: 0 })
        );
    }
}
