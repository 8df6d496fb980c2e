//! The sample bundle.

use super::*;

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
fn an_absent_value_reads_absent_once_in_the_text_and_junit_evidence() {
    let share = r"HKLM\SYSTEM\ControlSet001\Services\LanmanServer\Shares\public";
    let expected =
        format!("{share} = absent; expected a REG_MULTI_SZ share definition with a Path= line");
    for format in ["text", "junit"] {
        let run = hiveward(
            &root(),
            &[
                "scan",
                "examples/bundle",
                "--only",
                "HW-SHARE-001",
                "--format",
                format,
            ],
        );
        let output = run.stdout_text();
        assert!(output.contains(&expected), "{format}:\n{output}");
        assert!(!output.contains("absent (absent)"), "{format}:\n{output}");
    }
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
