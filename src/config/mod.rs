//! Loading the YAML config: parse, resolve `env.` references, validate, and
//! build the immutable [`Snapshot`] plus the process-level [`Settings`].

mod checker;
mod defaults;
mod keys;
mod limits;
mod pricing;
mod providers;
pub(crate) mod schema;
mod settings;
mod state;
mod telemetry;
#[cfg(test)]
mod tests;
mod virtual_keys;

use std::fmt;
use std::path::{Path, PathBuf};

pub(crate) use defaults::STATE_SAVE_INTERVAL;
pub(crate) use settings::Settings;
#[cfg(test)]
use settings::{ServerSettings, TlsListen};
pub(crate) use state::{redacted, StateSettings};

use crate::snapshot::Snapshot;
use checker::{Checker, Context};

/// One problem found in the config, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub(crate) file: String,
    /// 1-based; 0 when the problem concerns the file as a whole.
    pub(crate) line: u64,
    pub(crate) column: u64,
    pub(crate) message: String,
    /// The `env.` variable this is about, when it is one that is unset: a
    /// reload cannot see a variable set after the process started.
    pub(crate) unset_env: Option<String>,
}

impl Diagnostic {
    /// A problem with the file as a whole (no line to point at).
    pub(crate) fn whole_file(path: &Path, message: impl Into<String>) -> Self {
        Diagnostic {
            file: path.display().to_string(),
            line: 0,
            column: 0,
            message: message.into(),
            unset_env: None,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        }
    }
}

/// What an unset `env.` variable means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Serving: the key is disabled with a warning, so a fresh machine starts.
    Run,
    /// `strait check`: every unset variable is an error.
    Check,
}

pub struct Loaded {
    pub snapshot: Snapshot,
    pub(crate) settings: Settings,
    pub warnings: Vec<Diagnostic>,
}

/// Reads and validates the file at `path` against the process environment.
pub fn load(path: &Path, mode: Mode) -> Result<Loaded, Vec<Diagnostic>> {
    let text = read(path)?;
    load_file(path, &text, mode)
}

/// The text of the config file, or why it cannot be read.
pub(crate) fn read(path: &Path) -> Result<String, Vec<Diagnostic>> {
    std::fs::read_to_string(path).map_err(|e| {
        vec![Diagnostic::whole_file(
            path,
            format!("cannot read config: {e}"),
        )]
    })
}

/// Validates `text`, read from `path`, against the process environment;
/// relative paths in it are relative to the file.
pub(crate) fn load_file(path: &Path, text: &str, mode: Mode) -> Result<Loaded, Vec<Diagnostic>> {
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    load_str(
        text,
        &path.display().to_string(),
        &base_dir,
        mode,
        &|name| std::env::var(name).ok(),
    )
}

/// Validates config text; `env` looks up `env.NAME` references and
/// `base_dir` anchors relative file paths in the config.
pub fn load_str(
    text: &str,
    file: &str,
    base_dir: &Path,
    mode: Mode,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Loaded, Vec<Diagnostic>> {
    let raw: schema::RawConfig = serde_saphyr::from_str(text).map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        vec![Diagnostic {
            file: file.to_string(),
            line,
            column,
            message: first_line(&e.to_string()),
            unset_env: None,
        }]
    })?;
    build(
        raw,
        &Context {
            file,
            base_dir: PathBuf::from(base_dir),
            mode,
            env,
        },
    )
}

/// Every section is checked even after an error, so that one run reports
/// all of them.
fn build(raw: schema::RawConfig, ctx: &Context<'_>) -> Result<Loaded, Vec<Diagnostic>> {
    let mut c = Checker::new(ctx);
    let virtual_keys = virtual_keys::virtual_keys(&mut c, &raw);
    let settings = settings::settings(&mut c, &raw, virtual_keys.is_open());
    let limits = limits::limits(&mut c, &raw.limits);
    let providers = providers::providers(&mut c, &raw);
    let prices = pricing::pricing(&mut c, &raw.pricing);
    let tracer = telemetry::telemetry(&mut c, &raw.telemetry);
    let warnings = c.finish()?;
    Ok(Loaded {
        snapshot: Snapshot::new(virtual_keys, providers, limits)
            .with_prices(prices)
            .with_telemetry(tracer),
        settings,
        warnings,
    })
}

/// serde-saphyr renders "error: line L column C: message" and a source
/// snippet; the diagnostic carries the location itself, so only the message
/// is kept.
fn first_line(rendered: &str) -> String {
    let line = rendered.lines().next().unwrap_or_default().trim();
    let line = line.strip_prefix("error: ").unwrap_or(line);
    match line.strip_prefix("line ").and_then(|l| l.split_once(": ")) {
        Some((_, message)) => message.to_string(),
        None => line.to_string(),
    }
}
