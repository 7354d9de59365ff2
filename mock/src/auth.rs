//! The credential check, per dialect, as the real providers do it.
//!
//! | dialect   | credential                                   |
//! |-----------|----------------------------------------------|
//! | OpenAI    | `Authorization: Bearer <key>`                |
//! | Azure     | `api-key: <key>`                             |
//! | Anthropic | `x-api-key: <key>`, and `anthropic-version` present (else 400) |
//! | Google    | `x-goog-api-key: <key>`                      |
//!
//! A bearer token the mock accepts (`MockProvider::set_bearer_token`, or one issued
//! by a `TokenServer` given to `MockProvider::accept_tokens_from`) is accepted in
//! place of the native credential. The credential header must arrive exactly once.
//! A refused bearer token gets the message the provider gives for a bad OAuth
//! token, not the one for a bad API key.

use crate::call::{Dialect, Reply};
use crate::Recorded;

pub(crate) fn check(
    dialect: Dialect,
    req: &Recorded,
    key: &str,
    accepts_bearer: &dyn Fn(&str) -> bool,
) -> Result<(), Reply> {
    let (header, want) = match dialect {
        Dialect::OpenAi => ("authorization", format!("Bearer {key}")),
        Dialect::Azure => ("api-key", key.to_owned()),
        Dialect::Anthropic => ("x-api-key", key.to_owned()),
        Dialect::Google => ("x-goog-api-key", key.to_owned()),
    };
    let once_equal = |name: &str, want: &str| req.headers_named(name) == [want];
    let authorization = req.headers_named("authorization");
    let bearer = match authorization[..] {
        [one] => one.strip_prefix("Bearer "),
        _ => None,
    };
    let by_bearer = bearer.is_some_and(accepts_bearer);
    if !by_bearer && !once_equal(header, &want) {
        let message = match dialect {
            Dialect::Google if bearer.is_some() => "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
            Dialect::Azure if bearer.is_some() => "Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have expired.",
            Dialect::OpenAi => "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
            Dialect::Azure => "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.",
            Dialect::Anthropic => "invalid x-api-key",
            Dialect::Google => "API key not valid. Please pass a valid API key.",
        };
        return Err(dialect.error(401, message));
    }
    if dialect == Dialect::Anthropic && req.header("anthropic-version").is_none() {
        return Err(dialect.error(400, "anthropic-version: header is required"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(headers: &[(&str, &str)]) -> Recorded {
        Recorded {
            method: "POST".into(),
            path: "/".into(),
            query: None,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: vec![],
            version: "HTTP/1.1".into(),
        }
    }

    type Headers<'a> = &'a [(&'a str, &'a str)];

    fn status(d: Dialect, headers: &[(&str, &str)], bearer: Option<&str>) -> u16 {
        match check(d, &req(headers), "K", &|t| Some(t) == bearer) {
            Ok(()) => 200,
            Err(Reply::Json(s, _)) => s,
            Err(Reply::Sse(_)) => unreachable!(),
        }
    }

    #[test]
    fn auth_table() {
        use Dialect::*;
        let v = ("anthropic-version", "2023-06-01");
        let cases: &[(Dialect, Headers, Option<&str>, u16)] = &[
            (OpenAi, &[("authorization", "Bearer K")], None, 200),
            (OpenAi, &[("authorization", "Bearer X")], None, 401),
            (OpenAi, &[("authorization", "K")], None, 401),
            (OpenAi, &[("api-key", "K")], None, 401),
            (
                OpenAi,
                &[("authorization", "Bearer K"), ("authorization", "Bearer K")],
                None,
                401,
            ),
            (Azure, &[("api-key", "K")], None, 200),
            (Azure, &[("authorization", "Bearer K")], None, 401),
            (Azure, &[("authorization", "Bearer T")], Some("T"), 200),
            (Azure, &[("authorization", "Bearer X")], Some("T"), 401),
            (Anthropic, &[("x-api-key", "K"), v], None, 200),
            (Anthropic, &[("x-api-key", "K")], None, 400),
            (Anthropic, &[("authorization", "Bearer K"), v], None, 401),
            (Anthropic, &[("x-api-key", "X"), v], None, 401),
            (Google, &[("x-goog-api-key", "K")], None, 200),
            (Google, &[("x-goog-api-key", "X")], None, 401),
            (Google, &[], None, 401),
            (Google, &[("authorization", "Bearer T")], Some("T"), 200),
            (Google, &[("authorization", "Bearer X")], Some("T"), 401),
            (Google, &[("authorization", "T")], Some("T"), 401),
            (
                Google,
                &[("authorization", "Bearer T"), ("authorization", "Bearer T")],
                Some("T"),
                401,
            ),
        ];
        for (d, headers, bearer, want) in cases {
            assert_eq!(
                status(*d, headers, *bearer),
                *want,
                "{d:?} {headers:?} bearer={bearer:?}"
            );
        }
    }

    #[test]
    fn a_refused_google_bearer_gets_the_oauth_message() {
        let headers = [("authorization", "Bearer ya29.stranger")];
        let Err(Reply::Json(401, body)) = check(Dialect::Google, &req(&headers), "K", &|_| false)
        else {
            panic!("not refused")
        };
        assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("Expected OAuth 2 access token"),
            "{message}"
        );
    }
}
