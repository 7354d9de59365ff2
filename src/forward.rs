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
    key.upstream.peer(&provider.timeouts).ok_or_else(|| {
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
    set_header(req, "host", key.upstream.authority.clone());
    // Responses are passed through byte for byte and read for usage, so
    // the provider is not asked to compress them.
    set_header(
        req,
        "accept-encoding",
        http::HeaderValue::from_static("identity"),
    );
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
