//! What one virtual key may do: which providers, methods and paths, how many
//! requests per minute and how many at once. Counters live outside the
//! config snapshot, keyed by the key's name, so a reload keeps them.

use std::sync::LazyLock;
use std::time::Duration;

use http::Method;
use pingora_limits::inflight::{Guard, Inflight};
use pingora_limits::rate::Rate;
#[cfg(test)]
use regex::RegexSet;

use crate::errors::{ErrorKind, GatewayError};
use crate::providers::ProviderKind;
use crate::snapshot::KeyPolicy;

const WINDOW: Duration = Duration::from_secs(60);
static RATE: LazyLock<Rate> = LazyLock::new(|| Rate::new(WINDOW));
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

    /// Counts the request against the key's limits; the slot is held until
    /// the request ends.
    pub(crate) fn admit(&self, key: &str) -> Result<Option<Slot>, GatewayError> {
        if let Some(limit) = self.requests_per_minute {
            let current = RATE.observe(&key, 1);
            // A sliding estimate: the previous minute weighs in by how much
            // of it still overlaps the last 60 s, so a window boundary does
            // not let twice the limit through.
            let (estimate, wait) = RATE.rate_with(&key, |r| {
                let prev = r.prev_samples as f64;
                let curr = r.curr_samples as f64;
                let left = 1.0 - r.current_interval_fraction;
                let estimate = prev * left + curr;
                let secs = WINDOW.as_secs_f64();
                let wait = if curr > limit as f64 || prev <= 0.0 {
                    left * secs
                } else {
                    (estimate - limit as f64) / prev * secs
                };
                (estimate, wait)
            });
            if current > 0 && estimate > limit as f64 {
                RATE.observe(&key, -1);
                let retry = wait.ceil().max(1.0) as u64;
                return Err(GatewayError::new(
                    ErrorKind::RateLimited,
                    format!("virtual key `{key}` is limited to {limit} requests per minute"),
                )
                .with_retry_after(retry));
            }
        }
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
    fn requests_per_minute_are_counted_per_key() {
        let p = KeyPolicy {
            requests_per_minute: Some(2),
            ..KeyPolicy::default()
        };
        // Counters are process-wide and keyed by name: unique names here.
        assert!(p.admit("rpm-a").is_ok());
        assert!(p.admit("rpm-a").is_ok());
        let e = p.admit("rpm-a").err().expect("the third is refused");
        assert_eq!((e.kind, e.status()), (ErrorKind::RateLimited, 429));
        assert!(e.retry_after.is_some_and(|s| (1..=60).contains(&s)));
        assert!(p.admit("rpm-b").is_ok(), "another key has its own count");
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
