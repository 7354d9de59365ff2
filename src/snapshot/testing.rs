//! Runtime models built by hand, for tests of the request path that need
//! no config file and no socket.

use std::sync::Arc;

use super::{KeyPolicy, Limits, ProviderConfig, Snapshot, VirtualKeys};
use crate::keys::KeyConfig;
use crate::providers::ProviderKind;
use crate::upstream::Timeouts;

pub(crate) const LIMITS: Limits = Limits {
    max_body_bytes: 1024 * 1024,
    max_header_bytes: 4096,
    max_headers: 20,
    client_read_timeout: std::time::Duration::from_secs(5),
    keepalive_timeout: 5,
    websocket_max_frame_bytes: 1024 * 1024,
    websocket_idle_timeout: std::time::Duration::from_secs(5),
};

pub(crate) fn provider(kind: ProviderKind, keys: Vec<KeyConfig>) -> ProviderConfig {
    let model_restricted = keys
        .iter()
        .any(|k| matches!(k.models, crate::keys::ModelFilter::Listed(_)));
    ProviderConfig {
        kind,
        keys,
        extra_headers: Vec::new(),
        timeouts: Timeouts {
            connect: std::time::Duration::from_secs(1),
            first_byte: std::time::Duration::from_secs(1),
            stream_idle: std::time::Duration::from_secs(1),
            total: None,
        },
        retry_on_status: Vec::new(),
        max_attempts: 2,
        model_restricted,
        inject_stream_usage: true,
    }
}

/// Virtual keys as `(name, value, policy)`; none means open mode.
pub(crate) fn snapshot(
    virtual_keys: Vec<(&str, &str, KeyPolicy)>,
    providers: Vec<ProviderConfig>,
) -> Arc<Snapshot> {
    let required = !virtual_keys.is_empty();
    let mut values = Vec::new();
    let mut policies = Vec::new();
    for (name, value, policy) in virtual_keys {
        values.push((name.to_string(), value.to_string()));
        policies.push((name.to_string(), policy));
    }
    let vks = VirtualKeys::new(values, required).with_policies(policies);
    Arc::new(Snapshot::new(vks, providers, LIMITS))
}
