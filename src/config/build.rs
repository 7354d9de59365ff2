//! Validation of the parsed file: every problem is collected with its
//! location, then the snapshot and settings are built.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use serde_saphyr::Spanned;

use super::schema::{
    RawAzureKeyConfig, RawConfig, RawKey, RawNetworkConfig, RawProvider, RawServer, RawVirtualKey,
};
use super::{Diagnostic, Loaded, Mode};
use crate::auth::{CLIENT_CREDENTIAL_HEADERS, STRAIT_HEADER_PREFIX};
use crate::credential::{Credential, Secret};
use crate::keys::{KeyConfig, ModelFilter, VertexTarget};
use crate::providers::{vertex_base_url, ProviderKind};
use crate::snapshot::{KeyPolicy, Limits, ProviderConfig, Snapshot, VirtualKeys};
use crate::tokens::entra::{DEFAULT_AUTHORITY, DEFAULT_SCOPE};
use crate::tokens::{EntraClient, Minter, ServiceAccount, TokenSource};
use crate::upstream::{parse_pem_certs, Timeouts, Upstream};

pub(crate) struct Context<'a> {
    pub(crate) file: &'a str,
    pub(crate) base_dir: PathBuf,
    pub(crate) mode: Mode,
    pub(crate) env: &'a dyn Fn(&str) -> Option<String>,
}

/// Process-level settings: read at start, not swapped by a reload.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) listen: Vec<SocketAddr>,
    /// Listeners that terminate TLS.
    pub(crate) tls_listen: Vec<TlsListen>,
    pub(crate) admin_listen: Option<SocketAddr>,
    pub(crate) server: RawServer,
    /// `None`: access log off; `Some(None)`: stdout; `Some(Some(path))`: file.
    pub(crate) access_log: Option<Option<PathBuf>>,
    /// `metrics.max_model_labels`.
    pub(crate) max_model_labels: usize,
    /// `reload.watch`.
    pub(crate) watch: bool,
    /// `reload.debounce_ms`.
    pub(crate) debounce: std::time::Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsListen {
    pub(crate) addr: SocketAddr,
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
}

impl Settings {
    /// The settings a reload cannot apply, by name, as comparable text.
    pub(crate) fn restart_only(&self) -> Vec<(&'static str, String)> {
        let s = &self.server;
        vec![
            ("listen", format!("{:?}", self.listen)),
            ("tls_listen", format!("{:?}", self.tls_listen)),
            ("admin_listen", format!("{:?}", self.admin_listen)),
            ("access_log", format!("{:?}", self.access_log)),
            (
                "server.threads",
                format!("{:?}", s.threads.as_ref().map(|t| t.value)),
            ),
            ("server.pid_file", format!("{:?}", s.pid_file)),
            ("server.upgrade_sock", format!("{:?}", s.upgrade_sock)),
            ("server.error_log", format!("{:?}", s.error_log)),
            ("server.user", format!("{:?}", s.user)),
            ("server.group", format!("{:?}", s.group)),
            ("server.daemon", format!("{:?}", s.daemon)),
            ("server.work_stealing", format!("{:?}", s.work_stealing)),
            (
                "server.grace_period_seconds",
                format!("{:?}", s.grace_period_seconds),
            ),
            (
                "server.graceful_shutdown_timeout_seconds",
                format!("{:?}", s.graceful_shutdown_timeout_seconds),
            ),
            (
                "server.drain_delay_seconds",
                format!("{:?}", s.drain_delay_seconds),
            ),
            (
                "server.upstream_keepalive_pool_size",
                format!("{:?}", s.upstream_keepalive_pool_size),
            ),
        ]
    }
}

/// Largest key weight: shares are relative, and a sum of weights must not
/// reach infinity.
const MAX_WEIGHT: f64 = 1e9;

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

    /// A count or a number of seconds, which must be at least 1.
    fn at_least_one(&mut self, field: &Option<Spanned<u64>>, what: &str) -> Option<u64> {
        let v = field.as_ref()?;
        if v.value == 0 {
            self.error(v, format!("{what} must be at least 1"));
            return None;
        }
        Some(v.value)
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

pub(crate) fn build(raw: RawConfig, ctx: &Context<'_>) -> Result<Loaded, Vec<Diagnostic>> {
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
    let limits = limits(&mut c, &raw);
    let tls_listen = tls_listeners(&mut c, &raw, &ctx.base_dir);
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

    if virtual_keys.is_open() && !raw.allow_unauthenticated {
        for (l, raw_l) in tls_listen.iter().zip(&raw.tls_listen) {
            if !l.addr.ip().is_loopback() {
                c.error(
                    &raw_l.value.addr,
                    format!(
                        "TLS listener {} is not loopback and no virtual_keys are configured: \
                         add virtual_keys, or set allow_unauthenticated: true to serve it open",
                        l.addr
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
        snapshot: Snapshot::new(virtual_keys, providers, limits),
        settings: Settings {
            listen,
            tls_listen,
            admin_listen,
            server: raw.server,
            access_log,
            max_model_labels: raw
                .metrics
                .max_model_labels
                .unwrap_or(crate::observe::metrics::DEFAULT_MODEL_LABELS),
            watch: raw.reload.watch.unwrap_or(false),
            debounce: std::time::Duration::from_millis(raw.reload.debounce_ms.unwrap_or(500)),
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

fn limits(c: &mut Checker, raw: &RawConfig) -> Limits {
    let mut l = super::defaults::LIMITS;
    let r = &raw.limits;
    let positive =
        |c: &mut Checker, field, name: &str| c.at_least_one(field, &format!("limits.{name}"));
    if let Some(v) = positive(c, &r.max_body_bytes, "max_body_bytes") {
        l.max_body_bytes = v;
    }
    if let Some(v) = positive(c, &r.max_header_bytes, "max_header_bytes") {
        l.max_header_bytes = v;
    }
    if let Some(v) = positive(c, &r.max_headers, "max_headers") {
        l.max_headers = v;
    }
    if let Some(v) = positive(
        c,
        &r.client_read_timeout_seconds,
        "client_read_timeout_seconds",
    ) {
        l.client_read_timeout = Duration::from_secs(v);
    }
    if let Some(v) = positive(c, &r.keepalive_timeout_seconds, "keepalive_timeout_seconds") {
        l.keepalive_timeout = v;
    }
    l
}

fn tls_listeners(c: &mut Checker, raw: &RawConfig, base: &std::path::Path) -> Vec<TlsListen> {
    let mut out = Vec::new();
    for l in &raw.tls_listen {
        let Some(addr) = socket_addr(c, &l.value.addr) else {
            continue;
        };
        let mut files = Vec::new();
        for f in [&l.value.cert, &l.value.key] {
            let path = base.join(f.value.trim());
            if let Err(e) = std::fs::metadata(&path) {
                c.error(f, format!("cannot read {}: {e}", path.display()));
            }
            files.push(path);
        }
        let key = files.pop().unwrap_or_default();
        let cert = files.pop().unwrap_or_default();
        out.push(TlsListen { addr, cert, key });
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

    let behaviour = kind.rules();
    let shared_upstream = match (&net.base_url, behaviour.default_base_url()) {
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
            3
        }
        Some(m) => m.value,
        None => 3,
    };
    Some(ProviderConfig {
        kind,
        keys,
        extra_headers,
        timeouts,
        retry_on_status,
        max_attempts,
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
            1.0
        }
        Some(w) => w.value,
        None => 1.0,
    };

    let label = format!("{} key `{name}`", kind.name());
    let mut api_version = None;
    let mut vertex = None;
    let mut minter = None;
    let key_upstream = match (kind, &k.azure_key_config, &k.vertex_key_config) {
        (ProviderKind::Azure, Some(az), None) => {
            let az = &az.value;
            if let Some(v) = &az.api_version {
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
                api_version = Some(v.value.clone());
            }
            c.ignored(&az.deployments, "azure_key_config.deployments");
            minter = entra(c, &what, az);
            match &az.endpoint {
                Some(url) => upstream(c, url, extra_ca, None),
                None => {
                    c.error(
                        raw,
                        format!("{what}: azure_key_config.endpoint is required"),
                    );
                    None
                }
            }
        }
        (ProviderKind::Azure, None, _) => {
            c.error(
                raw,
                format!("{what}: azure keys need azure_key_config.endpoint"),
            );
            None
        }
        (ProviderKind::Vertex, None, Some(vx)) => {
            let vx = &vx.value;
            c.ignored(&vx.project_number, "vertex_key_config.project_number");
            c.ignored(&vx.deployments, "vertex_key_config.deployments");
            for (v, field) in [(&vx.project_id, "project_id"), (&vx.region, "region")] {
                let ok = !v.value.is_empty()
                    && v.value
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
                if !ok {
                    c.error(
                        v,
                        format!("{what}: vertex_key_config.{field} must be [a-z0-9-]"),
                    );
                }
            }
            vertex = Some(VertexTarget {
                project: vx.project_id.value.clone(),
                region: vx.region.value.clone(),
            });
            if let Some(creds) = &vx.auth_credentials {
                minter = service_account(c, &what, creds);
            }
            match shared_upstream {
                Some(u) => Some(u.clone()),
                None => {
                    let url = Spanned::new(
                        vertex_base_url(&vx.region.value),
                        vx.region.referenced,
                        vx.region.defined,
                    );
                    upstream(c, &url, extra_ca, None)
                }
            }
        }
        (ProviderKind::Vertex, None, None) => {
            c.error(
                raw,
                format!("{what}: vertex keys need vertex_key_config (project_id, region)"),
            );
            None
        }
        (_, Some(az), _) => {
            c.error(
                az,
                format!("{what}: azure_key_config belongs on azure keys only"),
            );
            None
        }
        (_, None, Some(vx)) => {
            c.error(
                vx,
                format!("{what}: vertex_key_config belongs on vertex keys only"),
            );
            None
        }
        (_, None, None) => shared_upstream.cloned(),
    };

    let mut missing_env = None;
    let credential = match (&k.value, minter) {
        (_, Some(Err(var))) => {
            missing_env = Some(var);
            Credential::Disabled
        }
        (None, Some(Ok(m))) => Credential::Token(Arc::new(TokenSource::new(label, m))),
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
            Some(Resolved::Value(s)) => match Secret::new(&s) {
                Ok(secret) => Credential::Key(secret),
                Err(why) => {
                    c.error(v, format!("{what}: value {why}"));
                    Credential::Disabled
                }
            },
            Some(Resolved::Missing(var)) => {
                missing_env = Some(var);
                Credential::Disabled
            }
            None => Credential::Disabled,
        },
    };
    let credential = if k.enabled {
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
        upstream: key_upstream?,
        api_version,
        vertex,
        cooldown: Default::default(),
    })
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
            Resolved::Value(s) => values.push(s),
            Resolved::Missing(var) => return Some(Err(var)),
        }
    }
    let authority_host = az
        .authority_host
        .as_ref()
        .map_or(DEFAULT_AUTHORITY.to_string(), |a| {
            if !(a.value.starts_with("https://") || a.value.starts_with("http://")) {
                c.error(a, format!("{what}: authority_host must be an http(s) URL"));
            }
            a.value.clone()
        });
    let scope = az
        .scopes
        .as_ref()
        .map_or(DEFAULT_SCOPE.to_string(), |s| s.value.join(" "));
    let [client_id, client_secret, tenant_id]: [String; 3] = values.try_into().ok()?;
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

/// A service account from JSON text, a path to it, or `env.NAME` holding either.
fn service_account(
    c: &mut Checker,
    what: &str,
    at: &Spanned<String>,
) -> Option<Result<Minter, String>> {
    let text = match c.secret(at, &format!("{what}: auth_credentials"))? {
        Resolved::Missing(var) => return Some(Err(var)),
        Resolved::Value(v) if v.trim_start().starts_with('{') => v,
        Resolved::Value(path) => {
            let path = c.ctx.base_dir.join(path.trim());
            match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) => {
                    c.error(
                        at,
                        format!(
                            "{what}: cannot read auth_credentials file {}: {e}",
                            path.display()
                        ),
                    );
                    return None;
                }
            }
        }
    };
    match ServiceAccount::from_json(&text) {
        Ok(sa) => Some(Ok(Minter::Google(sa))),
        Err(e) => {
            c.error(at, format!("{what}: auth_credentials: {e}"));
            None
        }
    }
}

fn upstream(
    c: &mut Checker,
    url: &Spanned<String>,
    extra_ca: Option<&[rustls_pki_types::CertificateDer<'static>]>,
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
    let mut t = super::defaults::TIMEOUTS;
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
