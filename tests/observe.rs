//! Accounting end to end: the access-log line, the `x-request-id` the client
//! gets back, `/metrics`, `/readyz` and the SIGUSR1 log reopen, against the
//! real binary and the mock providers.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use strait_mock::{ANTHROPIC_USAGE, GEMINI_USAGE, OPENAI_USAGE};
use support::*;

const AUTH: (&str, &str) = ("authorization", "Bearer vk-test-team-a");

fn tokens(line: &serde_json::Value) -> [u64; 5] {
    [
        "input_tokens",
        "output_tokens",
        "cached_tokens",
        "cache_creation_tokens",
        "reasoning_tokens",
    ]
    .map(|f| line[f].as_u64().unwrap_or_else(|| panic!("{f} in {line}")))
}

type Case = (
    &'static str,
    &'static str,
    serde_json::Value,
    bool,
    &'static str,
    [u64; 5],
);

#[test]
fn each_provider_json_and_stream_is_logged_with_its_tokens() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&mocks.config(""));
    let o = OPENAI_USAGE;
    let a = ANTHROPIC_USAGE;
    let g = GEMINI_USAGE;
    let openai_chat = [o.input, o.output, o.cached, 0, o.reasoning];
    let anthropic = [
        a.input + a.cached + a.cache_creation,
        a.output,
        a.cached,
        a.cache_creation,
        0,
    ];
    let gemini = [g.input, g.output + g.reasoning, g.cached, 0, g.reasoning];
    // (request id, path, body, streamed, model, tokens)
    let cases: [Case; 7] = [
        (
            "openai-json",
            "/openai_passthrough/v1/chat/completions",
            json!({"model": "gpt-4o", "messages": []}),
            false,
            "gpt-4o",
            openai_chat,
        ),
        (
            "openai-sse",
            "/openai_passthrough/v1/chat/completions",
            json!({"model": "gpt-4o", "messages": [], "stream": true, "stream_options": {"include_usage": true}}),
            true,
            "gpt-4o",
            openai_chat,
        ),
        (
            "responses-sse",
            "/openai_passthrough/v1/responses",
            json!({"model": "gpt-4o", "input": "hi", "stream": true}),
            true,
            "gpt-4o",
            openai_chat,
        ),
        (
            "anthropic-json",
            "/anthropic_passthrough/v1/messages",
            json!({"model": "claude-x", "max_tokens": 5, "messages": []}),
            false,
            "claude-x",
            anthropic,
        ),
        (
            "anthropic-sse",
            "/anthropic_passthrough/v1/messages",
            json!({"model": "claude-x", "max_tokens": 5, "messages": [], "stream": true}),
            true,
            "claude-x",
            anthropic,
        ),
        (
            "gemini-sse",
            "/genai_passthrough/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
            json!({"contents": []}),
            true,
            "gemini-2.5-flash",
            gemini,
        ),
        // Without alt=sse Gemini streams one JSON array.
        (
            "gemini-array",
            "/genai_passthrough/v1beta/models/gemini-2.5-flash:streamGenerateContent",
            json!({"contents": []}),
            false,
            "gemini-2.5-flash",
            gemini,
        ),
    ];
    for (id, path, body, streamed, model, want) in cases {
        let reply = post_json(&gw.url(path), &[AUTH, ("x-request-id", id)], &body);
        assert_eq!(reply.status, 200, "{id}: {}", reply.text());
        assert_eq!(reply.header("x-request-id"), Some(id));
        let line = gw.log_line(id);
        assert_eq!(line["usage"], "reported", "{id}: {line}");
        assert_eq!(tokens(&line), want, "{id}: {line}");
        assert_eq!(line["streamed"], streamed, "{id}");
        assert_eq!(line["model"], model, "{id}");
        assert_eq!(line["status"], 200);
        assert_eq!(line["upstream_status"], 200);
        assert!(line["error"].is_null(), "{id}: {line}");
        assert_eq!(
            line["bytes_out"].as_u64(),
            Some(reply.body.len() as u64),
            "{id}"
        );
    }
    let m = gw.metrics();
    let openai_in = sample(
        &m,
        "strait_tokens_total",
        &[
            ("provider", "openai"),
            ("model", "gpt-4o"),
            ("kind", "input"),
        ],
    );
    assert_eq!(openai_in, 3.0 * o.input as f64, "{m}");
    let gemini_out = sample(
        &m,
        "strait_tokens_total",
        &[("provider", "gemini"), ("kind", "output")],
    );
    assert_eq!(gemini_out, 2.0 * (g.output + g.reasoning) as f64);
    let anthropic_created = sample(
        &m,
        "strait_tokens_total",
        &[("provider", "anthropic"), ("kind", "cache_creation")],
    );
    assert_eq!(anthropic_created, 2.0 * a.cache_creation as f64);
    assert_eq!(
        sample(
            &m,
            "strait_requests_total",
            &[
                ("route", "openai_passthrough"),
                ("provider", "openai"),
                ("status_class", "2xx")
            ]
        ),
        3.0
    );
    assert_eq!(
        sample(
            &m,
            "strait_request_duration_seconds_count",
            &[("provider", "anthropic")]
        ),
        2.0
    );
    assert_eq!(
        sample(
            &m,
            "strait_time_to_first_byte_seconds_count",
            &[("provider", "gemini")]
        ),
        2.0
    );
    assert_eq!(
        sample(
            &m,
            "strait_gateway_overhead_seconds_count",
            &[("provider", "openai")]
        ),
        3.0
    );
    assert_eq!(sample(&m, "strait_inflight_requests", &[]), 0.0);
}

#[test]
fn the_log_line_names_who_what_and_how_long_and_nothing_secret() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&mocks.config(""));
    let body =
        json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "a secret prompt"}]});
    let first = post_json(
        &gw.url("/openai_passthrough/v1/chat/completions?api-key=leak"),
        &[AUTH],
        &body,
    );
    // Pingora pools the upstream connection after the client has the whole
    // answer, just before the log line: only once the line is there is the
    // second request sure to find the connection in the pool.
    gw.log_line(first.header("x-request-id").unwrap());
    let second = post_json(
        &gw.url("/openai_passthrough/v1/chat/completions"),
        &[AUTH],
        &body,
    );
    // Without a client id one is made up; the mock's own id is kept beside it.
    let id = first.header("x-request-id").unwrap().to_string();
    assert!(
        id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );
    let theirs = first.header("x-upstream-request-id").unwrap();
    assert!(theirs.starts_with("req_mock"), "{theirs}");
    assert_eq!(first.headers.get_all("x-request-id").iter().count(), 1);

    let line = gw.log_line(&id);
    assert_eq!(line["virtual_key"], "team-a");
    assert_eq!(line["route"], "openai_passthrough");
    assert_eq!(line["provider"], "openai");
    assert_eq!(line["key"], "main");
    assert_eq!(line["method"], "POST");
    assert_eq!(line["path"], "/openai_passthrough/v1/chat/completions");
    assert_eq!(line["upstream_request_id"], theirs);
    assert_eq!(
        line["bytes_in"].as_u64(),
        Some(body.to_string().len() as u64)
    );
    let latency = line["latency_ms"].as_f64().unwrap();
    let ttfb = line["ttfb_ms"].as_f64().unwrap();
    assert!(ttfb > 0.0 && ttfb <= latency, "{line}");
    assert!(
        line["upstream_connect_ms"].as_f64().unwrap() > 0.0,
        "{line}"
    );
    assert_eq!(line["upstream_reused"], false);
    let again = gw.log_line(second.header("x-request-id").unwrap());
    assert_eq!(
        again["upstream_reused"], true,
        "the connection is pooled: {again}"
    );
    assert_eq!(again["upstream_connect_ms"], 0.0);

    let logs = gw.logs();
    assert!(
        !logs.contains("leak") && !logs.contains("a secret prompt"),
        "{logs}"
    );
    assert!(
        !logs.contains(strait_mock::REPLY_TEXT),
        "completion logged: {logs}"
    );
}

#[test]
fn failed_calls_keep_the_requested_model_and_count_as_upstream_errors() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&mocks.config(""));
    // The body is larger than one read, and `model` comes after the messages.
    let long = "x".repeat(200_000);
    let body = json!({"messages": [{"role": "user", "content": long}], "model": "gpt-4o-limited"});
    let reply = post_json(
        &gw.url("/openai_passthrough/v1/chat/completions"),
        &[AUTH, ("x-mock-status", "429"), ("x-request-id", "rl-1")],
        &body,
    );
    assert_eq!(reply.status, 429);
    let line = gw.log_line("rl-1");
    assert_eq!(line["model"], "gpt-4o-limited", "{line}");
    assert_eq!(line["upstream_status"], 429);
    assert_eq!(line["usage"], "absent");
    assert!(line["input_tokens"].is_null());

    mocks.anthropic.set_key("rotated-elsewhere");
    let reply = post_json(
        &gw.url("/anthropic_passthrough/v1/messages"),
        &[AUTH, ("x-request-id", "auth-1")],
        &json!({"model": "claude-x", "max_tokens": 5, "messages": []}),
    );
    assert_eq!(reply.status, 401);
    let line = gw.log_line("auth-1");
    assert_eq!(line["model"], "claude-x");

    let m = gw.metrics();
    assert_eq!(
        sample(
            &m,
            "strait_upstream_errors_total",
            &[("provider", "openai"), ("kind", "http_429")]
        ),
        1.0
    );
    assert_eq!(
        sample(
            &m,
            "strait_requests_total",
            &[("provider", "anthropic"), ("status_class", "4xx")]
        ),
        1.0
    );
}

#[test]
fn gateway_errors_carry_the_request_id_and_are_counted() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&mocks.config(""));
    let reply = get(
        &gw.url("/openai_passthrough/v1/models"),
        &[("x-request-id", "no-key-1")],
    );
    reply.assert_gateway_error(401, "missing_virtual_key");
    assert_eq!(reply.header("x-request-id"), Some("no-key-1"));
    let line = gw.log_line("no-key-1");
    assert_eq!(line["error"], "missing_virtual_key");
    assert!(line["usage"].is_null() && line["upstream_status"].is_null());
    // An id that is not a plain token is replaced rather than echoed.
    let reply = get(&gw.url("/nowhere"), &[("x-request-id", "bad id\t<script>")]);
    let id = reply.header("x-request-id").unwrap();
    assert_eq!(id.len(), 32);
    gw.log_line(id);

    let m = gw.metrics();
    assert_eq!(
        sample(
            &m,
            "strait_requests_total",
            &[("route", "none"), ("status_class", "4xx")]
        ),
        1.0
    );
    assert_eq!(
        sample(
            &m,
            "strait_requests_total",
            &[
                ("route", "openai_passthrough"),
                ("provider", "none"),
                ("status_class", "4xx")
            ]
        ),
        1.0
    );

    drop(mocks);
    let reply = post_json(
        &gw.url("/openai_passthrough/v1/chat/completions"),
        &[AUTH, ("x-request-id", "down-1")],
        &json!({"model": "m"}),
    );
    reply.assert_gateway_error(502, "provider_unreachable");
    assert_eq!(gw.log_line("down-1")["error"], "provider_unreachable");
    let m = gw.metrics();
    assert_eq!(
        sample(
            &m,
            "strait_upstream_errors_total",
            &[("provider", "openai"), ("kind", "provider_unreachable")]
        ),
        1.0
    );
}

#[test]
fn a_stream_the_client_abandons_is_logged_with_what_arrived() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&mocks.config(""));
    let url = gw.url("/anthropic_passthrough/v1/messages");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // The client gives up after 300 ms of a stream that takes seconds.
    let body =
        json!({"model": "claude-x", "max_tokens": 5, "messages": [], "stream": true}).to_string();
    let _ = rt.block_on(async {
        tokio::time::timeout(
            Duration::from_millis(300),
            request_async(
                "POST",
                &url,
                &[
                    AUTH,
                    ("x-request-id", "gone-1"),
                    ("x-mock-gap-ms", "1000"),
                    ("content-type", "application/json"),
                ],
                body.into(),
            ),
        )
        .await
    });
    drop(rt);
    let line = gw.log_line("gone-1");
    assert_eq!(line["usage"], "partial", "{line}");
    let a = ANTHROPIC_USAGE;
    // message_start had arrived: input counts, output as of then (1).
    assert_eq!(
        line["input_tokens"].as_u64(),
        Some(a.input + a.cached + a.cache_creation)
    );
    assert_eq!(line["output_tokens"], 1);
    assert_eq!(line["error"], "client_closed", "{line}");
    // The upstream call ended with the client, not at the stream's end (seconds later).
    assert!(line["latency_ms"].as_f64().unwrap() < 1000.0, "{line}");
}

#[test]
fn readiness_health_and_admin_errors() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&mocks.config(""));
    let admin = gw.admin.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = get(&format!("http://{admin}/readyz"), &[]);
        if r.status == 200 {
            assert_eq!(r.json()["status"], "ready");
            break;
        }
        assert_eq!(r.status, 503);
        assert_eq!(r.json()["error"]["type"], "not_ready");
        assert!(Instant::now() < deadline, "never ready: {}", r.text());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(get(&format!("http://{admin}/healthz"), &[]).status, 200);
    // Labelled series exist once something was counted in them.
    post_json(
        &gw.url("/openai_passthrough/v1/chat/completions"),
        &[AUTH, ("x-request-id", "one")],
        &json!({"model": "gpt-4o", "messages": []}),
    );
    // Metrics are updated just before the log line is queued.
    gw.log_line("one");
    let m = get(&format!("http://{admin}/metrics"), &[]);
    assert!(m.header("content-type").unwrap().starts_with("text/plain"));
    for name in [
        "strait_requests_total",
        "strait_request_duration_seconds",
        "strait_time_to_first_byte_seconds",
        "strait_gateway_overhead_seconds",
        "strait_tokens_total",
        "strait_inflight_requests",
        "strait_config_reloads_total",
        "strait_access_log_dropped_total",
        "strait_build_info",
    ] {
        assert!(
            m.text().contains(&format!("# HELP {name} ")),
            "{name} missing:\n{}",
            m.text()
        );
    }
    assert_eq!(get(&format!("http://{admin}/nope"), &[]).status, 404);
    let r = request("POST", &format!("http://{admin}/metrics"), &[], "");
    assert_eq!(r.status, 405);
    assert_eq!(r.json()["error"]["type"], "method_not_allowed");
}

#[test]
fn sigusr1_reopens_the_access_log_file() {
    let mocks = Mocks::start();
    let dir = TempDir::new();
    let path = dir.0.join("access.log");
    let gw = Gateway::start(&format!(
        "access_log: \"{}\"\n{}",
        path.display(),
        mocks.config("")
    ));
    get(
        &gw.url("/openai_passthrough/v1/models"),
        &[AUTH, ("x-request-id", "before")],
    );
    gw.log_line("before");
    let rotated = dir.0.join("access.log.1");
    std::fs::rename(&path, &rotated).unwrap();
    let ok = Command::new("kill")
        .args(["-USR1", &gw.pid().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    // The reopen happens on the writer thread; wait for the new file.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "SIGUSR1 did not reopen the log:\n{}",
            gw.logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    get(
        &gw.url("/openai_passthrough/v1/models"),
        &[AUTH, ("x-request-id", "after")],
    );
    gw.log_line("after");
    let old = std::fs::read_to_string(&rotated).unwrap();
    assert!(
        old.contains("\"before\"") && !old.contains("\"after\""),
        "{old}"
    );
}
