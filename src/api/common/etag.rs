//! Entity tags on the wire: the `ETag` of an image, and `If-Match` / `If-None-Match` read into
//! a typed [`Precondition`].

use crate::domain::Image;
use crate::domain::precondition::Precondition;
use crate::error::Error;
use axum::http::{HeaderMap, HeaderValue, header};

/// The strong entity tag of an image's current version.
pub fn etag(image: &Image) -> String {
    format!("\"{}\"", image.version_tag())
}

pub fn etag_header(image: &Image) -> HeaderValue {
    HeaderValue::from_str(&etag(image)).unwrap_or_else(|_| HeaderValue::from_static("\"\""))
}

/// The version tags of a comma-separated list of entity tags. `*` is any version; weak tags
/// (`W/"…"`) count only where `weak` comparison applies; anything else names no version.
fn tags(list: &str, weak: bool) -> Precondition {
    let mut out = Vec::new();
    for t in list.split(',').map(str::trim) {
        if t == "*" {
            return Precondition::Any;
        }
        let t = match t.strip_prefix("W/") {
            Some(inner) if weak => inner,
            Some(_) => continue,
            None => t,
        };
        if let Some(opaque) = t.strip_prefix('"').and_then(|rest| rest.strip_suffix('"')) {
            out.push(opaque.to_owned());
        }
    }
    Precondition::OneOf(out)
}

/// `If-Match` of a write (strong comparison). Not ASCII: 400.
pub fn if_match(headers: &HeaderMap) -> Result<Precondition, Error> {
    match headers.get(header::IF_MATCH) {
        None => Ok(Precondition::None),
        Some(v) => v
            .to_str()
            .map(|s| tags(s, false))
            .map_err(|_| Error::bad_request("If-Match must be an ASCII entity tag")),
    }
}

/// `If-None-Match` of a read (weak comparison): whether the client's copy is current. A value
/// that is not ASCII names no version.
pub fn not_modified(headers: &HeaderMap, image: &Image) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| tags(v, true).holds(image))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_of_tags() {
        assert_eq!(tags(" * ", false), Precondition::Any);
        assert_eq!(
            tags("\"a-1\", W/\"b-2\", c-3", false),
            Precondition::OneOf(vec!["a-1".into()])
        );
        assert_eq!(
            tags("W/\"b-2\"", true),
            Precondition::OneOf(vec!["b-2".into()])
        );
        assert_eq!(tags("\"", false), Precondition::OneOf(vec![]));
    }
}
