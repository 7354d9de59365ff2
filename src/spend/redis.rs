//! The shared store: every counter in Redis under `key_prefix`, so that N
//! strait processes enforce one budget. Admission is one round trip (a
//! MULTI/EXEC pipeline: count the request, read the rest), bounded by the
//! configured timeout. Charges and the bookkeeping run on a thread of their
//! own, off the request path; a charge Redis does not take is kept here and
//! added once it answers again, so nothing is lost while it is away.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::RedisResult;

use crate::errors::{ErrorKind, GatewayError};
use crate::observe::metrics::metrics;

use super::judge::{judge, Seen};
use super::redis_link::{connect, state_runtime, this_threads, with_one_retry, ADMIT, CHARGE};
use super::window::{Minutes, Now};
use super::{KeyLimits, Period, Spent};

/// Minute counters outlive their minute by one more: the sliding estimate
/// reads the previous one.
const MINUTE_TTL: i64 = 120;
/// A period's hash is kept a day past its reset, for `/spend` and late
/// charges of calls that started before it.
const PERIOD_GRACE: i64 = 86_400;
/// Charges are off the request path and may wait longer than admission.
pub(super) const CHARGE_TIMEOUT: Duration = Duration::from_secs(1);
const TEND_EVERY: Duration = Duration::from_secs(1);

pub(crate) struct RedisConfig {
    pub(crate) url: String,
    pub(crate) prefix: String,
    pub(crate) timeout: Duration,
    pub(crate) allow_on_error: bool,
}

pub(crate) struct Redis {
    config: RedisConfig,
    /// The background thread, started on first use: by then the process has
    /// daemonized (a thread started before the fork would not exist).
    tending: OnceLock<()>,
    up: AtomicBool,
    /// Charges Redis did not take yet.
    pub(super) pending: Mutex<HashMap<Bucket, Spent>>,
}

/// Where a charge goes: one key's hash for one budget window.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub(super) struct Bucket {
    key: String,
    pub(super) hash: String,
    expire_at: Option<i64>,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn number(v: Option<String>) -> u64 {
    v.and_then(|s| s.parse().ok()).unwrap_or(0)
}

impl Redis {
    /// Checks the URL; connects lazily (a Redis that is down at start is
    /// like one that went away).
    pub(crate) fn new(config: RedisConfig) -> Result<Arc<Redis>, String> {
        redis::Client::open(config.url.as_str())
            .map_err(|e| format!("state.url is not usable: {:?}", e.kind()))?;
        Ok(Arc::new(Redis {
            config,
            tending: OnceLock::new(),
            up: AtomicBool::new(true),
            pending: Mutex::default(),
        }))
    }

    /// This thread's connection (inside a runtime); starts the background
    /// thread the first time.
    pub(super) fn conn(self: &Arc<Self>) -> ConnectionManager {
        self.tending.get_or_init(|| {
            let this = Arc::clone(self);
            state_runtime().spawn(this.tend());
        });
        let connect_timeout = self.config.timeout.max(Duration::from_millis(500));
        this_threads(|| connect(&self.config.url, connect_timeout, CHARGE_TIMEOUT))
    }

    pub(super) fn key(&self, what: &str, key: &str, n: impl std::fmt::Display) -> String {
        format!("{}{what}:{key}:{n}", self.config.prefix)
    }

    pub(super) fn bucket(&self, key: &str, period: Period, now: Now) -> Bucket {
        let w = period.window(now.utc());
        Bucket {
            key: key.to_owned(),
            hash: self.key("spend", key, format_args!("{}:{}", period.name(), w.start)),
            expire_at: w.reset.map(|r| r + PERIOD_GRACE),
        }
    }

    pub(crate) fn admits_when_down(&self) -> bool {
        self.config.allow_on_error
    }

    pub(crate) fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    pub(super) fn failed(&self, operation: &str, why: &str) {
        metrics().state_errors.with_label_values(&[operation]).inc();
        if self.up.swap(false, Ordering::Relaxed) {
            log::warn!("spend store: Redis did not answer ({operation}: {why})");
        }
    }

    fn answered(&self) {
        if !self.up.swap(true, Ordering::Relaxed) {
            log::info!("spend store: Redis answers again");
        }
    }

    /// Counts the request and judges it in one round trip. A key without
    /// limits is only counted, in the background.
    pub(crate) async fn admit(
        self: &Arc<Self>,
        key: &str,
        limits: &KeyLimits,
        now: Now,
    ) -> Result<(), GatewayError> {
        let mut conn = self.conn();
        let m = now.minute();
        let bucket = self.bucket(key, limits.period(), now);
        let keys = [
            self.key("req", key, m),
            self.key("req", key, m - 1),
            self.key("tok", key, m),
            self.key("tok", key, m - 1),
            bucket.hash.clone(),
        ];
        if !limits.any() {
            let this = Arc::clone(self);
            tokio::spawn(async move {
                let r: RedisResult<redis::Value> = ADMIT
                    .key(&keys[..])
                    .arg(MINUTE_TTL)
                    .invoke_async(&mut conn)
                    .await;
                if let Err(e) = r {
                    this.failed("count", &e.to_string());
                }
            });
            return Ok(());
        }
        type Row = (
            u64,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let mut call = ADMIT.key(&keys[..]);
        call.arg(MINUTE_TTL);
        let once = with_one_retry(|| {
            let (call, mut conn) = (&call, conn.clone());
            async move { call.invoke_async(&mut conn).await }
        });
        let row: Row = match tokio::time::timeout(self.config.timeout, once).await {
            Ok(Ok(row)) => {
                self.answered();
                row
            }
            Ok(Err(e)) => return self.unreachable("admit", &e.to_string()),
            Err(_) => return self.unreachable("admit", "timed out"),
        };
        let (requests, req_prev, tok, tok_prev, nano_usd, tokens) = row;
        let mut spent = Spent {
            nano_usd: number(nano_usd),
            tokens: number(tokens),
        };
        if let Some(p) = lock(&self.pending).get(&bucket) {
            spent.add(p.tokens, p.nano_usd);
        }
        let seen = Seen {
            requests: Minutes {
                minute: m,
                curr: requests,
                prev: number(req_prev),
            },
            tokens: Minutes {
                minute: m,
                curr: number(tok),
                prev: number(tok_prev),
            },
            spent,
        };
        let verdict = judge(key, limits, &seen, now);
        if verdict.is_err() {
            // A refused request does not count against the per-minute limit.
            let [req, ..] = keys;
            tokio::spawn(async move {
                let _: RedisResult<()> = redis::cmd("DECR").arg(&req).query_async(&mut conn).await;
            });
        }
        verdict
    }

    fn unreachable(&self, operation: &str, why: &str) -> Result<(), GatewayError> {
        self.failed(operation, why);
        if self.config.allow_on_error {
            return Ok(());
        }
        Err(GatewayError::new(
            ErrorKind::StateUnavailable,
            "the spend store (Redis) cannot be reached; requests with limits are refused until it answers",
        ))
    }

    /// Adds a finished call's tokens and cost, in the background.
    pub(crate) fn charge(
        self: &Arc<Self>,
        key: &str,
        limits: &KeyLimits,
        tokens: u64,
        nano_usd: u64,
        now: Now,
    ) {
        let conn = self.conn();
        let bucket = self.bucket(key, limits.period(), now);
        let tok = self.key("tok", key, now.minute());
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let spent = Spent { nano_usd, tokens };
            if let Err(why) = apply(conn, &bucket, Some(&tok), spent).await {
                this.failed("charge", &why);
                lock(&this.pending)
                    .entry(bucket)
                    .or_default()
                    .add(tokens, nano_usd);
            }
        });
    }

    /// Every second: is Redis there, and if so, hand it what it missed.
    async fn tend(self: Arc<Self>) {
        let conn =
            this_threads(|| connect(&self.config.url, Duration::from_secs(1), CHARGE_TIMEOUT));
        loop {
            tokio::time::sleep(TEND_EVERY).await;
            let mut c = conn.clone();
            let ping = redis::cmd("PING");
            match tokio::time::timeout(CHARGE_TIMEOUT, ping.query_async::<()>(&mut c)).await {
                Ok(Ok(())) => self.answered(),
                Ok(Err(e)) => {
                    self.failed("ping", &e.to_string());
                    continue;
                }
                Err(_) => {
                    self.failed("ping", "timed out");
                    continue;
                }
            }
            let owed: Vec<(Bucket, Spent)> = lock(&self.pending).drain().collect();
            for (bucket, spent) in owed {
                if let Err(why) = apply(conn.clone(), &bucket, None, spent).await {
                    self.failed("charge", &why);
                    lock(&self.pending)
                        .entry(bucket)
                        .or_default()
                        .add(spent.tokens, spent.nano_usd);
                }
            }
        }
    }
}

/// One charge, in one command.
async fn apply(
    conn: ConnectionManager,
    bucket: &Bucket,
    tok: Option<&str>,
    s: Spent,
) -> Result<(), String> {
    let mut call = CHARGE.key(tok.unwrap_or(&bucket.hash));
    call.key(&bucket.hash)
        .arg(s.tokens)
        .arg(s.nano_usd)
        .arg(MINUTE_TTL)
        .arg(bucket.expire_at.unwrap_or(0))
        .arg(u8::from(tok.is_some()));
    let once = with_one_retry(|| {
        let (call, mut conn) = (&call, conn.clone());
        async move { call.invoke_async::<()>(&mut conn).await }
    });
    match tokio::time::timeout(CHARGE_TIMEOUT, once).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".into()),
    }
}
