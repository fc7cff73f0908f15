//! The registry's rules, free of I/O: what an image is, which values are valid, who may see or
//! change what, and what a list query means. Storage and HTTP both depend on this module; it
//! depends on neither.

pub mod access;
pub mod byte_range;
pub mod caller;
pub mod draft;
pub mod formats;
pub mod image;
pub mod input;
pub mod member;
pub mod patch;
pub mod policy;
pub mod precondition;
pub mod query;
pub mod status;
pub mod timestamp;
pub mod visibility;

pub use caller::Caller;
pub use image::{Image, ImageId};
pub use status::Status;
pub use timestamp::Timestamp;
pub use visibility::{ImageVisibility, MemberStatus};
