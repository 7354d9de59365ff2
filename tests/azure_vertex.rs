//! Azure api-version and Entra ID; GenAI → Vertex detection with
//! service-account OAuth, against mock provider and token endpoints.

mod support;

use std::time::Duration;

use serde_json::json;
use strait_mock::{test_service_account_json, TokenServer};
use support::*;

const AUTH: (&str, &str) = ("authorization", "Bearer vk-test-team-a");

fn chat() -> serde_json::Value {
    json!({"messages": [{"role": "user", "content": "hi"}], "model": "gpt-4o"})
}

fn azure_config(mocks: &Mocks, key_extra: &str) -> String {
    mocks.config("").replace(
        &format!(
            "azure_key_config: {{ endpoint: \"{}\" }}",
            mocks.azure.url()
        ),
        &format!(
            "azure_key_config: {{ endpoint: \"{}\"{key_extra} }}",
            mocks.azure.url()
        ),
    )
}

#[test]
fn api_version_precedence_key_then_client_then_none() {
    let mocks = Mocks::start();
    let path = "/azure_passthrough/openai/deployments/d1/chat/completions";

    let gw = Gateway::start(&azure_config(&mocks, ""));
    // The client's version, kept once even when sent twice; the rest kept as sent.
    let r = post_json(
        &gw.url(&format!(
            "{path}?a=1&api-version=2024-10-21&api-version=2023-05-15&b=%20"
        )),
        &[AUTH],
        &chat(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let rec = mocks.azure.last();
    assert_eq!(
        rec.query.as_deref(),
        Some("a=1&b=%20&api-version=2024-10-21")
    );
    assert_eq!(
        rec.query_pairs()
            .iter()
            .filter(|(k, _)| k == "api-version")
            .count(),
        1
    );
    // No version from anyone: none is sent (the v1 API takes none).
    let r = post_json(
        &gw.url("/azure_passthrough/openai/v1/chat/completions"),
        &[AUTH],
        &chat(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(mocks.azure.last().query, None);
    drop(gw);

    let gw = Gateway::start(&azure_config(
        &mocks,
        ", api_version: \"2025-01-01-preview\"",
    ));
    let r = post_json(
        &gw.url(&format!("{path}?api-version=2023-05-15")),
        &[AUTH],
        &chat(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let pairs = mocks.azure.last().query_pairs();
    assert_eq!(
        pairs,
        [("api-version".to_string(), "2025-01-01-preview".to_string())]
    );
    // Anthropic on Azure: no api-version added.
    let msg = json!({"model": "claude", "max_tokens": 8, "messages": []});
    let r = post_json(
        &gw.url("/azure_passthrough/anthropic/v1/messages"),
        &[AUTH],
        &msg,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(mocks.azure.last().query, None);
}

#[test]
fn no_azure_key_is_a_clear_503() {
    let mocks = Mocks::start();
    let config = mocks.config("");
    let config = config[..config.find("  azure:").unwrap()].to_string();
    let gw = Gateway::start(&config);
    let r = post_json(
        &gw.url("/azure_passthrough/openai/v1/chat/completions"),
        &[AUTH],
        &chat(),
    );
    r.assert_gateway_error(503, "provider_not_configured");
    assert!(r.text().contains("azure"));
}

#[test]
fn entra_tokens_are_reused_and_refreshed_before_expiry() {
    let mocks = Mocks::start();
    let entra = TokenServer::entra(
        "tenant-1",
        "client-1",
        "entra-secret-0123456789",
        "https://cognitiveservices.azure.com/.default",
        4,
    );
    mocks.azure.accept_tokens_from(&entra);
    mocks.azure.set_key("no-static-key-accepted");
    let config = mocks.config("").replace(
        &format!("        value: {AZURE_KEY}\n        azure_key_config: {{ endpoint: \"{}\" }}", mocks.azure.url()),
        &format!(
            "        azure_key_config:\n          endpoint: \"{}\"\n          client_id: client-1\n          client_secret: env.STRAIT_TEST_ENTRA_SECRET\n          tenant_id: tenant-1\n          authority_host: \"{}\"",
            mocks.azure.url(),
            entra.token_url()
        ),
    );
    let gw = Gateway::start_with_env(
        &config,
        &[("STRAIT_TEST_ENTRA_SECRET", "entra-secret-0123456789")],
    );
    let url =
        gw.url("/azure_passthrough/openai/deployments/d/chat/completions?api-version=2024-10-21");
    for _ in 0..5 {
        let r = post_json(&url, &[("api-key", VK)], &chat());
        assert_eq!(r.status, 200, "{}", r.text());
        let rec = mocks.azure.last();
        assert_eq!(
            rec.header("api-key"),
            None,
            "the client's api-key must not be forwarded"
        );
        let bearer = rec.header("authorization").unwrap().to_string();
        assert!(
            entra
                .issued()
                .iter()
                .any(|t| bearer == format!("Bearer {t}")),
            "{bearer}"
        );
    }
    assert_eq!(entra.issued().len(), 1, "one token serves many requests");
    // A 4 s token is refreshed at 3 s, before it expires: requests keep working.
    std::thread::sleep(Duration::from_millis(3600));
    let r = post_json(&url, &[("api-key", VK)], &chat());
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        entra.issued().len() >= 2,
        "token was not refreshed: {:?}",
        entra.issued()
    );
    let logs = gw.logs();
    assert!(!logs.contains("entra-secret-0123456789"));
    for t in entra.issued() {
        assert!(!logs.contains(&t), "token logged");
    }
}

#[test]
fn token_endpoint_failure_is_a_clean_502() {
    let mocks = Mocks::start();
    let google = TokenServer::google(3600);
    google.set_failing(Some(400));
    let gw = Gateway::start(&vertex_config(&mocks, &google));
    let r = post_json(
        &gw.url("/genai_passthrough/v1/projects/p/locations/l/publishers/google/models/m:generateContent"),
        &[("x-strait-key", VK)],
        &json!({"contents": []}),
    );
    r.assert_gateway_error(502, "provider_auth_error");
    assert!(mocks.gemini.requests().is_empty());
}

/// Gemini keeps its API key; Vertex (served by the Gemini-flavor mock,
/// which accepts the tokens the Google token mock issues) gets a service account.
fn vertex_config(mocks: &Mocks, google: &TokenServer) -> String {
    let sa = test_service_account_json(&google.token_url());
    mocks.gemini.accept_tokens_from(google);
    mocks.config(&format!(
        "  vertex:\n    network_config: {{ base_url: \"{}\" }}\n    keys:\n      - name: gcp\n        vertex_key_config:\n          project_id: strait-test-project\n          region: us-central1\n          auth_credentials: '{}'\n",
        mocks.gemini.url(),
        sa.replace('\'', "''").replace('\n', " ")
    ))
}

#[test]
fn each_vertex_signal_routes_to_vertex_and_none_to_gemini() {
    let mocks = Mocks::start();
    let google = TokenServer::google(3600);
    let gw = Gateway::start(&vertex_config(&mocks, &google));
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    let expect_vertex = |what: &str, expected_path: &str| {
        let rec = mocks.gemini.last();
        assert_eq!(rec.path, expected_path, "{what}");
        let bearer = rec.header("authorization").unwrap_or_default().to_string();
        assert!(
            google
                .issued()
                .iter()
                .any(|t| bearer == format!("Bearer {t}")),
            "{what}: {bearer}"
        );
        assert_eq!(rec.header("x-goog-api-key"), None, "{what}");
        assert!(
            !rec.headers.iter().any(|(_, v)| v.contains("ya29.client")),
            "{what}: client token forwarded"
        );
    };

    // 1. The path names a project and location: the key's replace them.
    let r = post_json(
        &gw.url("/genai_passthrough/v1beta1/projects/client-proj/locations/europe-west4/publishers/google/models/gemini-2.5-flash:generateContent"),
        &[("x-strait-key", VK)],
        &body,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    expect_vertex("path", "/v1beta1/projects/strait-test-project/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent");

    // 2. The client's own Google token, never forwarded.
    let r = post_json(
        &gw.url("/genai_passthrough/v1/publishers/google/models/gemini-2.5-flash:generateContent"),
        &[
            ("authorization", "Bearer ya29.client-own-token"),
            ("x-strait-key", VK),
        ],
        &body,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    expect_vertex("token", "/v1/projects/strait-test-project/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent");

    // 3. Only the body's model says Vertex, in a body far above 64 KiB.
    let big = json!({
        "contents": [{"role": "user", "parts": [{"text": "x".repeat(300 * 1024)}]}],
        "model": "projects/p/locations/l/publishers/google/models/gemini-2.5-pro",
    });
    let r = post_json(
        &gw.url("/genai_passthrough/v1/publishers/google/models/gemini-2.5-pro:generateContent"),
        &[("x-strait-key", VK)],
        &big,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    expect_vertex("body", "/v1/projects/strait-test-project/locations/us-central1/publishers/google/models/gemini-2.5-pro:generateContent");
    assert_eq!(mocks.gemini.last().body, big.to_string().into_bytes());
    assert_eq!(google.issued().len(), 1, "one token for all requests");

    // None: plain Gemini with its API key.
    let r = post_json(
        &gw.url("/genai_passthrough/v1beta/models/gemini-2.5-flash:generateContent"),
        &[("x-goog-api-key", VK)],
        &body,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let rec = mocks.gemini.last();
    assert_eq!(rec.path, "/v1beta/models/gemini-2.5-flash:generateContent");
    assert_eq!(rec.header("x-goog-api-key"), Some(GEMINI_KEY));
    assert_eq!(rec.header("authorization"), None);
}

#[test]
fn vertex_and_azure_config_errors_are_reported_with_locations() {
    let dir = TempDir::new();
    let path = dir.write(
        "bad.yaml",
        "providers:\n  vertex:\n    keys:\n      - name: gcp\n        vertex_key_config: { project_id: \"Bad.Project\", region: \"us-central1/evil\", auth_credentials: '{}' }\n  azure:\n    keys:\n      - name: a\n        value: k\n        azure_key_config: { api_version: \"2024\" }\n",
    );
    let out = std::process::Command::new(strait_bin())
        .args(["check", "-c"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.yaml:5:") && err.contains("project_id must be [a-z0-9-]"),
        "{err}"
    );
    assert!(err.contains("region must be [a-z0-9-]"), "{err}");
    assert!(err.contains("auth_credentials"), "{err}");
    assert!(
        err.contains("bad.yaml:8:") && err.contains("azure_key_config.endpoint is required"),
        "{err}"
    );
}
