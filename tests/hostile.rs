//! The bad-input and fault suite: one row per hostile or broken input with
//! the answer it must get. After every row the gateway still serves a
//! normal request, nothing secret is in the answer, and rows that must not
//! reach a provider did not.

mod support;

use std::time::Duration;

use support::faults::{self, Fault};
use support::*;

/// What a row must produce: one of these statuses (0 = the connection was
/// closed without a response, which is right for unparseable framing).
struct Row {
    name: &'static str,
    request: Vec<u8>,
    statuses: &'static [u16],
    /// The gateway error type, when the answer is the gateway's own.
    kind: Option<&'static str>,
    /// Whether the provider may see anything of it.
    may_reach_provider: bool,
}

fn req(method: &str, target: &str, extra: &str, body: &str) -> Vec<u8> {
    format!(
        "{method} {target} HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer {VK}\r\n{extra}content-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

trait ReplaceHost {
    fn replace_host(self, host: &str) -> Vec<u8>;
}

impl ReplaceHost for Vec<u8> {
    /// The same request with another `Host` header.
    fn replace_host(self, host: &str) -> Vec<u8> {
        String::from_utf8(self)
            .expect("ASCII request")
            .replacen("host: gw", &format!("host: {host}"), 1)
            .into_bytes()
    }
}

fn path_row(name: &'static str, path: &str) -> Row {
    Row {
        name,
        request: req("GET", &format!("/openai_passthrough{path}"), "", ""),
        statuses: &[400],
        kind: Some("invalid_path"),
        may_reach_provider: false,
    }
}

fn rows() -> Vec<Row> {
    let chat = r#"{"model":"gpt-4o","messages":[]}"#;
    let mut rows = vec![
        Row { name: "garbage request line", request: b"GARBAGE\r\n\r\n".to_vec(), statuses: &[400, 0], kind: None, may_reach_provider: false },
        Row { name: "unknown HTTP version", request: b"GET /openai_passthrough/v1/models HTTP/9.9\r\nhost: gw\r\n\r\n".to_vec(), statuses: &[400, 505, 0], kind: None, may_reach_provider: false },
        Row { name: "space in the target", request: b"GET /openai passthrough/v1 HTTP/1.1\r\nhost: gw\r\n\r\n".to_vec(), statuses: &[400, 404, 0], kind: None, may_reach_provider: false },
        Row { name: "header without colon", request: b"GET /openai_passthrough/v1/models HTTP/1.1\r\nhost gw\r\n\r\n".to_vec(), statuses: &[400, 0], kind: None, may_reach_provider: false },
        Row { name: "control byte in a header name", request: b"GET /openai_passthrough/v1/models HTTP/1.1\r\nhost: gw\r\nx-a\x01b: v\r\n\r\n".to_vec(), statuses: &[400, 0], kind: None, may_reach_provider: false },
        Row { name: "NUL in a header value", request: b"GET /openai_passthrough/v1/models HTTP/1.1\r\nhost: gw\r\nx-a: v\x00w\r\n\r\n".to_vec(), statuses: &[400, 0], kind: None, may_reach_provider: false },
        Row { name: "invalid chunk size", request: format!("POST /openai_passthrough/v1/chat/completions HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer {VK}\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n").into_bytes(), statuses: &[400, 502, 0], kind: None, may_reach_provider: true },
        Row { name: "Content-Length and Transfer-Encoding together (smuggling)", request: format!("POST /openai_passthrough/v1/chat/completions HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer {VK}\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\nGET /openai_passthrough/v1/smuggled HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer {VK}\r\n\r\n").into_bytes(), statuses: &[400, 200, 0], kind: None, may_reach_provider: true },
        Row { name: "two different Content-Length values", request: format!("POST /openai_passthrough/v1/chat/completions HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer {VK}\r\ncontent-length: 2\r\ncontent-length: 40\r\n\r\n{{}}").into_bytes(), statuses: &[400, 0], kind: None, may_reach_provider: false },
        Row { name: "CONNECT", request: b"CONNECT evil.example:443 HTTP/1.1\r\nhost: evil.example:443\r\n\r\n".to_vec(), statuses: &[405, 400, 0], kind: None, may_reach_provider: false },
        Row { name: "TRACE", request: req("TRACE", "/openai_passthrough/v1/models", "", ""), statuses: &[405], kind: Some("method_not_allowed"), may_reach_provider: false },
        Row { name: "unknown method", request: req("BREW", "/openai_passthrough/v1/models", "", ""), statuses: &[405], kind: Some("method_not_allowed"), may_reach_provider: false },
        Row { name: "OPTIONS", request: req("OPTIONS", "/openai_passthrough/v1/models", "", ""), statuses: &[405], kind: Some("method_not_allowed"), may_reach_provider: false },
        Row { name: "absolute-form target to another host", request: req("POST", "http://evil.example/openai_passthrough/v1/chat/completions", "", chat), statuses: &[200, 400], kind: None, may_reach_provider: true },
        Row { name: "Host and X-Forwarded-Host of another host", request: req("POST", "/openai_passthrough/v1/chat/completions", "x-forwarded-host: evil.example\r\n", chat).replace_host("evil.example"), statuses: &[200], kind: None, may_reach_provider: true },
        Row { name: "no virtual key", request: b"GET /openai_passthrough/v1/models HTTP/1.1\r\nhost: gw\r\n\r\n".to_vec(), statuses: &[401], kind: Some("missing_virtual_key"), may_reach_provider: false },
        Row { name: "a provider key instead of a virtual key", request: format!("GET /openai_passthrough/v1/models HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer {OPENAI_KEY}\r\n\r\n").into_bytes(), statuses: &[401], kind: Some("invalid_virtual_key"), may_reach_provider: false },
        Row { name: "unknown route", request: req("GET", "/v1/models", "", ""), statuses: &[404], kind: Some("unknown_route"), may_reach_provider: false },
        Row { name: "route prefix without a segment boundary", request: req("GET", "/openai_passthroughX/v1/models", "", ""), statuses: &[404], kind: Some("unknown_route"), may_reach_provider: false },
        Row { name: "oversized header (100 KiB)", request: req("GET", "/openai_passthrough/v1/models", &format!("x-big: {}\r\n", "a".repeat(100 * 1024)), ""), statuses: &[431, 400, 0], kind: None, may_reach_provider: false },
        Row { name: "too many headers (150)", request: req("GET", "/openai_passthrough/v1/models", &(0..150).map(|i| format!("x-h{i}: v\r\n")).collect::<String>(), ""), statuses: &[431, 400, 0], kind: None, may_reach_provider: false },
        Row { name: "very long target (70 KiB)", request: req("GET", &format!("/openai_passthrough/v1/models?q={}", "a".repeat(70 * 1024)), "", ""), statuses: &[431, 414, 400, 0], kind: None, may_reach_provider: false },
        Row { name: "declared body over the limit", request: format!("POST /openai_passthrough/v1/chat/completions HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer {VK}\r\ncontent-length: 40000000\r\n\r\n").into_bytes(), statuses: &[413], kind: Some("body_too_large"), may_reach_provider: false },
        Row { name: "invalid UTF-8 in the path", request: b"GET /openai_passthrough/v1/\xff\xfe HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer vk-test-team-a\r\n\r\n".to_vec(), statuses: &[400, 0], kind: None, may_reach_provider: false },
    ];
    for (name, path) in [
        ("dot-dot segment", "/v1/../../admin"),
        ("encoded dot-dot", "/v1/%2e%2e/%2e%2e/admin"),
        ("double-encoded dot-dot", "/v1/%252e%252e/admin"),
        ("triple-encoded dot-dot", "/v1/%25252e%25252e/admin"),
        ("encoded slash traversal", "/v1/..%2f..%2fadmin"),
        ("encoded backslash", "/v1/..%5c..%5cadmin"),
        ("raw backslash", "/v1/..\\admin"),
        ("overlong UTF-8 dot", "/v1/%c0%ae%c0%ae/admin"),
        ("dot-dot with a semicolon", "/v1/..;/admin"),
        ("single dot segment", "/v1/./models"),
        ("double slash at the start", "//evil.example/v1/models"),
        ("scheme inside the path", "/http://evil.example/v1"),
        ("user info in the first segment", "/user@evil.example/v1"),
        ("encoded NUL", "/v1/models%00.json"),
        (
            "encoded CRLF (header injection)",
            "/v1/models%0d%0ax-injected:%201",
        ),
        ("malformed escape", "/v1/models%zz"),
        ("truncated escape", "/v1/models%2"),
    ] {
        rows.push(path_row(name, path));
    }
    rows
}

#[test]
fn every_hostile_input_gets_its_answer_and_the_gateway_stays_healthy() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&mocks.config(""));
    let rows = rows();
    let count = rows.len();
    for row in rows {
        mocks.openai.clear();
        let answer = raw(gw.addr, &row.request);
        let status = status_of(&answer);
        assert!(
            row.statuses.contains(&status),
            "{}: got {status}, want one of {:?}:\n{answer}",
            row.name,
            row.statuses
        );
        if let Some(kind) = row.kind {
            assert!(
                answer.contains(&format!("\"type\":\"{kind}\"")),
                "{}: {answer}",
                row.name
            );
            assert!(
                answer.to_ascii_lowercase().contains("x-strait-error: 1"),
                "{}",
                row.name
            );
        }
        assert_no_secret(&answer, row.name);
        if !row.may_reach_provider {
            assert!(
                mocks.openai.requests().is_empty(),
                "{} reached the provider",
                row.name
            );
        }
        for rec in mocks.openai.requests() {
            assert!(
                !rec.path.contains("smuggled"),
                "{}: a second request was smuggled",
                row.name
            );
            assert_eq!(
                rec.header("host"),
                Some(mocks.openai.addr().to_string().as_str()),
                "{}",
                row.name
            );
        }
        let ok = get(
            &gw.url("/openai_passthrough/v1/models"),
            &[("authorization", "Bearer vk-test-team-a")],
        );
        assert_eq!(
            ok.status, 200,
            "the gateway is unhealthy after {}",
            row.name
        );
    }
    println!("{count} hostile-input rows");
    assert!(count >= 40);
}

/// Upstream faults: each gets a clear gateway answer or a cleanly ended
/// response, and the gateway keeps serving.
#[test]
fn every_upstream_fault_gets_a_clear_answer() {
    let mocks = Mocks::start();
    let faults: Vec<(&str, String, &[u16], Option<&str>)> = vec![
        (
            "refused connection",
            format!("http://{}", faults::refusing_addr()),
            &[502],
            Some("provider_unreachable"),
        ),
        (
            "reset before answering",
            format!("http://{}", faults::start(Fault::Reset)),
            &[502],
            Some("provider_error"),
        ),
        (
            "headers never come",
            format!("http://{}", faults::start(Fault::StallHeaders)),
            &[504],
            Some("provider_timeout"),
        ),
        (
            "body shorter than its length",
            format!("http://{}", faults::start(Fault::Truncate)),
            &[200, 502],
            None,
        ),
        (
            "stream cut mid-way",
            format!("http://{}", faults::start(Fault::CutStream)),
            &[200, 502],
            None,
        ),
    ];
    for (name, url, statuses, kind) in faults {
        let config = mocks.config("").replace(
            &format!("network_config: {{ base_url: \"{}\" }}", mocks.openai.url()),
            &format!("network_config: {{ base_url: \"{url}\", default_request_timeout_in_seconds: 1, stream_idle_timeout_in_seconds: 1 }}"),
        );
        let gw = Gateway::start(&config);
        let started = std::time::Instant::now();
        let r = post_json(
            &gw.url("/openai_passthrough/v1/chat/completions"),
            &[
                ("authorization", "Bearer vk-test-team-a"),
                ("x-request-id", "fault"),
            ],
            &serde_json::json!({"model": "gpt-4o", "messages": [], "stream": true}),
        );
        assert!(
            statuses.contains(&r.status),
            "{name}: {} {}",
            r.status,
            r.text()
        );
        match kind {
            Some(k) => r.assert_gateway_error(r.status, k),
            // Headers went out before the fault: the body must end early, not hang.
            None => assert!(
                r.cut || r.status != 200,
                "{name}: a broken body looked complete"
            ),
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{name} took {:?}",
            started.elapsed()
        );
        let line = gw.log_line("fault");
        assert!(
            line["error"].is_string(),
            "{name}: the log line names the failure: {line}"
        );
        let ok = post_json(
            &gw.url("/anthropic_passthrough/v1/messages"),
            &[("x-api-key", VK)],
            &serde_json::json!({"model": "c", "max_tokens": 1, "messages": []}),
        );
        assert_eq!(ok.status, 200, "{name}: other providers still served");
    }
}
