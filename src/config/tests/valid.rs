//! Configs that load: the defaults of an empty file, the reference config,
//! and files read next to the config.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::config::{read, ServerSettings, TlsListen};
use crate::credential::Credential;
use crate::keys::ModelFilter;
use crate::observe::AccessLogTarget;
use crate::providers::ProviderKind;

const REFERENCE: &str = include_str!("../../../conf/strait.yaml");

/// The `env.` variables `conf/strait.yaml` names.
const REFERENCE_ENV: [&str; 5] = [
    "ANTHROPIC_API_KEY",
    "AZURE_API_KEY",
    "GEMINI_API_KEY",
    "OPENAI_API_KEY",
    "STRAIT_TEAM_A_KEY",
];

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("an address")
}

/// The values README and `conf/strait.yaml` document, written out rather
/// than read from `defaults.rs`, so that changing one there fails here.
#[test]
fn an_empty_config_gets_the_documented_defaults() {
    let loaded = load("{}\n", Mode::Check).expect("loads");
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let s = &loaded.settings;
    assert_eq!(s.listen, [addr("127.0.0.1:8080")]);
    assert_eq!(s.admin_listen, None);
    assert!(s.tls_listen.is_empty());
    assert_eq!(s.access_log, AccessLogTarget::Stdout);
    assert_eq!(s.max_model_labels, 100);
    assert!(!s.watch);
    assert_eq!(s.debounce, Duration::from_millis(500));
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    assert_eq!(
        s.server,
        ServerSettings {
            threads: cpus,
            daemon: false,
            work_stealing: false,
            grace_period_seconds: 300,
            graceful_shutdown_timeout_seconds: 5,
            drain_delay: Duration::ZERO,
            pid_file: None,
            upgrade_sock: None,
            error_log: None,
            user: None,
            group: None,
            upstream_keepalive_pool_size: None,
        }
    );
    let l = &loaded.snapshot.limits;
    assert_eq!(l.max_body_bytes, 32 * 1024 * 1024);
    assert_eq!(l.max_header_bytes, 64 * 1024);
    assert_eq!(l.max_headers, 100);
    assert_eq!(l.client_read_timeout, Duration::from_secs(60));
    assert_eq!(l.keepalive_timeout, 60);
    assert!(loaded.snapshot.virtual_keys.is_open());
    assert!(ProviderKind::ALL
        .iter()
        .all(|k| loaded.snapshot.provider(*k).is_none()));
}

#[test]
fn a_provider_and_key_left_unsaid_get_the_documented_defaults() {
    let loaded = load(
        "providers: { openai: { keys: [ { value: sk } ] } }\n",
        Mode::Check,
    )
    .expect("loads");
    let p = loaded
        .snapshot
        .provider(ProviderKind::OpenAi)
        .expect("openai");
    assert_eq!(p.timeouts.connect, Duration::from_secs(10));
    assert_eq!(p.timeouts.first_byte, Duration::from_secs(600));
    assert_eq!(p.timeouts.stream_idle, Duration::from_secs(300));
    assert_eq!(p.timeouts.total, None);
    assert_eq!(p.max_attempts, 3);
    assert!(p.retry_on_status.is_empty());
    assert!(p.extra_headers.is_empty());
    assert!(p.inject_stream_usage);
    let k = &p.keys[0];
    assert_eq!(k.name, "key0");
    assert_eq!(k.weight, 1.0);
    assert!(matches!(k.models, ModelFilter::Any));
    assert!(matches!(k.credential, Credential::Key(_)));
    assert_eq!(k.upstream.host, "api.openai.com");
}

#[test]
fn stream_usage_injection_is_switched_off_per_provider() {
    let loaded = load(
        "providers:\n  openai: { keys: [ { value: sk } ], inject_stream_usage: false }\n  gemini: { keys: [ { value: k } ] }\n",
        Mode::Check,
    )
    .expect("loads");
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let on = |kind| loaded.snapshot.provider(kind).unwrap().inject_stream_usage;
    assert!(!on(ProviderKind::OpenAi));
    assert!(on(ProviderKind::Gemini));
}

#[test]
fn the_reference_config_loads_with_its_variables_set() {
    let env = |name: &str| REFERENCE_ENV.contains(&name).then(|| format!("v-{name}"));
    let loaded = load_str(
        REFERENCE,
        "strait.yaml",
        Path::new("conf"),
        Mode::Check,
        &env,
    )
    .expect("conf/strait.yaml loads");
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let s = &loaded.settings;
    assert_eq!(s.listen, [addr("127.0.0.1:8080")]);
    assert_eq!(s.admin_listen, Some(addr("127.0.0.1:9090")));
    assert_eq!(s.server.threads, 2);
    assert_eq!(s.access_log, AccessLogTarget::Stdout);
    assert!(!loaded.snapshot.virtual_keys.is_open());
    for kind in [
        ProviderKind::OpenAi,
        ProviderKind::Anthropic,
        ProviderKind::Gemini,
        ProviderKind::Azure,
    ] {
        let p = loaded.snapshot.provider(kind).expect("configured");
        assert!(p.keys.iter().all(|k| k.usable()), "{kind:?}");
    }
    assert!(loaded.snapshot.provider(ProviderKind::Vertex).is_none());
}

/// Serving starts with nothing set, and says which variable each key waits
/// for; `strait check` refuses the same file.
#[test]
fn the_reference_config_without_its_variables() {
    let none = |_: &str| None;
    let loaded = load_str(
        REFERENCE,
        "strait.yaml",
        Path::new("conf"),
        Mode::Run,
        &none,
    )
    .expect("serving starts");
    let mut unset: Vec<_> = loaded
        .warnings
        .iter()
        .map(|w| w.unset_env.clone().expect("an unset variable"))
        .collect();
    unset.sort();
    assert_eq!(unset, REFERENCE_ENV);
    let errors = load_str(
        REFERENCE,
        "strait.yaml",
        Path::new("conf"),
        Mode::Check,
        &none,
    )
    .err()
    .expect("check refuses it");
    assert_eq!(errors.len(), REFERENCE_ENV.len());
    assert!(errors.iter().all(|e| e.unset_env.is_some()));
}

#[test]
fn a_set_variable_is_the_value() {
    let yaml = "virtual_keys: [ { name: a, value: env.SET } ]
providers: { openai: { keys: [ { value: env.SET } ] } }
";
    let loaded = load(yaml, Mode::Check).expect("loads");
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let p = loaded
        .snapshot
        .provider(ProviderKind::OpenAi)
        .expect("openai");
    assert!(matches!(p.keys[0].credential, Credential::Key(_)));
    assert_eq!(p.keys[0].missing_env, None);
}

#[test]
fn only_an_unset_variable_is_marked_as_one() {
    let yaml = "providers:\n  openai:\n    keys: [ { value: env.UNSET }, { value: sk, id: 1 } ]\n";
    let warnings = load(yaml, Mode::Run).expect("loads").warnings;
    let marked: Vec<_> = warnings.iter().map(|w| w.unset_env.as_deref()).collect();
    assert_eq!(marked, [Some("UNSET"), None], "{warnings:?}");
}

#[test]
fn every_server_field_is_carried() {
    let yaml = "server:
  threads: 3
  pid_file: /run/s.pid
  upgrade_sock: /run/s.sock
  error_log: /var/log/s.log
  user: u
  group: g
  daemon: true
  work_stealing: true
  grace_period_seconds: 7
  graceful_shutdown_timeout_seconds: 8
  drain_delay_seconds: 9
  upstream_keepalive_pool_size: 10
access_log: off
metrics: { max_model_labels: 5 }
reload: { watch: true, debounce_ms: 20 }
";
    let s = load(yaml, Mode::Check).expect("loads").settings;
    let some = |s: &str| Some(s.to_string());
    assert_eq!(
        s.server,
        ServerSettings {
            threads: 3,
            daemon: true,
            work_stealing: true,
            grace_period_seconds: 7,
            graceful_shutdown_timeout_seconds: 8,
            drain_delay: Duration::from_secs(9),
            pid_file: some("/run/s.pid"),
            upgrade_sock: some("/run/s.sock"),
            error_log: some("/var/log/s.log"),
            user: some("u"),
            group: some("g"),
            upstream_keepalive_pool_size: Some(10),
        }
    );
    assert_eq!(s.access_log, AccessLogTarget::Off);
    assert_eq!(s.max_model_labels, 5);
    assert!(s.watch);
    assert_eq!(s.debounce, Duration::from_millis(20));
}

#[test]
fn access_log_targets() {
    for (written, target) in [
        ("\"-\"", AccessLogTarget::Stdout),
        ("\"off\"", AccessLogTarget::Off),
        (
            "logs/a.log",
            AccessLogTarget::File(PathBuf::from(NOWHERE).join("logs/a.log")),
        ),
    ] {
        let s = load(&format!("access_log: {written}\n"), Mode::Check).expect("loads");
        assert_eq!(s.settings.access_log, target, "{written}");
    }
}

#[test]
fn an_open_gateway_beyond_loopback_when_asked_for() {
    for yaml in [
        "listen: [\"0.0.0.0:8080\"]\nallow_unauthenticated: true\n",
        "listen: [\"0.0.0.0:8080\"]\nvirtual_keys: [ { name: a, value: v } ]\n",
    ] {
        load(yaml, Mode::Check).expect(yaml);
    }
}

/// Relative paths are relative to the config file's directory.
#[test]
fn files_next_to_the_config_are_read() {
    let dir = std::env::temp_dir().join(format!("strait-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("a cert");
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).expect("written");
    write("cert.pem", &ck.cert.pem());
    write("key.pem", &ck.key_pair.serialize_pem());
    write(
        "sa.json",
        &strait_mock::test_service_account_json("https://t.example/token"),
    );
    let yaml = "tls_listen: [ { addr: \"127.0.0.1:8443\", cert: cert.pem, key: key.pem } ]
providers:
  openai: { network_config: { ca_cert_pem: cert.pem }, keys: [ { value: sk } ] }
  vertex:
    keys:
      - name: gcp
        vertex_key_config: { project_id: p, region: us-central1, auth_credentials: sa.json }
";
    let loaded = load_in(yaml, Mode::Check, &dir);
    std::fs::remove_dir_all(&dir).expect("removed");
    let loaded = loaded.expect("loads");
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(
        loaded.settings.tls_listen,
        [TlsListen {
            addr: addr("127.0.0.1:8443"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        }]
    );
    let vertex = loaded
        .snapshot
        .provider(ProviderKind::Vertex)
        .expect("vertex");
    let key = &vertex.keys[0];
    assert!(matches!(key.credential, Credential::Token(_)));
    assert_eq!(key.upstream.host, "us-central1-aiplatform.googleapis.com");
}

#[test]
fn an_unreadable_file_is_a_whole_file_diagnostic() {
    let path = Path::new(NOWHERE).join("strait.yaml");
    let errors = read(&path).expect_err("no such file");
    assert_eq!((errors[0].line, errors[0].column), (0, 0));
    assert!(
        errors[0]
            .to_string()
            .starts_with("/nonexistent-strait-test/strait.yaml: cannot read config: "),
        "{}",
        errors[0]
    );
}
