//! The route table, prefix stripping and validation of the provider-native path.

use percent_encoding::percent_decode;

/// Which passthrough route a request came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    OpenAi,
    Anthropic,
    Azure,
    GenAi,
}

const ROUTES: [(&str, Route); 4] = [
    ("/openai_passthrough", Route::OpenAi),
    ("/anthropic_passthrough", Route::Anthropic),
    ("/azure_passthrough", Route::Azure),
    ("/genai_passthrough", Route::GenAi),
];

impl Route {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Route::OpenAi => "openai_passthrough",
            Route::Anthropic => "anthropic_passthrough",
            Route::Azure => "azure_passthrough",
            Route::GenAi => "genai_passthrough",
        }
    }
}

/// Matches a request path against the prefix table at a segment boundary and
/// returns the route and the provider-native rest of the path ("" when the
/// path is the bare prefix).
pub fn match_route(path: &str) -> Option<(Route, &str)> {
    ROUTES.iter().find_map(|(prefix, route)| {
        let rest = path.strip_prefix(prefix)?;
        (rest.is_empty() || rest.starts_with('/')).then_some((*route, rest))
    })
}

/// How many rounds of percent-decoding are checked. A single decode is what
/// a provider does; further rounds catch `%252e%252e` aimed at anything that
/// decodes twice. Past this depth the path is refused outright.
const DECODE_ROUNDS: usize = 3;

/// Validates the provider-native path (no query) raw and percent-decoded.
/// Returns the reason for a refusal.
pub fn validate_path(rest: &str) -> Result<(), &'static str> {
    let mut current: Vec<u8> = rest.as_bytes().to_vec();
    check_form(&current)?;
    for _ in 0..DECODE_ROUNDS {
        if !current.contains(&b'%') {
            return Ok(());
        }
        check_escapes(&current)?;
        let decoded: Vec<u8> = percent_decode(&current).collect();
        // Overlong forms (`%c0%ae` for '.') and other invalid UTF-8 are how
        // decoders that disagree are played off against each other.
        if std::str::from_utf8(&decoded).is_err() {
            return Err("path decodes to invalid UTF-8");
        }
        check_form(&decoded)?;
        current = decoded;
    }
    if current.contains(&b'%') {
        return Err("path is percent-encoded too many times");
    }
    Ok(())
}

fn check_form(path: &[u8]) -> Result<(), &'static str> {
    if path.first() != Some(&b'/') {
        return Err("path must start with '/'");
    }
    if path.starts_with(b"//") {
        return Err("path must not start with '//'");
    }
    if path.iter().any(|b| *b < 0x20 || *b == 0x7f) {
        return Err("path contains a control character");
    }
    if path.contains(&b'\\') {
        return Err("path contains a backslash");
    }
    if path.windows(3).any(|w| w == b"://") {
        return Err("path contains '://'");
    }
    let mut segments = path[1..].split(|b| *b == b'/');
    if segments.clone().next().is_some_and(|s| s.contains(&b'@')) {
        return Err("first path segment contains '@'");
    }
    // `..;x` is a dot segment to servlet-style parsers that strip path parameters.
    if segments.any(|s| {
        let s = s.split(|b| *b == b';').next().unwrap_or_default();
        s == b"." || s == b".."
    }) {
        return Err("path contains a '.' or '..' segment");
    }
    Ok(())
}

/// Refuses malformed escapes (`%zz`, a trailing `%`): servers disagree on them.
fn check_escapes(path: &[u8]) -> Result<(), &'static str> {
    let mut i = 0;
    while i < path.len() {
        if path[i] == b'%' {
            let ok = path.len() > i + 2
                && path[i + 1].is_ascii_hexdigit()
                && path[i + 2].is_ascii_hexdigit();
            if !ok {
                return Err("path contains a malformed percent-escape");
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    Ok(())
}

/// The query minus the parameters named in `drop` (names compared decoded),
/// keeping the rest byte for byte and in order.
pub fn filter_query(query: &str, drop: &[&str]) -> String {
    let mut out = String::with_capacity(query.len());
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let name = pair.split('=').next().unwrap_or_default();
        let name = percent_decode(name.as_bytes()).decode_utf8_lossy();
        if drop.iter().any(|d| *d == name) {
            continue;
        }
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(pair);
    }
    out
}

/// The first value of query parameter `name`, percent-decoded.
pub fn query_value(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k.as_bytes()).decode_utf8_lossy() == name).then(|| {
            percent_decode(v.as_bytes())
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_only_at_segment_boundaries() {
        assert_eq!(
            match_route("/openai_passthrough/v1/models"),
            Some((Route::OpenAi, "/v1/models"))
        );
        assert_eq!(match_route("/genai_passthrough"), Some((Route::GenAi, "")));
        assert_eq!(match_route("/openai_passthroughX/v1"), None);
        assert_eq!(match_route("/v1/chat/completions"), None);
        assert_eq!(
            match_route("/azure_passthrough/openai/v1/x").unwrap().0,
            Route::Azure
        );
    }

    #[test]
    fn good_paths_pass() {
        for p in [
            "/v1/chat/completions",
            "/v1beta/models/gemini-2.0-flash:streamGenerateContent",
            "/openai/deployments/gpt-4o/chat/completions",
            "/v1/files/file-abc%2Fdef",
            "/v1/a.b/..c/c..",
            "/v1/models/user@example",
        ] {
            assert_eq!(validate_path(p), Ok(()), "{p}");
        }
    }

    #[test]
    fn attacks_are_refused() {
        for p in [
            "",
            "v1/models",
            "//evil.example/v1",
            "/v1/../admin",
            "/v1/./models",
            "/..",
            "/v1/%2e%2e/admin",
            "/v1/%c0%ae%c0%ae/admin",
            "/v1/%ff/models",
            "/v1/%2E%2e/admin",
            "/v1/%252e%252e/admin",
            "/v1/%25252e%25252e/admin",
            "/v1/..%2fadmin",
            "/%2fevil.example",
            "/v1\\..\\admin",
            "/v1/%5c..%5cadmin",
            "/http://evil.example/",
            "/v1/x%00y",
            "/v1/x\ty",
            "/v1/x%0d%0aHost:%20evil",
            "/user@evil.example/v1",
            "/v1/..;/admin",
            "/v1/%zz",
            "/v1/%2",
            "/v1/%2525252e",
        ] {
            assert!(validate_path(p).is_err(), "{p:?} should be refused");
        }
    }

    #[test]
    fn query_filtering_keeps_everything_else_verbatim() {
        assert_eq!(
            filter_query("alt=sse&key=secret&x=%20", &["key"]),
            "alt=sse&x=%20"
        );
        assert_eq!(filter_query("k%65y=secret", &["key"]), "");
        assert_eq!(filter_query("", &["key"]), "");
        assert_eq!(
            query_value("a=1&api-version=2024%2D10", "api-version").as_deref(),
            Some("2024-10")
        );
    }
}
