//! W3C trace context (https://www.w3.org/TR/trace-context/): what a
//! request's trace is, read from the client's `traceparent`/`tracestate`
//! or started afresh, and the `traceparent` the provider is sent.

use std::time::{Duration, Instant, SystemTime};

use pingora::http::RequestHeader;
use rand::Rng;

/// The longest `tracestate` passed on; the spec lets a vendor cut longer ones.
const MAX_TRACESTATE: usize = 512;

/// One request's place in a trace, kept in the request context while the
/// request runs. Only ids and times: the spans are built once, at its end.
pub(crate) struct RequestTrace {
    pub(crate) trace_id: u128,
    /// strait's server span.
    pub(crate) span_id: u64,
    /// The client's span, when it sent a valid `traceparent`.
    pub(crate) parent: Option<u64>,
    pub(crate) sampled: bool,
    pub(crate) tracestate: Option<String>,
    /// The wall clock when the request started; the request's `Instant`s
    /// are placed on it (spans carry wall-clock times).
    pub(crate) wall_start: SystemTime,
    /// The client span of the attempt under way.
    pub(crate) attempt_span: u64,
    /// Attempts that failed over, oldest first; the last one is still in
    /// the request context.
    pub(crate) failed: Vec<FailedAttempt>,
}

/// What a failed attempt's client span needs, kept when the next attempt
/// starts and the request context forgets it.
pub(crate) struct FailedAttempt {
    pub(crate) span_id: u64,
    pub(crate) key_index: usize,
    pub(crate) started: Instant,
    pub(crate) ended: Instant,
    pub(crate) connect: Option<Duration>,
    pub(crate) reused: Option<bool>,
    pub(crate) status: Option<u16>,
    /// Why it failed over (`connect`, `timeout`, `http_503`…).
    pub(crate) reason: &'static str,
}

impl RequestTrace {
    /// Continues the client's trace when its `traceparent` is valid
    /// (parent-based sampling: its sampled flag decides), else starts one
    /// that `sample_ratio` keeps or not.
    pub(crate) fn start(req: &RequestHeader, sample_ratio: f64) -> RequestTrace {
        let parent = req
            .headers
            .get("traceparent")
            .and_then(|v| parse_traceparent(v.as_bytes()));
        let (trace_id, parent, sampled, tracestate) = match parent {
            Some(p) => (
                p.trace_id,
                Some(p.span_id),
                p.sampled,
                tracestate(req).map(str::to_owned),
            ),
            None => {
                let trace_id = nonzero_u128();
                (trace_id, None, ratio_keeps(trace_id, sample_ratio), None)
            }
        };
        RequestTrace {
            trace_id,
            span_id: nonzero_u64(),
            parent,
            sampled,
            tracestate,
            wall_start: SystemTime::now(),
            attempt_span: nonzero_u64(),
            failed: Vec::new(),
        }
    }

    /// The header the provider gets: the trace, with strait's client span
    /// of this attempt as the parent.
    pub(crate) fn upstream_traceparent(&self) -> String {
        format!(
            "00-{:032x}-{:016x}-{:02x}",
            self.trace_id,
            self.attempt_span,
            u8::from(self.sampled)
        )
    }

    pub(crate) fn trace_id_hex(&self) -> String {
        format!("{:032x}", self.trace_id)
    }

    /// A new attempt: its own client span.
    pub(crate) fn next_attempt(&mut self, failed: FailedAttempt) {
        if self.sampled {
            self.failed.push(failed);
        }
        self.attempt_span = nonzero_u64();
    }

    /// `at`, a moment of this request, on the wall clock.
    pub(crate) fn wall(&self, request_start: Instant, at: Instant) -> SystemTime {
        self.wall_start + at.saturating_duration_since(request_start)
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Parent {
    pub(crate) trace_id: u128,
    pub(crate) span_id: u64,
    pub(crate) sampled: bool,
}

/// `version-traceid-parentid-flags`, lowercase hex. Version 00 is exactly
/// 55 characters; a later version may append fields after a `-`; `ff` and
/// all-zero ids are invalid. Anything invalid starts a new trace.
pub(crate) fn parse_traceparent(v: &[u8]) -> Option<Parent> {
    let s = std::str::from_utf8(v).ok()?.trim();
    if s.len() < 55 || !s.is_char_boundary(55) {
        return None;
    }
    let (head, rest) = s.split_at(55);
    let b = head.as_bytes();
    if b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return None;
    }
    let version = hex(&head[0..2])?;
    match version {
        0xff => return None,
        0 if !rest.is_empty() => return None,
        _ if !rest.is_empty() && !rest.starts_with('-') => return None,
        _ => {}
    }
    let trace_id = hex(&head[3..35])?;
    let span_id = hex(&head[36..52])? as u64;
    let flags = hex(&head[53..55])?;
    if trace_id == 0 || span_id == 0 {
        return None;
    }
    Some(Parent {
        trace_id,
        span_id,
        sampled: flags & 1 == 1,
    })
}

/// Lowercase hex only, as the spec has it.
fn hex(s: &str) -> Option<u128> {
    if !s
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    u128::from_str_radix(s, 16).ok()
}

/// The client's `tracestate`, passed on when it is printable and not
/// oversized; several headers are one list.
fn tracestate(req: &RequestHeader) -> Option<&str> {
    let mut values = req.headers.get_all("tracestate").iter();
    let first = values.next()?.to_str().ok()?.trim();
    // Joining several would allocate for a rare case: the first is kept.
    let ok = !first.is_empty()
        && first.len() <= MAX_TRACESTATE
        && first.bytes().all(|b| (0x20..0x7f).contains(&b));
    ok.then_some(first)
}

/// Like the SDK's `TraceIdRatioBased`: the trace id's low 63 bits against
/// the ratio, so every service sampling by ratio keeps the same traces.
pub(crate) fn ratio_keeps(trace_id: u128, ratio: f64) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    if ratio <= 0.0 {
        return false;
    }
    let bound = (ratio * (1u64 << 63) as f64) as u64;
    ((trace_id as u64) >> 1) < bound
}

fn nonzero_u128() -> u128 {
    rand::thread_rng().gen_range(1..=u128::MAX)
}

fn nonzero_u64() -> u64 {
    rand::thread_rng().gen_range(1..=u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    #[test]
    fn a_valid_traceparent_is_read() {
        let p = parse_traceparent(VALID.as_bytes()).unwrap();
        assert_eq!(p.trace_id, 0x0af7651916cd43dd8448eb211c80319c);
        assert_eq!(p.span_id, 0xb7ad6b7169203331);
        assert!(p.sampled);
        let unsampled = VALID.replace("-01", "-00");
        assert!(!parse_traceparent(unsampled.as_bytes()).unwrap().sampled);
        // A later version may carry more fields.
        let v1 = format!("01{}-extra", &VALID[2..]);
        assert!(parse_traceparent(v1.as_bytes()).is_some());
    }

    #[test]
    fn an_invalid_traceparent_is_refused() {
        for bad in [
            "",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-x",
            "00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01",
            "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01x",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b71692033é-01",
        ] {
            assert_eq!(parse_traceparent(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn the_client_trace_is_continued_and_the_provider_names_the_attempt() {
        let mut req = RequestHeader::build("POST", b"/", None).unwrap();
        req.insert_header("traceparent", VALID).unwrap();
        req.insert_header("tracestate", "vendor=x").unwrap();
        // Ratio 0 does not drop a sampled parent.
        let mut t = RequestTrace::start(&req, 0.0);
        assert!(t.sampled);
        assert_eq!(t.parent, Some(0xb7ad6b7169203331));
        assert_eq!(t.tracestate.as_deref(), Some("vendor=x"));
        let first = t.upstream_traceparent();
        assert!(first.starts_with("00-0af7651916cd43dd8448eb211c80319c-"));
        assert!(first.ends_with("-01"));
        let p = parse_traceparent(first.as_bytes()).unwrap();
        assert_eq!(p.span_id, t.attempt_span);
        assert_ne!(p.span_id, t.span_id);
        t.next_attempt(FailedAttempt {
            span_id: t.attempt_span,
            key_index: 0,
            started: Instant::now(),
            ended: Instant::now(),
            connect: None,
            reused: None,
            status: None,
            reason: "connect",
        });
        assert_ne!(t.upstream_traceparent(), first);
        assert_eq!(t.failed.len(), 1);
    }

    #[test]
    fn without_a_parent_the_ratio_decides() {
        let req = RequestHeader::build("POST", b"/", None).unwrap();
        assert!(RequestTrace::start(&req, 1.0).sampled);
        let t = RequestTrace::start(&req, 0.0);
        assert!(!t.sampled && t.parent.is_none());
        assert!(t.upstream_traceparent().ends_with("-00"));
        assert!(ratio_keeps(2, 0.5) && !ratio_keeps(u64::MAX as u128, 0.5));
        let kept = (0..10_000u128)
            .filter(|_| ratio_keeps(nonzero_u128(), 0.25))
            .count();
        assert!((2000..3000).contains(&kept), "{kept}");
    }
}
