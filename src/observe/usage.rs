//! Token usage as each provider family reports it, normalised to
//! OpenTelemetry GenAI semantics: `input` counts every prompt token (cached
//! ones included) and `output` every generated token (reasoning included).
//!
//! Documents are deserialised into small typed views rather than
//! `serde_json::Value`: fields strait does not read are skipped without
//! being built, which matters for large embedding bodies and busy streams.

use serde::Deserialize;

/// The wire format a response is in, which decides where usage sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenAI and Azure OpenAI: chat completions, embeddings, Responses API.
    OpenAi,
    /// Anthropic Messages, also on Azure's `/anthropic/` route.
    Anthropic,
    /// Gemini API and Vertex AI `usageMetadata`.
    Gemini,
}

/// Normalised counts, as logged and exported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
    pub cached: u64,
    pub cache_creation: u64,
    pub reasoning: u64,
}

/// The provider's own numbers, each as last reported. Kept raw until the
/// end because Anthropic streams split them across events.
#[derive(Debug, Default, Clone, Copy)]
struct Raw {
    input: Option<u64>,
    output: Option<u64>,
    cached: Option<u64>,
    cache_creation: Option<u64>,
    reasoning: Option<u64>,
    tool_prompt: Option<u64>,
}

/// What one response has said about itself so far.
#[derive(Debug, Clone)]
pub(crate) struct Usage {
    format: Format,
    raw: Raw,
    seen: bool,
    pub(crate) model: Option<String>,
}

impl Usage {
    pub(crate) fn new(format: Format) -> Self {
        Usage {
            format,
            raw: Raw::default(),
            seen: false,
            model: None,
        }
    }

    /// Whether any usage was reported.
    pub(crate) fn seen(&self) -> bool {
        self.seen
    }

    pub(crate) fn tokens(&self) -> Option<Tokens> {
        if !self.seen {
            return None;
        }
        let r = &self.raw;
        let n = |v: Option<u64>| v.unwrap_or(0);
        Some(match self.format {
            Format::OpenAi => Tokens {
                input: n(r.input),
                output: n(r.output),
                cached: n(r.cached),
                cache_creation: 0,
                reasoning: n(r.reasoning),
            },
            // Anthropic's input_tokens leaves out cache reads and writes.
            // Sums saturate: a provider (or a proxy in between) may send any
            // number, and a bad count must not panic or wrap.
            Format::Anthropic => Tokens {
                input: n(r.input)
                    .saturating_add(n(r.cached))
                    .saturating_add(n(r.cache_creation)),
                output: n(r.output),
                cached: n(r.cached),
                cache_creation: n(r.cache_creation),
                reasoning: 0,
            },
            // Gemini's candidates leave out thoughts, and its prompt count
            // leaves out the tool-use prompt.
            Format::Gemini => Tokens {
                input: n(r.input).saturating_add(n(r.tool_prompt)),
                output: n(r.output).saturating_add(n(r.reasoning)),
                cached: n(r.cached),
                cache_creation: 0,
                reasoning: n(r.reasoning),
            },
        })
    }

    /// Whether later reports replace earlier ones (OpenAI, Gemini), so only
    /// the last report of a stream needs reading; Anthropic's add up.
    pub(crate) fn last_wins(&self) -> bool {
        self.format != Format::Anthropic
    }

    /// Reads one JSON document: a whole body or one event's data. Returns
    /// false when it is not JSON of the expected shape.
    pub(crate) fn observe(&mut self, doc: &[u8]) -> bool {
        match self.format {
            Format::OpenAi => match serde_json::from_slice::<OpenAiDoc>(doc) {
                Ok(d) => {
                    self.openai(d);
                    true
                }
                Err(_) => false,
            },
            Format::Anthropic => match serde_json::from_slice::<AnthropicDoc>(doc) {
                Ok(d) => {
                    self.anthropic(d);
                    true
                }
                Err(_) => false,
            },
            Format::Gemini => self.gemini_body(doc),
        }
    }

    fn set_model(&mut self, model: Option<String>) {
        if self.model.is_none() {
            self.model = model.filter(|m| !m.is_empty());
        }
    }

    fn openai(&mut self, d: OpenAiDoc) {
        self.set_model(d.model);
        if let Some(u) = d.usage {
            self.seen = true;
            // Chat and embeddings say prompt/completion; Responses says input/output.
            self.raw = Raw {
                input: u.prompt_tokens.or(u.input_tokens),
                output: u.completion_tokens.or(u.output_tokens),
                cached: u
                    .prompt_tokens_details
                    .or(u.input_tokens_details)
                    .and_then(|d| d.cached_tokens),
                reasoning: u
                    .completion_tokens_details
                    .or(u.output_tokens_details)
                    .and_then(|d| d.reasoning_tokens),
                ..Raw::default()
            };
        }
        // Responses API stream events wrap the response object.
        if let Some(inner) = d.response {
            self.openai(*inner);
        }
    }

    fn anthropic(&mut self, d: AnthropicDoc) {
        self.set_model(d.model);
        let mut usage = d.usage;
        // message_start nests the message; message_delta carries usage at the top.
        if let Some(m) = d.message {
            self.set_model(m.model);
            usage = usage.or(m.usage);
        }
        if let Some(u) = usage {
            self.seen = true;
            // Counts are cumulative: a later event overrides what it names.
            let r = &mut self.raw;
            r.input = u.input_tokens.or(r.input);
            r.output = u.output_tokens.or(r.output);
            r.cached = u.cache_read_input_tokens.or(r.cached);
            r.cache_creation = u.cache_creation_input_tokens.or(r.cache_creation);
        }
    }

    /// A Gemini body is one object, or (a stream without `alt=sse`) an array.
    fn gemini_body(&mut self, doc: &[u8]) -> bool {
        let first = doc.iter().find(|b| !b.is_ascii_whitespace());
        if first == Some(&b'[') {
            match serde_json::from_slice::<Vec<GeminiDoc>>(doc) {
                Ok(docs) => {
                    docs.into_iter().for_each(|d| self.gemini(d));
                    true
                }
                Err(_) => false,
            }
        } else {
            match serde_json::from_slice::<GeminiDoc>(doc) {
                Ok(d) => {
                    self.gemini(d);
                    true
                }
                Err(_) => false,
            }
        }
    }

    fn gemini(&mut self, d: GeminiDoc) {
        self.set_model(d.model_version);
        if let Some(u) = d.usage_metadata {
            self.seen = true;
            // Streams repeat running totals; the last chunk has the final ones.
            self.raw = Raw {
                input: u.prompt_token_count,
                output: u.candidates_token_count.or(u.response_token_count),
                cached: u.cached_content_token_count,
                reasoning: u.thoughts_token_count,
                tool_prompt: u.tool_use_prompt_token_count,
                ..Raw::default()
            };
        }
    }
}

/// Whether a streamed event carries a usage object (`"usage": {…}` or
/// `"usageMetadata": {…}`), not `"usage": null`. A byte scan, cheap enough
/// for every event; the JSON is parsed only when this says yes.
pub(crate) fn carries_usage(event: &[u8]) -> bool {
    memchr::memmem::find_iter(event, b"\"usage").any(|i| {
        let rest = &event[i + 6..];
        let Some(rest) = rest
            .strip_prefix(b"\"")
            .or_else(|| rest.strip_prefix(b"Metadata\""))
        else {
            return false;
        };
        let rest = rest.trim_ascii_start();
        rest.strip_prefix(b":")
            .is_some_and(|v| v.trim_ascii_start().first() == Some(&b'{'))
    })
}

#[derive(Deserialize)]
struct OpenAiDoc {
    model: Option<String>,
    usage: Option<OpenAiUsage>,
    response: Option<Box<OpenAiDoc>>,
}

#[derive(Deserialize)]
struct OpenAiUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    prompt_tokens_details: Option<OpenAiDetails>,
    completion_tokens_details: Option<OpenAiDetails>,
    /// Realtime's `response.done` says `input_token_details`.
    #[serde(alias = "input_token_details")]
    input_tokens_details: Option<OpenAiDetails>,
    output_tokens_details: Option<OpenAiDetails>,
}

#[derive(Deserialize)]
struct OpenAiDetails {
    cached_tokens: Option<u64>,
    reasoning_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct AnthropicDoc {
    model: Option<String>,
    usage: Option<AnthropicUsage>,
    message: Option<AnthropicMessage>,
}

#[derive(Deserialize)]
struct AnthropicMessage {
    model: Option<String>,
    usage: Option<AnthropicUsage>,
}

#[derive(Deserialize)]
struct AnthropicUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GeminiDoc {
    model_version: Option<String>,
    usage_metadata: Option<GeminiUsage>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GeminiUsage {
    prompt_token_count: Option<u64>,
    candidates_token_count: Option<u64>,
    /// The Gemini API's Live sessions name their output this way.
    response_token_count: Option<u64>,
    cached_content_token_count: Option<u64>,
    thoughts_token_count: Option<u64>,
    tool_use_prompt_token_count: Option<u64>,
}
