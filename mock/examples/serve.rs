//! Starts one mock per flavor and prints, as `NAME=value` lines ready for
//! `set -a; . file`, each mock's URL and the key it expects; then serves until killed.
//!
//! Also the Vertex AI pieces: a Google token server (`VERTEX_TOKEN_URL`, its
//! `token_uri`), a Gemini-flavor mock accepting the tokens it issues
//! (`MOCK_VERTEX_URL`), and the test service account's JSON written to
//! `VERTEX_SERVICE_ACCOUNT_FILE`. So that an SDK can be pointed straight at the
//! Vertex mock (no gateway), that mock also accepts `Bearer VERTEX_CLIENT_TOKEN`.
//!
//! `cargo run -p strait-mock --example serve > /tmp/mocks.env`

use std::io::Write;

use strait_mock::{test_service_account_json, Flavor, MockProvider, TokenServer, TEST_PROJECT_ID};

/// The token a direct-mode SDK client sends as its own Google credential.
const VERTEX_CLIENT_TOKEN: &str = "ya29.client-own-token";

fn main() {
    let flavors = [
        ("OPENAI", Flavor::OpenAi, "sk-mock-openai"),
        ("ANTHROPIC", Flavor::Anthropic, "sk-ant-mock"),
        ("GEMINI", Flavor::Gemini, "mock-gemini-key"),
        ("AZURE", Flavor::Azure, "mock-azure-key"),
    ];
    let mut out = std::io::stdout().lock();
    // Kept alive (dropping a mock stops it) while this thread parks forever.
    let _mocks: Vec<MockProvider> = flavors
        .iter()
        .map(|(name, flavor, key)| {
            let mock = MockProvider::start(*flavor, key);
            writeln!(out, "MOCK_{name}_URL={}\n{name}_KEY={key}", mock.url()).expect("stdout");
            mock
        })
        .collect();

    let tokens = TokenServer::google(3600);
    let vertex = MockProvider::start(Flavor::Gemini, "mock-vertex-express-key");
    vertex.accept_tokens_from(&tokens);
    vertex.set_bearer_token(VERTEX_CLIENT_TOKEN);
    let account = std::env::temp_dir().join("strait-mock-service-account.json");
    std::fs::write(&account, test_service_account_json(&tokens.token_url()))
        .expect("write service account JSON");
    writeln!(
        out,
        "MOCK_VERTEX_URL={}\nVERTEX_TOKEN_URL={}\nVERTEX_PROJECT={TEST_PROJECT_ID}\n\
         VERTEX_REGION=us-central1\nVERTEX_SERVICE_ACCOUNT_FILE={}\n\
         VERTEX_CLIENT_TOKEN={VERTEX_CLIENT_TOKEN}",
        vertex.url(),
        tokens.token_url(),
        account.display()
    )
    .expect("stdout");
    out.flush().expect("stdout");
    drop(out);
    loop {
        std::thread::park();
    }
}
