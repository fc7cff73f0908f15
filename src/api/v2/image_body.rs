//! The v2 image on the wire: reading a create body (and single values of a patch) against
//! the image schema, and rendering an image as Glance does.

use crate::domain::draft::NewImage;
use crate::domain::formats::Formats;
use crate::domain::image::Tags;
use crate::domain::input::Field;
use crate::domain::patch::FieldValue;
use crate::domain::{Image, ImageId, Timestamp};
use crate::error::{Error, Result};
use serde_json::{Map, Value};

/// Keys a create body may not carry at all (Glance's `_disallowed_properties`).
const DISALLOWED: [&str; 5] = ["self", "file", "schema", "direct_url", "stores"];
/// Keys only the server writes.
const READ_ONLY: [&str; 8] = [
    "status",
    "checksum",
    "size",
    "virtual_size",
    "created_at",
    "updated_at",
    "os_hash_algo",
    "os_hash_value",
];
/// Keys reserved on create.
const RESERVED: [&str; 4] = ["locations", "location", "deleted", "deleted_at"];

/// The base fields a client may write, by name.
pub const WRITABLE: [&str; 11] = [
    "id",
    "name",
    "visibility",
    "protected",
    "os_hidden",
    "owner",
    "container_format",
    "disk_format",
    "min_disk",
    "min_ram",
    "tags",
];

/// Every base field of the image entity (they are never extra properties).
pub const BASE: [&str; 22] = [
    "id",
    "name",
    "status",
    "visibility",
    "protected",
    "os_hidden",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "owner",
    "size",
    "virtual_size",
    "container_format",
    "disk_format",
    "min_disk",
    "min_ram",
    "created_at",
    "updated_at",
    "tags",
    "self",
    "file",
    "schema",
];

/// Properties kept for Glance's own bookkeeping, never shown.
const HIDDEN_PROPERTIES: [&str; 2] = ["os_glance_stage_host", "os_glance_hash_op_host"];

pub const MAX_KEY: usize = 255;

fn bad(msg: impl Into<String>) -> Error {
    Error::bad_request(msg)
}

/// No string anywhere in the value (keys included) has a character outside the Basic
/// Multilingual Plane (Glance's `no_4byte_params`: MySQL's utf8 could not store them).
pub fn check_no_4byte(v: &Value) -> Result<()> {
    let four = |s: &str| s.chars().any(|c| c as u32 > 0xFFFF);
    let ok = match v {
        Value::String(s) => !four(s),
        Value::Array(a) => return a.iter().try_for_each(check_no_4byte),
        Value::Object(o) => {
            for (k, v) in o {
                if four(k) {
                    return Err(bad("4 byte unicode characters are not allowed"));
                }
                check_no_4byte(v)?;
            }
            true
        }
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(bad("4 byte unicode characters are not allowed"))
    }
}

fn is_uuid_pattern(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn string_or_null(key: &str, v: &Value, max: usize) -> Result<Option<String>> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.chars().count() <= max => Ok(Some(s.clone())),
        Value::String(_) => Err(bad(format!(
            "Invalid value for '{key}': longer than {max} characters"
        ))),
        _ => Err(bad(format!(
            "Invalid value for '{key}': it must be a string or null"
        ))),
    }
}

fn boolean(key: &str, v: &Value) -> Result<bool> {
    v.as_bool()
        .ok_or_else(|| bad(format!("Invalid value for '{key}': it must be a boolean")))
}

fn non_negative(key: &str, v: &Value) -> Result<i64> {
    match v.as_i64() {
        Some(n) if n >= 0 => Ok(n),
        _ => Err(bad(format!(
            "Invalid value for '{key}': it must be an integer of at least 0"
        ))),
    }
}

fn format_of(key: &str, v: &Value, allowed: &[String]) -> Result<Option<String>> {
    match string_or_null(key, v, 255)? {
        None => Ok(None),
        Some(f) if allowed.contains(&f) => Ok(Some(f)),
        Some(f) => Err(bad(format!(
            "Invalid value '{f}' for '{key}': it must be one of {}",
            allowed.join(", ")
        ))),
    }
}

/// A tag: a string of at most 255 characters.
pub fn check_tag(tag: &str) -> Result<()> {
    if tag.chars().count() > 255 {
        return Err(bad("Tags are at most 255 characters long"));
    }
    if tag.chars().any(|c| c as u32 > 0xFFFF) {
        return Err(bad("4 byte unicode characters are not allowed"));
    }
    Ok(())
}

fn tags(v: &Value) -> Result<Tags> {
    let Value::Array(items) = v else {
        return Err(bad(
            "Invalid value for 'tags': it must be an array of strings",
        ));
    };
    let mut out = Tags::new();
    for t in items {
        let t = t
            .as_str()
            .ok_or_else(|| bad("Invalid value for 'tags': it must be an array of strings"))?;
        check_tag(t)?;
        out.insert(t.to_owned());
    }
    Ok(out)
}

/// A writable base field's value, checked against the schema.
pub fn field_value(key: &str, v: &Value, formats: &Formats) -> Result<FieldValue> {
    Ok(match key {
        "name" => FieldValue::Name(string_or_null(key, v, 255)?),
        "visibility" => FieldValue::Visibility(
            v.as_str()
                .ok_or_else(|| bad("Invalid value for 'visibility': it must be a string"))?
                .parse()?,
        ),
        "protected" => FieldValue::Protected(boolean(key, v)?),
        "os_hidden" => FieldValue::OsHidden(boolean(key, v)?),
        "owner" => FieldValue::Owner(string_or_null(key, v, 255)?),
        "container_format" => FieldValue::ContainerFormat(format_of(key, v, &formats.container)?),
        "disk_format" => FieldValue::DiskFormat(format_of(key, v, &formats.disk)?),
        "min_disk" => FieldValue::MinDisk(non_negative(key, v)?),
        "min_ram" => FieldValue::MinRam(non_negative(key, v)?),
        "tags" => FieldValue::Tags(tags(v)?),
        other => return Err(bad(format!("'{other}' is not a writable attribute"))),
    })
}

/// An extra property's value: a string, checked against the schema's custom properties.
/// `Ok(None)` for a null where the schema allows one (`kernel_id`, `ramdisk_id`).
pub fn extra_value(key: &str, v: &Value) -> Result<Option<String>> {
    if key.chars().count() > MAX_KEY {
        return Err(bad(format!(
            "Property names are at most {MAX_KEY} characters long"
        )));
    }
    match (key, v) {
        ("kernel_id" | "ramdisk_id", Value::Null) => Ok(None),
        ("kernel_id" | "ramdisk_id", Value::String(s)) if !is_uuid_pattern(s) => Err(bad(format!(
            "Invalid value for '{key}': it must be null or an image id"
        ))),
        ("cinder_encryption_key_deletion_policy", Value::String(s))
            if s != "on_image_deletion" && s != "do_not_delete" =>
        {
            Err(bad(format!(
                "Invalid value for '{key}': it must be on_image_deletion or do_not_delete"
            )))
        }
        (_, Value::String(s)) => Ok(Some(s.clone())),
        _ => Err(bad(format!(
            "Invalid value for property '{key}': extra properties are strings"
        ))),
    }
}

fn is_reserved(key: &str) -> bool {
    RESERVED.contains(&key) || key.starts_with("os_glance")
}

/// Whether PATCH may not touch this root (403).
pub fn is_read_only_root(key: &str) -> bool {
    READ_ONLY.contains(&key)
        || [
            "direct_url",
            "self",
            "file",
            "schema",
            "id",
            "location",
            "deleted",
            "deleted_at",
        ]
        .contains(&key)
        || key.starts_with("os_glance")
}

/// A create body, in the order Glance checks it: syntax, disallowed keys, the schema, key
/// lengths and reserved keys. The policy, the tag quota and then read-only keys (recorded in
/// [`NewImage::read_only`]) come after, in the domain.
pub fn parse_create(body: &[u8], formats: &Formats) -> Result<NewImage> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| bad(format!("Malformed JSON body: {e}")))?;
    let Value::Object(obj) = v else {
        return Err(bad("The request body must be a JSON object"));
    };
    if let Some(k) = obj.keys().find(|k| DISALLOWED.contains(&k.as_str())) {
        return Err(Error::Forbidden(format!("Attribute '{k}' is read-only.")));
    }
    check_no_4byte(&Value::Object(obj.clone()))?;
    let mut new = NewImage::default();
    for (k, v) in &obj {
        match k.as_str() {
            "id" => {
                let s = v.as_str().filter(|s| is_uuid_pattern(s)).ok_or_else(|| {
                    bad("Invalid value for 'id': it must be a UUID such as 7c4f7e0c-2b8a-4a5e-9c2f-1e5a0b7f3d21")
                })?;
                new.id = ImageId::parse(s);
            }
            k if WRITABLE.contains(&k) => match field_value(k, v, formats)? {
                FieldValue::Name(n) => new.name = n,
                FieldValue::Visibility(x) => new.visibility = Some(x),
                FieldValue::Protected(p) => new.protected = Some(p),
                FieldValue::OsHidden(h) => new.os_hidden = Some(h),
                FieldValue::Owner(o) => {
                    new.owner = match o {
                        Some(o) => Field::Set(o),
                        None => Field::Null,
                    }
                }
                FieldValue::ContainerFormat(f) => new.container_format = f,
                FieldValue::DiskFormat(f) => new.disk_format = f,
                FieldValue::MinDisk(n) => new.min_disk = Some(n),
                FieldValue::MinRam(n) => new.min_ram = Some(n),
                FieldValue::Tags(t) => new.tags = t,
            },
            k if READ_ONLY.contains(&k) || is_reserved(k) => {}
            k => {
                if let Some(value) = extra_value(k, v)? {
                    new.properties.insert(k.to_owned(), value);
                }
            }
        }
    }
    if let Some(k) = obj.keys().find(|k| is_reserved(k)) {
        return Err(Error::Forbidden(format!("Attribute '{k}' is reserved.")));
    }
    new.read_only = obj
        .keys()
        .find(|k| READ_ONLY.contains(&k.as_str()))
        .cloned();
    Ok(new)
}

/// `YYYY-MM-DDTHH:MM:SSZ`, as Glance shows times.
pub fn v2_time(t: Timestamp) -> String {
    let p = t.as_primitive();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        p.year(),
        u8::from(p.month()),
        p.day(),
        p.hour(),
        p.minute(),
        p.second()
    )
}

/// The image as every v2 response shows it: all base fields (null where unset), its extra
/// properties as strings, and the three links.
pub fn render(i: &Image) -> Value {
    let mut m = Map::with_capacity(22 + i.properties.len());
    let id = i.id.as_str();
    let text = |s: &Option<String>| s.clone().map_or(Value::Null, Value::String);
    for (k, v) in &i.properties {
        if !BASE.contains(&k.as_str()) && !HIDDEN_PROPERTIES.contains(&k.as_str()) {
            m.insert(k.clone(), Value::String(v.clone()));
        }
    }
    m.insert("id".into(), id.into());
    m.insert("name".into(), text(&i.name));
    m.insert("status".into(), i.status.as_str().into());
    m.insert("visibility".into(), i.visibility.as_str().into());
    m.insert("protected".into(), i.protected.into());
    m.insert("os_hidden".into(), i.os_hidden.into());
    m.insert("checksum".into(), text(&i.checksum));
    m.insert("os_hash_algo".into(), text(&i.os_hash_algo));
    m.insert("os_hash_value".into(), text(&i.os_hash_value));
    m.insert("owner".into(), text(&i.owner));
    m.insert("size".into(), i.size.map_or(Value::Null, Value::from));
    m.insert(
        "virtual_size".into(),
        i.virtual_size.map_or(Value::Null, Value::from),
    );
    m.insert("container_format".into(), text(&i.container_format));
    m.insert("disk_format".into(), text(&i.disk_format));
    m.insert("min_disk".into(), i.min_disk.into());
    m.insert("min_ram".into(), i.min_ram.into());
    m.insert("created_at".into(), v2_time(i.created_at).into());
    m.insert("updated_at".into(), v2_time(i.updated_at).into());
    m.insert(
        "tags".into(),
        Value::Array(i.tags.iter().cloned().map(Value::String).collect()),
    );
    m.insert("self".into(), format!("/v2/images/{id}").into());
    m.insert("file".into(), format!("/v2/images/{id}/file").into());
    m.insert("schema".into(), "/v2/schemas/image".into());
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_bodies_are_checked_in_glances_order() {
        let f = Formats::default();
        let status = |b: &str| parse_create(b.as_bytes(), &f).err().map(|e| e.to_string());
        assert!(parse_create(b"{}", &f).is_ok());
        assert!(matches!(parse_create(b"[]", &f), Err(Error::BadRequest(_))));
        assert!(matches!(
            parse_create(br#"{"self": "x"}"#, &f),
            Err(Error::Forbidden(_))
        ));
        // Read-only keys are refused later, after the policy and the tag quota.
        let n = parse_create(br#"{"status": "active"}"#, &f).unwrap();
        assert_eq!(n.read_only.as_deref(), Some("status"));
        assert!(matches!(
            parse_create(br#"{"location": "x"}"#, &f),
            Err(Error::Forbidden(_))
        ));
        assert!(matches!(
            parse_create(br#"{"os_glance_x": "x"}"#, &f),
            Err(Error::Forbidden(_))
        ));
        assert!(matches!(
            parse_create(br#"{"x": 1}"#, &f),
            Err(Error::BadRequest(_))
        ));
        assert!(matches!(
            parse_create(br#"{"kernel_id": "abc"}"#, &f),
            Err(Error::BadRequest(_))
        ));
        assert!(matches!(
            parse_create(br#"{"min_ram": -1}"#, &f),
            Err(Error::BadRequest(_))
        ));
        assert!(matches!(
            parse_create(br#"{"protected": null}"#, &f),
            Err(Error::BadRequest(_))
        ));
        assert!(matches!(
            parse_create(br#"{"disk_format": "floppy"}"#, &f),
            Err(Error::BadRequest(_))
        ));
        assert!(status("{\"name\": \"\u{1F600}\"}").is_some());
        let n = parse_create(
            br#"{"name": "n", "tags": ["b", "a", "b"], "os_distro": "x"}"#,
            &f,
        )
        .unwrap();
        assert_eq!(n.tags.iter().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(n.properties.get("os_distro").map(String::as_str), Some("x"));
    }

    #[test]
    fn times_are_whole_seconds_in_utc() {
        let t = Timestamp::parse_iso8601("2026-01-02T03:04:05.678901Z").unwrap();
        assert_eq!(v2_time(t), "2026-01-02T03:04:05Z");
    }
}
