//! Limits and per-virtual-key policy, and the gateway's own TLS listener.

mod support;

use std::process::Command;
use std::time::Duration;

use serde_json::json;
use support::*;

const AUTH: (&str, &str) = ("authorization", "Bearer vk-test-team-a");

fn chat() -> serde_json::Value {
    json!({"model": "gpt-4o", "messages": []})
}

#[test]
fn body_and_header_limits_answer_before_anything_is_sent() {
    let mocks = Mocks::start();
    let config = format!(
        "limits: {{ max_body_bytes: 1000, max_header_bytes: 2048, max_headers: 20 }}\n{}",
        mocks.config("")
    );
    let gw = Gateway::start(&config);
    let url = gw.url("/openai_passthrough/v1/chat/completions");
    let big =
        json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "x".repeat(2000)}]});
    post_json(&url, &[AUTH], &big).assert_gateway_error(413, "body_too_large");
    // Without a length the body is counted as it streams.
    let raw_reply = raw(
        gw.addr,
        format!(
            "POST /openai_passthrough/v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {VK}\r\ntransfer-encoding: chunked\r\n\r\n7d0\r\n{}\r\n0\r\n\r\n",
            "y".repeat(2000)
        )
        .as_bytes(),
    );
    assert_eq!(status_of(&raw_reply), 413, "{raw_reply}");
    let many: Vec<(String, String)> = (0..30).map(|i| (format!("x-h{i}"), "v".into())).collect();
    let mut headers: Vec<(&str, &str)> =
        many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    headers.push(AUTH);
    post_json(&url, &headers, &chat()).assert_gateway_error(431, "headers_too_large");
    let long = "z".repeat(3000);
    post_json(&url, &[AUTH, ("x-long", &long)], &chat())
        .assert_gateway_error(431, "headers_too_large");
    // Nothing of the refused requests reached the provider; a normal one works.
    assert!(mocks.openai.requests().is_empty());
    assert_eq!(post_json(&url, &[AUTH], &chat()).status, 200);
}

#[test]
fn a_client_that_stops_sending_its_body_is_cut_off() {
    let mocks = Mocks::start();
    let config = format!(
        "limits: {{ client_read_timeout_seconds: 1 }}\n{}",
        mocks.config("")
    );
    let gw = Gateway::start(&config);
    let started = std::time::Instant::now();
    // 100 bytes promised, 10 sent, then silence.
    let answer = raw(
        gw.addr,
        format!("POST /openai_passthrough/v1/chat/completions HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer {VK}\r\ncontent-length: 100\r\n\r\n{{\"model\":1").as_bytes(),
    );
    let took = started.elapsed();
    assert!(took < Duration::from_secs(4), "held for {took:?}: {answer}");
    assert_ne!(status_of(&answer), 200, "{answer}");
}

#[test]
fn an_idle_client_connection_is_closed_after_the_keepalive_timeout() {
    use std::io::{Read, Write};
    let mocks = Mocks::start();
    let config = format!(
        "limits: {{ keepalive_timeout_seconds: 1 }}\n{}",
        mocks.config("")
    );
    let gw = Gateway::start(&config);
    let mut s = std::net::TcpStream::connect(gw.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET /openai_passthrough/v1/models HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer {VK}\r\n\r\n").unwrap();
    let mut buf = [0u8; 65536];
    let n = s.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // Idle after the answer: the gateway closes the connection (read gives 0)
    // well before the 5 s read timeout here.
    let started = std::time::Instant::now();
    let mut closed = false;
    while started.elapsed() < Duration::from_secs(5) {
        match s.read(&mut buf) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(_) => continue,
            Err(_) => break,
        }
    }
    assert!(closed, "still open after {:?}", started.elapsed());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

fn policy_config(mocks: &Mocks, policy: &str) -> String {
    mocks.config("").replace(
        &format!("  - {{ name: team-a, value: {VK} }}"),
        &format!("  - {{ name: team-a, value: {VK}, {policy} }}"),
    )
}

#[test]
fn a_virtual_key_is_held_to_its_providers_methods_and_paths() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&policy_config(
        &mocks,
        r#"providers: [openai, gemini], methods: [POST], paths: ['/v1/chat/completions', '/v1beta/models/[a-z0-9.-]+:generateContent']"#,
    ));
    let ok = post_json(
        &gw.url("/openai_passthrough/v1/chat/completions"),
        &[AUTH],
        &chat(),
    );
    assert_eq!(ok.status, 200);
    post_json(
        &gw.url("/anthropic_passthrough/v1/messages"),
        &[AUTH],
        &chat(),
    )
    .assert_gateway_error(403, "not_allowed");
    get(&gw.url("/openai_passthrough/v1/models"), &[AUTH]).assert_gateway_error(403, "not_allowed");
    post_json(
        &gw.url("/openai_passthrough/v1/embeddings"),
        &[AUTH],
        &chat(),
    )
    .assert_gateway_error(403, "not_allowed");
    // Patterns match the whole path, not a part of it.
    post_json(
        &gw.url("/openai_passthrough/v1/chat/completions/extra"),
        &[AUTH],
        &chat(),
    )
    .assert_gateway_error(403, "not_allowed");
    let g = post_json(
        &gw.url("/genai_passthrough/v1beta/models/gemini-2.5-flash:generateContent"),
        &[("x-goog-api-key", VK)],
        &json!({"contents": []}),
    );
    assert_eq!(g.status, 200, "{}", g.text());
    assert_eq!(mocks.openai.requests().len(), 1);
    assert!(mocks.anthropic.requests().is_empty());
}

#[test]
fn requests_per_minute_are_limited_with_retry_after() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&policy_config(&mocks, "requests_per_minute: 5"));
    let url = gw.url("/openai_passthrough/v1/chat/completions");
    for i in 0..5 {
        assert_eq!(post_json(&url, &[AUTH], &chat()).status, 200, "request {i}");
    }
    let r = post_json(&url, &[AUTH], &chat());
    r.assert_gateway_error(429, "rate_limited");
    let after: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&after), "{after}");
    assert_eq!(
        mocks.openai.requests().len(),
        5,
        "the refused request was not sent"
    );
    // The limit is per key: a reload keeps the count.
    gw.metrics_containing(r#"status_class="4xx""#);
}

#[test]
fn concurrent_requests_per_key_are_limited() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&policy_config(&mocks, "max_concurrent: 2"));
    let url = gw.url("/openai_passthrough/v1/chat/completions");
    let slow: Vec<_> = (0..2)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                post_json(&url, &[AUTH, ("x-mock-delay-ms", "800")], &chat()).status
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let r = post_json(&url, &[AUTH], &chat());
    r.assert_gateway_error(429, "concurrency_limited");
    assert!(r.header("retry-after").is_some());
    for s in slow {
        assert_eq!(s.join().unwrap(), 200);
    }
    // The slots are released when requests end.
    assert_eq!(post_json(&url, &[AUTH], &chat()).status, 200);
}

#[test]
fn policy_errors_in_the_config_have_locations() {
    let dir = TempDir::new();
    let path = dir.write(
        "bad.yaml",
        "virtual_keys:\n  - { name: a, value: k, providers: [openai, nope], methods: ['GE T'], paths: ['(unclosed'], requests_per_minute: 0 }\nlimits: { max_body_bytes: 0 }\n",
    );
    let out = Command::new(strait_bin())
        .arg("check")
        .arg("-c")
        .arg(&path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    for want in [
        "unknown provider `nope`",
        "invalid method",
        "invalid path pattern",
        "requests_per_minute must be at least 1",
        "limits.max_body_bytes must be at least 1",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    assert!(err.contains("bad.yaml:2:"), "{err}");
}

#[test]
fn the_gateway_terminates_tls_with_http2_by_alpn() {
    let mocks = Mocks::start();
    let dir = TempDir::new();
    let cert = support::tls::self_signed(&dir, "gateway");
    let config = format!(
        "tls_listen:\n  - {{ addr: \"127.0.0.1:0\", cert: \"{}\", key: \"{}\" }}\n{}",
        cert.cert.display(),
        cert.key.display(),
        mocks.config("")
    );
    let gw = Gateway::start(&config);
    let logs = gw.logs();
    let line = logs
        .lines()
        .find_map(|l| l.split("gateway TLS listening on ").nth(1))
        .expect("the TLS listener is announced");
    let port = line.trim().rsplit(':').next().unwrap().to_string();
    let curl = |extra: &[&str]| {
        Command::new("curl")
            .args([
                "-s",
                "-o",
                "-",
                "-w",
                "\n%{http_code} %{http_version}",
                "--max-time",
                "10",
            ])
            .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
            .args(extra)
            .args([
                "-H",
                "authorization: Bearer vk-test-team-a",
                "-H",
                "content-type: application/json",
            ])
            .args(["-d", r#"{"model":"gpt-4o","messages":[]}"#])
            .arg(format!(
                "https://localhost:{port}/openai_passthrough/v1/chat/completions"
            ))
            .output()
            .expect("curl runs")
    };
    let out = curl(&["--cacert", cert.cert.to_str().unwrap(), "--http2"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.ends_with("200 2"), "{text}");
    assert!(text.contains(strait_mock::REPLY_TEXT));
    let out = curl(&["--cacert", cert.cert.to_str().unwrap(), "--http1.1"]);
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("200 1.1"));
    // Without the CA the client refuses the handshake: the cert is really served.
    let out = curl(&["--http2"]);
    assert!(!out.status.success());
}
