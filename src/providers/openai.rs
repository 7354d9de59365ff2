use pingora::http::RequestHeader;

use super::{set_header, Provider};
use crate::config::KeyConfig;

pub struct OpenAi;

impl Provider for OpenAi {
    fn name(&self) -> &'static str {
        "openai"
    }

    fn default_base_url(&self) -> Option<&'static str> {
        Some("https://api.openai.com")
    }

    fn inject_credential(&self, key: &KeyConfig, _path: &str, req: &mut RequestHeader) {
        if let Some(secret) = &key.secret {
            set_header(req, "authorization", secret.bearer.clone());
        }
    }
}
