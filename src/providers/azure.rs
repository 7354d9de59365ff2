use pingora::http::RequestHeader;

use super::{segment_after, set_header, Provider};
use crate::config::KeyConfig;

pub struct Azure;

/// Anthropic models on Azure AI Foundry live under this prefix and take the
/// Anthropic credential header.
fn is_anthropic_path(path: &str) -> bool {
    path.starts_with("/anthropic/")
}

impl Provider for Azure {
    fn name(&self) -> &'static str {
        "azure"
    }

    fn default_base_url(&self) -> Option<&'static str> {
        None
    }

    fn model_in_path<'a>(&self, path: &'a str) -> Option<&'a str> {
        segment_after(path, "/openai/deployments/")
    }

    fn inject_credential(&self, key: &KeyConfig, path: &str, req: &mut RequestHeader) {
        if let Some(secret) = &key.secret {
            let header = if is_anthropic_path(path) {
                "x-api-key"
            } else {
                "api-key"
            };
            set_header(req, header, secret.plain.clone());
        }
        if is_anthropic_path(path) && !req.headers.contains_key("anthropic-version") {
            set_header(req, "anthropic-version", super::anthropic::DEFAULT_VERSION);
        }
    }
}
