//! Scenarios 2–4: latency at a fixed rate, large request bodies, SSE
//! timing; each path once, one after the other.

use crate::report::{percentile, Row};
use crate::tools::{self, Run};
use crate::{pick, sse, url, versus, Bench};

impl Bench<'_> {
    /// 2: a fixed rate every path can serve: latency added to direct.
    pub(crate) fn fixed_rate(&self, rate: u64, rows: &mut Vec<Row>) {
        let mut s2 = Vec::new();
        for t in &self.targets {
            let run = tools::oha_fixed_rate(&url(t), &self.small, rate, self.seconds);
            eprintln!(
                "2. {} at {rate}/s: p50 {:.0} p99 {:.0} p99.9 {:.0} µs, errors {}",
                t.name, run.p50, run.p99, run.p999, run.errors
            );
            s2.push((t.name, run));
        }
        for (i, label) in ["p50 µs", "p99 µs", "p99.9 µs"].iter().enumerate() {
            let lat = |p: &str| pick(&s2, p).map(|r: Run| [r.p50, r.p99, r.p999][i]);
            let added = lat("strait").zip(lat("direct")).map(|(s, d)| s - d);
            let (scenario, metric) = if i == 0 {
                (
                    "2. 1 KiB chat at a fixed rate",
                    format!("{label} at {rate} req/s"),
                )
            } else {
                ("", label.to_string())
            };
            let row = Row::new(scenario, metric)
                .values(lat)
                .compare(added.map_or("—".into(), |a| format!("{a:+.0} µs vs direct")));
            rows.push(if i == 1 {
                row.target("≤ +500 µs", added.map(|a| a <= 500.0))
            } else {
                row
            });
        }
    }

    /// 3: 100 KiB request bodies.
    pub(crate) fn large_bodies(&self, rows: &mut Vec<Row>) {
        let mut s3 = Vec::new();
        for t in &self.targets {
            let run = tools::wrk(&url(t), &self.large, 32, self.seconds, &self.dir);
            eprintln!(
                "3. {}: {:.0} req/s, p99 {:.0} µs, errors {}",
                t.name,
                run.rps(),
                run.p99,
                run.errors
            );
            s3.push((t.name, run));
        }
        let rps = |p: &str| pick(&s3, p).map(|r: Run| r.rps());
        let p99 = |p: &str| pick(&s3, p).map(|r: Run| r.p99);
        let met = rps("strait").zip(rps("nginx")).map(|(s, n)| s >= 1.3 * n);
        rows.push(
            Row::new("3. 100 KiB request bodies, 32 conns", "requests/s")
                .values(rps)
                .compare(versus(rps))
                .target("≥ 1.3× nginx", met),
        );
        rows.push(Row::new("", "p99 µs").values(p99).compare(versus(p99)));
    }

    /// 4: SSE, 20 events 20 ms apart: time to first byte, per-event delivery.
    pub(crate) fn sse_timing(&self, rows: &mut Vec<Row>) {
        let mut s4 = Vec::new();
        for t in &self.targets {
            let mut m = sse::timings(t.port, t.path, 20, 5, 20, 20);
            let v = [
                percentile(&mut m.ttfb, 50.0),
                percentile(&mut m.ttfb, 99.0),
                percentile(&mut m.event, 50.0),
                percentile(&mut m.event, 99.0),
            ];
            eprintln!(
                "4. {}: ttfb p50/p99 {:.0}/{:.0} µs, event p50/p99 {:.0}/{:.0} µs, errors {}",
                t.name, v[0], v[1], v[2], v[3], m.errors
            );
            s4.push((t.name, v));
        }
        for (i, label, limit) in [
            (0, "TTFB p50 µs", None),
            (1, "TTFB p99 µs", Some(1000.0)),
            (2, "event delivery p50 µs", None),
            (3, "event delivery p99 µs", Some(1000.0)),
        ] {
            let g = |p: &str| pick(&s4, p).map(|v| v[i]);
            let added = g("strait").zip(g("direct")).map(|(s, d)| s - d);
            let scenario = if i == 0 {
                "4. SSE: 20 events, 20 ms apart (20 clients × 5 streams)"
            } else {
                ""
            };
            let row = Row::new(scenario, label)
                .values(g)
                .compare(added.map_or("—".into(), |a| format!("{a:+.0} µs vs direct")));
            rows.push(match limit {
                Some(l) => row.target("≤ +1000 µs", added.map(|a| a <= l)),
                None => row,
            });
        }
    }
}
