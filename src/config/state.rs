//! `state:` where the spend counters live. Read at start only: the store
//! holds the counters, and swapping it on a reload would lose them.

use std::path::PathBuf;
use std::time::Duration;

use super::checker::{Checker, Lookup};
use super::defaults;
use super::schema::RawState;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum StateSettings {
    Memory {
        /// Where the counters are saved and read back at start.
        file: Option<PathBuf>,
    },
    Redis(RedisSettings),
}

#[derive(Clone, PartialEq)]
pub(crate) struct RedisSettings {
    /// May hold a password: never printed (see `Debug`).
    pub(crate) url: String,
    pub(crate) key_prefix: String,
    /// Admit (and count locally) when Redis cannot be reached; else refuse.
    pub(crate) allow_on_error: bool,
    pub(crate) timeout: Duration,
}

impl std::fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSettings")
            .field("url", &redacted(&self.url))
            .field("key_prefix", &self.key_prefix)
            .field("allow_on_error", &self.allow_on_error)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The URL without its user info: what logs and messages may show.
pub(crate) fn redacted(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, _)), Some(at)) => format!("{scheme}://***{}", &url[at..]),
        _ => url.to_owned(),
    }
}

pub(crate) fn state(c: &mut Checker, raw: &RawState) -> StateSettings {
    let backend = raw.backend.as_ref().map(|b| b.value.trim());
    let redis_only = [
        (&raw.url, "url"),
        (&raw.key_prefix, "key_prefix"),
        (&raw.on_error, "on_error"),
    ];
    match backend {
        None | Some("memory") => {
            for (field, name) in redis_only {
                if let Some(f) = field {
                    c.error(f, format!("state.{name} is for `backend: redis`"));
                }
            }
            if let Some(t) = &raw.timeout_ms {
                c.error(t, "state.timeout_ms is for `backend: redis`");
            }
            let file = raw.file.as_ref().map(|f| c.base_dir().join(f.value.trim()));
            StateSettings::Memory { file }
        }
        Some("redis") => {
            if let Some(f) = &raw.file {
                c.error(
                    f,
                    "state.file is for `backend: memory`; Redis keeps its own",
                );
            }
            StateSettings::Redis(redis(c, raw))
        }
        Some(other) => {
            let at = raw.backend.as_ref().expect("backend given");
            c.error(
                at,
                format!("unknown state.backend `{other}` (memory, redis)"),
            );
            StateSettings::Memory { file: None }
        }
    }
}

fn redis(c: &mut Checker, raw: &RawState) -> RedisSettings {
    let url = match &raw.url {
        None => {
            if let Some(b) = &raw.backend {
                c.error(b, "`backend: redis` needs state.url (redis://host:port/db)");
            }
            String::new()
        }
        Some(at) => match c.secret(at, "state.url") {
            Some(Lookup::Value(v)) => {
                if let Err(e) = redis::Client::open(v.as_str()) {
                    // The error names the part that is wrong, never the password.
                    c.error(at, format!("state.url is not a Redis URL: {:?}", e.kind()));
                }
                v
            }
            _ => String::new(),
        },
    };
    let allow_on_error = match raw.on_error.as_ref().map(|o| (o, o.value.trim())) {
        None => true,
        Some((_, "allow")) => true,
        Some((_, "deny")) => false,
        Some((at, other)) => {
            c.error(
                at,
                format!("unknown state.on_error `{other}` (allow, deny)"),
            );
            true
        }
    };
    RedisSettings {
        url,
        key_prefix: raw
            .key_prefix
            .as_ref()
            .map_or(defaults::STATE_KEY_PREFIX.to_owned(), |p| p.value.clone()),
        allow_on_error,
        timeout: c
            .at_least_one(&raw.timeout_ms, "state.timeout_ms")
            .map_or(defaults::STATE_TIMEOUT, Duration::from_millis),
    }
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn urls_lose_their_password_when_shown() {
        assert_eq!(
            redacted("redis://user:hunter2@redis.internal:6379/0"),
            "redis://***@redis.internal:6379/0"
        );
        assert_eq!(redacted("rediss://:pw@h/1"), "rediss://***@h/1");
        assert_eq!(redacted("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    }
}
