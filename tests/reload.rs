//! Config reloads under load: SIGHUP and file watching, valid and broken
//! files, against the real binary with clients running throughout.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use strait::facade::sha256_hex;
use support::*;

const NEW_KEY: &str = "sk-test-openai-rotated-42";

/// Generation `n` sends OpenAI traffic to the first mock, or the second.
fn uses_first_mock(n: usize) -> bool {
    (n / 2).is_multiple_of(2)
}

/// The OpenAI key of generation `n`.
fn key_of(n: usize) -> &'static str {
    if (n / 4).is_multiple_of(2) {
        OPENAI_KEY
    } else {
        NEW_KEY
    }
}

/// Config generation `n`: virtual keys VK and `vk-gen-n`, the OpenAI base
/// URL alternating between two mocks every other generation, the OpenAI key
/// alternating every fourth.
fn generation(n: usize, a: &MockProvider, b: &MockProvider, log: &str) -> String {
    let base = if uses_first_mock(n) { a.url() } else { b.url() };
    let key = key_of(n);
    format!(
        r#"listen: ["127.0.0.1:0"]
admin_listen: "127.0.0.1:0"
access_log: "{log}"
server: {{ threads: 2 }}
virtual_keys:
  - {{ name: team-a, value: {VK} }}
  - {{ name: gen-{n}, value: vk-gen-{n} }}
providers:
  openai:
    network_config: {{ base_url: "{base}" }}
    keys: [ {{ name: key-{n}, value: {key} }} ]
"#
    )
}

/// Writes `text` as the config the way an editor does: a new file renamed over it.
fn replace_file(path: &std::path::Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Waits until `/readyz` shows the file with this hash active (`ok`) or
/// rejected (`!ok`).
fn wait_reload(gw: &Gateway, sha: &str, ok: bool) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, body) = gw.readyz();
        let config = &body["config"];
        let done = if ok {
            config["sha256"] == sha
        } else {
            config["last_error"]["sha256"] == sha
        };
        if done {
            return config.clone();
        }
        assert!(
            Instant::now() < deadline,
            "reload of {sha} not seen: {body}\n{}",
            gw.logs()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn chat(stream: bool) -> serde_json::Value {
    json!({"model": "gpt-4o", "messages": [], "stream": stream, "stream_options": {"include_usage": true}})
}

#[test]
fn twenty_four_reloads_under_load_fail_no_request() {
    let a = MockProvider::start(Flavor::OpenAi, OPENAI_KEY);
    let b = MockProvider::start(Flavor::OpenAi, OPENAI_KEY);
    for m in [&a, &b] {
        m.set_bearer_token(NEW_KEY);
    }
    let dir = TempDir::new();
    let log = dir.0.join("access.log");
    let log = log.to_str().unwrap();
    let gw = Gateway::start(&generation(0, &a, &b, log));
    let url = gw.url("/openai_passthrough/v1/chat/completions");

    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut clients = Vec::new();
    for c in 0..4 {
        let (stop, done, failures, url) =
            (stop.clone(), done.clone(), failures.clone(), url.clone());
        clients.push(std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                // Every other request is a stream of 5 events 40 ms apart, so
                // many streams span a reload.
                let stream = (c + i) % 2 == 0;
                let headers = [
                    ("authorization", "Bearer vk-test-team-a"),
                    ("content-type", "application/json"),
                    ("x-mock-events", "5"),
                    ("x-mock-gap-ms", "40"),
                ];
                let r = request("POST", &url, &headers, chat(stream).to_string());
                let text = r.text();
                let intact = if stream {
                    (0..5).all(|k| text.contains(&strait_mock::delta_text(k)))
                        && text.contains("\"usage\"")
                        && text.trim_end().ends_with("data: [DONE]")
                } else {
                    text.contains(strait_mock::REPLY_TEXT)
                };
                if r.status != 200 || !intact || r.cut {
                    failures
                        .lock()
                        .unwrap()
                        .push(format!("{} {}", r.status, text));
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }

    let mut stream_before = None;
    for n in 1..=12 {
        // A long stream opened before this reload must end intact after it.
        if n == 6 {
            let url = url.clone();
            stream_before = Some(std::thread::spawn(move || {
                let headers = [
                    ("authorization", "Bearer vk-test-team-a"),
                    ("content-type", "application/json"),
                    ("x-mock-events", "10"),
                    ("x-mock-gap-ms", "150"),
                ];
                request("POST", &url, &headers, chat(true).to_string())
            }));
            std::thread::sleep(Duration::from_millis(100));
        }
        // A valid change: a new virtual key, maybe a new base URL or key.
        let text = generation(n, &a, &b, log);
        std::fs::write(&gw.config_path, &text).unwrap();
        gw.signal("HUP");
        let config = wait_reload(&gw, &sha256_hex(text.as_bytes()), true);
        assert_eq!(config["reloads"], n as u64);
        assert!(config["last_error"].is_null());
        // It applies to requests started after it.
        let vk = format!("Bearer vk-gen-{n}");
        let r = post_json(
            &url,
            &[
                ("authorization", &vk),
                ("x-request-id", &format!("probe-{n}")),
            ],
            &chat(false),
        );
        assert_eq!(
            r.status,
            200,
            "the new virtual key works after reload {n}: {}",
            r.text()
        );
        let (target, other) = if uses_first_mock(n) {
            (&a, &b)
        } else {
            (&b, &a)
        };
        let rec = target
            .requests()
            .into_iter()
            .rev()
            .find(|q| q.header("x-request-id") == Some(&format!("probe-{n}")))
            .unwrap_or_else(|| panic!("reload {n}: the probe did not reach the new base URL"));
        let key = key_of(n);
        assert_eq!(
            rec.header("authorization"),
            Some(format!("Bearer {key}").as_str())
        );
        assert!(!other
            .requests()
            .iter()
            .any(|q| q.header("x-request-id") == Some(&format!("probe-{n}"))));
        // The previous generation's virtual key is gone.
        let old = format!("Bearer vk-gen-{}", n - 1);
        get(
            &gw.url("/openai_passthrough/v1/models"),
            &[("authorization", &old)],
        )
        .assert_gateway_error(401, "invalid_virtual_key");

        // An invalid file: rejected with its location, nothing changes.
        let broken = text.replace("keys: [", "kyes: [");
        std::fs::write(&gw.config_path, &broken).unwrap();
        gw.signal("HUP");
        let config = wait_reload(&gw, &sha256_hex(broken.as_bytes()), false);
        assert_eq!(config["sha256"], sha256_hex(text.as_bytes()));
        let errors = config["last_error"]["errors"].to_string();
        assert!(
            errors.contains("strait.yaml:11:") && errors.contains("kyes"),
            "{errors}"
        );
        let r = post_json(&url, &[("authorization", &vk)], &chat(false));
        assert_eq!(
            r.status, 200,
            "still the last good config after a broken file"
        );
        std::thread::sleep(Duration::from_millis(60));
    }
    let long = stream_before.unwrap().join().unwrap();
    assert_eq!(long.status, 200);
    assert!(
        !long.cut && long.text().contains(&strait_mock::delta_text(9)),
        "{}",
        long.text()
    );

    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let failures = failures.lock().unwrap();
    let total = done.load(Ordering::Relaxed);
    assert!(
        failures.is_empty(),
        "{} of {total} requests failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
    assert!(total >= 40, "only {total} requests ran during the reloads");
    println!("{total} requests, 24 reloads, 0 failures");

    let logs = gw.logs();
    assert!(
        logs.contains("config reload rejected, the running config stays"),
        "{logs}"
    );
    let m = gw.metrics();
    assert!(
        m.contains(r#"strait_config_reloads_total{result="success"} 12"#),
        "{m}"
    );
    assert!(
        m.contains(r#"strait_config_reloads_total{result="error"} 12"#),
        "{m}"
    );
}

#[test]
fn pooled_connections_and_tokens_survive_a_reload_that_keeps_the_upstream() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&mocks.config(""));
    let url = gw.url("/openai_passthrough/v1/chat/completions");
    let auth = ("authorization", "Bearer vk-test-team-a");
    post_json(&url, &[auth, ("x-request-id", "warm")], &chat(false));
    assert_eq!(gw.log_line("warm")["upstream_reused"], false);
    // Only the virtual keys change.
    let text = std::fs::read_to_string(&gw.config_path).unwrap().replace(
        "virtual_keys:\n",
        "virtual_keys:\n  - { name: team-b, value: vk-test-team-b }\n",
    );
    std::fs::write(&gw.config_path, &text).unwrap();
    gw.signal("HUP");
    wait_reload(&gw, &sha256_hex(text.as_bytes()), true);
    post_json(
        &url,
        &[
            ("authorization", "Bearer vk-test-team-b"),
            ("x-request-id", "after"),
        ],
        &chat(false),
    );
    let line = gw.log_line("after");
    assert_eq!(line["status"], 200);
    assert_eq!(line["virtual_key"], "team-b");
    assert_eq!(
        line["upstream_reused"], true,
        "the pooled connection was kept: {line}"
    );
}

#[test]
fn settings_a_reload_cannot_apply_are_named_in_the_log() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&mocks.config(""));
    let text = std::fs::read_to_string(&gw.config_path)
        .unwrap()
        .replace("server: { threads: 2 }", "server: { threads: 3 }");
    std::fs::write(&gw.config_path, &text).unwrap();
    gw.signal("HUP");
    wait_reload(&gw, &sha256_hex(text.as_bytes()), true);
    let logs = gw.logs();
    assert!(
        logs.contains(
            "`server.threads` changed in the file but applies only on restart or binary upgrade"
        ),
        "{logs}"
    );
}

#[test]
fn a_watched_file_reloads_once_per_save() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&mocks.config("reload: { watch: true, debounce_ms: 200 }\n"));
    let original = std::fs::read_to_string(&gw.config_path).unwrap();
    // A save in three quick writes (truncate, write, rename) is one reload.
    let text = original.replace(
        "virtual_keys:\n",
        "virtual_keys:\n  - { name: w, value: vk-watched }\n",
    );
    std::fs::write(&gw.config_path, "").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    std::fs::write(&gw.config_path, &text[..text.len() / 2]).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    replace_file(&gw.config_path, &text);
    let config = wait_reload(&gw, &sha256_hex(text.as_bytes()), true);
    assert_eq!(config["reloads"], 1, "{config}");
    assert!(
        config["last_error"].is_null(),
        "a half-written file was read: {config}"
    );
    let r = get(
        &gw.url("/openai_passthrough/v1/models"),
        &[("authorization", "Bearer vk-watched")],
    );
    assert_eq!(r.status, 200);
    // Touching the file without changing it reloads nothing.
    std::thread::sleep(Duration::from_millis(300));
    replace_file(&gw.config_path, &text);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(gw.readyz().1["config"]["reloads"], 1);
}
