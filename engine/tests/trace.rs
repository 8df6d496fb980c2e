//! Rule tracing and explain in the engine: `print`/`debug` output captured per test case and per
//! rule × host (bounded, with a cut marker), only for the rules a trace asks for; and the
//! explanation of one rule on one host (reads, defaults, events queries, needs, outcome).

mod common;

use std::collections::BTreeMap;

use common::{evaluate, host_from_reg, load_with, manifest_text, pack_source, source};
use hiveward_collectors::{
    discover, plan, CollectOptions, DiscoverOptions, EventSelection, EvtxReadOptions,
};
use hiveward_engine::{
    explain_rule, Limits, PackSource, Read, RuleSelector, ScanSettings, TestReport, Trace,
    FLEET_HOST,
};

const SYSTEM_REG: &str = r#"Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\Select]
"Current"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\ComputerName\ComputerName]
"ComputerName"="NAME"

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Services\LanmanServer\Parameters]
"RequireSecuritySignature"=dword:0000000V
"#;

fn system_reg(name: &str, signing: u32) -> String {
    SYSTEM_REG
        .replace("NAME", name)
        .replace("0000000V", &format!("{signing:08x}"))
}

/// A host rule that prints what it read, and fires when signing is not required.
const PRINTING_RULE: &str = r#"
export const RULE = #{ id: "TR-001", pack: "p", title: "Signing", description: "d",
    severity: "medium", fix: "f",
    needs: #{ any: [#{ events: [#{ channel: "Security", ids: [4624] }] }, #{ hives: ["SYSTEM"] }] } };

fn check(host) {
    let params = `HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters`;
    let signing = host.setting(params, "RequireSecuritySignature", 0);
    let smb1 = host.setting(params, "SMB1", 1);
    let logons = host.events(#{ channel: "Security", ids: [4624] });
    print(`signing on ${host.name} is ${signing.value}`);
    debug(smb1.value);
    if signing.value == 1 { return []; }
    [#{ message: `signing on ${host.name} is ${signing.value}`, evidence: [signing] }]
}
"#;

/// A host rule that prints too, but is never traced by id.
const QUIET_RULE: &str = r#"
export const RULE = #{ id: "TR-002", pack: "p", title: "t", description: "d", severity: "low", fix: "f" };
fn check(host) { print(`other rule on ${host.name}`); [] }
"#;

/// A rule that prints far more than a trace keeps.
const CHATTY_RULE: &str = r#"
export const RULE = #{ id: "TR-003", pack: "p", title: "t", description: "d", severity: "low", fix: "f" };
fn check(host) { for i in 0..500 { print(`line ${i}`); } [] }
"#;

/// A fleet rule whose `summarize` and `check` both print.
const FLEET_RULE: &str = r#"
export const RULE = #{ id: "TR-004", pack: "p", title: "t", description: "d", severity: "low",
    scope: "fleet", fix: "f" };
fn summarize(host) { print(`summarizing ${host.name}`); #{ name: host.name } }
fn check(fleet) { print(`judging ${fleet.len} host(s)`); [] }
"#;

const TESTS: &str = r#"
[[case]]
name = "fires when signing is off"
expect = ["TR-001"]
reg = '''
Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters]
"RequireSecuritySignature"=dword:00000000
'''

[[case]]
name = "wrongly expects nothing when signing is off"
expect = []
reg = '''
Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters]
"RequireSecuritySignature"=dword:00000000
'''
"#;

fn pack_with_tests(rules: &[(&str, &str)], tests: &[(&str, &str)]) -> PackSource {
    let mut pack = pack_source("p", &manifest_text("p", "0.1.0"), rules, &[]);
    pack.tests = tests
        .iter()
        .map(|(id, text)| source("/packs/p", &format!("{id}.tests.toml"), text))
        .collect();
    pack
}

fn test_report() -> TestReport {
    let rules = load_with(
        vec![pack_with_tests(
            &[("TR-001", PRINTING_RULE)],
            &[("TR-001", TESTS)],
        )],
        Limits::default(),
    );
    let selector = RuleSelector::parse("TR-001").unwrap();
    TestReport::run(&rules, &[selector], Some("signing")).expect("the cases run")
}

fn text(report: &TestReport, trace: bool) -> String {
    let mut out = Vec::new();
    report.write_with(&mut out, trace).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn a_failing_case_shows_its_output_and_a_passing_one_only_when_traced() {
    let report = test_report();
    assert_eq!(report.results.len(), 2);
    let (passed, failed) = (&report.results[0], &report.results[1]);
    assert!(passed.failure.is_none() && failed.failure.is_some());
    for result in [passed, failed] {
        assert_eq!(
            result.output,
            vec![
                "signing on HOST is 0".to_string(),
                "[debug p/TR-001.rhai:12:5] 1".to_string()
            ],
            "{result:?}"
        );
    }
    let plain = text(&report, false);
    assert!(
        plain.contains("FAIL TR-001 wrongly expects nothing when signing is off")
            && plain.contains("    output:\n      | signing on HOST is 0\n"),
        "{plain}"
    );
    assert_eq!(plain.matches("output:").count(), 1, "{plain}");
    let traced = text(&report, true);
    assert_eq!(traced.matches("output:").count(), 2, "{traced}");
    assert!(
        traced.starts_with(
            "PASS TR-001 fires when signing is off\n    output:\n      | signing on HOST is 0\n"
        ),
        "{traced}"
    );
}

#[test]
fn json_and_junit_carry_each_case_output() {
    let report = test_report();
    let json = serde_json::to_value(report.json()).unwrap();
    for result in json["results"].as_array().unwrap() {
        assert_eq!(result["output"][0], "signing on HOST is 0", "{result}");
    }
    let xml = report.junit_xml();
    assert_eq!(
        xml.matches("<system-out>signing on HOST is 0\n[debug p/TR-001.rhai:12:5] 1</system-out>")
            .count(),
        2,
        "{xml}"
    );
}

#[test]
fn output_past_the_limits_is_cut_with_a_marker() {
    let limits = Limits {
        max_output_lines: 5,
        ..Limits::default()
    };
    let rules = load_with(
        vec![pack_with_tests(&[("TR-003", CHATTY_RULE)], &[])],
        limits,
    );
    let host = host_from_reg("H1", &system_reg("H1", 1));
    let trace = Trace::all();
    trace.run(|| evaluate(&rules, &[host]));
    let outputs = trace.outputs();
    assert_eq!(outputs.len(), 1);
    let lines = &outputs[0].lines;
    assert_eq!(lines.len(), 6, "{lines:?}");
    assert_eq!(lines[4], "line 4");
    assert!(
        lines[5].starts_with("…[output cut: 495 more line(s)")
            && lines[5].contains("at most 5 lines"),
        "{lines:?}"
    );

    let bytes = Limits {
        max_output_bytes: 20,
        ..Limits::default()
    };
    let rules = load_with(
        vec![pack_with_tests(&[("TR-003", CHATTY_RULE)], &[])],
        bytes,
    );
    let trace = Trace::all();
    trace.run(|| evaluate(&rules, &[host_from_reg("H1", &system_reg("H1", 1))]));
    let lines = &trace.outputs()[0].lines;
    assert_eq!(lines[..3], ["line 0", "line 1", "line 2"], "{lines:?}");
    assert!(
        lines[3].starts_with("…[output cut: 497 more line(s)"),
        "{lines:?}"
    );
}

#[test]
fn a_trace_captures_only_the_rules_it_names_per_host_in_order() {
    let rules = load_with(
        vec![pack_with_tests(
            &[
                ("TR-001", PRINTING_RULE),
                ("TR-002", QUIET_RULE),
                ("TR-004", FLEET_RULE),
            ],
            &[],
        )],
        Limits::default(),
    );
    let hosts = [
        host_from_reg("WKS7", &system_reg("WKS7", 0)),
        host_from_reg("FS01", &system_reg("FS01", 1)),
    ];
    // Untraced, nothing is kept and the evaluation is the same.
    let plain = evaluate(&rules, &hosts);
    let trace = Trace::rules(vec![
        RuleSelector::parse("TR-001").unwrap(),
        RuleSelector::parse("TR-00[4]").unwrap(),
    ]);
    let traced = trace.run(|| evaluate(&rules, &hosts));
    assert_eq!(plain.outcomes, traced.outcomes);
    assert_eq!(plain.findings.len(), traced.findings.len());
    let seen: Vec<(String, String, String)> = trace
        .outputs()
        .into_iter()
        .map(|output| (output.host, output.rule, output.lines[0].clone()))
        .collect();
    let expected = [
        ("FS01", "TR-001", "signing on FS01 is 1"),
        ("FS01", "TR-004", "summarizing FS01"),
        ("WKS7", "TR-001", "signing on WKS7 is 0"),
        ("WKS7", "TR-004", "summarizing WKS7"),
        (FLEET_HOST, "TR-004", "judging 2 host(s)"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(seen, expected);
}

#[test]
fn explain_lists_reads_defaults_events_needs_and_the_outcome() {
    let dir = tempfile::tempdir().unwrap();
    for (name, signing) in [("FS01", 1), ("WKS7", 0)] {
        std::fs::write(
            dir.path().join(format!("{name}_SYSTEM.HIV")),
            hiveward_testkit::hive_from_reg(&system_reg(name, signing)),
        )
        .unwrap();
    }
    let rules = load_with(
        vec![pack_with_tests(
            &[("TR-001", PRINTING_RULE), ("TR-004", FLEET_RULE)],
            &[],
        )],
        Limits::default(),
    );
    let options = CollectOptions {
        events: EventSelection::from_needs(rules.event_needs()),
        evtx: EvtxReadOptions { threads: 1 },
        ..CollectOptions::default()
    };
    let planned = plan(
        discover(&[dir.path().to_path_buf()], &DiscoverOptions::default()),
        &options,
    );
    let settings = ScanSettings {
        inputs: vec![dir.path().to_path_buf()],
        profile: "cis".to_string(),
        params: BTreeMap::new(),
        require: Vec::new(),
        deadline: None,
    };
    let explained = explain_rule(
        &planned.hosts,
        &rules,
        &settings,
        &options,
        "tr-001",
        "wks7",
    )
    .expect("the rule and host are known");
    assert_eq!(
        (explained.rule.as_str(), explained.host.as_str()),
        ("TR-001", "WKS7")
    );
    assert_eq!(explained.files.len(), 1);
    assert!(explained.files[0].path.ends_with("WKS7_SYSTEM.HIV"));
    assert_eq!(explained.needs, "applicable");
    assert_eq!(explained.reads.len(), 3, "{:?}", explained.reads);
    match &explained.reads[0] {
        Read::Value {
            call,
            value_name,
            found,
            default_applied,
            ..
        } => {
            assert_eq!(call, "host.setting");
            assert_eq!(value_name, "RequireSecuritySignature");
            assert_eq!(found.as_deref(), Some("0x0 (0)"));
            assert_eq!(default_applied, &None);
        }
        other => panic!("{other:?}"),
    }
    match &explained.reads[1] {
        Read::Value {
            found,
            default_applied,
            ..
        } => {
            assert_eq!(found, &None);
            assert_eq!(default_applied.as_deref(), Some("1"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        explained.reads[2],
        Read::Events {
            channel: "Security".to_string(),
            ids: vec![4624],
            returned: 0,
            first_record_ids: vec![],
        }
    );
    assert_eq!(
        explained.output,
        ["signing on WKS7 is 0", "[debug p/TR-001.rhai:12:5] 1"]
    );
    assert_eq!(explained.outcome, "findings");
    assert_eq!(explained.findings.len(), 1);
    assert_eq!(explained.findings[0].message, "signing on WKS7 is 0");

    // A fleet rule: summarize ran on every host, check once; the named host is explained.
    let fleet = explain_rule(
        &planned.hosts,
        &rules,
        &settings,
        &options,
        "TR-004",
        "FS01",
    )
    .expect("the rule and host are known");
    assert_eq!(fleet.scope, "fleet");
    assert_eq!(fleet.outcome, "passed");
    assert_eq!(fleet.summary, Some(serde_json::json!({ "name": "FS01" })));
    assert_eq!(
        fleet.output,
        ["summarizing FS01", "(check) judging 2 host(s)"]
    );

    let unknown =
        explain_rule(&planned.hosts, &rules, &settings, &options, "TR-01", "FS01").unwrap_err();
    assert!(
        unknown.contains("unknown rule `TR-01`") && unknown.contains("`TR-001`"),
        "{unknown}"
    );
    let unknown =
        explain_rule(&planned.hosts, &rules, &settings, &options, "TR-001", "FS1").unwrap_err();
    assert!(
        unknown.contains("unknown host `FS1`; the nearest: `FS01`"),
        "{unknown}"
    );
}
