//! Usage extraction at the edges: cut streams, bodies it must not read,
//! oversized events, huge counts.

use super::*;

#[test]
fn a_stream_cut_off_mid_event_keeps_what_arrived_whole() {
    let case = cases()
        .into_iter()
        .find(|c| c.name == "anthropic stream")
        .unwrap();
    let cut = case
        .body
        .windows(13)
        .position(|w| w == b"message_delta")
        .unwrap()
        + 40;
    let got = run(&case, &[&case.body[..cut]], false);
    assert_eq!(got.state, Some(UsageState::Partial));
    // message_start's counts (output 1), nothing from the half-read delta.
    assert_eq!(got.tokens, t(45, 1, 13, 7, 0));
    // Cut anywhere, nothing panics, and an unfinished response is never
    // called complete (Reported) or usage-free (Absent).
    for case in cases() {
        for i in 0..case.body.len() {
            let got = run(&case, &[&case.body[..i]], false);
            assert_ne!(
                got.state,
                Some(UsageState::Reported),
                "{} cut at {i}",
                case.name
            );
            assert_ne!(
                got.state,
                Some(UsageState::Absent),
                "{} cut at {i}",
                case.name
            );
        }
    }
}

#[test]
fn compressed_oversized_and_foreign_bodies_are_not_read() {
    let case = &cases()[0];
    let mut tap = ResponseTap::new(Format::OpenAi, &header(JSON, Some("gzip")));
    tap.feed(&Bytes::from_static(case.body));
    tap.end();
    assert_eq!(tap.finish().state, Some(UsageState::Unknown));

    let mut tap = ResponseTap::new(Format::OpenAi, &header(JSON, None));
    let big = Bytes::from(vec![b' '; 1024 * 1024]);
    for _ in 0..5 {
        tap.feed(&big);
    }
    tap.feed(&Bytes::from_static(case.body));
    tap.end();
    assert_eq!(
        tap.finish(),
        Outcome {
            state: Some(UsageState::Unknown),
            tokens: None,
            model: None
        }
    );

    let mut tap = ResponseTap::new(Format::OpenAi, &header("audio/mpeg", None));
    tap.feed(&Bytes::from_static(b"ID3..."));
    tap.end();
    assert_eq!(tap.finish().state, None);

    let mut tap = ResponseTap::new(Format::OpenAi, &header(JSON, None));
    tap.feed(&Bytes::from_static(b"<html>bad gateway</html>"));
    tap.end();
    assert_eq!(tap.finish().state, Some(UsageState::Unknown));
}

#[test]
fn an_oversized_event_makes_usage_unknown_without_stopping_the_reader() {
    let case = cases()
        .into_iter()
        .find(|c| c.name == "openai chat stream")
        .unwrap();
    let mut tap = ResponseTap::new(case.format, &header(SSE, None));
    let huge = format!(
        "data: {{\"x\":\"{}\"}}\n\n",
        "y".repeat(crate::observe::sse::EVENT_CAP)
    );
    tap.feed(&Bytes::from(huge));
    tap.feed(&Bytes::from_static(case.body));
    tap.end();
    let got = tap.finish();
    assert_eq!(got.state, Some(UsageState::Unknown));
    assert_eq!(got.tokens, None);
}

#[test]
fn only_events_with_a_usage_object_are_kept() {
    use crate::observe::usage::carries_usage;
    assert!(carries_usage(
        br#"{"choices":[],"usage":{"prompt_tokens":1}}"#
    ));
    assert!(carries_usage(br#"{"usage" : {"x":1}}"#));
    assert!(carries_usage(
        br#"{"usageMetadata": {"promptTokenCount": 1}}"#
    ));
    assert!(!carries_usage(
        br#"{"choices":[{"delta":{"content":"usage"}}],"usage":null}"#
    ));
    assert!(!carries_usage(br#"{"text":"\"usage\" is a word"}"#));
    assert!(!carries_usage(br#"{"usages":{"x":1}}"#));
}

/// Found by the `sse_usage` fuzz target (fuzz/corpus/sse_usage/seed-crash-*):
/// counts near u64::MAX overflowed the sums in `Usage::tokens`.
#[test]
fn huge_token_counts_saturate_instead_of_overflowing() {
    let tokens = |input, output, cached, reasoning| Tokens {
        input,
        output,
        cached,
        cache_creation: 0,
        reasoning,
    };
    let cases: [(Format, &[u8], Tokens); 3] = [
        (
            Format::Anthropic,
            br#"{"usage":{"input_tokens":18446744073709551615,"cache_read_input_tokens":1}}"#,
            tokens(u64::MAX, 0, 1, 0),
        ),
        (
            Format::Gemini,
            br#"{"usageMetadata":{"promptTokenCount":18446744073709551615,"toolUsePromptTokenCount":1}}"#,
            tokens(u64::MAX, 0, 0, 0),
        ),
        (
            Format::Gemini,
            br#"{"usageMetadata":{"candidatesTokenCount":18446744073709551615,"thoughtsTokenCount":1}}"#,
            tokens(0, u64::MAX, 0, 1),
        ),
    ];
    for (format, doc, want) in cases {
        let sse = [b"data: ".as_slice(), doc, b"\n\n"].concat();
        for (content_type, body) in [(JSON, doc.to_vec()), (SSE, sse)] {
            let mut tap = ResponseTap::new(format, &header(content_type, None));
            tap.feed(&Bytes::from(body));
            tap.end();
            let out = tap.finish();
            assert_eq!(
                out.state,
                Some(UsageState::Reported),
                "{format:?} {content_type}"
            );
            assert_eq!(out.tokens, Some(want), "{format:?} {content_type}");
        }
    }
}
