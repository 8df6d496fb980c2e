//! Fleet rules and rule errors.

use super::*;

#[test]
fn a_fleet_rule_sees_every_host_and_its_findings_name_hosts() {
    let fleet = rule_text(
        "T-FLEET-001",
        "p",
        ", scope: \"fleet\"",
        r#"fn summarize(host) {
    #{ level: host.reg(`HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters`, "SmbServerNameHardeningLevel") }
}

fn check(fleet) {
    let names = [];
    for h in fleet.hosts { names.push(h.name); }
    let found = [];
    for h in fleet.hosts {
        if h.level == 0 {
            found.push(#{ host: h.name, message: `${h.name} is at level 0; the fleet is ${names}` });
        }
    }
    found
}"#,
    );
    let per_host = rule_text(
        "T-HOST-001",
        "p",
        "",
        "fn check(host) {\n    #{ message: `seen ${host.name}` }\n}",
    );
    let rules = load(vec![pack(
        "p",
        &[("T-FLEET-001", &fleet), ("T-HOST-001", &per_host)],
    )]);
    let hosts = [
        level_host("FS01", 0),
        level_host("FS02", 2),
        level_host("FS03", 0),
    ];
    let evaluation = evaluate(&rules, &hosts);
    no_rule_errors(&evaluation);
    // The fleet rule runs once, the host rule once per host.
    assert_eq!(evaluation.evaluations, 1 + 3);
    let fleet_findings: Vec<(&str, &str)> = evaluation
        .findings
        .iter()
        .filter(|finding| finding.rule == "T-FLEET-001")
        .map(|finding| (finding.host.as_str(), finding.message.as_str()))
        .collect();
    assert_eq!(
        fleet_findings,
        [
            (
                "FS01",
                r#"FS01 is at level 0; the fleet is ["FS01", "FS02", "FS03"]"#
            ),
            (
                "FS03",
                r#"FS03 is at level 0; the fleet is ["FS01", "FS02", "FS03"]"#
            ),
        ]
    );
    // With no hosts, a fleet rule does not run at all.
    let empty = evaluate(&rules, &[]);
    assert_eq!(empty.evaluations, 0);
    assert!(empty.findings.is_empty() && empty.rule_errors.is_empty());
}

#[test]
fn a_fleet_finding_without_a_host_is_a_rule_error() {
    let fleet = rule_text(
        "T-FLEET-002",
        "p",
        ", scope: \"fleet\"",
        "fn summarize(host) { #{} }\nfn check(fleet) {\n    [#{ message: `the fleet has ${fleet.hosts.len()} hosts` }]\n}",
    );
    let per_host = rule_text(
        "T-HOST-001",
        "p",
        "",
        "fn check(host) {\n    #{ message: `seen ${host.name}` }\n}",
    );
    let rules = load(vec![pack(
        "p",
        &[("T-FLEET-002", &fleet), ("T-HOST-001", &per_host)],
    )]);
    let evaluation = evaluate(&rules, &[level_host("FS01", 0), level_host("FS02", 0)]);
    assert_eq!(
        messages(&evaluation),
        [
            ("T-HOST-001", "FS01", "seen FS01"),
            ("T-HOST-001", "FS02", "seen FS02")
        ]
    );
    assert_eq!(evaluation.rule_errors.len(), 1);
    let error = &evaluation.rule_errors[0];
    assert_eq!(error.rule, "T-FLEET-002");
    assert_eq!(error.host, "*");
    assert_eq!(error.file, rule_origin("p", "T-FLEET-002"));
    assert!(
        error.message.contains("must name its `host`"),
        "{}",
        error.message
    );
}

#[test]
fn a_failing_rule_leaves_the_other_rules_running() {
    let undefined = rule_text(
        "T-ERR-001",
        "p",
        "",
        "fn check(host) {\n    let level = host.name.sub_string(\"x\");\n    #{ message: `${level}` }\n}",
    );
    let not_a_map = rule_text("T-ERR-002", "p", "", "fn check(host) {\n    42\n}");
    let unknown_field = rule_text(
        "T-ERR-003",
        "p",
        "",
        "fn check(host) {\n    #{ message: \"m\", colour: \"red\" }\n}",
    );
    let good = rule_text(
        "T-OK-001",
        "p",
        "",
        "fn check(host) {\n    #{ message: `fine on ${host.name}` }\n}",
    );
    let rules = load(vec![pack(
        "p",
        &[
            ("T-ERR-001", &undefined),
            ("T-ERR-002", &not_a_map),
            ("T-ERR-003", &unknown_field),
            ("T-OK-001", &good),
        ],
    )]);
    let evaluation = evaluate(&rules, &[level_host("FS01", 0), level_host("FS02", 1)]);
    assert_eq!(
        messages(&evaluation),
        [
            ("T-OK-001", "FS01", "fine on FS01"),
            ("T-OK-001", "FS02", "fine on FS02")
        ]
    );
    assert_eq!(evaluation.evaluations, 2);
    let errors: Vec<(&str, &str, Option<usize>)> = evaluation
        .rule_errors
        .iter()
        .map(|error| (error.rule.as_str(), error.host.as_str(), error.line))
        .collect();
    assert_eq!(
        errors,
        [
            ("T-ERR-001", "FS01", Some(3)),
            ("T-ERR-001", "FS02", Some(3)),
            ("T-ERR-002", "FS01", None),
            ("T-ERR-002", "FS02", None),
            ("T-ERR-003", "FS01", None),
            ("T-ERR-003", "FS02", None),
        ]
    );
    let message = |rule: &str| {
        evaluation
            .rule_errors
            .iter()
            .find(|error| error.rule == rule)
            .map(|error| error.message.clone())
            .unwrap_or_default()
    };
    assert!(message("T-ERR-001").starts_with("Function not found: sub_string"));
    assert!(message("T-ERR-002").contains("a finding must be a map"));
    assert!(message("T-ERR-003").contains("unknown finding field `colour`"));
}
