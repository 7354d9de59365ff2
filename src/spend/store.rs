//! The store a process counts in, chosen by `state.backend`: one type for
//! the request path, whichever backend is behind it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};

use crate::errors::GatewayError;

use super::memory::Memory;
use super::redis::{Redis, RedisConfig};
use super::window::Now;
use super::{file, KeyLimits, KeySpend};

pub(crate) enum Store {
    Memory(Local),
    Redis(Arc<Redis>),
}

pub(crate) struct Local {
    counters: Memory,
    file: Option<PathBuf>,
    /// The file is read on first use, not at start: a new process of a
    /// binary upgrade starts before the old one hands over, and only the
    /// hand-over has the old one's last counts in the file.
    loaded: Once,
    /// Handed over: the file belongs to the new process now.
    frozen: AtomicBool,
}

impl Local {
    fn counters(&self) -> &Memory {
        self.loaded.call_once(|| {
            if let Some(path) = &self.file {
                load_into(&self.counters, path);
            }
        });
        &self.counters
    }
}

/// What `path` holds, if it can be read. An unreadable file is a warning
/// and a fresh start: losing counters must not keep the gateway from serving.
fn load_into(counters: &Memory, path: &std::path::Path) {
    match file::load(path) {
        Ok(Some(saved)) => {
            log::info!(
                "spend counters of {} keys read from {}",
                saved.len(),
                path.display()
            );
            counters.restore(saved);
        }
        Ok(None) => log::info!(
            "{} does not exist yet: spend counters start at zero",
            path.display()
        ),
        Err(e) => log::warn!(
            "cannot use the state file {}: {e}; spend counters start at zero",
            path.display()
        ),
    }
}

impl Store {
    /// The in-process store; with `file`, saved there and read back.
    pub(crate) fn memory(file: Option<PathBuf>) -> Store {
        Store::Memory(Local {
            counters: Memory::default(),
            file,
            loaded: Once::new(),
            frozen: AtomicBool::new(false),
        })
    }

    pub(crate) fn redis(config: RedisConfig) -> Result<Store, String> {
        Redis::new(config).map(Store::Redis)
    }

    pub(crate) fn backend(&self) -> &'static str {
        match self {
            Store::Memory(_) => "memory",
            Store::Redis(_) => "redis",
        }
    }

    /// Whether requests are admitted while the store does not answer.
    pub(crate) fn admits_when_down(&self) -> bool {
        match self {
            Store::Memory(_) => true,
            Store::Redis(r) => r.admits_when_down(),
        }
    }

    /// Whether the store answers: always for memory.
    pub(crate) fn is_up(&self) -> bool {
        match self {
            Store::Memory(_) => true,
            Store::Redis(r) => r.is_up(),
        }
    }

    /// Counts a request of `key` and judges it against its limits.
    pub(crate) async fn admit(&self, key: &str, limits: &KeyLimits) -> Result<(), GatewayError> {
        let now = Now::system();
        match self {
            Store::Memory(local) => local.counters().admit(key, limits, now),
            Store::Redis(r) => r.admit(key, limits, now).await,
        }
    }

    /// Adds a finished call's tokens and cost (nano-dollars) to `key`.
    pub(crate) fn charge(&self, key: &str, limits: &KeyLimits, tokens: u64, nano_usd: u64) {
        let now = Now::system();
        match self {
            Store::Memory(local) => local.counters().charge(key, limits, tokens, nano_usd, now),
            Store::Redis(r) => r.charge(key, limits, tokens, nano_usd, now),
        }
    }

    pub(crate) async fn report(
        &self,
        keys: &[(&str, &KeyLimits)],
    ) -> Result<Vec<KeySpend>, GatewayError> {
        let now = Now::system();
        match self {
            Store::Memory(local) => Ok(keys
                .iter()
                .map(|(key, limits)| local.counters().report(key, limits, now))
                .collect()),
            Store::Redis(r) => r.report(keys, now).await,
        }
    }

    /// Writes the state file if anything changed since the last write
    /// (memory backend with `state.file`; otherwise nothing to do).
    pub(crate) fn save(&self) {
        let Store::Memory(local) = self else { return };
        let Some(path) = &local.file else { return };
        if local.frozen.load(Ordering::Acquire) || !local.loaded.is_completed() {
            // Not read yet means not changed either; writing would replace
            // the file with nothing.
            return;
        }
        if let Some(all) = local.counters.take_dirty() {
            if let Err(e) = file::save(path, &all) {
                log::warn!("cannot write the state file {}: {e}", path.display());
            }
        }
    }

    /// A binary upgrade: saves now, for the new process, and never again
    /// (what this process still charges while it drains is not saved: the
    /// new one owns the file).
    pub(crate) fn hand_over(&self) {
        self.save();
        if let Store::Memory(local) = self {
            local.frozen.store(true, Ordering::Release);
        }
    }
}
