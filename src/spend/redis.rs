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

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{pipe, RedisResult};
use tokio::runtime::Handle;

use crate::errors::{ErrorKind, GatewayError};
use crate::observe::metrics::metrics;

use super::judge::{judge, Seen};
use super::window::{Minutes, Now};
use super::{KeyLimits, KeySpend, Period, Spent};

/// Minute counters outlive their minute by one more: the sliding estimate
/// reads the previous one.
const MINUTE_TTL: i64 = 120;
/// A period's hash is kept a day past its reset, for `/spend` and late
/// charges of calls that started before it.
const PERIOD_GRACE: i64 = 86_400;
/// Charges are off the request path and may wait longer than admission.
const CHARGE_TIMEOUT: Duration = Duration::from_secs(1);
const TEND_EVERY: Duration = Duration::from_secs(1);

pub(crate) struct RedisConfig {
    pub(crate) url: String,
    pub(crate) prefix: String,
    pub(crate) timeout: Duration,
    pub(crate) allow_on_error: bool,
}

pub(crate) struct Redis {
    config: RedisConfig,
    /// Made on first use, on the store's own thread: by then the process has
    /// daemonized, and the connection's tasks live on a runtime that stays.
    link: OnceLock<Link>,
    up: AtomicBool,
    /// Charges Redis did not take yet.
    pending: Mutex<HashMap<Bucket, Spent>>,
}

struct Link {
    conn: ConnectionManager,
    runtime: Handle,
}

/// Where a charge goes: one key's hash for one budget window.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct Bucket {
    key: String,
    hash: String,
    expire_at: Option<i64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn state_runtime() -> Handle {
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

impl Redis {
    /// Checks the URL; connects lazily (a Redis that is down at start is
    /// like one that went away).
    pub(crate) fn new(config: RedisConfig) -> Result<Arc<Redis>, String> {
        redis::Client::open(config.url.as_str())
            .map_err(|e| format!("state.url is not usable: {:?}", e.kind()))?;
        Ok(Arc::new(Redis {
            config,
            link: OnceLock::new(),
            up: AtomicBool::new(true),
            pending: Mutex::default(),
        }))
    }

    fn link(self: &Arc<Self>) -> &Link {
        self.link.get_or_init(|| {
            let runtime = state_runtime();
            let _entered = runtime.enter();
            let client = redis::Client::open(self.config.url.as_str()).expect("checked in new()");
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(self.config.timeout.max(Duration::from_millis(500))))
                .set_response_timeout(Some(CHARGE_TIMEOUT))
                .set_number_of_retries(2)
                .set_max_delay(Duration::from_secs(1));
            let conn = ConnectionManager::new_lazy_with_config(client, config)
                .expect("a lazy connection manager");
            runtime.spawn(Arc::clone(self).tend());
            Link { conn, runtime }
        })
    }

    fn key(&self, what: &str, key: &str, n: impl std::fmt::Display) -> String {
        format!("{}{what}:{key}:{n}", self.config.prefix)
    }

    fn bucket(&self, key: &str, period: Period, now: Now) -> Bucket {
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

    fn failed(&self, operation: &str, why: &str) {
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
        let link = self.link();
        let m = now.minute();
        let req = self.key("req", key, m);
        if !limits.any() {
            let mut conn = link.conn.clone();
            let this = Arc::clone(self);
            link.runtime.spawn(async move {
                let r: RedisResult<()> = pipe()
                    .atomic()
                    .incr(&req, 1)
                    .ignore()
                    .expire(&req, MINUTE_TTL)
                    .ignore()
                    .query_async(&mut conn)
                    .await;
                if let Err(e) = r {
                    this.failed("count", &e.to_string());
                }
            });
            return Ok(());
        }
        let bucket = self.bucket(key, limits.period(), now);
        let mut p = pipe();
        p.atomic()
            .incr(&req, 1)
            .expire(&req, MINUTE_TTL)
            .ignore()
            .get(self.key("req", key, m - 1))
            .get(self.key("tok", key, m))
            .get(self.key("tok", key, m - 1))
            .hmget(&bucket.hash, &["nano_usd", "tokens"]);
        type Row = (
            u64,
            Option<u64>,
            Option<u64>,
            Option<u64>,
            (Option<u64>, Option<u64>),
        );
        let mut conn = link.conn.clone();
        let row: Row =
            match tokio::time::timeout(self.config.timeout, p.query_async(&mut conn)).await {
                Ok(Ok(row)) => {
                    self.answered();
                    row
                }
                Ok(Err(e)) => return self.unreachable("admit", &e.to_string()),
                Err(_) => return self.unreachable("admit", "timed out"),
            };
        let mut spent = Spent {
            nano_usd: row.4 .0.unwrap_or(0),
            tokens: row.4 .1.unwrap_or(0),
        };
        if let Some(p) = lock(&self.pending).get(&bucket) {
            spent.add(p.tokens, p.nano_usd);
        }
        let seen = Seen {
            requests: Minutes {
                minute: m,
                curr: row.0,
                prev: row.1.unwrap_or(0),
            },
            tokens: Minutes {
                minute: m,
                curr: row.2.unwrap_or(0),
                prev: row.3.unwrap_or(0),
            },
            spent,
        };
        let verdict = judge(key, limits, &seen, now);
        if verdict.is_err() {
            // A refused request does not count against the per-minute limit.
            let mut conn = link.conn.clone();
            link.runtime.spawn(async move {
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
        let link = self.link();
        let bucket = self.bucket(key, limits.period(), now);
        let tok = self.key("tok", key, now.minute());
        let this = Arc::clone(self);
        link.runtime.spawn(async move {
            if let Err(why) = this
                .apply(&bucket, Some(&tok), Spent { nano_usd, tokens })
                .await
            {
                this.failed("charge", &why);
                lock(&this.pending)
                    .entry(bucket)
                    .or_default()
                    .add(tokens, nano_usd);
            }
        });
    }

    async fn apply(&self, bucket: &Bucket, tok: Option<&str>, s: Spent) -> Result<(), String> {
        let mut p = pipe();
        p.atomic();
        if let Some(tok) = tok.filter(|_| s.tokens > 0) {
            p.incr(tok, s.tokens)
                .ignore()
                .expire(tok, MINUTE_TTL)
                .ignore();
        }
        p.hincr(&bucket.hash, "nano_usd", s.nano_usd)
            .ignore()
            .hincr(&bucket.hash, "tokens", s.tokens)
            .ignore();
        if let Some(at) = bucket.expire_at {
            p.expire_at(&bucket.hash, at).ignore();
        }
        let mut conn = self.link.get().ok_or("not connected")?.conn.clone();
        match tokio::time::timeout(CHARGE_TIMEOUT, p.query_async::<()>(&mut conn)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("timed out".into()),
        }
    }

    /// Every second: is Redis there, and if so, hand it what it missed.
    async fn tend(self: Arc<Self>) {
        loop {
            tokio::time::sleep(TEND_EVERY).await;
            let Some(link) = self.link.get() else {
                continue;
            };
            let mut conn = link.conn.clone();
            let ping = tokio::time::timeout(
                CHARGE_TIMEOUT,
                redis::cmd("PING").query_async::<()>(&mut conn),
            )
            .await;
            match ping {
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
                if let Err(why) = self.apply(&bucket, None, spent).await {
                    self.failed("charge", &why);
                    lock(&self.pending)
                        .entry(bucket)
                        .or_default()
                        .add(spent.tokens, spent.nano_usd);
                }
            }
        }
    }

    /// Every key's figures for `/spend`, in one round trip.
    pub(crate) async fn report(
        self: &Arc<Self>,
        keys: &[(&str, &KeyLimits)],
        now: Now,
    ) -> Result<Vec<KeySpend>, GatewayError> {
        let link = self.link();
        let m = now.minute();
        let mut p = pipe();
        let mut buckets = Vec::new();
        for (key, limits) in keys {
            let bucket = self.bucket(key, limits.period(), now);
            p.get(self.key("req", key, m))
                .get(self.key("req", key, m - 1))
                .get(self.key("tok", key, m))
                .get(self.key("tok", key, m - 1))
                .hmget(&bucket.hash, &["nano_usd", "tokens"]);
            buckets.push((bucket, limits.period()));
        }
        type Row = (
            Option<u64>,
            Option<u64>,
            Option<u64>,
            Option<u64>,
            (Option<u64>, Option<u64>),
        );
        let mut conn = link.conn.clone();
        let rows: Vec<Row> =
            match tokio::time::timeout(CHARGE_TIMEOUT, p.query_async(&mut conn)).await {
                Ok(Ok(rows)) => rows,
                Ok(Err(e)) => return Err(self.report_failed(&e.to_string())),
                Err(_) => return Err(self.report_failed("timed out")),
            };
        let pending = lock(&self.pending);
        Ok(rows
            .into_iter()
            .zip(buckets)
            .map(|(r, (bucket, period))| {
                let mut spent = Spent {
                    nano_usd: r.4 .0.unwrap_or(0),
                    tokens: r.4 .1.unwrap_or(0),
                };
                if let Some(p) = pending.get(&bucket) {
                    spent.add(p.tokens, p.nano_usd);
                }
                let minutes = |curr: Option<u64>, prev: Option<u64>| Minutes {
                    minute: m,
                    curr: curr.unwrap_or(0),
                    prev: prev.unwrap_or(0),
                };
                KeySpend {
                    window: period.window(now.utc()),
                    spent,
                    requests_last_minute: minutes(r.0, r.1).estimate(now),
                    tokens_last_minute: minutes(r.2, r.3).estimate(now),
                }
            })
            .collect())
    }

    fn report_failed(&self, why: &str) -> GatewayError {
        self.failed("report", why);
        GatewayError::new(
            ErrorKind::StateUnavailable,
            "the spend store (Redis) cannot be reached",
        )
    }
}
