//! `/spend` from Redis: every key's counters in one pipelined round trip,
//! plus what this process still holds for a Redis that was away.

use std::sync::Arc;

use redis::pipe;

use crate::errors::{ErrorKind, GatewayError};

use super::redis::{lock, Redis, CHARGE_TIMEOUT};
use super::redis_link::with_one_retry;
use super::window::{Minutes, Now};
use super::{KeyLimits, KeySpend, Spent};

impl Redis {
    /// Every key's figures for `/spend`, in one round trip.
    pub(crate) async fn report(
        self: &Arc<Self>,
        keys: &[(&str, &KeyLimits)],
        now: Now,
    ) -> Result<Vec<KeySpend>, GatewayError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let conn = self.conn();
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
        let once = with_one_retry(|| {
            let (p, mut conn) = (&p, conn.clone());
            async move { p.query_async(&mut conn).await }
        });
        let rows: Vec<Row> = match tokio::time::timeout(CHARGE_TIMEOUT, once).await {
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
