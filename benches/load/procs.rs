//! The processes under test: the upstream stand-in, strait, bare Pingora
//! and nginx, each started on a free loopback port and killed when dropped
//! (on a panic too: the unwinding drops them); CPU time, memory and the
//! open-files limit read from /proc.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Proc {
    child: Child,
    pub port: u16,
}

impl Drop for Proc {
    /// SIGTERM first: nginx's master takes its workers down with it (a
    /// SIGKILL would leave them running, holding the port and our pipes).
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub fn wait_listening(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Proc {
    /// This benchmark binary again, serving as the provider stand-in.
    pub fn upstream() -> Proc {
        let mut child = Command::new(std::env::current_exe().expect("own path"))
            .arg("--upstream")
            .stdout(Stdio::piped())
            .spawn()
            .expect("the upstream starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the upstream prints its port");
        let port = line
            .trim()
            .trim_start_matches("PORT ")
            .parse()
            .expect("a port");
        Proc { child, port }
    }

    /// This benchmark binary again, as a bare Pingora proxy (bare.rs).
    pub fn bare(upstream: u16, threads: usize, h2c: bool) -> Proc {
        let port = free_port();
        let mut cmd = Command::new(std::env::current_exe().expect("own path"));
        cmd.arg("--bare-pingora")
            .args([port, upstream].map(|p| p.to_string()))
            .arg(threads.to_string());
        if h2c {
            cmd.arg("h2c");
        }
        let child = cmd
            .stdout(Stdio::null())
            .spawn()
            .expect("bare Pingora starts");
        wait_listening(port, "bare Pingora");
        Proc { child, port }
    }

    /// strait (the binary `bin`) in front of the upstream, with its access
    /// log and metrics on.
    pub fn strait(bin: &Path, upstream: u16, dir: &Path, threads: usize, h2c: bool) -> Proc {
        Proc::strait_with(bin, upstream, dir, threads, h2c, "", "")
    }

    /// [`Proc::strait`] with `key_fields` added to the virtual key (limits,
    /// a budget) and `extra` top-level config (`state:`).
    pub fn strait_with(
        bin: &Path,
        upstream: u16,
        dir: &Path,
        threads: usize,
        h2c: bool,
        key_fields: &str,
        extra: &str,
    ) -> Proc {
        let port = free_port();
        let config = format!(
            r#"listen: ["127.0.0.1:{port}"]
access_log: "{log}"
server: {{ threads: {threads}, pid_file: "{dir}/strait-{port}.pid", upgrade_sock: "{dir}/strait-upgrade-{port}.sock" }}
virtual_keys: [ {{ name: bench, value: vk-bench{key_fields} }} ]
{extra}providers:
  openai:
    network_config: {{ base_url: "http://127.0.0.1:{upstream}", h2c: {h2c} }}
    keys: [ {{ name: main, value: sk-bench }} ]
"#,
            log = dir.join(format!("strait-access-{port}.log")).display(),
            dir = dir.display(),
        );
        let path = dir.join(format!("strait-{port}.yaml"));
        std::fs::write(&path, config).expect("config written");
        let child = Command::new(bin)
            .arg("-c")
            .arg(&path)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", bin.display()));
        wait_listening(port, "strait");
        Proc { child, port }
    }

    /// nginx as a plain reverse proxy with a keep-alive upstream pool; the
    /// settings match strait's: one worker per strait thread, access log to
    /// a file, responses and request bodies streamed, not buffered.
    pub fn nginx(upstream: u16, dir: &Path, workers: usize) -> Option<Proc> {
        let nginx = which("nginx")?;
        let port = free_port();
        let d = dir.display();
        let config = format!(
            r#"worker_processes {workers};
user root;
daemon off;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
worker_rlimit_nofile 20000;
events {{ worker_connections 19500; }}
http {{
    access_log {d}/nginx-access.log;
    client_body_temp_path {d}/nginx-body;
    proxy_temp_path {d}/nginx-proxy;
    client_max_body_size 10m;
    client_body_buffer_size 256k;
    keepalive_requests 1000000;
    upstream provider {{
        server 127.0.0.1:{upstream};
        keepalive 256;
        keepalive_requests 1000000;
    }}
    server {{
        listen 127.0.0.1:{port} reuseport;
        # WebSocket sessions (scenario 8): the upgrade passed on, and no
        # idle timeout within a run.
        location = /v1/realtime {{
            proxy_pass http://provider;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_buffering off;
            proxy_read_timeout 1h;
        }}
        location / {{
            proxy_pass http://provider;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_request_buffering off;
        }}
    }}
}}
"#
        );
        let path = dir.join("nginx.conf");
        std::fs::write(&path, config).ok()?;
        let child = Command::new(nginx)
            .arg("-c")
            .arg(&path)
            .arg("-p")
            .arg(dir)
            .stderr(Stdio::inherit())
            .spawn()
            .ok()?;
        wait_listening(port, "nginx");
        Some(Proc { child, port })
    }

    fn pids(&self) -> Vec<u32> {
        let root = self.child.id();
        let mut pids = vec![root];
        // nginx's workers are children of the master.
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for e in dir.flatten() {
                let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                    continue;
                };
                if stat_field(pid, 4) == Some(root as u64) {
                    pids.push(pid);
                }
            }
        }
        pids
    }

    /// User + system CPU seconds so far.
    pub fn cpu_seconds(&self) -> f64 {
        let ticks: u64 = self
            .pids()
            .iter()
            .map(|&p| stat_field(p, 14).unwrap_or(0) + stat_field(p, 15).unwrap_or(0))
            .sum();
        ticks as f64 / clock_ticks()
    }

    /// Resident memory now, in bytes, summed over the processes.
    pub fn rss(&self) -> u64 {
        self.pids()
            .iter()
            .map(|&p| status_kib(p, "VmRSS:") * 1024)
            .sum()
    }

    /// Descriptors open now, summed over the processes.
    pub fn open_files(&self) -> usize {
        self.pids()
            .iter()
            .filter_map(|p| std::fs::read_dir(format!("/proc/{p}/fd")).ok())
            .map(|d| d.count())
            .sum()
    }

    /// The soft limit on open files of each process (nginx sets its
    /// workers' own with `worker_rlimit_nofile`).
    pub fn nofile(&self) -> Vec<u64> {
        self.pids()
            .iter()
            .filter_map(|&p| nofile(p).map(|l| l.0))
            .collect()
    }
}

/// Soft and hard limit on open files of `pid`, from /proc/PID/limits.
fn nofile(pid: u32) -> Option<(u64, u64)> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let mut n = line["Max open files".len()..].split_whitespace();
    Some((n.next()?.parse().ok()?, n.next()?.parse().ok()?))
}

/// Raises this process's soft limit on open files to its hard limit
/// (`prlimit`, util-linux), so that it can hold tens of thousands of
/// client sockets; every process it starts afterwards inherits the limit.
/// Returns the soft limit now in force.
pub fn raise_nofile() -> u64 {
    let me = std::process::id();
    let (soft, hard) = nofile(me).unwrap_or((1024, 1024));
    if soft < hard {
        let raised = Command::new("prlimit")
            .arg(format!("--pid={me}"))
            .arg(format!("--nofile={hard}:{hard}"))
            .status()
            .is_ok_and(|s| s.success());
        if !raised {
            eprintln!("prlimit could not raise the open-files limit (util-linux missing?)");
        }
    }
    let now = nofile(me).map_or(soft, |l| l.0);
    eprintln!(
        "open files: soft limit {soft} → {now} (hard limit {hard}), inherited by every process the bench starts"
    );
    now
}

/// For the processes that are this binary (stand-in, bare Pingora): exit
/// when the bench goes away without stopping them (SIGKILL, abort), so no
/// listener outlives it.
pub fn exit_with_parent() {
    let parent = std::os::unix::process::parent_id();
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_millis(500));
        if std::os::unix::process::parent_id() != parent {
            std::process::exit(0);
        }
    });
}

/// Field `n` of /proc/PID/stat, numbered as in proc(5): 4 ppid, 14 utime, 15 stime.
fn stat_field(pid: u32, n: usize) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; field 3 starts after its `)`.
    let after = &s[s.rfind(')')? + 2..];
    after.split_whitespace().nth(n - 3)?.parse().ok()
}

fn status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

fn clock_ticks() -> f64 {
    // USER_HZ is 100 on every Linux this runs on; `getconf` confirms it.
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

pub fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_string_lossy()
        .split(':')
        .chain(["/usr/sbin", "/sbin"])
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}
