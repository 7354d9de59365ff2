//! The cost of one call from its normalised usage.
//!
//! `observe::usage` already makes every provider's numbers add up the same
//! way: `input` counts every prompt token, cache reads and writes included
//! (OpenAI's and Gemini's cached tokens are a subset of their prompt count;
//! Anthropic's reads and writes are added to its `input_tokens`), and
//! `output` every generated token, reasoning included. So each token is
//! priced exactly once: the input that is neither read from nor written to
//! the cache at the input price, reads at the cached price, writes at the
//! cache-creation price, and all output at the output price.

use super::Price;
use crate::observe::usage::Tokens;

/// USD, to a millionth of a millionth: enough for any sum of calls, and a
/// log line reads `4.5e-5` rather than `4.500000000000001e-5`.
const RESOLUTION: f64 = 1e12;

pub(crate) fn cost_usd(price: &Price, t: &Tokens) -> f64 {
    // Saturating: a provider reporting more cached than prompt tokens must
    // not make the uncached part wrap around.
    let uncached = t
        .input
        .saturating_sub(t.cached)
        .saturating_sub(t.cache_creation);
    let per_million = uncached as f64 * price.input
        + t.cached as f64 * price.cached_input
        + t.cache_creation as f64 * price.cache_creation
        + t.output as f64 * price.output;
    (per_million / 1e6 * RESOLUTION).round() / RESOLUTION
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::usage::{Format, Usage};

    /// The tokens `observe::usage` makes of one provider document.
    fn tokens(format: Format, doc: &str) -> Tokens {
        let mut u = Usage::new(format);
        assert!(u.observe(doc.as_bytes()), "{doc}");
        u.tokens().unwrap()
    }

    fn close(got: f64, want: f64) {
        assert!((got - want).abs() < 1e-15, "{got} != {want}");
    }

    #[test]
    fn openai_cached_tokens_are_part_of_the_prompt_and_reasoning_of_the_output() {
        let price = Price::new(2.0, 8.0, Some(0.5), None);
        let chat = r#"{"usage":{"prompt_tokens":1000,"completion_tokens":500,
            "prompt_tokens_details":{"cached_tokens":800},
            "completion_tokens_details":{"reasoning_tokens":300}}}"#;
        let responses = r#"{"type":"response.completed","response":{"usage":{
            "input_tokens":1000,"output_tokens":500,
            "input_tokens_details":{"cached_tokens":800},
            "output_tokens_details":{"reasoning_tokens":300}}}}"#;
        // 200 uncached × 2 + 800 cached × 0.5 + 500 output × 8, per million.
        let want = (200.0 * 2.0 + 800.0 * 0.5 + 500.0 * 8.0) / 1e6;
        close(cost_usd(&price, &tokens(Format::OpenAi, chat)), want);
        close(cost_usd(&price, &tokens(Format::OpenAi, responses)), want);
    }

    #[test]
    fn anthropic_cache_reads_and_writes_each_have_their_price() {
        let price = Price::new(3.0, 15.0, Some(0.3), Some(3.75));
        // input_tokens leaves out the cache reads and writes.
        let message = r#"{"usage":{"input_tokens":100,"cache_read_input_tokens":1000,
            "cache_creation_input_tokens":200,"output_tokens":50}}"#;
        let want = (100.0 * 3.0 + 1000.0 * 0.3 + 200.0 * 3.75 + 50.0 * 15.0) / 1e6;
        close(cost_usd(&price, &tokens(Format::Anthropic, message)), want);
        // Without cache prices, cached tokens cost what input costs.
        let plain = Price::new(3.0, 15.0, None, None);
        let want = (1300.0 * 3.0 + 50.0 * 15.0) / 1e6;
        close(cost_usd(&plain, &tokens(Format::Anthropic, message)), want);
    }

    #[test]
    fn gemini_thoughts_are_output_and_cached_content_part_of_the_prompt() {
        let price = Price::new(0.3, 2.5, Some(0.03), None);
        let doc = r#"{"usageMetadata":{"promptTokenCount":1000,"cachedContentTokenCount":600,
            "candidatesTokenCount":100,"thoughtsTokenCount":400,"toolUsePromptTokenCount":50}}"#;
        // Prompt 1000 + tool prompt 50, of which 600 cached; 100 + 400 out.
        let want = (450.0 * 0.3 + 600.0 * 0.03 + 500.0 * 2.5) / 1e6;
        close(cost_usd(&price, &tokens(Format::Gemini, doc)), want);
    }

    #[test]
    fn nonsense_counts_neither_panic_nor_go_negative() {
        let price = Price::new(1.0, 1.0, Some(0.1), Some(2.0));
        let t = Tokens {
            input: 5,
            output: 0,
            cached: 10,
            cache_creation: u64::MAX,
            reasoning: 0,
        };
        let c = cost_usd(&price, &t);
        assert!(c.is_finite() && c > 0.0, "{c}");
        assert_eq!(cost_usd(&price, &Tokens::default()), 0.0);
    }

    #[test]
    fn costs_are_rounded_to_picodollars() {
        let price = Price::new(0.15, 0.6, Some(0.075), None);
        let t = Tokens {
            input: 11,
            output: 7,
            cached: 2,
            cache_creation: 0,
            reasoning: 3,
        };
        let c = cost_usd(&price, &t);
        assert_eq!(serde_json::to_string(&c).unwrap(), "5.7e-6");
    }
}
