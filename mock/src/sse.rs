//! Server-sent events: framing, and a channel-backed body that hands each event to
//! hyper as its own frame the moment it is produced.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame};
use serde_json::Value;
use tokio::sync::mpsc;

/// `event: NAME\ndata: JSON\n\n` (OpenAI Responses API, Anthropic).
pub(crate) fn event(name: &str, data: &Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

/// `data: JSON\n\n` (OpenAI chat completions; `data: [DONE]` is passed as a string).
pub(crate) fn data(data: impl std::fmt::Display) -> String {
    format!("data: {data}\n\n")
}

/// `data: JSON\r\n\r\n`, as Gemini sends it.
pub(crate) fn data_crlf(data: &Value) -> String {
    format!("data: {data}\r\n\r\n")
}

/// A body fed by a task that sends `events` one at a time, sleeping `gap` between
/// two of them. The task stops early when the client goes away.
pub(crate) fn body(events: Vec<String>, gap: Duration) -> ChannelBody {
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        for (i, ev) in events.into_iter().enumerate() {
            if i > 0 && !gap.is_zero() {
                tokio::time::sleep(gap).await;
            }
            if tx.send(Bytes::from(ev)).await.is_err() {
                break;
            }
        }
    });
    ChannelBody(rx)
}

pub(crate) struct ChannelBody(mpsc::Receiver<Bytes>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|ev| ev.map(|b| Ok(Frame::data(b))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use serde_json::json;

    #[test]
    fn framing() {
        assert_eq!(
            event("ping", &json!({"type": "ping"})),
            "event: ping\ndata: {\"type\":\"ping\"}\n\n"
        );
        assert_eq!(data("[DONE]"), "data: [DONE]\n\n");
        assert_eq!(data(json!({"a": 1})), "data: {\"a\":1}\n\n");
        assert_eq!(data_crlf(&json!({"a": 1})), "data: {\"a\":1}\r\n\r\n");
    }

    #[tokio::test(start_paused = true)]
    async fn body_yields_one_frame_per_event_with_gaps() {
        let start = tokio::time::Instant::now();
        let mut b = body(
            vec!["a".into(), "b".into(), "c".into()],
            Duration::from_millis(100),
        );
        let mut seen = vec![];
        while let Some(frame) = b.frame().await {
            let data = frame.unwrap().into_data().unwrap();
            seen.push((data, start.elapsed().as_millis()));
        }
        assert_eq!(
            seen,
            [
                (Bytes::from("a"), 0),
                (Bytes::from("b"), 100),
                (Bytes::from("c"), 200)
            ]
        );
    }
}
