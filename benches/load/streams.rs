//! Scenario 5: what an open SSE stream costs in memory. Each proxy is a
//! fresh process; its RSS is read idle (after one finished stream, so that
//! what the first request allocates once is not counted per stream) and
//! again while N streams are held open; the growth divided by N is the
//! figure. Peak RSS would mix in the process's fixed size.
//!
//! Open files bound N: the hard limit here is 20,000 per process and cannot
//! be raised. A proxy with an HTTP/1.1 upstream needs two descriptors per
//! stream (client and upstream connection), so 9,000; with an h2c upstream,
//! one per stream plus one per 100 streams (strait's and bare Pingora's
//! `max_h2_streams`), so 18,000. The bench's own client holds the other
//! end of every stream in one process, under the same limit.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::procs::Proc;
use crate::report::{num, ratio, Row};
use crate::sse;

const CHAT: &str = "/openai_passthrough/v1/chat/completions";
const PLAIN: &str = "/v1/chat/completions";
/// Descriptors a process needs besides its streams: listeners, logs,
/// pipes, the runtime's own.
const SLACK: u64 = 200;
const TARGET_KIB: f64 = 16.0;
/// The stream counts the targets are set at.
const TARGET_H1: usize = 9_000;
const TARGET_H2: usize = 18_000;

pub struct Setup {
    pub upstream: u16,
    pub dir: PathBuf,
    pub threads: usize,
    pub strait: PathBuf,
    pub base: Option<PathBuf>,
    /// The soft limit on open files every process runs with.
    pub nofile: u64,
    pub streams_h1: usize,
    pub streams_h2: usize,
}

struct Measured {
    open: usize,
    failed: usize,
    idle: u64,
    loaded: u64,
}

impl Measured {
    fn kib_per_stream(&self) -> f64 {
        (self.loaded as f64 - self.idle as f64) / 1024.0 / self.open.max(1) as f64
    }
}

/// Waits (up to 30 s) until the stand-in has closed the connections of the
/// process before, so one run's leftovers neither count against the next
/// one's open files nor share its CPU.
fn settle(upstream: &Proc, baseline: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while upstream.open_files() > baseline + 64 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let left = upstream.open_files();
    if left > baseline + 64 {
        eprintln!("5. the stand-in still holds {left} open files (idle: {baseline})");
    }
}

fn measure(name: &str, p: &Proc, path: &str, n: usize, upstream: &Proc) -> Measured {
    let warm = sse::timings(p.port, path, 1, 1, 1, 0);
    if warm.errors > 0 {
        eprintln!("5. {name}: the warm-up stream failed");
    }
    std::thread::sleep(Duration::from_millis(500));
    let idle = p.rss();
    let held = sse::hold_open(p.port, path, n, Duration::from_secs(180), || {
        (p.rss(), p.open_files(), upstream.open_files())
    });
    let (loaded, files, upstream_files) = held.measured;
    let m = Measured {
        open: held.open,
        failed: held.failed,
        idle,
        loaded,
    };
    eprintln!(
        "5. {name}: {} of {n} streams open ({} failed), RSS {:.1} → {:.1} MiB, {:.1} KiB per stream; \
         {files} open files (limit {:?}), stand-in {} open files",
        m.open,
        m.failed,
        idle as f64 / 1048576.0,
        loaded as f64 / 1048576.0,
        m.kib_per_stream(),
        p.nofile(),
        upstream_files,
    );
    m
}

/// The most streams one process can carry: `per_stream` descriptors each,
/// SLACK besides.
fn fits(want: usize, nofile: u64, per_stream: f64, what: &str) -> usize {
    let max = ((nofile.saturating_sub(SLACK)) as f64 / per_stream) as usize;
    if want > max {
        eprintln!("5. {what}: {want} streams do not fit {nofile} open files; using {max}");
    }
    want.min(max)
}

pub fn open_streams(s: &Setup, upstream: &Proc, rows: &mut Vec<Row>) {
    let n1 = fits(s.streams_h1, s.nofile, 2.0, "HTTP/1.1 upstream");
    let n2 = fits(s.streams_h2, s.nofile, 1.01, "h2c upstream");
    let baseline = upstream.open_files();
    let strait = |bin: &PathBuf, h2c| {
        settle(upstream, baseline);
        Proc::strait(bin, s.upstream, &s.dir, s.threads, h2c)
    };
    let bare = |h2c| {
        settle(upstream, baseline);
        Proc::bare(s.upstream, s.threads, h2c)
    };
    let mut h1 = Vec::new();
    if let Some(p) = Proc::nginx(s.upstream, &s.dir, s.threads) {
        h1.push(("nginx", measure("nginx", &p, PLAIN, n1, upstream)));
    }
    let p = bare(false);
    h1.push(("bare", measure("bare Pingora (h1)", &p, CHAT, n1, upstream)));
    drop(p);
    let p = strait(&s.strait, false);
    h1.push(("strait", measure("strait (h1)", &p, CHAT, n1, upstream)));
    drop(p);
    if let Some(base) = &s.base {
        let p = strait(base, false);
        h1.push((
            "strait-base",
            measure("strait-base (h1)", &p, CHAT, n1, upstream),
        ));
    }
    eprintln!("5. nginx cannot speak HTTP/2 to an upstream: no nginx figure over h2c");
    let mut h2 = Vec::new();
    let p = bare(true);
    h2.push((
        "bare",
        measure("bare Pingora (h2c)", &p, CHAT, n2, upstream),
    ));
    drop(p);
    let p = strait(&s.strait, true);
    h2.push(("strait", measure("strait (h2c)", &p, CHAT, n2, upstream)));
    drop(p);
    if let Some(base) = &s.base {
        let p = strait(base, true);
        h2.push((
            "strait-base",
            measure("strait-base (h2c)", &p, CHAT, n2, upstream),
        ));
    }
    let scenario = "5. open SSE streams, HTTP/1.1 upstream";
    push_rows(rows, scenario, (n1, TARGET_H1), &h1, "");
    let note = "nginx cannot proxy to an h2c upstream";
    push_rows(
        rows,
        "5. open SSE streams, h2c upstream",
        (n2, TARGET_H2),
        &h2,
        note,
    );
}

/// The rows of one stream count `n`; the target is met or not only when
/// `n` reached the count the target is set at.
fn push_rows(
    rows: &mut Vec<Row>,
    scenario: &str,
    (n, target_n): (usize, usize),
    m: &[(&'static str, Measured)],
    note: &str,
) {
    let get = |name: &str| m.iter().find(|(p, _)| *p == name).map(|(_, m)| m);
    let kib = |name: &str| get(name).map(Measured::kib_per_stream);
    let compare = [
        ratio(kib("strait"), kib("bare"), "bare"),
        ratio(kib("strait"), kib("nginx"), "nginx"),
        ratio(kib("strait"), kib("strait-base"), "strait-base"),
        (!note.is_empty()).then(|| note.to_string()),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join("; ");
    let met = get("strait")
        .filter(|_| n >= target_n)
        .map(|m| m.open >= target_n && m.kib_per_stream() <= TARGET_KIB);
    rows.push(
        Row::new(
            scenario,
            format!("RSS growth from idle, KiB per stream, {n} streams"),
        )
        .values(kib)
        .compare(compare)
        .target(&format!("≤ {TARGET_KIB} KiB at {n}"), met),
    );
    let mut held = Row::new("", "streams held open (failed)");
    let mut mib = Row::new("", "RSS idle → with the streams, MiB");
    for (path, m) in m {
        let failed = if m.failed > 0 {
            format!(" ({} failed)", m.failed)
        } else {
            String::new()
        };
        held = held.cell(path, format!("{}{failed}", m.open));
        let (idle, loaded) = (m.idle as f64 / 1048576.0, m.loaded as f64 / 1048576.0);
        mib = mib.cell(path, format!("{} → {}", num(idle), num(loaded)));
    }
    rows.push(held);
    rows.push(mib);
}
