//! Everything decided before the upstream is contacted: route, path check,
//! virtual key, provider, policy, model, key and credential. Any refusal is
//! a [`GatewayError`] and nothing reaches a provider.

use std::sync::Arc;

use http::Method;
use pingora::http::RequestHeader;
use pingora::proxy::Session;

use crate::auth::{self, AuthOutcome};
use crate::binding;
use crate::body::declared_length;
use crate::ctx::{ClientRequest, RequestCtx};
use crate::errors::{ErrorKind, GatewayError};
use crate::keys;
use crate::observe::trace::RequestTrace;
use crate::providers::{is_openai_chat, is_vertex_model, is_vertex_path, ProviderKind};
use crate::route::{self, Route};
use crate::snapshot::{Limits, Snapshot};
use crate::spend::Store;
use crate::ws::{self, WsSession};

const METHODS: [Method; 6] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::HEAD,
];

/// Admits the request or says why not. What is learnt on the way stays in
/// `ctx`, so a refusal is logged with the route, key and provider it had.
pub(crate) async fn admit(
    session: &mut Session,
    ctx: &mut RequestCtx,
    snapshot: Arc<Snapshot>,
    spend: &Store,
) -> Result<(), GatewayError> {
    ctx.snapshot = Some(snapshot.clone());
    if let Some(tracer) = &snapshot.telemetry {
        let ratio = tracer.settings.sample_ratio;
        ctx.trace = Some(RequestTrace::start(session.req_header(), ratio));
    }
    let max_body = snapshot.limits.max_body_bytes;
    let route = check_request(session.req_header(), &snapshot, &mut ctx.client)?;

    // The body is read at most once, and only when a decision depends on it.
    let mut body_model: Option<Option<String>> = None;
    let vertex_configured = snapshot.provider(ProviderKind::Vertex).is_some();
    let kind = match provider_for(route, &ctx.client.native_path, session.req_header()) {
        Some(kind) => kind,
        None if vertex_configured => {
            let model = ctx.body.read_model(session, max_body).await?;
            let vertex = model.as_deref().is_some_and(is_vertex_model);
            body_model = Some(model);
            if vertex {
                ProviderKind::Vertex
            } else {
                ProviderKind::Gemini
            }
        }
        None => ProviderKind::Gemini,
    };
    let provider = snapshot.provider(kind).cloned().ok_or_else(|| {
        GatewayError::new(
            ErrorKind::ProviderNotConfigured,
            format!("provider {} is not configured on this gateway", kind.name()),
        )
    })?;
    // Known from here on, so a later refusal is still accounted to it.
    ctx.provider = Some(provider.clone());
    if ws::is_upgrade(session.req_header()) {
        let format = kind.rules().usage_format(&ctx.client.native_path);
        ctx.ws = Some(WsSession::new(format, &snapshot.limits));
    }
    // Whether the key is held to tokens or money (for stream usage, below).
    let mut counts_tokens = false;
    if let Some(name) = ctx.client.virtual_key.as_deref() {
        if let Some(policy) = snapshot.virtual_keys.policy(name) {
            let method = &session.req_header().method;
            policy.allows(name, kind, method, &ctx.client.native_path)?;
            ctx.slot = policy.admit(name)?;
            spend.admit(name, &policy.limits).await?;
            counts_tokens = policy.limits.counts_tokens();
        }
    }

    let mut model = kind
        .rules()
        .model_in_path(&ctx.client.native_path)
        .map(str::to_string);
    if model.is_none() && ctx.ws.is_some() {
        // Realtime names its model (Azure: its deployment) in the query.
        let query = &ctx.client.query;
        model =
            route::query_value(query, "model").or_else(|| route::query_value(query, "deployment"));
    }
    if model.is_none() && provider.model_restricted && body_model.is_none() {
        body_model = Some(ctx.body.read_model(session, max_body).await?);
    }
    if model.is_none() {
        // A Vertex resource name selects keys by its last segment.
        model = body_model
            .flatten()
            .map(|m| m.rsplit('/').next().unwrap_or_default().to_string());
    }
    ctx.client.model = model;

    let index = keys::select(provider.keys(), ctx.client.model.as_deref(), &[])?;
    ctx.binding = Some(binding::bind(&provider, index, &ctx.client).await?);

    // Last, once nothing else can refuse the request: an OpenAI-style chat
    // stream reports usage only when asked, so its body is read to ask.
    if provider.inject_stream_usage
        && session.req_header().method == Method::POST
        && is_openai_chat(kind, &ctx.client.native_path)
    {
        // A key held to tokens or money gets usage even when its client
        // said no: otherwise streaming would walk around the limit.
        ctx.body
            .ask_for_stream_usage(session, max_body, counts_tokens)
            .await?;
    }
    Ok(())
}

/// The checks on the request head alone: method, header limits, route,
/// path, declared body size and virtual key. Fills `client` as it goes.
fn check_request(
    req: &RequestHeader,
    snapshot: &Snapshot,
    client: &mut ClientRequest,
) -> Result<Route, GatewayError> {
    if !METHODS.contains(&req.method) {
        return Err(GatewayError::new(
            ErrorKind::MethodNotAllowed,
            format!("method {} is not forwarded", req.method),
        ));
    }
    check_header_limits(req, &snapshot.limits)?;
    let (route, rest) = route::match_route(req.uri.path()).ok_or_else(|| {
        GatewayError::new(
            ErrorKind::UnknownRoute,
            "no route for this path; use /openai_passthrough, /anthropic_passthrough, \
             /azure_passthrough or /genai_passthrough",
        )
    })?;
    client.route = Some(route);
    route::validate_path(rest)
        .map_err(|why| GatewayError::new(ErrorKind::InvalidPath, format!("invalid path: {why}")))?;
    client.native_path = rest.to_string();
    client.query = auth::query_without_credentials(req.uri.query().unwrap_or(""));
    if let Some(length) = declared_length(req) {
        if length > snapshot.limits.max_body_bytes {
            return Err(crate::body::too_large(snapshot.limits.max_body_bytes));
        }
    }
    match snapshot.virtual_keys.authenticate(req) {
        AuthOutcome::Open => Ok(route),
        AuthOutcome::Key(name) => {
            client.virtual_key = Some(name.to_string());
            Ok(route)
        }
        AuthOutcome::Missing => Err(GatewayError::new(
            ErrorKind::MissingVirtualKey,
            "no virtual key: send it as the SDK's api key (Authorization: Bearer, x-api-key, \
             api-key, x-goog-api-key) or in x-strait-key",
        )),
        AuthOutcome::Unknown => Err(GatewayError::new(
            ErrorKind::InvalidVirtualKey,
            "the virtual key presented is not known to this gateway",
        )),
    }
}

/// The provider a route goes to, when the head says it; `None` on the
/// GenAI route when only the body's model can tell Gemini from Vertex.
fn provider_for(route: Route, native_path: &str, req: &RequestHeader) -> Option<ProviderKind> {
    Some(match route {
        Route::OpenAi => ProviderKind::OpenAi,
        Route::Anthropic => ProviderKind::Anthropic,
        Route::Azure => ProviderKind::Azure,
        Route::GenAi if is_vertex_path(native_path) || auth::has_google_token(req) => {
            ProviderKind::Vertex
        }
        Route::GenAi => return None,
    })
}

/// Header count and size, before anything else looks at them.
fn check_header_limits(req: &RequestHeader, limits: &Limits) -> Result<(), GatewayError> {
    let count = req.headers.len() as u64;
    let bytes: usize = req.uri.to_string().len()
        + req
            .headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 4)
            .sum::<usize>();
    if count > limits.max_headers || bytes as u64 > limits.max_header_bytes {
        return Err(GatewayError::new(
            ErrorKind::HeadersTooLarge,
            format!(
                "request headers exceed this gateway's limits ({} headers, {} bytes)",
                limits.max_headers, limits.max_header_bytes
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod session_tests;
#[cfg(test)]
mod tests;
