//! The assertion of Google's JWT-bearer grant (RFC 7523), checked the way
//! `oauth2.googleapis.com/token` checks a service account's: RS256 signature with
//! the account's key, issuer, scope, audience, and a short, current lifetime.
//! Errors carry Google's OAuth error code and (close to) its description.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use serde_json::Value;

/// The scope a Vertex AI token is minted for.
pub(crate) const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// The audience Google's own client libraries put in every assertion, whatever the
/// account's `token_uri` (google-auth's `service_account.py` hard-codes it); Google's
/// endpoint accepts it, so the mock does too, besides its own `token_uri`.
pub(crate) const GOOGLE_TOKEN_AUDIENCE: &str = "https://oauth2.googleapis.com/token";
/// How far `iat` may be in the future (clock skew Google tolerates).
const SKEW_SECS: u64 = 60;
/// Google refuses assertions that live longer than an hour.
const MAX_LIFETIME_SECS: u64 = 3600;

/// What a valid assertion must say.
pub(crate) struct Expect<'a> {
    /// DER `RSAPublicKey` of the service account.
    pub public_key: &'a [u8],
    pub iss: &'a str,
    /// The server's own `token_uri`; [`GOOGLE_TOKEN_AUDIENCE`] is accepted as well.
    pub aud: &'a str,
    pub scope: &'a str,
    /// The account's `private_key_id`; a `kid` in the header must equal it.
    pub kid: &'a str,
    /// Seconds since the Unix epoch.
    pub now: u64,
}

/// A refusal: (OAuth `error`, `error_description`).
pub(crate) type Refusal = (&'static str, String);

fn invalid(description: &str) -> Refusal {
    ("invalid_grant", description.to_owned())
}

/// Checks `assertion`; returns its claims when Google would accept it.
pub(crate) fn verify(assertion: &str, want: &Expect) -> Result<Value, Refusal> {
    let parts: Vec<&str> = assertion.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return Err(invalid("Invalid JWT: expected header.payload.signature"));
    };
    let json = |part: &str| -> Option<Value> {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
    };
    let (Some(h), Some(c)) = (json(header), json(claims)) else {
        return Err(invalid(
            "Invalid JWT: header or claims are not base64url JSON",
        ));
    };
    if h["alg"] != "RS256" {
        return Err(invalid("Invalid JWT: alg must be RS256"));
    }
    if !(h["typ"].is_null() || h["typ"] == "JWT") {
        return Err(invalid("Invalid JWT: typ must be JWT"));
    }
    if !(h["kid"].is_null() || h["kid"] == want.kid) {
        return Err(invalid("Invalid JWT Signature."));
    }
    let signed = &assertion[..header.len() + 1 + claims.len()];
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap_or_default();
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, want.public_key)
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| invalid("Invalid JWT Signature."))?;

    if c["iss"] != want.iss {
        return Err(invalid("Invalid grant: account not found"));
    }
    if c["aud"] != want.aud && c["aud"] != GOOGLE_TOKEN_AUDIENCE {
        let why = format!(
            "Invalid JWT: Failed audience check. The right audience is {}",
            want.aud
        );
        return Err(invalid(&why));
    }
    if c["scope"] != want.scope {
        return Err((
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided.".to_owned(),
        ));
    }
    let (Some(iat), Some(exp)) = (c["iat"].as_u64(), c["exp"].as_u64()) else {
        return Err(invalid("Invalid JWT: iat and exp must be integer seconds"));
    };
    let timely = iat <= want.now + SKEW_SECS && exp > want.now && exp > iat;
    if !timely || exp - iat > MAX_LIFETIME_SECS {
        return Err(invalid("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."));
    }
    Ok(c)
}

/// `base64url(header).base64url(claims).base64url(RS256 signature)` with the test
/// service account's key. For the mock's own tests.
#[cfg(test)]
pub(crate) fn sign_with_test_key(header: &Value, claims: &Value) -> String {
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = crate::test_account::sign(signed.as_bytes());
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_account::{public_key_der, TEST_PRIVATE_KEY_ID};
    use crate::TEST_ACCOUNT_EMAIL;
    use serde_json::json;

    const AUD: &str = "http://127.0.0.1:9/token";
    const NOW: u64 = 1_800_000_000;

    fn header() -> Value {
        json!({"alg": "RS256", "typ": "JWT", "kid": TEST_PRIVATE_KEY_ID})
    }

    fn claims() -> Value {
        json!({
            "iss": TEST_ACCOUNT_EMAIL, "scope": CLOUD_PLATFORM_SCOPE, "aud": AUD,
            "iat": NOW, "exp": NOW + 3600
        })
    }

    fn check(assertion: &str) -> Result<Value, Refusal> {
        let key = public_key_der();
        let want = Expect {
            public_key: &key,
            iss: TEST_ACCOUNT_EMAIL,
            aud: AUD,
            scope: CLOUD_PLATFORM_SCOPE,
            kid: TEST_PRIVATE_KEY_ID,
            now: NOW + 10,
        };
        verify(assertion, &want)
    }

    /// The description of the refusal of `claims` with one field changed.
    fn refused_with(field: &str, value: Value) -> Refusal {
        let mut c = claims();
        c[field] = value;
        check(&sign_with_test_key(&header(), &c)).expect_err(field)
    }

    #[test]
    fn a_jwt_signed_with_the_test_key_is_accepted() {
        let c = check(&sign_with_test_key(&header(), &claims())).unwrap();
        assert_eq!(c["iss"], TEST_ACCOUNT_EMAIL);
        let mut google_aud = claims();
        google_aud["aud"] = json!(GOOGLE_TOKEN_AUDIENCE);
        check(&sign_with_test_key(&header(), &google_aud)).unwrap();
        let mut bare = header();
        bare.as_object_mut().unwrap().retain(|k, _| k == "alg");
        check(&sign_with_test_key(&bare, &claims())).unwrap();
    }

    #[test]
    fn a_tampered_jwt_is_refused() {
        let good = sign_with_test_key(&header(), &claims());
        let (signed, _) = good.rsplit_once('.').unwrap();
        let mut c = claims();
        c["exp"] = json!(NOW + 3000);
        let forged_claims = URL_SAFE_NO_PAD.encode(c.to_string());
        let (h, _) = signed.split_once('.').unwrap();
        let signature = good.rsplit_once('.').unwrap().1;
        let forged = format!("{h}.{forged_claims}.{signature}");
        let refusal = check(&forged).unwrap_err();
        assert_eq!(refusal, invalid("Invalid JWT Signature."));

        let mut flipped = good.clone().into_bytes();
        let last = flipped.len() - 2;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        assert!(check(&String::from_utf8(flipped).unwrap()).is_err());
        assert!(check("a.b").is_err());
        assert!(check(&format!("{signed}.")).is_err());
    }

    #[test]
    fn header_must_say_rs256_and_the_accounts_kid() {
        for (field, value) in [
            ("alg", "HS256"),
            ("alg", "none"),
            ("typ", "JOSE+X"),
            ("kid", "other"),
        ] {
            let mut h = header();
            h[field] = json!(value);
            assert!(
                check(&sign_with_test_key(&h, &claims())).is_err(),
                "{field}={value}"
            );
        }
    }

    #[test]
    fn claims_are_checked() {
        let (code, why) = refused_with("aud", json!("https://example.com/token"));
        assert_eq!(code, "invalid_grant");
        assert!(why.contains("audience") && why.contains(AUD), "{why}");
        assert_eq!(
            refused_with("iss", json!("x@y.iam.gserviceaccount.com")).0,
            "invalid_grant"
        );
        assert_eq!(refused_with("scope", json!("openid")).0, "invalid_scope");
        // Expired, too long, from the future, not numbers.
        assert!(refused_with("exp", json!(NOW)).1.contains("short-lived"));
        assert!(refused_with("exp", json!(NOW + 3601))
            .1
            .contains("short-lived"));
        assert!(refused_with("iat", json!(NOW + 120))
            .1
            .contains("short-lived"));
        assert!(refused_with("iat", json!("now")).1.contains("integer"));
    }
}
