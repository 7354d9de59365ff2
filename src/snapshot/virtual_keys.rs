//! The virtual keys clients authenticate with, and what each may do. Only
//! data: checking a request against them is `auth` and `policy`'s job.

use std::collections::HashMap;

use http::Method;
use regex::RegexSet;
use ring::digest::{digest, SHA256};

use crate::providers::ProviderKind;
use crate::spend::KeyLimits;

#[derive(Default)]
pub struct VirtualKeys {
    /// Name and SHA-256 of each usable key: the key itself is not kept.
    pub(crate) keys: Vec<(String, [u8; 32])>,
    /// What each key may do, by name.
    policies: HashMap<String, KeyPolicy>,
    /// Some key is configured, even if none is usable (its variable unset):
    /// the gateway then never falls back to open mode.
    required: bool,
}

impl VirtualKeys {
    pub fn new(keys: impl IntoIterator<Item = (String, String)>, required: bool) -> Self {
        VirtualKeys {
            keys: keys
                .into_iter()
                .map(|(name, value)| (name, sha256(value.as_bytes())))
                .collect(),
            required,
            policies: Default::default(),
        }
    }

    pub(crate) fn with_policies(
        mut self,
        policies: impl IntoIterator<Item = (String, KeyPolicy)>,
    ) -> Self {
        self.policies = policies.into_iter().collect();
        self
    }

    pub(crate) fn policy(&self, name: &str) -> Option<&KeyPolicy> {
        self.policies.get(name)
    }

    /// Every configured key's policy, by name.
    pub(crate) fn policies(&self) -> Vec<(&str, &KeyPolicy)> {
        let mut all: Vec<_> = self.policies.iter().map(|(k, p)| (k.as_str(), p)).collect();
        all.sort_by_key(|(k, _)| *k);
        all
    }

    /// Open mode: no virtual key configured at all.
    pub(crate) fn is_open(&self) -> bool {
        !self.required && self.keys.is_empty()
    }
}

pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, data).as_ref());
    out
}

/// What one virtual key may do (`virtual_keys[].allow` and limits).
#[derive(Debug, Default)]
pub(crate) struct KeyPolicy {
    pub(crate) providers: Option<Vec<ProviderKind>>,
    pub(crate) methods: Option<Vec<Method>>,
    /// The provider-native path must match one of these.
    pub(crate) paths: Option<RegexSet>,
    /// Per-minute limits and the budget, counted by the spend store.
    pub(crate) limits: KeyLimits,
    /// Counted in this process only, also with a shared store.
    pub(crate) max_concurrent: Option<u64>,
}
