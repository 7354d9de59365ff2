//! Every default value of the config file, in one place: what a setting is
//! when the file does not name it. README and `conf/strait.yaml` quote these;
//! the modules that act on a setting get the value from here, through
//! [`super::Settings`] or the snapshot, and keep no default of their own.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use super::settings::ServerSettings;
use crate::observe::AccessLogTarget;
use crate::pricing::PriceTable;
use crate::snapshot::Limits;
use crate::spend::Period;
use crate::upstream::Timeouts;

/// Loopback only: a gateway with no virtual keys must not be reachable from
/// elsewhere by accident.
pub(crate) const LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8080));

pub(crate) const ACCESS_LOG: AccessLogTarget = AccessLogTarget::Stdout;

/// Distinct `model` label values before the rest are counted as `other`.
pub(crate) const MAX_MODEL_LABELS: usize = 100;

pub(crate) const RELOAD_WATCH: bool = false;

/// `virtual_keys[].budget.period` when not given.
pub(crate) const BUDGET_PERIOD: Period = Period::Month;
/// `state.key_prefix`: every Redis key strait writes starts with it.
pub(crate) const STATE_KEY_PREFIX: &str = "strait:";
/// `state.timeout_ms`: what admission may wait for Redis. A local Redis
/// answers in well under a millisecond; this bounds a sick one.
pub(crate) const STATE_TIMEOUT: Duration = Duration::from_millis(50);
/// How often the memory backend writes `state.file` when something changed.
pub(crate) const STATE_SAVE_INTERVAL: Duration = Duration::from_secs(5);
/// `telemetry.service_name`: the `service.name` of every span.
pub(crate) const TELEMETRY_SERVICE_NAME: &str = "strait";
/// `telemetry.sample_ratio`: every trace strait starts is kept.
pub(crate) const TELEMETRY_SAMPLE_RATIO: f64 = 1.0;
/// `telemetry.max_queue_size`: requests whose spans wait for export (a
/// few KiB each) before more are dropped, like the SDK's 2048 spans.
pub(crate) const TELEMETRY_MAX_QUEUE: usize = 2048;
/// Long enough for an editor's write-then-rename to be one change.
pub(crate) const RELOAD_DEBOUNCE: Duration = Duration::from_millis(500);

/// The `server:` block when the file leaves a field out; `None` leaves the
/// field to Pingora's own default.
pub(crate) fn server() -> ServerSettings {
    ServerSettings {
        threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        daemon: false,
        // One runtime per thread, like nginx's workers: no cross-thread
        // wake-ups per request (BENCHMARKS.md: +17% requests/s).
        work_stealing: false,
        // The longest a stream may keep a stopping process alive.
        grace_period_seconds: 300,
        graceful_shutdown_timeout_seconds: 5,
        drain_delay: Duration::ZERO,
        pid_file: None,
        upgrade_sock: None,
        error_log: None,
        user: None,
        group: None,
        upstream_keepalive_pool_size: None,
    }
}

pub(crate) const LIMITS: Limits = Limits {
    max_body_bytes: 32 * 1024 * 1024,
    max_header_bytes: 64 * 1024,
    max_headers: 100,
    client_read_timeout: Duration::from_secs(60),
    keepalive_timeout: 60,
    // Realtime audio chunks and Live setup messages are far below this;
    // a bigger frame is a client or provider gone wrong.
    websocket_max_frame_bytes: 16 * 1024 * 1024,
    websocket_idle_timeout: Duration::from_secs(300),
};

/// Minutes, not seconds: a long generation may take that long to start
/// answering, and reasoning models can pause mid-stream.
pub(crate) const TIMEOUTS: Timeouts = Timeouts {
    connect: Duration::from_secs(10),
    first_byte: Duration::from_secs(600),
    stream_idle: Duration::from_secs(300),
    total: None,
};

/// Attempts per request across a provider's keys.
pub(crate) const MAX_ATTEMPTS: u32 = 3;

/// OpenAI-style chat streams are asked for their usage, so that every
/// streamed call is counted and priced.
pub(crate) const INJECT_STREAM_USAGE: bool = true;

pub(crate) const KEY_WEIGHT: f64 = 1.0;
pub(crate) const KEY_ENABLED: bool = true;

/// Entra ID of the public Azure cloud; sovereign clouds name their own.
pub(crate) const ENTRA_AUTHORITY: &str = "https://login.microsoftonline.com";
/// Azure OpenAI's resource scope.
pub(crate) const ENTRA_SCOPE: &str = "https://cognitiveservices.azure.com/.default";

/// Without virtual keys, only loopback listeners; see `refuse_open`.
pub(crate) const ALLOW_UNAUTHENTICATED: bool = false;

/// Prices with no `pricing:` section, and underneath one: the flagship
/// models of each provider (`pricing/bundled.rs` says which and from where).
pub(crate) fn prices() -> PriceTable {
    crate::pricing::bundled()
}
