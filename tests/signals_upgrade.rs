//! Signals combined with a binary upgrade, under load, against the real
//! binary: one process ends up serving, none is left behind, no request
//! fails.

mod support;

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use support::lifecycle::*;
use support::*;

/// The systemd notification socket the processes report to.
struct Notify(UnixDatagram);

impl Notify {
    fn bind(dir: &TempDir) -> (Notify, String) {
        let path = dir.0.join("notify.sock");
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        (Notify(sock), path.to_str().unwrap().to_string())
    }

    /// The next message containing `want`.
    fn recv(&self, want: &str) -> String {
        let mut buf = [0u8; 512];
        loop {
            let n = self.0.recv(&mut buf).expect("a notification in time");
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            if msg.contains(want) {
                return msg;
            }
        }
    }
}

/// Sends `first` to a serving gateway, `second` after `gap`, while clients
/// run; then checks that the new process took over, the old one exited
/// cleanly, no request failed, and the new one stops on SIGTERM.
fn upgrade_with(first: &str, gap: Duration, second: &str) {
    let mocks = Mocks::start();
    let dir = TempDir::new();
    let (config, port) = fixed_config(&mocks, &dir);
    let (notify, notify_path) = Notify::bind(&dir);
    let mut old = Gateway::start_with(&config, &[], &[("NOTIFY_SOCKET", &notify_path)]);
    notify.recv("READY=1");
    let load = Load::start(&format!("http://127.0.0.1:{port}"), 3);
    std::thread::sleep(Duration::from_millis(300));

    let t = Instant::now();
    old.signal(first);
    std::thread::sleep(gap);
    old.signal(second);
    // A reload makes the old process say READY=1 with its own pid again.
    let new_pid = loop {
        let pid = main_pid(&notify.recv("MAINPID="));
        if pid != old.pid() {
            break pid;
        }
    };
    let _guard = KillPid(new_pid);
    let status = old
        .wait_exit(Duration::from_secs(20))
        .expect("the old process exits");
    let old_exit = t.elapsed();
    assert!(status.success(), "{status}");
    assert!(!gone(new_pid), "the new process serves");
    std::thread::sleep(Duration::from_millis(300));
    let total = load.finish();
    let (ready, _) = old.readyz();
    assert_eq!(ready, 200, "the new process answers on the admin port");

    let t = Instant::now();
    send_signal(new_pid, "TERM");
    assert!(
        wait_gone(new_pid, Duration::from_secs(5)),
        "the new process stops on SIGTERM"
    );
    let lines = old.stderr.lock().unwrap().clone();
    assert_quiet(&lines, 64 * 1024);
    println!(
        "SIG{first}, {gap:?}, SIG{second}: old exited after {old_exit:?}, new stopped in {:?}; \
         {total} requests, 0 failures; stderr {} bytes",
        t.elapsed(),
        bytes(&lines)
    );
}

#[test]
fn sigusr2_during_a_reload() {
    upgrade_with("HUP", Duration::ZERO, "USR2");
}

#[test]
fn sighup_during_an_upgrade() {
    upgrade_with("USR2", Duration::from_millis(100), "HUP");
}

#[test]
fn sigterm_during_an_upgrade() {
    upgrade_with("USR2", Duration::from_millis(100), "TERM");
}

/// The processes `pid` started (from any of its threads).
fn children(pid: u32) -> Vec<u32> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten();
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|c| {
            c.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// SIGINT while SIGUSR2 is starting the new process: the old one stops at
/// once and takes the half-started new one with it (or, if the hand-over
/// was already done, the new one serves). Either way nothing is left behind.
#[test]
fn sigint_during_an_upgrade_leaves_no_process_behind() {
    let mocks = Mocks::start();
    let dir = TempDir::new();
    let (config, _) = fixed_config(&mocks, &dir);
    let mut old = Gateway::start(&config);
    let hammer = Hammer::start(old.addr, 2, 20, 20);
    old.signal("USR2");
    let deadline = Instant::now() + Duration::from_secs(10);
    let child = loop {
        if let Some(&pid) = children(old.pid()).first() {
            break pid;
        }
        assert!(Instant::now() < deadline, "no new process started");
        std::thread::sleep(Duration::from_millis(2));
    };
    let _guard = KillPid(child);
    let (status, took) = signal_and_wait(&mut old, "INT", Duration::from_secs(3));
    drop(hammer);
    assert!(status.success(), "{status}");
    let outcome = if wait_gone(child, Duration::from_secs(1)) {
        "the new process went with the old one"
    } else {
        assert_eq!(old.readyz().0, 200, "a new process that stays serves");
        send_signal(child, "TERM");
        assert!(
            wait_gone(child, Duration::from_secs(5)),
            "and stops on SIGTERM"
        );
        "the hand-over was done; the new process served"
    };
    assert_quiet(&old.stderr.lock().unwrap(), 64 * 1024);
    println!("SIGUSR2 then SIGINT: exit after {took:?}; {outcome}");
}
