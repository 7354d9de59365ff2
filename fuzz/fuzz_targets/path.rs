//! Request path + query: route matching, path validation, query filtering.
//!
//! Besides "no panic", checks what `strait::route::validate_path` promises,
//! re-implemented here independently of the validator: when it accepts a
//! path, then the raw path and every percent-decoded form of it (the
//! validator decodes up to 3 rounds and refuses anything still encoded
//! after that, so these are *all* the forms any number of decodes can
//! produce) starts with a single '/', has no control character, no
//! backslash, no "://", no '@' in the first segment, and no "." or ".."
//! segment (also not as "..;param"); and every form that still contains a
//! '%' has only well-formed escapes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use percent_encoding::percent_decode;
use strait::facade::{filter_query, match_route, query_value, validate_path};

/// The validator's decode depth (src/route.rs DECODE_ROUNDS).
const ROUNDS: usize = 3;

fn assert_clean(form: &[u8], original: &str, round: usize) {
    let ctx = || format!("accepted {original:?}, decoded {round}x = {form:?}");
    assert_eq!(form.first(), Some(&b'/'), "no leading '/': {}", ctx());
    assert!(!form.starts_with(b"//"), "'//' prefix: {}", ctx());
    assert!(
        !form.iter().any(|b| *b < 0x20 || *b == 0x7f),
        "control character: {}",
        ctx()
    );
    assert!(!form.contains(&b'\\'), "backslash: {}", ctx());
    assert!(!form.windows(3).any(|w| w == b"://"), "'://': {}", ctx());
    let mut segments = form[1..].split(|b| *b == b'/');
    assert!(
        !segments.clone().next().is_some_and(|s| s.contains(&b'@')),
        "'@' in first segment: {}",
        ctx()
    );
    for seg in &mut segments {
        let name = seg.split(|b| *b == b';').next().unwrap_or_default();
        assert!(
            name != b"." && name != b"..",
            "dot segment {seg:?}: {}",
            ctx()
        );
    }
}

fn escapes_well_formed(form: &[u8]) -> bool {
    let mut i = 0;
    while i < form.len() {
        if form[i] == b'%' {
            if !(i + 2 < form.len()
                && form[i + 1].is_ascii_hexdigit()
                && form[i + 2].is_ascii_hexdigit())
            {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

fn check_path(path: &str) {
    if validate_path(path).is_err() {
        return;
    }
    let mut form = path.as_bytes().to_vec();
    assert_clean(&form, path, 0);
    for round in 1..=ROUNDS {
        if !form.contains(&b'%') {
            break;
        }
        assert!(
            escapes_well_formed(&form),
            "malformed escape accepted: {path:?} decoded {}x = {form:?}",
            round - 1
        );
        form = percent_decode(&form).collect();
        assert_clean(&form, path, round);
    }
    // Fully decoded after at most ROUNDS: decoding again changes nothing.
    assert!(
        !form.contains(&b'%'),
        "still percent-encoded after {ROUNDS} decodes: {path:?} -> {form:?}"
    );
}

fn check_query(query: &str) {
    const DROP: &[&str] = &["key", "api-key"];
    let kept = filter_query(query, DROP);
    // What is kept is the non-empty pairs not named in DROP, verbatim, in order.
    let expected: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| {
            let name = p.split('=').next().unwrap_or_default();
            let name = percent_decode(name.as_bytes()).decode_utf8_lossy();
            !DROP.contains(&name.as_ref())
        })
        .collect();
    assert_eq!(kept, expected.join("&"), "filter_query({query:?})");
    for d in DROP {
        assert_eq!(query_value(&kept, d), None, "{d} survived in {kept:?}");
    }
    let _ = query_value(query, "alt");
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (path, query) = match text.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (text.as_ref(), None),
    };
    if let Some((route, rest)) = match_route(path) {
        let _ = route.name();
        assert!(rest.is_empty() || rest.starts_with('/'));
        assert!(path.ends_with(rest));
        check_path(rest);
    }
    // Also the whole path, so the validator is fuzzed without a prefix.
    check_path(path);
    if let Some(query) = query {
        check_query(query);
    }
});
