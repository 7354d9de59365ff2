//! Everything decided before the upstream is contacted: route, path check,
//! virtual key, provider, model and key. Any refusal is a [`GatewayError`]
//! and nothing reaches a provider.

use std::sync::Arc;

use http::Method;
use pingora::proxy::Session;

use crate::auth::{AuthOutcome, CLIENT_CREDENTIAL_PARAMS};
use crate::body::model_in_json;
use crate::config::Snapshot;
use crate::ctx::RequestCtx;
use crate::errors::GatewayError;
use crate::keys;
use crate::providers::ProviderKind;
use crate::route::{self, filter_query, Route};

/// Largest body read before forwarding (only for model-restricted keys).
pub const MAX_PREREAD: usize = 32 * 1024 * 1024;

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
            405,
            "method_not_allowed",
            format!("method {} is not forwarded", req.method),
        ));
    }
    let (route, rest) = route::match_route(req.uri.path()).ok_or_else(|| {
        GatewayError::new(
            404,
            "unknown_route",
            "no route for this path; use /openai_passthrough, /anthropic_passthrough, \
             /azure_passthrough or /genai_passthrough",
        )
    })?;
    ctx.route = Some(route);
    route::validate_path(rest)
        .map_err(|why| GatewayError::new(400, "invalid_path", format!("invalid path: {why}")))?;
    ctx.native_path = rest.to_string();
    let client_query = filter_query(req.uri.query().unwrap_or(""), &CLIENT_CREDENTIAL_PARAMS);

    match snapshot.virtual_keys.authenticate(req) {
        AuthOutcome::Open => {}
        AuthOutcome::Key(name) => ctx.virtual_key = Some(name.to_string()),
        AuthOutcome::Missing => {
            return Err(GatewayError::new(
                401,
                "missing_virtual_key",
                "no virtual key: send it as the SDK's api key (Authorization: Bearer, x-api-key, \
                 api-key, x-goog-api-key) or in x-strait-key",
            ))
        }
        AuthOutcome::Unknown => {
            return Err(GatewayError::new(
                401,
                "invalid_virtual_key",
                "the virtual key presented is not known to this gateway",
            ))
        }
    }

    let kind = provider_for(route);
    let provider = snapshot.provider(kind).cloned().ok_or_else(|| {
        GatewayError::new(
            503,
            "provider_not_configured",
            format!("provider {} is not configured on this gateway", kind.name()),
        )
    })?;
    let behaviour = kind.behaviour();

    let mut model = behaviour
        .model_in_path(&ctx.native_path)
        .map(str::to_string);
    if model.is_none() && provider.model_restricted && !session.as_mut().is_body_empty() {
        if is_continue_expected(session) {
            session
                .write_continue_response()
                .await
                .map_err(|_| GatewayError::new(400, "invalid_body", "client went away"))?;
            session.req_header_mut().remove_header("expect");
        }
        let whole = ctx.preread.read(session, MAX_PREREAD).await?;
        model = model_in_json(&whole);
        ctx.bytes_in += whole.len() as u64;
    }
    ctx.model = model;

    let index = keys::select(&provider, ctx.model.as_deref())?;
    let key = &provider.keys[index];
    let query = behaviour.upstream_query(key, &ctx.native_path, client_query);
    let native = &ctx.native_path;
    let mut uri =
        String::with_capacity(key.upstream.base_path.len() + native.len() + query.len() + 1);
    uri.push_str(&key.upstream.base_path);
    uri.push_str(native);
    if !query.is_empty() {
        uri.push('?');
        uri.push_str(&query);
    }
    ctx.upstream_uri = uri;
    ctx.key_index = Some(index);
    ctx.provider = Some(provider);
    Ok(())
}

/// The provider a route serves. (GenAI → Vertex detection joins here.)
fn provider_for(route: Route) -> ProviderKind {
    match route {
        Route::OpenAi => ProviderKind::OpenAi,
        Route::Anthropic => ProviderKind::Anthropic,
        Route::Azure => ProviderKind::Azure,
        Route::GenAi => ProviderKind::Gemini,
    }
}

fn is_continue_expected(session: &Session) -> bool {
    session
        .req_header()
        .headers
        .get(http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}
