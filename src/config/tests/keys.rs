//! Rows for a provider's keys: what every key has, and the Azure (Entra ID)
//! and Vertex (service account) specifics.

use super::*;

/// One key of `provider`, written flow-style at line 4, column 9.
fn key(provider: &str, key: &str) -> String {
    format!("providers:\n  {provider}:\n    keys:\n      - {key}\n")
}

/// An azure key `k` at line 4 whose `azure_key_config` holds the endpoint
/// and `more`.
fn azure(value: &str, more: &str) -> String {
    key(
        "azure",
        &format!(
            "{{ name: k,{value} azure_key_config: {{ endpoint: \"https://r.example\"{more} }} }}"
        ),
    )
}

/// A vertex key `k` at line 4 with the given `vertex_key_config` fields.
fn vertex(config: &str) -> String {
    key(
        "vertex",
        &format!("{{ name: k, vertex_key_config: {{ {config} }} }}"),
    )
}

/// Service-account JSON as a YAML string (JSON's quoting is YAML's).
fn vertex_sa(json: &str) -> String {
    let quoted = serde_json::to_string(json).expect("a string");
    vertex(&format!(
        "project_id: p, region: r, auth_credentials: {quoted}"
    ))
}

const ENTRA: &str = ", client_id: c, client_secret: s, tenant_id: t";
const IGNORED: &str = "is accepted for Bifrost compatibility; strait does not act on it";

#[test]
fn key_rows() {
    check(vec![
        row(Error, key("openai", "{ name: k }"), "openai key `k`: value is required", 4, 9),
        row(Error, key("openai", "{ value: \"\" }"), "openai key `key0` is empty", 4, 18),
        row(
            Error,
            key("openai", "{ name: k, value: \"sk\\x01\" }"),
            "openai key `k`: value contains characters not allowed in a header",
            4,
            27,
        ),
        row(
            CheckError,
            key("openai", "{ name: k, value: env.UNSET }"),
            "openai key `k`: environment variable UNSET is not set",
            4,
            27,
        ),
        row(
            Warning,
            key("openai", "{ name: k, value: env.UNSET }"),
            "openai key `k`: environment variable UNSET is not set; it is disabled",
            4,
            27,
        ),
        row(
            Error,
            key("openai", "{ name: k, value: sk, weight: 0 }"),
            "openai key `k`: weight must be a positive number up to 1000000000",
            4,
            39,
        ),
        row(
            Error,
            key("openai", "{ name: k, value: sk, weight: 2e9 }"),
            "openai key `k`: weight must be a positive number up to 1000000000",
            4,
            39,
        ),
        row(
            Error,
            "providers:\n  openai:\n    keys:\n      - { name: k, value: a }\n      - { name: k, value: b }\n",
            "key name `k` is used twice in `openai`",
            5,
            9,
        ),
        // A kind's block on the wrong kind, or missing.
        row(
            Error,
            key("openai", "{ name: k, value: sk, azure_key_config: { endpoint: \"https://r.example\" } }"),
            "openai key `k`: azure_key_config belongs on azure keys only",
            4,
            49,
        ),
        row(
            Error,
            key("gemini", "{ name: k, value: sk, vertex_key_config: { project_id: p, region: r } }"),
            "gemini key `k`: vertex_key_config belongs on vertex keys only",
            4,
            50,
        ),
        row(
            Error,
            key("azure", "{ name: k, value: sk }"),
            "azure key `k`: azure keys need azure_key_config.endpoint",
            4,
            9,
        ),
        row(
            Error,
            key("vertex", "{ name: k, value: sk }"),
            "vertex key `k`: vertex keys need vertex_key_config (project_id, region)",
            4,
            9,
        ),
    ]);
}

#[test]
fn azure_key_rows() {
    check(vec![
        row(
            Error,
            key(
                "azure",
                "{ name: k, value: sk, azure_key_config: { api_version: v1 } }",
            ),
            "azure key `k`: azure_key_config.endpoint is required",
            4,
            9,
        ),
        row(
            Error,
            azure(" value: sk,", ", api_version: \"2024 10\""),
            "azure key `k`: api_version \"2024 10\" is not a plain value",
            4,
            95,
        ),
        row(
            Error,
            azure(" value: sk,", ENTRA),
            "azure key `k`: give either value or a service principal/account, not both",
            4,
            27,
        ),
        row(
            Error,
            azure("", ", client_id: c"),
            "azure key `k`: Entra ID needs client_id, client_secret and tenant_id together",
            4,
            82,
        ),
        row(
            Error,
            azure("", ", client_id: c, client_secret: s, tenant_id: \"a/b\""),
            "azure key `k`: tenant_id must be a tenant GUID or domain",
            4,
            114,
        ),
        row(
            Error,
            azure("", &format!("{ENTRA}, authority_host: login.example")),
            "azure key `k`: authority_host must be an http(s) URL",
            4,
            133,
        ),
        row(
            CheckError,
            azure("", ", client_id: c, client_secret: env.UNSET, tenant_id: t"),
            "azure key `k`: client_secret: environment variable UNSET is not set",
            4,
            100,
        ),
        row(
            Warning,
            azure("", ", client_id: c, client_secret: env.UNSET, tenant_id: t"),
            "azure key `k`: client_secret: environment variable UNSET is not set; it is disabled",
            4,
            100,
        ),
        row(
            Warning,
            azure(" value: sk,", ", deployments: {}"),
            "`azure_key_config.deployments` is accepted for Bifrost compatibility",
            4,
            95,
        ),
    ]);
}

#[test]
fn vertex_key_rows() {
    let ec_key = rcgen::KeyPair::generate().expect("a key").serialize_pem();
    let sa = |key: &str, token_uri: &str| {
        serde_json::json!({"client_email": "e", "private_key": key, "token_uri": token_uri})
            .to_string()
    };
    check(vec![
        row(
            Error,
            vertex("project_id: My_P, region: r"),
            "vertex key `k`: vertex_key_config.project_id must be [a-z0-9-]",
            4,
            53,
        ),
        row(
            Error,
            vertex("project_id: p, region: \"\""),
            "vertex key `k`: vertex_key_config.region must be [a-z0-9-]",
            4,
            64,
        ),
        // The region names the host; a bad one is reported where it is.
        row(Error, vertex("project_id: p, region: \"a b\""), "invalid URL", 4, 64),
        row(
            Error,
            vertex("project_id: p, region: r, auth_credentials: sa.json"),
            "vertex key `k`: cannot read auth_credentials file /nonexistent-strait-test/sa.json: ",
            4,
            85,
        ),
        row(
            CheckError,
            vertex("project_id: p, region: r, auth_credentials: env.UNSET"),
            "vertex key `k`: auth_credentials: environment variable UNSET is not set",
            4,
            85,
        ),
        row(
            Error,
            vertex_sa("{\"client_email\": 1}"),
            "vertex key `k`: auth_credentials: not a service-account JSON (line 1): missing or invalid field",
            4,
            85,
        ),
        row(
            Error,
            vertex_sa(&sa("x", "https://t.example")),
            "vertex key `k`: auth_credentials: private_key is not a PKCS#8 PEM key",
            4,
            85,
        ),
        row(
            Error,
            vertex_sa(&sa(&ec_key, "https://t.example")),
            "vertex key `k`: auth_credentials: private_key is not a usable RSA key",
            4,
            85,
        ),
        row(
            Error,
            vertex_sa(&strait_mock::test_service_account_json("ftp://t.example")),
            "vertex key `k`: auth_credentials: token_uri must be an http(s) URL",
            4,
            85,
        ),
        row(
            Warning,
            key("vertex", "{ name: k, value: sk, vertex_key_config: { project_id: p, region: r, project_number: 1 } }"),
            "`vertex_key_config.project_number` is accepted for Bifrost compatibility",
            4,
            94,
        ),
        row(
            Warning,
            key("vertex", "{ name: k, value: sk, vertex_key_config: { project_id: p, region: r, deployments: {} } }"),
            "`vertex_key_config.deployments` is accepted for Bifrost compatibility",
            4,
            91,
        ),
    ]);
}

#[test]
fn ignored_key_field_rows() {
    let rows = [
        "id",
        "aliases",
        "blacklisted_models",
        "use_for_batch_api",
        "bedrock_key_config",
    ]
    .into_iter()
    .map(|field| {
        let col = 33 + field.len() as u64;
        row(
            Warning,
            key("openai", &format!("{{ name: k, value: sk, {field}: 1 }}")),
            IGNORED,
            4,
            col,
        )
    })
    .collect();
    check(rows);
}
