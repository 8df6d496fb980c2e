//! Two-phase fleet rules: `summarize(host)` reduces each host to plain data, `check(fleet)`
//! judges the summaries once through indexed lookups, the phases can run apart (as sharded
//! scans do), and the limits of `check` grow with the fleet.

mod common;

use std::collections::BTreeMap;

use common::{bare_host, evaluate, load_with, manifest_text, pack_source};
use hiveward_engine::{
    context_map, FleetContribution, HostHandle, Limits, Outcome, PackSource, RuleSet,
};

fn pack(rules: &[(&str, &str)]) -> PackSource {
    pack_source("p", &manifest_text("p", "0.1.0"), rules, &[])
}

fn fleet_rule(id: &str, body: &str) -> String {
    format!(
        "export const RULE = #{{ id: \"{id}\", pack: \"p\", title: \"t\", description: \"d\", severity: \"low\", scope: \"fleet\", fix: \"f\" }};\n\n{body}\n"
    )
}

/// Summaries that name the host's "server" by index: host N reaches host N+1, and every
/// tenth host reaches a name nobody owns.
const ALIAS_RULE: &str = r#"
fn summarize(host) {
    let number = parse_int(host.name.sub_string(1));
    let target = if number % 10 == 0 { `ghost${number}` } else { `h${number + 1}` };
    #{ own: [host.name.to_lower()], reached: [target], build: 17763 + number % 2 }
}

fn check(fleet) {
    let findings = [];
    for client in fleet.hosts {
        for name in client.reached {
            if !fleet.has("own", name) {
                findings.push(#{ host: client.name, key: name, message: `${client.name} reaches ${name}, which no host owns` });
            }
        }
    }
    let odd = fleet.by_build(17764).len();
    let first = fleet.by_name("H1");
    findings.push(#{ host: first.name, key: "count", message: `${odd} odd of ${fleet.len} summaries, ${fleet.host_count} hosts` });
    findings
}
"#;

#[test]
fn check_judges_summaries_through_indexes_at_fleet_scale() {
    // Small host limits: a linear check over 3,000 hosts fits only because the limits of
    // `check` grow with the fleet.
    let limits = Limits {
        max_operations: 50_000,
        max_array_size: 1_000,
        max_map_size: 1_000,
        max_findings: 10,
        ..Limits::default()
    };
    let rules = load_with(
        vec![pack(&[(
            "T-FLEET-010",
            &fleet_rule("T-FLEET-010", ALIAS_RULE),
        )])],
        limits,
    );
    let hosts: Vec<HostHandle> = (1..=3_000)
        .map(|number| bare_host(&format!("H{number}")))
        .collect();
    let evaluation = evaluate(&rules, &hosts);
    assert!(
        evaluation.rule_errors.is_empty(),
        "{:?}",
        evaluation.rule_errors
    );
    // Hosts 10, 20, ... 3000 reach a ghost; host 3000's neighbour h3001 does not exist either,
    // but 3000 % 10 == 0 already sends it to a ghost.
    let ghosts = evaluation
        .findings
        .iter()
        .filter(|finding| finding.message.contains("ghost"))
        .count();
    assert_eq!(ghosts, 300);
    assert!(evaluation
        .findings
        .iter()
        .any(|finding| finding.message == "1500 odd of 3000 summaries, 3000 hosts"));
    // Every host ends in one outcome of the fleet rule.
    assert_eq!(evaluation.outcomes.len(), 3_000);
    assert_eq!(
        evaluation
            .outcomes
            .iter()
            .filter(|outcome| outcome.outcome == Outcome::Findings)
            .count(),
        301
    );
}

/// What a lookup returns is walked, counted, indexed and passed like the array it used to be,
/// and `to_array()` and the array functions rules use on lookups still work.
#[test]
fn lookups_return_selections_that_work_as_arrays_did() {
    let body = r#"
fn summarize(host) {
    let number = parse_int(host.name.sub_string(1));
    #{ odd: number % 2 == 1, n: number }
}
fn names(list) { let out = []; for s in list { out.push(s.name); } out }
fn check(fleet) {
    let odd = fleet.by("odd", true);
    let none = fleet.by("odd", "no such key");
    let out_of_bounds = "read";
    try { odd[5]; } catch (error) { out_of_bounds = "error"; }
    let facts = [
        `type ${type_of(odd)}`,
        `len ${odd.len} ${odd.len()} ${fleet.hosts.len}`,
        `empty ${odd.is_empty()} ${none.is_empty} ${none.len}`,
        `first ${odd[0].name} last ${odd[-1].name} get ${odd.get(1).name} ${odd.get(9)}`,
        `bounds ${out_of_bounds}`,
        `walked ${names(odd)}`,
        `array ${type_of(odd.to_array())} ${odd.to_array().len()}`,
        `filter ${names(fleet.hosts.filter(|s| s.n > 3))}`,
        `map ${fleet.hosts.map(|s| s.n)}`,
        `some ${odd.some(|s| s.n == 3)} all ${odd.all(|s| s.odd)}`,
        `counted ${fleet.count("odd", true)}`,
    ];
    let out = [];
    for fact in facts { out.push(#{ host: "H1", key: fact, message: fact }); }
    out
}
"#;
    let rules = load_with(
        vec![pack(&[("T-FLEET-013", &fleet_rule("T-FLEET-013", body))])],
        Limits::default(),
    );
    let hosts = ["H1", "H2", "H3", "H4", "H5"].map(bare_host);
    let evaluation = evaluate(&rules, &hosts);
    assert!(
        evaluation.rule_errors.is_empty(),
        "{:?}",
        evaluation.rule_errors
    );
    let mut facts: Vec<&str> = evaluation
        .findings
        .iter()
        .map(|finding| finding.message.as_str())
        .collect();
    facts.sort();
    let mut expected = vec![
        "type FleetSelection",
        "len 3 3 5",
        "empty false true 0",
        "first H1 last H5 get H3 ",
        "bounds error",
        r#"walked ["H1", "H3", "H5"]"#,
        "array array 3",
        r#"filter ["H4", "H5"]"#,
        "map [1, 2, 3, 4, 5]",
        "some true all true",
        "counted 3",
    ];
    expected.sort();
    assert_eq!(facts, expected);
}

#[test]
fn a_quadratic_check_still_hits_the_limits() {
    let body = r#"
fn summarize(host) { #{ n: 1 } }
fn check(fleet) {
    let pairs = 0;
    for a in fleet.hosts { for b in fleet.hosts { pairs += a.n * b.n; } }
    []
}
"#;
    let limits = Limits {
        max_operations: 10_000,
        fleet_operations_per_host: 200,
        ..Limits::default()
    };
    let rules = load_with(
        vec![pack(&[("T-FLEET-011", &fleet_rule("T-FLEET-011", body))])],
        limits,
    );
    let hosts: Vec<HostHandle> = (1..=400)
        .map(|number| bare_host(&format!("H{number}")))
        .collect();
    let evaluation = evaluate(&rules, &hosts);
    assert_eq!(evaluation.rule_errors.len(), 1);
    assert!(
        evaluation.rule_errors[0]
            .message
            .contains("too many operations"),
        "{}",
        evaluation.rule_errors[0].message
    );
    assert!(evaluation
        .outcomes
        .iter()
        .all(|outcome| outcome.outcome == Outcome::Error));
}

#[test]
fn summaries_must_be_plain_small_data_and_a_bad_one_fails_only_its_host() {
    let body = r#"
fn summarize(host) {
    if host.name == "BAD" { return #{ handle: host }; }
    if host.name == "BIG" { let text = "x"; text.pad(300000, "x"); return #{ text: text }; }
    if host.name == "TEXT" { return "not a map"; }
    #{ seen: true }
}
fn check(fleet) {
    let out = [];
    for h in fleet.hosts { out.push(#{ host: h.name, message: "judged" }); }
    out
}
"#;
    let rules = load_with(
        vec![pack(&[("T-FLEET-012", &fleet_rule("T-FLEET-012", body))])],
        Limits::default(),
    );
    let hosts = ["BAD", "BIG", "GOOD", "TEXT"].map(bare_host);
    let evaluation = evaluate(&rules, &hosts);
    let judged: Vec<&str> = evaluation
        .findings
        .iter()
        .map(|finding| finding.host.as_str())
        .collect();
    assert_eq!(judged, ["GOOD"]);
    let errors: BTreeMap<&str, &str> = evaluation
        .rule_errors
        .iter()
        .map(|error| (error.host.as_str(), error.message.as_str()))
        .collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        errors["BAD"].contains("summary.handle"),
        "{}",
        errors["BAD"]
    );
    assert!(
        errors["BIG"].contains("the limit is 262144"),
        "{}",
        errors["BIG"]
    );
    assert!(
        errors["TEXT"].contains("must return a map"),
        "{}",
        errors["TEXT"]
    );
    for host in ["BAD", "BIG", "TEXT"] {
        let outcome = evaluation
            .outcomes
            .iter()
            .find(|outcome| outcome.host == host)
            .unwrap();
        assert_eq!(outcome.outcome, Outcome::Error);
    }
}

#[test]
fn a_fleet_rule_without_summarize_is_refused_when_it_loads() {
    let body = "fn check(fleet) { [] }";
    let errors = match RuleSet::load(
        vec![pack(&[("T-FLEET-013", &fleet_rule("T-FLEET-013", body))])],
        Limits::default(),
    ) {
        Ok(_) => panic!("a fleet rule without summarize must not load"),
        Err(errors) => errors,
    };
    let text = errors[0].to_string();
    assert!(text.contains("fn summarize(host)"), "{text}");
}

#[test]
fn the_phases_can_run_apart_and_contributions_survive_json() {
    let rules = load_with(
        vec![pack(&[(
            "T-FLEET-010",
            &fleet_rule("T-FLEET-010", ALIAS_RULE),
        )])],
        Limits::default(),
    );
    let context = context_map("cis", &BTreeMap::new());
    let hosts: Vec<HostHandle> = (1..=25)
        .map(|number| bare_host(&format!("H{number}")))
        .collect();
    let together = rules.evaluate(&hosts, &context);
    // Host phase on each host, contributions written as JSON and read back in another order
    // (as shards and `merge` do), then the fleet phase.
    let mut contributions: Vec<FleetContribution> = Vec::new();
    let mut host_findings = Vec::new();
    for host in hosts.iter().rev() {
        let evaluation = rules.evaluate_host(&[], host, &context, None);
        let text = serde_json::to_string(&evaluation.contributions).unwrap();
        contributions.extend(serde_json::from_str::<Vec<FleetContribution>>(&text).unwrap());
        host_findings.extend(evaluation.findings);
    }
    assert!(host_findings.is_empty());
    let apart = rules.evaluate_fleet(&[], contributions, &context, None);
    assert_eq!(apart.findings, together.findings);
    assert_eq!(apart.outcomes, together.outcomes);
    assert_eq!(apart.evaluations, 1);
}

#[test]
fn a_fleet_rule_declining_for_every_host_gets_each_reason_back_in_its_outcomes() {
    // Declines gathered in a map and returned as its values (as the built-in rules do), two
    // for one host, and one read back as text while `check` runs.
    let body = r#"
fn summarize(host) { #{ n: parse_int(host.name.sub_string(1)) } }
fn check(fleet) {
    let out = #{};
    let count = 0;
    for f in fleet.hosts {
        out[`${count}`] = not_applicable(f.name, `no domain controller; host ${f.n} is a member server`);
        count += 1;
    }
    let extra = not_applicable("H2", "and no Security log");
    out[`${count}`] = extra;
    out[`${count + 1}`] = #{ host: "H3", message: `${extra}` };
    out.values()
}
"#;
    let rules = load_with(
        vec![pack(&[("T-FLEET-014", &fleet_rule("T-FLEET-014", body))])],
        Limits::default(),
    );
    let hosts = ["H1", "H2", "H3"].map(bare_host);
    let evaluation = evaluate(&rules, &hosts);
    assert!(
        evaluation.rule_errors.is_empty(),
        "{:?}",
        evaluation.rule_errors
    );
    let outcome = |host: &str| {
        evaluation
            .outcomes
            .iter()
            .find(|outcome| outcome.rule == "T-FLEET-014" && outcome.host == host)
            .map(|outcome| (outcome.outcome, outcome.reason.clone()))
            .unwrap()
    };
    assert_eq!(
        outcome("H1"),
        (
            Outcome::NotApplicable,
            Some("no domain controller; host 1 is a member server".to_string())
        )
    );
    assert_eq!(
        outcome("H2"),
        (
            Outcome::NotApplicable,
            Some(
                "no domain controller; host 2 is a member server; and no Security log".to_string()
            )
        )
    );
    // A finding outranks a decline, and a decline reads as its reason while the rule runs.
    assert_eq!(outcome("H3").0, Outcome::Findings);
    assert_eq!(
        evaluation.findings[0].message,
        "not applicable: and no Security log"
    );
}
