//! The process-level settings: listeners, the `server:` block, access log,
//! metrics and reload. Read once at start; a reload applies only the
//! metrics and reload parts (see [`Settings::restart_only`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde_saphyr::Spanned;

use super::checker::Checker;
use super::defaults;
use super::schema::{RawConfig, RawServer};
use super::state::{state, StateSettings};
use crate::observe::AccessLogTarget;

/// Process-level settings: read at start, not swapped by a reload.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) listen: Vec<SocketAddr>,
    /// Listeners that terminate TLS.
    pub(crate) tls_listen: Vec<TlsListen>,
    pub(crate) admin_listen: Option<SocketAddr>,
    pub(crate) server: ServerSettings,
    pub(crate) access_log: AccessLogTarget,
    /// `metrics.max_model_labels`.
    pub(crate) max_model_labels: usize,
    /// `reload.watch`.
    pub(crate) watch: bool,
    /// `reload.debounce_ms`.
    pub(crate) debounce: Duration,
    /// `state:` where spend counters live.
    pub(crate) state: StateSettings,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsListen {
    pub(crate) addr: SocketAddr,
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
}

/// The `server:` block with its defaults applied. An `Option` is left to
/// Pingora's own default, which strait has no reason to restate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerSettings {
    pub(crate) threads: usize,
    pub(crate) daemon: bool,
    pub(crate) work_stealing: bool,
    pub(crate) grace_period_seconds: u64,
    pub(crate) graceful_shutdown_timeout_seconds: u64,
    /// After SIGTERM, how long to keep serving with `/readyz` failing.
    pub(crate) drain_delay: Duration,
    pub(crate) pid_file: Option<String>,
    pub(crate) upgrade_sock: Option<String>,
    pub(crate) error_log: Option<String>,
    pub(crate) user: Option<String>,
    pub(crate) group: Option<String>,
    pub(crate) upstream_keepalive_pool_size: Option<usize>,
}

impl Settings {
    /// The settings a reload cannot apply, by name, as comparable text.
    pub(crate) fn restart_only(&self) -> Vec<(&'static str, String)> {
        let s = &self.server;
        vec![
            ("listen", format!("{:?}", self.listen)),
            ("tls_listen", format!("{:?}", self.tls_listen)),
            ("admin_listen", format!("{:?}", self.admin_listen)),
            ("access_log", format!("{:?}", self.access_log)),
            // Debug leaves a Redis password out.
            ("state", format!("{:?}", self.state)),
            ("server.threads", format!("{:?}", s.threads)),
            ("server.pid_file", format!("{:?}", s.pid_file)),
            ("server.upgrade_sock", format!("{:?}", s.upgrade_sock)),
            ("server.error_log", format!("{:?}", s.error_log)),
            ("server.user", format!("{:?}", s.user)),
            ("server.group", format!("{:?}", s.group)),
            ("server.daemon", format!("{:?}", s.daemon)),
            ("server.work_stealing", format!("{:?}", s.work_stealing)),
            (
                "server.grace_period_seconds",
                format!("{:?}", s.grace_period_seconds),
            ),
            (
                "server.graceful_shutdown_timeout_seconds",
                format!("{:?}", s.graceful_shutdown_timeout_seconds),
            ),
            (
                "server.drain_delay_seconds",
                format!("{:?}", s.drain_delay.as_secs()),
            ),
            (
                "server.upstream_keepalive_pool_size",
                format!("{:?}", s.upstream_keepalive_pool_size),
            ),
        ]
    }
}

/// `open`: no virtual keys are configured, so anyone who reaches a
/// listener may use the providers' keys.
pub(crate) fn settings(c: &mut Checker, raw: &RawConfig, open: bool) -> Settings {
    let listen = listeners(c, raw);
    let admin_listen = raw.admin_listen.as_ref().and_then(|a| socket_addr(c, a));
    let server = server(c, &raw.server);
    let tls_listen = tls_listeners(c, raw);
    if open
        && !raw
            .allow_unauthenticated
            .unwrap_or(defaults::ALLOW_UNAUTHENTICATED)
    {
        refuse_open(c, raw, &listen, &tls_listen);
    }
    let access_log = match raw.access_log.as_ref().map(|s| s.value.as_str()) {
        None => defaults::ACCESS_LOG,
        Some("-") => AccessLogTarget::Stdout,
        Some("off") => AccessLogTarget::Off,
        Some(path) => AccessLogTarget::File(c.base_dir().join(path)),
    };
    Settings {
        listen,
        tls_listen,
        admin_listen,
        server,
        access_log,
        max_model_labels: raw
            .metrics
            .max_model_labels
            .unwrap_or(defaults::MAX_MODEL_LABELS),
        watch: raw.reload.watch.unwrap_or(defaults::RELOAD_WATCH),
        debounce: raw
            .reload
            .debounce_ms
            .map_or(defaults::RELOAD_DEBOUNCE, Duration::from_millis),
        state: state(c, &raw.state),
    }
}

fn socket_addr(c: &mut Checker, at: &Spanned<String>) -> Option<SocketAddr> {
    match at.value.parse() {
        Ok(a) => Some(a),
        Err(_) => {
            c.error(at, format!("{:?} is not an IP:port address", at.value));
            None
        }
    }
}

fn listeners(c: &mut Checker, raw: &RawConfig) -> Vec<SocketAddr> {
    let Some(list) = &raw.listen else {
        return vec![defaults::LISTEN];
    };
    if list.value.is_empty() {
        c.error(list, "listen needs at least one address");
    }
    list.value
        .iter()
        .filter_map(|a| socket_addr(c, a))
        .collect()
}

fn server(c: &mut Checker, raw: &RawServer) -> ServerSettings {
    let d = defaults::server();
    let threads = match &raw.threads {
        Some(t) if t.value == 0 => {
            c.error(t, "server.threads must be at least 1");
            d.threads
        }
        Some(t) => t.value,
        None => d.threads,
    };
    ServerSettings {
        threads,
        daemon: raw.daemon.unwrap_or(d.daemon),
        work_stealing: raw.work_stealing.unwrap_or(d.work_stealing),
        grace_period_seconds: raw.grace_period_seconds.unwrap_or(d.grace_period_seconds),
        graceful_shutdown_timeout_seconds: raw
            .graceful_shutdown_timeout_seconds
            .unwrap_or(d.graceful_shutdown_timeout_seconds),
        drain_delay: raw
            .drain_delay_seconds
            .map_or(d.drain_delay, Duration::from_secs),
        pid_file: raw.pid_file.clone().or(d.pid_file),
        upgrade_sock: raw.upgrade_sock.clone().or(d.upgrade_sock),
        error_log: raw.error_log.clone().or(d.error_log),
        user: raw.user.clone().or(d.user),
        group: raw.group.clone().or(d.group),
        upstream_keepalive_pool_size: raw
            .upstream_keepalive_pool_size
            .or(d.upstream_keepalive_pool_size),
    }
}

fn tls_listeners(c: &mut Checker, raw: &RawConfig) -> Vec<TlsListen> {
    let mut out = Vec::new();
    for l in &raw.tls_listen {
        let Some(addr) = socket_addr(c, &l.value.addr) else {
            continue;
        };
        let mut files = Vec::new();
        for f in [&l.value.cert, &l.value.key] {
            let path = c.base_dir().join(f.value.trim());
            if let Err(e) = std::fs::metadata(&path) {
                c.error(f, format!("cannot read {}: {e}", path.display()));
            }
            files.push(path);
        }
        let key = files.pop().unwrap_or_default();
        let cert = files.pop().unwrap_or_default();
        out.push(TlsListen { addr, cert, key });
    }
    out
}

/// An open gateway lends the providers' keys to whoever reaches it, so
/// beyond loopback it must be asked for in so many words.
fn refuse_open(c: &mut Checker, raw: &RawConfig, listen: &[SocketAddr], tls: &[TlsListen]) {
    let written = raw.listen.iter().flat_map(|l| l.value.iter());
    for (addr, at) in listen.iter().zip(written) {
        if !addr.ip().is_loopback() {
            c.error(
                at,
                format!(
                    "listener {addr} is not loopback and no virtual_keys are configured: \
                     add virtual_keys, or set allow_unauthenticated: true to serve it open"
                ),
            );
        }
    }
    for (l, raw_l) in tls.iter().zip(&raw.tls_listen) {
        if !l.addr.ip().is_loopback() {
            c.error(
                &raw_l.value.addr,
                format!(
                    "TLS listener {} is not loopback and no virtual_keys are configured: \
                     add virtual_keys, or set allow_unauthenticated: true to serve it open",
                    l.addr
                ),
            );
        }
    }
}
