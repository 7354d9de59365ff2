//! What is written out before the process ends, on every way out (drained,
//! stopped at once): the access log's last lines, the spend counters and
//! the queued trace spans.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use crate::observe::AccessLog;
use crate::snapshot::Snapshot;
use crate::spend::Store;

#[derive(Clone)]
pub(crate) struct Outputs {
    pub(crate) access_log: Arc<AccessLog>,
    pub(crate) spend: Arc<Store>,
    /// The running config, for its trace exporter.
    pub(crate) snapshot: Arc<ArcSwap<Snapshot>>,
}

impl Outputs {
    /// Saves the counters, then gives the access log and the trace
    /// exporter what is left of `wait` (the exporter half a second at
    /// least): a hung collector never holds a stopping process for long.
    pub(crate) fn flush(&self, wait: Duration) {
        let deadline = Instant::now() + wait;
        self.spend.save();
        self.access_log.flush(wait);
        if let Some(tracer) = &self.snapshot.load().telemetry {
            let left = deadline.saturating_duration_since(Instant::now());
            tracer.flush(left.max(Duration::from_millis(500)));
        }
    }
}
