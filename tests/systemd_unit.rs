//! `systemd/strait.service` passes `systemd-analyze verify` with no warning
//! (an unknown or misspelled key is only a warning there). The unit names
//! /usr/bin/strait; the check runs on a copy pointing at the built binary.
//! `.ci/run` installs systemd, so a missing `systemd-analyze` fails the test.

mod support;

use std::process::Command;

#[test]
fn the_systemd_unit_verifies_cleanly() {
    let root = env!("CARGO_MANIFEST_DIR");
    let unit = std::fs::read_to_string(format!("{root}/systemd/strait.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/bin/strait -c /etc/strait/strait.yaml"));
    let dir = support::TempDir::new();
    let copy = dir.write(
        "strait.service",
        &unit.replace("/usr/bin/strait", support::strait_bin()),
    );
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .expect("systemd-analyze is installed (apt-get install systemd)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "{stderr}");
}
