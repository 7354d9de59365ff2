//! Scenario 9: what tracing costs (issue 16). Scenario 1's load against two
//! strait processes, round by round: without `telemetry`, and with it at
//! `sample_ratio: 1.0` exporting to a live OTLP/HTTP receiver started here
//! (it walks each export's fields and counts the spans, so they are known
//! to arrive). CPU is strait's own, from /proc.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};

use crate::procs::Proc;
use crate::report::{median, num, spread, Row};
use crate::tools;

const CHAT: &str = "/openai_passthrough/v1/chat/completions";
/// The open-loop rate: well under what one strait thread serves here.
const FIXED_RATE: u64 = 4000;

/// An OTLP/HTTP receiver on 127.0.0.1 counting the spans it is sent; it
/// runs until the bench process ends.
fn receiver() -> (u16, Arc<AtomicU64>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("addr").port();
    let spans = Arc::new(AtomicU64::new(0));
    let counter = spans.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let counter = counter.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let counter = counter.clone();
                            async move {
                                let body = req.into_body().collect().await?.to_bytes();
                                if let Some(n) = count_spans(&body) {
                                    counter.fetch_add(n, Ordering::Relaxed);
                                }
                                Ok::<_, hyper::Error>(hyper::Response::new(Full::new(Bytes::new())))
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
    });
    (port, spans)
}

/// The spans in an `ExportTraceServiceRequest`, read by walking its
/// fields without decoding the spans: a full decode (thousands of small
/// allocations a second) would take CPU from strait on a small machine and
/// show as tracing's cost. The test suite decodes every span it receives.
fn count_spans(buf: &[u8]) -> Option<u64> {
    // request.resource_spans = 1, ResourceSpans.scope_spans = 2, ScopeSpans.spans = 2
    let mut n = 0;
    for rs in fields(buf, 1)? {
        for ss in fields(rs, 2)? {
            n += fields(ss, 2)?.len() as u64;
        }
    }
    Some(n)
}

/// The length-delimited fields numbered `want` of one message.
fn fields(mut buf: &[u8], want: u64) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let key = prost::encoding::decode_varint(&mut buf).ok()?;
        let len = match key & 7 {
            0 => {
                prost::encoding::decode_varint(&mut buf).ok()?;
                0
            }
            1 => 8,
            2 => prost::encoding::decode_varint(&mut buf).ok()? as usize,
            5 => 4,
            _ => return None,
        };
        let (value, rest) = (buf.get(..len)?, buf.get(len..)?);
        if key & 7 == 2 && key >> 3 == want {
            out.push(value);
        }
        buf = rest;
    }
    Some(out)
}

pub struct Setup<'a> {
    pub strait: &'a Path,
    pub upstream: u16,
    pub dir: &'a Path,
    pub threads: usize,
    pub seconds: u64,
    pub rounds: usize,
}

pub fn traced(s: &Setup, rows: &mut Vec<Row>) {
    let (port, spans) = receiver();
    let telemetry =
        format!("telemetry: {{ otlp_endpoint: \"http://127.0.0.1:{port}\", sample_ratio: 1.0 }}\n");
    let off = Proc::strait(s.strait, s.upstream, s.dir, s.threads, false);
    let on = Proc::strait_with(
        s.strait, s.upstream, s.dir, s.threads, false, "", &telemetry,
    );
    let paths = [("off", &off), ("on", &on)];
    let small = tools::write_body(s.dir, 1024);
    for (_, p) in &paths {
        tools::wrk(&url(p), &small, 32, 2, s.dir);
    }
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); 2];
    let mut p99: Vec<Vec<f64>> = vec![Vec::new(); 2];
    let mut fixed_cpu: Vec<Vec<f64>> = vec![Vec::new(); 2];
    let mut fixed_p99: Vec<Vec<f64>> = vec![Vec::new(); 2];
    let mut traced_requests = 0u64;
    let spans_before = spans.load(Ordering::Relaxed);
    for round in 0..s.rounds {
        for k in 0..2 {
            let i = (k + round) % 2;
            let (name, p) = paths[i];
            let c0 = p.cpu_seconds();
            let run = tools::wrk(&url(p), &small, 32, s.seconds, s.dir);
            let us = (p.cpu_seconds() - c0) * 1e6 / run.requests.max(1) as f64;
            eprintln!(
                "9. round {}/{} tracing {name}: {:.0} req/s, p99 {:.0} µs, CPU {} µs/request, errors {}",
                round + 1,
                s.rounds,
                run.rps(),
                run.p99,
                num(us),
                run.errors
            );
            if i == 1 {
                traced_requests += run.requests;
            }
            cpu[i].push(us);
            p99[i].push(run.p99);
            // At one rate both serve easily, CPU per request compares
            // like with like: at saturation it also moves with how many
            // requests each wake-up finds, which differs between runs.
            let c0 = p.cpu_seconds();
            let run = tools::oha_fixed_rate(&url(p), &small, FIXED_RATE, s.seconds);
            let us = (p.cpu_seconds() - c0) * 1e6 / run.requests.max(1) as f64;
            eprintln!(
                "9. round {}/{} tracing {name} at {FIXED_RATE}/s: p99 {:.0} µs, CPU {} µs/request, errors {}",
                round + 1,
                s.rounds,
                run.p99,
                num(us),
                run.errors
            );
            if i == 1 {
                traced_requests += run.requests;
            }
            fixed_cpu[i].push(us);
            fixed_p99[i].push(run.p99);
        }
    }
    // The last batch is posted within a second.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let received = spans.load(Ordering::Relaxed) - spans_before;
    let scenario = format!(
        "9. 1 KiB chat, tracing at sample_ratio 1.0 (median of {} rounds)",
        s.rounds
    );
    let (off_cpu, off_p99) = (median(&cpu[0]), median(&p99[0]));
    let (on_cpu, on_p99) = (median(&cpu[1]), median(&p99[1]));
    rows.push(
        Row::new(
            &scenario,
            "tracing off: CPU µs per request; p99 µs (32 conns)",
        )
        .cell("strait", format!("{}; {}", num(off_cpu), num(off_p99)))
        .compare(format!("CPU min–max {}", spread(&cpu[0]))),
    );
    rows.push(
        Row::new(
            "",
            "tracing on, live receiver: CPU µs per request; p99 µs (32 conns)",
        )
        .cell("strait", format!("{}; {}", num(on_cpu), num(on_p99)))
        .compare(format!(
            "CPU {:.2}× off (min–max {}); {received} spans received for {traced_requests} requests",
            on_cpu / off_cpu,
            spread(&cpu[1])
        )),
    );
    let (off_cpu, off_p99) = (median(&fixed_cpu[0]), median(&fixed_p99[0]));
    let (on_cpu, on_p99) = (median(&fixed_cpu[1]), median(&fixed_p99[1]));
    rows.push(
        Row::new(
            "",
            format!("tracing off, {FIXED_RATE} req/s: CPU µs per request; p99 µs"),
        )
        .cell("strait", format!("{}; {}", num(off_cpu), num(off_p99)))
        .compare(format!("CPU min–max {}", spread(&fixed_cpu[0]))),
    );
    rows.push(
        Row::new(
            "",
            format!("tracing on, {FIXED_RATE} req/s: CPU µs per request; p99 µs"),
        )
        .cell("strait", format!("{}; {}", num(on_cpu), num(on_p99)))
        .compare(format!(
            "CPU {:.2}× off (min–max {})",
            on_cpu / off_cpu,
            spread(&fixed_cpu[1])
        ))
        .target("CPU ≤ 1.10× off", Some(on_cpu <= 1.10 * off_cpu)),
    );
}

fn url(p: &Proc) -> String {
    format!("http://127.0.0.1:{}{CHAT}", p.port)
}
