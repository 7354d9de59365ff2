//! Trying another key when one fails: after a connect failure or timeout
//! (nothing was sent), or an upstream status listed in `retry_on_status`
//! when the body can be replayed. A key that answered 429 is skipped until
//! its `retry-after` has passed.

use std::time::{Duration, Instant};

use pingora::http::ResponseHeader;
use pingora::{Error, ErrorType};
use rand::Rng;

use crate::ctx::{Attempt, RequestCtx};
use crate::errors::{ErrorKind, GatewayError};
use crate::keys::{self, retry_after};
use crate::observe::metrics::metrics;
use crate::{binding, spans};

/// Before each attempt: the first uses the key admission bound; each later
/// one waits a little and binds another key. Every attempt starts afresh:
/// what a failed one recorded is not the next one's.
pub(crate) async fn begin_attempt(ctx: &mut RequestCtx) -> Result<(), GatewayError> {
    ctx.failover.attempts += 1;
    if ctx.failover.attempts > 1 {
        // Taken before the next key replaces the failed one's binding.
        let failed = spans::failed_attempt(ctx);
        to_next_key(ctx).await?;
        spans::next_attempt(ctx, failed);
    }
    ctx.attempt = Attempt {
        started: Some(Instant::now()),
        ..Attempt::default()
    };
    Ok(())
}

/// Wait before attempt `n` (1 = the first retry): 50 ms doubling, with
/// jitter so a burst of failing requests does not retry in lockstep.
fn backoff(n: u32) -> Duration {
    let base = 50u64 << n.saturating_sub(1).min(5);
    let jitter = rand::thread_rng().gen_range(0..=base / 2);
    Duration::from_millis(base + jitter)
}

/// After a failed connect (nothing was sent): whether to try another key,
/// noting why for the metrics.
pub(crate) fn on_connect_failure(ctx: &mut RequestCtx, etype: &ErrorType) -> bool {
    let retry = can_fail_over(ctx);
    if retry {
        ctx.failover.reason = Some(match etype {
            ErrorType::ConnectTimedout | ErrorType::TLSHandshakeTimedout => "timeout",
            _ => "connect",
        });
    }
    retry
}

/// After an error while proxying: retried on another key only when the
/// failure was a `retry_on_status` answer and the body is still whole;
/// otherwise Pingora's own rule for idempotent requests applies.
pub(crate) fn after_proxy_error(
    ctx: &RequestCtx,
    e: &mut Error,
    idempotent: bool,
    body_truncated: bool,
    client_reused: bool,
) {
    if ctx.failover.reason.is_some() && ctx.failover.replayable && !body_truncated {
        e.set_retry(true);
    } else if !idempotent || body_truncated {
        e.set_retry(false);
    } else {
        e.retry.decide_reuse(client_reused);
    }
}

/// Whether this request may try another key: attempts left, and a key it
/// has not tried that serves the model.
fn can_fail_over(ctx: &mut RequestCtx) -> bool {
    let (Some(provider), Some(binding)) = (ctx.provider.as_ref(), ctx.binding.as_ref()) else {
        return false;
    };
    if ctx.failover.attempts >= provider.max_attempts {
        return false;
    }
    let mut tried = ctx.failover.tried.clone();
    tried.push(binding.key_index);
    if !keys::has_alternative(provider.keys(), ctx.client.model.as_deref(), &tried) {
        return false;
    }
    ctx.failover.tried = tried;
    true
}

async fn to_next_key(ctx: &mut RequestCtx) -> Result<(), GatewayError> {
    let Some(provider) = ctx.provider.clone() else {
        return Err(GatewayError::new(
            ErrorKind::InternalError,
            "no provider chosen",
        ));
    };
    let reason = ctx.failover.reason.take().unwrap_or("connect");
    metrics()
        .failovers
        .with_label_values(&[provider.kind.name(), reason])
        .inc();
    tokio::time::sleep(backoff(ctx.failover.attempts - 1)).await;
    let model = ctx.client.model.as_deref();
    let index = keys::select(provider.keys(), model, &ctx.failover.tried)?;
    ctx.binding = Some(binding::bind(&provider, index, &ctx.client).await?);
    Ok(())
}

/// A 429 sets the key aside for its retry-after; a status in
/// `retry_on_status` is retried on another key when the body can be sent
/// again. Returns the error that makes Pingora retry.
pub(crate) fn on_status(ctx: &mut RequestCtx, resp: &ResponseHeader) -> Option<Box<Error>> {
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
    if !provider.retry_on_status.contains(&status)
        || !ctx.failover.replayable
        || !can_fail_over(ctx)
    {
        return None;
    }
    // The failed attempt's status, for its trace span; the next attempt
    // starts afresh.
    ctx.attempt.status = Some(status);
    ctx.failover.reason = Some(match status {
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
    fn backoff_doubles_with_jitter() {
        assert!(backoff(1) >= Duration::from_millis(50) && backoff(1) <= Duration::from_millis(75));
        assert!(
            backoff(3) >= Duration::from_millis(200) && backoff(3) <= Duration::from_millis(300)
        );
        assert!(backoff(40) <= Duration::from_millis(2400));
    }
}
