//! Provider keys: what a configured key is, which keys may serve a request,
//! and the cool-down that sets a key aside after a 429.

mod cooldown;
pub(crate) mod key;
mod select;

pub(crate) use cooldown::{retry_after, Cooldown};
pub(crate) use key::{KeyConfig, ModelFilter, VertexTarget};
pub(crate) use select::{has_alternative, select, Keys};
