//! A provider's `keys:`: what every key has (name, weight, models, value)
//! here; what only an Azure or a Vertex key has in [`azure`] and [`vertex`].

mod azure;
mod vertex;

use std::sync::Arc;

use rustls_pki_types::CertificateDer;
use serde_saphyr::Spanned;

use super::checker::{Checker, Lookup};
use super::defaults;
use super::schema::RawKey;
use crate::credential::{Credential, Secret};
use crate::keys::{KeyConfig, ModelFilter, VertexTarget};
use crate::providers::ProviderKind;
use crate::tokens::{Minter, TokenSource};
use crate::upstream::Upstream;

/// Largest key weight: shares are relative, and a sum of weights must not
/// reach infinity.
const MAX_WEIGHT: f64 = 1e9;

/// What a kind's own block (`azure_key_config`, `vertex_key_config`) makes
/// of a key.
#[derive(Default)]
struct Target {
    /// `None`: the key cannot be built (the error is reported).
    upstream: Option<Arc<Upstream>>,
    api_version: Option<String>,
    vertex: Option<VertexTarget>,
    /// A token minter instead of a static value: `Err(var)` when one of its
    /// `env.` variables is unset.
    minter: Option<Result<Minter, String>>,
}

pub(super) fn key_config(
    c: &mut Checker,
    kind: ProviderKind,
    index: usize,
    raw: &Spanned<RawKey>,
    shared_upstream: Option<&Arc<Upstream>>,
    extra_ca: Option<&[CertificateDer<'static>]>,
) -> Option<KeyConfig> {
    let k = &raw.value;
    for (field, name) in [
        (&k.id, "id"),
        (&k.aliases, "aliases"),
        (&k.blacklisted_models, "blacklisted_models"),
        (&k.use_for_batch_api, "use_for_batch_api"),
        (&k.bedrock_key_config, "bedrock_key_config"),
    ] {
        c.ignored(field, name);
    }
    let name = k
        .name
        .as_ref()
        .map(|n| n.value.trim().to_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("key{index}"));
    let what = format!("{} key `{name}`", kind.name());

    let weight = match &k.weight {
        // Bounded so that the sum of a provider's weights stays finite.
        Some(w) if !(w.value > 0.0 && w.value <= MAX_WEIGHT) => {
            c.error(
                w,
                format!("{what}: weight must be a positive number up to {MAX_WEIGHT}"),
            );
            defaults::KEY_WEIGHT
        }
        Some(w) => w.value,
        None => defaults::KEY_WEIGHT,
    };

    let target = match (kind, &k.azure_key_config, &k.vertex_key_config) {
        (ProviderKind::Azure, Some(az), None) => azure::target(c, &what, raw, &az.value, extra_ca),
        (ProviderKind::Azure, None, _) => {
            c.error(
                raw,
                format!("{what}: azure keys need azure_key_config.endpoint"),
            );
            Target::default()
        }
        (ProviderKind::Vertex, None, Some(vx)) => {
            vertex::target(c, &what, &vx.value, shared_upstream, extra_ca)
        }
        (ProviderKind::Vertex, None, None) => {
            c.error(
                raw,
                format!("{what}: vertex keys need vertex_key_config (project_id, region)"),
            );
            Target::default()
        }
        (_, Some(az), _) => {
            c.error(
                az,
                format!("{what}: azure_key_config belongs on azure keys only"),
            );
            Target::default()
        }
        (_, None, Some(vx)) => {
            c.error(
                vx,
                format!("{what}: vertex_key_config belongs on vertex keys only"),
            );
            Target::default()
        }
        (_, None, None) => Target {
            upstream: shared_upstream.cloned(),
            ..Target::default()
        },
    };

    let mut missing_env = None;
    let credential = match (&k.value, target.minter) {
        (_, Some(Err(var))) => {
            missing_env = Some(var);
            Credential::Disabled
        }
        (None, Some(Ok(m))) => Credential::Token(Arc::new(TokenSource::new(what.clone(), m))),
        (Some(v), Some(Ok(_))) => {
            c.error(
                v,
                format!("{what}: give either value or a service principal/account, not both"),
            );
            Credential::Disabled
        }
        (None, None) => {
            c.error(raw, format!("{what}: value is required"));
            Credential::Disabled
        }
        (Some(v), None) => match c.secret(v, &what) {
            Some(Lookup::Value(s)) => match Secret::new(&s) {
                Ok(secret) => Credential::Key(secret),
                Err(why) => {
                    c.error(v, format!("{what}: value {why}"));
                    Credential::Disabled
                }
            },
            Some(Lookup::Unset(var)) => {
                missing_env = Some(var);
                Credential::Disabled
            }
            None => Credential::Disabled,
        },
    };
    let credential = if k.enabled.unwrap_or(defaults::KEY_ENABLED) {
        credential
    } else {
        Credential::Disabled
    };
    Some(KeyConfig {
        name,
        credential,
        missing_env,
        weight,
        models: ModelFilter::from_list(k.models.clone()),
        upstream: target.upstream?,
        api_version: target.api_version,
        vertex: target.vertex,
        cooldown: Default::default(),
    })
}
