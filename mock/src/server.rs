//! One request's way through a mock provider: recording, test controls, auth and
//! the flavor's routes. (The thread, runtime and accept loop are in `listen`.)

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, Response};
use serde_json::{json, Value};

use crate::call::{Call, Dialect, Reply};
use crate::listen::{self, json_response, Body, Running};
use crate::sse::Pace;
use crate::{
    anthropic, auth, azure, gemini, lock, openai, sse, ws, Flavor, Recorded, State, DEFAULT_EVENTS,
};

/// Serves `state`'s flavor on `listener` until the returned guard is dropped.
pub(crate) fn spawn(listener: std::net::TcpListener, state: Arc<State>) -> Running {
    let name = format!("strait-mock-{:?}", state.flavor);
    listen::spawn(listener, name, move |req| handle(state.clone(), req))
}

async fn handle(
    state: Arc<State>,
    mut req: Request<Incoming>,
) -> Result<Response<Body>, hyper::Error> {
    if ws::is_upgrade(&req) {
        let upgrade = hyper::upgrade::on(&mut req);
        let (parts, _) = req.into_parts();
        return Ok(ws::accept(state, parts, upgrade));
    }
    let (parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes();
    if let Some(control) = parts.uri.path().strip_prefix("/__mock/") {
        return Ok(provider_control(&state, parts.method.as_str(), control));
    }
    let rec = Recorded::from_parts(&parts, &body);
    let seq = state.seq.fetch_add(1, Ordering::Relaxed) + 1;
    lock(&state.log).push(rec.clone());

    let number = |name: &str| rec.header(name).and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(ms) = number("x-mock-delay-ms") {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let pace = if rec.header("x-mock-lockstep").is_some() {
        Pace::Lockstep(state.steps.clone())
    } else {
        Pace::Gap(Duration::from_millis(number("x-mock-gap-ms").unwrap_or(0)))
    };
    let dialect = Dialect::of(state.flavor, &rec.path);
    let key = lock(&state.key).clone();
    if let Err(reply) = auth::check(dialect, &rec, &key, &|t| state.accepts_bearer(t)) {
        return Ok(respond(dialect, seq, reply, pace.clone(), &[]));
    }
    if let Some(status) = number("x-mock-status") {
        let status = u16::try_from(status).unwrap_or(500);
        let reply = dialect.error(
            status,
            &format!("strait-mock: error {status} requested by x-mock-status"),
        );
        let extra = [
            ("retry-after", "7"),
            ("x-ratelimit-remaining-requests", "0"),
        ];
        return Ok(respond(dialect, seq, reply, pace.clone(), &extra));
    }
    let call = Call {
        flavor: state.flavor,
        method: if rec.method == "HEAD" {
            "GET"
        } else {
            &rec.method
        },
        path: &rec.path,
        query: rec.query.as_deref(),
        body: serde_json::from_slice(&rec.body).unwrap_or(Value::Null),
        events: number("x-mock-events").map_or(DEFAULT_EVENTS, |n| n as usize),
        seq,
    };
    let routed = match state.flavor {
        Flavor::OpenAi => rec
            .path
            .strip_prefix("/v1")
            .and_then(|rest| openai::route(&call, rest, None)),
        Flavor::Anthropic => anthropic::route(&call, &rec.path),
        Flavor::Gemini => gemini::route(&call),
        Flavor::Azure => azure::route(&call),
    };
    let reply = routed.unwrap_or_else(|| {
        let echo = json!({
            "object": "mock.echo", "method": call.method, "path": call.path,
            "query": call.query, "body_bytes": rec.body.len()
        });
        Reply::Json(200, echo)
    });
    Ok(respond(dialect, seq, reply, pace, &[]))
}

/// A provider's controls: [`control_route`]'s, plus `GET /__mock/ws` (every
/// WebSocket session: what its client sent), which `DELETE /__mock/requests`
/// clears too, as [`crate::MockProvider::clear`] does.
fn provider_control(state: &State, method: &str, path: &str) -> Response<Body> {
    match (method, path) {
        ("GET", "ws") => {
            let sessions = lock(&state.ws).iter().map(ws::WsSession::to_wire).collect();
            json_response(200, "application/json", &Value::Array(sessions))
        }
        ("DELETE", "requests") => {
            lock(&state.ws).clear();
            control_route(&state.log, method, path)
        }
        _ => control_route(&state.log, method, path),
    }
}

/// `GET /__mock/requests` (the log), `DELETE /__mock/requests` (clear it).
pub(crate) fn control_route(
    log: &Mutex<Vec<Recorded>>,
    method: &str,
    path: &str,
) -> Response<Body> {
    let (status, body) = match (method, path) {
        ("GET", "requests") => (
            200,
            Value::Array(lock(log).iter().map(Recorded::to_wire).collect()),
        ),
        ("DELETE", "requests") => {
            let mut log = lock(log);
            let cleared = log.len();
            log.clear();
            (200, json!({"cleared": cleared}))
        }
        _ => (404, json!({"error": "unknown mock control route"})),
    };
    json_response(status, "application/json", &body)
}

pub(crate) fn respond(
    dialect: Dialect,
    seq: u64,
    reply: Reply,
    pace: Pace,
    extra: &[(&'static str, &str)],
) -> Response<Body> {
    let google = dialect == Dialect::Google;
    let mut r = match reply {
        Reply::Json(status, body) => json_response(
            status,
            if google {
                "application/json; charset=UTF-8"
            } else {
                "application/json"
            },
            &body,
        ),
        Reply::Sse(events) => {
            let mut r = Response::new(sse::body(events, pace).boxed_unsync());
            let content_type = if google {
                "text/event-stream"
            } else {
                "text/event-stream; charset=utf-8"
            };
            r.headers_mut()
                .insert("content-type", content_type.parse().expect("content type"));
            r.headers_mut()
                .insert("cache-control", "no-cache".parse().expect("cache-control"));
            r
        }
    };
    let extra = extra.iter().map(|(n, v)| (*n, (*v).to_owned()));
    for (name, value) in dialect.headers(seq).into_iter().chain(extra) {
        r.headers_mut()
            .insert(name, value.parse().expect("header value"));
    }
    r
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::{Duration, Instant};

    use crate::test_http::exchange;
    use crate::{Flavor, MockProvider};

    #[test]
    fn keep_alive_auth_record_and_control() {
        let mock = MockProvider::start(Flavor::Gemini, "gk");
        let mut conn = TcpStream::connect(mock.addr()).unwrap();
        let ok = exchange(
            &mut conn,
            "POST /v1beta/models/g:generateContent?x=1 HTTP/1.1\r\nx-goog-api-key: gk",
            "{}",
        );
        assert!(
            ok.starts_with("HTTP/1.1 200") && ok.contains("\"totalTokenCount\":49"),
            "{ok}"
        );
        let denied = exchange(
            &mut conn,
            "POST /v1beta/models/g:generateContent HTTP/1.1\r\nx-goog-api-key: no",
            "",
        );
        assert!(
            denied.starts_with("HTTP/1.1 401") && denied.contains("UNAUTHENTICATED"),
            "{denied}"
        );
        let failed = exchange(
            &mut conn,
            "GET /v1beta/models HTTP/1.1\r\nx-goog-api-key: gk\r\nx-mock-status: 429",
            "",
        );
        assert!(
            failed.starts_with("HTTP/1.1 429") && failed.contains("retry-after: 7"),
            "{failed}"
        );

        let log = exchange(&mut conn, "GET /__mock/requests HTTP/1.1", "");
        assert!(
            log.contains("\"body_len\":2") && log.contains("\"query\":\"x=1\""),
            "{log}"
        );
        assert_eq!(mock.requests().len(), 3);
        assert_eq!(mock.last().header("x-mock-status"), Some("429"));
        assert_eq!(mock.requests()[0].version, "HTTP/1.1");
        exchange(&mut conn, "DELETE /__mock/requests HTTP/1.1", "");
        assert!(mock.requests().is_empty());
    }

    #[test]
    fn head_has_get_headers_and_no_body() {
        let mock = MockProvider::start(Flavor::Azure, "ak");
        let mut conn = TcpStream::connect(mock.addr()).unwrap();
        let get = exchange(&mut conn, "GET /openai/files HTTP/1.1\r\napi-key: ak", "");
        assert!(get.contains("\"object\":\"mock.echo\""), "{get}");
        write!(
            conn,
            "HEAD /openai/files HTTP/1.1\r\nhost: x\r\napi-key: ak\r\n\r\n"
        )
        .unwrap();
        let mut buf = [0; 4096];
        let n = conn.read(&mut buf).unwrap();
        let head = std::str::from_utf8(&buf[..n]).unwrap();
        let length = |r: &str| {
            r.lines()
                .find(|l| l.starts_with("content-length"))
                .map(str::to_owned)
        };
        assert!(head.ends_with("\r\n\r\n"), "{head}");
        assert_eq!(length(head), length(&get));
    }

    #[test]
    fn sse_events_arrive_spaced_by_the_gap() {
        let mock = MockProvider::start(Flavor::OpenAi, "ok");
        let mut conn = TcpStream::connect(mock.addr()).unwrap();
        let body = r#"{"model":"m","stream":true}"#;
        let head = "POST /v1/chat/completions HTTP/1.1\r\nauthorization: Bearer ok\r\nx-mock-events: 2\r\nx-mock-gap-ms: 200";
        write!(
            conn,
            "{head}\r\nhost: x\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let start = Instant::now();
        let mut buf = [0; 65536];
        let mut arrivals = vec![];
        let mut got = String::new();
        while !got.ends_with("0\r\n\r\n") {
            let n = conn.read(&mut buf).unwrap();
            assert!(n > 0);
            got.push_str(std::str::from_utf8(&buf[..n]).unwrap());
            arrivals.push(start.elapsed());
        }
        // role, 2 deltas, finish, [DONE]: 4 gaps of 200 ms. Each event is its own
        // read, and the first one is not held back until the end.
        assert!(arrivals.len() >= 5, "{arrivals:?}");
        assert!(arrivals[0] < Duration::from_millis(400), "{arrivals:?}");
        assert!(
            *arrivals.last().unwrap() >= Duration::from_millis(800),
            "{arrivals:?}"
        );
        assert!(
            got.contains("text/event-stream") && got.contains("delta1 "),
            "{got}"
        );
    }
}
