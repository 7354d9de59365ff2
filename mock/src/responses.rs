//! OpenAI's Responses API (`POST /v1/responses`, also served by Azure): the
//! response object and its SSE event sequence. A request that asks for
//! `include: ["reasoning.encrypted_content"]` (Codex does, for reasoning
//! models) gets a reasoning item before the message, as a reasoning model
//! answers; its summary is empty, the content opaque.

use serde_json::{json, Value};

use crate::call::{Call, CREATED};
use crate::{delta_text, Usage};

fn usage(u: Usage) -> Value {
    json!({
        "input_tokens": u.input,
        "input_tokens_details": {"cached_tokens": u.cached},
        "output_tokens": u.output,
        "output_tokens_details": {"reasoning_tokens": u.reasoning},
        "total_tokens": u.total
    })
}

fn output_text(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
}

fn message_item(call: &Call, status: &str, content: Value) -> Value {
    json!({"id": call.id("msg_"), "type": "message", "status": status, "role": "assistant", "content": content})
}

/// Whether the client asked for the (encrypted) reasoning item.
fn wants_reasoning(call: &Call) -> bool {
    call.body["include"]
        .as_array()
        .is_some_and(|a| a.iter().any(|v| v == "reasoning.encrypted_content"))
}

fn reasoning_item(call: &Call) -> Value {
    json!({
        "id": call.id("rs_"), "type": "reasoning", "summary": [],
        "encrypted_content": format!("gAAAAB-strait-mock-reasoning-{}", call.seq)
    })
}

/// The output items of a finished response: reasoning (when asked for), then
/// the message.
fn output(call: &Call, text: &str) -> Value {
    let message = message_item(call, "completed", json!([output_text(text)]));
    if wants_reasoning(call) {
        json!([reasoning_item(call), message])
    } else {
        json!([message])
    }
}

/// A Responses API object; `in_progress` ones have no output and no usage yet.
pub(crate) fn response(call: &Call, model: &str, status: &str, text: &str) -> Value {
    let done = status == "completed";
    json!({
        "id": call.id("resp_"),
        "object": "response",
        "created_at": CREATED,
        "status": status,
        "background": false,
        "error": null,
        "incomplete_details": null,
        "instructions": call.body.get("instructions").cloned().unwrap_or(Value::Null),
        "max_output_tokens": null,
        "model": model,
        "output": if done { output(call, text) } else { json!([]) },
        "parallel_tool_calls": true,
        "previous_response_id": call.body.get("previous_response_id").cloned().unwrap_or(Value::Null),
        "reasoning": {"effort": null, "summary": null},
        "service_tier": "default",
        "store": true,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": if done { usage(call.usage()) } else { Value::Null },
        "user": null,
        "metadata": {}
    })
}

/// `response.created`, `response.in_progress`, the reasoning item (added,
/// done) when asked for, the message item (added, content part, text deltas,
/// done), `response.completed` with the usage; as SSE events.
pub(crate) fn stream(call: &Call, model: &str) -> Vec<String> {
    events(call, model)
        .iter()
        .map(|ev| crate::sse::event(ev["type"].as_str().unwrap_or_default(), ev))
        .collect()
}

/// The events of [`stream`] as JSON objects: what the WebSocket mode sends,
/// one per text message, with the same `type` and `sequence_number`.
pub(crate) fn events(call: &Call, model: &str) -> Vec<Value> {
    let text: String = (0..call.events).map(delta_text).collect();
    let in_progress = json!({"response": response(call, model, "in_progress", "")});
    let mut events: Vec<(&str, Value)> = vec![
        ("response.created", in_progress.clone()),
        ("response.in_progress", in_progress),
    ];
    let mut index = 0;
    if wants_reasoning(call) {
        let mut added = reasoning_item(call);
        added["encrypted_content"] = Value::Null;
        events.extend([
            (
                "response.output_item.added",
                json!({"output_index": 0, "item": added}),
            ),
            (
                "response.output_item.done",
                json!({"output_index": 0, "item": reasoning_item(call)}),
            ),
        ]);
        index = 1;
    }
    let item_id = call.id("msg_");
    let done_item = message_item(call, "completed", json!([output_text(&text)]));
    let at = json!({"item_id": item_id, "output_index": index, "content_index": 0});
    events.extend([
        (
            "response.output_item.added",
            json!({"output_index": index, "item": message_item(call, "in_progress", json!([]))}),
        ),
        (
            "response.content_part.added",
            merge(&at, json!({"part": output_text("")})),
        ),
    ]);
    for i in 0..call.events {
        events.push((
            "response.output_text.delta",
            merge(&at, json!({"delta": delta_text(i), "logprobs": []})),
        ));
    }
    events.extend([
        (
            "response.output_text.done",
            merge(&at, json!({"text": text, "logprobs": []})),
        ),
        (
            "response.content_part.done",
            merge(&at, json!({"part": output_text(&text)})),
        ),
        (
            "response.output_item.done",
            json!({"output_index": index, "item": done_item}),
        ),
        (
            "response.completed",
            json!({"response": response(call, model, "completed", &text)}),
        ),
    ]);
    events
        .into_iter()
        .enumerate()
        .map(|(seq, (name, fields))| merge(&json!({"type": name, "sequence_number": seq}), fields))
        .collect()
}

/// A WebSocket-mode warm-up (`generate: false`): OpenAI documents that it
/// prepares the request state and returns a response id to chain from, with
/// no model output. The mock counts no tokens for it: nothing is generated,
/// and whether a warm-up bills its prompt is not documented.
pub(crate) fn warmup(call: &Call, model: &str) -> Vec<Value> {
    let mut done = response(call, model, "completed", "");
    done["output"] = json!([]);
    done["usage"] = usage(Usage {
        input: 0,
        output: 0,
        total: 0,
        cached: 0,
        cache_creation: 0,
        reasoning: 0,
    });
    let created = response(call, model, "in_progress", "");
    vec![
        json!({"type": "response.created", "sequence_number": 0, "response": created}),
        json!({"type": "response.completed", "sequence_number": 1, "response": done}),
    ]
}

fn merge(a: &Value, b: Value) -> Value {
    let mut out = a.clone();
    if let (Some(o), Value::Object(b)) = (out.as_object_mut(), b) {
        o.extend(b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Flavor;

    fn call(body: Value) -> Call<'static> {
        Call {
            flavor: Flavor::OpenAi,
            method: "POST",
            path: "/v1/responses",
            query: None,
            body,
            events: 2,
            seq: 1,
        }
    }

    fn names(ev: &[String]) -> Vec<&str> {
        ev.iter()
            .map(|e| e.lines().next().unwrap().trim_start_matches("event: "))
            .collect()
    }

    #[test]
    fn a_reasoning_item_comes_first_only_when_asked_for() {
        let plain = stream(&call(json!({"stream": true})), "m");
        assert_eq!(names(&plain)[2], "response.output_item.added");
        assert!(plain[2].contains("\"type\":\"message\""), "{}", plain[2]);
        assert!(!plain.last().unwrap().contains("reasoning\",\""));

        let body = json!({"stream": true, "include": ["reasoning.encrypted_content"]});
        let ev = stream(&call(body.clone()), "m");
        assert_eq!(ev.len(), plain.len() + 2);
        assert!(ev[2].contains("\"type\":\"reasoning\"") && ev[2].contains("\"output_index\":0"));
        assert!(
            ev[3].contains("gAAAAB-strait-mock-reasoning-1"),
            "{}",
            ev[3]
        );
        assert!(ev[4].contains("\"type\":\"message\"") && ev[4].contains("\"output_index\":1"));
        let done = response(&call(body), "m", "completed", "t");
        assert_eq!(done["output"][0]["type"], "reasoning");
        assert_eq!(done["output"][1]["content"][0]["text"], "t");
        let seqs: Vec<bool> = ev
            .iter()
            .enumerate()
            .map(|(i, e)| e.contains(&format!("\"sequence_number\":{i}")))
            .collect();
        assert!(seqs.iter().all(|&b| b));
    }
}
