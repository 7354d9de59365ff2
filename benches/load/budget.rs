//! Scenario 7: what spend control costs. Scenario 1's load against three
//! strait processes, round by round: the virtual key without limits, with a
//! budget and per-minute limits counted in memory, and the same counted in a
//! real `redis-server` started here (loopback, nothing saved). The limits
//! are far above what the run reaches: every request is checked and
//! charged, none refused.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::procs::{free_port, wait_listening, Proc};
use crate::report::{median, num, spread, Row};
use crate::tools;

const LIMITS: &str = ", requests_per_minute: 1000000000, tokens_per_minute: 1000000000000, \
                      budget: { usd: 1000000000, tokens: 1000000000000000, period: month }";
const CHAT: &str = "/openai_passthrough/v1/chat/completions";

struct Redis(Child);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn redis() -> Option<(Redis, u16)> {
    let port = free_port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .spawn();
    match child {
        Ok(c) => {
            let r = Redis(c);
            wait_listening(port, "redis-server");
            Some((r, port))
        }
        Err(e) => {
            eprintln!("7. redis-server does not start ({e}): no redis figures");
            None
        }
    }
}

pub struct Setup<'a> {
    pub strait: &'a Path,
    pub upstream: u16,
    pub dir: &'a Path,
    pub threads: usize,
    pub seconds: u64,
    pub rounds: usize,
}

pub fn budgeted_key(s: &Setup, rows: &mut Vec<Row>) {
    let redis = redis();
    let plain = Proc::strait(s.strait, s.upstream, s.dir, s.threads, false);
    let memory = Proc::strait_with(s.strait, s.upstream, s.dir, s.threads, false, LIMITS, "");
    let shared = redis.as_ref().map(|(_, port)| {
        let state = format!("state: {{ backend: redis, url: \"redis://127.0.0.1:{port}/0\" }}\n");
        Proc::strait_with(
            s.strait, s.upstream, s.dir, s.threads, false, LIMITS, &state,
        )
    });
    let mut paths = vec![("no limits", &plain), ("memory", &memory)];
    paths.extend(shared.as_ref().map(|p| ("redis", p)));
    let small = tools::write_body(s.dir, 1024);
    for (_, p) in &paths {
        tools::wrk(&url(p), &small, 32, 2, s.dir);
    }
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); paths.len()];
    let mut p50: Vec<Vec<f64>> = vec![Vec::new(); paths.len()];
    // Latency one request at a time: what a call waits for, without the
    // queueing of a saturated closed loop (where p50 is only 32 / rate).
    let mut alone: Vec<Vec<f64>> = vec![Vec::new(); paths.len()];
    for round in 0..s.rounds {
        for k in 0..paths.len() {
            let i = (k + round) % paths.len();
            let (name, p) = paths[i];
            let c0 = p.cpu_seconds();
            let run = tools::wrk(&url(p), &small, 32, s.seconds, s.dir);
            let us = (p.cpu_seconds() - c0) * 1e6 / run.requests.max(1) as f64;
            eprintln!(
                "7. round {}/{} {name}: {:.0} req/s, p50 {:.0} µs, CPU {} µs/request, errors {}",
                round + 1,
                s.rounds,
                run.rps(),
                run.p50,
                num(us),
                run.errors
            );
            cpu[i].push(us);
            p50[i].push(run.p50);
            let one = tools::wrk(&url(p), &small, 1, s.seconds.div_ceil(2), s.dir);
            alone[i].push(one.p50);
        }
    }
    let scenario = format!(
        "7. 1 KiB chat with a budgeted key (median of {} rounds)",
        s.rounds
    );
    let (base_cpu, base_p50, base_alone) = (median(&cpu[0]), median(&p50[0]), median(&alone[0]));
    rows.push(
        Row::new(
            &scenario,
            "no limits: CPU µs per request; p50 µs (32 conns; 1 conn)",
        )
        .cell(
            "strait",
            format!("{}; {}; {}", num(base_cpu), num(base_p50), num(base_alone)),
        )
        .compare(format!("CPU min–max {}", spread(&cpu[0]))),
    );
    let (mem_cpu, mem_p50, mem_alone) = (median(&cpu[1]), median(&p50[1]), median(&alone[1]));
    rows.push(
        Row::new(
            "",
            "memory store: CPU µs per request; p50 µs (32 conns; 1 conn)",
        )
        .cell(
            "strait",
            format!("{}; {}; {}", num(mem_cpu), num(mem_p50), num(mem_alone)),
        )
        .compare(format!(
            "CPU {:.2}× no limits (min–max {})",
            mem_cpu / base_cpu,
            spread(&cpu[1])
        ))
        .target("CPU ≤ 1.05× no limits", Some(mem_cpu <= 1.05 * base_cpu)),
    );
    if paths.len() > 2 {
        let (r_cpu, r_p50, r_alone) = (median(&cpu[2]), median(&p50[2]), median(&alone[2]));
        let added_ms = (r_alone - base_alone) / 1000.0;
        rows.push(
            Row::new(
                "",
                "redis store: CPU µs per request (strait only); p50 µs (32 conns; 1 conn)",
            )
            .cell(
                "strait",
                format!("{}; {}; {}", num(r_cpu), num(r_p50), num(r_alone)),
            )
            .compare(format!(
                "p50 at 1 conn {added_ms:+.3} ms vs no limits (at 32 conns {:+.3} ms); CPU {:.2}×",
                (r_p50 - base_p50) / 1000.0,
                r_cpu / base_cpu
            ))
            .target("added p50 ≤ 0.3 ms", Some(added_ms <= 0.3)),
        );
    }
}

fn url(p: &Proc) -> String {
    format!("http://127.0.0.1:{}{CHAT}", p.port)
}
