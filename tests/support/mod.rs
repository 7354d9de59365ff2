//! Test harness: the real `strait` binary on `127.0.0.1:0` with a generated
//! config, killed when the guard drops, and a small HTTP client.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

pub use strait_mock::{Flavor, MockProvider};

pub mod agents;
pub mod faults;
pub mod lifecycle;
pub mod otlp;
pub mod redis;
pub mod spend;
pub mod tls;
pub mod ws;

/// The provider credentials the mocks expect and the gateway is given.
pub const OPENAI_KEY: &str = "sk-test-openai-0123456789";
pub const ANTHROPIC_KEY: &str = "sk-ant-test-0123456789";
pub const GEMINI_KEY: &str = "AIza-test-gemini-0123456789";
pub const AZURE_KEY: &str = "azure-test-key-0123456789";
pub const PROVIDER_KEYS: [&str; 4] = [OPENAI_KEY, ANTHROPIC_KEY, GEMINI_KEY, AZURE_KEY];
pub const VK: &str = "vk-test-team-a";
/// Everything that must never appear in a log line, an error body or a
/// response header the gateway makes.
pub const SECRETS: [&str; 5] = [OPENAI_KEY, ANTHROPIC_KEY, GEMINI_KEY, AZURE_KEY, VK];

/// Fails the test if a secret is in `text`.
pub fn assert_no_secret(text: &str, what: &str) {
    for secret in SECRETS {
        assert!(
            !text.contains(secret),
            "a credential reached {what}:\n{text}"
        );
    }
}

/// The four mocks, one per provider flavor.
pub struct Mocks {
    pub openai: MockProvider,
    pub anthropic: MockProvider,
    pub gemini: MockProvider,
    pub azure: MockProvider,
}

impl Mocks {
    pub fn start() -> Mocks {
        Mocks {
            openai: MockProvider::start(Flavor::OpenAi, OPENAI_KEY),
            anthropic: MockProvider::start(Flavor::Anthropic, ANTHROPIC_KEY),
            gemini: MockProvider::start(Flavor::Gemini, GEMINI_KEY),
            azure: MockProvider::start(Flavor::Azure, AZURE_KEY),
        }
    }

    /// A config serving all four providers through these mocks, with one
    /// virtual key; `extra` is appended verbatim (top-level YAML).
    pub fn config(&self, extra: &str) -> String {
        format!(
            r#"listen: ["127.0.0.1:0"]
admin_listen: "127.0.0.1:0"
server: {{ threads: 2 }}
virtual_keys:
  - {{ name: team-a, value: {VK} }}
providers:
  openai:
    network_config: {{ base_url: "{openai}" }}
    keys: [ {{ name: main, value: {OPENAI_KEY} }} ]
  anthropic:
    network_config: {{ base_url: "{anthropic}" }}
    keys: [ {{ name: main, value: {ANTHROPIC_KEY} }} ]
  gemini:
    network_config: {{ base_url: "{gemini}" }}
    keys: [ {{ name: main, value: {GEMINI_KEY} }} ]
  azure:
    keys:
      - name: eastus
        value: {AZURE_KEY}
        azure_key_config: {{ endpoint: "{azure}" }}
{extra}"#,
            openai = self.openai.url(),
            anthropic = self.anthropic.url(),
            gemini = self.gemini.url(),
            azure = self.azure.url(),
        )
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A scratch directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("strait-test-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn strait_bin() -> &'static str {
    env!("CARGO_BIN_EXE_strait")
}

/// A running gateway process. Its stdout (access log) and stderr (logs) are
/// collected line by line.
pub struct Gateway {
    child: Child,
    pub addr: SocketAddr,
    pub admin: Option<SocketAddr>,
    pub stdout: Arc<Mutex<Vec<String>>>,
    pub stderr: Arc<Mutex<Vec<String>>>,
    /// The access log file, when the config names one.
    pub log_file: Option<PathBuf>,
    /// The config file it was started with (rewrite it to test reloads).
    pub config_path: PathBuf,
    _dir: TempDir,
}

/// A port that was free a moment ago, for configs that need a fixed one
/// (a binary upgrade takes over listeners by address).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `access_log:` of a test config when it is a file path.
fn log_file_of(config: &str) -> Option<PathBuf> {
    let value = config
        .lines()
        .find_map(|l| l.strip_prefix("access_log:"))?
        .trim()
        .trim_matches('"');
    value.starts_with('/').then(|| PathBuf::from(value))
}

fn collect(stream: impl Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

fn find_addr(lines: &[String], marker: &str) -> Option<SocketAddr> {
    lines
        .iter()
        .find_map(|l| l.split(marker).nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|a| a.parse().ok())
}

impl Gateway {
    pub fn start(config: &str) -> Gateway {
        Self::start_with_env(config, &[])
    }

    pub fn start_with_env(config: &str, env: &[(&str, &str)]) -> Gateway {
        Self::start_with(config, &[], env)
    }

    /// Starts `strait -c <config> <args>`; waits until it listens.
    pub fn start_with(config: &str, args: &[&str], env: &[(&str, &str)]) -> Gateway {
        let dir = TempDir::new();
        let path = dir.write("strait.yaml", config);
        let mut child = Command::new(strait_bin())
            .arg("-c")
            .arg(&path)
            .args(args)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("strait starts");
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (addr, admin, done) = {
                let lines = stderr.lock().unwrap();
                let admin_expected = config.contains("admin_listen");
                let addr = find_addr(&lines, "gateway listening on ");
                let admin = find_addr(&lines, "admin listening on ");
                (
                    addr,
                    admin,
                    addr.is_some() && (admin.is_some() || !admin_expected),
                )
            };
            // The admin listener is a service of its own, bound a moment
            // after the gateway's: a test may ask /readyz at once.
            if done && wait_connectable(addr.unwrap()) && admin.is_none_or(wait_connectable) {
                return Gateway {
                    child,
                    addr: addr.unwrap(),
                    admin,
                    stdout,
                    stderr,
                    log_file: log_file_of(config),
                    config_path: path,
                    _dir: dir,
                };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "strait exited with {status} before listening:\n{}",
                    stderr.lock().unwrap().join("\n")
                );
            }
            assert!(
                Instant::now() < deadline,
                "strait did not start:\n{}",
                stderr.lock().unwrap().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name (`HUP`, `TERM`, `QUIT`, `USR1`, `USR2`).
    pub fn signal(&self, name: &str) {
        send_signal(self.pid(), name);
    }

    /// Waits up to `timeout` for the process to exit on its own.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The admin listener's `/readyz` as (status, JSON body).
    pub fn readyz(&self) -> (u16, serde_json::Value) {
        let admin = self.admin.expect("the config has admin_listen");
        let r = get(&format!("http://{admin}/readyz"), &[]);
        (r.status, r.json())
    }

    /// The access log's lines: the file when there is one, else stdout.
    fn access_lines(&self) -> Vec<String> {
        match &self.log_file {
            Some(p) => std::fs::read_to_string(p)
                .unwrap_or_default()
                .lines()
                .map(str::to_string)
                .collect(),
            None => self.stdout.lock().unwrap().clone(),
        }
    }

    /// Access-log lines parsed as JSON, waiting up to 5 s for at least `n`.
    pub fn access_log(&self, n: usize) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let lines: Vec<serde_json::Value> = self
                .access_lines()
                .iter()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect();
            if lines.len() >= n || Instant::now() > deadline {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The access-log line of the request with this id, waiting up to 5 s.
    pub fn log_line(&self, request_id: &str) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let found = self
                .access_log(0)
                .into_iter()
                .find(|l| l["request_id"] == request_id);
            if let Some(line) = found {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "no access log line for {request_id}:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The admin listener's `/metrics` text.
    pub fn metrics(&self) -> String {
        let admin = self.admin.expect("the config has admin_listen");
        let reply = get(&format!("http://{admin}/metrics"), &[]);
        assert_eq!(reply.status, 200);
        reply.text()
    }

    /// `/metrics` once it contains `needle`: a request is counted in the
    /// logging hook, just after the client has its response.
    pub fn metrics_containing(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let m = self.metrics();
            if m.contains(needle) {
                return m;
            }
            assert!(Instant::now() < deadline, "no {needle} in /metrics:\n{m}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Every log line: stderr, stdout and the access log file.
    pub fn logs(&self) -> String {
        let mut all = self.stderr.lock().unwrap().clone();
        all.extend(self.stdout.lock().unwrap().iter().cloned());
        if self.log_file.is_some() {
            all.extend(self.access_lines());
        }
        all.join("\n")
    }
}

pub fn send_signal(pid: u32, name: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("kill runs");
    assert!(ok.success(), "kill -{name} {pid} failed");
}

fn wait_connectable(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

impl Drop for Gateway {
    /// Stops the process, then fails the test if any credential reached a
    /// log line or the access log.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
        assert_no_secret(&self.logs(), "the logs");
    }
}

/// A response as the client saw it, with when each body chunk arrived.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
    pub chunks: Vec<(Duration, Bytes)>,
    /// The body ended early: the connection closed mid-response.
    pub cut: bool,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a gateway-made error of this status and type.
    pub fn assert_gateway_error(&self, status: u16, kind: &str) {
        assert_eq!(self.header("x-strait-error"), Some("1"), "{}", self.text());
        self.assert_error_shape(status, kind);
    }

    /// A JSON error of this status and type, with a message (what the
    /// admin listener answers too).
    pub fn assert_error_shape(&self, status: u16, kind: &str) {
        assert_eq!(self.status, status, "body: {}", self.text());
        assert_eq!(self.header("content-type"), Some("application/json"));
        let v = self.json();
        assert_eq!(v["error"]["type"], kind, "{v}");
        assert!(v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
}

/// Sends one HTTP/1.1 request and reads the whole response, timing chunks.
pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Reply {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(request_async(method, url, headers, body.into()))
}

pub async fn request_async(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Reply {
    request_watching(method, url, headers, body, |_| {}).await
}

/// [`request_async`], calling `on_chunk` with each body chunk as it arrives.
pub async fn request_watching(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Bytes,
    mut on_chunk: impl FnMut(&[u8]),
) -> Reply {
    let uri: http::Uri = url.parse().unwrap();
    let authority = uri.authority().unwrap().clone();
    let stream = tokio::net::TcpStream::connect(authority.as_str())
        .await
        .unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut builder = http::Request::builder()
        .method(method)
        .uri(uri.path_and_query().map_or("/", |p| p.as_str()))
        .header("host", authority.as_str());
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let req = builder.body(Full::new(body)).unwrap();
    let start = Instant::now();
    let resp = tokio::time::timeout(Duration::from_secs(30), sender.send_request(req))
        .await
        .expect("response within 30 s")
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let mut body = resp.into_body();
    let mut chunks = Vec::new();
    let mut all = Vec::new();
    let mut cut = false;
    while let Some(frame) = tokio::time::timeout(Duration::from_secs(30), body.frame())
        .await
        .expect("body chunk within 30 s")
    {
        let Ok(frame) = frame else {
            cut = true;
            break;
        };
        if let Ok(data) = frame.into_data() {
            on_chunk(&data);
            all.extend_from_slice(&data);
            chunks.push((start.elapsed(), data));
        }
    }
    let reply = Reply {
        status,
        headers,
        body: all,
        chunks,
        cut,
    };
    // Every error the gateway makes, in every test, is checked for secrets.
    if reply.header("x-strait-error").is_some() {
        assert_no_secret(&reply.text(), "a gateway error body");
        assert_no_secret(&format!("{:?}", reply.headers), "gateway error headers");
    }
    reply
}

pub fn get(url: &str, headers: &[(&str, &str)]) -> Reply {
    request("GET", url, headers, Bytes::new())
}

pub fn post_json(url: &str, headers: &[(&str, &str)], body: &serde_json::Value) -> Reply {
    let mut h = vec![("content-type", "application/json")];
    h.extend_from_slice(headers);
    request("POST", url, &h, body.to_string())
}

/// Writes raw bytes to the gateway and returns what came back (until close
/// or 5 s): for requests no well-behaved client library would send.
pub fn raw(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(bytes).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                // One response is enough: stop once headers and any
                // Content-Length body are in.
                if complete_response(&out) {
                    break;
                }
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn complete_response(buf: &[u8]) -> bool {
    let text = String::from_utf8_lossy(buf);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let len = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse::<usize>().ok())?
    });
    len.is_some_and(|n| body.len() >= n)
}

/// The status code of a raw HTTP response.
pub fn status_of(raw_response: &str) -> u16 {
    raw_response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The value of one sample in Prometheus text, 0 when the series is absent.
pub fn sample(metrics: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter(|(series, _)| {
            let (n, rest) = series.split_once('{').unwrap_or((series, ""));
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
        })
        .map(|(_, v)| v.parse::<f64>().unwrap())
        .sum()
}
