//! The fixed documents of the v2 API: the versions list, the four schemas and `/v2/info/*`.
//! python-glanceclient builds its models from the image schema and validates every image
//! body against it, so the schema must describe exactly what `image_body::render` emits.

use crate::domain::formats::Formats;
use axum::http::HeaderMap;
use serde_json::{Value, json};

/// The versions glimpse advertises: 2.8 and later add features it does not have.
const VERSIONS: [&str; 8] = [
    "v2.7", "v2.6", "v2.5", "v2.4", "v2.3", "v2.2", "v2.1", "v2.0",
];

/// The minor versions a `/v2.N/` prefix may name.
pub fn is_advertised(segment: &str) -> bool {
    VERSIONS.contains(&segment)
}

/// `{"versions": [...]}` with absolute links to `<base>/v2/`: the public endpoint when one is
/// configured, otherwise the request's own scheme and host.
pub fn versions(public_endpoint: Option<&str>, headers: &HeaderMap) -> Value {
    let base = base_url(public_endpoint, headers);
    let list: Vec<Value> = VERSIONS
        .iter()
        .enumerate()
        .map(|(i, id)| {
            json!({
                "id": id,
                "status": if i == 0 { "CURRENT" } else { "SUPPORTED" },
                "links": [{"rel": "self", "href": format!("{base}/v2/")}],
            })
        })
        .collect();
    json!({ "versions": list })
}

/// The base of absolute links: the configured public endpoint, else the request's scheme
/// (`X-Forwarded-Proto` from a TLS-terminating proxy) and host.
pub fn base_url(public_endpoint: Option<&str>, headers: &HeaderMap) -> String {
    match public_endpoint {
        Some(b) => b.to_owned(),
        None => {
            let host = headers
                .get(axum::http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            let scheme = headers
                .get("x-forwarded-proto")
                .and_then(|h| h.to_str().ok())
                .filter(|p| *p == "https")
                .unwrap_or("http");
            format!("{scheme}://{host}")
        }
    }
}

const UUID_PATTERN: &str =
    "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$";

fn with_null(formats: &[String]) -> Value {
    let mut v = vec![Value::Null];
    v.extend(formats.iter().map(|f| Value::String(f.clone())));
    Value::Array(v)
}

/// `/v2/schemas/image`.
pub fn image_schema(formats: &Formats) -> Value {
    let ro = |ty: Value, description: &str| json!({"type": ty, "readOnly": true, "description": description});
    json!({
        "name": "image",
        "properties": {
            "id": {"type": "string", "pattern": UUID_PATTERN, "description": "An identifier for the image"},
            "name": {"type": ["null", "string"], "maxLength": 255, "description": "Descriptive name for the image"},
            "status": {"type": "string", "readOnly": true, "description": "Status of the image",
                "enum": ["queued", "saving", "active", "killed", "deleted", "uploading", "importing", "pending_delete", "deactivated"]},
            "visibility": {"type": "string", "enum": ["community", "public", "private", "shared"], "description": "Scope of image accessibility"},
            "protected": {"type": "boolean", "description": "If true, image will not be deletable."},
            "os_hidden": {"type": "boolean", "description": "If true, image will not appear in default image list response."},
            "checksum": {"type": ["null", "string"], "readOnly": true, "maxLength": 32, "description": "md5 hash of image contents."},
            "os_hash_algo": {"type": ["null", "string"], "readOnly": true, "maxLength": 64, "description": "Algorithm to calculate the os_hash_value"},
            "os_hash_value": {"type": ["null", "string"], "readOnly": true, "maxLength": 128, "description": "Hexdigest of the image contents using the algorithm specified by the os_hash_algo"},
            "owner": {"type": ["null", "string"], "maxLength": 255, "description": "Owner of the image"},
            "size": {"type": ["null", "integer"], "readOnly": true, "description": "Size of image file in bytes"},
            "virtual_size": {"type": ["null", "integer"], "readOnly": true, "description": "Virtual size of image in bytes"},
            "container_format": {"type": ["null", "string"], "enum": with_null(&formats.container), "description": "Format of the container"},
            "disk_format": {"type": ["null", "string"], "enum": with_null(&formats.disk), "description": "Format of the disk"},
            "min_disk": {"type": "integer", "minimum": 0, "description": "Amount of disk space (in GB) required to boot image."},
            "min_ram": {"type": "integer", "minimum": 0, "description": "Amount of ram (in MB) required to boot image."},
            "created_at": ro(json!("string"), "Date and time of image registration"),
            "updated_at": ro(json!("string"), "Date and time of the last image modification"),
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 255}, "description": "List of strings related to the image"},
            "self": ro(json!("string"), "An image self url"),
            "file": ro(json!("string"), "An image file url"),
            "schema": ro(json!("string"), "An image schema url"),
            "direct_url": ro(json!("string"), "URL to access the image file kept in external store"),
            "locations": {"type": "array", "description": "A set of URLs to access the image file kept in external store",
                "items": {"type": "object", "required": ["url", "metadata"],
                    "properties": {"url": {"type": "string", "maxLength": 255}, "metadata": {"type": "object"}}}},
            "stores": ro(json!("string"), "Store in which image data resides. Only present when the operator has enabled multiple stores."),
            "kernel_id": {"type": ["null", "string"], "pattern": UUID_PATTERN, "is_base": false,
                "description": "ID of image stored in Glance that should be used as the kernel when booting an AMI-style image."},
            "ramdisk_id": {"type": ["null", "string"], "pattern": UUID_PATTERN, "is_base": false,
                "description": "ID of image stored in Glance that should be used as the ramdisk when booting an AMI-style image."},
            "instance_uuid": {"type": "string", "is_base": false, "description": "Metadata which can be used to record which instance this image is associated with."},
            "architecture": {"type": "string", "is_base": false, "description": "Operating system architecture"},
            "os_distro": {"type": "string", "is_base": false, "description": "Common name of operating system distribution"},
            "os_version": {"type": "string", "is_base": false, "description": "Operating system version as specified by the distributor"},
            "description": {"type": "string", "is_base": false, "description": "A human-readable string describing this image."},
            "cinder_encryption_key_id": {"type": "string", "is_base": false, "description": "Identifier in the OpenStack Key Management Service for the encryption key"},
            "cinder_encryption_key_deletion_policy": {"type": "string", "enum": ["on_image_deletion", "do_not_delete"], "is_base": false,
                "description": "States the condition under which the Image Service will delete the object associated with the encryption key"},
        },
        "additionalProperties": {"type": "string"},
        "links": [
            {"rel": "self", "href": "{self}"},
            {"rel": "enclosure", "href": "{file}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    })
}

/// `/v2/schemas/images`.
pub fn images_schema(formats: &Formats) -> Value {
    json!({
        "name": "images",
        "properties": {
            "images": {"type": "array", "items": image_schema(formats)},
            "first": {"type": "string"},
            "next": {"type": "string"},
            "schema": {"type": "string"},
        },
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    })
}

/// `/v2/schemas/member`.
pub fn member_schema() -> Value {
    json!({
        "name": "member",
        "properties": {
            "member_id": {"type": "string", "description": "An identifier for the image member (tenantId)"},
            "image_id": {"type": "string", "pattern": UUID_PATTERN, "description": "An identifier for the image"},
            "created_at": {"type": "string", "description": "Date and time of image member creation"},
            "updated_at": {"type": "string", "description": "Date and time of last modification of image member"},
            "status": {"type": "string", "enum": ["pending", "accepted", "rejected"], "description": "The status of this image member"},
            "schema": {"type": "string", "readOnly": true},
        },
    })
}

/// `/v2/schemas/members`.
pub fn members_schema() -> Value {
    json!({
        "name": "members",
        "properties": {
            "members": {"type": "array", "items": member_schema()},
            "schema": {"type": "string"},
        },
        "links": [{"rel": "describedby", "href": "{schema}"}],
    })
}

/// `/v2/info/import`: glimpse has no import methods.
pub fn import_info() -> Value {
    json!({"import-methods": {"description": "Import methods available.", "type": "array", "value": []}})
}

/// `/v2/info/usage`: no quotas are enforced through Keystone limits.
pub fn usage_info() -> Value {
    json!({"usage": {}})
}
