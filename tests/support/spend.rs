//! Helpers of the spend tests: a config with limits on `team-a` and a price
//! that makes every OpenAI mock call cost a round sum, calls, `/spend`.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{get, post_json, Gateway, Mocks, Reply, VK};

/// USD per million tokens for gpt-4o in these tests: every token costs a
/// cent, so a mock call (11 input + 7 output tokens) costs $0.18.
pub const CALL_TOKENS: u64 = strait_mock::OPENAI_USAGE.input + strait_mock::OPENAI_USAGE.output;
pub const CALL_USD: f64 = CALL_TOKENS as f64 * 0.01;

/// The mocks' config with `fields` added to `team-a` (e.g.
/// `budget: { usd: 0.5 }`), a second key `team-b`, the test price, and `extra`.
pub fn config(mocks: &Mocks, fields: &str, extra: &str) -> String {
    let keys = format!(
        "  - {{ name: team-a, value: {VK}, {fields} }}\n  - {{ name: team-b, value: vk-test-team-b }}\n"
    );
    let pricing = "pricing:\n  models:\n    - { provider: openai, model: gpt-4o, input: 10000, output: 10000 }\n";
    mocks
        .config(&format!("{pricing}{extra}"))
        .replace(&format!("  - {{ name: team-a, value: {VK} }}\n"), &keys)
}

/// One chat call of `team-a`, tagged with `id`.
pub fn call(gw: &Gateway, id: &str) -> Reply {
    call_as(gw, VK, id)
}

pub fn call_as(gw: &Gateway, key: &str, id: &str) -> Reply {
    let body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]});
    let auth = format!("Bearer {key}");
    post_json(
        &gw.url("/openai_passthrough/v1/chat/completions"),
        &[("authorization", auth.as_str()), ("x-request-id", id)],
        &body,
    )
}

/// `GET /spend` on the admin listener.
pub fn spend(gw: &Gateway) -> Value {
    let admin = gw.admin.expect("admin_listen");
    let r = get(&format!("http://{admin}/spend"), &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// `team-a`'s row of `/spend`.
pub fn team_a(gw: &Gateway) -> Value {
    spend(gw)["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["virtual_key"] == "team-a")
        .cloned()
        .expect("team-a in /spend")
}

/// Waits (5 s at most) until `team-a` has spent `tokens`: charges land
/// after the response, in the background with Redis.
pub fn wait_spent(gw: &Gateway, tokens: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let row = team_a(gw);
        if row["spent_tokens"] == tokens {
            return row;
        }
        assert!(
            Instant::now() < deadline,
            "team-a never spent {tokens}: {row}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
