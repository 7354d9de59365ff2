//! OAuth access tokens for providers whose credential is minted, not static:
//! Google service accounts (Vertex) and Entra ID service principals (Azure).
//! Tokens are minted and refreshed on a background thread before they
//! expire; a request only reads the current one (it waits only for the very
//! first token of a source, and never mints one itself).

pub(crate) mod entra;
mod google;
mod http_post;

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use http::HeaderValue;
use tokio::sync::Notify;

pub(crate) use entra::EntraClient;
pub(crate) use google::ServiceAccount;

/// Why a request cannot have a token: the last mint failed, or the first
/// one is not done in time. The message names the key, never a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TokenError(pub(crate) String);

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Longest a request waits for a source's first token.
const FIRST_TOKEN_WAIT: Duration = Duration::from_secs(15);
/// Refresh this long before expiry (or at three quarters of a short lifetime).
const REFRESH_MARGIN: Duration = Duration::from_secs(300);
const RETRY_FIRST: Duration = Duration::from_secs(2);
const RETRY_MAX: Duration = Duration::from_secs(60);

pub(crate) enum Minter {
    Google(ServiceAccount),
    Entra(EntraClient),
}

impl Minter {
    /// Same identity, secret and endpoint: a token of one serves the other.
    fn same_as(&self, other: &Minter) -> bool {
        match (self, other) {
            (Minter::Google(a), Minter::Google(b)) => a.same_as(b),
            (Minter::Entra(a), Minter::Entra(b)) => a == b,
            _ => false,
        }
    }
}

/// A minted token as the endpoint returned it.
pub(crate) struct Minted {
    pub(crate) access_token: String,
    pub(crate) expires_in: Duration,
}

enum State {
    Pending,
    Ready {
        bearer: HeaderValue,
        expires_at: Instant,
        refresh_at: Instant,
    },
    Failed {
        message: String,
        retry_at: Instant,
        backoff: Duration,
    },
}

pub(crate) struct TokenSource {
    /// Names the key in logs and errors, e.g. "azure key `eastus`".
    pub(crate) label: String,
    minter: Minter,
    state: ArcSwap<State>,
    changed: Notify,
}

impl TokenSource {
    pub(crate) fn new(label: String, minter: Minter) -> Self {
        TokenSource {
            label,
            minter,
            state: ArcSwap::from_pointee(State::Pending),
            changed: Notify::new(),
        }
    }

    /// The `Bearer …` header value to send, waiting only for a first token.
    pub(crate) async fn bearer(&self) -> Result<HeaderValue, TokenError> {
        let deadline = tokio::time::Instant::now() + FIRST_TOKEN_WAIT;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match &**self.state.load() {
                State::Ready {
                    bearer, expires_at, ..
                } if *expires_at > Instant::now() => return Ok(bearer.clone()),
                State::Failed { message, .. } => return Err(TokenError(message.clone())),
                _ => {}
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(TokenError(format!(
                    "no access token yet for {}",
                    self.label
                )));
            }
        }
    }

    /// Takes over the token of the same credential in the previous config,
    /// so a reload neither mints again nor makes requests wait.
    pub(crate) fn adopt(&self, previous: &TokenSource) {
        if self.minter.same_as(&previous.minter) {
            self.state.store(previous.state.load_full());
        }
    }

    /// Whether a first mint is still to come.
    pub(crate) fn pending(&self) -> bool {
        matches!(**self.state.load(), State::Pending)
    }

    fn due(&self, now: Instant) -> bool {
        match &**self.state.load() {
            State::Pending => true,
            State::Ready { refresh_at, .. } => *refresh_at <= now,
            State::Failed { retry_at, .. } => *retry_at <= now,
        }
    }

    /// Mints a token now and records the outcome. A failed refresh keeps a
    /// token that is still valid.
    pub(crate) async fn refresh(&self) {
        let result = match &self.minter {
            Minter::Google(sa) => sa.mint().await,
            Minter::Entra(c) => c.mint().await,
        };
        let next = next_state(&self.state.load(), result, &self.label, Instant::now());
        self.state.store(Arc::new(next));
        self.changed.notify_waiters();
    }
}

/// The state after a mint: a new token is refreshed well before it
/// expires; a failure is retried with a doubling back-off, and a token
/// still valid for longer than that back-off stays in use meanwhile.
fn next_state(
    previous: &State,
    result: Result<Minted, String>,
    label: &str,
    now: Instant,
) -> State {
    let why = match result {
        Ok(m) => match HeaderValue::from_str(&format!("Bearer {}", m.access_token)) {
            Ok(mut bearer) => {
                bearer.set_sensitive(true);
                let margin = REFRESH_MARGIN.min(m.expires_in / 4);
                log::info!(
                    "access token for {label} minted, valid {}s",
                    m.expires_in.as_secs()
                );
                return State::Ready {
                    bearer,
                    expires_at: now + m.expires_in,
                    refresh_at: now + m.expires_in - margin,
                };
            }
            Err(_) => "the token endpoint returned an unusable token".to_string(),
        },
        Err(why) => why,
    };
    let message = format!("cannot get an access token for {label}: {why}");
    let backoff = match previous {
        State::Failed { backoff, .. } => (*backoff * 2).min(RETRY_MAX),
        _ => RETRY_FIRST,
    };
    match previous {
        State::Ready {
            bearer, expires_at, ..
        } if *expires_at > now + backoff => {
            log::warn!("{message}; the current token stays in use");
            State::Ready {
                bearer: bearer.clone(),
                expires_at: *expires_at,
                refresh_at: now + backoff,
            }
        }
        _ => {
            log::error!("{message}");
            State::Failed {
                message,
                retry_at: now + backoff,
                backoff,
            }
        }
    }
}

/// Runs the refresher on its own thread and runtime: minting never competes
/// with request handling, and a slow token endpoint delays nothing else.
pub(crate) fn spawn_refresher(sources: impl Fn() -> Vec<Arc<TokenSource>> + Send + 'static) {
    let spawned = std::thread::Builder::new()
        .name("strait-tokens".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => return log::error!("cannot start the token refresher: {e}"),
            };
            rt.block_on(async move {
                loop {
                    let now = Instant::now();
                    let due: Vec<_> = sources().into_iter().filter(|s| s.due(now)).collect();
                    // Concurrently, so one slow endpoint does not hold up the others.
                    futures::future::join_all(due.iter().map(|s| s.refresh())).await;
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            });
        });
    if let Err(e) = spawned {
        log::error!("cannot start the token refresher thread: {e}");
    }
}

#[cfg(test)]
mod tests;
