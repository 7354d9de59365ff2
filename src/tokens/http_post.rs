//! A form POST to a token endpoint through Pingora's own HTTP connector
//! (rustls, system roots, SNI and verification on), so no second HTTP client
//! is linked. Runs only on the token refresher thread.

use std::time::Duration;

use bytes::Bytes;
use pingora::connectors::http::Connector;
use pingora::http::RequestHeader;
use pingora::upstreams::peer::HttpPeer;
use serde::de::DeserializeOwned;

use crate::upstream::Upstream;

const TIMEOUT: Duration = Duration::from_secs(10);
/// Token responses are small; anything larger is not one.
const MAX_BODY: usize = 64 * 1024;

pub(crate) async fn post_form<T: DeserializeOwned>(
    url: &str,
    form: &[(&str, &str)],
) -> Result<T, String> {
    // The same URL rules as provider base URLs (scheme, host, no credentials).
    let target = Upstream::parse(url, None).map_err(|e| format!("token {e}"))?;
    let (tls, host, port) = (target.tls, target.host.as_str(), target.port);
    let addr = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} resolved to no address"))?;
    let mut peer = HttpPeer::new(addr, tls, host.to_string());
    peer.options.connection_timeout = Some(TIMEOUT);
    peer.options.total_connection_timeout = Some(TIMEOUT);
    peer.options.read_timeout = Some(TIMEOUT);
    peer.options.write_timeout = Some(TIMEOUT);

    let body = Bytes::from(encode_form(form));
    let path = if target.base_path.is_empty() {
        "/"
    } else {
        target.base_path.as_str()
    };
    let mut req = RequestHeader::build("POST", path.as_bytes(), None).map_err(|e| e.to_string())?;
    let authority = target.authority.to_str().unwrap_or(host).to_string();
    for (k, v) in [
        ("host", authority.as_str()),
        ("content-type", "application/x-www-form-urlencoded"),
        ("accept", "application/json"),
        ("content-length", &body.len().to_string()),
    ] {
        req.insert_header(k, v).map_err(|e| e.to_string())?;
    }

    let connector = Connector::new(None);
    let (mut session, _) = connector
        .get_http_session(&peer)
        .await
        .map_err(|e| format!("cannot connect to {host}: {}", e.etype().as_str()))?;
    let exchange = async {
        session.write_request_header(Box::new(req)).await?;
        session.write_request_body(body, true).await?;
        session.finish_request_body().await?;
        session.read_response_header().await?;
        let mut out = Vec::new();
        while let Some(chunk) = session.read_response_body().await? {
            out.extend_from_slice(&chunk);
            if out.len() > MAX_BODY {
                break;
            }
        }
        Ok::<_, Box<pingora::Error>>(out)
    };
    let out = exchange
        .await
        .map_err(|e| format!("token request to {host} failed: {}", e.etype().as_str()))?;
    let status = session.response_header().map_or(0, |h| h.status.as_u16());
    if status != 200 {
        // Only the OAuth error code is repeated: descriptions can echo input.
        let code = serde_json::from_slice::<serde_json::Value>(&out)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_string))
            .unwrap_or_default();
        return Err(
            format!("token endpoint {host} answered HTTP {status} {code}")
                .trim_end()
                .to_string(),
        );
    }
    serde_json::from_slice(&out)
        .map_err(|e| format!("token endpoint {host} sent an invalid response: {e}"))
}

fn encode_form(form: &[(&str, &str)]) -> String {
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    form.iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, NON_ALPHANUMERIC),
                utf8_percent_encode(v, NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[derive(serde::Deserialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    pub(crate) expires_in: Option<u64>,
}

impl TokenResponse {
    /// Tokens without a stated lifetime are treated as living an hour, the
    /// lifetime both Google and Entra issue.
    pub(crate) fn into_minted(self) -> super::Minted {
        super::Minted {
            access_token: self.access_token,
            expires_in: Duration::from_secs(self.expires_in.unwrap_or(3600).max(1)),
        }
    }
}
