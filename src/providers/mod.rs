//! One file per provider: where its requests go, which model a path names and
//! how its credential is written. Adding a provider is adding a file and a
//! row in [`ProviderKind`].

mod anthropic;
mod azure;
mod gemini;
mod openai;
mod stream_usage;
mod vertex;

pub(crate) use stream_usage::{is_openai_chat, with_stream_usage};
pub(crate) use vertex::{is_vertex_model, is_vertex_path, vertex_base_url};

use pingora::http::RequestHeader;

use std::borrow::Cow;

use crate::credential::RequestCredential;
use crate::keys::KeyConfig;
use crate::observe::usage::Format;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProviderKind {
    OpenAi,
    Anthropic,
    Azure,
    Gemini,
    Vertex,
}

impl ProviderKind {
    pub(crate) const ALL: [ProviderKind; 5] = [
        ProviderKind::OpenAi,
        ProviderKind::Anthropic,
        ProviderKind::Azure,
        ProviderKind::Gemini,
        ProviderKind::Vertex,
    ];

    pub(crate) fn name(self) -> &'static str {
        self.rules().name()
    }

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    pub(crate) fn rules(self) -> &'static dyn ProviderRules {
        match self {
            ProviderKind::OpenAi => &openai::OpenAi,
            ProviderKind::Anthropic => &anthropic::Anthropic,
            ProviderKind::Azure => &azure::Azure,
            ProviderKind::Gemini => &gemini::Gemini,
            ProviderKind::Vertex => &vertex::Vertex,
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// What differs between providers on the request path.
pub(crate) trait ProviderRules: Send + Sync {
    fn name(&self) -> &'static str;

    /// Base URL used when `network_config.base_url` is not set; `None` when
    /// each key has its own endpoint (Azure, Vertex).
    fn default_base_url(&self) -> Option<&'static str>;

    /// The model (or deployment) named by the provider-native path, for
    /// providers that put it there.
    fn model_in_path<'a>(&self, _path: &'a str) -> Option<&'a str> {
        None
    }

    /// The path sent upstream (after the base URL's own path).
    fn upstream_path<'a>(&self, _key: &KeyConfig, path: &'a str) -> Cow<'a, str> {
        Cow::Borrowed(path)
    }

    /// The query sent upstream, from the client's query with the gateway's
    /// own parameters (`key`) already removed.
    fn upstream_query(&self, _key: &KeyConfig, _path: &str, client_query: String) -> String {
        client_query
    }

    /// Writes the request's credential (and any header the provider
    /// requires) into the upstream request. Client credentials are already
    /// stripped.
    fn inject_credential(&self, cred: &RequestCredential, path: &str, req: &mut RequestHeader);

    /// The wire format of responses to `path`, which says where usage is.
    fn usage_format(&self, path: &str) -> Format;
}

/// The segment after `marker` up to the next `/` or `:`.
pub(crate) fn segment_after<'a>(path: &'a str, marker: &str) -> Option<&'a str> {
    let start = path.find(marker)? + marker.len();
    let rest = &path[start..];
    let end = rest.find(['/', ':']).unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

/// Header insertion that cannot fail: names are static and values were
/// validated when the config was loaded.
pub(crate) fn set_header(req: &mut RequestHeader, name: &'static str, value: http::HeaderValue) {
    req.insert_header(name, value)
        .expect("static header name is valid");
}
