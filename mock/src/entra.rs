//! Microsoft Entra ID's client-credentials grant
//! (`POST /{tenant}/oauth2/v2.0/token`, form-encoded), checked against one app
//! registration, with Entra's error body (`AADSTS` codes and all).

use serde_json::{json, Value};

use crate::recorded::field;

/// The app registration a token server accepts.
pub(crate) struct App {
    pub tenant: String,
    pub client_id: String,
    pub client_secret: String,
    /// e.g. `https://cognitiveservices.azure.com/.default`
    pub scope: String,
}

/// A refusal: (status, OAuth `error`, AADSTS code, description).
pub(crate) type Refusal = (u16, &'static str, u32, String);

/// Checks a token request at `path` with form body `form`.
pub(crate) fn check(app: &App, path: &str, form: &[(String, String)]) -> Result<(), Refusal> {
    if path != format!("/{}/oauth2/v2.0/token", app.tenant) {
        let tenant = path.trim_start_matches('/').split('/').next().unwrap_or("");
        let why = format!("AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.");
        return Err((400, "invalid_request", 90002, why));
    }
    let grant = field(form, "grant_type");
    if grant != Some("client_credentials") {
        let why = format!(
            "AADSTS70003: The app requested an unsupported grant type '{}'.",
            grant.unwrap_or("")
        );
        return Err((400, "unsupported_grant_type", 70003, why));
    }
    let client_id = field(form, "client_id").unwrap_or("");
    if client_id != app.client_id {
        let why = format!("AADSTS700016: Application with identifier '{client_id}' was not found in the directory '{}'.", app.tenant);
        return Err((401, "invalid_client", 700016, why));
    }
    if field(form, "client_secret") != Some(app.client_secret.as_str()) {
        let why = format!("AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'.");
        return Err((401, "invalid_client", 7000215, why));
    }
    if field(form, "scope") != Some(app.scope.as_str()) {
        let why = format!(
            "AADSTS70011: The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. Expected '{}'.",
            app.scope
        );
        return Err((400, "invalid_scope", 70011, why));
    }
    Ok(())
}

/// Entra's error body. Ids and timestamp are fixed: the mock is deterministic.
pub(crate) fn error_body(error: &str, code: u32, description: &str) -> Value {
    json!({
        "error": error,
        "error_description": format!("{description} Trace ID: 00000000-0000-4000-8000-000000000000 Correlation ID: 00000000-0000-4000-9000-000000000000 Timestamp: 2025-01-01 00:00:00Z"),
        "error_codes": [code],
        "timestamp": "2025-01-01 00:00:00Z",
        "trace_id": "00000000-0000-4000-8000-000000000000",
        "correlation_id": "00000000-0000-4000-9000-000000000000",
        "error_uri": format!("https://login.microsoftonline.com/error?code={code}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> App {
        App {
            tenant: "tid".into(),
            client_id: "cid".into(),
            client_secret: "s3cret".into(),
            scope: "https://cognitiveservices.azure.com/.default".into(),
        }
    }

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    const GOOD: [(&str, &str); 4] = [
        ("grant_type", "client_credentials"),
        ("client_id", "cid"),
        ("client_secret", "s3cret"),
        ("scope", "https://cognitiveservices.azure.com/.default"),
    ];
    const PATH: &str = "/tid/oauth2/v2.0/token";

    /// The form with field `i` of [`GOOD`] replaced by `value` (or dropped if `None`).
    fn with(i: usize, value: Option<&str>) -> Vec<(String, String)> {
        let mut pairs: Vec<(&str, &str)> = GOOD.to_vec();
        match value {
            Some(v) => pairs[i].1 = v,
            None => drop(pairs.remove(i)),
        }
        form(&pairs)
    }

    fn code(path: &str, f: &[(String, String)]) -> Option<(u16, &'static str)> {
        check(&app(), path, f).err().map(|(s, e, _, _)| (s, e))
    }

    #[test]
    fn all_four_fields_and_the_tenant_are_checked() {
        assert_eq!(code(PATH, &form(&GOOD)), None);
        let bad_client = Some((401, "invalid_client"));
        assert_eq!(code(PATH, &with(1, Some("other"))), bad_client);
        assert_eq!(code(PATH, &with(2, Some("wrong"))), bad_client);
        assert_eq!(code(PATH, &with(2, None)), bad_client);
        assert_eq!(
            code(PATH, &with(0, Some("password"))),
            Some((400, "unsupported_grant_type"))
        );
        assert_eq!(
            code(PATH, &with(3, Some("https://cognitiveservices.azure.com"))),
            Some((400, "invalid_scope"))
        );
        assert_eq!(code(PATH, &with(3, None)), Some((400, "invalid_scope")));
        assert_eq!(
            code("/other/oauth2/v2.0/token", &form(&GOOD)),
            Some((400, "invalid_request"))
        );
        assert_eq!(
            code("/tid/oauth2/token", &form(&GOOD)),
            Some((400, "invalid_request"))
        );
        let mut twice = form(&GOOD);
        twice.push(("client_secret".into(), "s3cret".into()));
        assert_eq!(code(PATH, &twice), bad_client);
    }

    #[test]
    fn errors_have_entras_shape() {
        let (_, error, aadsts, why) = check(&app(), PATH, &with(2, Some("x"))).unwrap_err();
        let body = error_body(error, aadsts, &why);
        assert_eq!(body["error"], "invalid_client");
        assert_eq!(body["error_codes"], json!([7000215]));
        assert!(body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS7000215: "));
    }
}
