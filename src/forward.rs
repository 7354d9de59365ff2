//! The upstream call: the peer to connect to and the request it is sent,
//! with every client credential and hop-by-hop header removed and the
//! bound key's credential written in.

use pingora::http::RequestHeader;
use pingora::upstreams::peer::HttpPeer;

use crate::auth::strip_client_credentials;
use crate::ctx::RequestCtx;
use crate::errors::{ErrorKind, GatewayError};
use crate::providers::set_header;

/// Request headers that describe one hop and are never forwarded.
const HOP_BY_HOP: [&str; 6] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];

/// The peer of the bound key; refused while its address is unresolved
/// (DNS is never looked up on the request path).
pub(crate) fn peer(ctx: &RequestCtx) -> Result<Box<HttpPeer>, GatewayError> {
    let (Some(provider), Some(key)) = (ctx.provider.as_ref(), ctx.key()) else {
        return Err(unbound());
    };
    let peer = key.upstream.peer(&provider.timeouts).map(|mut peer| {
        // A session's provider may be silent while its client talks: each
        // read waits up to the session's idle timeout, not a stream's.
        if let (Some(_), Some(s)) = (&ctx.ws, &ctx.snapshot) {
            peer.options.read_timeout = Some(s.limits.websocket_idle_timeout);
        }
        peer
    });
    peer.ok_or_else(|| {
        GatewayError::new(
            ErrorKind::ProviderUnreachable,
            format!(
                "the address of {} ({}) is not resolved yet",
                provider.kind.name(),
                key.upstream.host
            ),
        )
    })
}

/// Turns the client's request head into the one the provider gets.
pub(crate) fn prepare_upstream_request(
    ctx: &RequestCtx,
    req: &mut RequestHeader,
) -> Result<(), GatewayError> {
    let (Some(provider), Some(key), Some(binding)) =
        (ctx.provider.as_ref(), ctx.key(), ctx.binding.as_ref())
    else {
        return Err(unbound());
    };
    let uri = binding.upstream_uri.parse().map_err(|_| {
        GatewayError::new(ErrorKind::InternalError, "cannot build the upstream URI")
    })?;
    req.set_uri(uri);
    strip_client_credentials(req);
    for name in HOP_BY_HOP {
        req.remove_header(name);
    }
    if ctx.ws.is_some() {
        crate::ws::prepare_upstream(req);
    }
    set_header(req, "host", key.upstream.authority.clone());
    // Responses are passed through byte for byte and read for usage, so
    // the provider is not asked to compress them.
    set_header(
        req,
        "accept-encoding",
        http::HeaderValue::from_static("identity"),
    );
    // A body strait edited (stream usage asked for) has a new length.
    if let Some(n) = ctx.body.edited_length() {
        set_header(req, "content-length", http::HeaderValue::from(n));
    }
    // The provider continues strait's trace from this attempt's span; a
    // client's own `traceparent` passes unchanged when tracing is off.
    if let Some(trace) = &ctx.trace {
        if let Ok(v) = http::HeaderValue::from_str(&trace.upstream_traceparent()) {
            set_header(req, "traceparent", v);
        }
        // A `tracestate` belongs to the trace it came with (W3C): not to
        // one strait started because the client's was missing or invalid.
        if trace.parent.is_none() {
            req.remove_header("tracestate");
        }
    }
    for (name, value) in &provider.extra_headers {
        // Names and values were validated when the config was loaded.
        let _ = req.insert_header(name.clone(), value.clone());
    }
    provider
        .kind
        .rules()
        .inject_credential(&binding.credential, &ctx.client.native_path, req);
    Ok(())
}

fn unbound() -> GatewayError {
    GatewayError::new(ErrorKind::InternalError, "no provider key bound")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::binding::bind;
    use crate::keys::key::test_key;
    use crate::providers::ProviderKind;
    use crate::snapshot::testing::provider;

    #[tokio::test]
    async fn the_provider_gets_its_credential_and_nothing_of_the_client() {
        let mut p = provider(ProviderKind::OpenAi, vec![test_key("a", 1.0, None)]);
        p.extra_headers.push((
            "openai-organization".parse().unwrap(),
            "org-1".parse().unwrap(),
        ));
        let mut ctx = RequestCtx::new();
        ctx.client.native_path = "/v1/chat/completions".into();
        ctx.client.query = "stream=true".into();
        ctx.binding = Some(bind(&p, 0, &ctx.client).await.unwrap());
        ctx.provider = Some(Arc::new(p));

        let mut req = RequestHeader::build(
            "POST",
            b"/openai_passthrough/v1/chat/completions?key=vk",
            None,
        )
        .unwrap();
        for (k, v) in [
            ("authorization", "Bearer vk-a"),
            ("x-strait-key", "vk-a"),
            ("cookie", "c=1"),
            ("connection", "keep-alive, x-secret"),
            ("te", "trailers"),
            ("accept-encoding", "gzip"),
            ("host", "gateway.internal"),
            ("content-type", "application/json"),
        ] {
            req.append_header(k, v).unwrap();
        }
        prepare_upstream_request(&ctx, &mut req).unwrap();
        assert_eq!(req.uri, "/v1/chat/completions?stream=true");
        let h = |n: &str| req.headers.get(n).map(|v| v.to_str().unwrap().to_string());
        assert_eq!(h("authorization").as_deref(), Some("Bearer k"));
        assert_eq!(h("host").as_deref(), Some("127.0.0.1:1"));
        assert_eq!(h("accept-encoding").as_deref(), Some("identity"));
        assert_eq!(h("openai-organization").as_deref(), Some("org-1"));
        assert_eq!(h("content-type").as_deref(), Some("application/json"));
        for gone in ["x-strait-key", "cookie", "connection", "te"] {
            assert_eq!(h(gone), None, "{gone}");
        }
    }

    #[test]
    fn an_unbound_request_is_an_internal_error_not_a_panic() {
        let ctx = RequestCtx::new();
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        let e = prepare_upstream_request(&ctx, &mut req).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InternalError);
        assert!(peer(&ctx).is_err());
    }
}
