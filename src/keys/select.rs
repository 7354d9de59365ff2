//! Choosing a provider key: among the usable keys that serve the model, at
//! random in proportion to `weight`.

use rand::Rng;

use super::KeyConfig;
use crate::errors::{ErrorKind, GatewayError};

/// One provider's keys, named for the errors that explain a refusal.
#[derive(Clone, Copy)]
pub(crate) struct Keys<'a> {
    pub(crate) provider: &'static str,
    pub(crate) keys: &'a [KeyConfig],
}

/// Index of the chosen key in `provider.keys`, leaving out `excluded`
/// (keys that already failed this request) and, while others remain, keys
/// cooling down after a 429.
pub(crate) fn select(
    provider: Keys<'_>,
    model: Option<&str>,
    excluded: &[usize],
) -> Result<usize, GatewayError> {
    select_with(provider, model, excluded, rand::thread_rng().gen::<f64>())
}

/// The keys that could serve the request: usable, serving the model, not
/// `excluded`. (Weights are positive: the config refuses others.)
fn serving<'a>(
    provider: Keys<'a>,
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
pub(crate) fn has_alternative(provider: Keys<'_>, model: Option<&str>, excluded: &[usize]) -> bool {
    serving(provider, model, excluded).next().is_some()
}

/// `roll` in `[0, 1)` decides among eligible keys; split out for tests.
fn select_with(
    provider: Keys<'_>,
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

fn no_key(provider: Keys<'_>, model: Option<&str>) -> GatewayError {
    let name = provider.provider;
    if provider.keys.is_empty() {
        return GatewayError::new(
            ErrorKind::ProviderNotConfigured,
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
            ErrorKind::ProviderNotConfigured,
            format!("provider {name} has no usable key: {detail}"),
        );
    }
    match model {
        Some(m) => GatewayError::new(
            ErrorKind::ModelNotAllowed,
            format!("no {name} key is configured for model {m:?}"),
        ),
        None => GatewayError::new(
            ErrorKind::ModelNotAllowed,
            format!("the {name} keys are limited to certain models and this request names none"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::credential::Credential;
    use crate::keys::key::test_key as key;

    fn two_keys() -> Vec<KeyConfig> {
        vec![key("a", 1.0, None), key("b", 3.0, Some(&["gpt-4o", "o3*"]))]
    }

    fn openai(keys: &[KeyConfig]) -> Keys<'_> {
        Keys {
            provider: "openai",
            keys,
        }
    }

    #[test]
    fn weights_split_the_range() {
        let keys = two_keys();
        let p = openai(&keys);
        assert_eq!(select_with(p, Some("gpt-4o"), &[], 0.0).unwrap(), 0);
        assert_eq!(select_with(p, Some("gpt-4o"), &[], 0.24).unwrap(), 0);
        assert_eq!(select_with(p, Some("gpt-4o"), &[], 0.26).unwrap(), 1);
        assert_eq!(select_with(p, Some("o3-mini"), &[], 0.99).unwrap(), 1);
        // b does not serve other models, nor requests naming none.
        assert_eq!(select_with(p, Some("gpt-4.1"), &[], 0.99).unwrap(), 0);
        assert_eq!(select_with(p, None, &[], 0.99).unwrap(), 0);
    }

    #[test]
    fn explains_why_nothing_is_eligible() {
        let e = select_with(openai(&[]), None, &[], 0.5).unwrap_err();
        assert_eq!(e.kind, ErrorKind::ProviderNotConfigured);
        assert!(e.message.contains("no keys configured"), "{}", e.message);

        let mut unset = key("a", 1.0, None);
        unset.credential = Credential::Disabled;
        unset.missing_env = Some("UNSET_OPENAI_KEY".into());
        let keys = [unset];
        let e = select_with(openai(&keys), None, &[], 0.5).unwrap_err();
        assert_eq!(
            (e.kind.status(), e.kind),
            (503, ErrorKind::ProviderNotConfigured)
        );
        assert!(e.message.contains("UNSET_OPENAI_KEY"), "{}", e.message);

        let keys = [key("a", 1.0, Some(&["gpt-4o"]))];
        let e = select_with(openai(&keys), Some("gpt-5"), &[], 0.5).unwrap_err();
        assert_eq!((e.kind.status(), e.kind), (400, ErrorKind::ModelNotAllowed));
        let e = select_with(openai(&keys), None, &[], 0.5).unwrap_err();
        assert!(e.message.contains("names none"), "{}", e.message);
    }

    #[test]
    fn failed_and_cooling_keys_are_left_out_while_others_remain() {
        let keys = two_keys();
        let p = openai(&keys);
        // Key 0 failed this request: only key 1 remains, whatever the roll.
        assert_eq!(select_with(p, Some("gpt-4o"), &[0], 0.0).unwrap(), 1);
        assert!(!has_alternative(p, Some("gpt-4o"), &[0, 1]));
        // Key 0 cooling after a 429: skipped while key 1 can serve.
        keys[0].cooldown.start(Duration::from_secs(30));
        assert_eq!(select_with(p, Some("gpt-4o"), &[], 0.0).unwrap(), 1);
        // All cooling: the request is still served.
        keys[1].cooldown.start(Duration::from_secs(30));
        assert!(select_with(p, Some("gpt-4o"), &[], 0.0).is_ok());
    }
}
