//! `pricing:` rows, and the order its sources override each other in.

use super::*;
use crate::providers::ProviderKind::{self, *};

fn models(entry: &str) -> String {
    format!("pricing:\n  models:\n    - {entry}\n")
}

#[test]
fn pricing_rows() {
    check(vec![
        row(
            Error,
            "pricing: { fil: prices.json }\n",
            "unknown field `fil`",
            1,
            12,
        ),
        row(
            Error,
            models("{ provider: openai, model: m, input: 1, output: 2, cached: 0.5 }"),
            "unknown field `cached`",
            3,
            58,
        ),
        row(
            Error,
            models("{ provider: openai, model: m, input: 1 }"),
            "missing field `output`",
            3,
            37,
        ),
        row(
            Error,
            models("{ provider: bedrock, model: m, input: 1, output: 2 }"),
            "pricing: unknown provider `bedrock` (openai, anthropic, azure, gemini, vertex)",
            3,
            19,
        ),
        row(
            Error,
            models("{ provider: openai, model: m, input: -1, output: 2 }"),
            "pricing: `input` of `m` must be a number of USD per million tokens, at least 0",
            3,
            44,
        ),
        row(
            Error,
            models("{ provider: openai, model: m, input: 1, output: .nan }"),
            "pricing: `output` of `m` must be a number",
            3,
            55,
        ),
        row(
            Error,
            models("{ provider: openai, model: m, input: 1, output: 2, cached_input: -0.5 }"),
            "pricing: `cached_input` of `m` must be a number",
            3,
            72,
        ),
        row(
            Error,
            models("{ provider: openai, model: m, input: 1, output: 2, cache_creation: -1 }"),
            "pricing: `cache_creation` of `m` must be a number",
            3,
            74,
        ),
        row(
            Error,
            models("{ provider: openai, model: \"gpt-*-mini\", input: 1, output: 2 }"),
            "pricing: model `gpt-*-mini`: only a trailing `*` is allowed",
            3,
            34,
        ),
        row(
            Error,
            models("{ provider: openai, model: \"\", input: 1, output: 2 }"),
            "pricing: model ``: the model is empty",
            3,
            34,
        ),
        row(
            Error,
            "pricing: { file: prices.json }\n",
            "cannot read pricing file /nonexistent-strait-test/prices.json: ",
            1,
            18,
        ),
    ]);
}

/// A scratch directory with the given files, removed on drop.
struct Dir(std::path::PathBuf);

impl Dir {
    fn with(files: &[(&str, &str)]) -> Dir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("strait-pricing-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temp dir");
        for (name, text) in files {
            std::fs::write(dir.join(name), text).expect("written");
        }
        Dir(dir)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_pricing_file_that_is_not_litellms_format_is_an_error_naming_it() {
    let dir = Dir::with(&[("bad.json", "{\"gpt-4o\": "), ("list.json", "[]")]);
    check_in(
        vec![
            row(
                Error,
                "pricing:\n  file: bad.json\n",
                "is not in LiteLLM's model_prices_and_context_window.json format: EOF",
                2,
                9,
            ),
            row(
                Error,
                "pricing: { file: list.json }\n",
                "list.json is not in LiteLLM's model_prices_and_context_window.json format",
                1,
                18,
            ),
        ],
        &dir.0,
    );
}

const FILE: &str = r#"{
    "gpt-4o": {"litellm_provider": "openai", "input_cost_per_token": 3e-06,
        "output_cost_per_token": 1.2e-05},
    "my-model": {"litellm_provider": "openai", "input_cost_per_token": 1e-06,
        "output_cost_per_token": 2e-06},
    "gemini/my-model": {"litellm_provider": "gemini", "input_cost_per_token": 4e-06,
        "output_cost_per_token": 5e-06}
}"#;

fn input(loaded: &Loaded, kind: ProviderKind, model: &str) -> Option<f64> {
    loaded.snapshot.prices.price(kind, model).map(|p| p.input)
}

#[test]
fn models_over_the_file_over_the_bundled_table() {
    let dir = Dir::with(&[("prices.json", FILE)]);
    let yaml = "pricing:
  file: prices.json
  models:
    - { provider: openai, model: my-model, input: 7, output: 8 }
    - { provider: openai, model: \"my-*\", input: 9, output: 9 }
    - { provider: openai, model: my-model, input: 10, output: 11, cached_input: 1 }
    - { provider: vertex, model: \"*\", input: 0, output: 0 }
    - { provider: openai, model: \"gpt-4o-m*\", input: 0.2, output: 0.8 }
";
    let loaded = load_in(yaml, Mode::Check, &dir.0).expect("loads");
    // The file's price beats the bundled one; models beat the file.
    assert_eq!(input(&loaded, OpenAi, "gpt-4o"), Some(3.0));
    let p = loaded.snapshot.prices.price(OpenAi, "my-model").unwrap();
    assert_eq!((p.input, p.output, p.cached_input), (10.0, 11.0, 1.0));
    assert_eq!(input(&loaded, OpenAi, "my-other"), Some(9.0));
    assert_eq!(input(&loaded, Gemini, "my-model"), Some(4.0));
    // A prefix in `models` beats the bundled exact name it covers.
    assert_eq!(input(&loaded, OpenAi, "gpt-4o-mini"), Some(0.2));
    assert_eq!(input(&loaded, OpenAi, "gpt-4o-mini-2024-07-18"), Some(0.2));
    // What no source above names keeps its bundled price.
    assert_eq!(input(&loaded, OpenAi, "gpt-4.1"), Some(2.0));
    assert_eq!(input(&loaded, Azure, "gpt-4o"), Some(2.5));
    // A prefix in `models` beats exact names below it: a catch-all prices
    // every model of its provider.
    assert_eq!(input(&loaded, Vertex, "anything"), Some(0.0));
    assert_eq!(input(&loaded, Vertex, "gemini-2.5-pro"), Some(0.0));
}

#[test]
fn without_pricing_the_bundled_table_applies() {
    let loaded = load("{}\n", Mode::Check).expect("loads");
    assert_eq!(input(&loaded, OpenAi, "gpt-4o-2024-08-06"), Some(2.5));
    assert_eq!(
        input(&loaded, Anthropic, "claude-sonnet-4-5-20250929"),
        Some(3.0)
    );
    assert_eq!(input(&loaded, Gemini, "gemini-2.5-flash"), Some(0.3));
    assert_eq!(input(&loaded, OpenAi, "no-such-model"), None);
}

#[test]
fn the_reference_configs_pricing_example_loads_uncommented() {
    const REFERENCE: &str = include_str!("../../../conf/strait.yaml");
    const LITELLM: &str = include_str!("../../../tests/fixtures/pricing/litellm.json");
    let example: String = REFERENCE
        .lines()
        .skip_while(|l| !l.starts_with("# pricing:"))
        .take_while(|l| l.starts_with("# "))
        .map(|l| format!("{}\n", &l[2..]))
        .collect();
    assert!(
        example.contains("file:") && example.contains("models:"),
        "{example}"
    );
    let dir = Dir::with(&[("model_prices_and_context_window.json", LITELLM)]);
    let loaded = load_in(&example, Mode::Check, &dir.0).expect(&example);
    let p = loaded
        .snapshot
        .prices
        .price(Anthropic, "claude-sonnet-4-5-20250929")
        .expect("priced");
    assert_eq!(
        (p.input, p.cached_input, p.cache_creation),
        (3.0, 0.3, 3.75)
    );
    assert_eq!(input(&loaded, OpenAi, "gpt-file"), Some(2.0));
}
