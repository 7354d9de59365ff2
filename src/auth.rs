//! Virtual keys (how clients authenticate to the gateway) and the client
//! credentials that are never forwarded.

use pingora::http::RequestHeader;
use subtle::ConstantTimeEq;

use crate::route::{filter_query, query_value};
use crate::snapshot::{sha256, VirtualKeys};
use crate::ws::SUBPROTOCOL_KEY_PREFIX;

/// Headers removed from every forwarded request before the provider
/// credential is written. `x-strait-*` headers are removed as well.
pub(crate) const CLIENT_CREDENTIAL_HEADERS: [&str; 6] = [
    "authorization",
    "proxy-authorization",
    "api-key",
    "x-api-key",
    "x-goog-api-key",
    "cookie",
];

/// The gateway's own header prefix: consumed here, never forwarded.
pub(crate) const STRAIT_HEADER_PREFIX: &str = "x-strait-";

/// Query parameters that carry client credentials (Gemini's `?key=`).
pub const CLIENT_CREDENTIAL_PARAMS: [&str; 1] = ["key"];

#[derive(Debug, PartialEq, Eq)]
pub enum AuthOutcome<'a> {
    Open,
    Key(&'a str),
    Missing,
    Unknown,
}

impl VirtualKeys {
    /// Finds the virtual key the client presented, in whichever header its
    /// SDK puts an api key (or `x-strait-key`, or `?key=`).
    pub fn authenticate(&self, req: &RequestHeader) -> AuthOutcome<'_> {
        if self.is_open() {
            return AuthOutcome::Open;
        }
        let query_key = req.uri.query().and_then(|q| query_value(q, "key"));
        let mut presented = false;
        for candidate in presented_keys(req).chain(query_key.as_deref()) {
            presented = true;
            if let Some(name) = self.lookup(candidate.as_bytes()) {
                return AuthOutcome::Key(name);
            }
        }
        if presented {
            AuthOutcome::Unknown
        } else {
            AuthOutcome::Missing
        }
    }

    /// Compares against every configured key without stopping early, so the
    /// time taken says nothing about which key came close.
    fn lookup(&self, candidate: &[u8]) -> Option<&str> {
        let hash = sha256(candidate);
        let mut found = None;
        for (name, key_hash) in &self.keys {
            if bool::from(key_hash.ct_eq(&hash)) {
                found = Some(name.as_str());
            }
        }
        found
    }
}

/// The values a client may have put its virtual key in, most specific first.
fn presented_keys(req: &RequestHeader) -> impl Iterator<Item = &str> {
    let header = |name: &'static str| {
        req.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let bearer = header("authorization")
        .and_then(strip_bearer)
        .filter(|t| !is_google_token(t));
    // A browser's WebSocket can carry a key only in its subprotocol list.
    let subprotocol = header("sec-websocket-protocol").and_then(|list| {
        list.split(',')
            .find_map(|p| p.trim().strip_prefix(SUBPROTOCOL_KEY_PREFIX))
    });
    [
        header("x-strait-key"),
        bearer,
        header("x-api-key"),
        header("api-key"),
        header("x-goog-api-key"),
        subprotocol,
    ]
    .into_iter()
    .flatten()
    .filter(|v| !v.is_empty())
}

fn strip_bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// A Google OAuth access token marks a Vertex client (its SDK sends one):
/// it is never a virtual key, only looked at to pick Vertex, never forwarded.
fn is_google_token(token: &str) -> bool {
    token.starts_with("ya29.")
}

/// The client sent a Google OAuth token as its bearer.
pub(crate) fn has_google_token(req: &RequestHeader) -> bool {
    req.headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(strip_bearer)
        .is_some_and(is_google_token)
}

/// The client's query without the parameters that carry its credential.
pub(crate) fn query_without_credentials(query: &str) -> String {
    filter_query(query, &CLIENT_CREDENTIAL_PARAMS)
}

/// Removes every client credential and `x-strait-*` header.
pub fn strip_client_credentials(req: &mut RequestHeader) {
    for name in CLIENT_CREDENTIAL_HEADERS {
        req.remove_header(name);
    }
    let own: Vec<_> = req
        .headers
        .keys()
        .filter(|n| n.as_str().starts_with(STRAIT_HEADER_PREFIX))
        .cloned()
        .collect();
    for name in own {
        req.remove_header(&name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(uri: &str, headers: &[(&str, &str)]) -> RequestHeader {
        let mut r = RequestHeader::build("POST", uri.as_bytes(), None).unwrap();
        for (k, v) in headers {
            r.append_header(k.to_string(), *v).unwrap();
        }
        r
    }

    fn keys() -> VirtualKeys {
        VirtualKeys::new(
            [
                ("team-a".into(), "vk-a".into()),
                ("team-b".into(), "vk-b".into()),
            ],
            true,
        )
    }

    #[test]
    fn every_sdk_header_is_accepted() {
        let k = keys();
        for (h, v) in [
            ("authorization", "Bearer vk-a"),
            ("authorization", "bearer   vk-a"),
            ("x-api-key", "vk-a"),
            ("api-key", "vk-a"),
            ("x-goog-api-key", "vk-a"),
            ("x-strait-key", "vk-a"),
        ] {
            assert_eq!(
                k.authenticate(&req("/", &[(h, v)])),
                AuthOutcome::Key("team-a"),
                "{h}"
            );
        }
        assert_eq!(
            k.authenticate(&req("/x?alt=sse&key=vk-b", &[])),
            AuthOutcome::Key("team-b")
        );
    }

    #[test]
    fn missing_wrong_and_open() {
        let k = keys();
        assert_eq!(k.authenticate(&req("/", &[])), AuthOutcome::Missing);
        assert_eq!(
            k.authenticate(&req("/", &[("x-api-key", "vk-c")])),
            AuthOutcome::Unknown
        );
        assert_eq!(
            k.authenticate(&req("/", &[("authorization", "Bearer ya29.token")])),
            AuthOutcome::Missing
        );
        assert_eq!(
            k.authenticate(&req(
                "/",
                &[("authorization", "Bearer ya29.t"), ("x-strait-key", "vk-b")]
            )),
            AuthOutcome::Key("team-b")
        );
        assert_eq!(
            VirtualKeys::default().authenticate(&req("/", &[])),
            AuthOutcome::Open
        );
        // Keys configured but none usable: closed, never open.
        let none_usable = VirtualKeys::new([], true);
        assert_eq!(
            none_usable.authenticate(&req("/", &[("x-api-key", "vk-a")])),
            AuthOutcome::Unknown
        );
    }

    #[test]
    fn stripping_removes_all_client_credentials() {
        let mut r = req(
            "/",
            &[
                ("authorization", "Bearer x"),
                ("proxy-authorization", "x"),
                ("api-key", "x"),
                ("x-api-key", "x"),
                ("x-goog-api-key", "x"),
                ("cookie", "a=b"),
                ("x-strait-key", "x"),
                ("X-Strait-Debug", "x"),
                ("content-type", "application/json"),
            ],
        );
        strip_client_credentials(&mut r);
        let left: Vec<_> = r.headers.keys().map(|k| k.as_str().to_string()).collect();
        assert_eq!(left, ["content-type"]);
    }
}
