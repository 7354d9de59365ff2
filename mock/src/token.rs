//! [`TokenServer`]: the OAuth token endpoints strait mints provider tokens from,
//! so its background refresh can be tested end to end: Google's JWT-bearer grant
//! (Vertex AI) and Entra ID's client-credentials grant (Azure).
//!
//! Every request is recorded; every refusal's reason too. The logs are also served
//! for out-of-process tests: `GET /__mock/requests` (`DELETE` clears it) and
//! `GET /__mock/issued` (the tokens issued, oldest first).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, Response};
use serde_json::{json, Value};

use crate::entra::{self, App};
use crate::jwt::{self, CLOUD_PLATFORM_SCOPE};
use crate::listen::{self, json_response, Body, Running};
use crate::recorded::field;
use crate::test_account::{public_key_der, TEST_PRIVATE_KEY_ID};
use crate::{lock, server, Recorded, TEST_ACCOUNT_EMAIL};

/// The tokens a server has issued, shared with the providers that accept them.
pub(crate) type Issued = Arc<Mutex<Vec<String>>>;

const GRANT_JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

enum Kind {
    /// Trusts the test service account (DER `RSAPublicKey`).
    Google {
        public_key: Vec<u8>,
    },
    Entra(App),
}

struct State {
    kind: Kind,
    addr: SocketAddr,
    expires_in: AtomicU64,
    failing: Mutex<Option<u16>>,
    issued: Issued,
    refusals: Mutex<Vec<String>>,
    log: Mutex<Vec<Recorded>>,
}

/// A running mock token endpoint. Dropping it stops the server.
pub struct TokenServer {
    state: Arc<State>,
    _server: Running,
}

impl TokenServer {
    /// Google's OAuth token endpoint at `POST /token` (form-encoded
    /// `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>`).
    ///
    /// The JWT must be RS256-signed with the test service account's key
    /// ([`crate::test_service_account_json`]), `iss` = [`TEST_ACCOUNT_EMAIL`], `scope`
    /// = cloud-platform, `aud` = [`TokenServer::token_url`] (or
    /// `https://oauth2.googleapis.com/token`, which Google's own libraries always
    /// send and Google accepts), `iat <= now + 60`,
    /// `exp > now`, `exp - iat <= 3600`. Success: `200 {"access_token":
    /// "ya29.mock-<n>", "expires_in", "token_type": "Bearer"}`; failure:
    /// `400 {"error": "invalid_grant" (or "invalid_scope", "unsupported_grant_type"),
    /// "error_description"}`.
    pub fn google(expires_in: u64) -> TokenServer {
        TokenServer::start(
            Kind::Google {
                public_key: public_key_der(),
            },
            expires_in,
        )
    }

    /// Entra ID at `POST /{tenant}/oauth2/v2.0/token` (form-encoded
    /// `grant_type=client_credentials`, `client_id`, `client_secret`, `scope`), each
    /// checked against the arguments. Success: `200 {"token_type": "Bearer",
    /// "expires_in", "ext_expires_in", "access_token": "entra-mock-<n>"}`. Failure in
    /// Entra's shape: a wrong client id or secret is `401 invalid_client`; a wrong
    /// scope `400 invalid_scope`, grant type `400 unsupported_grant_type`, tenant
    /// `400 invalid_request`, as Entra answers them.
    pub fn entra(
        tenant: &str,
        client_id: &str,
        client_secret: &str,
        scope: &str,
        expires_in: u64,
    ) -> TokenServer {
        let app = App {
            tenant: tenant.to_owned(),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            scope: scope.to_owned(),
        };
        TokenServer::start(Kind::Entra(app), expires_in)
    }

    fn start(kind: Kind, expires_in: u64) -> TokenServer {
        let (listener, addr) = listen::bind();
        let name = match kind {
            Kind::Google { .. } => "strait-mock-token-google",
            Kind::Entra(_) => "strait-mock-token-entra",
        };
        let state = Arc::new(State {
            kind,
            addr,
            expires_in: AtomicU64::new(expires_in),
            failing: Mutex::new(None),
            issued: Issued::default(),
            refusals: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
        });
        let shared = state.clone();
        let server = listen::spawn(listener, name.to_owned(), move |req| {
            handle(shared.clone(), req)
        });
        TokenServer {
            state,
            _server: server,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.state.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.state.addr)
    }

    /// Google: the `token_uri` (and JWT `aud`), `url() + "/token"`. Entra: the
    /// authority host, `url()` (the client appends `/{tenant}/oauth2/v2.0/token`).
    pub fn token_url(&self) -> String {
        self.state.token_url()
    }

    /// Every token issued so far, oldest first.
    pub fn issued(&self) -> Vec<String> {
        lock(&self.state.issued).clone()
    }

    /// Every request received, oldest first (`/__mock/*` excluded).
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.state.log).clone()
    }

    /// Why each refused request was refused (the `error_description`), oldest first.
    pub fn refusals(&self) -> Vec<String> {
        lock(&self.state.refusals).clone()
    }

    /// The `expires_in` of tokens issued from now on.
    pub fn set_expires_in(&self, secs: u64) {
        self.state.expires_in.store(secs, Ordering::Relaxed);
    }

    /// While `Some(status)`, every request is answered with `status` and the
    /// provider's error body, and no token is issued.
    pub fn set_failing(&self, status: Option<u16>) {
        *lock(&self.state.failing) = status;
    }

    pub(crate) fn issued_list(&self) -> Issued {
        self.state.issued.clone()
    }
}

impl State {
    fn token_url(&self) -> String {
        match self.kind {
            Kind::Google { .. } => format!("http://{}/token", self.addr),
            Kind::Entra(_) => format!("http://{}", self.addr),
        }
    }

    /// Records the refusal and answers it in the provider's shape.
    fn refuse(&self, status: u16, error: &'static str, aadsts: u32, why: String) -> (u16, Value) {
        let body = match self.kind {
            Kind::Google { .. } => json!({"error": error, "error_description": why}),
            Kind::Entra(_) => entra::error_body(error, aadsts, &why),
        };
        lock(&self.refusals).push(why);
        (status, body)
    }

    /// Issues the next token: `{prefix}{n}`, n counting from 1.
    fn issue(&self, prefix: &str) -> (String, u64) {
        let mut issued = lock(&self.issued);
        let token = format!("{prefix}{}", issued.len() + 1);
        issued.push(token.clone());
        (token, self.expires_in.load(Ordering::Relaxed))
    }

    fn answer(&self, rec: &Recorded) -> (u16, Value) {
        if let Some(status) = *lock(&self.failing) {
            let error = match (&self.kind, status) {
                (Kind::Google { .. }, 400) => "invalid_grant",
                (_, 401) => "invalid_client",
                (Kind::Entra(_), 400) => "invalid_request",
                (_, 500..) => "temporarily_unavailable",
                _ => "access_denied",
            };
            let why = format!("strait-mock: failure {status} requested by set_failing");
            return self.refuse(status, error, 90000, why);
        }
        let form = rec.form_pairs();
        match &self.kind {
            Kind::Google { public_key } => {
                if (rec.method.as_str(), rec.path.as_str()) != ("POST", "/token") {
                    let why = format!(
                        "strait-mock: no token endpoint at {} {}",
                        rec.method, rec.path
                    );
                    return self.refuse(404, "invalid_request", 0, why);
                }
                let grant = field(&form, "grant_type").unwrap_or("");
                if grant != GRANT_JWT_BEARER {
                    let why = format!("Invalid grant_type: {grant}");
                    return self.refuse(400, "unsupported_grant_type", 0, why);
                }
                let want = jwt::Expect {
                    public_key,
                    iss: TEST_ACCOUNT_EMAIL,
                    aud: &self.token_url(),
                    scope: CLOUD_PLATFORM_SCOPE,
                    kid: TEST_PRIVATE_KEY_ID,
                    now: unix_now(),
                };
                let assertion = field(&form, "assertion").unwrap_or("");
                if let Err((error, why)) = jwt::verify(assertion, &want) {
                    return self.refuse(400, error, 0, why);
                }
                let (token, expires_in) = self.issue("ya29.mock-");
                let body = json!({"access_token": token, "expires_in": expires_in, "token_type": "Bearer"});
                (200, body)
            }
            Kind::Entra(app) => {
                if rec.method != "POST" {
                    let why = "AADSTS900561: The endpoint only accepts POST requests.".to_owned();
                    return self.refuse(400, "invalid_request", 900561, why);
                }
                if let Err((status, error, aadsts, why)) = entra::check(app, &rec.path, &form) {
                    return self.refuse(status, error, aadsts, why);
                }
                let (token, expires_in) = self.issue("entra-mock-");
                let body = json!({
                    "token_type": "Bearer", "expires_in": expires_in,
                    "ext_expires_in": expires_in, "access_token": token
                });
                (200, body)
            }
        }
    }
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Body>, hyper::Error> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes();
    if let Some(control) = parts.uri.path().strip_prefix("/__mock/") {
        if (parts.method.as_str(), control) == ("GET", "issued") {
            let issued = json!(*lock(&state.issued));
            return Ok(json_response(200, "application/json", &issued));
        }
        return Ok(server::control_route(
            &state.log,
            parts.method.as_str(),
            control,
        ));
    }
    let rec = Recorded::from_parts(&parts, &body);
    lock(&state.log).push(rec.clone());
    let (status, body) = state.answer(&rec);
    let mut response = json_response(status, "application/json; charset=utf-8", &body);
    let headers = response.headers_mut();
    headers.insert(
        "cache-control",
        "no-store, no-cache".parse().expect("header"),
    );
    headers.insert("pragma", "no-cache".parse().expect("header"));
    Ok(response)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
