//! The event sequences of each WebSocket protocol, as the providers send them:
//! OpenAI Realtime (also Azure's), the Responses API in WebSocket mode, and
//! Gemini Live (Gemini API and Vertex, which differ in how they name output
//! tokens). Every response ends with the flavor's usage ([`crate::Usage`]).

use serde_json::{json, Value};

use crate::call::Call;
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
    /// The ids of the Responses this session answered, which a later
    /// `previous_response_id` may name.
    known: Vec<String>,
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
            known: vec![],
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

    /// The Responses API in WebSocket mode: a `response.create` message
    /// carries a Responses request's body at its top level; the answer is the
    /// events the SSE stream would carry, one per text message, or a warm-up's
    /// two (`generate: false`). A `previous_response_id` must name a response
    /// of this connection (the mock stores nothing, as with `store: false`):
    /// otherwise OpenAI's `previous_response_not_found` error event.
    fn responses(&mut self, doc: &Value) -> Vec<String> {
        if doc["type"] != "response.create" {
            return vec![];
        }
        if let Some(previous) = doc["previous_response_id"].as_str() {
            if !self.known.iter().any(|k| k == previous) {
                let error = json!({
                    "type": "error", "status": 400,
                    "error": {
                        "type": "invalid_request_error", "code": "previous_response_not_found",
                        "message": format!("Previous response with id '{previous}' not found."),
                        "param": "previous_response_id",
                    },
                });
                return vec![error.to_string()];
            }
        }
        self.responses += 1;
        let mut body = doc.clone();
        if let Some(b) = body.as_object_mut() {
            b.remove("type");
        }
        let model = doc["model"].as_str().unwrap_or(&self.model).to_owned();
        let call = Call {
            flavor: self.flavor,
            method: "POST",
            path: "/v1/responses",
            query: None,
            body,
            events: DEFAULT_EVENTS,
            // Ids unique per response within the session, and across sessions.
            seq: self.seq * 1000 + self.responses,
        };
        self.known.push(call.id("resp_"));
        let events = if doc["generate"] == false {
            crate::responses::warmup(&call, &model)
        } else {
            crate::responses::events(&call, &model)
        };
        events.into_iter().map(|v| v.to_string()).collect()
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

    fn types(events: &[String]) -> Vec<String> {
        events
            .iter()
            .map(|e| serde_json::from_str::<Value>(e).unwrap()["type"].to_string())
            .collect()
    }

    #[test]
    fn responses_warm_up_then_chain_on_the_same_connection() {
        let mut s = Script::new(Kind::Responses, Flavor::OpenAi, None, 7);
        let warm = s.answer(&json!({"type": "response.create", "model": "m", "generate": false}));
        assert_eq!(
            types(&warm),
            [r#""response.created""#, r#""response.completed""#]
        );
        let done: Value = serde_json::from_str(&warm[1]).unwrap();
        assert_eq!(done["response"]["output"], json!([]));
        assert_eq!(done["response"]["usage"]["output_tokens"], 0);
        let id = done["response"]["id"].as_str().unwrap().to_owned();

        let next = s.answer(&json!({"type": "response.create", "model": "m",
            "previous_response_id": id, "input": []}));
        let last: Value = serde_json::from_str(next.last().unwrap()).unwrap();
        assert_eq!(last["type"], "response.completed");
        assert_eq!(last["response"]["previous_response_id"], id.as_str());
        assert_eq!(last["response"]["usage"]["input_tokens"], 11);
        assert_ne!(last["response"]["id"], id.as_str());

        // An id this connection never answered: OpenAI's error event.
        let other = Script::new(Kind::Responses, Flavor::OpenAi, None, 8)
            .answer(&json!({"type": "response.create", "previous_response_id": id}));
        let error: Value = serde_json::from_str(&other[0]).unwrap();
        assert_eq!(error["error"]["code"], "previous_response_not_found");
    }

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
