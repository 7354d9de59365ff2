//! Stopping and handing over without failing a request.
//!
//! * SIGTERM: `/readyz` turns 503 at once; after `drain_delay_seconds` the
//!   listeners close; requests and streams in flight run to completion, for
//!   at most `grace_period_seconds`; the process exits as soon as none is left.
//! * SIGQUIT: Pingora hands the listening sockets to a new process started
//!   with `-u`, then this one drains the same way.
//! * SIGUSR2: starts that new process itself (the same binary path, so a
//!   freshly installed binary) and then does what SIGQUIT does. Under systemd
//!   the new process announces itself as the main process.
//! * SIGINT: stops at once.
//!
//! Pingora sleeps the whole grace period even when nothing is in flight;
//! [`drain_then_exit`] ends the process as soon as the last request is done.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use pingora::server::{ShutdownSignal, ShutdownSignalWatch};
use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::lifecycle::Lifecycle;
use crate::observe::metrics::metrics;
use crate::observe::AccessLog;

/// How long a self-started upgrade process may take to ask for the sockets.
const UPGRADE_START: Duration = Duration::from_secs(15);

pub(crate) struct Signals {
    pub(crate) lifecycle: Arc<Lifecycle>,
    pub(crate) drain_delay: Duration,
    pub(crate) upgrade: UpgradeCommand,
}

/// How to start the next process for SIGUSR2.
pub(crate) struct UpgradeCommand {
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<String>,
    pub(crate) upgrade_sock: PathBuf,
    pub(crate) config: PathBuf,
}

fn listen(kind: SignalKind) -> Option<Signal> {
    signal(kind)
        .map_err(|e| log::error!("cannot handle signal {}: {e}", kind.as_raw_value()))
        .ok()
}

async fn next(s: &mut Option<Signal>) {
    match s {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

#[async_trait]
impl ShutdownSignalWatch for Signals {
    async fn recv(&self) -> ShutdownSignal {
        let mut quit = listen(SignalKind::quit());
        let mut term = listen(SignalKind::terminate());
        let mut int = listen(SignalKind::interrupt());
        let mut usr2 = listen(SignalKind::user_defined2());
        self.lifecycle.set_signals_handled();
        loop {
            tokio::select! {
                _ = next(&mut int) => return ShutdownSignal::FastShutdown,
                _ = next(&mut quit) => {
                    log::info!("SIGQUIT: handing the listeners to the new process");
                    self.lifecycle.set_draining();
                    return ShutdownSignal::GracefulUpgrade;
                }
                _ = next(&mut usr2) => {
                    if self.upgrade.start().await {
                        self.lifecycle.set_draining();
                        return ShutdownSignal::GracefulUpgrade;
                    }
                }
                _ = next(&mut term) => {
                    self.lifecycle.set_draining();
                    crate::notify::stopping();
                    if !self.drain_delay.is_zero() {
                        log::info!("SIGTERM: not ready; closing the listeners in {:?}", self.drain_delay);
                        tokio::select! {
                            _ = tokio::time::sleep(self.drain_delay) => {}
                            _ = next(&mut int) => return ShutdownSignal::FastShutdown,
                        }
                    }
                    return ShutdownSignal::GracefulTerminate;
                }
            }
        }
    }
}

impl UpgradeCommand {
    /// Starts the new process and waits until it waits for the sockets.
    /// Returns false (and the old process keeps serving) when the config
    /// does not load or the new process does not get that far.
    async fn start(&self) -> bool {
        log::info!("SIGUSR2: starting {} to take over", self.program.display());
        if let Err(errors) = crate::config::load(&self.config, crate::config::Mode::Run) {
            for e in errors {
                log::error!("upgrade refused, the config does not load: {e}");
            }
            return false;
        }
        let since = SystemTime::now();
        let child = Command::new(&self.program).args(&self.args).spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                log::error!(
                    "upgrade refused: cannot start {}: {e}",
                    self.program.display()
                );
                return false;
            }
        };
        let deadline = Instant::now() + UPGRADE_START;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                log::error!("upgrade refused: the new process exited with {status}");
                return false;
            }
            if self.socket_made_since(since) {
                reap_later(child);
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        log::error!("upgrade refused: the new process did not ask for the sockets in time");
        let _ = child.kill();
        false
    }

    fn socket_made_since(&self, since: SystemTime) -> bool {
        std::fs::metadata(&self.upgrade_sock)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t >= since)
    }
}

/// The new process outlives this one; a thread waits on it so it never
/// lingers as a zombie while this one drains.
fn reap_later(mut child: Child) {
    let _ = std::thread::Builder::new()
        .name("strait-upgrade-child".into())
        .spawn(move || {
            let _ = child.wait();
        });
}

/// Called once the listeners are closed: waits for the requests in flight,
/// then flushes the access log and exits. Pingora's own timer still ends
/// the process after `grace_period_seconds` if some request never finishes.
///
/// It does not tell systemd STOPPING=1 itself: after a hand-over the unit
/// is not stopping, and systemd would stop the new process too.
pub(crate) async fn drain_then_exit(access_log: &AccessLog) -> ! {
    let started = Instant::now();
    let mut said = Instant::now();
    loop {
        let inflight = metrics().inflight.get();
        if inflight <= 0 {
            log::info!("drained in {:?}; exiting", started.elapsed());
            access_log.flush(Duration::from_secs(2));
            std::process::exit(0);
        }
        if said.elapsed() >= Duration::from_secs(5) {
            log::info!("draining: {inflight} requests in flight");
            said = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
