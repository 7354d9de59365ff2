//! A real WebSocket client (tokio-tungstenite) for the gateway's sessions.

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{Gateway, VK};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub fn ws_url(gw: &Gateway, path: &str) -> String {
    gw.url(path).replacen("http://", "ws://", 1)
}

/// A session through `gw` whose log line is found by the request id `id`.
pub async fn open(gw: &Gateway, path: &str, id: &str, headers: &[(&str, &str)]) -> Ws {
    let mut all = vec![("x-request-id", id)];
    all.extend_from_slice(headers);
    connect(&ws_url(gw, path), &all).await.unwrap()
}

/// Nothing of the client's credential went upstream, and no compression
/// offer; the upgrade is there.
pub fn assert_upstream_clean(rec: &strait_mock::Recorded) {
    for (name, value) in &rec.headers {
        assert!(!value.contains(VK), "virtual key forwarded in {name}");
    }
    assert_eq!(rec.header("sec-websocket-extensions"), None);
    assert_eq!(rec.header("upgrade"), Some("websocket"));
    assert!(!rec.query.as_deref().unwrap_or("").contains("key="));
}

/// Opens `url` (`ws://…`) with `headers` on the handshake.
pub async fn connect(url: &str, headers: &[(&str, &str)]) -> Result<Ws, Error> {
    let mut req = url.into_client_request()?;
    for (name, value) in headers {
        req.headers_mut().insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    Ok(tokio_tungstenite::connect_async(req).await?.0)
}

/// The HTTP status of a refused handshake.
pub async fn refused_status(url: &str, headers: &[(&str, &str)]) -> (u16, String) {
    match connect(url, headers).await {
        Err(Error::Http(r)) => {
            let body = r.body().as_deref().map(String::from_utf8_lossy);
            (r.status().as_u16(), body.unwrap_or_default().into_owned())
        }
        Err(e) => panic!("not an HTTP refusal: {e}"),
        Ok(_) => panic!("the handshake was accepted"),
    }
}

pub async fn send(ws: &mut Ws, json: serde_json::Value) {
    ws.send(Message::Text(json.to_string().into()))
        .await
        .unwrap();
}

/// The next message as text (Gemini Live's binary frames too); `None` at close.
pub async fn next_text(ws: &mut Ws) -> Option<String> {
    loop {
        match ws.next().await? {
            Ok(Message::Text(t)) => return Some(t.to_string()),
            Ok(Message::Binary(b)) => return Some(String::from_utf8_lossy(&b).into_owned()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// Reads until a message contains `needle`, which it returns.
pub async fn until(ws: &mut Ws, needle: &str) -> String {
    loop {
        let m = next_text(ws)
            .await
            .unwrap_or_else(|| panic!("closed before {needle}"));
        if m.contains(needle) {
            return m;
        }
    }
}

/// Closes normally and reads until the close handshake is over.
pub async fn close(mut ws: Ws) {
    let frame = CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    };
    ws.close(Some(frame)).await.unwrap();
    while ws.next().await.is_some() {}
}

/// The close code the peer sent, reading until it comes.
pub async fn close_code(ws: &mut Ws) -> Option<u16> {
    while let Some(m) = ws.next().await {
        if let Ok(Message::Close(f)) = m {
            return f.map(|f| u16::from(f.code));
        }
    }
    None
}
