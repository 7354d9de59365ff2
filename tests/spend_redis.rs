//! Spend control shared through Redis: a real `redis-server` started by the
//! test, two strait processes on it, and Redis going away under them.

mod support;

use std::time::{Duration, Instant};

use support::redis::RedisServer;
use support::spend::*;
use support::*;

fn redis_state(redis_url: &str, prefix: &str, on_error: &str) -> String {
    format!("state: {{ backend: redis, url: \"{redis_url}\", key_prefix: \"{prefix}\", on_error: {on_error} }}\n")
}

/// Polls `f` for 10 s until it holds.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn two_gateways_share_one_budget() {
    let redis = RedisServer::start();
    let mocks = Mocks::start();
    let cfg = config(
        &mocks,
        "budget: { usd: 0.5 }",
        &redis_state(&redis.url(), "t1:", "allow"),
    );
    let (a, b) = (Gateway::start(&cfg), Gateway::start(&cfg));
    for i in 0..3u64 {
        assert_eq!(call(&a, &format!("a{i}")).status, 200);
        wait_spent(&a, CALL_TOKENS * (i + 1));
    }
    // Spent on `a`, refused on `b`: one budget.
    let sent = mocks.openai.requests().len();
    call(&b, "b-over").assert_gateway_error(402, "budget_exceeded");
    assert_eq!(mocks.openai.requests().len(), sent);
    // The refusal's count is taken back in the background.
    eventually("the refused request is not counted", || {
        team_a(&b)["last_minute"]["requests"].as_u64() <= Some(3)
    });
    let (ra, rb) = (team_a(&a), team_a(&b));
    for row in [&ra, &rb] {
        assert_eq!(row["spent_usd"], 3.0 * CALL_USD, "{row}");
        assert_eq!(row["spent_tokens"], 3 * CALL_TOKENS, "{row}");
        // A sliding estimate: exactly 3 within one minute, less once the
        // calls' minute starts sliding out.
        let requests = row["last_minute"]["requests"].as_u64().unwrap();
        assert!((1..=3).contains(&requests), "{row}");
    }
    for field in [
        "period",
        "period_start",
        "resets_at",
        "spent_usd",
        "spent_tokens",
        "limits",
    ] {
        assert_eq!(ra[field], rb[field], "/spend agrees on both: {field}");
    }
    assert_eq!(spend(&a)["backend"], "redis");
    // Under the configured prefix, and with an expiry on the minute counts.
    let keys = redis.cmd(&["KEYS", "t1:*"]);
    assert!(keys.starts_with('*') && keys != "*0", "{keys}");
    let minute = redis.cmd(&["KEYS", "t1:tok:team-a:*"]);
    assert!(minute.starts_with("*1"), "{minute}");
}

#[test]
fn requests_and_tokens_per_minute_are_shared() {
    let redis = RedisServer::start();
    let mocks = Mocks::start();
    let cfg = config(
        &mocks,
        "requests_per_minute: 3",
        &redis_state(&redis.url(), "t2:", "allow"),
    );
    let (a, b) = (Gateway::start(&cfg), Gateway::start(&cfg));
    assert_eq!(call(&a, "1").status, 200);
    assert_eq!(call(&a, "2").status, 200);
    assert_eq!(call(&b, "3").status, 200);
    let r = call(&b, "4");
    r.assert_gateway_error(429, "rate_limited");
    assert!(r.header("retry-after").is_some());
    call(&a, "5").assert_gateway_error(429, "rate_limited");
    drop((a, b));

    let cfg = config(
        &mocks,
        "tokens_per_minute: 30",
        &redis_state(&redis.url(), "t3:", "allow"),
    );
    let (a, b) = (Gateway::start(&cfg), Gateway::start(&cfg));
    assert_eq!(call(&a, "t1").status, 200);
    wait_spent(&b, CALL_TOKENS);
    assert_eq!(call(&b, "t2").status, 200);
    wait_spent(&a, 2 * CALL_TOKENS);
    call(&a, "t3").assert_gateway_error(429, "token_rate_limited");
    call(&b, "t4").assert_gateway_error(429, "token_rate_limited");
}

#[test]
fn with_on_error_allow_calls_made_while_redis_is_away_are_counted_when_it_is_back() {
    let redis = RedisServer::start();
    let mocks = Mocks::start();
    let cfg = config(
        &mocks,
        "budget: { usd: 100 }",
        &redis_state(&redis.url(), "t4:", "allow"),
    );
    let gw = Gateway::start(&cfg);
    assert_eq!(call(&gw, "before").status, 200);
    wait_spent(&gw, CALL_TOKENS);

    let port = redis.stop();
    for i in 0..2 {
        let r = call(&gw, &format!("away{i}"));
        assert_eq!(r.status, 200, "served while Redis is away: {}", r.text());
    }
    eventually("/readyz says the store is down", || {
        let (status, body) = gw.readyz();
        status == 200 && body["state"]["up"] == false
    });
    let admin = gw.admin.unwrap();
    let r = get(&format!("http://{admin}/spend"), &[]);
    r.assert_error_shape(503, "state_unavailable");
    assert!(gw
        .metrics_containing("strait_state_errors_total")
        .contains("operation="));

    // A new, empty Redis on the same port: what it gets is exactly what
    // was charged while the old one was away.
    let redis = RedisServer::on(port);
    eventually("the charges made meanwhile reach Redis", || {
        let (status, body) = gw.readyz();
        status == 200 && body["state"]["up"] == true && {
            let admin = gw.admin.unwrap();
            let r = get(&format!("http://{admin}/spend"), &[]);
            r.status == 200 && {
                let row = r.json()["keys"][0].clone();
                row["spent_tokens"] == 2 * CALL_TOKENS
            }
        }
    });
    let row = team_a(&gw);
    assert_eq!(row["spent_usd"], 2.0 * CALL_USD, "{row}");
    drop(redis);
}

#[test]
fn with_on_error_deny_limited_keys_get_503_until_redis_is_back() {
    let redis = RedisServer::start();
    let mocks = Mocks::start();
    let cfg = config(
        &mocks,
        "budget: { usd: 100 }",
        &redis_state(&redis.url(), "t5:", "deny"),
    );
    let gw = Gateway::start(&cfg);
    assert_eq!(call(&gw, "before").status, 200);
    let port = redis.stop();
    let sent = mocks.openai.requests().len();
    call(&gw, "refused").assert_gateway_error(503, "state_unavailable");
    assert_eq!(mocks.openai.requests().len(), sent);
    // A key without limits does not depend on the store.
    assert_eq!(call_as(&gw, "vk-test-team-b", "free").status, 200);
    eventually("/readyz fails while the store is down", || {
        gw.readyz().0 == 503
    });

    let _redis = RedisServer::on(port);
    eventually("admitted again once Redis answers", || {
        call(&gw, "again").status == 200
    });
    eventually("/readyz recovers", || gw.readyz().0 == 200);
}
