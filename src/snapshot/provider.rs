//! One configured provider as the request path uses it.

use http::{HeaderName, HeaderValue};

use crate::keys::{KeyConfig, Keys};
use crate::providers::ProviderKind;
use crate::upstream::Timeouts;

pub struct ProviderConfig {
    pub kind: ProviderKind,
    pub keys: Vec<KeyConfig>,
    pub extra_headers: Vec<(HeaderName, HeaderValue)>,
    pub timeouts: Timeouts,
    /// Upstream statuses retried on another key (`retry_on_status`).
    pub retry_on_status: Vec<u16>,
    /// Attempts per request across keys (`max_attempts`).
    pub max_attempts: u32,
    /// Some enabled key is limited to listed models, so the model decides
    /// which key may serve a request.
    pub model_restricted: bool,
}

impl ProviderConfig {
    /// The keys, as key selection sees them.
    pub fn keys(&self) -> Keys<'_> {
        Keys {
            provider: self.kind.name(),
            keys: &self.keys,
        }
    }
}
