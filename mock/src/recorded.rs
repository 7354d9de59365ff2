//! One received request, as the provider saw it.

use percent_encoding::percent_decode_str;
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Lower-case names. Order of each name's first arrival; a name's duplicate
    /// values are kept, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// `"HTTP/1.1"` or `"HTTP/2.0"`.
    pub version: String,
}

impl Recorded {
    /// The request as it arrived: header names lower-case, values as (lossy) text.
    pub(crate) fn from_parts(parts: &hyper::http::request::Parts, body: &[u8]) -> Recorded {
        Recorded {
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            headers: parts
                .headers
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: body.to_vec(),
            version: format!("{:?}", parts.version),
        }
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers_named(name).into_iter().next()
    }

    /// Every value of header `name` (case-insensitive), in arrival order.
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The query string split into percent-decoded pairs (`+` is a space), in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        form_pairs(self.query.as_deref().unwrap_or(""))
    }

    /// The body read as `application/x-www-form-urlencoded` pairs, in order.
    pub fn form_pairs(&self) -> Vec<(String, String)> {
        form_pairs(&String::from_utf8_lossy(&self.body))
    }

    /// The body parsed as JSON; panics (showing the body) if it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} {}: body is not JSON ({e}): {}",
                self.method,
                self.path,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The form served by `GET /__mock/requests`: the body as (lossy) UTF-8 text
    /// plus `body_len`.
    pub(crate) fn to_wire(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).expect("Recorded serializes");
        v["body"] = String::from_utf8_lossy(&self.body).into_owned().into();
        v["body_len"] = self.body.len().into();
        v
    }
}

/// `a=1&b=x+y` split into percent-decoded pairs (`+` is a space), in order.
pub(crate) fn form_pairs(s: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// The single value of form field `name`; a missing or repeated field is `None`.
pub(crate) fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    let mut values = form.iter().filter(|(n, _)| n == name);
    match (values.next(), values.next()) {
        (Some((_, v)), None) => Some(v),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(query: Option<&str>) -> Recorded {
        Recorded {
            method: "POST".into(),
            path: "/v1/x".into(),
            query: query.map(Into::into),
            headers: vec![
                ("a".into(), "1".into()),
                ("b".into(), "2".into()),
                ("a".into(), "3".into()),
            ],
            body: b"{\"model\":\"m\"}".to_vec(),
            version: "HTTP/1.1".into(),
        }
    }

    #[test]
    fn headers_are_case_insensitive_and_keep_duplicates() {
        let r = rec(None);
        assert_eq!(r.header("A"), Some("1"));
        assert_eq!(r.headers_named("a"), ["1", "3"]);
        assert_eq!(r.header("c"), None);
    }

    #[test]
    fn query_pairs_are_decoded() {
        let r = rec(Some("api-version=2024-10-21&x=a%20b+c&flag&&k=%E2%9C%93"));
        let pairs = r.query_pairs();
        let want = [
            ("api-version", "2024-10-21"),
            ("x", "a b c"),
            ("flag", ""),
            ("k", "✓"),
        ];
        assert_eq!(pairs, want.map(|(k, v)| (k.to_owned(), v.to_owned())));
        assert!(rec(None).query_pairs().is_empty());
    }

    #[test]
    fn wire_form_has_text_body() {
        let w = rec(None).to_wire();
        assert_eq!(w["body"], "{\"model\":\"m\"}");
        assert_eq!(w["body_len"], 13);
        assert_eq!(w["headers"][2], serde_json::json!(["a", "3"]));
        assert_eq!(rec(None).json()["model"], "m");
    }
}
