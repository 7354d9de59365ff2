//! WebSocket sessions on SIGTERM: they keep working through the grace
//! period, then strait closes them with 1001 (going away) both ways, logs
//! them, and the process ends.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::lifecycle::assert_quiet;
use support::ws::{self, Ws};
use support::*;

const GRACE: Duration = Duration::from_secs(2);

async fn open(gw: &Gateway, path: &str, id: &str, headers: &[(&str, &str)]) -> Ws {
    let url = gw.url(path).replacen("http://", "ws://", 1);
    let mut all = vec![("x-request-id", id)];
    all.extend_from_slice(headers);
    ws::connect(&url, &all).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_gives_sessions_the_grace_period_then_closes_them_with_1001_both_ways() {
    let mocks = Mocks::start();
    let config = mocks.config("").replace(
        "server: { threads: 2 }",
        &format!(
            "server: {{ threads: 2, grace_period_seconds: {}, graceful_shutdown_timeout_seconds: 1 }}",
            GRACE.as_secs()
        ),
    );
    let mut gw = Gateway::start(&config);
    let bearer = format!("Bearer {VK}");
    let mut realtime = open(
        &gw,
        "/openai_passthrough/v1/realtime?model=gpt-realtime",
        "ws-shutdown-realtime",
        &[("authorization", &bearer)],
    )
    .await;
    ws::until(&mut realtime, "session.created").await;
    let mut live = open(
        &gw,
        "/genai_passthrough/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent",
        "ws-shutdown-live",
        &[("x-goog-api-key", VK)],
    )
    .await;
    ws::send(
        &mut live,
        json!({"setup": {"model": "models/gemini-live-2.5-flash"}}),
    )
    .await;
    ws::until(&mut live, "setupComplete").await;

    let signalled = Instant::now();
    gw.signal("TERM");
    // Within the grace period the sessions carry on as before.
    tokio::time::sleep(Duration::from_millis(300)).await;
    ws::send(&mut realtime, json!({"type": "response.create"})).await;
    let done = ws::until(&mut realtime, "response.done").await;
    assert!(done.contains(r#""output_tokens":7"#), "{done}");

    let (realtime_code, live_code) =
        tokio::join!(ws::close_code(&mut realtime), ws::close_code(&mut live));
    let closed = signalled.elapsed();
    assert_eq!(realtime_code, Some(1001));
    assert_eq!(live_code, Some(1001));
    assert!(
        closed >= GRACE - Duration::from_millis(100),
        "closed after {closed:?}, before the grace period was over"
    );
    let status = gw
        .wait_exit(Duration::from_secs(5))
        .expect("the process ends once its sessions are closed");
    assert!(status.success(), "{status}");
    let exited = signalled.elapsed();
    assert!(
        exited < GRACE + Duration::from_secs(3),
        "exited after {exited:?}"
    );

    // The providers got strait's close too.
    let closes =
        |s: &[strait_mock::WsSession]| s.iter().map(|s| s.client_close).collect::<Vec<_>>();
    assert_eq!(closes(&mocks.openai.ws_sessions()), vec![Some(1001)]);
    assert_eq!(closes(&mocks.gemini.ws_sessions()), vec![Some(1001)]);
    for (id, output) in [("ws-shutdown-realtime", 7), ("ws-shutdown-live", 0)] {
        let line = gw.log_line(id);
        assert_eq!(line["websocket"], true, "{line}");
        assert_eq!(line["ws_end"], "shutdown", "{line}");
        if output > 0 {
            assert_eq!(line["output_tokens"], output, "{line}");
        }
    }
    assert_quiet(&gw.stderr.lock().unwrap(), 64 * 1024);
    println!("sessions closed {closed:?} and process exited {exited:?} after SIGTERM");
}
