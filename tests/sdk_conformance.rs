//! The official Python SDKs (openai, anthropic, google-genai) pointed at a
//! real strait in front of the mock providers, over HTTP and WebSocket
//! (plain and TLS listeners): `tests/sdk/*.py`, run by pytest
//! in the venv `tests/sdk/setup.sh` prepares. A missing Python or a pip
//! failure fails this test: the suite is never skipped silently.

mod support;

use std::process::Command;

use strait_mock::{test_service_account_json, TokenServer};
use support::*;

#[test]
fn official_sdks_work_through_the_gateway() {
    let root = env!("CARGO_MANIFEST_DIR");
    let setup = Command::new("bash")
        .arg(format!("{root}/tests/sdk/setup.sh"))
        .output()
        .expect("bash runs tests/sdk/setup.sh");
    assert!(
        setup.status.success(),
        "SDK venv setup failed:\n{}",
        String::from_utf8_lossy(&setup.stderr)
    );
    let python = String::from_utf8_lossy(&setup.stdout)
        .lines()
        .last()
        .expect("setup.sh prints the venv python")
        .trim()
        .to_string();

    let mocks = Mocks::start();
    // Vertex: a Gemini-flavor mock that accepts only tokens the Google token
    // mock issued to the gateway's service account.
    let google = TokenServer::google(3600);
    let vertex = MockProvider::start(Flavor::Gemini, "vertex-takes-no-api-key");
    vertex.accept_tokens_from(&google);
    let sa = test_service_account_json(&google.token_url());
    let dir = TempDir::new();
    // google-genai's Live client and AzureOpenAI's realtime client dial
    // wss:// only: a TLS listener with a certificate from a test CA, which
    // Python trusts through SSL_CERT_FILE (both SDKs' SSL contexts read it).
    let (cert, ca) = support::tls::ca_signed(&dir, "gateway");
    let access_log = dir.0.join("access.log");
    let config = mocks.config(&format!(
        "  vertex:\n    network_config: {{ base_url: \"{}\" }}\n    keys:\n      - name: gcp\n        vertex_key_config:\n          project_id: strait-test-project\n          region: us-central1\n          auth_credentials: '{}'\n",
        vertex.url(),
        sa.replace('\'', "''").replace('\n', " ")
    ));
    let gw = Gateway::start(&format!(
        "access_log: \"{}\"\n{}{config}",
        access_log.display(),
        support::tls::listen_config(&cert)
    ));
    let tls = support::tls::listen_addr(&gw);
    let out = Command::new(&python)
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            &format!("{root}/tests/sdk"),
        ])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("STRAIT_URL", format!("http://{}", gw.addr))
        .env("STRAIT_TLS_URL", format!("https://{tls}"))
        .env("SSL_CERT_FILE", &ca)
        .env("STRAIT_VIRTUAL_KEY", VK)
        .env("STRAIT_ACCESS_LOG", &access_log)
        .env(
            "STRAIT_ADMIN_URL",
            format!("http://{}", gw.admin.expect("admin_listen is configured")),
        )
        .env("MOCK_OPENAI_URL", mocks.openai.url())
        .env("MOCK_ANTHROPIC_URL", mocks.anthropic.url())
        .env("MOCK_GEMINI_URL", mocks.gemini.url())
        .env("MOCK_AZURE_URL", mocks.azure.url())
        .env("MOCK_VERTEX_URL", vertex.url())
        .env("VERTEX_PROJECT", "strait-test-project")
        .env("VERTEX_REGION", "us-central1")
        .env("VERTEX_TOKEN_URL", google.token_url())
        .env("OPENAI_KEY", OPENAI_KEY)
        .env("ANTHROPIC_KEY", ANTHROPIC_KEY)
        .env("GEMINI_KEY", GEMINI_KEY)
        .env("AZURE_KEY", AZURE_KEY)
        .output()
        .expect("pytest runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{report}");
    assert!(
        out.status.success(),
        "SDK conformance suite failed:\n{report}\n--- strait logs ---\n{}",
        gw.logs()
    );
    assert!(report.contains(" passed"), "pytest ran no test:\n{report}");
    assert!(
        !report.contains(" skipped"),
        "SDK tests were skipped:\n{report}"
    );
}
