//! One direction of a WebSocket session as it is relayed.

use bytes::Bytes;

use crate::observe::ws_frame::FrameReader;

/// One direction of a session: its frame reader, and the first bytes of a
/// frame header the last chunk ended in. Those are held back until the
/// header is whole, so that a frame over the limit is replaced from its
/// first byte: a header half relayed could not be followed by a close frame.
pub(super) struct Direction {
    pub(super) reader: FrameReader,
    held: Vec<u8>,
}

impl Direction {
    pub(super) fn new(reader: FrameReader) -> Direction {
        Direction {
            reader,
            held: Vec::new(),
        }
    }

    /// Whether a frame of strait's own can be added to what was relayed.
    /// A header held back is dropped by then; the relayed bytes end between
    /// frames exactly when the reader is.
    pub(super) fn at_boundary(&self) -> bool {
        !self.reader.in_payload()
    }

    /// Reads `body` and rewrites it to what is relayed now: held bytes
    /// first, a header the chunk ends in held back, nothing from a frame
    /// over the limit on. Returns whether such a frame came.
    pub(super) fn feed(
        &mut self,
        body: &mut Option<Bytes>,
        on_message: &mut dyn FnMut(&[u8]),
    ) -> bool {
        let Some(chunk) = body.as_mut() else {
            return false;
        };
        let over = self.reader.feed(chunk, on_message);
        let held = self.held.len();
        if held > 0 {
            let mut joined = std::mem::take(&mut self.held);
            joined.extend_from_slice(chunk);
            *chunk = Bytes::from(joined);
        }
        if let Some(at) = over {
            // 0 from the reader when the header began before this chunk:
            // then it began with the held bytes.
            let at = if held > 0 && at == 0 { 0 } else { held + at };
            chunk.truncate(at);
            return true;
        }
        let partial = self.reader.partial_header();
        if partial > 0 {
            self.held = chunk.split_off(chunk.len() - partial).to_vec();
        }
        false
    }
}

pub(super) fn with_close(relayed: &Bytes, close: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(relayed.len() + close.len());
    out.extend_from_slice(relayed);
    out.extend_from_slice(close);
    Bytes::from(out)
}
