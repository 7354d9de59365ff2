//! The YAML file as written: serde types only, no logic.
//!
//! Field names of the `providers` block follow Bifrost's `config.json` so an
//! existing block can be pasted in. Bifrost fields strait does not act on are
//! accepted (typed as `IgnoredAny`) and reported as warnings by validation.

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_saphyr::Spanned;

pub(crate) type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub(crate) listen: Option<S<Vec<S<String>>>>,
    pub(crate) admin_listen: Option<S<String>>,
    #[serde(default)]
    pub(crate) server: RawServer,
    pub(crate) access_log: Option<S<String>>,
    #[serde(default)]
    pub(crate) tls_listen: Vec<S<RawTlsListen>>,
    #[serde(default)]
    pub(crate) limits: RawLimits,
    #[serde(default)]
    pub(crate) metrics: RawMetrics,
    #[serde(default)]
    pub(crate) reload: RawReload,
    pub(crate) allow_unauthenticated: Option<bool>,
    #[serde(default)]
    pub(crate) virtual_keys: Vec<S<RawVirtualKey>>,
    #[serde(default)]
    pub(crate) providers: BTreeMap<String, S<RawProvider>>,
    #[serde(default)]
    pub(crate) pricing: RawPricing,
    #[serde(default)]
    pub(crate) state: RawState,
    pub(crate) telemetry: Option<S<RawTelemetry>>,
}

/// OpenTelemetry traces, exported over OTLP/HTTP.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTelemetry {
    /// The collector's base URL; traces go to `{otlp_endpoint}/v1/traces`.
    pub(crate) otlp_endpoint: S<String>,
    pub(crate) service_name: Option<S<String>>,
    pub(crate) sample_ratio: Option<S<f64>>,
    /// Sent with every export; a value may be `env.NAME`.
    pub(crate) headers: Option<BTreeMap<String, S<String>>>,
    /// `http/protobuf` (default); `grpc` is refused for now.
    pub(crate) protocol: Option<S<String>>,
    /// Requests whose spans may wait for export.
    pub(crate) max_queue_size: Option<S<u64>>,
}

/// Where spend counters live: this process (`memory`, optionally saved to a
/// file) or Redis, shared by every replica.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawState {
    /// `memory` (default) or `redis`.
    pub(crate) backend: Option<S<String>>,
    /// memory: the counters are saved here and read back at start.
    pub(crate) file: Option<S<String>>,
    /// redis: `redis://` or `rediss://` URL, or `env.NAME`.
    pub(crate) url: Option<S<String>>,
    pub(crate) key_prefix: Option<S<String>>,
    /// redis: `allow` or `deny` when Redis cannot be reached.
    pub(crate) on_error: Option<S<String>>,
    /// redis: how long admission waits for Redis.
    pub(crate) timeout_ms: Option<S<u64>>,
}

/// Prices in USD per million tokens, over the bundled table: the file's
/// entries first, then `models`, each replacing what came before.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPricing {
    /// LiteLLM's `model_prices_and_context_window.json` format.
    pub(crate) file: Option<S<String>>,
    #[serde(default)]
    pub(crate) models: Vec<S<RawModelPrice>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawModelPrice {
    pub(crate) provider: S<String>,
    /// A name, or a prefix ending in `*`.
    pub(crate) model: S<String>,
    pub(crate) input: S<f64>,
    pub(crate) output: S<f64>,
    /// Default: `input`.
    pub(crate) cached_input: Option<S<f64>>,
    /// Default: `input`.
    pub(crate) cache_creation: Option<S<f64>>,
}

/// A listener that terminates TLS (HTTP/2 by ALPN, else HTTP/1.1).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTlsListen {
    pub(crate) addr: S<String>,
    /// PEM certificate chain file.
    pub(crate) cert: S<String>,
    /// PEM private key file.
    pub(crate) key: S<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLimits {
    pub(crate) max_body_bytes: Option<S<u64>>,
    pub(crate) max_header_bytes: Option<S<u64>>,
    pub(crate) max_headers: Option<S<u64>>,
    /// Longest wait for each read of a request body from the client.
    pub(crate) client_read_timeout_seconds: Option<S<u64>>,
    /// How long an idle client connection is kept for its next request.
    pub(crate) keepalive_timeout_seconds: Option<S<u64>>,
    /// A WebSocket frame declaring more is answered with close 1009.
    pub(crate) websocket_max_frame_bytes: Option<S<u64>>,
    /// A WebSocket session with no frame this long (either way) is closed.
    pub(crate) websocket_idle_timeout_seconds: Option<S<u64>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMetrics {
    /// Distinct `model` label values before the rest are counted as `other`.
    pub(crate) max_model_labels: Option<usize>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReload {
    /// Reload when the file changes, besides on SIGHUP.
    pub(crate) watch: Option<bool>,
    /// Quiet time after a change before reloading, so a save is one reload.
    pub(crate) debounce_ms: Option<u64>,
}

/// Mapped onto Pingora's `ServerConf`; only the fields that make sense for strait.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServer {
    pub(crate) threads: Option<S<usize>>,
    pub(crate) pid_file: Option<String>,
    pub(crate) upgrade_sock: Option<String>,
    pub(crate) error_log: Option<String>,
    pub(crate) user: Option<String>,
    pub(crate) group: Option<String>,
    pub(crate) daemon: Option<bool>,
    pub(crate) work_stealing: Option<bool>,
    pub(crate) grace_period_seconds: Option<u64>,
    pub(crate) graceful_shutdown_timeout_seconds: Option<u64>,
    /// After SIGTERM, keep serving this long with `/readyz` failing.
    pub(crate) drain_delay_seconds: Option<u64>,
    pub(crate) upstream_keepalive_pool_size: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawVirtualKey {
    pub(crate) name: S<String>,
    pub(crate) value: S<String>,
    /// Providers this key may use (`openai`, `anthropic`, `azure`, `gemini`, `vertex`).
    pub(crate) providers: Option<S<Vec<S<String>>>>,
    /// HTTP methods this key may use.
    pub(crate) methods: Option<S<Vec<S<String>>>>,
    /// Regular expressions; the provider-native path must match one.
    pub(crate) paths: Option<S<Vec<S<String>>>>,
    pub(crate) requests_per_minute: Option<S<u64>>,
    pub(crate) max_concurrent: Option<S<u64>>,
    /// Input + output tokens per minute.
    pub(crate) tokens_per_minute: Option<S<u64>>,
    pub(crate) budget: Option<S<RawBudget>>,
}

/// Spend per calendar period (UTC): USD, tokens, or both.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBudget {
    pub(crate) usd: Option<S<f64>>,
    pub(crate) tokens: Option<S<u64>>,
    /// `day`, `week`, `month` (default) or `total`.
    pub(crate) period: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProvider {
    #[serde(default)]
    pub(crate) keys: Vec<S<RawKey>>,
    pub(crate) network_config: Option<RawNetworkConfig>,
    /// Upstream statuses that are retried on another key when the body can
    /// be replayed, e.g. `[429, 503]`.
    pub(crate) retry_on_status: Option<S<Vec<u16>>>,
    /// Attempts per request across keys (connect failures, timeouts,
    /// `retry_on_status`); default 3.
    pub(crate) max_attempts: Option<S<u32>>,
    /// Add `stream_options.include_usage: true` to OpenAI-style chat
    /// streams that do not say; default true.
    pub(crate) inject_stream_usage: Option<S<bool>>,
    // Bifrost fields accepted for compatibility, not acted on.
    pub(crate) concurrency_and_buffer_size: Option<S<IgnoredAny>>,
    pub(crate) proxy_config: Option<S<IgnoredAny>>,
    pub(crate) send_back_raw_response: Option<S<IgnoredAny>>,
    pub(crate) send_back_raw_request: Option<S<IgnoredAny>>,
    pub(crate) store_raw_request_response: Option<S<IgnoredAny>>,
    pub(crate) custom_provider_config: Option<S<IgnoredAny>>,
    pub(crate) openai_config: Option<S<IgnoredAny>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawKey {
    pub(crate) name: Option<S<String>>,
    pub(crate) value: Option<S<String>>,
    pub(crate) weight: Option<S<f64>>,
    pub(crate) models: Option<Vec<String>>,
    pub(crate) enabled: Option<bool>,
    pub(crate) azure_key_config: Option<S<RawAzureKeyConfig>>,
    // Bifrost fields accepted for compatibility, not acted on.
    pub(crate) id: Option<S<IgnoredAny>>,
    pub(crate) aliases: Option<S<IgnoredAny>>,
    pub(crate) blacklisted_models: Option<S<IgnoredAny>>,
    pub(crate) use_for_batch_api: Option<S<IgnoredAny>>,
    pub(crate) vertex_key_config: Option<S<RawVertexKeyConfig>>,
    pub(crate) bedrock_key_config: Option<S<IgnoredAny>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawVertexKeyConfig {
    pub(crate) project_id: S<String>,
    pub(crate) region: S<String>,
    /// Service-account JSON text, or a path to the file.
    pub(crate) auth_credentials: Option<S<String>>,
    pub(crate) project_number: Option<S<IgnoredAny>>,
    pub(crate) deployments: Option<S<IgnoredAny>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAzureKeyConfig {
    pub(crate) endpoint: Option<S<String>>,
    pub(crate) api_version: Option<S<String>>,
    pub(crate) deployments: Option<S<IgnoredAny>>,
    /// Entra ID service principal: all three, or none.
    pub(crate) client_id: Option<S<String>>,
    pub(crate) client_secret: Option<S<String>>,
    pub(crate) tenant_id: Option<S<String>>,
    pub(crate) scopes: Option<S<Vec<String>>>,
    pub(crate) authority_host: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNetworkConfig {
    pub(crate) base_url: Option<S<String>>,
    #[serde(default)]
    pub(crate) extra_headers: BTreeMap<String, S<String>>,
    pub(crate) default_request_timeout_in_seconds: Option<S<u64>>,
    pub(crate) stream_idle_timeout_in_seconds: Option<S<u64>>,
    pub(crate) connect_timeout_in_seconds: Option<S<u64>>,
    /// Whole non-streaming call, first byte to last; default none.
    pub(crate) total_timeout_in_seconds: Option<S<u64>>,
    pub(crate) ca_cert_pem: Option<S<String>>,
    /// HTTP/2 without TLS (prior knowledge) to an `http://` base URL.
    pub(crate) h2c: Option<S<bool>>,
    // Bifrost fields accepted for compatibility, not acted on.
    pub(crate) max_retries: Option<S<IgnoredAny>>,
    pub(crate) retry_backoff_initial_ms: Option<S<IgnoredAny>>,
    pub(crate) retry_backoff_max_ms: Option<S<IgnoredAny>>,
    pub(crate) insecure_skip_verify: Option<S<IgnoredAny>>,
}
