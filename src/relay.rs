//! The provider's answer on its way to the client: passed through as sent,
//! with strait's request id, a copy read for usage, and the whole-call
//! timeout of non-streamed answers.

use std::time::Instant;

use bytes::Bytes;
use pingora::http::ResponseHeader;

use crate::ctx::RequestCtx;
use crate::errors::{ErrorKind, GatewayError};
use crate::observe::sane_id;
use crate::observe::tap::ResponseTap;

/// The response head of the attempt that answers the client (a failover
/// has been decided before this).
pub(crate) fn on_response_header(
    ctx: &mut RequestCtx,
    resp: &mut ResponseHeader,
    has_body: bool,
) -> pingora::Result<()> {
    ctx.attempt.status = Some(resp.status.as_u16());
    ctx.attempt.first_byte = Some(ctx.start.elapsed());
    ctx.response.streamed = resp
        .headers
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    if let Some(provider) = ctx.provider.as_ref().filter(|_| has_body) {
        let format = provider.kind.rules().usage_format(&ctx.client.native_path);
        ctx.response.tap = Some(ResponseTap::new(format, resp));
    }
    // The client gets strait's id; a provider's own id is kept beside it.
    if let Some(theirs) = resp.remove_header("x-request-id") {
        if let Some(id) = sane_id(&theirs).filter(|id| *id != ctx.request_id) {
            ctx.response.upstream_request_id = Some(id.to_string());
            resp.insert_header("x-upstream-request-id", id)?;
        }
    }
    resp.insert_header("x-request-id", &ctx.request_id)
}

/// The provider's `101`: the session is relayed from here on, and is
/// bounded by its idle timeout, never by a whole-call one.
pub(crate) fn on_upgraded(ctx: &mut RequestCtx, resp: &ResponseHeader) {
    ctx.attempt.status = Some(resp.status.as_u16());
    ctx.attempt.first_byte = Some(ctx.start.elapsed());
    ctx.response.streamed = true;
}

/// A streamed answer is bounded by the idle timeout between reads; a
/// whole one can also be bounded end to end (`timeouts.total`).
pub(crate) fn check_total_timeout(ctx: &RequestCtx) -> Result<(), GatewayError> {
    let total = ctx.provider.as_ref().and_then(|p| p.timeouts.total);
    match total {
        Some(total) if !ctx.response.streamed && ctx.start.elapsed() > total => {
            Err(GatewayError::new(
                ErrorKind::ProviderTimeout,
                format!(
                    "{} did not finish within {}s",
                    ctx.provider_name(),
                    total.as_secs()
                ),
            ))
        }
        _ => Ok(()),
    }
}

/// Each chunk to the client: counted, and copied to the usage reader.
pub(crate) fn on_response_chunk(ctx: &mut RequestCtx, body: &Option<Bytes>, end_of_stream: bool) {
    let response = &mut ctx.response;
    if let Some(b) = body {
        response.bytes_out += b.len() as u64;
        if let Some(tap) = response.tap.as_mut() {
            tap.feed(b);
        }
    }
    if end_of_stream {
        response.upstream_end = Some(Instant::now());
        if let Some(tap) = response.tap.as_mut() {
            tap.end();
        }
    }
}
