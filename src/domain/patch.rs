//! Changes to an existing image through the v2 API (JSON-patch operations, tags, the
//! deactivate/reactivate actions), each a pure function from the current image to the next,
//! so that the store can run it inside its compare-and-set.

use super::draft::check_tag_count;
use super::input::{Rules, check_property_count};
use super::{Caller, Image, ImageVisibility, Status, Timestamp, policy};
use crate::error::Error;

/// A base field's new value (`add` or `replace` of a writable base field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    Name(Option<String>),
    Visibility(ImageVisibility),
    Protected(bool),
    OsHidden(bool),
    Owner(Option<String>),
    ContainerFormat(Option<String>),
    DiskFormat(Option<String>),
    MinDisk(i64),
    MinRam(i64),
    Tags(super::image::Tags),
}

/// One operation of a patch, with its path and value already read and validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// `add`/`replace` of a base field. `replace_only` is the owner's `replace` (admins only),
    /// recorded separately from `add` only for the message.
    Set(FieldValue),
    /// `remove` of a base field: never allowed.
    RemoveBase(String),
    /// `add` of an extra property; `must_be_new` in the v2.0 dialect (exists: 409).
    AddExtra {
        key: String,
        value: String,
        must_be_new: bool,
    },
    /// `add` of a base field in the v2.0 dialect, which must not exist yet (it always does).
    AddExistingBase(String),
    /// `replace` of an extra property, which must exist (409 otherwise).
    ReplaceExtra { key: String, value: String },
    /// `remove` of an extra property, which must exist (409 otherwise).
    RemoveExtra(String),
    /// Any operation on `/locations`: refused while locations are not shown.
    Locations,
}

fn conflict(msg: String) -> Error {
    Error::Conflict(msg)
}

/// The image after `changes`, in order; nothing is applied unless all succeed.
pub fn apply(
    current: &Image,
    changes: &[Change],
    caller: &Caller,
    rules: &Rules,
    now: Timestamp,
) -> Result<Image, Error> {
    policy::check_modify(current, caller)?;
    let mut next = current.clone();
    for change in changes {
        match change {
            Change::Set(v) => set(&mut next, v, caller, rules)?,
            Change::RemoveBase(name) => {
                return Err(Error::Forbidden(format!(
                    "Attribute '{name}' is a base attribute and cannot be removed"
                )));
            }
            Change::AddExistingBase(name) => {
                return Err(conflict(format!("Property {name} already present")));
            }
            Change::AddExtra {
                key,
                value,
                must_be_new,
            } => {
                let exists = next.properties.contains_key(key);
                if exists && *must_be_new {
                    return Err(conflict(format!("Property {key} already present")));
                }
                if !exists {
                    check_property_count(next.properties.len() + 1, rules)?;
                }
                next.properties.insert(key.clone(), value.clone());
            }
            Change::ReplaceExtra { key, value } => match next.properties.get_mut(key) {
                Some(v) => *v = value.clone(),
                None => return Err(conflict(format!("Property {key} does not exist."))),
            },
            Change::RemoveExtra(key) => {
                if next.properties.remove(key).is_none() {
                    return Err(conflict(format!("Property {key} does not exist.")));
                }
            }
            Change::Locations => {
                return Err(Error::Forbidden(
                    "It's not allowed to change image locations".into(),
                ));
            }
        }
    }
    Ok(touched(current, next, now))
}

fn set(next: &mut Image, v: &FieldValue, caller: &Caller, _rules: &Rules) -> Result<(), Error> {
    match v {
        FieldValue::Name(n) => next.name = n.clone(),
        FieldValue::Visibility(vis) => {
            policy::check_visibility(caller, *vis)?;
            next.visibility = *vis;
        }
        FieldValue::Protected(p) => next.protected = *p,
        FieldValue::OsHidden(h) => next.os_hidden = *h,
        FieldValue::Owner(o) => {
            policy::check_owner_change(caller)?;
            next.owner = o.clone();
        }
        FieldValue::ContainerFormat(f) => {
            check_queued(next, "container_format")?;
            next.container_format = f.clone();
        }
        FieldValue::DiskFormat(f) => {
            check_queued(next, "disk_format")?;
            next.disk_format = f.clone();
        }
        FieldValue::MinDisk(n) => next.min_disk = *n,
        FieldValue::MinRam(n) => next.min_ram = *n,
        FieldValue::Tags(t) => {
            check_tag_count(t.len())?;
            next.tags = t.clone();
        }
    }
    Ok(())
}

/// Formats describe the data, so they are fixed once there is data.
fn check_queued(image: &Image, field: &str) -> Result<(), Error> {
    if image.status == Status::Queued {
        Ok(())
    } else {
        Err(Error::Forbidden(format!(
            "Attribute {field} can be only replaced for a queued image."
        )))
    }
}

/// `next` as a new version if anything changed; `current` as it was otherwise (so that an
/// empty or no-op patch leaves `updated_at` alone).
fn touched(current: &Image, mut next: Image, now: Timestamp) -> Image {
    if next == *current {
        return next;
    }
    next.updated_at = now;
    next.version = current.version + 1;
    next
}

/// `PUT /tags/{tag}`: idempotent, but `updated_at` moves every time.
pub fn add_tag(
    current: &Image,
    tag: &str,
    caller: &Caller,
    now: Timestamp,
) -> Result<Image, Error> {
    policy::check_modify(current, caller)?;
    let mut next = current.clone();
    next.tags.insert(tag.to_owned());
    check_tag_count(next.tags.len())?;
    next.updated_at = now;
    next.version = current.version + 1;
    Ok(next)
}

/// `DELETE /tags/{tag}`: a tag the image does not have is 404.
pub fn remove_tag(
    current: &Image,
    tag: &str,
    caller: &Caller,
    now: Timestamp,
) -> Result<Image, Error> {
    policy::check_modify(current, caller)?;
    let mut next = current.clone();
    if !next.tags.remove(tag) {
        return Err(Error::NotFound(format!("Tag {tag} not found")));
    }
    Ok(touched(current, next, now))
}

/// deactivate (`to == Deactivated`) or reactivate (`to == Active`): between active and
/// deactivated only; asking for the state it is in already changes nothing.
pub fn set_active(
    current: &Image,
    to: Status,
    caller: &Caller,
    now: Timestamp,
) -> Result<Image, Error> {
    policy::check_modify(current, caller)?;
    let from = match to {
        Status::Deactivated => Status::Active,
        _ => Status::Deactivated,
    };
    if current.status == to {
        return Ok(current.clone());
    }
    if current.status != from {
        let verb = if to == Status::Deactivated {
            "deactivate"
        } else {
            "reactivate"
        };
        return Err(Error::Forbidden(format!(
            "Not allowed to {verb} an image in status '{}'",
            current.status
        )));
    }
    let mut next = current.clone();
    next.status = to;
    Ok(touched(current, next, now))
}
