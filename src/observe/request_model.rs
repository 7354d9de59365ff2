//! The requested model, read from a JSON request body as it streams past.
//!
//! Hand-written because the body is forwarded chunk by chunk and never held
//! whole: serde_json needs the complete document, and the SDKs put `model`
//! after `messages`, so a prefix is not enough. This tracks only nesting and
//! strings, skipping string contents with memchr, in constant memory.

/// Longest model name kept; longer ones are not recorded.
const VALUE_CAP: usize = 256;
const KEY: &[u8] = b"model";

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Capture {
    #[default]
    Nothing,
    Key,
    Value,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum AfterKey {
    #[default]
    No,
    /// `"model"` was the key just read.
    Colon,
    /// Its `:` too: the next token is the value.
    Value,
}

#[derive(Debug, Default)]
pub struct ModelScanner {
    depth: u32,
    started: bool,
    in_string: bool,
    escaped: bool,
    expect_key: bool,
    capture: Capture,
    after: AfterKey,
    buf: Vec<u8>,
    overlong: bool,
    found: Option<String>,
    stopped: bool,
}

impl ModelScanner {
    pub fn found(&self) -> Option<&str> {
        self.found.as_deref()
    }

    pub fn take(&mut self) -> Option<String> {
        self.found.take()
    }

    /// Whether more input could still change the answer.
    pub fn active(&self) -> bool {
        !self.stopped
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        let mut i = 0;
        while i < bytes.len() && !self.stopped {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                    self.keep(&bytes[i..=i]);
                    i += 1;
                    continue;
                }
                match memchr::memchr2(b'"', b'\\', &bytes[i..]) {
                    None => {
                        self.keep(&bytes[i..]);
                        return;
                    }
                    Some(k) => {
                        self.keep(&bytes[i..i + k]);
                        i += k + 1;
                        if bytes[i - 1] == b'\\' {
                            self.escaped = true;
                            self.keep(b"\\");
                        } else {
                            self.in_string = false;
                            self.string_ended();
                        }
                    }
                }
                continue;
            }
            let c = bytes[i];
            i += 1;
            if c.is_ascii_whitespace() {
                continue;
            }
            if !self.started {
                self.started = true;
                if c != b'{' {
                    self.stopped = true;
                    return;
                }
            }
            match c {
                b'"' => {
                    self.in_string = true;
                    self.capture = if self.depth == 1 && self.expect_key {
                        Capture::Key
                    } else if self.depth == 1 && self.after == AfterKey::Value {
                        Capture::Value
                    } else {
                        Capture::Nothing
                    };
                    self.expect_key = false;
                    self.buf.clear();
                    self.overlong = false;
                }
                b'{' | b'[' => {
                    self.depth += 1;
                    self.expect_key = c == b'{' && self.depth == 1;
                    self.after = AfterKey::No;
                }
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        self.stopped = true;
                    }
                }
                b',' => {
                    self.expect_key = self.depth == 1;
                    self.after = AfterKey::No;
                }
                b':' if self.after == AfterKey::Colon => self.after = AfterKey::Value,
                _ => self.after = AfterKey::No,
            }
        }
    }

    fn keep(&mut self, bytes: &[u8]) {
        if self.capture == Capture::Nothing || self.overlong {
            return;
        }
        let cap = if self.capture == Capture::Key {
            KEY.len()
        } else {
            VALUE_CAP
        };
        if self.buf.len() + bytes.len() > cap {
            self.overlong = true;
        } else {
            self.buf.extend_from_slice(bytes);
        }
    }

    fn string_ended(&mut self) {
        match self.capture {
            Capture::Key => {
                self.after = if !self.overlong && self.buf == KEY {
                    AfterKey::Colon
                } else {
                    AfterKey::No
                };
            }
            Capture::Value => {
                self.after = AfterKey::No;
                if !self.overlong && !self.buf.contains(&b'\\') {
                    if let Ok(s) = std::str::from_utf8(&self.buf) {
                        self.found = Some(s.to_string());
                        self.stopped = true;
                    }
                }
            }
            Capture::Nothing => {}
        }
        self.capture = Capture::Nothing;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(parts: &[&[u8]]) -> Option<String> {
        let mut s = ModelScanner::default();
        parts.iter().for_each(|p| s.feed(p));
        s.take()
    }

    #[test]
    fn finds_the_top_level_model_wherever_it_is() {
        let body = br#"{"messages":[{"role":"user","content":"say \"model\": \"x\" {}","model":"inner"}],"meta":{"model":"nested"},"model" : "gpt-4o-mini","stream":true}"#;
        assert_eq!(scan(&[body]).as_deref(), Some("gpt-4o-mini"));
        for i in 0..=body.len() {
            assert_eq!(
                scan(&[&body[..i], &body[i..]]).as_deref(),
                Some("gpt-4o-mini"),
                "split at {i}"
            );
        }
        let bytes: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(scan(&bytes).as_deref(), Some("gpt-4o-mini"));
    }

    #[test]
    fn a_value_named_model_is_not_a_key() {
        assert_eq!(scan(&[br#"{"role":"model","x":1}"#]), None);
        assert_eq!(
            scan(&[br#"{"a":["model"],"model":"m"}"#]).as_deref(),
            Some("m")
        );
    }

    #[test]
    fn no_model_non_object_or_non_string_model() {
        assert_eq!(scan(&[br#"{"messages":[]}"#]), None);
        assert_eq!(scan(&[br#"["model","m"]"#]), None);
        assert_eq!(scan(&[br#"{"model":5,"x":"m"}"#]), None);
        assert_eq!(scan(&[b"not json at all"]), None);
        let long = format!(r#"{{"model":"{}"}}"#, "m".repeat(VALUE_CAP + 1));
        assert_eq!(scan(&[long.as_bytes()]), None);
    }

    #[test]
    fn stops_once_found() {
        let mut s = ModelScanner::default();
        s.feed(br#"{"model":"a","#);
        assert!(!s.active());
        s.feed(br#""model":"b"}"#);
        assert_eq!(s.found(), Some("a"));
    }
}
