//! The load benchmark: strait next to a direct call and nginx, on this
//! machine, in one run. `cargo bench --bench load` prints the table that
//! BENCHMARKS.md holds.
//!
//! Environment: `BENCH_SECONDS` (per run, default 10), `BENCH_THREADS`
//! (strait threads = nginx workers, default 1), `BENCH_STREAMS` (open
//! streams for scenario 5, default 10000), `BENCH_SCENARIOS` (e.g. `4,5`;
//! default all; 6 comes with 1, and 2 takes its rate from 1).

mod procs;
mod sse;
mod tools;
mod upstream;

use std::time::Duration;

use procs::Proc;
use tools::Run;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

const CHAT: &str = "/openai_passthrough/v1/chat/completions";

struct Target<'a> {
    name: &'static str,
    port: u16,
    path: &'static str,
    proc: Option<&'a Proc>,
}

/// One row of the report.
struct Row {
    scenario: &'static str,
    metric: String,
    direct: Option<f64>,
    nginx: Option<f64>,
    strait: Option<f64>,
    /// How strait compares: a ratio to nginx or a difference to direct.
    compare: String,
    target: &'static str,
    met: Option<bool>,
}

fn fmt(v: Option<f64>) -> String {
    match v {
        None => "—".into(),
        Some(v) if v.is_nan() => "—".into(),
        Some(v) if v >= 1000.0 => format!("{v:.0}"),
        Some(v) if v >= 10.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.3}"),
    }
}

/// Everything a scenario needs: the three paths and where to put files.
struct Bench<'a> {
    targets: Vec<Target<'a>>,
    dir: std::path::PathBuf,
    seconds: u64,
    small: std::path::PathBuf,
    large: std::path::PathBuf,
}

type Results = Vec<(&'static str, Run, Option<f64>)>;

fn pick(v: &Results, name: &str) -> Option<(Run, Option<f64>)> {
    v.iter()
        .find(|(n, ..)| *n == name)
        .map(|(_, r, c)| (*r, *c))
}

fn ratio(s: Option<f64>, n: Option<f64>) -> String {
    match (s, n) {
        (Some(s), Some(n)) => format!("{:.2}× nginx", s / n),
        _ => "—".into(),
    }
}

fn rps(r: Option<(Run, Option<f64>)>) -> Option<f64> {
    r.map(|(r, _)| r.rps())
}

fn url(t: &Target) -> String {
    format!("http://127.0.0.1:{}{}", t.port, t.path)
}

impl Bench<'_> {
    /// 1 and 6: small requests, closed loop, saturating; CPU per request.
    fn small_closed_loop(&self, rows: &mut Vec<Row>) -> Results {
        let mut s1 = Vec::new();
        for t in &self.targets {
            let cpu0 = t.proc.map(|p| p.cpu_seconds());
            let run = tools::wrk(&url(t), &self.small, 32, self.seconds, &self.dir);
            let cpu = cpu0
                .map(|c0| (t.proc.unwrap().cpu_seconds() - c0) / run.requests as f64 * 10_000.0);
            eprintln!(
                "1. {}: {:.0} req/s, p99 {:.0} µs, errors {}",
                t.name,
                run.rps(),
                run.p99,
                run.errors
            );
            s1.push((t.name, run, cpu));
        }
        let (d, n, s) = (pick(&s1, "direct"), pick(&s1, "nginx"), pick(&s1, "strait"));
        rows.push(Row {
            scenario: "1. 1 KiB chat, 32 conns, closed loop",
            metric: "requests/s".into(),
            direct: rps(d),
            nginx: rps(n),
            strait: rps(s),
            compare: ratio(rps(s), rps(n)),
            target: "≥ 1.0× nginx",
            met: rps(s).zip(rps(n)).map(|(s, n)| s >= n),
        });
        for (i, label) in ["p50 µs", "p99 µs", "p99.9 µs"].iter().enumerate() {
            let lat = |r: Option<(Run, Option<f64>)>| r.map(|(r, _)| [r.p50, r.p99, r.p999][i]);
            rows.push(Row {
                scenario: "",
                metric: label.to_string(),
                direct: lat(d),
                nginx: lat(n),
                strait: lat(s),
                compare: ratio(lat(s), lat(n)),
                target: "",
                met: None,
            });
        }
        let cpu = |r: Option<(Run, Option<f64>)>| r.and_then(|(_, c)| c);
        rows.push(Row {
            scenario: "6. CPU per 10,000 requests (scenario 1)",
            metric: "CPU s".into(),
            direct: None,
            nginx: cpu(n),
            strait: cpu(s),
            compare: ratio(cpu(s), cpu(n)),
            target: "< nginx",
            met: cpu(s).zip(cpu(n)).map(|(s, n)| s < n),
        });
        s1
    }

    /// 2: a fixed rate every path can serve: latency added to direct.
    fn fixed_rate(&self, rate: u64, rows: &mut Vec<Row>) {
        let mut s2 = Vec::new();
        for t in &self.targets {
            let run = tools::oha_fixed_rate(&url(t), &self.small, rate, self.seconds);
            eprintln!(
                "2. {} at {rate}/s: p50 {:.0} p99 {:.0} p99.9 {:.0} µs, errors {}",
                t.name, run.p50, run.p99, run.p999, run.errors
            );
            s2.push((t.name, run, None));
        }
        let (d, n, s) = (pick(&s2, "direct"), pick(&s2, "nginx"), pick(&s2, "strait"));
        for (i, label) in ["p50 µs", "p99 µs", "p99.9 µs"].iter().enumerate() {
            let lat = |r: Option<(Run, Option<f64>)>| r.map(|(r, _)| [r.p50, r.p99, r.p999][i]);
            let added = lat(s).zip(lat(d)).map(|(s, d)| s - d);
            rows.push(Row {
                scenario: if i == 0 {
                    "2. 1 KiB chat at a fixed rate"
                } else {
                    ""
                },
                metric: if i == 0 {
                    format!("{label} at {rate} req/s")
                } else {
                    label.to_string()
                },
                direct: lat(d),
                nginx: lat(n),
                strait: lat(s),
                compare: added.map_or("—".into(), |a| format!("{a:+.0} µs vs direct")),
                target: if i == 1 { "≤ +500 µs" } else { "" },
                met: if i == 1 {
                    added.map(|a| a <= 500.0)
                } else {
                    None
                },
            });
        }
    }

    /// 3: 100 KiB request bodies.
    fn large_bodies(&self, rows: &mut Vec<Row>) {
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
            s3.push((t.name, run, None));
        }
        let (d, n, s) = (pick(&s3, "direct"), pick(&s3, "nginx"), pick(&s3, "strait"));
        rows.push(Row {
            scenario: "3. 100 KiB request bodies, 32 conns",
            metric: "requests/s".into(),
            direct: rps(d),
            nginx: rps(n),
            strait: rps(s),
            compare: ratio(rps(s), rps(n)),
            target: "≥ 1.3× nginx",
            met: rps(s).zip(rps(n)).map(|(s, n)| s >= 1.3 * n),
        });
        let p99 = |r: Option<(Run, Option<f64>)>| r.map(|(r, _)| r.p99);
        rows.push(Row {
            scenario: "",
            metric: "p99 µs".into(),
            direct: p99(d),
            nginx: p99(n),
            strait: p99(s),
            compare: ratio(p99(s), p99(n)),
            target: "",
            met: None,
        });
    }

    /// 4: SSE, 20 events 20 ms apart: time to first byte, per-event delivery.
    fn sse_timing(&self, rows: &mut Vec<Row>) {
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
        let g = |name: &str, i: usize| s4.iter().find(|(n, _)| *n == name).map(|(_, v)| v[i]);
        for (i, label, target, limit) in [
            (0, "TTFB p50 µs", "", None),
            (1, "TTFB p99 µs", "≤ +1000 µs", Some(1000.0)),
            (2, "event delivery p50 µs", "", None),
            (3, "event delivery p99 µs", "≤ +1000 µs", Some(1000.0)),
        ] {
            let added = g("strait", i).zip(g("direct", i)).map(|(s, d)| s - d);
            rows.push(Row {
                scenario: if i == 0 {
                    "4. SSE: 20 events, 20 ms apart (20 clients × 5 streams)"
                } else {
                    ""
                },
                metric: label.into(),
                direct: g("direct", i),
                nginx: g("nginx", i),
                strait: g("strait", i),
                compare: added.map_or("—".into(), |a| format!("{a:+.0} µs vs direct")),
                target,
                met: limit.and_then(|l| added.map(|a| a <= l)),
            });
        }
    }
}

/// 5: thousands of open streams, each set through a fresh process so its
/// peak memory is this scenario's.
fn open_streams(
    upstream: u16,
    dir: &std::path::Path,
    threads: usize,
    streams: usize,
    rows: &mut Vec<Row>,
) {
    // nginx needs two descriptors per stream and the hard limit here is 20,000.
    let both = streams.min(9_000);
    let hold = |p: &Proc, path: &str, n: usize| {
        let (held, _) = sse::hold_open(p.port, path, n, Duration::from_secs(120), || p.memory());
        let (_, peak) = p.memory();
        (held, peak as f64 / 1048576.0)
    };
    let s = Proc::strait(upstream, dir, threads, true);
    let (held, peak) = hold(&s, CHAT, streams);
    eprintln!("5. strait (h2c upstream): {held} streams open, peak {peak:.0} MiB");
    drop(s);
    let s = Proc::strait(upstream, dir, threads, false);
    let (held1, peak1) = hold(&s, CHAT, both);
    eprintln!("5. strait (h1 upstream): {held1} streams open, peak {peak1:.0} MiB");
    drop(s);
    let n = Proc::nginx(upstream, dir, threads);
    let nginx = n.as_ref().map(|n| hold(n, "/v1/chat/completions", both));
    if let Some((h, p)) = nginx {
        eprintln!("5. nginx: {h} streams open, peak {p:.0} MiB");
    }
    rows.push(Row {
        scenario: "5. open SSE streams: peak RSS of the proxy",
        metric: format!("MiB, {held} streams (strait: HTTP/2 upstream)"),
        direct: None,
        nginx: None,
        strait: Some(peak),
        compare: format!("{:.1} KiB per stream", peak * 1024.0 / held.max(1) as f64),
        target: "≤ 200 MiB at 10,000",
        met: Some(held >= 10_000 && peak <= 200.0),
    });
    rows.push(Row {
        scenario: "",
        metric: format!(
            "MiB, {} streams (both HTTP/1.1 upstream)",
            nginx.map_or(held1, |(h, _)| h.min(held1))
        ),
        direct: None,
        nginx: nginx.map(|(_, p)| p),
        strait: Some(peak1),
        compare: ratio(Some(peak1), nginx.map(|(_, p)| p)),
        target: "",
        met: None,
    });
}

fn main() {
    if std::env::args().any(|a| a == "--upstream") {
        upstream::serve();
    }
    // `cargo bench` passes `--bench`; a test run (`cargo test --benches`) does not.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    tools::ensure_tools();
    let seconds = env_num("BENCH_SECONDS", 10);
    let threads = env_num("BENCH_THREADS", 1) as usize;
    let streams = env_num("BENCH_STREAMS", 10_000) as usize;
    let only = std::env::var("BENCH_SCENARIOS").unwrap_or_default();
    let want = |n: &str| only.is_empty() || only.split(',').any(|s| s.trim() == n);
    let dir = std::env::temp_dir().join(format!("strait-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench dir");

    let upstream = Proc::upstream();
    let mut rows = Vec::new();
    {
        let strait = Proc::strait(upstream.port, &dir, threads, false);
        let nginx = Proc::nginx(upstream.port, &dir, threads);
        let mut targets = vec![Target {
            name: "direct",
            port: upstream.port,
            path: "/v1/chat/completions",
            proc: None,
        }];
        if let Some(n) = &nginx {
            targets.push(Target {
                name: "nginx",
                port: n.port,
                path: "/v1/chat/completions",
                proc: Some(n),
            });
        }
        targets.push(Target {
            name: "strait",
            port: strait.port,
            path: CHAT,
            proc: Some(&strait),
        });
        let bench = Bench {
            small: tools::write_body(&dir, 1024),
            large: tools::write_body(&dir, 100 * 1024),
            targets,
            dir: dir.clone(),
            seconds,
        };
        eprintln!("warming up");
        for t in &bench.targets {
            tools::wrk(&url(t), &bench.small, 32, 2, &dir);
        }
        if want("1") || want("2") {
            let s1 = bench.small_closed_loop(&mut rows);
            // Half of direct saturation is more than either proxy serves on
            // this machine, so every proxied request would queue: half of
            // the slowest path's saturation keeps all three below capacity.
            let slowest = s1
                .iter()
                .map(|(_, r, _)| r.rps())
                .fold(f64::INFINITY, f64::min);
            if want("2") {
                bench.fixed_rate((slowest / 2.0) as u64, &mut rows);
            }
        }
        if want("3") {
            bench.large_bodies(&mut rows);
        }
        if want("4") {
            bench.sse_timing(&mut rows);
        }
    }
    if want("5") {
        open_streams(upstream.port, &dir, threads, streams, &mut rows);
    }
    let _ = std::fs::remove_dir_all(&dir);
    drop(upstream);

    println!("\n| scenario | metric | direct | nginx | strait | strait compared | target | met |");
    println!("|---|---|---:|---:|---:|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.scenario,
            r.metric,
            fmt(r.direct),
            fmt(r.nginx),
            fmt(r.strait),
            r.compare,
            r.target,
            match r.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "",
            }
        );
    }
    println!(
        "\n{seconds} s per run, strait threads = nginx workers = {threads}, wrk -t1 -c32, oha -c32; {}",
        machine()
    );
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    format!("{cpus} CPUs ({model})")
}
