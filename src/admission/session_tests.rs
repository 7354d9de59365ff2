//! Admission on an in-memory Pingora session: the cases where the body
//! decides (Vertex by the body's model, keys limited to models), with
//! bodies on both sides of Pingora's 64 KiB retry buffer.

use std::sync::Arc;

use bytes::Bytes;
use pingora::proxy::Session;
use tokio::io::AsyncWriteExt;

use super::admit;
use crate::ctx::RequestCtx;
use crate::errors::ErrorKind;
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
