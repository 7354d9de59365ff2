//! The request body: forwarded as it streams past, except in the cases
//! where strait must see it whole first: keys restricted to models with the
//! model named only in the JSON body, and OpenAI-style chat streams, whose
//! body is edited to ask for usage.
//!
//! Pingora forwards a body read early only through its retry buffer, which
//! holds 64 KiB: a larger early-read body would never be sent and the
//! request would hang. So retry buffering is switched on only for the last
//! 64 KiB, the whole body is kept here, and [`Preread::substitute`] puts it
//! (edited or not) in place of that tail each time Pingora hands the tail to
//! `request_body_filter`, on every attempt, until the response starts. That
//! needs the length up front, so a chunked body of unknown length is
//! refused with 411 where the model decides, and forwarded as it is where
//! only the stream-usage edit wanted it.

use bytes::{Bytes, BytesMut};
use pingora::http::RequestHeader;
use pingora::proxy::Session;
use serde::Deserialize;

use crate::errors::{ErrorKind, GatewayError};
use crate::observe::request_model::ModelScanner;
use crate::providers::with_stream_usage;

/// Everything strait does with a request body, from admission to the last
/// chunk forwarded: it is read early only when a decision depends on it or
/// strait edits it, otherwise scanned for the model as it streams past.
#[derive(Default)]
pub(crate) struct RequestBody {
    preread: Preread,
    /// Reads the requested model from the body when nothing else named it.
    scan: Option<ModelScanner>,
    /// Bytes read before forwarding (the rest Pingora counts itself).
    pub(crate) read_early: u64,
}

impl RequestBody {
    /// The JSON body's top-level `model`, reading the body before
    /// forwarding (reading it does not change what is forwarded).
    pub(crate) async fn read_model(
        &mut self,
        session: &mut Session,
        max: u64,
    ) -> Result<Option<String>, GatewayError> {
        let whole = self.read_whole(session, max).await?;
        Ok(model_in_json(&whole))
    }

    /// For an OpenAI-style chat request: reads the body and, when it asks
    /// for a stream without saying whether it wants usage, forwards it with
    /// `stream_options.include_usage: true` added. A body without a
    /// Content-Length cannot be read early and goes as it is.
    pub(crate) async fn ask_for_stream_usage(
        &mut self,
        session: &mut Session,
        max: u64,
        overrule: bool,
    ) -> Result<(), GatewayError> {
        let req = session.req_header();
        if req.headers.contains_key(http::header::TRANSFER_ENCODING)
            || declared_length(req).is_none_or(|n| n == 0)
        {
            return Ok(());
        }
        let whole = self.read_whole(session, max).await?;
        if let Some(edited) = with_stream_usage(&whole, overrule) {
            self.preread.edited_length = Some(edited.len());
            self.preread.body = Some(Bytes::from(edited));
        }
        Ok(())
    }

    /// The length of the body sent upstream when strait edited it: the
    /// upstream request's Content-Length.
    pub(crate) fn edited_length(&self) -> Option<usize> {
        self.preread.edited_length
    }

    /// The provider has answered for good: the body will not be sent
    /// again, so a body read early need not be held any longer.
    pub(crate) fn release(&mut self) {
        self.preread.body = None;
    }

    /// The whole body, read once (at most `max` bytes) and kept until the
    /// response starts.
    async fn read_whole(&mut self, session: &mut Session, max: u64) -> Result<Bytes, GatewayError> {
        if let Some(body) = &self.preread.body {
            return Ok(body.clone());
        }
        if session.as_mut().is_body_empty() {
            return Ok(Bytes::new());
        }
        if is_continue_expected(session.req_header()) {
            session
                .write_continue_response()
                .await
                .map_err(|_| GatewayError::new(ErrorKind::InvalidBody, "client went away"))?;
            session.req_header_mut().remove_header("expect");
        }
        let whole = self.preread.read(session, max).await?;
        self.read_early += whole.len() as u64;
        Ok(whole)
    }

    /// Once the request is admitted: scan for the model if nobody named it,
    /// and keep a small body so `retry_on_status` can send it again.
    /// Returns whether the body can be replayed.
    pub(crate) fn prepare(
        &mut self,
        session: &mut Session,
        model_known: bool,
        retries: bool,
    ) -> bool {
        let req = session.req_header();
        if !model_known && has_json_body(req) {
            self.scan = Some(ModelScanner::default());
        }
        if retries && fits_retry_buffer(req) {
            session.as_mut().enable_retry_buffering();
            return true;
        }
        false
    }

    /// Each chunk on its way upstream: a body read early takes the place of
    /// the tail Pingora replays, a body without a length is held to the
    /// limit as it streams, and the scanner looks for the model.
    pub(crate) fn on_chunk(
        &mut self,
        body: &mut Option<Bytes>,
        read_so_far: u64,
        max: u64,
    ) -> Result<(), GatewayError> {
        self.preread.substitute(body);
        if read_so_far > max {
            return Err(too_large(max));
        }
        if let (Some(scan), Some(b)) = (self.scan.as_mut(), body.as_ref()) {
            if scan.active() {
                scan.feed(b);
            }
        }
        Ok(())
    }

    pub(crate) fn scanned_model(&mut self) -> Option<String> {
        self.scan.as_mut().and_then(|s| s.take())
    }
}

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

fn is_continue_expected(req: &RequestHeader) -> bool {
    req.headers
        .get(http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

/// Pingora's retry buffer size (`BODY_BUF_LIMIT` in pingora-core): the
/// most of a body that can be sent again.
pub(crate) const RETRY_BUFFER: usize = 64 * 1024;

#[derive(Default)]
struct Preread {
    /// The whole body as it is to be forwarded, once read early.
    body: Option<Bytes>,
    /// Its length, when strait edited it.
    edited_length: Option<usize>,
}

impl Preread {
    /// Reads the whole body (at most `max` bytes), keeps it to be forwarded
    /// and returns it.
    async fn read(&mut self, session: &mut Session, max: u64) -> Result<Bytes, GatewayError> {
        let length = content_length(session)?;
        if length as u64 > max {
            return Err(too_large(max));
        }
        let mut whole = BytesMut::with_capacity(length);
        loop {
            // Pingora sends what its retry buffer holds, and only that: the
            // last chunks go there, for `substitute` to find.
            if length - whole.len() <= RETRY_BUFFER {
                session.as_mut().enable_retry_buffering();
            }
            let chunk = session
                .downstream_session
                .read_request_body()
                .await
                .map_err(|_| {
                    GatewayError::new(ErrorKind::InvalidBody, "the request body could not be read")
                })?;
            let Some(chunk) = chunk else { break };
            if whole.len() + chunk.len() > length {
                return Err(GatewayError::new(
                    ErrorKind::InvalidBody,
                    "body longer than its Content-Length",
                ));
            }
            if session.as_ref().retry_buffer_truncated() {
                // Cannot happen while reads stay within the length; refuse
                // rather than forward a truncated body.
                return Err(GatewayError::new(
                    ErrorKind::InternalError,
                    "request body buffering failed",
                ));
            }
            whole.extend_from_slice(&chunk);
        }
        if whole.len() != length {
            return Err(GatewayError::new(
                ErrorKind::InvalidBody,
                "body shorter than its Content-Length",
            ));
        }
        let whole = whole.freeze();
        self.body = Some(whole.clone());
        Ok(whole)
    }

    /// Called from `request_body_filter`: once the body was read early, the
    /// only chunk Pingora forwards in an attempt is its retry buffer (the
    /// tail; the rest was read here), and the whole body goes in its place.
    /// A retry of the request gets it again.
    fn substitute(&self, chunk: &mut Option<Bytes>) {
        if let (Some(whole), Some(c)) = (&self.body, chunk.as_mut()) {
            if !c.is_empty() {
                *c = whole.clone();
            }
        }
    }
}

/// The request's Content-Length, when it has a valid one.
pub(crate) fn declared_length(req: &RequestHeader) -> Option<u64> {
    req.headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Whether the whole body fits Pingora's retry buffer, so it can be sent
/// again: a declared length within it, or no body at all.
fn fits_retry_buffer(req: &RequestHeader) -> bool {
    match declared_length(req) {
        Some(n) => n <= RETRY_BUFFER as u64,
        None => {
            !req.headers.contains_key(http::header::CONTENT_LENGTH)
                && !req.headers.contains_key(http::header::TRANSFER_ENCODING)
        }
    }
}

fn content_length(session: &Session) -> Result<usize, GatewayError> {
    let req = session.req_header();
    match req.headers.get(http::header::CONTENT_LENGTH) {
        Some(_) => declared_length(req)
            .map(|n| n as usize)
            .ok_or_else(|| GatewayError::new(ErrorKind::InvalidBody, "invalid Content-Length")),
        None if req.headers.contains_key(http::header::TRANSFER_ENCODING) => {
            Err(GatewayError::new(
                ErrorKind::LengthRequired,
                "this key is limited to certain models and the model is named in the body: \
             send the body with a Content-Length",
            ))
        }
        None => Ok(0),
    }
}

pub(crate) fn too_large(max: u64) -> GatewayError {
    GatewayError::new(
        ErrorKind::BodyTooLarge,
        format!("the request body is larger than this gateway accepts ({max} bytes)"),
    )
}

/// The top-level `model` of a JSON body, if it has one. Other fields are
/// skipped without being materialised.
fn model_in_json(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct M {
        model: Option<String>,
    }
    serde_json::from_slice::<M>(body).ok()?.model
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_is_found_anywhere_at_top_level() {
        assert_eq!(
            model_in_json(br#"{"messages":[{"model":"x"}],"model":"gpt-4o"}"#).as_deref(),
            Some("gpt-4o")
        );
        assert_eq!(model_in_json(br#"{"messages":[]}"#), None);
        assert_eq!(model_in_json(b"not json"), None);
    }

    #[test]
    fn the_whole_body_replaces_the_tail_on_every_attempt() {
        let p = Preread {
            body: Some(Bytes::from_static(b"head-tail")),
            edited_length: None,
        };
        for _attempt in 0..2 {
            let mut chunk = Some(Bytes::from_static(b"tail"));
            p.substitute(&mut chunk);
            assert_eq!(chunk.as_deref(), Some(&b"head-tail"[..]));
        }
        // The end of the body stays the end.
        let mut end = None;
        p.substitute(&mut end);
        assert_eq!(end, None);
        let mut nothing_read_early = Some(Bytes::from_static(b"x"));
        Preread::default().substitute(&mut nothing_read_early);
        assert_eq!(nothing_read_early.as_deref(), Some(&b"x"[..]));
    }
}
