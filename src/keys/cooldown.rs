//! Setting a key aside after a 429, lock-free: every key selection reads it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

/// The process's time origin for cool-downs kept in atomics.
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

fn now_ms() -> u64 {
    EPOCH.elapsed().as_millis() as u64
}

/// Cool-down when a 429 carries no usable `retry-after`.
pub(crate) const DEFAULT_COOLDOWN: Duration = Duration::from_secs(10);
/// Longest cool-down honoured, whatever `retry-after` says.
const MAX_COOLDOWN: Duration = Duration::from_secs(600);

/// Until when a key is skipped.
#[derive(Debug, Default)]
pub(crate) struct Cooldown {
    until_ms: AtomicU64,
}

impl Cooldown {
    pub(crate) fn start(&self, length: Duration) {
        let until = now_ms() + length.min(MAX_COOLDOWN).as_millis() as u64;
        self.until_ms.fetch_max(until, Ordering::Relaxed);
    }

    pub(crate) fn active(&self) -> bool {
        self.until_ms.load(Ordering::Relaxed) > now_ms()
    }

    /// Ends first among cooling keys: the one to use when all are cooling.
    pub(crate) fn until(&self) -> u64 {
        self.until_ms.load(Ordering::Relaxed)
    }

    /// A reload keeps a key that is cooling down cooling.
    pub(crate) fn adopt(&self, previous: &Cooldown) {
        self.until_ms.fetch_max(previous.until(), Ordering::Relaxed);
    }
}

/// `retry-after` in seconds (the HTTP-date form is rare from these
/// providers and falls back to the default).
pub(crate) fn retry_after(value: Option<&http::HeaderValue>) -> Duration {
    value
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(DEFAULT_COOLDOWN, Duration::from_secs_f64)
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
        let fresh = Cooldown::default();
        fresh.adopt(&c);
        assert!(fresh.active());
        let hv = http::HeaderValue::from_static("7");
        assert_eq!(retry_after(Some(&hv)), Duration::from_secs(7));
        let hv = http::HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT");
        assert_eq!(retry_after(Some(&hv)), DEFAULT_COOLDOWN);
        assert_eq!(retry_after(None), DEFAULT_COOLDOWN);
    }
}
