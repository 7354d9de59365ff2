//! The response tap: SSE and JSON bodies, split into arbitrary chunks, for
//! every usage format. Must not panic, and the outcome must not depend on
//! how the body was split into reads.
//!
//! Input: byte 0 seeds the chunk sizes, byte 1 holds flags (bit 0: the
//! stream is cut short, `end()` is not called), the rest is the body.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use pingora::http::ResponseHeader;
use strait::facade::{Outcome, ResponseTap};
use strait::facade::Format;

const FORMATS: [Format; 3] = [Format::OpenAi, Format::Anthropic, Format::Gemini];
const CONTENT_TYPES: [&str; 2] = ["text/event-stream", "application/json"];

/// Splits `body` into chunks of 0..=max bytes (empty reads included),
/// sizes from an LCG seeded by `seed`; seed 0 means one chunk.
fn chunks(body: &Bytes, seed: u8) -> Vec<Bytes> {
    if seed == 0 {
        return vec![body.clone()];
    }
    let max = seed as usize;
    let mut state = seed as u32;
    let mut out = Vec::new();
    let mut at = 0;
    while at < body.len() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let n = ((state >> 16) as usize % (max + 1)).min(body.len() - at);
        out.push(body.slice(at..at + n));
        at += n;
    }
    out
}

fn run(format: Format, resp: &ResponseHeader, parts: &[Bytes], end: bool) -> Outcome {
    let mut tap = ResponseTap::new(format, resp);
    for p in parts {
        tap.feed(p);
    }
    if end {
        tap.end();
        assert!(tap.ended());
    }
    tap.finish()
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (seed, flags) = (data[0], data[1]);
    let end = flags & 1 == 0;
    let body = Bytes::copy_from_slice(&data[2..]);
    let parts = chunks(&body, seed);
    for content_type in CONTENT_TYPES {
        let mut resp = ResponseHeader::build(200, None).unwrap();
        resp.insert_header("content-type", content_type).unwrap();
        for format in FORMATS {
            let chunked = run(format, &resp, &parts, end);
            let whole = run(format, &resp, std::slice::from_ref(&body), end);
            assert_eq!(
                chunked, whole,
                "{format:?} {content_type}: outcome depends on the chunking {parts:?}"
            );
            assert!(
                chunked.state.is_some(),
                "usage must apply to {content_type}"
            );
        }
    }
});
