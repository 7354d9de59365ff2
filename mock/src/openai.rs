//! OpenAI-shaped endpoints (also served by Azure): chat completions, the Responses
//! API, embeddings, models. Azure adds its content-filter annotations.

use base64::Engine;
use serde_json::{json, Value};

use crate::call::{Call, Reply, CREATED};
use crate::{delta_text, responses, Flavor, Usage, EMBEDDING, REPLY_TEXT};

const MODELS: [&str; 3] = ["gpt-4o-mini", "gpt-4.1", "text-embedding-3-small"];

/// `rest` is the path after `/v1` (or after `/openai/deployments/{d}`); `model`
/// overrides the body's model (an Azure deployment).
pub(crate) fn route(call: &Call, rest: &str, model: Option<&str>) -> Option<Reply> {
    let model = model.map_or_else(|| call.model(), str::to_owned);
    match (call.post(), rest) {
        (true, "/chat/completions") if call.stream() => Some(Reply::Sse(chat_stream(call, &model))),
        (true, "/chat/completions") => Some(Reply::Json(200, chat(call, &model))),
        (true, "/responses") if call.stream() => Some(Reply::Sse(responses::stream(call, &model))),
        (true, "/responses") => Some(Reply::Json(
            200,
            responses::response(call, &model, "completed", REPLY_TEXT),
        )),
        (true, "/embeddings") => Some(Reply::Json(200, embeddings(call, &model))),
        (false, "/models") if call.method == "GET" => Some(Reply::Json(200, models())),
        _ => None,
    }
}

fn azure(call: &Call) -> bool {
    call.flavor == Flavor::Azure
}

fn filter_results() -> Value {
    let safe = json!({"filtered": false, "severity": "safe"});
    json!({"hate": safe, "self_harm": safe, "sexual": safe, "violence": safe})
}

fn chat_usage(u: Usage) -> Value {
    json!({
        "prompt_tokens": u.input,
        "completion_tokens": u.output,
        "total_tokens": u.total,
        "prompt_tokens_details": {"cached_tokens": u.cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": u.reasoning, "audio_tokens": 0,
            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0
        }
    })
}

fn chat(call: &Call, model: &str) -> Value {
    let mut choice = json!({
        "index": 0,
        "message": {"role": "assistant", "content": REPLY_TEXT, "refusal": null, "annotations": []},
        "logprobs": null,
        "finish_reason": "stop"
    });
    let mut v = json!({
        "id": call.id("chatcmpl-"),
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [],
        "usage": chat_usage(call.usage()),
        "system_fingerprint": "fp_mock"
    });
    if azure(call) {
        choice["content_filter_results"] = filter_results();
        v["prompt_filter_results"] =
            json!([{"prompt_index": 0, "content_filter_results": filter_results()}]);
    } else {
        v["service_tier"] = json!("default");
    }
    v["choices"] = json!([choice]);
    v
}

/// Role chunk, `events` content chunks, finish chunk, optional usage chunk, `[DONE]`.
/// Azure first sends its `prompt_filter_results` chunk with empty `choices`.
fn chat_stream(call: &Call, model: &str) -> Vec<String> {
    let include_usage = call.body["stream_options"]["include_usage"] == true;
    let chunk = |choices: Value| {
        let mut c = json!({
            "id": call.id("chatcmpl-"), "object": "chat.completion.chunk", "created": CREATED,
            "model": model, "system_fingerprint": "fp_mock", "choices": choices
        });
        if include_usage {
            c["usage"] = Value::Null;
        }
        c
    };
    let choice = |delta: Value, finish: Value| json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]);
    let mut out = vec![];
    if azure(call) {
        let filter = json!([{"prompt_index": 0, "content_filter_results": filter_results()}]);
        let first = json!({
            "choices": [], "created": 0, "id": "", "model": "", "object": "",
            "prompt_filter_results": filter
        });
        out.push(crate::sse::data(first));
    }
    out.push(crate::sse::data(chunk(choice(
        json!({"role": "assistant", "content": "", "refusal": null}),
        Value::Null,
    ))));
    for i in 0..call.events {
        out.push(crate::sse::data(chunk(choice(
            json!({"content": delta_text(i)}),
            Value::Null,
        ))));
    }
    out.push(crate::sse::data(chunk(choice(json!({}), json!("stop")))));
    if include_usage {
        let mut last = chunk(json!([]));
        last["usage"] = chat_usage(call.usage());
        out.push(crate::sse::data(last));
    }
    out.push(crate::sse::data("[DONE]"));
    out
}

/// One embedding per input; base64 (little-endian f32s) when `encoding_format` asks.
fn embeddings(call: &Call, model: &str) -> Value {
    let inputs = match &call.body["input"] {
        Value::Array(a)
            if a.first().is_some_and(Value::is_array)
                || a.first().is_some_and(Value::is_string) =>
        {
            a.len()
        }
        _ => 1,
    };
    let vector = if call.body["encoding_format"] == "base64" {
        let bytes: Vec<u8> = EMBEDDING.iter().flat_map(|f| f.to_le_bytes()).collect();
        json!(base64::engine::general_purpose::STANDARD.encode(bytes))
    } else {
        json!(EMBEDDING)
    };
    let data: Vec<Value> = (0..inputs)
        .map(|i| json!({"object": "embedding", "index": i, "embedding": vector}))
        .collect();
    let u = call.usage();
    let usage = json!({"prompt_tokens": u.input, "total_tokens": u.input});
    json!({"object": "list", "data": data, "model": model, "usage": usage})
}

fn models() -> Value {
    let data: Vec<Value> = MODELS
        .iter()
        .map(|m| json!({"id": m, "object": "model", "created": CREATED, "owned_by": "system"}))
        .collect();
    json!({"object": "list", "data": data})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(flavor: Flavor, body: Value) -> Call<'static> {
        Call {
            flavor,
            method: "POST",
            path: "/v1/x",
            query: None,
            body,
            events: 2,
            seq: 1,
        }
    }

    fn sse(r: Option<Reply>) -> Vec<String> {
        match r {
            Some(Reply::Sse(e)) => e,
            _ => panic!("not SSE"),
        }
    }

    #[test]
    fn chat_stream_ends_with_usage_then_done() {
        let body = json!({"model": "m", "stream": true, "stream_options": {"include_usage": true}});
        let ev = sse(route(
            &call(Flavor::OpenAi, body),
            "/chat/completions",
            None,
        ));
        assert_eq!(ev.len(), 1 + 2 + 1 + 1 + 1);
        assert_eq!(ev[5], "data: [DONE]\n\n");
        let usage: Value =
            serde_json::from_str(ev[4].strip_prefix("data: ").unwrap().trim_end()).unwrap();
        assert_eq!(usage["choices"], json!([]));
        assert_eq!(usage["usage"]["total_tokens"], crate::OPENAI_USAGE.total);
    }

    #[test]
    fn azure_stream_starts_with_prompt_filter_chunk() {
        let ev = sse(route(
            &call(Flavor::Azure, json!({"stream": true})),
            "/chat/completions",
            Some("dep"),
        ));
        assert!(ev[0].contains("prompt_filter_results") && ev[0].contains("\"choices\":[]"));
        assert!(ev[1].contains("\"model\":\"dep\""));
        assert!(!ev[1].contains("usage"));
    }

    #[test]
    fn embeddings_base64_is_little_endian_f32() {
        let Some(Reply::Json(200, v)) = route(
            &call(
                Flavor::OpenAi,
                json!({"input": ["a", "b"], "encoding_format": "base64"}),
            ),
            "/embeddings",
            None,
        ) else {
            panic!("no embeddings")
        };
        assert_eq!(v["data"].as_array().unwrap().len(), 2);
        let b = base64::engine::general_purpose::STANDARD
            .decode(v["data"][1]["embedding"].as_str().unwrap())
            .unwrap();
        assert_eq!(f32::from_le_bytes(b[4..8].try_into().unwrap()), -0.5);
    }
}
