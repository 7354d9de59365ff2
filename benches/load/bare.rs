//! "Bare Pingora": the least a Pingora proxy can do for these requests —
//! strip the `/openai_passthrough` prefix and set one header — so the
//! benchmark can tell what Pingora itself costs from what strait adds.
//! Run as its own process (`--bare-pingora PORT UPSTREAM THREADS [h2c]`),
//! configured as strait configures Pingora: `threads`, no work stealing,
//! the same listener settings.

use std::net::SocketAddr;

use async_trait::async_trait;
use pingora::http::RequestHeader;
use pingora::listeners::{L4BufferSettings, ListenerConfig};
use pingora::prelude::*;
use pingora::server::configuration::ServerConf;

const PREFIX: &str = "/openai_passthrough";

struct Bare {
    upstream: SocketAddr,
    h2c: bool,
}

#[async_trait]
impl ProxyHttp for Bare {
    type CTX = ();

    fn new_ctx(&self) {}

    async fn upstream_peer(&self, _: &mut Session, _: &mut ()) -> Result<Box<HttpPeer>> {
        // A socket address, not a name: `HttpPeer::new` would resolve a name
        // on every request.
        let mut peer = HttpPeer::new(self.upstream, false, String::new());
        if self.h2c {
            // HTTP/2 by prior knowledge, as strait's `network_config.h2c`,
            // with strait's 100 streams per connection.
            peer.options.set_http_version(2, 2);
            peer.options.max_h2_streams = 100;
        }
        Ok(Box::new(peer))
    }

    async fn upstream_request_filter(
        &self,
        _: &mut Session,
        req: &mut RequestHeader,
        _: &mut (),
    ) -> Result<()> {
        let stripped = req
            .uri
            .path_and_query()
            .and_then(|pq| pq.as_str().strip_prefix(PREFIX))
            .and_then(|rest| rest.parse().ok());
        if let Some(uri) = stripped {
            req.set_uri(uri);
        }
        req.insert_header("authorization", "Bearer sk-bench")?;
        Ok(())
    }
}

/// Serves on 127.0.0.1:`port` until SIGTERM/SIGINT; never returns.
pub fn serve(args: &[String]) -> ! {
    let usage = "--bare-pingora PORT UPSTREAM_PORT THREADS [h2c]";
    let num = |i: usize| -> u16 { args.get(i).and_then(|a| a.parse().ok()).expect(usage) };
    let (port, upstream, threads) = (num(0), num(1), num(2));
    let h2c = args.get(3).is_some_and(|a| a == "h2c");
    crate::procs::exit_with_parent();
    let scratch = std::env::temp_dir();
    let conf = ServerConf {
        threads: threads as usize,
        // strait's default (`server.work_stealing: false`).
        work_stealing: false,
        // The bench stops it with SIGTERM: no 300 s grace period.
        grace_period_seconds: Some(0),
        graceful_shutdown_timeout_seconds: Some(1),
        pid_file: scratch
            .join(format!("bare-pingora-{port}.pid"))
            .display()
            .to_string(),
        upgrade_sock: scratch
            .join(format!("bare-pingora-{port}.sock"))
            .display()
            .to_string(),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let bare = Bare {
        upstream: SocketAddr::from(([127, 0, 0, 1], upstream)),
        h2c,
    };
    let mut proxy = pingora::proxy::http_proxy_service(&server.configuration, bare);
    // As strait's src/server.rs: no 64 KiB listener read buffer per
    // connection, reads go straight into the request buffers.
    proxy.add_listener(
        ListenerConfig::tcp(format!("127.0.0.1:{port}"))
            .l4_buffer(L4BufferSettings::default().read(0)),
    );
    server.add_service(proxy);
    server.run_forever()
}
