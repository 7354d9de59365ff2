//! Anthropic Messages API (also served by Azure under `/anthropic/`, and by
//! Vertex AI as `publishers/anthropic/models/{m}:rawPredict` and
//! `:streamRawPredict`).

use serde_json::{json, Value};

use crate::call::{Call, Reply};
use crate::sse::event;
use crate::{delta_text, REPLY_TEXT};

/// `POST /v1/messages` (the path after any Azure prefix).
pub(crate) fn route(call: &Call, path: &str) -> Option<Reply> {
    match (call.post(), path) {
        (true, "/v1/messages") if call.stream() => Some(Reply::Sse(stream(call, &call.model()))),
        (true, "/v1/messages") => Some(Reply::Json(
            200,
            message(
                call,
                &call.model(),
                json!([{"type": "text", "text": REPLY_TEXT}]),
            ),
        )),
        // What Claude Code and the SDK's `messages.count_tokens` ask before a
        // long turn: the prompt's size alone (the mock's input count).
        (true, "/v1/messages/count_tokens") => Some(Reply::Json(
            200,
            json!({"input_tokens": call.usage().input}),
        )),
        (false, "/v1/models") if call.method == "GET" => Some(Reply::Json(200, models())),
        _ => None,
    }
}

const MODELS: [(&str, &str); 2] = [
    ("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5"),
    ("claude-haiku-4-5-20251001", "Claude Haiku 4.5"),
];

/// `GET /v1/models`: one page, newest first, as the Models API lists them.
fn models() -> Value {
    let data: Vec<Value> = MODELS
        .iter()
        .map(|(id, name)| {
            json!({"type": "model", "id": id, "display_name": name, "created_at": "2025-09-29T00:00:00Z"})
        })
        .collect();
    json!({
        "data": data, "has_more": false,
        "first_id": MODELS[0].0, "last_id": MODELS[MODELS.len() - 1].0
    })
}

/// Claude on Vertex AI: the model is in the path, not the body, and the
/// method says whether to stream.
pub(crate) fn vertex(call: &Call, model: &str, method: &str) -> Option<Reply> {
    match (call.post(), method) {
        (true, "streamRawPredict") => Some(Reply::Sse(stream(call, model))),
        (true, "rawPredict") => Some(Reply::Json(
            200,
            message(call, model, json!([{"type": "text", "text": REPLY_TEXT}])),
        )),
        _ => None,
    }
}

fn message(call: &Call, model: &str, content: Value) -> Value {
    let u = call.usage();
    json!({
        "id": call.id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "end_turn",
        "stop_sequence": null,
        "usage": {
            "input_tokens": u.input,
            "cache_creation_input_tokens": u.cache_creation,
            "cache_read_input_tokens": u.cached,
            "output_tokens": u.output,
            "service_tier": "standard"
        }
    })
}

/// `message_start` (input and cache tokens, 1 output token so far),
/// `content_block_start`, `ping`, deltas, `content_block_stop`, `message_delta`
/// (stop reason, final output tokens), `message_stop`.
fn stream(call: &Call, model: &str) -> Vec<String> {
    let mut start = message(call, model, json!([]));
    start["stop_reason"] = Value::Null;
    start["usage"]["output_tokens"] = json!(1);
    let mut out = vec![
        event(
            "message_start",
            &json!({"type": "message_start", "message": start}),
        ),
        event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        event("ping", &json!({"type": "ping"})),
    ];
    for i in 0..call.events {
        let text = json!({"type": "text_delta", "text": delta_text(i)});
        let delta = json!({"type": "content_block_delta", "index": 0, "delta": text});
        out.push(event("content_block_delta", &delta));
    }
    let delta = json!({
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": null},
        "usage": {"output_tokens": call.usage().output}
    });
    out.extend([
        event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": 0}),
        ),
        event("message_delta", &delta),
        event("message_stop", &json!({"type": "message_stop"})),
    ]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Flavor;

    #[test]
    fn stream_event_order() {
        let call = Call {
            flavor: Flavor::Anthropic,
            method: "POST",
            path: "/v1/messages",
            query: None,
            body: json!({"model": "claude", "stream": true}),
            events: 2,
            seq: 1,
        };
        let Some(Reply::Sse(ev)) = route(&call, "/v1/messages") else {
            panic!("not SSE")
        };
        let names: Vec<&str> = ev.iter().map(|e| e.lines().next().unwrap()).collect();
        let want = [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ];
        assert_eq!(names, want.map(|n| format!("event: {n}")));
        assert!(
            ev[0].contains("\"cache_read_input_tokens\":5")
                && ev[0].contains("\"model\":\"claude\"")
        );
        assert!(ev[6].contains("\"output_tokens\":9"));
    }

    #[test]
    fn count_tokens_and_models() {
        let mut call = Call {
            flavor: Flavor::Anthropic,
            method: "POST",
            path: "/v1/messages/count_tokens",
            query: None,
            body: json!({"model": "claude", "messages": []}),
            events: 1,
            seq: 1,
        };
        let Some(Reply::Json(200, n)) = route(&call, "/v1/messages/count_tokens") else {
            panic!("no count")
        };
        assert_eq!(n, json!({"input_tokens": crate::ANTHROPIC_USAGE.input}));
        call.method = "GET";
        let Some(Reply::Json(200, list)) = route(&call, "/v1/models") else {
            panic!("no models")
        };
        assert_eq!(list["data"][0]["type"], "model");
        assert_eq!(list["last_id"], list["data"][1]["id"]);
    }

    fn vertex_call(stream: bool, path: &str) -> Call<'_> {
        Call {
            flavor: Flavor::Gemini,
            method: "POST",
            path,
            query: None,
            body: json!({"anthropic_version": "vertex-2023-10-16", "stream": stream}),
            events: 1,
            seq: 1,
        }
    }

    #[test]
    fn claude_on_vertex_takes_its_model_from_the_path() {
        let base = "/v1/projects/p/locations/l/publishers/anthropic/models/claude-x@2025";
        let path = format!("{base}:rawPredict");
        let Some(Reply::Json(200, msg)) = crate::gemini::route(&vertex_call(false, &path)) else {
            panic!("not a message")
        };
        assert_eq!(msg["model"], "claude-x@2025");
        let u = crate::ANTHROPIC_USAGE;
        assert_eq!(
            msg["usage"]["cache_creation_input_tokens"],
            u.cache_creation
        );
        let path = format!("{base}:streamRawPredict");
        let Some(Reply::Sse(ev)) = crate::gemini::route(&vertex_call(true, &path)) else {
            panic!("not SSE")
        };
        assert!(ev[0].contains("\"model\":\"claude-x@2025\""), "{}", ev[0]);
    }
}
