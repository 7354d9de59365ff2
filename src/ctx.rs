//! What one request carries through the proxy hooks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::body::Preread;
use crate::credential::RequestCredential;
use crate::errors::GatewayError;
use crate::keys::KeyConfig;
use crate::observe::metrics::Inflight;
use crate::observe::request_model::ModelScanner;
use crate::observe::tap::ResponseTap;
use crate::route::Route;
use crate::snapshot::{ProviderConfig, Snapshot};

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
    pub credential: Option<RequestCredential>,
    /// Provider-native path (prefix stripped), used to pick credentials.
    pub native_path: String,
    /// The client's query without its credentials, for the upstream URI.
    pub client_query: String,
    /// The place this request holds in its virtual key's concurrency limit.
    pub slot: Option<crate::policy::Slot>,
    /// Keys tried and failed, for failover; attempts made so far.
    pub tried: Vec<usize>,
    pub attempts: u32,
    /// The body can be sent again (small, retry-buffered): `retry_on_status` applies.
    pub replayable: bool,
    /// Why the next attempt is a failover (`connect`, `timeout`, `http_429`…).
    pub failover_reason: Option<&'static str>,
    /// Path and query sent upstream.
    pub upstream_uri: String,
    pub model: Option<String>,
    pub preread: Preread,
    pub error: Option<GatewayError>,
    pub upstream_status: Option<u16>,
    /// The provider's own `x-request-id`, when it differs from strait's.
    pub upstream_request_id: Option<String>,
    pub first_byte: Option<Duration>,
    /// When strait started on the upstream call (connecting included) and
    /// when the provider's last byte arrived: the provider's share of the time.
    pub upstream_start: Option<Instant>,
    pub upstream_end: Option<Instant>,
    pub connect: Option<Duration>,
    pub reused: Option<bool>,
    pub streamed: bool,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Reads usage from a copy of the response.
    pub tap: Option<ResponseTap>,
    /// Reads the requested model from the body when nothing else named it.
    pub model_scan: Option<ModelScanner>,
    pub inflight: Option<Inflight>,
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
            client_query: String::new(),
            slot: None,
            tried: Vec::new(),
            attempts: 0,
            replayable: false,
            failover_reason: None,
            upstream_uri: String::new(),
            model: None,
            preread: Preread::default(),
            error: None,
            upstream_status: None,
            upstream_request_id: None,
            first_byte: None,
            upstream_start: None,
            upstream_end: None,
            connect: None,
            reused: None,
            streamed: false,
            bytes_in: 0,
            bytes_out: 0,
            tap: None,
            model_scan: None,
            inflight: None,
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
