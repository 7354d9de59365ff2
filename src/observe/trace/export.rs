//! The trace exporter: a bounded queue the request path hands finished
//! spans to without waiting, and one thread that batches them and posts
//! them to the collector (OTLP/HTTP, protobuf).
//!
//! The SDK's `BatchSpanProcessor` is not used: it counts the spans a full
//! queue drops only for its own shutdown log, and strait must expose that
//! count (`strait_trace_spans_dropped_total`). The SDK's OTLP `SpanExporter`
//! does the encoding and the posting. (Encoding each request's spans where
//! it ends instead, and handing the thread bytes, measured the same CPU per
//! request in `cargo bench --bench load` scenario 9: the conversion's cost
//! moves between threads, it does not shrink.)

use std::collections::HashMap;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;

use super::TraceSettings;
use crate::observe::metrics::metrics;

/// Spans posted in one export request at most.
const MAX_BATCH: usize = 512;
/// How long spans gather before they are posted: the most a span waits.
const BATCH_WAIT: Duration = Duration::from_secs(1);
/// How often the export thread takes what is queued: the default queue of
/// 2048 requests then absorbs 40,000 requests/s.
const TICK: Duration = Duration::from_millis(50);
/// The most often a failing collector is named in the log.
const WARN_EVERY: Duration = Duration::from_secs(10);
/// One export's bound: a hung collector holds the thread this long, then
/// the batch is dropped (and counted); meanwhile the queue absorbs or drops.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

enum Msg {
    /// One request's spans: its server span and a client span per attempt.
    Spans(Vec<SpanData>),
    /// Export everything queued before this, then say so.
    Flush(SyncSender<()>),
}

/// One config's exporter. Made by the config loader (the queue only); the
/// thread starts with [`Tracer::start`], after Pingora has daemonised.
/// Dropped with the last snapshot that holds it: the thread then exports
/// what is left and ends, so a reload that changes `telemetry:` leaks none.
pub(crate) struct Tracer {
    pub(crate) settings: TraceSettings,
    tx: SyncSender<Msg>,
    pending: Mutex<Option<Receiver<Msg>>>,
}

impl Tracer {
    pub(crate) fn new(settings: TraceSettings) -> Tracer {
        let (tx, rx) = sync_channel(settings.max_queue);
        Tracer {
            settings,
            tx,
            pending: Mutex::new(Some(rx)),
        }
    }

    /// Starts the export thread; later calls do nothing.
    pub(crate) fn start(&self) {
        let Some(rx) = self.pending.lock().ok().and_then(|mut p| p.take()) else {
            return;
        };
        let settings = self.settings.clone();
        let spawned = std::thread::Builder::new()
            .name("strait-traces".into())
            .spawn(move || run(rx, settings));
        if let Err(e) = spawned {
            log::error!("cannot start the trace exporter: {e}; no spans are exported");
        }
    }

    /// Queues one request's spans, never waiting: a full queue drops them.
    pub(crate) fn export(&self, spans: Vec<SpanData>) {
        let n = spans.len() as u64;
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            self.tx.try_send(Msg::Spans(spans))
        {
            metrics()
                .trace_spans_dropped
                .with_label_values(&["queue_full"])
                .inc_by(n);
        }
    }

    /// Waits (up to `timeout`) until the spans queued so far are exported
    /// or given up on, before the process exits.
    pub(crate) fn flush(&self, timeout: Duration) {
        let started = self.pending.lock().is_ok_and(|p| p.is_none());
        if !started {
            return;
        }
        let (done_tx, done_rx) = sync_channel(1);
        // A full queue is waited for no longer than the flush itself.
        let deadline = Instant::now() + timeout;
        let mut msg = Msg::Flush(done_tx);
        loop {
            match self.tx.try_send(msg) {
                Ok(()) => break,
                Err(TrySendError::Full(m)) if Instant::now() < deadline => {
                    msg = m;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(_) => return,
            }
        }
        let _ = done_rx.recv_timeout(deadline.saturating_duration_since(Instant::now()));
    }
}

/// The OTLP/HTTP exporter with its own HTTP client, made on the export
/// thread: reqwest's blocking client runs a small runtime of its own, which
/// must not be made or dropped inside Pingora's.
fn exporter(settings: &TraceSettings) -> Result<opentelemetry_otlp::SpanExporter, String> {
    // Pingora installs the same provider for its own TLS; whichever comes
    // first wins and the other call is a no-op.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::blocking::Client::builder()
        .timeout(EXPORT_TIMEOUT)
        .connect_timeout(EXPORT_TIMEOUT.min(Duration::from_secs(2)))
        .build()
        .map_err(|e| e.to_string())?;
    let headers: HashMap<String, String> = settings.headers.iter().cloned().collect();
    let mut exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(settings.traces_url.clone())
        .with_headers(headers)
        .with_timeout(EXPORT_TIMEOUT)
        .build()
        .map_err(|e| e.to_string())?;
    exporter.set_resource(
        &Resource::builder_empty()
            .with_service_name(settings.service_name.clone())
            .build(),
    );
    Ok(exporter)
}

fn run(rx: Receiver<Msg>, settings: TraceSettings) {
    let exporter = match exporter(&settings) {
        Ok(e) => Some(e),
        Err(e) => {
            log::error!("cannot make the trace exporter: {e}; spans are dropped");
            None
        }
    };
    let mut batch = Vec::new();
    let mut flushed = Vec::new();
    let mut last_post = Instant::now();
    let mut warned = Warned::default();
    loop {
        // Sleeping, not blocking in `recv`: a receiver waiting in `recv` is
        // woken by every request's send, a futex wake and a context switch
        // per request (measured: most of tracing's cost). This way it is one
        // wake-up per tick, and the queue holds a tick's requests.
        std::thread::sleep(TICK);
        let mut open = true;
        loop {
            match rx.try_recv() {
                Ok(msg) => take(msg, &mut batch, &mut flushed),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        let due = batch.len() >= MAX_BATCH
            || !flushed.is_empty()
            || !open
            || (!batch.is_empty() && last_post.elapsed() >= BATCH_WAIT);
        if due {
            while !batch.is_empty() {
                let rest = batch.split_off(batch.len().min(MAX_BATCH));
                // The next tick's spans go into a vector already grown.
                let mut next = Vec::with_capacity(MAX_BATCH.max(rest.len()));
                next.extend(rest);
                if let Some(e) = post(exporter.as_ref(), std::mem::replace(&mut batch, next)) {
                    warned.failed(e);
                }
            }
            last_post = Instant::now();
        }
        for done in flushed.drain(..) {
            let _ = done.send(());
        }
        if !open {
            // The queue's last sender is gone (the config was replaced or
            // removed): what it held was posted above.
            return;
        }
    }
}

fn take(msg: Msg, batch: &mut Vec<SpanData>, flushed: &mut Vec<SyncSender<()>>) {
    match msg {
        Msg::Spans(spans) => batch.extend(spans),
        Msg::Flush(done) => flushed.push(done),
    }
}

/// Posts one batch; a failure is counted here and returned for the log.
fn post(
    exporter: Option<&opentelemetry_otlp::SpanExporter>,
    batch: Vec<SpanData>,
) -> Option<String> {
    let n = batch.len() as u64;
    let result = match exporter {
        Some(e) => futures::executor::block_on(e.export(batch)).map_err(|e| e.to_string()),
        None => Err("no exporter".to_string()),
    };
    let e = result.err()?;
    metrics()
        .trace_spans_dropped
        .with_label_values(&["export_failed"])
        .inc_by(n);
    Some(e)
}

/// One warning per failure streak and then one every `WARN_EVERY` at most:
/// a dead collector is not a reason to flood the error log.
#[derive(Default)]
struct Warned {
    last: Option<Instant>,
    batches: u64,
}

impl Warned {
    fn failed(&mut self, error: String) {
        self.batches += 1;
        if self.last.is_some_and(|t| t.elapsed() < WARN_EVERY) {
            return;
        }
        log::warn!(
            "trace export failed ({} batches since the last warning; their spans are dropped \
             and counted in strait_trace_spans_dropped_total): {error}",
            self.batches
        );
        self.last = Some(Instant::now());
        self.batches = 0;
    }
}
