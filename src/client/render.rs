//! Plain-text tables for people; every function returns a `String` ending in a newline.

use super::http::one_line;
// `image show` prints the detailed fields in the order of the `x-image-meta-*` headers.
use crate::api::v1::meta_headers::META_FIELDS as FIELDS;
use serde_json::Value;

/// A JSON value as a table cell: strings bare, null as `-`, control characters escaped.
pub fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "-".to_owned(),
        Some(Value::String(s)) => one_line(s),
        Some(other) => one_line(&other.to_string()),
    }
}

/// Columns padded to their widest cell (in characters), two spaces apart; `right` marks the
/// columns aligned to the right (numbers). Trailing spaces are trimmed.
pub fn table(header: &[&str], rows: &[Vec<String>], right: &[bool]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, (c, w)) in row.iter().zip(&widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let pad = w.saturating_sub(c.chars().count());
            if right.get(i).copied().unwrap_or(false) {
                line.push_str(&" ".repeat(pad));
                line.push_str(c);
            } else {
                line.push_str(c);
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `image list`: one line per image.
pub fn image_list(images: &[Value]) -> String {
    let rows: Vec<Vec<String>> = images
        .iter()
        .map(|i| {
            [
                "id",
                "name",
                "status",
                "disk_format",
                "container_format",
                "size",
            ]
            .iter()
            .map(|f| cell(i.get(*f)))
            .collect()
        })
        .collect();
    table(
        &[
            "ID",
            "NAME",
            "STATUS",
            "DISK_FORMAT",
            "CONTAINER_FORMAT",
            "SIZE",
        ],
        &rows,
        &[false, false, false, false, false, true],
    )
}

/// `image show`: one line per field, then one per property (`property:KEY`), then the ETag.
pub fn image_detail(image: &Value, etag: Option<&str>) -> String {
    let mut rows: Vec<Vec<String>> = FIELDS
        .iter()
        .map(|f| vec![(*f).to_owned(), cell(image.get(*f))])
        .collect();
    if let Some(obj) = image.as_object() {
        // Fields a newer registry may add, so that nothing is hidden.
        let mut extra: Vec<_> = obj
            .iter()
            .filter(|(k, _)| !FIELDS.contains(&k.as_str()) && k.as_str() != "properties")
            .collect();
        extra.sort_by(|a, b| a.0.cmp(b.0));
        rows.extend(
            extra
                .into_iter()
                .map(|(k, v)| vec![one_line(k), cell(Some(v))]),
        );
    }
    if let Some(props) = image.get("properties").and_then(Value::as_object) {
        let mut props: Vec<_> = props.iter().collect();
        props.sort_by(|a, b| a.0.cmp(b.0));
        rows.extend(
            props
                .into_iter()
                .map(|(k, v)| vec![format!("property:{}", one_line(k)), cell(Some(v))]),
        );
    }
    if let Some(tag) = etag {
        rows.push(vec!["etag".to_owned(), one_line(tag)]);
    }
    table(&["FIELD", "VALUE"], &rows, &[])
}

/// `member list`.
pub fn members(members: &[Value]) -> String {
    let rows: Vec<Vec<String>> = members
        .iter()
        .map(|m| vec![cell(m.get("member_id")), cell(m.get("can_share"))])
        .collect();
    table(&["MEMBER", "CAN_SHARE"], &rows, &[])
}

/// `shared TENANT`.
pub fn shared(shared: &[Value]) -> String {
    let rows: Vec<Vec<String>> = shared
        .iter()
        .map(|s| vec![cell(s.get("image_id")), cell(s.get("can_share"))])
        .collect();
    table(&["IMAGE_ID", "CAN_SHARE"], &rows, &[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn columns_are_aligned() {
        let t = image_list(&[
            json!({"id": "a", "name": "cirros", "status": "active", "disk_format": "qcow2",
                   "container_format": "bare", "size": 13}),
            json!({"id": "bb", "name": null, "status": "queued", "disk_format": null,
                   "container_format": null, "size": 1234}),
        ]);
        assert_eq!(
            t,
            "ID  NAME    STATUS  DISK_FORMAT  CONTAINER_FORMAT  SIZE\n\
             a   cirros  active  qcow2        bare                13\n\
             bb  -       queued  -            -                 1234\n"
        );
    }

    #[test]
    fn detail_lists_fields_properties_and_etag() {
        let t = image_detail(
            &json!({"id": "x", "name": "n\nm", "properties": {"b": "2", "a": "1"}, "extra": 5}),
            Some("\"x-1\""),
        );
        assert!(t.starts_with(
            "FIELD             VALUE\nid                x\nname              n\\nm\n"
        ));
        assert!(t.contains("\nextra             5\nproperty:a        1\nproperty:b        2\netag              \"x-1\"\n"), "{t}");
    }
}
