//! The admission verdict on what a store knows of a key: the same rules
//! whether the counts came from this process or from Redis.

use crate::errors::{ErrorKind, GatewayError};

use super::period::{rfc3339, Period, Window};
use super::window::{Minutes, Now};
use super::{KeyLimits, Spent};

/// A key's counts at admission, this request already counted.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Seen {
    pub(crate) requests: Minutes,
    pub(crate) tokens: Minutes,
    /// In the budget's current window.
    pub(crate) spent: Spent,
}

/// Checks the budget first (a 402 is final for the period), then the
/// per-minute limits (a 429 passes).
pub(crate) fn judge(
    key: &str,
    limits: &KeyLimits,
    seen: &Seen,
    now: Now,
) -> Result<(), GatewayError> {
    if let Some(b) = &limits.budget {
        let window = b.period.window(now.utc());
        let over_usd = b.usd.is_some_and(|usd| seen.spent.usd() >= usd);
        let over_tokens = b.tokens.is_some_and(|t| seen.spent.tokens >= t);
        if over_usd || over_tokens {
            let what = match (over_usd, b.usd, b.tokens) {
                (true, Some(usd), _) => format!("USD {usd}"),
                (_, _, Some(t)) => format!("{t} tokens"),
                _ => String::new(),
            };
            return Err(GatewayError::new(
                ErrorKind::BudgetExceeded,
                format!(
                    "virtual key `{key}` has used its budget of {what} for the {}{}",
                    period_phrase(b.period, window),
                    resets(window)
                ),
            ));
        }
    }
    if let Some(limit) = limits.tokens_per_minute {
        if seen.tokens.estimate(now) >= limit as f64 {
            return Err(GatewayError::new(
                ErrorKind::TokenRateLimited,
                format!("virtual key `{key}` is limited to {limit} tokens per minute"),
            )
            .with_retry_after(seen.tokens.retry_after(now, limit)));
        }
    }
    if let Some(limit) = limits.requests_per_minute {
        if seen.requests.estimate(now) > limit as f64 {
            return Err(GatewayError::new(
                ErrorKind::RateLimited,
                format!("virtual key `{key}` is limited to {limit} requests per minute"),
            )
            .with_retry_after(seen.requests.retry_after(now, limit)));
        }
    }
    Ok(())
}

fn period_phrase(period: Period, w: Window) -> String {
    match period {
        Period::Total => "whole time it has been in use".to_owned(),
        _ => format!("{} that began {}", period.name(), rfc3339(w.start)),
    }
}

fn resets(w: Window) -> String {
    match w.reset {
        Some(at) => format!("; it resets at {}", rfc3339(at)),
        None => "; it does not reset".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spend::{Budget, Period};

    fn now() -> Now {
        // 2026-12-03T10:00:30Z
        Now {
            secs: 1_796_292_030.0,
        }
    }

    fn seen(requests: u64, tokens: u64, nano_usd: u64, spent_tokens: u64) -> Seen {
        let m = now().minute();
        Seen {
            requests: Minutes {
                minute: m,
                curr: requests,
                prev: 0,
            },
            tokens: Minutes {
                minute: m,
                curr: tokens,
                prev: 0,
            },
            spent: Spent {
                nano_usd,
                tokens: spent_tokens,
            },
        }
    }

    #[test]
    fn a_spent_budget_is_a_402_naming_the_period_and_its_reset() {
        let limits = KeyLimits {
            budget: Some(Budget {
                usd: Some(1.5),
                tokens: Some(1000),
                period: Period::Month,
            }),
            ..KeyLimits::default()
        };
        assert!(judge("team-a", &limits, &seen(1, 0, 1_499_999_999, 999), now()).is_ok());
        let e = judge("team-a", &limits, &seen(1, 0, 1_500_000_000, 0), now()).unwrap_err();
        assert_eq!((e.kind, e.status()), (ErrorKind::BudgetExceeded, 402));
        assert!(e.message.contains("USD 1.5"), "{}", e.message);
        assert!(
            e.message.contains("month that began 2026-12-01T00:00:00Z"),
            "{}",
            e.message
        );
        assert!(
            e.message.contains("resets at 2027-01-01T00:00:00Z"),
            "{}",
            e.message
        );
        let e = judge("team-a", &limits, &seen(1, 0, 0, 1000), now()).unwrap_err();
        assert!(e.message.contains("1000 tokens"), "{}", e.message);
        let total = KeyLimits {
            budget: Some(Budget {
                usd: None,
                tokens: Some(10),
                period: Period::Total,
            }),
            ..KeyLimits::default()
        };
        let e = judge("k", &total, &seen(1, 0, 0, 10), now()).unwrap_err();
        assert!(e.message.contains("does not reset"), "{}", e.message);
    }

    #[test]
    fn minute_limits_are_429s_with_retry_after() {
        let limits = KeyLimits {
            requests_per_minute: Some(2),
            tokens_per_minute: Some(100),
            budget: None,
        };
        assert!(judge("k", &limits, &seen(2, 99, 0, 0), now()).is_ok());
        let e = judge("k", &limits, &seen(3, 0, 0, 0), now()).unwrap_err();
        assert_eq!((e.kind, e.status()), (ErrorKind::RateLimited, 429));
        let e = judge("k", &limits, &seen(1, 100, 0, 0), now()).unwrap_err();
        assert_eq!((e.kind, e.status()), (ErrorKind::TokenRateLimited, 429));
        assert_eq!(e.retry_after, Some(30), "the rest of this minute");
        assert!(judge(
            "k",
            &KeyLimits::default(),
            &seen(1000, 1 << 40, u64::MAX, u64::MAX),
            now()
        )
        .is_ok());
    }
}
