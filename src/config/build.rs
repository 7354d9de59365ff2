//! Validation of the parsed file: every problem is collected with its
//! location, then the snapshot and settings are built.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use serde_saphyr::Spanned;

use super::schema::{RawConfig, RawKey, RawNetworkConfig, RawProvider, RawServer};
use super::snapshot::{KeyConfig, ModelFilter, ProviderConfig, Secret, Snapshot, Timeouts};
use super::{Diagnostic, Loaded, Mode};
use crate::auth::{VirtualKeys, CLIENT_CREDENTIAL_HEADERS, STRAIT_HEADER_PREFIX};
use crate::providers::ProviderKind;
use crate::upstream::{parse_pem_certs, Upstream};

pub struct Context<'a> {
    pub file: &'a str,
    pub base_dir: PathBuf,
    pub mode: Mode,
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

/// Process-level settings: read at start, not swapped by a reload.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: Vec<SocketAddr>,
    pub admin_listen: Option<SocketAddr>,
    pub server: RawServer,
    /// `None`: access log off; `Some(None)`: stdout; `Some(Some(path))`: file.
    pub access_log: Option<Option<PathBuf>>,
}

const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

struct Checker<'a, 'c> {
    ctx: &'a Context<'c>,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

enum Resolved {
    Value(String),
    /// The `env.` variable named is unset.
    Missing(String),
}

impl Checker<'_, '_> {
    fn diag<T>(&self, at: &Spanned<T>, message: String) -> Diagnostic {
        Diagnostic {
            file: self.ctx.file.to_string(),
            line: at.referenced.line(),
            column: at.referenced.column(),
            message,
        }
    }

    fn error<T>(&mut self, at: &Spanned<T>, message: impl Into<String>) {
        let d = self.diag(at, message.into());
        self.errors.push(d);
    }

    fn warn<T>(&mut self, at: &Spanned<T>, message: impl Into<String>) {
        let d = self.diag(at, message.into());
        self.warnings.push(d);
    }

    /// Resolves a secret written either literally or as `env.NAME`.
    fn secret(&mut self, value: &Spanned<String>, what: &str) -> Option<Resolved> {
        let v = value.value.trim();
        let Some(name) = v.strip_prefix("env.") else {
            if v.is_empty() {
                self.error(value, format!("{what} is empty"));
                return None;
            }
            return Some(Resolved::Value(v.to_string()));
        };
        match (self.ctx.env)(name) {
            Some(s) if !s.trim().is_empty() => Some(Resolved::Value(s.trim().to_string())),
            _ => {
                let msg = format!("{what}: environment variable {name} is not set");
                match self.ctx.mode {
                    Mode::Check => self.error(value, msg),
                    Mode::Run => self.warn(value, format!("{msg}; it is disabled")),
                }
                Some(Resolved::Missing(name.to_string()))
            }
        }
    }

    fn ignored<T>(&mut self, field: &Option<Spanned<T>>, name: &str) {
        if let Some(f) = field {
            self.warn(
                f,
                format!(
                    "`{name}` is accepted for Bifrost compatibility; strait does not act on it"
                ),
            );
        }
    }
}

pub fn build(raw: RawConfig, ctx: &Context<'_>) -> Result<Loaded, Vec<Diagnostic>> {
    let mut c = Checker {
        ctx,
        errors: Vec::new(),
        warnings: Vec::new(),
    };

    let listen = listeners(&mut c, &raw);
    let admin_listen = raw
        .admin_listen
        .as_ref()
        .and_then(|a| socket_addr(&mut c, a));
    if let Some(t) = &raw.server.threads {
        if t.value == 0 {
            c.error(t, "server.threads must be at least 1");
        }
    }
    let virtual_keys = virtual_keys(&mut c, &raw);
    if virtual_keys.is_open() && !raw.allow_unauthenticated {
        for (addr, at) in listen
            .iter()
            .zip(raw.listen.iter().flat_map(|l| l.value.iter()))
        {
            if !addr.ip().is_loopback() {
                c.error(
                    at,
                    format!(
                        "listener {addr} is not loopback and no virtual_keys are configured: \
                         add virtual_keys, or set allow_unauthenticated: true to serve it open"
                    ),
                );
            }
        }
    }

    let mut providers = Vec::new();
    for (name, provider) in &raw.providers {
        match ProviderKind::from_name(name) {
            Some(kind) => {
                if let Some(p) = provider_config(&mut c, kind, provider) {
                    providers.push(p);
                }
            }
            None => c.warn(
                provider,
                format!("provider `{name}` is not served by strait; its block is ignored"),
            ),
        }
    }

    let access_log = match raw.access_log.as_ref().map(|s| s.value.as_str()) {
        None | Some("-") => Some(None),
        Some("off") => None,
        Some(path) => Some(Some(ctx.base_dir.join(path))),
    };

    c.errors.sort_by_key(|d| (d.line, d.column));
    c.warnings.sort_by_key(|d| (d.line, d.column));
    if !c.errors.is_empty() {
        return Err(c.errors);
    }
    Ok(Loaded {
        snapshot: Snapshot::new(virtual_keys, providers),
        settings: Settings {
            listen,
            admin_listen,
            server: raw.server,
            access_log,
        },
        warnings: c.warnings,
    })
}

fn socket_addr(c: &mut Checker, at: &Spanned<String>) -> Option<SocketAddr> {
    match at.value.parse() {
        Ok(a) => Some(a),
        Err(_) => {
            c.error(at, format!("{:?} is not an IP:port address", at.value));
            None
        }
    }
}

fn listeners(c: &mut Checker, raw: &RawConfig) -> Vec<SocketAddr> {
    let Some(list) = &raw.listen else {
        return vec![DEFAULT_LISTEN.parse().expect("valid default")];
    };
    if list.value.is_empty() {
        c.error(list, "listen needs at least one address");
    }
    list.value
        .iter()
        .filter_map(|a| socket_addr(c, a))
        .collect()
}

fn virtual_keys(c: &mut Checker, raw: &RawConfig) -> VirtualKeys {
    let mut usable: Vec<(String, String)> = Vec::new();
    let mut names = Vec::new();
    for vk in &raw.virtual_keys {
        let name = vk.value.name.value.trim().to_string();
        if name.is_empty() {
            c.error(&vk.value.name, "virtual key name is empty");
        } else if names.contains(&name) {
            c.error(
                &vk.value.name,
                format!("virtual key name `{name}` is used twice"),
            );
        }
        names.push(name.clone());
        if let Some(Resolved::Value(v)) =
            c.secret(&vk.value.value, &format!("virtual key `{name}`"))
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
    VirtualKeys::new(usable, !raw.virtual_keys.is_empty())
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

    let behaviour = kind.behaviour();
    let shared_upstream = match (&net.base_url, behaviour.default_base_url()) {
        (Some(url), _) if kind == ProviderKind::Azure => {
            c.warn(url, "azure ignores network_config.base_url: each key's azure_key_config.endpoint is used");
            None
        }
        (Some(url), _) => upstream(c, url, extra_ca.as_deref()),
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
    Some(ProviderConfig {
        kind,
        keys,
        extra_headers,
        timeouts,
        model_restricted,
    })
}

fn key_config(
    c: &mut Checker,
    kind: ProviderKind,
    index: usize,
    raw: &Spanned<RawKey>,
    shared_upstream: Option<&Arc<Upstream>>,
    extra_ca: Option<&[rustls_pki_types::CertificateDer<'static>]>,
) -> Option<KeyConfig> {
    let k = &raw.value;
    for (field, name) in [
        (&k.id, "id"),
        (&k.aliases, "aliases"),
        (&k.blacklisted_models, "blacklisted_models"),
        (&k.use_for_batch_api, "use_for_batch_api"),
        (&k.vertex_key_config, "vertex_key_config"),
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
        Some(w) if !(w.value.is_finite() && w.value > 0.0) => {
            c.error(w, format!("{what}: weight must be a positive number"));
            1.0
        }
        Some(w) => w.value,
        None => 1.0,
    };

    let mut api_version = None;
    let key_upstream = match (&k.azure_key_config, kind) {
        (Some(az), ProviderKind::Azure) => {
            if let Some(v) = &az.value.api_version {
                if HeaderValue::from_str(&v.value).is_err() || v.value.contains(['&', '#', ' ']) {
                    c.error(
                        v,
                        format!("{what}: api_version {:?} is not a plain value", v.value),
                    );
                }
                api_version = Some(v.value.clone());
            }
            c.ignored(&az.value.deployments, "azure_key_config.deployments");
            for (field, n) in [
                (&az.value.client_id, "client_id"),
                (&az.value.client_secret, "client_secret"),
                (&az.value.tenant_id, "tenant_id"),
            ] {
                if let Some(f) = field {
                    c.error(
                        f,
                        format!("{what}: azure_key_config.{n} (Entra ID) is not supported yet"),
                    );
                }
            }
            match &az.value.endpoint {
                Some(url) => upstream(c, url, extra_ca),
                None => {
                    c.error(az, format!("{what}: azure_key_config.endpoint is required"));
                    None
                }
            }
        }
        (None, ProviderKind::Azure) => {
            c.error(
                raw,
                format!("{what}: azure keys need azure_key_config.endpoint"),
            );
            None
        }
        (Some(az), _) => {
            c.error(
                az,
                format!("{what}: azure_key_config belongs on azure keys only"),
            );
            None
        }
        (None, _) => shared_upstream.cloned(),
    };

    let (secret, missing_env) = match &k.value {
        None => {
            c.error(raw, format!("{what}: value is required"));
            (None, None)
        }
        Some(v) => match c.secret(v, &what) {
            Some(Resolved::Value(s)) => match Secret::new(&s) {
                Ok(secret) => (Some(secret), None),
                Err(why) => {
                    c.error(v, format!("{what}: value {why}"));
                    (None, None)
                }
            },
            Some(Resolved::Missing(var)) => (None, Some(var)),
            None => (None, None),
        },
    };
    let secret = if k.enabled { secret } else { None };
    Some(KeyConfig {
        name,
        secret,
        missing_env,
        weight,
        models: ModelFilter::from_list(k.models.clone()),
        upstream: key_upstream?,
        api_version,
    })
}

fn upstream(
    c: &mut Checker,
    url: &Spanned<String>,
    extra_ca: Option<&[rustls_pki_types::CertificateDer<'static>]>,
) -> Option<Arc<Upstream>> {
    match Upstream::parse(url.value.trim(), extra_ca) {
        Ok(u) => Some(Arc::new(u)),
        Err(e) => {
            c.error(url, e);
            None
        }
    }
}

fn ca_certs(
    c: &mut Checker,
    net: &RawNetworkConfig,
) -> Option<Vec<rustls_pki_types::CertificateDer<'static>>> {
    let at = net.ca_cert_pem.as_ref()?;
    let text = if at.value.contains("-----BEGIN") {
        at.value.clone()
    } else {
        let path = c.ctx.base_dir.join(at.value.trim());
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
    let mut t = Timeouts::default();
    for (field, slot, name) in [
        (
            &net.connect_timeout_in_seconds,
            &mut t.connect,
            "connect_timeout_in_seconds",
        ),
        (
            &net.default_request_timeout_in_seconds,
            &mut t.first_byte,
            "default_request_timeout_in_seconds",
        ),
        (
            &net.stream_idle_timeout_in_seconds,
            &mut t.stream_idle,
            "stream_idle_timeout_in_seconds",
        ),
    ] {
        if let Some(v) = field {
            if v.value == 0 {
                c.error(v, format!("{name} must be at least 1"));
            } else {
                *slot = Duration::from_secs(v.value);
            }
        }
    }
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
