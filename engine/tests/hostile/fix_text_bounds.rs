//! Defect 4: fix templates and finding text are bounded.

use super::*;

#[test]
fn a_fix_template_repeating_a_megabyte_value_stays_within_the_limit() {
    // 200 placeholders filled with one 1 MB value made 200 MB of fix text per finding.
    let fix = vec!["{{v}}"; 200].join(" ");
    let body = "fn check(host) {\n    let v = \"\";\n    v.pad(1000000, \"x\");\n    [#{ message: \"big\", fix_values: #{ v: v } }]\n}";
    let rules = load_with(
        vec![pack(
            "p",
            &[("T-FIX-001", &rule_with_fix("T-FIX-001", &fix, body))],
        )],
        Limits::default(),
    );
    let evaluation = evaluate(&rules, &[host("FS01")]);
    let finding = only_finding(&evaluation);
    let limit = Limits::default().max_finding_bytes;
    assert!(finding.fix.len() <= limit + 200, "{}", finding.fix.len());
    assert!(
        finding.fix.ends_with(&format!(
            "…[cut: the fix guidance is longer than the limit of {limit} bytes]"
        )),
        "{}",
        &finding.fix[finding.fix.len() - 120..]
    );
    let value = finding.fix_values["v"].0.as_str().unwrap();
    assert!(value.len() <= limit / 4 + 40, "{}", value.len());
    assert!(value.ends_with(&format!("…[{} bytes cut]", 1_000_000 - limit / 4)));
    let note = finding.evidence.last().unwrap();
    assert_eq!(note.kind, "note");
    assert!(note
        .note
        .as_deref()
        .unwrap()
        .starts_with("hiveward cut this finding to its limits"));
    assert!(json_len(finding) < 3 * limit, "{}", json_len(finding));
}

#[test]
fn long_messages_and_evidence_texts_are_cut_visibly() {
    // Rhai bounds the strings of one value together, so three texts of 300 KB.
    let body = "fn check(host) {\n    let v = \"\";\n    v.pad(300000, \"m\");\n    [#{ message: v, evidence: [#{ kind: \"registry\", path: v, value_name: \"n\", observed: [v], file: \"f\" }] }]\n}";
    let limits = Limits {
        max_finding_bytes: 8_192,
        ..Limits::default()
    };
    let rules = load_with(
        vec![pack("p", &[("T-TEXT-001", &rule("T-TEXT-001", "", body))])],
        limits,
    );
    let evaluation = evaluate(&rules, &[host("FS01")]);
    let finding = only_finding(&evaluation);
    // A quarter of the budget for one text, and the marker saying how much was cut.
    assert_eq!(
        finding.message,
        format!("{}…[{} bytes cut]", "m".repeat(2_048), 300_000 - 2_048)
    );
    let evidence = &finding.evidence[0];
    assert!(evidence.path.as_deref().unwrap().contains("bytes cut"));
    assert_eq!(evidence.value_name.as_deref(), Some("n"));
    assert!(json_len(finding) < 3 * 8_192, "{}", json_len(finding));
}

#[test]
fn all_findings_of_one_rule_on_one_host_share_a_budget() {
    // 200 findings, each with a fix of 50 × 4,000 bytes.
    let fix = vec!["{{v}}"; 50].join("");
    let body = "fn check(host) {\n    let v = \"\";\n    v.pad(4000, \"z\");\n    let all = [];\n    for i in 0..200 { all.push(#{ message: `finding ${i}`, fix_values: #{ v: v } }); }\n    all\n}";
    let limits = Limits {
        max_finding_bytes: 8_192,
        max_findings_bytes: 65_536,
        ..Limits::default()
    };
    let rules = load_with(
        vec![pack(
            "p",
            &[("T-MANY-001", &rule_with_fix("T-MANY-001", &fix, body))],
        )],
        limits,
    );
    let evaluation = evaluate(&rules, &[host("FS01")]);
    assert!(
        evaluation.rule_errors.is_empty(),
        "{:?}",
        evaluation.rule_errors
    );
    assert_eq!(evaluation.findings.len(), 200, "every finding is kept");
    let fix_bytes: usize = evaluation.findings.iter().map(|f| f.fix.len()).sum();
    // The shared budget, then at most 1 KiB (and a marker) per further finding.
    assert!(fix_bytes <= 65_536 + 200 * (1_024 + 100), "{fix_bytes}");
    assert!(evaluation
        .findings
        .iter()
        .any(|finding| finding.fix.len() <= 1_024 + 100));
}

#[test]
fn rule_error_messages_and_not_applicable_reasons_are_bounded() {
    let throws = rule(
        "T-THROW-001",
        "",
        "fn check(host) {\n    let v = \"\";\n    v.pad(300000, \"e\");\n    throw v;\n}",
    );
    let declines = rule(
        "T-NA-001",
        "",
        "fn check(host) {\n    let v = \"\";\n    v.pad(300000, \"r\");\n    not_applicable(v)\n}",
    );
    let rules = load_with(
        vec![pack(
            "p",
            &[("T-THROW-001", &throws), ("T-NA-001", &declines)],
        )],
        Limits::default(),
    );
    let evaluation = evaluate(&rules, &[host("FS01")]);
    assert_eq!(evaluation.rule_errors.len(), 1);
    let message = &evaluation.rule_errors[0].message;
    assert!(message.len() <= 4_096 + 40, "{}", message.len());
    assert!(
        message.ends_with("bytes cut]"),
        "{}",
        &message[message.len() - 40..]
    );
    let reason = evaluation
        .outcomes
        .iter()
        .find(|outcome| outcome.rule == "T-NA-001")
        .and_then(|outcome| outcome.reason.clone())
        .unwrap();
    assert_eq!(
        reason,
        format!("{}…[{} bytes cut]", "r".repeat(4_096), 300_000 - 4_096)
    );
}

/// The fix rendering before issue 12: each value replaced in turn over the whole text.
fn sequential_render(fix: &str, values: &BTreeMap<String, Value>) -> String {
    let mut text = fix.to_string();
    for (name, value) in values {
        let rendered = match value {
            Value::String(text) => text.clone(),
            Value::Array(items) => items
                .iter()
                .map(|item| match item {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", "),
            other => other.to_string(),
        };
        text = text.replace(&format!("{{{{{name}}}}}"), &rendered);
    }
    text
}

#[test]
fn fix_guidance_within_the_limits_is_rendered_as_before() {
    let rules = RuleSet::load(PackSource::builtin(), Limits::default()).unwrap();
    let mut templates = 0;
    for compiled in rules.rules() {
        let fix = &compiled.meta.fix;
        // Every placeholder the template names, filled with a string, an array and a number.
        let mut values = BTreeMap::new();
        for (index, part) in fix.split("{{").skip(1).enumerate() {
            if let Some((name, _)) = part.split_once("}}") {
                let value = match index % 3 {
                    0 => Value::String(format!("<{name} value>")),
                    1 => serde_json::json!(["A", 2, "C"]),
                    _ => serde_json::json!(17),
                };
                values.insert(name.to_string(), value);
            }
        }
        if !values.is_empty() {
            templates += 1;
        }
        values.insert("unused".to_string(), Value::String("x".to_string()));
        assert_eq!(
            compiled.meta.render_fix(&values),
            sequential_render(fix, &values),
            "{}",
            compiled.meta.id
        );
        let (within, cut) = compiled.meta.render_fix_within(&values, 1 << 20);
        assert!(!cut);
        assert_eq!(within, sequential_render(fix, &values));
    }
    assert!(templates >= 5, "the built-in rules fill placeholders");
    let mut meta = rules.rules()[0].meta.clone();
    meta.fix = "{{{a}}} {{b} {{a}}{{".to_string();
    let values = BTreeMap::from([("a".to_string(), Value::String("1".to_string()))]);
    assert_eq!(meta.render_fix(&values), "{1} {{b} 1{{");
}
