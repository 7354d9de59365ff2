//! One configured provider as the request path uses it.

use http::{HeaderName, HeaderValue};

use crate::keys::{KeyConfig, Keys};
use crate::providers::ProviderKind;
use crate::upstream::Timeouts;

pub struct ProviderConfig {
    pub(crate) kind: ProviderKind,
    pub(crate) keys: Vec<KeyConfig>,
    pub(crate) extra_headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) timeouts: Timeouts,
    /// Upstream statuses retried on another key (`retry_on_status`).
    pub(crate) retry_on_status: Vec<u16>,
    /// Attempts per request across keys (`max_attempts`).
    pub(crate) max_attempts: u32,
    /// Some enabled key is limited to listed models, so the model decides
    /// which key may serve a request.
    pub model_restricted: bool,
    /// OpenAI-style chat streams are asked for their usage
    /// (`inject_stream_usage`).
    pub(crate) inject_stream_usage: bool,
}

impl ProviderConfig {
    /// The keys, as key selection sees them.
    pub(crate) fn keys(&self) -> Keys<'_> {
        Keys {
            provider: self.kind.name(),
            keys: &self.keys,
        }
    }
}
