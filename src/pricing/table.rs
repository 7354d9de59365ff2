//! The price table: layers of entries, each per provider, by exact model
//! name or `*` prefix. A model takes its price from the top layer that has
//! an entry for it, and in that layer from its exact name, else from the
//! longest prefix it starts with; a later entry for the same name or prefix
//! replaces the earlier one. The config stacks its sources this way, so an
//! operator's `gpt-4o*` prices every `gpt-4o` model, bundled names included.

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

#[derive(Debug, Clone)]
pub(crate) struct PriceTable {
    /// Bottom first; never empty.
    layers: Vec<Layer>,
}

type Layer = [Models; ProviderKind::ALL.len()];

impl Default for PriceTable {
    fn default() -> Self {
        PriceTable {
            layers: vec![Layer::default()],
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Models {
    exact: HashMap<Box<str>, Price>,
    /// Longest first, so the first that matches is the most specific.
    prefixes: Vec<(Box<str>, Price)>,
}

impl PriceTable {
    /// Starts a layer over the entries so far: a model it prices takes its
    /// price from it, whatever the layers below say.
    pub(crate) fn push_layer(&mut self) {
        self.layers.push(Layer::default());
    }

    /// Adds an entry to the top layer, replacing one with the same name or
    /// prefix there.
    pub(crate) fn insert(&mut self, kind: ProviderKind, pattern: Pattern<'_>, price: Price) {
        let top = self.layers.last_mut().expect("a table has a layer");
        let models = &mut top[kind.index()];
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

    /// The price of `model` on `kind`, from the top layer that has one.
    pub(crate) fn price(&self, kind: ProviderKind, model: &str) -> Option<Price> {
        self.layers
            .iter()
            .rev()
            .find_map(|layer| layer[kind.index()].price(model))
    }

    /// Entries, exact and prefix, across layers and providers.
    pub(crate) fn len(&self) -> usize {
        self.layers
            .iter()
            .flatten()
            .map(|m| m.exact.len() + m.prefixes.len())
            .sum()
    }
}

impl Models {
    /// Its exact entry, else the longest prefix it starts with.
    fn price(&self, model: &str) -> Option<Price> {
        if let Some(p) = self.exact.get(model) {
            return Some(*p);
        }
        self.prefixes
            .iter()
            .find(|(stem, _)| model.starts_with(&**stem))
            .map(|(_, p)| *p)
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
    fn an_upper_layer_wins_wherever_it_has_an_entry() {
        let mut t = table(&[
            (OpenAi, "gpt-4o", 2.5),
            (OpenAi, "gpt-4o-20*", 2.5),
            (OpenAi, "gpt-4o-mini", 0.15),
            (OpenAi, "o3", 2.0),
        ]);
        t.push_layer();
        t.insert(OpenAi, Pattern::parse("gpt-4o*").unwrap(), p(2.75));
        // Its prefix beats the exact names and longer prefixes below it.
        assert_eq!(input(&t, OpenAi, "gpt-4o"), Some(2.75));
        assert_eq!(input(&t, OpenAi, "gpt-4o-2024-08-06"), Some(2.75));
        assert_eq!(input(&t, OpenAi, "gpt-4o-mini"), Some(2.75));
        t.push_layer();
        t.insert(OpenAi, Pattern::Exact("gpt-4o-mini"), p(0.2));
        assert_eq!(input(&t, OpenAi, "gpt-4o-mini"), Some(0.2));
        assert_eq!(input(&t, OpenAi, "gpt-4o"), Some(2.75));
        // What no upper layer prices falls through to the one below.
        assert_eq!(input(&t, OpenAi, "o3"), Some(2.0));
        assert_eq!(input(&t, OpenAi, "o4"), None);
        assert_eq!(t.len(), 6);
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
