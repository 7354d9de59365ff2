//! `providers:` one block per provider: its upstream (`network_config`),
//! timeouts, extra headers and retry settings. Its keys are in [`super::keys`].

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use rustls_pki_types::CertificateDer;
use serde_saphyr::Spanned;

use super::checker::Checker;
use super::defaults;
use super::keys::key_config;
use super::schema::{RawConfig, RawNetworkConfig, RawProvider};
use crate::auth::{CLIENT_CREDENTIAL_HEADERS, STRAIT_HEADER_PREFIX};
use crate::keys::{KeyConfig, ModelFilter};
use crate::providers::ProviderKind;
use crate::snapshot::ProviderConfig;
use crate::upstream::{parse_pem_certs, Timeouts, Upstream};

/// The providers strait serves; a block for any other is ignored with a
/// warning, so a Bifrost file with more providers still loads.
pub(crate) fn providers(c: &mut Checker, raw: &RawConfig) -> Vec<ProviderConfig> {
    let mut out = Vec::new();
    for (name, provider) in &raw.providers {
        match ProviderKind::from_name(name) {
            Some(kind) => out.extend(provider_config(c, kind, provider)),
            None => c.warn(
                provider,
                format!("provider `{name}` is not served by strait; its block is ignored"),
            ),
        }
    }
    out
}

fn provider_config(
    c: &mut Checker,
    kind: ProviderKind,
    raw: &Spanned<RawProvider>,
) -> Option<ProviderConfig> {
    let p = &raw.value;
    for (field, name) in [
        (
            &p.concurrency_and_buffer_size,
            "concurrency_and_buffer_size",
        ),
        (&p.proxy_config, "proxy_config"),
        (&p.send_back_raw_response, "send_back_raw_response"),
        (&p.send_back_raw_request, "send_back_raw_request"),
        (&p.store_raw_request_response, "store_raw_request_response"),
        (&p.custom_provider_config, "custom_provider_config"),
        (&p.openai_config, "openai_config"),
    ] {
        c.ignored(field, name);
    }
    let default_net = RawNetworkConfig::default();
    let net = p.network_config.as_ref().unwrap_or(&default_net);
    let extra_ca = ca_certs(c, net);
    let timeouts = timeouts(c, net);
    let extra_headers = extra_headers(c, net);

    let rules = kind.rules();
    let shared_upstream = match (&net.base_url, rules.default_base_url()) {
        (Some(url), _) if kind == ProviderKind::Azure => {
            c.warn(url, "azure ignores network_config.base_url: each key's azure_key_config.endpoint is used");
            None
        }
        (Some(url), _) => upstream(c, url, extra_ca.as_deref(), net.h2c.as_ref()),
        (None, Some(default)) => Some(Arc::new(
            Upstream::parse(default, extra_ca.as_deref()).expect("built-in base URL is valid"),
        )),
        (None, None) => None,
    };

    if p.keys.is_empty() {
        c.warn(
            raw,
            format!(
                "provider `{}` has no keys; its route answers 503",
                kind.name()
            ),
        );
    }
    let mut keys: Vec<KeyConfig> = Vec::new();
    for (i, key) in p.keys.iter().enumerate() {
        if let Some(k) = key_config(
            c,
            kind,
            i,
            key,
            shared_upstream.as_ref(),
            extra_ca.as_deref(),
        ) {
            if keys.iter().any(|other| other.name == k.name) {
                c.error(
                    key,
                    format!("key name `{}` is used twice in `{}`", k.name, kind.name()),
                );
            }
            keys.push(k);
        }
    }
    let model_restricted = keys
        .iter()
        .any(|k| k.usable() && matches!(k.models, ModelFilter::Listed(_)));
    let retry_on_status = p.retry_on_status.as_ref().map_or_else(Vec::new, |r| {
        for s in &r.value {
            if !(400..=599).contains(s) {
                c.error(r, format!("retry_on_status: {s} is not an error status"));
            }
        }
        r.value.clone()
    });
    let max_attempts = match &p.max_attempts {
        Some(m) if m.value == 0 || m.value > 10 => {
            c.error(m, "max_attempts must be between 1 and 10");
            defaults::MAX_ATTEMPTS
        }
        Some(m) => m.value,
        None => defaults::MAX_ATTEMPTS,
    };
    let inject_stream_usage = match &p.inject_stream_usage {
        Some(f) if kind == ProviderKind::Anthropic => {
            c.warn(
                f,
                "anthropic streams always report usage; inject_stream_usage is ignored",
            );
            false
        }
        Some(f) => f.value,
        None => defaults::INJECT_STREAM_USAGE,
    };
    Some(ProviderConfig {
        kind,
        keys,
        extra_headers,
        timeouts,
        retry_on_status,
        max_attempts,
        model_restricted,
        inject_stream_usage,
    })
}

/// The upstream at `url`; `h2c` is only meaningful for plain http.
pub(super) fn upstream(
    c: &mut Checker,
    url: &Spanned<String>,
    extra_ca: Option<&[CertificateDer<'static>]>,
    h2c: Option<&Spanned<bool>>,
) -> Option<Arc<Upstream>> {
    match Upstream::parse(url.value.trim(), extra_ca) {
        Ok(mut u) => {
            if let Some(h2c) = h2c.filter(|h| h.value) {
                if u.tls {
                    c.error(
                        h2c,
                        "h2c applies to http:// base URLs; https:// negotiates HTTP/2 itself",
                    );
                }
                u.h2c = true;
            }
            Some(Arc::new(u))
        }
        Err(e) => {
            c.error(url, e);
            None
        }
    }
}

/// `ca_cert_pem`, written as PEM text or as a path to a PEM file.
fn ca_certs(c: &mut Checker, net: &RawNetworkConfig) -> Option<Vec<CertificateDer<'static>>> {
    let at = net.ca_cert_pem.as_ref()?;
    let text = if at.value.contains("-----BEGIN") {
        at.value.clone()
    } else {
        let path = c.base_dir().join(at.value.trim());
        match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                c.error(
                    at,
                    format!("ca_cert_pem: cannot read {}: {e}", path.display()),
                );
                return None;
            }
        }
    };
    match parse_pem_certs(&text) {
        Ok(certs) => Some(certs),
        Err(e) => {
            c.error(at, format!("ca_cert_pem: {e}"));
            None
        }
    }
}

fn timeouts(c: &mut Checker, net: &RawNetworkConfig) -> Timeouts {
    let mut t = defaults::TIMEOUTS;
    let secs = |c: &mut Checker, field, name| c.at_least_one(field, name).map(Duration::from_secs);
    if let Some(d) = secs(
        c,
        &net.connect_timeout_in_seconds,
        "connect_timeout_in_seconds",
    ) {
        t.connect = d;
    }
    if let Some(d) = secs(
        c,
        &net.default_request_timeout_in_seconds,
        "default_request_timeout_in_seconds",
    ) {
        t.first_byte = d;
    }
    if let Some(d) = secs(
        c,
        &net.stream_idle_timeout_in_seconds,
        "stream_idle_timeout_in_seconds",
    ) {
        t.stream_idle = d;
    }
    t.total = secs(c, &net.total_timeout_in_seconds, "total_timeout_in_seconds");
    for (field, name) in [
        (&net.max_retries, "max_retries"),
        (&net.retry_backoff_initial_ms, "retry_backoff_initial_ms"),
        (&net.retry_backoff_max_ms, "retry_backoff_max_ms"),
    ] {
        c.ignored(field, &format!("network_config.{name}"));
    }
    if let Some(f) = &net.insecure_skip_verify {
        c.error(
            f,
            "insecure_skip_verify is refused: strait always verifies upstream certificates",
        );
    }
    t
}

/// Headers added to every request of the provider; never one that carries
/// a credential or strait's own, which the gateway sets or strips itself.
fn extra_headers(c: &mut Checker, net: &RawNetworkConfig) -> Vec<(HeaderName, HeaderValue)> {
    let mut out = Vec::new();
    for (name, value) in &net.extra_headers {
        let lower = name.to_ascii_lowercase();
        if CLIENT_CREDENTIAL_HEADERS.contains(&lower.as_str())
            || lower.starts_with(STRAIT_HEADER_PREFIX)
            || lower == "host"
        {
            c.error(value, format!("extra_headers may not set `{name}`"));
            continue;
        }
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value.value),
        ) {
            (Ok(n), Ok(v)) => out.push((n, v)),
            _ => c.error(
                value,
                format!("extra_headers: `{name}` is not a valid header"),
            ),
        }
    }
    out
}
