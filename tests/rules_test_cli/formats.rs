//! file:line, JSON and JUnit.

use super::*;

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

#[test]
fn a_bad_line_in_a_cases_reg_text_fails_the_case_instead_of_being_skipped() {
    let dir = tempfile::tempdir().unwrap();
    // A scan reads the rest of an export around a bad line; in a case, where the text is the
    // author's, the bad line (9 hex digits) is an error that names it.
    let tests = complete_cases("E2E-A-001").replace(
        "\"EnablePlainTextPassword\"=dword:00000000",
        "\"EnablePlainTextPassword\"=dword:000000000",
    );
    write_pack(dir.path(), &[("E2E-A-001", plain_rule("E2E-A-001"), tests)]);
    let run = hiveward(dir.path(), &["rules", "test", PACK]);
    run.assert_code(1);
    let output = format!("{}{}", run.stdout_str(), run.stderr);
    assert!(
        output.contains("the case's .reg text does not parse")
            && output.contains(".reg syntax error on line 4: a dword needs 1 to 8 hex digits"),
        "{output}"
    );
}
