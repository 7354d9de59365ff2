//! One JSON object per request, written by a background thread so a slow
//! disk or a blocked stdout never stalls a request.

use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};

use pingora::prelude::Error;
use pingora::proxy::Session;
use serde::Serialize;

use crate::ctx::RequestCtx;

/// Lines queued for the writer; past this, lines are dropped and counted
/// rather than making requests wait.
const QUEUE: usize = 16 * 1024;

pub struct AccessLog {
    tx: Option<SyncSender<String>>,
    dropped: AtomicU64,
}

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
    streamed: bool,
    bytes_in: u64,
    bytes_out: u64,
    latency_ms: f64,
    ttfb_ms: Option<f64>,
    error: Option<&'static str>,
}

impl AccessLog {
    /// `None`: off. `Some(None)`: stdout. `Some(Some(path))`: appended to the file.
    pub fn start(target: Option<Option<PathBuf>>) -> io::Result<AccessLog> {
        let out: Box<dyn Write + Send> = match target {
            None => return Ok(AccessLog::off()),
            Some(None) => Box::new(io::stdout()),
            Some(Some(path)) => Box::new(OpenOptions::new().create(true).append(true).open(path)?),
        };
        let (tx, rx) = sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("strait-access-log".into())
            .spawn(move || write_lines(rx, out))?;
        Ok(AccessLog {
            tx: Some(tx),
            dropped: AtomicU64::new(0),
        })
    }

    pub fn off() -> AccessLog {
        AccessLog {
            tx: None,
            dropped: AtomicU64::new(0),
        }
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub fn record(&self, session: &Session, _e: Option<&Error>, ctx: &RequestCtx) {
        let Some(tx) = &self.tx else { return };
        let req = session.req_header();
        let status = session.response_written().map_or(0, |r| r.status.as_u16());
        let record = Record {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            request_id: &ctx.request_id,
            virtual_key: ctx.virtual_key.as_deref(),
            route: ctx.route.map(|r| r.name()),
            provider: ctx.provider.as_ref().map(|p| p.kind.name()),
            key: ctx.key().map(|k| k.name.as_str()),
            method: req.method.as_str(),
            path: req.uri.path(),
            model: ctx.model.as_deref(),
            status,
            upstream_status: ctx.upstream_status,
            streamed: ctx.streamed,
            bytes_in: ctx.bytes_in.max(session.body_bytes_read() as u64),
            bytes_out: ctx.bytes_out,
            latency_ms: ms(ctx.start.elapsed()),
            ttfb_ms: ctx.first_byte.map(ms),
            error: ctx.error.as_ref().map(|e| e.kind),
        };
        let Ok(line) = serde_json::to_string(&record) else {
            return;
        };
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = tx.try_send(line) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn ms(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

fn write_lines(rx: Receiver<String>, out: Box<dyn Write + Send>) {
    let mut out = BufWriter::new(out);
    while let Ok(line) = rx.recv() {
        let _ = writeln!(out, "{line}");
        // Batch whatever is already queued, then flush once.
        while let Ok(line) = rx.try_recv() {
            let _ = writeln!(out, "{line}");
        }
        let _ = out.flush();
    }
}
