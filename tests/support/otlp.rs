//! An OTLP/HTTP trace receiver: accepts `POST /v1/traces` (protobuf),
//! decodes it with the OpenTelemetry proto types and keeps every span, for
//! the tracing tests to look at. Runs on its own thread and runtime, on
//! 127.0.0.1, until dropped.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use prost::Message;
use serde_json::Value;

use super::{Gateway, Mocks};

pub const SERVER: i32 = 2;
pub const CLIENT: i32 = 3;

/// The mocks' config with `telemetry:` sending to `endpoint`, its token
/// from `OTLP_TOKEN`; `extra` is more of the section.
pub fn config(mocks: &Mocks, endpoint: &str, extra: &str) -> String {
    mocks.config(&format!(
        "telemetry:\n  otlp_endpoint: \"{endpoint}\"\n  service_name: strait-test\n  headers: {{ authorization: env.OTLP_TOKEN }}\n{extra}"
    ))
}

/// A gateway tracing to `collector`.
pub fn start(mocks: &Mocks, collector: &Collector, extra: &str) -> Gateway {
    start_with(&config(mocks, &collector.url(), extra))
}

pub fn start_with(config: &str) -> Gateway {
    Gateway::start_with_env(config, &[("OTLP_TOKEN", "Bearer otlp-token-1")])
}

/// The request's trace, found by the log line's `trace_id`: its server span
/// and its client spans, oldest first, checked to be the server span's children.
pub fn trace_of(
    gw: &Gateway,
    collector: &Collector,
    request_id: &str,
    n: usize,
) -> (Span, Vec<Span>) {
    let line = gw.log_line(request_id);
    let trace_id = line["trace_id"].as_str().expect("trace_id in the log line");
    let spans = collector.trace(trace_id, n);
    assert_eq!(spans.len(), n, "{request_id}: {spans:#?}");
    let server = spans
        .iter()
        .find(|s| s.kind == SERVER)
        .expect("a server span")
        .clone();
    let mut clients: Vec<Span> = spans.into_iter().filter(|s| s.kind == CLIENT).collect();
    clients.sort_by_key(|s| s.start_ns);
    for c in &clients {
        assert_eq!(
            c.parent, server.span_id,
            "a client span is the server span's child"
        );
        assert!(
            c.start_ns >= server.start_ns && c.end_ns <= server.end_ns,
            "{c:#?}"
        );
    }
    (server, clients)
}

/// One received span, flattened for asserts.
#[derive(Debug, Clone)]
pub struct Span {
    pub service: String,
    pub trace_id: String,
    pub span_id: String,
    /// Empty for a root span.
    pub parent: String,
    pub name: String,
    /// 2 server, 3 client (the proto's `SpanKind`).
    pub kind: i32,
    /// 0 unset, 2 error.
    pub status: i32,
    pub start_ns: u64,
    pub end_ns: u64,
    pub attrs: BTreeMap<String, Value>,
    pub events: Vec<String>,
}

impl Span {
    pub fn attr(&self, key: &str) -> &Value {
        self.attrs.get(key).unwrap_or(&Value::Null)
    }
}

#[derive(Default)]
struct Received {
    spans: Vec<Span>,
    /// The request headers of each export.
    headers: Vec<http::HeaderMap>,
}

pub struct Collector {
    pub addr: SocketAddr,
    received: Arc<Mutex<Received>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Collector {
    pub fn start() -> Collector {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Received::default()));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shared = received.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
                let serve = async {
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            continue;
                        };
                        let shared = shared.clone();
                        tokio::spawn(async move {
                            let svc = service_fn(move |req| handle(req, shared.clone()));
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), svc)
                                .await;
                        });
                    }
                };
                tokio::select! {
                    _ = serve => {}
                    _ = stopped => {}
                }
            });
        });
        Collector {
            addr,
            received,
            _stop: stop,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn spans(&self) -> Vec<Span> {
        self.received.lock().unwrap().spans.clone()
    }

    pub fn export_headers(&self) -> Vec<http::HeaderMap> {
        self.received.lock().unwrap().headers.clone()
    }

    /// The spans of one trace once there are at least `n`, waiting up to 10 s
    /// (strait batches for up to a second).
    pub fn trace(&self, trace_id: &str, n: usize) -> Vec<Span> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let spans: Vec<Span> = self
                .spans()
                .into_iter()
                .filter(|s| s.trace_id == trace_id)
                .collect();
            if spans.len() >= n || Instant::now() > deadline {
                return spans;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

async fn handle(
    req: hyper::Request<hyper::body::Incoming>,
    received: Arc<Mutex<Received>>,
) -> Result<hyper::Response<Full<Bytes>>, hyper::Error> {
    let path_ok = req.method() == http::Method::POST && req.uri().path() == "/v1/traces";
    let headers = req.headers().clone();
    let body = req.into_body().collect().await?.to_bytes();
    let decoded = ExportTraceServiceRequest::decode(body);
    let (status, reply) = match (path_ok, decoded) {
        (true, Ok(export)) => {
            let mut r = received.lock().unwrap();
            r.headers.push(headers);
            r.spans.extend(flatten(export));
            (200, ExportTraceServiceResponse::default().encode_to_vec())
        }
        _ => (400, Vec::new()),
    };
    Ok(hyper::Response::builder()
        .status(status)
        .header("content-type", "application/x-protobuf")
        .body(Full::new(Bytes::from(reply)))
        .unwrap())
}

fn flatten(export: ExportTraceServiceRequest) -> Vec<Span> {
    let mut out = Vec::new();
    for rs in export.resource_spans {
        let resource = rs
            .resource
            .map(|r| attrs(&r.attributes))
            .unwrap_or_default();
        let service = resource
            .get("service.name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        for ss in rs.scope_spans {
            for s in ss.spans {
                out.push(Span {
                    service: service.clone(),
                    trace_id: hex(&s.trace_id),
                    span_id: hex(&s.span_id),
                    parent: hex(&s.parent_span_id),
                    name: s.name,
                    kind: s.kind,
                    status: s.status.map_or(0, |st| st.code),
                    start_ns: s.start_time_unix_nano,
                    end_ns: s.end_time_unix_nano,
                    attrs: attrs(&s.attributes),
                    events: s.events.into_iter().map(|e| e.name).collect(),
                });
            }
        }
    }
    out
}

fn attrs(kvs: &[KeyValue]) -> BTreeMap<String, Value> {
    kvs.iter()
        .map(|kv| {
            let v = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => Value::from(s.clone()),
                Some(any_value::Value::BoolValue(b)) => Value::from(*b),
                Some(any_value::Value::IntValue(i)) => Value::from(*i),
                Some(any_value::Value::DoubleValue(d)) => Value::from(*d),
                other => Value::from(format!("{other:?}")),
            };
            (kv.key.clone(), v)
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
