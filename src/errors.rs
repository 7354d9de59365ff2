//! Errors the gateway itself answers with: JSON `{"error": {"type", "message"}}`
//! and the `x-strait-error: 1` header, so a client can tell them from a
//! provider's own errors.

use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use pingora::ErrorType;

#[derive(Debug, Clone)]
pub struct GatewayError {
    pub status: u16,
    /// Stable, machine-readable; documented in the README.
    pub kind: &'static str,
    pub message: String,
    /// Seconds for a `retry-after` header (rate limits).
    pub retry_after: Option<u64>,
}

impl GatewayError {
    pub fn new(status: u16, kind: &'static str, message: impl Into<String>) -> Self {
        GatewayError {
            status,
            kind,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn body(&self) -> Bytes {
        let v = serde_json::json!({"error": {"type": self.kind, "message": self.message}});
        Bytes::from(v.to_string())
    }

    /// Maps a Pingora failure while proxying to what the client is told.
    /// Messages name the provider, never an address or a credential.
    pub fn from_proxy_error(etype: &ErrorType, provider: &str) -> Option<Self> {
        use ErrorType::*;
        let e = match etype {
            ConnectTimedout => Self::new(
                504,
                "provider_timeout",
                format!("timed out connecting to {provider}"),
            ),
            ReadTimedout | WriteTimedout => Self::new(
                504,
                "provider_timeout",
                format!("{provider} did not answer in time"),
            ),
            ConnectRefused | ConnectNoRoute | ConnectError | SocketError | BindError => Self::new(
                502,
                "provider_unreachable",
                format!("cannot connect to {provider}"),
            ),
            TLSHandshakeFailure | TLSHandshakeTimedout | InvalidCert | HandshakeError => Self::new(
                502,
                "provider_tls_error",
                format!("TLS handshake with {provider} failed"),
            ),
            ConnectionClosed | ReadError | WriteError | H2Error | InvalidHTTPHeader | H1Error
            | InvalidH2 | H2Downgrade => Self::new(
                502,
                "provider_error",
                format!("{provider} closed the connection or sent an invalid response"),
            ),
            _ => return None,
        };
        Some(e)
    }
}

/// Writes `err` as the whole response. Failure to write means the client is
/// gone; there is no one left to tell.
pub async fn respond(session: &mut Session, err: &GatewayError, request_id: &str) {
    let body = err.body();
    let Ok(mut header) = ResponseHeader::build(err.status, Some(5)) else {
        return;
    };
    let _ = header.insert_header("content-type", "application/json");
    let _ = header.insert_header("content-length", body.len().to_string());
    let _ = header.insert_header("x-strait-error", "1");
    let _ = header.insert_header("x-request-id", request_id);
    if let Some(secs) = err.retry_after {
        let _ = header.insert_header("retry-after", secs.to_string());
    }
    if err.status == 405 {
        let _ = header.insert_header("allow", "GET, POST, PUT, PATCH, DELETE, HEAD");
    }
    let head_only = session.req_header().method == http::Method::HEAD;
    if session
        .write_response_header(Box::new(header), head_only)
        .await
        .is_ok()
        && !head_only
    {
        let _ = session.write_response_body(Some(body), true).await;
    }
}
