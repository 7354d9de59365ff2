//! The trace exporter: a bounded queue the request path hands finished
//! spans to without waiting, and one thread that batches them and posts
//! them to the collector (OTLP/HTTP, protobuf).
//!
//! A request's spans are encoded to OTLP protobuf where they end, with the
//! OpenTelemetry crates' own types and conversion (`opentelemetry-proto`,
//! prost), and cross to the export thread as one buffer. The thread only
//! joins buffers under the resource and scope and posts them. Handing the
//! SDK's `SpanData` to the thread instead, for the SDK's OTLP exporter to
//! convert and encode there, cost 1.43× the CPU per request of tracing off
//! (`cargo bench --bench load`, scenario 9): each span's dozens of small
//! allocations were freed on another thread, and the conversion ran apart
//! from the data it read. The SDK's `BatchSpanProcessor` is not used
//! either: it counts the spans a full queue drops only for its own shutdown
//! log, and strait exposes that count (`strait_trace_spans_dropped_total`).

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_sdk::trace::SpanData;
use prost::encoding::message;

use super::collector::{Collector, SCOPE_SPANS_SPANS};
use super::TraceSettings;
use crate::observe::metrics::metrics;

/// Spans posted in one export request at most.
const MAX_BATCH: u64 = 512;
/// How long spans gather before they are posted: the most a span waits.
const BATCH_WAIT: Duration = Duration::from_secs(1);
/// How often the export thread takes what is queued: the default queue of
/// 2048 requests then absorbs 40,000 requests/s.
const TICK: Duration = Duration::from_millis(50);
/// The most often a failing collector is named in the log.
const WARN_EVERY: Duration = Duration::from_secs(10);

enum Msg {
    /// One request's spans (its server span and a client span per
    /// attempt), each encoded as a `ScopeSpans.spans` field.
    Spans { encoded: Vec<u8>, spans: u64 },
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

    /// Encodes one request's spans and queues them, never waiting: a full
    /// queue drops them.
    pub(crate) fn export(&self, spans: Vec<SpanData>) {
        let n = spans.len() as u64;
        let mut encoded = Vec::with_capacity(640 * spans.len());
        for span in spans {
            message::encode(SCOPE_SPANS_SPANS, &Span::from(span), &mut encoded);
        }
        let msg = Msg::Spans { encoded, spans: n };
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = self.tx.try_send(msg) {
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

/// What the export thread holds between posts.
#[derive(Default)]
struct Batch {
    encoded: Vec<u8>,
    spans: u64,
}

fn run(rx: Receiver<Msg>, settings: TraceSettings) {
    let collector = match Collector::new(&settings) {
        Ok(c) => Some(c),
        Err(e) => {
            log::error!("cannot make the trace exporter: {e}; spans are dropped");
            None
        }
    };
    let mut batch = Batch::default();
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
            let msg = match rx.try_recv() {
                Ok(msg) => msg,
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    open = false;
                    break;
                }
            };
            match msg {
                Msg::Spans { encoded, spans } => {
                    batch.encoded.extend_from_slice(&encoded);
                    batch.spans += spans;
                }
                Msg::Flush(done) => flushed.push(done),
            }
            if batch.spans >= MAX_BATCH {
                post(collector.as_ref(), &mut batch, &mut warned);
                last_post = Instant::now();
            }
        }
        let due = !flushed.is_empty() || !open || last_post.elapsed() >= BATCH_WAIT;
        if due && batch.spans > 0 {
            post(collector.as_ref(), &mut batch, &mut warned);
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

/// Posts the batch and empties it (keeping its buffer); the spans of a
/// failed post are counted as dropped.
fn post(collector: Option<&Collector>, batch: &mut Batch, warned: &mut Warned) {
    let result = match collector {
        Some(c) => c.post(&batch.encoded),
        None => Err("no exporter".to_string()),
    };
    if let Err(e) = result {
        metrics()
            .trace_spans_dropped
            .with_label_values(&["export_failed"])
            .inc_by(batch.spans);
        warned.failed(e);
    }
    batch.encoded.clear();
    batch.spans = 0;
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
