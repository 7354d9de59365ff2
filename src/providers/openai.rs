use pingora::http::RequestHeader;

use super::{set_header, ProviderRules};
use crate::credential::RequestCredential;
use crate::observe::usage::Format;

pub(crate) struct OpenAi;

impl ProviderRules for OpenAi {
    fn name(&self) -> &'static str {
        "openai"
    }

    fn default_base_url(&self) -> Option<&'static str> {
        Some("https://api.openai.com")
    }

    fn inject_credential(&self, cred: &RequestCredential, _path: &str, req: &mut RequestHeader) {
        let value = match cred {
            RequestCredential::Key(secret) => secret.bearer.clone(),
            RequestCredential::Bearer(token) => token.clone(),
        };
        set_header(req, "authorization", value);
    }

    fn usage_format(&self, _path: &str) -> Format {
        Format::OpenAi
    }
}
