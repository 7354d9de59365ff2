//! Entra ID (Azure AD) client-credentials grant for Azure service principals.

use super::http_post::{post_form, TokenResponse};
use super::Minted;

#[derive(PartialEq, Eq)]
pub(crate) struct EntraClient {
    pub(crate) authority_host: String,
    pub(crate) tenant_id: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) scope: String,
}

impl EntraClient {
    pub(crate) async fn mint(&self) -> Result<Minted, String> {
        let url = format!(
            "{}/{}/oauth2/v2.0/token",
            self.authority_host.trim_end_matches('/'),
            self.tenant_id
        );
        let resp: TokenResponse = post_form(
            &url,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &self.client_id),
                ("client_secret", &self.client_secret),
                ("scope", &self.scope),
            ],
        )
        .await?;
        Ok(resp.into_minted())
    }
}
