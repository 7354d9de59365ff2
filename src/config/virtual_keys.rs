//! `virtual_keys:` what clients present instead of a provider key, and what
//! each one may do.

use super::checker::{Checker, Lookup};
use super::schema::{RawConfig, RawVirtualKey};
use crate::providers::ProviderKind;
use crate::snapshot::{KeyPolicy, VirtualKeys};

pub(crate) fn virtual_keys(c: &mut Checker, raw: &RawConfig) -> VirtualKeys {
    let mut usable: Vec<(String, String)> = Vec::new();
    let mut names = Vec::new();
    let mut policies = Vec::new();
    for vk in &raw.virtual_keys {
        let name = vk.value.name.value.trim().to_string();
        policies.push((name.clone(), key_policy(c, &vk.value, &name)));
        if name.is_empty() {
            c.error(&vk.value.name, "virtual key name is empty");
        } else if names.contains(&name) {
            c.error(
                &vk.value.name,
                format!("virtual key name `{name}` is used twice"),
            );
        }
        names.push(name.clone());
        if let Some(Lookup::Value(v)) = c.secret(&vk.value.value, &format!("virtual key `{name}`"))
        {
            if usable.iter().any(|(_, u)| *u == v) {
                c.error(
                    &vk.value.value,
                    format!("virtual key `{name}` has the same value as another"),
                );
            }
            usable.push((name, v));
        }
    }
    // Configured but all unset is closed, not open: a missing variable
    // must not turn authentication off.
    VirtualKeys::new(usable, !raw.virtual_keys.is_empty()).with_policies(policies)
}

/// The limits a virtual key carries, each checked where it is written.
fn key_policy(c: &mut Checker, vk: &RawVirtualKey, name: &str) -> KeyPolicy {
    let mut policy = KeyPolicy::default();
    if let Some(list) = &vk.providers {
        let mut kinds = Vec::new();
        for p in &list.value {
            match ProviderKind::from_name(p.value.trim()) {
                Some(k) => kinds.push(k),
                None => c.error(
                    p,
                    format!(
                        "virtual key `{name}`: unknown provider `{}` (openai, anthropic, azure, gemini, vertex)",
                        p.value
                    ),
                ),
            }
        }
        policy.providers = Some(kinds);
    }
    if let Some(list) = &vk.methods {
        let mut methods = Vec::new();
        for m in &list.value {
            match http::Method::from_bytes(m.value.trim().to_ascii_uppercase().as_bytes()) {
                Ok(method) => methods.push(method),
                Err(_) => c.error(
                    m,
                    format!("virtual key `{name}`: invalid method `{}`", m.value),
                ),
            }
        }
        policy.methods = Some(methods);
    }
    if let Some(list) = &vk.paths {
        let mut ok = true;
        for p in &list.value {
            if let Err(e) = regex::Regex::new(&p.value) {
                c.error(
                    p,
                    format!("virtual key `{name}`: invalid path pattern: {e}"),
                );
                ok = false;
            }
        }
        // Anchored: a pattern describes the whole path, not a part of it.
        let anchored = list.value.iter().map(|p| format!("^(?:{})$", p.value));
        if ok {
            match regex::RegexSet::new(anchored) {
                Ok(set) => policy.paths = Some(set),
                Err(e) => c.error(list, format!("virtual key `{name}`: {e}")),
            }
        }
    }
    let what = |field: &str| format!("virtual key `{name}`: {field}");
    policy.requests_per_minute =
        c.at_least_one(&vk.requests_per_minute, &what("requests_per_minute"));
    policy.max_concurrent = c.at_least_one(&vk.max_concurrent, &what("max_concurrent"));
    policy
}
