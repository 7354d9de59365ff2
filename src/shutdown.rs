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
//! * SIGINT: stops at once, at any time after start-up, also during a drain
//!   or a hand-over. A second SIGTERM during a drain does the same.
//!
//! Pingora sleeps the whole grace period even when nothing is in flight;
//! [`drain_then_exit`] ends the process as soon as the last request is done.
//!
//! SIGINT never goes through Pingora's own fast shutdown: that stops the
//! service runtimes without first telling the accept loops to stop, and with
//! `work_stealing: false` an accept loop can run on another runtime thread
//! than the one its listening socket is registered with. When that other
//! runtime is stopped first, `accept()` fails at once, forever, without
//! yielding ("A Tokio 1.x context was found, but it is being shutdown"):
//! the loop floods the log and its thread never reaches its own stop, so
//! the process never exits. [`stop_now`] exits the process instead.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pingora::server::{ShutdownSignal, ShutdownSignalWatch};
use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::flush::Outputs;
use crate::lifecycle::Lifecycle;
use crate::observe::metrics::metrics;
use crate::upgrade::UpgradeCommand;
use crate::ws::Closing;

/// The longest a fast stop waits for the access log to be written.
const STOP_FLUSH: Duration = Duration::from_secs(1);

pub(crate) struct Signals {
    pub(crate) lifecycle: Arc<Lifecycle>,
    pub(crate) drain_delay: Duration,
    pub(crate) upgrade: UpgradeCommand,
    pub(crate) outputs: Outputs,
    pub(crate) early: Arc<EarlySignals>,
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

/// The stop and upgrade signals. They stay handled for the life of the
/// process: once a handler is installed the default action (death) never
/// comes back, so a signal nobody waits for would be silently lost.
struct Streams {
    int: Option<Signal>,
    term: Option<Signal>,
    quit: Option<Signal>,
    usr2: Option<Signal>,
}

impl Streams {
    fn listen() -> Streams {
        Streams {
            quit: listen(SignalKind::quit()),
            term: listen(SignalKind::terminate()),
            int: listen(SignalKind::interrupt()),
            usr2: listen(SignalKind::user_defined2()),
        }
    }
}

/// Every signal strait answers, registered before the first DNS pass (and
/// after a `-u` process got its sockets, so a SIGINT still ends that wait).
/// Pingora's services start later; until then a signal would have its
/// default effect (SIGHUP, SIGUSR1 and SIGUSR2 would end the process, SIGINT
/// and SIGTERM without writing the access log). Registered here, a signal
/// waits for the service that answers it. A tokio `Signal` is a channel the
/// signal driver of any runtime feeds: the runtime made here only registers.
pub(crate) struct EarlySignals {
    stop: Mutex<Option<Streams>>,
    /// SIGHUP and SIGUSR1, for housekeeping.
    reload: Mutex<Option<(Option<Signal>, Option<Signal>)>>,
}

impl EarlySignals {
    pub(crate) fn install() -> Arc<EarlySignals> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        let (stop, reload) = match &rt {
            Ok(rt) => {
                let _in = rt.enter();
                let reload = (
                    listen(SignalKind::hangup()),
                    listen(SignalKind::user_defined1()),
                );
                (Some(Streams::listen()), Some(reload))
            }
            Err(e) => {
                log::warn!("signals are handled once the services run: {e}");
                (None, None)
            }
        };
        Arc::new(EarlySignals {
            stop: Mutex::new(stop),
            reload: Mutex::new(reload),
        })
    }

    fn stop(&self) -> Streams {
        let early = self.stop.lock().ok().and_then(|mut s| s.take());
        early.unwrap_or_else(Streams::listen)
    }

    /// SIGHUP and SIGUSR1.
    pub(crate) fn reload(&self) -> (Option<Signal>, Option<Signal>) {
        let early = self.reload.lock().ok().and_then(|mut s| s.take());
        early.unwrap_or_else(|| {
            (
                listen(SignalKind::hangup()),
                listen(SignalKind::user_defined1()),
            )
        })
    }
}

/// Why this process is draining.
#[derive(Clone, Copy, PartialEq)]
enum Drain {
    /// SIGTERM: a second one means "now".
    Terminate,
    /// A hand-over: a first SIGTERM (e.g. systemd stopping the whole unit)
    /// asks for what is already happening; a second one means "now".
    Upgrade,
}

/// Ends the process at once: requests in flight are cut; the access log
/// gets a short moment to write what it has.
fn stop_now(outputs: &Outputs, why: &str) -> ! {
    let inflight = metrics().inflight.get();
    log::info!("{why}: stopping now ({inflight} requests in flight)");
    outputs.flush(STOP_FLUSH);
    std::process::exit(0)
}

#[async_trait]
impl ShutdownSignalWatch for Signals {
    async fn recv(&self) -> ShutdownSignal {
        let mut s = self.early.stop();
        self.lifecycle.set_signals_handled();
        loop {
            tokio::select! {
                _ = next(&mut s.int) => stop_now(&self.outputs, "SIGINT"),
                _ = next(&mut s.quit) => {
                    log::info!("SIGQUIT: handing the listeners to the new process");
                    self.lifecycle.set_draining();
                    return self.draining(Drain::Upgrade, s);
                }
                _ = next(&mut s.usr2) => {
                    // A SIGTERM waits for the outcome (it is handled below
                    // or by the drain); a SIGINT does not.
                    let started = tokio::select! {
                        started = self.upgrade.start() => started,
                        _ = next(&mut s.int) => stop_now(&self.outputs, "SIGINT"),
                    };
                    if started {
                        self.lifecycle.set_draining();
                        return self.draining(Drain::Upgrade, s);
                    }
                }
                _ = next(&mut s.term) => {
                    self.lifecycle.set_draining();
                    crate::notify::stopping();
                    if !self.drain_delay.is_zero() {
                        log::info!("SIGTERM: not ready; closing the listeners in {:?}", self.drain_delay);
                        tokio::select! {
                            _ = tokio::time::sleep(self.drain_delay) => {}
                            _ = next(&mut s.int) => stop_now(&self.outputs, "SIGINT"),
                            _ = next(&mut s.term) => stop_now(&self.outputs, "a second SIGTERM"),
                        }
                    }
                    return self.draining(Drain::Terminate, s);
                }
            }
        }
    }
}

impl Signals {
    /// Keeps answering signals while Pingora closes the listeners and the
    /// requests in flight finish: Pingora stops listening once this watch
    /// returns, and a drain can take `grace_period_seconds`.
    fn draining(&self, why: Drain, mut s: Streams) -> ShutdownSignal {
        let outputs = self.outputs.clone();
        if why == Drain::Upgrade {
            // The new process reads the counters when it gets the sockets,
            // which is after this returns.
            self.outputs.spend.hand_over();
        }
        tokio::spawn(async move {
            let mut terms = 0;
            loop {
                tokio::select! {
                    _ = next(&mut s.int) => stop_now(&outputs, "SIGINT during the drain"),
                    _ = next(&mut s.term) => {
                        terms += 1;
                        if why == Drain::Terminate || terms > 1 {
                            stop_now(&outputs, "a second SIGTERM during the drain");
                        }
                        log::info!("SIGTERM: already draining after the hand-over; \
                                    another SIGTERM or a SIGINT stops at once");
                    }
                    _ = next(&mut s.quit) => log::warn!("SIGQUIT ignored: already draining"),
                    _ = next(&mut s.usr2) => log::warn!("SIGUSR2 ignored: already draining"),
                }
            }
        });
        match why {
            Drain::Terminate => ShutdownSignal::GracefulTerminate,
            Drain::Upgrade => ShutdownSignal::GracefulUpgrade,
        }
    }
}

/// WebSocket sessions have no end of their own: they get the grace period,
/// then a close frame 1001 both ways. Pingora's own timer is set this much
/// later, so the frames are written and the sessions logged before it stops
/// the runtimes.
pub(crate) const SESSION_CLOSE_ALLOWANCE: Duration = Duration::from_secs(1);

/// When and how a drain closes the open WebSocket sessions.
pub(crate) struct SessionClose {
    pub(crate) grace: Duration,
    pub(crate) closing: Arc<Closing>,
}

/// Called once the listeners are closed: waits for the requests in flight,
/// then flushes the access log and exits. Pingora's own timer still ends
/// the process after `grace_period_seconds` (and the allowance above) if
/// some request never finishes.
///
/// It does not tell systemd STOPPING=1 itself: after a hand-over the unit
/// is not stopping, and systemd would stop the new process too.
pub(crate) async fn drain_then_exit(outputs: &Outputs, sessions: &SessionClose) -> ! {
    let started = Instant::now();
    let mut said = Instant::now();
    loop {
        if started.elapsed() >= sessions.grace && !sessions.closing.is_closing() {
            log::info!("grace period over: closing the open WebSocket sessions (1001)");
            sessions.closing.close();
        }
        let inflight = metrics().inflight.get();
        if inflight <= 0 {
            log::info!("drained in {:?}; exiting", started.elapsed());
            outputs.flush(Duration::from_secs(2));
            std::process::exit(0);
        }
        if said.elapsed() >= Duration::from_secs(5) {
            log::info!("draining: {inflight} requests in flight");
            said = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
