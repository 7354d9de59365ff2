//! Realistic mock LLM providers for strait's tests.
//!
//! WebSocket endpoints (OpenAI Realtime and Responses, Azure Realtime, Gemini and
//! Vertex Live) are described in `ws.rs`; their sessions are in
//! [`MockProvider::ws_sessions`] and, for out-of-process tests, at `GET /__mock/ws`.
//!
//! [`MockProvider::start`] serves one provider [`Flavor`] on `127.0.0.1:0` (HTTP/1.1
//! with keep-alive, and h2c with prior knowledge), speaking that provider's wire
//! format: its credential check, JSON and SSE shapes, error bodies. Every request is
//! recorded ([`Recorded`]); the log is also served over HTTP for out-of-process
//! tests at `GET /__mock/requests` (cleared with `DELETE /__mock/requests`).
//!
//! Request headers steer a call (none is required):
//! `x-mock-status: N` (error N in the provider's format, with `retry-after: 7` and
//! `x-ratelimit-remaining-requests: 0`), `x-mock-events: N` (content deltas per
//! stream, default [`DEFAULT_EVENTS`]), `x-mock-gap-ms: N` (pause between SSE
//! events), `x-mock-lockstep: 1` (each SSE event after the first waits for
//! [`MockProvider::release_event`]), `x-mock-delay-ms: N` (pause before the
//! response headers).
//!
//! Replies are deterministic: text [`REPLY_TEXT`] (streams: [`delta_text`]`(i)` for
//! each delta), the model taken from the request, and each flavor's own token
//! counts ([`OPENAI_USAGE`], [`ANTHROPIC_USAGE`], [`GEMINI_USAGE`], [`AZURE_USAGE`];
//! Claude on Vertex, served by the Gemini flavor, reports [`ANTHROPIC_USAGE`]).
//!
//! [`TokenServer`] impersonates the OAuth token endpoints strait mints tokens from
//! (Google's JWT-bearer grant for Vertex AI, Entra ID client credentials for
//! Azure); [`MockProvider::accept_tokens_from`] makes a provider accept what it
//! issued. [`test_service_account_json`] is a service account whose (throwaway,
//! test-only) key the Google token server trusts.

mod anthropic;
mod auth;
mod azure;
mod call;
mod entra;
mod gemini;
mod jwt;
mod listen;
mod openai;
mod recorded;
mod responses;
mod server;
mod sse;
mod test_account;
#[cfg(test)]
mod test_http;
mod token;
#[cfg(test)]
mod token_tests;
mod ws;
mod ws_events;

pub use recorded::Recorded;
pub use test_account::{
    test_service_account_json, TEST_ACCOUNT_EMAIL, TEST_PRIVATE_KEY_ID, TEST_PRIVATE_KEY_PEM,
    TEST_PROJECT_ID,
};
pub use token::TokenServer;
pub use ws::WsSession;

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};

/// Which provider a [`MockProvider`] impersonates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// `api.openai.com`: `/v1/...`, `Authorization: Bearer <key>`.
    OpenAi,
    /// `api.anthropic.com`: `/v1/messages` (and `/count_tokens`), `/v1/models`;
    /// `x-api-key: <key>` + `anthropic-version`.
    Anthropic,
    /// `generativelanguage.googleapis.com`: `/{v1,v1beta}/models/{m}:…`, `x-goog-api-key: <key>`;
    /// also Vertex-style paths, Claude's (`…/publishers/anthropic/models/{m}:rawPredict`) included,
    /// and the OpenAI-compatible `/v1beta/openai/…` and `…/endpoints/openapi/…`.
    Gemini,
    /// An Azure resource: `/openai/deployments/{d}/…?api-version=` and `/openai/v1/…`
    /// with `api-key: <key>`; `/anthropic/v1/messages` with `x-api-key: <key>`.
    Azure,
}

/// Token counts a flavor reports on every call (streams report the same totals).
///
/// Field → wire name: OpenAI chat `prompt_tokens` / `completion_tokens` /
/// `total_tokens` / `prompt_tokens_details.cached_tokens` /
/// `completion_tokens_details.reasoning_tokens`; Responses API `input_tokens` /
/// `output_tokens` / `total_tokens` / `input_tokens_details.cached_tokens` /
/// `output_tokens_details.reasoning_tokens`; embeddings `prompt_tokens` =
/// `total_tokens` = `input`; Anthropic `input_tokens` / `output_tokens` /
/// `cache_read_input_tokens` / `cache_creation_input_tokens`; Gemini
/// `promptTokenCount` / `candidatesTokenCount` / `totalTokenCount` /
/// `cachedContentTokenCount` / `thoughtsTokenCount`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    pub input: u64,
    pub output: u64,
    /// `input + output` (Gemini: `input + output + reasoning`).
    pub total: u64,
    pub cached: u64,
    /// Anthropic only.
    pub cache_creation: u64,
    /// OpenAI-style and Gemini only.
    pub reasoning: u64,
}

pub const OPENAI_USAGE: Usage = Usage {
    input: 11,
    output: 7,
    total: 18,
    cached: 2,
    cache_creation: 0,
    reasoning: 3,
};
pub const ANTHROPIC_USAGE: Usage = Usage {
    input: 21,
    output: 9,
    total: 30,
    cached: 5,
    cache_creation: 4,
    reasoning: 0,
};
pub const GEMINI_USAGE: Usage = Usage {
    input: 31,
    output: 12,
    total: 49,
    cached: 8,
    cache_creation: 0,
    reasoning: 6,
};
/// Also used for Azure's `/anthropic/` route (Anthropic field names).
pub const AZURE_USAGE: Usage = Usage {
    input: 41,
    output: 14,
    total: 55,
    cached: 6,
    cache_creation: 3,
    reasoning: 4,
};

/// The text of every non-streaming reply.
pub const REPLY_TEXT: &str = "Hello from strait-mock.";
/// Content deltas per stream unless `x-mock-events` says otherwise.
pub const DEFAULT_EVENTS: usize = 3;
/// The vector returned for every embedding input (exact in f32, so it survives base64).
pub const EMBEDDING: [f32; 4] = [0.25, -0.5, 0.75, 1.0];

/// The text of the `i`-th streamed content delta: `"delta{i} "`.
pub fn delta_text(i: usize) -> String {
    format!("delta{i} ")
}

impl Flavor {
    /// The token counts this flavor reports.
    pub fn usage(self) -> Usage {
        match self {
            Flavor::OpenAi => OPENAI_USAGE,
            Flavor::Anthropic => ANTHROPIC_USAGE,
            Flavor::Gemini => GEMINI_USAGE,
            Flavor::Azure => AZURE_USAGE,
        }
    }
}

/// What the server thread shares with the handle.
struct State {
    flavor: Flavor,
    key: Mutex<String>,
    bearer: Mutex<Option<String>>,
    /// The issued-token lists of the token servers given to `accept_tokens_from`.
    token_sources: Mutex<Vec<token::Issued>>,
    log: Mutex<Vec<Recorded>>,
    seq: AtomicU64,
    /// Permits for `x-mock-lockstep` streams, one per event.
    steps: Arc<sse::Steps>,
    /// WebSocket sessions, oldest first.
    ws: Mutex<Vec<ws::WsSession>>,
}

impl State {
    /// Whether `Authorization: Bearer <token>` stands in for the native credential.
    fn accepts_bearer(&self, token: &str) -> bool {
        lock(&self.bearer).as_deref() == Some(token)
            || lock(&self.token_sources)
                .iter()
                .any(|issued| lock(issued).iter().any(|t| t == token))
    }
}

/// A running mock provider. Dropping it stops the server and closes its connections.
pub struct MockProvider {
    state: Arc<State>,
    addr: SocketAddr,
    _server: listen::Running,
}

impl MockProvider {
    /// Binds `127.0.0.1:0` and serves `flavor` on its own OS thread with its own tokio
    /// runtime; returns once listening. Usable from sync and async code.
    pub fn start(flavor: Flavor, key: &str) -> MockProvider {
        let state = Arc::new(State {
            flavor,
            key: Mutex::new(key.to_owned()),
            bearer: Mutex::new(None),
            token_sources: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
            seq: AtomicU64::new(0),
            steps: Arc::default(),
            ws: Mutex::new(Vec::new()),
        });
        let (listener, addr) = listen::bind();
        let server = server::spawn(listener, state.clone());
        MockProvider {
            state,
            addr,
            _server: server,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn flavor(&self) -> Flavor {
        self.state.flavor
    }

    /// Every request received, oldest first (`/__mock/*` excluded).
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.state.log).clone()
    }

    /// The most recent request; panics if there is none.
    pub fn last(&self) -> Recorded {
        match lock(&self.state.log).last() {
            Some(r) => r.clone(),
            None => panic!(
                "strait-mock {:?} at {}: no request received yet",
                self.state.flavor, self.addr
            ),
        }
    }

    /// Lets an `x-mock-lockstep` stream send its next event.
    pub fn release_event(&self) {
        self.state.steps.release();
    }

    /// How many times an `x-mock-lockstep` stream gave up waiting for
    /// [`release_event`](Self::release_event) (after 3 s) and sent its next event
    /// anyway: non-zero means events were held back on their way to the client.
    pub fn lockstep_misses(&self) -> usize {
        self.state.steps.missed()
    }

    pub fn clear(&self) {
        lock(&self.state.log).clear();
        lock(&self.state.ws).clear();
    }

    /// Every WebSocket session, oldest first: what its client sent.
    pub fn ws_sessions(&self) -> Vec<WsSession> {
        lock(&self.state.ws).clone()
    }

    /// Replaces the key the native credential header must carry.
    pub fn set_key(&self, key: &str) {
        *lock(&self.state.key) = key.to_owned();
    }

    /// Additionally accepts `Authorization: Bearer <token>` (Entra ID for Azure, an
    /// OAuth token for Vertex-style calls to the Gemini flavor).
    pub fn set_bearer_token(&self, token: &str) {
        *lock(&self.state.bearer) = Some(token.to_owned());
    }

    /// From now on also accepts `Authorization: Bearer <t>` for every token `t` that
    /// `tokens` has issued or will issue (Vertex-style calls to the Gemini flavor
    /// with a Google token, Entra ID tokens for Azure). A bearer token it did not
    /// issue is refused with the provider's 401 for a bad OAuth token.
    pub fn accept_tokens_from(&self, tokens: &TokenServer) {
        lock(&self.state.token_sources).push(tokens.issued_list());
    }
}

/// Locks ignoring poisoning: a panicking test must not hide the log from others.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
