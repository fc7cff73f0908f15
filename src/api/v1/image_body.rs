//! The JSON body of `POST /images` and `PUT /images/<id>`: `{"image": {...}, "from_state": ...}`.
//!
//! Bodies are read as untyped JSON and checked field by field (with the domain's rules) so that
//! every rejection names the field and what was wrong with it.

use crate::domain::image::Properties;
use crate::domain::input::{
    Field, ImageInput, MAX_CHECKSUM, MAX_LOCATION, MAX_NAME, MAX_OWNER, Rules,
    check_property_count, check_property_name, check_property_value, check_text,
};
use crate::domain::{ImageId, Status};
use crate::error::Error;
use serde_json::{Map, Value};

/// A parsed `{"image": {...}, "from_state": ...}` body.
#[derive(Debug, Clone)]
pub struct ImageBody {
    pub image: ImageInput,
    /// Conditional update: the status the image must have now.
    pub from_state: Option<Status>,
}

/// Parses a request body. `for_create` decides whether an `id` is read (updates ignore it).
pub fn parse_image_body(body: &[u8], rules: &Rules, for_create: bool) -> Result<ImageBody, Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::bad_request(
            "The request body is empty: expected {\"image\": {...}}",
        ));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| Error::bad_request(format!("The request body is not valid JSON: {e}")))?;
    let Value::Object(mut top) = value else {
        return Err(Error::bad_request(
            "The request body must be a JSON object {\"image\": {...}}",
        ));
    };
    let from_state = match top.remove("from_state") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.parse::<Status>().map_err(|_| {
            Error::bad_request(format!(
                "Invalid from_state '{s}': it must be an image status"
            ))
        })?),
        Some(_) => {
            return Err(Error::bad_request(
                "from_state must be a string (an image status) or null",
            ));
        }
    };
    let Some(Value::Object(fields)) = top.remove("image") else {
        return Err(Error::bad_request(
            "The request body must have an \"image\" object",
        ));
    };
    let image = parse_fields(fields, rules, for_create)?;
    Ok(ImageBody { image, from_state })
}

fn parse_fields(
    mut f: Map<String, Value>,
    rules: &Rules,
    for_create: bool,
) -> Result<ImageInput, Error> {
    let mut input = ImageInput::default();
    if for_create {
        input.id = match f.remove("id") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(ImageId::parse(&s).ok_or_else(|| {
                Error::bad_request(format!(
                    "Invalid id '{s}': id must be a UUID in hex notation, e.g. 71c675ab-d94f-49cd-a114-e12490b328d9"
                ))
            })?),
            Some(_) => return Err(Error::bad_request("id must be a string (a UUID)")),
        };
    }
    input.name = string(&mut f, "name", Some(MAX_NAME))?;
    input.status = match f.remove("status") {
        None => None,
        Some(Value::String(s)) => Some(s.parse::<Status>()?),
        Some(_) => {
            return Err(Error::bad_request(
                "Invalid status: status must be a non-empty string, one of the image statuses",
            ));
        }
    };
    input.disk_format = string(&mut f, "disk_format", None)?;
    if let Field::Set(v) = &input.disk_format {
        rules.formats.check_disk(v)?;
    }
    input.container_format = string(&mut f, "container_format", None)?;
    if let Field::Set(v) = &input.container_format {
        rules.formats.check_container(v)?;
    }
    input.size = integer(&mut f, "size")?;
    input.virtual_size = integer(&mut f, "virtual_size")?;
    input.checksum = string(&mut f, "checksum", Some(MAX_CHECKSUM))?;
    input.min_disk = integer(&mut f, "min_disk")?;
    input.min_ram = integer(&mut f, "min_ram")?;
    input.is_public = boolean(&mut f, "is_public")?;
    // The registry of the Ocata-to-Queens years took v2's visibility too, but never both.
    input.visibility = match f.remove("visibility") {
        None => None,
        Some(_) if input.is_public != Field::Absent => {
            return Err(Error::bad_request(
                "Invalid: is_public and visibility cannot be given together",
            ));
        }
        Some(Value::String(v)) => Some(v.parse()?),
        Some(_) => return Err(Error::bad_request("visibility must be a string")),
    };
    input.protected = boolean(&mut f, "protected")?;
    input.owner = string(&mut f, "owner", Some(MAX_OWNER))?;
    input.location = string(&mut f, "location", Some(MAX_LOCATION))?;
    input.properties = match f.remove("properties") {
        None => None,
        Some(v) => Some(parse_properties(v, rules)?),
    };
    Ok(input)
}

fn string(
    f: &mut Map<String, Value>,
    field: &str,
    max: Option<usize>,
) -> Result<Field<String>, Error> {
    match f.remove(field) {
        None => Ok(Field::Absent),
        Some(Value::Null) => Ok(Field::Null),
        Some(Value::String(s)) => {
            check_text(field, &s, max)?;
            Ok(Field::Set(s))
        }
        Some(_) => Err(Error::bad_request(format!(
            "{field} must be a string or null"
        ))),
    }
}

fn integer(f: &mut Map<String, Value>, field: &str) -> Result<Field<i64>, Error> {
    let bad = || {
        Error::bad_request(format!(
            "{field} must be an integer from 0 to 9223372036854775807"
        ))
    };
    match f.remove(field) {
        None => Ok(Field::Absent),
        Some(Value::Null) => Ok(Field::Null),
        // Whole-number floats (5.0) are integers to JSON Schema and to Python clients.
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && (0.0..9.2e18).contains(f))
                    .map(|f| f as i64)
            })
            .filter(|v| *v >= 0)
            .map(Field::Set)
            .ok_or_else(bad),
        // Older API servers forwarded header values as strings.
        Some(Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|v| *v >= 0)
            .map(Field::Set)
            .ok_or_else(bad),
        Some(_) => Err(bad()),
    }
}

/// JSON booleans, and the strings "true"/"false" in any case; anything else is 400 (the
/// reference made the string "false" true).
pub fn parse_bool(field: &str, v: &Value) -> Result<bool, Error> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(Error::bad_request(format!(
            "{field} must be a boolean (true or false)"
        ))),
    }
}

fn boolean(f: &mut Map<String, Value>, field: &str) -> Result<Field<bool>, Error> {
    match f.remove(field) {
        None => Ok(Field::Absent),
        Some(Value::Null) => Ok(Field::Null),
        Some(v) => parse_bool(field, &v).map(Field::Set),
    }
}

/// Properties as an object of strings, or the seed's list of `{"name", "value"}` pairs.
fn parse_properties(v: Value, rules: &Rules) -> Result<Properties, Error> {
    let pairs: Vec<(String, Value)> = match v {
        Value::Object(m) => m.into_iter().collect(),
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::Object(mut p) => match (p.remove("name"), p.remove("value")) {
                    (Some(Value::String(n)), Some(v)) => Ok((n, v)),
                    _ => Err(Error::bad_request(
                        "Each property in a list must be {\"name\": <string>, \"value\": <string>}",
                    )),
                },
                _ => Err(Error::bad_request(
                    "Each property in a list must be {\"name\": <string>, \"value\": <string>}",
                )),
            })
            .collect::<Result<_, _>>()?,
        Value::Null => Vec::new(),
        _ => {
            return Err(Error::bad_request(
                "properties must be an object of string values",
            ));
        }
    };
    check_property_count(pairs.len(), rules)?;
    let mut out = Properties::new();
    for (name, value) in pairs {
        check_property_name(&name)?;
        let Value::String(value) = value else {
            return Err(Error::bad_request(format!(
                "Invalid value of property '{name}': property values must be strings"
            )));
        };
        check_property_value(&name, &value)?;
        out.insert(name, value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Caller, Image, Timestamp};

    fn parse(body: &str) -> Result<ImageBody, Error> {
        parse_image_body(body.as_bytes(), &Rules::default(), true)
    }

    fn create(body: &str) -> Result<Image, Error> {
        let b = parse(body)?;
        Image::create(
            b.image,
            &Caller::anonymous_admin(),
            Timestamp::now(),
            &Rules::default(),
        )
    }

    #[test]
    fn defaults_on_create() {
        let img = create(r#"{"image": {"name": "x"}}"#).unwrap();
        assert_eq!(img.status, Status::Active);
        assert_eq!(
            (
                img.min_disk,
                img.min_ram,
                img.visibility.is_public(),
                img.protected
            ),
            (0, 0, false, false)
        );
        assert!(img.properties.is_empty());
        assert_eq!(img.id.as_str().len(), 36);
    }

    #[test]
    fn rejects_bad_bodies_with_the_field_named() {
        let cases = [
            ("", "empty"),
            ("not json", "JSON"),
            ("[]", "object"),
            (r#"{"name": "x"}"#, "image"),
            (r#"{"image": {"status": ""}}"#, "status"),
            (r#"{"image": {"status": null}}"#, "status"),
            (r#"{"image": {"disk_format": ""}}"#, "disk_format"),
            (
                r#"{"image": {"container_format": "zip"}}"#,
                "container_format",
            ),
            (r#"{"image": {"id": "not-a-uuid"}}"#, "id"),
            (r#"{"image": {"size": -1}}"#, "size"),
            (r#"{"image": {"size": 1.5}}"#, "size"),
            (r#"{"image": {"size": 9223372036854775808}}"#, "size"),
            (r#"{"image": {"min_ram": -5}}"#, "min_ram"),
            (r#"{"image": {"is_public": "yes"}}"#, "is_public"),
            (r#"{"image": {"is_public": 1}}"#, "is_public"),
            (
                r#"{"image": {"checksum": "0123456789012345678901234567890123"}}"#,
                "checksum",
            ),
            (r#"{"image": {"properties": {"a": 1}}}"#, "property"),
            (r#"{"image": {"properties": {"a": null}}}"#, "property"),
            (r#"{"image": {"properties": {"": "v"}}}"#, "property name"),
            (r#"{"image": {"properties": "x"}}"#, "properties"),
            (r#"{"image": {"name": "a\u0000b"}}"#, "NUL"),
            (
                r#"{"image": {"disk_format": "ami", "container_format": "bare"}}"#,
                "ami",
            ),
            (r#"{"image": {"disk_format": "aki"}}"#, "aki"),
        ];
        for (body, needle) in cases {
            let err = create(body).expect_err(body);
            let msg = err.to_string();
            assert!(matches!(err, Error::BadRequest(_)), "{body}: {err:?}");
            assert!(msg.contains(needle), "{body}: {msg} lacks {needle}");
        }
    }

    #[test]
    fn name_of_255_chars_ok_256_not() {
        let ok = format!(r#"{{"image": {{"name": "{}"}}}}"#, "é".repeat(255));
        assert!(create(&ok).is_ok());
        let bad = format!(r#"{{"image": {{"name": "{}"}}}}"#, "é".repeat(256));
        assert!(create(&bad).is_err());
    }

    #[test]
    fn too_many_properties_is_413() {
        let props: Vec<String> = (0..129).map(|i| format!(r#""p{i}": "v""#)).collect();
        let body = format!(r#"{{"image": {{"properties": {{{}}}}}}}"#, props.join(","));
        assert!(matches!(create(&body), Err(Error::TooLarge(_))));
    }

    #[test]
    fn property_list_notation_and_string_booleans() {
        let img = create(
            r#"{"image": {"is_public": "False", "protected": "true",
                "properties": [{"name": "a", "value": "1"}, {"name": "b", "value": ""}]}}"#,
        )
        .unwrap();
        assert!(!img.visibility.is_public() && img.protected);
        assert_eq!(img.properties.get("a").map(String::as_str), Some("1"));
        assert_eq!(img.properties.get("b").map(String::as_str), Some(""));
    }

    #[test]
    fn non_admin_cannot_choose_owner() {
        let b = parse(r#"{"image": {"owner": "someone-else"}}"#).unwrap();
        let caller = Caller::authenticated(Some("t1".into()), None, vec![], true);
        let img = Image::create(b.image, &caller, Timestamp::now(), &Rules::default()).unwrap();
        assert_eq!(img.owner.as_deref(), Some("t1"));
    }

    #[test]
    fn merge_and_purge_properties() {
        let img = create(r#"{"image": {"properties": {"a": "1", "b": "2"}}}"#).unwrap();
        let upd = |body: &str, purge: bool| {
            let b = parse_image_body(body.as_bytes(), &Rules::default(), false).unwrap();
            img.updated(
                b.image,
                purge,
                &Caller::anonymous_admin(),
                Timestamp::now(),
                &Rules::default(),
            )
            .unwrap()
        };
        let merged = upd(r#"{"image": {"properties": {"b": "3", "c": "4"}}}"#, false);
        assert_eq!(merged.properties.len(), 3);
        assert_eq!(merged.properties["b"], "3");
        let purged = upd(r#"{"image": {"properties": {"c": "4"}}}"#, true);
        assert_eq!(purged.properties.keys().collect::<Vec<_>>(), ["c"]);
        let cleared = upd(r#"{"image": {"name": "n"}}"#, true);
        assert!(cleared.properties.is_empty());
        assert_eq!(cleared.version, img.version + 1);
    }

    #[test]
    fn update_checks_the_resulting_format_pair() {
        let img =
            create(r#"{"image": {"disk_format": "ami", "container_format": "ami"}}"#).unwrap();
        let b = parse_image_body(
            br#"{"image": {"disk_format": "raw"}}"#,
            &Rules::default(),
            false,
        )
        .unwrap();
        let r = img.updated(
            b.image,
            false,
            &Caller::anonymous_admin(),
            Timestamp::now(),
            &Rules::default(),
        );
        assert!(r.is_err());
    }

    #[test]
    fn from_state_is_parsed() {
        let b = parse(r#"{"image": {}, "from_state": "queued"}"#).unwrap();
        assert_eq!(b.from_state, Some(Status::Queued));
        let b = parse(r#"{"image": {}, "from_state": null}"#).unwrap();
        assert_eq!(b.from_state, None);
        assert!(parse(r#"{"image": {}, "from_state": "nope"}"#).is_err());
    }
}

#[cfg(test)]
mod properties {
    //! Property tests: parsing never panics, and whatever it accepts is a valid image.
    use super::*;
    use crate::domain::formats::Formats;
    use crate::domain::{Caller, Image, Timestamp};
    use proptest::prelude::*;

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_map(|f| serde_json::json!(f)),
            ".{0,40}".prop_map(serde_json::Value::from),
            prop_oneof![
                Just("ami"),
                Just("raw"),
                Just("bare"),
                Just("queued"),
                Just("true")
            ]
            .prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                prop::collection::btree_map(
                    prop_oneof![
                        Just("name".to_string()),
                        Just("status".to_string()),
                        Just("disk_format".to_string()),
                        Just("container_format".to_string()),
                        Just("size".to_string()),
                        Just("is_public".to_string()),
                        Just("properties".to_string()),
                        Just("min_ram".to_string()),
                        ".{0,8}".prop_map(String::from),
                    ],
                    inner,
                    0..6,
                )
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_image_body(&bytes, &Rules::default(), true);
        }

        #[test]
        fn accepted_bodies_make_valid_images(image in json_value()) {
            let body = serde_json::json!({"image": image}).to_string();
            if let Ok(parsed) = parse_image_body(body.as_bytes(), &Rules::default(), true)
                && let Ok(img) = Image::create(parsed.image, &Caller::anonymous_admin(), Timestamp::now(), &Rules::default())
            {
                prop_assert!(img.size.is_none_or(|s| s >= 0));
                prop_assert!(img.min_ram >= 0 && img.min_disk >= 0);
                prop_assert!(img.name.as_ref().is_none_or(|n| n.chars().count() <= 255));
                prop_assert!(Formats::check_pair(img.disk_format.as_deref(), img.container_format.as_deref()).is_ok());
                // What is accepted round-trips through its own JSON form.
                let again = serde_json::json!({"image": serde_json::to_value(&img).unwrap()}).to_string();
                let reparsed = parse_image_body(again.as_bytes(), &Rules::default(), true).unwrap();
                let img2 = Image::create(reparsed.image, &Caller::anonymous_admin(), img.created_at, &Rules::default()).unwrap();
                prop_assert_eq!(img2.name, img.name);
                prop_assert_eq!(img2.properties, img.properties);
                prop_assert_eq!(img2.size, img.size);
            }
        }
    }
}
