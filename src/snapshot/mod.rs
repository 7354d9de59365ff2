//! The immutable runtime form of a loaded config. Built once per load and
//! shared by `Arc`; a request loads it once and uses that one throughout.

mod limits;
mod provider;
mod virtual_keys;

#[cfg(test)]
pub(crate) mod testing;

use std::sync::Arc;

pub(crate) use limits::Limits;
pub use provider::ProviderConfig;
pub(crate) use virtual_keys::sha256;
pub(crate) use virtual_keys::KeyPolicy;
pub use virtual_keys::VirtualKeys;

use crate::credential::Credential;
use crate::keys::KeyConfig;
use crate::observe::trace::Tracer;
use crate::pricing::PriceTable;
use crate::providers::ProviderKind;
use crate::tokens::TokenSource;
use crate::upstream::Upstream;

pub struct Snapshot {
    pub(crate) virtual_keys: VirtualKeys,
    pub(crate) limits: Limits,
    /// What each call costs, by provider and model.
    pub(crate) prices: PriceTable,
    /// `telemetry:`: where spans go; `None` costs requests one check.
    pub(crate) telemetry: Option<Arc<Tracer>>,
    providers: [Option<Arc<ProviderConfig>>; ProviderKind::ALL.len()],
}

impl Snapshot {
    pub(crate) fn new(
        virtual_keys: VirtualKeys,
        providers: Vec<ProviderConfig>,
        limits: Limits,
    ) -> Self {
        let mut slots: [Option<Arc<ProviderConfig>>; ProviderKind::ALL.len()] = Default::default();
        for p in providers {
            let i = p.kind.index();
            slots[i] = Some(Arc::new(p));
        }
        Snapshot {
            virtual_keys,
            limits,
            prices: PriceTable::default(),
            telemetry: None,
            providers: slots,
        }
    }

    /// With these prices instead of none.
    pub(crate) fn with_prices(mut self, prices: PriceTable) -> Self {
        self.prices = prices;
        self
    }

    pub(crate) fn with_telemetry(mut self, tracer: Option<Arc<Tracer>>) -> Self {
        self.telemetry = tracer;
        self
    }

    /// An unchanged `telemetry:` section keeps the running exporter (its
    /// thread, its queue); a changed one gets the new one, and the old one
    /// ends once the last request using the old config is done with it.
    pub(crate) fn adopt_telemetry(&mut self, previous: &Snapshot) {
        if let (Some(new), Some(old)) = (&self.telemetry, &previous.telemetry) {
            if new.settings == old.settings {
                self.telemetry = Some(old.clone());
            }
        }
    }

    pub fn provider(&self, kind: ProviderKind) -> Option<&Arc<ProviderConfig>> {
        self.providers[kind.index()].as_ref()
    }

    pub(crate) fn upstreams(&self) -> impl Iterator<Item = &Arc<Upstream>> {
        self.keys().map(|k| &k.upstream)
    }

    pub(crate) fn token_sources(&self) -> Vec<Arc<TokenSource>> {
        self.keys()
            .filter_map(|k| match &k.credential {
                Credential::Token(t) => Some(t.clone()),
                _ => None,
            })
            .collect()
    }

    /// Carries over what the previous config already knows about the same
    /// upstreams and credentials: resolved addresses (so no request waits
    /// for DNS) and minted tokens. Unchanged upstreams keep the same Pingora
    /// peers, so their pooled connections stay in use.
    pub(crate) fn adopt_from(&self, previous: &Snapshot) {
        for provider in self.providers.iter().flatten() {
            let old_provider = previous.provider(provider.kind);
            for key in &provider.keys {
                if let Some(old) = previous
                    .upstreams()
                    .find(|u| u.host == key.upstream.host && u.port == key.upstream.port)
                {
                    key.upstream.adopt_addresses(old);
                }
                if let Credential::Token(t) = &key.credential {
                    for old in previous.token_sources() {
                        t.adopt(&old);
                    }
                }
                // A key cooling down after a 429 stays cooling.
                if let Some(old) =
                    old_provider.and_then(|p| p.keys.iter().find(|k| k.name == key.name))
                {
                    key.cooldown.adopt(&old.cooldown);
                }
            }
        }
    }

    fn keys(&self) -> impl Iterator<Item = &KeyConfig> {
        self.providers.iter().flatten().flat_map(|p| p.keys.iter())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::testing::{provider, snapshot};
    use crate::keys::key::test_key;
    use crate::providers::ProviderKind;

    #[test]
    fn a_reload_keeps_cooldowns_by_key_name() {
        let old = snapshot(
            vec![],
            vec![provider(
                ProviderKind::OpenAi,
                vec![test_key("a", 1.0, None), test_key("b", 1.0, None)],
            )],
        );
        old.provider(ProviderKind::OpenAi).unwrap().keys[0]
            .cooldown
            .start(Duration::from_secs(30));
        let new = snapshot(
            vec![],
            vec![provider(
                ProviderKind::OpenAi,
                vec![test_key("b", 1.0, None), test_key("a", 2.0, None)],
            )],
        );
        new.adopt_from(&old);
        let keys = &new.provider(ProviderKind::OpenAi).unwrap().keys;
        assert!(keys[1].cooldown.active(), "key a is still cooling");
        assert!(!keys[0].cooldown.active());
        // Another provider's key of the same name is another key.
        let other = snapshot(
            vec![],
            vec![provider(
                ProviderKind::Anthropic,
                vec![test_key("a", 1.0, None)],
            )],
        );
        other.adopt_from(&old);
        let keys = &other.provider(ProviderKind::Anthropic).unwrap().keys;
        assert!(!keys[0].cooldown.active());
    }
}
