//! A test-only Google service account: the JSON file Google issues for one, and the
//! key the mock token server checks its JWT assertions against.
//!
//! THE PRIVATE KEY BELOW IS A THROWAWAY TEST KEY. It was generated once with
//! `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048` for strait's
//! tests, belongs to no real Google Cloud account, and is public on purpose (it is
//! in this source file). Never use it for anything but tests.

use serde_json::json;

/// `client_email` of the test service account; the JWT `iss` the token server wants.
pub const TEST_ACCOUNT_EMAIL: &str = "strait-test@strait-test-project.iam.gserviceaccount.com";
/// `project_id` of the test service account.
pub const TEST_PROJECT_ID: &str = "strait-test-project";
/// `private_key_id` of the test service account; a JWT `kid`, when present, must be it.
pub const TEST_PRIVATE_KEY_ID: &str = "5f1c0e2d9a7b4c3e8d6f0a1b2c3d4e5f60718293";
/// `client_id` of the test service account (Google's are 21 digits).
const TEST_CLIENT_ID: &str = "100000000000000000042";

/// The throwaway test key: RSA 2048, PKCS#8 PEM (`BEGIN PRIVATE KEY`), as in the
/// `private_key` field of a service-account JSON.
pub const TEST_PRIVATE_KEY_PEM: &str = "\
-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDH5fdeGGJ9slhm
Q83BdA0BIHvtH2himSroKReJD7vzgO0cHoYdww1qW3CcPzC2WQLRq6/aL5HMvfC9
b3TvrJ0xDp9+oTT2WVPlNhtIAlrbH7mVw8FoIIxHI3HG/h6zKmpnIV3N+nzzlE1s
nLqlmTVQ9MgIdFqEB4LgeCUoTN1DlPGZAoZaAKeViDz/UUjqVvdETgPleidlYpII
XlqVwpLDP6HUcTYVnyqfa+vOZaSN9//A288g4zjKO9UNMGbLyp9COHRU4qzrBVfO
Q3hmWDeyJA2AY3VwYBaCy2BL5cJsyTbUWtREyGEc+dxlrj/yeNDz08CHlEMcdUtJ
1aLvh48JAgMBAAECggEAF9WvgFBzg+3NNQpeIPQrrcf4Bs7BJUqCj3KA3CacYD0t
6HWqQ6ezdIxJGdQ+BGwKFkJ8og0cexdlukytGnvQNV57PX/OvxXpFzIzoAsp1qlK
eVVBPR9uYngTM6kus2m6DKhxlSMKHYgAEFSCu8aQESJSrJFlDouPuyCQO6Uol8tX
L0AkqzbDEzARW6w/voDwUJyTmmHkV55gJ1/J+c5kZkVK4Aux2J7E87FnnwXsJWIQ
31sZn7PNDoCUnXgHhXZZ/mV+7AaQr/5/yviXP1NivDH2DG31YTMYRePj7jh0v9Ef
j5pEVIcN41ruKb9koPSa6Z1XrJUhQsEp/GiO0B1WJQKBgQD41rn9ixX5fnx7Xb41
GQ5Gb0pFO87f1YM+Ue0KESXluJpm49K7nzQfqxzY5b6jr5qLOCukS8vXn0t5jH8S
6YDmNs5JsE/u6YSahLR/93qGjyRs7jFE02W/tFh2CIjujHeJLTUrlwynMTYz8GO8
Gv0sr8PnWsJeD26GdHVxaSezjQKBgQDNpq4P9XhYFBvyYzPxc5UcZmsOgpHCgy29
KTrMKW1SZUvMCsz8VPc5KhtJDFPJKEQjpGmqwtRohVAYvB+9Vz1Q8ICOZfwA4Gqs
g810SZir4ljeExnQY9PnTldWI+62PDu3YBx63ITx64p5RM/H/z8reFkGtOfqP0q9
R6CLZeuMbQKBgEx0bSDhoxbNLiIZY1+dGy248/Dht2Y+i9yR/2qgaixy073ZMd5D
xBgW0v4xWKmiQrGTyJTqVO8jGmV2LXT6GYiiPi+V5Hlbdkqji3Hl79d4E5EEfk7P
ROvp1WQuqyPgNLoJEdUay+By1lyO95XMFQ2t01s6H44W37agAZWe4XvhAoGAWxTx
jrvnWws8/XOWc9//MJ7j139Y00+KGHeERRwsAQxAL9SwySlQfY76mrXM/hDJbQfK
jQjRTqGMwge//vn+fDSom2jr3e+HD3Uor9JQvf/34BORoUw1dAKsh8hOV4QB5su4
kWnNr9/kaqVhaXDRJ42b0G6bMJJrpb1ti4/ObVkCgYEAnqbGvY5XacRTOdeUIKHj
oCie9W+SOwjkqazOERe2XldHin5lLnSax1oK9B8QJcatd5zHuWSNlhu6yOLH4UQN
vK8hBLthAoFzsL5RyXIBlSofUAYpnvXtZiDuqahCAmGTkqpOCeyKVl/ubmve7oQ6
SgvuMswZb3ptwk8FpGXIO+o=
-----END PRIVATE KEY-----
";

/// The service-account JSON text Google issues for a key, with `token_uri` pointing
/// at `token_uri` (a mock [`crate::TokenServer::token_url`]).
pub fn test_service_account_json(token_uri: &str) -> String {
    let json = json!({
        "type": "service_account",
        "project_id": TEST_PROJECT_ID,
        "private_key_id": TEST_PRIVATE_KEY_ID,
        "private_key": TEST_PRIVATE_KEY_PEM,
        "client_email": TEST_ACCOUNT_EMAIL,
        "client_id": TEST_CLIENT_ID,
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": format!(
            "https://www.googleapis.com/robot/v1/metadata/x509/{}",
            TEST_ACCOUNT_EMAIL.replace('@', "%40")
        ),
        "universe_domain": "googleapis.com"
    });
    serde_json::to_string_pretty(&json).expect("service account JSON")
}

/// The test key pair, parsed from [`TEST_PRIVATE_KEY_PEM`].
fn key_pair() -> ring::rsa::KeyPair {
    use base64::Engine;
    let body: String = TEST_PRIVATE_KEY_PEM
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("test key PEM is base64");
    ring::rsa::KeyPair::from_pkcs8(&der).expect("test key is an RSA PKCS#8 key")
}

/// The test key's public half, DER `RSAPublicKey` (PKCS#1), as `ring`'s
/// `UnparsedPublicKey` wants it. Derived from the private key so the two cannot drift.
pub(crate) fn public_key_der() -> Vec<u8> {
    use ring::signature::KeyPair;
    key_pair().public_key().as_ref().to_vec()
}

/// Signs `message` with the test key (RS256: RSASSA-PKCS1-v1_5 with SHA-256).
/// For the mock's own tests only: strait mints its JWTs with its own code.
#[cfg(test)]
pub(crate) fn sign(message: &[u8]) -> Vec<u8> {
    let key = key_pair();
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        message,
        &mut signature,
    )
    .expect("RS256 signature");
    signature
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_account_json_has_googles_fields() {
        let sa: serde_json::Value =
            serde_json::from_str(&test_service_account_json("http://127.0.0.1:1/token")).unwrap();
        assert_eq!(sa["type"], "service_account");
        assert_eq!(sa["client_email"], TEST_ACCOUNT_EMAIL);
        assert_eq!(sa["token_uri"], "http://127.0.0.1:1/token");
        let pem = sa["private_key"].as_str().unwrap();
        assert!(
            pem.starts_with("-----BEGIN PRIVATE KEY-----\n")
                && pem.ends_with("-----END PRIVATE KEY-----\n")
        );
        assert_eq!(public_key_der().len(), 270, "2048-bit RSAPublicKey DER");
    }
}
