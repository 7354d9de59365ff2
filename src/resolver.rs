//! Resolves upstream host names on a background thread: Pingora's
//! `HttpPeer::new` would resolve synchronously and panic on failure, and the
//! request path must never wait on DNS.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::lifecycle::Lifecycle;
use crate::snapshot::Snapshot;

/// How often names are looked up again, so provider IP changes are followed.
const REFRESH: Duration = Duration::from_secs(30);

pub(crate) fn spawn(snapshot: Arc<ArcSwap<Snapshot>>, lifecycle: Arc<Lifecycle>) {
    let spawned = std::thread::Builder::new()
        .name("strait-resolver".into())
        .spawn(move || loop {
            resolve_all(&snapshot.load());
            // Tried once: failures are logged and retried, not waited for.
            lifecycle.set_resolved();
            std::thread::sleep(REFRESH);
        });
    if let Err(e) = spawned {
        log::error!("cannot start the DNS resolver thread: {e}");
    }
}

pub(crate) fn resolve_all(snapshot: &Snapshot) {
    // Keys of one provider share their upstream: look each one up once.
    let mut seen: Vec<*const crate::upstream::Upstream> = Vec::new();
    for upstream in snapshot.upstreams().filter(|u| u.needs_resolution()) {
        let ptr = Arc::as_ptr(upstream);
        if seen.contains(&ptr) {
            continue;
        }
        seen.push(ptr);
        if let Err(e) = upstream.resolve() {
            log::warn!("{e}; requests to it fail with 502 until it resolves");
        }
    }
}
