//! End-to-end tests of `hiveward scan`: the findings on the sample bundle, exit codes, rule
//! selection, profiles, `-o`, determinism across thread counts, the text layout, custom packs,
//! broken rules, unreadable or missing evidence, the corpus, and the shape of the JSON report
//! against `schemas/findings.schema.json`.

mod support;

use std::fs;
use std::path::Path;

use hiveward_testkit::hive_from_reg;
use serde_json::Value;
use support::{hiveward, root, Run};

/// Runs `hiveward scan examples/bundle --format json EXTRA` from the repository root.
/// The sample bundle scanned with the two starter rules these tests were written around (unless
/// the test picks its own rules), so that adding built-in rules does not change their subject.
fn scan_bundle_json(extra: &[&str]) -> Run {
    let mut args = vec!["scan", "examples/bundle", "--format", "json"];
    if !extra.contains(&"--only") && !extra.contains(&"--exclude") {
        args.extend(["--only", "HW-STRICT-001,HW-HARD-003"]);
    }
    args.extend_from_slice(extra);
    hiveward(&root(), &args)
}

fn findings(report: &Value) -> &Vec<Value> {
    report["findings"].as_array().expect("findings is an array")
}

/// `(rule, host)` of every finding, in report order.
fn rule_hosts(report: &Value) -> Vec<(String, String)> {
    findings(report)
        .iter()
        .map(|finding| {
            (
                finding["rule"].as_str().unwrap().to_string(),
                finding["host"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(rule, host)| (rule.to_string(), host.to_string()))
        .collect()
}

fn rule_ids(report: &Value) -> Vec<String> {
    report["rules"]
        .as_array()
        .expect("rules is an array")
        .iter()
        .map(|rule| rule["id"].as_str().unwrap().to_string())
        .collect()
}

fn assert_no_rule_errors(report: &Value) {
    assert_eq!(
        report["rule_errors"],
        Value::Array(Vec::new()),
        "rule errors in the report"
    );
    assert_eq!(report["summary"]["rule_errors"], 0);
}

// ---------------------------------------------------------------------------------------------
// A structural check of the JSON report against the committed JSON Schema.
// ---------------------------------------------------------------------------------------------

/// The schema keywords `validate` understands; anything else in the schema fails the test, so a
/// new construct cannot slip through unchecked.
const KNOWN_KEYWORDS: [&str; 16] = [
    "$schema",
    "$defs",
    "$ref",
    "title",
    "description",
    "format",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "const",
    "enum",
    "oneOf",
    "anyOf",
    "minimum",
];

fn findings_schema() -> Value {
    let path = root().join("schemas/findings.schema.json");
    let text = fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path:?}: {error}"));
    serde_json::from_str(&text).expect("the findings schema is JSON")
}

fn type_matches(name: &str, value: &Value) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        other => panic!("unknown JSON Schema type {other:?}"),
    }
}

/// Checks `value` against `schema` (a subset of JSON Schema: enough for what schemars writes),
/// pushing one message per violation onto `errors`.
fn validate(root: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let object = match schema {
        Value::Bool(true) => return,
        Value::Bool(false) => {
            errors.push(format!("{at}: the schema allows nothing here"));
            return;
        }
        Value::Object(object) => object,
        other => panic!("{at}: a schema must be an object or a boolean, not {other}"),
    };
    for keyword in object.keys() {
        assert!(
            KNOWN_KEYWORDS.contains(&keyword.as_str()),
            "{at}: the schema uses `{keyword}`, which this test does not check; extend `validate`"
        );
    }
    if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
        let name = reference
            .strip_prefix("#/$defs/")
            .unwrap_or_else(|| panic!("{at}: unsupported $ref {reference}"));
        let target = &root["$defs"][name];
        assert!(
            !target.is_null(),
            "{at}: $ref to a missing definition {name}"
        );
        validate(root, target, value, at, errors);
    }
    if let Some(kind) = object.get("type") {
        let names: Vec<&str> = match kind {
            Value::String(name) => vec![name.as_str()],
            Value::Array(names) => names.iter().filter_map(Value::as_str).collect(),
            other => panic!("{at}: unsupported type {other}"),
        };
        if !names.iter().any(|name| type_matches(name, value)) {
            errors.push(format!("{at}: {value} is not of type {names:?}"));
            return;
        }
    }
    if let Some(expected) = object.get("const") {
        if value != expected {
            errors.push(format!("{at}: {value} is not the constant {expected}"));
        }
    }
    if let Some(Value::Array(allowed)) = object.get("enum") {
        if !allowed.contains(value) {
            errors.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    if let (Some(minimum), Some(number)) = (
        object.get("minimum").and_then(Value::as_f64),
        value.as_f64(),
    ) {
        if number < minimum {
            errors.push(format!("{at}: {number} is below the minimum {minimum}"));
        }
    }
    for (keyword, exactly_one) in [("oneOf", true), ("anyOf", false)] {
        if let Some(Value::Array(options)) = object.get(keyword) {
            let matching = options
                .iter()
                .filter(|option| {
                    let mut scratch = Vec::new();
                    validate(root, option, value, at, &mut scratch);
                    scratch.is_empty()
                })
                .count();
            let ok = if exactly_one {
                matching == 1
            } else {
                matching >= 1
            };
            if !ok {
                errors.push(format!(
                    "{at}: {value} matches {matching} of the {keyword} alternatives"
                ));
            }
        }
    }
    if let Value::Object(map) = value {
        if let Some(Value::Array(required)) = object.get("required") {
            for key in required.iter().filter_map(Value::as_str) {
                if !map.contains_key(key) {
                    errors.push(format!("{at}: the required key `{key}` is missing"));
                }
            }
        }
        let properties = object.get("properties").and_then(Value::as_object);
        for (key, item) in map {
            let path = format!("{at}.{key}");
            match properties.and_then(|properties| properties.get(key)) {
                Some(property) => validate(root, property, item, &path, errors),
                None => {
                    if let Some(additional) = object.get("additionalProperties") {
                        validate(root, additional, item, &path, errors);
                    } else if properties.is_some() && !object.contains_key("$ref") {
                        errors.push(format!("{path}: not described by the schema"));
                    }
                }
            }
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (value, object.get("items")) {
        for (index, item) in items.iter().enumerate() {
            validate(root, item_schema, item, &format!("{at}[{index}]"), errors);
        }
    }
}

/// Asserts that `report` has every key the schema's top level requires, with the declared
/// types, and that it validates against the whole schema.
fn assert_matches_schema(report: &Value) {
    let schema = findings_schema();
    let required: Vec<&str> = schema["required"]
        .as_array()
        .expect("the schema has a top-level `required` list")
        .iter()
        .map(|key| key.as_str().unwrap())
        .collect();
    assert!(
        required.len() >= 10,
        "the schema requires only {required:?}"
    );
    let object = report.as_object().expect("the report is a JSON object");
    for key in &required {
        assert!(object.contains_key(*key), "the report lacks `{key}`");
    }
    for key in object.keys() {
        assert!(
            schema["properties"].get(key).is_some(),
            "the report has `{key}`, which the schema does not describe"
        );
    }
    for (key, expected) in [
        ("tool", "object"),
        ("inputs", "array"),
        ("profile", "string"),
        ("params", "object"),
        ("rules", "array"),
        ("hosts", "array"),
        ("passed_over", "array"),
        ("findings", "array"),
        ("rule_errors", "array"),
        ("counts", "object"),
        ("summary", "object"),
    ] {
        if required.contains(&key) {
            assert!(
                type_matches(expected, &report[key]),
                "`{key}` is not a JSON {expected}: {}",
                report[key]
            );
        }
    }
    let mut errors = Vec::new();
    validate(&schema, &schema, report, "$", &mut errors);
    assert!(
        errors.is_empty(),
        "the report does not match schemas/findings.schema.json:\n{}",
        errors.join("\n")
    );
}

/// The checker above is only worth something if it rejects reports that break the schema.
#[test]
fn the_schema_check_rejects_broken_reports() {
    let run = scan_bundle_json(&[]);
    run.assert_code(0);
    let report = run.json();
    let schema = findings_schema();
    let errors_of = |broken: &Value| {
        let mut errors = Vec::new();
        validate(&schema, &schema, broken, "$", &mut errors);
        errors
    };
    assert!(errors_of(&report).is_empty());

    let mut missing = report.clone();
    missing.as_object_mut().unwrap().remove("summary");
    assert!(errors_of(&missing)
        .iter()
        .any(|error| error.contains("`summary`")));

    let mut severity = report.clone();
    severity["findings"][0]["severity"] = Value::from("severe");
    assert!(!errors_of(&severity).is_empty());

    let mut count = report.clone();
    count["summary"]["findings"] = Value::from("two");
    assert!(!errors_of(&count).is_empty());

    let mut evidence = report;
    evidence["findings"][1]["evidence"][0]
        .as_object_mut()
        .unwrap()
        .remove("default_applied");
    assert!(errors_of(&evidence)
        .iter()
        .any(|error| error.contains("default_applied")));
}

// ---------------------------------------------------------------------------------------------
// The sample bundle.
// ---------------------------------------------------------------------------------------------

#[test]
fn sample_bundle_findings_and_evidence() {
    let run = scan_bundle_json(&[]);
    // Two medium findings; the default --fail-on is high.
    run.assert_code(0);
    let report = run.json();
    assert_no_rule_errors(&report);
    assert_eq!(
        rule_hosts(&report),
        pairs(&[("HW-STRICT-001", "FS01"), ("HW-HARD-003", "WKS7")])
    );
    assert_eq!(report["summary"]["findings"], 2);
    assert_eq!(report["counts"]["medium"], 2);
    assert_eq!(report["counts"]["high"], 0);
    assert_eq!(report["summary"]["files_unreadable"], 0);
    assert_eq!(report["profile"], "cis");

    let all = findings(&report);
    let strict = &all[0];
    assert_eq!(strict["severity"], "medium");
    assert_eq!(strict["pack"], "strict-name");
    let evidence = &strict["evidence"][0];
    assert_eq!(evidence["kind"], "registry");
    assert_eq!(evidence["value_name"], "DisableStrictNameChecking");
    let resolved = evidence["resolved_path"].as_str().unwrap();
    assert!(resolved.contains("ControlSet001"), "{resolved}");
    assert!(!resolved.contains("CurrentControlSet"), "{resolved}");
    assert_eq!(evidence["observed"], 1);
    assert_eq!(evidence["observed_type"], "REG_DWORD");
    assert_eq!(evidence["expected"], 0);
    assert_eq!(evidence["default_applied"], false);
    let file = evidence["file"].as_str().unwrap();
    assert!(file.ends_with("FS01_SYSTEM.HIV"), "{file}");
    assert!(
        strict["fix"]
            .as_str()
            .unwrap()
            .contains("netdom computername FS01"),
        "the fix names the host: {}",
        strict["fix"]
    );

    let hard = &all[1];
    assert_eq!(hard["severity"], "medium");
    assert_eq!(hard["pack"], "hardening-level");
    let evidence = &hard["evidence"][0];
    assert_eq!(evidence["value_name"], "SmbServerNameHardeningLevel");
    let resolved = evidence["resolved_path"].as_str().unwrap();
    assert!(resolved.contains("ControlSet001"), "{resolved}");
    assert_eq!(evidence["default_applied"], true);
    // The value is absent on WKS7: nothing was observed, the default 0 was judged.
    assert!(evidence.get("observed").is_none(), "{evidence}");
    assert_eq!(evidence["effective"], 0);
    assert_eq!(evidence["expected"], 1);
    assert!(evidence["file"]
        .as_str()
        .unwrap()
        .ends_with("WKS7_SYSTEM.HIV"));
    assert!(
        hard["message"]
            .as_str()
            .unwrap()
            .contains("not set (behaves as 0)"),
        "{}",
        hard["message"]
    );
    assert_matches_schema(&report);
}

#[test]
fn fail_on_sets_the_exit_code() {
    let medium = scan_bundle_json(&["--fail-on", "medium"]);
    medium.assert_code(1);
    assert_eq!(findings(&medium.json()).len(), 2);

    let never = scan_bundle_json(&["--fail-on", "never"]);
    never.assert_code(0);
    assert_eq!(findings(&never.json()).len(), 2);

    let high = scan_bundle_json(&["--fail-on", "high"]);
    high.assert_code(0);

    let bogus = scan_bundle_json(&["--fail-on", "severe"]);
    bogus.assert_code(2);
}

#[test]
fn only_and_exclude_select_rules() {
    let only = scan_bundle_json(&["--only", "HW-STRICT-001"]);
    only.assert_code(0);
    let report = only.json();
    assert_eq!(rule_ids(&report), ["HW-STRICT-001"]);
    assert_eq!(rule_hosts(&report), pairs(&[("HW-STRICT-001", "FS01")]));

    // Excluding every rule leaves nothing to run: an invalid invocation, not a scan.
    let excluded = scan_bundle_json(&["--only", "HW-STRICT-001", "--exclude", "HW-STRICT-001"]);
    excluded.assert_no_panic();
    excluded.assert_code(2);
    assert!(
        excluded.stderr.contains("no rules left to run"),
        "{}",
        excluded.stderr
    );
    assert!(excluded.stdout.is_empty(), "no report without rules");

    let unknown = scan_bundle_json(&["--only", "HW-NOPE-999"]);
    unknown.assert_code(2);
    assert!(unknown.stderr.contains("HW-NOPE-999"), "{}", unknown.stderr);
    assert!(
        unknown.stdout.is_empty(),
        "no report for an invalid invocation"
    );
}

#[test]
fn stig_2012_profile_skips_hosts_that_are_not_server_2012() {
    let run = scan_bundle_json(&["--profile", "stig-2012"]);
    run.assert_code(0);
    let report = run.json();
    assert_eq!(report["profile"], "stig-2012");
    assert_no_rule_errors(&report);
    // HW-HARD-003 runs under stig-2012, but the bundle holds no Server 2012 host.
    assert!(rule_ids(&report).contains(&"HW-HARD-003".to_string()));
    assert_eq!(rule_hosts(&report), pairs(&[("HW-STRICT-001", "FS01")]));
}

#[test]
fn output_file_holds_the_same_json_as_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    let written = scan_bundle_json(&["-o", path.to_str().unwrap()]);
    written.assert_code(0);
    assert!(
        written.stdout.is_empty(),
        "with -o nothing goes to stdout: {}",
        written.stdout_text()
    );
    let from_file = fs::read(&path).expect("-o wrote the report");
    let to_stdout = scan_bundle_json(&[]);
    to_stdout.assert_code(0);
    assert_eq!(
        String::from_utf8(from_file).unwrap(),
        to_stdout.stdout_text(),
        "-o FILE and stdout differ"
    );
}

#[test]
fn text_output_groups_findings_by_host_and_ends_with_a_summary() {
    let run = hiveward(
        &root(),
        &[
            "scan",
            "--detail",
            "examples/bundle",
            "--only",
            "HW-STRICT-001,HW-HARD-003",
        ],
    );
    run.assert_code(0);
    let text = run.stdout_text();
    let lines: Vec<&str> = text.lines().collect();
    let unindented: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|line| !line.is_empty() && !line.starts_with(' '))
        .collect();
    assert_eq!(
        unindented.len(),
        5,
        "three host headers, a summary and the coverage line:\n{text}"
    );
    let hosts: Vec<&str> = unindented[..3]
        .iter()
        .map(|line| line.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(hosts, ["FS01", "PC22", "WKS7"], "{text}");
    assert!(
        unindented[0].starts_with("FS01 (Windows Server 2019"),
        "{}",
        unindented[0]
    );

    // Each finding sits in its host's section.
    let section = |host: &str| -> Vec<&str> {
        let start = lines
            .iter()
            .position(|line| line.starts_with(host))
            .unwrap();
        lines[start + 1..]
            .iter()
            .copied()
            .take_while(|line| line.is_empty() || line.starts_with(' '))
            .collect()
    };
    assert!(
        section("FS01")
            .iter()
            .any(|line| line.contains("MEDIUM") && line.contains("HW-STRICT-001")),
        "{text}"
    );
    assert!(
        !section("FS01")
            .iter()
            .any(|line| line.contains("HW-HARD-003")),
        "{text}"
    );
    // Both rules checked PC22 and passed: "no findings" says so on the same line.
    assert!(
        section("PC22")
            .iter()
            .any(|line| line.trim() == "no findings: all 2 rule(s) checked and passed"),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|line| line.starts_with("PC22 (") && line.ends_with(": checked 2 of 2 rule(s)")),
        "{text}"
    );
    assert!(
        section("WKS7")
            .iter()
            .any(|line| line.contains("MEDIUM") && line.contains("HW-HARD-003")),
        "{text}"
    );

    let summary = lines[lines.len() - 2];
    assert_eq!(summary, unindented[3]);
    let coverage = lines.last().expect("text output is not empty");
    assert!(
        coverage.starts_with("coverage: 6 rule × host check(s) made (4 passed), 0 not applicable"),
        "{coverage}"
    );
    assert!(summary.starts_with("2 finding(s):"), "{summary}");
    assert!(summary.contains("2 medium"), "{summary}");
    assert!(summary.contains("3 host(s)"), "{summary}");
    assert!(summary.contains("0 rule error(s)"), "{summary}");
}

// ---------------------------------------------------------------------------------------------
// Determinism.
// ---------------------------------------------------------------------------------------------

fn assert_same_for_any_thread_count(dir: &Path, input: &str, format: &str) -> Run {
    let only = ["--only", "HW-STRICT-001,HW-HARD-003"];
    let one = hiveward(
        dir,
        &[
            "scan", input, "--format", format, "--jobs", "1", only[0], only[1],
        ],
    );
    one.assert_no_panic();
    for attempt in 0..2 {
        let two = hiveward(
            dir,
            &[
                "scan", input, "--format", format, "--jobs", "2", only[0], only[1],
            ],
        );
        assert_eq!(two.code, one.code);
        assert!(
            one.stdout == two.stdout,
            "--jobs 1 and --jobs 2 (attempt {attempt}) give different {format} for {input}"
        );
    }
    one
}

#[test]
fn output_is_byte_identical_for_any_thread_count_on_the_sample_bundle() {
    for format in ["json", "text"] {
        let run = assert_same_for_any_thread_count(&root(), "examples/bundle", format);
        run.assert_code(0);
    }
}

#[test]
fn output_is_byte_identical_for_any_thread_count_on_many_hosts() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = root().join("examples/bundle");
    let copies = 6;
    for copy in 1..=copies {
        for entry in fs::read_dir(&bundle).unwrap() {
            let source = entry.unwrap().path();
            let name = source.file_name().unwrap().to_str().unwrap().to_string();
            let host = name.split('_').next().unwrap();
            let folder = dir.path().join("fleet").join(format!("site{copy}-{host}"));
            fs::create_dir_all(&folder).unwrap();
            fs::copy(&source, folder.join(&name)).unwrap();
        }
    }
    let run = assert_same_for_any_thread_count(dir.path(), "fleet", "json");
    run.assert_code(0);
    let report = run.json();
    assert_no_rule_errors(&report);
    let evaluations = report["summary"]["evaluations"].as_u64().unwrap();
    assert!(
        evaluations >= 2 * 2 * copies,
        "only {evaluations} evaluations"
    );
    let fired = rule_hosts(&report);
    let count = |rule: &str| fired.iter().filter(|(id, _)| id == rule).count();
    assert_eq!(count("HW-STRICT-001"), copies as usize, "{fired:?}");
    assert_eq!(count("HW-HARD-003"), copies as usize, "{fired:?}");
    assert_eq!(fired.len(), 2 * copies as usize, "{fired:?}");
    assert_matches_schema(&report);

    assert_same_for_any_thread_count(dir.path(), "fleet", "text").assert_code(0);
}

/// Every built-in rule (host and fleet rules, events, inferred builds) over the sample bundle
/// and the corpus: JSON and SARIF are byte-identical whatever the thread count.
#[test]
fn all_builtin_rules_give_identical_reports_for_any_thread_count() {
    let mut inputs = vec![root().join("examples/bundle")];
    if let Some(corpus) = hiveward_testkit::corpus_dir() {
        inputs.push(corpus);
    }
    for input in inputs {
        let input = input.to_str().unwrap().to_string();
        for format in ["json", "sarif"] {
            let scan = |jobs: &str| {
                hiveward(
                    &root(),
                    &[
                        "scan",
                        &input,
                        "--format",
                        format,
                        "--jobs",
                        jobs,
                        "--fail-on",
                        "never",
                    ],
                )
            };
            let one = scan("1");
            one.assert_no_panic();
            assert!(
                matches!(one.code, 0 | 3),
                "{input}: exit {}\n{}",
                one.code,
                one.stderr
            );
            let two = scan("2");
            assert_eq!(two.code, one.code, "{input}");
            assert!(
                one.stdout == two.stdout,
                "--jobs 1 and --jobs 2 give different {format} for {input}"
            );
            if format == "json" {
                let report = one.json();
                assert_no_rule_errors(&report);
                assert!(
                    report["summary"]["findings"].as_u64().unwrap() > 0,
                    "{input}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Custom packs.
// ---------------------------------------------------------------------------------------------

const PACK_TOML: &str = r#"name = "e2e-site"
version = "1.0.0"
description = "End-to-end test pack."
min_hiveward = "0.1.0"
"#;

const PLAIN_RULE: &str = r#"//! Plain-text passwords to third-party SMB servers are allowed.

export const RULE = #{
    id: "E2E-PLAIN-001",
    pack: "e2e-site",
    title: "Unencrypted passwords may be sent to SMB servers",
    description: "EnablePlainTextPassword = 1 lets the SMB client send passwords in clear text.",
    severity: "high",
    tags: ["smb", "test"],
    references: ["end-to-end test"],
    scope: "host",
    needs: #{ keys: [`HKLM\SYSTEM\CurrentControlSet\Services\LanmanWorkstation\Parameters`] },
    fix: `Set {{path}}\EnablePlainTextPassword to 0 on {{host}}.`,
};

fn check(host) {
    let path = `HKLM\SYSTEM\CurrentControlSet\Services\LanmanWorkstation\Parameters`;
    let setting = host.setting(path, "EnablePlainTextPassword", 0);
    if setting.observed_type != () && setting.observed_type != "REG_DWORD" {
        return [];
    }
    if setting.value != 1 {
        return [];
    }
    setting.expected = 0;
    [#{
        message: `EnablePlainTextPassword is 1 on ${host.name}.`,
        evidence: [setting],
        fix_values: #{ host: host.name, path: path },
    }]
}
"#;

const PLAIN_TESTS: &str = r#"[[case]]
name = "plain-text passwords allowed fires"
expect = ["E2E-PLAIN-001"]
message_contains = "is 1 on HOST"
reg = '''
Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\LanmanWorkstation\Parameters]
"EnablePlainTextPassword"=dword:00000001
'''

[[case]]
name = "plain-text passwords refused is clean"
expect = []
reg = '''
Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\LanmanWorkstation\Parameters]
"EnablePlainTextPassword"=dword:00000000
'''

[[case]]
name = "no workstation service is not applicable"
expect = []
outcome = "not_applicable"
reason_contains = "LanmanWorkstation"
reg = '''
Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\ComputerName\ComputerName]
"ComputerName"="CORE01"
'''
"#;

/// Writes a pack folder with `pack.toml` and the given files.
fn write_pack(folder: &Path, files: &[(&str, &str)]) {
    fs::create_dir_all(folder).unwrap();
    fs::write(folder.join("pack.toml"), PACK_TOML).unwrap();
    for (name, text) in files {
        fs::write(folder.join(name), text).unwrap();
    }
}

/// A SYSTEM hive of host `name` with `EnablePlainTextPassword` set to `plain`.
fn system_hive(name: &str, plain: u32) -> Vec<u8> {
    hive_from_reg(&format!(
        "Windows Registry Editor Version 5.00\n\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\n\
         \"Current\"=dword:00000001\n\"Default\"=dword:00000001\n\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\ComputerName\\ComputerName]\n\
         \"ComputerName\"=\"{name}\"\n\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\LanmanServer\\Parameters]\n\
         \"SmbServerNameHardeningLevel\"=dword:00000001\n\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\LanmanWorkstation\\Parameters]\n\
         \"EnablePlainTextPassword\"=dword:{plain:08x}\n"
    ))
}

/// A bundle with ALPHA (plain-text passwords allowed) and BRAVO (refused).
fn write_bundle(folder: &Path) {
    fs::create_dir_all(folder).unwrap();
    fs::write(folder.join("ALPHA_SYSTEM.HIV"), system_hive("ALPHA", 1)).unwrap();
    fs::write(folder.join("BRAVO_SYSTEM.HIV"), system_hive("BRAVO", 0)).unwrap();
}

#[test]
fn custom_pack_runs_beside_the_builtin_rules() {
    let dir = tempfile::tempdir().unwrap();
    write_pack(
        &dir.path().join("pack"),
        &[
            ("E2E-PLAIN-001.rhai", PLAIN_RULE),
            ("E2E-PLAIN-001.tests.toml", PLAIN_TESTS),
        ],
    );
    write_bundle(&dir.path().join("bundle"));

    // The pack's own tests pass, so the fixture pack is sound.
    let tested = hiveward(dir.path(), &["rules", "test", "pack"]);
    tested.assert_code(0);
    assert!(
        tested
            .stdout_text()
            .ends_with("rules test: 3 passed, 0 failed\n"),
        "{}",
        tested.stdout_text()
    );

    let run = hiveward(
        dir.path(),
        &[
            "scan",
            "bundle",
            "--rules",
            "pack",
            "--only",
            "E2E-PLAIN-001,HW-HARD-003,HW-STRICT-001",
            "--format",
            "json",
        ],
    );
    // A high finding with the default --fail-on high.
    run.assert_code(1);
    let report = run.json();
    assert_no_rule_errors(&report);
    assert_eq!(
        rule_ids(&report),
        ["E2E-PLAIN-001", "HW-HARD-003", "HW-STRICT-001"]
    );
    let custom = report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|rule| rule["id"] == "E2E-PLAIN-001")
        .unwrap();
    assert_eq!(custom["builtin"], false);
    assert_eq!(custom["pack"], "e2e-site");
    assert_eq!(report["summary"]["hosts"], 2);
    assert_eq!(report["summary"]["evaluations"], 6);

    let plain: Vec<&Value> = findings(&report)
        .iter()
        .filter(|finding| finding["rule"] == "E2E-PLAIN-001")
        .collect();
    assert_eq!(plain.len(), 1, "{report}");
    let finding = plain[0];
    assert_eq!(finding["host"], "ALPHA");
    assert_eq!(finding["severity"], "high");
    assert_eq!(finding["message"], "EnablePlainTextPassword is 1 on ALPHA.");
    let evidence = &finding["evidence"][0];
    assert!(evidence["resolved_path"]
        .as_str()
        .unwrap()
        .ends_with(r"ControlSet001\Services\LanmanWorkstation\Parameters"));
    assert_eq!(evidence["observed"], 1);
    assert_eq!(evidence["expected"], 0);
    assert!(evidence["file"]
        .as_str()
        .unwrap()
        .ends_with("ALPHA_SYSTEM.HIV"));
    assert!(
        finding["fix"].as_str().unwrap().contains("on ALPHA."),
        "fix values are filled in: {}",
        finding["fix"]
    );
    assert_matches_schema(&report);

    let only_custom = hiveward(
        dir.path(),
        &[
            "scan",
            "bundle",
            "--rules",
            "pack",
            "--no-builtin",
            "--format",
            "json",
        ],
    );
    only_custom.assert_code(1);
    let report = only_custom.json();
    assert_no_rule_errors(&report);
    assert_eq!(rule_ids(&report), ["E2E-PLAIN-001"]);
    assert_eq!(rule_hosts(&report), pairs(&[("E2E-PLAIN-001", "ALPHA")]));
    assert_eq!(report["summary"]["evaluations"], 2);
}

const RULE_HEAD: &str = r#"export const RULE = #{
    id: "E2E-BROKEN-001",
    pack: "e2e-site",
    title: "A broken rule",
    description: "Fails on purpose.",
    severity: "low",
    fix: "Nothing to fix.",
};
"#;

#[test]
fn a_rule_with_a_syntax_error_is_reported_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    // RULE_HEAD has 8 lines; the blank line is 9, `fn check` 10, the error on 11.
    let rule = format!("{RULE_HEAD}\nfn check(host) {{\n    let level = ;\n    []\n}}\n");
    write_pack(&dir.path().join("pack"), &[("E2E-BROKEN-001.rhai", &rule)]);
    let run = hiveward(
        dir.path(),
        &[
            "scan",
            &root().join("examples/bundle").display().to_string(),
            "--rules",
            "pack",
            "--only",
            "E2E-BROKEN-001,HW-STRICT-001,HW-HARD-003",
            "--format",
            "json",
        ],
    );
    run.assert_code(2);
    assert!(
        run.stdout.is_empty(),
        "nothing is scanned with a broken pack"
    );
    let origin = Path::new("pack").join("E2E-BROKEN-001.rhai");
    let located = format!("{}:11:", origin.display());
    assert!(
        run.stderr.contains(&located),
        "stderr does not name {located}:\n{}",
        run.stderr
    );
    assert!(run.stderr.contains("syntax error"), "{}", run.stderr);
}

#[test]
fn a_rule_failing_at_run_time_is_reported_and_the_others_still_run() {
    let dir = tempfile::tempdir().unwrap();
    // The call with arguments no function takes is on line 12, column 5.
    let rule = format!(
        "{RULE_HEAD}\nfn check(host) {{\n    let level = 1;\n    parse_int(host, level)\n}}\n"
    );
    write_pack(&dir.path().join("pack"), &[("E2E-BROKEN-001.rhai", &rule)]);
    let run = hiveward(
        dir.path(),
        &[
            "scan",
            &root().join("examples/bundle").display().to_string(),
            "--rules",
            "pack",
            "--only",
            "E2E-BROKEN-001,HW-STRICT-001,HW-HARD-003",
            "--format",
            "json",
        ],
    );
    run.assert_code(2);
    let report = run.json();
    // The built-in rules still report their findings.
    assert_eq!(
        rule_hosts(&report),
        pairs(&[("HW-STRICT-001", "FS01"), ("HW-HARD-003", "WKS7")])
    );
    let errors = report["rule_errors"].as_array().unwrap();
    let hosts: Vec<&str> = errors
        .iter()
        .map(|error| error["host"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["FS01", "PC22", "WKS7"], "{errors:?}");
    for error in errors {
        assert_eq!(error["rule"], "E2E-BROKEN-001");
        assert_eq!(error["line"], 12, "{error}");
        assert!(
            error["file"]
                .as_str()
                .unwrap()
                .ends_with("E2E-BROKEN-001.rhai"),
            "{error}"
        );
        assert!(
            error["message"].as_str().unwrap().contains("parse_int"),
            "{error}"
        );
    }
    assert_eq!(report["summary"]["rule_errors"], 3);
    // The three evaluations of the built-in rules on three hosts, times two rules, completed.
    assert_eq!(report["summary"]["evaluations"], 6);
    assert!(
        run.stderr
            .contains("rule E2E-BROKEN-001 failed on host FS01"),
        "{}",
        run.stderr
    );
    assert_matches_schema(&report);
}

// ---------------------------------------------------------------------------------------------
// Unreadable and missing evidence.
// ---------------------------------------------------------------------------------------------

#[test]
fn only_unreadable_evidence_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let host = dir.path().join("evidence").join("HOSTA");
    fs::create_dir_all(&host).unwrap();
    fs::write(host.join("SYSTEM"), b"").unwrap();
    let run = hiveward(dir.path(), &["scan", "evidence", "--format", "json"]);
    run.assert_code(3);
    let report = run.json();
    assert_eq!(report["summary"]["files_unreadable"], 1, "{report}");
    assert_eq!(report["summary"]["evaluations"], 0);
    assert!(findings(&report).is_empty());
    assert!(run.stderr.contains("SYSTEM"), "{}", run.stderr);
    assert_matches_schema(&report);
}

#[test]
fn unreadable_evidence_beside_readable_evidence_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("evidence").join("FS01");
    fs::create_dir_all(&good).unwrap();
    for name in ["FS01_SYSTEM.HIV", "FS01_SOFTWARE.HIV"] {
        fs::copy(root().join("examples/bundle").join(name), good.join(name)).unwrap();
    }
    let bad = dir.path().join("evidence").join("HOSTB");
    fs::create_dir_all(&bad).unwrap();
    fs::write(bad.join("SYSTEM"), b"").unwrap();
    let run = hiveward(
        dir.path(),
        &[
            "scan",
            "evidence",
            "--format",
            "json",
            "--only",
            "HW-STRICT-001,HW-HARD-003",
        ],
    );
    // The medium finding on FS01 is below --fail-on high, but the results are incomplete.
    run.assert_code(3);
    let report = run.json();
    assert_eq!(rule_hosts(&report), pairs(&[("HW-STRICT-001", "FS01")]));
    assert_eq!(report["summary"]["files_unreadable"], 1);
    assert!(run.stderr.contains("could not be read"), "{}", run.stderr);
}

#[test]
fn a_folder_without_evidence_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("nothing-here");
    fs::create_dir_all(&empty).unwrap();
    fs::write(empty.join("notes.txt"), "not evidence\n").unwrap();
    let run = hiveward(dir.path(), &["scan", "nothing-here"]);
    run.assert_code(3);
    assert!(run.stderr.contains("nothing was checked"), "{}", run.stderr);

    let json = hiveward(dir.path(), &["scan", "nothing-here", "--format", "json"]);
    json.assert_code(3);
    let report = json.json();
    assert_eq!(report["summary"]["hosts"], 0);
    assert_eq!(report["summary"]["evaluations"], 0);
    assert_matches_schema(&report);
}

#[test]
fn a_missing_input_path_is_an_invalid_invocation() {
    let dir = tempfile::tempdir().unwrap();
    let run = hiveward(dir.path(), &["scan", "does-not-exist"]);
    run.assert_code(2);
    assert!(run.stderr.contains("does-not-exist"), "{}", run.stderr);
}

// ---------------------------------------------------------------------------------------------
// The corpus of real hives.
// ---------------------------------------------------------------------------------------------

#[test]
fn corpus_scans_without_rule_errors_or_panics() {
    let Some(corpus) = hiveward_testkit::corpus_dir() else {
        return;
    };
    let hives = corpus.join("hives");
    let run = hiveward(
        &root(),
        &["scan", hives.to_str().unwrap(), "--format", "json"],
    );
    run.assert_no_panic();
    assert!(
        run.code == 0 || run.code == 1,
        "exit code {} on the corpus:\n{}",
        run.code,
        run.stderr
    );
    let report = run.json();
    assert_no_rule_errors(&report);
    assert!(report["summary"]["hosts"].as_u64().unwrap() > 0);
    assert!(report["summary"]["evaluations"].as_u64().unwrap() > 0);
    assert_matches_schema(&report);
}

/// A SYSTEM hive whose `NoLMHash` value cell has its `vk` signature broken: the hive opens and
/// every other value reads, but that one cannot be read.
fn hive_with_a_damaged_value() -> Vec<u8> {
    let mut bytes = hive_from_reg(
        r#"Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\Select]
"Current"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\ComputerName\ComputerName]
"ComputerName"="DMG01"

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\Lsa]
"NoLMHash"=dword:00000001
"LmCompatibilityLevel"=dword:00000005

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Services\LanmanServer\Parameters]
"DisableStrictNameChecking"=dword:00000001
"#,
    );
    // A value key cell: size, "vk", name length, data size, data offset, type, flags, spare,
    // then the (ASCII) name.
    let name = b"NoLMHash";
    let at = bytes
        .windows(name.len())
        .position(|window| window == name)
        .expect("the value name is in the hive");
    assert_eq!(&bytes[at - 20..at - 18], b"vk");
    bytes[at - 20..at - 18].copy_from_slice(b"xx");
    bytes
}

#[test]
fn damaged_evidence_leaves_a_rule_unchecked_not_failed() {
    let dir = tempfile::tempdir().unwrap();
    let host = dir.path().join("evidence");
    fs::create_dir_all(&host).unwrap();
    fs::write(host.join("DMG01_SYSTEM.HIV"), hive_with_a_damaged_value()).unwrap();
    let args = [
        "scan",
        "evidence",
        "--only",
        "HW-NTLM-004,HW-STRICT-001",
        "--format",
        "json",
        "--fail-on",
        "never",
        "--output-format",
        "sarif:out.sarif",
        "--output-format",
        "junit:out.xml",
        "--output-format",
        "text:out.txt",
    ];
    let run = hiveward(dir.path(), &args);
    // Not a rule error (2): the evidence is incomplete (3).
    run.assert_code(3);
    let report = run.json();
    assert_matches_schema(&report);
    assert_eq!(report["summary"]["rule_errors"], 0, "{report}");
    assert_eq!(report["summary"]["unchecked"], 1);
    let unchecked = &report["unchecked"][0];
    assert_eq!(unchecked["rule"], "HW-NTLM-004");
    assert_eq!(unchecked["host"], "DMG01");
    let message = unchecked["message"].as_str().unwrap();
    assert!(
        message.contains("NoLMHash") && message.contains("DMG01_SYSTEM.HIV"),
        "{message}"
    );
    // The other rule still ran on the same hive.
    assert_eq!(rule_hosts(&report), pairs(&[("HW-STRICT-001", "DMG01")]));

    let sarif: Value =
        serde_json::from_slice(&fs::read(dir.path().join("out.sarif")).unwrap()).unwrap();
    let invocation = &sarif["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    let notification = invocation["toolExecutionNotifications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["descriptor"]["id"] == "hiveward::rules::evidence_unreadable")
        .expect("a notification for the unchecked rule");
    assert_eq!(notification["level"], "warning");
    assert_eq!(notification["associatedRule"]["id"], "HW-NTLM-004");

    let junit = fs::read_to_string(dir.path().join("out.xml")).unwrap();
    assert!(
        junit.contains("<skipped message=\"not checked: cannot read"),
        "{junit}"
    );
    let text = fs::read_to_string(dir.path().join("out.txt")).unwrap();
    assert!(text.contains("NOT CHECKED HW-NTLM-004"), "{text}");
    assert!(
        text.contains("1 check(s) not made because evidence is damaged"),
        "{text}"
    );

    // --allow-partial accepts it, like other incomplete evidence, as long as something was
    // checked; a run whose only rule could not check anything still exits 3.
    let partial = |rules: &str| {
        hiveward(
            dir.path(),
            &[
                "scan",
                "evidence",
                "--only",
                rules,
                "--allow-partial",
                "--fail-on",
                "never",
            ],
        )
    };
    partial("HW-NTLM-004,HW-STRICT-001").assert_code(0);
    let run = partial("HW-NTLM-004");
    run.assert_code(3);
    assert!(run.stdout_text().contains("nothing was checked"));
}

/// A fleet rule that catches a damaged host's read and goes on with the others still leaves
/// that host marked as not checked by the rule.
#[test]
fn a_fleet_rule_that_skips_a_damaged_host_reports_it_unchecked() {
    let dir = tempfile::tempdir().unwrap();
    let evidence = dir.path().join("evidence");
    fs::create_dir_all(&evidence).unwrap();
    fs::write(
        evidence.join("DMG01_SYSTEM.HIV"),
        hive_with_a_damaged_value(),
    )
    .unwrap();
    fs::write(evidence.join("ALPHA_SYSTEM.HIV"), system_hive("ALPHA", 1)).unwrap();
    write_pack(
        &dir.path().join("pack"),
        &[(
            "E2E-FLEET-001.rhai",
            r#"export const RULE = #{
    id: "E2E-FLEET-001",
    pack: "e2e-site",
    title: "LM hashes stored",
    description: "Reads NoLMHash on every host.",
    severity: "low",
    scope: "fleet",
    fix: "Set NoLMHash to 1.",
};

fn summarize(host) {
    try {
        #{ no_lm_hash: host.reg(`HKLM\SYSTEM\CurrentControlSet\Control\Lsa`, "NoLMHash") }
    } catch {
        ()
    }
}

fn check(fleet) {
    let findings = [];
    for host in fleet.hosts {
        if host.no_lm_hash != 1 {
            findings.push(#{ host: host.name, message: `NoLMHash is not 1 on ${host.name}` });
        }
    }
    findings
}
"#,
        )],
    );
    let run = hiveward(
        dir.path(),
        &[
            "scan",
            "evidence",
            "--no-builtin",
            "--rules",
            "pack",
            "--format",
            "json",
            "--fail-on",
            "never",
        ],
    );
    run.assert_code(3);
    let report = run.json();
    assert_eq!(rule_hosts(&report), pairs(&[("E2E-FLEET-001", "ALPHA")]));
    assert_eq!(report["summary"]["rule_errors"], 0);
    let unchecked = report["unchecked"].as_array().unwrap();
    assert_eq!(unchecked.len(), 1, "{report}");
    assert_eq!(unchecked[0]["rule"], "E2E-FLEET-001");
    assert_eq!(unchecked[0]["host"], "DMG01");
    assert!(unchecked[0]["message"]
        .as_str()
        .unwrap()
        .contains("NoLMHash"));
}
