//! What is written out before the process ends, on every way out (drained,
//! stopped at once): the access log's last lines and the spend counters.

use std::sync::Arc;
use std::time::Duration;

use crate::observe::AccessLog;
use crate::spend::Store;

#[derive(Clone)]
pub(crate) struct Outputs {
    pub(crate) access_log: Arc<AccessLog>,
    pub(crate) spend: Arc<Store>,
}

impl Outputs {
    /// Saves the counters, then gives the access log up to `wait` to write.
    pub(crate) fn flush(&self, wait: Duration) {
        self.spend.save();
        self.access_log.flush(wait);
    }
}
