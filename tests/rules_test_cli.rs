//! `hiveward rules test` for CI and for teams writing their own rules: `--rule`, `--case`,
//! `--format text|json|junit`, the `file:line` of each case; test cases that run like scans
//! (a rule sees only the event records its `needs` declares, in a test and in a scan); the
//! coverage hint; and load errors inside `needs` reported at the wrong field.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use hiveward_evtxwriter::{Event, EvtxWriter};
use serde_json::Value;
use support::{hiveward, Run};

impl Run {
    /// The lines of standard output.
    fn lines(&self) -> Vec<&str> {
        self.stdout_str().lines().collect()
    }
}

fn write(path: &Path, text: impl AsRef<[u8]>) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

const PACK: &str = "e2e";

fn manifest() -> String {
    format!(
        "name = \"{PACK}\"\nversion = \"1.0.0\"\ndescription = \"Rules for testing `rules test`.\"\nmin_hiveward = \"0.1.0\"\n"
    )
}

/// A rule that fires when `EnablePlainTextPassword` is 1 (needs the Workstation key).
fn plain_rule(id: &str) -> String {
    format!(
        r#"export const RULE = #{{
    id: "{id}",
    pack: "{PACK}",
    title: "Unencrypted passwords may be sent to SMB servers",
    description: "EnablePlainTextPassword = 1 lets the SMB client send clear-text passwords.",
    severity: "high",
    needs: #{{ keys: [`HKLM\SYSTEM\CurrentControlSet\Services\LanmanWorkstation\Parameters`] }},
    fix: "Set EnablePlainTextPassword to 0.",
}};

fn check(host) {{
    let value = host.reg(`HKLM\SYSTEM\CurrentControlSet\Services\LanmanWorkstation\Parameters`, "EnablePlainTextPassword");
    if value == 1 {{
        return [#{{ message: `EnablePlainTextPassword is 1 on ${{host.name}}.` }}];
    }}
    []
}}
"#
    )
}

/// A case for `plain_rule` with the value `plain`, expecting `expect`.
fn plain_case(name: &str, expect: &str, plain: u32) -> String {
    format!(
        r#"[[case]]
name = "{name}"
expect = {expect}
reg = '''
Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\LanmanWorkstation\Parameters]
"EnablePlainTextPassword"=dword:{plain:08x}
'''

"#
    )
}

/// A not-applicable case for `plain_rule`: no Workstation service key.
fn plain_not_applicable(name: &str) -> String {
    format!(
        r#"[[case]]
name = "{name}"
expect = []
outcome = "not_applicable"
reg = '''
Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\ComputerName\ComputerName]
"ComputerName"="CORE01"
'''

"#
    )
}

/// The three cases every rule needs, all passing.
fn complete_cases(id: &str) -> String {
    plain_case("fires when allowed", &format!("[\"{id}\"]"), 1)
        + &*plain_case("clean when refused", "[]", 0)
        + &*plain_not_applicable("no workstation service")
}

/// Writes the pack `dir/e2e` with the given rules (id, rule text, tests text).
fn write_pack(dir: &Path, rules: &[(&str, String, String)]) -> PathBuf {
    let pack = dir.join(PACK);
    let _ = fs::remove_dir_all(&pack);
    write(&pack.join("pack.toml"), manifest());
    for (id, rule, tests) in rules {
        write(&pack.join(format!("{id}.rhai")), rule);
        write(&pack.join(format!("{id}.tests.toml")), tests);
    }
    pack
}

/// A pack of three plain rules, each with complete cases; `E2E-B-001` has one failing case
/// (the last of its file).
fn three_rule_pack(dir: &Path) {
    let b_tests = complete_cases("E2E-B-001") + &*plain_case("wrongly expects silence", "[]", 1);
    write_pack(
        dir,
        &[
            (
                "E2E-A-001",
                plain_rule("E2E-A-001"),
                complete_cases("E2E-A-001"),
            ),
            (
                "E2E-A-002",
                plain_rule("E2E-A-002"),
                complete_cases("E2E-A-002"),
            ),
            ("E2E-B-001", plain_rule("E2E-B-001"), b_tests),
        ],
    );
}

/// The rule ids of the PASS and FAIL lines, in order, deduplicated.
fn rules_shown(run: &Run) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for line in run.lines() {
        if let Some(rest) = line
            .strip_prefix("PASS ")
            .or_else(|| line.strip_prefix("FAIL "))
        {
            let id = rest.split(' ').next().unwrap().to_string();
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    ids
}

/// The 1-based line of the `n`-th (from 0) `[[case]]` header of `text`.
fn header_line(text: &str, n: usize) -> usize {
    text.lines()
        .enumerate()
        .filter(|(_, line)| line.trim() == "[[case]]")
        .nth(n)
        .map(|(index, _)| index + 1)
        .expect("the header exists")
}

// ---------------------------------------------------------------------------------------------
// --rule and --case.
// ---------------------------------------------------------------------------------------------

#[test]
fn rule_filter_takes_ids_comma_lists_repeats_and_globs() {
    let dir = tempfile::tempdir().unwrap();
    three_rule_pack(dir.path());

    let run = hiveward(dir.path(), &["rules", "test", PACK, "--rule", "E2E-A-001"]);
    run.assert_code(0);
    assert_eq!(rules_shown(&run), ["E2E-A-001"]);
    assert_eq!(
        run.lines().last().copied(),
        Some("rules test: 3 passed, 0 failed"),
        "{}",
        run.stdout_str()
    );

    // Any case of the id; a comma list and a repeated flag select the same rules.
    for args in [
        vec!["--rule", "e2e-a-001,E2E-A-002"],
        vec!["--rule", "E2E-A-001", "--rule", "E2E-A-002"],
        vec!["--rule", "E2E-A-*"],
    ] {
        let mut all = vec!["rules", "test", PACK];
        all.extend(args.iter().copied());
        let run = hiveward(dir.path(), &all);
        run.assert_code(0);
        assert_eq!(rules_shown(&run), ["E2E-A-001", "E2E-A-002"], "{args:?}");
        assert_eq!(
            run.lines().last().copied(),
            Some("rules test: 6 passed, 0 failed")
        );
    }

    // The failing rule fails the run when it is selected, and only then.
    let run = hiveward(dir.path(), &["rules", "test", PACK, "--rule", "E2E-*"]);
    run.assert_code(1);
    assert_eq!(rules_shown(&run), ["E2E-A-001", "E2E-A-002", "E2E-B-001"]);
    assert_eq!(
        run.lines().last().copied(),
        Some("rules test: 9 passed, 1 failed")
    );
}

#[test]
fn a_filter_that_selects_nothing_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    three_rule_pack(dir.path());
    for (args, needle) in [
        (
            vec!["--rule", "E2E-Z-*"],
            "--rule E2E-Z-*: no loaded rule matches it",
        ),
        (
            vec!["--rule", "E2E-A-001,NOPE-001"],
            "--rule NOPE-001: no loaded rule matches it",
        ),
        (
            vec!["--case", "no such case"],
            "--case \"no such case\": no case has a name containing it",
        ),
        (
            vec!["--rule", "E2E-A-001", "--case", "wrongly"],
            "--case \"wrongly\": no case of the selected rules has a name containing it",
        ),
        (
            vec!["--rule", "E2E-["],
            "--rule: `E2E-[` is not a valid glob",
        ),
    ] {
        let mut all = vec!["rules", "test", PACK];
        all.extend(args.iter().copied());
        let run = hiveward(dir.path(), &all);
        run.assert_code(2);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout_str());
        assert!(
            run.stderr.contains(needle),
            "{args:?}: expected {needle:?} in:\n{}",
            run.stderr
        );
    }
}

#[test]
fn case_filter_runs_matching_cases_and_leaves_out_the_coverage_check() {
    let dir = tempfile::tempdir().unwrap();
    three_rule_pack(dir.path());
    // "clean" matches one case of each rule, without regard to case; a rule that then has no
    // firing case in the run is not reported for it.
    let run = hiveward(dir.path(), &["rules", "test", PACK, "--case", "CLEAN"]);
    run.assert_code(0);
    assert_eq!(
        run.lines(),
        [
            "PASS E2E-A-001 clean when refused",
            "PASS E2E-A-002 clean when refused",
            "PASS E2E-B-001 clean when refused",
            "rules test: 3 passed, 0 failed",
        ]
    );
    let run = hiveward(
        dir.path(),
        &[
            "rules",
            "test",
            PACK,
            "--rule",
            "E2E-B-001",
            "--case",
            "wrongly",
        ],
    );
    run.assert_code(1);
    assert_eq!(
        run.lines()[0].split(" (").next(),
        Some("FAIL E2E-B-001 wrongly expects silence")
    );
    assert_eq!(
        run.lines().last().copied(),
        Some("rules test: 0 passed, 1 failed")
    );
}

#[test]
fn builtin_rules_can_be_selected_by_glob() {
    let run = hiveward(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &["rules", "test", "--rule", "HW-STRICT-*"],
    );
    run.assert_code(0);
    let shown = rules_shown(&run);
    assert!(shown.contains(&"HW-STRICT-001".to_string()), "{shown:?}");
    assert!(
        shown.iter().all(|id| id.starts_with("HW-STRICT-")),
        "{shown:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// file:line, JSON and JUnit.
// ---------------------------------------------------------------------------------------------

#[test]
fn a_failing_case_shows_the_file_and_line_of_its_header() {
    let dir = tempfile::tempdir().unwrap();
    three_rule_pack(dir.path());
    let tests = fs::read_to_string(dir.path().join(PACK).join("E2E-B-001.tests.toml")).unwrap();
    let line = header_line(&tests, 3);
    let run = hiveward(dir.path(), &["rules", "test", PACK, "--rule", "E2E-B-001"]);
    run.assert_code(1);
    let place = Path::new(PACK)
        .join("E2E-B-001.tests.toml")
        .display()
        .to_string();
    let fail = run
        .lines()
        .into_iter()
        .find(|line| line.starts_with("FAIL "))
        .unwrap()
        .to_string();
    assert_eq!(
        fail,
        format!("FAIL E2E-B-001 wrongly expects silence ({place}:{line})")
    );
}

#[test]
fn json_output_lists_every_case_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    three_rule_pack(dir.path());
    let tests = fs::read_to_string(dir.path().join(PACK).join("E2E-B-001.tests.toml")).unwrap();
    let run = hiveward(
        dir.path(),
        &[
            "rules",
            "test",
            PACK,
            "--rule",
            "E2E-B-001",
            "--format",
            "json",
        ],
    );
    run.assert_code(1);
    let report = run.json();
    assert_eq!(report["format"], "hiveward-rules-test");
    assert_eq!(report["version"], 1);
    assert_eq!(report["passed"], 3);
    assert_eq!(report["failed"], 1);
    let results = report["results"].as_array().unwrap();
    let file = Path::new(PACK)
        .join("E2E-B-001.tests.toml")
        .display()
        .to_string();
    let names: Vec<&str> = results
        .iter()
        .map(|result| result["case"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "fires when allowed",
            "clean when refused",
            "no workstation service",
            "wrongly expects silence"
        ]
    );
    for (index, result) in results.iter().enumerate() {
        let mut keys: Vec<&str> = result
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["case", "failure", "file", "kind", "line", "passed", "rule"],
            "{result}"
        );
        assert_eq!(result["rule"], "E2E-B-001");
        assert_eq!(result["kind"], "case");
        assert_eq!(result["file"], file.as_str());
        assert_eq!(result["line"], header_line(&tests, index));
    }
    let failed = &results[3];
    assert_eq!(failed["passed"], false);
    assert_eq!(
        failed["failure"],
        "- expected: []\n+ actual:   [\"E2E-B-001\"]"
    );
    assert_eq!(results[0]["passed"], true);
    assert_eq!(results[0]["failure"], Value::Null);
}

#[test]
fn json_output_names_coverage_and_file_problems() {
    let dir = tempfile::tempdir().unwrap();
    write_pack(
        dir.path(),
        &[
            (
                "E2E-C-001",
                plain_rule("E2E-C-001"),
                plain_case("clean", "[]", 0) + &*plain_not_applicable("n/a"),
            ),
            (
                "E2E-D-001",
                plain_rule("E2E-D-001"),
                "[[case]]\nname = \"unterminated\n".to_string(),
            ),
        ],
    );
    let run = hiveward(dir.path(), &["rules", "test", PACK, "--format", "json"]);
    run.assert_code(1);
    let report = run.json();
    let results = report["results"].as_array().unwrap();
    let coverage = results
        .iter()
        .find(|result| result["kind"] == "coverage" && result["rule"] == "E2E-C-001")
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(coverage["case"], "(coverage)");
    assert_eq!(coverage["line"], Value::Null);
    assert_eq!(coverage["passed"], false);
    let file_problem = results
        .iter()
        .find(|result| result["kind"] == "file")
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(file_problem["rule"], "E2E-D-001");
    assert_eq!(file_problem["case"], "(file)");
    assert_eq!(file_problem["line"], 2);
}

#[test]
fn junit_output_has_a_suite_per_rule_and_a_failure_with_the_diff() {
    let dir = tempfile::tempdir().unwrap();
    three_rule_pack(dir.path());
    let tests = fs::read_to_string(dir.path().join(PACK).join("E2E-B-001.tests.toml")).unwrap();
    let run = hiveward(
        dir.path(),
        &[
            "rules",
            "test",
            PACK,
            "--rule",
            "E2E-A-001,E2E-B-001",
            "--format",
            "junit",
        ],
    );
    run.assert_code(1);
    let xml = run.stdout_str();
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
        "{xml}"
    );
    assert!(
        xml.contains(
            "<testsuites name=\"hiveward rules test\" tests=\"7\" failures=\"1\" errors=\"0\">"
        ),
        "{xml}"
    );
    assert!(
        xml.contains("<testsuite name=\"E2E-A-001\" tests=\"3\" failures=\"0\""),
        "{xml}"
    );
    assert!(
        xml.contains("<testsuite name=\"E2E-B-001\" tests=\"4\" failures=\"1\""),
        "{xml}"
    );
    assert_eq!(xml.matches("<testsuite ").count(), 2, "{xml}");
    assert_eq!(xml.matches("<testcase ").count(), 7, "{xml}");
    let file = Path::new(PACK)
        .join("E2E-B-001.tests.toml")
        .display()
        .to_string();
    let line = header_line(&tests, 3);
    let failing = format!(
        "<testcase name=\"wrongly expects silence\" classname=\"E2E-B-001\" file=\"{file}\" line=\"{line}\">\n      <failure message=\"- expected: []\" type=\"case\">{file}:{line}\n- expected: []\n+ actual:   [&quot;E2E-B-001&quot;]</failure>\n    </testcase>"
    );
    assert!(
        xml.contains(&failing.replace("&quot;", "\"")),
        "expected\n{failing}\nin\n{xml}"
    );
    assert!(xml.trim_end().ends_with("</testsuites>"), "{xml}");
    assert_eq!(
        xml.matches("<testsuite ").count(),
        xml.matches("</testsuite>").count()
    );
}

#[test]
fn the_report_can_be_written_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    three_rule_pack(dir.path());
    let run = hiveward(
        dir.path(),
        &[
            "rules", "test", PACK, "--rule", "E2E-A-*", "--format", "junit", "-o", "out.xml",
        ],
    );
    run.assert_code(0);
    assert!(run.stdout.is_empty(), "{}", run.stdout_str());
    let xml = fs::read_to_string(dir.path().join("out.xml")).unwrap();
    assert!(xml.contains("failures=\"0\""), "{xml}");
}

/// `schemas/rules-test.schema.json` is the schema of the JSON report.
///
/// After changing the report, regenerate with
/// `HIVEWARD_UPDATE_SCHEMAS=1 cargo test --test rules_test_cli`.
#[test]
fn the_committed_rules_test_schema_is_current() {
    let schema = hiveward_engine::TestReport::json_schema();
    let generated = serde_json::to_string_pretty(&schema).expect("schema serialises") + "\n";
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/rules-test.schema.json");
    if std::env::var("HIVEWARD_UPDATE_SCHEMAS").as_deref() == Ok("1") {
        fs::write(&path, &generated).expect("schema file is writable");
        return;
    }
    let committed =
        fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    assert!(
        committed == generated,
        "{} is stale; regenerate with HIVEWARD_UPDATE_SCHEMAS=1 cargo test --test rules_test_cli",
        path.display()
    );
    let schema: Value = serde_json::from_str(&committed).unwrap();
    let required: Vec<&str> = schema["$defs"]["RulesTestCaseJson"]["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|field| field.as_str().unwrap())
        .collect();
    for field in ["rule", "case", "kind", "file", "line", "passed", "failure"] {
        assert!(required.contains(&field), "{field} in {required:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// The coverage hint.
// ---------------------------------------------------------------------------------------------

fn coverage_details(run: &Run, id: &str) -> Vec<String> {
    let mut details = Vec::new();
    let mut inside = false;
    for line in run.lines() {
        if line.starts_with("FAIL ") || line.starts_with("PASS ") {
            inside = line.starts_with(&format!("FAIL {id} (coverage)"));
            continue;
        }
        if inside && line.starts_with("    ") {
            details.push(line.trim().to_string());
        }
    }
    details
}

#[test]
fn the_coverage_hint_says_which_kind_of_case_is_missing_or_failing() {
    let dir = tempfile::tempdir().unwrap();
    let id = "E2E-COV-001";
    // No firing case at all.
    write_pack(
        dir.path(),
        &[(
            id,
            plain_rule(id),
            plain_case("clean", "[]", 0) + &*plain_not_applicable("n/a"),
        )],
    );
    let run = hiveward(dir.path(), &["rules", "test", PACK]);
    run.assert_code(1);
    let file = Path::new(PACK)
        .join(format!("{id}.tests.toml"))
        .display()
        .to_string();
    assert!(
        run.lines()
            .contains(&format!("FAIL {id} (coverage) ({file})").as_str()),
        "{}",
        run.stdout_str()
    );
    assert_eq!(
        coverage_details(&run, id),
        [format!(
            "the rule has no case where it fires: add one with `expect = [\"{id}\"]` to {file}"
        )]
    );

    // A firing case that fails: the hint names it instead of asking for another.
    write_pack(
        dir.path(),
        &[(
            id,
            plain_rule(id),
            plain_case("fires", &format!("[\"{id}\"]"), 0)
                + &*plain_case("clean", "[]", 0)
                + &*plain_not_applicable("n/a"),
        )],
    );
    let run = hiveward(dir.path(), &["rules", "test", PACK]);
    run.assert_code(1);
    assert_eq!(
        coverage_details(&run, id),
        ["the rule has no passing case where it fires: the case \"fires\" is one but fails (see its FAIL line); fix it"]
    );

    // No clean and no not-applicable case.
    write_pack(
        dir.path(),
        &[(
            id,
            plain_rule(id),
            plain_case("fires", &format!("[\"{id}\"]"), 1),
        )],
    );
    let run = hiveward(dir.path(), &["rules", "test", PACK]);
    run.assert_code(1);
    assert_eq!(
        coverage_details(&run, id),
        [
            format!("the rule has no clean case (one where it checks the host and finds nothing): add one with `expect = []` to {file}"),
            format!("the rule has no not-applicable case (one where the host lacks what it needs): add one with `expect = []` and `outcome = \"not_applicable\"` to {file}"),
        ]
    );

    // A test file named with another case of the id counts for the rule.
    write_pack(dir.path(), &[(id, plain_rule(id), String::new())]);
    let pack = dir.path().join(PACK);
    fs::remove_file(pack.join(format!("{id}.tests.toml"))).unwrap();
    write(
        &pack.join(format!("{}.tests.toml", id.to_lowercase())),
        complete_cases(id),
    );
    let run = hiveward(dir.path(), &["rules", "test", PACK]);
    run.assert_code(0);
    assert_eq!(
        run.lines().last().copied(),
        Some("rules test: 3 passed, 0 failed")
    );
}

// ---------------------------------------------------------------------------------------------
// Tests run like scans: a rule sees the event records its own `needs` declares.
// ---------------------------------------------------------------------------------------------

const SYSTEM_REG: &str = r#"Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\Select]
"Current"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\ComputerName\ComputerName]
"ComputerName"="FS01"
"#;

/// A rule that reports the Print Spooler entering the running state (System 7036), with
/// `needs` as given. `host.events` is on line 12.
fn spooler_rule(id: &str, needs: &str, catch: bool) -> String {
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
fn spooler_cases(id: &str) -> String {
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

// ---------------------------------------------------------------------------------------------
// A wrong field inside `needs` is reported where it is.
// ---------------------------------------------------------------------------------------------

/// The `file:line:column` prefix and message of the load error for a rule whose `needs` is
/// `needs`, written on line 7.
fn needs_error(needs: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let id = "E2E-NEEDS-001";
    write_pack(
        dir.path(),
        &[(id, spooler_rule(id, needs, false), spooler_cases(id))],
    );
    let run = hiveward(dir.path(), &["rules", "test", PACK]);
    run.assert_code(2);
    run.stderr
        .lines()
        .find_map(|line| line.trim().strip_prefix("× "))
        .unwrap_or_else(|| panic!("no error line:\n{}", run.stderr))
        .to_string()
}

#[test]
fn a_wrong_field_inside_needs_is_reported_at_that_field() {
    let file = Path::new(PACK)
        .join("E2E-NEEDS-001.rhai")
        .display()
        .to_string();
    // `    needs: ` is 11 characters: the map opens at column 12.
    for (needs, column, message) in [
        (
            r#"#{ events: [#{ channel: "System", id: 7036 }] }"#,
            46,
            "needs.events[0].id: unknown field `id`, expected one of `channel`, `ids`, `provider` (event ids are a list here: `ids: [7036]`)",
        ),
        (
            r#"#{ hives: ["SYSTEM"], event: [#{ channel: "System" }] }"#,
            34,
            "needs.event: unknown field `event`, expected one of `hives`, `keys`, `events`, `any` (did you mean `events`?)",
        ),
        (
            r#"#{ events: [#{ channel: "System", ids: [7036, "7040"] }] }"#,
            58,
            "needs.events[0].ids[1]: an event id must be an integer from 0 to 4294967295, not a string",
        ),
        (
            r#"#{ any: [#{ hives: ["SYSTEM"] }, #{ hives: ["SYSTM"] }] }"#,
            56,
            "needs.any[1].hives[0]: unknown variant `SYSTM`, expected one of `SYSTEM`, `SOFTWARE`, `HKCU`, `SAM`, `SECURITY`",
        ),
        (
            r#"#{ events: [#{ ids: [7036] }] }"#,
            24,
            "needs.events[0]: missing field `channel`",
        ),
    ] {
        assert_eq!(
            needs_error(needs),
            format!("{file}:7:{column}: invalid RULE metadata: {message}"),
            "needs: {needs}"
        );
    }
}
