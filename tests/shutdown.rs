//! Stopping and upgrading without failing a request: SIGTERM drains, `-u`
//! with SIGQUIT and SIGUSR2 hand the listeners over, against the real binary.

mod support;

use std::net::TcpStream;
use std::os::unix::net::UnixDatagram;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::json;
use support::lifecycle::{fixed_config, main_pid, KillPid, Load};
use support::*;

const AUTH: (&str, &str) = ("authorization", "Bearer vk-test-team-a");

fn stream_body() -> String {
    json!({"model": "gpt-4o", "messages": [], "stream": true, "stream_options": {"include_usage": true}}).to_string()
}

/// A stream of `events` deltas `gap_ms` apart, run on its own thread.
fn open_stream(url: String, events: usize, gap_ms: u64) -> JoinHandle<Reply> {
    std::thread::spawn(move || {
        let (events, gap) = (events.to_string(), gap_ms.to_string());
        let headers = [
            AUTH,
            ("content-type", "application/json"),
            ("x-mock-events", events.as_str()),
            ("x-mock-gap-ms", gap.as_str()),
        ];
        request("POST", &url, &headers, stream_body())
    })
}

fn assert_intact(r: &Reply, events: usize) {
    let text = r.text();
    assert_eq!(r.status, 200, "{text}");
    assert!(!r.cut, "the stream was cut: {text}");
    for k in 0..events {
        assert!(
            text.contains(&strait_mock::delta_text(k)),
            "delta {k} missing: {text}"
        );
    }
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
}

#[test]
fn sigterm_lets_streams_finish_refuses_new_connections_and_exits() {
    let mocks = Mocks::start();
    let mut gw = Gateway::start(&mocks.config(""));
    let url = gw.url("/openai_passthrough/v1/chat/completions");
    let streams: Vec<_> = (0..3).map(|_| open_stream(url.clone(), 8, 200)).collect();
    std::thread::sleep(Duration::from_millis(400));
    let stopped_at = Instant::now();
    gw.signal("TERM");

    // While draining, a new connection is refused (or answered), never left hanging.
    std::thread::sleep(Duration::from_millis(200));
    match TcpStream::connect_timeout(&gw.addr, Duration::from_secs(1)) {
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}"),
        Ok(_) => {
            let r = get(&gw.url("/openai_passthrough/v1/models"), &[AUTH]);
            assert_eq!(r.status, 503, "a request during draining: {}", r.text());
        }
    }
    for s in streams {
        assert_intact(&s.join().unwrap(), 8);
    }
    let last_stream_done = stopped_at.elapsed();
    let status = gw
        .wait_exit(Duration::from_secs(5))
        .expect("exits once drained");
    assert!(status.success(), "{status}");
    let exit_after = stopped_at.elapsed();
    assert!(
        exit_after < last_stream_done + Duration::from_secs(1),
        "exited {exit_after:?} after SIGTERM; the last stream ended at {last_stream_done:?}"
    );
    assert!(gw.logs().contains("drained in"), "{}", gw.logs());
}

#[test]
fn an_idle_gateway_stops_at_once() {
    let mocks = Mocks::start();
    let mut gw = Gateway::start(&mocks.config(""));
    get(&gw.url("/openai_passthrough/v1/models"), &[AUTH]);
    let t = Instant::now();
    gw.signal("TERM");
    let status = gw.wait_exit(Duration::from_secs(5)).expect("exits");
    let took = t.elapsed();
    assert!(status.success());
    println!("idle SIGTERM to exit: {took:?}");
    assert!(took < Duration::from_secs(1), "idle shutdown took {took:?}");
    // Every request was logged before exit.
    assert_eq!(gw.access_log(1).len(), 1);
}

#[test]
fn drain_delay_keeps_serving_while_readyz_says_not_ready() {
    let mocks = Mocks::start();
    let config = mocks.config("").replace(
        "server: { threads: 2 }",
        "server: { threads: 2, drain_delay_seconds: 2 }",
    );
    let mut gw = Gateway::start(&config);
    let ready_deadline = Instant::now() + Duration::from_secs(5);
    while gw.readyz().0 != 200 {
        assert!(Instant::now() < ready_deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    gw.signal("TERM");
    std::thread::sleep(Duration::from_millis(200));
    let (status, body) = gw.readyz();
    assert_eq!(status, 503);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("draining"),
        "{body}"
    );
    let r = get(&gw.url("/openai_passthrough/v1/models"), &[AUTH]);
    assert_eq!(r.status, 200, "still serving during the drain delay");
    let status = gw
        .wait_exit(Duration::from_secs(5))
        .expect("exits after the delay");
    assert!(status.success());
}

#[test]
fn upgrade_with_dash_u_and_sigquit_fails_no_request() {
    let mocks = Mocks::start();
    let dir = TempDir::new();
    let (config, port) = fixed_config(&mocks, &dir);
    let mut old = Gateway::start(&config);
    let load = Load::start(&format!("http://127.0.0.1:{port}"), 4);
    std::thread::sleep(Duration::from_millis(300));

    // The new process waits for the sockets; the old one sends them on SIGQUIT.
    let new = std::thread::spawn(move || Gateway::start_with(&config, &["-u"], &[]));
    std::thread::sleep(Duration::from_millis(500));
    old.signal("QUIT");
    let new = new.join().unwrap();
    let status = old
        .wait_exit(Duration::from_secs(20))
        .expect("the old process exits");
    assert!(status.success(), "{status}");
    // Keep the load on the new process for a moment.
    std::thread::sleep(Duration::from_millis(500));
    let total = load.finish();
    println!("{total} requests across the upgrade, 0 failures");
    assert!(total > 20, "{total}");
    assert!(
        !new.access_log(1).is_empty(),
        "the new process served requests"
    );
}

#[test]
fn sigusr2_starts_the_new_binary_which_tells_systemd_it_is_the_main_process() {
    let mocks = Mocks::start();
    let dir = TempDir::new();
    let (config, port) = fixed_config(&mocks, &dir);
    let notify_path = dir.0.join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let mut old = Gateway::start_with(
        &config,
        &[],
        &[("NOTIFY_SOCKET", notify_path.to_str().unwrap())],
    );
    let recv = |want: &str| -> String {
        let mut buf = [0u8; 512];
        loop {
            let n = notify.recv(&mut buf).expect("a notification in time");
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            if msg.contains(want) {
                return msg;
            }
        }
    };
    assert_eq!(recv("READY=1"), format!("READY=1\nMAINPID={}", old.pid()));

    let load = Load::start(&format!("http://127.0.0.1:{port}"), 3);
    std::thread::sleep(Duration::from_millis(300));
    old.signal("USR2");
    let new_pid = main_pid(&recv("MAINPID="));
    assert_ne!(new_pid, old.pid());
    // The new process is not this test's child: make sure it goes.
    let _guard = KillPid(new_pid);
    let status = old
        .wait_exit(Duration::from_secs(20))
        .expect("the old process exits");
    assert!(status.success(), "{status}");
    std::thread::sleep(Duration::from_millis(300));
    let total = load.finish();
    println!("{total} requests across the SIGUSR2 upgrade, 0 failures");
    // The new process drains and exits on SIGTERM like any other.
    send_signal(new_pid, "TERM");
    recv("STOPPING=1");
}
