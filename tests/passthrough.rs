//! The four routes end to end: what the client gets back and what the mock
//! provider received, for every credential rule of DESIGN §1–2.

mod support;

use serde_json::json;
use support::*;

fn chat_body(model: &str) -> serde_json::Value {
    json!({"messages": [{"role": "user", "content": "hi"}], "model": model})
}

/// Every header a client might use to smuggle a credential upstream.
const CLIENT_CREDENTIALS: [(&str, &str); 6] = [
    ("proxy-authorization", "Basic Y2xpZW50"),
    ("cookie", "session=client-cookie"),
    ("x-goog-api-key", "client-google-key"),
    ("api-key", "client-azure-key"),
    ("x-strait-key", VK),
    ("x-strait-debug", "1"),
];

fn assert_no_client_credentials(rec: &strait_mock::Recorded, kept: &str) {
    for (name, _) in CLIENT_CREDENTIALS {
        if name != kept {
            assert_eq!(rec.header(name), None, "{name} was forwarded");
        }
    }
    for (name, value) in &rec.headers {
        assert!(!value.contains(VK), "virtual key forwarded in {name}");
    }
    assert_eq!(rec.header("accept-encoding"), Some("identity"));
}

#[test]
fn openai_swaps_the_virtual_key_for_the_provider_key() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&mocks.config(""));
    let mut headers = vec![
        ("authorization", "Bearer vk-test-team-a"),
        ("accept-encoding", "gzip, deflate"),
    ];
    headers.extend(CLIENT_CREDENTIALS);
    let body = chat_body("gpt-4o");
    let reply = post_json(
        &gw.url("/openai_passthrough/v1/chat/completions?x=1&key=leak"),
        &headers,
        &body,
    );

    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json()["choices"][0]["message"]["content"],
        strait_mock::REPLY_TEXT
    );
    let rec = mocks.openai.last();
    assert_eq!(rec.method, "POST");
    assert_eq!(rec.path, "/v1/chat/completions");
    assert_eq!(rec.query.as_deref(), Some("x=1"));
    assert_eq!(
        rec.header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    assert_eq!(rec.headers_named("authorization").len(), 1);
    assert_eq!(
        rec.header("host"),
        Some(mocks.openai.addr().to_string().as_str())
    );
    assert_eq!(rec.json(), body);
    assert_no_client_credentials(&rec, "");
}

#[test]
fn anthropic_gets_x_api_key_and_a_version_only_when_missing() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&mocks.config(""));
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]});

    // The Anthropic SDK sends the key as a bearer token; no version here.
    let reply = post_json(
        &gw.url("/anthropic_passthrough/v1/messages"),
        &[("authorization", "Bearer vk-test-team-a")],
        &body,
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    let rec = mocks.anthropic.last();
    assert_eq!(rec.path, "/v1/messages");
    assert_eq!(rec.header("x-api-key"), Some(ANTHROPIC_KEY));
    assert_eq!(rec.header("authorization"), None);
    assert_eq!(rec.header("anthropic-version"), Some("2023-06-01"));

    // The client's version and beta flags are its own to choose.
    let reply = post_json(
        &gw.url("/anthropic_passthrough/v1/messages"),
        &[
            ("x-api-key", VK),
            ("anthropic-version", "2026-10-21"),
            ("anthropic-beta", "tools-2024"),
        ],
        &body,
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    let rec = mocks.anthropic.last();
    assert_eq!(rec.headers_named("anthropic-version"), ["2026-10-21"]);
    assert_eq!(rec.header("anthropic-beta"), Some("tools-2024"));
    assert_eq!(rec.headers_named("x-api-key"), [ANTHROPIC_KEY]);
    assert_no_client_credentials(&rec, "");
}

#[test]
fn gemini_key_moves_from_query_or_header_to_x_goog_api_key() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&mocks.config(""));
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    let path = "/genai_passthrough/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key=vk-test-team-a";
    let reply = post_json(&gw.url(path), &[], &body);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/event-stream")));
    let rec = mocks.gemini.last();
    assert_eq!(
        rec.path,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    );
    assert_eq!(rec.query.as_deref(), Some("alt=sse"));
    assert_eq!(rec.header("x-goog-api-key"), Some(GEMINI_KEY));

    let reply = post_json(
        &gw.url("/genai_passthrough/v1/models/gemini-2.5-pro:generateContent"),
        &[("x-goog-api-key", VK)],
        &body,
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    let rec = mocks.gemini.last();
    assert_eq!(rec.headers_named("x-goog-api-key"), [GEMINI_KEY]);
    assert_eq!(rec.query, None);
    assert_no_client_credentials(&rec, "x-goog-api-key");
}

#[test]
fn azure_uses_the_key_endpoint_and_the_right_header_per_path() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&mocks.config(""));
    let body = chat_body("gpt-4o");

    let reply = post_json(
        &gw.url("/azure_passthrough/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21"),
        &[("api-key", VK)],
        &body,
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    let rec = mocks.azure.last();
    assert_eq!(rec.path, "/openai/deployments/gpt-4o-prod/chat/completions");
    assert_eq!(rec.query.as_deref(), Some("api-version=2024-10-21"));
    assert_eq!(rec.headers_named("api-key"), [AZURE_KEY]);
    assert_eq!(rec.header("x-api-key"), None);

    let reply = post_json(
        &gw.url("/azure_passthrough/openai/v1/chat/completions"),
        &[("authorization", "Bearer vk-test-team-a")],
        &body,
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    let rec = mocks.azure.last();
    assert_eq!(rec.path, "/openai/v1/chat/completions");
    assert_eq!(rec.headers_named("api-key"), [AZURE_KEY]);
    assert_eq!(rec.header("authorization"), None);

    let msg = json!({"model": "claude-sonnet-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]});
    let reply = post_json(
        &gw.url("/azure_passthrough/anthropic/v1/messages"),
        &[("authorization", "Bearer vk-test-team-a")],
        &msg,
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    let rec = mocks.azure.last();
    assert_eq!(rec.path, "/anthropic/v1/messages");
    assert_eq!(rec.headers_named("x-api-key"), [AZURE_KEY]);
    assert_eq!(rec.header("api-key"), None);
    assert_eq!(rec.header("anthropic-version"), Some("2023-06-01"));
}

#[test]
fn server_sent_events_arrive_as_they_are_sent() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&mocks.config(""));
    let mut body = chat_body("gpt-4o");
    body["stream"] = json!(true);
    // In lockstep the mock sends each event only once the client has seen the one
    // before: if the gateway held any event back, the mock would wait in vain.
    let mut seen = String::new();
    let mut released = 0;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let reply = rt.block_on(request_watching(
        "POST",
        &gw.url("/openai_passthrough/v1/chat/completions"),
        &[
            ("authorization", "Bearer vk-test-team-a"),
            ("content-type", "application/json"),
            ("x-mock-events", "5"),
            ("x-mock-lockstep", "1"),
        ],
        body.to_string().into(),
        |chunk| {
            seen.push_str(&String::from_utf8_lossy(chunk));
            while released < seen.matches("\n\n").count() {
                mocks.openai.release_event();
                released += 1;
            }
        },
    ));
    assert_eq!(reply.status, 200);
    assert!(reply
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/event-stream")));
    assert_eq!(
        mocks.openai.lockstep_misses(),
        0,
        "the mock waited 3 s for the client to see an event: buffered, not streamed; chunks: {:?}",
        reply.chunks
    );
    // role, 5 deltas, finish, the usage chunk strait asked for, [DONE]
    assert_eq!(released, 9, "{seen}");
    let text = reply.text();
    for i in 0..5 {
        assert!(
            text.contains(&strait_mock::delta_text(i)),
            "delta {i} missing: {text}"
        );
    }
    assert!(text.trim_end().ends_with("data: [DONE]"));
}

#[test]
fn provider_errors_pass_through_with_their_headers() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&mocks.config(""));
    let reply = post_json(
        &gw.url("/openai_passthrough/v1/chat/completions"),
        &[
            ("authorization", "Bearer vk-test-team-a"),
            ("x-mock-status", "429"),
        ],
        &chat_body("gpt-4o"),
    );
    assert_eq!(reply.status, 429);
    assert_eq!(reply.header("retry-after"), Some("7"));
    assert_eq!(reply.header("x-ratelimit-remaining-requests"), Some("0"));
    assert_eq!(reply.header("x-strait-error"), None);
    assert!(reply.json()["error"]["message"].is_string());
}

#[test]
fn methods_and_head_are_forwarded() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&mocks.config(""));
    let auth = [("authorization", "Bearer vk-test-team-a")];
    let head = request("HEAD", &gw.url("/openai_passthrough/v1/models"), &auth, "");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(mocks.openai.last().method, "HEAD");
    for method in ["GET", "PUT", "PATCH", "DELETE"] {
        let r = request(
            method,
            &gw.url("/openai_passthrough/v1/files/file-1"),
            &auth,
            "payload",
        );
        assert_eq!(r.status, 200, "{method}: {}", r.text());
        let rec = mocks.openai.last();
        assert_eq!(
            (rec.method.as_str(), rec.path.as_str()),
            (method, "/v1/files/file-1")
        );
    }
    let r = request("TRACE", &gw.url("/openai_passthrough/v1/models"), &auth, "");
    r.assert_gateway_error(405, "method_not_allowed");
}

#[test]
fn a_5_mib_upload_arrives_intact() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&mocks.config(""));
    let body: Vec<u8> = (0..5 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let reply = request(
        "POST",
        &gw.url("/openai_passthrough/v1/files"),
        &[
            ("authorization", "Bearer vk-test-team-a"),
            ("content-type", "application/octet-stream"),
        ],
        body.clone(),
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["body_bytes"], body.len());
    let rec = mocks.openai.last();
    assert_eq!(rec.body.len(), body.len());
    assert!(rec.body == body, "upload corrupted");
}

/// Two keys limited to different models: the model is only in the body,
/// after a long message list (the OpenAI SDK puts `model` last).
fn restricted_config(mocks: &Mocks) -> String {
    mocks.config("").replace(
        &format!("keys: [ {{ name: main, value: {OPENAI_KEY} }} ]"),
        &format!(
            "keys:\n      - {{ name: big, value: {OPENAI_KEY}, models: [\"gpt-4o-big\"] }}\n      - {{ name: other, value: sk-wrong-for-mock, models: [\"o3*\"] }}"
        ),
    )
}

#[test]
fn the_body_model_picks_the_key_for_bodies_far_above_64_kib() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&restricted_config(&mocks));
    let auth = [("authorization", "Bearer vk-test-team-a")];
    for size in [
        10,
        64 * 1024 - 40,
        64 * 1024 + 1,
        200 * 1024,
        3 * 1024 * 1024,
    ] {
        let filler = "x".repeat(size);
        let body =
            json!({"messages": [{"role": "user", "content": filler}], "model": "gpt-4o-big"});
        let reply = post_json(
            &gw.url("/openai_passthrough/v1/chat/completions"),
            &auth,
            &body,
        );
        assert_eq!(reply.status, 200, "size {size}: {}", reply.text());
        let rec = mocks.openai.last();
        assert_eq!(
            rec.header("authorization"),
            Some(format!("Bearer {OPENAI_KEY}").as_str())
        );
        assert_eq!(
            rec.body,
            body.to_string().into_bytes(),
            "size {size}: body altered"
        );
    }
    // A model no key serves is refused by the gateway, not sent upstream.
    let before = mocks.openai.requests().len();
    let reply = post_json(
        &gw.url("/openai_passthrough/v1/chat/completions"),
        &auth,
        &chat_body("gpt-5"),
    );
    reply.assert_gateway_error(400, "model_not_allowed");
    assert_eq!(mocks.openai.requests().len(), before);
}

#[test]
fn restricted_keys_need_a_length_for_body_inspection() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&restricted_config(&mocks));
    let body = chat_body("gpt-4o-big").to_string();
    let chunked = format!(
        "POST /openai_passthrough/v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {VK}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    );
    let resp = raw(gw.addr, chunked.as_bytes());
    assert_eq!(status_of(&resp), 411, "{resp}");
    assert!(resp.contains("length_required"));
}

#[test]
fn virtual_keys_are_required_and_checked() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&mocks.config(""));
    let url = gw.url("/openai_passthrough/v1/models");
    get(&url, &[]).assert_gateway_error(401, "missing_virtual_key");
    get(&url, &[("authorization", "Bearer vk-wrong")])
        .assert_gateway_error(401, "invalid_virtual_key");
    get(&url, &[("authorization", &format!("Bearer {OPENAI_KEY}"))])
        .assert_gateway_error(401, "invalid_virtual_key");
    assert!(mocks.openai.requests().is_empty());
    assert_eq!(get(&url, &[("x-strait-key", VK)]).status, 200);
}

#[test]
fn unknown_routes_and_path_attacks_never_reach_a_provider() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&mocks.config(""));
    let auth = [("authorization", "Bearer vk-test-team-a")];
    get(&gw.url("/openai_passthroughX/v1/models"), &auth)
        .assert_gateway_error(404, "unknown_route");
    get(&gw.url("/v1/models"), &auth).assert_gateway_error(404, "unknown_route");
    get(&gw.url("/openai_passthrough"), &auth).assert_gateway_error(400, "invalid_path");

    for path in [
        "/openai_passthrough/v1/../admin",
        "/openai_passthrough/v1/%2e%2e/admin",
        "/openai_passthrough/v1/%252e%252e/admin",
        "/openai_passthrough//evil.example/v1/models",
        "/openai_passthrough/%2f%2fevil.example/v1",
        "/openai_passthrough/user@evil.example/v1",
        "/openai_passthrough/v1\\..\\admin",
        "/openai_passthrough/v1/%5c..%5cadmin",
        "/openai_passthrough/v1/%00",
        "/openai_passthrough/v1/%0d%0aX-Injected:%201",
        "/openai_passthrough/http://evil.example/v1",
        "/anthropic_passthrough/v1/./messages",
        "/genai_passthrough/v1beta/models/..%2f..%2fadmin",
        "/azure_passthrough/openai/deployments/%2e%2e/x",
    ] {
        let resp = raw(
            gw.addr,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {VK}\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        let status = status_of(&resp);
        assert_eq!(status, 400, "{path}: {resp}");
        assert!(resp.contains("invalid_path"), "{path}: {resp}");
    }
    // A raw control character in the request line is refused by the parser.
    let resp = raw(
        gw.addr,
        b"GET /openai_passthrough/v1/\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(status_of(&resp) / 100, 4, "{resp}");
    for m in [&mocks.openai, &mocks.anthropic, &mocks.gemini, &mocks.azure] {
        assert!(
            m.requests().is_empty(),
            "{:?} reached {:?}",
            m.requests(),
            m.flavor()
        );
    }
}

#[test]
fn absolute_form_and_host_headers_cannot_redirect_the_request() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&mocks.config(""));
    let resp = raw(
        gw.addr,
        format!("GET http://evil.example/openai_passthrough/v1/models HTTP/1.1\r\nHost: evil.example\r\nAuthorization: Bearer {VK}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    assert_eq!(status_of(&resp), 200, "{resp}");
    let rec = mocks.openai.last();
    assert_eq!(rec.path, "/v1/models");
    assert_eq!(
        rec.header("host"),
        Some(mocks.openai.addr().to_string().as_str())
    );
}

#[test]
fn unavailable_providers_get_clear_gateway_errors() {
    let mocks = Mocks::start();
    // A port nothing listens on, and a mock too slow for a 1 s timeout.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let config = mocks
        .config("")
        .replace(&mocks.openai.url(), &format!("http://{closed}"))
        .replace(
            &format!("network_config: {{ base_url: \"{}\" }}", mocks.anthropic.url()),
            &format!("network_config: {{ base_url: \"{}\", default_request_timeout_in_seconds: 1, stream_idle_timeout_in_seconds: 1 }}", mocks.anthropic.url()),
        )
        .replace(&format!("value: {GEMINI_KEY}"), "value: env.STRAIT_TEST_UNSET_GEMINI");
    let gw = Gateway::start(&config);
    let auth = [("authorization", "Bearer vk-test-team-a")];

    post_json(
        &gw.url("/openai_passthrough/v1/chat/completions"),
        &auth,
        &chat_body("gpt-4o"),
    )
    .assert_gateway_error(502, "provider_unreachable");
    let slow = post_json(
        &gw.url("/anthropic_passthrough/v1/messages"),
        &[auth[0], ("x-mock-delay-ms", "3000")],
        &json!({"model": "claude", "max_tokens": 1, "messages": []}),
    );
    slow.assert_gateway_error(504, "provider_timeout");
    let unset = post_json(
        &gw.url("/genai_passthrough/v1beta/models/g:generateContent"),
        &auth,
        &json!({}),
    );
    unset.assert_gateway_error(503, "provider_not_configured");
    assert!(
        unset.text().contains("STRAIT_TEST_UNSET_GEMINI"),
        "{}",
        unset.text()
    );
}

#[test]
fn a_provider_missing_from_the_config_is_a_503() {
    let mocks = Mocks::start();
    let config = mocks.config("");
    let cut = config.find("  gemini:").unwrap();
    let end = config.find("  azure:").unwrap();
    let config = format!("{}{}", &config[..cut], &config[end..]);
    let gw = Gateway::start(&config);
    post_json(
        &gw.url("/genai_passthrough/v1beta/models/g:generateContent"),
        &[("x-goog-api-key", VK)],
        &json!({}),
    )
    .assert_gateway_error(503, "provider_not_configured");
}

#[test]
fn extra_headers_and_base_paths_are_applied() {
    let mocks = Mocks::start();
    let config = mocks.config("").replace(
        &format!("network_config: {{ base_url: \"{}\" }}", mocks.openai.url()),
        &format!("network_config: {{ base_url: \"{}/proxy/\", extra_headers: {{ OpenAI-Organization: org-test }} }}", mocks.openai.url()),
    );
    let gw = Gateway::start(&config);
    let r = get(
        &gw.url("/openai_passthrough/v1/models"),
        &[("authorization", "Bearer vk-test-team-a")],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let rec = mocks.openai.last();
    assert_eq!(rec.path, "/proxy/v1/models");
    assert_eq!(rec.header("openai-organization"), Some("org-test"));
}

#[test]
fn open_mode_serves_loopback_without_a_virtual_key() {
    let mocks = Mocks::start();
    let config = mocks.config("").replace(
        &format!("virtual_keys:\n  - {{ name: team-a, value: {VK} }}\n"),
        "",
    );
    let gw = Gateway::start(&config);
    let r = get(&gw.url("/openai_passthrough/v1/models"), &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        mocks.openai.last().header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    assert!(gw.logs().contains("without client authentication"));
}

#[test]
fn every_request_is_logged_once_without_secrets() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&mocks.config(""));
    let auth = [("authorization", "Bearer vk-test-team-a")];
    post_json(
        &gw.url("/openai_passthrough/v1/chat/completions?key=vk-test-team-a"),
        &auth,
        &chat_body("gpt-4o"),
    );
    get(&gw.url("/nowhere"), &auth);
    let lines = gw.access_log(2);
    assert_eq!(lines.len(), 2, "{lines:?}");
    // A line is written after its response is sent, so the second request
    // may be logged first.
    let by_status = |s: u16| lines.iter().find(|l| l["status"] == s);
    let ok = by_status(200).unwrap_or_else(|| panic!("no 200 line: {lines:?}"));
    let not_found = by_status(404).unwrap_or_else(|| panic!("no 404 line: {lines:?}"));
    assert_eq!(ok["provider"], "openai");
    assert_eq!(ok["key"], "main");
    assert_eq!(ok["virtual_key"], "team-a");
    assert_eq!(ok["path"], "/openai_passthrough/v1/chat/completions");
    assert!(ok["request_id"].as_str().is_some_and(|id| id.len() == 32));
    assert_eq!(not_found["error"], "unknown_route");
    assert!(!gw.logs().contains(VK), "virtual key logged");
}

#[test]
fn admin_health() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&mocks.config(""));
    let r = get(&format!("http://{}/healthz", gw.admin.unwrap()), &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "ok");
}

#[test]
fn h2c_speaks_http2_to_an_http_base_url() {
    let mocks = Mocks::start();
    let config = mocks.config("").replace(
        &format!("network_config: {{ base_url: \"{}\" }}", mocks.openai.url()),
        &format!(
            "network_config: {{ base_url: \"{}\", h2c: true }}",
            mocks.openai.url()
        ),
    );
    assert!(config.contains("h2c: true"));
    let gw = Gateway::start(&config);
    let auth = ("authorization", "Bearer vk-test-team-a");
    let url = gw.url("/openai_passthrough/v1/chat/completions");
    let r = post_json(
        &url,
        &[auth, ("x-request-id", "h2c-first")],
        &chat_body("gpt-4o"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // Logged after the connection went back to the pool.
    gw.log_line("h2c-first");
    let body = json!({"model": "gpt-4o", "messages": [], "stream": true});
    let r = post_json(&url, &[auth, ("x-request-id", "h2c-stream")], &body);
    assert!(r.text().contains("[DONE]"), "{}", r.text());
    // The second request rides the first one's HTTP/2 connection.
    assert_eq!(gw.log_line("h2c-stream")["upstream_reused"], true);
    assert_eq!(
        mocks.openai.last().header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );

    let bad = mocks.config("").replace(
        &format!("network_config: {{ base_url: \"{}\" }}", mocks.openai.url()),
        "network_config: { base_url: \"https://api.openai.com\", h2c: true }",
    );
    let dir = TempDir::new();
    let path = dir.write("bad.yaml", &bad);
    let out = std::process::Command::new(strait_bin())
        .arg("check")
        .arg("-c")
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("h2c applies to http:// base URLs"));
}
