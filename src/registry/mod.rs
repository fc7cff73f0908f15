//! The registry's use cases: each API operation as domain checks around store calls, on typed
//! inputs. Every API version calls these; the API layer reads the wire format and renders the
//! results; the store persists.

mod image_data;
mod images;
mod members;
mod scrub;
mod v2_images;
mod v2_members;

pub use image_data::{DataSettings, ImageData};
pub use images::ImageUpdate;
pub use members::Shareable;
pub use scrub::ScrubReport;

use crate::domain::input::Rules;
use crate::domain::query::PageLimits;

pub struct Registry<S> {
    /// The catalog (image records).
    pub store: S,
    pub rules: Rules,
    pub limits: PageLimits,
    /// Where image data lives.
    pub data: DataSettings,
}

impl<S> Registry<S> {
    pub fn new(store: S, rules: Rules, limits: PageLimits, data: DataSettings) -> Self {
        Registry {
            store,
            rules,
            limits,
            data,
        }
    }
}
