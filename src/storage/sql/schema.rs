//! Table and column names, in one place.

pub const IMAGES: &str = "images";
pub const ID: &str = "id";
pub const NAME: &str = "name";
pub const STATUS: &str = "status";
pub const DISK_FORMAT: &str = "disk_format";
pub const CONTAINER_FORMAT: &str = "container_format";
pub const SIZE: &str = "size";
pub const VIRTUAL_SIZE: &str = "virtual_size";
pub const CHECKSUM: &str = "checksum";
pub const MIN_DISK: &str = "min_disk";
pub const MIN_RAM: &str = "min_ram";
pub const VISIBILITY: &str = "visibility";
pub const OS_HIDDEN: &str = "os_hidden";
pub const OS_HASH_ALGO: &str = "os_hash_algo";
pub const OS_HASH_VALUE: &str = "os_hash_value";
pub const PROTECTED: &str = "protected";
pub const OWNER: &str = "owner";
pub const LOCATION: &str = "location";
pub const CREATED_AT: &str = "created_at";
pub const UPDATED_AT: &str = "updated_at";
pub const DELETED_AT: &str = "deleted_at";
pub const DELETED: &str = "deleted";
pub const VERSION: &str = "version";
/// The image's properties as one JSON object (`{"name": "value", ...}`), written with the rest
/// of the row. Reading an image, or a page of them, then reads only image rows: the separate
/// property rows cost a B-tree descent per image (mostly page reads, a large share of a
/// single-image read) or a second query per page.
/// `image_properties` keeps the same properties as rows, for the property filters.
pub const PROPERTY_MAP: &str = "properties";
/// The image's tags as one JSON array, sorted; `image_tags` keeps them as rows for `tag=`.
pub const TAG_LIST: &str = "tags";
/// CRC-32 of the stored data (verifies downloads; see migration 0005/0007).
pub const DATA_CRC32: &str = "data_crc32";

/// Every column of `images`, in the order rows are decoded.
pub const IMAGE_COLUMNS: [&str; 25] = [
    ID,
    NAME,
    STATUS,
    DISK_FORMAT,
    CONTAINER_FORMAT,
    SIZE,
    VIRTUAL_SIZE,
    CHECKSUM,
    MIN_DISK,
    MIN_RAM,
    VISIBILITY,
    PROTECTED,
    OWNER,
    LOCATION,
    CREATED_AT,
    UPDATED_AT,
    DELETED_AT,
    DELETED,
    VERSION,
    PROPERTY_MAP,
    OS_HIDDEN,
    OS_HASH_ALGO,
    OS_HASH_VALUE,
    TAG_LIST,
    DATA_CRC32,
];

/// `a == b`, usable in constants.
const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The position of an image column in [`IMAGE_COLUMNS`] (and in every image select list),
/// found at compile time: reading a column by name compares every column name, a noticeable
/// share of a point read.
pub const fn col(name: &str) -> usize {
    let mut i = 0;
    while i < IMAGE_COLUMNS.len() {
        if same(IMAGE_COLUMNS[i], name) {
            return i;
        }
        i += 1;
    }
    panic!("not an image column")
}

pub const PROPERTIES: &str = "image_properties";
pub const IMAGE_ID: &str = "image_id";
/// The image's `created_at`, copied into each of its property rows (see migration 0007).
pub const IMAGE_CREATED_AT: &str = "image_created_at";
/// The image's visibility, copied into each of its property rows (see migration 0008; 0010 on
/// MySQL).
pub const IMAGE_VISIBILITY: &str = "image_visibility";
pub const VALUE: &str = "value";

pub const MEMBERS: &str = "image_members";
pub const MEMBER: &str = "member";
pub const CAN_SHARE: &str = "can_share";

pub const TAGS: &str = "image_tags";
