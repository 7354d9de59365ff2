//! The contract between the server and the provider modules: the request as a route
//! sees it ([`Call`]), what a route answers ([`Reply`]), and each provider's error body.

use serde_json::{json, Value};

use crate::{Flavor, Usage};

/// The fixed `created` timestamp of every object the mock builds.
pub(crate) const CREATED: u64 = 1_700_000_000;

pub(crate) struct Call<'a> {
    pub flavor: Flavor,
    /// `HEAD` is routed as `GET`.
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    /// The body as JSON, `Null` when it is not JSON.
    pub body: Value,
    /// Content deltas per stream.
    pub events: usize,
    /// This request's sequence number, for ids.
    pub seq: u64,
}

impl Call<'_> {
    pub fn usage(&self) -> Usage {
        // Claude on Vertex reports Anthropic's numbers, cache writes included.
        if self.flavor == Flavor::Gemini && self.path.contains("/publishers/anthropic/") {
            return crate::ANTHROPIC_USAGE;
        }
        self.flavor.usage()
    }

    /// The body's `model`, or `mock-model`.
    pub fn model(&self) -> String {
        self.body["model"]
            .as_str()
            .unwrap_or("mock-model")
            .to_owned()
    }

    pub fn stream(&self) -> bool {
        self.body["stream"] == true
    }

    pub fn post(&self) -> bool {
        self.method == "POST"
    }

    pub fn id(&self, prefix: &str) -> String {
        format!("{prefix}mock{:06}", self.seq)
    }
}

pub(crate) enum Reply {
    Json(u16, Value),
    /// Complete SSE events, already framed; sent one by one.
    Sse(Vec<String>),
}

/// Whose error format (and credential) a path speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    OpenAi,
    Azure,
    Anthropic,
    Google,
}

impl Dialect {
    pub fn of(flavor: Flavor, path: &str) -> Dialect {
        match flavor {
            Flavor::OpenAi => Dialect::OpenAi,
            Flavor::Anthropic => Dialect::Anthropic,
            Flavor::Gemini => Dialect::Google,
            Flavor::Azure if path.starts_with("/anthropic/") => Dialect::Anthropic,
            Flavor::Azure => Dialect::Azure,
        }
    }

    /// An error reply in this dialect's JSON shape.
    pub fn error(self, status: u16, message: &str) -> Reply {
        let body = match self {
            Dialect::OpenAi => {
                let (kind, code) = match status {
                    401 => ("invalid_request_error", json!("invalid_api_key")),
                    429 => ("requests", json!("rate_limit_exceeded")),
                    500.. => ("server_error", Value::Null),
                    _ => ("invalid_request_error", Value::Null),
                };
                json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
            }
            Dialect::Azure => json!({"error": {"code": status.to_string(), "message": message}}),
            Dialect::Anthropic => {
                let kind = match status {
                    401 => "authentication_error",
                    403 => "permission_error",
                    404 => "not_found_error",
                    413 => "request_too_large",
                    429 => "rate_limit_error",
                    529 => "overloaded_error",
                    500.. => "api_error",
                    _ => "invalid_request_error",
                };
                json!({"type": "error", "error": {"type": kind, "message": message}})
            }
            Dialect::Google => {
                let kind = match status {
                    401 => "UNAUTHENTICATED",
                    403 => "PERMISSION_DENIED",
                    404 => "NOT_FOUND",
                    429 => "RESOURCE_EXHAUSTED",
                    503 => "UNAVAILABLE",
                    504 => "DEADLINE_EXCEEDED",
                    500.. => "INTERNAL",
                    _ => "INVALID_ARGUMENT",
                };
                json!({"error": {"code": status, "message": message, "status": kind}})
            }
        };
        Reply::Json(status, body)
    }

    /// Provider-style response headers (request ids and the like).
    pub fn headers(self, seq: u64) -> Vec<(&'static str, String)> {
        match self {
            Dialect::OpenAi => vec![
                ("x-request-id", format!("req_mock{seq:024x}")),
                ("openai-version", "2020-10-01".into()),
                ("openai-processing-ms", "1".into()),
            ],
            Dialect::Azure => vec![
                (
                    "apim-request-id",
                    format!("00000000-0000-4000-8000-{seq:012x}"),
                ),
                (
                    "x-request-id",
                    format!("00000000-0000-4000-9000-{seq:012x}"),
                ),
                ("x-ms-region", "Sweden Central".into()),
            ],
            Dialect::Anthropic => vec![
                ("request-id", format!("req_mock{seq:020x}")),
                (
                    "anthropic-organization-id",
                    "00000000-0000-4000-a000-000000000000".into(),
                ),
            ],
            Dialect::Google => vec![
                ("server-timing", "gfet4t7; dur=1".into()),
                ("vary", "Origin, X-Origin, Referer".into()),
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(r: Reply) -> (u16, Value) {
        match r {
            Reply::Json(s, v) => (s, v),
            Reply::Sse(_) => panic!("not JSON"),
        }
    }

    #[test]
    fn error_shapes() {
        let (s, v) = body(Dialect::Anthropic.error(429, "slow down"));
        assert_eq!(
            (s, &v["type"], &v["error"]["type"]),
            (429, &json!("error"), &json!("rate_limit_error"))
        );
        let (_, v) = body(Dialect::Google.error(401, "bad key"));
        assert_eq!(
            v["error"],
            json!({"code": 401, "message": "bad key", "status": "UNAUTHENTICATED"})
        );
        let (_, v) = body(Dialect::OpenAi.error(401, "bad key"));
        assert_eq!(v["error"]["code"], "invalid_api_key");
        let (_, v) = body(Dialect::Azure.error(400, "no version"));
        assert_eq!(v["error"], json!({"code": "400", "message": "no version"}));
    }

    #[test]
    fn azure_anthropic_paths_speak_anthropic() {
        assert_eq!(
            Dialect::of(Flavor::Azure, "/anthropic/v1/messages"),
            Dialect::Anthropic
        );
        assert_eq!(
            Dialect::of(Flavor::Azure, "/openai/v1/chat/completions"),
            Dialect::Azure
        );
        assert_eq!(
            Dialect::of(Flavor::Azure, "/anthropicx/v1/messages"),
            Dialect::Azure
        );
    }
}
