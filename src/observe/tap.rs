//! Reads token usage from a copy of the response as it passes. Nothing here
//! can change, delay or stop what the client receives: every failure only
//! makes usage unknown.

use bytes::Bytes;
use pingora::http::ResponseHeader;
use serde::Serialize;

use super::sse::SseReader;
use super::usage::{carries_usage, Format, Tokens, Usage};

/// A JSON body larger than this is passed through and logged without usage.
pub(crate) const JSON_CAP: usize = 4 * 1024 * 1024;

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
    events: Events,
    ended: bool,
}

/// What the SSE events have said so far.
#[derive(Debug)]
struct Events {
    usage: Usage,
    malformed: bool,
    /// Where usage is replaced by each report, the last report, read at the
    /// end instead of parsing every chunk's running totals.
    latest: Vec<u8>,
    /// Events parsed whole while the model is still unknown.
    model_tries: u8,
}

/// Events read whole to learn the model, at most.
const MODEL_TRIES: u8 = 4;

impl Events {
    fn read(&mut self, event: &[u8]) {
        // OpenAI ends streams with a literal `[DONE]`.
        if event == b"[DONE]" {
            return;
        }
        if self.usage.model.is_none() && self.model_tries < MODEL_TRIES {
            self.model_tries += 1;
            self.parse(event);
            return;
        }
        if !carries_usage(event) {
            return;
        }
        if self.usage.last_wins() {
            self.latest.clear();
            self.latest.extend_from_slice(event);
        } else {
            self.parse(event);
        }
    }

    fn parse(&mut self, doc: &[u8]) {
        if !self.usage.observe(doc) {
            self.malformed = true;
        }
    }

    /// Reads the last report kept for the end.
    fn settle(&mut self) {
        let latest = std::mem::take(&mut self.latest);
        if !latest.is_empty() {
            self.parse(&latest);
        }
    }
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
            events: Events {
                usage: Usage::new(format),
                malformed: false,
                latest: Vec::new(),
                model_tries: 0,
            },
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
                let events = &mut self.events;
                reader.feed(chunk, &mut |event| events.read(event));
            }
            Mode::Off | Mode::Unreadable | Mode::TooLarge => {}
        }
    }

    pub(crate) fn ended(&self) -> bool {
        self.ended
    }

    /// The upstream body ended normally.
    pub fn end(&mut self) {
        self.ended = true;
        if let Mode::Sse(reader) = &mut self.mode {
            let events = &mut self.events;
            reader.finish(&mut |event| events.read(event));
        }
    }

    /// Settles the account; JSON bodies are parsed here, after the client
    /// has been sent everything.
    pub fn finish(&mut self) -> Outcome {
        if let Mode::Json { chunks, .. } = &mut self.mode {
            if self.ended {
                let body = join(std::mem::take(chunks));
                if !body.is_empty() {
                    self.events.parse(&body);
                }
            }
        }
        // A stream cut short still reports what its last complete event said.
        self.events.settle();
        let e = &mut self.events;
        let state = match &self.mode {
            Mode::Off => None,
            Mode::Unreadable | Mode::TooLarge => Some(UsageState::Unknown),
            Mode::Sse(r) if r.overflowed() => Some(UsageState::Unknown),
            _ if e.usage.seen() && self.ended => Some(UsageState::Reported),
            _ if e.usage.seen() => Some(UsageState::Partial),
            _ if !self.ended || e.malformed => Some(UsageState::Unknown),
            _ => Some(UsageState::Absent),
        };
        let tokens = match state {
            Some(UsageState::Reported | UsageState::Partial) => e.usage.tokens(),
            _ => None,
        };
        Outcome {
            state,
            tokens,
            model: e.usage.model.take(),
        }
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
