use serde_json::{json, Value};

use super::*;

fn rewrite(body: &str) -> Option<String> {
    with_stream_usage(body.as_bytes(), false).map(|b| String::from_utf8(b).expect("still UTF-8"))
}

/// `body` rewritten, checked to be the same JSON with only
/// `stream_options.include_usage: true` set.
fn rewritten(body: &str) -> String {
    let out = rewrite(body).unwrap_or_else(|| panic!("left as it is: {body}"));
    let mut want: Value = serde_json::from_str(body).unwrap();
    let options = &mut want["stream_options"];
    if !options.is_object() {
        *options = json!({});
    }
    options["include_usage"] = json!(true);
    let got: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(got, want, "{out}");
    out
}

#[test]
fn the_member_is_added_after_the_last_one_and_nothing_else_moves() {
    assert_eq!(
        rewritten(r#"{"model":"gpt-4o","messages":[],"stream":true}"#),
        r#"{"model":"gpt-4o","messages":[],"stream":true,"stream_options":{"include_usage":true}}"#
    );
    // Whitespace, number spellings and escapes as the client wrote them.
    let body = "{\n  \"stream\" : true ,\n  \"temperature\": 1.0E0,\n  \"n\": 1,\n  \"stop\": \"\\u00e9\\n\"\n}\n";
    assert_eq!(
        rewritten(body),
        "{\n  \"stream\" : true ,\n  \"temperature\": 1.0E0,\n  \"n\": 1,\n  \"stop\": \"\\u00e9\\n\",\"stream_options\":{\"include_usage\":true}\n}\n"
    );
}

#[test]
fn other_stream_options_are_kept() {
    assert_eq!(
        rewritten(r#"{"stream":true,"stream_options":{"continuous_usage_stats":true},"n":2}"#),
        r#"{"stream":true,"stream_options":{"include_usage":true,"continuous_usage_stats":true},"n":2}"#
    );
    assert_eq!(
        rewritten(r#"{"stream":true,"stream_options":{}}"#),
        r#"{"stream":true,"stream_options":{"include_usage":true}}"#
    );
    assert_eq!(
        rewritten(r#"{"stream":true,"stream_options": { } }"#),
        r#"{"stream":true,"stream_options": {"include_usage":true } }"#
    );
}

#[test]
fn null_means_unset() {
    assert_eq!(
        rewritten(r#"{"stream":true,"stream_options":null}"#),
        r#"{"stream":true,"stream_options":{"include_usage":true}}"#
    );
    assert_eq!(
        rewritten(r#"{"stream":true,"stream_options":{"include_usage":null,"x":1}}"#),
        r#"{"stream":true,"stream_options":{"include_usage":true,"x":1}}"#
    );
}

#[test]
fn a_client_that_says_what_it_wants_keeps_it() {
    for body in [
        r#"{"stream":true,"stream_options":{"include_usage":true}}"#,
        r#"{"stream":true,"stream_options":{"include_usage":false}}"#,
        r#"{"stream_options":{"x":1,"include_usage":false},"stream":true}"#,
        // Not an object: the provider will say what is wrong with it.
        r#"{"stream":true,"stream_options":"yes"}"#,
    ] {
        assert_eq!(rewrite(body), None, "{body}");
    }
}

#[test]
fn a_key_with_a_token_or_money_limit_gets_usage_even_when_the_client_said_no() {
    let body = r#"{"stream":true,"stream_options":{"x":1,"include_usage":false}}"#;
    let out = with_stream_usage(body.as_bytes(), true).expect("overruled");
    assert_eq!(
        String::from_utf8(out).unwrap(),
        r#"{"stream":true,"stream_options":{"x":1,"include_usage":true}}"#
    );
    let yes = r#"{"stream":true,"stream_options":{"include_usage":true}}"#;
    assert_eq!(with_stream_usage(yes.as_bytes(), true), None);
}

#[test]
fn only_a_top_level_stream_true_is_a_stream() {
    for body in [
        r#"{"model":"m","messages":[]}"#,
        r#"{"stream":false}"#,
        r#"{"stream":"true"}"#,
        r#"{"stream":1}"#,
        r#"{"stream":null}"#,
        r#"{"messages":[{"stream":true}],"metadata":{"stream":true}}"#,
        // In strings, escaped quotes cannot spell the key.
        r#"{"messages":[{"role":"user","content":"{\"stream\": true}"}]}"#,
        r#"{"role":"stream","stream_mode":true}"#,
        // A key spelled with escapes is not recognised (documented).
        r#"{"str\u0065am":true}"#,
    ] {
        assert_eq!(rewrite(body), None, "{body}");
    }
    // Nested look-alikes and strings do not confuse the top level.
    rewritten(
        r#"{"messages":[{"content":"}{\"stream\":false,\\"},{"stream":false}],"x":"\\","stream":true}"#,
    );
}

#[test]
fn unicode_and_escapes_pass_through_byte_for_byte() {
    let body =
        "{\"messages\":[{\"content\":\"héllo 😀 \\ud83d\\ude00 \\\"q\\\" \\\\\"}],\"stream\":true}";
    let out = rewritten(body);
    assert!(out.starts_with(&body[..body.len() - 1]), "{out}");
}

#[test]
fn the_last_of_duplicate_keys_counts() {
    rewritten(r#"{"stream":false,"stream":true}"#);
    assert_eq!(rewrite(r#"{"stream":true,"stream":false}"#), None);
    assert_eq!(
        rewrite(r#"{"stream":true,"stream_options":{"include_usage":true},"stream_options":{}}"#)
            .as_deref(),
        Some(
            r#"{"stream":true,"stream_options":{"include_usage":true},"stream_options":{"include_usage":true}}"#
        )
    );
}

#[test]
fn anything_but_a_valid_json_object_is_left_alone() {
    for body in [
        "",
        "stream",
        r#""stream""#,
        r#"["stream",true]"#,
        r#"[{"stream":true}]"#,
        r#"{"stream":true"#,
        r#"{"stream":true,}"#,
        r#"{"stream":true} {}"#,
        r#"{"stream":true}x"#,
        r#"{"stream" true}"#,
        r#"{"stream":true,"messages":[1,}"#,
        r#"{"stream":true,"messages":[{"a":"unterminated}]}"#,
        r#"{"stream":true,"n":01}"#,
        r#"{"stream":true,"messages":[}"#,
        r#"{"stream":true,"a":"\q"}"#,
        r#"{"stream":true,"a":"\"#,
    ] {
        assert_eq!(rewrite(body), None, "{body:?}");
    }
    // Not UTF-8 inside a string: invalid JSON.
    let mut bad = br#"{"stream":true,"a":""#.to_vec();
    bad.extend_from_slice(&[0xff, b'"', b'}']);
    assert_eq!(with_stream_usage(&bad, true), None);
}

#[test]
fn huge_bodies_are_rewritten_in_one_pass() {
    let filler = "x\\\"y{[".repeat(1_000_000);
    let body = format!(
        r#"{{"messages":[{{"role":"user","content":"{filler}"}}],"model":"gpt-4o","stream":true}}"#
    );
    let out = rewritten(&body);
    assert_eq!(
        out.len(),
        body.len() + r#","stream_options":{"include_usage":true}"#.len()
    );
    assert!(out.starts_with(&body[..body.len() - 1]));
    // And a huge body that is no stream costs one search.
    let plain = format!(r#"{{"messages":[{{"content":"{filler}"}}]}}"#);
    assert_eq!(rewrite(&plain), None);
}

#[test]
fn openai_chat_paths_of_each_provider() {
    use ProviderKind::*;
    let cases = [
        (OpenAi, "/v1/chat/completions", true),
        (OpenAi, "/chat/completions", true),
        (OpenAi, "/v1/completions", false),
        (OpenAi, "/v1/responses", false),
        (OpenAi, "/v1/chat/completions/abc/messages", false),
        (Azure, "/openai/deployments/gpt-4o/chat/completions", true),
        (Azure, "/openai/v1/chat/completions", true),
        (Azure, "/anthropic/v1/messages", false),
        (Gemini, "/v1beta/openai/chat/completions", true),
        (Gemini, "/v1beta/models/g:streamGenerateContent", false),
        (
            Vertex,
            "/v1/projects/p/locations/l/endpoints/openapi/chat/completions",
            true,
        ),
        (
            Vertex,
            "/v1/projects/p/locations/l/publishers/anthropic/models/c:streamRawPredict",
            false,
        ),
        (Anthropic, "/v1/chat/completions", false),
    ];
    for (kind, path, want) in cases {
        assert_eq!(is_openai_chat(kind, path), want, "{kind:?} {path}");
    }
}
