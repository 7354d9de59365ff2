//! The token source's state machine, without a token endpoint: each mint
//! outcome is fed to `next_state` and to a source's stored state.

use std::time::{Duration, Instant};

use super::*;

fn minted(token: &str, secs: u64) -> Result<Minted, String> {
    Ok(Minted {
        access_token: token.into(),
        expires_in: Duration::from_secs(secs),
    })
}

fn source() -> TokenSource {
    TokenSource::new(
        "azure key `eastus`".into(),
        Minter::Entra(EntraClient {
            authority_host: "http://127.0.0.1:1".into(),
            tenant_id: "t".into(),
            client_id: "c".into(),
            client_secret: "s".into(),
            scope: "x/.default".into(),
        }),
    )
}

fn set(source: &TokenSource, state: State) {
    source.state.store(Arc::new(state));
}

#[test]
fn a_mint_is_refreshed_before_it_expires() {
    let now = Instant::now();
    let State::Ready {
        bearer,
        expires_at,
        refresh_at,
    } = next_state(&State::Pending, minted("tok", 3600), "k", now)
    else {
        panic!("a mint makes the source ready");
    };
    assert_eq!(bearer, "Bearer tok");
    assert!(bearer.is_sensitive());
    assert_eq!(expires_at - now, Duration::from_secs(3600));
    // Five minutes early for a long token, a quarter early for a short one.
    assert_eq!(expires_at - refresh_at, REFRESH_MARGIN);
    let State::Ready {
        expires_at,
        refresh_at,
        ..
    } = next_state(&State::Pending, minted("tok", 400), "k", now)
    else {
        panic!();
    };
    assert_eq!(expires_at - refresh_at, Duration::from_secs(100));
}

#[test]
fn failures_back_off_and_keep_a_valid_token() {
    let now = Instant::now();
    let first = next_state(&State::Pending, Err("HTTP 401".into()), "k", now);
    let State::Failed {
        message, backoff, ..
    } = &first
    else {
        panic!("no token yet: failed");
    };
    assert_eq!(*backoff, RETRY_FIRST);
    assert!(
        message.contains("k") && message.contains("HTTP 401"),
        "{message}"
    );
    let mut state = first;
    for _ in 0..10 {
        state = next_state(&state, Err("again".into()), "k", now);
    }
    let State::Failed { backoff, .. } = state else {
        panic!()
    };
    assert_eq!(backoff, RETRY_MAX);

    // A token still valid past the back-off stays in use, retried soon.
    let ready = next_state(&State::Pending, minted("tok", 3600), "k", now);
    let State::Ready {
        bearer,
        expires_at,
        refresh_at,
    } = next_state(&ready, Err("HTTP 500".into()), "k", now)
    else {
        panic!("the valid token is kept");
    };
    assert_eq!(bearer, "Bearer tok");
    assert_eq!(expires_at - now, Duration::from_secs(3600));
    assert_eq!(refresh_at - now, RETRY_FIRST);
    // One about to expire is not.
    let expiring = next_state(&State::Pending, minted("tok", 1), "k", now);
    assert!(matches!(
        next_state(&expiring, Err("x".into()), "k", now),
        State::Failed { .. }
    ));
    // A token that cannot be a header value is a failure, not a panic.
    assert!(matches!(
        next_state(&State::Pending, minted("bad\ntoken", 60), "k", now),
        State::Failed { .. }
    ));
}

#[tokio::test]
async fn requests_read_the_current_state() {
    let s = source();
    assert!(s.pending() && s.due(Instant::now()));
    set(
        &s,
        next_state(&State::Pending, minted("tok", 3600), "k", Instant::now()),
    );
    assert_eq!(s.bearer().await.unwrap(), "Bearer tok");
    assert!(!s.due(Instant::now()));
    set(
        &s,
        next_state(
            &State::Pending,
            Err("HTTP 401".into()),
            "azure key `eastus`",
            Instant::now(),
        ),
    );
    let e = s.bearer().await.unwrap_err();
    assert!(
        e.0.contains("azure key `eastus`") && e.0.contains("HTTP 401"),
        "{e}"
    );
}

#[test]
fn a_reload_adopts_the_token_of_the_same_identity_only() {
    let old = source();
    set(
        &old,
        next_state(&State::Pending, minted("tok", 3600), "k", Instant::now()),
    );
    let same = source();
    same.adopt(&old);
    assert!(!same.pending());
    let other = TokenSource::new(
        "other".into(),
        Minter::Entra(EntraClient {
            authority_host: "http://127.0.0.1:1".into(),
            tenant_id: "t".into(),
            client_id: "another".into(),
            client_secret: "s".into(),
            scope: "x/.default".into(),
        }),
    );
    other.adopt(&old);
    assert!(other.pending());
}
