//! Codex CLI (`codex exec`) with a custom provider on the openai route: over
//! SSE, and over the Responses API's WebSocket mode.

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use strait_mock::{Recorded, OPENAI_USAGE};

use super::*;

/// A model whose built-in metadata prefers the Responses API over WebSocket:
/// with `supports_websockets = false` on the provider Codex must use SSE.
const CODEX_MODEL: &str = "gpt-6.2-sol";

/// `~/.codex/config.toml` with one custom provider; Codex reads its key from
/// the env var `env_key` names. Analytics and update checks off: nothing but
/// the model call leaves the machine.
fn codex_config(home: &Path, base_url: &str, websockets: bool) {
    let codex = home.join(".codex");
    std::fs::create_dir_all(&codex).unwrap();
    let toml = format!(
        r#"model = "{CODEX_MODEL}"
model_provider = "strait"
check_for_update_on_startup = false

[analytics]
enabled = false

[model_providers.strait]
name = "strait"
base_url = "{base_url}"
env_key = "STRAIT_API_KEY"
wire_api = "responses"
supports_websockets = {websockets}
"#
    );
    std::fs::write(codex.join("config.toml"), toml).unwrap();
}

/// `codex exec --json` (one JSON event per line on stdout), read-only sandbox,
/// no session files; `--strict-config` so a config key Codex renamed fails here
/// instead of being ignored.
fn codex(dir: &TempDir, base_url: &str, key: &str, websockets: bool) -> Vec<Value> {
    let (home, work) = (dir.0.join("home"), dir.0.join("work"));
    std::fs::create_dir_all(&work).unwrap();
    codex_config(&home, base_url, websockets);
    let mut cmd = Command::new(agents_bin().join("codex"));
    cmd.args(["exec", "--json", "--strict-config", "--skip-git-repo-check"])
        .args(["--ephemeral", "--sandbox", "read-only", "Say hello"])
        .current_dir(&work);
    let run = run_agent(
        cmd,
        &[("HOME", home.to_str().unwrap()), ("STRAIT_API_KEY", key)],
    );
    let events: Vec<Value> = run
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let answer = events
        .iter()
        .find(|e| e["type"] == "item.completed" && e["item"]["type"] == "agent_message");
    assert_eq!(
        answer.map(|e| e["item"]["text"].clone()),
        Some(Value::from(streamed_answer())),
        "stdout:\n{}\nstderr:\n{}",
        run.stdout,
        run.stderr
    );
    events
}

/// What a run of Codex sent, less what names that run (its session id is in
/// several headers, the body has its own length): the same in every run.
fn codex_stable_headers(r: &Recorded) -> Vec<(String, String)> {
    let session = r.header("session-id").expect("Codex sends session-id");
    end_to_end_headers(r)
        .into_iter()
        .filter(|(n, v)| n != "content-length" && !v.contains(session))
        .collect()
}

fn header_names(r: &Recorded) -> Vec<String> {
    end_to_end_headers(r).into_iter().map(|(n, _)| n).collect()
}

#[test]
fn codex_exec_over_sse_through_the_gateway() {
    let mocks = Mocks::start();
    let dir = TempDir::new();
    let gw = gateway(&mocks, &dir);

    codex(
        &dir,
        &format!("{}/v1", mocks.openai.url()),
        OPENAI_KEY,
        false,
    );
    let want = mocks.openai.requests();
    mocks.openai.clear();

    let events = codex(&dir, &gw.url("/openai_passthrough/v1"), VK, false);
    let got = mocks.openai.requests();
    assert_provider_never_saw(VK, &got);
    let calls: Vec<String> = got
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    // SSE only: no WebSocket upgrade attempted, so none fell back.
    assert!(calls.iter().all(|c| c == "POST /v1/responses"), "{calls:?}");
    assert_eq!(got.len(), want.len(), "{calls:?}");
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(
            g.header("authorization"),
            Some(&*format!("Bearer {OPENAI_KEY}"))
        );
        assert_eq!(g.header("accept"), Some("text/event-stream"));
        assert_eq!(
            header_names(g),
            header_names(w),
            "a header was dropped or added"
        );
        assert_eq!(
            codex_stable_headers(g),
            codex_stable_headers(w),
            "a header changed"
        );
        assert_eq!(g.json()["model"], CODEX_MODEL);
        // As for a reasoning model: the mock answers with a reasoning item first.
        let include = g.json()["include"].clone();
        assert!(include.to_string().contains("reasoning.encrypted_content"));
    }

    // Codex's own count is the mock's usage, and so is the log's.
    let done = events
        .iter()
        .find(|e| e["type"] == "turn.completed")
        .expect("a turn");
    let u = OPENAI_USAGE;
    assert_eq!(done["usage"]["input_tokens"], u.input, "{done}");
    assert_eq!(done["usage"]["output_tokens"], u.output, "{done}");
    let lines = log_lines(&gw, got.len());
    for line in &lines {
        assert_eq!(line["status"], 200, "{line}");
        assert_eq!(line["path"], "/openai_passthrough/v1/responses", "{line}");
        assert_eq!(line["streamed"], true, "{line}");
        assert_eq!(line["model"], CODEX_MODEL, "{line}");
        assert_eq!(line["input_tokens"], u.input, "{line}");
        assert_eq!(line["output_tokens"], u.output, "{line}");
        assert_eq!(line["reasoning_tokens"], u.reasoning, "{line}");
    }
}

/// Per connection by design: the handshake's nonce, and the compression offer
/// strait takes out upstream (it reads usage from the frames: README,
/// WebSocket).
const WS_PER_CONNECTION: [&str; 2] = ["sec-websocket-key", "sec-websocket-extensions"];

fn ws_stable_headers(r: &Recorded) -> Vec<(String, String)> {
    codex_stable_headers(r)
        .into_iter()
        .filter(|(n, _)| !WS_PER_CONNECTION.contains(&n.as_str()))
        .collect()
}

/// The JSON messages Codex sent in the mock's one session.
fn ws_messages(mocks: &Mocks) -> Vec<Value> {
    let sessions = mocks.openai.ws_sessions();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    let parse = |m: &String| serde_json::from_str(m).expect("a JSON message");
    sessions[0].messages.iter().map(parse).collect()
}

#[test]
fn codex_exec_over_websocket_through_the_gateway() {
    let mocks = Mocks::start();
    let dir = TempDir::new();
    let gw = gateway(&mocks, &dir);

    codex(
        &dir,
        &format!("{}/v1", mocks.openai.url()),
        OPENAI_KEY,
        true,
    );
    let want = mocks.openai.requests();
    let want_messages = ws_messages(&mocks);
    let want_close = mocks.openai.ws_sessions()[0].client_close;
    mocks.openai.clear();

    let events = codex(&dir, &gw.url("/openai_passthrough/v1"), VK, true);
    let got = mocks.openai.requests();
    assert_provider_never_saw(VK, &got);
    let calls: Vec<String> = got
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    // One upgrade and nothing else: a failed session would show as Codex's
    // silent fallback, a `POST /v1/responses`.
    assert_eq!(calls, ["GET /v1/responses"], "{calls:?}");
    assert_eq!(want.len(), 1, "the direct run fell back");
    let (w, g) = (&want[0], &got[0]);
    assert_eq!(
        g.header("authorization"),
        Some(&*format!("Bearer {OPENAI_KEY}"))
    );
    assert_eq!(
        g.header("openai-beta"),
        Some("responses_websockets=2026-02-06")
    );
    assert_eq!(g.header("upgrade"), Some("websocket"));
    let offer = w.header("sec-websocket-extensions").unwrap_or_default();
    assert!(offer.contains("permessage-deflate"), "{offer}");
    assert_eq!(g.header("sec-websocket-extensions"), None);
    assert_eq!(
        ws_stable_headers(g),
        ws_stable_headers(w),
        "a header changed"
    );

    // What Codex 0.171.0 sends: a warm-up (`generate: false`, no input), then
    // the turn chained on it by `previous_response_id`; the mock refuses an
    // id its connection never answered, so one relayed session carried both.
    let messages = ws_messages(&mocks);
    let kinds = |m: &[Value]| -> Vec<(Value, Value)> {
        m.iter()
            .map(|m| (m["type"].clone(), m["generate"].clone()))
            .collect()
    };
    assert_eq!(kinds(&messages), kinds(&want_messages));
    assert_eq!(messages.len(), 2, "{:?}", kinds(&messages));
    assert_eq!(messages[0]["generate"], false);
    assert!(messages[1]["previous_response_id"].is_string());
    for m in &messages {
        assert!(!m.to_string().contains(VK), "the virtual key in a message");
        assert_eq!(m["type"], "response.create");
        assert_eq!(m["model"], CODEX_MODEL);
    }

    let done = events
        .iter()
        .find(|e| e["type"] == "turn.completed")
        .expect("a turn");
    let u = OPENAI_USAGE;
    assert_eq!(done["usage"]["input_tokens"], u.input, "{done}");
    assert_eq!(done["usage"]["output_tokens"], u.output, "{done}");
    // One line for the session, at its end: the warm-up counts nothing, the
    // turn the mock's usage.
    let line = &log_lines(&gw, 1)[0];
    assert_eq!(line["websocket"], true, "{line}");
    assert_eq!(line["status"], 101, "{line}");
    assert_eq!(line["path"], "/openai_passthrough/v1/responses", "{line}");
    assert_eq!(line["virtual_key"], "team-a", "{line}");
    assert_eq!(line["model"], CODEX_MODEL, "{line}");
    assert_eq!(line["input_tokens"], u.input, "{line}");
    assert_eq!(line["output_tokens"], u.output, "{line}");
    assert_eq!(line["cached_tokens"], u.cached, "{line}");
    assert_eq!(line["reasoning_tokens"], u.reasoning, "{line}");
    // Codex 0.171.0 exits without a close frame (as in the direct run): the
    // session ends when its connection does.
    let (frames, end) = match want_close {
        None => (messages.len(), "disconnected"),
        Some(_) => (messages.len() + 1, "client_close"),
    };
    assert_eq!(line["ws_frames_in"], frames, "{line}");
    assert_eq!(line["ws_end"], end, "{line}");
    assert!(line["ws_frames_out"].as_u64() > Some(2), "{line}");
    assert_no_secret(&line.to_string(), "the access log");
}
