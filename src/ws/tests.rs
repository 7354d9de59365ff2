//! A session's two directions on hand-made chunks: what is relayed when a
//! frame header is split across reads, and when a frame is over the limit.

use bytes::Bytes;

use super::WsSession;
use crate::observe::usage::Format;
use crate::observe::ws_frame::close_frame;
use crate::snapshot::testing::LIMITS;

fn session() -> WsSession {
    let mut s = WsSession::new(Format::OpenAi, &LIMITS);
    s.on_upgraded();
    s
}

fn provider(s: &mut WsSession, chunk: &[u8]) -> Vec<u8> {
    let mut body = Some(Bytes::copy_from_slice(chunk));
    s.on_provider_chunk(&mut body);
    body.unwrap().to_vec()
}

/// An unmasked text frame header for `len` payload bytes (64-bit length).
fn long_header(len: u64) -> Vec<u8> {
    let mut h = vec![0x81, 127];
    h.extend_from_slice(&len.to_be_bytes());
    h
}

#[test]
fn a_header_split_across_reads_is_relayed_whole_with_the_next_read() {
    let mut s = session();
    let frame = [&[0x81u8, 5][..], b"hello"].concat();
    assert_eq!(provider(&mut s, &frame[..1]), b"");
    assert_eq!(provider(&mut s, &frame[1..]), frame);
    // Split in a 10-byte header, then again mid-payload.
    let mut long = long_header(3);
    long.extend_from_slice(b"abc");
    assert_eq!(provider(&mut s, &long[..4]), b"");
    assert_eq!(provider(&mut s, &long[4..8]), b"");
    assert_eq!(provider(&mut s, &long[8..11]), &long[..11]);
    assert_eq!(provider(&mut s, &long[11..]), b"bc");
    let summary = serde_json::to_value(s.summary()).unwrap();
    assert_eq!(summary["ws_frames_out"], 2, "{summary}");
}

#[test]
fn a_frame_over_the_limit_is_replaced_from_its_first_byte() {
    let close = close_frame(1009, false);
    let over = long_header(LIMITS.websocket_max_frame_bytes + 1);
    let small = [&[0x81u8, 2][..], b"ok"].concat();

    // The whole header in one read, after a frame that is relayed.
    let mut s = session();
    let got = provider(&mut s, &[&small[..], &over[..], b"xyz"].concat());
    assert_eq!(got, [&small[..], &close[..]].concat());
    // Anything after is dropped.
    assert_eq!(provider(&mut s, b"more"), b"");

    // The header split across reads: its first part was held back, so
    // the receiver sees the close frame alone, never half a header.
    let mut s = session();
    assert_eq!(provider(&mut s, &[&small[..], &over[..3]].concat()), small);
    assert_eq!(provider(&mut s, &over[3..]), close);
    let summary = serde_json::to_value(s.summary()).unwrap();
    assert_eq!(summary["ws_end"], "frame_too_large", "{summary}");
}

#[test]
fn client_frames_over_the_limit_get_a_masked_close_to_the_provider() {
    let mut s = session();
    let mut head = long_header(LIMITS.websocket_max_frame_bytes + 1);
    head[1] |= 0x80;
    head.extend_from_slice(&[1, 2, 3, 4]);
    let mut body = Some(Bytes::copy_from_slice(&head[..5]));
    s.on_client_chunk(&mut body);
    assert_eq!(body.as_deref(), Some(&b""[..]));
    let mut body = Some(Bytes::copy_from_slice(&head[5..]));
    s.on_client_chunk(&mut body);
    let sent = body.unwrap();
    // A close frame (FIN + opcode 8), masked, with a two-byte code.
    assert_eq!(&sent[..2], &[0x88, 0x82]);
    assert_eq!(sent.len(), 2 + 4 + 2);
}

#[test]
fn a_shutdown_close_never_lands_inside_a_frame() {
    // Between frames: a close 1001 each way.
    let mut s = session();
    provider(&mut s, &[0x81, 2, b'o', b'k']);
    let mut body = None;
    let to_client = s.on_shutdown(&mut body);
    assert_eq!(to_client.as_deref(), Some(&close_frame(1001, false)[..]));
    let to_provider = body.expect("a close to the provider");
    assert_eq!(&to_provider[..2], &[0x88, 0x82]);

    // The provider's frame half relayed: the client's side is only ended.
    let mut s = session();
    provider(&mut s, &[0x82, 4, 1, 2]);
    let mut body = None;
    assert_eq!(s.on_shutdown(&mut body), None);
    assert!(body.is_some(), "the provider still gets its close");

    // The client's frame half relayed: the provider's side is only ended.
    let mut s = session();
    let mut chunk = Some(Bytes::from_static(&[0x82, 0x84, 9, 9, 9, 9, 1]));
    s.on_client_chunk(&mut chunk);
    let mut body = None;
    assert!(s.on_shutdown(&mut body).is_some());
    assert_eq!(body, None);
}
