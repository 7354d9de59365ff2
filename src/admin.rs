//! The admin listener: `/healthz` (the process is up), `/readyz` (it should
//! get traffic), `/metrics` (Prometheus text format) and `/spend` (what each
//! virtual key spent, and its limits).

use std::sync::Arc;

use async_trait::async_trait;
use http::{Method, Response};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;

use arc_swap::ArcSwap;

use crate::lifecycle::Lifecycle;
use crate::observe::metrics::metrics;
use crate::snapshot::Snapshot;
use crate::spend::{spend_json, KeyRow, Store};

pub(crate) struct Admin {
    pub(crate) lifecycle: Arc<Lifecycle>,
    pub(crate) snapshot: Arc<ArcSwap<Snapshot>>,
    pub(crate) spend: Arc<Store>,
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
                    let state = serde_json::json!({
                        "backend": self.spend.backend(),
                        "up": self.spend.is_up(),
                    });
                    let ready = self.lifecycle.ready().await.and_then(|()| {
                        // With `on_error: deny` a store that is down refuses
                        // every limited request: traffic belongs elsewhere.
                        match self.spend.is_up() || self.spend.admits_when_down() {
                            true => Ok(()),
                            false => Err("the spend store (Redis) cannot be reached"),
                        }
                    });
                    let (status, body) = match ready {
                        Ok(()) => (
                            200,
                            serde_json::json!({"status": "ready", "config": *config, "state": state}),
                        ),
                        Err(why) => (
                            503,
                            serde_json::json!({
                                "error": {"type": "not_ready", "message": why},
                                "config": *config,
                                "state": state,
                            }),
                        ),
                    };
                    (status, "application/json", body.to_string().into_bytes())
                }
                "/spend" => {
                    let snapshot = self.snapshot.load_full();
                    let policies = snapshot.virtual_keys.policies();
                    let keys: Vec<KeyRow> = policies
                        .iter()
                        .map(|(name, p)| (*name, &p.limits, p.max_concurrent))
                        .collect();
                    match spend_json(&self.spend, &keys).await {
                        Ok(v) => (200, "application/json", v.to_string().into_bytes()),
                        Err(e) => error(e.status(), e.kind.name(), &e.message),
                    }
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
