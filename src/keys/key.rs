//! One configured provider key, as the runtime uses it.

use std::sync::Arc;

use super::Cooldown;
use crate::credential::Credential;
use crate::upstream::Upstream;

pub(crate) struct KeyConfig {
    pub(crate) name: String,
    pub(crate) credential: Credential,
    /// The unset `env.` variable that disabled this key, if any.
    pub(crate) missing_env: Option<String>,
    pub(crate) weight: f64,
    pub(crate) models: ModelFilter,
    pub(crate) upstream: Arc<Upstream>,
    /// Azure: the `api-version` every request of this key carries.
    pub(crate) api_version: Option<String>,
    /// Vertex: the project and region every request of this key goes to.
    pub(crate) vertex: Option<VertexTarget>,
    /// Until when the key is skipped after a 429.
    pub(crate) cooldown: Cooldown,
}

impl KeyConfig {
    pub(crate) fn usable(&self) -> bool {
        !matches!(self.credential, Credential::Disabled)
    }
}

pub(crate) struct VertexTarget {
    pub(crate) project: String,
    pub(crate) region: String,
}

/// `models:` of a key: `*` for any, exact names, or prefixes ending in `*`.
#[derive(Debug, Clone)]
pub(crate) enum ModelFilter {
    Any,
    Listed(Vec<String>),
}

impl ModelFilter {
    pub(crate) fn from_list(list: Option<Vec<String>>) -> Self {
        match list {
            None => ModelFilter::Any,
            Some(l) if l.is_empty() || l.iter().any(|m| m == "*") => ModelFilter::Any,
            Some(l) => ModelFilter::Listed(l),
        }
    }

    pub(crate) fn allows(&self, model: Option<&str>) -> bool {
        match (self, model) {
            (ModelFilter::Any, _) => true,
            (ModelFilter::Listed(_), None) => false,
            (ModelFilter::Listed(list), Some(m)) => {
                list.iter().any(|p| match p.strip_suffix('*') {
                    Some(prefix) => m.starts_with(prefix),
                    None => p == m,
                })
            }
        }
    }
}

/// A key as a test needs one: a static secret, at a loopback address that
/// is never contacted.
#[cfg(test)]
pub(crate) fn test_key(name: &str, weight: f64, models: Option<&[&str]>) -> KeyConfig {
    KeyConfig {
        name: name.into(),
        credential: Credential::Key(crate::credential::Secret::new("k").unwrap()),
        missing_env: None,
        weight,
        models: ModelFilter::from_list(models.map(|m| m.iter().map(|s| s.to_string()).collect())),
        upstream: Arc::new(Upstream::parse("http://127.0.0.1:1", None).unwrap()),
        api_version: None,
        vertex: None,
        cooldown: Cooldown::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_filter() {
        let f = ModelFilter::from_list(Some(vec!["gpt-4o".into(), "o3*".into()]));
        assert!(f.allows(Some("gpt-4o")));
        assert!(f.allows(Some("o3-mini")));
        assert!(!f.allows(Some("gpt-4o-mini")));
        assert!(!f.allows(None));
        assert!(ModelFilter::from_list(Some(vec!["*".into()])).allows(None));
        assert!(ModelFilter::from_list(None).allows(Some("x")));
    }
}
