//! Everything decided before the upstream is contacted: route, path check,
//! virtual key, provider, model, key and credential. Any refusal is a
//! [`GatewayError`] and nothing reaches a provider.

use std::sync::Arc;

use http::Method;
use pingora::http::RequestHeader;
use pingora::proxy::Session;

use crate::auth::{AuthOutcome, CLIENT_CREDENTIAL_PARAMS};
use crate::body::{declared_length, model_in_json, too_large};
use crate::credential::{Credential, RequestCredential};
use crate::ctx::RequestCtx;
use crate::errors::{ErrorKind, GatewayError};
use crate::keys;
use crate::providers::{is_vertex_model, is_vertex_path, ProviderKind};
use crate::route::{self, filter_query, Route};
use crate::snapshot::{Limits, Snapshot};

const METHODS: [Method; 6] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::HEAD,
];

pub async fn admit(
    session: &mut Session,
    ctx: &mut RequestCtx,
    snapshot: Arc<Snapshot>,
) -> Result<(), GatewayError> {
    ctx.snapshot = Some(snapshot.clone());
    let req = session.req_header();
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
    ctx.route = Some(route);
    route::validate_path(rest)
        .map_err(|why| GatewayError::new(ErrorKind::InvalidPath, format!("invalid path: {why}")))?;
    ctx.native_path = rest.to_string();
    ctx.client_query = filter_query(req.uri.query().unwrap_or(""), &CLIENT_CREDENTIAL_PARAMS);
    if let Some(length) = declared_length(req) {
        if length > snapshot.limits.max_body_bytes {
            return Err(too_large(snapshot.limits.max_body_bytes));
        }
    }

    match snapshot.virtual_keys.authenticate(req) {
        AuthOutcome::Open => {}
        AuthOutcome::Key(name) => ctx.virtual_key = Some(name.to_string()),
        AuthOutcome::Missing => {
            return Err(GatewayError::new(
                ErrorKind::MissingVirtualKey,
                "no virtual key: send it as the SDK's api key (Authorization: Bearer, x-api-key, \
                 api-key, x-goog-api-key) or in x-strait-key",
            ))
        }
        AuthOutcome::Unknown => {
            return Err(GatewayError::new(
                ErrorKind::InvalidVirtualKey,
                "the virtual key presented is not known to this gateway",
            ))
        }
    }

    // The body is read at most once, and only when a decision depends on it.
    let mut body_model: Option<Option<String>> = None;
    let kind = match route {
        Route::OpenAi => ProviderKind::OpenAi,
        Route::Anthropic => ProviderKind::Anthropic,
        Route::Azure => ProviderKind::Azure,
        Route::GenAi if is_vertex_path(&ctx.native_path) || has_google_token(session) => {
            ProviderKind::Vertex
        }
        Route::GenAi if snapshot.provider(ProviderKind::Vertex).is_some() => {
            let model = read_body_model(session, ctx).await?;
            let vertex = model.as_deref().is_some_and(is_vertex_model);
            body_model = Some(model);
            if vertex {
                ProviderKind::Vertex
            } else {
                ProviderKind::Gemini
            }
        }
        Route::GenAi => ProviderKind::Gemini,
    };
    let provider = snapshot.provider(kind).cloned().ok_or_else(|| {
        GatewayError::new(
            ErrorKind::ProviderNotConfigured,
            format!("provider {} is not configured on this gateway", kind.name()),
        )
    })?;
    let behaviour = kind.behaviour();
    // Known from here on, so a later refusal is still accounted to it.
    ctx.provider = Some(provider.clone());
    if let Some(name) = ctx.virtual_key.clone() {
        if let Some(policy) = snapshot.virtual_keys.policy(&name) {
            let method = session.req_header().method.clone();
            policy.allows(&name, kind, &method, &ctx.native_path)?;
            ctx.slot = policy.admit(&name)?;
        }
    }

    let mut model = behaviour
        .model_in_path(&ctx.native_path)
        .map(str::to_string);
    if model.is_none() && provider.model_restricted && body_model.is_none() {
        body_model = Some(read_body_model(session, ctx).await?);
    }
    if model.is_none() {
        // A Vertex resource name selects keys by its last segment.
        model = body_model
            .flatten()
            .map(|m| m.rsplit('/').next().unwrap_or_default().to_string());
    }
    ctx.model = model;

    let index = keys::select(provider.keys(), ctx.model.as_deref(), &[])?;
    bind_key(ctx, index).await
}

/// Makes key `index` of the request's provider the one used: its
/// credential and the upstream URI it implies. Called again for each
/// failover attempt.
pub async fn bind_key(ctx: &mut RequestCtx, index: usize) -> Result<(), GatewayError> {
    let Some(provider) = ctx.provider.clone() else {
        return Err(GatewayError::new(
            ErrorKind::InternalError,
            "no provider chosen",
        ));
    };
    let behaviour = provider.kind.behaviour();
    ctx.key_index = Some(index);
    let key = &provider.keys[index];
    ctx.credential = Some(match &key.credential {
        Credential::Key(secret) => RequestCredential::Key(secret.clone()),
        Credential::Token(source) => RequestCredential::Bearer(
            source
                .bearer()
                .await
                .map_err(|e| GatewayError::new(ErrorKind::ProviderAuthError, e.0))?,
        ),
        Credential::Disabled => {
            return Err(GatewayError::new(
                ErrorKind::InternalError,
                "selected a disabled key",
            ))
        }
    });
    let query = behaviour.upstream_query(key, &ctx.native_path, ctx.client_query.clone());
    let path = behaviour.upstream_path(key, &ctx.native_path);
    let mut uri =
        String::with_capacity(key.upstream.base_path.len() + path.len() + query.len() + 1);
    uri.push_str(&key.upstream.base_path);
    uri.push_str(&path);
    if !query.is_empty() {
        uri.push('?');
        uri.push_str(&query);
    }
    ctx.upstream_uri = uri;
    Ok(())
}

/// A Google OAuth token marks a Vertex client. It is only looked at, never
/// forwarded.
fn has_google_token(session: &Session) -> bool {
    session
        .req_header()
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(scheme, token)| {
            scheme.eq_ignore_ascii_case("bearer") && token.trim().starts_with("ya29.")
        })
}

/// The JSON body's top-level `model`, reading the body before forwarding
/// (it still reaches the provider unchanged).
async fn read_body_model(
    session: &mut Session,
    ctx: &mut RequestCtx,
) -> Result<Option<String>, GatewayError> {
    if session.as_mut().is_body_empty() {
        return Ok(None);
    }
    if is_continue_expected(session) {
        session
            .write_continue_response()
            .await
            .map_err(|_| GatewayError::new(ErrorKind::InvalidBody, "client went away"))?;
        session.req_header_mut().remove_header("expect");
    }
    let max = ctx.snapshot.as_ref().map_or(0, |s| s.limits.max_body_bytes);
    let whole = ctx.preread.read(session, max).await?;
    ctx.bytes_in += whole.len() as u64;
    Ok(model_in_json(&whole))
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

fn is_continue_expected(session: &Session) -> bool {
    session
        .req_header()
        .headers
        .get(http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}
