//! Coding-agent CLIs (Claude Code, Codex) as the suite runs them: installed
//! once per test process by `tests/agents/setup.sh`, run with a clean
//! environment and a deadline, and the mock's view of what they sent.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use strait_mock::Recorded;

/// How long one CLI run may take: a few seconds is normal (both answer from a
/// mock on loopback); the margin is for a loaded CI machine.
pub const AGENT_TIMEOUT: Duration = Duration::from_secs(120);

/// The directory holding `claude` and `codex`, installed on first use. A
/// missing npm or a failed install fails the test: never a silent skip.
pub fn agents_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let root = env!("CARGO_MANIFEST_DIR");
        let setup = Command::new("bash")
            .arg(format!("{root}/tests/agents/setup.sh"))
            .output()
            .expect("bash runs tests/agents/setup.sh");
        assert!(
            setup.status.success(),
            "coding agents setup (npm) failed:\n{}",
            String::from_utf8_lossy(&setup.stderr)
        );
        let out = String::from_utf8_lossy(&setup.stdout);
        PathBuf::from(out.lines().last().expect("setup.sh prints a dir").trim())
    })
}

/// What a CLI run printed.
pub struct Run {
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` with only `PATH` from this environment (so no credential or
/// setting of the machine's own leaks in), plus `env`; fails the test on a
/// non-zero exit or after [`AGENT_TIMEOUT`].
pub fn run_agent(mut cmd: Command, env: &[(&str, &str)]) -> Run {
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let what = format!("{cmd:?}");
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{what}: {e}"));
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = r.read_to_end(&mut s);
            String::from_utf8_lossy(&s).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + AGENT_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the agent") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let run = Run {
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    };
    match status {
        Some(s) if s.success() => run,
        s => panic!(
            "{what} ended with {s:?} (None: killed after {AGENT_TIMEOUT:?})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            run.stdout, run.stderr
        ),
    }
}

/// Headers the gateway rewrites by design (README, "Client credentials are
/// never forwarded"): `host` (it connects under the provider's address),
/// `accept-encoding` (it asks for `identity` to read usage from the body) and
/// the hop-by-hop ones, which belong to one connection.
const REWRITTEN: [&str; 5] = [
    "host",
    "accept-encoding",
    "connection",
    "keep-alive",
    "transfer-encoding",
];

/// A request's end-to-end headers as a sorted list, less those the gateway
/// rewrites by design ([`REWRITTEN`]). Sorted: header order carries no
/// meaning, and an HTTP proxy may reorder.
pub fn end_to_end_headers(rec: &Recorded) -> Vec<(String, String)> {
    let mut h: Vec<(String, String)> = rec
        .headers
        .iter()
        .filter(|(n, _)| !REWRITTEN.contains(&n.as_str()))
        .cloned()
        .collect();
    h.sort();
    h
}

/// Fails if the virtual key is anywhere in what the provider received.
pub fn assert_provider_never_saw(secret: &str, reqs: &[Recorded]) {
    for r in reqs {
        for (name, value) in &r.headers {
            assert!(
                !value.contains(secret),
                "{} {}: the provider got the virtual key in {name}",
                r.method,
                r.path
            );
        }
        let leaked = String::from_utf8_lossy(&r.body).contains(secret)
            || r.query.as_deref().unwrap_or("").contains(secret);
        assert!(
            !leaked,
            "{} {}: the virtual key reached the provider",
            r.method, r.path
        );
    }
}
