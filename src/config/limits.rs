//! `limits:` the bounds on a client's request, checked before anything is
//! sent upstream.

use std::time::Duration;

use super::checker::Checker;
use super::defaults;
use super::schema::RawLimits;
use crate::snapshot::Limits;

pub(crate) fn limits(c: &mut Checker, r: &RawLimits) -> Limits {
    let mut l = defaults::LIMITS;
    let positive =
        |c: &mut Checker, field, name: &str| c.at_least_one(field, &format!("limits.{name}"));
    if let Some(v) = positive(c, &r.max_body_bytes, "max_body_bytes") {
        l.max_body_bytes = v;
    }
    if let Some(v) = positive(c, &r.max_header_bytes, "max_header_bytes") {
        l.max_header_bytes = v;
    }
    if let Some(v) = positive(c, &r.max_headers, "max_headers") {
        l.max_headers = v;
    }
    if let Some(v) = positive(
        c,
        &r.client_read_timeout_seconds,
        "client_read_timeout_seconds",
    ) {
        l.client_read_timeout = Duration::from_secs(v);
    }
    if let Some(v) = positive(c, &r.keepalive_timeout_seconds, "keepalive_timeout_seconds") {
        l.keepalive_timeout = v;
    }
    if let Some(v) = positive(c, &r.websocket_max_frame_bytes, "websocket_max_frame_bytes") {
        l.websocket_max_frame_bytes = v;
    }
    if let Some(v) = positive(
        c,
        &r.websocket_idle_timeout_seconds,
        "websocket_idle_timeout_seconds",
    ) {
        l.websocket_idle_timeout = Duration::from_secs(v);
    }
    l
}
