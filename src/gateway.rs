//! The Pingora `ProxyHttp` implementation: each hook is one call into the
//! step that owns it, in the order a request travels (admission, failover,
//! forward, relay, account).

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use bytes::Bytes;
use futures::future::BoxFuture;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::modules::http::HttpModules;
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};

use crate::account::account;
use crate::ctx::RequestCtx;
use crate::errors::{respond, ErrorKind, GatewayError};
use crate::observe::metrics::Inflight;
use crate::observe::{request_id, AccessLog};
use crate::snapshot::Snapshot;
use crate::spend::Store;
use crate::ws::Closing;
use crate::{admission, failover, forward, relay};

pub(crate) struct Gateway {
    pub(crate) snapshot: Arc<ArcSwap<Snapshot>>,
    pub(crate) access_log: Arc<AccessLog>,
    /// Spend counters: made once at start, kept across reloads.
    pub(crate) spend: Arc<Store>,
    /// Closes the open WebSocket sessions at the end of a drain.
    pub(crate) sessions: Arc<Closing>,
}

/// Keeps `err` for the client and the access log, and makes Pingora stop.
fn fail(ctx: &mut RequestCtx, err: GatewayError) -> Box<Error> {
    let status = err.status();
    ctx.error = Some(err);
    Error::new(ErrorType::HTTPStatus(status))
}

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx::new()
    }

    /// Pingora's default puts a response-compression module, switched off,
    /// on every session. strait passes bodies through as the provider sent
    /// them and never compresses, so it adds none: per request, one module
    /// allocated and its filters run for nothing less.
    fn init_downstream_modules(&self, _modules: &mut HttpModules) {}

    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        ctx.inflight = Some(Inflight::start());
        ctx.request_id = request_id(session.req_header());
        let snapshot = self.snapshot.load_full();
        // A client that trickles its body, or idles between requests, does
        // not hold a connection for ever.
        session.set_read_timeout(Some(snapshot.limits.client_read_timeout));
        session.set_keepalive(Some(snapshot.limits.keepalive_timeout));
        match admission::admit(session, ctx, snapshot, &self.spend).await {
            Ok(()) => {
                let retries = ctx
                    .provider
                    .as_ref()
                    .is_some_and(|p| !p.retry_on_status.is_empty());
                if ctx.ws.is_some() {
                    // Each read from a session's client waits up to its idle timeout.
                    let idle = ctx
                        .snapshot
                        .as_ref()
                        .map(|s| s.limits.websocket_idle_timeout);
                    session.set_read_timeout(idle);
                }
                let model_known = ctx.client.model.is_some();
                ctx.failover.replayable = ctx.body.prepare(session, model_known, retries);
                Ok(false)
            }
            Err(err) => {
                respond(session, &err, &ctx.request_id).await;
                ctx.error = Some(err);
                Ok(true)
            }
        }
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Box<HttpPeer>> {
        if let Err(e) = failover::begin_attempt(ctx).await {
            return Err(fail(ctx, e));
        }
        forward::peer(ctx).map_err(|e| fail(ctx, e))
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        req: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        forward::prepare_upstream_request(ctx, req).map_err(|e| fail(ctx, e))
    }

    async fn request_body_filter(
        &self,
        session: &mut Session,
        body: &mut Option<Bytes>,
        _end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        if let Some(ws) = ctx.ws.as_mut().filter(|_| session.was_upgraded()) {
            if body.is_none() && self.sessions.is_closing() {
                if let Some(frame) = ws.on_shutdown(body) {
                    // A client already gone is logged as such either way.
                    let _ = session.write_response_body(Some(frame), false).await;
                }
                return Ok(());
            }
            ws.on_client_chunk(body);
            return Ok(());
        }
        let max = ctx
            .snapshot
            .as_ref()
            .map_or(u64::MAX, |s| s.limits.max_body_bytes);
        let read = session.body_bytes_read() as u64;
        ctx.body.on_chunk(body, read, max).map_err(|e| fail(ctx, e))
    }

    /// Ends a WebSocket session once the drain's grace period is over:
    /// Pingora then calls `request_body_filter` as if the client had ended.
    fn upgraded_session_interrupt(&self, ctx: &mut RequestCtx) -> Option<BoxFuture<'static, ()>> {
        ctx.ws.as_ref().map(|_| self.sessions.wait())
    }

    async fn connected_to_upstream(
        &self,
        _session: &mut Session,
        reused: bool,
        _peer: &HttpPeer,
        #[cfg(unix)] _fd: std::os::unix::io::RawFd,
        _digest: Option<&pingora::protocols::Digest>,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let attempt = &mut ctx.attempt;
        attempt.reused = Some(reused);
        attempt.connect = Some(match (reused, attempt.started) {
            (false, Some(started)) => started.elapsed(),
            _ => Duration::ZERO,
        });
        Ok(())
    }

    async fn upstream_response_filter(
        &self,
        session: &mut Session,
        resp: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        if resp.status == http::StatusCode::SWITCHING_PROTOCOLS {
            if let Some(ws) = ctx.ws.as_mut() {
                ws.on_upgraded();
                relay::on_upgraded(ctx, resp);
            }
            return Ok(());
        }
        if resp.status.is_informational() {
            return Ok(());
        }
        if let Some(retry) = failover::on_status(ctx, resp) {
            return Err(retry);
        }
        // This answer is the one the client gets: no attempt will send the
        // body again.
        ctx.body.release();
        let has_body = session.req_header().method != http::Method::HEAD;
        relay::on_response_header(ctx, resp, has_body)
    }

    fn upstream_response_body_filter(
        &self,
        _session: &mut Session,
        _body: &mut Option<Bytes>,
        _end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<Option<Duration>> {
        relay::check_total_timeout(ctx).map_err(|e| fail(ctx, e))?;
        Ok(None)
    }

    fn fail_to_connect(
        &self,
        _session: &mut Session,
        _peer: &HttpPeer,
        ctx: &mut RequestCtx,
        mut e: Box<Error>,
    ) -> Box<Error> {
        // Nothing reached the provider: another key may be tried.
        e.set_retry(failover::on_connect_failure(ctx, e.etype()));
        e
    }

    fn error_while_proxy(
        &self,
        peer: &HttpPeer,
        session: &mut Session,
        e: Box<Error>,
        ctx: &mut RequestCtx,
        client_reused: bool,
    ) -> Box<Error> {
        let mut e = e.more_context(format!("Peer: {peer}"));
        let idempotent = session.req_header().method.is_idempotent();
        let truncated = session.as_ref().retry_buffer_truncated();
        failover::after_proxy_error(ctx, &mut e, idempotent, truncated, client_reused);
        e
    }

    fn response_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<Option<Duration>> {
        if let Some(ws) = ctx.ws.as_mut() {
            ws.on_provider_chunk(body);
        }
        relay::on_response_chunk(ctx, body, end_of_stream);
        Ok(None)
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut RequestCtx,
    ) -> FailToProxy {
        let provider = ctx.provider_name();
        let err = ctx
            .error
            .get_or_insert_with(|| GatewayError::from_proxy_error(e, provider));
        // Nobody is left to tell when the client went away.
        let code = match err.kind {
            ErrorKind::ClientClosed => 0,
            _ if session.response_written().is_none() => {
                respond(session, err, &ctx.request_id).await;
                err.status()
            }
            _ => err.status(),
        };
        FailToProxy {
            error_code: code,
            can_reuse_downstream: false,
        }
    }

    async fn logging(&self, session: &mut Session, e: Option<&Error>, ctx: &mut RequestCtx) {
        // A failure after the response started (the client left, the
        // provider cut the stream) never reached fail_to_proxy.
        if let (Some(ws), Some(e)) = (ctx.ws.as_mut(), e) {
            ws.timed_out = e.etype() == &ErrorType::ReadTimedout;
        }
        if let (None, Some(e)) = (&ctx.error, e) {
            ctx.error = Some(GatewayError::from_proxy_error(e, ctx.provider_name()));
        }
        account(session, ctx, &self.access_log, &self.spend);
    }

    /// A client that goes away mid-response is routine, not an error worth a
    /// log line each (they come in thousands when a load balancer drains);
    /// the access log still records it as `client_closed`.
    fn suppress_error_log(&self, _session: &Session, _ctx: &RequestCtx, error: &Error) -> bool {
        error.esource() == &ErrorSource::Downstream
    }

    /// Pingora's error log names the request with this; the query is left
    /// out because a client may have put a key in it.
    fn request_summary(&self, session: &Session, _ctx: &RequestCtx) -> String {
        let req = session.req_header();
        format!("{} {}", req.method, req.uri.path())
    }
}
