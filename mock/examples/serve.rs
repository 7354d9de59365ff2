//! Starts one mock per flavor and prints, as `NAME=value` lines ready for
//! `set -a; . file`, each mock's URL and the key it expects; then serves until killed.
//!
//! `cargo run -p strait-mock --example serve > /tmp/mocks.env`

use std::io::Write;

use strait_mock::{Flavor, MockProvider};

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
    out.flush().expect("stdout");
    drop(out);
    loop {
        std::thread::park();
    }
}
