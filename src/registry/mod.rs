//! The registry's use cases: each API operation as domain checks around store calls, on typed
//! inputs. Every API version calls these; the API layer reads the wire format and renders the
//! results; the store persists.

mod images;
mod members;
mod v2_images;
mod v2_members;

pub use images::ImageUpdate;
pub use members::Shareable;

use crate::domain::input::Rules;
use crate::domain::query::PageLimits;

pub struct Registry<S> {
    pub store: S,
    pub rules: Rules,
    pub limits: PageLimits,
}

impl<S> Registry<S> {
    pub fn new(store: S, rules: Rules, limits: PageLimits) -> Self {
        Registry {
            store,
            rules,
            limits,
        }
    }
}
