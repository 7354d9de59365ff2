//! What one request carries through the proxy hooks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::body::Preread;
use crate::config::{KeyConfig, ProviderConfig, Resolved, Snapshot};
use crate::errors::GatewayError;
use crate::route::Route;

pub struct RequestCtx {
    pub start: Instant,
    pub request_id: String,
    /// The config this request started with; used for its whole life.
    pub snapshot: Option<Arc<Snapshot>>,
    pub route: Option<Route>,
    pub virtual_key: Option<String>,
    pub provider: Option<Arc<ProviderConfig>>,
    pub key_index: Option<usize>,
    /// The key's credential for this request (a minted token is resolved
    /// before connecting, so a token failure is a clean gateway error).
    pub credential: Option<Resolved>,
    /// Provider-native path (prefix stripped), used to pick credentials.
    pub native_path: String,
    /// Path and query sent upstream.
    pub upstream_uri: String,
    pub model: Option<String>,
    pub preread: Preread,
    pub error: Option<GatewayError>,
    pub upstream_status: Option<u16>,
    pub first_byte: Option<Duration>,
    pub streamed: bool,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

impl RequestCtx {
    pub fn new() -> Self {
        RequestCtx {
            start: Instant::now(),
            request_id: String::new(),
            snapshot: None,
            route: None,
            virtual_key: None,
            provider: None,
            key_index: None,
            credential: None,
            native_path: String::new(),
            upstream_uri: String::new(),
            model: None,
            preread: Preread::default(),
            error: None,
            upstream_status: None,
            first_byte: None,
            streamed: false,
            bytes_in: 0,
            bytes_out: 0,
        }
    }

    pub fn key(&self) -> Option<&KeyConfig> {
        Some(&self.provider.as_ref()?.keys[self.key_index?])
    }

    pub fn provider_name(&self) -> &'static str {
        self.provider.as_ref().map_or("", |p| p.kind.name())
    }
}

impl Default for RequestCtx {
    fn default() -> Self {
        Self::new()
    }
}
