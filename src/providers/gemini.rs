use pingora::http::RequestHeader;

use super::{segment_after, set_header, ProviderRules};
use crate::credential::RequestCredential;
use crate::observe::usage::Format;

pub(crate) struct Gemini;

impl ProviderRules for Gemini {
    fn name(&self) -> &'static str {
        "gemini"
    }

    fn default_base_url(&self) -> Option<&'static str> {
        Some("https://generativelanguage.googleapis.com")
    }

    /// `/v1beta/models/{model}:generateContent` (also `tunedModels/`).
    fn model_in_path<'a>(&self, path: &'a str) -> Option<&'a str> {
        segment_after(path, "/models/").or_else(|| segment_after(path, "/tunedModels/"))
    }

    fn inject_credential(&self, cred: &RequestCredential, _path: &str, req: &mut RequestHeader) {
        match cred {
            RequestCredential::Key(secret) => {
                set_header(req, "x-goog-api-key", secret.plain.clone())
            }
            RequestCredential::Bearer(token) => set_header(req, "authorization", token.clone()),
        }
    }

    /// Gemini also serves an OpenAI-compatible API under `/openai/`.
    fn usage_format(&self, path: &str) -> Format {
        if path.contains("/openai/") {
            Format::OpenAi
        } else {
            Format::Gemini
        }
    }
}
