//! Per-minute counts (requests, tokens) in calendar minutes of Unix time, so
//! that replicas sharing them through Redis agree on the boundaries. The
//! limit is checked against a sliding estimate of the last 60 s: the previous
//! minute weighs in by how much of it still overlaps them, so a boundary does
//! not let twice the limit through.

const MINUTE: f64 = 60.0;

/// A moment as the counters see it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Now {
    /// Unix seconds.
    pub(crate) secs: f64,
}

impl Now {
    pub(crate) fn system() -> Now {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        Now { secs }
    }

    /// The calendar minute, as Unix seconds / 60.
    pub(crate) fn minute(self) -> u64 {
        (self.secs / MINUTE) as u64
    }

    /// How much of the current minute has passed, 0..1.
    pub(crate) fn fraction(self) -> f64 {
        (self.secs % MINUTE) / MINUTE
    }

    pub(crate) fn unix(self) -> i64 {
        self.secs as i64
    }

    pub(crate) fn utc(self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp(self.unix(), 0).unwrap_or_default()
    }
}

/// Counts in the current calendar minute and the one before it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Minutes {
    pub(crate) minute: u64,
    pub(crate) curr: u64,
    pub(crate) prev: u64,
}

impl Minutes {
    /// Moves the window on to `minute`, keeping what still counts.
    pub(crate) fn roll(&mut self, minute: u64) {
        if minute <= self.minute {
            return;
        }
        self.prev = if minute == self.minute + 1 {
            self.curr
        } else {
            0
        };
        self.curr = 0;
        self.minute = minute;
    }

    pub(crate) fn add(&mut self, now: Now, n: u64) {
        self.roll(now.minute());
        self.curr = self.curr.saturating_add(n);
    }

    /// What the last 60 s hold, by the sliding estimate.
    pub(crate) fn estimate(&self, now: Now) -> f64 {
        let mut m = *self;
        m.roll(now.minute());
        m.prev as f64 * (1.0 - now.fraction()) + m.curr as f64
    }

    /// Whole seconds until the estimate is back under `limit` (at least 1).
    pub(crate) fn retry_after(&self, now: Now, limit: u64) -> u64 {
        let mut m = *self;
        m.roll(now.minute());
        let left = 1.0 - now.fraction();
        let (prev, curr, limit) = (m.prev as f64, m.curr as f64, limit as f64);
        let wait = if curr >= limit || prev <= 0.0 {
            // Only the next minute brings relief.
            left * MINUTE
        } else {
            // The previous minute's share shrinks linearly as it slides out.
            (prev * left + curr - limit) / prev * MINUTE
        };
        wait.ceil().clamp(1.0, MINUTE) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: u64, second: f64) -> Now {
        Now {
            secs: minute as f64 * 60.0 + second,
        }
    }

    #[test]
    fn the_previous_minute_slides_out() {
        let mut m = Minutes::default();
        m.add(at(100, 10.0), 60);
        assert_eq!(m.estimate(at(100, 30.0)), 60.0);
        // Half-way through the next minute, half of the 60 still count.
        assert_eq!(m.estimate(at(101, 30.0)), 30.0);
        m.add(at(101, 30.0), 5);
        assert_eq!((m.prev, m.curr), (60, 5));
        // A minute skipped forgets everything.
        assert_eq!(m.estimate(at(103, 0.0)), 0.0);
        m.add(at(103, 0.0), 1);
        assert_eq!((m.prev, m.curr), (0, 1));
        // Time going backwards (another replica's clock) never rolls back.
        m.add(at(102, 0.0), 1);
        assert_eq!((m.minute, m.curr), (103, 2));
    }

    #[test]
    fn retry_after_says_when_the_estimate_drops_under_the_limit() {
        let mut m = Minutes::default();
        m.add(at(100, 0.0), 60);
        // At 101:00 the estimate is 60; with a limit of 30 half of the
        // previous minute must slide out: 30 s.
        assert_eq!(m.retry_after(at(101, 0.0), 30), 30);
        // Over the limit within the current minute: wait for the next one.
        assert_eq!(m.retry_after(at(100, 45.0), 30), 15);
        assert!((1..=60).contains(&m.retry_after(at(100, 59.9), 30)));
    }
}
