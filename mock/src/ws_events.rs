//! The event sequences of each WebSocket protocol, as the providers send them:
//! OpenAI Realtime (also Azure's), the Responses API in WebSocket mode, and
//! Gemini Live (Gemini API and Vertex, which differ in how they name output
//! tokens). Every response ends with the flavor's usage ([`crate::Usage`]).

use serde_json::{json, Value};

use crate::{delta_text, Flavor, DEFAULT_EVENTS};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Realtime,
    Responses,
    GeminiLive,
    VertexLive,
}

impl Kind {
    pub(crate) fn of(flavor: Flavor, path: &str) -> Option<Kind> {
        let gemini_live = |p: &str| {
            ["v1", "v1beta", "v1alpha"].iter().any(|v| {
                p == format!(
                    "/ws/google.ai.generativelanguage.{v}.GenerativeService.BidiGenerateContent"
                )
            })
        };
        Some(match (flavor, path) {
            (Flavor::OpenAi, "/v1/realtime") => Kind::Realtime,
            (Flavor::OpenAi, "/v1/responses") => Kind::Responses,
            (Flavor::Azure, "/openai/realtime" | "/openai/v1/realtime") => Kind::Realtime,
            (
                Flavor::Gemini,
                "/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent",
            ) => Kind::VertexLive,
            (Flavor::Gemini, p) if gemini_live(p) => Kind::GeminiLive,
            _ => return None,
        })
    }
}

/// One session's state: its ids and what the client configured.
pub(crate) struct Script {
    kind: Kind,
    flavor: Flavor,
    model: String,
    seq: u64,
    responses: u64,
    events: u64,
}

impl Script {
    pub(crate) fn new(kind: Kind, flavor: Flavor, model: Option<String>, seq: u64) -> Script {
        Script {
            kind,
            flavor,
            model: model.unwrap_or_else(|| "mock-model".into()),
            seq,
            responses: 0,
            events: 0,
        }
    }

    /// Gemini Live sends its JSON in binary frames; OpenAI in text frames.
    pub(crate) fn binary(&self) -> bool {
        matches!(self.kind, Kind::GeminiLive | Kind::VertexLive)
    }

    fn event_id(&mut self) -> String {
        self.events += 1;
        format!("event_mock{:04}{:04}", self.seq, self.events)
    }

    /// What the server sends first, unasked.
    pub(crate) fn opening(&mut self) -> Vec<String> {
        match self.kind {
            Kind::Realtime => {
                let id = self.event_id();
                vec![json!({
                    "type": "session.created", "event_id": id,
                    "session": self.session(json!({})),
                })
                .to_string()]
            }
            _ => vec![],
        }
    }

    fn session(&self, configured: Value) -> Value {
        let mut s = json!({
            "id": format!("sess_mock{:06}", self.seq), "object": "realtime.session",
            "type": "realtime", "model": self.model, "output_modalities": ["text"],
        });
        if let (Some(s), Some(c)) = (s.as_object_mut(), configured.as_object()) {
            for (k, v) in c {
                s.insert(k.clone(), v.clone());
            }
        }
        s
    }

    /// The events answering one client message.
    pub(crate) fn answer(&mut self, doc: &Value) -> Vec<String> {
        match self.kind {
            Kind::Realtime => self.realtime(doc),
            Kind::Responses => self.responses(doc),
            Kind::GeminiLive | Kind::VertexLive => self.live(doc),
        }
    }

    fn realtime(&mut self, doc: &Value) -> Vec<String> {
        let mut out = vec![];
        match doc["type"].as_str() {
            Some("session.update") => {
                let session = self.session(doc["session"].clone());
                let id = self.event_id();
                out.push(json!({"type": "session.updated", "event_id": id, "session": session}));
            }
            Some("conversation.item.create") => {
                let id = self.event_id();
                out.push(json!({
                    "type": "conversation.item.added", "event_id": id,
                    "previous_item_id": null, "item": doc["item"],
                }));
            }
            Some("response.create") => {
                self.responses += 1;
                let rid = format!("resp_mock{:06}{}", self.seq, self.responses);
                let response = |status: &str, usage: Value| {
                    json!({
                        "id": rid, "object": "realtime.response", "status": status,
                        "output": [], "output_modalities": ["text"], "usage": usage,
                    })
                };
                let id = self.event_id();
                out.push(json!({"type": "response.created", "event_id": id,
                    "response": response("in_progress", Value::Null)}));
                for i in 0..DEFAULT_EVENTS {
                    let id = self.event_id();
                    out.push(json!({
                        "type": "response.output_text.delta", "event_id": id,
                        "response_id": rid, "item_id": "item_mock", "output_index": 0,
                        "content_index": 0, "delta": delta_text(i),
                    }));
                }
                let u = self.flavor.usage();
                let usage = json!({
                    "total_tokens": u.total, "input_tokens": u.input, "output_tokens": u.output,
                    "input_token_details": {"cached_tokens": u.cached, "text_tokens": u.input, "audio_tokens": 0},
                    "output_token_details": {"text_tokens": u.output, "audio_tokens": 0},
                });
                let id = self.event_id();
                out.push(json!({"type": "response.done", "event_id": id,
                    "response": response("completed", usage)}));
            }
            _ => {}
        }
        out.into_iter().map(|v| v.to_string()).collect()
    }

    fn responses(&mut self, doc: &Value) -> Vec<String> {
        if doc["type"] != "response.create" {
            return vec![];
        }
        self.responses += 1;
        let model = doc["model"].as_str().unwrap_or(&self.model).to_owned();
        let rid = format!("resp_mock{:06}{}", self.seq, self.responses);
        let response = |status: &str, usage: Value| {
            json!({
                "id": rid, "object": "response", "created_at": crate::call::CREATED,
                "status": status, "model": model, "output": [], "usage": usage,
            })
        };
        let mut out = vec![json!({"type": "response.created", "sequence_number": 0,
                "response": response("in_progress", Value::Null)})];
        for i in 0..DEFAULT_EVENTS {
            out.push(json!({
                "type": "response.output_text.delta", "sequence_number": i + 1,
                "item_id": "msg_mock", "output_index": 0, "content_index": 0,
                "delta": delta_text(i),
            }));
        }
        let u = self.flavor.usage();
        let usage = json!({
            "input_tokens": u.input, "input_tokens_details": {"cached_tokens": u.cached},
            "output_tokens": u.output, "output_tokens_details": {"reasoning_tokens": u.reasoning},
            "total_tokens": u.total,
        });
        out.push(
            json!({"type": "response.completed", "sequence_number": DEFAULT_EVENTS + 1,
            "response": response("completed", usage)}),
        );
        out.into_iter().map(|v| v.to_string()).collect()
    }

    fn live(&mut self, doc: &Value) -> Vec<String> {
        if doc.get("setup").is_some() {
            return vec![json!({"setupComplete": {}}).to_string()];
        }
        // Protobuf JSON: a field may be named in lowerCamelCase or as in the
        // .proto, and google-genai sends `client_content` / `realtime_input`.
        let has = |camel: &str, proto: &str| doc.get(camel).or_else(|| doc.get(proto)).is_some();
        if !has("clientContent", "client_content") && !has("realtimeInput", "realtime_input") {
            return vec![];
        }
        let mut out: Vec<Value> = (0..DEFAULT_EVENTS)
            .map(|i| json!({"serverContent": {"modelTurn": {"parts": [{"text": delta_text(i)}]}}}))
            .collect();
        let u = self.flavor.usage();
        // The Gemini API's Live sessions name output `responseTokenCount`;
        // Vertex's keep `candidatesTokenCount`.
        let output_name = match self.kind {
            Kind::VertexLive => "candidatesTokenCount",
            _ => "responseTokenCount",
        };
        let mut usage = json!({
            "promptTokenCount": u.input, "cachedContentTokenCount": u.cached,
            "thoughtsTokenCount": u.reasoning, "totalTokenCount": u.total,
        });
        usage[output_name] = json!(u.output);
        out.push(json!({"serverContent": {"generationComplete": true}}));
        out.push(json!({"serverContent": {"turnComplete": true}, "usageMetadata": usage}));
        out.into_iter().map(|v| v.to_string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_answers_a_turn_named_either_way() {
        for turn in ["clientContent", "client_content"] {
            let mut s = Script::new(Kind::GeminiLive, Flavor::Gemini, None, 1);
            let setup = s.answer(&json!({"setup": {"model": "models/m"}}));
            assert_eq!(setup, [r#"{"setupComplete":{}}"#]);
            let events = s.answer(&json!({turn: {"turns": [], "turnComplete": true}}));
            assert!(
                events.last().unwrap().contains("usageMetadata"),
                "{turn}: {events:?}"
            );
        }
    }
}
