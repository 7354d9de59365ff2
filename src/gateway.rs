//! The Pingora `ProxyHttp` implementation. Each hook is thin and delegates.

use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use bytes::Bytes;
use http::HeaderValue;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};

use crate::admission;
use crate::auth::strip_client_credentials;
use crate::ctx::RequestCtx;
use crate::errors::{respond, ErrorKind, GatewayError};
use crate::failover;
use crate::observe::metrics::Inflight;
use crate::observe::request_model::ModelScanner;
use crate::observe::tap::ResponseTap;
use crate::observe::{account, sane_id, AccessLog};
use crate::snapshot::Snapshot;

pub struct Gateway {
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    pub access_log: Arc<AccessLog>,
}

/// Request headers that describe one hop and are never forwarded.
const HOP_BY_HOP: [&str; 6] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];

/// A body worth scanning for the requested model.
fn has_json_body(req: &RequestHeader) -> bool {
    req.method == http::Method::POST
        && req
            .headers
            .get(http::header::CONTENT_TYPE)
            .is_some_and(|v| {
                v.as_bytes()
                    .windows(4)
                    .any(|w| w.eq_ignore_ascii_case(b"json"))
            })
}

/// Pingora error type carrying a [`GatewayError`] stored in the context.
fn gateway_failure(ctx: &mut RequestCtx, err: GatewayError) -> Box<Error> {
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

    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        ctx.inflight = Some(Inflight::start());
        ctx.request_id = crate::observe::request_id(session.req_header());
        let snapshot = self.snapshot.load_full();
        // A client that trickles its body, or idles between requests, does
        // not hold a connection for ever.
        let limits = &snapshot.limits;
        session.set_read_timeout(Some(limits.client_read_timeout));
        session.set_keepalive(Some(limits.keepalive_timeout));
        match admission::admit(session, ctx, snapshot).await {
            Ok(()) => {
                if ctx.model.is_none() && has_json_body(session.req_header()) {
                    ctx.model_scan = Some(ModelScanner::default());
                }
                // A small body is kept so `retry_on_status` can send it again.
                let retries_status = ctx
                    .provider
                    .as_ref()
                    .is_some_and(|p| !p.retry_on_status.is_empty());
                if retries_status && crate::body::fits_retry_buffer(session.req_header()) {
                    session.as_mut().enable_retry_buffering();
                    ctx.replayable = true;
                }
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
        ctx.attempts += 1;
        if ctx.attempts > 1 {
            failover::to_next_key(ctx)
                .await
                .map_err(|e| gateway_failure(ctx, e))?;
        }
        ctx.upstream_start = Some(Instant::now());
        let (Some(provider), Some(key)) = (ctx.provider.clone(), ctx.key()) else {
            return Err(Error::new(ErrorType::InternalError));
        };
        match key.upstream.peer(&provider.timeouts) {
            Some(peer) => Ok(peer),
            None => {
                let host = key.upstream.host.clone();
                Err(gateway_failure(
                    ctx,
                    GatewayError::new(
                        ErrorKind::ProviderUnreachable,
                        format!(
                            "the address of {} ({host}) is not resolved yet",
                            provider.kind.name()
                        ),
                    ),
                ))
            }
        }
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        req: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let (Some(provider), Some(key), Some(cred)) =
            (ctx.provider.clone(), ctx.key(), &ctx.credential)
        else {
            return Err(Error::new(ErrorType::InternalError));
        };
        let uri = ctx
            .upstream_uri
            .parse()
            .or_err(ErrorType::InternalError, "building upstream URI")?;
        req.set_uri(uri);
        strip_client_credentials(req);
        for name in HOP_BY_HOP {
            req.remove_header(name);
        }
        req.insert_header(http::header::HOST, key.upstream.authority.clone())?;
        // Responses are passed through byte for byte and read for usage, so
        // the provider is not asked to compress them.
        req.insert_header(
            http::header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        )?;
        for (name, value) in &provider.extra_headers {
            req.insert_header(name.clone(), value.clone())?;
        }
        provider
            .kind
            .behaviour()
            .inject_credential(cred, &ctx.native_path, req);
        Ok(())
    }

    async fn request_body_filter(
        &self,
        session: &mut Session,
        body: &mut Option<Bytes>,
        _end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        ctx.preread.prepend(body);
        // A body without a length is counted as it streams.
        let max = ctx
            .snapshot
            .as_ref()
            .map_or(u64::MAX, |s| s.limits.max_body_bytes);
        if session.body_bytes_read() as u64 > max {
            return Err(gateway_failure(ctx, crate::body::too_large(max)));
        }
        if let (Some(scan), Some(b)) = (ctx.model_scan.as_mut(), body.as_ref()) {
            if scan.active() {
                scan.feed(b);
            }
        }
        Ok(())
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
        ctx.reused = Some(reused);
        ctx.connect = Some(if reused {
            std::time::Duration::ZERO
        } else {
            ctx.upstream_start
                .map_or_else(Default::default, |s| s.elapsed())
        });
        Ok(())
    }

    async fn upstream_response_filter(
        &self,
        session: &mut Session,
        resp: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        if resp.status.is_informational() {
            return Ok(());
        }
        if let Some(retry) = failover::on_status(ctx, resp) {
            return Err(retry);
        }
        ctx.upstream_status = Some(resp.status.as_u16());
        ctx.first_byte = Some(ctx.start.elapsed());
        ctx.streamed = resp
            .headers
            .get(http::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        let has_body = session.req_header().method != http::Method::HEAD;
        if let Some(provider) = ctx.provider.as_ref().filter(|_| has_body) {
            let format = provider.kind.behaviour().usage_format(&ctx.native_path);
            ctx.tap = Some(ResponseTap::new(format, resp));
        }
        // The client gets strait's id; a provider's own id is kept beside it.
        if let Some(theirs) = resp.remove_header("x-request-id") {
            if let Some(id) = sane_id(&theirs).filter(|id| *id != ctx.request_id) {
                ctx.upstream_request_id = Some(id.to_string());
                resp.insert_header("x-upstream-request-id", id)?;
            }
        }
        resp.insert_header("x-request-id", &ctx.request_id)?;
        Ok(())
    }

    fn upstream_response_body_filter(
        &self,
        _session: &mut Session,
        _body: &mut Option<Bytes>,
        _end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<Option<std::time::Duration>> {
        // A streamed answer is bounded by the idle timeout between reads; a
        // whole one can also be bounded end to end.
        let total = ctx.provider.as_ref().and_then(|p| p.timeouts.total);
        if let (Some(total), false) = (total, ctx.streamed) {
            if ctx.start.elapsed() > total {
                let name = ctx.provider_name();
                return Err(gateway_failure(
                    ctx,
                    GatewayError::new(
                        ErrorKind::ProviderTimeout,
                        format!("{name} did not finish within {}s", total.as_secs()),
                    ),
                ));
            }
        }
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
        let retry = failover::on_connect_failure(ctx, e.etype());
        e.set_retry(retry);
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
        let truncated = session.as_ref().retry_buffer_truncated();
        if ctx.failover_reason.is_some() && ctx.replayable && !truncated {
            // A status listed in retry_on_status: the body is still here.
            e.set_retry(true);
        } else if !session.req_header().method.is_idempotent() || truncated {
            e.set_retry(false);
        } else {
            e.retry.decide_reuse(client_reused);
        }
        e
    }

    fn response_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<Option<std::time::Duration>> {
        if let Some(b) = body {
            ctx.bytes_out += b.len() as u64;
            if let Some(tap) = ctx.tap.as_mut() {
                tap.feed(b);
            }
        }
        if end_of_stream {
            ctx.upstream_end = Some(Instant::now());
            if let Some(tap) = ctx.tap.as_mut() {
                tap.end();
            }
        }
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
        if let (None, Some(e)) = (&ctx.error, e) {
            ctx.error = Some(GatewayError::from_proxy_error(e, ctx.provider_name()));
        }
        account(session, ctx, &self.access_log);
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
