//! Rendering an image as `x-image-meta-*` headers, and the `Link` header of list pages.

use crate::domain::{Image, Timestamp};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use percent_encoding::{AsciiSet, CONTROLS, NON_ALPHANUMERIC, utf8_percent_encode};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::OnceLock;

/// The fields rendered as `x-image-meta-<field>` headers, in order.
pub const META_FIELDS: [&str; 18] = [
    "id",
    "name",
    "status",
    "disk_format",
    "container_format",
    "size",
    "virtual_size",
    "checksum",
    "min_disk",
    "min_ram",
    "is_public",
    "protected",
    "owner",
    "created_at",
    "updated_at",
    "deleted_at",
    "deleted",
    "location",
];

/// One `x-image-meta-*` value before rendering. Booleans render `True`/`False`, as the
/// reference wrote them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MetaValue<'a> {
    Text(&'a str),
    Int(i64),
    Bool(bool),
    Time(Timestamp),
}

/// The values of the `x-image-meta-*` headers, in [`META_FIELDS`] order: `None` for a null
/// field. Borrowed and typed rather than rendered to strings, since every
/// `GET`/`HEAD /images/<id>` renders all of them.
fn meta_fields(image: &Image) -> [Option<MetaValue<'_>>; META_FIELDS.len()] {
    use MetaValue::{Bool, Int, Text, Time};
    [
        Some(Text(image.id.as_str())),
        image.name.as_deref().map(Text),
        Some(Text(image.status.as_str())),
        image.disk_format.as_deref().map(Text),
        image.container_format.as_deref().map(Text),
        image.size.map(Int),
        image.virtual_size.map(Int),
        image.checksum.as_deref().map(Text),
        Some(Int(image.min_disk)),
        Some(Int(image.min_ram)),
        Some(Bool(image.is_public)),
        Some(Bool(image.protected)),
        image.owner.as_deref().map(Text),
        Some(Time(image.created_at)),
        Some(Time(image.updated_at)),
        image.deleted_at.map(Time),
        Some(Bool(image.deleted)),
        image.location.as_deref().map(Text),
    ]
}

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

/// The header names of the fixed image fields, in [`META_FIELDS`] order, built once.
fn field_headers() -> &'static [Option<HeaderName>; META_FIELDS.len()] {
    static NAMES: OnceLock<[Option<HeaderName>; META_FIELDS.len()]> = OnceLock::new();
    NAMES.get_or_init(|| META_FIELDS.map(|f| header_name("x-image-meta-", f)))
}

/// The header name of a property, from a small per-thread cache: catalogs reuse a handful of
/// property names, and building a custom header name allocates twice.
fn property_header(name: &str) -> Option<HeaderName> {
    /// Enough for every name a real catalog uses; a flood of distinct names only resets it.
    const CAPACITY: usize = 256;
    thread_local! {
        static NAMES: RefCell<HashMap<String, HeaderName>> = RefCell::new(HashMap::new());
    }
    NAMES.with(|cell| {
        let mut names = cell.borrow_mut();
        if let Some(h) = names.get(name) {
            return Some(h.clone());
        }
        let h = header_name("x-image-meta-property-", name)?;
        if names.len() >= CAPACITY {
            names.clear();
        }
        names.insert(name.to_owned(), h.clone());
        Some(h)
    })
}

fn meta_value(v: MetaValue<'_>) -> HeaderValue {
    match v {
        MetaValue::Text(s) => header_value(s),
        MetaValue::Int(i) => HeaderValue::from(i),
        MetaValue::Bool(true) => HeaderValue::from_static("True"),
        MetaValue::Bool(false) => HeaderValue::from_static("False"),
        MetaValue::Time(t) => t.with_wire_text(header_value),
    }
}

/// Adds the `x-image-meta-*` headers of `image` to `headers`.
pub fn add_image_meta(headers: &mut HeaderMap, image: &Image) {
    headers.reserve(META_FIELDS.len() + image.properties.len());
    for (name, value) in field_headers().iter().zip(meta_fields(image)) {
        if let (Some(name), Some(value)) = (name, value) {
            headers.insert(name.clone(), meta_value(value));
        }
    }
    for (k, v) in &image.properties {
        if let Some(name) = property_header(k) {
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
