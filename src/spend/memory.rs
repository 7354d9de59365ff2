//! The in-process store: every key's counters behind its own small lock, so
//! two requests of different keys never wait for each other, and a reload,
//! which only swaps the config, keeps them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use crate::errors::GatewayError;

use super::judge::{judge, Seen};
use super::window::{Minutes, Now};
use super::{KeyLimits, KeySpend, Spent};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct KeyState {
    pub(crate) requests: Minutes,
    pub(crate) tokens: Minutes,
    /// Start (Unix seconds) of the budget window `spent` belongs to.
    pub(crate) period_start: i64,
    pub(crate) spent: Spent,
}

impl KeyState {
    /// What was spent in the window starting at `start` (none if the
    /// counters are from an earlier one).
    fn spent_since(&self, start: i64) -> Spent {
        if self.period_start == start {
            self.spent
        } else {
            Spent::default()
        }
    }
}

#[derive(Default)]
pub(crate) struct Memory {
    keys: RwLock<HashMap<Box<str>, Arc<Mutex<KeyState>>>>,
    /// Changed since the state file was last written.
    dirty: AtomicBool,
}

fn lock(m: &Mutex<KeyState>) -> MutexGuard<'_, KeyState> {
    // Counters stay usable after a panic elsewhere: they are plain numbers.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Memory {
    fn entry(&self, key: &str) -> Arc<Mutex<KeyState>> {
        let found = self
            .keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned();
        found.unwrap_or_else(|| {
            let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
            keys.entry(key.into()).or_default().clone()
        })
    }

    /// Counts the request and judges it; a refused request is not counted.
    pub(crate) fn admit(
        &self,
        key: &str,
        limits: &KeyLimits,
        now: Now,
    ) -> Result<(), GatewayError> {
        let entry = self.entry(key);
        let mut state = lock(&entry);
        state.requests.add(now, 1);
        let start = limits.period().window(now.utc()).start;
        let seen = Seen {
            requests: state.requests,
            tokens: state.tokens,
            spent: state.spent_since(start),
        };
        let verdict = judge(key, limits, &seen, now);
        if verdict.is_err() {
            state.requests.curr -= 1;
        }
        verdict
    }

    /// Adds a finished call's tokens and cost.
    pub(crate) fn charge(
        &self,
        key: &str,
        limits: &KeyLimits,
        tokens: u64,
        nano_usd: u64,
        now: Now,
    ) {
        let entry = self.entry(key);
        let mut state = lock(&entry);
        state.tokens.add(now, tokens);
        let start = limits.period().window(now.utc()).start;
        if state.period_start != start {
            state.period_start = start;
            state.spent = Spent::default();
        }
        state.spent.add(tokens, nano_usd);
        self.dirty.store(true, Ordering::Relaxed);
    }

    /// One key's figures as `/spend` shows them.
    pub(crate) fn report(&self, key: &str, limits: &KeyLimits, now: Now) -> KeySpend {
        let state = self
            .keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .map(|e| *lock(e))
            .unwrap_or_default();
        let window = limits.period().window(now.utc());
        KeySpend {
            window,
            spent: state.spent_since(window.start),
            requests_last_minute: state.requests.estimate(now),
            tokens_last_minute: state.tokens.estimate(now),
        }
    }

    /// Every key's state, and whether it changed since the last call.
    pub(crate) fn take_dirty(&self) -> Option<Vec<(String, KeyState)>> {
        if !self.dirty.swap(false, Ordering::Relaxed) {
            return None;
        }
        Some(self.all())
    }

    pub(crate) fn all(&self) -> Vec<(String, KeyState)> {
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
        keys.iter()
            .map(|(k, v)| (k.to_string(), *lock(v)))
            .collect()
    }

    /// Puts back what a state file held (at start, before any request).
    pub(crate) fn restore(&self, saved: Vec<(String, KeyState)>) {
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        for (k, state) in saved {
            keys.insert(k.into(), Arc::new(Mutex::new(state)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::ErrorKind;
    use crate::spend::{Budget, Period};

    fn at(secs: f64) -> Now {
        Now { secs }
    }

    #[test]
    fn requests_per_minute_are_counted_per_key_and_refusals_are_not() {
        let m = Memory::default();
        let limits = KeyLimits {
            requests_per_minute: Some(2),
            ..KeyLimits::default()
        };
        let t = at(6_000.0);
        assert!(m.admit("a", &limits, t).is_ok());
        assert!(m.admit("a", &limits, t).is_ok());
        for _ in 0..3 {
            let e = m.admit("a", &limits, t).unwrap_err();
            assert_eq!((e.kind, e.status()), (ErrorKind::RateLimited, 429));
        }
        assert_eq!(m.report("a", &limits, t).requests_last_minute, 2.0);
        assert!(
            m.admit("b", &limits, t).is_ok(),
            "another key has its own count"
        );
        // Two minutes on, the old ones are gone.
        assert!(m.admit("a", &limits, at(6_120.0)).is_ok());
    }

    #[test]
    fn charges_fill_the_budget_of_the_current_window_only() {
        let m = Memory::default();
        let limits = KeyLimits {
            budget: Some(Budget {
                usd: Some(1.0),
                tokens: None,
                period: Period::Day,
            }),
            ..KeyLimits::default()
        };
        let day = 86_400.0 * 20_000.0;
        let t = at(day + 100.0);
        assert!(m.admit("k", &limits, t).is_ok());
        m.charge("k", &limits, 500, 600_000_000, t);
        assert!(m.admit("k", &limits, t).is_ok());
        m.charge("k", &limits, 500, 400_000_000, t);
        let e = m.admit("k", &limits, t).unwrap_err();
        assert_eq!(e.kind, ErrorKind::BudgetExceeded);
        let r = m.report("k", &limits, t);
        assert_eq!((r.spent.tokens, r.spent.usd()), (1000, 1.0));
        // The next day starts from nothing.
        let tomorrow = at(day + 86_400.0 + 1.0);
        assert!(m.admit("k", &limits, tomorrow).is_ok());
        assert_eq!(m.report("k", &limits, tomorrow).spent, Spent::default());
        assert!(m.take_dirty().is_some() && m.take_dirty().is_none());
    }
}
