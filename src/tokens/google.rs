//! Google service-account tokens: an RS256-signed JWT exchanged at the
//! account's `token_uri` with the JWT-bearer grant.
//!
//! The JWT is assembled here and signed with `ring`, which rustls already
//! builds into strait: `jsonwebtoken` 10 would add a second crypto stack
//! (aws-lc-rs, which needs cmake and a C toolchain, or the RustCrypto `rsa`
//! crates) for three base64 segments and one signature.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivatePkcs8KeyDer;
use serde::Deserialize;

use super::http_post::{post_form, TokenResponse};
use super::Minted;

pub(crate) const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
const GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

pub(crate) struct ServiceAccount {
    pub(crate) client_email: String,
    pub(crate) token_uri: String,
    key: RsaKeyPair,
}

impl ServiceAccount {
    pub(crate) fn same_as(&self, other: &ServiceAccount) -> bool {
        use ring::signature::KeyPair;
        self.client_email == other.client_email
            && self.token_uri == other.token_uri
            && self.key.public_key().as_ref() == other.key.public_key().as_ref()
    }
}

#[derive(Deserialize)]
struct Json {
    client_email: String,
    private_key: String,
    token_uri: String,
}

impl ServiceAccount {
    /// Parses the service-account JSON Google issues. Errors never quote it.
    pub(crate) fn from_json(text: &str) -> Result<Self, String> {
        let j: Json = serde_json::from_str(text).map_err(|e| {
            format!(
                "not a service-account JSON (line {}): missing or invalid field",
                e.line()
            )
        })?;
        let der = PrivatePkcs8KeyDer::from_pem_slice(j.private_key.as_bytes())
            .map_err(|_| "private_key is not a PKCS#8 PEM key".to_string())?;
        let key = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der())
            .map_err(|_| "private_key is not a usable RSA key".to_string())?;
        if !(j.token_uri.starts_with("https://") || j.token_uri.starts_with("http://")) {
            return Err("token_uri must be an http(s) URL".into());
        }
        Ok(ServiceAccount {
            client_email: j.client_email,
            token_uri: j.token_uri,
            key,
        })
    }

    /// The signed assertion: header.claims.signature, base64url each.
    pub(crate) fn assertion(&self, now: u64) -> Result<String, String> {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let claims = serde_json::json!({
            "iss": self.client_email,
            "scope": SCOPE,
            "aud": self.token_uri,
            "iat": now,
            "exp": now + 3600,
        });
        let signing_input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
        let mut sig = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut sig,
            )
            .map_err(|_| "signing the JWT failed".to_string())?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }

    pub(crate) async fn mint(&self) -> Result<Minted, String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let jwt = self.assertion(now)?;
        let resp: TokenResponse = post_form(
            &self.token_uri,
            &[("grant_type", GRANT), ("assertion", &jwt)],
        )
        .await?;
        Ok(resp.into_minted())
    }
}
