//! Config reload without downtime: SIGHUP (or a change to the file, when
//! `reload.watch` is on) re-reads and fully validates the YAML, builds a new
//! snapshot and swaps it in. Requests in flight keep the snapshot they
//! started with; a broken file changes nothing.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;

use crate::config::{self, Diagnostic, Loaded, Mode, Settings};
use crate::lifecycle::{ConfigState, Lifecycle, ReloadError};
use crate::observe::metrics::metrics;
use crate::snapshot::Snapshot;

/// Longest wait for the first token of a credential new in a reload.
const NEW_TOKEN_WAIT: Duration = Duration::from_secs(10);

pub(crate) struct Reloader {
    path: PathBuf,
    snapshot: Arc<ArcSwap<Snapshot>>,
    lifecycle: Arc<Lifecycle>,
    /// What the process started with: the part a reload cannot change.
    started: Vec<(&'static str, String)>,
    watch: AtomicBool,
    debounce_ms: AtomicU64,
    /// File identity last seen by the watcher, and since when it is unsettled.
    seen: Mutex<(Option<FileStamp>, Option<Instant>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

fn stamp(path: &Path) -> Option<FileStamp> {
    use std::os::unix::fs::MetadataExt;
    // Follows symlinks: a Kubernetes ConfigMap swaps a link, not the file.
    let m = std::fs::metadata(path).ok()?;
    Some(FileStamp {
        modified: m.modified().ok(),
        len: m.len(),
        inode: m.ino(),
    })
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads the file once, so the hash and the config are of the same bytes.
fn read_and_load(path: &Path) -> (String, Result<Loaded, Vec<Diagnostic>>) {
    match config::read(path) {
        Ok(text) => (
            sha256_hex(text.as_bytes()),
            config::load_file(path, &text, Mode::Run),
        ),
        Err(e) => (String::new(), Err(e)),
    }
}

impl Reloader {
    pub(crate) fn new(
        path: PathBuf,
        snapshot: Arc<ArcSwap<Snapshot>>,
        lifecycle: Arc<Lifecycle>,
        settings: &Settings,
    ) -> Reloader {
        let sha = std::fs::read(&path)
            .map(|b| sha256_hex(&b))
            .unwrap_or_default();
        lifecycle.set_config(ConfigState {
            path: path.display().to_string(),
            sha256: sha,
            loaded_at: crate::observe::now_rfc3339(),
            reloads: 0,
            last_error: None,
            ..ConfigState::default()
        });
        Reloader {
            seen: Mutex::new((stamp(&path), None)),
            path,
            snapshot,
            lifecycle,
            started: settings.restart_only(),
            watch: AtomicBool::new(settings.watch),
            debounce_ms: AtomicU64::new(settings.debounce.as_millis() as u64),
        }
    }

    /// Reloads now. Returns whether the new config is in use.
    pub(crate) async fn reload(&self, why: &str) -> bool {
        log::info!("reloading {} ({why})", self.path.display());
        let path = self.path.clone();
        let (sha, loaded) = match tokio::task::spawn_blocking(move || read_and_load(&path)).await {
            Ok(r) => r,
            Err(e) => (
                String::new(),
                Err(vec![Diagnostic::whole_file(&self.path, e.to_string())]),
            ),
        };
        match loaded {
            Ok(loaded) => {
                self.apply(loaded, sha).await;
                true
            }
            Err(errors) => {
                for e in &errors {
                    log::error!("config reload rejected, the running config stays: {e}");
                }
                metrics().reloads.with_label_values(&["error"]).inc();
                let mut state = (*self.lifecycle.config()).clone();
                state.last_error = Some(ReloadError {
                    at: crate::observe::now_rfc3339(),
                    sha256: sha,
                    errors: errors.iter().map(ToString::to_string).collect(),
                });
                self.lifecycle.set_config(state);
                false
            }
        }
    }

    async fn apply(&self, loaded: Loaded, sha: String) {
        let Loaded {
            snapshot,
            settings,
            warnings,
        } = loaded;
        for w in &warnings {
            if w.unset_env.is_some() {
                log::warn!(
                    "{w} (the environment is read when strait starts: a new variable \
                     needs a restart or a binary upgrade)"
                );
            } else {
                log::warn!("{w}");
            }
        }
        for ((name, old), (_, new)) in self.started.iter().zip(settings.restart_only()) {
            if *old != new {
                log::warn!(
                    "`{name}` changed in the file but applies only on restart or binary \
                     upgrade (strait -u); still using {old}"
                );
            }
        }
        let mut snapshot = snapshot;
        snapshot.adopt_telemetry(&self.snapshot.load());
        let snapshot = Arc::new(snapshot);
        snapshot.adopt_from(&self.snapshot.load());
        // New hosts are looked up and new credentials minted before the swap,
        // so the first requests on the new config do not wait or fail.
        let fresh = snapshot.clone();
        let _ = tokio::task::spawn_blocking(move || crate::resolver::resolve_all(&fresh)).await;
        let pending: Vec<_> = snapshot
            .token_sources()
            .into_iter()
            .filter(|t| t.pending())
            .collect();
        let mint = futures::future::join_all(pending.iter().map(|t| t.refresh()));
        if tokio::time::timeout(NEW_TOKEN_WAIT, mint).await.is_err() {
            log::warn!("new credentials are still minting; requests using them wait for it");
        }
        if let Some(tracer) = &snapshot.telemetry {
            tracer.start();
        }
        self.snapshot.store(snapshot);

        metrics().set_model_label_limit(settings.max_model_labels);
        self.watch.store(settings.watch, Ordering::Relaxed);
        self.debounce_ms
            .store(settings.debounce.as_millis() as u64, Ordering::Relaxed);
        metrics().reloads.with_label_values(&["success"]).inc();
        let previous = self.lifecycle.config();
        self.lifecycle.set_config(ConfigState {
            path: previous.path.clone(),
            sha256: sha.clone(),
            loaded_at: crate::observe::now_rfc3339(),
            reloads: previous.reloads + 1,
            last_error: None,
            ..(*previous).clone()
        });
        log::info!("config reloaded: sha256 {}", &sha[..12.min(sha.len())]);
    }

    /// One look at the file for the watcher: reloads once the file changed
    /// and then stayed the same for the debounce time (an editor's write
    /// and rename are one change), and only if its content differs.
    pub(crate) async fn poll(&self) {
        if !self.watch.load(Ordering::Relaxed) {
            return;
        }
        let debounce = Duration::from_millis(self.debounce_ms.load(Ordering::Relaxed));
        let now = Instant::now();
        let current = stamp(&self.path);
        let due = {
            let Ok(mut seen) = self.seen.lock() else {
                return;
            };
            if current != seen.0 {
                *seen = (current, Some(now));
                false
            } else if seen
                .1
                .is_some_and(|since| now.duration_since(since) >= debounce)
            {
                seen.1 = None;
                true
            } else {
                false
            }
        };
        if !due {
            return;
        }
        let path = self.path.clone();
        let sha =
            tokio::task::spawn_blocking(move || std::fs::read(path).map(|b| sha256_hex(&b))).await;
        if let Ok(Ok(sha)) = sha {
            if sha != self.lifecycle.config().sha256 {
                self.reload("the file changed").await;
            }
        }
    }
}
