//! A rate limit on the process log: one call site (file and line) writes at
//! most [`PER_SECOND`] lines a second at `info` and above. An error that
//! repeats in a loop, ours or Pingora's, then costs a few lines a second
//! instead of filling the disk behind the journal or a log file; how many
//! were left out is written with the next line that site gets through.
//! `debug` and `trace` are not limited: they are asked for, for a while.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use log::{Level, Log, Metadata, Record};

/// `RUST_LOG` (default `info`) to stderr, each call site rate-limited.
pub fn init() {
    let logger =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).build();
    let max = logger.filter();
    if log::set_boxed_logger(Box::new(Limited::new(logger))).is_ok() {
        log::set_max_level(max);
    }
}

/// Lines per call site per second.
pub(crate) const PER_SECOND: u32 = 5;
const WINDOW: Duration = Duration::from_secs(1);

pub(crate) struct Limited<L> {
    inner: L,
    sites: Mutex<HashMap<(&'static str, u32), Site>>,
}

struct Site {
    since: Instant,
    written: u32,
    dropped: u64,
}

/// What to do with one line.
#[derive(Debug, PartialEq)]
enum Verdict {
    Write,
    /// Write it, after saying how many were left out since `Duration` ago.
    WriteAfter(u64, Duration),
    Drop,
}

impl<L: Log> Limited<L> {
    pub(crate) fn new(inner: L) -> Limited<L> {
        Limited {
            inner,
            sites: Mutex::new(HashMap::new()),
        }
    }

    fn verdict(&self, site: (&'static str, u32), now: Instant) -> Verdict {
        let Ok(mut sites) = self.sites.lock() else {
            return Verdict::Write;
        };
        let s = sites.entry(site).or_insert(Site {
            since: now,
            written: 0,
            dropped: 0,
        });
        if now.duration_since(s.since) >= WINDOW {
            let (dropped, since) = (s.dropped, s.since);
            *s = Site {
                since: now,
                written: 1,
                dropped: 0,
            };
            return match dropped {
                0 => Verdict::Write,
                n => Verdict::WriteAfter(n, now.duration_since(since)),
            };
        }
        if s.written < PER_SECOND {
            s.written += 1;
            Verdict::Write
        } else {
            s.dropped += 1;
            Verdict::Drop
        }
    }
}

impl<L: Log> Log for Limited<L> {
    fn enabled(&self, metadata: &Metadata) -> bool {
        self.inner.enabled(metadata)
    }

    fn log(&self, record: &Record) {
        if !self.inner.enabled(record.metadata()) {
            return;
        }
        let (Some(file), Some(line)) = (record.file_static(), record.line()) else {
            return self.inner.log(record);
        };
        if record.level() > Level::Info {
            return self.inner.log(record);
        }
        match self.verdict((file, line), Instant::now()) {
            Verdict::Write => self.inner.log(record),
            Verdict::Drop => {}
            Verdict::WriteAfter(n, over) => {
                self.inner.log(
                    &Record::builder()
                        .level(record.level())
                        .target(record.target())
                        .args(format_args!(
                            "{n} more lines like the next one ({file}:{line}) left out \
                             in the last {:.1}s",
                            over.as_secs_f64()
                        ))
                        .build(),
                );
                self.inner.log(record);
            }
        }
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Nothing;
    impl Log for Nothing {
        fn enabled(&self, _: &Metadata) -> bool {
            true
        }
        fn log(&self, _: &Record) {}
        fn flush(&self) {}
    }

    #[test]
    fn a_site_writes_a_few_lines_a_second_and_then_says_how_many_it_left_out() {
        let l = Limited::new(Nothing);
        let t0 = Instant::now();
        let site = ("src/x.rs", 7);
        let verdicts: Vec<_> = (0..1000).map(|_| l.verdict(site, t0)).collect();
        let written = verdicts.iter().filter(|v| **v == Verdict::Write).count();
        assert_eq!(written, PER_SECOND as usize);
        // Another site is counted on its own.
        assert_eq!(l.verdict(("src/x.rs", 8), t0), Verdict::Write);
        let later = t0 + Duration::from_millis(1500);
        assert_eq!(
            l.verdict(site, later),
            Verdict::WriteAfter(1000 - u64::from(PER_SECOND), later - t0)
        );
        assert_eq!(l.verdict(site, later), Verdict::Write);
    }
}
