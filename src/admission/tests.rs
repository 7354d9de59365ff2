//! Admission without a socket: the request head against a hand-built
//! snapshot (route × auth × limits), and how the GenAI route picks Vertex.

use pingora::http::RequestHeader;

use super::{check_request, provider_for};
use crate::ctx::ClientRequest;
use crate::errors::ErrorKind;
use crate::keys::key::test_key;
use crate::providers::ProviderKind;
use crate::route::Route;
use crate::snapshot::testing::{provider, snapshot};
use crate::snapshot::KeyPolicy;

fn req(method: &str, uri: &str, headers: &[(&str, &str)]) -> RequestHeader {
    let mut r = RequestHeader::build(method, uri.as_bytes(), None).unwrap();
    for (k, v) in headers {
        r.append_header(k.to_string(), *v).unwrap();
    }
    r
}

#[test]
fn the_head_is_checked_in_order() {
    let snap = snapshot(
        vec![("team-a", "vk-a", KeyPolicy::default())],
        vec![provider(
            ProviderKind::OpenAi,
            vec![test_key("a", 1.0, None)],
        )],
    );
    let bearer = [("authorization", "Bearer vk-a")];
    let many: Vec<(String, &str)> = (0..25).map(|i| (format!("x-h{i}"), "v")).collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let refused = [
        // The method before anything else, even on an unknown route.
        (
            "CONNECT",
            "/nowhere",
            &bearer[..],
            ErrorKind::MethodNotAllowed,
        ),
        (
            "GET",
            "/openai_passthrough/v1",
            &many[..],
            ErrorKind::HeadersTooLarge,
        ),
        // The route before the key: a stray path says where to go.
        ("GET", "/v1/models", &[][..], ErrorKind::UnknownRoute),
        (
            "GET",
            "/openai_passthroughX/v1",
            &bearer[..],
            ErrorKind::UnknownRoute,
        ),
        (
            "GET",
            "/openai_passthrough/v1/../admin",
            &bearer[..],
            ErrorKind::InvalidPath,
        ),
        (
            "GET",
            "/openai_passthrough/%2e%2e/x",
            &bearer[..],
            ErrorKind::InvalidPath,
        ),
        (
            "POST",
            "/openai_passthrough/v1/chat/completions",
            &[
                ("authorization", "Bearer vk-a"),
                ("content-length", "2097152"),
            ][..],
            ErrorKind::BodyTooLarge,
        ),
        (
            "GET",
            "/openai_passthrough/v1/models",
            &[][..],
            ErrorKind::MissingVirtualKey,
        ),
        (
            "GET",
            "/openai_passthrough/v1/models",
            &[("x-api-key", "vk-b")][..],
            ErrorKind::InvalidVirtualKey,
        ),
        // A Google token is never a virtual key.
        (
            "GET",
            "/genai_passthrough/v1/models",
            &[("authorization", "Bearer ya29.token")][..],
            ErrorKind::MissingVirtualKey,
        ),
    ];
    for (method, uri, headers, kind) in refused {
        let mut client = ClientRequest::default();
        let e = check_request(&req(method, uri, headers), &snap, &mut client).unwrap_err();
        assert_eq!(e.kind, kind, "{method} {uri}: {}", e.message);
    }

    let mut client = ClientRequest::default();
    let r = req(
        "POST",
        "/genai_passthrough/v1beta/models/g:streamGenerateContent?alt=sse&key=vk-a",
        &[("content-length", "10")],
    );
    assert_eq!(check_request(&r, &snap, &mut client).unwrap(), Route::GenAi);
    assert_eq!(client.virtual_key.as_deref(), Some("team-a"));
    assert_eq!(client.native_path, "/v1beta/models/g:streamGenerateContent");
    assert_eq!(client.query, "alt=sse", "the key never travels on");
}

#[test]
fn a_refusal_keeps_what_was_learnt() {
    let snap = snapshot(vec![("team-a", "vk-a", KeyPolicy::default())], vec![]);
    let mut client = ClientRequest::default();
    let r = req("GET", "/anthropic_passthrough/v1/models", &[]);
    assert!(check_request(&r, &snap, &mut client).is_err());
    assert_eq!(client.route, Some(Route::Anthropic));
    assert_eq!(client.native_path, "/v1/models");
}

#[test]
fn open_mode_admits_without_a_key() {
    let snap = snapshot(vec![], vec![]);
    let mut client = ClientRequest::default();
    let r = req("GET", "/azure_passthrough/openai/v1/models", &[]);
    assert_eq!(check_request(&r, &snap, &mut client).unwrap(), Route::Azure);
    assert_eq!(client.virtual_key, None);
}

#[test]
fn the_genai_route_goes_to_vertex_on_its_signs() {
    let plain = req("POST", "/", &[]);
    let google = req("POST", "/", &[("authorization", "Bearer ya29.abc")]);
    let other_bearer = req("POST", "/", &[("authorization", "Bearer vk-a")]);
    let vertex_path = "/v1/projects/p/locations/us-central1/publishers/google/models/g:x";
    let cases = [
        (
            Route::OpenAi,
            "/v1/chat/completions",
            &plain,
            Some(ProviderKind::OpenAi),
        ),
        (
            Route::Anthropic,
            "/v1/messages",
            &plain,
            Some(ProviderKind::Anthropic),
        ),
        (
            Route::Azure,
            "/openai/v1/x",
            &google,
            Some(ProviderKind::Azure),
        ),
        (
            Route::GenAi,
            vertex_path,
            &plain,
            Some(ProviderKind::Vertex),
        ),
        (
            Route::GenAi,
            "/v1/models/g:x",
            &google,
            Some(ProviderKind::Vertex),
        ),
        // Only the body's model can tell.
        (Route::GenAi, "/v1/models/g:x", &other_bearer, None),
        (Route::GenAi, "/v1/projects/p/models/g", &plain, None),
    ];
    for (route, path, r, expected) in cases {
        assert_eq!(provider_for(route, path, r), expected, "{route:?} {path}");
    }
}
