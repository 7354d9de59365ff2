//! The established load generators: wrk (closed loop, saturating) and oha
//! (open loop at a fixed rate, with latency correction), installed when
//! missing, run as separate processes, their figures parsed.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::procs::which;

/// What one load run measured; latencies in microseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Run {
    pub requests: u64,
    pub errors: u64,
    pub seconds: f64,
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
}

impl Run {
    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
}

/// Installs wrk and nginx (Debian packages) and, when scenario 2 runs, oha
/// (crates.io) when they are missing and this process may; says what is
/// still missing.
pub fn ensure_tools(need_oha: bool) {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"));
    let mut packages = Vec::new();
    if which("wrk").is_none() {
        packages.push("wrk");
    }
    if which("nginx").is_none() {
        packages.push("nginx-light");
    }
    if !packages.is_empty() && root {
        eprintln!("installing {packages:?} with apt-get");
        let _ = Command::new("apt-get").arg("update").arg("-qq").status();
        let _ = Command::new("apt-get")
            .args(["install", "-y", "-qq"])
            .args(&packages)
            .status();
    }
    if need_oha && oha().is_none() {
        eprintln!("installing oha with cargo install (once, a few minutes)");
        let _ = Command::new("cargo")
            .args(["install", "oha", "--locked", "--quiet"])
            .status();
    }
    assert!(which("wrk").is_some(), "wrk is needed: apt-get install wrk");
    assert!(
        !need_oha || oha().is_some(),
        "oha is needed: cargo install oha --locked"
    );
    if which("nginx").is_none() {
        eprintln!("nginx is not installed: its column stays empty (apt-get install nginx-light)");
    }
}

fn oha() -> Option<PathBuf> {
    which("oha").or_else(|| {
        let home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
        Some(home.join("bin/oha")).filter(|p| p.is_file())
    })
}

/// A chat request body of about `size` bytes, `model` after the messages
/// as the SDKs send it.
pub fn chat_body(size: usize) -> String {
    let head = r#"{"messages":[{"role":"user","content":""#;
    let tail = r#""}],"model":"gpt-4o-mini","max_tokens":64}"#;
    let pad = size.saturating_sub(head.len() + tail.len()).max(1);
    format!("{head}{}{tail}", "x".repeat(pad))
}

pub const AUTH: &str = "Bearer vk-bench";

/// `wrk -t1 -cC -dD` posting `body` to `url`; a Lua `done` hook prints the
/// percentiles wrk's own report leaves out (99.9).
pub fn wrk(url: &str, body_file: &Path, connections: usize, seconds: u64, dir: &Path) -> Run {
    let script = dir.join("post.lua");
    let lua = format!(
        r#"local f = io.open("{}", "rb")
wrk.body = f:read("*all")
f:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "{AUTH}"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %d %d %d %d %d %d\n", summary.requests, summary.duration,
    e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
"#,
        body_file.display()
    );
    std::fs::write(&script, lua).expect("lua script written");
    let out = Command::new(which("wrk").expect("wrk"))
        .args([
            "-t1",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--timeout",
            "10s",
            "-s",
        ])
        .arg(&script)
        .arg(url)
        .output()
        .expect("wrk runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("BENCH "))
        .unwrap_or_else(|| {
            panic!(
                "wrk printed no result:\n{text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let n: Vec<f64> = line
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    Run {
        requests: n[0] as u64,
        seconds: n[1] / 1e6,
        errors: n[2] as u64,
        p50: n[3],
        p99: n[4],
        p999: n[5],
    }
}

/// oha at a fixed `rate` for `seconds`, latencies corrected for
/// coordinated omission.
pub fn oha_fixed_rate(url: &str, body_file: &Path, rate: u64, seconds: u64) -> Run {
    let out = Command::new(oha().expect("oha"))
        .args([
            "--no-tui",
            "--output-format",
            "json",
            "--latency-correction",
        ])
        .args([
            "-c",
            "32",
            "-q",
            &rate.to_string(),
            "-z",
            &format!("{seconds}s"),
        ])
        .args([
            "-m",
            "POST",
            "-T",
            "application/json",
            "-H",
            &format!("Authorization: {AUTH}"),
        ])
        .arg("-D")
        .arg(body_file)
        .arg(url)
        .output()
        .expect("oha runs");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "oha output is not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let summary = &v["summary"];
    let pct = |k: &str| v["latencyPercentiles"][k].as_f64().unwrap_or(f64::NAN) * 1e6;
    let ok = summary["successRate"].as_f64().unwrap_or(0.0);
    let total = v["statusCodeDistribution"]
        .as_object()
        .map_or(0, |m| m.values().filter_map(|x| x.as_u64()).sum::<u64>());
    let seconds_run = summary["total"].as_f64().unwrap_or(seconds as f64);
    Run {
        requests: total,
        errors: v["statusCodeDistribution"].as_object().map_or(0, |m| {
            m.iter()
                .filter(|(k, _)| *k != "200")
                .filter_map(|(_, x)| x.as_u64())
                .sum::<u64>()
        }) + if ok < 1.0 { 1 } else { 0 },
        seconds: seconds_run,
        p50: pct("p50"),
        p99: pct("p99"),
        p999: pct("p99.9"),
    }
}

pub fn write_body(dir: &Path, size: usize) -> PathBuf {
    let path = dir.join(format!("body-{size}.json"));
    std::fs::write(&path, chat_body(size)).expect("body written");
    path
}
