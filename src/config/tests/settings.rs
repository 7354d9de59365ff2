//! Rows for the file as a whole and the process-level sections: listeners,
//! `server:`, TLS listeners, the open-gateway rule, `limits:`.

use super::*;

#[test]
fn file_and_settings_rows() {
    check(vec![
        // Parsing (serde-saphyr's own words; the location is kept).
        row(
            Error,
            "listen: [\"127.0.0.1:1\"]\nbogus: 1\n",
            "unknown field `bogus`",
            2,
            1,
        ),
        row(Error, "server: { threads: many }\n", "invalid u64", 1, 20),
        row(Error, "listen: [\n", "unclosed bracket '['", 1, 9),
        // listen / admin_listen
        row(
            Error,
            "listen: []\n",
            "listen needs at least one address",
            1,
            9,
        ),
        row(
            Error,
            "listen: [\"localhost:80\"]\n",
            "\"localhost:80\" is not an IP:port address",
            1,
            10,
        ),
        row(
            Error,
            "admin_listen: \"9090\"\n",
            "\"9090\" is not an IP:port address",
            1,
            15,
        ),
        // server
        row(
            Error,
            "server: { threads: 0 }\n",
            "server.threads must be at least 1",
            1,
            20,
        ),
        // An open gateway beyond loopback
        row(
            Error,
            "listen: [\"127.0.0.1:1\", \"0.0.0.0:8080\"]\n",
            "listener 0.0.0.0:8080 is not loopback and no virtual_keys are configured: \
             add virtual_keys, or set allow_unauthenticated: true to serve it open",
            1,
            25,
        ),
        row(
            Error,
            "tls_listen:\n  - { addr: \"0.0.0.0:8443\", cert: c.pem, key: k.pem }\n",
            "TLS listener 0.0.0.0:8443 is not loopback and no virtual_keys are configured",
            2,
            13,
        ),
        // TLS listeners
        row(
            Error,
            "tls_listen: [ { addr: \"127.0.0.1:8443\", cert: c.pem, key: k.pem } ]\n",
            "cannot read /nonexistent-strait-test/c.pem: ",
            1,
            47,
        ),
        row(
            Error,
            "tls_listen: [ { addr: \"127.0.0.1:8443\", cert: c.pem, key: k.pem } ]\n",
            "cannot read /nonexistent-strait-test/k.pem: ",
            1,
            59,
        ),
        row(
            Error,
            "tls_listen: [ { addr: \"8443\", cert: c.pem, key: k.pem } ]\n",
            "\"8443\" is not an IP:port address",
            1,
            23,
        ),
        // limits
        row(
            Error,
            "limits: { max_body_bytes: 0 }\n",
            "limits.max_body_bytes must be at least 1",
            1,
            27,
        ),
        row(
            Error,
            "limits: { max_header_bytes: 0 }\n",
            "limits.max_header_bytes must be at least 1",
            1,
            29,
        ),
        row(
            Error,
            "limits: { max_headers: 0 }\n",
            "limits.max_headers must be at least 1",
            1,
            24,
        ),
        row(
            Error,
            "limits: { client_read_timeout_seconds: 0 }\n",
            "limits.client_read_timeout_seconds must be at least 1",
            1,
            40,
        ),
        row(
            Error,
            "limits:\n  keepalive_timeout_seconds: 0\n",
            "limits.keepalive_timeout_seconds must be at least 1",
            2,
            30,
        ),
        row(
            Error,
            "limits: { websocket_max_frame_bytes: 0 }\n",
            "limits.websocket_max_frame_bytes must be at least 1",
            1,
            38,
        ),
        row(
            Error,
            "limits: { websocket_idle_timeout_seconds: 0 }\n",
            "limits.websocket_idle_timeout_seconds must be at least 1",
            1,
            43,
        ),
    ]);
}

/// The names a reload warns about; the reload log quotes them to the user.
#[test]
fn restart_only_names_the_process_settings() {
    let s = load("{}\n", Mode::Check).expect("loads").settings;
    let names: Vec<_> = s.restart_only().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "listen",
            "tls_listen",
            "admin_listen",
            "access_log",
            "state",
            "server.threads",
            "server.pid_file",
            "server.upgrade_sock",
            "server.error_log",
            "server.user",
            "server.group",
            "server.daemon",
            "server.work_stealing",
            "server.grace_period_seconds",
            "server.graceful_shutdown_timeout_seconds",
            "server.drain_delay_seconds",
            "server.upstream_keepalive_pool_size",
        ]
    );
}
