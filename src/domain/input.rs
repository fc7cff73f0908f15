//! What a client may set on an image, and the rules its values must keep: text lengths, no
//! NUL characters, the property limits, and the rules that span fields (checked on the image as
//! it would be stored). The API layer reads the wire format and calls these checks field by
//! field, so that every rejection names the field; nothing invalid reaches an [`Image`].

use super::formats::Formats;
use super::image::Properties;
use super::{Caller, Image, ImageId, ImageVisibility, Status, Timestamp};
use crate::error::Error;

/// The limits of image fields that are configurable.
#[derive(Debug, Clone)]
pub struct Rules {
    pub formats: Formats,
    /// Properties allowed on one image; more is 413.
    pub max_properties: usize,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            formats: Formats::default(),
            max_properties: 128,
        }
    }
}

pub const MAX_NAME: usize = 255;
pub const MAX_CHECKSUM: usize = 32;
pub const MAX_OWNER: usize = 255;
pub const MAX_LOCATION: usize = 65535;
pub const MAX_PROPERTY_NAME: usize = 255;
pub const MAX_PROPERTY_VALUE: usize = 65535;

fn no_nul(field: &str, s: &str) -> Result<(), Error> {
    if s.contains('\0') {
        return Err(Error::bad_request(format!(
            "{field} must not contain NUL characters"
        )));
    }
    Ok(())
}

/// A text field: no NUL, and at most `max` characters (`None`: no length limit).
pub fn check_text(field: &str, s: &str, max: Option<usize>) -> Result<(), Error> {
    no_nul(field, s)?;
    if let Some(max) = max
        && s.chars().count() > max
    {
        return Err(Error::bad_request(format!(
            "{field} is too long: at most {max} characters are allowed"
        )));
    }
    Ok(())
}

/// At most `rules.max_properties` properties on one image (413 beyond).
pub fn check_property_count(n: usize, rules: &Rules) -> Result<(), Error> {
    if n > rules.max_properties {
        return Err(Error::TooLarge(format!(
            "Too many properties: at most {} are allowed per image",
            rules.max_properties
        )));
    }
    Ok(())
}

/// A property name: 1 to [`MAX_PROPERTY_NAME`] characters, no NUL.
pub fn check_property_name(name: &str) -> Result<(), Error> {
    let n = name.chars().count();
    if n == 0 || n > MAX_PROPERTY_NAME {
        return Err(Error::bad_request(format!(
            "Invalid property name '{}': names must be 1 to {MAX_PROPERTY_NAME} characters",
            name.chars().take(64).collect::<String>()
        )));
    }
    no_nul("property names", name)
}

/// A property value: no NUL, at most [`MAX_PROPERTY_VALUE`] characters.
pub fn check_property_value(name: &str, value: &str) -> Result<(), Error> {
    no_nul("property values", value)?;
    if value.chars().count() > MAX_PROPERTY_VALUE {
        return Err(Error::bad_request(format!(
            "Value of property '{name}' is too long: at most {MAX_PROPERTY_VALUE} characters are allowed"
        )));
    }
    Ok(())
}

/// A field of a request body: left out, explicitly null, or given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Field<T> {
    #[default]
    Absent,
    Null,
    Set(T),
}

impl<T> Field<T> {
    /// The new value of a nullable field, given its old one.
    fn apply(self, old: Option<T>) -> Option<T> {
        match self {
            Field::Absent => old,
            Field::Null => None,
            Field::Set(v) => Some(v),
        }
    }

    /// The new value of a non-nullable field: null resets it to its default.
    fn apply_or(self, old: T, default: T) -> T {
        match self {
            Field::Absent => old,
            Field::Null => default,
            Field::Set(v) => v,
        }
    }
}

/// The fields a client sent for an image, each already valid on its own.
#[derive(Debug, Clone, Default)]
pub struct ImageInput {
    pub id: Option<ImageId>,
    pub name: Field<String>,
    pub status: Option<Status>,
    pub disk_format: Field<String>,
    pub container_format: Field<String>,
    pub size: Field<i64>,
    pub virtual_size: Field<i64>,
    pub checksum: Field<String>,
    pub min_disk: Field<i64>,
    pub min_ram: Field<i64>,
    pub is_public: Field<bool>,
    /// v2's visibility, which a v1 write may give instead of `is_public`.
    pub visibility: Option<ImageVisibility>,
    pub protected: Field<bool>,
    pub owner: Field<String>,
    pub location: Field<String>,
    pub properties: Option<Properties>,
}

/// Checks the rules that span fields, on the image as it would be stored.
fn check_image(image: &Image, rules: &Rules) -> Result<(), Error> {
    Formats::check_pair(
        image.disk_format.as_deref(),
        image.container_format.as_deref(),
    )?;
    check_property_count(image.properties.len(), rules)
}

impl Image {
    /// A new image from a create request. The owner is the caller's; only admins may choose it.
    pub fn create(
        input: ImageInput,
        caller: &Caller,
        now: Timestamp,
        rules: &Rules,
    ) -> Result<Image, Error> {
        let owner = if caller.is_admin {
            input.owner.apply(caller.owner.clone())
        } else {
            caller.owner.clone()
        };
        let image = Image {
            id: input.id.unwrap_or_else(ImageId::generate),
            name: input.name.apply(None),
            status: input.status.unwrap_or(Status::Active),
            disk_format: input.disk_format.apply(None),
            container_format: input.container_format.apply(None),
            size: input.size.apply(None),
            virtual_size: input.virtual_size.apply(None),
            checksum: input.checksum.apply(None),
            min_disk: input.min_disk.apply_or(0, 0),
            min_ram: input.min_ram.apply_or(0, 0),
            visibility: input.visibility.unwrap_or(ImageVisibility::from_is_public(
                input.is_public == Field::Set(true),
            )),
            protected: input.protected.apply_or(false, false),
            owner,
            location: input.location.apply(None),
            created_at: now,
            updated_at: now,
            deleted_at: None,
            deleted: false,
            properties: input.properties.unwrap_or_default(),
            os_hidden: false,
            os_hash_algo: None,
            os_hash_value: None,
            data_crc32: None,
            tags: Default::default(),
            version: 1,
        };
        check_image(&image, rules)?;
        Ok(image)
    }

    /// This image with an update applied. With `purge_props` the given properties replace all
    /// existing ones (none given removes them all); otherwise they are merged in.
    pub fn updated(
        &self,
        input: ImageInput,
        purge_props: bool,
        caller: &Caller,
        now: Timestamp,
        rules: &Rules,
    ) -> Result<Image, Error> {
        let mut next = self.clone();
        next.name = input.name.apply(next.name);
        if let Some(st) = input.status {
            next.status = st;
        }
        next.disk_format = input.disk_format.apply(next.disk_format);
        next.container_format = input.container_format.apply(next.container_format);
        next.size = input.size.apply(next.size);
        next.virtual_size = input.virtual_size.apply(next.virtual_size);
        next.checksum = input.checksum.apply(next.checksum);
        next.min_disk = input.min_disk.apply_or(next.min_disk, 0);
        next.min_ram = input.min_ram.apply_or(next.min_ram, 0);
        if let Some(v) = input.visibility {
            next.visibility = v;
        } else if input.is_public != Field::Absent {
            next.visibility = ImageVisibility::from_is_public(input.is_public == Field::Set(true));
        }
        next.protected = input.protected.apply_or(next.protected, false);
        if caller.is_admin {
            next.owner = input.owner.apply(next.owner);
        }
        next.location = input.location.apply(next.location);
        match (input.properties, purge_props) {
            (Some(props), true) => next.properties = props,
            (None, true) => next.properties.clear(),
            (Some(props), false) => next.properties.extend(props),
            (None, false) => {}
        }
        next.updated_at = now;
        next.version = self.version + 1;
        check_image(&next, rules)?;
        Ok(next)
    }
}
