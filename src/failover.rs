//! Trying another key when one fails: after a connect failure or timeout
//! (nothing was sent), or an upstream status listed in `retry_on_status`
//! when the body can be replayed. A key that answered 429 is skipped until
//! its `retry-after` has passed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use rand::Rng;

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
