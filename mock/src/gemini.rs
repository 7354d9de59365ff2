//! Gemini API: `…/models/{m}:generateContent`, `…/models/{m}:streamGenerateContent`
//! (SSE with `?alt=sse`, else one JSON array), `GET /{v1,v1beta}/models`.
//!
//! Any prefix before `/models/` is accepted, so Vertex-style paths
//! (`/v1beta1/projects/P/locations/L/publishers/google/models/{m}:…`) work too,
//! and Vertex's Claude (`…/publishers/anthropic/models/{m}:rawPredict`,
//! `:streamRawPredict`) answers in Anthropic's format. The OpenAI-compatible
//! endpoints, Gemini's `/v1beta/openai/…` and Vertex's `…/endpoints/openapi/…`,
//! answer as OpenAI does (a stream reports usage only with
//! `stream_options.include_usage`), with Gemini's token counts.

use serde_json::{json, Value};

use crate::call::{Call, Reply};
use crate::{delta_text, REPLY_TEXT};

const MODELS: [&str; 3] = ["gemini-2.5-flash", "gemini-2.5-pro", "text-embedding-004"];

pub(crate) fn route(call: &Call) -> Option<Reply> {
    if call.method == "GET" && matches!(call.path, "/v1/models" | "/v1beta/models") {
        return Some(Reply::Json(200, models()));
    }
    for compat in ["/openai/", "/endpoints/openapi/"] {
        if let Some((_, rest)) = call.path.split_once(compat) {
            return crate::openai::route(call, &format!("/{rest}"), None);
        }
    }
    let (_, target) = call.path.rsplit_once("/models/")?;
    let (model, method) = target.split_once(':')?;
    if call.path.contains("/publishers/anthropic/") {
        return crate::anthropic::vertex(call, model, method);
    }
    match (call.post(), method) {
        (true, "generateContent") => Some(Reply::Json(200, chunk(call, model, REPLY_TEXT, None))),
        (true, "streamGenerateContent") => {
            let chunks = stream(call, model);
            let sse = call
                .query
                .is_some_and(|q| q.split('&').any(|p| p == "alt=sse"));
            Some(match sse {
                true => Reply::Sse(chunks.iter().map(crate::sse::data_crlf).collect()),
                false => Reply::Json(200, Value::Array(chunks)),
            })
        }
        _ => None,
    }
}

/// A `GenerateContentResponse`. `partial` = `Some(candidates tokens so far)` for a
/// stream chunk that is not the last one (no `finishReason`, running counts).
fn chunk(call: &Call, model: &str, text: &str, partial: Option<u64>) -> Value {
    let u = call.usage();
    let candidates = partial.unwrap_or(u.output);
    let mut candidate =
        json!({"content": {"parts": [{"text": text}], "role": "model"}, "index": 0});
    if partial.is_none() {
        candidate["finishReason"] = json!("STOP");
    }
    json!({
        "candidates": [candidate],
        "usageMetadata": {
            "promptTokenCount": u.input,
            "candidatesTokenCount": candidates,
            "totalTokenCount": u.input + candidates + u.reasoning,
            "cachedContentTokenCount": u.cached,
            "thoughtsTokenCount": u.reasoning,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": u.input}],
            "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": u.cached}]
        },
        "modelVersion": model,
        "responseId": call.id("resp-")
    })
}

/// One chunk per delta (at least one); the last carries `finishReason` and the totals.
fn stream(call: &Call, model: &str) -> Vec<Value> {
    let n = call.events.max(1);
    let output = call.usage().output;
    (0..n)
        .map(|i| {
            let text = if call.events == 0 {
                String::new()
            } else {
                delta_text(i)
            };
            let partial = (i + 1 < n).then(|| output * (i as u64 + 1) / n as u64);
            chunk(call, model, &text, partial)
        })
        .collect()
}

fn models() -> Value {
    let models: Vec<Value> = MODELS
        .iter()
        .map(|m| {
            json!({
                "name": format!("models/{m}"),
                "version": "001",
                "displayName": m,
                "inputTokenLimit": 1_048_576,
                "outputTokenLimit": 65_536,
                "supportedGenerationMethods": ["generateContent", "countTokens"]
            })
        })
        .collect();
    json!({"models": models})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Flavor, GEMINI_USAGE};

    fn call<'a>(path: &'a str, query: Option<&'a str>) -> Call<'a> {
        Call {
            flavor: Flavor::Gemini,
            method: "POST",
            path,
            query,
            body: Value::Null,
            events: 3,
            seq: 1,
        }
    }

    #[test]
    fn sse_stream_is_crlf_framed_with_final_totals_last() {
        let c = call(
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
            Some("alt=sse"),
        );
        let Some(Reply::Sse(ev)) = route(&c) else {
            panic!("not SSE")
        };
        assert_eq!(ev.len(), 3);
        assert!(ev
            .iter()
            .all(|e| e.starts_with("data: {") && e.ends_with("}\r\n\r\n")));
        let last: Value =
            serde_json::from_str(ev[2].trim_start_matches("data: ").trim_end()).unwrap();
        assert_eq!(last["usageMetadata"]["totalTokenCount"], GEMINI_USAGE.total);
        assert_eq!(last["candidates"][0]["finishReason"], "STOP");
        assert_eq!(last["modelVersion"], "gemini-2.5-flash");
        assert!(!ev[0].contains("finishReason"));
    }

    #[test]
    fn stream_without_alt_sse_is_a_json_array() {
        let c = call("/v1/models/g:streamGenerateContent", None);
        let Some(Reply::Json(200, Value::Array(a))) = route(&c) else {
            panic!("not an array")
        };
        assert_eq!(a.len(), 3);
    }

    #[test]
    fn openai_compatible_chat_streams_report_usage_when_asked() {
        for path in [
            "/v1beta/openai/chat/completions",
            "/v1/projects/p/locations/l/endpoints/openapi/chat/completions",
        ] {
            let mut c = call(path, None);
            c.body = json!({"model": "gemini-2.5-flash", "stream": true});
            let Some(Reply::Sse(plain)) = route(&c) else {
                panic!("{path}: not SSE")
            };
            assert!(!plain.iter().any(|e| e.contains("usage")), "{path}");
            c.body["stream_options"] = json!({"include_usage": true});
            let Some(Reply::Sse(ev)) = route(&c) else {
                panic!("{path}: not SSE")
            };
            let last = &ev[ev.len() - 2];
            assert!(last.contains("\"choices\":[]"), "{path}: {last}");
            assert!(
                last.contains(&format!("\"prompt_tokens\":{}", GEMINI_USAGE.input)),
                "{path}: {last}"
            );
        }
    }

    #[test]
    fn vertex_paths_route_by_model_segment() {
        let c = call("/v1beta1/projects/p/locations/l/publishers/google/models/gemini-2.5-pro:generateContent", None);
        let Some(Reply::Json(200, v)) = route(&c) else {
            panic!("no reply")
        };
        assert_eq!(v["modelVersion"], "gemini-2.5-pro");
        assert!(route(&call("/v1/models/g:unknown", None)).is_none());
    }
}
