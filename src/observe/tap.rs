//! Reads token usage from a copy of the response as it passes. Nothing here
//! can change, delay or stop what the client receives: every failure only
//! makes usage unknown.

use bytes::Bytes;
use pingora::http::ResponseHeader;
use serde::Serialize;

use super::sse::SseReader;
use super::usage::{Format, Tokens, Usage};

/// A JSON body larger than this is passed through and logged without usage.
pub const JSON_CAP: usize = 4 * 1024 * 1024;

/// What the log says about a response's usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UsageState {
    /// The provider reported usage in a complete response.
    Reported,
    /// Usage was reported, but the response did not complete.
    Partial,
    /// The response was read whole and carries no usage.
    Absent,
    /// The response could not be read: too large, compressed, malformed.
    Unknown,
}

#[derive(Debug)]
enum Mode {
    /// Not JSON or SSE (or a HEAD): usage does not apply.
    Off,
    /// Compressed or otherwise unreadable.
    Unreadable,
    /// Chunks kept by reference (no copy) and parsed once the response is over.
    Json {
        chunks: Vec<Bytes>,
        len: usize,
    },
    TooLarge,
    Sse(Box<SseReader>),
}

#[derive(Debug)]
pub struct ResponseTap {
    mode: Mode,
    usage: Usage,
    malformed: bool,
    ended: bool,
}

impl ResponseTap {
    pub fn new(format: Format, resp: &ResponseHeader) -> Self {
        let header = |name| {
            resp.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_ascii_lowercase()
        };
        let content_type = header(http::header::CONTENT_TYPE);
        let encoding = header(http::header::CONTENT_ENCODING);
        let mode = if content_type.starts_with("text/event-stream") {
            Mode::Sse(Box::default())
        } else if content_type.starts_with("application/json") {
            Mode::Json {
                chunks: Vec::new(),
                len: 0,
            }
        } else {
            Mode::Off
        };
        // strait asks for identity; a provider that compresses anyway is
        // passed through untouched and simply not read.
        let mode = match (&mode, encoding.as_str()) {
            (Mode::Off, _) | (_, "" | "identity") => mode,
            _ => Mode::Unreadable,
        };
        ResponseTap {
            mode,
            usage: Usage::new(format),
            malformed: false,
            ended: false,
        }
    }

    pub fn feed(&mut self, chunk: &Bytes) {
        match &mut self.mode {
            Mode::Json { chunks, len } => {
                *len += chunk.len();
                if *len > JSON_CAP {
                    self.mode = Mode::TooLarge;
                } else {
                    chunks.push(chunk.clone());
                }
            }
            Mode::Sse(reader) => {
                let usage = &mut self.usage;
                let malformed = &mut self.malformed;
                reader.feed(chunk, &mut |event| read_event(usage, malformed, event));
            }
            Mode::Off | Mode::Unreadable | Mode::TooLarge => {}
        }
    }

    pub fn ended(&self) -> bool {
        self.ended
    }

    /// The upstream body ended normally.
    pub fn end(&mut self) {
        self.ended = true;
        if let Mode::Sse(reader) = &mut self.mode {
            let usage = &mut self.usage;
            let malformed = &mut self.malformed;
            reader.finish(&mut |event| read_event(usage, malformed, event));
        }
    }

    /// Settles the account; JSON bodies are parsed here, after the client
    /// has been sent everything.
    pub fn finish(&mut self) -> Outcome {
        if let Mode::Json { chunks, .. } = &mut self.mode {
            if self.ended {
                let body = join(std::mem::take(chunks));
                if !body.is_empty() && !self.usage.observe(&body) {
                    self.malformed = true;
                }
            }
        }
        let state = match &self.mode {
            Mode::Off => None,
            Mode::Unreadable | Mode::TooLarge => Some(UsageState::Unknown),
            Mode::Sse(r) if r.overflowed() => Some(UsageState::Unknown),
            _ if self.usage.seen() && self.ended => Some(UsageState::Reported),
            _ if self.usage.seen() => Some(UsageState::Partial),
            _ if !self.ended || self.malformed => Some(UsageState::Unknown),
            _ => Some(UsageState::Absent),
        };
        let tokens = match state {
            Some(UsageState::Reported | UsageState::Partial) => self.usage.tokens(),
            _ => None,
        };
        Outcome {
            state,
            tokens,
            model: self.usage.model.take(),
        }
    }
}

fn read_event(usage: &mut Usage, malformed: &mut bool, event: &[u8]) {
    // OpenAI ends streams with a literal `[DONE]`.
    if event == b"[DONE]" || !usage.wants(event) {
        return;
    }
    if !usage.observe(event) {
        *malformed = true;
    }
}

fn join(chunks: Vec<Bytes>) -> Bytes {
    match chunks.len() {
        0 => Bytes::new(),
        1 => chunks.into_iter().next().unwrap_or_default(),
        _ => Bytes::from(chunks.concat()),
    }
}

/// What a finished response said about its usage.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Outcome {
    /// `None` when usage does not apply to this response.
    pub state: Option<UsageState>,
    pub tokens: Option<Tokens>,
    /// As the provider reported it.
    pub model: Option<String>,
}
