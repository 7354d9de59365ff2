//! OpenTelemetry traces (`telemetry:`): the W3C trace context a request
//! carries, and the exporter its spans are handed to at its end. The spans
//! themselves are built from the request context, on the request path.

mod context;
mod export;

pub(crate) use context::{FailedAttempt, RequestTrace};
pub(crate) use export::Tracer;

/// The `telemetry:` section as the exporter uses it.
#[derive(Clone, PartialEq)]
pub(crate) struct TraceSettings {
    /// `{otlp_endpoint}/v1/traces`.
    pub(crate) traces_url: String,
    pub(crate) service_name: String,
    /// For traces a client did not start; a client's sampled flag wins.
    pub(crate) sample_ratio: f64,
    /// Sent with every export; values may be credentials.
    pub(crate) headers: Vec<(String, String)>,
    /// Requests whose spans may wait for export before more are dropped.
    pub(crate) max_queue: usize,
}

/// Header values are left out: they are usually a collector's token.
impl std::fmt::Debug for TraceSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("TraceSettings")
            .field("traces_url", &self.traces_url)
            .field("service_name", &self.service_name)
            .field("sample_ratio", &self.sample_ratio)
            .field("headers", &names)
            .field("max_queue", &self.max_queue)
            .finish()
    }
}
