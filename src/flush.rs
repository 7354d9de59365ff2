//! What is written out before the process ends, on every way out (drained,
//! stopped at once): the access log's last lines, the spend counters and
//! the queued trace spans.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use crate::observe::AccessLog;
use crate::snapshot::Snapshot;
use crate::spend::Store;

/// The most an exit waits for the collector: a hung one must not hold a
/// stopping process (or an upgrade's old one) for long.
const TRACE_FLUSH: Duration = Duration::from_secs(3);

#[derive(Clone)]
pub(crate) struct Outputs {
    pub(crate) access_log: Arc<AccessLog>,
    pub(crate) spend: Arc<Store>,
    /// The running config, for its trace exporter.
    pub(crate) snapshot: Arc<ArcSwap<Snapshot>>,
}

impl Outputs {
    /// Saves the counters, then gives the access log and the trace
    /// exporter what is left of `wait` (the exporter 3 s at most).
    pub(crate) fn flush(&self, wait: Duration) {
        let deadline = Instant::now() + wait;
        self.spend.save();
        self.access_log.flush(wait);
        if let Some(tracer) = &self.snapshot.load().telemetry {
            let left = deadline.saturating_duration_since(Instant::now());
            tracer.flush(left.max(Duration::from_millis(500)).min(TRACE_FLUSH));
        }
    }
}
