//! The prices strait knows without being told: the current flagship models
//! of the five providers, used as they are when the config has no
//! `pricing:` and underneath it when it has one.
//!
//! USD per million tokens, standard (not batch, flex or priority) tier, for
//! prompts under the long-context thresholds (Gemini 2.5 Pro and Claude
//! Sonnet 4.x charge more for prompts over 200k tokens; Anthropic's cache
//! writes are priced at the 5-minute rate). Read on 2026-12-03 from
//! LiteLLM's `model_prices_and_context_window.json` (BerriAI/litellm, MIT,
//! commit 00035b69f416be24e2e323c13198d9b7d2d1bdf9), which cites the
//! providers' own pages:
//!
//! * OpenAI: <https://openai.com/api/pricing/>
//! * Anthropic: <https://www.anthropic.com/pricing#api>
//! * Gemini API: <https://ai.google.dev/gemini-api/docs/pricing>
//! * Vertex AI: <https://cloud.google.com/vertex-ai/generative-ai/pricing>
//! * Azure OpenAI: <https://azure.microsoft.com/pricing/details/cognitive-services/openai-service/>
//!
//! Azure is given OpenAI's list prices, which are those of its Global
//! deployments (Data Zone and Regional ones cost up to 10 % more); Vertex
//! is given Anthropic's list prices for Claude (its global endpoint) and
//! the Gemini API's for Gemini, as the file lists them. Anything else, or
//! a different contract, goes in `pricing:`.

use super::{Pattern, Price, PriceTable};
use crate::providers::ProviderKind::{self, *};

const OPENAI: &[ProviderKind] = &[OpenAi, Azure];
const CLAUDE: &[ProviderKind] = &[Anthropic, Vertex];
const GEMINI: &[ProviderKind] = &[Gemini, Vertex];

/// Providers, model families, then input, output, cached input and cache
/// creation prices (`None`: the input price).
type Family = (
    &'static [ProviderKind],
    &'static [&'static str],
    f64,
    f64,
    Option<f64>,
    Option<f64>,
);

const FAMILIES: &[Family] = &[
    (OPENAI, &["gpt-4o"], 2.5, 10.0, Some(1.25), None),
    (OPENAI, &["gpt-4o-2024-05-13"], 5.0, 15.0, None, None),
    (OPENAI, &["gpt-4o-mini"], 0.15, 0.6, Some(0.075), None),
    (OPENAI, &["gpt-4.1"], 2.0, 8.0, Some(0.5), None),
    (OPENAI, &["gpt-4.1-mini"], 0.4, 1.6, Some(0.1), None),
    (OPENAI, &["gpt-4.1-nano"], 0.1, 0.4, Some(0.025), None),
    (OPENAI, &["o1"], 15.0, 60.0, Some(7.5), None),
    (OPENAI, &["o1-pro"], 150.0, 600.0, None, None),
    (OPENAI, &["o3"], 2.0, 8.0, Some(0.5), None),
    (OPENAI, &["o3-pro"], 20.0, 80.0, None, None),
    (OPENAI, &["o3-mini"], 1.1, 4.4, Some(0.55), None),
    (OPENAI, &["o4-mini"], 1.1, 4.4, Some(0.275), None),
    (
        OPENAI,
        &["gpt-5", "gpt-5.1", "gpt-5-codex", "gpt-5.1-codex"],
        1.25,
        10.0,
        Some(0.125),
        None,
    ),
    (OPENAI, &["gpt-5-mini"], 0.25, 2.0, Some(0.025), None),
    (OPENAI, &["gpt-5-nano"], 0.05, 0.4, Some(0.005), None),
    (OPENAI, &["gpt-5.2"], 1.75, 14.0, Some(0.175), None),
    (OPENAI, &["gpt-5.5"], 5.0, 30.0, Some(0.5), None),
    (
        CLAUDE,
        &["claude-opus-4", "claude-opus-4-0", "claude-opus-4-1"],
        15.0,
        75.0,
        Some(1.5),
        Some(18.75),
    ),
    (
        CLAUDE,
        &["claude-opus-4-5", "claude-opus-4-6", "claude-opus-4-7"],
        5.0,
        25.0,
        Some(0.5),
        Some(6.25),
    ),
    (
        CLAUDE,
        &[
            "claude-sonnet-4",
            "claude-sonnet-4-0",
            "claude-sonnet-4-5",
            "claude-sonnet-4-6",
        ],
        3.0,
        15.0,
        Some(0.3),
        Some(3.75),
    ),
    (
        CLAUDE,
        &["claude-haiku-4-5"],
        1.0,
        5.0,
        Some(0.1),
        Some(1.25),
    ),
    (GEMINI, &["gemini-2.5-pro"], 1.25, 10.0, Some(0.125), None),
    (GEMINI, &["gemini-2.5-flash"], 0.3, 2.5, Some(0.03), None),
    (
        GEMINI,
        &["gemini-2.5-flash-lite"],
        0.1,
        0.4,
        Some(0.01),
        None,
    ),
    (
        GEMINI,
        &["gemini-3-flash-preview"],
        0.5,
        3.0,
        Some(0.05),
        None,
    ),
    (
        GEMINI,
        &["gemini-3.1-pro-preview"],
        2.0,
        12.0,
        Some(0.2),
        None,
    ),
    (GEMINI, &["gemini-3.5-flash"], 1.5, 9.0, Some(0.15), None),
];

/// The bundled table. A family name prices the name itself and its dated
/// versions: `gpt-4o-2024-08-06`, `claude-sonnet-4-5-20250929`, and
/// Vertex's `claude-sonnet-4-5@20250929`.
pub(crate) fn bundled() -> PriceTable {
    let mut table = PriceTable::default();
    for &(providers, names, input, output, cached, creation) in FAMILIES {
        let price = Price::new(input, output, cached, creation);
        for &kind in providers {
            for &name in names {
                table.insert(kind, Pattern::Exact(name), price);
                table.insert(kind, Pattern::Prefix(&format!("{name}-20")), price);
                // Only Vertex's Claude versions are written with `@`; fewer
                // prefixes are fewer to try for each call.
                if providers == CLAUDE {
                    table.insert(kind, Pattern::Prefix(&format!("{name}@")), price);
                }
            }
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input_output(kind: ProviderKind, model: &str) -> Option<(f64, f64)> {
        bundled().price(kind, model).map(|p| (p.input, p.output))
    }

    #[test]
    fn dated_versions_take_their_family_price() {
        assert_eq!(input_output(OpenAi, "gpt-4o-2024-08-06"), Some((2.5, 10.0)));
        assert_eq!(input_output(OpenAi, "gpt-4o-2024-05-13"), Some((5.0, 15.0)));
        assert_eq!(
            input_output(Azure, "gpt-4o-mini-2024-07-18"),
            Some((0.15, 0.6))
        );
        assert_eq!(
            input_output(OpenAi, "gpt-5-mini-2025-08-07"),
            Some((0.25, 2.0))
        );
        assert_eq!(
            input_output(Anthropic, "claude-opus-4-20250514"),
            Some((15.0, 75.0))
        );
        assert_eq!(
            input_output(Anthropic, "claude-opus-4-5-20251101"),
            Some((5.0, 25.0))
        );
        assert_eq!(
            input_output(Vertex, "claude-sonnet-4-5@20250929"),
            Some((3.0, 15.0))
        );
        assert_eq!(input_output(Vertex, "gemini-2.5-flash"), Some((0.3, 2.5)));
        assert_eq!(
            input_output(Gemini, "gemini-2.5-flash-lite"),
            Some((0.1, 0.4))
        );
    }

    #[test]
    fn other_models_and_providers_stay_unpriced() {
        // Not a dated version of a family, and not a family of its own.
        assert_eq!(input_output(OpenAi, "gpt-4o-realtime-preview"), None);
        assert_eq!(input_output(OpenAi, "gpt-5.9"), None);
        assert_eq!(input_output(Anthropic, "claude-opus-4-9"), None);
        // Claude is not priced on Azure, nor Gemini on OpenAI.
        assert_eq!(input_output(Azure, "claude-sonnet-4-5"), None);
        assert_eq!(input_output(OpenAi, "gemini-2.5-pro"), None);
    }

    #[test]
    fn every_price_is_a_sane_number() {
        for &(providers, names, input, output, cached, creation) in FAMILIES {
            assert!(!providers.is_empty() && !names.is_empty());
            for v in [Some(input), Some(output), cached, creation]
                .into_iter()
                .flatten()
            {
                assert!(v.is_finite() && v >= 0.0, "{names:?}: {v}");
            }
            // A cache read never costs more than an uncached token.
            assert!(cached.unwrap_or(input) <= input, "{names:?}");
        }
    }
}
