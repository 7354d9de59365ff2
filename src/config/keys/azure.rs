//! An Azure key: its own endpoint and api-version, and either a static
//! value or an Entra ID service principal.

use rustls_pki_types::CertificateDer;
use serde_saphyr::Spanned;

use super::Target;
use crate::config::checker::{Checker, Lookup};
use crate::config::defaults;
use crate::config::providers::upstream;
use crate::config::schema::{RawAzureKeyConfig, RawKey};
use crate::tokens::{EntraClient, Minter};

pub(super) fn target(
    c: &mut Checker,
    what: &str,
    raw: &Spanned<RawKey>,
    az: &RawAzureKeyConfig,
    extra_ca: Option<&[CertificateDer<'static>]>,
) -> Target {
    let mut t = Target::default();
    if let Some(v) = &az.api_version {
        // Sent as a query value: anything else could change the request.
        if v.value.is_empty()
            || !v
                .value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        {
            c.error(
                v,
                format!("{what}: api_version {:?} is not a plain value", v.value),
            );
        }
        t.api_version = Some(v.value.clone());
    }
    c.ignored(&az.deployments, "azure_key_config.deployments");
    t.minter = entra(c, what, az);
    t.upstream = match &az.endpoint {
        Some(url) => upstream(c, url, extra_ca, None),
        None => {
            c.error(
                raw,
                format!("{what}: azure_key_config.endpoint is required"),
            );
            None
        }
    };
    t
}

/// An Entra ID service principal: `Some(Ok)` when configured, `Some(Err(var))`
/// when one of its `env.` variables is unset, `None` when absent.
fn entra(c: &mut Checker, what: &str, az: &RawAzureKeyConfig) -> Option<Result<Minter, String>> {
    let parts = [&az.client_id, &az.client_secret, &az.tenant_id];
    if parts.iter().all(|p| p.is_none()) {
        return None;
    }
    let (Some(id), Some(secret), Some(tenant)) = (&az.client_id, &az.client_secret, &az.tenant_id)
    else {
        let at = parts.iter().find_map(|p| p.as_ref()).expect("one is set");
        c.error(
            at,
            format!("{what}: Entra ID needs client_id, client_secret and tenant_id together"),
        );
        return None;
    };
    let mut values = Vec::new();
    for (v, field) in [
        (id, "client_id"),
        (secret, "client_secret"),
        (tenant, "tenant_id"),
    ] {
        match c.secret(v, &format!("{what}: {field}"))? {
            Lookup::Value(s) => values.push(s),
            Lookup::Unset(var) => return Some(Err(var)),
        }
    }
    let authority_host =
        az.authority_host
            .as_ref()
            .map_or(defaults::ENTRA_AUTHORITY.to_string(), |a| {
                if !(a.value.starts_with("https://") || a.value.starts_with("http://")) {
                    c.error(a, format!("{what}: authority_host must be an http(s) URL"));
                }
                a.value.clone()
            });
    let scope = az
        .scopes
        .as_ref()
        .map_or(defaults::ENTRA_SCOPE.to_string(), |s| s.value.join(" "));
    let [client_id, client_secret, tenant_id]: [String; 3] = values.try_into().ok()?;
    // It becomes a path segment of the token URL.
    if !tenant_id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-.".contains(&b))
    {
        c.error(
            tenant,
            format!("{what}: tenant_id must be a tenant GUID or domain"),
        );
    }
    Some(Ok(Minter::Entra(EntraClient {
        authority_host,
        tenant_id,
        client_id,
        client_secret,
        scope,
    })))
}
