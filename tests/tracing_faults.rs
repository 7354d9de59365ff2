//! Traces when things go wrong: a failover's attempts, a gateway error,
//! and a collector that is down or hung, which must cost requests nothing
//! but dropped (and counted) spans.

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::faults::{self, Fault};
use support::otlp::{config, start, start_with, trace_of, Collector};
use support::*;

#[test]
fn a_failover_shows_one_client_span_per_attempt() {
    let mocks = Mocks::start();
    let collector = Collector::start();
    let failing = faults::start(Fault::Status(503));
    let config = config(&mocks, &collector.url(), "").replace(
        &format!("  azure:\n    keys:\n      - name: eastus\n        value: {AZURE_KEY}\n        azure_key_config: {{ endpoint: \"{}\" }}", mocks.azure.url()),
        &format!(
            "  azure:\n    retry_on_status: [503]\n    keys:\n      - name: bad\n        value: {AZURE_KEY}\n        weight: 1000\n        azure_key_config: {{ endpoint: \"http://{failing}\" }}\n      - name: good\n        value: {AZURE_KEY}\n        weight: 0.001\n        azure_key_config: {{ endpoint: \"{}\" }}",
            mocks.azure.url()
        ),
    );
    let gw = start_with(&config);
    let path = "/azure_passthrough/openai/deployments/d/chat/completions?api-version=2024-10-21";
    let r = post_json(
        &gw.url(path),
        &[("api-key", VK), ("x-request-id", "fo")],
        &json!({"model": "gpt-4o", "messages": []}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let (server, clients) = trace_of(&gw, &collector, "fo", 3);
    assert_eq!(server.attr("http.response.status_code"), 200);
    assert_eq!(clients.len(), 2, "{clients:#?}");
    let (first, second) = (&clients[0], &clients[1]);
    assert_eq!(first.attr("strait.provider_key"), "bad");
    assert_eq!(first.attr("http.response.status_code"), 503);
    assert_eq!(first.attr("error.type"), "http_503");
    assert_eq!(first.status, 2, "a failed attempt is an error");
    assert_eq!(second.attr("strait.provider_key"), "good");
    assert_eq!(second.attr("http.response.status_code"), 200);
    assert_eq!(second.status, 0);
    assert!(first.end_ns <= second.start_ns);
    assert_ne!(first.span_id, second.span_id);
    // The provider that answered names the second attempt.
    assert_eq!(
        mocks.azure.last().header("traceparent"),
        Some(format!("00-{}-{}-01", second.trace_id, second.span_id).as_str())
    );
}

#[test]
fn a_gateway_error_is_a_span_with_an_error_status() {
    let mocks = Mocks::start();
    let collector = Collector::start();
    let gw = start(&mocks, &collector, "");
    let r = post_json(
        &gw.url("/openai_passthrough/v1/chat/completions?key=secret-in-query"),
        &[
            ("authorization", "Bearer wrong"),
            ("x-request-id", "refused"),
        ],
        &json!({"model": "gpt-4o", "messages": []}),
    );
    assert_eq!(r.status, 401);
    let (server, clients) = trace_of(&gw, &collector, "refused", 1);
    assert!(clients.is_empty(), "nothing reached a provider");
    assert_eq!(server.status, 2);
    assert_eq!(server.attr("error.type"), "invalid_virtual_key");
    assert_eq!(server.attr("http.response.status_code"), 401);
    assert_eq!(
        server.attr("url.path"),
        "/openai_passthrough/v1/chat/completions"
    );
    // Refused before the body was read: the model is not known.
    assert_eq!(server.name, "chat");
    assert_eq!(server.attr("gen_ai.request.model"), &Value::Null);
    assert!(!format!("{server:?}").contains("secret-in-query"));
}

fn chat() -> Value {
    json!({"model": "gpt-4o", "messages": []})
}

/// `n` chat calls one after another, each of which must succeed; how long
/// they took.
fn run(gw: &Gateway, n: usize, tag: &str) -> Duration {
    let url = gw.url("/openai_passthrough/v1/chat/completions");
    let started = Instant::now();
    for i in 0..n {
        let id = format!("{tag}-{i}");
        let r = post_json(
            &url,
            &[
                ("authorization", "Bearer vk-test-team-a"),
                ("x-request-id", &id),
            ],
            &chat(),
        );
        assert_eq!(r.status, 200, "{id}: {}", r.text());
    }
    started.elapsed()
}

fn dropped(gw: &Gateway, reason: &str) -> f64 {
    sample(
        &gw.metrics(),
        "strait_trace_spans_dropped_total",
        &[("reason", reason)],
    )
}

/// Waits up to 15 s for the drop counter to reach `at_least`.
fn wait_dropped(gw: &Gateway, reason: &str, at_least: f64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let n = dropped(gw, reason);
        if n >= at_least || Instant::now() > deadline {
            return n;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[test]
fn a_collector_that_is_down_or_hung_costs_requests_nothing_but_dropped_spans() {
    let mocks = Mocks::start();
    let plain = Gateway::start(&mocks.config(""));
    run(&plain, 5, "warm");
    let baseline = run(&plain, 50, "plain");
    drop(plain);
    // Loose on purpose: a shared machine; a request waiting on the
    // collector would take its 5 s export timeout.
    let bound = baseline * 3 + Duration::from_secs(3);

    // Down: every export is refused at once.
    let dead = faults::refusing_addr();
    let gw = start_with(&config(&mocks, &format!("http://{dead}"), ""));
    let took = run(&gw, 50, "down");
    assert!(
        took < bound,
        "{took:?} with the collector down, {baseline:?} without tracing"
    );
    assert!(gw.log_line("down-49")["trace_id"].is_string());
    let failed = wait_dropped(&gw, "export_failed", 100.0);
    assert!(failed >= 100.0, "50 requests, 2 spans each: {failed}");
    // Named in the log, not once per batch.
    let warnings = gw.logs().matches("trace export failed").count();
    assert!((1..=2).contains(&warnings), "{warnings} warnings");
    assert_eq!(gw.readyz().0, 200);
    drop(gw);

    // Hung: it accepts and never answers, so the export thread sits in its
    // timeout and the small queue fills.
    let (hung, accepted) = faults::start_counting(Fault::StallHeaders);
    let mut gw = start_with(&config(
        &mocks,
        &format!("http://{hung}"),
        "  max_queue_size: 4\n",
    ));
    run(&gw, 5, "warm");
    // Once the collector has the warm-up batch's connection, the export
    // thread is stuck posting it, and only the queue takes more.
    let deadline = Instant::now() + Duration::from_secs(10);
    while accepted.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "no export reached the collector");
        std::thread::sleep(Duration::from_millis(20));
    }
    let rss_before = rss_kib(gw.pid());
    let took = run(&gw, 200, "hung");
    assert!(
        took < bound * 4,
        "{took:?} with the collector hung, {baseline:?} for 50 without tracing"
    );
    let full = wait_dropped(&gw, "queue_full", 1.0);
    assert!(
        full >= 300.0,
        "200 requests, 4 queued, one batch in export: {full}"
    );
    let grown = rss_kib(gw.pid()).saturating_sub(rss_before);
    assert!(grown < 32 * 1024, "RSS grew {grown} KiB over 200 requests");
    assert_eq!(gw.readyz().0, 200);
    // Stopping waits for the hung collector a few seconds at most.
    let stopping = Instant::now();
    gw.signal("TERM");
    let status = gw.wait_exit(Duration::from_secs(20)).expect("exits");
    assert!(status.success(), "{status:?}");
    assert!(
        stopping.elapsed() < Duration::from_secs(12),
        "{:?}",
        stopping.elapsed()
    );
}

#[test]
fn spans_queued_at_shutdown_are_flushed() {
    let mocks = Mocks::start();
    let collector = Collector::start();
    let mut gw = start(&mocks, &collector, "");
    run(&gw, 3, "last");
    let trace_id = gw.log_line("last-2")["trace_id"]
        .as_str()
        .unwrap()
        .to_string();
    // At once: the exporter would otherwise wait up to a second to batch.
    gw.signal("TERM");
    let status = gw.wait_exit(Duration::from_secs(20)).expect("exits");
    assert!(status.success(), "{status:?}");
    assert_eq!(
        collector.trace(&trace_id, 2).len(),
        2,
        "{:#?}",
        collector.spans()
    );
}
