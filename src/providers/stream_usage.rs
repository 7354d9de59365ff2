//! OpenAI-style chat completion streams report token usage only when the
//! request asks for it (`stream_options.include_usage`), and most clients
//! do not: without it a streamed call's tokens and cost are unknown. So
//! strait asks on the client's behalf, by adding the member to the body.
//!
//! The body is edited where it stands rather than parsed and re-serialised:
//! every byte the client sent is kept (key order, number spellings,
//! escapes, whitespace), and only the new member is spliced in. A body that
//! is not a JSON object, or not valid JSON, is never touched.

use std::ops::Range;

use super::ProviderKind;
use crate::observe::usage::Format;

/// Whether `path` is a chat completions endpoint in OpenAI's format: the
/// same rule that reads usage from its responses, restricted to chat
/// (OpenAI, Azure OpenAI, Gemini's `/openai/` and Vertex's
/// `/endpoints/openapi/` compatibility endpoints).
pub(crate) fn is_openai_chat(kind: ProviderKind, path: &str) -> bool {
    path.ends_with("/chat/completions") && kind.rules().usage_format(path) == Format::OpenAi
}

/// The body with `"stream_options":{"include_usage":true}` added, when it
/// is a JSON object with `"stream": true` that does not say whether it
/// wants usage; `None` leaves the body as it is.
///
/// "Does not say" means no `include_usage`, or `null` for it or for
/// `stream_options` (what an SDK sends for an unset option). A client that
/// says `include_usage: false` keeps its choice, unless `overrule` (its
/// virtual key is held to tokens or money, which a stream without usage
/// would slip past): then `false` becomes `true`. Other members of
/// `stream_options` are kept. Of duplicate keys the last counts, as in
/// the parsers providers use. A key spelled with escapes
/// (`"str\u0065am"`) is not recognised: such a body is left as it is.
pub(crate) fn with_stream_usage(body: &[u8], overrule: bool) -> Option<Vec<u8>> {
    // The cheap test first: most bodies that are not streams never say
    // "stream". A string value "stream" or a nested key only costs a scan.
    memchr::memmem::find(body, b"\"stream\"")?;
    let top = members(body, 0, true)?;
    if body.get(top.stream.clone()?)? != b"true" {
        return None;
    }
    let edit = match top.stream_options {
        None => Edit::insert(
            top.last_value_end?,
            b",\"stream_options\":{\"include_usage\":true}",
        ),
        Some(v) if &body[v.clone()] == b"null" => Edit::replace(v, b"{\"include_usage\":true}"),
        Some(v) if body[v.start] == b'{' => {
            let inner = members(body, v.start, false)?;
            match inner.include_usage {
                None if inner.last_value_end.is_none() => {
                    Edit::insert(v.start + 1, b"\"include_usage\":true")
                }
                None => Edit::insert(v.start + 1, b"\"include_usage\":true,"),
                Some(u) if &body[u.clone()] == b"null" => Edit::replace(u, b"true"),
                Some(u) if overrule && &body[u.clone()] == b"false" => Edit::replace(u, b"true"),
                Some(_) => return None,
            }
        }
        Some(_) => return None,
    };
    // Only a body about to be changed pays for a full validation: the scan
    // above reads the top level and skips nested values unchecked. UTF-8
    // first, because serde_json does not check strings it skips.
    serde_json::from_str::<serde::de::IgnoredAny>(std::str::from_utf8(body).ok()?).ok()?;
    Some(edit.apply(body))
}

/// Bytes `at` replaced by `with` (an empty range inserts).
struct Edit {
    at: Range<usize>,
    with: &'static [u8],
}

impl Edit {
    fn insert(at: usize, with: &'static [u8]) -> Edit {
        Edit { at: at..at, with }
    }

    fn replace(at: Range<usize>, with: &'static [u8]) -> Edit {
        Edit { at, with }
    }

    fn apply(&self, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(body.len() + self.with.len());
        out.extend_from_slice(&body[..self.at.start]);
        out.extend_from_slice(self.with);
        out.extend_from_slice(&body[self.at.end..]);
        out
    }
}

/// Where the members of one object that matter here are (value ranges).
#[derive(Default)]
struct Members {
    stream: Option<Range<usize>>,
    stream_options: Option<Range<usize>>,
    include_usage: Option<Range<usize>>,
    /// The end of the last member's value; `None` for an empty object.
    last_value_end: Option<usize>,
}

/// The members of the object at `start` (a `{`, after whitespace at the
/// top level, where nothing but whitespace may follow it). `None` when the
/// bytes are not an object of that shape.
fn members(b: &[u8], start: usize, top: bool) -> Option<Members> {
    // Whether the object's closing brace at `i` ends it as it should.
    let closes = |i: usize| !top || skip_ws(b, i + 1) == b.len();
    let mut out = Members::default();
    let mut i = skip_ws(b, start);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return closes(i).then_some(out);
    }
    loop {
        let key = string(b, i)?;
        i = skip_ws(b, key.end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        let value = value(b, skip_ws(b, i + 1))?;
        // Keys compared as written, quotes included.
        match &b[key] {
            b"\"stream\"" => out.stream = Some(value.clone()),
            b"\"stream_options\"" => out.stream_options = Some(value.clone()),
            b"\"include_usage\"" => out.include_usage = Some(value.clone()),
            _ => {}
        }
        out.last_value_end = Some(value.end);
        i = skip_ws(b, value.end);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b'}') if closes(i) => return Some(out),
            _ => return None,
        }
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The string starting at `i` (a `"`), quotes included.
fn string(b: &[u8], i: usize) -> Option<Range<usize>> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let mut j = i + 1;
    loop {
        j += memchr::memchr2(b'"', b'\\', b.get(j..)?)?;
        if b[j] == b'"' {
            return Some(i..j + 1);
        }
        // An escape: whatever follows the backslash is part of the string.
        j += 2;
    }
}

/// The value starting at `i`: a string, an object or array (skipped by
/// nesting, strings inside stepped over whole), or a literal or number.
fn value(b: &[u8], i: usize) -> Option<Range<usize>> {
    match *b.get(i)? {
        b'"' => string(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match *b.get(j)? {
                    b'"' => {
                        j = string(b, j)?.end;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i..j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let len = b[i..]
                .iter()
                .position(|c| matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(b.len() - i);
            (len > 0).then(|| i..i + len)
        }
    }
}

#[cfg(test)]
#[path = "stream_usage_tests.rs"]
mod tests;
