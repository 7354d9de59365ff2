//! Server-sent events: framing, and a channel-backed body that hands each event to
//! hyper as its own frame the moment it is produced.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use hyper::body::{Body, Frame};
use serde_json::Value;
use tokio::sync::{mpsc, Semaphore};

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

/// What the body waits for between two events.
#[derive(Clone)]
pub(crate) enum Pace {
    /// A fixed pause (zero: none).
    Gap(Duration),
    /// One permit per event, added by the test once it has seen the event before
    /// (`MockProvider::release_event`). A proof of streaming that no scheduling
    /// delay can fake: the next event does not exist until the last one arrived.
    Lockstep(Arc<Steps>),
}

/// After this long without a permit a lockstep stream goes on anyway (and counts
/// a miss), so a proxy that buffers still ends the stream and fails its test.
pub(crate) const LOCKSTEP_PATIENCE: Duration = Duration::from_secs(3);

pub(crate) struct Steps {
    permits: Semaphore,
    missed: AtomicUsize,
}

impl Default for Steps {
    fn default() -> Self {
        Steps {
            permits: Semaphore::new(0),
            missed: AtomicUsize::new(0),
        }
    }
}

impl Steps {
    pub(crate) fn release(&self) {
        self.permits.add_permits(1);
    }

    /// Waits that ran out of patience, over every lockstep stream so far.
    pub(crate) fn missed(&self) -> usize {
        self.missed.load(Ordering::Relaxed)
    }
}

impl Pace {
    async fn wait(&self) {
        match self {
            Pace::Gap(gap) if gap.is_zero() => {}
            Pace::Gap(gap) => tokio::time::sleep(*gap).await,
            Pace::Lockstep(steps) => {
                match tokio::time::timeout(LOCKSTEP_PATIENCE, steps.permits.acquire()).await {
                    Ok(Ok(permit)) => permit.forget(),
                    _ => {
                        steps.missed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    }
}

/// A body fed by a task that sends `events` one at a time, waiting on `pace`
/// between two of them. The task stops early when the client goes away.
pub(crate) fn body(events: Vec<String>, pace: Pace) -> ChannelBody {
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        for (i, ev) in events.into_iter().enumerate() {
            if i > 0 {
                pace.wait().await;
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
            Pace::Gap(Duration::from_millis(100)),
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

    #[tokio::test(start_paused = true)]
    async fn lockstep_waits_for_each_release() {
        let steps = Arc::new(Steps::default());
        let mut b = body(vec!["a".into(), "b".into()], Pace::Lockstep(steps.clone()));
        let first = b.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(first, "a");
        let start = tokio::time::Instant::now();
        steps.release();
        let second = b.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(second, "b");
        assert!(start.elapsed() < LOCKSTEP_PATIENCE);
        assert_eq!(steps.missed(), 0);
        // Without a release the stream still ends, after the patience runs out.
        let mut late = body(vec!["a".into(), "b".into()], Pace::Lockstep(steps.clone()));
        late.frame().await.unwrap().unwrap();
        let start = tokio::time::Instant::now();
        late.frame().await.unwrap().unwrap();
        assert!(start.elapsed() >= LOCKSTEP_PATIENCE);
        assert_eq!(steps.missed(), 1);
    }
}
