//! Request limits from the `limits` block.

use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) max_body_bytes: u64,
    pub(crate) max_header_bytes: u64,
    pub(crate) max_headers: u64,
    pub(crate) client_read_timeout: Duration,
    pub(crate) keepalive_timeout: u64,
    pub(crate) websocket_max_frame_bytes: u64,
    pub(crate) websocket_idle_timeout: Duration,
}
