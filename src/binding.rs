//! Binding a request to one provider key: the credential it sends and the
//! upstream path and query it implies. Admission binds the first key;
//! failover binds the next.

use crate::credential::{Credential, RequestCredential};
use crate::ctx::{Binding, ClientRequest};
use crate::errors::{ErrorKind, GatewayError};
use crate::snapshot::ProviderConfig;

pub(crate) async fn bind(
    provider: &ProviderConfig,
    key_index: usize,
    client: &ClientRequest,
) -> Result<Binding, GatewayError> {
    let key = &provider.keys[key_index];
    let credential = match &key.credential {
        Credential::Key(secret) => RequestCredential::Key(secret.clone()),
        Credential::Token(source) => RequestCredential::Bearer(
            source
                .bearer()
                .await
                .map_err(|e| GatewayError::new(ErrorKind::ProviderAuthError, e.0))?,
        ),
        Credential::Disabled => {
            return Err(GatewayError::new(
                ErrorKind::InternalError,
                "selected a disabled key",
            ))
        }
    };
    let behaviour = provider.kind.rules();
    let path = &client.native_path;
    let query = behaviour.upstream_query(key, path, client.query.clone());
    let path = behaviour.upstream_path(key, path);
    let mut uri =
        String::with_capacity(key.upstream.base_path.len() + path.len() + query.len() + 1);
    uri.push_str(&key.upstream.base_path);
    uri.push_str(&path);
    if !query.is_empty() {
        uri.push('?');
        uri.push_str(&query);
    }
    Ok(Binding {
        key_index,
        credential,
        upstream_uri: uri,
    })
}
