//! Credentials never leave through the gateway's own output. Every path a
//! request can take — success, each gateway error, each provider error,
//! timeouts, token failures — is driven at `RUST_LOG=debug`, and every log
//! line, access-log line, response header and gateway error body is searched
//! for every credential the gateway holds or was sent.

mod support;

use std::time::Duration;

use serde_json::json;
use strait_mock::{test_service_account_json, TokenServer, TEST_PRIVATE_KEY_PEM};
use support::*;

const ENTRA_SECRET: &str = "entra-secret-for-leak-test-42";
/// The trace collector's token: sent to the collector, nowhere else.
const OTLP_SECRET: &str = "otlp-secret-for-leak-test-7";

/// Everything secret in this test: the provider keys, the virtual key, the
/// Entra client secret, a slice of the service account's private key, and
/// the Google and Entra tokens minted during the run.
fn secrets(google: &TokenServer, entra: &TokenServer) -> Vec<String> {
    let pem_body: String = TEST_PRIVATE_KEY_PEM
        .lines()
        .find(|l| l.len() > 40 && !l.starts_with("-----"))
        .expect("a base64 line in the PEM")
        .to_string();
    let mut all: Vec<String> = SECRETS.iter().map(|s| s.to_string()).collect();
    all.push(ENTRA_SECRET.to_string());
    all.push(OTLP_SECRET.to_string());
    all.push(pem_body);
    all.extend(google.issued());
    all.extend(entra.issued());
    all
}

#[test]
fn no_credential_reaches_a_log_an_error_or_a_response_header() {
    let mocks = Mocks::start();
    let google = TokenServer::google(3600);
    let entra = TokenServer::entra(
        "tenant-1",
        "client-1",
        ENTRA_SECRET,
        "https://cognitiveservices.azure.com/.default",
        3600,
    );
    let collector = support::otlp::Collector::start();
    let vertex = MockProvider::start(Flavor::Gemini, "vertex-takes-no-api-key");
    vertex.accept_tokens_from(&google);
    let sa = test_service_account_json(&google.token_url());
    // Every request is traced: the exported spans are searched too.
    let config = format!(
        "telemetry:\n  otlp_endpoint: \"{}\"\n  headers: {{ authorization: env.LEAK_TEST_OTLP }}\n{}  vertex:\n    network_config: {{ base_url: \"{}\" }}\n    keys:\n      - name: gcp\n        vertex_key_config:\n          project_id: p1\n          region: us-central1\n          auth_credentials: '{}'\n",
        collector.url(),
        mocks.config(""),
        vertex.url(),
        sa.replace('\'', "''").replace('\n', " ")
    )
    // One Azure key authenticates with Entra ID instead of an api-key.
    .replace(
        &format!("        value: {AZURE_KEY}\n        azure_key_config: {{ endpoint: \"{}\" }}", mocks.azure.url()),
        &format!(
            "        value: {AZURE_KEY}\n        azure_key_config: {{ endpoint: \"{}\" }}\n      - name: entra\n        weight: 0.0001\n        azure_key_config:\n          endpoint: \"{}\"\n          client_id: client-1\n          client_secret: env.LEAK_TEST_ENTRA_SECRET\n          tenant_id: tenant-1\n          authority_host: \"{}\"",
            mocks.azure.url(), mocks.azure.url(), entra.token_url()
        ),
    )
    // Short timeouts so the 504 path is quick.
    .replace(
        &format!("    network_config: {{ base_url: \"{}\" }}\n    keys: [ {{ name: main, value: {OPENAI_KEY} }} ]", mocks.openai.url()),
        &format!("    network_config: {{ base_url: \"{}\", default_request_timeout_in_seconds: 1, stream_idle_timeout_in_seconds: 1 }}\n    keys: [ {{ name: main, value: {OPENAI_KEY} }} ]", mocks.openai.url()),
    );
    let gw = Gateway::start_with_env(
        &config,
        &[
            ("RUST_LOG", "debug"),
            ("LEAK_TEST_ENTRA_SECRET", ENTRA_SECRET),
            ("LEAK_TEST_OTLP", OTLP_SECRET),
        ],
    );
    let bearer = format!("Bearer {VK}");
    let auth: (&str, &str) = ("authorization", &bearer);
    let chat =
        json!({"model": "gpt-4o", "messages": [], "stream_options": {"include_usage": true}});
    let mut stream_chat = chat.clone();
    stream_chat["stream"] = json!(true);
    let messages = json!({"model": "claude-x", "max_tokens": 5, "messages": []});

    let mut replies = Vec::new();
    let mut send =
        |method: &str, path: &str, headers: &[(&str, &str)], body: Option<&serde_json::Value>| {
            let mut h = vec![("content-type", "application/json")];
            h.extend_from_slice(headers);
            let body = body.map_or(String::new(), |b| b.to_string());
            replies.push(request(method, &gw.url(path), &h, body));
        };
    // Successes, JSON and streamed, on every route and credential kind.
    send(
        "POST",
        "/openai_passthrough/v1/chat/completions",
        &[auth],
        Some(&chat),
    );
    send(
        "POST",
        "/openai_passthrough/v1/chat/completions",
        &[auth],
        Some(&stream_chat),
    );
    send(
        "POST",
        "/anthropic_passthrough/v1/messages",
        &[("x-api-key", VK)],
        Some(&messages),
    );
    send(
        "POST",
        &format!("/genai_passthrough/v1beta/models/g:generateContent?key={VK}"),
        &[],
        Some(&json!({"contents": []})),
    );
    send("POST", "/genai_passthrough/v1/projects/p1/locations/us-central1/publishers/google/models/g:streamGenerateContent?alt=sse", &[("x-goog-api-key", VK)], Some(&json!({"contents": []})));
    for _ in 0..3 {
        send(
            "POST",
            "/azure_passthrough/openai/deployments/d/chat/completions?api-version=2024-10-21",
            &[("api-key", VK)],
            Some(&chat),
        );
    }
    // Gateway errors: no key, a wrong key, a path attack, an unknown route,
    // a method no provider has, a body the key rules cannot read.
    send("GET", "/openai_passthrough/v1/models", &[], None);
    send(
        "GET",
        "/openai_passthrough/v1/models",
        &[("authorization", &format!("Bearer {OPENAI_KEY}"))],
        None,
    );
    send(
        "GET",
        "/openai_passthrough/v1/../../etc/passwd",
        &[auth],
        None,
    );
    send(
        "GET",
        "/nowhere",
        &[auth, ("x-api-key", ANTHROPIC_KEY)],
        None,
    );
    send("TRACE", "/openai_passthrough/v1/models", &[auth], None);
    // Provider errors pass through; strait's own logging of them must not quote the request.
    for status in ["401", "429", "500"] {
        send(
            "POST",
            "/openai_passthrough/v1/chat/completions",
            &[auth, ("x-mock-status", status)],
            Some(&chat),
        );
    }
    // Timeouts: before the first byte, and between stream events.
    send(
        "POST",
        "/openai_passthrough/v1/chat/completions",
        &[auth, ("x-mock-delay-ms", "2500")],
        Some(&chat),
    );
    send(
        "POST",
        "/openai_passthrough/v1/chat/completions",
        &[auth, ("x-mock-gap-ms", "2500")],
        Some(&stream_chat),
    );
    // A failing token endpoint, then a provider that is gone.
    google.set_failing(Some(500));
    std::thread::sleep(Duration::from_millis(50));
    send("POST", "/genai_passthrough/v1/projects/p1/locations/us-central1/publishers/google/models/g:generateContent", &[("x-goog-api-key", VK)], Some(&json!({"contents": []})));
    drop(mocks);
    send(
        "POST",
        "/anthropic_passthrough/v1/messages",
        &[("x-api-key", VK)],
        Some(&messages),
    );

    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert!(
        statuses.contains(&200) && statuses.contains(&401) && statuses.contains(&502),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&504),
        "the timeout path ran: {statuses:?}"
    );
    assert!(gw.access_log(replies.len()).len() >= replies.len());
    std::thread::sleep(Duration::from_millis(100));

    let logs = gw.logs();
    assert!(logs.contains("DEBUG"), "debug logging was on");
    // Every traced request's server span, and the client spans with them.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while collector.spans().iter().filter(|s| s.kind == 2).count() < replies.len()
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let spans = format!("{:?}", collector.spans());
    assert!(
        collector.spans().iter().filter(|s| s.kind == 2).count() >= replies.len(),
        "{spans}"
    );
    assert!(collector.spans().iter().any(|s| s.kind == 3));
    assert!(
        !google.issued().is_empty() && !entra.issued().is_empty(),
        "tokens were minted"
    );
    for secret in secrets(&google, &entra) {
        assert!(
            !logs.contains(&secret),
            "{secret:.12}… reached the logs:\n{logs}"
        );
        assert!(
            !spans.contains(&secret),
            "{secret:.12}… reached an exported span:\n{spans}"
        );
        for r in &replies {
            for (name, value) in &r.headers {
                let value = value.to_str().unwrap_or_default();
                assert!(
                    !value.contains(&secret),
                    "{secret:.12}… in response header {name}"
                );
            }
            if r.header("x-strait-error").is_some() {
                assert!(
                    !r.text().contains(&secret),
                    "{secret:.12}… in a gateway error: {}",
                    r.text()
                );
            }
        }
    }
}
