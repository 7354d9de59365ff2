//! What one request carries through the proxy hooks, grouped by who fills
//! it: admission (who asked for what), the binding (which key serves it),
//! the attempt (one try at the provider), the body and the response.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::body::RequestBody;
use crate::credential::RequestCredential;
use crate::errors::GatewayError;
use crate::keys::KeyConfig;
use crate::observe::metrics::Inflight;
use crate::observe::tap::ResponseTap;
use crate::policy::Slot;
use crate::route::Route;
use crate::snapshot::{ProviderConfig, Snapshot};

pub struct RequestCtx {
    pub start: Instant,
    pub request_id: String,
    /// The config this request started with; used for its whole life.
    pub snapshot: Option<Arc<Snapshot>>,
    /// Filled step by step by admission, so a refusal is still accounted
    /// with what was known by then.
    pub client: ClientRequest,
    pub provider: Option<Arc<ProviderConfig>>,
    /// The place this request holds in its virtual key's concurrency limit.
    pub slot: Option<Slot>,
    /// The key of the current attempt; replaced on failover.
    pub binding: Option<Binding>,
    pub failover: Failover,
    pub attempt: Attempt,
    pub body: RequestBody,
    pub response: Response,
    pub error: Option<GatewayError>,
    pub inflight: Option<Inflight>,
}

/// What the client asked for, as admission understood it.
#[derive(Default)]
pub struct ClientRequest {
    pub route: Option<Route>,
    pub virtual_key: Option<String>,
    /// Provider-native path (prefix stripped), used to pick credentials.
    pub native_path: String,
    /// The client's query without its credentials, for the upstream URI.
    pub query: String,
    /// The model named by the path or the body, when admission needed it.
    pub model: Option<String>,
}

/// The key that serves the current attempt: its credential (a minted
/// token is read before connecting, so a token failure is a clean gateway
/// error) and the path and query it implies.
pub struct Binding {
    pub key_index: usize,
    pub credential: RequestCredential,
    pub upstream_uri: String,
}

/// Across attempts: what failed and why the next one is a failover.
#[derive(Default)]
pub struct Failover {
    /// Keys tried and failed.
    pub tried: Vec<usize>,
    pub attempts: u32,
    /// The body can be sent again (small, retry-buffered): `retry_on_status` applies.
    pub replayable: bool,
    /// Why the next attempt is a failover (`connect`, `timeout`, `http_429`…).
    pub reason: Option<&'static str>,
}

/// One try at the provider; a failover starts a fresh one.
#[derive(Default)]
pub struct Attempt {
    /// When strait started on the upstream call, connecting included.
    pub started: Option<Instant>,
    pub connect: Option<Duration>,
    pub reused: Option<bool>,
    pub status: Option<u16>,
    pub first_byte: Option<Duration>,
}

/// The response the client gets from the provider.
#[derive(Default)]
pub struct Response {
    pub streamed: bool,
    pub bytes_out: u64,
    /// The provider's own `x-request-id`, when it differs from strait's.
    pub upstream_request_id: Option<String>,
    /// When the provider's last byte arrived: with `Attempt::started`, the
    /// provider's share of the time.
    pub upstream_end: Option<Instant>,
    /// Reads usage from a copy of the response.
    pub tap: Option<ResponseTap>,
}

impl RequestCtx {
    pub fn new() -> Self {
        RequestCtx {
            start: Instant::now(),
            request_id: String::new(),
            snapshot: None,
            client: ClientRequest::default(),
            provider: None,
            slot: None,
            binding: None,
            failover: Failover::default(),
            attempt: Attempt::default(),
            body: RequestBody::default(),
            response: Response::default(),
            error: None,
            inflight: None,
        }
    }

    pub fn key(&self) -> Option<&KeyConfig> {
        Some(&self.provider.as_ref()?.keys[self.binding.as_ref()?.key_index])
    }

    pub fn provider_name(&self) -> &'static str {
        self.provider.as_ref().map_or("", |p| p.kind.name())
    }

    /// The model the client asked for: from the path, or read from the body.
    pub fn requested_model(&mut self) -> Option<String> {
        self.client
            .model
            .take()
            .or_else(|| self.body.scanned_model())
    }
}

impl Default for RequestCtx {
    fn default() -> Self {
        Self::new()
    }
}
