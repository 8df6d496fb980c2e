//! `host.memo(|host| ...)`: a pack computation is kept once per host and handed to every rule
//! that makes it again, and nothing a rule can observe changes: values are copies, captured
//! values key the computation, failures and event reads are never kept, and the sandbox's
//! limits fail exactly where they would without the memo.

mod common;

use common::{bare_host_with_logs, evaluate, load_with, manifest_text, pack_source};
use hiveward_engine::{HostHandle, Limits, Outcome, RuleSet};

/// A host with no evidence but its name, and a System log that holds no records.
fn host(name: &str) -> HostHandle {
    bare_host_with_logs(name, &["System"])
}

fn rule(id: &str, needs: &str, body: &str) -> String {
    format!(
        "import \"calc\" as calc;\n\nexport const RULE = #{{ id: \"{id}\", pack: \"p\", title: \"t\", description: \"d\", severity: \"low\", fix: \"f\"{needs} }};\n\n{body}\n"
    )
}

/// The pack's shared computations.
const SHARED: &str = r#"
// A map made from the host and a captured word.
fn facts(host, word) {
    host.memo(|host| #{ name: host.name, word: word, parts: [word, host.name.len()] })
}

// A computation that fails.
fn broken(host) {
    host.memo(|host| throw `no facts for ${host.name}`)
}

// A computation that reads events.
fn system_events(host) {
    host.memo(|host| host.events(#{ channel: "System", ids: [7034] }).len())
}

// A text of 600,000 bytes.
fn big(host, tag) {
    host.memo(|host| {
        let text = `${tag}`;
        text.pad(600000, 'x');
        text
    })
}

// A computation of about 400 operations.
fn costly(host) {
    host.memo(|host| {
        let total = 0;
        for n in 0..100 { total += n; }
        total
    })
}
"#;

fn load(rules: &[(&str, &str)], limits: Limits) -> RuleSet {
    load_with(
        vec![pack_source(
            "p",
            &manifest_text("p", "0.1.0"),
            rules,
            &[("calc", SHARED)],
        )],
        limits,
    )
}

fn messages(evaluation: &hiveward_engine::Evaluation) -> Vec<(String, String, String)> {
    let mut found: Vec<(String, String, String)> = evaluation
        .findings
        .iter()
        .map(|finding| {
            (
                finding.rule.clone(),
                finding.host.clone(),
                finding.message.clone(),
            )
        })
        .collect();
    found.sort();
    found
}

/// Runs one rule, `id` with `body`, on one host without rule errors: its findings' messages
/// and how many computations the host kept.
fn run_one(id: &str, body: &str) -> (Vec<(String, String, String)>, usize) {
    let text = rule(id, "", body);
    let rules = load(&[(id, &text)], Limits::default());
    let hosts = [host("FS01")];
    let evaluation = evaluate(&rules, &hosts);
    assert!(
        evaluation.rule_errors.is_empty(),
        "{:?}",
        evaluation.rule_errors
    );
    (messages(&evaluation), hosts[0].0.memo.kept())
}

#[test]
fn rules_share_one_kept_computation_and_each_gets_its_own_copy() {
    // T-MEMO-001 changes its copy; T-MEMO-002 must still see the computed value.
    let first = rule(
        "T-MEMO-001",
        "",
        "fn check(host) {\n    let f = calc::facts(host, \"alpha\");\n    f.word = \"changed\";\n    f.parts.push(99);\n    #{ message: `${f.name} ${f.word} ${f.parts}` }\n}",
    );
    let second = rule(
        "T-MEMO-002",
        "",
        "fn check(host) {\n    let f = calc::facts(host, \"alpha\");\n    let again = calc::facts(host, \"alpha\");\n    #{ message: `${f.name} ${f.word} ${f.parts} ${again == f}` }\n}",
    );
    let rules = load(
        &[("T-MEMO-001", &first), ("T-MEMO-002", &second)],
        Limits::default(),
    );
    let hosts = [host("FS01"), host("WS002")];
    for _ in 0..5 {
        let hosts: Vec<HostHandle> = hosts.iter().map(|h| host(&h.0.name)).collect();
        let evaluation = evaluate(&rules, &hosts);
        assert!(
            evaluation.rule_errors.is_empty(),
            "{:?}",
            evaluation.rule_errors
        );
        assert_eq!(
            messages(&evaluation),
            [
                (
                    "T-MEMO-001".into(),
                    "FS01".into(),
                    "FS01 changed [\"alpha\", 4, 99]".into()
                ),
                (
                    "T-MEMO-001".into(),
                    "WS002".into(),
                    "WS002 changed [\"alpha\", 5, 99]".into()
                ),
                (
                    "T-MEMO-002".into(),
                    "FS01".into(),
                    "FS01 alpha [\"alpha\", 4] true".into()
                ),
                (
                    "T-MEMO-002".into(),
                    "WS002".into(),
                    "WS002 alpha [\"alpha\", 5] true".into()
                ),
            ]
        );
        // Three calls per host, one computation kept per host.
        for host in &hosts {
            assert_eq!(host.0.memo.kept(), 1, "{}", host.0.name);
        }
    }
}

#[test]
fn captured_values_tell_computations_apart() {
    let (found, kept) = run_one(
        "T-MEMO-003",
        "fn check(host) {\n    let a = calc::facts(host, \"alpha\");\n    let b = calc::facts(host, \"beta\");\n    let n = calc::facts(host, 7);\n    #{ message: `${a.word} ${b.word} ${n.word} ${type_of(n.word)}` }\n}",
    );
    assert_eq!(
        found,
        [(
            "T-MEMO-003".into(),
            "FS01".into(),
            "alpha beta 7 i64".into()
        )]
    );
    assert_eq!(kept, 3);
}

#[test]
fn failures_and_event_reads_are_never_kept() {
    let broken = rule(
        "T-MEMO-004",
        "",
        "fn check(host) {\n    calc::broken(host);\n    []\n}",
    );
    let events = rule(
        "T-MEMO-005",
        ", needs: #{ events: [#{ channel: \"System\", ids: [7034] }] }",
        "fn check(host) {\n    let n = calc::system_events(host) + calc::system_events(host);\n    #{ message: `${n} records` }\n}",
    );
    let rules = load(
        &[("T-MEMO-004", &broken), ("T-MEMO-005", &events)],
        Limits::default(),
    );
    let hosts = [host("FS01")];
    let evaluation = evaluate(&rules, &hosts);
    assert_eq!(
        evaluation.rule_errors.len(),
        1,
        "{:?}",
        evaluation.rule_errors
    );
    assert_eq!(evaluation.rule_errors[0].rule, "T-MEMO-004");
    assert!(
        evaluation.rule_errors[0]
            .message
            .contains("no facts for FS01"),
        "{}",
        evaluation.rule_errors[0].message
    );
    assert_eq!(
        messages(&evaluation),
        [("T-MEMO-005".into(), "FS01".into(), "0 records".into())]
    );
    assert_eq!(hosts[0].0.memo.kept(), 0);
}

#[test]
fn the_operation_limit_fails_where_it_would_without_the_memo() {
    // T-MEMO-006 makes the costly computation with room to spare. T-MEMO-007 spends most of
    // its operations first: the computation would take it over the limit, so it must fail
    // whether or not T-MEMO-006 ran first and kept the value.
    let cheap = rule(
        "T-MEMO-006",
        "",
        "fn check(host) {\n    #{ message: `${calc::costly(host)}` }\n}",
    );
    let spender = rule(
        "T-MEMO-007",
        "",
        "fn check(host) {\n    let spent = 0;\n    for n in 0..70 { spent += n; }\n    #{ message: `${spent} ${calc::costly(host)}` }\n}",
    );
    let limits = Limits {
        max_operations: 500,
        ..Limits::default()
    };
    let rules = load(
        &[("T-MEMO-006", &cheap), ("T-MEMO-007", &spender)],
        limits.clone(),
    );
    let alone = load(&[("T-MEMO-007", &spender)], limits);
    for rules in [&rules, &alone, &rules, &rules] {
        let hosts = [host("FS01"), host("FS02"), host("FS03")];
        let evaluation = evaluate(rules, &hosts);
        let failed: Vec<&str> = evaluation
            .rule_errors
            .iter()
            .map(|error| error.rule.as_str())
            .collect();
        assert_eq!(failed, ["T-MEMO-007"; 3], "{:?}", evaluation.rule_errors);
        assert!(evaluation.rule_errors[0]
            .message
            .contains("too many operations"));
        assert!(evaluation
            .outcomes
            .iter()
            .filter(|outcome| outcome.rule == "T-MEMO-006")
            .all(|outcome| outcome.outcome == Outcome::Findings));
    }
}

#[test]
fn a_host_keeps_at_most_a_mebibyte() {
    // Two texts of 600,000 bytes: the first is kept, the second would pass the host's 1 MiB
    // and runs each time; the rule gets the right values.
    let (found, kept) = run_one(
        "T-MEMO-008",
        "fn check(host) {\n    let a = calc::big(host, \"a\");\n    let b = calc::big(host, \"b\");\n    let again = calc::big(host, \"b\");\n    #{ message: `${a.len()} ${a[0]} ${b.len()} ${b[0]} ${again == b}` }\n}",
    );
    assert_eq!(
        found,
        [(
            "T-MEMO-008".into(),
            "FS01".into(),
            "600000 a 600000 b true".into()
        )]
    );
    assert_eq!(kept, 1);
}
