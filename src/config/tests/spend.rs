//! Rows for `state:` and the spend limits of `virtual_keys:`.

use std::path::PathBuf;

use super::*;
use crate::config::StateSettings;
use crate::spend::{Budget, KeyLimits, Period};

fn vk(fields: &str) -> String {
    format!("virtual_keys:\n  - {{ name: a, value: v-a{fields} }}\n")
}

#[test]
fn spend_rows() {
    check(vec![
        row(
            Error,
            vk(", tokens_per_minute: 0"),
            "virtual key `a`: tokens_per_minute must be at least 1",
            2,
            47,
        ),
        row(
            Error,
            vk(", budget: { period: day }"),
            "virtual key `a`: a budget needs `usd`, `tokens` or both",
            2,
            36,
        ),
        row(
            Error,
            vk(", budget: { usd: -1 }"),
            "virtual key `a`: budget.usd must be a positive number of dollars",
            2,
            43,
        ),
        row(
            Error,
            vk(", budget: { tokens: 0 }"),
            "virtual key `a`: budget.tokens must be at least 1",
            2,
            46,
        ),
        row(
            Error,
            vk(", budget: { usd: 5, period: year }"),
            "virtual key `a`: unknown budget period `year` (day, week, month, total)",
            2,
            54,
        ),
        row(
            Error,
            vk(", budget: { usd: 5, tokns: 3 }"),
            "unknown field `tokns`",
            2,
            46,
        ),
        row(
            Error,
            "state: { backend: redis }\n",
            "`backend: redis` needs state.url",
            1,
            19,
        ),
        row(
            Error,
            "state: { backend: redis, url: \"http://h:1\" }\n",
            "state.url is not a Redis URL",
            1,
            31,
        ),
        row(
            Error,
            "state: { backend: postgres }\n",
            "unknown state.backend `postgres` (memory, redis)",
            1,
            19,
        ),
        row(
            Error,
            "state: { url: \"redis://h\" }\n",
            "state.url is for `backend: redis`",
            1,
            15,
        ),
        row(
            Error,
            "state: { timeout_ms: 20 }\n",
            "state.timeout_ms is for `backend: redis`",
            1,
            22,
        ),
        row(
            Error,
            "state: { backend: redis, url: \"redis://h\", file: s.json }\n",
            "state.file is for `backend: memory`",
            1,
            50,
        ),
        row(
            Error,
            "state: { backend: redis, url: \"redis://h\", on_error: maybe }\n",
            "unknown state.on_error `maybe` (allow, deny)",
            1,
            54,
        ),
        row(
            Error,
            "state: { backend: redis, url: \"redis://h\", timeout_ms: 0 }\n",
            "state.timeout_ms must be at least 1",
            1,
            56,
        ),
        row(
            CheckError,
            "state: { backend: redis, url: env.UNSET }\n",
            "state.url: environment variable UNSET is not set",
            1,
            31,
        ),
        row(
            Error,
            "state: { backend: memory, flie: s.json }\n",
            "unknown field `flie`",
            1,
            27,
        ),
    ]);
}

#[test]
fn limits_and_state_as_loaded() {
    let yaml = "virtual_keys:\n  - { name: a, value: v-a, requests_per_minute: 600, tokens_per_minute: 200000,\n      budget: { usd: 50, tokens: 10000000, period: week } }\n  - { name: b, value: v-b, budget: { tokens: 5 } }\n\
                state: { backend: redis, url: \"redis://:pw@127.0.0.1:6379/2\", on_error: deny }\n";
    let loaded = load(yaml, Mode::Check).expect("loads");
    let keys = &loaded.snapshot.virtual_keys;
    assert_eq!(
        keys.policy("a").unwrap().limits,
        KeyLimits {
            requests_per_minute: Some(600),
            tokens_per_minute: Some(200_000),
            budget: Some(Budget {
                usd: Some(50.0),
                tokens: Some(10_000_000),
                period: Period::Week
            }),
        }
    );
    let b = keys.policy("b").unwrap().limits.budget.clone().unwrap();
    assert_eq!(
        (b.usd, b.tokens, b.period),
        (None, Some(5), Period::Month),
        "month by default"
    );
    let StateSettings::Redis(r) = &loaded.settings.state else {
        panic!("redis: {:?}", loaded.settings.state)
    };
    assert_eq!(
        (
            r.key_prefix.as_str(),
            r.allow_on_error,
            r.timeout.as_millis()
        ),
        ("strait:", false, 50)
    );
    let shown = format!("{:?}", loaded.settings.state);
    assert!(!shown.contains("pw"), "the password is not shown: {shown}");

    let memory = load("state: { file: state/s.json }\n", Mode::Check).expect("loads");
    assert_eq!(
        memory.settings.state,
        StateSettings::Memory {
            file: Some(PathBuf::from(NOWHERE).join("state/s.json"))
        }
    );
    let default = load("{}\n", Mode::Check).expect("loads");
    assert_eq!(default.settings.state, StateSettings::Memory { file: None });
}

/// `conf/strait.yaml`'s commented examples of `state:` and of a limited
/// virtual key load once uncommented, and mean what they say.
#[test]
fn the_reference_configs_spend_examples_load_uncommented() {
    const REFERENCE: &str = include_str!("../../../conf/strait.yaml");
    let block = |start: &str| -> String {
        REFERENCE
            .lines()
            .skip_while(|l| !l.starts_with(start))
            .take_while(|l| {
                l.starts_with('#') && !l.starts_with("# redis:") || l.starts_with(start)
            })
            .filter(|l| !l.starts_with("# memory") && !l.starts_with("# saved"))
            .map(|l| format!("{}\n", l.trim_start_matches("# ")))
            .collect()
    };
    let memory = block("# state:");
    let loaded = load(&memory, Mode::Check).expect(&memory);
    assert_eq!(
        loaded.settings.state,
        StateSettings::Memory {
            file: Some(PathBuf::from("/var/lib/strait/state.json"))
        }
    );
    let redis: String = REFERENCE
        .lines()
        .skip_while(|l| !l.starts_with("# redis:"))
        .skip(1)
        .take_while(|l| l.starts_with("# "))
        .map(|l| format!("{}\n", &l[2..]))
        .collect();
    let url_env =
        |name: &str| (name == "STRAIT_REDIS_URL").then(|| "redis://127.0.0.1:6379/0".to_string());
    let loaded =
        load_str(&redis, "t.yaml", Path::new(NOWHERE), Mode::Check, &url_env).expect(&redis);
    let StateSettings::Redis(r) = &loaded.settings.state else {
        panic!("{redis}")
    };
    assert_eq!(
        (
            r.key_prefix.as_str(),
            r.allow_on_error,
            r.timeout.as_millis()
        ),
        ("strait:", true, 50)
    );

    let key: String = REFERENCE
        .lines()
        .skip_while(|l| !l.contains("- name: batch-jobs"))
        .take_while(|l| l.starts_with("  #"))
        .map(|l| format!("  {}\n", l.trim_start().trim_start_matches("# ")))
        .collect();
    let yaml = format!("virtual_keys:\n{key}").replace("env.STRAIT_BATCH_KEY", "v-batch");
    let loaded = load(&yaml, Mode::Check).expect(&yaml);
    let limits = &loaded
        .snapshot
        .virtual_keys
        .policy("batch-jobs")
        .expect("the key")
        .limits;
    assert_eq!(limits.tokens_per_minute, Some(200_000));
    assert_eq!(
        limits.budget.as_ref().map(|b| (b.usd, b.tokens, b.period)),
        Some((Some(50.0), Some(10_000_000), Period::Month))
    );
}
