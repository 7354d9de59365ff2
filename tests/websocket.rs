//! WebSocket sessions through the real gateway: every provider's endpoint,
//! the credential rules, usage in the access log, refusals and limits.

mod support;

use serde_json::json;
use support::ws::{self, Ws};
use support::*;

fn ws_url(gw: &Gateway, path: &str) -> String {
    gw.url(path).replacen("http://", "ws://", 1)
}

/// The session's log line, found by the request id the client sent.
async fn open(gw: &Gateway, path: &str, id: &str, headers: &[(&str, &str)]) -> Ws {
    let mut all = vec![("x-request-id", id)];
    all.extend_from_slice(headers);
    ws::connect(&ws_url(gw, path), &all).await.unwrap()
}

/// Nothing of the client's credential went upstream, the provider's is there once.
fn assert_upstream_clean(rec: &strait_mock::Recorded) {
    for (name, value) in &rec.headers {
        assert!(!value.contains(VK), "virtual key forwarded in {name}");
    }
    assert_eq!(rec.header("sec-websocket-extensions"), None);
    assert_eq!(rec.header("upgrade"), Some("websocket"));
    assert!(!rec.query.as_deref().unwrap_or("").contains("key="));
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_realtime_with_the_key_in_the_subprotocol() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&mocks.config(""));
    let protocols = format!("realtime, openai-insecure-api-key.{VK}");
    let mut s = open(
        &gw,
        "/openai_passthrough/v1/realtime?model=gpt-realtime",
        "ws-realtime-1",
        &[
            ("sec-websocket-protocol", &protocols),
            (
                "sec-websocket-extensions",
                "permessage-deflate; client_max_window_bits",
            ),
        ],
    )
    .await;
    ws::until(&mut s, "session.created").await;
    ws::send(
        &mut s,
        json!({"type": "session.update", "session": {"instructions": "x"}}),
    )
    .await;
    ws::until(&mut s, "session.updated").await;
    for _ in 0..2 {
        ws::send(&mut s, json!({"type": "response.create"})).await;
        let done = ws::until(&mut s, "response.done").await;
        assert!(done.contains(r#""output_tokens":7"#), "{done}");
    }
    ws::close(s).await;

    let rec = mocks.openai.last();
    assert_eq!(rec.path, "/v1/realtime");
    assert_eq!(rec.query.as_deref(), Some("model=gpt-realtime"));
    assert_eq!(
        rec.header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    assert_eq!(rec.header("sec-websocket-protocol"), Some("realtime"));
    assert_upstream_clean(&rec);
    let session = &mocks.openai.ws_sessions()[0];
    assert_eq!(session.messages.len(), 3);
    assert_eq!(session.client_close, Some(1000));

    let line = gw.log_line("ws-realtime-1");
    assert_eq!(line["websocket"], true, "{line}");
    assert_eq!(line["status"], 101, "{line}");
    assert_eq!(line["model"], "gpt-realtime", "{line}");
    // Two responses: their usage summed.
    assert_eq!(line["input_tokens"], 22, "{line}");
    assert_eq!(line["output_tokens"], 14, "{line}");
    assert_eq!(line["cached_tokens"], 4, "{line}");
    assert_eq!(line["ws_frames_in"], 4, "{line}");
    assert_eq!(line["ws_end"], "client_close", "{line}");
    assert_eq!(line["ws_close_code"], 1000, "{line}");
    assert!(line["ws_duration_ms"].as_f64().unwrap() > 0.0, "{line}");
    assert_no_secret(&line.to_string(), "the access log");
}

#[tokio::test(flavor = "multi_thread")]
async fn responses_azure_and_gemini_live_sessions() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&mocks.config(""));
    let bearer = format!("Bearer {VK}");

    let mut s = open(
        &gw,
        "/openai_passthrough/v1/responses",
        "ws-resp",
        &[("authorization", &bearer)],
    )
    .await;
    ws::send(
        &mut s,
        json!({"type": "response.create", "model": "gpt-5-codex", "input": []}),
    )
    .await;
    ws::until(&mut s, "response.completed").await;
    ws::close(s).await;
    let line = gw.log_line("ws-resp");
    assert_eq!(
        (line["input_tokens"].as_u64(), line["model"].as_str()),
        (Some(11), Some("gpt-5-codex")),
        "{line}"
    );
    assert_eq!(line["reasoning_tokens"], 3, "{line}");
    assert_upstream_clean(&mocks.openai.last());

    for (path, query, id) in [
        (
            "/openai/realtime",
            "api-version=2025-04-01-preview&deployment=gpt-realtime",
            "ws-az1",
        ),
        ("/openai/v1/realtime", "model=gpt-realtime", "ws-az2"),
    ] {
        let url = format!("/azure_passthrough{path}?{query}");
        let mut s = open(&gw, &url, id, &[("api-key", VK)]).await;
        ws::send(&mut s, json!({"type": "response.create"})).await;
        ws::until(&mut s, "response.done").await;
        ws::close(s).await;
        let rec = mocks.azure.last();
        assert_eq!(rec.path, path);
        // The same parameters; Azure's api-version is written last.
        let mut sent: Vec<_> = query.split('&').collect();
        let mut got: Vec<_> = rec.query.as_deref().unwrap().split('&').collect();
        sent.sort();
        got.sort();
        assert_eq!(sent, got);
        assert_eq!(rec.header("api-key"), Some(AZURE_KEY));
        assert_upstream_clean(&rec);
        let line = gw.log_line(id);
        assert_eq!(
            (line["provider"].as_str(), line["output_tokens"].as_u64()),
            (Some("azure"), Some(14)),
            "{line}"
        );
    }

    for (version, auth) in [("v1", "key"), ("v1beta", "header"), ("v1alpha", "key")] {
        let path = format!(
            "/genai_passthrough/ws/google.ai.generativelanguage.{version}.GenerativeService.BidiGenerateContent"
        );
        let id = format!("ws-gemini-{version}");
        let mut s = match auth {
            "key" => open(&gw, &format!("{path}?key={VK}"), &id, &[]).await,
            _ => open(&gw, &path, &id, &[("x-goog-api-key", VK)]).await,
        };
        ws::send(
            &mut s,
            json!({"setup": {"model": "models/gemini-live-2.5-flash"}}),
        )
        .await;
        ws::until(&mut s, "setupComplete").await;
        ws::send(
            &mut s,
            json!({"clientContent": {"turns": [], "turnComplete": true}}),
        )
        .await;
        ws::until(&mut s, "usageMetadata").await;
        ws::close(s).await;
        let rec = mocks.gemini.last();
        assert_eq!(rec.header("x-goog-api-key"), Some(GEMINI_KEY));
        assert_upstream_clean(&rec);
        let line = gw.log_line(&id);
        assert_eq!(line["model"], "gemini-live-2.5-flash", "{line}");
        // responseTokenCount (12) plus thoughts (6), as for HTTP.
        assert_eq!(
            (
                line["input_tokens"].as_u64(),
                line["output_tokens"].as_u64()
            ),
            (Some(31), Some(18)),
            "{line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_reach_the_client_as_http() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&mocks.config(""));
    let url = ws_url(&gw, "/openai_passthrough/v1/realtime?model=m");
    let (status, body) = ws::refused_status(&url, &[("authorization", "Bearer wrong")]).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("invalid_virtual_key"), "{body}");
    let bearer = format!("Bearer {VK}");
    let (status, body) = ws::refused_status(
        &url,
        &[("authorization", &bearer), ("x-mock-status", "429")],
    )
    .await;
    assert_eq!(status, 429, "{body}");
    assert_no_secret(&body, "a refusal");
    let (status, _) = ws::refused_status(
        &ws_url(&gw, "/openai_passthrough/v1/nowhere"),
        &[("authorization", &bearer)],
    )
    .await;
    assert_eq!(status, 404);
}

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

#[tokio::test(flavor = "multi_thread")]
async fn vertex_live_usage_names_its_output_candidates() {
    // The Vertex Live endpoint of the mock, reached on the Gemini provider
    // (the Vertex provider's own rewrite of `/ws/` paths is a unit test).
    let mocks = Mocks::start();
    let gw = Gateway::start(&mocks.config(""));
    let path =
        "/genai_passthrough/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent";
    let mut s = open(&gw, path, "ws-vertex", &[("x-goog-api-key", VK)]).await;
    ws::send(
        &mut s,
        json!({"setup": {"model": "projects/p/locations/l/publishers/google/models/gemini-live"}}),
    )
    .await;
    ws::until(&mut s, "setupComplete").await;
    ws::send(&mut s, json!({"realtimeInput": {"text": "hi"}})).await;
    ws::until(&mut s, "usageMetadata").await;
    ws::close(s).await;
    let rec = mocks.gemini.last();
    assert_eq!(
        rec.path,
        "/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent"
    );
    let line = gw.log_line("ws-vertex");
    assert_eq!(line["model"], "gemini-live", "{line}");
    // Vertex Live names its output candidatesTokenCount.
    assert_eq!(line["output_tokens"], 18, "{line}");
}
