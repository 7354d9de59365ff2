//! The admin listener: health today; readiness and metrics join it.

use async_trait::async_trait;
use http::Response;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;

pub struct Admin;

#[async_trait]
impl ServeHttp for Admin {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let path = session.req_header().uri.path();
        let (status, body) = match path {
            "/healthz" => (200, r#"{"status":"ok"}"#.to_string()),
            _ => (
                404,
                serde_json::json!({"error": {"type": "unknown_route", "message": format!("no admin endpoint {path}")}})
                    .to_string(),
            ),
        };
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .header("content-length", body.len())
            .body(body.into_bytes())
            .expect("static response parts are valid")
    }
}
