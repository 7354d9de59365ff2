//! Arbitrary UTF-8 as the YAML config: `strait::config::load_str` must
//! return (Ok or diagnostics), never panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use strait::facade::load_str;
use strait::Mode;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The config may name files (ca_cert_pem, auth_credentials, tls_listen);
    // relative ones resolve under /nonexistent and fail, but an absolute
    // /dev/zero or /dev/stdin would block or eat memory: not a finding.
    if ["/dev/", "/proc/", "/sys/"]
        .iter()
        .any(|p| text.contains(p))
    {
        return;
    }
    for mode in [Mode::Run, Mode::Check] {
        match load_str(text, "fuzz.yaml", Path::new("/nonexistent"), mode, &|_| {
            Some("x".into())
        }) {
            Ok(loaded) => {
                for w in &loaded.warnings {
                    let _ = w.to_string();
                }
            }
            Err(diags) => {
                assert!(!diags.is_empty(), "Err with no diagnostic");
                for d in &diags {
                    let _ = d.to_string();
                }
            }
        }
    }
});
