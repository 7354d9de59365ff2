//! The metrics registry: label caps, the text format, usage and cost series.

use super::*;

#[test]
fn model_labels_are_capped() {
    let m = Metrics::new();
    m.set_model_label_limit(2);
    assert_eq!(m.model_label("a"), "a");
    assert_eq!(m.model_label("b"), "b");
    assert_eq!(m.model_label("c"), "other");
    assert_eq!(m.model_label("a"), "a");
}

fn tokens() -> Tokens {
    Tokens {
        input: 11,
        output: 7,
        cached: 2,
        cache_creation: 0,
        reasoning: 3,
    }
}

#[test]
fn renders_text_format_with_tokens_and_cost() {
    let m = Metrics::new();
    m.add_usage("openai", Some("gpt-4o"), "team-a", &tokens(), Some(0.25));
    m.add_usage("openai", Some("gpt-4o"), "team-a", &tokens(), Some(0.5));
    m.add_usage(
        "openai",
        Some("gpt-4o"),
        NO_VIRTUAL_KEY,
        &tokens(),
        Some(1.0),
    );
    let text = String::from_utf8(m.render()).unwrap();
    assert!(text.contains(
        r#"strait_tokens_total{kind="input",model="gpt-4o",provider="openai",virtual_key="team-a"} 22"#
    ));
    assert!(text.contains(
        r#"strait_tokens_total{kind="input",model="gpt-4o",provider="openai",virtual_key="none"} 11"#
    ));
    assert!(text.contains(
        r#"strait_cost_usd_total{model="gpt-4o",provider="openai",virtual_key="team-a"} 0.75"#
    ));
    // Series appear once something was counted in them.
    assert!(!text.contains(r#"kind="cache_creation""#));
    assert!(!text.contains("strait_cost_unpriced_total{"));
    assert!(text.contains(r#"strait_config_reloads_total{result="error"} 0"#));
    assert!(text.contains("# TYPE strait_inflight_requests gauge"));
    assert!(text.contains("# TYPE strait_cost_usd_total counter"));
}

#[test]
fn unpriced_calls_and_models_past_the_cap_are_counted() {
    let m = Metrics::new();
    m.set_model_label_limit(1);
    m.add_usage("gemini", Some("a"), "k", &tokens(), None);
    m.add_usage("gemini", Some("b"), "k", &tokens(), None);
    m.add_usage("gemini", Some("c"), "k", &tokens(), Some(2.0));
    m.add_usage("gemini", None, "k", &tokens(), None);
    let text = String::from_utf8(m.render()).unwrap();
    assert!(text.contains(r#"strait_cost_unpriced_total{model="a",provider="gemini"} 1"#));
    assert!(text.contains(r#"strait_cost_unpriced_total{model="other",provider="gemini"} 2"#));
    assert!(text
        .contains(r#"strait_cost_usd_total{model="other",provider="gemini",virtual_key="k"} 2"#));
    assert!(text.contains(
        r#"strait_tokens_total{kind="output",model="other",provider="gemini",virtual_key="k"} 21"#
    ));
}
