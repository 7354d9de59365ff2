use http::HeaderValue;
use pingora::http::RequestHeader;

use super::{set_header, ProviderRules};
use crate::credential::RequestCredential;
use crate::observe::usage::Format;

pub(crate) struct Anthropic;

/// Sent only when the client named no version: the SDKs always send their own.
pub(crate) const DEFAULT_VERSION: HeaderValue = HeaderValue::from_static("2023-06-01");

impl ProviderRules for Anthropic {
    fn name(&self) -> &'static str {
        "anthropic"
    }

    fn default_base_url(&self) -> Option<&'static str> {
        Some("https://api.anthropic.com")
    }

    fn inject_credential(&self, cred: &RequestCredential, _path: &str, req: &mut RequestHeader) {
        match cred {
            RequestCredential::Key(secret) => set_header(req, "x-api-key", secret.plain.clone()),
            RequestCredential::Bearer(token) => set_header(req, "authorization", token.clone()),
        }
        if !req.headers.contains_key("anthropic-version") {
            set_header(req, "anthropic-version", DEFAULT_VERSION);
        }
    }

    fn usage_format(&self, _path: &str) -> Format {
        Format::Anthropic
    }
}
