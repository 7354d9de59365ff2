//! A passive reader of WebSocket frames (RFC 6455 §5.2) over a copy of one
//! direction's bytes: it counts frames, finds close codes and oversized
//! frames, and hands complete data messages (reassembled from fragments,
//! unmasked) to its caller, up to a bound.
//!
//! Written by hand rather than with a WebSocket crate because strait never
//! speaks the protocol: it only reads headers (at most 14 bytes) and XORs
//! payloads with their mask, and a crate's codec would want to own the
//! connection and re-frame what it relays, which strait must not do.

/// Opcodes (§5.2): continuation, text, binary, close.
const CONTINUATION: u8 = 0x0;
const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CLOSE: u8 = 0x8;

/// What one direction has shown so far.
pub(crate) struct FrameReader {
    head: [u8; 14],
    head_len: usize,
    /// Inside a frame's payload: its opcode, FIN bit and mask.
    frame: Option<Frame>,
    /// The data message being reassembled; `None` once it outgrew `max_message`.
    message: Option<Vec<u8>>,
    control: Vec<u8>,
    max_frame: u64,
    max_message: usize,
    /// A protocol violation was seen: counting bytes only from here.
    lost: bool,
    pub(crate) frames: u64,
    pub(crate) bytes: u64,
    /// A close frame was seen, with its code when it had one.
    pub(crate) close: Option<Option<u16>>,
}

struct Frame {
    opcode: u8,
    fin: bool,
    mask: Option<[u8; 4]>,
    /// Payload bytes read so far, for the mask's position.
    read: u64,
    len: u64,
}

impl FrameReader {
    pub(crate) fn new(max_frame: u64, max_message: usize) -> FrameReader {
        FrameReader {
            head: [0; 14],
            head_len: 0,
            frame: None,
            message: Some(Vec::new()),
            control: Vec::new(),
            max_frame,
            max_message,
            lost: false,
            frames: 0,
            bytes: 0,
            close: None,
        }
    }

    /// Reads `chunk`; each complete data message goes to `on_message`.
    /// Returns the offset in `chunk` of a frame header that declares more
    /// than the frame limit: nothing from there on should be relayed.
    pub(crate) fn feed(
        &mut self,
        chunk: &[u8],
        on_message: &mut dyn FnMut(&[u8]),
    ) -> Option<usize> {
        self.bytes += chunk.len() as u64;
        let mut i = 0;
        while i < chunk.len() && !self.lost {
            if let Some(frame) = self.frame.as_mut() {
                let n = (frame.len - frame.read).min((chunk.len() - i) as u64) as usize;
                self.payload(&chunk[i..i + n]);
                i += n;
                self.end_frame_if_done(on_message);
                continue;
            }
            self.head[self.head_len] = chunk[i];
            self.head_len += 1;
            i += 1;
            let Some(need) = header_len(&self.head[..self.head_len]) else {
                continue;
            };
            if self.head_len < need {
                continue;
            }
            let (frame, len) = parse_header(&self.head[..need]);
            self.head_len = 0;
            if len > self.max_frame {
                // Where the header began; 0 when it began in an earlier
                // chunk (that part is relayed already, rare enough to accept).
                self.lost = true;
                return Some(i.saturating_sub(need));
            }
            let control = frame.opcode & 0x8 != 0;
            if control && (len > 125 || !frame.fin) {
                self.lost = true;
                return None;
            }
            self.control.clear();
            self.frame = Some(frame);
            self.end_frame_if_done(on_message);
        }
        None
    }

    /// Inside a frame's payload (or lost track of the frames): bytes added
    /// now would be read as part of a payload.
    pub(crate) fn in_payload(&self) -> bool {
        self.lost || self.frame.is_some()
    }

    /// The bytes of a frame header the last chunk ended inside of.
    pub(crate) fn partial_header(&self) -> usize {
        if self.lost {
            0
        } else {
            self.head_len
        }
    }

    fn payload(&mut self, bytes: &[u8]) {
        let Some(frame) = self.frame.as_mut() else {
            return;
        };
        let target = match frame.opcode {
            CLOSE => Some(&mut self.control),
            TEXT | BINARY | CONTINUATION => match self.message.as_mut() {
                Some(m) if m.len() + bytes.len() <= self.max_message => Some(m),
                Some(_) => {
                    self.message = None;
                    None
                }
                None => None,
            },
            _ => None,
        };
        if let Some(target) = target {
            let start = target.len();
            target.extend_from_slice(bytes);
            if let Some(mask) = frame.mask {
                for (j, b) in target[start..].iter_mut().enumerate() {
                    *b ^= mask[((frame.read + j as u64) % 4) as usize];
                }
            }
        }
        frame.read += bytes.len() as u64;
    }

    fn end_frame_if_done(&mut self, on_message: &mut dyn FnMut(&[u8])) {
        let Some(frame) = self.frame.as_ref().filter(|f| f.read == f.len) else {
            return;
        };
        self.frames += 1;
        match frame.opcode {
            CLOSE => {
                let code = (self.control.len() >= 2)
                    .then(|| u16::from_be_bytes([self.control[0], self.control[1]]));
                self.close.get_or_insert(code);
            }
            TEXT | BINARY | CONTINUATION if frame.fin => {
                if let Some(m) = self.message.as_ref() {
                    on_message(m);
                }
                self.message = Some(Vec::new());
            }
            _ => {}
        }
        self.frame = None;
    }
}

/// The length of a header from its first bytes, once they tell.
fn header_len(head: &[u8]) -> Option<usize> {
    let b1 = *head.get(1)?;
    let ext = match b1 & 0x7f {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let mask = if b1 & 0x80 != 0 { 4 } else { 0 };
    Some(2 + ext + mask)
}

fn parse_header(head: &[u8]) -> (Frame, u64) {
    let (b0, b1) = (head[0], head[1]);
    let (len, at) = match b1 & 0x7f {
        126 => (u64::from(u16::from_be_bytes([head[2], head[3]])), 4),
        127 => {
            let mut n = [0; 8];
            n.copy_from_slice(&head[2..10]);
            (u64::from_be_bytes(n), 10)
        }
        n => (u64::from(n), 2),
    };
    let mask = (b1 & 0x80 != 0).then(|| [head[at], head[at + 1], head[at + 2], head[at + 3]]);
    let frame = Frame {
        opcode: b0 & 0x0f,
        fin: b0 & 0x80 != 0,
        mask,
        read: 0,
        len,
    };
    (frame, len)
}

/// A close frame with `code`, masked (with a random key) when it goes to
/// the provider, as a client's frames must be.
pub(crate) fn close_frame(code: u16, masked: bool) -> Vec<u8> {
    let payload = code.to_be_bytes();
    if !masked {
        return vec![0x80 | CLOSE, 2, payload[0], payload[1]];
    }
    let mask: [u8; 4] = rand::random();
    let mut f = vec![0x80 | CLOSE, 0x80 | 2];
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

#[cfg(test)]
#[path = "ws_frame_tests.rs"]
mod tests;
