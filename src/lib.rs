//! strait: an edge gateway for LLM provider APIs, on Pingora.
//!
//! # Architecture
//!
//! The code reads in the order a request travels, in layers. A module may
//! name modules of its own layer or of a lower one, never of a higher one
//! (`tests/layers.rs` reads this table and checks every `crate::` path
//! against it).
//!
//! | layer | modules |
//! |---|---|
//! | 0 leaves | errors, route, upstream, tokens, credential, keys, observe, providers, pricing, spend, notify |
//! | 1 model | snapshot |
//! | 2 request path | ctx, auth, policy, body, binding, admission, spans, failover, forward, relay, ws, account |
//! | 3 proxy | gateway |
//! | 4 config | config |
//! | 5 process | lifecycle, resolver, admin, reload, upgrade, shutdown, flush, housekeeping, server |
//!
//! * **Leaves** know nothing of a request's journey: `errors` (every
//!   gateway error kind with its status and wire name), `route` (the
//!   prefix table and path validation), `upstream` (provider endpoints,
//!   resolved addresses, timeouts, Pingora peers), `tokens` (minted OAuth
//!   tokens, with their own error type), `credential`, `keys` (a provider
//!   key, its cool-down, key selection), `observe` (parsers of usage, SSE
//!   and request bodies; the access log, metrics and trace sinks), `providers`
//!   (one file per provider behind one trait, and the body edit that asks
//!   OpenAI-style chat streams for their usage), `pricing` (prices per
//!   million tokens, the table a model finds its price in, the bundled
//!   table, LiteLLM's price file, the cost of a call), `spend` (per-key
//!   counters of requests, tokens and money, in memory or in Redis, and the
//!   verdict on them), `notify` (sd_notify).
//! * **Model**: `snapshot`, the immutable runtime form of one config load
//!   (prices included), swapped atomically; a request loads it once.
//! * **Request path**, in order: `admission` (route → `auth` → `policy` →
//!   provider and model → key) binds a key (`binding`), `failover` starts
//!   each attempt, `forward` writes the upstream request, `relay` passes the
//!   answer back (`ws` reads a WebSocket session's frames), `account` prices the call and writes the log line and
//!   metrics, and hands the trace `spans` to their exporter. `ctx` is what
//!   a request carries between them; `body` owns the request body.
//! * **Proxy**: `gateway`, the `ProxyHttp` impl, each hook one call into
//!   the step that owns it.
//! * **Config**: the YAML file to the model, a pure builder.
//! * **Process**: the server, reloads, signals, readiness, background work.

mod account;
mod admin;
mod admission;
mod auth;
mod binding;
mod body;
mod config;
mod credential;
mod ctx;
mod errors;
mod failover;
mod flush;
mod forward;
mod gateway;
mod housekeeping;
mod keys;
mod lifecycle;
mod notify;
mod observe;
mod policy;
mod pricing;
mod providers;
mod relay;
mod reload;
mod resolver;
mod route;
mod server;
mod shutdown;
mod snapshot;
mod spans;
mod spend;
mod tokens;
mod upgrade;
mod upstream;
mod ws;

pub use config::{load, Diagnostic, Loaded, Mode};
pub use observe::log_limit::init as init_logging;
pub use server::{run, Options};

/// The request path's pure parts, for the benchmarks, fuzz targets and
/// tests that exercise them one by one: not an API.
#[doc(hidden)]
pub mod facade {
    pub use crate::auth::{strip_client_credentials, AuthOutcome, CLIENT_CREDENTIAL_PARAMS};
    pub use crate::config::load_str;
    pub use crate::credential::{RequestCredential, Secret};
    pub use crate::observe::request_model::ModelScanner;
    pub use crate::observe::tap::{Outcome, ResponseTap, UsageState};
    pub use crate::observe::usage::{Format, Tokens};
    pub use crate::providers::ProviderKind;
    pub use crate::reload::sha256_hex;
    pub use crate::route::{filter_query, match_route, query_value, validate_path, Route};
    pub use crate::snapshot::{ProviderConfig, Snapshot, VirtualKeys};

    use pingora::http::RequestHeader;

    /// Key selection as admission runs it: the index of the chosen key.
    pub fn select_key(provider: &ProviderConfig, model: Option<&str>) -> Option<usize> {
        crate::keys::select(provider.keys(), model, &[]).ok()
    }

    /// The provider's credential write, as `forward` does it.
    pub fn inject_credential(
        kind: ProviderKind,
        credential: &RequestCredential,
        native_path: &str,
        req: &mut RequestHeader,
    ) {
        kind.rules().inject_credential(credential, native_path, req);
    }
}
