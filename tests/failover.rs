//! Keeping calls alive through provider faults: failover across keys on
//! connect failures and on `retry_on_status`, cool-downs after 429, the
//! total timeout, and an upstream certificate that is not trusted.

mod support;

use std::sync::atomic::Ordering;

use serde_json::json;
use support::faults::{self, Fault};
use support::*;

fn chat() -> serde_json::Value {
    json!({"model": "gpt-4o", "messages": []})
}

const AZURE_CHAT: &str =
    "/azure_passthrough/openai/deployments/d/chat/completions?api-version=2024-10-21";

/// Azure with two keys: `bad` (weight 100, at `bad_url`) and `good` (weight 1, the mock).
fn two_azure_keys(mocks: &Mocks, bad_url: &str, provider_extra: &str) -> String {
    mocks.config("").replace(
        &format!("  azure:\n    keys:\n      - name: eastus\n        value: {AZURE_KEY}\n        azure_key_config: {{ endpoint: \"{}\" }}", mocks.azure.url()),
        &format!(
            "  azure:\n{provider_extra}    keys:\n      - name: bad\n        value: {AZURE_KEY}\n        weight: 100\n        azure_key_config: {{ endpoint: \"{bad_url}\" }}\n      - name: good\n        value: {AZURE_KEY}\n        weight: 1\n        azure_key_config: {{ endpoint: \"{}\" }}",
            mocks.azure.url()
        ),
    )
}

fn sample(metrics: &str, prefix: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .map_or(0.0, |v| v.parse().unwrap())
}

#[test]
fn a_key_that_cannot_be_reached_fails_over_to_the_next() {
    let mocks = Mocks::start();
    let dead = faults::refusing_addr();
    let gw = Gateway::start(&two_azure_keys(&mocks, &format!("http://{dead}"), ""));
    for i in 0..5 {
        let r = post_json(
            &gw.url(AZURE_CHAT),
            &[("api-key", VK), ("x-request-id", &format!("f{i}"))],
            &chat(),
        );
        assert_eq!(r.status, 200, "request {i}: {}", r.text());
        assert_eq!(gw.log_line(&format!("f{i}"))["key"], "good");
    }
    assert_eq!(mocks.azure.requests().len(), 5);
    let m = gw.metrics();
    assert!(
        sample(
            &m,
            r#"strait_failovers_total{provider="azure",reason="connect"}"#
        ) >= 3.0,
        "{m}"
    );
}

#[test]
fn retry_on_status_moves_to_another_key_and_cools_the_rate_limited_one() {
    let mocks = Mocks::start();
    let (limited, hits) = faults::start_counting(Fault::Status(429));
    let gw = Gateway::start(&two_azure_keys(
        &mocks,
        &format!("http://{limited}"),
        "    retry_on_status: [429, 503]\n",
    ));
    for i in 0..6 {
        let r = post_json(&gw.url(AZURE_CHAT), &[("api-key", VK)], &chat());
        assert_eq!(r.status, 200, "request {i}: {}", r.text());
        assert!(r.text().contains(strait_mock::REPLY_TEXT));
    }
    // One 429, then the key sat out its retry-after (30 s) while others served.
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "the cooling key was skipped"
    );
    assert_eq!(mocks.azure.requests().len(), 6);
    let rec = mocks.azure.last();
    assert_eq!(rec.json(), chat(), "the replayed body arrived whole");
    let m = gw.metrics();
    assert_eq!(
        sample(
            &m,
            r#"strait_key_cooldowns_total{key="bad",provider="azure"}"#
        ),
        1.0,
        "{m}"
    );
    assert_eq!(
        sample(
            &m,
            r#"strait_failovers_total{provider="azure",reason="http_429"}"#
        ),
        1.0,
        "{m}"
    );
}

#[test]
fn without_retry_on_status_the_providers_answer_reaches_the_client() {
    let mocks = Mocks::start();
    let (limited, _) = faults::start_counting(Fault::Status(503));
    let config = two_azure_keys(&mocks, &format!("http://{limited}"), "")
        .replace("weight: 1\n", "weight: 0.000001\n");
    let gw = Gateway::start(&config);
    let r = post_json(&gw.url(AZURE_CHAT), &[("api-key", VK)], &chat());
    assert_eq!(r.status, 503);
    assert_eq!(r.header("x-strait-error"), None, "the provider's own error");
    assert_eq!(r.header("retry-after"), Some("30"));
}

#[test]
fn the_total_timeout_ends_a_slow_non_streaming_call() {
    let mocks = Mocks::start();
    let slow = faults::start(Fault::SlowBody(2500));
    let config = mocks.config("").replace(
        &format!("network_config: {{ base_url: \"{}\" }}", mocks.openai.url()),
        &format!("network_config: {{ base_url: \"http://{slow}\", total_timeout_in_seconds: 1 }}"),
    );
    let gw = Gateway::start(&config);
    let started = std::time::Instant::now();
    let r = post_json(
        &gw.url("/openai_passthrough/v1/chat/completions"),
        &[
            ("authorization", "Bearer vk-test-team-a"),
            ("x-request-id", "slow-1"),
        ],
        &chat(),
    );
    // The headers were already on their way: the body is cut, not completed.
    assert!(r.cut || r.status == 504, "{} {}", r.status, r.text());
    assert!(!r.text().contains("\"body\""));
    assert_eq!(gw.log_line("slow-1")["error"], "provider_timeout");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn an_untrusted_upstream_certificate_fails_closed() {
    let mocks = Mocks::start();
    let dir = TempDir::new();
    let cert = support::tls::self_signed(&dir, "upstream");
    // The "provider": another strait terminating TLS with a self-signed cert.
    let front = Gateway::start(&format!(
        "tls_listen:\n  - {{ addr: \"127.0.0.1:0\", cert: \"{}\", key: \"{}\" }}\n{}",
        cert.cert.display(),
        cert.key.display(),
        mocks.config("")
    ));
    let tls_port = front
        .logs()
        .lines()
        .find_map(|l| {
            l.split("gateway TLS listening on 127.0.0.1:")
                .nth(1)
                .map(|p| p.trim().to_string())
        })
        .unwrap();
    let base = format!("https://localhost:{tls_port}/openai_passthrough");
    let behind = |ca: &str| {
        format!(
            "listen: [\"127.0.0.1:0\"]\nvirtual_keys: [ {{ name: edge, value: vk-edge }} ]\nproviders:\n  openai:\n    network_config: {{ base_url: \"{base}\"{ca} }}\n    keys: [ {{ name: main, value: {VK} }} ]\n"
        )
    };
    let untrusting = Gateway::start(&behind(""));
    let r = post_json(
        &untrusting.url("/openai_passthrough/v1/chat/completions"),
        &[("authorization", "Bearer vk-edge")],
        &chat(),
    );
    r.assert_gateway_error(502, "provider_tls_error");
    assert!(
        mocks.openai.requests().is_empty(),
        "nothing crossed the refused handshake"
    );

    let trusting = Gateway::start(&behind(&format!(
        ", ca_cert_pem: \"{}\"",
        cert.cert.display()
    )));
    let r = post_json(
        &trusting.url("/openai_passthrough/v1/chat/completions"),
        &[("authorization", "Bearer vk-edge")],
        &chat(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(mocks.openai.requests().len(), 1);
}
