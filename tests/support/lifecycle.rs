//! For the signal suites: bounded waits on a process's exit, checks on what
//! it wrote to stderr, client load that must not fail and load that may.

use std::io::ErrorKind::{TimedOut, WouldBlock};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{request, Gateway, Mocks, TempDir, VK};

/// Sends `sig` and waits up to `limit` for the exit; fails the test (and
/// the guard kills the process) when it does not come.
pub fn signal_and_wait(gw: &mut Gateway, sig: &str, limit: Duration) -> (ExitStatus, Duration) {
    let t = Instant::now();
    gw.signal(sig);
    match gw.wait_exit(limit) {
        Some(status) => (status, t.elapsed()),
        None => {
            let lines = gw.stderr.lock().unwrap();
            let tail = lines[lines.len().saturating_sub(20)..].join("\n");
            panic!(
                "still running {limit:?} after SIG{sig}; stderr {} bytes, ends with:\n{tail}",
                bytes(&lines)
            );
        }
    }
}

pub fn bytes(lines: &[String]) -> usize {
    lines.iter().map(|l| l.len() + 1).sum()
}

/// Stderr stays small and no line is written more than a few times in one
/// second (the timestamp has whole seconds, so equal lines are one second's).
pub fn assert_quiet(lines: &[String], max_bytes: usize) {
    let size = bytes(lines);
    assert!(size <= max_bytes, "stderr is {size} bytes");
    let mut counts = std::collections::HashMap::new();
    for l in lines {
        *counts.entry(l.as_str()).or_insert(0) += 1;
    }
    if let Some((line, n)) = counts.into_iter().max_by_key(|(_, n)| *n) {
        assert!(n <= 6, "written {n} times in one second: {line}");
    }
}

/// Gone, or a zombie nobody reaps (a process that is not the test's child).
pub fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

pub fn wait_gone(pid: u32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if gone(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    gone(pid)
}

/// The pid in an sd_notify `MAINPID=` message.
pub fn main_pid(announced: &str) -> u32 {
    announced
        .rsplit('=')
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Kills a process that is not this test's child when the test ends.
pub struct KillPid(pub u32);

impl Drop for KillPid {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .arg("-KILL")
            .arg(self.0.to_string())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

fn chat(stream: bool, events: usize, gap_ms: u64) -> String {
    let body = serde_json::json!({"model": "gpt-4o", "messages": [], "stream": stream,
        "stream_options": {"include_usage": true}})
    .to_string();
    format!(
        "POST /openai_passthrough/v1/chat/completions HTTP/1.1\r\nhost: gw\r\n\
         authorization: Bearer {VK}\r\ncontent-type: application/json\r\n\
         x-mock-events: {events}\r\nx-mock-gap-ms: {gap_ms}\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Clients that stream and post until dropped, ignoring every failure: load
/// on a process that is about to be stopped.
pub struct Hammer {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Hammer {
    pub fn start(addr: SocketAddr, clients: usize, events: usize, gap_ms: u64) -> Hammer {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..clients)
            .map(|c| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut i = 0;
                    while !stop.load(Ordering::Relaxed) {
                        i += 1;
                        let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1))
                        else {
                            std::thread::sleep(Duration::from_millis(20));
                            continue;
                        };
                        let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
                        let _ = s.write_all(chat((c + i) % 2 == 0, events, gap_ms).as_bytes());
                        let mut buf = [0u8; 4096];
                        while !stop.load(Ordering::Relaxed) {
                            match s.read(&mut buf) {
                                Ok(0) => break,
                                Ok(_) => {}
                                Err(e) if matches!(e.kind(), WouldBlock | TimedOut) => {}
                                Err(_) => break,
                            }
                        }
                    }
                })
            })
            .collect();
        Hammer { stop, threads }
    }
}

impl Drop for Hammer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Clients that each open a new connection per request until finished,
/// recording every request that did not fully succeed.
pub struct Load {
    stop: Arc<AtomicBool>,
    done: Arc<AtomicUsize>,
    failures: Arc<Mutex<Vec<String>>>,
    threads: Vec<JoinHandle<()>>,
}

impl Load {
    pub fn start(base: &str, clients: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicUsize::new(0));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let threads = (0..clients)
            .map(|c| {
                let (stop, done, failures) = (stop.clone(), done.clone(), failures.clone());
                let url = format!("{base}/openai_passthrough/v1/chat/completions");
                std::thread::spawn(move || {
                    let mut i = 0;
                    while !stop.load(Ordering::Relaxed) {
                        i += 1;
                        let stream = (c + i) % 2 == 0;
                        let body = serde_json::json!({"model": "gpt-4o", "messages": [],
                            "stream": stream, "stream_options": {"include_usage": true}});
                        let auth = format!("Bearer {VK}");
                        let headers = [
                            ("authorization", auth.as_str()),
                            ("content-type", "application/json"),
                            ("x-mock-events", "4"),
                            ("x-mock-gap-ms", "50"),
                        ];
                        let r = request("POST", &url, &headers, body.to_string());
                        let ok = r.status == 200
                            && !r.cut
                            && (!stream || r.text().contains(&strait_mock::delta_text(3)));
                        if !ok {
                            let mut f = failures.lock().unwrap();
                            f.push(format!("{} {}", r.status, r.text()));
                        }
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        Load {
            stop,
            done,
            failures,
            threads,
        }
    }

    /// Stops the clients; fails the test if any request failed.
    pub fn finish(mut self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            t.join()
                .expect("a client thread panicked (a request failed)");
        }
        let failures = self.failures.lock().unwrap();
        let total = self.done.load(Ordering::Relaxed);
        assert!(
            failures.is_empty(),
            "{} of {total} failed: {:?}",
            failures.len(),
            &failures[..failures.len().min(3)]
        );
        total
    }
}

/// A config on fixed ports (a hand-over matches listeners by address) with
/// its own pid file and upgrade socket; returns it and the gateway port.
pub fn fixed_config(mocks: &Mocks, dir: &TempDir) -> (String, u16) {
    let port = super::free_port();
    let admin = super::free_port();
    let config = mocks
        .config("")
        .replace(
            r#"listen: ["127.0.0.1:0"]"#,
            &format!(r#"listen: ["127.0.0.1:{port}"]"#),
        )
        .replace(
            r#"admin_listen: "127.0.0.1:0""#,
            &format!(r#"admin_listen: "127.0.0.1:{admin}""#),
        )
        .replace(
            "server: { threads: 2 }",
            &format!(
                "server: {{ threads: 2, pid_file: \"{0}/strait.pid\", upgrade_sock: \"{0}/upgrade.sock\" }}",
                dir.0.display()
            ),
        );
    (config, port)
}

/// An OAuth token endpoint that answers after `delay`: a reload that brings
/// a new credential waits for its first token, so it takes that long.
pub fn slow_token_server(delay: Duration) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut got = Vec::new();
                let mut buf = [0u8; 8192];
                while let Ok(n @ 1..) = s.read(&mut buf) {
                    got.extend_from_slice(&buf[..n]);
                    if request_complete(&got) {
                        break;
                    }
                }
                std::thread::sleep(delay);
                let body =
                    r#"{"access_token":"ya29.slow-test","expires_in":3600,"token_type":"Bearer"}"#;
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    addr
}

/// A request head and as much body as its Content-Length says.
pub fn request_complete(got: &[u8]) -> bool {
    let text = String::from_utf8_lossy(got);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let len = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse::<usize>().ok())?
    });
    body.len() >= len.unwrap_or(0)
}

/// `strait -c config` started without waiting for anything; killed when
/// dropped, so a failing test leaves no process behind.
pub struct Proc {
    pub child: Child,
    pub stderr: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    pub fn spawn(config: &std::path::Path) -> Proc {
        let mut child = Command::new(super::strait_bin())
            .arg("-c")
            .arg(config)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("strait starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Proc {
            child,
            stderr: lines,
        }
    }

    pub fn signal(&self, sig: &str) {
        super::send_signal(self.child.id(), sig);
    }

    pub fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
