use pingora::http::RequestHeader;

use super::{segment_after, set_header, ProviderRules};
use crate::credential::RequestCredential;
use crate::keys::KeyConfig;
use crate::observe::usage::Format;
use crate::route::{filter_query, query_value};

/// The first raw `name=value` pair whose (decoded) name is `name`.
fn first_pair<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .find(|pair| query_value(pair, name).is_some())
}

pub(crate) struct Azure;

/// Anthropic models on Azure AI Foundry live under this prefix and take the
/// Anthropic credential header, without `api-version`.
fn is_anthropic_path(path: &str) -> bool {
    path.starts_with("/anthropic/")
}

impl ProviderRules for Azure {
    fn name(&self) -> &'static str {
        "azure"
    }

    fn default_base_url(&self) -> Option<&'static str> {
        None
    }

    fn model_in_path<'a>(&self, path: &'a str) -> Option<&'a str> {
        segment_after(path, "/openai/deployments/")
    }

    /// Exactly one `api-version`: the key's when it has one, else the
    /// client's first; the rest of the query as the client sent it.
    fn upstream_query(&self, key: &KeyConfig, path: &str, client_query: String) -> String {
        if is_anthropic_path(path) {
            return client_query;
        }
        // The key's value was checked at load to need no escaping; the
        // client's first pair is kept byte for byte.
        let version = match &key.api_version {
            Some(v) => Some(format!("api-version={v}")),
            None => first_pair(&client_query, "api-version").map(str::to_string),
        };
        let mut query = filter_query(&client_query, &["api-version"]);
        if let Some(pair) = version {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(&pair);
        }
        query
    }

    fn inject_credential(&self, cred: &RequestCredential, path: &str, req: &mut RequestHeader) {
        match cred {
            RequestCredential::Key(secret) if is_anthropic_path(path) => {
                set_header(req, "x-api-key", secret.plain.clone())
            }
            RequestCredential::Key(secret) => set_header(req, "api-key", secret.plain.clone()),
            RequestCredential::Bearer(token) => set_header(req, "authorization", token.clone()),
        }
        if is_anthropic_path(path) && !req.headers.contains_key("anthropic-version") {
            set_header(req, "anthropic-version", super::anthropic::DEFAULT_VERSION);
        }
    }

    fn usage_format(&self, path: &str) -> Format {
        if is_anthropic_path(path) {
            Format::Anthropic
        } else {
            Format::OpenAi
        }
    }
}
