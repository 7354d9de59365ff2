//! WebSocket sessions against the gateway's limits and lifecycle: the frame
//! limit, the idle timeout, per-key concurrency, and a config reload under an
//! open session.

mod support;

use serde_json::json;
use support::ws::{self, open, ws_url};
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn frames_over_the_limit_close_with_1009_and_idle_sessions_time_out() {
    let mocks = Mocks::start();
    let extra = "limits: { websocket_max_frame_bytes: 1000, websocket_idle_timeout_seconds: 1 }\n";
    let gw = Gateway::start(&mocks.config(extra));
    let bearer = format!("Bearer {VK}");
    let path = "/openai_passthrough/v1/realtime?model=m";

    let mut s = open(&gw, path, "ws-big-out", &[("authorization", &bearer)]).await;
    ws::until(&mut s, "session.created").await;
    ws::send(&mut s, json!({"type": "mock.big", "bytes": 5000})).await;
    assert_eq!(ws::close_code(&mut s).await, Some(1009));
    assert_eq!(gw.log_line("ws-big-out")["ws_end"], "frame_too_large");

    let mut s = open(&gw, path, "ws-big-in", &[("authorization", &bearer)]).await;
    ws::until(&mut s, "session.created").await;
    ws::send(&mut s, json!({"type": "x", "pad": "y".repeat(5000)})).await;
    assert_eq!(ws::close_code(&mut s).await, Some(1009));
    let line = gw.log_line("ws-big-in");
    assert_eq!(line["ws_end"], "frame_too_large", "{line}");

    let started = std::time::Instant::now();
    let mut s = open(&gw, path, "ws-idle", &[("authorization", &bearer)]).await;
    ws::until(&mut s, "session.created").await;
    assert_eq!(ws::next_text(&mut s).await, None);
    let waited = started.elapsed();
    assert!(
        waited >= std::time::Duration::from_millis(900),
        "{waited:?}"
    );
    assert_eq!(gw.log_line("ws-idle")["ws_end"], "timeout");
}

#[tokio::test(flavor = "multi_thread")]
async fn open_sessions_count_against_max_concurrent_and_the_gauge() {
    let mocks = Mocks::start();
    let config = mocks.config("").replace(
        &format!("  - {{ name: team-a, value: {VK} }}"),
        &format!("  - {{ name: team-a, value: {VK}, max_concurrent: 1 }}"),
    );
    let gw = Gateway::start(&config);
    let bearer = format!("Bearer {VK}");
    let path = "/openai_passthrough/v1/realtime?model=m";
    let mut s = open(&gw, path, "ws-held", &[("authorization", &bearer)]).await;
    ws::until(&mut s, "session.created").await;
    assert!(tokio::task::block_in_place(|| gw.metrics()).contains("strait_websocket_sessions 1"));
    let (status, body) =
        ws::refused_status(&ws_url(&gw, path), &[("authorization", &bearer)]).await;
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("concurrency_limited"), "{body}");
    ws::close(s).await;
    gw.log_line("ws-held");
    assert!(tokio::task::block_in_place(|| gw.metrics()).contains("strait_websocket_sessions 0"));
    // The slot is released when the session ends.
    let s = open(&gw, path, "ws-after", &[("authorization", &bearer)]).await;
    ws::close(s).await;
}

/// The config of [`an_open_session_keeps_its_config_through_a_reload`]:
/// `gpt-realtime` priced at `per_million` (input, cached input, output).
fn priced(mocks: &Mocks, per_million: (f64, f64, f64)) -> String {
    let (input, cached, output) = per_million;
    mocks.config(&format!(
        "pricing:\n  models:\n    - {{ provider: openai, model: gpt-realtime, input: {input}, cached_input: {cached}, output: {output} }}\n"
    ))
}

/// What one mock response costs at these prices: OpenAI counts cached
/// tokens among the input tokens.
fn cost(per_million: (f64, f64, f64)) -> f64 {
    let u = strait_mock::OPENAI_USAGE;
    let (input, cached, output) = per_million;
    ((u.input - u.cached) as f64 * input + u.cached as f64 * cached + u.output as f64 * output)
        / 1e6
}

/// Writes `text` as the config, sends SIGHUP and waits until it is active.
fn reload(gw: &Gateway, text: &str) {
    std::fs::write(&gw.config_path, text).unwrap();
    gw.signal("HUP");
    let sha = strait::facade::sha256_hex(text.as_bytes());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while gw.readyz().1["config"]["sha256"] != sha {
        assert!(
            std::time::Instant::now() < deadline,
            "no reload:\n{}",
            gw.logs()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_open_session_keeps_its_config_through_a_reload() {
    const NEW_KEY: &str = "sk-test-openai-rotated-42";
    let (before, after) = ((1.0, 0.5, 2.0), (10.0, 5.0, 20.0));
    let mocks = Mocks::start();
    let gw = Gateway::start(&priced(&mocks, before));
    let path = "/openai_passthrough/v1/realtime?model=gpt-realtime";
    let bearer = format!("Bearer {VK}");
    let mut s = open(&gw, path, "ws-kept", &[("authorization", &bearer)]).await;
    ws::until(&mut s, "session.created").await;
    ws::send(&mut s, json!({"type": "response.create"})).await;
    ws::until(&mut s, "response.done").await;

    // The provider key is rotated and the session's virtual key removed,
    // prices change: a new generation of everything the session was admitted by.
    mocks.openai.set_key(NEW_KEY);
    let text = priced(&mocks, after)
        .replace(
            &format!("{{ name: team-a, value: {VK} }}"),
            "{ name: team-b, value: vk-test-team-b }",
        )
        .replace(
            &format!("{{ name: main, value: {OPENAI_KEY} }}"),
            &format!("{{ name: rotated, value: {NEW_KEY} }}"),
        );
    assert!(!text.contains(VK) && !text.contains(OPENAI_KEY));
    tokio::task::block_in_place(|| reload(&gw, &text));

    // The open session goes on as admitted: relayed, counted, priced, logged
    // under the old generation.
    ws::send(&mut s, json!({"type": "response.create"})).await;
    let done = ws::until(&mut s, "response.done").await;
    assert!(done.contains(r#""output_tokens":7"#), "{done}");
    ws::close(s).await;
    let line = tokio::task::block_in_place(|| gw.log_line("ws-kept"));
    assert_eq!(line["ws_end"], "client_close", "{line}");
    assert_eq!(line["ws_frames_in"], 3, "{line}");
    assert_eq!(line["virtual_key"], "team-a", "{line}");
    assert_eq!(line["key"], "main", "{line}");
    assert_eq!(line["model"], "gpt-realtime", "{line}");
    assert_eq!(line["input_tokens"], 22, "{line}");
    assert_eq!(line["output_tokens"], 14, "{line}");
    let charged = line["cost_usd"].as_f64().expect("priced");
    assert!((charged - 2.0 * cost(before)).abs() < 1e-12, "{line}");
    let handshake = &mocks.openai.requests()[0];
    assert_eq!(
        handshake.header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );

    // A new session follows the new config.
    let url = ws_url(&gw, path);
    let (status, body) = ws::refused_status(&url, &[("authorization", &bearer)]).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("invalid_virtual_key"), "{body}");
    let team_b = "Bearer vk-test-team-b";
    let mut s = open(&gw, path, "ws-new", &[("authorization", team_b)]).await;
    ws::send(&mut s, json!({"type": "response.create"})).await;
    ws::until(&mut s, "response.done").await;
    ws::close(s).await;
    assert_eq!(
        mocks.openai.last().header("authorization"),
        Some(format!("Bearer {NEW_KEY}").as_str())
    );
    let line = tokio::task::block_in_place(|| gw.log_line("ws-new"));
    assert_eq!(
        (line["virtual_key"].as_str(), line["key"].as_str()),
        (Some("team-b"), Some("rotated")),
        "{line}"
    );
    let charged = line["cost_usd"].as_f64().expect("priced");
    assert!((charged - cost(after)).abs() < 1e-12, "{line}");
}
