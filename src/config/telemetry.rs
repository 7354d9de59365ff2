//! `telemetry:` OpenTelemetry traces. Reloads like the rest of the config:
//! the exporter is part of the snapshot (see `Snapshot::adopt_telemetry`
//! for how an unchanged section keeps its exporter thread).

use std::sync::Arc;

use http::header::{HeaderName, HeaderValue};

use super::checker::{Checker, Lookup};
use super::defaults;
use super::schema::{RawTelemetry, S};
use crate::observe::trace::{TraceSettings, Tracer};

pub(crate) fn telemetry(c: &mut Checker, raw: &Option<S<RawTelemetry>>) -> Option<Arc<Tracer>> {
    let raw = &raw.as_ref()?.value;
    let mut ok = true;
    let traces_url = endpoint(c, &raw.otlp_endpoint);
    ok &= traces_url.is_some();
    let service_name = match &raw.service_name {
        None => defaults::TELEMETRY_SERVICE_NAME.to_owned(),
        Some(n) if n.value.trim().is_empty() => {
            c.error(n, "telemetry.service_name is empty");
            ok = false;
            String::new()
        }
        Some(n) => n.value.trim().to_owned(),
    };
    let sample_ratio = match &raw.sample_ratio {
        None => defaults::TELEMETRY_SAMPLE_RATIO,
        Some(r) if (0.0..=1.0).contains(&r.value) => r.value,
        Some(r) => {
            c.error(r, "telemetry.sample_ratio must be between 0.0 and 1.0");
            ok = false;
            0.0
        }
    };
    if let Some(p) = &raw.protocol {
        match p.value.trim() {
            "http/protobuf" | "http" => {}
            "grpc" => {
                c.error(
                    p,
                    "telemetry.protocol grpc is not supported yet; use http/protobuf \
                     (OTLP/HTTP, usually port 4318)",
                );
                ok = false;
            }
            other => {
                c.error(
                    p,
                    format!("unknown telemetry.protocol `{other}` (http/protobuf, grpc)"),
                );
                ok = false;
            }
        }
    }
    let max_queue = c
        .at_least_one(&raw.max_queue_size, "telemetry.max_queue_size")
        .map_or(defaults::TELEMETRY_MAX_QUEUE, |n| n as usize);
    // The queue's slots are allocated when the config loads.
    if max_queue > MAX_QUEUE_SIZE {
        if let Some(at) = &raw.max_queue_size {
            c.error(
                at,
                format!("telemetry.max_queue_size is at most {MAX_QUEUE_SIZE} (requests' spans waiting for export)"),
            );
        }
        ok = false;
    }
    let mut headers = Vec::new();
    for (name, value) in raw.headers.iter().flatten() {
        let what = format!("telemetry.headers.{name}");
        if HeaderName::from_bytes(name.as_bytes()).is_err() {
            c.error(value, format!("{what}: `{name}` is not a header name"));
            ok = false;
            continue;
        }
        match c.secret(value, &what) {
            // The value is not repeated: it is usually a token.
            Some(Lookup::Value(v)) if HeaderValue::from_str(&v).is_err() => {
                c.error(value, format!("{what} is not a valid header value"));
                ok = false;
            }
            Some(Lookup::Value(v)) => headers.push((name.to_ascii_lowercase(), v)),
            // An export without its credential would be refused: the whole
            // section is off until the variable is set (the warning says so).
            Some(Lookup::Unset(_)) => return None,
            None => ok = false,
        }
    }
    let settings = TraceSettings {
        traces_url: traces_url?,
        service_name,
        sample_ratio,
        headers,
        max_queue,
    };
    ok.then(|| Arc::new(Tracer::new(settings)))
}

const MAX_QUEUE_SIZE: usize = 1_000_000;

/// An `http://` or `https://` base URL without query; the traces path is
/// appended as OTLP/HTTP has it.
fn endpoint(c: &mut Checker, at: &S<String>) -> Option<String> {
    let v = at.value.trim();
    let uri: Option<http::Uri> = v.parse().ok();
    let valid = uri.as_ref().is_some_and(|u| {
        matches!(u.scheme_str(), Some("http" | "https"))
            && u.host().is_some_and(|h| !h.is_empty())
            && u.query().is_none()
            && !u.authority().is_some_and(|a| a.as_str().contains('@'))
    });
    if !valid {
        // The value is not repeated: a query or user info may hold a token.
        c.error(
            at,
            "telemetry.otlp_endpoint is not an http:// or https:// URL without a query \
             or user info (the collector's OTLP/HTTP address, e.g. http://127.0.0.1:4318; \
             a token goes in telemetry.headers)",
        );
        return None;
    }
    Some(format!("{}/v1/traces", v.trim_end_matches('/')))
}
