//! Admission on an in-memory Pingora session: the cases where the body is
//! read before forwarding (Vertex by the body's model, keys limited to
//! models, chat streams asked for their usage), with bodies on both sides
//! of Pingora's 64 KiB retry buffer.

use std::sync::Arc;

use bytes::Bytes;
use pingora::proxy::Session;
use tokio::io::AsyncWriteExt;

use super::admit;
use crate::ctx::RequestCtx;
use crate::errors::ErrorKind;
use crate::forward::prepare_upstream_request;
use crate::keys::key::test_key;
use crate::providers::ProviderKind;
use crate::snapshot::testing::{provider, snapshot};
use crate::snapshot::{KeyPolicy, Snapshot};
use crate::spend::Store;

/// A session that has read the head of `head` + `body` from a client.
async fn session(head: &str, body: &[u8]) -> Session {
    let (mut client, server) = tokio::io::duplex(1 << 20);
    client.write_all(head.as_bytes()).await.unwrap();
    client.write_all(body).await.unwrap();
    // The client side stays open for the session's lifetime.
    std::mem::forget(client);
    let mut s = Session::new_h1(Box::new(server));
    assert!(s.read_request().await.unwrap());
    s
}

fn post(path: &str, body: &[u8]) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\nx-strait-key: vk-a\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
}

fn gateway(providers: Vec<crate::snapshot::ProviderConfig>) -> Arc<Snapshot> {
    snapshot(vec![("team-a", "vk-a", KeyPolicy::default())], providers)
}

/// A JSON body of about `pad` bytes whose `model` comes last, as SDKs send it.
fn body(model: &str, pad: usize) -> Vec<u8> {
    format!(r#"{{"contents":"{}","model":"{model}"}}"#, "x".repeat(pad)).into_bytes()
}

#[tokio::test]
async fn the_body_model_sends_the_genai_route_to_vertex() {
    let snap = gateway(vec![
        provider(ProviderKind::Gemini, vec![test_key("g", 1.0, None)]),
        provider(ProviderKind::Vertex, vec![test_key("v", 1.0, None)]),
    ]);
    let model = "projects/p/locations/us-central1/publishers/google/models/gemini-2.5-pro";
    for (b, kind) in [
        (body(model, 10), ProviderKind::Vertex),
        (body("gemini-2.5-pro", 10), ProviderKind::Gemini),
    ] {
        let path = "/genai_passthrough/v1/models/x:generateContent";
        let mut s = session(&post(path, &b), &b).await;
        let mut ctx = RequestCtx::new();
        admit(&mut s, &mut ctx, snap.clone(), &Store::memory(None))
            .await
            .unwrap();
        assert_eq!(ctx.provider.as_ref().unwrap().kind, kind);
        assert_eq!(ctx.body.read_early, b.len() as u64);
    }
}

#[tokio::test]
async fn model_limited_keys_read_the_body_and_forward_it_whole() {
    let snap = gateway(vec![provider(
        ProviderKind::OpenAi,
        vec![
            test_key("mini", 1.0, Some(&["gpt-4o-mini"])),
            test_key("big", 1.0, Some(&["gpt-4o"])),
        ],
    )]);
    // Below and above the 64 KiB Pingora can replay.
    for pad in [100, 200 * 1024] {
        let b = body("gpt-4o", pad);
        let path = "/openai_passthrough/v1/chat/completions";
        let mut s = session(&post(path, &b), &b).await;
        let mut ctx = RequestCtx::new();
        admit(&mut s, &mut ctx, snap.clone(), &Store::memory(None))
            .await
            .unwrap();
        assert_eq!(ctx.client.model.as_deref(), Some("gpt-4o"));
        assert_eq!(ctx.key().unwrap().name, "big");
        // Pingora forwards its retry buffer (the tail); the head goes back
        // in front of it.
        let tail = s.as_mut().get_retry_buffer().expect("the tail is buffered");
        let mut first = Some(tail);
        ctx.body
            .on_chunk(&mut first, b.len() as u64, u64::MAX)
            .unwrap();
        assert_eq!(first, Some(Bytes::from(b.clone())), "pad {pad}");
    }

    // No key serves the model: refused before anything is sent.
    let b = body("o3", 10);
    let mut s = session(&post("/openai_passthrough/v1/chat/completions", &b), &b).await;
    let mut ctx = RequestCtx::new();
    let e = admit(&mut s, &mut ctx, snap.clone(), &Store::memory(None))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::ModelNotAllowed);
    assert_eq!(ctx.provider.unwrap().kind, ProviderKind::OpenAi);
}

#[tokio::test]
async fn a_body_of_unknown_length_cannot_be_read_early() {
    let snap = gateway(vec![provider(
        ProviderKind::OpenAi,
        vec![test_key("mini", 1.0, Some(&["gpt-4o-mini"]))],
    )]);
    let head = "POST /openai_passthrough/v1/chat/completions HTTP/1.1\r\nhost: x\r\n\
                x-strait-key: vk-a\r\ntransfer-encoding: chunked\r\n\r\n";
    let mut s = session(head, b"5\r\nhello\r\n0\r\n\r\n").await;
    let mut ctx = RequestCtx::new();
    let e = admit(&mut s, &mut ctx, snap, &Store::memory(None))
        .await
        .unwrap_err();
    assert_eq!((e.kind, e.status()), (ErrorKind::LengthRequired, 411));
}

/// What Pingora would send upstream for `ctx` on one attempt: the body
/// (its retry buffer, through `on_chunk`) and the Content-Length.
fn forwarded(s: &mut Session, ctx: &mut RequestCtx, path: &str) -> (Bytes, Option<String>) {
    let mut first = s.as_mut().get_retry_buffer();
    let read = s.body_bytes_read() as u64;
    ctx.body.on_chunk(&mut first, read, u64::MAX).unwrap();
    let mut req = s.req_header().clone();
    prepare_upstream_request(ctx, &mut req).unwrap();
    let length = req.headers.get("content-length");
    let length = length.map(|v| v.to_str().unwrap().to_string());
    assert_eq!(
        req.uri.path(),
        path.trim_start_matches("/openai_passthrough")
    );
    (first.unwrap_or_default(), length)
}

fn chat(stream: bool, pad: usize) -> Vec<u8> {
    format!(
        r#"{{"messages":[{{"role":"user","content":"{}"}}],"model":"gpt-4o","stream":{stream}}}"#,
        "x".repeat(pad)
    )
    .into_bytes()
}

#[tokio::test]
async fn a_chat_stream_is_sent_with_include_usage_on_every_attempt() {
    let snap = gateway(vec![provider(
        ProviderKind::OpenAi,
        vec![test_key("a", 1.0, None)],
    )]);
    let path = "/openai_passthrough/v1/chat/completions";
    for pad in [10, 64 * 1024, 300 * 1024] {
        let b = chat(true, pad);
        let mut s = session(&post(path, &b), &b).await;
        let mut ctx = RequestCtx::new();
        admit(&mut s, &mut ctx, snap.clone(), &Store::memory(None))
            .await
            .unwrap();
        assert_eq!(ctx.body.read_early, b.len() as u64);
        let mut want = b[..b.len() - 1].to_vec();
        want.extend_from_slice(br#","stream_options":{"include_usage":true}}"#);
        for attempt in 1..=2 {
            let (body, length) = forwarded(&mut s, &mut ctx, path);
            assert!(body == want, "pad {pad}, attempt {attempt}");
            assert_eq!(length, Some(want.len().to_string()), "pad {pad}");
        }
        // Once the answer has started the body is let go.
        ctx.body.release();
        let mut late = Some(Bytes::from_static(b"tail"));
        ctx.body.on_chunk(&mut late, 0, u64::MAX).unwrap();
        assert_eq!(late.as_deref(), Some(&b"tail"[..]));
    }
}

#[tokio::test]
async fn other_chat_bodies_are_sent_as_they_came() {
    let snap = gateway(vec![provider(
        ProviderKind::OpenAi,
        vec![test_key("a", 1.0, None)],
    )]);
    let path = "/openai_passthrough/v1/chat/completions";
    let with_usage = br#"{"stream":true,"stream_options":{"include_usage":false}}"#.to_vec();
    for b in [chat(false, 200 * 1024), with_usage, b"{not json".to_vec()] {
        let mut s = session(&post(path, &b), &b).await;
        let mut ctx = RequestCtx::new();
        admit(&mut s, &mut ctx, snap.clone(), &Store::memory(None))
            .await
            .unwrap();
        let (body, length) = forwarded(&mut s, &mut ctx, path);
        assert!(body == b, "{}", String::from_utf8_lossy(&b[..20]));
        assert_eq!(length, Some(b.len().to_string()));
    }
}

#[tokio::test]
async fn only_chat_streams_of_providers_that_ask_are_read_early() {
    let mut off = provider(ProviderKind::Azure, vec![test_key("a", 1.0, None)]);
    off.inject_stream_usage = false;
    let snap = gateway(vec![
        provider(ProviderKind::OpenAi, vec![test_key("a", 1.0, None)]),
        off,
    ]);
    let b = chat(true, 10);
    for path in [
        "/openai_passthrough/v1/responses",
        "/openai_passthrough/v1/embeddings",
        "/azure_passthrough/openai/deployments/d/chat/completions",
    ] {
        let mut s = session(&post(path, &b), &b).await;
        let mut ctx = RequestCtx::new();
        admit(&mut s, &mut ctx, snap.clone(), &Store::memory(None))
            .await
            .unwrap();
        assert_eq!(ctx.body.read_early, 0, "{path}");
        assert_eq!(ctx.body.edited_length(), None, "{path}");
    }
    // A chunked body cannot be read early: it goes as it is, not refused.
    let head = "POST /openai_passthrough/v1/chat/completions HTTP/1.1\r\nhost: x\r\n\
                x-strait-key: vk-a\r\ntransfer-encoding: chunked\r\n\r\n";
    let mut s = session(head, b"5\r\nhello\r\n0\r\n\r\n").await;
    let mut ctx = RequestCtx::new();
    admit(&mut s, &mut ctx, snap, &Store::memory(None))
        .await
        .unwrap();
    assert_eq!(ctx.body.read_early, 0);
}
