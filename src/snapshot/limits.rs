//! Request limits from the `limits` block.

use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_body_bytes: u64,
    pub max_header_bytes: u64,
    pub max_headers: u64,
    pub client_read_timeout: Duration,
    pub keepalive_timeout: u64,
}
