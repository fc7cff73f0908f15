//! The `Range` header of a download (and the legacy `Content-Range` request header Glance
//! still reads), parsed into a [`RangeRequest`]. One range only: several are 400; anything
//! that is not a byte range is 416, as Glance answers.

use crate::domain::byte_range::RangeRequest;
use crate::error::{Error, Result};
use axum::http::{HeaderMap, header};

/// The range a download asks for, if any. `size` is only for the 416 answer's header.
pub fn parse(headers: &HeaderMap, size: u64) -> Result<Option<RangeRequest>> {
    let unsatisfiable = || Error::RangeNotSatisfiable { size };
    if let Some(v) = headers.get(header::RANGE) {
        let v = v.to_str().map_err(|_| unsatisfiable())?;
        let spec = v.trim().strip_prefix("bytes=").ok_or_else(unsatisfiable)?;
        if spec.contains(',') {
            return Err(Error::bad_request(
                "Only one range may be requested at a time",
            ));
        }
        return range_spec(spec).map(Some).ok_or_else(unsatisfiable);
    }
    if let Some(v) = headers.get(header::CONTENT_RANGE) {
        // `bytes a-b/total` (or `/*`), the legacy form.
        let v = v.to_str().map_err(|_| unsatisfiable())?;
        let spec = v
            .trim()
            .strip_prefix("bytes ")
            .and_then(|s| s.split('/').next())
            .ok_or_else(unsatisfiable)?;
        return match range_spec(spec.trim()) {
            Some(r @ RangeRequest::FromTo(..)) => Ok(Some(r)),
            _ => Err(unsatisfiable()),
        };
    }
    Ok(None)
}

fn range_spec(spec: &str) -> Option<RangeRequest> {
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let num = |s: &str| -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
            None
        } else {
            s.parse().ok()
        }
    };
    match (a.is_empty(), b.is_empty()) {
        (true, false) => num(b).map(RangeRequest::Suffix),
        (false, true) => num(a).map(RangeRequest::From),
        (false, false) => Some(RangeRequest::FromTo(num(a)?, num(b)?)),
        (true, true) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(name: header::HeaderName, v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn reads_the_three_forms_and_refuses_the_rest() {
        let p = |v: &str| parse(&with(header::RANGE, v), 10);
        assert_eq!(p("bytes=0-4"), Ok(Some(RangeRequest::FromTo(0, 4))));
        assert_eq!(p("bytes=5-"), Ok(Some(RangeRequest::From(5))));
        assert_eq!(p("bytes=-3"), Ok(Some(RangeRequest::Suffix(3))));
        assert!(matches!(p("bytes=0-1,3-4"), Err(Error::BadRequest(_))));
        for bad in [
            "bytes=a-b",
            "items=0-1",
            "bytes=-",
            "bytes=1-2-3",
            "bytes=+1-2",
        ] {
            assert_eq!(
                p(bad),
                Err(Error::RangeNotSatisfiable { size: 10 }),
                "{bad}"
            );
        }
        let legacy = parse(&with(header::CONTENT_RANGE, "bytes 2-5/10"), 10);
        assert_eq!(legacy, Ok(Some(RangeRequest::FromTo(2, 5))));
        assert_eq!(parse(&HeaderMap::new(), 10), Ok(None));
    }
}
