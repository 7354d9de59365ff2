//! The WebSocket endpoints: the handshake (credential checked like the HTTP
//! routes, refusals answered over HTTP), then one session per connection that
//! plays the provider's event sequence (`ws_events`).
//!
//! | flavor | path | protocol |
//! |---|---|---|
//! | OpenAI | `/v1/realtime?model=…` | Realtime |
//! | OpenAI | `/v1/responses` | Responses API in WebSocket mode |
//! | Azure | `/openai/realtime?api-version=…&deployment=…`, `/openai/v1/realtime?model=…` | Realtime |
//! | Gemini | `/ws/google.ai.generativelanguage.{v1,v1beta,v1alpha}.GenerativeService.BidiGenerateContent` | Gemini Live |
//! | Gemini | `/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent` | Vertex Live |
//!
//! What each session's client sent is served at `GET /__mock/ws` (see
//! [`WsSession`]). Test controls, as client text messages: `{"type":"mock.big","bytes":N}` (a
//! text frame of about N bytes comes back), `{"type":"mock.close","code":N}`
//! (the mock closes with code N).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::call::Dialect;
use crate::listen::Body;
use crate::server::respond;
use crate::sse::Pace;
use crate::ws_events::{Kind, Script};
use crate::{auth, lock, Recorded, State};

/// What a WebSocket session received from its client.
#[derive(Clone, Debug, Default)]
pub struct WsSession {
    /// The handshake's path.
    pub path: String,
    /// Text (and binary, lossily) messages from the client, in order.
    pub messages: Vec<String>,
    /// The close code the client sent, if it closed.
    pub client_close: Option<u16>,
}

impl WsSession {
    /// The form served by `GET /__mock/ws`.
    pub(crate) fn to_wire(&self) -> serde_json::Value {
        serde_json::json!({
            "path": self.path, "messages": self.messages, "client_close": self.client_close,
        })
    }
}

pub(crate) fn is_upgrade(req: &Request<Incoming>) -> bool {
    req.headers()
        .get("upgrade")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"))
}

/// Answers the handshake: an HTTP refusal, or `101` and a session task.
pub(crate) fn accept(
    state: Arc<State>,
    parts: hyper::http::request::Parts,
    upgrade: OnUpgrade,
) -> Response<Body> {
    let rec = Recorded::from_parts(&parts, b"");
    let seq = state.seq.fetch_add(1, Ordering::Relaxed) + 1;
    lock(&state.log).push(rec.clone());
    let dialect = Dialect::of(state.flavor, &rec.path);
    let refuse = |status: u16, message: &str| {
        respond(
            dialect,
            seq,
            dialect.error(status, message),
            Pace::Gap(Default::default()),
            &[],
        )
    };
    let key = lock(&state.key).clone();
    if let Err(reply) = auth::check(dialect, &rec, &key, &|t| state.accepts_bearer(t)) {
        return respond(dialect, seq, reply, Pace::Gap(Default::default()), &[]);
    }
    if let Some(status) = rec.header("x-mock-status").and_then(|s| s.parse().ok()) {
        return refuse(
            status,
            &format!("strait-mock: error {status} requested by x-mock-status"),
        );
    }
    let Some(kind) = Kind::of(state.flavor, &rec.path) else {
        return refuse(404, "strait-mock: no WebSocket endpoint at this path");
    };
    let query = rec.query_pairs();
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    if rec.path == "/openai/realtime" && param("api-version").is_none() {
        return refuse(400, "Missing required query parameter: api-version");
    }
    let Some(client_key) = rec.header("sec-websocket-key") else {
        return refuse(400, "strait-mock: no sec-websocket-key");
    };
    let model = param("model").or_else(|| param("deployment"));
    let mut r = Response::new(Body::default());
    *r.status_mut() = hyper::StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert("upgrade", "websocket".parse().expect("value"));
    h.insert("connection", "Upgrade".parse().expect("value"));
    let accept = derive_accept_key(client_key.as_bytes());
    h.insert("sec-websocket-accept", accept.parse().expect("value"));
    // A real server picks one offered subprotocol it speaks: the first.
    if let Some(first) = rec
        .header("sec-websocket-protocol")
        .and_then(|p| p.split(',').next())
    {
        h.insert(
            "sec-websocket-protocol",
            first.trim().parse().expect("value"),
        );
    }
    let index = {
        let mut sessions = lock(&state.ws);
        sessions.push(WsSession {
            path: rec.path.clone(),
            ..WsSession::default()
        });
        sessions.len() - 1
    };
    let script = Script::new(kind, state.flavor, model, seq);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let ws = WebSocketStream::from_raw_socket(
            TokioIo::new(upgraded),
            Role::Server,
            Some(WebSocketConfig::default()),
        )
        .await;
        serve(ws, state, index, script).await;
    });
    r
}

async fn serve<S>(mut ws: WebSocketStream<S>, state: Arc<State>, index: usize, mut script: Script)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let binary = script.binary();
    let send = |text: String| {
        if binary {
            Message::Binary(text.into_bytes().into())
        } else {
            Message::Text(text.into())
        }
    };
    for event in script.opening() {
        if ws.send(send(event)).await.is_err() {
            return;
        }
    }
    while let Some(Ok(msg)) = ws.next().await {
        let text = match msg {
            Message::Text(t) => t.to_string(),
            Message::Binary(b) => String::from_utf8_lossy(&b).into_owned(),
            Message::Close(frame) => {
                lock(&state.ws)[index].client_close = frame.map(|f| u16::from(f.code));
                // tungstenite answers the close itself; read until it is done.
                continue;
            }
            _ => continue,
        };
        lock(&state.ws)[index].messages.push(text.clone());
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        match doc["type"].as_str() {
            Some("mock.close") => {
                let code = doc["code"].as_u64().unwrap_or(1000) as u16;
                let frame = CloseFrame {
                    code: CloseCode::from(code),
                    reason: "strait-mock".into(),
                };
                let _ = ws.close(Some(frame)).await;
                continue;
            }
            Some("mock.big") => {
                let n = doc["bytes"].as_u64().unwrap_or(0) as usize;
                let pad = "x".repeat(n);
                let _ = ws
                    .send(send(format!(r#"{{"type":"mock.big","pad":"{pad}"}}"#)))
                    .await;
                continue;
            }
            _ => {}
        }
        for event in script.answer(&doc) {
            if ws.send(send(event)).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Flavor, MockProvider};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    #[tokio::test]
    async fn realtime_session_checks_the_key_and_reports_usage() {
        let mock = MockProvider::start(Flavor::OpenAi, "sk");
        let url = format!("ws://{}/v1/realtime?model=gpt-realtime", mock.addr());
        let mut bad = url.as_str().into_client_request().unwrap();
        bad.headers_mut()
            .insert("authorization", "Bearer no".parse().unwrap());
        match tokio_tungstenite::connect_async(bad).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 401),
            other => panic!("{:?}", other.map(|_| ())),
        }
        let mut req = url.as_str().into_client_request().unwrap();
        req.headers_mut()
            .insert("authorization", "Bearer sk".parse().unwrap());
        let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
        let first = ws.next().await.unwrap().unwrap().into_text().unwrap();
        assert!(first.contains("session.created"), "{first}");
        ws.send(Message::Text(r#"{"type":"response.create"}"#.into()))
            .await
            .unwrap();
        loop {
            let m = ws.next().await.unwrap().unwrap().into_text().unwrap();
            if m.contains("response.done") {
                assert!(m.contains(r#""input_tokens":11"#), "{m}");
                break;
            }
        }
        let normal = CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        };
        ws.close(Some(normal)).await.unwrap();
        while ws.next().await.is_some() {}
        let s = &mock.ws_sessions()[0];
        assert_eq!(s.path, "/v1/realtime");
        assert_eq!(s.messages.len(), 1);
        assert_eq!(s.client_close, Some(1000));
        // The same over HTTP, for out-of-process tests; cleared with the log.
        let (_, wire) = crate::test_http::call(mock.addr(), "GET /__mock/ws HTTP/1.1", "");
        assert_eq!(wire[0]["path"], "/v1/realtime");
        assert_eq!(wire[0]["messages"][0], r#"{"type":"response.create"}"#);
        assert_eq!(wire[0]["client_close"], 1000);
        crate::test_http::call(mock.addr(), "DELETE /__mock/requests HTTP/1.1", "");
        assert!(mock.ws_sessions().is_empty());
    }

    #[test]
    fn paths_map_to_protocols() {
        let k = |f, p: &str| Kind::of(f, p);
        assert_eq!(k(Flavor::OpenAi, "/v1/realtime"), Some(Kind::Realtime));
        assert_eq!(k(Flavor::OpenAi, "/v1/responses"), Some(Kind::Responses));
        assert_eq!(k(Flavor::Azure, "/openai/realtime"), Some(Kind::Realtime));
        assert_eq!(
            k(Flavor::Azure, "/openai/v1/realtime"),
            Some(Kind::Realtime)
        );
        for v in ["v1", "v1beta", "v1alpha"] {
            let p = format!(
                "/ws/google.ai.generativelanguage.{v}.GenerativeService.BidiGenerateContent"
            );
            assert_eq!(k(Flavor::Gemini, &p), Some(Kind::GeminiLive));
        }
        assert_eq!(
            k(
                Flavor::Gemini,
                "/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent"
            ),
            Some(Kind::VertexLive)
        );
        assert_eq!(k(Flavor::OpenAi, "/v1/chat/completions"), None);
    }
}
