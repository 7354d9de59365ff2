//! What one virtual key may do: which providers, methods and paths, and how
//! many requests at once. The count lives outside the config snapshot,
//! keyed by the key's name, so a reload keeps it.

use std::sync::LazyLock;

use http::Method;
use pingora_limits::inflight::{Guard, Inflight};
#[cfg(test)]
use regex::RegexSet;

use crate::errors::{ErrorKind, GatewayError};
use crate::providers::ProviderKind;
use crate::snapshot::KeyPolicy;

static INFLIGHT: LazyLock<Inflight> = LazyLock::new(Inflight::new);

/// Holds a request's place in its key's concurrency count.
pub(crate) struct Slot(#[allow(dead_code)] Guard);

fn forbidden(message: String) -> GatewayError {
    GatewayError::new(ErrorKind::NotAllowed, message)
}

impl KeyPolicy {
    /// The route-level checks, before anything is read or counted.
    pub(crate) fn allows(
        &self,
        key: &str,
        provider: ProviderKind,
        method: &Method,
        path: &str,
    ) -> Result<(), GatewayError> {
        if let Some(p) = &self.providers {
            if !p.contains(&provider) {
                return Err(forbidden(format!(
                    "virtual key `{key}` may not use provider {}",
                    provider.name()
                )));
            }
        }
        if let Some(m) = &self.methods {
            if !m.contains(method) {
                return Err(forbidden(format!(
                    "virtual key `{key}` may not use method {method}"
                )));
            }
        }
        if let Some(set) = &self.paths {
            if !set.is_match(path) {
                return Err(forbidden(format!(
                    "virtual key `{key}` may not use this path"
                )));
            }
        }
        Ok(())
    }

    /// Takes the request's place in the key's concurrency count, held until
    /// the request ends. (Per-minute limits and budgets are the spend
    /// store's: they may be shared by a fleet, this count is per process.)
    pub(crate) fn admit(&self, key: &str) -> Result<Option<Slot>, GatewayError> {
        let Some(max) = self.max_concurrent else {
            return Ok(None);
        };
        let (guard, count) = INFLIGHT.incr(key, 1);
        if count > max as isize {
            return Err(GatewayError::new(
                ErrorKind::ConcurrencyLimited,
                format!("virtual key `{key}` may have {max} requests in flight"),
            )
            .with_retry_after(1));
        }
        Ok(Some(Slot(guard)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> KeyPolicy {
        KeyPolicy {
            providers: Some(vec![ProviderKind::OpenAi]),
            methods: Some(vec![Method::POST]),
            paths: Some(RegexSet::new(["^/v1/chat/"]).unwrap()),
            ..KeyPolicy::default()
        }
    }

    #[test]
    fn route_level_checks_name_what_is_refused() {
        let p = policy();
        let ok = p.allows(
            "k",
            ProviderKind::OpenAi,
            &Method::POST,
            "/v1/chat/completions",
        );
        assert!(ok.is_ok());
        let cases = [
            (
                ProviderKind::Anthropic,
                Method::POST,
                "/v1/chat/x",
                "provider anthropic",
            ),
            (
                ProviderKind::OpenAi,
                Method::GET,
                "/v1/chat/x",
                "method GET",
            ),
            (ProviderKind::OpenAi, Method::POST, "/v1/files", "this path"),
        ];
        for (kind, method, path, says) in cases {
            let e = p.allows("k", kind, &method, path).unwrap_err();
            assert_eq!(e.kind, ErrorKind::NotAllowed);
            assert!(e.message.contains(says), "{}", e.message);
        }
        assert!(KeyPolicy::default()
            .allows("k", ProviderKind::Vertex, &Method::DELETE, "/x")
            .is_ok());
    }

    #[test]
    fn a_slot_is_held_until_the_request_ends() {
        let p = KeyPolicy {
            max_concurrent: Some(1),
            ..KeyPolicy::default()
        };
        let first = p.admit("conc-a").unwrap();
        assert!(first.is_some());
        let e = p.admit("conc-a").err().expect("the second is refused");
        assert_eq!(
            (e.kind, e.retry_after),
            (ErrorKind::ConcurrencyLimited, Some(1))
        );
        drop(first);
        assert!(p.admit("conc-a").unwrap().is_some());
        assert!(KeyPolicy::default().admit("conc-a").unwrap().is_none());
    }
}
