//! `virtual_keys:` what clients present instead of a provider key, and what
//! each one may do.

use serde_saphyr::Spanned;

use super::checker::{Checker, Lookup};
use super::defaults;
use super::schema::{RawBudget, RawConfig, RawVirtualKey};
use crate::providers::ProviderKind;
use crate::snapshot::{KeyPolicy, VirtualKeys};
use crate::spend::{Budget, Period};

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
    policy.limits.requests_per_minute =
        c.at_least_one(&vk.requests_per_minute, &what("requests_per_minute"));
    policy.limits.tokens_per_minute =
        c.at_least_one(&vk.tokens_per_minute, &what("tokens_per_minute"));
    policy.limits.budget = vk.budget.as_ref().and_then(|b| budget(c, b, name));
    policy.max_concurrent = c.at_least_one(&vk.max_concurrent, &what("max_concurrent"));
    policy
}

fn budget(c: &mut Checker, raw: &Spanned<RawBudget>, name: &str) -> Option<Budget> {
    let b = &raw.value;
    if b.usd.is_none() && b.tokens.is_none() {
        c.error(
            raw,
            format!("virtual key `{name}`: a budget needs `usd`, `tokens` or both"),
        );
        return None;
    }
    let mut ok = true;
    if let Some(usd) = &b.usd {
        if !(usd.value.is_finite() && usd.value > 0.0) {
            c.error(
                usd,
                format!("virtual key `{name}`: budget.usd must be a positive number of dollars"),
            );
            ok = false;
        }
    }
    let tokens = b.tokens.as_ref().map(|t| t.value);
    if let Some(t) = &b.tokens {
        if t.value == 0 {
            c.error(
                t,
                format!("virtual key `{name}`: budget.tokens must be at least 1"),
            );
            ok = false;
        }
    }
    let period = match &b.period {
        None => defaults::BUDGET_PERIOD,
        Some(p) => match Period::parse(p.value.trim()) {
            Some(period) => period,
            None => {
                c.error(
                    p,
                    format!(
                        "virtual key `{name}`: unknown budget period `{}` (day, week, month, total)",
                        p.value
                    ),
                );
                return None;
            }
        },
    };
    ok.then(|| Budget {
        usd: b.usd.as_ref().map(|u| u.value),
        tokens,
        period,
    })
}
