//! The loader as a table: each row a config and one diagnostic it must
//! produce, by message and position. Between them the rows hit every message
//! the config code can give, so a change to one shows up here. The
//! environment is a fake, so no row depends on the machine.

mod keys;
mod pricing;
mod providers;
mod settings;
mod spend;
mod telemetry;
mod valid;
mod virtual_keys;

use std::path::Path;

use super::{load_str, Diagnostic, Loaded, Mode};

/// What a row expects of its config.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// Refused when serving.
    Error,
    /// Loaded when serving, with this warning.
    Warning,
    /// Loaded when serving, refused by `strait check`.
    CheckError,
}
use Kind::*;

/// `(kind, yaml, message substring, line, column)`; line 0 where the
/// diagnostic points at no place in the file.
type Row = (Kind, String, &'static str, u64, u64);

/// Env of the rows: `SET` is set, anything else is not.
fn env(name: &str) -> Option<String> {
    (name == "SET").then(|| "from-env".to_string())
}

/// Where relative paths of the rows lead: nowhere that exists.
const NOWHERE: &str = "/nonexistent-strait-test";

fn load(yaml: &str, mode: Mode) -> Result<Loaded, Vec<Diagnostic>> {
    load_in(yaml, mode, Path::new(NOWHERE))
}

fn load_in(yaml: &str, mode: Mode, base_dir: &Path) -> Result<Loaded, Vec<Diagnostic>> {
    load_str(yaml, "t.yaml", base_dir, mode, &env)
}

/// Runs every row; all failures are listed together.
fn check(rows: Vec<Row>) {
    check_in(rows, Path::new(NOWHERE))
}

fn check_in(rows: Vec<Row>, base_dir: &Path) {
    let mut failures = Vec::new();
    for (kind, yaml, message, line, column) in &rows {
        let got = match (kind, load_in(yaml, Mode::Run, base_dir)) {
            (Error, Err(errors)) => Ok(errors),
            (Warning, Ok(loaded)) => Ok(loaded.warnings),
            (CheckError, Ok(_)) => match load_in(yaml, Mode::Check, base_dir) {
                Err(errors) => Ok(errors),
                Ok(_) => Err("loaded by `strait check`".to_string()),
            },
            (_, Err(errors)) => Err(format!("refused: {errors:?}")),
            (_, Ok(loaded)) => Err(format!("loaded, warnings {:?}", loaded.warnings)),
        };
        let found = got.and_then(|diags| {
            diags
                .iter()
                .find(|d| d.message.contains(message))
                .cloned()
                .ok_or(format!("no such message in {diags:?}"))
        });
        match found {
            Ok(d) if (d.line, d.column) == (*line, *column) => {}
            Ok(d) => failures.push(format!(
                "{kind:?} {message:?}: at {}:{}, expected {line}:{column}: {}\n{yaml}",
                d.line, d.column, d.message
            )),
            Err(why) => failures.push(format!("{kind:?} {message:?}: {why}\n{yaml}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n\n")
    );
}

/// A row; `yaml` may be a `&str` or a `String` made for the row.
fn row(kind: Kind, yaml: impl Into<String>, message: &'static str, line: u64, col: u64) -> Row {
    (kind, yaml.into(), message, line, col)
}
