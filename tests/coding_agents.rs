//! The coding agents people route through a gateway, run for real against the
//! mock providers through a real strait: Claude Code (`claude -p`) on the
//! anthropic route, Codex CLI (`codex exec`) on the openai route. Versions:
//! `tests/agents/package.json`, installed by `tests/agents/setup.sh`.

#[path = "coding_agents/codex.rs"]
mod codex;
mod support;

use std::process::Command;

use serde_json::Value;
use strait_mock::{delta_text, Recorded, DEFAULT_EVENTS};
use support::agents::*;
use support::*;

/// What both CLIs print: the mock's streamed deltas, joined.
fn streamed_answer() -> String {
    (0..DEFAULT_EVENTS).map(delta_text).collect::<String>()
}

/// Claude Code printed the mock's streamed reply, and nothing else.
fn assert_answered(run: &support::agents::Run) {
    assert_eq!(
        run.stdout.trim(),
        streamed_answer().trim(),
        "{}",
        run.stderr
    );
}

fn gateway(mocks: &Mocks, dir: &TempDir) -> Gateway {
    let log = dir.0.join("access.log");
    Gateway::start(&format!(
        "access_log: \"{}\"\n{}",
        log.display(),
        mocks.config("")
    ))
}

/// The access-log line of each of `n` calls, waiting for them.
fn log_lines(gw: &Gateway, n: usize) -> Vec<Value> {
    let lines = gw.access_log(n);
    assert_eq!(lines.len(), n, "access log:\n{lines:#?}\n{}", gw.logs());
    lines
}

// ---------------------------------------------------------------- Claude Code

/// A fixed session id makes two runs send identical requests (the id is in a
/// header and in the body's metadata), so a direct run is the reference for
/// what must arrive through the gateway.
const SESSION: &str = "0f0e0d0c-0b0a-4908-8706-050403020100";

/// `claude -p` with its own `HOME` and working directory (shared by the runs
/// of one test: both end up in the system prompt), `base_url` and credential.
fn claude(dir: &TempDir, base_url: &str, credential: (&str, &str)) -> Run {
    let (home, work) = (dir.0.join("home"), dir.0.join("work"));
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    let mut cmd = Command::new(agents_bin().join("claude"));
    cmd.args(["-p", "--session-id", SESSION, "--no-session-persistence"])
        .arg("Say hello")
        .current_dir(&work);
    run_agent(
        cmd,
        &[
            ("HOME", home.to_str().unwrap()),
            ("ANTHROPIC_BASE_URL", base_url),
            credential,
            // Claude Code's documented switches for everything that is not the
            // model call: telemetry, error reports, update checks.
            ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
            ("DISABLE_TELEMETRY", "1"),
            ("DISABLE_ERROR_REPORTING", "1"),
            ("DISABLE_AUTOUPDATER", "1"),
        ],
    )
}

/// `got` (through the gateway) is `want` (sent straight to the mock) request by
/// request: same method, path, query and body, the same end-to-end headers with
/// the same values but for the credential headers named in `credential`.
fn assert_same_requests(want: &[Recorded], got: &[Recorded], credential: &[&str]) {
    let calls = |r: &[Recorded]| -> Vec<String> {
        r.iter()
            .map(|r| format!("{} {}?{:?}", r.method, r.path, r.query))
            .collect()
    };
    assert_eq!(calls(got), calls(want), "the calls differ");
    for (w, g) in want.iter().zip(got) {
        let strip = |r: &Recorded| -> Vec<(String, String)> {
            end_to_end_headers(r)
                .into_iter()
                .filter(|(n, _)| !credential.contains(&n.as_str()))
                .collect()
        };
        assert_eq!(
            strip(g),
            strip(w),
            "{} {}: headers changed",
            g.method,
            g.path
        );
        assert!(g.body == w.body, "{} {}: body changed", g.method, g.path);
    }
}

#[test]
fn claude_code_print_mode_through_the_gateway() {
    let mocks = Mocks::start();
    let dir = TempDir::new();
    let gw = gateway(&mocks, &dir);
    let route = gw.url("/anthropic_passthrough");

    let direct = claude(
        &dir,
        &mocks.anthropic.url(),
        ("ANTHROPIC_API_KEY", ANTHROPIC_KEY),
    );
    assert_answered(&direct);
    let want = mocks.anthropic.requests();
    assert!(!want.is_empty());
    mocks.anthropic.clear();

    // ANTHROPIC_API_KEY is sent as `x-api-key`: the gateway swaps the value.
    let run = claude(&dir, &route, ("ANTHROPIC_API_KEY", VK));
    assert_answered(&run);
    let got = mocks.anthropic.requests();
    assert_provider_never_saw(VK, &got);
    // x-api-key compared too: the provider key there, as in the direct run.
    assert_same_requests(&want, &got, &[]);
    let msg = got
        .iter()
        .find(|r| r.path == "/v1/messages")
        .expect("a Messages call");
    for name in ["anthropic-beta", "anthropic-version", "user-agent", "x-app"] {
        assert!(
            msg.header(name).is_some(),
            "Claude Code sent no {name} this time"
        );
    }
    // The session header is the one in the body: forwarded within the run too.
    let session = msg.header("x-claude-code-session-id");
    assert_eq!(session, Some(SESSION), "{:?}", msg.headers);
    assert!(msg.json()["metadata"]["user_id"]
        .as_str()
        .unwrap()
        .contains(SESSION));

    let lines = log_lines(&gw, got.len());
    let messages = |l: &&Value| {
        let path = l["path"].as_str().unwrap_or("");
        path.starts_with("/anthropic_passthrough/v1/messages")
    };
    let line = lines.iter().find(messages).expect("Messages call logged");
    let u = strait_mock::ANTHROPIC_USAGE;
    assert_eq!(line["status"], 200, "{line}");
    assert_eq!(line["streamed"], true, "{line}");
    assert_eq!(line["usage"], "reported", "{line}");
    assert_eq!(line["virtual_key"], "team-a", "{line}");
    assert_eq!(line["model"], msg.json()["model"], "{line}");
    // Normalised (README, request log): every prompt token, cache reads and
    // writes included.
    let input = u.input + u.cached + u.cache_creation;
    assert_eq!(line["input_tokens"], input, "{line}");
    assert_eq!(line["output_tokens"], u.output, "{line}");
    assert_eq!(line["cached_tokens"], u.cached, "{line}");
    assert_eq!(line["cache_creation_tokens"], u.cache_creation, "{line}");
    mocks.anthropic.clear();

    // ANTHROPIC_AUTH_TOKEN is sent as `Authorization: Bearer`: the gateway
    // takes it out and puts the provider key in `x-api-key`.
    let run = claude(&dir, &route, ("ANTHROPIC_AUTH_TOKEN", VK));
    assert_answered(&run);
    let got = mocks.anthropic.requests();
    assert_provider_never_saw(VK, &got);
    assert_same_requests(&want, &got, &["x-api-key", "authorization"]);
    for r in &got {
        assert_eq!(r.header("x-api-key"), Some(ANTHROPIC_KEY));
        assert_eq!(r.header("authorization"), None);
    }
}
