//! An incremental server-sent-events reader that sees a copy of the stream.
//!
//! Events may be split anywhere across reads; lines may end in `\n`, `\r\n`
//! or `\r`; a final event without its blank line is still delivered at the
//! end. Memory is bounded: an event larger than the cap is dropped whole and
//! remembered as an overflow, which makes usage unknown but never touches
//! the stream itself.

/// Bytes one event may hold before it is given up on.
pub(crate) const EVENT_CAP: usize = 1024 * 1024;

#[derive(Debug)]
pub(crate) struct SseReader {
    /// An incomplete line carried over from the previous read.
    line: Vec<u8>,
    /// The current event's data lines, joined by `\n`.
    data: Vec<u8>,
    has_data: bool,
    /// The previous read ended in `\r`: a `\n` starting this one belongs to it.
    after_cr: bool,
    /// The current event has passed the cap and is being skipped.
    skipping: bool,
    /// The line that passed the cap is still arriving; its line ending
    /// ends it, not the event.
    skipping_line: bool,
    overflowed: bool,
    cap: usize,
}

impl Default for SseReader {
    fn default() -> Self {
        Self::with_cap(EVENT_CAP)
    }
}

impl SseReader {
    pub(crate) fn with_cap(cap: usize) -> Self {
        SseReader {
            line: Vec::new(),
            data: Vec::new(),
            has_data: false,
            after_cr: false,
            skipping: false,
            skipping_line: false,
            overflowed: false,
            cap,
        }
    }

    /// Whether some event was too large to read.
    pub(crate) fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// Feeds one read; `on_event` gets the data of each event it completes.
    pub(crate) fn feed(&mut self, mut chunk: &[u8], on_event: &mut impl FnMut(&[u8])) {
        // An empty read says nothing, and must not end a pending `\r\n`.
        if chunk.is_empty() {
            return;
        }
        if self.after_cr {
            self.after_cr = false;
            if let Some(rest) = chunk.strip_prefix(b"\n") {
                chunk = rest;
            }
        }
        while let Some(end) = memchr::memchr2(b'\n', b'\r', chunk) {
            let (line, rest) = (&chunk[..end], &chunk[end + 1..]);
            chunk = if chunk[end] == b'\r' {
                match rest.first() {
                    Some(b'\n') => &rest[1..],
                    Some(_) => rest,
                    None => {
                        self.after_cr = true;
                        rest
                    }
                }
            } else {
                rest
            };
            if std::mem::take(&mut self.skipping_line) {
                continue;
            }
            if self.line.is_empty() {
                self.line_done(line, on_event);
            } else {
                self.push_partial(line);
                // This very line passed the cap: it has ended, its event has not.
                if std::mem::take(&mut self.skipping_line) {
                    continue;
                }
                let whole = std::mem::take(&mut self.line);
                self.line_done(&whole, on_event);
                self.line = whole;
                self.line.clear();
            }
        }
        if !chunk.is_empty() {
            self.push_partial(chunk);
        }
    }

    /// The stream ended: a last event without its blank line still counts.
    pub(crate) fn finish(&mut self, on_event: &mut impl FnMut(&[u8])) {
        if !self.line.is_empty() {
            let whole = std::mem::take(&mut self.line);
            self.line_done(&whole, on_event);
        }
        self.dispatch(on_event);
    }

    fn push_partial(&mut self, bytes: &[u8]) {
        if self.skipping {
            return;
        }
        if self.line.len() + self.data.len() + bytes.len() > self.cap {
            self.skip_event();
            self.skipping_line = true;
        } else {
            self.line.extend_from_slice(bytes);
        }
    }

    fn skip_event(&mut self) {
        self.skipping = true;
        self.overflowed = true;
        self.line = Vec::new();
        self.data = Vec::new();
        self.has_data = false;
    }

    fn line_done(&mut self, line: &[u8], on_event: &mut impl FnMut(&[u8])) {
        if line.is_empty() {
            if self.skipping {
                self.skipping = false;
            } else {
                self.dispatch(on_event);
            }
            return;
        }
        if self.skipping {
            return;
        }
        // Only `data` matters here; `event`, `id`, `retry` and comments are ignored.
        let value = match line.strip_prefix(b"data") {
            Some([]) => &[][..],
            Some([b':', rest @ ..]) => rest.strip_prefix(b" ").unwrap_or(rest),
            _ => return,
        };
        if self.data.len() + value.len() + 1 > self.cap {
            self.skip_event();
            return;
        }
        if self.has_data {
            self.data.push(b'\n');
        }
        self.data.extend_from_slice(value);
        self.has_data = true;
    }

    fn dispatch(&mut self, on_event: &mut impl FnMut(&[u8])) {
        if self.has_data {
            on_event(&self.data);
        }
        self.data.clear();
        self.has_data = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(reader: &mut SseReader, chunks: &[&[u8]], finish: bool) -> Vec<String> {
        let mut out = Vec::new();
        let mut push = |d: &[u8]| out.push(String::from_utf8_lossy(d).into_owned());
        for c in chunks {
            reader.feed(c, &mut push);
        }
        if finish {
            reader.finish(&mut push);
        }
        out
    }

    const STREAM: &[u8] = b": keep-alive\r\nevent: a\r\ndata: {\"x\":1}\r\n\r\ndata:{\"y\":2}\n\nid: 7\ndata: l1\ndata: l2\r\rdata: [DONE]\n\n";

    #[test]
    fn every_line_ending_and_field() {
        let got = events(&mut SseReader::default(), &[STREAM], true);
        assert_eq!(got, ["{\"x\":1}", "{\"y\":2}", "l1\nl2", "[DONE]"]);
    }

    #[test]
    fn split_at_every_byte_boundary() {
        let whole = events(&mut SseReader::default(), &[STREAM], true);
        for i in 0..=STREAM.len() {
            for j in i..=STREAM.len() {
                let parts = [&STREAM[..i], &STREAM[i..j], &STREAM[j..]];
                assert_eq!(
                    events(&mut SseReader::default(), &parts, true),
                    whole,
                    "split at {i}/{j}"
                );
            }
        }
    }

    #[test]
    fn last_event_without_blank_line() {
        let got = events(&mut SseReader::default(), &[b"data: a\n\ndata: b"], true);
        assert_eq!(got, ["a", "b"]);
        let got = events(
            &mut SseReader::default(),
            &[b"data: a\n\ndata: b\r\n"],
            true,
        );
        assert_eq!(got, ["a", "b"]);
    }

    #[test]
    fn nothing_is_dispatched_before_the_event_ends() {
        assert_eq!(
            events(&mut SseReader::default(), &[b"data: a\n"], false),
            Vec::<String>::new()
        );
    }

    #[test]
    fn an_event_over_the_cap_is_skipped_and_remembered() {
        let mut r = SseReader::with_cap(16);
        let got = events(
            &mut r,
            &[
                b"data: small\n\ndata: 0123456789",
                b"0123456789\n\ndata: next\n\n",
            ],
            true,
        );
        assert_eq!(got, ["small", "next"]);
        assert!(r.overflowed());
        // Many data lines that are small one by one are capped together.
        let mut r = SseReader::with_cap(16);
        let got = events(
            &mut r,
            &[b"data: 012345\ndata: 012345\ndata: 012345\n\n"],
            true,
        );
        assert!(got.is_empty() && r.overflowed());
    }

    #[test]
    fn empty_reads_change_nothing() {
        let got = events(
            &mut SseReader::default(),
            &[b"data: l1\r", b"", b"\ndata: l2\r\n", b"", b"\r\n"],
            true,
        );
        assert_eq!(got, ["l1\nl2"]);
    }

    #[test]
    fn the_end_of_an_oversized_line_does_not_end_its_event() {
        let mut r = SseReader::with_cap(16);
        let got = events(
            &mut r,
            &[
                b"data: 0123456789ABCDEFGHIJ",
                b"\ndata: tail\n\ndata: next\n\n",
            ],
            true,
        );
        assert_eq!(got, ["next"]);
        assert!(r.overflowed());
        // The same, with the oversized line completed within one read.
        let mut r = SseReader::with_cap(16);
        let got = events(
            &mut r,
            &[
                b"data: 0123456789",
                b"ABCDEFGHIJ\ndata: tail\n\ndata: next\n\n",
            ],
            true,
        );
        assert_eq!(got, ["next"]);
    }

    #[test]
    fn memory_stays_bounded_on_an_endless_line() {
        let mut r = SseReader::with_cap(1024);
        let chunk = [b'x'; 4096];
        for _ in 0..100 {
            r.feed(&chunk, &mut |_| panic!("no event"));
        }
        assert!(r.line.capacity() <= 1024 && r.overflowed());
    }
}
