//! Everything that runs beside the proxy: the access-log writer, provider
//! DNS, token minting and the SIGUSR1 log reopen. It is a Pingora service
//! so it starts after Pingora has daemonised; threads started before the
//! fork would not exist in the daemon.

use std::sync::Arc;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use tokio::signal::unix::{signal, SignalKind};

use crate::config::Snapshot;
use crate::lifecycle::Lifecycle;
use crate::observe::AccessLog;

pub struct Housekeeping {
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    pub access_log: Arc<AccessLog>,
    pub lifecycle: Arc<Lifecycle>,
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

        let mut usr1 = match signal(SignalKind::user_defined1()) {
            Ok(s) => s,
            Err(e) => return log::error!("cannot handle SIGUSR1: {e}"),
        };
        loop {
            tokio::select! {
                _ = usr1.recv() => self.access_log.reopen(),
                _ = shutdown.changed() => return,
            }
        }
    }
}
