//! A v2 PATCH body: the two JSON-patch media types Glance reads, checked operation by
//! operation before the image is looked up (so a bad patch is 415/400/403 even for an id
//! that does not exist), and turned into typed [`Change`]s.

use super::image_body::{WRITABLE, check_no_4byte, extra_value, field_value, is_read_only_root};
use crate::domain::formats::Formats;
use crate::domain::patch::Change;
use crate::error::{Error, Result};
use axum::http::HeaderMap;
use serde_json::Value;

pub const V2_1: &str = "application/openstack-images-v2.1-json-patch";
pub const V2_0: &str = "application/openstack-images-v2.0-json-patch";
const ACCEPT_PATCH: &str =
    "application/openstack-images-v2.0-json-patch, application/openstack-images-v2.1-json-patch";

/// Which dialect a patch is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// RFC 6902 objects: `{"op", "path", "value"}`.
    V2_1,
    /// The draft-4 form: `{"add": "/path", "value"}`.
    V2_0,
}

fn bad(msg: impl Into<String>) -> Error {
    Error::bad_request(msg)
}

/// The dialect from `Content-Type` (parameters ignored); anything else is 415.
pub fn dialect(headers: &HeaderMap) -> Result<Dialect> {
    let ct = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    match ct.as_deref() {
        Some(V2_1) => Ok(Dialect::V2_1),
        Some(V2_0) => Ok(Dialect::V2_0),
        _ => Err(Error::UnsupportedMediaType {
            message: format!("Unsupported Content-Type for PATCH; use {V2_1}"),
            accept_patch: Some(ACCEPT_PATCH),
        }),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Remove,
    Replace,
}

fn op_of(name: &str) -> Result<Op> {
    match name {
        "add" => Ok(Op::Add),
        "remove" => Ok(Op::Remove),
        "replace" => Ok(Op::Replace),
        other => Err(bad(format!(
            "Unsupported patch operation '{other}': only add, remove and replace are"
        ))),
    }
}

/// A JSON pointer's segments, decoded (`~1` is `/`, `~0` is `~`) and trimmed.
fn segments(path: &str) -> Result<Vec<String>> {
    let invalid = || bad(format!("Invalid JSON pointer '{path}'"));
    let rest = path.strip_prefix('/').ok_or_else(invalid)?;
    let mut out = Vec::new();
    for raw in rest.split('/') {
        if raw.is_empty() {
            return Err(invalid());
        }
        let mut seg = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c == '~' {
                match chars.next() {
                    Some('0') => seg.push('~'),
                    Some('1') => seg.push('/'),
                    _ => return Err(invalid()),
                }
            } else {
                seg.push(c);
            }
        }
        out.push(seg.trim().to_owned());
    }
    Ok(out)
}

/// One operation: its op, path and value, from either dialect.
fn read_op(item: &Value, dialect: Dialect) -> Result<(Op, String, Option<Value>)> {
    let Value::Object(o) = item else {
        return Err(bad("Each patch operation must be a JSON object"));
    };
    let (op, path) = match dialect {
        Dialect::V2_1 => {
            let op = o
                .get("op")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("A patch operation needs an 'op'"))?;
            let op = op_of(op)?;
            let path = o
                .get("path")
                .ok_or_else(|| bad("A patch operation needs a 'path'"))?;
            (op, path)
        }
        Dialect::V2_0 => {
            let keys: Vec<&String> = o
                .keys()
                .filter(|k| {
                    ["add", "remove", "replace", "move", "copy", "test"].contains(&k.as_str())
                })
                .collect();
            match keys.as_slice() {
                [k] => (op_of(k)?, &o[k.as_str()]),
                [] => return Err(bad("A patch operation needs one of add, remove, replace")),
                _ => return Err(bad("A patch operation may name only one operation")),
            }
        }
    };
    let path = path
        .as_str()
        .ok_or_else(|| bad("The 'path' of a patch operation must be a string"))?
        .to_owned();
    Ok((op, path, o.get("value").cloned()))
}

/// The changes of a PATCH body, every operation checked in order (section 3.3).
pub fn parse(body: &[u8], dialect: Dialect, formats: &Formats) -> Result<Vec<Change>> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| bad(format!("Malformed JSON body: {e}")))?;
    let Value::Array(items) = v else {
        return Err(bad("A patch body must be a JSON array of operations"));
    };
    let mut changes = Vec::with_capacity(items.len());
    for item in &items {
        let (op, path, value) = read_op(item, dialect)?;
        let segs = segments(&path)?;
        let root = segs[0].as_str();
        let locations = root == "locations";
        let depth_ok = if locations {
            match op {
                Op::Replace => segs.len() == 1,
                _ => segs.len() == 2,
            }
        } else {
            segs.len() == 1
        };
        if !depth_ok {
            return Err(bad(format!("Invalid path '{path}': too deep")));
        }
        let value = match (op, value) {
            (Op::Add | Op::Replace, None) => {
                return Err(bad("add and replace operations need a 'value'"));
            }
            (_, v) => v,
        };
        if is_read_only_root(root) || root == "os_hash_algo" || root == "os_hash_value" {
            return Err(Error::Forbidden(format!(
                "Attribute '{root}' is read-only."
            )));
        }
        if let Some(v) = &value {
            check_no_4byte(v)?;
        }
        if root.chars().any(|c| c as u32 > 0xFFFF) {
            return Err(bad("4 byte unicode characters are not allowed"));
        }
        let change = if locations {
            Change::Locations
        } else if WRITABLE.contains(&root) {
            match (op, value) {
                (Op::Remove, _) => Change::RemoveBase(root.to_owned()),
                (Op::Add, Some(v)) if dialect == Dialect::V2_0 => {
                    field_value(root, &v, formats)?;
                    Change::AddExistingBase(root.to_owned())
                }
                (_, Some(v)) => Change::Set(field_value(root, &v, formats)?),
                (_, None) => return Err(bad("add and replace operations need a 'value'")),
            }
        } else {
            let value = match &value {
                Some(v) => Some(extra_value(root, v)?.ok_or_else(|| {
                    bad(format!(
                        "Setting '{root}' to null is not supported; remove it instead"
                    ))
                })?),
                None => {
                    extra_value(root, &Value::String(String::new()))?;
                    None
                }
            };
            let key = root.to_owned();
            match (op, value) {
                (Op::Add, Some(value)) => Change::AddExtra {
                    key,
                    value,
                    must_be_new: dialect == Dialect::V2_0,
                },
                (Op::Replace, Some(value)) => Change::ReplaceExtra { key, value },
                (Op::Remove, _) => Change::RemoveExtra(key),
                (_, None) => return Err(bad("add and replace operations need a 'value'")),
            }
        };
        changes.push(change);
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::patch::FieldValue;

    fn p(body: &str, d: Dialect) -> Result<Vec<Change>> {
        parse(body.as_bytes(), d, &Formats::default())
    }

    #[test]
    fn operations_are_checked_in_order() {
        use Dialect::*;
        assert!(matches!(p("{}", V2_1), Err(Error::BadRequest(_))));
        assert!(matches!(
            p(r#"[{"op": "move", "path": "/a"}]"#, V2_1),
            Err(Error::BadRequest(_))
        ));
        assert!(matches!(
            p(r#"[{"op": "add"}]"#, V2_1),
            Err(Error::BadRequest(_))
        ));
        assert!(matches!(
            p(r#"[{"op": "add", "path": "a", "value": "x"}]"#, V2_1),
            Err(Error::BadRequest(_))
        ));
        assert!(matches!(
            p(r#"[{"op": "add", "path": "/tags/-", "value": "x"}]"#, V2_1),
            Err(Error::BadRequest(_))
        ));
        assert!(matches!(
            p(r#"[{"op": "add", "path": "/a"}]"#, V2_1),
            Err(Error::BadRequest(_))
        ));
        assert!(matches!(
            p(
                r#"[{"op": "replace", "path": "/status", "value": "x"}]"#,
                V2_1
            ),
            Err(Error::Forbidden(_))
        ));
        assert!(matches!(
            p(
                r#"[{"op": "replace", "path": "/min_ram", "value": -1}]"#,
                V2_1
            ),
            Err(Error::BadRequest(_))
        ));
        assert!(matches!(
            p(r#"[{"add": "/a", "remove": "/b"}]"#, V2_0),
            Err(Error::BadRequest(_))
        ));
        assert_eq!(
            p(r#"[{"op": "replace", "path": "/name", "value": "n"}, {"op": "add", "path": "/a~1b", "value": "v"}]"#, V2_1).unwrap(),
            vec![
                Change::Set(FieldValue::Name(Some("n".into()))),
                Change::AddExtra { key: "a/b".into(), value: "v".into(), must_be_new: false }
            ]
        );
        assert_eq!(
            p(r#"[{"add": "/x", "value": "v"}]"#, V2_0).unwrap(),
            vec![Change::AddExtra {
                key: "x".into(),
                value: "v".into(),
                must_be_new: true
            }]
        );
        assert_eq!(
            p(
                r#"[{"op": "add", "path": "/locations/0", "value": {}}]"#,
                V2_1
            )
            .unwrap(),
            vec![Change::Locations]
        );
    }
}
