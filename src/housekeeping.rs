//! Everything that runs beside the proxy: the access-log writer, provider
//! DNS, token minting, config reloads (SIGHUP, file watch), the SIGUSR1 log
//! reopen, systemd notifications and the drain on shutdown. It is a Pingora
//! service so it starts after Pingora has daemonised; threads started
//! before the fork would not exist in the daemon.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use tokio::signal::unix::{signal, SignalKind};

use crate::lifecycle::Lifecycle;
use crate::observe::AccessLog;
use crate::reload::Reloader;
use crate::snapshot::Snapshot;

/// How often the config file is looked at when `reload.watch` is on, and
/// how often readiness is checked until it is announced.
const TICK: Duration = Duration::from_millis(250);

pub(crate) struct Housekeeping {
    pub(crate) snapshot: Arc<ArcSwap<Snapshot>>,
    pub(crate) access_log: Arc<AccessLog>,
    pub(crate) lifecycle: Arc<Lifecycle>,
    pub(crate) reloader: Reloader,
}

#[async_trait]
impl BackgroundService for Housekeeping {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        if let Err(e) = self.access_log.start_writer() {
            log::error!("cannot start the access log writer: {e}");
        }
        let tokens = self.snapshot.clone();
        crate::tokens::spawn_refresher(move || tokens.load().token_sources());
        crate::resolver::spawn(self.snapshot.clone(), self.lifecycle.clone());

        let (Ok(mut usr1), Ok(mut hup)) = (
            signal(SignalKind::user_defined1()),
            signal(SignalKind::hangup()),
        ) else {
            log::error!("cannot handle SIGUSR1 and SIGHUP: reloads and log reopening are off");
            let _ = shutdown.changed().await;
            crate::shutdown::drain_then_exit(&self.access_log).await
        };
        let mut tick = tokio::time::interval(TICK);
        let mut announced = false;
        loop {
            tokio::select! {
                _ = usr1.recv() => self.access_log.reopen(),
                _ = hup.recv() => {
                    crate::notify::reloading();
                    self.reloader.reload("SIGHUP").await;
                    crate::notify::ready();
                }
                _ = tick.tick() => {
                    if !announced && self.lifecycle.ready().await.is_ok() {
                        log::info!("ready");
                        crate::notify::ready();
                        announced = true;
                    }
                    self.reloader.poll().await;
                }
                _ = shutdown.changed() => break,
            }
        }
        crate::shutdown::drain_then_exit(&self.access_log).await
    }
}
