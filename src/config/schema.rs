//! The YAML file as written: serde types only, no logic.
//!
//! Field names of the `providers` block follow Bifrost's `config.json` so an
//! existing block can be pasted in. Bifrost fields strait does not act on are
//! accepted (typed as `IgnoredAny`) and reported as warnings by validation.

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_saphyr::Spanned;

pub type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub listen: Option<S<Vec<S<String>>>>,
    pub admin_listen: Option<S<String>>,
    #[serde(default)]
    pub server: RawServer,
    pub access_log: Option<S<String>>,
    #[serde(default)]
    pub tls_listen: Vec<S<RawTlsListen>>,
    #[serde(default)]
    pub limits: RawLimits,
    #[serde(default)]
    pub metrics: RawMetrics,
    #[serde(default)]
    pub reload: RawReload,
    pub allow_unauthenticated: Option<bool>,
    #[serde(default)]
    pub virtual_keys: Vec<S<RawVirtualKey>>,
    #[serde(default)]
    pub providers: BTreeMap<String, S<RawProvider>>,
}

/// A listener that terminates TLS (HTTP/2 by ALPN, else HTTP/1.1).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTlsListen {
    pub addr: S<String>,
    /// PEM certificate chain file.
    pub cert: S<String>,
    /// PEM private key file.
    pub key: S<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pub max_body_bytes: Option<S<u64>>,
    pub max_header_bytes: Option<S<u64>>,
    pub max_headers: Option<S<u64>>,
    /// Longest wait for each read of a request body from the client.
    pub client_read_timeout_seconds: Option<S<u64>>,
    /// How long an idle client connection is kept for its next request.
    pub keepalive_timeout_seconds: Option<S<u64>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    /// Distinct `model` label values before the rest are counted as `other`.
    pub max_model_labels: Option<usize>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReload {
    /// Reload when the file changes, besides on SIGHUP.
    pub watch: Option<bool>,
    /// Quiet time after a change before reloading, so a save is one reload.
    pub debounce_ms: Option<u64>,
}

/// Mapped onto Pingora's `ServerConf`; only the fields that make sense for strait.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub threads: Option<S<usize>>,
    pub pid_file: Option<String>,
    pub upgrade_sock: Option<String>,
    pub error_log: Option<String>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub daemon: Option<bool>,
    pub work_stealing: Option<bool>,
    pub grace_period_seconds: Option<u64>,
    pub graceful_shutdown_timeout_seconds: Option<u64>,
    /// After SIGTERM, keep serving this long with `/readyz` failing.
    pub drain_delay_seconds: Option<u64>,
    pub upstream_keepalive_pool_size: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVirtualKey {
    pub name: S<String>,
    pub value: S<String>,
    /// Providers this key may use (`openai`, `anthropic`, `azure`, `gemini`, `vertex`).
    pub providers: Option<S<Vec<S<String>>>>,
    /// HTTP methods this key may use.
    pub methods: Option<S<Vec<S<String>>>>,
    /// Regular expressions; the provider-native path must match one.
    pub paths: Option<S<Vec<S<String>>>>,
    pub requests_per_minute: Option<S<u64>>,
    pub max_concurrent: Option<S<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    #[serde(default)]
    pub keys: Vec<S<RawKey>>,
    pub network_config: Option<RawNetworkConfig>,
    /// Upstream statuses that are retried on another key when the body can
    /// be replayed, e.g. `[429, 503]`.
    pub retry_on_status: Option<S<Vec<u16>>>,
    /// Attempts per request across keys (connect failures, timeouts,
    /// `retry_on_status`); default 3.
    pub max_attempts: Option<S<u32>>,
    // Bifrost fields accepted for compatibility, not acted on.
    pub concurrency_and_buffer_size: Option<S<IgnoredAny>>,
    pub proxy_config: Option<S<IgnoredAny>>,
    pub send_back_raw_response: Option<S<IgnoredAny>>,
    pub send_back_raw_request: Option<S<IgnoredAny>>,
    pub store_raw_request_response: Option<S<IgnoredAny>>,
    pub custom_provider_config: Option<S<IgnoredAny>>,
    pub openai_config: Option<S<IgnoredAny>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKey {
    pub name: Option<S<String>>,
    pub value: Option<S<String>>,
    pub weight: Option<S<f64>>,
    pub models: Option<Vec<String>>,
    pub enabled: Option<bool>,
    pub azure_key_config: Option<S<RawAzureKeyConfig>>,
    // Bifrost fields accepted for compatibility, not acted on.
    pub id: Option<S<IgnoredAny>>,
    pub aliases: Option<S<IgnoredAny>>,
    pub blacklisted_models: Option<S<IgnoredAny>>,
    pub use_for_batch_api: Option<S<IgnoredAny>>,
    pub vertex_key_config: Option<S<RawVertexKeyConfig>>,
    pub bedrock_key_config: Option<S<IgnoredAny>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVertexKeyConfig {
    pub project_id: S<String>,
    pub region: S<String>,
    /// Service-account JSON text, or a path to the file.
    pub auth_credentials: Option<S<String>>,
    pub project_number: Option<S<IgnoredAny>>,
    pub deployments: Option<S<IgnoredAny>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAzureKeyConfig {
    pub endpoint: Option<S<String>>,
    pub api_version: Option<S<String>>,
    pub deployments: Option<S<IgnoredAny>>,
    /// Entra ID service principal: all three, or none.
    pub client_id: Option<S<String>>,
    pub client_secret: Option<S<String>>,
    pub tenant_id: Option<S<String>>,
    pub scopes: Option<S<Vec<String>>>,
    pub authority_host: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNetworkConfig {
    pub base_url: Option<S<String>>,
    #[serde(default)]
    pub extra_headers: BTreeMap<String, S<String>>,
    pub default_request_timeout_in_seconds: Option<S<u64>>,
    pub stream_idle_timeout_in_seconds: Option<S<u64>>,
    pub connect_timeout_in_seconds: Option<S<u64>>,
    /// Whole non-streaming call, first byte to last; default none.
    pub total_timeout_in_seconds: Option<S<u64>>,
    pub ca_cert_pem: Option<S<String>>,
    /// HTTP/2 without TLS (prior knowledge) to an `http://` base URL.
    pub h2c: Option<S<bool>>,
    // Bifrost fields accepted for compatibility, not acted on.
    pub max_retries: Option<S<IgnoredAny>>,
    pub retry_backoff_initial_ms: Option<S<IgnoredAny>>,
    pub retry_backoff_max_ms: Option<S<IgnoredAny>>,
    pub insecure_skip_verify: Option<S<IgnoredAny>>,
}
