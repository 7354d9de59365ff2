//! Where the process is in its life, for `/readyz`: ready once the config
//! is loaded (always, by the time anything runs), the listeners accept and
//! provider addresses have been looked up once; not ready again from the
//! moment a shutdown or upgrade signal arrives.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pingora::server::{ShutdownSignal, ShutdownSignalWatch};
use tokio::signal::unix::{signal, SignalKind};

pub struct Lifecycle {
    listeners: Vec<SocketAddr>,
    bound: AtomicBool,
    resolved: AtomicBool,
    draining: AtomicBool,
}

impl Lifecycle {
    pub fn new(listeners: Vec<SocketAddr>) -> Arc<Lifecycle> {
        Arc::new(Lifecycle {
            listeners,
            bound: AtomicBool::new(false),
            resolved: AtomicBool::new(false),
            draining: AtomicBool::new(false),
        })
    }

    pub fn set_resolved(&self) {
        self.resolved.store(true, Ordering::Release);
    }

    pub fn set_draining(&self) {
        self.draining.store(true, Ordering::Release);
    }

    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// `Ok` when ready, else why not.
    pub async fn ready(&self) -> Result<(), &'static str> {
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

/// Pingora's own signal handling (SIGQUIT upgrade, SIGTERM graceful, SIGINT
/// fast), marking the process as draining first so `/readyz` turns away
/// new traffic.
pub struct Signals(pub Arc<Lifecycle>);

#[async_trait]
impl ShutdownSignalWatch for Signals {
    async fn recv(&self) -> ShutdownSignal {
        let (Ok(mut quit), Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::quit()),
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            log::error!("cannot install signal handlers; stopping");
            return ShutdownSignal::FastShutdown;
        };
        let got = tokio::select! {
            _ = quit.recv() => ShutdownSignal::GracefulUpgrade,
            _ = term.recv() => ShutdownSignal::GracefulTerminate,
            _ = int.recv() => ShutdownSignal::FastShutdown,
        };
        self.0.set_draining();
        got
    }
}
