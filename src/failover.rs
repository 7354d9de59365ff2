//! Trying another key when one fails (the proxy hooks in gateway.rs call
//! in here): after a connect failure or timeout
//! (nothing was sent), or an upstream status listed in `retry_on_status`
//! when the body can be replayed. A key that answered 429 is skipped until
//! its `retry-after` has passed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use pingora::http::ResponseHeader;
use pingora::{Error, ErrorType};
use rand::Rng;

use crate::ctx::RequestCtx;
use crate::errors::GatewayError;
use crate::keys;
use crate::observe::metrics::metrics;

/// The process's time origin for cool-downs kept in atomics.
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

fn now_ms() -> u64 {
    EPOCH.elapsed().as_millis() as u64
}

/// Cool-down when a 429 carries no usable `retry-after`.
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(10);
/// Longest cool-down honoured, whatever `retry-after` says.
const MAX_COOLDOWN: Duration = Duration::from_secs(600);

/// Until when a key is skipped; lock-free, read on every selection.
#[derive(Debug, Default)]
pub struct Cooldown {
    until_ms: AtomicU64,
}

impl Cooldown {
    pub fn start(&self, length: Duration) {
        let until = now_ms() + length.min(MAX_COOLDOWN).as_millis() as u64;
        self.until_ms.fetch_max(until, Ordering::Relaxed);
    }

    pub fn active(&self) -> bool {
        self.until_ms.load(Ordering::Relaxed) > now_ms()
    }

    /// Ends first among cooling keys: the one to use when all are cooling.
    pub fn until(&self) -> u64 {
        self.until_ms.load(Ordering::Relaxed)
    }

    pub fn adopt(&self, previous: &Cooldown) {
        self.until_ms.fetch_max(previous.until(), Ordering::Relaxed);
    }
}

/// `retry-after` in seconds (the HTTP-date form is rare from these
/// providers and falls back to the default).
pub fn retry_after(value: Option<&http::HeaderValue>) -> Duration {
    value
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(DEFAULT_COOLDOWN, Duration::from_secs_f64)
}

/// Wait before attempt `n` (1 = the first retry): 50 ms doubling, with
/// jitter so a burst of failing requests does not retry in lockstep.
pub fn backoff(n: u32) -> Duration {
    let base = 50u64 << n.saturating_sub(1).min(5);
    let jitter = rand::thread_rng().gen_range(0..=base / 2);
    Duration::from_millis(base + jitter)
}

/// After a failed connect (nothing was sent): whether to try another key,
/// noting why for the metrics.
pub fn on_connect_failure(ctx: &mut RequestCtx, etype: &ErrorType) -> bool {
    let retry = can_fail_over(ctx);
    if retry {
        ctx.failover_reason = Some(match etype {
            ErrorType::ConnectTimedout | ErrorType::TLSHandshakeTimedout => "timeout",
            _ => "connect",
        });
    }
    retry
}

/// Whether this request may try another key: attempts left, and a key it
/// has not tried that serves the model.
fn can_fail_over(ctx: &mut RequestCtx) -> bool {
    let (Some(provider), Some(current)) = (ctx.provider.clone(), ctx.key_index) else {
        return false;
    };
    if ctx.attempts >= provider.max_attempts {
        return false;
    }
    let mut tried = ctx.tried.clone();
    tried.push(current);
    if !keys::has_alternative(&provider, ctx.model.as_deref(), &tried) {
        return false;
    }
    ctx.tried = tried;
    true
}

/// Before a retry: wait a little, then bind the next key.
pub async fn to_next_key(ctx: &mut RequestCtx) -> Result<(), GatewayError> {
    let Some(provider) = ctx.provider.clone() else {
        return Err(GatewayError::new(
            500,
            "internal_error",
            "no provider chosen",
        ));
    };
    let reason = ctx.failover_reason.take().unwrap_or("connect");
    metrics()
        .failovers
        .with_label_values(&[provider.kind.name(), reason])
        .inc();
    tokio::time::sleep(backoff(ctx.attempts - 1)).await;
    let index = keys::select(&provider, ctx.model.as_deref(), &ctx.tried)?;
    crate::admission::bind_key(ctx, index).await?;
    // What the failed attempt recorded is not this one's.
    ctx.upstream_status = None;
    ctx.first_byte = None;
    ctx.connect = None;
    ctx.reused = None;
    Ok(())
}

/// A 429 sets the key aside for its retry-after; a status in
/// `retry_on_status` is retried on another key when the body can be sent
/// again. Returns the error that makes Pingora retry.
pub fn on_status(ctx: &mut RequestCtx, resp: &ResponseHeader) -> Option<Box<Error>> {
    let status = resp.status.as_u16();
    let provider = ctx.provider.clone()?;
    if status == 429 {
        if let Some(key) = ctx.key() {
            key.cooldown
                .start(retry_after(resp.headers.get("retry-after")));
            metrics()
                .cooldowns
                .with_label_values(&[provider.kind.name(), key.name.as_str()])
                .inc();
        }
    }
    if !provider.retry_on_status.contains(&status) || !ctx.replayable || !can_fail_over(ctx) {
        return None;
    }
    ctx.failover_reason = Some(match status {
        429 => "http_429",
        500 => "http_500",
        502 => "http_502",
        503 => "http_503",
        504 => "http_504",
        _ => "http_other",
    });
    let mut e = Error::explain(ErrorType::HTTPStatus(status), "retrying on another key");
    e.set_retry(true);
    Some(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cooldown_and_retry_after() {
        let c = Cooldown::default();
        assert!(!c.active());
        c.start(Duration::from_secs(5));
        assert!(c.active());
        let hv = http::HeaderValue::from_static("7");
        assert_eq!(retry_after(Some(&hv)), Duration::from_secs(7));
        let hv = http::HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT");
        assert_eq!(retry_after(Some(&hv)), DEFAULT_COOLDOWN);
        assert_eq!(retry_after(None), DEFAULT_COOLDOWN);
        assert!(backoff(1) >= Duration::from_millis(50) && backoff(1) <= Duration::from_millis(75));
        assert!(backoff(3) >= Duration::from_millis(200));
    }
}
