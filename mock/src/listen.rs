//! What every mock server shares: a `127.0.0.1:0` listener served on its own OS
//! thread with its own tokio runtime (so the mocks work from sync and async tests
//! alike), HTTP/1.1 with keep-alive or h2c, and a guard that stops it on drop.

use std::convert::Infallible;
use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::thread::JoinHandle;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::Value;
use tokio::sync::oneshot;

pub(crate) type Body = UnsyncBoxBody<Bytes, Infallible>;

/// Binds `127.0.0.1:0` now, so the address is known before the server runs.
pub(crate) fn bind() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("strait-mock: bind 127.0.0.1:0");
    listener
        .set_nonblocking(true)
        .expect("strait-mock: set_nonblocking");
    let addr = listener.local_addr().expect("strait-mock: local_addr");
    (listener, addr)
}

/// A running server thread. Dropping it stops the accept loop, drops the runtime
/// (and with it every open connection) and joins the thread.
pub(crate) struct Running {
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves `handler` for every request on `listener`, on a new thread named `name`.
pub(crate) fn spawn<H, F>(listener: TcpListener, name: String, handler: H) -> Running
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Result<Response<Body>, hyper::Error>> + Send + 'static,
{
    let (tx, rx) = oneshot::channel();
    let thread = std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("strait-mock: runtime");
            rt.block_on(accept_loop(listener, handler, rx));
            // Dropping the runtime here drops every connection task.
        })
        .expect("strait-mock: spawn thread");
    Running {
        shutdown: Some(tx),
        thread: Some(thread),
    }
}

async fn accept_loop<H, F>(listener: TcpListener, handler: H, mut shutdown: oneshot::Receiver<()>)
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Result<Response<Body>, hyper::Error>> + Send + 'static,
{
    let listener = tokio::net::TcpListener::from_std(listener).expect("strait-mock: listener");
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let handler = handler.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(handler);
                    // HTTP/1.1 with keep-alive, or h2c with prior knowledge.
                    let builder = auto::Builder::new(TokioExecutor::new());
                    // With upgrades: the WebSocket endpoints take the connection over.
                    let _ = builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

pub(crate) fn json_response(status: u16, content_type: &str, body: &Value) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())).boxed_unsync());
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut()
        .insert("content-type", content_type.parse().expect("content type"));
    r
}
