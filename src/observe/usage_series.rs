//! The series one call's usage is counted in (tokens by kind, its cost, or
//! that it had no price), per provider, model label and virtual key. Each
//! combination's counters are resolved once and kept, so accounting a call
//! is one read-locked lookup, with no allocation and no label hashing per
//! counter. The combinations are bounded by the labels: providers, at most
//! `metrics.max_model_labels` models plus `other`, and configured key names.

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

use prometheus::{Counter, CounterVec, IntCounter, IntCounterVec};

use super::usage::Tokens;

/// Token kinds, in the order of [`counts`].
const KINDS: [&str; 5] = ["input", "output", "cached", "cache_creation", "reasoning"];

fn counts(t: &Tokens) -> [u64; 5] {
    [t.input, t.output, t.cached, t.cache_creation, t.reasoning]
}

/// The labelled families the series belong to.
pub(crate) struct Families<'a> {
    /// `provider`, `model`, `kind`, `virtual_key`.
    pub(crate) tokens: &'a IntCounterVec,
    /// `provider`, `model`, `virtual_key`.
    pub(crate) cost: &'a CounterVec,
    /// `provider`, `model`.
    pub(crate) unpriced: &'a IntCounterVec,
}

/// One combination's counters, each made when first counted in: a series
/// appears once something was counted in it, as the others do.
struct Series {
    provider: Box<str>,
    model: Box<str>,
    virtual_key: Box<str>,
    tokens: [OnceLock<IntCounter>; 5],
    cost: OnceLock<Counter>,
    unpriced: OnceLock<IntCounter>,
}

impl Series {
    fn new(provider: &str, model: &str, virtual_key: &str) -> Series {
        Series {
            provider: provider.into(),
            model: model.into(),
            virtual_key: virtual_key.into(),
            tokens: Default::default(),
            cost: OnceLock::new(),
            unpriced: OnceLock::new(),
        }
    }

    /// `cost`: `None` when the model has no price.
    fn add(&self, f: &Families<'_>, t: &Tokens, cost: Option<f64>) {
        let (p, m, vk) = (&*self.provider, &*self.model, &*self.virtual_key);
        for (i, n) in counts(t).into_iter().enumerate() {
            if n > 0 {
                self.tokens[i]
                    .get_or_init(|| f.tokens.with_label_values(&[p, m, KINDS[i], vk]))
                    .inc_by(n);
            }
        }
        match cost {
            Some(usd) => self
                .cost
                .get_or_init(|| f.cost.with_label_values(&[p, m, vk]))
                .inc_by(usd),
            None => self
                .unpriced
                .get_or_init(|| f.unpriced.with_label_values(&[p, m]))
                .inc(),
        }
    }
}

/// Virtual key → series.
type ByKey = HashMap<Box<str>, Series>;
/// Model label → virtual key → series.
type ByModel = HashMap<Box<str>, ByKey>;

/// Provider → model label → virtual key → series.
#[derive(Default)]
pub(crate) struct SeriesCache(RwLock<HashMap<Box<str>, ByModel>>);

impl SeriesCache {
    /// Counts a usage in the series of this combination if it is known
    /// already; false when it is not (nothing is counted then).
    pub(crate) fn add_known(
        &self,
        labels: (&str, &str, &str),
        f: &Families<'_>,
        t: &Tokens,
        cost: Option<f64>,
    ) -> bool {
        let (provider, model, virtual_key) = labels;
        let Ok(map) = self.0.read() else { return false };
        match map
            .get(provider)
            .and_then(|m| m.get(model))
            .and_then(|k| k.get(virtual_key))
        {
            Some(series) => {
                series.add(f, t, cost);
                true
            }
            None => false,
        }
    }

    /// Counts a usage, making the combination's series first if needed.
    pub(crate) fn add(
        &self,
        labels: (&str, &str, &str),
        f: &Families<'_>,
        t: &Tokens,
        cost: Option<f64>,
    ) {
        if self.add_known(labels, f, t, cost) {
            return;
        }
        let (provider, model, virtual_key) = labels;
        let Ok(mut map) = self.0.write() else { return };
        map.entry(provider.into())
            .or_default()
            .entry(model.into())
            .or_default()
            .entry(virtual_key.into())
            .or_insert_with(|| Series::new(provider, model, virtual_key))
            .add(f, t, cost);
    }
}
