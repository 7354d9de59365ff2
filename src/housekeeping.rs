//! Everything that runs beside the proxy: the access-log writer, provider
//! DNS, token minting, config reloads (SIGHUP, file watch), the SIGUSR1 log
//! reopen, systemd notifications and the drain on shutdown. It is a Pingora
//! service so it starts after Pingora has daemonised; threads started
//! before the fork would not exist in the daemon.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use futures::future::BoxFuture;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;

use crate::config::STATE_SAVE_INTERVAL;
use crate::flush::Outputs;
use crate::lifecycle::Lifecycle;
use crate::reload::Reloader;
use crate::shutdown::{EarlySignals, SessionClose};
use crate::snapshot::Snapshot;

/// How often the config file is looked at when `reload.watch` is on, and
/// how often readiness is checked until it is announced.
const TICK: Duration = Duration::from_millis(250);

pub(crate) struct Housekeeping {
    pub(crate) snapshot: Arc<ArcSwap<Snapshot>>,
    pub(crate) outputs: Outputs,
    pub(crate) lifecycle: Arc<Lifecycle>,
    pub(crate) reloader: Reloader,
    pub(crate) signals: Arc<EarlySignals>,
    pub(crate) sessions: SessionClose,
}

/// What the running reload future was started for.
#[derive(Clone, Copy, PartialEq)]
enum Why {
    Sighup,
    /// A look at the file (`reload.watch`), which reloads when it changed.
    Watch,
}

impl Housekeeping {
    fn sighup_reload(&self, announced: bool) -> (BoxFuture<'_, ()>, Why) {
        if announced {
            crate::notify::reloading();
        }
        let reload = async {
            self.reloader.reload("SIGHUP").await;
        };
        (Box::pin(reload), Why::Sighup)
    }
}

#[async_trait]
impl BackgroundService for Housekeeping {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        if let Err(e) = self.outputs.access_log.start_writer() {
            log::error!("cannot start the access log writer: {e}");
        }
        if let Some(tracer) = &self.snapshot.load().telemetry {
            tracer.start();
        }
        let tokens = self.snapshot.clone();
        crate::tokens::spawn_refresher(move || tokens.load().token_sources());
        crate::resolver::spawn(self.snapshot.clone(), self.lifecycle.clone());

        let (Some(mut hup), Some(mut usr1)) = self.signals.reload() else {
            log::error!("cannot handle SIGUSR1 and SIGHUP: reloads and log reopening are off");
            let _ = shutdown.changed().await;
            crate::shutdown::drain_then_exit(&self.outputs, &self.sessions).await
        };
        let mut tick = tokio::time::interval(TICK);
        let mut save = tokio::time::interval(STATE_SAVE_INTERVAL);
        let mut announced = false;
        // The reload or file check running now. Signals and the shutdown are
        // answered while it runs: a reload can take seconds (DNS, minting
        // the tokens of new credentials).
        let mut running: Option<(BoxFuture<'_, ()>, Why)> = None;
        // A SIGHUP came during a reload: one more follows it, since the
        // running one may have read the file before it was written.
        let mut again = false;
        loop {
            tokio::select! {
                _ = usr1.recv() => self.outputs.access_log.reopen(),
                _ = hup.recv() => {
                    let coalesced = running.is_some() && again;
                    self.lifecycle.count_reload_signal(coalesced);
                    if running.is_some() {
                        again = true;
                    } else {
                        running = Some(self.sighup_reload(announced));
                    }
                }
                _ = async { running.as_mut().map(|r| &mut r.0).unwrap().await }, if running.is_some() => {
                    let why = running.take().map(|r| r.1);
                    if std::mem::take(&mut again) {
                        running = Some(self.sighup_reload(announced));
                    } else if why == Some(Why::Sighup) && announced {
                        crate::notify::ready();
                    }
                }
                _ = tick.tick() => {
                    if !announced && self.lifecycle.ready().await.is_ok() {
                        log::info!("ready");
                        crate::notify::ready();
                        announced = true;
                    }
                    if running.is_none() {
                        running = Some((Box::pin(self.reloader.poll()), Why::Watch));
                    }
                }
                _ = save.tick() => {
                    let spend = self.outputs.spend.clone();
                    let _ = tokio::task::spawn_blocking(move || spend.save()).await;
                }
                // A reload still running is dropped: the process is stopping.
                _ = shutdown.changed() => break,
            }
        }
        crate::shutdown::drain_then_exit(&self.outputs, &self.sessions).await
    }
}
