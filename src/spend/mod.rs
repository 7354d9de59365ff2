//! Spend control: per virtual key, requests and tokens per minute and a
//! budget (USD, tokens) per calendar period, counted in this process or, for
//! a fleet, in Redis. The counters are keyed by the virtual key's name and
//! live outside the config snapshot, so a reload keeps them.
//!
//! Money is counted in nano-dollars (u64): exact sums, where adding f64 costs
//! of many calls would drift.

mod file;
mod judge;
mod memory;
mod period;
mod redis;
mod redis_link;
mod redis_report;
mod report;
mod store;
mod window;

pub(crate) use period::{Period, Window};
pub(crate) use redis::RedisConfig;
pub(crate) use report::{spend_json, KeyRow};
pub(crate) use store::Store;

/// A virtual key's limits, from its config.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct KeyLimits {
    pub(crate) requests_per_minute: Option<u64>,
    pub(crate) tokens_per_minute: Option<u64>,
    pub(crate) budget: Option<Budget>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Budget {
    pub(crate) usd: Option<f64>,
    pub(crate) tokens: Option<u64>,
    pub(crate) period: Period,
}

impl KeyLimits {
    /// The period spend is summed over: the budget's, else since the counters
    /// began (so `/spend` has a figure for keys without a budget too).
    pub(crate) fn period(&self) -> Period {
        self.budget.as_ref().map_or(Period::Total, |b| b.period)
    }

    /// Whether the key's calls must report their tokens to be held to
    /// its limits (a token limit or any budget).
    pub(crate) fn counts_tokens(&self) -> bool {
        self.tokens_per_minute.is_some() || self.budget.is_some()
    }

    /// Whether admission must look at any counter.
    pub(crate) fn any(&self) -> bool {
        self.requests_per_minute.is_some()
            || self.tokens_per_minute.is_some()
            || self.budget.is_some()
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Spent {
    pub(crate) nano_usd: u64,
    pub(crate) tokens: u64,
}

pub(crate) const NANO: f64 = 1e9;

impl Spent {
    pub(crate) fn usd(&self) -> f64 {
        self.nano_usd as f64 / NANO
    }

    pub(crate) fn add(&mut self, tokens: u64, nano_usd: u64) {
        self.tokens = self.tokens.saturating_add(tokens);
        self.nano_usd = self.nano_usd.saturating_add(nano_usd);
    }
}

/// USD to nano-dollars, for charging a call's cost.
pub(crate) fn nano_usd(usd: f64) -> u64 {
    if usd.is_finite() && usd > 0.0 {
        (usd * NANO).round() as u64
    } else {
        0
    }
}

/// One key's figures, as `/spend` shows them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeySpend {
    pub(crate) window: Window,
    pub(crate) spent: Spent,
    pub(crate) requests_last_minute: f64,
    pub(crate) tokens_last_minute: f64,
}
