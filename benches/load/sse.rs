//! The purpose-built client for what wrk and oha cannot measure: when each
//! SSE event arrives (every event carries the nanosecond the upstream sent
//! it), and thousands of streams held open at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

use crate::tools::{chat_body, AUTH};
use crate::upstream::now_ns;

/// Per-stream time to first byte and per-event delivery latency, in µs.
#[derive(Default)]
pub struct Timings {
    pub ttfb: Vec<f64>,
    pub event: Vec<f64>,
    pub errors: usize,
}

async fn connect(port: u16) -> Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    tokio::spawn(conn);
    Some(sender)
}

fn stream_request(path: &str, events: usize, gap_ms: u64) -> http::Request<Full<Bytes>> {
    http::Request::post(path)
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .header("authorization", AUTH)
        .header("x-bench-events", events.to_string())
        .header("x-bench-gap-ms", gap_ms.to_string())
        .body(Full::new(Bytes::from(
            chat_body(512).replace("\"max_tokens\"", "\"stream\":true,\"max_tokens\""),
        )))
        .expect("valid request")
}

/// `clients` connections each run `rounds` streams of `events` events
/// `gap_ms` apart, one after the other.
pub fn timings(
    port: u16,
    path: &str,
    clients: usize,
    rounds: usize,
    events: usize,
    gap_ms: u64,
) -> Timings {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let tasks: Vec<_> = (0..clients)
            .map(|_| {
                let path = path.to_string();
                tokio::spawn(async move {
                    let mut t = Timings::default();
                    let Some(mut sender) = connect(port).await else {
                        t.errors += rounds;
                        return t;
                    };
                    for _ in 0..rounds {
                        if one_stream(&mut sender, &path, events, gap_ms, &mut t)
                            .await
                            .is_none()
                        {
                            t.errors += 1;
                        }
                    }
                    t
                })
            })
            .collect();
        let mut all = Timings::default();
        for task in tasks {
            if let Ok(t) = task.await {
                all.ttfb.extend(t.ttfb);
                all.event.extend(t.event);
                all.errors += t.errors;
            }
        }
        all
    })
}

async fn one_stream(
    sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    path: &str,
    events: usize,
    gap_ms: u64,
    t: &mut Timings,
) -> Option<()> {
    sender.ready().await.ok()?;
    let sent = Instant::now();
    let resp = sender
        .send_request(stream_request(path, events, gap_ms))
        .await
        .ok()?;
    t.ttfb.push(sent.elapsed().as_secs_f64() * 1e6);
    if resp.status() != 200 {
        return None;
    }
    let mut body = resp.into_body();
    let mut buf = Vec::new();
    let mut seen = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.ok()?;
        let arrived = now_ns();
        let Some(data) = frame.data_ref() else {
            continue;
        };
        buf.extend_from_slice(data);
        while let Some(end) = memchr::memmem::find(&buf, b"\n\n") {
            if let Some(sent_ns) = sent_at(&buf[..end]) {
                t.event.push(arrived.saturating_sub(sent_ns) as f64 / 1e3);
                seen += 1;
            }
            buf.drain(..end + 2);
        }
    }
    (seen == events).then_some(())
}

/// The `"t":<ns>` an event carries.
fn sent_at(event: &[u8]) -> Option<u128> {
    let at = memchr::memmem::find(event, b"\"t\":")? + 4;
    let digits = event[at..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    std::str::from_utf8(&event[at..at + digits])
        .ok()?
        .parse()
        .ok()
}

/// What `hold_open` got: streams open at once, and those that failed
/// (refused, reset, or no first event).
pub struct Held<T> {
    pub open: usize,
    pub failed: usize,
    pub measured: T,
}

/// Opens `n` streams whose second event is far off and holds them until
/// every one has its first event or has failed (or `timeout`); then
/// `measure` runs while all are open.
pub fn hold_open<T>(
    port: u16,
    path: &str,
    n: usize,
    timeout: Duration,
    measure: impl FnOnce() -> T,
) -> Held<T> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let open = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(tokio::sync::Notify::new());
    // Bounded concurrency while connecting, so the listeners' backlogs hold.
    let gate = Arc::new(tokio::sync::Semaphore::new(256));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (open, failed, release, gate, path) = (
                open.clone(),
                failed.clone(),
                release.clone(),
                gate.clone(),
                path.to_string(),
            );
            rt.spawn(async move {
                let first_event = async {
                    let _permit = gate.acquire_owned().await.ok()?;
                    let mut sender = connect(port).await?;
                    let resp = sender
                        .send_request(stream_request(&path, 2, 600_000))
                        .await
                        .ok()?;
                    let mut body = resp.into_body();
                    body.frame().await?.ok()?;
                    Some((sender, body))
                };
                // The sender and the body keep the stream open.
                let Some(_stream) = first_event.await else {
                    failed.fetch_add(1, Ordering::Relaxed);
                    return;
                };
                open.fetch_add(1, Ordering::Relaxed);
                release.notified().await;
            })
        })
        .collect();
    let deadline = Instant::now() + timeout;
    let done = || open.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed);
    while done() < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    // Let the proxies settle (buffers filled, tasks parked) before measuring.
    std::thread::sleep(Duration::from_millis(500));
    let measured = measure();
    let held = Held {
        open: open.load(Ordering::Relaxed),
        failed: failed.load(Ordering::Relaxed),
        measured,
    };
    release.notify_waiters();
    for t in tasks {
        t.abort();
    }
    rt.shutdown_timeout(Duration::from_secs(2));
    held
}
