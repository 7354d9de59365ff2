//! `pricing:` what calls cost. The bundled table, `file` (LiteLLM's format)
//! over it, `models` over both: a model is priced by the last of them that
//! has an entry for it (its name or a prefix of it), so the operator's words
//! beat the defaults.

use super::checker::Checker;
use super::defaults;
use super::schema::{RawModelPrice, RawPricing, S};
use crate::pricing::{litellm, Pattern, Price, PriceTable};
use crate::providers::ProviderKind;

pub(crate) fn pricing(c: &mut Checker, raw: &RawPricing) -> PriceTable {
    let mut table = defaults::prices();
    if let Some(file) = &raw.file {
        // Relative to the config file, like every path in it. Read at load
        // (and on each reload), never on the request path.
        let path = c.base_dir().join(file.value.trim());
        table.push_layer();
        match std::fs::read(&path).map_err(|e| e.to_string()) {
            Err(e) => c.error(
                file,
                format!("cannot read pricing file {}: {e}", path.display()),
            ),
            Ok(bytes) => match litellm::parse(&bytes) {
                Ok(entries) => {
                    for e in entries {
                        table.insert(e.provider, Pattern::Exact(&e.model), e.price);
                    }
                }
                Err(e) => c.error(
                    file,
                    format!(
                        "pricing file {} is not in LiteLLM's model_prices_and_context_window.json \
                         format: {e}",
                        path.display()
                    ),
                ),
            },
        }
    }
    if !raw.models.is_empty() {
        table.push_layer();
    }
    for m in &raw.models {
        if let Some((kind, pattern, price)) = model_price(c, &m.value) {
            table.insert(kind, pattern, price);
        }
    }
    table
}

/// One `models` entry, each field checked where it is written.
fn model_price<'a>(
    c: &mut Checker,
    m: &'a RawModelPrice,
) -> Option<(ProviderKind, Pattern<'a>, Price)> {
    let name = m.model.value.trim();
    let kind = ProviderKind::from_name(m.provider.value.trim());
    if kind.is_none() {
        c.error(
            &m.provider,
            format!(
                "pricing: unknown provider `{}` (openai, anthropic, azure, gemini, vertex)",
                m.provider.value
            ),
        );
    }
    let pattern = Pattern::parse(name)
        .map_err(|why| c.error(&m.model, format!("pricing: model `{name}`: {why}")))
        .ok();
    let mut amount = |field: &S<f64>, what: &str| {
        let v = field.value;
        if v.is_finite() && v >= 0.0 {
            Ok(v)
        } else {
            c.error(
                field,
                format!(
                    "pricing: `{what}` of `{name}` must be a number of USD per million \
                     tokens, at least 0"
                ),
            );
            Err(())
        }
    };
    // Every field is checked before any error leaves the entry out.
    let input = amount(&m.input, "input");
    let output = amount(&m.output, "output");
    let cached = m.cached_input.as_ref().map(|v| amount(v, "cached_input"));
    let creation = m
        .cache_creation
        .as_ref()
        .map(|v| amount(v, "cache_creation"));
    let price = Price::new(
        input.ok()?,
        output.ok()?,
        cached.transpose().ok()?,
        creation.transpose().ok()?,
    );
    Some((kind?, pattern?, price))
}
