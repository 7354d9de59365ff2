//! The provider stand-in: a small, fast HTTP server (HTTP/1.1 keep-alive and
//! HTTP/2 with prior knowledge) run as its own process, so its sockets and
//! CPU are not the measuring client's.
//!
//! Request headers choose the answer: `x-bench-events: N` streams N SSE
//! chunks `x-bench-gap-ms` apart (each carrying the wall-clock nanosecond it
//! was sent, `"t":…`, so a client can time delivery), else a JSON chat
//! completion of `x-bench-size` bytes (default 1 KiB). `x-bench-delay-ms`
//! waits before answering. A WebSocket handshake at `/v1/realtime` gets
//! an echo session (echo.rs).

use std::convert::Infallible;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Either, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};

type Body = Either<
    Full<Bytes>,
    StreamBody<futures::stream::BoxStream<'static, Result<Frame<Bytes>, Infallible>>>,
>;

pub fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
}

fn number(req: &Request<Incoming>, name: &str) -> Option<u64> {
    req.headers().get(name)?.to_str().ok()?.parse().ok()
}

/// A chat completion of about `size` bytes, with usage, as OpenAI sends it.
fn completion(size: usize) -> Bytes {
    let head = r#"{"id":"chatcmpl-bench","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":""#;
    let tail = r#""},"finish_reason":"stop"}],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}}"#;
    let pad = size.saturating_sub(head.len() + tail.len()).max(1);
    Bytes::from(format!("{head}{}{tail}", "x".repeat(pad)))
}

fn event(i: u64) -> Bytes {
    Bytes::from(format!(
        "data: {{\"t\":{},\"i\":{i},\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-mini\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"tok \"}}}}],\"usage\":null}}\n\n",
        now_ns()
    ))
}

const FINAL: &str = "data: {\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":7,\"total_tokens\":18}}\n\ndata: [DONE]\n\n";

async fn handle(req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    if crate::echo::wants(&req) {
        return Ok(crate::echo::accept(req).map(|()| Either::Left(Full::default())));
    }
    let events = number(&req, "x-bench-events").unwrap_or(0);
    let gap = Duration::from_millis(number(&req, "x-bench-gap-ms").unwrap_or(0));
    let delay = number(&req, "x-bench-delay-ms").unwrap_or(0);
    let size = number(&req, "x-bench-size").unwrap_or(1024) as usize;
    // The whole body is read, as a provider would.
    let _ = req.into_body().collect().await;
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if events == 0 {
        let body = completion(size);
        let resp = Response::builder()
            .header("content-type", "application/json")
            .header("x-request-id", "req_bench")
            .body(Either::Left(Full::new(body)))
            .expect("valid response");
        return Ok(resp);
    }
    let stream = futures::stream::unfold(0u64, move |i| async move {
        if i > events {
            return None;
        }
        if i == events {
            return Some((Ok(Frame::data(Bytes::from_static(FINAL.as_bytes()))), i + 1));
        }
        if i > 0 && !gap.is_zero() {
            tokio::time::sleep(gap).await;
        }
        Some((Ok(Frame::data(event(i))), i + 1))
    });
    let resp = Response::builder()
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(Either::Right(StreamBody::new(Box::pin(stream) as _)))
        .expect("valid response");
    Ok(resp)
}

/// Serves on 127.0.0.1 (a free port), printing `PORT <n>` once listening.
pub fn serve() -> ! {
    crate::procs::exit_with_parent();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        println!("PORT {}", listener.local_addr().expect("addr").port());
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                // With upgrades, for the WebSocket echo (echo.rs); plain
                // HTTP/1.1 and h2c requests are served as before.
                let _ = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service_fn(handle))
                    .await;
            });
        }
    })
}
