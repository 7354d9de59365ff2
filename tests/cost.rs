//! What calls cost, end to end: `cost_usd` in the access log and the cost
//! metrics for every provider's JSON and streamed shape, models without a
//! price, the bundled table in open mode, a LiteLLM-format `pricing.file`,
//! and a reload that changes prices. The expected costs are worked out here
//! from the mock providers' token counts as each provider reports them on
//! the wire, not from strait's own normalisation.

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use strait_mock::{Usage, ANTHROPIC_USAGE, AZURE_USAGE, GEMINI_USAGE, OPENAI_USAGE};
use support::*;

const AUTH: (&str, &str) = ("authorization", "Bearer vk-test-team-a");

/// USD per million tokens, as a test configures them.
#[derive(Clone, Copy, Debug)]
struct Per {
    input: f64,
    output: f64,
    cached: f64,
    creation: f64,
}

impl Per {
    /// Without cache prices: cached tokens cost what input costs.
    const fn flat(input: f64, output: f64) -> Per {
        Per {
            input,
            output,
            cached: input,
            creation: input,
        }
    }

    const fn cached(input: f64, output: f64, cached: f64) -> Per {
        Per {
            input,
            output,
            cached,
            creation: input,
        }
    }
}

/// OpenAI's numbers: cached tokens are among the prompt tokens, reasoning
/// tokens among the completion tokens.
fn openai_cost(u: Usage, p: Per) -> f64 {
    ((u.input - u.cached) as f64 * p.input
        + u.cached as f64 * p.cached
        + u.output as f64 * p.output)
        / 1e6
}

/// Anthropic's: `input_tokens` leaves out cache reads and cache writes.
fn anthropic_cost(u: Usage, p: Per) -> f64 {
    (u.input as f64 * p.input
        + u.cached as f64 * p.cached
        + u.cache_creation as f64 * p.creation
        + u.output as f64 * p.output)
        / 1e6
}

/// Gemini's: cached content is among the prompt tokens, thoughts are not
/// among the candidates.
fn gemini_cost(u: Usage, p: Per) -> f64 {
    ((u.input - u.cached) as f64 * p.input
        + u.cached as f64 * p.cached
        + (u.output + u.reasoning) as f64 * p.output)
        / 1e6
}

fn assert_cost(line: &Value, want: f64) {
    let got = line["cost_usd"]
        .as_f64()
        .unwrap_or_else(|| panic!("no cost_usd in {line}"));
    assert!(
        (got - want).abs() < 1e-12,
        "cost_usd {got}, want {want}: {line}"
    );
}

const OPENAI_P: Per = Per::cached(2.0, 8.0, 0.5);
const ANTHROPIC_P: Per = Per {
    input: 3.0,
    output: 15.0,
    cached: 0.3,
    creation: 3.75,
};
const GEMINI_P: Per = Per::cached(0.3, 2.5, 0.03);
const VERTEX_P: Per = Per::cached(0.6, 5.0, 0.06);
const VERTEX_CLAUDE_P: Per = Per {
    input: 3.3,
    output: 16.5,
    cached: 0.33,
    creation: 4.125,
};
const AZURE_P: Per = Per::cached(2.2, 8.8, 0.55);
const AZURE_CLAUDE_P: Per = Per::flat(3.0, 15.0);

fn entry(provider: &str, model: &str, p: Per, cache_prices: bool) -> String {
    let cache = if cache_prices {
        format!(
            ", cached_input: {}, cache_creation: {}",
            p.cached, p.creation
        )
    } else {
        String::new()
    };
    format!(
        "    - {{ provider: {provider}, model: \"{model}\", input: {}, output: {}{cache} }}\n",
        p.input, p.output
    )
}

/// Every provider through the mocks, Vertex in express mode (the Gemini
/// mock takes its API key), with a price for each test model.
fn priced_config(mocks: &Mocks) -> String {
    let vertex = format!(
        "  vertex:\n    network_config: {{ base_url: \"{}\" }}\n    keys:\n      - name: express\n        value: {GEMINI_KEY}\n        vertex_key_config: {{ project_id: strait-test-project, region: us-central1 }}\n",
        mocks.gemini.url()
    );
    let pricing = [
        entry("openai", "gpt-test", OPENAI_P, true),
        entry("anthropic", "claude-test", ANTHROPIC_P, true),
        entry("gemini", "gemini-test", GEMINI_P, true),
        entry("vertex", "gemini-test", VERTEX_P, true),
        entry("vertex", "claude-test*", VERTEX_CLAUDE_P, true),
        entry("azure", "gpt-test", AZURE_P, true),
        entry("azure", "claude-test", AZURE_CLAUDE_P, false),
    ]
    .concat();
    mocks.config(&format!("{vertex}pricing:\n  models:\n{pricing}"))
}

#[test]
fn each_provider_json_and_stream_is_priced_in_the_log_and_the_metrics() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&priced_config(&mocks));
    let openai = openai_cost(OPENAI_USAGE, OPENAI_P);
    let anthropic = anthropic_cost(ANTHROPIC_USAGE, ANTHROPIC_P);
    let gemini = gemini_cost(GEMINI_USAGE, GEMINI_P);
    let vertex = gemini_cost(GEMINI_USAGE, VERTEX_P);
    let vertex_claude = anthropic_cost(ANTHROPIC_USAGE, VERTEX_CLAUDE_P);
    let azure = openai_cost(AZURE_USAGE, AZURE_P);
    let azure_claude = anthropic_cost(AZURE_USAGE, AZURE_CLAUDE_P);
    let chat = json!({"model": "gpt-test", "messages": []});
    let chat_stream = json!({"model": "gpt-test", "messages": [], "stream": true,
        "stream_options": {"include_usage": true}});
    let message = json!({"model": "claude-test", "max_tokens": 5, "messages": []});
    let message_stream =
        json!({"model": "claude-test", "max_tokens": 5, "messages": [], "stream": true});
    let vertex_message = json!({"anthropic_version": "vertex-2023-10-16", "max_tokens": 5,
        "messages": []});
    let vertex_message_stream = json!({"anthropic_version": "vertex-2023-10-16",
        "max_tokens": 5, "messages": [], "stream": true});
    let genai = "/genai_passthrough/v1beta/models/gemini-test";
    let vertex_google =
        "/genai_passthrough/v1/projects/p/locations/l/publishers/google/models/gemini-test";
    let vertex_claude_path = "/genai_passthrough/v1/projects/p/locations/l/publishers/anthropic/models/claude-test@20250929";
    // Azure names the model it answers with; the mock names the deployment,
    // so the deployment is named after the model, as deployments often are.
    let deployment =
        "/azure_passthrough/openai/deployments/gpt-test/chat/completions?api-version=2024-10-21";
    // (request id, provider, path, body, streamed, cost)
    let cases: Vec<(&str, &str, String, Value, bool, f64)> = vec![
        (
            "openai-json",
            "openai",
            "/openai_passthrough/v1/chat/completions".into(),
            chat.clone(),
            false,
            openai,
        ),
        (
            "openai-sse",
            "openai",
            "/openai_passthrough/v1/chat/completions".into(),
            chat_stream.clone(),
            true,
            openai,
        ),
        (
            "responses-sse",
            "openai",
            "/openai_passthrough/v1/responses".into(),
            json!({"model": "gpt-test", "input": "hi", "stream": true}),
            true,
            openai,
        ),
        (
            "anthropic-json",
            "anthropic",
            "/anthropic_passthrough/v1/messages".into(),
            message.clone(),
            false,
            anthropic,
        ),
        (
            "anthropic-sse",
            "anthropic",
            "/anthropic_passthrough/v1/messages".into(),
            message_stream.clone(),
            true,
            anthropic,
        ),
        (
            "gemini-json",
            "gemini",
            format!("{genai}:generateContent"),
            json!({"contents": []}),
            false,
            gemini,
        ),
        (
            "gemini-sse",
            "gemini",
            format!("{genai}:streamGenerateContent?alt=sse"),
            json!({"contents": []}),
            true,
            gemini,
        ),
        // Without alt=sse Gemini streams one JSON array.
        (
            "gemini-array",
            "gemini",
            format!("{genai}:streamGenerateContent"),
            json!({"contents": []}),
            false,
            gemini,
        ),
        (
            "vertex-json",
            "vertex",
            format!("{vertex_google}:generateContent"),
            json!({"contents": []}),
            false,
            vertex,
        ),
        (
            "vertex-sse",
            "vertex",
            format!("{vertex_google}:streamGenerateContent?alt=sse"),
            json!({"contents": []}),
            true,
            vertex,
        ),
        (
            "vertex-claude-json",
            "vertex",
            format!("{vertex_claude_path}:rawPredict"),
            vertex_message,
            false,
            vertex_claude,
        ),
        (
            "vertex-claude-sse",
            "vertex",
            format!("{vertex_claude_path}:streamRawPredict"),
            vertex_message_stream,
            true,
            vertex_claude,
        ),
        ("azure-json", "azure", deployment.into(), chat, false, azure),
        (
            "azure-sse",
            "azure",
            deployment.into(),
            chat_stream,
            true,
            azure,
        ),
        (
            "azure-claude-json",
            "azure",
            "/azure_passthrough/anthropic/v1/messages".into(),
            message,
            false,
            azure_claude,
        ),
        (
            "azure-claude-sse",
            "azure",
            "/azure_passthrough/anthropic/v1/messages".into(),
            message_stream,
            true,
            azure_claude,
        ),
    ];
    let mut by_provider: Vec<(&str, f64)> = Vec::new();
    for (id, provider, path, body, streamed, cost) in &cases {
        let reply = post_json(&gw.url(path), &[AUTH, ("x-request-id", id)], body);
        assert_eq!(reply.status, 200, "{id}: {}", reply.text());
        let line = gw.log_line(id);
        assert_eq!(line["provider"], *provider, "{id}: {line}");
        assert_eq!(line["usage"], "reported", "{id}: {line}");
        assert_eq!(line["streamed"], *streamed, "{id}: {line}");
        assert_cost(&line, *cost);
        match by_provider.iter_mut().find(|(p, _)| p == provider) {
            Some((_, sum)) => *sum += cost,
            None => by_provider.push((provider, *cost)),
        }
    }
    let m = gw.metrics();
    for (provider, sum) in by_provider {
        let got = sample(
            &m,
            "strait_cost_usd_total",
            &[("provider", provider), ("virtual_key", "team-a")],
        );
        assert!((got - sum).abs() < 1e-9, "{provider}: {got} != {sum}\n{m}");
    }
    // Per model as well: Vertex's Gemini and Claude calls apart.
    let claude_on_vertex = sample(
        &m,
        "strait_cost_usd_total",
        &[("provider", "vertex"), ("model", "claude-test@20250929")],
    );
    assert!((claude_on_vertex - 2.0 * vertex_claude).abs() < 1e-9, "{m}");
    // Tokens carry the virtual key too.
    assert_eq!(
        sample(
            &m,
            "strait_tokens_total",
            &[
                ("provider", "openai"),
                ("model", "gpt-test"),
                ("kind", "input"),
                ("virtual_key", "team-a")
            ]
        ),
        3.0 * OPENAI_USAGE.input as f64
    );
    assert_eq!(sample(&m, "strait_cost_unpriced_total", &[]), 0.0, "{m}");
}

#[test]
fn a_model_without_a_price_or_usage_has_a_null_cost() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&priced_config(&mocks));
    let chat = |model: &str| json!({"model": model, "messages": []});
    let url = gw.url("/openai_passthrough/v1/chat/completions");
    // Usage read, but no price for the model: counted as unpriced.
    assert_eq!(
        post_json(
            &url,
            &[AUTH, ("x-request-id", "mystery")],
            &chat("mystery-model")
        )
        .status,
        200
    );
    // A provider error carries no usage: neither priced nor unpriced.
    post_json(
        &url,
        &[AUTH, ("x-request-id", "limited"), ("x-mock-status", "429")],
        &chat("gpt-test"),
    );
    // A stream whose client turned usage off reports none (strait asks for
    // it only when the client did not say).
    let stream = json!({"model": "gpt-test", "messages": [], "stream": true,
        "stream_options": {"include_usage": false}});
    post_json(&url, &[AUTH, ("x-request-id", "no-usage")], &stream);
    // A refused request never reaches a provider.
    post_json(&url, &[("x-request-id", "refused")], &chat("gpt-test"));

    let line = gw.log_line("mystery");
    assert_eq!(line["usage"], "reported", "{line}");
    assert_eq!(line["input_tokens"], OPENAI_USAGE.input);
    assert!(line["cost_usd"].is_null(), "{line}");
    for (id, usage) in [
        ("limited", json!("absent")),
        ("no-usage", json!("absent")),
        ("refused", Value::Null),
    ] {
        let line = gw.log_line(id);
        assert_eq!(line["usage"], usage, "{id}: {line}");
        assert!(line.as_object().unwrap().contains_key("cost_usd"), "{line}");
        assert!(line["cost_usd"].is_null(), "{id}: {line}");
    }
    let m = gw.metrics();
    assert_eq!(
        sample(
            &m,
            "strait_cost_unpriced_total",
            &[("provider", "openai"), ("model", "mystery-model")]
        ),
        1.0,
        "{m}"
    );
    assert_eq!(sample(&m, "strait_cost_unpriced_total", &[]), 1.0, "{m}");
    assert_eq!(sample(&m, "strait_cost_usd_total", &[]), 0.0, "{m}");
    // Its tokens still count.
    assert_eq!(
        sample(
            &m,
            "strait_tokens_total",
            &[("model", "mystery-model"), ("kind", "output")]
        ),
        OPENAI_USAGE.output as f64
    );
}

/// No `pricing:` and no virtual keys: the bundled prices, and the metrics'
/// `virtual_key` is `none` where the log has `null`.
#[test]
fn open_mode_with_the_bundled_prices() {
    let mocks = Mocks::start();
    let config = mocks.config("").replace(
        &format!("virtual_keys:\n  - {{ name: team-a, value: {VK} }}\n"),
        "",
    );
    assert!(!config.contains("virtual_keys"));
    let gw = Gateway::start(&config);
    let reply = post_json(
        &gw.url("/openai_passthrough/v1/chat/completions"),
        &[("x-request-id", "open-1")],
        &json!({"model": "gpt-4o-mini", "messages": []}),
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    let line = gw.log_line("open-1");
    assert!(line["virtual_key"].is_null(), "{line}");
    // gpt-4o-mini as the README's bundled table lists it.
    let want = openai_cost(OPENAI_USAGE, Per::cached(0.15, 0.6, 0.075));
    assert_cost(&line, want);
    let m = gw.metrics();
    let got = sample(
        &m,
        "strait_cost_usd_total",
        &[
            ("provider", "openai"),
            ("model", "gpt-4o-mini"),
            ("virtual_key", "none"),
        ],
    );
    assert!((got - want).abs() < 1e-12, "{m}");
    assert_eq!(
        sample(
            &m,
            "strait_tokens_total",
            &[("kind", "input"), ("virtual_key", "none")]
        ),
        OPENAI_USAGE.input as f64
    );
}

const LITELLM_FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/pricing/litellm.json"
);

/// A model's price in the fixture, per million tokens, read here from the
/// JSON: cache prices absent in the file are the input price.
fn fixture_price(key: &str) -> Per {
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(LITELLM_FIXTURE).unwrap()).unwrap();
    let e = &file[key];
    let per_million = |field: &str| e[field].as_f64().map(|v| v * 1e6);
    let input = per_million("input_cost_per_token").unwrap();
    Per {
        input,
        output: per_million("output_cost_per_token").unwrap(),
        cached: per_million("cache_read_input_token_cost").unwrap_or(input),
        creation: per_million("cache_creation_input_token_cost").unwrap_or(input),
    }
}

#[test]
fn a_litellm_pricing_file_prices_calls_and_models_override_it() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&mocks.config(&format!(
        "pricing:\n  file: \"{LITELLM_FIXTURE}\"\n  models:\n{}",
        entry("openai", "gpt-overridden", Per::flat(4.0, 4.0), false)
    )));
    let post = |id: &str, path: &str, body: Value| {
        let reply = post_json(&gw.url(path), &[AUTH, ("x-request-id", id)], &body);
        assert_eq!(reply.status, 200, "{id}: {}", reply.text());
        gw.log_line(id)
    };
    let chat = |model: &str| json!({"model": model, "messages": []});
    let openai = "/openai_passthrough/v1/chat/completions";
    assert_cost(
        &post("file-openai", openai, chat("gpt-file")),
        openai_cost(OPENAI_USAGE, fixture_price("gpt-file")),
    );
    assert_cost(
        &post("models-win", openai, chat("gpt-overridden")),
        openai_cost(OPENAI_USAGE, Per::flat(4.0, 4.0)),
    );
    assert_cost(
        &post(
            "file-anthropic",
            "/anthropic_passthrough/v1/messages",
            json!({"model": "claude-file", "max_tokens": 5, "messages": []}),
        ),
        anthropic_cost(ANTHROPIC_USAGE, fixture_price("claude-file")),
    );
    // `gemini/` and `azure/` name the provider and are not part of the model.
    assert_cost(
        &post(
            "file-gemini",
            "/genai_passthrough/v1beta/models/gemini-file:generateContent",
            json!({"contents": []}),
        ),
        gemini_cost(GEMINI_USAGE, fixture_price("gemini/gemini-file")),
    );
    assert_cost(
        &post(
            "file-azure",
            "/azure_passthrough/openai/deployments/gpt-file/chat/completions?api-version=2024-10-21",
            chat("gpt-file"),
        ),
        openai_cost(AZURE_USAGE, fixture_price("azure/gpt-file")),
    );
    // The bundled table is still underneath.
    assert_cost(
        &post("bundled", openai, chat("gpt-4o")),
        openai_cost(OPENAI_USAGE, Per::cached(2.5, 10.0, 1.25)),
    );
}

#[test]
fn a_reload_changes_the_prices_of_the_calls_after_it() {
    let mocks = Mocks::start();
    let priced = |p: Per| {
        mocks.config(&format!(
            "pricing:\n  models:\n{}",
            entry("openai", "gpt-test", p, true)
        ))
    };
    let before = Per::cached(1.0, 2.0, 0.5);
    let after = Per::cached(10.0, 20.0, 5.0);
    let gw = Gateway::start(&priced(before));
    let url = gw.url("/openai_passthrough/v1/chat/completions");
    let chat = json!({"model": "gpt-test", "messages": []});
    post_json(&url, &[AUTH, ("x-request-id", "before")], &chat);
    assert_cost(&gw.log_line("before"), openai_cost(OPENAI_USAGE, before));

    let text = priced(after);
    std::fs::write(&gw.config_path, &text).unwrap();
    gw.signal("HUP");
    let sha = strait::facade::sha256_hex(text.as_bytes());
    let deadline = Instant::now() + Duration::from_secs(10);
    while gw.readyz().1["config"]["sha256"] != sha {
        assert!(Instant::now() < deadline, "no reload:\n{}", gw.logs());
        std::thread::sleep(Duration::from_millis(20));
    }
    post_json(&url, &[AUTH, ("x-request-id", "after")], &chat);
    assert_cost(&gw.log_line("after"), openai_cost(OPENAI_USAGE, after));
    let m = gw.metrics();
    let total = sample(&m, "strait_cost_usd_total", &[("model", "gpt-test")]);
    let want = openai_cost(OPENAI_USAGE, before) + openai_cost(OPENAI_USAGE, after);
    assert!((total - want).abs() < 1e-9, "{m}");
}
