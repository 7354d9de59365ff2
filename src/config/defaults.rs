//! Every default value of the config file, in one place: what a setting is
//! when the file does not name it. README and `conf/strait.yaml` quote these.

use std::time::Duration;

use crate::snapshot::Limits;
use crate::upstream::Timeouts;

pub(crate) const LIMITS: Limits = Limits {
    max_body_bytes: 32 * 1024 * 1024,
    max_header_bytes: 64 * 1024,
    max_headers: 100,
    client_read_timeout: Duration::from_secs(60),
    keepalive_timeout: 60,
};

/// Minutes, not seconds: a long generation may take that long to start
/// answering, and reasoning models can pause mid-stream.
pub(crate) const TIMEOUTS: Timeouts = Timeouts {
    connect: Duration::from_secs(10),
    first_byte: Duration::from_secs(600),
    stream_idle: Duration::from_secs(300),
    total: None,
};
