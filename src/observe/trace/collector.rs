//! The collector as the export thread sees it: an OTLP/HTTP endpoint that
//! takes `ExportTraceServiceRequest`s, built around spans already encoded.

use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::encoding::{encode_key, encode_varint, message, WireType};

use super::TraceSettings;

/// One export's bound: a hung collector holds the thread this long, then
/// the batch is dropped (and counted); meanwhile the queue absorbs or drops.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// OTLP field numbers (opentelemetry/proto/trace/v1/trace.proto and
/// collector/trace/v1/trace_service.proto): the request's `resource_spans`,
/// a `ResourceSpans`' `resource` and `scope_spans`, a `ScopeSpans`' `scope`
/// and `spans`.
const REQUEST_RESOURCE_SPANS: u32 = 1;
const RESOURCE_SPANS_RESOURCE: u32 = 1;
const RESOURCE_SPANS_SCOPE_SPANS: u32 = 2;
const SCOPE_SPANS_SCOPE: u32 = 1;
pub(super) const SCOPE_SPANS_SPANS: u32 = 2;

/// Where and how batches are posted: the HTTP client, made on the export
/// thread (reqwest's blocking client runs a small runtime of its own, which
/// must not be made or dropped inside Pingora's), and the encoded resource
/// and scope every batch is sent under.
pub(super) struct Collector {
    client: reqwest::blocking::Client,
    url: String,
    headers: reqwest::header::HeaderMap,
    /// `ResourceSpans.resource`: `service.name`.
    resource: Vec<u8>,
    /// `ScopeSpans.scope`: strait and its version.
    scope: Vec<u8>,
}

impl Collector {
    pub(super) fn new(settings: &TraceSettings) -> Result<Collector, String> {
        // Pingora installs the same provider for its own TLS; whichever comes
        // first wins and the other call is a no-op.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::blocking::Client::builder()
            .timeout(EXPORT_TIMEOUT)
            .connect_timeout(EXPORT_TIMEOUT.min(Duration::from_secs(2)))
            .build()
            .map_err(|e| e.to_string())?;
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in &settings.headers {
            // Both were validated when the config was loaded.
            if let (Ok(n), Ok(v)) = (
                reqwest::header::HeaderName::from_bytes(name.as_bytes()),
                reqwest::header::HeaderValue::from_str(value),
            ) {
                headers.insert(n, v);
            }
        }
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            reqwest::header::HeaderValue::from_static("application/x-protobuf"),
        );
        let service = KeyValue {
            key: "service.name".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(settings.service_name.clone())),
            }),
            ..KeyValue::default()
        };
        let resource = Resource {
            attributes: vec![service],
            ..Resource::default()
        };
        let scope = InstrumentationScope {
            name: "strait".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            ..InstrumentationScope::default()
        };
        let mut encoded_resource = Vec::new();
        message::encode(RESOURCE_SPANS_RESOURCE, &resource, &mut encoded_resource);
        let mut encoded_scope = Vec::new();
        message::encode(SCOPE_SPANS_SCOPE, &scope, &mut encoded_scope);
        Ok(Collector {
            client,
            url: settings.traces_url.clone(),
            headers,
            resource: encoded_resource,
            scope: encoded_scope,
        })
    }

    /// An `ExportTraceServiceRequest` with one resource and one scope
    /// around `spans` (already `ScopeSpans.spans` fields: a repeated field
    /// is its elements one after another).
    fn request(&self, spans: &[u8]) -> Vec<u8> {
        let scope_spans = self.scope.len() + spans.len();
        let resource_spans = self.resource.len()
            + field_head_len(RESOURCE_SPANS_SCOPE_SPANS, scope_spans)
            + scope_spans;
        let mut out = Vec::with_capacity(
            field_head_len(REQUEST_RESOURCE_SPANS, resource_spans) + resource_spans,
        );
        field_head(REQUEST_RESOURCE_SPANS, resource_spans, &mut out);
        out.extend_from_slice(&self.resource);
        field_head(RESOURCE_SPANS_SCOPE_SPANS, scope_spans, &mut out);
        out.extend_from_slice(&self.scope);
        out.extend_from_slice(spans);
        out
    }

    pub(super) fn post(&self, spans: &[u8]) -> Result<(), String> {
        let reply = self
            .client
            .post(&self.url)
            .headers(self.headers.clone())
            .body(self.request(spans))
            .send()
            .map_err(|e| e.without_url().to_string())?;
        let status = reply.status();
        // The body is read so that the connection can be used again.
        let _ = reply.bytes();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the collector answered {status}"))
        }
    }
}

/// The key and length of a length-delimited field of `len` bytes.
fn field_head(field: u32, len: usize, out: &mut Vec<u8>) {
    encode_key(field, WireType::LengthDelimited, out);
    encode_varint(len as u64, out);
}

fn field_head_len(field: u32, len: usize) -> usize {
    prost::encoding::key_len(field) + prost::encoding::encoded_len_varint(len as u64)
}
