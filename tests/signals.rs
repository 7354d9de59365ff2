//! Every stop signal, at any time, idle and under load, against the real
//! binary: the process exits when asked, within a bound, with a small
//! stderr. (Issue #12: SIGINT sometimes never ended the process and wrote
//! "Accept() failed" in a tight loop.)

mod support;

use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use support::lifecycle::*;
use support::*;

/// SIGINT runs: this many threads, each starting and stopping this many
/// gateways one after the other.
const THREADS: usize = 4;
const RUNS_PER_THREAD: usize = 6;
const STDERR_LIMIT: usize = 64 * 1024;

#[test]
fn sigint_exits_within_5_s_every_time_idle_and_under_load() {
    let mocks = Mocks::start();
    let config = mocks.config("");
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let config = config.clone();
            std::thread::spawn(move || {
                (0..RUNS_PER_THREAD)
                    .map(|i| {
                        let run = t * RUNS_PER_THREAD + i;
                        let mut gw = Gateway::start(&config);
                        let load = (run % 2 == 1).then(|| Hammer::start(gw.addr, 3, 20, 20));
                        // From right after the listeners are up to well after ready.
                        std::thread::sleep(Duration::from_millis((run as u64 * 131) % 900));
                        let (status, took) =
                            signal_and_wait(&mut gw, "INT", Duration::from_secs(5));
                        drop(load);
                        assert!(status.success(), "run {run}: {status}");
                        let lines = gw.stderr.lock().unwrap().clone();
                        assert_quiet(&lines, STDERR_LIMIT);
                        (took, bytes(&lines))
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    // Every thread ends (and kills its gateway) before any failure is reported.
    let joined: Vec<_> = threads.into_iter().map(|t| t.join()).collect();
    let runs: Vec<(Duration, usize)> = joined
        .into_iter()
        .flat_map(|r| r.expect("every SIGINT run passes"))
        .collect();
    let slowest = runs.iter().map(|r| r.0).max().unwrap();
    let largest = runs.iter().map(|r| r.1).max().unwrap();
    println!(
        "{} SIGINT runs: slowest exit {slowest:?}, largest stderr {largest} bytes",
        runs.len()
    );
}

/// Streams that keep a drain going for 10 s.
fn long_streams(gw: &Gateway) -> Hammer {
    Hammer::start(gw.addr, 2, 100, 100)
}

#[test]
fn sigint_or_a_second_sigterm_during_a_drain_stops_within_seconds() {
    let mocks = Mocks::start();
    // (signals that start a drain and must not end it, the one that must,
    // drain_delay_seconds). SIGQUIT without a successor is a hand-over
    // drain: its first SIGTERM is absorbed.
    let cases: [(&[&str], &str, u64); 6] = [
        (&["TERM"], "INT", 0),
        (&["TERM"], "TERM", 0),
        (&["TERM"], "INT", 5),
        (&["TERM"], "TERM", 5),
        (&["QUIT"], "INT", 0),
        (&["QUIT", "TERM"], "TERM", 0),
    ];
    for (first, last, delay) in cases {
        let config = mocks.config("").replace(
            "server: { threads: 2 }",
            &format!("server: {{ threads: 2, drain_delay_seconds: {delay} }}"),
        );
        let mut gw = Gateway::start(&config);
        let streams = long_streams(&gw);
        std::thread::sleep(Duration::from_millis(500));
        for sig in first {
            gw.signal(sig);
            std::thread::sleep(Duration::from_millis(300));
            assert!(
                gw.wait_exit(Duration::ZERO).is_none(),
                "{first:?}: still draining while streams run"
            );
        }
        let (status, took) = signal_and_wait(&mut gw, last, Duration::from_secs(3));
        drop(streams);
        assert!(status.success(), "{first:?} then SIG{last}: {status}");
        assert_quiet(&gw.stderr.lock().unwrap(), STDERR_LIMIT);
        println!("{first:?}, drain_delay {delay} s, then SIG{last}: exit after {took:?}");
    }
}

/// A stream that outlives `grace_period_seconds`: Pingora stops the
/// runtimes under it, and the process still ends, quietly.
#[test]
fn sigterm_with_a_stream_longer_than_the_grace_period_ends_in_bounded_time() {
    let mocks = Mocks::start();
    let config = mocks.config("").replace(
        "server: { threads: 2 }",
        "server: { threads: 2, grace_period_seconds: 1, graceful_shutdown_timeout_seconds: 1 }",
    );
    let mut gw = Gateway::start(&config);
    let streams = long_streams(&gw);
    std::thread::sleep(Duration::from_millis(500));
    let (status, took) = signal_and_wait(&mut gw, "TERM", Duration::from_secs(5));
    drop(streams);
    assert!(status.success(), "{status}");
    assert!(
        took >= Duration::from_millis(900),
        "the streams had their grace period"
    );
    assert_quiet(&gw.stderr.lock().unwrap(), STDERR_LIMIT);
    println!("SIGTERM with streams longer than the grace period: exit after {took:?}");
}

/// How long after the start the early signals come: from before `main` to
/// the first DNS pass and token mint (a debug build on a busy machine
/// installs its handlers after 200 to 500 ms).
const DELAYS: [u64; 10] = [0, 3, 10, 30, 80, 200, 350, 500, 800, 1500];

/// Before the handlers are installed a stop signal ends the process by its
/// default action (a clean exit for systemd too); after, strait stops
/// itself. Either way, promptly.
#[test]
fn a_signal_in_the_first_milliseconds_of_start_up_never_hangs() {
    let mocks = Mocks::start();
    let plain = mocks.config("");
    // The first DNS pass: a name that does not resolve.
    let dns = plain.replace(&mocks.openai.url(), "http://strait-test-name.invalid:80");
    // The first token mint: a token endpoint that accepts and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let sa = strait_mock::test_service_account_json(&format!(
        "http://{}/token",
        silent.local_addr().unwrap()
    ));
    let mint = format!(
        "{plain}  vertex:\n    keys:\n      - name: gcp\n        vertex_key_config:\n          \
         project_id: p1\n          region: us-central1\n          auth_credentials: '{sa}'\n"
    );
    let dir = TempDir::new();
    let configs = [
        ("plain", dir.write("plain.yaml", &plain)),
        ("dns", dir.write("dns.yaml", &dns)),
        ("mint", dir.write("mint.yaml", &mint)),
    ];
    let threads: Vec<_> = configs
        .into_iter()
        .map(|(name, path)| {
            std::thread::spawn(move || {
                let (mut worst, mut handled) = (Duration::ZERO, 0);
                for (sig, signo) in [("INT", 2), ("TERM", 15)] {
                    for delay in DELAYS {
                        let mut p = Proc::spawn(&path);
                        std::thread::sleep(Duration::from_millis(delay));
                        let t = Instant::now();
                        p.signal(sig);
                        let status = p.wait(Duration::from_secs(5));
                        let took = t.elapsed();
                        let what = format!("{name}: SIG{sig} {delay} ms after the start");
                        let status = status.unwrap_or_else(|| panic!("{what}: still running"));
                        assert!(
                            status.success() || status.signal() == Some(signo),
                            "{what}: {status}"
                        );
                        std::thread::sleep(Duration::from_millis(50));
                        assert_quiet(&p.stderr.lock().unwrap(), STDERR_LIMIT);
                        worst = worst.max(took);
                        handled += usize::from(status.success());
                    }
                }
                println!(
                    "{name}: {} early signals ({handled} handled by strait, the rest by the \
                     default action), slowest exit {worst:?}",
                    2 * DELAYS.len()
                );
            })
        })
        .collect();
    let joined: Vec<_> = threads.into_iter().map(|t| t.join()).collect();
    for r in joined {
        r.expect("every early signal ends the process");
    }
    drop(silent);
}

/// SIGHUP and SIGUSR1 before the services run (during the first DNS pass,
/// here one that fails) wait for them instead of ending the process.
#[test]
fn a_sighup_or_sigusr1_right_after_start_up_is_not_fatal() {
    let mocks = Mocks::start();
    let config = mocks
        .config("")
        .replace(&mocks.openai.url(), "http://strait-test-name.invalid:80");
    let dir = TempDir::new();
    let path = dir.write("strait.yaml", &config);
    for (sig, after_ms) in [("HUP", 0), ("HUP", 20), ("USR1", 0), ("HUP", 100)] {
        let mut p = Proc::spawn(&path);
        // Logged once strait handles its signals, before the first DNS
        // pass and the start of the services.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !p
            .stderr
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("Bootstrap done"))
        {
            assert!(Instant::now() < deadline, "strait did not start");
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(after_ms));
        p.signal(sig);
        let early = p.wait(Duration::from_secs(1));
        assert!(early.is_none(), "SIG{sig} ended the process: {early:?}");
        p.signal("TERM");
        let status = p.wait(Duration::from_secs(5));
        assert!(
            status.is_some_and(|s| s.success()),
            "SIGTERM after SIG{sig}: {status:?}"
        );
        assert_quiet(&p.stderr.lock().unwrap(), STDERR_LIMIT);
    }
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_reload_storm_under_load_fails_no_request_and_counts_every_sighup() {
    let mocks = Mocks::start();
    let base = mocks.config("");
    let tokens = slow_token_server(Duration::from_millis(250));
    // Each generation has one more virtual key, and a Vertex credential of
    // its own whose first token takes 250 ms: SIGHUPs come faster than
    // reloads finish. Clients use the first virtual key and OpenAI.
    let generation = |n: usize| {
        let sa = strait_mock::test_service_account_json(&format!("http://{tokens}/token/{n}"));
        let vertex = format!(
            "  vertex:\n    keys:\n      - name: gcp\n        vertex_key_config:\n          \
             project_id: p1\n          region: us-central1\n          auth_credentials: '{sa}'\n"
        );
        base.replace(
            "virtual_keys:\n",
            &format!("virtual_keys:\n  - {{ name: gen-{n}, value: vk-gen-{n} }}\n"),
        ) + &vertex
    };
    let mut gw = Gateway::start(&generation(0));
    let load = Load::start(&format!("http://{}", gw.addr), 4);
    let streams = Hammer::start(gw.addr, 2, 30, 50);
    let tmp = gw.config_path.with_extension("tmp");
    let mut last = String::new();
    for n in 1..=30 {
        last = generation(n);
        std::fs::write(&tmp, &last).unwrap();
        std::fs::rename(&tmp, &gw.config_path).unwrap();
        gw.signal("HUP");
        std::thread::sleep(Duration::from_millis(100));
    }
    let want = strait::facade::sha256_hex(last.as_bytes());
    let deadline = Instant::now() + Duration::from_secs(10);
    let (config, m) = loop {
        let (status, body) = gw.readyz();
        let m = gw.metrics();
        let c = &body["config"];
        let received = c["reload_signals"].as_u64().unwrap();
        let ran = metric(&m, "strait_config_reloads_total{result=\"success\"}")
            + metric(&m, "strait_config_reloads_total{result=\"error\"}");
        if status == 200
            && c["sha256"] == want.as_str()
            && ran + c["reload_signals_coalesced"].as_u64().unwrap() == received
        {
            break (c.clone(), m);
        }
        assert!(Instant::now() < deadline, "{status} {body}\n{m}");
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(streams);
    let total = load.finish();
    // tokio (and the kernel, while one is pending) merge SIGHUPs that come
    // before the process wakes up: the rest are counted.
    let received = config["reload_signals"].as_u64().unwrap();
    assert!((1..=30).contains(&received), "{config}");
    assert_eq!(
        metric(&m, "strait_config_reloads_total{result=\"error\"}"),
        0
    );
    assert!(config["last_error"].is_null(), "{config}");
    println!(
        "30 SIGHUPs: {received} received, {} coalesced, {} reloads; {total} requests, 0 failures",
        config["reload_signals_coalesced"], config["reloads"]
    );
    assert_quiet(&gw.stderr.lock().unwrap(), STDERR_LIMIT);
    let (status, _) = signal_and_wait(&mut gw, "TERM", Duration::from_secs(5));
    assert!(status.success(), "{status}");
}
