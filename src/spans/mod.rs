//! The request's trace spans, built once at its end from what the request
//! context recorded on the way (ids, times, attempts), with the GenAI
//! semantic conventions, and handed to the exporter without waiting.
//! Nothing here runs for a request without `telemetry:`, nor for one its
//! trace does not keep.
//!
//! Attributes never hold a credential, a body or a query string: paths go
//! without their query, the key is named by its config name.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use pingora::proxy::Session;

use crate::ctx::RequestCtx;
use crate::observe::ms;
use crate::observe::trace::{FailedAttempt, RequestTrace};
use crate::observe::usage::Tokens;
use genai::{operation, provider_name};

mod genai;

/// What `account` worked out about the finished request.
pub(crate) struct Outcome<'a> {
    pub(crate) status: u16,
    pub(crate) requested_model: Option<&'a str>,
    pub(crate) response_model: Option<&'a str>,
    pub(crate) tokens: Option<Tokens>,
}

/// Before a failover binds the next key: the failed attempt, kept for its
/// client span (`None` when the request is not traced).
pub(crate) fn failed_attempt(ctx: &RequestCtx) -> Option<FailedAttempt> {
    let t = ctx.trace.as_ref().filter(|t| t.sampled)?;
    let now = Instant::now();
    Some(FailedAttempt {
        span_id: t.attempt_span,
        key_index: ctx.binding.as_ref().map_or(usize::MAX, |b| b.key_index),
        started: ctx.attempt.started.unwrap_or(now),
        ended: now,
        connect: ctx.attempt.connect,
        reused: ctx.attempt.reused,
        status: ctx.attempt.status,
        reason: ctx.failover.reason.unwrap_or("connect"),
    })
}

/// The next attempt gets its own client span (and `traceparent`).
pub(crate) fn next_attempt(ctx: &mut RequestCtx, failed: Option<FailedAttempt>) {
    if let (Some(t), Some(f)) = (ctx.trace.as_mut(), failed) {
        t.next_attempt(f);
    }
}

/// Builds the request's spans and queues them for export.
pub(crate) fn export(session: &Session, ctx: &mut RequestCtx, end: Instant, out: &Outcome) {
    let Some(trace) = ctx.trace.take().filter(|t| t.sampled) else {
        return;
    };
    let Some(tracer) = ctx.snapshot.as_ref().and_then(|s| s.telemetry.clone()) else {
        return;
    };
    let mut spans = Vec::with_capacity(2 + trace.failed.len());
    spans.push(server_span(session, ctx, &trace, end, out));
    for f in &trace.failed {
        spans.push(client_span(session, ctx, &trace, &Attempt::failed(f)));
    }
    if let Some(started) = ctx.attempt.started {
        let last = Attempt {
            span_id: trace.attempt_span,
            key_index: ctx.binding.as_ref().map_or(usize::MAX, |b| b.key_index),
            started,
            ended: ctx.response.upstream_end.unwrap_or(end),
            connect: ctx.attempt.connect,
            reused: ctx.attempt.reused,
            status: ctx.attempt.status,
            first_byte: ctx.attempt.first_byte,
            error: ctx.error.as_ref().map(|e| e.kind.name()),
            request_id: ctx.response.upstream_request_id.as_deref(),
        };
        spans.push(client_span(session, ctx, &trace, &last));
    }
    tracer.export(spans);
}

/// One attempt, failed over or the last.
struct Attempt<'a> {
    span_id: u64,
    key_index: usize,
    started: Instant,
    ended: Instant,
    connect: Option<Duration>,
    reused: Option<bool>,
    status: Option<u16>,
    first_byte: Option<Duration>,
    error: Option<&'static str>,
    request_id: Option<&'a str>,
}

impl Attempt<'_> {
    fn failed(f: &FailedAttempt) -> Attempt<'static> {
        Attempt {
            span_id: f.span_id,
            key_index: f.key_index,
            started: f.started,
            ended: f.ended,
            connect: f.connect,
            reused: f.reused,
            status: f.status,
            first_byte: None,
            error: Some(f.reason),
            request_id: None,
        }
    }
}

fn server_span(
    session: &Session,
    ctx: &RequestCtx,
    trace: &RequestTrace,
    end: Instant,
    out: &Outcome,
) -> SpanData {
    let req = session.req_header();
    let method = method_name(&req.method);
    let kind = ctx.provider.as_ref().map(|p| p.kind);
    let operation = operation(&ctx.client.native_path);
    let model = out.requested_model.or(out.response_model);
    let name: Cow<'static, str> = match (operation, model) {
        (Some(op), Some(m)) => format!("{op} {m}").into(),
        (Some(op), None) => op.into(),
        (None, _) => match ctx.client.route {
            Some(r) => format!("{method} {}", r.name()).into(),
            None => method.clone(),
        },
    };
    let mut a = Vec::with_capacity(20);
    a.push(KeyValue::new("http.request.method", method));
    a.push(KeyValue::new("url.path", req.uri.path().to_owned()));
    a.push(KeyValue::new(
        "http.response.status_code",
        i64::from(out.status),
    ));
    a.push(KeyValue::new("strait.request_id", ctx.request_id.clone()));
    if let Some(r) = ctx.client.route {
        a.push(KeyValue::new("strait.route", r.name()));
    }
    if let Some(vk) = &ctx.client.virtual_key {
        a.push(KeyValue::new("strait.virtual_key", vk.clone()));
    }
    if let Some(k) = kind {
        a.push(KeyValue::new("gen_ai.provider.name", provider_name(k)));
    }
    if let Some(op) = operation {
        a.push(KeyValue::new("gen_ai.operation.name", op));
    }
    if let Some(m) = out.requested_model {
        a.push(KeyValue::new("gen_ai.request.model", m.to_owned()));
    }
    if let Some(m) = out.response_model {
        a.push(KeyValue::new("gen_ai.response.model", m.to_owned()));
    }
    if let Some(t) = out.tokens {
        for (key, n) in [
            ("gen_ai.usage.input_tokens", t.input),
            ("gen_ai.usage.output_tokens", t.output),
            ("gen_ai.usage.cache_read.input_tokens", t.cached),
            ("gen_ai.usage.cache_creation.input_tokens", t.cache_creation),
            ("strait.usage.reasoning_tokens", t.reasoning),
        ] {
            a.push(KeyValue::new(key, n as i64));
        }
    }
    a.push(KeyValue::new("strait.streamed", ctx.response.streamed));
    let error = ctx.error.as_ref().map(|e| e.kind.name());
    if let Some(e) = error {
        a.push(KeyValue::new("error.type", e));
    }
    let status = match error {
        Some(e) => Status::error(e),
        None if out.status >= 500 => Status::error(format!("HTTP {}", out.status)),
        None => Status::Unset,
    };
    SpanData {
        span_context: context(trace, trace.span_id),
        parent_span_id: trace.parent.map_or(SpanId::INVALID, SpanId::from),
        parent_span_is_remote: trace.parent.is_some(),
        span_kind: SpanKind::Server,
        name,
        start_time: trace.wall_start,
        end_time: trace.wall(ctx.start, end),
        attributes: a,
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status,
        instrumentation_scope: scope(),
    }
}

fn client_span(
    session: &Session,
    ctx: &RequestCtx,
    trace: &RequestTrace,
    at: &Attempt,
) -> SpanData {
    let method = method_name(&session.req_header().method);
    let provider = ctx.provider.as_ref();
    let key = provider.and_then(|p| p.keys.get(at.key_index));
    let mut a = Vec::with_capacity(12);
    a.push(KeyValue::new("http.request.method", method.clone()));
    if let Some(p) = provider {
        a.push(KeyValue::new("gen_ai.provider.name", provider_name(p.kind)));
    }
    if let Some(k) = key {
        a.push(KeyValue::new("server.address", k.upstream.host.clone()));
        a.push(KeyValue::new("server.port", i64::from(k.upstream.port)));
        a.push(KeyValue::new("strait.provider_key", k.name.clone()));
    }
    if let Some(b) = &ctx.binding {
        // The query may hold a credential (Gemini's `key=`).
        let path = b.upstream_uri.split('?').next().unwrap_or_default();
        a.push(KeyValue::new("url.path", path.to_owned()));
    }
    if let Some(s) = at.status {
        a.push(KeyValue::new("http.response.status_code", i64::from(s)));
    }
    if let Some(c) = at.connect {
        a.push(KeyValue::new("strait.upstream.connect_ms", ms(c)));
    }
    if let Some(r) = at.reused {
        a.push(KeyValue::new("strait.upstream.reused", r));
    }
    if let Some(id) = at.request_id {
        a.push(KeyValue::new("strait.upstream.request_id", id.to_owned()));
    }
    let mut events = SpanEvents::default();
    if let Some(t) = at.first_byte {
        // `first_byte` counts from the request's start; the span's figure
        // from the attempt's.
        let first = ctx.start + t;
        let ttfb = first.saturating_duration_since(at.started);
        a.push(KeyValue::new("strait.upstream.ttfb_ms", ms(ttfb)));
        let when = trace.wall(ctx.start, first);
        events.events.push(opentelemetry::trace::Event::new(
            "first_byte",
            when,
            vec![],
            0,
        ));
    }
    if let Some(e) = at.error {
        a.push(KeyValue::new("error.type", e));
    }
    let status = match (at.error, at.status) {
        (Some(e), _) => Status::error(e),
        (None, Some(s)) if s >= 500 => Status::error(format!("HTTP {s}")),
        _ => Status::Unset,
    };
    let name = match provider {
        Some(p) => format!("{method} {}", p.kind.name()).into(),
        None => method,
    };
    SpanData {
        span_context: context(trace, at.span_id),
        parent_span_id: SpanId::from(trace.span_id),
        parent_span_is_remote: false,
        span_kind: SpanKind::Client,
        name,
        start_time: trace.wall(ctx.start, at.started),
        end_time: trace.wall(ctx.start, at.ended.max(at.started)),
        attributes: a,
        dropped_attributes_count: 0,
        events,
        links: SpanLinks::default(),
        status,
        instrumentation_scope: scope(),
    }
}

fn context(trace: &RequestTrace, span_id: u64) -> SpanContext {
    let state = trace
        .tracestate
        .as_deref()
        .and_then(|s| s.parse::<TraceState>().ok())
        .unwrap_or_default();
    SpanContext::new(
        TraceId::from(trace.trace_id),
        SpanId::from(span_id),
        TraceFlags::SAMPLED,
        false,
        state,
    )
}

fn scope() -> InstrumentationScope {
    InstrumentationScope::builder("strait")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

/// The method as an attribute value: the usual ones without an allocation.
fn method_name(m: &http::Method) -> Cow<'static, str> {
    const KNOWN: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];
    match KNOWN.iter().find(|k| **k == m.as_str()) {
        Some(k) => Cow::Borrowed(k),
        None => Cow::Owned(m.as_str().to_owned()),
    }
}
