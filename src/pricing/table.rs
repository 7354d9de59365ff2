//! The price table: per provider, exact model names and `*` prefixes. A
//! model takes the price of its exact name, else of the longest prefix it
//! starts with; a later entry for the same name or prefix replaces the
//! earlier one, which is how the config layers its sources.

use std::collections::HashMap;

use crate::providers::ProviderKind;

/// USD per million tokens, cache prices resolved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Price {
    pub(crate) input: f64,
    pub(crate) output: f64,
    /// Input tokens read from the provider's prompt cache.
    pub(crate) cached_input: f64,
    /// Input tokens written to the prompt cache (Anthropic's cache writes).
    pub(crate) cache_creation: f64,
}

impl Price {
    /// A cache price left out is the input price: a provider that names
    /// no discount charges cached tokens like any other.
    pub(crate) fn new(
        input: f64,
        output: f64,
        cached_input: Option<f64>,
        cache_creation: Option<f64>,
    ) -> Price {
        Price {
            input,
            output,
            cached_input: cached_input.unwrap_or(input),
            cache_creation: cache_creation.unwrap_or(input),
        }
    }
}

/// How an entry names its models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pattern<'a> {
    Exact(&'a str),
    /// Written with a trailing `*`; `*` alone prices every model.
    Prefix(&'a str),
}

impl<'a> Pattern<'a> {
    /// A model as written in the config: a name, or a prefix ending in `*`.
    pub(crate) fn parse(written: &'a str) -> Result<Pattern<'a>, &'static str> {
        if written.is_empty() {
            return Err("the model is empty");
        }
        let (stem, prefix) = match written.strip_suffix('*') {
            Some(stem) => (stem, true),
            None => (written, false),
        };
        if stem.contains('*') {
            return Err("only a trailing `*` is allowed");
        }
        Ok(if prefix {
            Pattern::Prefix(stem)
        } else {
            Pattern::Exact(stem)
        })
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct PriceTable {
    providers: [Models; ProviderKind::ALL.len()],
}

#[derive(Debug, Clone, Default)]
struct Models {
    exact: HashMap<Box<str>, Price>,
    /// Longest first, so the first that matches is the most specific.
    prefixes: Vec<(Box<str>, Price)>,
}

impl PriceTable {
    /// Adds an entry, replacing one with the same name or prefix.
    pub(crate) fn insert(&mut self, kind: ProviderKind, pattern: Pattern<'_>, price: Price) {
        let models = &mut self.providers[kind.index()];
        match pattern {
            Pattern::Exact(name) => {
                models.exact.insert(name.into(), price);
            }
            Pattern::Prefix(stem) => {
                if let Some(slot) = models.prefixes.iter_mut().find(|(p, _)| &**p == stem) {
                    slot.1 = price;
                    return;
                }
                // Two prefixes of one length cannot both match a model, so
                // their order among themselves does not matter.
                let at = models
                    .prefixes
                    .partition_point(|(p, _)| p.len() >= stem.len());
                models.prefixes.insert(at, (stem.into(), price));
            }
        }
    }

    /// The price of `model` on `kind`: its exact entry, else the longest
    /// prefix it starts with.
    pub(crate) fn price(&self, kind: ProviderKind, model: &str) -> Option<Price> {
        let models = &self.providers[kind.index()];
        if let Some(p) = models.exact.get(model) {
            return Some(*p);
        }
        models
            .prefixes
            .iter()
            .find(|(stem, _)| model.starts_with(&**stem))
            .map(|(_, p)| *p)
    }

    /// Entries, exact and prefix, across providers.
    pub(crate) fn len(&self) -> usize {
        self.providers
            .iter()
            .map(|m| m.exact.len() + m.prefixes.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProviderKind::*;

    fn p(input: f64) -> Price {
        Price::new(input, input * 4.0, None, None)
    }

    fn table(entries: &[(ProviderKind, &str, f64)]) -> PriceTable {
        let mut t = PriceTable::default();
        for (kind, written, input) in entries {
            t.insert(*kind, Pattern::parse(written).unwrap(), p(*input));
        }
        t
    }

    fn input(t: &PriceTable, kind: ProviderKind, model: &str) -> Option<f64> {
        t.price(kind, model).map(|p| p.input)
    }

    #[test]
    fn exact_names_then_the_longest_prefix() {
        let t = table(&[
            (OpenAi, "gpt-4o*", 2.5),
            (OpenAi, "gpt-4o-mini*", 0.15),
            (OpenAi, "gpt-4o-2024-05-13", 5.0),
            (OpenAi, "o3", 2.0),
        ]);
        assert_eq!(input(&t, OpenAi, "gpt-4o"), Some(2.5));
        assert_eq!(input(&t, OpenAi, "gpt-4o-2024-08-06"), Some(2.5));
        assert_eq!(input(&t, OpenAi, "gpt-4o-mini-2024-07-18"), Some(0.15));
        // The exact name wins over every prefix it also starts with.
        assert_eq!(input(&t, OpenAi, "gpt-4o-2024-05-13"), Some(5.0));
        assert_eq!(input(&t, OpenAi, "o3"), Some(2.0));
        // Exact means exact: no prefix of it, nothing longer.
        assert_eq!(input(&t, OpenAi, "o3-mini"), None);
        assert_eq!(input(&t, OpenAi, "gpt-4"), None);
        assert_eq!(input(&t, OpenAi, "GPT-4o"), None);
    }

    #[test]
    fn the_longest_prefix_wins_whatever_the_order_of_insertion() {
        let short_first = table(&[
            (Anthropic, "claude-*", 1.0),
            (Anthropic, "claude-opus-4*", 15.0),
        ]);
        let long_first = table(&[
            (Anthropic, "claude-opus-4*", 15.0),
            (Anthropic, "claude-*", 1.0),
        ]);
        for t in [short_first, long_first] {
            assert_eq!(input(&t, Anthropic, "claude-opus-4-20250514"), Some(15.0));
            assert_eq!(input(&t, Anthropic, "claude-haiku-4-5"), Some(1.0));
        }
    }

    #[test]
    fn later_entries_replace_earlier_ones_and_providers_are_apart() {
        let t = table(&[
            (OpenAi, "gpt-4o", 2.5),
            (OpenAi, "gpt-4o*", 2.5),
            (Azure, "gpt-4o", 2.75),
            (OpenAi, "gpt-4o", 3.0),
            (OpenAi, "gpt-4o*", 4.0),
        ]);
        assert_eq!(input(&t, OpenAi, "gpt-4o"), Some(3.0));
        assert_eq!(input(&t, OpenAi, "gpt-4o-2024-11-20"), Some(4.0));
        assert_eq!(input(&t, Azure, "gpt-4o"), Some(2.75));
        assert_eq!(input(&t, Azure, "gpt-4o-2024-11-20"), None);
        assert_eq!(input(&t, Gemini, "gpt-4o"), None);
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn a_lone_star_prices_every_model_of_its_provider_last() {
        let t = table(&[(Gemini, "*", 9.0), (Gemini, "gemini-2.5-flash", 0.3)]);
        assert_eq!(input(&t, Gemini, "gemini-2.5-flash"), Some(0.3));
        assert_eq!(input(&t, Gemini, "anything"), Some(9.0));
        assert_eq!(input(&t, Vertex, "anything"), None);
    }

    #[test]
    fn patterns_allow_only_a_trailing_star() {
        assert_eq!(Pattern::parse("a"), Ok(Pattern::Exact("a")));
        assert_eq!(Pattern::parse("a*"), Ok(Pattern::Prefix("a")));
        assert_eq!(Pattern::parse("*"), Ok(Pattern::Prefix("")));
        assert!(Pattern::parse("").is_err());
        assert!(Pattern::parse("a*b").is_err());
        assert!(Pattern::parse("a**").is_err());
        assert!(Pattern::parse("*a").is_err());
    }

    #[test]
    fn cache_prices_default_to_the_input_price() {
        let p = Price::new(3.0, 15.0, None, None);
        assert_eq!((p.cached_input, p.cache_creation), (3.0, 3.0));
        let p = Price::new(3.0, 15.0, Some(0.3), Some(3.75));
        assert_eq!((p.cached_input, p.cache_creation), (0.3, 3.75));
    }
}
