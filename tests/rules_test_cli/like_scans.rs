//! Tests run like scans: a rule sees the event records its own `needs` declares.

use super::*;

const SYSTEM_REG: &str = r#"Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\Select]
"Current"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\ComputerName\ComputerName]
"ComputerName"="FS01"
"#;

/// A rule that reports the Print Spooler entering the running state (System 7036), with
/// `needs` as given. `host.events` is on line 12.
pub(super) fn spooler_rule(id: &str, needs: &str, catch: bool) -> String {
    let read = if catch {
        "let started = [];\n    try { started = host.events(#{ channel: \"System\", ids: [7036], where: #{ param1: \"Print Spooler\" } }); } catch { }"
    } else {
        "let started = host.events(#{ channel: \"System\", ids: [7036], where: #{ param1: \"Print Spooler\" } });"
    };
    format!(
        r#"export const RULE = #{{
    id: "{id}",
    pack: "{PACK}",
    title: "The Print Spooler runs",
    description: "The spooler entered the running state.",
    severity: "high",
    needs: {needs},
    fix: "Disable the Print Spooler.",
}};

fn check(host) {{
    {read}
    if started.is_empty() {{ return []; }}
    [#{{ message: `the spooler started ${{started.len()}} time(s) on ${{host.name}}`, evidence: [event_evidence(started)] }}]
}}
"#
    )
}

const DECLARED: &str = r#"#{ hives: ["SYSTEM"], events: [#{ channel: "System", ids: [7036] }] }"#;
const UNDECLARED: &str = r#"#{ hives: ["SYSTEM"] }"#;

/// Cases for `spooler_rule`: fires on a 7036 event, clean without one, not applicable
/// without a SYSTEM hive.
pub(super) fn spooler_cases(id: &str) -> String {
    format!(
        r#"[[case]]
name = "the spooler started"
expect = ["{id}"]
count = 1
message_contains = "started 1 time(s)"
reg = '''
{SYSTEM_REG}'''
events = [
    {{ channel = "System", id = 7036, data = {{ param1 = "Print Spooler", param2 = "running" }} }},
    {{ channel = "System", id = 7036, data = {{ param1 = "Windows Update", param2 = "running" }} }},
]

[[case]]
name = "no spooler event is clean"
expect = []
reg = '''
{SYSTEM_REG}'''
logs = ["System"]

[[case]]
name = "no SYSTEM hive"
expect = []
outcome = "not_applicable"
reg = '''
Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion]
"CurrentBuild"="17763"
'''
"#
    )
}

/// The message a rule that reads System 7036 without declaring it gets.
fn undeclared_message(id: &str) -> String {
    format!(
        "host.events: rule {id} reads System event 7036, which its `needs` does not declare, so a scan would not read them: declare it in its `needs`: `needs: #{{ events: [#{{ channel: \"System\", ids: [7036] }}] }}`"
    )
}

#[test]
fn a_test_case_fails_when_the_rule_reads_events_it_does_not_declare() {
    let dir = tempfile::tempdir().unwrap();
    let id = "E2E-EVT-001";
    write_pack(
        dir.path(),
        &[(id, spooler_rule(id, UNDECLARED, false), spooler_cases(id))],
    );
    let run = hiveward(dir.path(), &["rules", "test", PACK]);
    run.assert_code(1);
    let fails: Vec<&str> = run
        .lines()
        .into_iter()
        .filter(|line| line.starts_with("FAIL "))
        .collect();
    assert_eq!(
        fails.len(),
        4,
        "both checked cases, and the coverage of each: {}",
        run.stdout_str()
    );
    let detail = format!(
        "    rule error on host HOST: {} (line 12)",
        undeclared_message(id)
    );
    assert_eq!(
        run.lines()
            .iter()
            .filter(|line| **line == detail.as_str())
            .count(),
        2,
        "expected twice:\n{detail}\nin:\n{}",
        run.stdout_str()
    );
    // The not-applicable case does not run the rule, so it passes.
    assert!(run.lines().contains(&"PASS E2E-EVT-001 no SYSTEM hive"));

    // Caught by the rule, the read is still an error: the rule would judge without evidence.
    write_pack(
        dir.path(),
        &[(id, spooler_rule(id, UNDECLARED, true), spooler_cases(id))],
    );
    let run = hiveward(dir.path(), &["rules", "test", PACK]);
    run.assert_code(1);
    assert!(
        run.stdout_str().contains(&undeclared_message(id)),
        "{}",
        run.stdout_str()
    );

    // Declared, the same cases pass.
    write_pack(
        dir.path(),
        &[(id, spooler_rule(id, DECLARED, false), spooler_cases(id))],
    );
    let run = hiveward(dir.path(), &["rules", "test", PACK]);
    run.assert_code(0);
    assert_eq!(
        run.lines().last().copied(),
        Some("rules test: 3 passed, 0 failed")
    );
}

/// A rule that counts every System record it is given, declaring only id 7036 with `ids`
/// left out of the call: it sees only what it declares, even when another loaded rule
/// declares more of the channel.
#[test]
fn a_rule_sees_only_the_records_it_declares_whatever_other_rules_declare() {
    let dir = tempfile::tempdir().unwrap();
    let id = "E2E-EVT-002";
    let counting = spooler_rule(id, DECLARED, false).replace(
        "host.events(#{ channel: \"System\", ids: [7036], where: #{ param1: \"Print Spooler\" } })",
        "host.events(#{ channel: \"System\" })",
    );
    let cases = format!(
        r#"[[case]]
name = "counts only 7036"
expect = ["{id}"]
message_contains = "started 2 time(s)"
reg = '''
{SYSTEM_REG}'''
events = [
    {{ channel = "System", id = 7036, data = {{ param1 = "Print Spooler" }} }},
    {{ channel = "System", id = 7036, data = {{ param1 = "Windows Update" }} }},
    {{ channel = "System", id = 7040, data = {{ param1 = "Print Spooler" }} }},
    {{ channel = "System", id = 6005 }},
]
"#
    );
    // Another rule of the pack declares the whole System channel.
    let other = "E2E-EVT-003";
    let whole = spooler_rule(
        other,
        r#"#{ hives: ["SYSTEM"], events: [#{ channel: "System" }] }"#,
        false,
    );
    write_pack(
        dir.path(),
        &[(id, counting, cases), (other, whole, spooler_cases(other))],
    );
    let run = hiveward(
        dir.path(),
        &["rules", "test", PACK, "--case", "counts only 7036"],
    );
    run.assert_code(0);
    assert_eq!(
        run.lines(),
        [
            "PASS E2E-EVT-002 counts only 7036",
            "rules test: 1 passed, 0 failed"
        ]
    );
}

/// A bundle with FS01's SYSTEM hive and a System log holding one spooler 7036 record.
fn spooler_bundle(root: &Path) -> PathBuf {
    let bundle = root.join("bundle");
    write(
        &bundle.join("FS01/FS01_SYSTEM.HIV"),
        hiveward_testkit::hive_from_reg(SYSTEM_REG),
    );
    let mut system = EvtxWriter::new();
    system.push(
        Event::new("System", "Service Control Manager", 7036)
            .computer("FS01.corp.example")
            .unix_time(1_700_000_000)
            .data("param1", "Print Spooler")
            .data("param2", "running"),
    );
    write(&bundle.join("FS01/System.evtx"), system.to_bytes());
    bundle
}

#[test]
fn a_scan_reports_an_undeclared_read_as_a_rule_error_whatever_else_is_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = spooler_bundle(dir.path());
    let bundle_arg = bundle.to_str().unwrap();
    let id = "E2E-EVT-001";
    let other = "E2E-EVT-004";

    // Alone, and beside a rule that declares the very records it reads: a rule error on the
    // host, never an empty list.
    for with_other in [false, true] {
        let mut rules = vec![(id, spooler_rule(id, UNDECLARED, false), spooler_cases(id))];
        if with_other {
            rules.push((
                other,
                spooler_rule(other, DECLARED, false),
                spooler_cases(other),
            ));
        }
        write_pack(dir.path(), &rules);
        let run = hiveward(
            dir.path(),
            &[
                "scan",
                "--no-builtin",
                "--rules",
                PACK,
                "--format",
                "json",
                bundle_arg,
            ],
        );
        run.assert_code(2);
        let report = run.json();
        let errors = report["rule_errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "{report}");
        assert_eq!(errors[0]["rule"], id);
        assert_eq!(errors[0]["host"], "FS01");
        assert_eq!(errors[0]["line"], 12);
        assert_eq!(errors[0]["message"], undeclared_message(id).as_str());
        let findings: Vec<&str> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|finding| finding["rule"].as_str().unwrap())
            .collect();
        if with_other {
            assert_eq!(findings, [other], "the declaring rule finds it: {report}");
        } else {
            assert!(findings.is_empty(), "{report}");
        }
    }

    // Declared, the rule finds the record.
    write_pack(
        dir.path(),
        &[(id, spooler_rule(id, DECLARED, false), spooler_cases(id))],
    );
    let run = hiveward(
        dir.path(),
        &[
            "scan",
            "--no-builtin",
            "--rules",
            PACK,
            "--format",
            "json",
            bundle_arg,
        ],
    );
    run.assert_code(1);
    let report = run.json();
    assert_eq!(report["rule_errors"], Value::Array(Vec::new()), "{report}");
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{report}");
    assert_eq!(
        findings[0]["message"],
        "the spooler started 1 time(s) on FS01"
    );
}

#[test]
fn an_undeclared_id_of_a_declared_channel_names_the_entry_to_extend() {
    let dir = tempfile::tempdir().unwrap();
    let id = "E2E-EVT-005";
    let rule = spooler_rule(
        id,
        r#"#{ hives: ["SYSTEM"], events: [#{ channel: "System", ids: [7040] }] }"#,
        false,
    );
    write_pack(dir.path(), &[(id, rule, spooler_cases(id))]);
    let run = hiveward(dir.path(), &["rules", "test", PACK, "--case", "started"]);
    run.assert_code(1);
    assert!(
        run.stdout_str().contains(&format!(
            "host.events: rule {id} reads System event 7036, which its `needs` does not declare, so a scan would not read them: add it to its `needs.events` entry for \"System\": `#{{ channel: \"System\", ids: [7040, 7036] }}`"
        )),
        "{}",
        run.stdout_str()
    );
}
