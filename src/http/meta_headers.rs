//! Rendering an image as `x-image-meta-*` headers, and the `Link` header of list pages.

use crate::domain::Image;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use percent_encoding::{AsciiSet, CONTROLS, NON_ALPHANUMERIC, utf8_percent_encode};

/// In a value needing encoding: controls, non-ASCII (always), `%` itself, so decoding is
/// unambiguous, and spaces, which a header parser would trim at either end.
const VALUE_SET: &AsciiSet = &CONTROLS.add(b'%').add(b' ');
/// In a header name: anything that is not an RFC 9110 token character, and `%` itself. Names
/// such as `os.version` stay readable, as the reference sent them.
const NAME_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'*')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// Printable ASCII that survives a header parser as is (which trims leading and trailing
/// whitespace).
fn is_plain(s: &str) -> bool {
    s.bytes().all(|b| (0x20..0x7f).contains(&b)) && !s.starts_with(' ') && !s.ends_with(' ')
}

/// A header value: as is when it is plain printable ASCII, else percent-encoded UTF-8.
pub fn header_value(s: &str) -> HeaderValue {
    let v = if is_plain(s) {
        HeaderValue::from_str(s)
    } else {
        HeaderValue::from_str(&utf8_percent_encode(s, VALUE_SET).to_string())
    };
    v.unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn header_name(prefix: &str, name: &str) -> Option<HeaderName> {
    let mut full = String::with_capacity(prefix.len() + name.len());
    full.push_str(prefix);
    // Fast path: names that are already lowercase token characters (nearly all of them).
    if name.bytes().all(|b| {
        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-' || b == b'.'
    }) {
        full.push_str(name);
    } else {
        full.extend(utf8_percent_encode(name, NAME_SET));
        full.make_ascii_lowercase();
    }
    HeaderName::from_bytes(full.as_bytes()).ok()
}

/// The header name of a fixed image field, built once.
fn field_header(field: &'static str) -> Option<HeaderName> {
    static NAMES: std::sync::OnceLock<Vec<(&'static str, HeaderName)>> = std::sync::OnceLock::new();
    let names = NAMES.get_or_init(|| {
        crate::domain::image::META_FIELDS
            .iter()
            .filter_map(|f| header_name("x-image-meta-", f).map(|h| (*f, h)))
            .collect()
    });
    names
        .iter()
        .find(|(f, _)| *f == field)
        .map(|(_, h)| h.clone())
}

/// Adds the `x-image-meta-*` headers of `image` to `headers`.
pub fn add_image_meta(headers: &mut HeaderMap, image: &Image) {
    headers.reserve(20 + image.properties.len());
    for (field, value) in image.meta_fields() {
        if let Some(name) = field_header(field) {
            headers.insert(name, header_value(&value));
        }
    }
    for (k, v) in &image.properties {
        if let Some(name) = header_name("x-image-meta-property-", k) {
            headers.insert(name, header_value(v));
        }
    }
}

/// `<path?query-with-marker>; rel="next"` for a full page.
pub fn next_link(path: &str, params: &[(String, String)], last_id: &str) -> Option<HeaderValue> {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params.iter().filter(|(k, _)| k != "marker") {
        ser.append_pair(k, v);
    }
    ser.append_pair("marker", last_id);
    HeaderValue::from_str(&format!("<{path}?{}>; rel=\"next\"", ser.finish())).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_encoded_only_when_needed() {
        assert_eq!(header_value("plain 100%"), "plain 100%");
        assert_eq!(header_value("é\n%"), "%C3%A9%0A%25");
        assert_eq!(header_value(" padded 1 "), "%20padded%201%20");
        assert_eq!(header_value("a é"), "a%20%C3%A9");
    }

    #[test]
    fn names_keep_token_characters() {
        let n = |s| header_name("x-image-meta-property-", s).unwrap();
        assert_eq!(n("os.Version"), "x-image-meta-property-os.version");
        assert_eq!(n("a b:é%"), "x-image-meta-property-a%20b%3a%c3%a9%25");
    }

    #[test]
    fn link_keeps_params_and_replaces_marker() {
        let p = vec![
            ("limit".into(), "2".into()),
            ("marker".into(), "old".into()),
            ("name".into(), "a b".into()),
        ];
        let l = next_link("/images/detail", &p, "abc").unwrap();
        assert_eq!(
            l,
            "</images/detail?limit=2&name=a+b&marker=abc>; rel=\"next\""
        );
    }
}
