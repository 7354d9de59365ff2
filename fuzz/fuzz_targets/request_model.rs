//! The request-body model scanner: chunking must not change the answer.
//!
//! Input: byte 0 seeds the chunk sizes, the rest is the body. The body is
//! fed whole, byte by byte, and in seeded chunks (empty reads included);
//! all three must agree on the model found and on whether the scanner is
//! still active.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strait::facade::ModelScanner;

fn scan<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> (Option<String>, bool) {
    let mut s = ModelScanner::default();
    for p in parts {
        s.feed(p);
    }
    let active = s.active();
    let found = s.found().map(str::to_owned);
    assert_eq!(found, s.take(), "found() and take() disagree");
    (found, active)
}

/// Splits `body` into chunks of 0..=max bytes, sizes from an LCG seeded by `seed`.
fn chunks(body: &[u8], seed: u8) -> Vec<&[u8]> {
    let max = (seed as usize % 16) + 1;
    let mut state = seed as u32 | 1;
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let n = ((state >> 16) as usize % (max + 1)).min(rest.len());
        let (a, b) = rest.split_at(n);
        out.push(a);
        rest = b;
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, body)) = data.split_first() else {
        return;
    };
    let whole = scan([body]);
    let bytewise = scan(body.chunks(1));
    assert_eq!(whole, bytewise, "byte-by-byte differs for {body:?}");
    let parts = chunks(body, seed);
    let chunked = scan(parts.iter().copied());
    assert_eq!(whole, chunked, "chunks {parts:?} differ");
});
