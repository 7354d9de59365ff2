//! The checker every section is validated through: it collects each
//! problem with its location instead of stopping at the first, so one run of
//! `strait check` lists them all.

use std::path::{Path, PathBuf};

use serde_saphyr::Spanned;

use super::{Diagnostic, Mode};

pub(crate) struct Context<'a> {
    pub(crate) file: &'a str,
    /// Relative paths in the file are relative to the file, not to the
    /// working directory, which a daemon changes.
    pub(crate) base_dir: PathBuf,
    pub(crate) mode: Mode,
    pub(crate) env: &'a dyn Fn(&str) -> Option<String>,
}

pub(crate) struct Checker<'a, 'c> {
    ctx: &'a Context<'c>,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

/// A value written literally or as `env.NAME`.
pub(crate) enum Lookup {
    Value(String),
    /// The `env.` variable named is unset: the thing it belongs to is
    /// disabled rather than refused, so a fresh machine starts.
    Unset(String),
}

impl<'a, 'c> Checker<'a, 'c> {
    pub(crate) fn new(ctx: &'a Context<'c>) -> Self {
        Checker {
            ctx,
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    pub(crate) fn base_dir(&self) -> &Path {
        &self.ctx.base_dir
    }

    fn diag<T>(&self, at: &Spanned<T>, message: String) -> Diagnostic {
        Diagnostic {
            file: self.ctx.file.to_string(),
            line: at.referenced.line(),
            column: at.referenced.column(),
            message,
            unset_env: None,
        }
    }

    pub(crate) fn error<T>(&mut self, at: &Spanned<T>, message: impl Into<String>) {
        let d = self.diag(at, message.into());
        self.errors.push(d);
    }

    pub(crate) fn warn<T>(&mut self, at: &Spanned<T>, message: impl Into<String>) {
        let d = self.diag(at, message.into());
        self.warnings.push(d);
    }

    /// A count or a number of seconds, which must be at least 1.
    pub(crate) fn at_least_one(&mut self, field: &Option<Spanned<u64>>, what: &str) -> Option<u64> {
        let v = field.as_ref()?;
        if v.value == 0 {
            self.error(v, format!("{what} must be at least 1"));
            return None;
        }
        Some(v.value)
    }

    /// Resolves a secret written either literally or as `env.NAME`.
    pub(crate) fn secret(&mut self, value: &Spanned<String>, what: &str) -> Option<Lookup> {
        let v = value.value.trim();
        let Some(name) = v.strip_prefix("env.") else {
            if v.is_empty() {
                self.error(value, format!("{what} is empty"));
                return None;
            }
            return Some(Lookup::Value(v.to_string()));
        };
        match (self.ctx.env)(name) {
            Some(s) if !s.trim().is_empty() => Some(Lookup::Value(s.trim().to_string())),
            _ => {
                let msg = format!("{what}: environment variable {name} is not set");
                let msg = match self.ctx.mode {
                    Mode::Check => msg,
                    Mode::Run => format!("{msg}; it is disabled"),
                };
                let mut d = self.diag(value, msg);
                d.unset_env = Some(name.to_string());
                match self.ctx.mode {
                    Mode::Check => self.errors.push(d),
                    Mode::Run => self.warnings.push(d),
                }
                Some(Lookup::Unset(name.to_string()))
            }
        }
    }

    /// A Bifrost field strait accepts so a pasted block loads, but says so:
    /// silently ignoring a setting would look like it took effect.
    pub(crate) fn ignored<T>(&mut self, field: &Option<Spanned<T>>, name: &str) {
        if let Some(f) = field {
            self.warn(
                f,
                format!(
                    "`{name}` is accepted for Bifrost compatibility; strait does not act on it"
                ),
            );
        }
    }

    /// Sorted by position, as a reader goes through the file; `Err` when
    /// anything is an error.
    pub(crate) fn finish(mut self) -> Result<Vec<Diagnostic>, Vec<Diagnostic>> {
        self.errors.sort_by_key(|d| (d.line, d.column));
        self.warnings.sort_by_key(|d| (d.line, d.column));
        if self.errors.is_empty() {
            Ok(self.warnings)
        } else {
            Err(self.errors)
        }
    }
}
