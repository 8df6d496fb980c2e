//! Findings.

use super::*;

#[test]
fn findings_carry_the_message_filled_fix_and_inferred_flag() {
    let inferred = r#"export const RULE = #{
    id: "T-FIND-001",
    pack: "p",
    title: "Hardening level too low",
    description: "d",
    severity: "high",
    inferred: true,
    fix: "Set `{{value_name}}` to {{required}} on {{host}}; allow {{names}}. {{unknown}} stays.",
};

fn check(host) {
    let s = host.setting(`HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters`, "SmbServerNameHardeningLevel", 0);
    #{
        message: `level ${s.value} on ${host.name}`,
        evidence: [s],
        fix_values: #{ value_name: "SmbServerNameHardeningLevel", required: 1, host: host.name, names: ["alias1", "alias2"] },
    }
}
"#;
    let plain = rule_text(
        "T-FIND-002",
        "p",
        "",
        "fn check(host) {\n    #{ message: \"plain\" }\n}",
    );
    let flagged = rule_text(
        "T-FIND-003",
        "p",
        "",
        "fn check(host) {\n    #{ message: \"flagged\", inferred: true }\n}",
    );
    let rules = load(vec![pack(
        "p",
        &[
            ("T-FIND-001", inferred),
            ("T-FIND-002", &plain),
            ("T-FIND-003", &flagged),
        ],
    )]);
    let evaluation = evaluate(&rules, &[level_host("FS01", 0)]);
    no_rule_errors(&evaluation);
    let by_rule: BTreeMap<&str, &Finding> = evaluation
        .findings
        .iter()
        .map(|finding| (finding.rule.as_str(), finding))
        .collect();
    let finding = by_rule["T-FIND-001"];
    assert_eq!(finding.pack, "p");
    assert_eq!(finding.severity, Severity::High);
    assert_eq!(finding.host, "FS01");
    assert_eq!(finding.title, "Hardening level too low");
    assert_eq!(finding.message, "level 0 on FS01");
    assert_eq!(
        finding.fix,
        "Set `SmbServerNameHardeningLevel` to 1 on FS01; allow alias1, alias2. {{unknown}} stays."
    );
    assert_eq!(
        finding.fix_values.get("required"),
        Some(&JsonValue(json!(1)))
    );
    assert_eq!(
        finding.fix_values.get("names"),
        Some(&JsonValue(json!(["alias1", "alias2"])))
    );
    assert!(finding.inferred, "the rule metadata says inferred: true");
    assert_eq!(finding.evidence.len(), 1);
    assert_eq!(finding.fingerprint.len(), 32);
    assert!(!by_rule["T-FIND-002"].inferred);
    assert_eq!(by_rule["T-FIND-002"].fix, "Fix T-FIND-002.");
    assert!(
        by_rule["T-FIND-003"].inferred,
        "the finding says inferred: true"
    );
}

/// The fingerprint of the one finding `T-FP-001` makes on `host`.
fn fingerprint_on(rules: &RuleSet, host: HostHandle) -> (String, String, Option<JsonValue>) {
    let evaluation = evaluate(rules, &[host]);
    no_rule_errors(&evaluation);
    assert_eq!(evaluation.findings.len(), 1);
    let finding = &evaluation.findings[0];
    (
        finding.fingerprint.clone(),
        finding.message.clone(),
        finding.evidence[0].observed.clone(),
    )
}

#[test]
fn fingerprints_follow_rule_host_and_evidence_identity_only() {
    let rule = rule_text(
        "T-FP-001",
        "p",
        "",
        r#"fn check(host) {
    let s = host.setting(`HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters`, "SmbServerNameHardeningLevel", 0);
    #{ message: `level ${s.value} (${s.observed_type}) on ${host.name}`, evidence: [s] }
}"#,
    );
    let rules = load(vec![pack("p", &[("T-FP-001", &rule)])]);
    let (base, base_message, base_observed) = fingerprint_on(&rules, level_host("FS01", 0));
    assert_eq!(base_observed, json_value(json!(0)));

    // Same host name, same evidence identity, other value and message.
    let (other_value, message, observed) = fingerprint_on(&rules, level_host("FS01", 2));
    assert_ne!(message, base_message);
    assert_ne!(observed, base_observed);
    assert_eq!(
        other_value, base,
        "a changed value must keep the fingerprint"
    );

    // Absent (the default applies) is still the same place.
    let (absent, message, observed) = fingerprint_on(&rules, host("FS01", &system_reg("")));
    assert_ne!(message, base_message);
    assert_eq!(observed, None);
    assert_eq!(absent, base, "an absent value must keep the fingerprint");

    // A REG_SZ in the same place: another type, same identity.
    let (string, _, observed) = fingerprint_on(
        &rules,
        host("FS01", &system_reg("\"SmbServerNameHardeningLevel\"=\"0\"")),
    );
    assert_eq!(observed, json_value(json!("0")));
    assert_eq!(string, base);

    // Host names compare without regard to case.
    let (lower, _, _) = fingerprint_on(&rules, level_host("fs01", 0));
    assert_eq!(lower, base);

    // Another host: another fingerprint.
    let (other_host, _, _) = fingerprint_on(&rules, level_host("FS02", 0));
    assert_ne!(other_host, base);

    // Another rule with the same evidence: another fingerprint.
    let renamed = rule.replace("T-FP-001", "T-FP-002");
    let other_rules = load(vec![pack("p", &[("T-FP-002", &renamed)])]);
    let evaluation = evaluate(&other_rules, &[level_host("FS01", 0)]);
    assert_ne!(evaluation.findings[0].fingerprint, base);
}

#[test]
fn fingerprints_differ_for_other_evidence_places_and_keys() {
    let rule = rule_text(
        "T-FP-003",
        "p",
        "",
        r#"fn check(host) {
    let p = `HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters`;
    [
        #{ message: "a", evidence: [host.setting(p, "SmbServerNameHardeningLevel")] },
        #{ message: "b", evidence: [host.setting(p, "EnableSecuritySignature")] },
        #{ message: "c", evidence: [host.setting(p, "SmbServerNameHardeningLevel")], key: "alias1" },
        #{ message: "d", evidence: [host.setting(p, "SmbServerNameHardeningLevel")], key: "alias2" },
        #{ message: "e", evidence: [host.setting(p, "smbservernamehardeninglevel")] },
    ]
}"#,
    );
    let rules = load(vec![pack("p", &[("T-FP-003", &rule)])]);
    let evaluation = evaluate(&rules, &[level_host("FS01", 0)]);
    no_rule_errors(&evaluation);
    let by_message: BTreeMap<&str, &str> = evaluation
        .findings
        .iter()
        .map(|finding| (finding.message.as_str(), finding.fingerprint.as_str()))
        .collect();
    assert_ne!(by_message["a"], by_message["b"]);
    assert_ne!(by_message["a"], by_message["c"]);
    assert_ne!(by_message["c"], by_message["d"]);
    assert_eq!(by_message["a"], by_message["e"], "value names fold case");
}
