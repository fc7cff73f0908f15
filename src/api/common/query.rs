//! Query strings decoded into pairs, strictly.

use crate::error::{Error, Result};
use axum::http::Uri;

/// Decoded query pairs. Invalid percent-encoding and non-UTF-8 are rejected, not guessed at.
pub fn query_pairs(uri: &Uri) -> Result<Vec<(String, String)>> {
    let Some(q) = uri.query() else {
        return Ok(Vec::new());
    };
    let bytes = q.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%' {
            let ok = bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
            if !ok {
                return Err(Error::bad_request(
                    "The query string has invalid percent-encoding",
                ));
            }
        }
    }
    let mut out = Vec::new();
    for (k, v) in form_urlencoded::parse(bytes) {
        if k.contains('\u{FFFD}') || v.contains('\u{FFFD}') {
            return Err(Error::bad_request("The query string is not valid UTF-8"));
        }
        if v.contains('\0') || k.contains('\0') {
            return Err(Error::bad_request(
                "The query string must not contain NUL characters",
            ));
        }
        out.push((k.into_owned(), v.into_owned()));
    }
    Ok(out)
}
