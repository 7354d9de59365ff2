//! Provider credentials: how a key's secret is held, and the credential one
//! request carries once its key is chosen.

use std::sync::Arc;

use http::HeaderValue;

use crate::tokens::TokenSource;

/// How a configured key authenticates to its provider.
pub(crate) enum Credential {
    /// A static key, sent in the provider's key header.
    Key(Secret),
    /// A minted OAuth token, sent as `Authorization: Bearer`.
    Token(Arc<TokenSource>),
    /// Unset `env.` variable, or `enabled: false`.
    Disabled,
}

/// The credential of one request, resolved before the upstream is
/// contacted (a token is read from its source, never minted inline).
pub enum RequestCredential {
    Key(Secret),
    Bearer(HeaderValue),
}

/// A provider credential, pre-rendered as the header values it is sent in.
/// Marked sensitive so HTTP/2 never indexes it; never printed.
#[derive(Clone)]
pub struct Secret {
    pub(crate) plain: HeaderValue,
    pub(crate) bearer: HeaderValue,
}

impl Secret {
    pub fn new(value: &str) -> Result<Self, &'static str> {
        let mut plain = HeaderValue::from_str(value)
            .map_err(|_| "contains characters not allowed in a header")?;
        let mut bearer = HeaderValue::from_str(&format!("Bearer {value}"))
            .map_err(|_| "contains characters not allowed in a header")?;
        plain.set_sensitive(true);
        bearer.set_sensitive(true);
        Ok(Secret { plain, bearer })
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::new("sk-very-secret").unwrap();
        assert_eq!(format!("{s:?}"), "Secret(..)");
        assert!(s.plain.is_sensitive() && s.bearer.is_sensitive());
        assert!(Secret::new("bad\nvalue").is_err());
    }
}
