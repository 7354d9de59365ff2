//! WebSocket sessions through the real gateway: every provider's endpoint,
//! the credential rules, usage in the access log, refusals. Limits and
//! reloads: `websocket_limits.rs`.

mod support;

use serde_json::json;
use strait_mock::{test_service_account_json, TokenServer};
use support::ws::{self, assert_upstream_clean, open, ws_url};
use support::*;

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
async fn vertex_live_in_express_mode_with_only_the_virtual_key() {
    // Express mode: a Vertex API key (the Gemini-flavor mock takes it as
    // `x-goog-api-key`). The client sends no Google token, so only the path
    // (Vertex Live's service) says Vertex; the project is in `setup`.
    let mocks = Mocks::start();
    let gw = Gateway::start(&mocks.config(&format!(
        "  vertex:\n    network_config: {{ base_url: \"{}\" }}\n    keys:\n      - name: express\n        value: {GEMINI_KEY}\n        vertex_key_config: {{ project_id: strait-test-project, region: us-central1 }}\n",
        mocks.gemini.url()
    )));
    let live = "/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent";
    let path = format!("/genai_passthrough{live}");
    let mut s = open(&gw, &path, "ws-vertex", &[("x-goog-api-key", VK)]).await;
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
    assert_eq!(rec.path, live);
    assert_eq!(rec.header("x-goog-api-key"), Some(GEMINI_KEY));
    assert_upstream_clean(&rec);
    let line = gw.log_line("ws-vertex");
    assert_eq!(
        (line["provider"].as_str(), line["key"].as_str()),
        (Some("vertex"), Some("express")),
        "{line}"
    );
    assert_eq!(line["model"], "gemini-live", "{line}");
    // Vertex Live names its output candidatesTokenCount (12), plus thoughts (6).
    assert_eq!(line["output_tokens"], 18, "{line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn vertex_live_gets_the_token_strait_mints_never_the_clients() {
    // Vertex on a mock of its own that takes no API key: only a token the
    // Google token mock issued, which strait gets with the service account.
    let mocks = Mocks::start();
    let vertex = MockProvider::start(Flavor::Gemini, "no-api-key-works-on-vertex");
    let google = TokenServer::google(3600);
    vertex.accept_tokens_from(&google);
    let sa = test_service_account_json(&google.token_url());
    let gw = Gateway::start(&mocks.config(&format!(
        "  vertex:\n    network_config: {{ base_url: \"{}\" }}\n    keys:\n      - name: gcp\n        vertex_key_config:\n          project_id: strait-test-project\n          region: us-central1\n          auth_credentials: '{}'\n",
        vertex.url(),
        sa.replace('\'', "''").replace('\n', " ")
    )));
    let live = "/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent";
    let setup = json!({"setup": {"model": "projects/strait-test-project/locations/us-central1/publishers/google/models/gemini-live-2.5-flash"}});
    // google-genai in Vertex mode sends its own Google token; with the
    // virtual key in x-strait-key it is what tells Vertex from Gemini.
    let client = [
        ("authorization", "Bearer ya29.client-own-token"),
        ("x-strait-key", VK),
    ];
    for id in ["ws-vertex-sa-1", "ws-vertex-sa-2"] {
        let mut s = open(&gw, &format!("/genai_passthrough{live}"), id, &client).await;
        ws::send(&mut s, setup.clone()).await;
        ws::until(&mut s, "setupComplete").await;
        ws::send(&mut s, json!({"realtimeInput": {"text": "hi"}})).await;
        ws::until(&mut s, "usageMetadata").await;
        ws::close(s).await;

        let line = gw.log_line(id);
        assert_eq!(line["provider"], "vertex", "{line}");
        assert_eq!(line["key"], "gcp", "{line}");
        assert_eq!(line["model"], "gemini-live-2.5-flash", "{line}");
        // candidatesTokenCount (12) plus thoughts (6).
        assert_eq!(
            (
                line["input_tokens"].as_u64(),
                line["output_tokens"].as_u64()
            ),
            (Some(31), Some(18)),
            "{line}"
        );
        assert_no_secret(&line.to_string(), "the access log");
    }
    // One token, minted once, for both sessions.
    let issued = google.issued();
    assert_eq!(issued.len(), 1, "{issued:?}");
    let minted = format!("Bearer {}", issued[0]);
    let handshakes = vertex.requests();
    assert_eq!(handshakes.len(), 2);
    for rec in &handshakes {
        assert_eq!(rec.path, live);
        assert_eq!(rec.header("authorization"), Some(minted.as_str()));
        assert_eq!(rec.header("x-goog-api-key"), None);
        assert!(
            !rec.headers.iter().any(|(_, v)| v.contains("ya29.client")),
            "the client's token forwarded: {:?}",
            rec.headers
        );
        assert_upstream_clean(rec);
    }
    // The setup names the model as a Vertex resource: relayed unchanged.
    let sessions = vertex.ws_sessions();
    assert_eq!(sessions[0].messages[0], setup.to_string());
    assert!(mocks.gemini.requests().is_empty());
    let logs = gw.logs();
    assert!(!logs.contains(&issued[0]), "the minted token was logged");
}
