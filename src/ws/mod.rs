//! WebSocket sessions. The handshake is admitted like any request (the
//! same route, key, path and credential rules); its upstream head keeps
//! the upgrade headers; after the provider's `101` Pingora relays the bytes
//! both ways as they come, and a copy of each direction is read here for
//! frames, close codes, the frame limit and usage.

use std::time::Instant;

use bytes::Bytes;
use futures::future::BoxFuture;
use pingora::http::RequestHeader;
use serde::{Deserialize, Serialize};

use crate::observe::metrics::OpenSession;
use crate::observe::usage::{carries_usage, Format, Tokens, Usage};
use crate::observe::ws_frame::{close_frame, FrameReader};

mod direction;

use crate::snapshot::Limits;
use direction::{with_close, Direction};

/// A browser can only send its key as a subprotocol: `openai-insecure-api-key.<key>`.
pub(crate) const SUBPROTOCOL_KEY_PREFIX: &str = "openai-insecure-api-key.";

/// How much of one data message is kept to read usage from: usage events
/// are small, audio frames are skipped past this.
const MAX_READ_MESSAGE: usize = 1024 * 1024;
/// The client's messages are read only for the model of the session.
const MAX_CLIENT_MESSAGE: usize = 64 * 1024;
/// RFC 6455 close code: the endpoint is going away (a server shutting down).
const GOING_AWAY: u16 = 1001;

/// A WebSocket opening handshake: `GET`, HTTP/1.1, `Upgrade: websocket`.
pub(crate) fn is_upgrade(req: &RequestHeader) -> bool {
    req.method == http::Method::GET
        && req.version == http::Version::HTTP_11
        && req
            .headers
            .get(http::header::UPGRADE)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"))
}

/// The upgrade headers the provider needs (hop-by-hop, removed with the
/// others), the subprotocols less the client's key, and no
/// `permessage-deflate`: compressed frames could not be read for usage,
/// and an extension both ends agreed on is theirs to keep, not strait's
/// to inflate and re-frame.
pub(crate) fn prepare_upstream(req: &mut RequestHeader) {
    let _ = req.insert_header(http::header::UPGRADE, "websocket");
    let _ = req.insert_header(http::header::CONNECTION, "Upgrade");
    req.remove_header("sec-websocket-extensions");
    let Some(offered) = req.remove_header("sec-websocket-protocol") else {
        return;
    };
    let kept: Vec<&str> = offered
        .to_str()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty() && !p.starts_with(SUBPROTOCOL_KEY_PREFIX))
        .collect();
    if !kept.is_empty() {
        let _ = req.insert_header("sec-websocket-protocol", kept.join(", "));
    }
}

/// Set once at the end of a drain's grace period: every open session is
/// then closed with 1001 (going away) both ways.
pub(crate) struct Closing(tokio::sync::watch::Sender<bool>);

impl Closing {
    pub(crate) fn new() -> Closing {
        Closing(tokio::sync::watch::channel(false).0)
    }

    pub(crate) fn close(&self) {
        self.0.send_replace(true);
    }

    pub(crate) fn is_closing(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once [`Closing::close`] was called.
    pub(crate) fn wait(&self) -> BoxFuture<'static, ()> {
        let mut rx = self.0.subscribe();
        Box::pin(async move {
            let _ = rx.wait_for(|closing| *closing).await;
        })
    }
}

/// Who ended a session, as the access log says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Client,
    Provider,
}

/// One session, from its handshake to its end.
pub(crate) struct WsSession {
    format: Format,
    /// From the provider's `101`; `None` while (or if never) upgraded.
    opened: Option<(Instant, OpenSession)>,
    client: Direction,
    provider: Direction,
    /// A frame over the limit came from this side: what follows is dropped.
    cut: Option<Side>,
    tokens: Option<Tokens>,
    pub(crate) model: Option<String>,
    /// Set when strait closed the session on shutdown.
    pub(crate) shutdown: bool,
    /// Set when a read waited longer than the idle timeout.
    pub(crate) timed_out: bool,
}

impl WsSession {
    pub(crate) fn new(format: Format, limits: &Limits) -> WsSession {
        let max = limits.websocket_max_frame_bytes;
        WsSession {
            format,
            opened: None,
            client: Direction::new(FrameReader::new(max, MAX_CLIENT_MESSAGE)),
            provider: Direction::new(FrameReader::new(max, MAX_READ_MESSAGE)),
            cut: None,
            tokens: None,
            model: None,
            shutdown: false,
            timed_out: false,
        }
    }

    pub(crate) fn on_upgraded(&mut self) {
        self.opened = Some((Instant::now(), OpenSession::start()));
    }

    pub(crate) fn upgraded(&self) -> bool {
        self.opened.is_some()
    }

    /// Client to provider. A frame over the limit is replaced by a close
    /// 1009 to the provider, whose answering close reaches the client.
    pub(crate) fn on_client_chunk(&mut self, body: &mut Option<Bytes>) {
        if body.is_none() || !self.upgraded() {
            return;
        }
        if self.cut == Some(Side::Client) {
            *body = Some(Bytes::new());
            return;
        }
        let model = &mut self.model;
        let over = self.client.feed(body, &mut |m| {
            if model.is_none() {
                *model = session_model(m);
            }
        });
        if over {
            self.cut = Some(Side::Client);
            if let Some(b) = body.as_mut() {
                *b = with_close(b, &close_frame(1009, true));
            }
        }
    }

    /// The session is being closed on shutdown: `body` becomes a close 1001
    /// to the provider, and the returned frame is the one for the client.
    /// Nothing goes to a side that already closed or was cut, nor into a
    /// frame half relayed (a large audio frame): that side is only ended.
    pub(crate) fn on_shutdown(&mut self, body: &mut Option<Bytes>) -> Option<Bytes> {
        if !self.upgraded() || self.cut.is_some() || self.client.reader.close.is_some() {
            return None;
        }
        self.shutdown = true;
        if self.client.at_boundary() {
            *body = Some(Bytes::from(close_frame(GOING_AWAY, true)));
        }
        self.provider
            .at_boundary()
            .then(|| Bytes::from(close_frame(GOING_AWAY, false)))
    }

    /// Provider to client: usage read from a copy of each message.
    pub(crate) fn on_provider_chunk(&mut self, body: &mut Option<Bytes>) {
        if body.is_none() || !self.upgraded() {
            return;
        }
        if self.cut == Some(Side::Provider) {
            *body = Some(Bytes::new());
            return;
        }
        let (format, tokens, model) = (self.format, &mut self.tokens, &mut self.model);
        let over = self.provider.feed(body, &mut |m| {
            if !carries_usage(m) {
                return;
            }
            let mut usage = Usage::new(format);
            usage.observe(m);
            if let Some(t) = usage.tokens() {
                *tokens = Some(add(tokens.unwrap_or_default(), t));
            }
            if model.is_none() {
                *model = usage.model.take();
            }
        });
        if over {
            self.cut = Some(Side::Provider);
            if let Some(b) = body.as_mut() {
                *b = with_close(b, &close_frame(1009, false));
            }
        }
    }

    /// The session's usage summed over its responses.
    pub(crate) fn tokens(&self) -> Option<Tokens> {
        self.tokens
    }

    /// What the access log says of the session.
    pub(crate) fn summary(&self) -> Summary {
        let ended = match (self.opened.is_some(), self.cut) {
            (false, _) => "refused",
            (_, Some(_)) => "frame_too_large",
            _ if self.shutdown => "shutdown",
            _ if self.timed_out => "timeout",
            _ => match (
                self.client.reader.close.is_some(),
                self.provider.reader.close.is_some(),
            ) {
                // The first close frame tells who ended it; when both
                // were seen, the one echoing came second, and a copy
                // cannot tell order across directions: the client's close
                // answered by the provider is the usual case.
                (true, _) => "client_close",
                (false, true) => "provider_close",
                (false, false) => "disconnected",
            },
        };
        Summary {
            websocket: true,
            ws_duration_ms: self
                .opened
                .as_ref()
                .map(|(t, _)| (t.elapsed().as_secs_f64() * 1e6).round() / 1e3),
            ws_frames_in: self.client.reader.frames,
            ws_frames_out: self.provider.reader.frames,
            ws_bytes_in: self.client.reader.bytes,
            ws_bytes_out: self.provider.reader.bytes,
            ws_close_code: self
                .client
                .reader
                .close
                .or(self.provider.reader.close)
                .flatten(),
            ws_end: ended,
        }
    }
}

/// The session part of an access log line.
#[derive(Serialize)]
pub(crate) struct Summary {
    websocket: bool,
    ws_duration_ms: Option<f64>,
    /// Client to provider.
    ws_frames_in: u64,
    /// Provider to client.
    ws_frames_out: u64,
    ws_bytes_in: u64,
    ws_bytes_out: u64,
    ws_close_code: Option<u16>,
    ws_end: &'static str,
}

fn add(a: Tokens, b: Tokens) -> Tokens {
    Tokens {
        input: a.input.saturating_add(b.input),
        output: a.output.saturating_add(b.output),
        cached: a.cached.saturating_add(b.cached),
        cache_creation: a.cache_creation.saturating_add(b.cache_creation),
        reasoning: a.reasoning.saturating_add(b.reasoning),
    }
}

/// The model a client's message configures: Gemini Live's `setup.model`
/// (a resource name: its last segment), Realtime's `session.model`.
fn session_model(message: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Doc {
        setup: Option<Named>,
        session: Option<Named>,
    }
    #[derive(Deserialize)]
    struct Named {
        model: Option<String>,
    }
    let doc: Doc = serde_json::from_slice(message).ok()?;
    let model = doc.setup.or(doc.session)?.model?;
    let last = model.rsplit('/').next().unwrap_or_default();
    (!last.is_empty()).then(|| last.to_string())
}

#[cfg(test)]
mod tests;
