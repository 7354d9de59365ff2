//! Errors the gateway itself answers with: JSON `{"error": {"type", "message"}}`
//! and the `x-strait-error: 1` header, so a client can tell them from a
//! provider's own errors. Every kind, its status and its wire name are in
//! [`ErrorKind`]; the README lists them.

use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use pingora::{Error, ErrorSource, ErrorType};

/// Each error the gateway produces: a stable wire name and one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    MethodNotAllowed,
    UnknownRoute,
    InvalidPath,
    HeadersTooLarge,
    BodyTooLarge,
    LengthRequired,
    InvalidBody,
    MissingVirtualKey,
    InvalidVirtualKey,
    NotAllowed,
    RateLimited,
    TokenRateLimited,
    ConcurrencyLimited,
    BudgetExceeded,
    StateUnavailable,
    ModelNotAllowed,
    ProviderNotConfigured,
    ProviderAuthError,
    ProviderUnreachable,
    ProviderTimeout,
    ProviderTlsError,
    ProviderError,
    /// Not sent (nobody is left to read it): the access log's word for a
    /// client that went away.
    ClientClosed,
    InternalError,
}

impl ErrorKind {
    pub(crate) fn status(self) -> u16 {
        use ErrorKind::*;
        match self {
            InvalidPath | InvalidBody | ModelNotAllowed => 400,
            MissingVirtualKey | InvalidVirtualKey => 401,
            NotAllowed => 403,
            UnknownRoute => 404,
            MethodNotAllowed => 405,
            LengthRequired => 411,
            BodyTooLarge => 413,
            // 402: an SDK retries a 429 but not this; waiting a second
            // does not bring the money back.
            BudgetExceeded => 402,
            RateLimited | TokenRateLimited | ConcurrencyLimited => 429,
            HeadersTooLarge => 431,
            ClientClosed => 499,
            InternalError => 500,
            ProviderAuthError | ProviderUnreachable | ProviderTlsError | ProviderError => 502,
            ProviderNotConfigured | StateUnavailable => 503,
            ProviderTimeout => 504,
        }
    }

    /// The `type` in the error body and the access log's `error` field.
    pub(crate) fn name(self) -> &'static str {
        use ErrorKind::*;
        match self {
            MethodNotAllowed => "method_not_allowed",
            UnknownRoute => "unknown_route",
            InvalidPath => "invalid_path",
            HeadersTooLarge => "headers_too_large",
            BodyTooLarge => "body_too_large",
            LengthRequired => "length_required",
            InvalidBody => "invalid_body",
            MissingVirtualKey => "missing_virtual_key",
            InvalidVirtualKey => "invalid_virtual_key",
            NotAllowed => "not_allowed",
            RateLimited => "rate_limited",
            TokenRateLimited => "token_rate_limited",
            ConcurrencyLimited => "concurrency_limited",
            BudgetExceeded => "budget_exceeded",
            StateUnavailable => "state_unavailable",
            ModelNotAllowed => "model_not_allowed",
            ProviderNotConfigured => "provider_not_configured",
            ProviderAuthError => "provider_auth_error",
            ProviderUnreachable => "provider_unreachable",
            ProviderTimeout => "provider_timeout",
            ProviderTlsError => "provider_tls_error",
            ProviderError => "provider_error",
            ClientClosed => "client_closed",
            InternalError => "internal_error",
        }
    }

    /// Counted in `strait_upstream_errors_total` under its own name.
    pub(crate) fn is_provider_side(self) -> bool {
        use ErrorKind::*;
        matches!(
            self,
            ProviderNotConfigured
                | ProviderAuthError
                | ProviderUnreachable
                | ProviderTimeout
                | ProviderTlsError
                | ProviderError
        )
    }
}

#[derive(Debug, Clone)]
pub(crate) struct GatewayError {
    pub(crate) kind: ErrorKind,
    pub(crate) message: String,
    /// Seconds for a `retry-after` header (rate limits).
    pub(crate) retry_after: Option<u64>,
}

impl GatewayError {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        GatewayError {
            kind,
            message: message.into(),
            retry_after: None,
        }
    }

    pub(crate) fn status(&self) -> u16 {
        self.kind.status()
    }

    pub(crate) fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub(crate) fn body(&self) -> Bytes {
        let v = serde_json::json!({"error": {"type": self.kind.name(), "message": self.message}});
        Bytes::from(v.to_string())
    }

    /// What a Pingora failure while proxying means to the client (and the
    /// access log). Messages name the provider, never an address or a
    /// credential.
    pub(crate) fn from_proxy_error(e: &Error, provider: &str) -> Self {
        use ErrorType::*;
        if e.esource() == &ErrorSource::Downstream {
            return Self::new(ErrorKind::ClientClosed, "the client went away");
        }
        let (kind, message) = match e.etype() {
            ConnectTimedout => (
                ErrorKind::ProviderTimeout,
                format!("timed out connecting to {provider}"),
            ),
            ReadTimedout | WriteTimedout => (
                ErrorKind::ProviderTimeout,
                format!("{provider} did not answer in time"),
            ),
            ConnectRefused | ConnectNoRoute | ConnectError | SocketError | BindError => (
                ErrorKind::ProviderUnreachable,
                format!("cannot connect to {provider}"),
            ),
            TLSHandshakeFailure | TLSHandshakeTimedout | InvalidCert | HandshakeError => (
                ErrorKind::ProviderTlsError,
                format!("TLS handshake with {provider} failed"),
            ),
            ConnectionClosed | ReadError | WriteError | H2Error | InvalidHTTPHeader | H1Error
            | InvalidH2 | H2Downgrade => (
                ErrorKind::ProviderError,
                format!("{provider} closed the connection or sent an invalid response"),
            ),
            _ => (
                ErrorKind::InternalError,
                "the gateway failed to proxy the request".to_string(),
            ),
        };
        Self::new(kind, message)
    }
}

/// Writes `err` as the whole response. Failure to write means the client is
/// gone; there is no one left to tell.
pub(crate) async fn respond(session: &mut Session, err: &GatewayError, request_id: &str) {
    let body = err.body();
    let Ok(mut header) = ResponseHeader::build(err.status(), Some(5)) else {
        return;
    };
    let _ = header.insert_header("content-type", "application/json");
    let _ = header.insert_header("content-length", body.len().to_string());
    let _ = header.insert_header("x-strait-error", "1");
    let _ = header.insert_header("x-request-id", request_id);
    if let Some(secs) = err.retry_after {
        let _ = header.insert_header("retry-after", secs.to_string());
    }
    if err.kind == ErrorKind::MethodNotAllowed {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_errors_name_the_provider_and_keep_their_status() {
        let cases = [
            (ErrorType::ConnectTimedout, ErrorKind::ProviderTimeout, 504),
            (ErrorType::ReadTimedout, ErrorKind::ProviderTimeout, 504),
            (
                ErrorType::ConnectRefused,
                ErrorKind::ProviderUnreachable,
                502,
            ),
            (
                ErrorType::TLSHandshakeFailure,
                ErrorKind::ProviderTlsError,
                502,
            ),
            (ErrorType::ConnectionClosed, ErrorKind::ProviderError, 502),
            (ErrorType::InternalError, ErrorKind::InternalError, 500),
        ];
        for (etype, kind, status) in cases {
            let e = Error::new_up(etype.clone());
            let g = GatewayError::from_proxy_error(&e, "openai");
            assert_eq!((g.kind, g.status()), (kind, status), "{etype:?}");
            if kind != ErrorKind::InternalError {
                assert!(g.message.contains("openai"), "{}", g.message);
            }
        }
        let e = Error::new_down(ErrorType::WriteError);
        let g = GatewayError::from_proxy_error(&e, "openai");
        assert_eq!((g.kind.name(), g.status()), ("client_closed", 499));
    }

    #[test]
    fn body_is_the_documented_json() {
        let e = GatewayError::new(ErrorKind::RateLimited, "slow down").with_retry_after(3);
        let v: serde_json::Value = serde_json::from_slice(&e.body()).unwrap();
        assert_eq!(v["error"]["type"], "rate_limited");
        assert_eq!(v["error"]["message"], "slow down");
        assert_eq!((e.status(), e.retry_after), (429, Some(3)));
    }
}
