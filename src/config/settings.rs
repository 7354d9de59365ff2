//! The process-level settings: listeners, the `server:` block, access log,
//! metrics and reload. Read once at start; a reload applies only the
//! metrics and reload parts (see [`Settings::restart_only`]).

use std::net::SocketAddr;
use std::path::PathBuf;

use serde_saphyr::Spanned;

use super::checker::Checker;
use super::schema::{RawConfig, RawServer};

/// Process-level settings: read at start, not swapped by a reload.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: Vec<SocketAddr>,
    /// Listeners that terminate TLS.
    pub tls_listen: Vec<TlsListen>,
    pub admin_listen: Option<SocketAddr>,
    pub server: RawServer,
    /// `None`: access log off; `Some(None)`: stdout; `Some(Some(path))`: file.
    pub access_log: Option<Option<PathBuf>>,
    /// `metrics.max_model_labels`.
    pub max_model_labels: usize,
    /// `reload.watch`.
    pub watch: bool,
    /// `reload.debounce_ms`.
    pub debounce: std::time::Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsListen {
    pub addr: SocketAddr,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Settings {
    /// The settings a reload cannot apply, by name, as comparable text.
    pub fn restart_only(&self) -> Vec<(&'static str, String)> {
        let s = &self.server;
        vec![
            ("listen", format!("{:?}", self.listen)),
            ("tls_listen", format!("{:?}", self.tls_listen)),
            ("admin_listen", format!("{:?}", self.admin_listen)),
            ("access_log", format!("{:?}", self.access_log)),
            (
                "server.threads",
                format!("{:?}", s.threads.as_ref().map(|t| t.value)),
            ),
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
                format!("{:?}", s.drain_delay_seconds),
            ),
            (
                "server.upstream_keepalive_pool_size",
                format!("{:?}", s.upstream_keepalive_pool_size),
            ),
        ]
    }
}

const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// `open`: no virtual keys are configured, so anyone who reaches a
/// listener may use the providers' keys.
pub(crate) fn settings(c: &mut Checker, raw: &RawConfig, open: bool) -> Settings {
    let listen = listeners(c, raw);
    let admin_listen = raw.admin_listen.as_ref().and_then(|a| socket_addr(c, a));
    if let Some(t) = &raw.server.threads {
        if t.value == 0 {
            c.error(t, "server.threads must be at least 1");
        }
    }
    let tls_listen = tls_listeners(c, raw);
    if open && !raw.allow_unauthenticated {
        refuse_open(c, raw, &listen, &tls_listen);
    }
    let access_log = match raw.access_log.as_ref().map(|s| s.value.as_str()) {
        None | Some("-") => Some(None),
        Some("off") => None,
        Some(path) => Some(Some(c.base_dir().join(path))),
    };
    Settings {
        listen,
        tls_listen,
        admin_listen,
        server: raw.server.clone(),
        access_log,
        max_model_labels: raw
            .metrics
            .max_model_labels
            .unwrap_or(crate::observe::metrics::DEFAULT_MODEL_LABELS),
        watch: raw.reload.watch.unwrap_or(false),
        debounce: std::time::Duration::from_millis(raw.reload.debounce_ms.unwrap_or(500)),
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
        return vec![DEFAULT_LISTEN.parse().expect("valid default")];
    };
    if list.value.is_empty() {
        c.error(list, "listen needs at least one address");
    }
    list.value
        .iter()
        .filter_map(|a| socket_addr(c, a))
        .collect()
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
