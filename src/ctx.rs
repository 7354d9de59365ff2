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
use crate::observe::trace::RequestTrace;
use crate::policy::Slot;
use crate::route::Route;
use crate::snapshot::{ProviderConfig, Snapshot};
use crate::ws::WsSession;

pub(crate) struct RequestCtx {
    pub(crate) start: Instant,
    pub(crate) request_id: String,
    /// The config this request started with; used for its whole life.
    pub(crate) snapshot: Option<Arc<Snapshot>>,
    /// Filled step by step by admission, so a refusal is still accounted
    /// with what was known by then.
    pub(crate) client: ClientRequest,
    pub(crate) provider: Option<Arc<ProviderConfig>>,
    /// The place this request holds in its virtual key's concurrency limit.
    pub(crate) slot: Option<Slot>,
    /// The key of the current attempt; replaced on failover.
    pub(crate) binding: Option<Binding>,
    pub(crate) failover: Failover,
    pub(crate) attempt: Attempt,
    pub(crate) body: RequestBody,
    pub(crate) response: Response,
    /// A WebSocket handshake, and after the provider's `101` its session.
    pub(crate) ws: Option<WsSession>,
    pub(crate) error: Option<GatewayError>,
    pub(crate) inflight: Option<Inflight>,
    /// Its trace, when `telemetry:` is on.
    pub(crate) trace: Option<RequestTrace>,
}

/// What the client asked for, as admission understood it.
#[derive(Default)]
pub(crate) struct ClientRequest {
    pub(crate) route: Option<Route>,
    pub(crate) virtual_key: Option<String>,
    /// Provider-native path (prefix stripped), used to pick credentials.
    pub(crate) native_path: String,
    /// The client's query without its credentials, for the upstream URI.
    pub(crate) query: String,
    /// The model named by the path or the body, when admission needed it.
    pub(crate) model: Option<String>,
}

/// The key that serves the current attempt: its credential (a minted
/// token is read before connecting, so a token failure is a clean gateway
/// error) and the path and query it implies.
pub(crate) struct Binding {
    pub(crate) key_index: usize,
    pub(crate) credential: RequestCredential,
    pub(crate) upstream_uri: String,
}

/// Across attempts: what failed and why the next one is a failover.
#[derive(Default)]
pub(crate) struct Failover {
    /// Keys tried and failed.
    pub(crate) tried: Vec<usize>,
    pub(crate) attempts: u32,
    /// The body can be sent again (small, retry-buffered): `retry_on_status` applies.
    pub(crate) replayable: bool,
    /// Why the next attempt is a failover (`connect`, `timeout`, `http_429`…).
    pub(crate) reason: Option<&'static str>,
}

/// One try at the provider; a failover starts a fresh one.
#[derive(Default)]
pub(crate) struct Attempt {
    /// When strait started on the upstream call, connecting included.
    pub(crate) started: Option<Instant>,
    pub(crate) connect: Option<Duration>,
    pub(crate) reused: Option<bool>,
    pub(crate) status: Option<u16>,
    pub(crate) first_byte: Option<Duration>,
}

/// The response the client gets from the provider.
#[derive(Default)]
pub(crate) struct Response {
    pub(crate) streamed: bool,
    pub(crate) bytes_out: u64,
    /// The provider's own `x-request-id`, when it differs from strait's.
    pub(crate) upstream_request_id: Option<String>,
    /// When the provider's last byte arrived: with `Attempt::started`, the
    /// provider's share of the time.
    pub(crate) upstream_end: Option<Instant>,
    /// Reads usage from a copy of the response.
    pub(crate) tap: Option<ResponseTap>,
}

impl RequestCtx {
    pub(crate) fn new() -> Self {
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
            ws: None,
            error: None,
            inflight: None,
            trace: None,
        }
    }

    pub(crate) fn key(&self) -> Option<&KeyConfig> {
        Some(&self.provider.as_ref()?.keys[self.binding.as_ref()?.key_index])
    }

    pub(crate) fn provider_name(&self) -> &'static str {
        self.provider.as_ref().map_or("", |p| p.kind.name())
    }

    /// The model the client asked for: from the path, or read from the body.
    pub(crate) fn requested_model(&mut self) -> Option<String> {
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
