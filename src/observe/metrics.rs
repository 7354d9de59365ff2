//! Prometheus metrics, served on the admin listener at `/metrics`.
//!
//! Names follow the OpenTelemetry GenAI conventions where they apply (token
//! `kind` is `input`/`output` like `gen_ai.token.type`, plus the cache and
//! reasoning breakdowns). Labels are bounded: route and provider are fixed
//! sets, status is a class, virtual keys are the configured names, and
//! models past a configurable number share the label `other`.

use std::collections::HashSet;
use std::sync::{LazyLock, RwLock};

use prometheus::core::Collector;
use prometheus::{
    CounterVec, Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

use super::usage::Tokens;
use super::usage_series::{Families, SeriesCache};

/// The `virtual_key` label of calls made without one (open mode), where the
/// access log writes `null`: like `route` and `provider`, `none`.
pub(crate) const NO_VIRTUAL_KEY: &str = "none";

/// Whole requests, from a first byte to a last one: up to long streams.
const DURATION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];
/// strait's own share of a request: microseconds to a few milliseconds.
const OVERHEAD_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

pub(crate) struct Metrics {
    registry: Registry,
    pub(crate) requests: IntCounterVec,
    pub(crate) duration: HistogramVec,
    pub(crate) ttfb: HistogramVec,
    pub(crate) overhead: HistogramVec,
    tokens: IntCounterVec,
    cost: CounterVec,
    unpriced: IntCounterVec,
    pub(crate) upstream_errors: IntCounterVec,
    pub(crate) usage_unread: IntCounterVec,
    pub(crate) failovers: IntCounterVec,
    pub(crate) cooldowns: IntCounterVec,
    pub(crate) inflight: IntGauge,
    pub(crate) websocket_sessions: IntGauge,
    pub(crate) reloads: IntCounterVec,
    pub(crate) access_log_dropped: IntCounter,
    pub(crate) trace_spans_dropped: IntCounterVec,
    pub(crate) state_errors: IntCounterVec,
    models: RwLock<ModelLabels>,
    usage: SeriesCache,
}

struct ModelLabels {
    limit: usize,
    known: HashSet<String>,
}

pub(crate) static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

pub(crate) fn metrics() -> &'static Metrics {
    &METRICS
}

impl Metrics {
    fn new() -> Metrics {
        let registry = Registry::new();
        // Every metric is built from static, valid names and registered once.
        fn add<C: Collector + Clone + 'static>(registry: &Registry, c: prometheus::Result<C>) -> C {
            let c = c.expect("valid metric");
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric");
            c
        }
        let counter = |name: &str, help: &str, labels: &[&str]| {
            add(&registry, IntCounterVec::new(Opts::new(name, help), labels))
        };
        let histogram = |name: &str, help: &str, buckets: &[f64]| {
            let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
            add(&registry, HistogramVec::new(opts, &["provider"]))
        };
        let requests = counter(
            "strait_requests_total",
            "Requests answered, by route, provider and status class.",
            &["route", "provider", "status_class"],
        );
        let duration = histogram(
            "strait_request_duration_seconds",
            "Time from the request's arrival to the response's last byte.",
            DURATION_BUCKETS,
        );
        let ttfb = histogram(
            "strait_time_to_first_byte_seconds",
            "Time from the request's arrival to the provider's response header.",
            DURATION_BUCKETS,
        );
        let overhead = histogram(
            "strait_gateway_overhead_seconds",
            "Time spent in strait itself: total time minus time waiting on the provider.",
            OVERHEAD_BUCKETS,
        );
        let tokens = counter(
            "strait_tokens_total",
            "Tokens the providers reported, by kind: input (cached included), output \
             (reasoning included), cached, cache_creation, reasoning.",
            &["provider", "model", "kind", "virtual_key"],
        );
        let cost = add(
            &registry,
            CounterVec::new(
                Opts::new(
                    "strait_cost_usd_total",
                    "What the calls cost in USD, from their reported tokens and the price table.",
                ),
                &["provider", "model", "virtual_key"],
            ),
        );
        let unpriced = counter(
            "strait_cost_unpriced_total",
            "Calls whose usage was read but whose model has no price (cost_usd null).",
            &["provider", "model"],
        );
        let upstream_errors = counter(
            "strait_upstream_errors_total",
            "Failed provider calls: strait's error type, or http_429 / http_5xx from the provider.",
            &["provider", "kind"],
        );
        let usage_unread = counter(
            "strait_usage_unknown_total",
            "Responses whose usage could not be read (compressed, too large, cut off).",
            &["provider"],
        );
        let failovers = counter(
            "strait_failovers_total",
            "Requests retried on another key, by what failed: connect, timeout, or http_<status>.",
            &["provider", "reason"],
        );
        let cooldowns = counter(
            "strait_key_cooldowns_total",
            "Times a key answered 429 and was set aside for its retry-after.",
            &["provider", "key"],
        );
        let inflight = add(
            &registry,
            IntGauge::new(
                "strait_inflight_requests",
                "Requests being served right now.",
            ),
        );
        let websocket_sessions = add(
            &registry,
            IntGauge::new(
                "strait_websocket_sessions",
                "WebSocket sessions open right now (after the provider's 101).",
            ),
        );
        let reloads = counter(
            "strait_config_reloads_total",
            "Configuration reloads, by result.",
            &["result"],
        );
        for result in ["success", "error"] {
            reloads.with_label_values(&[result]);
        }
        let access_log_dropped = add(
            &registry,
            IntCounter::new(
                "strait_access_log_dropped_total",
                "Access log lines dropped because the writer fell behind.",
            ),
        );
        let trace_spans_dropped = counter(
            "strait_trace_spans_dropped_total",
            "Trace spans not exported: the export queue was full (queue_full) or the collector failed or timed out (export_failed).",
            &["reason"],
        );
        for reason in ["queue_full", "export_failed"] {
            trace_spans_dropped.with_label_values(&[reason]);
        }
        let state_errors = counter(
            "strait_state_errors_total",
            "Spend store (Redis) operations that failed: admit, count, charge, report, ping.",
            &["operation"],
        );
        let build = add(
            &registry,
            IntGauge::with_opts(
                Opts::new("strait_build_info", "Always 1; the version is a label.")
                    .const_label("version", env!("CARGO_PKG_VERSION")),
            ),
        );
        build.set(1);
        Metrics {
            registry,
            requests,
            duration,
            ttfb,
            overhead,
            tokens,
            cost,
            unpriced,
            upstream_errors,
            usage_unread,
            failovers,
            cooldowns,
            inflight,
            websocket_sessions,
            reloads,
            access_log_dropped,
            trace_spans_dropped,
            state_errors,
            models: RwLock::new(ModelLabels {
                // Uncapped until the config sets the cap, which happens
                // before anything is served.
                limit: usize::MAX,
                known: HashSet::new(),
            }),
            usage: SeriesCache::default(),
        }
    }

    pub(crate) fn set_model_label_limit(&self, limit: usize) {
        if let Ok(mut m) = self.models.write() {
            m.limit = limit;
        }
    }

    /// The label for `model`: itself while fewer than the limit are known.
    pub(crate) fn model_label<'a>(&self, model: &'a str) -> &'a str {
        if let Ok(m) = self.models.read() {
            if m.known.contains(model) {
                return model;
            }
        }
        let Ok(mut m) = self.models.write() else {
            return "other";
        };
        if m.known.contains(model) {
            return model;
        }
        if m.known.len() < m.limit {
            m.known.insert(model.to_string());
            return model;
        }
        "other"
    }

    /// Counts one call's tokens and what it cost (`None`: its model has no
    /// price), for its virtual key ([`NO_VIRTUAL_KEY`] in open mode).
    pub(crate) fn add_usage(
        &self,
        provider: &str,
        model: Option<&str>,
        virtual_key: &str,
        t: &Tokens,
        cost_usd: Option<f64>,
    ) {
        let families = Families {
            tokens: &self.tokens,
            cost: &self.cost,
            unpriced: &self.unpriced,
        };
        let model = model.unwrap_or("unknown");
        // A model with series of its own is a known label: the common case
        // takes one lookup.
        if self
            .usage
            .add_known((provider, model, virtual_key), &families, t, cost_usd)
        {
            return;
        }
        let label = self.model_label(model);
        self.usage
            .add((provider, label, virtual_key), &families, t, cost_usd);
    }

    /// The text exposition of every metric.
    pub(crate) fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metrics.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}

/// `2xx`, `4xx`, …; `none` when no response was written (the client left).
pub(crate) fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "none",
    }
}

/// Counts a request as in flight for as long as this lives.
pub(crate) struct Inflight(());

impl Inflight {
    pub(crate) fn start() -> Inflight {
        METRICS.inflight.inc();
        Inflight(())
    }
}

impl Drop for Inflight {
    fn drop(&mut self) {
        METRICS.inflight.dec();
    }
}

/// One open WebSocket session in `strait_websocket_sessions`, while held.
pub(crate) struct OpenSession(());

impl OpenSession {
    pub(crate) fn start() -> OpenSession {
        METRICS.websocket_sessions.inc();
        OpenSession(())
    }
}

impl Drop for OpenSession {
    fn drop(&mut self) {
        METRICS.websocket_sessions.dec();
    }
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
