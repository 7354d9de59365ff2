//! `telemetry:`: every message of its validation, the defaults and the
//! exact shape issue 16 gives, and reloads keeping an unchanged exporter.

use std::sync::Arc;

use super::*;

#[test]
fn telemetry_rows() {
    check(vec![
        row(
            Error,
            "telemetry: { otlp_endpoint: \"127.0.0.1:4318\" }\n",
            "telemetry.otlp_endpoint is not an http:// or https:// URL without a query",
            1,
            29,
        ),
        row(
            Error,
            "telemetry: { otlp_endpoint: \"http://h:4318/?token=x\" }\n",
            "is not an http:// or https:// URL",
            1,
            29,
        ),
        row(
            Error,
            "telemetry: { otlp_endpoint: \"http://user:tok@h:4318\" }\n",
            "without a query or user info",
            1,
            29,
        ),
        row(
            Error,
            "telemetry: { otlp_endpoint: \"http://h\", max_queue_size: 1000001 }\n",
            "telemetry.max_queue_size is at most 1000000",
            1,
            57,
        ),
        row(
            Error,
            "telemetry: { otlp_endpoint: \"ftp://h\" }\n",
            "is not an http:// or https:// URL",
            1,
            29,
        ),
        row(
            Error,
            "telemetry: {}\n",
            "missing field `otlp_endpoint`",
            1,
            12,
        ),
        row(
            Error,
            "telemetry: { otlp_endpoint: \"http://h\", sample_ratio: 1.5 }\n",
            "telemetry.sample_ratio must be between 0.0 and 1.0",
            1,
            55,
        ),
        row(
            Error,
            "telemetry: { otlp_endpoint: \"http://h\", sample_ratio: -0.1 }\n",
            "telemetry.sample_ratio must be between 0.0 and 1.0",
            1,
            55,
        ),
        row(
            Error,
            "telemetry: { otlp_endpoint: \"http://h\", service_name: \" \" }\n",
            "telemetry.service_name is empty",
            1,
            55,
        ),
        row(
            Error,
            "telemetry: { otlp_endpoint: \"http://h\", protocol: grpc }\n",
            "telemetry.protocol grpc is not supported yet; use http/protobuf",
            1,
            51,
        ),
        row(
            Error,
            "telemetry: { otlp_endpoint: \"http://h\", protocol: thrift }\n",
            "unknown telemetry.protocol `thrift` (http/protobuf, grpc)",
            1,
            51,
        ),
        row(
            Error,
            "telemetry: { otlp_endpoint: \"http://h\", max_queue_size: 0 }\n",
            "telemetry.max_queue_size must be at least 1",
            1,
            57,
        ),
        row(
            Error,
            "telemetry: { otlp_endpoint: \"http://h\", headers: { \"bad name\": x } }\n",
            "telemetry.headers.bad name: `bad name` is not a header name",
            1,
            64,
        ),
        row(
            Error,
            "telemetry: { otlp_endpoint: \"http://h\", headers: { authorization: \"\" } }\n",
            "telemetry.headers.authorization is empty",
            1,
            67,
        ),
        row(
            Error,
            "telemetry: { otlp_endpoint: \"http://h\", headers: { authorization: \"a\\nb\" } }\n",
            "telemetry.headers.authorization is not a valid header value",
            1,
            67,
        ),
        row(
            Error,
            "telemetry: { otlp_endpoint: \"http://h\", bogus: 1 }\n",
            "unknown field `bogus`",
            1,
            41,
        ),
        row(
            CheckError,
            "telemetry: { otlp_endpoint: \"http://h\", headers: { authorization: env.UNSET } }\n",
            "telemetry.headers.authorization: environment variable UNSET is not set",
            1,
            67,
        ),
    ]);
}

/// The issue's config, as written there.
const ISSUE: &str = "telemetry:
  otlp_endpoint: \"http://127.0.0.1:4318\"   # OTLP/HTTP (protobuf); traces go to {endpoint}/v1/traces
  service_name: strait                     # default \"strait\"
  sample_ratio: 1.0                        # 0.0–1.0, parent-based: a sampled client trace is always kept
  headers: { authorization: env.SET }   # optional, sent with every export
  # protocol: grpc                         # optional OTLP/gRPC on :4317
";

#[test]
fn the_issue_shape_loads_with_its_secret_resolved() {
    let loaded = load(ISSUE, Mode::Check).expect("loads");
    let t = loaded.snapshot.telemetry.expect("telemetry on");
    assert_eq!(t.settings.traces_url, "http://127.0.0.1:4318/v1/traces");
    assert_eq!(t.settings.service_name, "strait");
    assert_eq!(t.settings.sample_ratio, 1.0);
    assert_eq!(
        t.settings.headers,
        [("authorization".to_string(), "from-env".to_string())]
    );
    // The token is not in what a log would print.
    assert!(!format!("{:?}", t.settings).contains("from-env"));
}

#[test]
fn defaults_and_an_unset_header_secret() {
    let loaded = load(
        "telemetry: { otlp_endpoint: \"https://otel.example:4318/\" }\n",
        Mode::Check,
    )
    .expect("loads");
    let t = loaded.snapshot.telemetry.expect("telemetry on");
    assert_eq!(t.settings.traces_url, "https://otel.example:4318/v1/traces");
    assert_eq!(t.settings.service_name, "strait");
    assert_eq!(t.settings.sample_ratio, 1.0);
    assert_eq!(t.settings.max_queue, 2048);
    assert!(t.settings.headers.is_empty());
    assert!(load("{}\n", Mode::Check)
        .unwrap()
        .snapshot
        .telemetry
        .is_none());
    // Serving, an unset token turns tracing off with a warning rather than
    // exporting without it.
    let loaded = load(
        "telemetry: { otlp_endpoint: \"http://h\", headers: { authorization: env.UNSET } }\n",
        Mode::Run,
    )
    .expect("loads");
    assert!(loaded.snapshot.telemetry.is_none());
    assert!(loaded.warnings[0].message.contains("it is disabled"));
}

#[test]
fn a_reload_keeps_an_unchanged_exporter_and_replaces_a_changed_one() {
    let yaml = |ratio: &str| {
        format!("telemetry: {{ otlp_endpoint: \"http://h\", sample_ratio: {ratio} }}\n")
    };
    let old = load(&yaml("0.5"), Mode::Run).unwrap().snapshot;
    let mut same = load(&yaml("0.5"), Mode::Run).unwrap().snapshot;
    same.adopt_telemetry(&old);
    assert!(Arc::ptr_eq(
        same.telemetry.as_ref().unwrap(),
        old.telemetry.as_ref().unwrap()
    ));
    let mut changed = load(&yaml("0.25"), Mode::Run).unwrap().snapshot;
    changed.adopt_telemetry(&old);
    assert!(!Arc::ptr_eq(
        changed.telemetry.as_ref().unwrap(),
        old.telemetry.as_ref().unwrap()
    ));
    let mut off = load("{}\n", Mode::Run).unwrap().snapshot;
    off.adopt_telemetry(&old);
    assert!(off.telemetry.is_none());
}
