//! The end of a request: what the call cost, and what the access log line
//! and the metrics say. Runs in Pingora's `logging` hook, after the client
//! has been answered.

use std::time::Instant;

use pingora::proxy::Session;
use serde::Serialize;

use crate::ctx::RequestCtx;
use crate::observe::metrics::{metrics, status_class, NO_VIRTUAL_KEY};
use crate::observe::tap::UsageState;
use crate::observe::usage::Tokens;
use crate::observe::{ms, now_rfc3339, AccessLog};
use crate::pricing::{cost_usd, PriceTable};
use crate::providers::ProviderKind;
use crate::spans;
use crate::spend::{nano_usd, Store};
use crate::ws::Summary;

#[derive(Serialize)]
struct Record<'a> {
    time: String,
    request_id: &'a str,
    virtual_key: Option<&'a str>,
    route: Option<&'static str>,
    provider: Option<&'static str>,
    key: Option<&'a str>,
    method: &'a str,
    /// Without the query: a client may have put a credential there.
    path: &'a str,
    model: Option<&'a str>,
    status: u16,
    upstream_status: Option<u16>,
    upstream_request_id: Option<&'a str>,
    streamed: bool,
    bytes_in: u64,
    bytes_out: u64,
    latency_ms: f64,
    ttfb_ms: Option<f64>,
    upstream_connect_ms: Option<f64>,
    upstream_reused: Option<bool>,
    usage: Option<UsageState>,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cached_tokens: Option<u64>,
    cache_creation_tokens: Option<u64>,
    reasoning_tokens: Option<u64>,
    /// `null` when the usage was not read or the model has no price.
    cost_usd: Option<f64>,
    error: Option<&'static str>,
    /// With `telemetry:` on: the request's trace, kept or not.
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_id: Option<String>,
    /// A WebSocket handshake: how its session went.
    #[serde(flatten)]
    ws: Option<Summary>,
}

/// What one call used and cost, once its usage is read: the one place the
/// log line and the metrics take it from (and what a budget would charge).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Charge {
    pub(crate) tokens: Tokens,
    /// USD; `None` when the model has no price.
    pub(crate) cost_usd: Option<f64>,
}

impl Charge {
    pub(crate) fn new(
        prices: &PriceTable,
        kind: ProviderKind,
        model: Option<&str>,
        tokens: Tokens,
    ) -> Charge {
        let price = model.and_then(|m| prices.price(kind, m));
        Charge {
            tokens,
            cost_usd: price.map(|p| cost_usd(&p, &tokens)),
        }
    }
}

/// Writes the access log line and updates the metrics for one request.
pub(crate) fn account(session: &Session, ctx: &mut RequestCtx, log: &AccessLog, spend: &Store) {
    // Not in flight any more: the gauge is right by the time the line is out.
    drop(ctx.inflight.take());
    let now = Instant::now();
    // Pingora does not pass every end of a body through the body filter
    // (a response that is headers only; some HTTP/2 endings): a call that
    // finished without error ended here at the latest.
    if ctx.error.is_none() && ctx.attempt.status.is_some() {
        if let Some(tap) = ctx.response.tap.as_mut().filter(|t| !t.ended()) {
            tap.end();
        }
        ctx.response.upstream_end.get_or_insert(now);
    }
    let latency = now.duration_since(ctx.start);
    let mut outcome = ctx
        .response
        .tap
        .as_mut()
        .map(|t| t.finish())
        .unwrap_or_default();
    // A WebSocket session's usage is the sum over its responses.
    if let Some(ws) = ctx.ws.as_mut().filter(|ws| ws.upgraded()) {
        outcome.tokens = ws.tokens();
        outcome.state = Some(match ws.tokens() {
            Some(_) => UsageState::Reported,
            None => UsageState::Absent,
        });
        outcome.model = ws.model.take();
    }
    // The trace keeps both models apart; without one, nothing is cloned.
    let traced = ctx.trace.as_ref().is_some_and(|t| t.sampled);
    let requested = if traced { ctx.requested_model() } else { None };
    let response_model = if traced { outcome.model.clone() } else { None };
    // As the provider reports it, else as the client asked for it.
    let model = outcome
        .model
        .or_else(|| requested.clone())
        .or_else(|| ctx.requested_model());
    let status = session.response_written().map_or(0, |r| r.status.as_u16());
    let kind = ctx.provider.as_ref().map(|p| p.kind);
    let provider = kind.map(ProviderKind::name);
    let error = ctx.error.as_ref().map(|e| e.kind);
    let tokens = outcome.tokens;
    // Usage is read only from a provider's answer, which admission (and
    // so the snapshot) came before.
    let charge = match (tokens, kind, ctx.snapshot.as_deref()) {
        (Some(t), Some(kind), Some(snapshot)) => {
            Some(Charge::new(&snapshot.prices, kind, model.as_deref(), t))
        }
        _ => None,
    };
    // A call with usage is charged to its virtual key (a cut stream with
    // what it reported so far); the money only when the model has a price.
    if let (Some(c), Some(name), Some(snapshot)) = (
        &charge,
        ctx.client.virtual_key.as_deref(),
        ctx.snapshot.as_deref(),
    ) {
        if let Some(policy) = snapshot.virtual_keys.policy(name) {
            let tokens = c.tokens.input.saturating_add(c.tokens.output);
            spend.charge(
                name,
                &policy.limits,
                tokens,
                nano_usd(c.cost_usd.unwrap_or(0.0)),
            );
        }
    }

    let m = metrics();
    let provider_label = provider.unwrap_or("none");
    m.requests
        .with_label_values(&[
            ctx.client.route.map_or("none", |r| r.name()),
            provider_label,
            status_class(status),
        ])
        .inc();
    if let Some(p) = provider {
        m.duration
            .with_label_values(&[p])
            .observe(latency.as_secs_f64());
        if let Some(t) = ctx.attempt.first_byte {
            m.ttfb.with_label_values(&[p]).observe(t.as_secs_f64());
        }
        if let (Some(start), Some(end)) = (ctx.attempt.started, ctx.response.upstream_end) {
            let waiting = end.saturating_duration_since(start);
            m.overhead
                .with_label_values(&[p])
                .observe(latency.saturating_sub(waiting).as_secs_f64());
        }
        if let Some(c) = &charge {
            let virtual_key = ctx.client.virtual_key.as_deref().unwrap_or(NO_VIRTUAL_KEY);
            m.add_usage(p, model.as_deref(), virtual_key, &c.tokens, c.cost_usd);
        }
        if outcome.state == Some(UsageState::Unknown) {
            m.usage_unread.with_label_values(&[p]).inc();
        }
        let upstream_error = match (error, ctx.attempt.status) {
            (Some(kind), _) if kind.is_provider_side() => Some(kind.name()),
            (_, Some(429)) => Some("http_429"),
            (_, Some(500..=599)) => Some("http_5xx"),
            _ => None,
        };
        if let Some(kind) = upstream_error {
            m.upstream_errors.with_label_values(&[p, kind]).inc();
        }
    }

    let trace_id = ctx
        .trace
        .as_ref()
        .filter(|_| log.enabled())
        .map(|t| t.trace_id_hex());
    if traced {
        let out = spans::Outcome {
            status,
            requested_model: requested.as_deref(),
            response_model: response_model.as_deref(),
            tokens,
        };
        spans::export(session, ctx, now, &out);
    }
    if !log.enabled() {
        return;
    }
    let req = session.req_header();
    let record = Record {
        time: now_rfc3339(),
        request_id: &ctx.request_id,
        virtual_key: ctx.client.virtual_key.as_deref(),
        route: ctx.client.route.map(|r| r.name()),
        provider,
        key: ctx.key().map(|k| k.name.as_str()),
        method: req.method.as_str(),
        path: req.uri.path(),
        model: model.as_deref(),
        status,
        upstream_status: ctx.attempt.status,
        upstream_request_id: ctx.response.upstream_request_id.as_deref(),
        streamed: ctx.response.streamed,
        bytes_in: ctx.body.read_early.max(session.body_bytes_read() as u64),
        bytes_out: ctx.response.bytes_out,
        latency_ms: ms(latency),
        ttfb_ms: ctx.attempt.first_byte.map(ms),
        upstream_connect_ms: ctx.attempt.connect.map(ms),
        upstream_reused: ctx.attempt.reused,
        usage: outcome.state,
        input_tokens: tokens.map(|t| t.input),
        output_tokens: tokens.map(|t| t.output),
        cached_tokens: tokens.map(|t| t.cached),
        cache_creation_tokens: tokens.map(|t| t.cache_creation),
        reasoning_tokens: tokens.map(|t| t.reasoning),
        cost_usd: charge.and_then(|c| c.cost_usd),
        error: error.map(|k| k.name()),
        trace_id,
        ws: ctx.ws.as_ref().map(|ws| ws.summary()),
    };
    if let Ok(line) = serde_json::to_string(&record) {
        log.write(line);
    }
}
