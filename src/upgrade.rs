//! SIGUSR2: starting the next process, from the binary path (so a freshly
//! installed binary), and waiting until it asks for the listening sockets.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant, SystemTime};

/// How long a self-started upgrade process may take to ask for the sockets.
const UPGRADE_START: Duration = Duration::from_secs(15);

/// How to start the next process for SIGUSR2.
pub(crate) struct UpgradeCommand {
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<String>,
    pub(crate) upgrade_sock: PathBuf,
    pub(crate) config: PathBuf,
}

impl UpgradeCommand {
    /// Starts the new process and waits until it waits for the sockets.
    /// Returns false (and the old process keeps serving) when the config
    /// does not load or the new process does not get that far.
    pub(crate) async fn start(&self) -> bool {
        log::info!("SIGUSR2: starting {} to take over", self.program.display());
        if let Err(errors) = crate::config::load(&self.config, crate::config::Mode::Run) {
            for e in errors {
                log::error!("upgrade refused, the config does not load: {e}");
            }
            return false;
        }
        let before = self.socket();
        let child = Command::new(&self.program).args(&self.args).spawn();
        let mut child = match child {
            Ok(c) => Starting(Some(c)),
            Err(e) => {
                log::error!(
                    "upgrade refused: cannot start {}: {e}",
                    self.program.display()
                );
                return false;
            }
        };
        let deadline = Instant::now() + UPGRADE_START;
        while Instant::now() < deadline {
            if let Some(Ok(Some(status))) = child.0.as_mut().map(Child::try_wait) {
                log::error!("upgrade refused: the new process exited with {status}");
                return false;
            }
            if self.socket().is_some_and(|now| Some(now) != before) {
                if let Some(child) = child.0.take() {
                    reap_later(child);
                }
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        log::error!("upgrade refused: the new process did not ask for the sockets in time");
        false
    }

    /// Which upgrade socket is there, if any: the new process unlinks an
    /// old one and binds its own, so a change of this says it waits for
    /// the sockets. Not by comparing its time with the clock: a file's
    /// times come from the kernel's coarse clock, which can lag a clock
    /// read just before the new process started (an upgrade was once
    /// refused that way while the new process waited).
    fn socket(&self) -> Option<(u64, u64, SystemTime)> {
        let m = std::fs::metadata(&self.upgrade_sock).ok()?;
        Some((m.dev(), m.ino(), m.modified().ok()?))
    }
}

/// The new process until it asks for the sockets. An upgrade given up on
/// (a timeout, or a SIGINT while it starts, which drops [`UpgradeCommand::start`])
/// kills and reaps it here, so it is never left behind waiting for sockets.
struct Starting(Option<Child>);

impl Drop for Starting {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The new process outlives this one; a thread waits on it so it never
/// lingers as a zombie while this one drains.
fn reap_later(mut child: Child) {
    let _ = std::thread::Builder::new()
        .name("strait-upgrade-child".into())
        .spawn(move || {
            let _ = child.wait();
        });
}
