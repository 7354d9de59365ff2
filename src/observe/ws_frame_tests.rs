use super::*;

/// One frame as a peer writes it (a client masks, a server does not).
fn frame(opcode: u8, fin: bool, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut f = vec![(if fin { 0x80 } else { 0 }) | opcode];
    let m = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => f.push(m | n as u8),
        n if n <= 0xffff => {
            f.push(m | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(m | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(k) => {
            f.extend_from_slice(&k);
            f.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
        }
        None => f.extend_from_slice(payload),
    }
    f
}

fn read_all(r: &mut FrameReader, wire: &[u8], step: usize) -> Vec<Vec<u8>> {
    let mut got = vec![];
    for chunk in wire.chunks(step) {
        assert_eq!(r.feed(chunk, &mut |m| got.push(m.to_vec())), None);
    }
    got
}

#[test]
fn masked_fragmented_messages_are_reassembled_at_any_chunking() {
    let big = vec![b'a'; 70_000];
    let mask = Some([1, 2, 3, 4]);
    let mut wire = frame(TEXT, false, b"{\"type\":", mask);
    wire.extend(frame(0x9, true, b"ping", mask)); // a ping between fragments
    wire.extend(frame(CONTINUATION, true, b"\"x\"}", mask));
    wire.extend(frame(BINARY, true, &big, mask));
    wire.extend(frame(TEXT, true, b"", None));
    wire.extend(frame(CLOSE, true, &1000u16.to_be_bytes(), mask));
    for step in [1, 2, 3, 7, 125, 4096, wire.len()] {
        let mut r = FrameReader::new(1 << 20, 1 << 20);
        let got = read_all(&mut r, &wire, step);
        assert_eq!(got, vec![b"{\"type\":\"x\"}".to_vec(), big.clone(), vec![]]);
        assert_eq!(r.frames, 6, "step {step}");
        assert_eq!(r.bytes, wire.len() as u64);
        assert_eq!(r.close, Some(Some(1000)));
    }
}

#[test]
fn a_message_over_the_bound_is_counted_not_kept() {
    let mut r = FrameReader::new(1 << 20, 10);
    let mut wire = frame(TEXT, true, &[b'x'; 11], None);
    wire.extend(frame(TEXT, true, b"{}", None));
    assert_eq!(read_all(&mut r, &wire, 5), vec![b"{}".to_vec()]);
    assert_eq!(r.frames, 2);
}

#[test]
fn an_oversized_frame_is_found_where_its_header_starts() {
    let mut r = FrameReader::new(100, 1000);
    let mut wire = frame(TEXT, true, b"ok", None);
    let at = wire.len();
    wire.extend(frame(BINARY, true, &[0; 101], Some([9, 9, 9, 9])));
    assert_eq!(r.feed(&wire, &mut |_| {}), Some(at));
    assert_eq!(r.frames, 1);
}

#[test]
fn close_frames_are_well_formed() {
    let mut r = FrameReader::new(100, 100);
    r.feed(&close_frame(1009, true), &mut |_| {});
    assert_eq!(r.close, Some(Some(1009)));
    let mut r = FrameReader::new(100, 100);
    r.feed(&close_frame(1001, false), &mut |_| {});
    assert_eq!(r.close, Some(Some(1001)));
}

#[test]
fn a_broken_control_frame_stops_reading_not_counting() {
    let mut r = FrameReader::new(1 << 20, 1 << 20);
    let wire = frame(CLOSE, true, &[0; 126], None);
    assert_eq!(r.feed(&wire, &mut |_| {}), None);
    r.feed(&frame(TEXT, true, b"x", None), &mut |_| {
        panic!("read after a violation")
    });
    assert_eq!(r.close, None);
}
