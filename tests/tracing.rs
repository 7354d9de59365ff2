//! OpenTelemetry traces (issue 16) against a real OTLP/HTTP receiver: the
//! spans of each provider shape, streamed and not, with their GenAI
//! attributes and parent/child links; W3C trace context continued from the
//! client and passed to the provider; failover; sampling.

mod support;

use serde_json::{json, Value};
use support::otlp::{start, trace_of as spans_of, Collector};
use support::*;

struct Case {
    name: &'static str,
    path: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    body: Value,
    span: &'static str,
    provider: &'static str,
    operation: &'static str,
    model: Option<&'static str>,
    upstream_path: &'static str,
    streamed: bool,
}

fn cases() -> Vec<Case> {
    let chat = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]});
    let mut chat_stream = chat.clone();
    chat_stream["stream"] = json!(true);
    chat_stream["stream_options"] = json!({"include_usage": true});
    let messages = json!({"model": "claude-x", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]});
    let mut messages_stream = messages.clone();
    messages_stream["stream"] = json!(true);
    let contents = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    let bearer = vec![("authorization", "Bearer vk-test-team-a")];
    let openai = |name, body: &Value, streamed| Case {
        name,
        path: "/openai_passthrough/v1/chat/completions",
        headers: bearer.clone(),
        body: body.clone(),
        span: "chat gpt-4o",
        provider: "openai",
        operation: "chat",
        model: Some("gpt-4o"),
        upstream_path: "/v1/chat/completions",
        streamed,
    };
    let anthropic = |name, body: &Value, streamed| Case {
        name,
        path: "/anthropic_passthrough/v1/messages",
        headers: vec![("x-api-key", VK)],
        body: body.clone(),
        span: "chat claude-x",
        provider: "anthropic",
        operation: "chat",
        model: Some("claude-x"),
        upstream_path: "/v1/messages",
        streamed,
    };
    vec![
        openai("openai json", &chat, false),
        openai("openai stream", &chat_stream, true),
        anthropic("anthropic json", &messages, false),
        anthropic("anthropic stream", &messages_stream, true),
        Case {
            name: "gemini json",
            // The key in the query must not reach url.path.
            path: "/genai_passthrough/v1beta/models/gemini-2.5-flash:generateContent?key=vk-test-team-a",
            headers: vec![],
            body: contents.clone(),
            span: "generate_content gemini-2.5-flash",
            provider: "gcp.gemini",
            operation: "generate_content",
            model: Some("gemini-2.5-flash"),
            upstream_path: "/v1beta/models/gemini-2.5-flash:generateContent",
            streamed: false,
        },
        Case {
            name: "gemini stream",
            path: "/genai_passthrough/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
            headers: vec![("x-goog-api-key", VK)],
            body: contents,
            span: "generate_content gemini-2.5-flash",
            provider: "gcp.gemini",
            operation: "generate_content",
            model: Some("gemini-2.5-flash"),
            upstream_path: "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
            streamed: true,
        },
        Case {
            name: "azure json",
            path: "/azure_passthrough/openai/deployments/d/chat/completions?api-version=2024-10-21",
            headers: vec![("api-key", VK)],
            body: chat,
            // Azure's model is the deployment, as in the access log.
            span: "chat d",
            provider: "azure.ai.openai",
            operation: "chat",
            model: Some("d"),
            upstream_path: "/openai/deployments/d/chat/completions",
            streamed: false,
        },
    ]
}

#[test]
fn every_provider_shape_gets_a_server_and_a_client_span_with_the_genai_attributes() {
    let mocks = Mocks::start();
    let collector = Collector::start();
    let gw = start(&mocks, &collector, "");
    let mock_of = |p: &str| match p {
        "openai" => &mocks.openai,
        "anthropic" => &mocks.anthropic,
        "gcp.gemini" => &mocks.gemini,
        _ => &mocks.azure,
    };
    for (i, case) in cases().iter().enumerate() {
        let id = format!("trace-{i}");
        let mut headers = case.headers.clone();
        headers.push(("x-request-id", &id));
        let r = post_json(&gw.url(case.path), &headers, &case.body);
        assert_eq!(r.status, 200, "{}: {}", case.name, r.text());
        let (server, clients) = spans_of(&gw, &collector, &id, 2);
        let what = format!("{}: {server:#?}", case.name);
        assert_eq!(server.name, case.span, "{what}");
        assert_eq!(server.service, "strait-test");
        assert_eq!(
            server.parent, "",
            "a new trace: the server span is its root"
        );
        assert_eq!(server.status, 0, "{what}");
        let a = |k: &str| server.attr(k).clone();
        assert_eq!(a("gen_ai.provider.name"), case.provider, "{what}");
        assert_eq!(a("gen_ai.operation.name"), case.operation, "{what}");
        assert_eq!(a("gen_ai.request.model").as_str(), case.model, "{what}");
        assert!(a("gen_ai.response.model").is_string(), "{what}");
        assert!(a("gen_ai.usage.input_tokens").as_i64() > Some(0), "{what}");
        assert!(a("gen_ai.usage.output_tokens").as_i64() > Some(0), "{what}");
        assert!(a("gen_ai.usage.cache_read.input_tokens").is_i64(), "{what}");
        assert_eq!(a("http.request.method"), "POST");
        assert_eq!(a("http.response.status_code"), 200);
        assert_eq!(
            a("url.path").as_str(),
            case.path.split('?').next(),
            "{what}"
        );
        assert_eq!(a("strait.virtual_key"), "team-a");
        assert_eq!(a("strait.request_id").as_str(), Some(id.as_str()));
        assert_eq!(a("strait.streamed"), case.streamed, "{what}");
        assert_eq!(a("error.type"), Value::Null);

        assert_eq!(clients.len(), 1);
        let c = &clients[0];
        let what = format!("{}: {c:#?}", case.name);
        assert_eq!(c.trace_id, server.trace_id);
        assert_eq!(c.attr("server.address"), "127.0.0.1", "{what}");
        assert!(c.attr("server.port").is_i64(), "{what}");
        assert_eq!(
            c.attr("strait.provider_key").as_str(),
            Some(if case.provider == "azure.ai.openai" {
                "eastus"
            } else {
                "main"
            }),
            "{what}"
        );
        assert_eq!(
            c.attr("url.path").as_str(),
            Some(case.upstream_path),
            "{what}"
        );
        assert_eq!(c.attr("http.response.status_code"), 200, "{what}");
        assert!(c.attr("strait.upstream.connect_ms").is_f64(), "{what}");
        assert!(c.attr("strait.upstream.reused").is_boolean(), "{what}");
        assert!(c.attr("strait.upstream.ttfb_ms").is_f64(), "{what}");
        assert_eq!(c.events, ["first_byte"], "{what}");
        // The provider was told the client span is its parent.
        let sent = mock_of(case.provider).last();
        assert_eq!(
            sent.header("traceparent"),
            Some(format!("00-{}-{}-01", c.trace_id, c.span_id).as_str()),
            "{}",
            case.name
        );
    }
    // The collector's token went with every export.
    let exports = collector.export_headers();
    assert!(!exports.is_empty());
    for h in exports {
        assert_eq!(h["authorization"], "Bearer otlp-token-1");
        assert_eq!(h["content-type"], "application/x-protobuf");
    }
}

#[test]
fn a_client_trace_is_continued_and_sampling_follows_the_parent_then_the_ratio() {
    let mocks = Mocks::start();
    let collector = Collector::start();
    let gw = start(&mocks, &collector, "  sample_ratio: 0.0\n");
    let chat = json!({"model": "gpt-4o", "messages": []});
    let url = gw.url("/openai_passthrough/v1/chat/completions");
    let auth = ("authorization", "Bearer vk-test-team-a");
    // No parent, ratio 0: not kept, but still a trace the provider joins.
    let r = post_json(&url, &[auth, ("x-request-id", "no-parent")], &chat);
    assert_eq!(r.status, 200);
    let unsampled_trace = gw.log_line("no-parent")["trace_id"]
        .as_str()
        .unwrap()
        .to_string();
    let sent = mocks.openai.last();
    let tp = sent.header("traceparent").unwrap();
    assert!(
        tp.starts_with(&format!("00-{unsampled_trace}-")) && tp.ends_with("-00"),
        "{tp}"
    );
    // A client parent that is not sampled is not kept either.
    let parent_off = "00-11111111111111111111111111111111-2222222222222222-00";
    let r = post_json(
        &url,
        &[
            auth,
            ("traceparent", parent_off),
            ("x-request-id", "parent-off"),
        ],
        &chat,
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        gw.log_line("parent-off")["trace_id"],
        "11111111111111111111111111111111"
    );
    // An invalid one starts a new trace (not kept at ratio 0).
    let r = post_json(
        &url,
        &[
            auth,
            ("traceparent", "00-zz-bad-01"),
            ("x-request-id", "bad-parent"),
        ],
        &chat,
    );
    assert_eq!(r.status, 200);
    let bad_trace = gw.log_line("bad-parent")["trace_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(bad_trace.len(), 32);
    // A sampled client parent is kept whatever the ratio, and continued.
    let trace = "0af7651916cd43dd8448eb211c80319c";
    let parent = format!("00-{trace}-b7ad6b7169203331-01");
    let r = post_json(
        &url,
        &[
            auth,
            ("traceparent", &parent),
            ("tracestate", "vendor=abc"),
            ("x-request-id", "parent-on"),
        ],
        &chat,
    );
    assert_eq!(r.status, 200);
    let (server, clients) = spans_of(&gw, &collector, "parent-on", 2);
    assert_eq!(server.trace_id, trace);
    assert_eq!(server.parent, "b7ad6b7169203331");
    let sent = mocks.openai.last();
    assert_eq!(
        sent.header("traceparent"),
        Some(format!("00-{trace}-{}-01", clients[0].span_id).as_str())
    );
    assert_eq!(sent.header("tracestate"), Some("vendor=abc"));
    // The kept trace was exported after the three others were finished:
    // none of them was.
    let all = collector.spans();
    assert!(all.iter().all(|s| s.trace_id == trace), "{all:#?}");
    assert_eq!(all.len(), 2);
}
