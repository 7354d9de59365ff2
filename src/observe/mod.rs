//! Recording calls: request ids and the access log.

mod access_log;
pub mod request_model;
pub mod sse;
pub mod tap;
pub mod usage;

#[cfg(test)]
mod tap_tests;

pub use access_log::AccessLog;

use pingora::http::RequestHeader;
use rand::Rng;

/// The client's `x-request-id` when it is a sane token, else a new one.
pub fn request_id(req: &RequestHeader) -> String {
    if let Some(id) = req
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
    {
        let id = id.trim();
        if !id.is_empty()
            && id.len() <= 128
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        {
            return id.to_string();
        }
    }
    let n: u128 = rand::thread_rng().gen();
    format!("{n:032x}")
}
