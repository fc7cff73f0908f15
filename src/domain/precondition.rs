//! Conditional writes: the versions of an image a write may still apply to.

use super::Image;
use crate::error::Error;

/// What a write requires of the image's current version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Precondition {
    /// Unconditional.
    #[default]
    None,
    /// Any current version will do (`*`).
    Any,
    /// One of these version tags (see [`Image::version_tag`]); none listed never matches.
    OneOf(Vec<String>),
}

impl Precondition {
    /// Whether `image` is at a version this allows.
    pub fn holds(&self, image: &Image) -> bool {
        match self {
            Precondition::None | Precondition::Any => true,
            Precondition::OneOf(tags) => {
                let current = image.version_tag();
                tags.contains(&current)
            }
        }
    }

    /// 412 unless `image` is at a version the write allows.
    pub fn check(&self, image: &Image) -> Result<(), Error> {
        if self.holds(image) {
            Ok(())
        } else {
            Err(Error::PreconditionFailed(format!(
                "The image has changed: its current ETag is \"{}\"",
                image.version_tag()
            )))
        }
    }
}
