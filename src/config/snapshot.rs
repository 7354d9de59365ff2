//! The immutable runtime form of a loaded config. Built once per load and
//! shared by `Arc`; a request loads it once and uses that one throughout.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue};

use crate::auth::VirtualKeys;
use crate::providers::ProviderKind;
use crate::tokens::TokenSource;
use crate::upstream::Upstream;

pub struct Snapshot {
    pub virtual_keys: VirtualKeys,
    pub limits: Limits,
    providers: [Option<Arc<ProviderConfig>>; ProviderKind::ALL.len()],
}

impl Snapshot {
    pub fn new(virtual_keys: VirtualKeys, providers: Vec<ProviderConfig>, limits: Limits) -> Self {
        let mut slots: [Option<Arc<ProviderConfig>>; ProviderKind::ALL.len()] = Default::default();
        for p in providers {
            let i = p.kind.index();
            slots[i] = Some(Arc::new(p));
        }
        Snapshot {
            virtual_keys,
            limits,
            providers: slots,
        }
    }

    pub fn provider(&self, kind: ProviderKind) -> Option<&Arc<ProviderConfig>> {
        self.providers[kind.index()].as_ref()
    }

    pub fn upstreams(&self) -> impl Iterator<Item = &Arc<Upstream>> {
        self.keys().map(|k| &k.upstream)
    }

    pub fn token_sources(&self) -> Vec<Arc<TokenSource>> {
        self.keys()
            .filter_map(|k| match &k.credential {
                Credential::Token(t) => Some(t.clone()),
                _ => None,
            })
            .collect()
    }

    /// Carries over what the previous config already knows about the same
    /// upstreams and credentials: resolved addresses (so no request waits
    /// for DNS) and minted tokens. Unchanged upstreams keep the same Pingora
    /// peers, so their pooled connections stay in use.
    pub fn adopt_from(&self, previous: &Snapshot) {
        for provider in self.providers.iter().flatten() {
            let old_provider = previous.provider(provider.kind);
            for key in &provider.keys {
                if let Some(old) = previous
                    .upstreams()
                    .find(|u| u.host == key.upstream.host && u.port == key.upstream.port)
                {
                    key.upstream.adopt_addresses(old);
                }
                if let Credential::Token(t) = &key.credential {
                    for old in previous.token_sources() {
                        t.adopt(&old);
                    }
                }
                // A key cooling down after a 429 stays cooling.
                if let Some(old) =
                    old_provider.and_then(|p| p.keys.iter().find(|k| k.name == key.name))
                {
                    key.cooldown.adopt(&old.cooldown);
                }
            }
        }
    }

    fn keys(&self) -> impl Iterator<Item = &KeyConfig> {
        self.providers.iter().flatten().flat_map(|p| p.keys.iter())
    }
}

/// Request limits from the `limits` block.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_body_bytes: u64,
    pub max_header_bytes: u64,
    pub max_headers: u64,
    pub client_read_timeout: Duration,
    pub keepalive_timeout: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 32 * 1024 * 1024,
            max_header_bytes: 64 * 1024,
            max_headers: 100,
            client_read_timeout: Duration::from_secs(60),
            keepalive_timeout: 60,
        }
    }
}

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

#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    pub connect: Duration,
    /// Time to the first byte of the response.
    pub first_byte: Duration,
    /// Longest silence between two reads of a streamed response.
    pub stream_idle: Duration,
    /// Whole non-streaming call, from the request to the last byte.
    pub total: Option<Duration>,
}

impl Default for Timeouts {
    /// Minutes, not seconds: a long generation may take that long to start
    /// answering, and reasoning models can pause mid-stream.
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(600),
            stream_idle: Duration::from_secs(300),
            total: None,
        }
    }
}

pub struct KeyConfig {
    pub name: String,
    pub credential: Credential,
    /// The unset `env.` variable that disabled this key, if any.
    pub missing_env: Option<String>,
    pub weight: f64,
    pub models: ModelFilter,
    pub upstream: Arc<Upstream>,
    /// Azure: the `api-version` every request of this key carries.
    pub api_version: Option<String>,
    /// Vertex: the project and region every request of this key goes to.
    pub vertex: Option<VertexTarget>,
    /// Until when the key is skipped after a 429.
    pub cooldown: crate::failover::Cooldown,
}

impl KeyConfig {
    pub fn usable(&self) -> bool {
        !matches!(self.credential, Credential::Disabled)
    }
}

pub struct VertexTarget {
    pub project: String,
    pub region: String,
}

pub enum Credential {
    /// A static key, sent in the provider's key header.
    Key(Secret),
    /// A minted OAuth token, sent as `Authorization: Bearer`.
    Token(Arc<TokenSource>),
    /// Unset `env.` variable, or `enabled: false`.
    Disabled,
}

/// The credential of one request, resolved before the upstream is contacted.
pub enum Resolved {
    Key(Secret),
    Bearer(HeaderValue),
}

/// A provider credential, pre-rendered as the header values it is sent in.
/// Marked sensitive so HTTP/2 never indexes it; never printed.
#[derive(Clone)]
pub struct Secret {
    pub plain: HeaderValue,
    pub bearer: HeaderValue,
}

impl Secret {
    pub fn new(value: &str) -> Result<Self, &'static str> {
        let mut plain = HeaderValue::from_str(value)
            .map_err(|_| "contains characters not allowed in a header")?;
        let mut bearer = HeaderValue::from_str(&format!("Bearer {value}"))
            .map_err(|_| "contains characters not allowed in a header")?;
        plain.set_sensitive(true);
        bearer.set_sensitive(true);
        Ok(Secret { plain, bearer })
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// `models:` of a key: `*` for any, exact names, or prefixes ending in `*`.
#[derive(Debug, Clone)]
pub enum ModelFilter {
    Any,
    Listed(Vec<String>),
}

impl ModelFilter {
    pub fn from_list(list: Option<Vec<String>>) -> Self {
        match list {
            None => ModelFilter::Any,
            Some(l) if l.is_empty() || l.iter().any(|m| m == "*") => ModelFilter::Any,
            Some(l) => ModelFilter::Listed(l),
        }
    }

    pub fn allows(&self, model: Option<&str>) -> bool {
        match (self, model) {
            (ModelFilter::Any, _) => true,
            (ModelFilter::Listed(_), None) => false,
            (ModelFilter::Listed(list), Some(m)) => {
                list.iter().any(|p| match p.strip_suffix('*') {
                    Some(prefix) => m.starts_with(prefix),
                    None => p == m,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_filter() {
        let f = ModelFilter::from_list(Some(vec!["gpt-4o".into(), "o3*".into()]));
        assert!(f.allows(Some("gpt-4o")));
        assert!(f.allows(Some("o3-mini")));
        assert!(!f.allows(Some("gpt-4o-mini")));
        assert!(!f.allows(None));
        assert!(ModelFilter::from_list(Some(vec!["*".into()])).allows(None));
        assert!(ModelFilter::from_list(None).allows(Some("x")));
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::new("sk-very-secret").unwrap();
        assert_eq!(format!("{s:?}"), "Secret(..)");
    }
}
