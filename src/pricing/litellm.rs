//! LiteLLM's `model_prices_and_context_window.json`, the price list most
//! gateways read (MIT): one object whose members are models, each with its
//! `litellm_provider` and prices in USD per token.
//!
//! Only what strait can price is kept: chat and embedding prices of the
//! five providers it serves. Entries of other providers, without both an
//! input and an output price, or naming a regional or sized variant
//! (`azure/eu/…`, `low/1024-x-1024/…`) are skipped; so is `sample_spec`,
//! the file's own documentation.

use std::fmt;

use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use super::Price;
use crate::providers::ProviderKind;

/// One priced model, in file order: later entries replace earlier ones.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub(crate) provider: ProviderKind,
    pub(crate) model: String,
    pub(crate) price: Price,
}

/// The prices in `json`, or why it is not such a file.
pub(crate) fn parse(json: &[u8]) -> Result<Vec<Entry>, String> {
    let Members(members) = serde_json::from_slice(json).map_err(|e| e.to_string())?;
    Ok(members
        .into_iter()
        .filter_map(|(key, item)| match item {
            Item::Model(m) => entry(&key, m),
            Item::Other(_) => None,
        })
        .collect())
}

fn entry(key: &str, m: RawModel) -> Option<Entry> {
    if key == "sample_spec" {
        return None;
    }
    let provider = provider(m.litellm_provider?.value()?.as_str())?;
    let model = strip_provider(key);
    if model.is_empty() || model.contains('/') {
        return None;
    }
    let per_million = |v: Option<Lenient<f64>>| {
        let v = v?.value()?;
        // Per token, so 2.5e-6 reads 2.4999999999999996 a million times
        // over; to the nano-dollar per million tokens it is 2.5 again.
        (v.is_finite() && v >= 0.0).then(|| (v * 1e15).round() / 1e9)
    };
    let price = Price::new(
        per_million(m.input_cost_per_token)?,
        per_million(m.output_cost_per_token)?,
        per_million(m.cache_read_input_token_cost),
        per_million(m.cache_creation_input_token_cost),
    );
    Some(Entry {
        provider,
        model: model.to_string(),
        price,
    })
}

/// LiteLLM's provider names for what strait calls openai, anthropic,
/// azure, gemini and vertex.
fn provider(litellm: &str) -> Option<ProviderKind> {
    Some(match litellm {
        "openai" => ProviderKind::OpenAi,
        "anthropic" => ProviderKind::Anthropic,
        "azure" | "azure_ai" => ProviderKind::Azure,
        "gemini" => ProviderKind::Gemini,
        p if p.starts_with("vertex_ai") => ProviderKind::Vertex,
        _ => return None,
    })
}

/// `gemini/gemini-2.5-pro` is the model `gemini-2.5-pro` as the provider
/// reports it.
fn strip_provider(key: &str) -> &str {
    const PREFIXES: [&str; 6] = [
        "openai",
        "anthropic",
        "azure",
        "azure_ai",
        "gemini",
        "vertex_ai",
    ];
    match key.split_once('/') {
        Some((first, rest)) if PREFIXES.contains(&first) => rest,
        _ => key,
    }
}

/// The top-level object's members in file order (a map would lose it).
struct Members(Vec<(String, Item)>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of models")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(member) = map.next_entry()? {
                    out.push(member);
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// A member that is not a model object is skipped, not an error: the file
/// changes shape often, and one odd entry must not lose every price.
#[derive(Deserialize)]
#[serde(untagged)]
enum Item {
    Model(RawModel),
    Other(#[allow(dead_code)] IgnoredAny),
}

#[derive(Deserialize)]
struct RawModel {
    litellm_provider: Option<Lenient<String>>,
    input_cost_per_token: Option<Lenient<f64>>,
    output_cost_per_token: Option<Lenient<f64>>,
    cache_read_input_token_cost: Option<Lenient<f64>>,
    cache_creation_input_token_cost: Option<Lenient<f64>>,
}

/// A field of the expected type, or anything else (then ignored).
#[derive(Deserialize)]
#[serde(untagged)]
enum Lenient<T> {
    Value(T),
    Other(#[allow(dead_code)] IgnoredAny),
}

impl<T> Lenient<T> {
    fn value(self) -> Option<T> {
        match self {
            Lenient::Value(v) => Some(v),
            Lenient::Other(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProviderKind::*;

    /// A cut of the real file's shapes (values as LiteLLM writes them).
    const SAMPLE: &str = r#"{
        "sample_spec": {"litellm_provider": "one of https://docs.litellm.ai/docs/providers",
            "input_cost_per_token": 0.0, "output_cost_per_token": 0.0, "max_tokens": "LEGACY"},
        "gpt-4o": {"litellm_provider": "openai", "mode": "chat", "max_tokens": 16384,
            "input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05,
            "cache_read_input_token_cost": 1.25e-06, "supported_endpoints": ["/v1/chat/completions"]},
        "claude-sonnet-4-5": {"litellm_provider": "anthropic",
            "input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05,
            "cache_read_input_token_cost": 3e-07, "cache_creation_input_token_cost": 3.75e-06,
            "search_context_cost_per_query": {"search_context_size_low": 0.01}},
        "azure/gpt-4.1": {"litellm_provider": "azure", "input_cost_per_token": 2e-06,
            "output_cost_per_token": 8e-06},
        "azure/eu/gpt-4.1": {"litellm_provider": "azure", "input_cost_per_token": 2.2e-06,
            "output_cost_per_token": 8.8e-06},
        "gemini/gemini-2.5-flash": {"litellm_provider": "gemini", "input_cost_per_token": 3e-07,
            "output_cost_per_token": 2.5e-06, "cache_read_input_token_cost": 3e-08},
        "gemini-2.5-flash": {"litellm_provider": "vertex_ai-language-models",
            "input_cost_per_token": 3e-07, "output_cost_per_token": 2.5e-06},
        "vertex_ai/claude-opus-4-1@20250805": {"litellm_provider": "vertex_ai-anthropic_models",
            "input_cost_per_token": 1.5e-05, "output_cost_per_token": 7.5e-05},
        "text-embedding-3-small": {"litellm_provider": "openai", "mode": "embedding",
            "input_cost_per_token": 2e-08, "output_cost_per_token": 0.0},
        "dall-e-3": {"litellm_provider": "openai", "output_cost_per_image": 0.04},
        "bedrock/anthropic.claude-v2": {"litellm_provider": "bedrock",
            "input_cost_per_token": 8e-06, "output_cost_per_token": 2.4e-05},
        "odd": {"litellm_provider": "openai", "input_cost_per_token": "1e-6",
            "output_cost_per_token": 1e-06},
        "negative": {"litellm_provider": "openai", "input_cost_per_token": -1e-06,
            "output_cost_per_token": 1e-06},
        "not-an-object": 42,
        "gpt-4o": {"litellm_provider": "openai", "input_cost_per_token": 5e-06,
            "output_cost_per_token": 1.5e-05}
    }"#;

    fn get<'a>(entries: &'a [Entry], kind: ProviderKind, model: &str) -> Vec<&'a Price> {
        entries
            .iter()
            .filter(|e| e.provider == kind && e.model == model)
            .map(|e| &e.price)
            .collect()
    }

    #[test]
    fn prices_per_token_become_prices_per_million() {
        let entries = parse(SAMPLE.as_bytes()).unwrap();
        assert_eq!(
            get(&entries, Anthropic, "claude-sonnet-4-5"),
            [&Price::new(3.0, 15.0, Some(0.3), Some(3.75))]
        );
        assert_eq!(
            get(&entries, OpenAi, "text-embedding-3-small"),
            [&Price::new(0.02, 0.0, None, None)]
        );
        // Both `gpt-4o` members, in file order: the later one wins when
        // they are put in a table.
        assert_eq!(
            get(&entries, OpenAi, "gpt-4o"),
            [
                &Price::new(2.5, 10.0, Some(1.25), None),
                &Price::new(5.0, 15.0, None, None)
            ]
        );
    }

    #[test]
    fn providers_are_mapped_and_their_prefixes_stripped() {
        let entries = parse(SAMPLE.as_bytes()).unwrap();
        assert_eq!(get(&entries, Azure, "gpt-4.1").len(), 1);
        assert_eq!(
            get(&entries, Gemini, "gemini-2.5-flash"),
            [&Price::new(0.3, 2.5, Some(0.03), None)]
        );
        assert_eq!(get(&entries, Vertex, "gemini-2.5-flash").len(), 1);
        assert_eq!(get(&entries, Vertex, "claude-opus-4-1@20250805").len(), 1);
    }

    #[test]
    fn what_cannot_be_priced_is_skipped() {
        let entries = parse(SAMPLE.as_bytes()).unwrap();
        let names: Vec<&str> = entries.iter().map(|e| e.model.as_str()).collect();
        for skipped in [
            "sample_spec",
            "dall-e-3",
            "anthropic.claude-v2",
            "odd",
            "negative",
            "not-an-object",
            "eu/gpt-4.1",
        ] {
            assert!(!names.contains(&skipped), "{skipped} in {names:?}");
        }
        assert_eq!(entries.len(), 8, "{names:?}");
    }

    #[test]
    fn a_file_that_is_not_an_object_of_models_is_an_error() {
        for bad in ["", "[1, 2]", "{\"gpt-4o\": ", "null"] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert_eq!(parse(b"{}"), Ok(vec![]));
    }
}
