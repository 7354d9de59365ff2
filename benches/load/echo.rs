//! The upstream's WebSocket endpoint (`GET /v1/realtime` with `Upgrade:
//! websocket`): answers the handshake with 101 and echoes every text and
//! binary frame, so a client can time round trips through a proxy. No
//! credential is checked and nothing is parsed: the stand-in must cost the
//! same on every path.

use futures_util::{SinkExt, StreamExt};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

pub const PATH: &str = "/v1/realtime";

/// A WebSocket opening handshake for the echo endpoint.
pub fn wants(req: &Request<Incoming>) -> bool {
    req.uri().path() == PATH
        && req
            .headers()
            .get(hyper::header::UPGRADE)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"))
}

/// The 101 answer; the echo runs on the upgraded connection once hyper
/// has written it.
pub fn accept(mut req: Request<Incoming>) -> Response<()> {
    let Some(key) = req.headers().get("sec-websocket-key").cloned() else {
        let mut r = Response::new(());
        *r.status_mut() = StatusCode::BAD_REQUEST;
        return r;
    };
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        echo(ws).await;
    });
    let mut r = Response::new(());
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(hyper::header::UPGRADE, "websocket".parse().expect("value"));
    h.insert(hyper::header::CONNECTION, "Upgrade".parse().expect("value"));
    let accept = derive_accept_key(key.as_bytes());
    h.insert("sec-websocket-accept", accept.parse().expect("value"));
    r
}

async fn echo<S>(mut ws: WebSocketStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    // tungstenite answers pings and the close handshake itself while read.
    while let Some(Ok(msg)) = ws.next().await {
        if matches!(msg, Message::Text(_) | Message::Binary(_)) && ws.send(msg).await.is_err() {
            return;
        }
    }
}
