//! Budget periods: calendar windows in UTC (a week starts on Monday, as ISO
//! 8601 has it), so every replica and every restart agrees on when a budget
//! resets without sharing a clock origin.

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, NaiveTime, TimeZone, Utc};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Period {
    Day,
    Week,
    Month,
    /// Never resets.
    Total,
}

/// One period as it applies at a given moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    /// Unix seconds; 0 for `total`.
    pub(crate) start: i64,
    /// Unix seconds of the next reset; `None` for `total`.
    pub(crate) reset: Option<i64>,
}

impl Period {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
            Period::Total => "total",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Period> {
        Some(match s {
            "day" => Period::Day,
            "week" => Period::Week,
            "month" => Period::Month,
            "total" => Period::Total,
            _ => return None,
        })
    }

    /// The window `now` falls in.
    pub(crate) fn window(self, now: DateTime<Utc>) -> Window {
        let today = now.date_naive();
        let (start, next) = match self {
            Period::Total => {
                return Window {
                    start: 0,
                    reset: None,
                }
            }
            Period::Day => (today, today + Days::new(1)),
            Period::Week => {
                let monday = today - Days::new(u64::from(today.weekday().num_days_from_monday()));
                (monday, monday + Days::new(7))
            }
            Period::Month => {
                let first = today.with_day(1).unwrap_or(today);
                (first, first + Months::new(1))
            }
        };
        Window {
            start: midnight(start),
            reset: Some(midnight(next)),
        }
    }
}

fn midnight(day: NaiveDate) -> i64 {
    Utc.from_utc_datetime(&day.and_time(NaiveTime::MIN))
        .timestamp()
}

/// RFC 3339 in UTC, to the second: how messages and `/spend` show a moment.
pub(crate) fn rfc3339(unix: i64) -> String {
    DateTime::from_timestamp(unix, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn shown(p: Period, now: &str) -> (String, Option<String>) {
        let w = p.window(at(now));
        (rfc3339(w.start), w.reset.map(rfc3339))
    }

    #[test]
    fn windows_are_calendar_aligned_in_utc() {
        let now = "2026-12-31T23:59:59Z";
        assert_eq!(
            shown(Period::Day, now),
            (
                "2026-12-31T00:00:00Z".into(),
                Some("2027-01-01T00:00:00Z".into())
            )
        );
        // 2026-12-31 is a Thursday; its week began on Monday the 28th.
        assert_eq!(
            shown(Period::Week, now),
            (
                "2026-12-28T00:00:00Z".into(),
                Some("2027-01-04T00:00:00Z".into())
            )
        );
        assert_eq!(
            shown(Period::Month, now),
            (
                "2026-12-01T00:00:00Z".into(),
                Some("2027-01-01T00:00:00Z".into())
            )
        );
        assert_eq!(
            shown(Period::Month, "2028-02-29T12:00:00Z"),
            (
                "2028-02-01T00:00:00Z".into(),
                Some("2028-03-01T00:00:00Z".into())
            )
        );
        assert_eq!(
            Period::Total.window(at(now)),
            Window {
                start: 0,
                reset: None
            }
        );
        // A Monday is the first day of its own week.
        assert_eq!(
            shown(Period::Week, "2026-11-30T00:00:00Z").0,
            "2026-11-30T00:00:00Z"
        );
    }

    #[test]
    fn names_round_trip() {
        for p in [Period::Day, Period::Week, Period::Month, Period::Total] {
            assert_eq!(Period::parse(p.name()), Some(p));
        }
        assert_eq!(Period::parse("year"), None);
    }
}
