//! The layering of `src/`: every `crate::` path a module names must be of
//! its own layer or a lower one. The layers are the table in `src/lib.rs`'s
//! "Architecture" docs, so the docs and the check cannot drift apart.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Module name → layer number, read from the `//! | N name | a, b |` rows.
fn layers(lib: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for line in lib.lines() {
        let Some(row) = line.strip_prefix("//! | ") else {
            continue;
        };
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let Some(layer) = cells
            .first()
            .and_then(|c| c.split_whitespace().next())
            .and_then(|n| n.parse::<usize>().ok())
        else {
            continue;
        };
        for module in cells[1].split(',').map(str::trim) {
            assert!(
                out.insert(module.to_string(), layer).is_none(),
                "{module} is in two layers"
            );
        }
    }
    out
}

/// The top-level module a source file belongs to.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next().unwrap().as_os_str();
    first.to_string_lossy().trim_end_matches(".rs").to_string()
}

/// Every top-level module named by a `crate::` path in `text`, including
/// each name of a `crate::{a, b::c}` group.
fn named_modules(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices("crate::") {
        // `strait_crate::` and the like are not paths into this crate.
        let before = text[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &text[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.push(first_segment(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 || c != '{' {
                    item.push(c);
                }
            }
            if !item.trim().is_empty() {
                out.push(first_segment(&item));
            }
        } else {
            out.push(first_segment(rest));
        }
    }
    out.retain(|m| !m.is_empty() && m != "self");
    out
}

fn first_segment(path: &str) -> String {
    path.trim()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_module_names_a_layer_above_its_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = fs::read_to_string(src.join("lib.rs")).unwrap();
    let layers = layers(&lib);
    assert!(
        layers.len() > 20,
        "the layer table in src/lib.rs was not found"
    );

    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    for file in &files {
        let module = module_of(&src, file);
        if module == "lib" || module == "main" {
            continue;
        }
        let Some(&own) = layers.get(&module) else {
            violations.push(format!(
                "{}: module {module} is in no layer",
                file.display()
            ));
            continue;
        };
        let text = fs::read_to_string(file).unwrap();
        for named in named_modules(&text) {
            match layers.get(&named) {
                Some(&layer) if layer > own => violations.push(format!(
                    "{}: {module} (layer {own}) names {named} (layer {layer})",
                    file.display()
                )),
                Some(_) => {}
                None => violations.push(format!(
                    "{}: names crate::{named}, which is in no layer",
                    file.display()
                )),
            }
        }
    }
    // Every module declared in lib.rs has a layer.
    for line in lib.lines() {
        if let Some(m) = line.strip_prefix("mod ").and_then(|m| m.strip_suffix(';')) {
            if !layers.contains_key(m) {
                violations.push(format!("src/lib.rs: module {m} is in no layer"));
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn the_parser_sees_grouped_and_nested_paths() {
    let text = "use crate::{admission, failover::x, forward::{a, b}};\nfn f() { crate::relay::g(); }\n// strait_crate::no\nuse crate::keys::{self, Keys};";
    assert_eq!(
        named_modules(text),
        ["admission", "failover", "forward", "relay", "keys"]
    );
}
