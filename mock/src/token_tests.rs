//! The token servers over real sockets, and providers accepting what they issue.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::jwt::{sign_with_test_key, CLOUD_PLATFORM_SCOPE};
use crate::test_http::call;
use crate::{Flavor, MockProvider, TokenServer, TEST_ACCOUNT_EMAIL, TEST_PRIVATE_KEY_ID};

const FORM: &str = "POST {path} HTTP/1.1\r\ncontent-type: application/x-www-form-urlencoded";
const VERTEX: &str =
    "/v1beta1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A JWT-bearer grant request body for `claims`, signed with the test key.
fn grant(claims: &Value) -> String {
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": TEST_PRIVATE_KEY_ID});
    format!(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={}",
        sign_with_test_key(&header, claims)
    )
}

fn claims(aud: &str) -> Value {
    json!({
        "iss": TEST_ACCOUNT_EMAIL, "scope": CLOUD_PLATFORM_SCOPE, "aud": aud,
        "iat": now(), "exp": now() + 3600
    })
}

fn post_form(tokens: &TokenServer, path: &str, body: &str) -> (u16, Value) {
    call(tokens.addr(), &FORM.replace("{path}", path), body)
}

#[test]
fn google_issues_tokens_for_good_assertions_only() {
    let tokens = TokenServer::google(3599);
    assert!(tokens.token_url().ends_with("/token"));
    let (status, body) = post_form(&tokens, "/token", &grant(&claims(&tokens.token_url())));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"access_token": "ya29.mock-1", "expires_in": 3599, "token_type": "Bearer"})
    );

    tokens.set_expires_in(120);
    let (_, body) = post_form(&tokens, "/token", &grant(&claims(&tokens.token_url())));
    assert_eq!(
        (&body["access_token"], &body["expires_in"]),
        (&json!("ya29.mock-2"), &json!(120))
    );

    let wrong_aud = grant(&claims("https://example.com/token"));
    let (status, body) = post_form(&tokens, "/token", &wrong_aud);
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("invalid_grant")),
        "{body}"
    );
    let mut expired = claims(&tokens.token_url());
    expired["iat"] = json!(now() - 4000);
    expired["exp"] = json!(now() - 400);
    let (status, _) = post_form(&tokens, "/token", &grant(&expired));
    assert_eq!(status, 400);
    let (status, body) = post_form(&tokens, "/token", "grant_type=client_credentials");
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("unsupported_grant_type"))
    );

    assert_eq!(tokens.issued(), ["ya29.mock-1", "ya29.mock-2"]);
    assert_eq!(tokens.requests().len(), 5);
    assert_eq!(
        tokens.requests()[0].form_pairs()[0].1,
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    let refusals = tokens.refusals();
    assert_eq!(refusals.len(), 3, "{refusals:?}");
    assert!(refusals[0].contains("audience"), "{refusals:?}");
}

#[test]
fn failing_answers_every_request_with_the_status() {
    let tokens = TokenServer::google(3600);
    tokens.set_failing(Some(503));
    let (status, body) = post_form(&tokens, "/token", &grant(&claims(&tokens.token_url())));
    assert_eq!(status, 503);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("set_failing"),
        "{body}"
    );
    tokens.set_failing(None);
    let (status, _) = post_form(&tokens, "/token", &grant(&claims(&tokens.token_url())));
    assert_eq!(status, 200);
    assert_eq!(tokens.issued(), ["ya29.mock-1"]);

    let (status, issued) = call(tokens.addr(), "GET /__mock/issued HTTP/1.1", "");
    assert_eq!((status, issued), (200, json!(["ya29.mock-1"])));
    let (_, log) = call(tokens.addr(), "GET /__mock/requests HTTP/1.1", "");
    assert_eq!(log.as_array().unwrap().len(), 2);
}

#[test]
fn entra_checks_the_form_and_speaks_entra() {
    let scope = "https://cognitiveservices.azure.com/.default";
    let tokens = TokenServer::entra("tid", "cid", "s3cret", scope, 3599);
    assert_eq!(tokens.token_url(), tokens.url());
    let form = |secret: &str| {
        format!("grant_type=client_credentials&client_id=cid&client_secret={secret}&scope=https%3A%2F%2Fcognitiveservices.azure.com%2F.default")
    };
    let path = "/tid/oauth2/v2.0/token";
    let (status, body) = post_form(&tokens, path, &form("s3cret"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": "entra-mock-1"})
    );
    let (status, body) = post_form(&tokens, path, &form("nope"));
    assert_eq!((status, &body["error"]), (401, &json!("invalid_client")));
    assert_eq!(body["error_codes"], json!([7000215]));
    let (status, _) = post_form(&tokens, "/other/oauth2/v2.0/token", &form("s3cret"));
    assert_eq!(status, 400);
    tokens.set_failing(Some(500));
    let (status, body) = post_form(&tokens, path, &form("s3cret"));
    assert_eq!((status, body["error_codes"].is_array()), (500, true));
    assert_eq!(tokens.issued(), ["entra-mock-1"]);
}

#[test]
fn providers_accept_issued_tokens_only() {
    let tokens = TokenServer::google(3600);
    let vertex = MockProvider::start(Flavor::Gemini, "unused-api-key");
    vertex.accept_tokens_from(&tokens);
    vertex.set_bearer_token("ya29.fixed");
    let generate = |token: &str| {
        let head =
            format!("POST {VERTEX}:generateContent HTTP/1.1\r\nauthorization: Bearer {token}");
        call(vertex.addr(), &head, "{}")
    };
    // Not issued yet: refused in Google's shape.
    let (status, body) = generate("ya29.mock-1");
    assert_eq!(
        (status, &body["error"]["status"]),
        (401, &json!("UNAUTHENTICATED"))
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("OAuth 2"));

    let (status, _) = post_form(&tokens, "/token", &grant(&claims(&tokens.token_url())));
    assert_eq!(status, 200);
    let (status, body) = generate("ya29.mock-1");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["modelVersion"], "gemini-2.5-flash");
    assert_eq!(
        generate("ya29.fixed").0,
        200,
        "set_bearer_token still works"
    );
    assert_eq!(generate("ya29.mock-2").0, 401);

    let head = format!(
        "POST {VERTEX}:streamGenerateContent?alt=sse HTTP/1.1\r\nauthorization: Bearer ya29.mock-1"
    );
    let mut conn = std::net::TcpStream::connect(vertex.addr()).unwrap();
    let sse = crate::test_http::exchange(&mut conn, &head, "{}");
    assert!(
        sse.starts_with("HTTP/1.1 200") && sse.contains("data: {"),
        "{sse}"
    );
    assert_eq!(vertex.last().query.as_deref(), Some("alt=sse"));
    let v1 = "POST /v1/projects/p/locations/global/publishers/google/models/gemini-2.5-pro:generateContent HTTP/1.1\r\nauthorization: Bearer ya29.mock-1";
    assert_eq!(call(vertex.addr(), v1, "{}").0, 200);
}

#[test]
fn azure_accepts_entra_tokens() {
    let tokens = TokenServer::entra("t", "c", "s", "sc", 60);
    let azure = MockProvider::start(Flavor::Azure, "ak");
    azure.accept_tokens_from(&tokens);
    let head = |token: &str| {
        format!("POST /openai/deployments/d/chat/completions?api-version=2024-10-21 HTTP/1.1\r\nauthorization: Bearer {token}")
    };
    let body = r#"{"messages":[]}"#;
    let (status, err) = call(azure.addr(), &head("entra-mock-1"), body);
    assert_eq!(status, 401);
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Access token"),
        "{err}"
    );
    let form = "grant_type=client_credentials&client_id=c&client_secret=s&scope=sc";
    assert_eq!(post_form(&tokens, "/t/oauth2/v2.0/token", form).0, 200);
    assert_eq!(call(azure.addr(), &head("entra-mock-1"), body).0, 200);
}
