//! OpenAI-style chat streams asked for their usage: what the provider
//! receives (the client's body with `stream_options.include_usage: true`
//! spliced in, nothing else changed, any size, on every attempt), what the
//! client gets (the usage chunk) and the access log (the tokens); and what
//! is left exactly as the client sent it.

mod support;

use serde_json::{json, Value};
use strait_mock::{Recorded, Usage, AZURE_USAGE, GEMINI_USAGE, OPENAI_USAGE};
use support::*;

const AUTH: (&str, &str) = ("authorization", "Bearer vk-test-team-a");
const MEMBER: &str = r#","stream_options":{"include_usage":true}"#;
const AZURE_CHAT: &str =
    "/azure_passthrough/openai/deployments/gpt-test/chat/completions?api-version=2024-10-21";

/// A chat request as a client might write it by hand: whitespace, escapes,
/// unicode, numbers spelled several ways, look-alike keys nested inside,
/// `filler` bytes of user content, and `"stream": true` last.
fn chat_stream(filler: usize) -> String {
    let filler = "lorem ipsum ".repeat(filler / 12 + 1);
    format!(
        r#"{{
  "model": "gpt-test",
  "messages": [
    {{"role": "system", "content": "Tu es \"précis\" 😀\n\u00e9 \\ {{\"stream\": false}}"}},
    {{"role": "user", "content": "{filler}"}}
  ],
  "temperature": 0.70, "top_p": 1e-3, "seed": 12345678901234567, "max_tokens": 5,
  "tools": [{{"type": "function", "function": {{"name": "f", "parameters":
    {{"type": "object", "properties": {{"stream": {{"type": "boolean"}}}}}}}}}}],
  "metadata": {{"stream_options": "none"}},
  "stream": true
}}
"#
    )
}

/// `sent` with the member spliced in after its last value.
fn spliced(sent: &str) -> String {
    let close = sent.rfind('}').unwrap();
    let at = sent[..close].trim_end().len();
    format!("{}{MEMBER}{}", &sent[..at], &sent[at..])
}

/// What the provider got is what the client sent, with include_usage set
/// and every other member as it was, byte for byte.
fn assert_asked_for_usage(rec: &Recorded, sent: &str) {
    let got: Value = rec.json();
    let mut want: Value = serde_json::from_str(sent).unwrap();
    want["stream_options"] = json!({"include_usage": true});
    assert_eq!(got, want, "the JSON differs beyond stream_options");
    assert!(
        rec.body == spliced(sent).as_bytes(),
        "not a splice of the client's bytes"
    );
    assert_eq!(
        rec.header("content-length"),
        Some(rec.body.len().to_string().as_str())
    );
}

/// The client's stream ends with the usage chunk, and the log has it.
fn assert_usage_reported(gw: &Gateway, reply: &Reply, id: &str, usage: Usage) {
    assert_eq!(reply.status, 200, "{id}: {}", reply.text());
    let text = reply.text();
    let events: Vec<&str> = text
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .collect();
    assert_eq!(events.last(), Some(&"[DONE]"), "{id}: {text}");
    let last: Value = serde_json::from_str(events[events.len() - 2]).unwrap();
    assert_eq!(last["choices"], json!([]), "{id}: {last}");
    assert_eq!(last["usage"]["prompt_tokens"], usage.input, "{id}: {last}");
    let line = gw.log_line(id);
    assert_eq!(line["usage"], "reported", "{id}: {line}");
    assert_eq!(line["streamed"], true, "{id}: {line}");
    assert_eq!(line["input_tokens"], usage.input, "{id}: {line}");
    assert_eq!(line["output_tokens"], usage.output, "{id}: {line}");
    assert_eq!(line["cached_tokens"], usage.cached, "{id}: {line}");
    assert_eq!(line["reasoning_tokens"], usage.reasoning, "{id}: {line}");
}

fn send(gw: &Gateway, path: &str, id: &str, auth: (&str, &str), body: &str) -> Reply {
    let headers = [
        auth,
        ("content-type", "application/json"),
        ("x-request-id", id),
    ];
    request("POST", &gw.url(path), &headers, body.to_string())
}

/// Vertex in express mode (an API key) on the Gemini-flavor mock.
fn config_with_vertex(mocks: &Mocks, extra: &str) -> String {
    mocks.config(&format!(
        "  vertex:\n    network_config: {{ base_url: \"{}\" }}\n    keys:\n      - name: express\n        value: {GEMINI_KEY}\n        vertex_key_config: {{ project_id: strait-test-project, region: us-central1 }}\n{extra}",
        mocks.gemini.url()
    ))
}

#[test]
fn a_chat_stream_without_stream_options_ends_with_usage_on_every_openai_style_endpoint() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&config_with_vertex(&mocks, ""));
    let sent = chat_stream(100);
    let goog = ("x-goog-api-key", VK);
    let cases = [
        ("openai", "/openai_passthrough/v1/chat/completions", AUTH, &mocks.openai, OPENAI_USAGE),
        ("azure", AZURE_CHAT, ("api-key", VK), &mocks.azure, AZURE_USAGE),
        ("azure-v1", "/azure_passthrough/openai/v1/chat/completions", AUTH, &mocks.azure, AZURE_USAGE),
        ("gemini", "/genai_passthrough/v1beta/openai/chat/completions", goog, &mocks.gemini, GEMINI_USAGE),
        (
            "vertex",
            "/genai_passthrough/v1/projects/p/locations/us-central1/endpoints/openapi/chat/completions",
            goog,
            &mocks.gemini,
            GEMINI_USAGE,
        ),
    ];
    for (id, path, auth, mock, usage) in cases {
        let reply = send(&gw, path, id, auth, &sent);
        assert_usage_reported(&gw, &reply, id, usage);
        assert_asked_for_usage(&mock.last(), &sent);
        assert_eq!(gw.log_line(id)["provider"], id.trim_end_matches("-v1"));
    }

    // Other stream options are kept, include_usage goes in front of them.
    let sent = r#"{"model":"gpt-test","messages":[],"stream":true,"stream_options":{"continuous_usage_stats":false}}"#;
    let reply = send(
        &gw,
        "/openai_passthrough/v1/chat/completions",
        "more",
        AUTH,
        sent,
    );
    assert_usage_reported(&gw, &reply, "more", OPENAI_USAGE);
    assert_eq!(
        mocks.openai.last().json()["stream_options"],
        json!({"include_usage": true, "continuous_usage_stats": false})
    );
}

#[test]
fn bodies_far_above_64_kib_are_rewritten_whole() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&mocks.config(""));
    for size in [64 * 1024 - 600, 64 * 1024 + 1, 300 * 1024, 3 * 1024 * 1024] {
        let sent = chat_stream(size);
        let id = format!("big-{size}");
        let reply = send(
            &gw,
            "/openai_passthrough/v1/chat/completions",
            &id,
            AUTH,
            &sent,
        );
        assert_usage_reported(&gw, &reply, &id, OPENAI_USAGE);
        assert_asked_for_usage(&mocks.openai.last(), &sent);
        // The client's byte count, not the edited one.
        assert_eq!(gw.log_line(&id)["bytes_in"], sent.len());
    }
}

/// Azure with two keys: `bad` (weight 100, at `bad_url`) and `good` (the mock).
fn two_azure_keys(mocks: &Mocks, bad_url: &str) -> String {
    mocks.config("").replace(
        &format!("  azure:\n    keys:\n      - name: eastus\n        value: {AZURE_KEY}\n        azure_key_config: {{ endpoint: \"{}\" }}", mocks.azure.url()),
        &format!(
            "  azure:\n    retry_on_status: [503]\n    keys:\n      - name: bad\n        value: {AZURE_KEY}\n        weight: 100\n        azure_key_config: {{ endpoint: \"{bad_url}\" }}\n      - name: good\n        value: {AZURE_KEY}\n        weight: 1\n        azure_key_config: {{ endpoint: \"{}\" }}",
            mocks.azure.url()
        ),
    )
}

#[test]
fn a_failover_sends_the_rewritten_body_again() {
    let mocks = Mocks::start();
    // A key that answers 503 after reading the whole (edited) request.
    let (failing, hits) = faults::start_counting(faults::Fault::Status(503));
    let gw = Gateway::start(&two_azure_keys(&mocks, &format!("http://{failing}")));
    let sent = chat_stream(1000);
    let reply = send(&gw, AZURE_CHAT, "replay", ("api-key", VK), &sent);
    assert_usage_reported(&gw, &reply, "replay", AZURE_USAGE);
    assert_eq!(gw.log_line("replay")["key"], "good");
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_asked_for_usage(&mocks.azure.last(), &sent);
    drop(gw);

    // A key that cannot be reached, with a body Pingora cannot replay itself.
    let dead = faults::refusing_addr();
    let gw = Gateway::start(&two_azure_keys(&mocks, &format!("http://{dead}")));
    let sent = chat_stream(200 * 1024);
    let reply = send(&gw, AZURE_CHAT, "reconnect", ("api-key", VK), &sent);
    assert_usage_reported(&gw, &reply, "reconnect", AZURE_USAGE);
    assert_asked_for_usage(&mocks.azure.last(), &sent);
}

#[test]
fn inject_stream_usage_false_leaves_the_stream_without_usage() {
    let mocks = Mocks::start();
    let config = mocks.config("").replace(
        &format!("    keys: [ {{ name: main, value: {OPENAI_KEY} }} ]"),
        &format!(
            "    inject_stream_usage: false\n    keys: [ {{ name: main, value: {OPENAI_KEY} }} ]"
        ),
    );
    let gw = Gateway::start(&config);
    let sent = chat_stream(100);
    let reply = send(
        &gw,
        "/openai_passthrough/v1/chat/completions",
        "off",
        AUTH,
        &sent,
    );
    assert_eq!(reply.status, 200);
    assert!(!reply.text().contains("\"usage\""), "{}", reply.text());
    assert!(mocks.openai.last().body == sent.as_bytes());
    let line = gw.log_line("off");
    assert_eq!(line["usage"], "absent", "{line}");
    assert!(line["input_tokens"].is_null(), "{line}");
}

#[test]
fn everything_else_reaches_the_provider_byte_for_byte() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&mocks.config(""));
    let chat = "/openai_passthrough/v1/chat/completions";
    let big = "x".repeat(100 * 1024);
    let cases: Vec<(&str, &str, String, &MockProvider)> = vec![
        // Not a stream.
        ("plain", chat, chat_stream(100).replace("\"stream\": true", "\"stream\": false"), &mocks.openai),
        ("no-stream", chat, format!(r#"{{"model":"gpt-test","messages":[{{"role":"user","content":"{big}"}}]}}"#), &mocks.openai),
        // The client said what it wants.
        ("said-no", chat, r#"{"model":"gpt-test","messages":[],"stream":true,"stream_options":{"include_usage":false}}"#.into(), &mocks.openai),
        ("said-yes", chat, r#"{"stream":true, "model":"gpt-test", "stream_options":{"include_usage":true}, "messages":[]}"#.into(), &mocks.openai),
        // Not JSON, or not an object.
        ("broken", chat, r#"{"model":"gpt-test","stream":true,"#.into(), &mocks.openai),
        ("array", chat, r#"[{"model":"gpt-test","stream":true}]"#.into(), &mocks.openai),
        // Other endpoints, streamed or not.
        ("responses", "/openai_passthrough/v1/responses", r#"{"model":"gpt-test","input":"hi","stream":true}"#.into(), &mocks.openai),
        ("embeddings", "/openai_passthrough/v1/embeddings", r#"{"model":"e","input":"hi","stream":true}"#.into(), &mocks.openai),
        ("messages", "/anthropic_passthrough/v1/messages", r#"{"model":"claude-test","max_tokens":5,"messages":[],"stream":true}"#.into(), &mocks.anthropic),
        ("gemini", "/genai_passthrough/v1beta/models/gemini-test:streamGenerateContent?alt=sse", r#"{"contents":[],"stream":true}"#.into(), &mocks.gemini),
    ];
    for (id, path, body, mock) in cases {
        let reply = send(&gw, path, id, AUTH, &body);
        let rec = mock.last();
        assert!(
            rec.body == body.as_bytes(),
            "{id}: body changed: {}",
            String::from_utf8_lossy(&rec.body[..rec.body.len().min(300)])
        );
        assert_eq!(
            rec.header("content-length"),
            Some(body.len().to_string().as_str()),
            "{id}"
        );
        assert!(reply.status < 500, "{id}: {}", reply.text());
    }
    // The client that said no gets no usage, and the log says so.
    let line = gw.log_line("said-no");
    assert_eq!(line["usage"], "absent", "{line}");
}

#[test]
fn a_key_held_to_a_budget_gets_usage_even_when_its_client_said_no() {
    let mocks = Mocks::start();
    let config = mocks.config("").replace(
        &format!("  - {{ name: team-a, value: {VK} }}\n"),
        &format!(
            "  - {{ name: team-a, value: {VK}, budget: {{ tokens: 1000000 }} }}\n  - {{ name: team-b, value: vk-test-team-b }}\n"
        ),
    );
    let gw = Gateway::start(&config);
    let said_no = r#"{"model":"gpt-4o","messages":[],"stream":true,"stream_options":{"include_usage":false}}"#;
    let path = "/openai_passthrough/v1/chat/completions";
    let reply = send(&gw, path, "held", AUTH, said_no);
    assert_usage_reported(&gw, &reply, "held", OPENAI_USAGE);
    assert_eq!(
        mocks.openai.last().json()["stream_options"],
        json!({"include_usage": true})
    );
    // A key without a token or money limit keeps the client's choice.
    let free = ("authorization", "Bearer vk-test-team-b");
    let reply = send(&gw, path, "free", free, said_no);
    assert_eq!(reply.status, 200);
    assert!(mocks.openai.last().body == said_no.as_bytes());
    assert_eq!(gw.log_line("free")["usage"], "absent");
}
