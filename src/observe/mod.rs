//! Recording calls: request ids, the access log, metrics and token usage.

mod access_log;
pub(crate) mod log_limit;
pub(crate) mod metrics;
pub(crate) mod request_model;
pub(crate) mod sse;
pub(crate) mod tap;
pub(crate) mod trace;
pub(crate) mod usage;
mod usage_series;
pub(crate) mod ws_frame;

#[cfg(test)]
mod tap_tests;

pub(crate) use access_log::{AccessLog, AccessLogTarget};

use http::HeaderValue;
use pingora::http::RequestHeader;
use rand::Rng;

/// The current time as logs and `/readyz` write it (UTC, milliseconds).
/// Milliseconds to the microsecond, as the log line and the spans give them.
pub(crate) fn ms(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The client's `x-request-id` when it is a sane token, else a new one.
pub(crate) fn request_id(req: &RequestHeader) -> String {
    if let Some(id) = req.headers.get("x-request-id").and_then(sane_id) {
        return id.to_string();
    }
    let n: u128 = rand::thread_rng().gen();
    format!("{n:032x}")
}

/// A request id as a short token of safe characters, fit for a log line
/// and a response header; anything else is not repeated.
pub(crate) fn sane_id(value: &HeaderValue) -> Option<&str> {
    let id = value.to_str().ok()?.trim();
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    ok.then_some(id)
}
