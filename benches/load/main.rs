//! The load benchmark: strait next to a direct call, nginx and a bare
//! Pingora proxy, on this machine, in one run. `cargo bench --bench load`
//! prints the table that BENCHMARKS.md holds.
//!
//! Environment: `BENCH_SECONDS` (per run, default 10), `BENCH_ROUNDS`
//! (rounds of scenarios 1, 7 and 8, default 5), `BENCH_THREADS` (strait
//! threads = bare Pingora threads = nginx workers, default 1),
//! `BENCH_STREAMS_H1` and
//! `BENCH_STREAMS_H2` (open streams for scenario 5, default 9000 and
//! 18000), `BENCH_SCENARIOS` (e.g. `1,5`; default all; 6 comes with 1, and
//! 2 takes its rate from 1; 7 is spend control's cost, with a redis-server
//! of its own; 8 is WebSocket sessions, frames echoed by the upstream's
//! `/v1/realtime`; 9 is tracing's cost, with an OTLP receiver of its own),
//! `STRAIT_BASELINE_BIN` (another strait binary,
//! run as the path "strait-base" beside this one).

mod bare;
mod budget;
mod echo;
mod latency;
mod procs;
mod report;
mod sse;
mod streams;
mod tools;
mod tracing;
mod upstream;
mod websocket;

use std::path::PathBuf;

use procs::Proc;
use report::{median, num, ratio, spread, Row};

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const CHAT: &str = "/openai_passthrough/v1/chat/completions";
const PLAIN: &str = "/v1/chat/completions";

struct Target<'a> {
    name: &'static str,
    port: u16,
    path: &'static str,
    proc: Option<&'a Proc>,
}

fn target<'a>(name: &'static str, p: &'a Proc, path: &'static str) -> Target<'a> {
    Target {
        name,
        port: p.port,
        path,
        proc: Some(p),
    }
}

fn url(t: &Target) -> String {
    format!("http://127.0.0.1:{}{}", t.port, t.path)
}

/// Everything a scenario needs: the paths and where to put files.
struct Bench<'a> {
    targets: Vec<Target<'a>>,
    dir: PathBuf,
    seconds: u64,
    small: PathBuf,
    large: PathBuf,
}

/// Scenario 1's figures of one path, one entry per round.
#[derive(Default)]
struct Rounds {
    rps: Vec<f64>,
    lat: [Vec<f64>; 3],
    cpu_us: Vec<f64>,
}

/// "strait 0.93× bare, 0.41× nginx" (with the baseline when it ran).
fn versus(get: impl Fn(&str) -> Option<f64>) -> String {
    let s = get("strait");
    [
        ratio(s, get("bare"), "bare"),
        ratio(s, get("nginx"), "nginx"),
        ratio(s, get("strait-base"), "strait-base"),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ")
}

fn pick<T: Copy>(v: &[(&str, T)], name: &str) -> Option<T> {
    v.iter().find(|(n, _)| *n == name).map(|(_, x)| *x)
}

impl Bench<'_> {
    /// 1 and 6: small requests, closed loop, saturating; CPU per request of
    /// each proxy process. Every round runs every path, so machine noise
    /// that lasts longer than a round hits all of them; the median of the
    /// rounds is reported. Returns the slowest path's median requests/s.
    fn small_closed_loop(&self, rounds: usize, rows: &mut Vec<Row>) -> f64 {
        let mut all: Vec<Rounds> = self.targets.iter().map(|_| Rounds::default()).collect();
        for round in 0..rounds {
            // A different path starts each round, so none always runs
            // first (and none always sits at the same point of a drift).
            for k in 0..self.targets.len() {
                let i = (k + round) % self.targets.len();
                let t = &self.targets[i];
                let cpu0 = t.proc.map(|p| p.cpu_seconds());
                let run = tools::wrk(&url(t), &self.small, 32, self.seconds, &self.dir);
                let r = &mut all[i];
                r.rps.push(run.rps());
                for (v, x) in r.lat.iter_mut().zip([run.p50, run.p99, run.p999]) {
                    v.push(x);
                }
                let cpu = cpu0.map(|c0| {
                    (t.proc.unwrap().cpu_seconds() - c0) * 1e6 / run.requests.max(1) as f64
                });
                r.cpu_us.extend(cpu);
                eprintln!(
                    "1. round {}/{rounds} {}: {:.0} req/s, p99 {:.0} µs, CPU {} µs/request, errors {}",
                    round + 1,
                    t.name,
                    run.rps(),
                    run.p99,
                    cpu.map_or("—".into(), num),
                    run.errors
                );
            }
        }
        let by = |f: &dyn Fn(&Rounds) -> &Vec<f64>| -> Vec<(&str, Vec<f64>)> {
            self.targets
                .iter()
                .zip(&all)
                .map(|(t, r)| (t.name, f(r).clone()))
                .filter(|(_, v)| !v.is_empty())
                .collect()
        };
        let med = |v: &[(&str, Vec<f64>)], name: &str| {
            v.iter().find(|(n, _)| *n == name).map(|(_, x)| median(x))
        };
        let rps = by(&|r| &r.rps);
        let scenario = format!("1. 1 KiB chat, 32 conns, closed loop (median of {rounds} rounds)");
        rows.push(
            Row::new(&scenario, "requests/s")
                .values(|p| med(&rps, p))
                .compare(versus(|p| med(&rps, p))),
        );
        let mut spreads = Row::new("", "requests/s, min–max of the rounds");
        for (p, v) in &rps {
            spreads = spreads.cell(p, spread(v));
        }
        rows.push(spreads);
        for (i, label) in ["p50 µs", "p99 µs", "p99.9 µs"].iter().enumerate() {
            let lat = by(&|r| &r.lat[i]);
            rows.push(
                Row::new("", *label)
                    .values(|p| med(&lat, p))
                    .compare(versus(|p| med(&lat, p))),
            );
        }
        let cpu = by(&|r| &r.cpu_us);
        let (s, b) = (med(&cpu, "strait"), med(&cpu, "bare"));
        rows.push(
            Row::new(
                "6. CPU per request (scenario 1; utime + stime of the proxy's processes / requests)",
                "CPU µs per request, median",
            )
            .values(|p| med(&cpu, p))
            .compare(versus(|p| med(&cpu, p)))
            // The target is a median of at least five rounds.
            .target(
                "≤ bare Pingora, median of ≥ 5 rounds",
                s.zip(b).filter(|_| rounds >= 5).map(|(s, b)| s <= b),
            ),
        );
        let mut spreads = Row::new("", "CPU µs per request, min–max of the rounds");
        for (p, v) in &cpu {
            spreads = spreads.cell(p, spread(v));
        }
        rows.push(spreads);
        rps.iter()
            .map(|(_, v)| median(v))
            .fold(f64::INFINITY, f64::min)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--upstream") {
        upstream::serve();
    }
    if let Some(i) = args.iter().position(|a| a == "--bare-pingora") {
        bare::serve(&args[i + 1..]);
    }
    // `cargo bench` passes `--bench`; a test run (`cargo test --benches`) does not.
    if !args.iter().any(|a| a == "--bench") {
        return;
    }
    let only = std::env::var("BENCH_SCENARIOS").unwrap_or_default();
    let want = |n: &str| only.is_empty() || only.split(',').any(|s| s.trim() == n);
    tools::ensure_tools(want("2") || want("9"));
    let nofile = procs::raise_nofile();
    let seconds = env_num("BENCH_SECONDS", 10);
    let rounds = env_num("BENCH_ROUNDS", 5).max(1) as usize;
    let threads = env_num("BENCH_THREADS", 1) as usize;
    if std::env::var_os("BENCH_STREAMS").is_some() {
        eprintln!("BENCH_STREAMS is no longer read: BENCH_STREAMS_H1 and BENCH_STREAMS_H2 are");
    }
    let strait_bin = PathBuf::from(env!("CARGO_BIN_EXE_strait"));
    let base_bin = std::env::var_os("STRAIT_BASELINE_BIN").map(PathBuf::from);
    if let Some(b) = &base_bin {
        assert!(
            b.is_file(),
            "STRAIT_BASELINE_BIN={} is not a file",
            b.display()
        );
        eprintln!("strait-base: {}", b.display());
    }
    let dir = std::env::temp_dir().join(format!("strait-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench dir");

    let upstream = Proc::upstream();
    let mut rows = Vec::new();
    if want("1") || want("2") || want("3") || want("4") {
        let strait = Proc::strait(&strait_bin, upstream.port, &dir, threads, false);
        let base = base_bin
            .as_ref()
            .map(|b| Proc::strait(b, upstream.port, &dir, threads, false));
        let bare = Proc::bare(upstream.port, threads, false);
        let nginx = Proc::nginx(upstream.port, &dir, threads);
        let mut targets = vec![Target {
            name: "direct",
            port: upstream.port,
            path: PLAIN,
            proc: None,
        }];
        targets.extend(nginx.as_ref().map(|n| target("nginx", n, PLAIN)));
        targets.push(target("bare", &bare, CHAT));
        targets.push(target("strait", &strait, CHAT));
        targets.extend(base.as_ref().map(|b| target("strait-base", b, CHAT)));
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
            let slowest = bench.small_closed_loop(rounds, &mut rows);
            // Half of direct saturation is more than any proxy serves on
            // this machine, so every proxied request would queue: half of
            // the slowest path's saturation keeps all below capacity.
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
    if want("7") {
        budget::budgeted_key(
            &budget::Setup {
                strait: &strait_bin,
                upstream: upstream.port,
                dir: &dir,
                threads,
                seconds,
                rounds,
            },
            &mut rows,
        );
    }
    if want("8") {
        websocket::sessions(
            &websocket::Setup {
                strait: &strait_bin,
                base: base_bin.as_ref(),
                upstream: upstream.port,
                dir: &dir,
                threads,
                seconds,
                rounds,
            },
            &mut rows,
        );
    }
    if want("9") {
        tracing::traced(
            &tracing::Setup {
                strait: &strait_bin,
                upstream: upstream.port,
                dir: &dir,
                threads,
                seconds,
                rounds,
            },
            &mut rows,
        );
    }
    if want("5") {
        let setup = streams::Setup {
            upstream: upstream.port,
            dir: dir.clone(),
            threads,
            strait: strait_bin,
            base: base_bin.clone(),
            nofile,
            streams_h1: env_num("BENCH_STREAMS_H1", 9_000) as usize,
            streams_h2: env_num("BENCH_STREAMS_H2", 18_000) as usize,
        };
        streams::open_streams(&setup, &upstream, &mut rows);
    }
    let _ = std::fs::remove_dir_all(&dir);
    drop(upstream);

    report::print(&rows, base_bin.is_some());
    println!(
        "\n{seconds} s per run, {rounds} rounds of scenario 1; strait threads = bare Pingora threads = nginx workers = {threads}; \
         wrk -t1 -c32, oha -c32; open files {nofile} per process; {}",
        report::machine()
    );
}
