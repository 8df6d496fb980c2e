//! `passed_inferred(...)`: a rule that looked and found nothing, but whose verdict rests on an
//! assumption, passes marked inferred with what it assumed, in host and fleet rules; mixed
//! with findings or `not_applicable(...)` in a host rule it is a rule error.

mod common;

use common::{bare_host, evaluate, load_with, manifest_text, pack_source};
use hiveward_engine::{Limits, Outcome, PackSource, RuleOutcome};

fn pack(rules: &[(&str, &str)]) -> PackSource {
    pack_source("p", &manifest_text("p", "0.1.0"), rules, &[])
}

fn rule(id: &str, scope: &str, body: &str) -> String {
    format!(
        "export const RULE = #{{ id: \"{id}\", pack: \"p\", title: \"t\", description: \"d\", severity: \"low\", scope: \"{scope}\", fix: \"f\" }};\n\n{body}\n"
    )
}

fn outcome_of<'a>(outcomes: &'a [RuleOutcome], rule: &str, host: &str) -> &'a RuleOutcome {
    outcomes
        .iter()
        .find(|outcome| outcome.rule == rule && outcome.host == host)
        .unwrap_or_else(|| panic!("no outcome of {rule} on {host}: {outcomes:?}"))
}

#[test]
fn a_host_rule_passes_inferred_with_what_it_assumed() {
    let rules = load_with(
        vec![pack(&[
            (
                "T-INF-001",
                &rule(
                    "T-INF-001",
                    "host",
                    r#"fn check(host) {
    let answer = passed_inferred(`${host.name} signs by the documented default of its build`);
    // It reads as what it is while the rule runs.
    if `${answer}` != `passed, inferred: ${host.name} signs by the documented default of its build` { throw "to_string"; }
    [answer, passed_inferred("and its edition is taken for Enterprise")]
}"#,
                ),
            ),
            (
                "T-INF-002",
                &rule("T-INF-002", "host", "fn check(host) { [] }"),
            ),
        ])],
        Limits::default(),
    );
    let evaluation = evaluate(&rules, &[bare_host("H1")]);
    assert!(
        evaluation.rule_errors.is_empty(),
        "{:?}",
        evaluation.rule_errors
    );
    assert!(evaluation.findings.is_empty());
    let assumed = outcome_of(&evaluation.outcomes, "T-INF-001", "H1");
    assert_eq!(assumed.outcome, Outcome::Passed);
    assert!(assumed.inferred);
    assert_eq!(
        assumed.reason.as_deref(),
        Some("inferred: H1 signs by the documented default of its build; and its edition is taken for Enterprise")
    );
    // A plain pass stays firm and without a reason.
    let plain = outcome_of(&evaluation.outcomes, "T-INF-002", "H1");
    assert_eq!(
        (plain.outcome, plain.inferred, plain.reason.clone()),
        (Outcome::Passed, false, None)
    );
}

#[test]
fn a_host_rule_mixing_it_with_findings_or_not_applicable_is_a_rule_error() {
    let rules = load_with(
        vec![pack(&[
            (
                "T-INF-003",
                &rule(
                    "T-INF-003",
                    "host",
                    r#"fn check(host) { [#{ message: "weak" }, passed_inferred("assumed")] }"#,
                ),
            ),
            (
                "T-INF-004",
                &rule(
                    "T-INF-004",
                    "host",
                    r#"fn check(host) { [not_applicable("no key"), passed_inferred("assumed")] }"#,
                ),
            ),
        ])],
        Limits::default(),
    );
    let evaluation = evaluate(&rules, &[bare_host("H1")]);
    assert!(evaluation.findings.is_empty(), "{:?}", evaluation.findings);
    for (id, mixed) in [
        ("T-INF-003", "findings and passed_inferred(...)"),
        ("T-INF-004", "not_applicable(...) and passed_inferred(...)"),
    ] {
        let outcome = outcome_of(&evaluation.outcomes, id, "H1");
        assert_eq!(outcome.outcome, Outcome::Error, "{id}");
        let error = evaluation
            .rule_errors
            .iter()
            .find(|error| error.rule == id)
            .unwrap_or_else(|| panic!("no rule error of {id}"));
        assert!(
            error
                .message
                .contains(&format!("returned {mixed} together")),
            "{}",
            error.message
        );
    }
}

#[test]
fn a_fleet_rule_passes_hosts_inferred_and_findings_and_declines_outrank_it() {
    let body = r#"
fn summarize(host) { #{ n: parse_int(host.name.sub_string(1)) } }
fn check(fleet) {
    let out = [];
    for f in fleet.hosts {
        out.push(passed_inferred(f.name, `host ${f.n}'s peer is assumed to sign`));
    }
    out.push(passed_inferred("h1", "and its build is a guess"));
    out.push(#{ host: "H2", message: "refused" });
    out.push(not_applicable("H3", "no SYSTEM hive"));
    out
}
"#;
    let rules = load_with(
        vec![pack(&[("T-INF-010", &rule("T-INF-010", "fleet", body))])],
        Limits::default(),
    );
    let hosts = ["H1", "H2", "H3", "H4"].map(bare_host);
    let evaluation = evaluate(&rules, &hosts);
    assert!(
        evaluation.rule_errors.is_empty(),
        "{:?}",
        evaluation.rule_errors
    );
    let h1 = outcome_of(&evaluation.outcomes, "T-INF-010", "H1");
    assert_eq!(
        (h1.outcome, h1.inferred, h1.reason.as_deref()),
        (
            Outcome::Passed,
            true,
            Some("inferred: host 1's peer is assumed to sign; and its build is a guess")
        )
    );
    let h2 = outcome_of(&evaluation.outcomes, "T-INF-010", "H2");
    assert_eq!((h2.outcome, h2.inferred), (Outcome::Findings, false));
    let h3 = outcome_of(&evaluation.outcomes, "T-INF-010", "H3");
    assert_eq!(
        (h3.outcome, h3.reason.as_deref()),
        (Outcome::NotApplicable, Some("no SYSTEM hive"))
    );
    let h4 = outcome_of(&evaluation.outcomes, "T-INF-010", "H4");
    assert_eq!(
        (h4.outcome, h4.inferred, h4.reason.as_deref()),
        (
            Outcome::Passed,
            true,
            Some("inferred: host 4's peer is assumed to sign")
        )
    );
}

#[test]
fn a_fleet_rule_must_name_the_host_and_only_hosts_of_the_bundle() {
    let unnamed = r#"
fn summarize(host) { #{} }
fn check(fleet) { [passed_inferred("assumed")] }
"#;
    let stray = r#"
fn summarize(host) { #{} }
fn check(fleet) { [passed_inferred("GHOST", "assumed")] }
"#;
    let rules = load_with(
        vec![pack(&[
            ("T-INF-011", &rule("T-INF-011", "fleet", unnamed)),
            ("T-INF-012", &rule("T-INF-012", "fleet", stray)),
        ])],
        Limits::default(),
    );
    let evaluation = evaluate(&rules, &[bare_host("H1")]);
    let message = |id: &str| {
        evaluation
            .rule_errors
            .iter()
            .find(|error| error.rule == id)
            .map(|error| error.message.clone())
            .unwrap_or_else(|| panic!("no rule error of {id}: {:?}", evaluation.rule_errors))
    };
    assert!(
        message("T-INF-011").contains("passed_inferred(host.name, reason)"),
        "{}",
        message("T-INF-011")
    );
    assert_eq!(
        outcome_of(&evaluation.outcomes, "T-INF-011", "H1").outcome,
        Outcome::Error
    );
    assert!(
        message("T-INF-012").contains("`GHOST`"),
        "{}",
        message("T-INF-012")
    );
    // The stray answer is dropped; the bundle's host passes as the rule found nothing for it.
    let h1 = outcome_of(&evaluation.outcomes, "T-INF-012", "H1");
    assert_eq!((h1.outcome, h1.inferred), (Outcome::Passed, false));
}
