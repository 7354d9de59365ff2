//! `GET /spend` on the admin listener: per virtual key, its budget window,
//! what it spent in it, its limits and the last minute's counts.

use serde_json::{json, Value};

use crate::errors::GatewayError;

use super::period::rfc3339;
use super::{KeyLimits, Store};

/// One configured key: its name, its limits and its `max_concurrent`.
pub(crate) type KeyRow<'a> = (&'a str, &'a KeyLimits, Option<u64>);

/// Rounds to the nano-dollar the counters hold, so a sum prints as one.
fn usd(v: f64) -> f64 {
    (v * 1e9).round() / 1e9
}

pub(crate) async fn spend_json(store: &Store, keys: &[KeyRow<'_>]) -> Result<Value, GatewayError> {
    let asked: Vec<_> = keys.iter().map(|(k, l, _)| (*k, *l)).collect();
    let figures = store.report(&asked).await?;
    let rows: Vec<Value> = keys
        .iter()
        .zip(figures)
        .map(|((name, limits, max_concurrent), f)| {
            let budget = limits.budget.as_ref();
            json!({
                "virtual_key": name,
                "period": limits.period().name(),
                "period_start": (f.window.start > 0).then(|| rfc3339(f.window.start)),
                "resets_at": f.window.reset.map(rfc3339),
                "spent_usd": usd(f.spent.usd()),
                "spent_tokens": f.spent.tokens,
                "limits": {
                    "budget_usd": budget.and_then(|b| b.usd),
                    "budget_tokens": budget.and_then(|b| b.tokens),
                    "tokens_per_minute": limits.tokens_per_minute,
                    "requests_per_minute": limits.requests_per_minute,
                    "max_concurrent": max_concurrent,
                },
                "last_minute": {
                    "requests": f.requests_last_minute.round() as u64,
                    "tokens": f.tokens_last_minute.round() as u64,
                },
            })
        })
        .collect();
    Ok(json!({
        "backend": store.backend(),
        "store_up": store.is_up(),
        "keys": rows,
    }))
}
