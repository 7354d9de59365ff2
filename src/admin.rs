//! The admin listener: `/healthz` (the process is up), `/readyz` (it should
//! get traffic) and `/metrics` (Prometheus text format).

use std::sync::Arc;

use async_trait::async_trait;
use http::{Method, Response};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;

use crate::lifecycle::Lifecycle;
use crate::observe::metrics::metrics;

pub(crate) struct Admin {
    pub(crate) lifecycle: Arc<Lifecycle>,
}

fn error(status: u16, kind: &str, message: &str) -> (u16, &'static str, Vec<u8>) {
    let body = serde_json::json!({"error": {"type": kind, "message": message}});
    (status, "application/json", body.to_string().into_bytes())
}

#[async_trait]
impl ServeHttp for Admin {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let req = session.req_header();
        let path = req.uri.path().to_string();
        let method = req.method.clone();
        let (status, content_type, body) = if method != Method::GET && method != Method::HEAD {
            error(
                405,
                "method_not_allowed",
                "the admin endpoints answer GET and HEAD",
            )
        } else {
            match path.as_str() {
                "/healthz" => (200, "application/json", br#"{"status":"ok"}"#.to_vec()),
                "/readyz" => {
                    let config = self.lifecycle.config();
                    let (status, body) = match self.lifecycle.ready().await {
                        Ok(()) => (
                            200,
                            serde_json::json!({"status": "ready", "config": *config}),
                        ),
                        Err(why) => (
                            503,
                            serde_json::json!({
                                "error": {"type": "not_ready", "message": why},
                                "config": *config,
                            }),
                        ),
                    };
                    (status, "application/json", body.to_string().into_bytes())
                }
                "/metrics" => (200, prometheus::TEXT_FORMAT, metrics().render()),
                _ => error(404, "unknown_route", &format!("no admin endpoint {path}")),
            }
        };
        let mut resp = Response::builder()
            .status(status)
            .header("content-type", content_type)
            .header("content-length", body.len())
            .header("cache-control", "no-store");
        if status == 405 {
            resp = resp.header("allow", "GET, HEAD");
        }
        let body = if method == Method::HEAD {
            Vec::new()
        } else {
            body
        };
        resp.body(body).expect("static response parts are valid")
    }
}
