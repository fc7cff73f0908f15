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
        Some(Bool(image.visibility.is_public())),
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

/// How much of a response's header block the `x-image-meta-*` headers may take. Clients and
/// proxies refuse responses with too many or too large headers (Python's `http.client` more
/// than 100 lines, nginx more than its `proxy_buffer_size`, 4 KiB by default); the JSON body
/// of `GET` carries everything, so the headers stop within the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderBudget {
    /// Header lines.
    pub max_headers: usize,
    /// Bytes, counting each line as `name: value` plus its line end.
    pub max_bytes: usize,
}

impl Default for HeaderBudget {
    /// Room left for the other headers of the response (about ten lines, a few hundred
    /// bytes) within 100 lines and 4 KiB.
    fn default() -> Self {
        HeaderBudget {
            max_headers: 64,
            max_bytes: 3072,
        }
    }
}

/// Set when some `x-image-meta-*` headers were left out: how many, and where to read them all.
pub const INCOMPLETE_HEADER: &str = "x-glimpse-meta-incomplete";

/// The size of a header line on the wire: `name: value\r\n`.
fn line_bytes(name: &HeaderName, value: &HeaderValue) -> usize {
    name.as_str().len() + value.len() + 4
}

/// Adds the `x-image-meta-*` headers of `image` to `headers` within `budget`: the base fields
/// in [`META_FIELDS`] order, then the properties by name, until the first that does not fit.
/// If any are left out, [`INCOMPLETE_HEADER`] says how many and that the JSON body of `GET`
/// has them all.
pub fn add_image_meta(headers: &mut HeaderMap, image: &Image, budget: HeaderBudget) {
    let base = field_headers()
        .iter()
        .zip(meta_fields(image))
        .filter_map(|(name, value)| Some((name.clone()?, meta_value(value?))));
    let properties = image
        .properties
        .iter()
        .filter_map(|(k, v)| Some((property_header(k)?, header_value(v))));
    let mut lines = 0;
    let mut bytes = 0;
    let mut omitted = 0;
    headers.reserve(META_FIELDS.len() + image.properties.len().min(budget.max_headers));
    for (name, value) in base.chain(properties) {
        let size = line_bytes(&name, &value);
        if omitted > 0 || lines >= budget.max_headers || bytes + size > budget.max_bytes {
            omitted += 1;
            continue;
        }
        lines += 1;
        bytes += size;
        // Property names that differ only in case share a header: the later one wins.
        if let Some(old) = headers.insert(name.clone(), value) {
            lines -= 1;
            bytes -= line_bytes(&name, &old);
        }
    }
    if omitted > 0 {
        let note = format!(
            "{omitted} omitted; the JSON body of GET /images/{} has every field",
            image.id
        );
        if let Ok(v) = HeaderValue::from_str(&note) {
            headers.insert(INCOMPLETE_HEADER, v);
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
