//! systemd's readiness protocol (`sd_notify`): one datagram per state change
//! to `$NOTIFY_SOCKET`, when systemd set one. Written out because it is a
//! single `sendto`; the crates for it wrap exactly this.

use std::os::unix::net::{SocketAddr, UnixDatagram};

/// Sends `state` (e.g. `READY=1`) to systemd; does nothing outside systemd.
/// `$NOTIFY_SOCKET` stays set so a process started for a binary upgrade
/// can announce itself as the new main process.
pub(crate) fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let bytes = path.as_encoded_bytes();
    let addr = match bytes.strip_prefix(b"@") {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name)
        }
        None => SocketAddr::from_pathname(&path),
    };
    let sent = addr.and_then(|addr| UnixDatagram::unbound()?.send_to_addr(state.as_bytes(), &addr));
    if let Err(e) = sent {
        log::warn!("cannot notify systemd ({state}): {e}");
    }
}

/// `READY=1` with this process as the service's main process: after a
/// binary upgrade the new process replaces the old one in systemd's eyes.
pub(crate) fn ready() {
    notify(&format!("READY=1\nMAINPID={}", std::process::id()));
}

/// Between this and the next [`ready`], systemd reports the unit as reloading.
pub(crate) fn reloading() {
    notify("RELOADING=1");
}

pub(crate) fn stopping() {
    notify("STOPPING=1");
}
