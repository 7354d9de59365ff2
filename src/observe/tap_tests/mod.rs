//! Usage extraction on recorded-shape responses of every provider and shape.

use bytes::Bytes;
use pingora::http::ResponseHeader;

use super::tap::{Outcome, ResponseTap, UsageState};
use super::usage::{Format, Tokens};

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/usage/",
            $name
        ))
        .as_slice()
    };
}

const SSE: &str = "text/event-stream";
const JSON: &str = "application/json";

struct Case {
    name: &'static str,
    format: Format,
    content_type: &'static str,
    body: &'static [u8],
    model: &'static str,
    tokens: Option<Tokens>,
}

fn t(input: u64, output: u64, cached: u64, cache_creation: u64, reasoning: u64) -> Option<Tokens> {
    Some(Tokens {
        input,
        output,
        cached,
        cache_creation,
        reasoning,
    })
}

fn cases() -> Vec<Case> {
    use Format::*;
    let c = |name, format, content_type, body, model, tokens| Case {
        name,
        format,
        content_type,
        body,
        model,
        tokens,
    };
    vec![
        c(
            "openai chat",
            OpenAi,
            JSON,
            fixture!("openai_chat.json"),
            "gpt-4.1-2025-04-14",
            t(19, 10, 4, 0, 2),
        ),
        c(
            "openai chat stream",
            OpenAi,
            SSE,
            fixture!("openai_chat_stream.sse"),
            "gpt-4o-mini-2024-07-18",
            t(9, 12, 0, 0, 0),
        ),
        c(
            "openai stream without usage",
            OpenAi,
            SSE,
            fixture!("openai_chat_stream_no_usage.sse"),
            "gpt-4o-mini-2024-07-18",
            None,
        ),
        c(
            "openai embeddings",
            OpenAi,
            JSON,
            fixture!("openai_embeddings.json"),
            "text-embedding-3-small",
            t(8, 0, 0, 0, 0),
        ),
        c(
            "openai responses",
            OpenAi,
            JSON,
            fixture!("openai_responses.json"),
            "gpt-4.1-2025-04-14",
            t(36, 87, 6, 0, 12),
        ),
        c(
            "openai responses stream",
            OpenAi,
            SSE,
            fixture!("openai_responses_stream.sse"),
            "o4-mini-2025-04-16",
            t(37, 11, 3, 0, 5),
        ),
        c(
            "azure chat stream",
            OpenAi,
            SSE,
            fixture!("azure_chat_stream.sse"),
            "gpt-4o-2024-11-20",
            t(41, 14, 6, 0, 0),
        ),
        c(
            "anthropic message",
            Anthropic,
            JSON,
            fixture!("anthropic_message.json"),
            "claude-sonnet-4-5-20250929",
            t(2095 + 1800 + 100, 503, 1800, 100, 0),
        ),
        c(
            "anthropic stream",
            Anthropic,
            SSE,
            fixture!("anthropic_stream.sse"),
            "claude-opus-4-1-20250805",
            t(25 + 13 + 7, 15, 13, 7, 0),
        ),
        c(
            "gemini generate",
            Gemini,
            JSON,
            fixture!("gemini_generate.json"),
            "gemini-2.5-flash",
            t(8, 20 + 32, 3, 0, 32),
        ),
        c(
            "gemini stream",
            Gemini,
            SSE,
            fixture!("gemini_stream.sse"),
            "gemini-2.0-flash",
            t(10 + 1, 5 + 4, 2, 0, 4),
        ),
        c(
            "gemini stream as a JSON array",
            Gemini,
            JSON,
            fixture!("gemini_stream_array.json"),
            "gemini-2.0-flash",
            t(10, 6, 0, 0, 0),
        ),
    ]
}

fn header(content_type: &str, encoding: Option<&str>) -> ResponseHeader {
    let mut h = ResponseHeader::build(200, None).unwrap();
    h.insert_header("content-type", content_type).unwrap();
    if let Some(e) = encoding {
        h.insert_header("content-encoding", e).unwrap();
    }
    h
}

fn run(case: &Case, chunks: &[&[u8]], ended: bool) -> Outcome {
    let mut tap = ResponseTap::new(case.format, &header(case.content_type, None));
    for c in chunks {
        tap.feed(&Bytes::copy_from_slice(c));
    }
    if ended {
        tap.end();
    }
    tap.finish()
}

#[test]
fn every_provider_and_shape_whole() {
    for case in cases() {
        let got = run(&case, &[case.body], true);
        let state = if case.tokens.is_some() {
            UsageState::Reported
        } else {
            UsageState::Absent
        };
        assert_eq!(got.state, Some(state), "{}", case.name);
        assert_eq!(got.tokens, case.tokens, "{}", case.name);
        assert_eq!(got.model.as_deref(), Some(case.model), "{}", case.name);
    }
}

#[test]
fn split_at_every_byte_boundary() {
    for case in cases() {
        let whole = run(&case, &[case.body], true);
        for i in 0..=case.body.len() {
            let got = run(&case, &[&case.body[..i], &case.body[i..]], true);
            assert_eq!(got, whole, "{} split at {i}", case.name);
        }
        let bytes: Vec<&[u8]> = case.body.chunks(1).collect();
        assert_eq!(
            run(&case, &bytes, true),
            whole,
            "{} byte by byte",
            case.name
        );
    }
}

#[test]
fn final_event_without_its_blank_line() {
    for case in cases().iter().filter(|c| c.content_type == SSE) {
        let trimmed = case.body.trim_ascii_end();
        let got = run(case, &[trimmed], true);
        assert_eq!(got, run(case, &[case.body], true), "{}", case.name);
    }
}

mod edges;
