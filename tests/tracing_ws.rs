//! A WebSocket session is one request: one server span over the whole
//! session, with its summed usage, and a client span for the provider's.

mod support;

use serde_json::json;
use support::otlp::{start, trace_of, Collector};
use support::ws;
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_realtime_session_is_one_server_span_with_its_usage() {
    let mocks = Mocks::start();
    let collector = Collector::start();
    let gw = start(&mocks, &collector, "");
    let url = gw
        .url("/openai_passthrough/v1/realtime?model=gpt-realtime")
        .replacen("http://", "ws://", 1);
    let protocols = format!("realtime, openai-insecure-api-key.{VK}");
    let mut s = ws::connect(
        &url,
        &[
            ("x-request-id", "ws-traced"),
            ("sec-websocket-protocol", &protocols),
        ],
    )
    .await
    .unwrap();
    ws::until(&mut s, "session.created").await;
    for _ in 0..2 {
        ws::send(&mut s, json!({"type": "response.create"})).await;
        ws::until(&mut s, "response.done").await;
    }
    // The session lasts a while: the span must cover it.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    ws::close(s).await;

    let (server, clients) =
        tokio::task::spawn_blocking(move || trace_of(&gw, &collector, "ws-traced", 2))
            .await
            .unwrap();
    assert_eq!(server.name, "GET openai_passthrough");
    assert_eq!(server.attr("http.response.status_code"), 101);
    assert_eq!(server.attr("gen_ai.request.model"), "gpt-realtime");
    assert_eq!(server.attr("gen_ai.usage.input_tokens"), 22, "{server:#?}");
    assert_eq!(server.attr("gen_ai.usage.output_tokens"), 14);
    assert!(
        server.end_ns - server.start_ns >= 200_000_000,
        "{server:#?}"
    );
    assert_eq!(clients.len(), 1);
    assert_eq!(clients[0].attr("http.response.status_code"), 101);
    let sent = mocks.openai.last();
    assert_eq!(
        sent.header("traceparent"),
        Some(format!("00-{}-{}-01", server.trace_id, clients[0].span_id).as_str())
    );
    assert_no_secret(&format!("{server:?} {clients:?}"), "a span");
}
