//! Choosing a provider key: among the usable keys that serve the model, at
//! random in proportion to `weight`.

use rand::Rng;

use crate::config::{KeyConfig, ProviderConfig};
use crate::errors::GatewayError;

/// Index of the chosen key in `provider.keys`, leaving out `excluded`
/// (keys that already failed this request) and, while others remain, keys
/// cooling down after a 429.
pub fn select(
    provider: &ProviderConfig,
    model: Option<&str>,
    excluded: &[usize],
) -> Result<usize, GatewayError> {
    select_with(provider, model, excluded, rand::thread_rng().gen::<f64>())
}

/// The keys that could serve the request: usable, serving the model, not
/// `excluded`. (Weights are positive: the config refuses others.)
fn serving<'a>(
    provider: &'a ProviderConfig,
    model: Option<&'a str>,
    excluded: &'a [usize],
) -> impl Iterator<Item = (usize, &'a KeyConfig)> + Clone + 'a {
    provider
        .keys
        .iter()
        .enumerate()
        .filter(move |(i, k)| !excluded.contains(i) && k.usable() && k.models.allows(model))
}

/// Whether some key other than `excluded` could serve the request.
pub fn has_alternative(provider: &ProviderConfig, model: Option<&str>, excluded: &[usize]) -> bool {
    serving(provider, model, excluded).next().is_some()
}

/// `roll` in `[0, 1)` decides among eligible keys; split out for tests.
fn select_with(
    provider: &ProviderConfig,
    model: Option<&str>,
    excluded: &[usize],
    roll: f64,
) -> Result<usize, GatewayError> {
    let candidates = serving(provider, model, excluded);
    let any_warm = candidates.clone().any(|(_, k)| !k.cooldown.active());
    let eligible = || {
        candidates
            .clone()
            .filter(move |(_, k)| !any_warm || !k.cooldown.active())
    };
    let total: f64 = eligible().map(|(_, k)| k.weight).sum();
    if total <= 0.0 {
        return Err(no_key(provider, model));
    }
    let mut point = roll * total;
    let mut last = 0;
    for (i, k) in eligible() {
        if point < k.weight {
            return Ok(i);
        }
        point -= k.weight;
        last = i;
    }
    Ok(last)
}

fn no_key(provider: &ProviderConfig, model: Option<&str>) -> GatewayError {
    let name = provider.kind.name();
    if provider.keys.is_empty() {
        return GatewayError::new(
            503,
            "provider_not_configured",
            format!("provider {name} has no keys configured"),
        );
    }
    let missing: Vec<&str> = provider
        .keys
        .iter()
        .filter_map(|k| k.missing_env.as_deref())
        .collect();
    if provider.keys.iter().all(|k| !k.usable()) {
        let detail = if missing.is_empty() {
            "all its keys are disabled".to_string()
        } else {
            format!("environment variable {} is not set", missing.join(", "))
        };
        return GatewayError::new(
            503,
            "provider_not_configured",
            format!("provider {name} has no usable key: {detail}"),
        );
    }
    match model {
        Some(m) => GatewayError::new(
            400,
            "model_not_allowed",
            format!("no {name} key is configured for model {m:?}"),
        ),
        None => GatewayError::new(
            400,
            "model_not_allowed",
            format!("the {name} keys are limited to certain models and this request names none"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load_str, Mode};
    use crate::providers::ProviderKind;

    fn provider(yaml: &str) -> std::sync::Arc<ProviderConfig> {
        let loaded = load_str(
            yaml,
            "t.yaml",
            std::path::Path::new("."),
            Mode::Run,
            &|_| None,
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        loaded
            .snapshot
            .provider(ProviderKind::OpenAi)
            .unwrap()
            .clone()
    }

    const TWO_KEYS: &str = "providers:\n  openai:\n    network_config: { base_url: \"http://127.0.0.1:1\" }\n    keys:\n      - { name: a, value: ka, weight: 1 }\n      - { name: b, value: kb, weight: 3, models: [\"gpt-4o\", \"o3*\"] }\n";

    #[test]
    fn weights_split_the_range() {
        let p = provider(TWO_KEYS);
        assert_eq!(select_with(&p, Some("gpt-4o"), &[], 0.0).unwrap(), 0);
        assert_eq!(select_with(&p, Some("gpt-4o"), &[], 0.24).unwrap(), 0);
        assert_eq!(select_with(&p, Some("gpt-4o"), &[], 0.26).unwrap(), 1);
        assert_eq!(select_with(&p, Some("o3-mini"), &[], 0.99).unwrap(), 1);
        // b does not serve other models, nor requests naming none.
        assert_eq!(select_with(&p, Some("gpt-4.1"), &[], 0.99).unwrap(), 0);
        assert_eq!(select_with(&p, None, &[], 0.99).unwrap(), 0);
    }

    #[test]
    fn explains_why_nothing_is_eligible() {
        let p = provider(
            "providers:\n  openai:\n    keys:\n      - { name: a, value: env.UNSET_OPENAI_KEY }\n",
        );
        let e = select_with(&p, None, &[], 0.5).unwrap_err();
        assert_eq!((e.status, e.kind), (503, "provider_not_configured"));
        assert!(e.message.contains("UNSET_OPENAI_KEY"), "{}", e.message);

        let p = provider(
            "providers:\n  openai:\n    keys:\n      - { name: a, value: k, models: [gpt-4o] }\n",
        );
        let e = select_with(&p, Some("gpt-5"), &[], 0.5).unwrap_err();
        assert_eq!((e.status, e.kind), (400, "model_not_allowed"));
    }

    #[test]
    fn failed_and_cooling_keys_are_left_out_while_others_remain() {
        let p = provider(TWO_KEYS);
        // Key 0 failed this request: only key 1 remains, whatever the roll.
        assert_eq!(select_with(&p, Some("gpt-4o"), &[0], 0.0).unwrap(), 1);
        assert!(!has_alternative(&p, Some("gpt-4o"), &[0, 1]));
        // Key 0 cooling after a 429: skipped while key 1 can serve.
        p.keys[0].cooldown.start(std::time::Duration::from_secs(30));
        assert_eq!(select_with(&p, Some("gpt-4o"), &[], 0.0).unwrap(), 1);
        // All cooling: the request is still served.
        p.keys[1].cooldown.start(std::time::Duration::from_secs(30));
        assert!(select_with(&p, Some("gpt-4o"), &[], 0.0).is_ok());
    }
}
