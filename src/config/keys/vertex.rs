//! A Vertex AI key: the project and region it serves, and either an API key
//! (express mode) or a Google service account.

use std::sync::Arc;

use rustls_pki_types::CertificateDer;
use serde_saphyr::Spanned;

use super::Target;
use crate::config::checker::{Checker, Lookup};
use crate::config::providers::upstream;
use crate::config::schema::RawVertexKeyConfig;
use crate::keys::VertexTarget;
use crate::providers::vertex_base_url;
use crate::tokens::{Minter, ServiceAccount};
use crate::upstream::Upstream;

pub(super) fn target(
    c: &mut Checker,
    what: &str,
    vx: &RawVertexKeyConfig,
    shared_upstream: Option<&Arc<Upstream>>,
    extra_ca: Option<&[CertificateDer<'static>]>,
) -> Target {
    c.ignored(&vx.project_number, "vertex_key_config.project_number");
    c.ignored(&vx.deployments, "vertex_key_config.deployments");
    // Both become part of the upstream host name and path.
    for (v, field) in [(&vx.project_id, "project_id"), (&vx.region, "region")] {
        let ok = !v.value.is_empty()
            && v.value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            c.error(
                v,
                format!("{what}: vertex_key_config.{field} must be [a-z0-9-]"),
            );
        }
    }
    let vertex = Some(VertexTarget {
        project: vx.project_id.value.clone(),
        region: vx.region.value.clone(),
    });
    let minter = vx
        .auth_credentials
        .as_ref()
        .and_then(|creds| service_account(c, what, creds));
    let upstream = match shared_upstream {
        Some(u) => Some(u.clone()),
        None => {
            // A region's own host; an error in it points at the region.
            let url = Spanned::new(
                vertex_base_url(&vx.region.value),
                vx.region.referenced,
                vx.region.defined,
            );
            upstream(c, &url, extra_ca, None)
        }
    };
    Target {
        upstream,
        api_version: None,
        vertex,
        minter,
    }
}

/// A service account from JSON text, a path to it, or `env.NAME` holding either.
fn service_account(
    c: &mut Checker,
    what: &str,
    at: &Spanned<String>,
) -> Option<Result<Minter, String>> {
    let text = match c.secret(at, &format!("{what}: auth_credentials"))? {
        Lookup::Unset(var) => return Some(Err(var)),
        Lookup::Value(v) if v.trim_start().starts_with('{') => v,
        Lookup::Value(path) => {
            let path = c.base_dir().join(path.trim());
            match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) => {
                    c.error(
                        at,
                        format!(
                            "{what}: cannot read auth_credentials file {}: {e}",
                            path.display()
                        ),
                    );
                    return None;
                }
            }
        }
    };
    match ServiceAccount::from_json(&text) {
        Ok(sa) => Some(Ok(Minter::Google(sa))),
        Err(e) => {
            c.error(at, format!("{what}: auth_credentials: {e}"));
            None
        }
    }
}
