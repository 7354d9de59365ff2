//! Reading a request body before the upstream is chosen, for the one case
//! where the choice depends on it: keys restricted to models, and a model
//! named only in the JSON body.
//!
//! Pingora forwards a body read early only through its retry buffer, which
//! holds 64 KiB: a larger early-read body would never be sent and the
//! request would hang. So the head of a larger body is kept here, retry
//! buffering is switched on only for the last 64 KiB, and
//! [`Preread::prepend`] puts the head back in front of that tail when
//! Pingora hands it to `request_body_filter`. That needs the length up
//! front, so a chunked body of unknown length is refused with 411.

use bytes::{Bytes, BytesMut};
use pingora::http::RequestHeader;
use pingora::proxy::Session;
use serde::Deserialize;

use crate::errors::{ErrorKind, GatewayError};
use crate::observe::request_model::ModelScanner;

/// Everything strait does with a request body, from admission to the last
/// chunk forwarded: it is read early only when a decision depends on it,
/// otherwise scanned for the model as it streams past.
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
    /// forwarding (it still reaches the provider unchanged).
    pub(crate) async fn read_model(
        &mut self,
        session: &mut Session,
        max: u64,
    ) -> Result<Option<String>, GatewayError> {
        if session.as_mut().is_body_empty() {
            return Ok(None);
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
        Ok(model_in_json(&whole))
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

    /// Each chunk on its way upstream: the pre-read head goes back in
    /// front, a body without a length is held to the limit as it streams,
    /// and the scanner looks for the model.
    pub(crate) fn on_chunk(
        &mut self,
        body: &mut Option<Bytes>,
        read_so_far: u64,
        max: u64,
    ) -> Result<(), GatewayError> {
        self.preread.prepend(body);
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
    head: Option<Bytes>,
}

impl Preread {
    /// Reads the whole body (at most `max` bytes) and returns it; the body
    /// still reaches the upstream unchanged.
    async fn read(&mut self, session: &mut Session, max: u64) -> Result<Bytes, GatewayError> {
        let length = content_length(session)?;
        if length as u64 > max {
            return Err(too_large(max));
        }
        let mut head = BytesMut::new();
        let mut tail = BytesMut::new();
        let mut read = 0usize;
        loop {
            let buffered = length - read <= RETRY_BUFFER;
            if buffered {
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
            read += chunk.len();
            if read > length {
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
            if buffered {
                tail.extend_from_slice(&chunk);
            } else {
                head.extend_from_slice(&chunk);
            }
        }
        if read != length {
            return Err(GatewayError::new(
                ErrorKind::InvalidBody,
                "body shorter than its Content-Length",
            ));
        }
        let head = head.freeze();
        let mut whole = BytesMut::with_capacity(length);
        whole.extend_from_slice(&head);
        whole.extend_from_slice(&tail);
        if !head.is_empty() {
            self.head = Some(head);
        }
        Ok(whole.freeze())
    }

    /// Called from `request_body_filter`: the first chunk Pingora forwards is
    /// the retry-buffered tail; the head goes in front of it.
    fn prepend(&mut self, body: &mut Option<Bytes>) {
        if let Some(head) = self.head.take() {
            let mut whole =
                BytesMut::with_capacity(head.len() + body.as_ref().map_or(0, Bytes::len));
            whole.extend_from_slice(&head);
            if let Some(tail) = body.as_ref() {
                whole.extend_from_slice(tail);
            }
            *body = Some(whole.freeze());
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
    fn prepend_restores_the_head() {
        let mut p = Preread {
            head: Some(Bytes::from_static(b"head-")),
        };
        let mut body = Some(Bytes::from_static(b"tail"));
        p.prepend(&mut body);
        assert_eq!(body.as_deref(), Some(&b"head-tail"[..]));
        let mut again = Some(Bytes::from_static(b"x"));
        p.prepend(&mut again);
        assert_eq!(again.as_deref(), Some(&b"x"[..]));
    }
}
