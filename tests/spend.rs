//! Spend control with the in-process store (`state.backend: memory`):
//! budgets in USD and in tokens, tokens per minute, `GET /spend`, and the
//! state file across a restart. Every mock call costs `CALL_USD`.

mod support;

use std::time::Duration;

use support::spend::*;
use support::*;

fn today() -> (String, String) {
    let day = chrono_day(0);
    (
        format!("{day}T00:00:00Z"),
        format!("{}T00:00:00Z", chrono_day(1)),
    )
}

/// UTC date `offset` days from now, as `YYYY-MM-DD` (from `date`, to keep
/// the calendar arithmetic out of the code under test).
fn chrono_day(offset: i64) -> String {
    let out = std::process::Command::new("date")
        .args(["-u", "-d", &format!("{offset} day"), "+%Y-%m-%d"])
        .output()
        .expect("date");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn a_usd_budget_refuses_once_spent_and_says_when_it_resets() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&config(&mocks, "budget: { usd: 0.5, period: day }", ""));
    for i in 0..3u64 {
        let r = call(&gw, &format!("c{i}"));
        assert_eq!(r.status, 200, "{}", r.text());
        wait_spent(&gw, CALL_TOKENS * (i + 1));
    }
    assert_eq!(gw.log_line("c0")["cost_usd"], CALL_USD);
    // $0.54 spent of $0.50: the next call is refused before the provider.
    let sent = mocks.openai.requests().len();
    let r = call(&gw, "over");
    r.assert_gateway_error(402, "budget_exceeded");
    let msg = r.json()["error"]["message"].as_str().unwrap().to_owned();
    let (began, resets) = today();
    assert!(msg.contains("`team-a`") && msg.contains("USD 0.5"), "{msg}");
    assert!(msg.contains(&format!("day that began {began}")), "{msg}");
    assert!(msg.contains(&format!("resets at {resets}")), "{msg}");
    assert_eq!(
        mocks.openai.requests().len(),
        sent,
        "nothing reached the provider"
    );
    let line = gw.log_line("over");
    assert_eq!(
        (line["status"].as_u64(), line["error"].as_str()),
        (Some(402), Some("budget_exceeded"))
    );
    // Another key has its own count.
    assert_eq!(call_as(&gw, "vk-test-team-b", "b").status, 200);

    let row = team_a(&gw);
    assert_eq!(row["period"], "day");
    assert_eq!(row["period_start"], began);
    assert_eq!(row["resets_at"], resets);
    assert_eq!(row["spent_usd"], 3.0 * CALL_USD);
    assert_eq!(row["spent_tokens"], 3 * CALL_TOKENS);
    assert_eq!(row["limits"]["budget_usd"], 0.5);
    assert_eq!(row["limits"]["budget_tokens"], serde_json::Value::Null);
    // The refused call is not counted as a request. A sliding estimate:
    // exactly the counts within one minute, less once it starts sliding out.
    let requests = row["last_minute"]["requests"].as_u64().unwrap();
    assert!((1..=3).contains(&requests), "{row}");
    let tokens = row["last_minute"]["tokens"].as_u64().unwrap();
    assert!((1..=3 * CALL_TOKENS).contains(&tokens), "{row}");
    let all = spend(&gw);
    assert_eq!(
        (all["backend"].as_str(), all["store_up"].as_bool()),
        (Some("memory"), Some(true))
    );
    let b = all["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["virtual_key"] == "team-b")
        .unwrap()
        .clone();
    assert_eq!(
        (b["period"].as_str(), b["spent_tokens"].as_u64()),
        (Some("total"), Some(CALL_TOKENS))
    );
    assert_eq!(b["resets_at"], serde_json::Value::Null);
}

#[test]
fn token_budgets_and_tokens_per_minute() {
    let mocks = Mocks::start();
    let gw = Gateway::start(&config(&mocks, "budget: { tokens: 36, period: total }", ""));
    for i in 0..2u64 {
        assert_eq!(call(&gw, &format!("t{i}")).status, 200);
        wait_spent(&gw, CALL_TOKENS * (i + 1));
    }
    let r = call(&gw, "over");
    r.assert_gateway_error(402, "budget_exceeded");
    let msg = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        msg.contains("36 tokens") && msg.contains("does not reset"),
        "{msg}"
    );
    drop(gw);

    let gw = Gateway::start(&config(&mocks, "tokens_per_minute: 30", ""));
    assert_eq!(call(&gw, "m0").status, 200);
    wait_spent(&gw, CALL_TOKENS);
    // 18 of 30: still admitted; 36 after it.
    assert_eq!(call(&gw, "m1").status, 200);
    wait_spent(&gw, 2 * CALL_TOKENS);
    let sent = mocks.openai.requests().len();
    let r = call(&gw, "m2");
    r.assert_gateway_error(429, "token_rate_limited");
    let retry: u64 = r
        .header("retry-after")
        .expect("retry-after")
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("30 tokens per minute"));
    assert_eq!(mocks.openai.requests().len(), sent);
    assert_eq!(team_a(&gw)["limits"]["tokens_per_minute"], 30);
}

#[test]
fn spend_survives_a_restart_and_a_bad_state_file_is_a_fresh_start() {
    let mocks = Mocks::start();
    let dir = TempDir::new();
    let file = dir.0.join("state.json");
    let config = config(
        &mocks,
        "budget: { usd: 100 }",
        &format!("state: {{ file: \"{}\" }}\n", file.display()),
    );
    let mut gw = Gateway::start(&config);
    assert_eq!(call(&gw, "r0").status, 200);
    assert_eq!(call(&gw, "r1").status, 200);
    wait_spent(&gw, 2 * CALL_TOKENS);
    gw.signal("TERM");
    assert!(
        gw.wait_exit(Duration::from_secs(15)).is_some(),
        "stops on SIGTERM"
    );
    let saved = std::fs::read_to_string(&file).expect("written at exit");
    assert!(saved.contains("team-a"), "{saved}");

    let gw = Gateway::start(&config);
    let row = team_a(&gw);
    assert_eq!(row["spent_tokens"], 2 * CALL_TOKENS, "{row}");
    assert_eq!(row["spent_usd"], 2.0 * CALL_USD);
    assert_eq!(row["period"], "month");
    assert_eq!(call(&gw, "r2").status, 200);
    wait_spent(&gw, 3 * CALL_TOKENS);
    drop(gw);

    std::fs::write(&file, "{ this is not the state file").unwrap();
    let gw = Gateway::start(&config);
    assert_eq!(
        call(&gw, "fresh").status,
        200,
        "serves despite the bad file"
    );
    wait_spent(&gw, CALL_TOKENS);
    assert!(
        gw.logs().contains("cannot use the state file"),
        "{}",
        gw.logs()
    );
}

#[test]
fn a_binary_upgrade_hands_the_counters_over_and_a_reload_keeps_them() {
    use support::lifecycle::{fixed_config, KillPid};
    let mocks = Mocks::start();
    let dir = TempDir::new();
    let file = dir.0.join("state.json");
    let (fixed, _port) = fixed_config(&mocks, &dir);
    let config = fixed.replace(
        &format!("  - {{ name: team-a, value: {VK} }}\n"),
        &format!("  - {{ name: team-a, value: {VK}, budget: {{ usd: 100 }} }}\n"),
    ) + &format!(
        "pricing:\n  models:\n    - {{ provider: openai, model: gpt-4o, input: 10000, output: 10000 }}\n\
         state: {{ file: \"{}\" }}\n",
        file.display()
    );
    let mut old = Gateway::start(&config);
    assert_eq!(call(&old, "u0").status, 200);
    wait_spent(&old, CALL_TOKENS);
    // A reload swaps the config, not the counters.
    old.signal("HUP");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(call(&old, "u1").status, 200);
    wait_spent(&old, 2 * CALL_TOKENS);

    old.signal("USR2");
    let status = old
        .wait_exit(Duration::from_secs(30))
        .expect("the old process hands over and exits");
    assert!(status.success(), "{status}");
    // The new process runs with the old one's arguments, the config path
    // among them.
    let found = std::process::Command::new("pgrep")
        .arg("-f")
        .arg(old.config_path.to_str().unwrap())
        .output()
        .expect("pgrep");
    let pids: Vec<u32> = String::from_utf8_lossy(&found.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    assert_eq!(pids.len(), 1, "one new process: {pids:?}");
    let _new = KillPid(pids[0]);
    // Same listeners, now the new process's: it carries on from the old count.
    assert_eq!(team_a(&old)["spent_tokens"], 2 * CALL_TOKENS);
    assert_eq!(call(&old, "u2").status, 200);
    wait_spent(&old, 3 * CALL_TOKENS);
}
