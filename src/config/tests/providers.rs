//! Rows for a provider block: `network_config`, timeouts, extra headers,
//! retries, and the Bifrost fields accepted without effect.

use super::*;

/// An openai block with one good key; `more` is indented under `openai:`,
/// so its first line is line 4 of the file.
fn openai(more: &str) -> String {
    format!("providers:\n  openai:\n    keys: [ {{ name: main, value: sk-1 }} ]\n{more}")
}

/// As [`openai`], with `net` as the body of `network_config:` (line 5 on).
fn net(net: &str) -> String {
    openai(&format!("    network_config:\n{net}"))
}

const IGNORED: &str = "is accepted for Bifrost compatibility; strait does not act on it";

#[test]
fn provider_rows() {
    let mut rows = vec![
        row(
            Warning,
            "providers:\n  bedrock: { keys: [] }\n",
            "provider `bedrock` is not served by strait; its block is ignored",
            2,
            12,
        ),
        row(
            Warning,
            "providers:\n  anthropic: { keys: [] }\n",
            "provider `anthropic` has no keys; its route answers 503",
            2,
            14,
        ),
        row(
            Error,
            openai("    retry_on_status: [429, 200]\n"),
            "retry_on_status: 200 is not an error status",
            4,
            22,
        ),
        row(Error, openai("    max_attempts: 0\n"), "max_attempts must be between 1 and 10", 4, 19),
        row(
            Warning,
            "providers:\n  anthropic:\n    keys: [ { name: main, value: sk-1 } ]\n    inject_stream_usage: true\n",
            "anthropic streams always report usage; inject_stream_usage is ignored",
            4,
            26,
        ),
        row(Error, openai("    max_attempts: 11\n"), "max_attempts must be between 1 and 10", 4, 19),
        row(
            Warning,
            "providers:\n  azure:\n    network_config: { base_url: \"https://x.example\" }\n    keys: []\n",
            "azure ignores network_config.base_url: each key's azure_key_config.endpoint is used",
            3,
            33,
        ),
        row(
            Error,
            net("      base_url: \"https://x.example\"\n      h2c: true\n"),
            "h2c applies to http:// base URLs; https:// negotiates HTTP/2 itself",
            6,
            12,
        ),
        row(
            Error,
            net("      insecure_skip_verify: true\n"),
            "insecure_skip_verify is refused: strait always verifies upstream certificates",
            5,
            29,
        ),
        row(
            Error,
            net("      extra_headers: { Authorization: x }\n"),
            "extra_headers may not set `Authorization`",
            5,
            39,
        ),
        row(
            Error,
            net("      extra_headers: { x-strait-key: x }\n"),
            "extra_headers may not set `x-strait-key`",
            5,
            38,
        ),
        row(Error, net("      extra_headers: { Host: x }\n"), "extra_headers may not set `Host`", 5, 30),
        row(
            Error,
            net("      extra_headers: { \"a b\": x }\n"),
            "extra_headers: `a b` is not a valid header",
            5,
            31,
        ),
        row(
            Error,
            net("      extra_headers: { x-a: \"\\x01\" }\n"),
            "extra_headers: `x-a` is not a valid header",
            5,
            29,
        ),
        // ca_cert_pem
        row(
            Error,
            net("      ca_cert_pem: extra.pem\n"),
            "ca_cert_pem: cannot read /nonexistent-strait-test/extra.pem: ",
            5,
            20,
        ),
        row(
            Error,
            net("      ca_cert_pem: \"-----BEGIN CERTIFICATE-----\"\n"),
            "ca_cert_pem: invalid PEM certificate: missing section end marker",
            5,
            20,
        ),
        row(
            Error,
            net("      ca_cert_pem: \"no -----BEGIN here\"\n"),
            "ca_cert_pem: no PEM certificate found",
            5,
            20,
        ),
        row(
            Error,
            net(concat!(
                "      base_url: \"https://x.example\"\n",
                "      ca_cert_pem: \"-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----\\n\"\n",
            )),
            "ca_cert_pem holds a certificate that cannot be used as a trust root",
            5,
            17,
        ),
        // base_url: Upstream::parse's refusals, reported where the URL is.
        row(Error, net("      base_url: \"api.example\"\n"), "must start with http:// or https://", 5, 17),
        row(Error, net("      base_url: \"https://u:p@x.example\"\n"), "must not carry credentials", 5, 17),
        row(Error, net("      base_url: \"https://x.example/?a=1\"\n"), "must not have a query", 5, 17),
        row(Error, net("      base_url: \"http://:80\"\n"), "has no host", 5, 17),
        row(Error, net("      base_url: \"https://x .example\"\n"), "invalid URL \"https://x .example\": invalid uri character", 5, 17),
    ];
    for (field, message) in [
        (
            "connect_timeout_in_seconds",
            "connect_timeout_in_seconds must be at least 1",
        ),
        (
            "default_request_timeout_in_seconds",
            "default_request_timeout_in_seconds must be at least 1",
        ),
        (
            "stream_idle_timeout_in_seconds",
            "stream_idle_timeout_in_seconds must be at least 1",
        ),
        (
            "total_timeout_in_seconds",
            "total_timeout_in_seconds must be at least 1",
        ),
    ] {
        let col = 6 + field.len() as u64 + 3;
        rows.push(row(
            Error,
            net(&format!("      {field}: 0\n")),
            message,
            5,
            col,
        ));
    }
    for field in [
        "concurrency_and_buffer_size",
        "proxy_config",
        "send_back_raw_response",
        "send_back_raw_request",
        "store_raw_request_response",
        "custom_provider_config",
        "openai_config",
    ] {
        let col = 4 + field.len() as u64 + 3;
        rows.push(row(
            Warning,
            openai(&format!("    {field}: 1\n")),
            IGNORED,
            4,
            col,
        ));
    }
    for field in [
        "max_retries",
        "retry_backoff_initial_ms",
        "retry_backoff_max_ms",
    ] {
        let col = 6 + field.len() as u64 + 3;
        rows.push(row(
            Warning,
            net(&format!("      {field}: 1\n")),
            IGNORED,
            5,
            col,
        ));
    }
    check(rows);
}
