//! How the Redis store talks to Redis: a connection per thread that asks
//! (each Pingora worker runs its own runtime, and a connection driven on the
//! same thread costs no hop to another one), a thread of its own for the
//! background work, and the two Lua scripts that make admission and a
//! charge one command each (an atomic step on the server, and far less to
//! encode and parse than a MULTI/EXEC of eight commands).

use std::cell::RefCell;
use std::sync::LazyLock;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisResult, Script};
use tokio::runtime::Handle;

/// Counts the request and reads what the verdict needs.
/// KEYS: requests this minute, requests last minute, tokens this minute,
/// tokens last minute, the budget window's hash. ARGV: the minute keys' TTL.
/// Returns the new request count, then the others as strings (numbers past
/// 2^53 nano-dollars would lose digits as Lua numbers), `false` when unset.
pub(crate) static ADMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local h = redis.call('HMGET', KEYS[5], 'nano_usd', 'tokens')
return {n, redis.call('GET', KEYS[2]), redis.call('GET', KEYS[3]),
        redis.call('GET', KEYS[4]), h[1], h[2]}",
    )
});

/// Adds a call's tokens and cost. KEYS: tokens this minute, the budget
/// window's hash. ARGV: tokens, nano-dollars, the minute key's TTL, when
/// the hash expires (0: never), whether to count the minute (1/0).
pub(crate) static CHARGE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if ARGV[5] == '1' and ARGV[1] ~= '0' then
  redis.call('INCRBY', KEYS[1], ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
end
redis.call('HINCRBY', KEYS[2], 'nano_usd', ARGV[2])
redis.call('HINCRBY', KEYS[2], 'tokens', ARGV[1])
if ARGV[4] ~= '0' then redis.call('EXPIREAT', KEYS[2], ARGV[4]) end
return 1",
    )
});

/// A lazily connecting, self-reconnecting connection, driven by the runtime
/// of the thread that makes it.
pub(crate) fn connect(
    url: &str,
    connect_timeout: Duration,
    response_timeout: Duration,
) -> ConnectionManager {
    let client = redis::Client::open(url).expect("the URL was checked when the store was made");
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(connect_timeout))
        .set_response_timeout(Some(response_timeout))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_secs(1));
    ConnectionManager::new_lazy_with_config(client, config).expect("a lazy connection manager")
}

/// Sends once more when the first try failed on a connection that broke
/// while idle (Redis restarted): such a connection fails its next command
/// and reconnects, and the retry rides the new connection. Callers bound
/// both tries with their own timeout.
pub(crate) async fn with_one_retry<T, Fut>(mut send: impl FnMut() -> Fut) -> RedisResult<T>
where
    Fut: std::future::Future<Output = RedisResult<T>>,
{
    match send().await {
        Err(e) if e.is_io_error() || e.is_connection_dropped() => send().await,
        r => r,
    }
}

thread_local! {
    static MINE: RefCell<Option<ConnectionManager>> = const { RefCell::new(None) };
}

/// This thread's connection, made on first use with `make` (called inside
/// the thread's runtime).
pub(crate) fn this_threads(make: impl FnOnce() -> ConnectionManager) -> ConnectionManager {
    MINE.with(|c| c.borrow_mut().get_or_insert_with(make).clone())
}

/// A thread with a runtime of its own for the store's background work
/// (pinging, handing over what was kept while Redis was away).
pub(crate) fn state_runtime() -> Handle {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("strait-state".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("the state thread's runtime");
            let _ = tx.send(rt.handle().clone());
            rt.block_on(std::future::pending::<()>());
        })
        .expect("the state thread");
    rx.recv().expect("the state thread's runtime handle")
}
