//! Turning a loaded config into a running Pingora server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use pingora::prelude::*;
use pingora::server::configuration::ServerConf;
use pingora::services::listening::Service;

use pingora::listeners::tls::TlsSettings;
use pingora::listeners::{L4BufferSettings, ListenerConfig};
use pingora::server::RunArgs;
use pingora::services::background::background_service;

use crate::admin::Admin;
use crate::config::{redacted, Loaded, Settings, StateSettings};
use crate::flush::Outputs;
use crate::gateway::Gateway;
use crate::housekeeping::Housekeeping;
use crate::lifecycle::Lifecycle;
use crate::observe::metrics::metrics;
use crate::observe::AccessLog;
use crate::reload::Reloader;
use crate::shutdown::{EarlySignals, SessionClose, Signals, SESSION_CLOSE_ALLOWANCE};
use crate::spend::{RedisConfig, Store};
use crate::upgrade::UpgradeCommand;
use crate::ws::Closing;

/// Pingora's defaults that do not suit a gateway of long-lived streams:
/// one thread, a 300 s sleep before every shutdown, 16 retries.
fn server_conf(settings: &Settings, daemon: bool) -> ServerConf {
    let s = &settings.server;
    let mut conf = ServerConf {
        threads: s.threads,
        daemon: daemon || s.daemon,
        // Pingora sleeps this long after the listeners close; strait exits
        // as soon as nothing is in flight (see shutdown.rs), so it is a bound;
        // the allowance lets the WebSocket sessions closed at its end say so.
        grace_period_seconds: Some(s.grace_period_seconds + SESSION_CLOSE_ALLOWANCE.as_secs()),
        graceful_shutdown_timeout_seconds: Some(s.graceful_shutdown_timeout_seconds),
        // Failover is bounded per provider (`max_attempts`) by the proxy
        // hooks; this is only Pingora's outer bound.
        max_retries: 10,
        work_stealing: s.work_stealing,
        error_log: s.error_log.clone(),
        user: s.user.clone(),
        group: s.group.clone(),
        ..ServerConf::default()
    };
    if let Some(p) = &s.pid_file {
        conf.pid_file = p.clone();
    }
    if let Some(p) = &s.upgrade_sock {
        conf.upgrade_sock = p.clone();
    }
    if let Some(n) = s.upstream_keepalive_pool_size {
        conf.upstream_keepalive_pool_size = n;
    }
    conf
}

/// Port 0 means "any free port": one is picked here so the address can be
/// printed (Pingora binds later and does not report it).
fn concrete(
    addr: SocketAddr,
    held: &mut Vec<tokio::net::TcpSocket>,
) -> std::io::Result<SocketAddr> {
    if addr.port() != 0 {
        return Ok(addr);
    }
    // The port stays bound here (SO_REUSEADDR, never listening) for the
    // process's life: Pingora binds it again a moment later, which Linux
    // allows beside a socket that does not listen, while no other process's
    // `bind(…:0)` can be handed the port in between. Released at once, it
    // was, now and then, and a client met that process instead.
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    let bound = socket.local_addr()?;
    held.push(socket);
    Ok(bound)
}

pub struct Options {
    pub daemon: bool,
    pub upgrade: bool,
    /// The config file, for reloads and for the process an upgrade starts.
    pub config: PathBuf,
}

/// The binary to start for a SIGUSR2 upgrade: the path this one was started
/// from (so a package upgrade's new file), made absolute now because a
/// daemon changes its working directory.
fn own_program() -> PathBuf {
    let argv0 = std::env::args_os().next().map(PathBuf::from);
    match argv0 {
        Some(p) if p.components().count() > 1 => std::path::absolute(&p).unwrap_or(p),
        _ => std::env::current_exe().unwrap_or_else(|_| PathBuf::from("strait")),
    }
}

/// Builds the server and runs it until it is told to stop.
pub fn run(loaded: Loaded, opts: Options) -> Result<(), String> {
    let Loaded {
        snapshot, settings, ..
    } = loaded;
    let conf = server_conf(&settings, opts.daemon);
    let config_path = std::path::absolute(&opts.config).unwrap_or(opts.config.clone());
    let mut upgrade_args = vec![
        "-c".to_string(),
        config_path.display().to_string(),
        "-u".to_string(),
    ];
    if conf.daemon {
        upgrade_args.push("-d".to_string());
    }
    let upgrade = UpgradeCommand {
        program: own_program(),
        args: upgrade_args,
        upgrade_sock: PathBuf::from(&conf.upgrade_sock),
        config: config_path.clone(),
    };
    let drain_delay = settings.server.drain_delay;
    let pingora_opt = Opt {
        upgrade: opts.upgrade,
        daemon: conf.daemon,
        nocapture: false,
        test: false,
        conf: None,
    };
    let mut server = Server::new_with_opt_and_conf(pingora_opt, conf);
    // Signals are handled from here on, so one sent just after start waits
    // for the service that answers it. A `-u` process registers them only
    // once it has the sockets: until then a SIGINT still ends its wait.
    let early = (!opts.upgrade).then(EarlySignals::install);
    server.bootstrap();
    let signals = early.unwrap_or_else(EarlySignals::install);

    if snapshot.virtual_keys.is_open() {
        log::warn!("no virtual_keys configured: serving without client authentication");
    }
    log::info!(
        "{} model prices (bundled and pricing:); calls of other models are logged with cost_usd null",
        snapshot.prices.len()
    );
    let snapshot = Arc::new(ArcSwap::from_pointee(snapshot));
    // Provider names are looked up once before serving, so the first
    // requests do not meet an unresolved upstream; a slow DNS server delays
    // the start by at most this, and the resolver thread finishes the job.
    let first = snapshot.load_full();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        crate::resolver::resolve_all(&first);
        let _ = done_tx.send(());
    });
    if done_rx.recv_timeout(Duration::from_secs(2)).is_err() {
        log::warn!(
            "provider addresses are still resolving; requests to them get 502 until they are"
        );
    }
    let access_log = Arc::new(
        AccessLog::new(settings.access_log.clone())
            .map_err(|e| format!("cannot open the access log: {e}"))?,
    );
    metrics().set_model_label_limit(settings.max_model_labels);
    let spend = Arc::new(spend_store(&settings.state)?);
    let outputs = Outputs {
        access_log: access_log.clone(),
        spend: spend.clone(),
        snapshot: snapshot.clone(),
    };
    let sessions = Arc::new(Closing::new());
    let gateway = Gateway {
        snapshot: snapshot.clone(),
        access_log: access_log.clone(),
        spend: spend.clone(),
        sessions: sessions.clone(),
    };
    let mut proxy = pingora::proxy::http_proxy_service_with_name(
        &server.configuration,
        gateway,
        "strait gateway",
    );
    // Ports picked for `:0` addresses, held until the process ends.
    let mut held = Vec::new();
    let mut bound = Vec::new();
    for addr in &settings.listen {
        let addr = concrete(*addr, &mut held).map_err(|e| format!("cannot bind {addr}: {e}"))?;
        // Plain HTTP needs no read buffer under Pingora's own (64 KiB per
        // connection, zero-filled): reads go straight into the request
        // buffers, one copy less, and 10,000 open streams cost 600 MiB less.
        let endpoint =
            ListenerConfig::tcp(addr.to_string()).l4_buffer(L4BufferSettings::default().read(0));
        proxy.add_listener(endpoint);
        bound.push(addr);
    }
    let mut tls_bound = Vec::new();
    for l in &settings.tls_listen {
        let addr =
            concrete(l.addr, &mut held).map_err(|e| format!("cannot bind {}: {e}", l.addr))?;
        let (cert, key) = (l.cert.display().to_string(), l.key.display().to_string());
        let mut tls = TlsSettings::intermediate(&cert, &key)
            .map_err(|e| format!("TLS listener {addr}: {e}"))?;
        // HTTP/2 for clients that offer it by ALPN, else HTTP/1.1.
        tls.enable_h2();
        proxy.add_tls_with_settings(&addr.to_string(), None, tls);
        tls_bound.push(addr);
    }
    server.add_service(proxy);
    let lifecycle = Lifecycle::new(bound.iter().chain(&tls_bound).copied().collect());

    let admin_addr = match settings.admin_listen {
        Some(addr) => {
            let addr = concrete(addr, &mut held).map_err(|e| format!("cannot bind {addr}: {e}"))?;
            let mut admin = Service::new(
                "strait admin".to_string(),
                Admin {
                    lifecycle: lifecycle.clone(),
                    snapshot: snapshot.clone(),
                    spend,
                },
            );
            admin.add_tcp(&addr.to_string());
            server.add_service(admin);
            Some(addr)
        }
        None => None,
    };

    let reloader = Reloader::new(config_path, snapshot.clone(), lifecycle.clone(), &settings);
    server.add_service(background_service(
        "strait housekeeping",
        Housekeeping {
            snapshot,
            outputs: outputs.clone(),
            lifecycle: lifecycle.clone(),
            reloader,
            signals: signals.clone(),
            sessions: SessionClose {
                grace: Duration::from_secs(settings.server.grace_period_seconds),
                closing: sessions,
            },
        },
    ));
    for addr in &bound {
        log::info!("gateway listening on {addr}");
    }
    for addr in &tls_bound {
        log::info!("gateway TLS listening on {addr}");
    }
    if let Some(addr) = admin_addr {
        log::info!("admin listening on {addr}");
    }
    server.run(RunArgs {
        shutdown_signal: Box::new(Signals {
            lifecycle,
            drain_delay,
            upgrade,
            outputs,
            early: signals,
        }),
    });
    Ok(())
}

/// The spend store `state:` asks for. Redis is connected on first use, so a
/// Redis that is down at start is handled like one that goes away later.
fn spend_store(state: &StateSettings) -> Result<Store, String> {
    match state {
        StateSettings::Memory { file } => {
            match file {
                Some(f) => log::info!("spend counters: in memory, saved to {}", f.display()),
                None => log::info!("spend counters: in memory (not saved across restarts)"),
            }
            Ok(Store::memory(file.clone()))
        }
        StateSettings::Redis(r) => {
            log::info!(
                "spend counters: Redis at {} (prefix {:?}; when it cannot be reached: {})",
                redacted(&r.url),
                r.key_prefix,
                if r.allow_on_error { "allow" } else { "deny" }
            );
            Store::redis(RedisConfig {
                url: r.url.clone(),
                prefix: r.key_prefix.clone(),
                timeout: r.timeout,
                allow_on_error: r.allow_on_error,
            })
        }
    }
}
