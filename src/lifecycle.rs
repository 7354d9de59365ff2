//! Where the process is in its life, for `/readyz`: ready once the config
//! is loaded (always, by the time anything runs), the listeners accept and
//! provider addresses have been looked up once; not ready again from the
//! moment a shutdown or upgrade signal arrives.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use serde::Serialize;

pub(crate) struct Lifecycle {
    listeners: Vec<SocketAddr>,
    bound: AtomicBool,
    resolved: AtomicBool,
    /// The stop and upgrade signals are answered (before that, a SIGTERM
    /// waits to be, so the drain starts late).
    signals: AtomicBool,
    draining: AtomicBool,
    config: ArcSwap<ConfigState>,
}

/// The active config and the last reload, as `/readyz` shows them.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct ConfigState {
    pub(crate) path: String,
    /// SHA-256 of the file's bytes.
    pub(crate) sha256: String,
    pub(crate) loaded_at: String,
    pub(crate) reloads: u64,
    /// SIGHUPs received (the kernel merges those sent while one is pending).
    pub(crate) reload_signals: u64,
    /// SIGHUPs received while a reload ran and another one was already due
    /// after it: that one reload, which reads the file as it is then,
    /// answers them all. So `reload_signals - reload_signals_coalesced`
    /// reloads ran for SIGHUP.
    pub(crate) reload_signals_coalesced: u64,
    /// The errors of the last reload, when it failed; cleared by a success.
    pub(crate) last_error: Option<ReloadError>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ReloadError {
    pub(crate) at: String,
    pub(crate) sha256: String,
    pub(crate) errors: Vec<String>,
}

impl Lifecycle {
    pub(crate) fn new(listeners: Vec<SocketAddr>) -> Arc<Lifecycle> {
        Arc::new(Lifecycle {
            listeners,
            bound: AtomicBool::new(false),
            resolved: AtomicBool::new(false),
            signals: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            config: ArcSwap::from_pointee(ConfigState::default()),
        })
    }

    pub(crate) fn config(&self) -> Arc<ConfigState> {
        self.config.load_full()
    }

    pub(crate) fn set_config(&self, state: ConfigState) {
        self.config.store(Arc::new(state));
    }

    pub(crate) fn count_reload_signal(&self, coalesced: bool) {
        let mut state = (*self.config()).clone();
        state.reload_signals += 1;
        state.reload_signals_coalesced += u64::from(coalesced);
        self.set_config(state);
    }

    pub(crate) fn set_signals_handled(&self) {
        self.signals.store(true, Ordering::Release);
    }

    pub(crate) fn set_resolved(&self) {
        self.resolved.store(true, Ordering::Release);
    }

    pub(crate) fn set_draining(&self) {
        self.draining.store(true, Ordering::Release);
    }

    pub(crate) fn draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// `Ok` when ready, else why not.
    pub(crate) async fn ready(&self) -> Result<(), &'static str> {
        if self.draining() {
            return Err("draining: shutting down or handing over to a new process");
        }
        if !self.bound.load(Ordering::Acquire) {
            // Pingora binds inside its services and reports nothing, so
            // the listeners are asked directly, once.
            for addr in &self.listeners {
                let probe = tokio::net::TcpStream::connect(reachable(*addr));
                match tokio::time::timeout(Duration::from_secs(1), probe).await {
                    Ok(Ok(_)) => {}
                    _ => return Err("the gateway listeners are not accepting yet"),
                }
            }
            self.bound.store(true, Ordering::Release);
        }
        if !self.signals.load(Ordering::Acquire) {
            return Err("signal handlers are not installed yet");
        }
        if !self.resolved.load(Ordering::Acquire) {
            return Err("provider addresses are not resolved yet");
        }
        Ok(())
    }
}

/// A wildcard listen address is reached through loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), addr.port())
        }
        _ => addr,
    }
}
