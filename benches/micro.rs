//! Micro-benchmarks of the per-request work strait adds on top of Pingora:
//! admitting the path, rewriting headers, checking the virtual key, picking a
//! provider key, reading usage from responses and the model from request
//! bodies, and loading the config (the cost of a reload).
//!
//! Run with `cargo bench --bench micro` (add `-- --quick` for a rough pass).
//! Every input is built outside the timed closures, and each setup checks
//! that its input takes the intended path through the code (a hit really
//! hits, a stream really reports usage), so no number measures an early
//! error exit by accident.

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use pingora::http::{RequestHeader, ResponseHeader};

use strait::facade::{
    filter_query, inject_credential, load_str, match_route, select_key, strip_client_credentials,
    validate_path, AuthOutcome, Format, ModelScanner, Outcome, ProviderConfig, ProviderKind,
    RequestCredential, ResponseTap, Route, Secret, UsageState, VirtualKeys,
    CLIENT_CREDENTIAL_PARAMS,
};
use strait::Mode;

// ---------------------------------------------------------------------------
// route

/// The path work of `admission::admit` (which needs a live Pingora session,
/// so it cannot be called here): route match and prefix strip, validation of
/// the provider-native path, and removal of `?key=` from the query.
fn admit_path(path_and_query: &str) -> Result<(Route, String), &'static str> {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let (route, rest) = match_route(path).ok_or("no route")?;
    validate_path(rest)?;
    Ok((route, filter_query(query, &CLIENT_CREDENTIAL_PARAMS)))
}

fn bench_route(c: &mut Criterion) {
    let cases = [
        (
            "openai_chat",
            "/openai_passthrough/v1/chat/completions",
            true,
        ),
        (
            "anthropic_messages",
            "/anthropic_passthrough/v1/messages",
            true,
        ),
        (
            "gemini_stream",
            "/genai_passthrough/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
            true,
        ),
        (
            "azure_chat",
            "/azure_passthrough/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
            true,
        ),
        // Only caught after a decode round: the slow way to be refused.
        (
            "traversal_refused",
            "/openai_passthrough/v1/..%2f..%2fadmin",
            false,
        ),
    ];
    let mut group = c.benchmark_group("route");
    for (name, path, admitted) in cases {
        assert_eq!(admit_path(path).is_ok(), admitted, "{path}");
        group.bench_function(name, |b| b.iter(|| admit_path(black_box(path))));
    }
    group.finish();
}

// ---------------------------------------------------------------------------
// headers

const VIRTUAL_KEY: &str = "vk-team-a-8f3c2e1d9b7a4c6e";

/// A request header as an official SDK sends it, carrying the virtual key in
/// the SDK's own credential header.
fn sdk_request(path: &str, credential: (&str, &str), sdk: &[(&str, &str)]) -> RequestHeader {
    let mut req = RequestHeader::build("POST", path.as_bytes(), None).expect("valid request line");
    let common = [
        ("host", "strait.internal:8080"),
        ("accept", "application/json"),
        ("accept-encoding", "gzip, deflate"),
        ("connection", "keep-alive"),
        ("content-type", "application/json"),
        ("content-length", "1873"),
        credential,
    ];
    for (name, value) in common.iter().chain(sdk) {
        req.append_header(name.to_string(), *value)
            .expect("valid header");
    }
    req
}

/// The `x-stainless-*` family the OpenAI and Anthropic SDKs send.
fn stainless(user_agent: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("user-agent", user_agent),
        ("x-stainless-lang", "python"),
        ("x-stainless-package-version", "1.54.0"),
        ("x-stainless-os", "Linux"),
        ("x-stainless-arch", "x64"),
        ("x-stainless-runtime", "CPython"),
        ("x-stainless-runtime-version", "3.12.7"),
        ("x-stainless-async", "false"),
        ("x-stainless-retry-count", "0"),
    ]
}

fn openai_request() -> RequestHeader {
    let bearer = format!("Bearer {VIRTUAL_KEY}");
    sdk_request(
        "/openai_passthrough/v1/chat/completions",
        ("authorization", &bearer),
        &stainless("OpenAI/Python 1.54.0"),
    )
}

fn bench_headers(c: &mut Criterion) {
    let credential = RequestCredential::Key(
        Secret::new("sk-proj-Qx4bZ1vR8nT2mK7pL9sW3yH6jD0fG5aC").expect("valid secret"),
    );
    let mut anthropic_sdk = stainless("Anthropic/Python 0.40.0");
    anthropic_sdk.push(("anthropic-version", "2023-06-01"));
    let cases = [
        (
            "openai",
            ProviderKind::OpenAi,
            "/v1/chat/completions",
            openai_request(),
        ),
        (
            "anthropic",
            ProviderKind::Anthropic,
            "/v1/messages",
            sdk_request(
                "/anthropic_passthrough/v1/messages",
                ("x-api-key", VIRTUAL_KEY),
                &anthropic_sdk,
            ),
        ),
        (
            "azure",
            ProviderKind::Azure,
            "/openai/deployments/gpt-4o/chat/completions",
            sdk_request(
                "/azure_passthrough/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
                ("api-key", VIRTUAL_KEY),
                &stainless("AzureOpenAI/Python 1.54.0"),
            ),
        ),
    ];
    // Only the client-credential strip and the provider's credential write:
    // the rest of `upstream_request_filter` (hop-by-hop headers, Host,
    // extra_headers) needs a live session and request context.
    let mut group = c.benchmark_group("headers");
    for (name, kind, native_path, req) in cases {
        group.bench_function(name, |b| {
            b.iter_batched(
                || req.clone(),
                |mut req| {
                    strip_client_credentials(black_box(&mut req));
                    inject_credential(kind, &credential, black_box(native_path), &mut req);
                    req
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

// ---------------------------------------------------------------------------
// virtual_key

fn bench_virtual_key(c: &mut Criterion) {
    // A handful of teams; every key is hashed and compared on each request.
    let keys = VirtualKeys::new(
        (0..8).map(|i| {
            let value = if i == 5 {
                VIRTUAL_KEY.to_string()
            } else {
                format!("vk-team-{i}-0000000000000000")
            };
            (format!("team-{i}"), value)
        }),
        true,
    );
    let hit = openai_request();
    let mut miss = openai_request();
    miss.insert_header("authorization", "Bearer vk-revoked-1a2b3c4d5e6f7a8b")
        .expect("valid header");
    assert_eq!(keys.authenticate(&hit), AuthOutcome::Key("team-5"));
    assert_eq!(keys.authenticate(&miss), AuthOutcome::Unknown);

    // The comparison itself (`VirtualKeys::lookup`) is private: this is the
    // public entry point, which also finds the key among the SDK headers.
    let mut group = c.benchmark_group("virtual_key");
    group.bench_function("hit", |b| b.iter(|| keys.authenticate(black_box(&hit))));
    group.bench_function("miss", |b| b.iter(|| keys.authenticate(black_box(&miss))));
    group.finish();
}

// ---------------------------------------------------------------------------
// key_selection

fn openai_provider(keys_yaml: &str) -> Arc<ProviderConfig> {
    let text = format!(
        "providers:\n  openai:\n    network_config: {{ base_url: \"http://127.0.0.1:1\" }}\n    keys:\n{keys_yaml}"
    );
    let loaded = match load_str(&text, "bench.yaml", Path::new("."), Mode::Run, &|_| None) {
        Ok(loaded) => loaded,
        Err(diagnostics) => panic!("bench config refused: {diagnostics:?}"),
    };
    loaded
        .snapshot
        .provider(ProviderKind::OpenAi)
        .expect("openai configured")
        .clone()
}

fn bench_key_selection(c: &mut Criterion) {
    let single = openai_provider("      - { name: main, value: sk-a }\n");
    let weighted = openai_provider(concat!(
        "      - { name: a, value: sk-a, weight: 1 }\n",
        "      - { name: b, value: sk-b, weight: 3, models: [\"gpt-4o\", \"o3*\"] }\n",
        "      - { name: c, value: sk-c, weight: 2, models: [\"gpt-4.1*\"] }\n",
        "      - { name: d, value: sk-d, weight: 0.5 }\n",
    ));
    assert!(weighted.model_restricted);

    let cases = [
        ("one_key", &single, Some("gpt-4o-mini")),
        // Three of four keys eligible, one through a prefix pattern.
        ("four_weighted/o3-mini", &weighted, Some("o3-mini")),
        // Listed models everywhere but no match: only the unrestricted keys.
        ("four_weighted/gpt-4o-mini", &weighted, Some("gpt-4o-mini")),
        ("four_weighted/no_model", &weighted, None),
    ];
    let mut group = c.benchmark_group("key_selection");
    for (name, provider, model) in cases {
        select_key(provider, model).expect("a key is eligible");
        group.bench_function(name, |b| {
            b.iter(|| select_key(black_box(provider), black_box(model)))
        });
    }
    group.finish();
}

// ---------------------------------------------------------------------------
// sse_usage and json_usage

/// Read sizes seen off a TLS connection vary; cycling through several puts
/// event boundaries at every position within a read.
const READ_SIZES: [usize; 6] = [1024, 4096, 2048, 1536, 3072, 2560];

/// Cuts a body into reads, each its own allocation as Pingora hands them on.
fn reads(body: &[u8], sizes: &[usize]) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut rest = body;
    for size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (read, tail) = rest.split_at((*size).min(rest.len()));
        out.push(Bytes::copy_from_slice(read));
        rest = tail;
    }
    out
}

fn response_header(content_type: &str) -> ResponseHeader {
    let mut resp = ResponseHeader::build(200, None).expect("valid status");
    resp.insert_header("content-type", content_type)
        .expect("valid header");
    resp
}

/// What the gateway does for one response: a tap per response, every read
/// fed as it passes, then the end of the body and the account.
fn tap_response(format: Format, resp: &ResponseHeader, chunks: &[Bytes]) -> Outcome {
    let mut tap = ResponseTap::new(format, resp);
    for chunk in chunks {
        tap.feed(chunk);
    }
    tap.end();
    tap.finish()
}

const STREAM_EVENTS: usize = 200;

/// Chat completion chunks with `include_usage`: every chunk carries
/// `"usage":null`, so every one is parsed.
fn openai_stream() -> String {
    let mut s = String::new();
    for _ in 0..STREAM_EVENTS {
        s.push_str(concat!(
            r#"data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"#,
            r#""model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"hello "},"#,
            r#""finish_reason":null}],"usage":null}"#,
            "\n\n"
        ));
    }
    s.push_str(concat!(
        r#"data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"#,
        r#""model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":9,"#,
        r#""completion_tokens":200,"total_tokens":209,"#,
        r#""prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"#,
        r#""completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"#,
        r#""accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}"#,
        "\n\ndata: [DONE]\n\n"
    ));
    s
}

/// Usage sits in `message_start` and `message_delta`; the deltas between
/// carry none.
fn anthropic_stream() -> String {
    let mut s = String::from(concat!(
        "event: message_start\n",
        r#"data: {"type":"message_start","message":{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","#,
        r#""type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5-20250929","#,
        r#""stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"#,
        r#""cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}}"#,
        "\n\nevent: content_block_start\n",
        r#"data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        "\n\nevent: ping\n",
        r#"data: {"type": "ping"}"#,
        "\n\n"
    ));
    for _ in 0..STREAM_EVENTS {
        s.push_str(concat!(
            "event: content_block_delta\n",
            r#"data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hello "}}"#,
            "\n\n"
        ));
    }
    s.push_str(concat!(
        "event: content_block_stop\n",
        r#"data: {"type":"content_block_stop","index":0}"#,
        "\n\nevent: message_delta\n",
        r#"data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"#,
        r#""usage":{"output_tokens":200}}"#,
        "\n\nevent: message_stop\n",
        r#"data: {"type":"message_stop"}"#,
        "\n\n"
    ));
    s
}

/// Every Gemini chunk carries `usageMetadata`, so every one is parsed; the
/// API ends its events with CRLF.
fn gemini_stream() -> String {
    let mut s = String::new();
    for i in 1..=STREAM_EVENTS {
        let _ = write!(
            s,
            concat!(
                r#"data: {{"candidates": [{{"content": {{"parts": [{{"text": "hello "}}],"role": "model"}},"#,
                r#""index": 0}}],"usageMetadata": {{"promptTokenCount": 10,"candidatesTokenCount": {},"#,
                r#""totalTokenCount": {}}},"modelVersion": "gemini-2.0-flash","responseId": "r1"}}"#,
                "\r\n\r\n"
            ),
            i,
            10 + i
        );
    }
    s
}

fn check_reported(outcome: &Outcome, output_tokens: u64) {
    assert_eq!(outcome.state, Some(UsageState::Reported), "{outcome:?}");
    assert_eq!(
        outcome.tokens.map(|t| t.output),
        Some(output_tokens),
        "{outcome:?}"
    );
}

fn bench_sse_usage(c: &mut Criterion) {
    let resp = response_header("text/event-stream; charset=utf-8");
    let cases = [
        ("openai", Format::OpenAi, openai_stream()),
        ("anthropic", Format::Anthropic, anthropic_stream()),
        ("gemini", Format::Gemini, gemini_stream()),
    ];
    let mut group = c.benchmark_group("sse_usage");
    for (name, format, body) in cases {
        let chunks = reads(body.as_bytes(), &READ_SIZES);
        check_reported(&tap_response(format, &resp, &chunks), 200);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| tap_response(format, black_box(&resp), black_box(&chunks)))
        });
    }
    group.finish();
}

/// A non-streamed chat completion of about 1 KiB.
fn chat_completion_json() -> String {
    let content = "The sky looks blue because air molecules scatter short wavelengths \
                   of sunlight much more strongly than long ones (Rayleigh scattering). "
        .repeat(4);
    format!(
        concat!(
            r#"{{"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion","#,
            r#""created":1741569952,"model":"gpt-4.1-2025-04-14","choices":[{{"index":0,"#,
            r#""message":{{"role":"assistant","content":"{content}","refusal":null,"annotations":[]}},"#,
            r#""logprobs":null,"finish_reason":"stop"}}],"usage":{{"prompt_tokens":19,"#,
            r#""completion_tokens":120,"total_tokens":139,"#,
            r#""prompt_tokens_details":{{"cached_tokens":0,"audio_tokens":0}},"#,
            r#""completion_tokens_details":{{"reasoning_tokens":0,"audio_tokens":0,"#,
            r#""accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}},"#,
            r#""service_tier":"default","system_fingerprint":"fp_44709d6fcb"}}"#
        ),
        content = content
    )
}

/// Embeddings of 1536 dimensions until the body passes 1 MiB: usage comes
/// after all the vectors, so the whole body is parsed to reach it.
fn embeddings_json() -> String {
    let mut s = String::from(r#"{"object":"list","data":["#);
    // A cheap deterministic generator: the values only need realistic lengths.
    let mut x: u32 = 0x2545_f491;
    let mut index = 0;
    while s.len() < 1024 * 1024 {
        if index > 0 {
            s.push(',');
        }
        let _ = write!(s, r#"{{"object":"embedding","index":{index},"embedding":["#);
        for d in 0..1536 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let v = (x as f64 / u32::MAX as f64 - 0.5) * 0.2;
            let _ = write!(s, "{}{v:.10}", if d > 0 { "," } else { "" });
        }
        s.push_str("]}");
        index += 1;
    }
    let _ = write!(
        s,
        r#"],"model":"text-embedding-3-small","usage":{{"prompt_tokens":{},"total_tokens":{}}}}}"#,
        index * 8,
        index * 8
    );
    s
}

fn bench_json_usage(c: &mut Criterion) {
    let resp = response_header("application/json");
    let chat = chat_completion_json();
    let embeddings = embeddings_json();
    // Large bodies come off the wire in bigger reads than a stream's.
    let cases = [
        ("chat_1k", chat, &READ_SIZES[..]),
        ("embeddings_1m", embeddings, &[16 * 1024][..]),
    ];
    let mut group = c.benchmark_group("json_usage");
    for (name, body, sizes) in cases {
        let chunks = reads(body.as_bytes(), sizes);
        let outcome = tap_response(Format::OpenAi, &resp, &chunks);
        assert_eq!(outcome.state, Some(UsageState::Reported), "{outcome:?}");
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| tap_response(Format::OpenAi, black_box(&resp), black_box(&chunks)))
        });
    }
    group.finish();
}

// ---------------------------------------------------------------------------
// request_model

/// A long conversation of about 100 KiB with `model` last, as the SDKs
/// write it, and with escapes in the strings for the scanner to step over.
fn chat_request_body() -> String {
    let turn = "Summarise the \\\"quarterly report\\\" below in three bullet points.\\n\
                Revenue grew 12% year over year; margins held at 31%. {\\\"region\\\": \\\"EMEA\\\"} ";
    let mut s =
        String::from(r#"{"messages":[{"role":"system","content":"You are a helpful assistant."}"#);
    let mut i = 0;
    while s.len() < 100 * 1024 {
        let role = if i % 2 == 0 { "user" } else { "assistant" };
        let _ = write!(s, r#",{{"role":"{role}","content":"{}"}}"#, turn.repeat(4));
        i += 1;
    }
    s.push_str(r#"],"temperature":0.2,"max_tokens":1024,"stream":true,"#);
    s.push_str(r#""stream_options":{"include_usage":true},"model":"gpt-4o-mini"}"#);
    s
}

fn scan_model(chunks: &[Bytes]) -> Option<String> {
    let mut scanner = ModelScanner::default();
    for chunk in chunks {
        if !scanner.active() {
            break;
        }
        scanner.feed(chunk);
    }
    scanner.take()
}

fn bench_request_model(c: &mut Criterion) {
    let body = chat_request_body();
    let chunks = reads(body.as_bytes(), &READ_SIZES);
    assert_eq!(scan_model(&chunks).as_deref(), Some("gpt-4o-mini"));
    let mut group = c.benchmark_group("request_model");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("chat_100k", |b| b.iter(|| scan_model(black_box(&chunks))));
    group.finish();
}

// ---------------------------------------------------------------------------
// config_load

fn bench_config_load(c: &mut Criterion) {
    let text = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/conf/strait.yaml"));
    let base_dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/conf"));
    // Every `env.` reference set, so each key is built rather than disabled.
    let env = |_: &str| Some("bench-secret-0123456789abcdef".to_string());
    if let Err(diagnostics) = load_str(text, "strait.yaml", base_dir, Mode::Run, &env) {
        panic!("conf/strait.yaml refused: {diagnostics:?}");
    }
    let mut group = c.benchmark_group("config_load");
    group.bench_function("conf_strait_yaml", |b| {
        b.iter(|| load_str(black_box(text), "strait.yaml", base_dir, Mode::Run, &env))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    // Short runs: the whole file stays within a few minutes on two cores.
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets =
        bench_route,
        bench_headers,
        bench_virtual_key,
        bench_key_selection,
        bench_sse_usage,
        bench_json_usage,
        bench_request_model,
        bench_config_load,
}
criterion_main!(benches);
