//! `telemetry:` reloads like the rest of the config: an unchanged section
//! keeps its exporter thread, a changed one sends to the new collector and
//! the old thread ends, a removed one stops tracing.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use strait::facade::sha256_hex;
use support::otlp::{config, start_with, Collector};
use support::*;

/// The gateway's threads named `strait-traces`.
fn exporter_threads(gw: &Gateway) -> usize {
    let tasks = std::fs::read_dir(format!("/proc/{}/task", gw.pid())).unwrap();
    tasks
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm"))
                .is_ok_and(|c| c.trim() == "strait-traces")
        })
        .count()
}

/// Waits up to 10 s for `want` exporter threads.
fn wait_threads(gw: &Gateway, want: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while exporter_threads(gw) != want {
        assert!(
            Instant::now() < deadline,
            "{} exporter threads, want {want}",
            exporter_threads(gw)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn reload(gw: &Gateway, text: &str) {
    std::fs::write(&gw.config_path, text).unwrap();
    gw.signal("HUP");
    let sha = sha256_hex(text.as_bytes());
    let deadline = Instant::now() + Duration::from_secs(10);
    while gw.readyz().1["config"]["sha256"] != sha {
        assert!(Instant::now() < deadline, "no reload:\n{}", gw.logs());
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn call(gw: &Gateway, id: &str) -> serde_json::Value {
    let r = post_json(
        &gw.url("/openai_passthrough/v1/chat/completions"),
        &[
            ("authorization", "Bearer vk-test-team-a"),
            ("x-request-id", id),
        ],
        &json!({"model": "gpt-4o", "messages": []}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    gw.log_line(id)
}

#[test]
fn a_reload_keeps_moves_or_stops_the_exporter() {
    let mocks = Mocks::start();
    let (a, b) = (Collector::start(), Collector::start());
    let first = config(&mocks, &a.url(), "");
    let gw = start_with(&first);
    let t1 = call(&gw, "one")["trace_id"].as_str().unwrap().to_string();
    assert_eq!(a.trace(&t1, 2).len(), 2);
    wait_threads(&gw, 1);

    // Another virtual key, the same telemetry: the same exporter.
    let same = first.replace(
        "virtual_keys:\n",
        "virtual_keys:\n  - { name: team-b, value: vk-test-team-b }\n",
    );
    for _ in 0..3 {
        reload(&gw, &format!("{same}\n# touch {:?}\n", Instant::now()));
    }
    let t2 = call(&gw, "two")["trace_id"].as_str().unwrap().to_string();
    assert_eq!(a.trace(&t2, 2).len(), 2);
    assert_eq!(
        exporter_threads(&gw),
        1,
        "an unchanged section made no thread"
    );

    // Another collector: spans go there; the old thread ends.
    reload(&gw, &same.replace(&a.url(), &b.url()));
    let t3 = call(&gw, "three")["trace_id"].as_str().unwrap().to_string();
    assert_eq!(b.trace(&t3, 2).len(), 2);
    assert!(a.spans().iter().all(|s| s.trace_id != t3));
    wait_threads(&gw, 1);

    // No telemetry: no trace id, no thread.
    let off = mocks.config("");
    reload(&gw, &off);
    let line = call(&gw, "four");
    assert!(line.get("trace_id").is_none(), "{line}");
    assert!(mocks.openai.last().header("traceparent").is_none());
    wait_threads(&gw, 0);
}
