//! One JSON object per request, written by a background thread so a slow
//! disk or a blocked stdout never stalls a request. A file target is
//! reopened on request (SIGUSR1), which is how logrotate hands it over.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use super::metrics::metrics;

/// Lines queued for the writer; past this, lines are dropped and counted
/// rather than making requests wait.
const QUEUE: usize = 16 * 1024;
/// How long lines gather before the writer takes them: the most a line waits.
const BATCH_WAIT: std::time::Duration = std::time::Duration::from_millis(20);

enum Msg {
    Line(String),
    /// Look at the reopen flag now.
    Wake,
    /// Everything before this is written; say so.
    Flush(SyncSender<()>),
}

/// Where the access log goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AccessLogTarget {
    Off,
    Stdout,
    /// Appended to; reopened on request.
    File(PathBuf),
}

/// What the writer thread takes over when it starts.
type Pending = (Receiver<Msg>, Box<dyn Write + Send>);

pub(crate) struct AccessLog {
    tx: Option<SyncSender<Msg>>,
    /// Handed to the writer thread when it starts.
    pending: Mutex<Option<Pending>>,
    path: Option<PathBuf>,
    reopen: Arc<AtomicBool>,
}

fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl AccessLog {
    /// A file is opened now so a bad path fails at start-up. Lines are
    /// queued until [`AccessLog::start_writer`].
    pub(crate) fn new(target: AccessLogTarget) -> io::Result<AccessLog> {
        let (out, path): (Box<dyn Write + Send>, _) = match target {
            AccessLogTarget::Off => return Ok(AccessLog::off()),
            AccessLogTarget::Stdout => (Box::new(io::stdout()), None),
            AccessLogTarget::File(path) => (Box::new(open(&path)?), Some(path)),
        };
        let (tx, rx) = sync_channel(QUEUE);
        Ok(AccessLog {
            tx: Some(tx),
            pending: Mutex::new(Some((rx, out))),
            path,
            reopen: Arc::new(AtomicBool::new(false)),
        })
    }

    pub(crate) fn off() -> AccessLog {
        AccessLog {
            tx: None,
            pending: Mutex::new(None),
            path: None,
            reopen: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Starts the writer thread (once; later calls do nothing). Called from
    /// a service, after Pingora has daemonised, so the thread survives the fork.
    pub(crate) fn start_writer(&self) -> io::Result<()> {
        let Some((rx, out)) = self.pending.lock().ok().and_then(|mut p| p.take()) else {
            return Ok(());
        };
        let path = self.path.clone();
        let reopen = self.reopen.clone();
        std::thread::Builder::new()
            .name("strait-access-log".into())
            .spawn(move || write_lines(rx, out, path, reopen))?;
        Ok(())
    }

    /// Asks the writer to reopen the file (after logrotate moved it).
    pub(crate) fn reopen(&self) {
        if self.path.is_none() {
            return;
        }
        self.reopen.store(true, Ordering::Release);
        if let Some(tx) = &self.tx {
            // A full queue means the writer is busy and will see the flag anyway.
            let _ = tx.try_send(Msg::Wake);
        }
    }

    /// Waits (up to `timeout`) until every line queued so far is written,
    /// before the process exits.
    pub(crate) fn flush(&self, timeout: std::time::Duration) {
        let Some(tx) = &self.tx else { return };
        let (done_tx, done_rx) = sync_channel(1);
        if tx.send(Msg::Flush(done_tx)).is_ok() {
            let _ = done_rx.recv_timeout(timeout);
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.tx.is_some()
    }

    pub(crate) fn write(&self, line: String) {
        let Some(tx) = &self.tx else { return };
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            tx.try_send(Msg::Line(line))
        {
            metrics().access_log_dropped.inc();
        }
    }
}

fn write_lines(
    rx: Receiver<Msg>,
    out: Box<dyn Write + Send>,
    path: Option<PathBuf>,
    reopen: Arc<AtomicBool>,
) {
    let mut out = BufWriter::new(out);
    while let Ok(msg) = rx.recv() {
        let mut next = Some(msg);
        let mut flushed = Vec::new();
        // Batch whatever is already queued, then flush once.
        while let Some(msg) = next {
            match msg {
                Msg::Line(line) => {
                    let _ = writeln!(out, "{line}");
                }
                Msg::Wake => {}
                Msg::Flush(done) => flushed.push(done),
            }
            next = rx.try_recv().ok();
        }
        let _ = out.flush();
        for done in flushed {
            let _ = done.send(());
        }
        if let Some(path) = path.as_deref() {
            if reopen.swap(false, Ordering::AcqRel) {
                match open(path) {
                    Ok(f) => {
                        out = BufWriter::new(Box::new(f));
                        log::info!("access log reopened: {}", path.display());
                    }
                    // Keep writing to the old file rather than losing lines.
                    Err(e) => log::error!("cannot reopen access log {}: {e}", path.display()),
                }
            }
        }
        // Lines keep queueing meanwhile. A writer blocked in `recv` would be
        // woken by every line, a context switch per request; sleeping here
        // instead makes it one wake-up per batch.
        std::thread::sleep(BATCH_WAIT);
    }
}
