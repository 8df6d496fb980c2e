//! Baselines (stable across copies, input order and thread counts; located errors) and the
//! JUnit XML report.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use hiveward_collectors::{collect, discover, CollectOptions, DiscoverOptions};
use hiveward_engine::{
    baseline_json, junit_xml, load_baseline, load_waivers, run_scan, BaselineError, Date, Evidence,
    Finding, Limits, PackSource, RuleError, RuleSet, ScanReport, ScanSettings, Scope,
    SuppressionKind,
};

fn bundle() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/bundle")
}

/// The two host-scope starter rules these tests count test cases for.
fn rules() -> RuleSet {
    let mut rules =
        RuleSet::load(PackSource::builtin(), Limits::default()).expect("built-in packs");
    rules
        .select(&hiveward_engine::Selection {
            only: vec!["HW-STRICT-001".to_string(), "HW-HARD-003".to_string()],
            ..Default::default()
        })
        .expect("the starter rules are built in");
    rules
}

fn scan_inputs(rules: &RuleSet, inputs: Vec<PathBuf>) -> ScanReport {
    let collection = collect(
        discover(&inputs, &DiscoverOptions::default()),
        &CollectOptions::default(),
    );
    run_scan(
        collection,
        rules,
        &ScanSettings {
            inputs,
            ..ScanSettings::default()
        },
    )
}

fn scan() -> ScanReport {
    let report = scan_inputs(&rules(), vec![bundle()]);
    assert!(report.rule_errors.is_empty(), "{:?}", report.rule_errors);
    assert!(report.findings.len() >= 2, "{:#?}", report.findings);
    report
}

fn suppressed(findings: &[Finding]) -> BTreeSet<String> {
    findings
        .iter()
        .filter(|finding| finding.suppression.is_some())
        .map(|finding| finding.fingerprint.clone())
        .collect()
}

#[test]
fn a_written_baseline_marks_exactly_its_findings() {
    let mut findings = scan().findings;
    let json = baseline_json(&findings);
    assert!(json.ends_with("}\n"));
    let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed["version"], 1);
    assert_eq!(parsed["tool"], "hiveward");
    let entries = parsed["fingerprints"].as_array().unwrap();
    assert_eq!(entries.len(), findings.len());
    let listed: Vec<&str> = entries
        .iter()
        .map(|entry| entry["fingerprint"].as_str().unwrap())
        .collect();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(listed, sorted, "sorted by fingerprint");
    for finding in &findings {
        assert!(entries
            .iter()
            .any(|entry| entry["fingerprint"] == finding.fingerprint
                && entry["rule"] == finding.rule
                && entry["host"] == finding.host));
    }

    let baseline = load_baseline(Path::new("ci/baseline.json"), &json).unwrap();
    assert_eq!(baseline.len(), findings.len());
    assert_eq!(baseline.apply(&mut findings), findings.len());
    for finding in &findings {
        let suppression = finding.suppression.as_ref().unwrap();
        assert_eq!(suppression.kind, SuppressionKind::Baseline);
        assert_eq!(suppression.justification, "in baseline ci/baseline.json");
    }
    // Applying again marks nothing more.
    assert_eq!(baseline.apply(&mut findings), 0);
}

#[test]
fn a_new_finding_is_not_in_the_baseline() {
    let report = scan();
    let mut findings = report.findings.clone();
    let (new, old) = findings.split_first().unwrap();
    let baseline = load_baseline(Path::new("baseline.json"), &baseline_json(old)).unwrap();
    let new_fingerprint = new.fingerprint.clone();
    assert_eq!(baseline.apply(&mut findings), findings.len() - 1);
    let expected: BTreeSet<String> = report.findings[1..]
        .iter()
        .map(|finding| finding.fingerprint.clone())
        .collect();
    assert_eq!(suppressed(&findings), expected);
    assert!(!suppressed(&findings).contains(&new_fingerprint));

    // Only the new finding fails the run.
    let mut report = report;
    report.findings = findings;
    assert_eq!(report.exit_code(Some(hiveward_engine::Severity::Info)), 1);
    let only_new = report
        .findings
        .iter()
        .filter(|finding| finding.suppression.is_none())
        .count();
    assert_eq!(only_new, 1);
    report
        .findings
        .retain(|finding| finding.suppression.is_some());
    assert_eq!(report.exit_code(Some(hiveward_engine::Severity::Info)), 0);
}

#[test]
fn a_waiver_wins_over_the_baseline_and_waived_findings_stay_out_of_it() {
    let mut findings = scan().findings;
    let all = baseline_json(&findings);
    let waivers = load_waivers(
        Path::new("waivers.toml"),
        "[[waiver]]\nrule = \"HW-STRICT-001\"\nhost = \"*\"\njustification = \"accepted\"\n",
        &["HW-STRICT-001", "HW-HARD-003"],
    )
    .unwrap();
    // Baseline first, waivers second: the waiver replaces the baseline mark.
    let baseline = load_baseline(Path::new("b.json"), &all).unwrap();
    baseline.apply(&mut findings);
    waivers.apply(&mut findings, Date::parse("2030-01-01").unwrap());
    let strict = findings
        .iter()
        .find(|finding| finding.rule == "HW-STRICT-001")
        .unwrap();
    assert_eq!(
        strict.suppression.as_ref().unwrap().kind,
        SuppressionKind::Waiver
    );
    // Waivers first, baseline second: the baseline keeps the waiver's mark.
    let mut findings = scan().findings;
    waivers.apply(&mut findings, Date::parse("2030-01-01").unwrap());
    assert_eq!(baseline.apply(&mut findings), findings.len() - 1);
    let strict = findings
        .iter()
        .find(|finding| finding.rule == "HW-STRICT-001")
        .unwrap();
    assert_eq!(
        strict.suppression.as_ref().unwrap().kind,
        SuppressionKind::Waiver
    );
    // A waived finding is left out of a new baseline, so the waiver's expiry still counts.
    let written = baseline_json(&findings);
    assert!(!written.contains(&strict.fingerprint));
    assert!(written.contains("HW-HARD-003"));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn the_baseline_does_not_depend_on_location_order_or_threads() {
    let rules = rules();
    let reference = baseline_json(&scan_inputs(&rules, vec![bundle()]).findings);

    // A copy of the bundle elsewhere, given file by file in reverse order.
    let temp = tempfile::tempdir().unwrap();
    let copy = temp.path().join("somewhere/else/evidence");
    copy_dir(&bundle(), &copy);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&copy)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    files.reverse();
    let moved = scan_inputs(&rules, files.clone());
    assert_eq!(moved.findings.len(), scan().findings.len());
    assert_eq!(baseline_json(&moved.findings), reference);

    // Findings in another order give the same bytes.
    let mut shuffled = moved.findings.clone();
    shuffled.reverse();
    assert_eq!(baseline_json(&shuffled), reference);

    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let report = pool.install(|| scan_inputs(&rules, files.clone()));
        assert_eq!(
            baseline_json(&report.findings),
            reference,
            "{threads} threads"
        );
        let report = pool.install(|| scan_inputs(&rules, vec![bundle()]));
        assert_eq!(
            baseline_json(&report.findings),
            reference,
            "{threads} threads"
        );
    }
}

fn baseline_error(text: &str) -> BaselineError {
    load_baseline(Path::new("ci/baseline.json"), text).expect_err("expected an error")
}

#[test]
fn a_malformed_baseline_is_a_located_error() {
    let good = baseline_json(&scan().findings);
    assert!(load_baseline(Path::new("ci/baseline.json"), &good).is_ok());

    // JSON syntax error on line 3.
    let error = baseline_error(
        "{\n  \"version\": 1,\n  \"tool\": \"hiveward\",,\n  \"fingerprints\": []\n}\n",
    );
    assert_eq!(error.line(), 3, "{error}");
    assert!(
        error.to_string().starts_with("ci/baseline.json:3:"),
        "{error}"
    );

    let error = baseline_error(
        "{\n  \"version\": 2,\n  \"tool\": \"hiveward\",\n  \"fingerprints\": []\n}\n",
    );
    assert_eq!(error.line(), 2, "{error}");
    assert!(error.message().contains("version 2"), "{error}");

    let error = baseline_error(
        "{\n  \"version\": 1,\n  \"tool\": \"hiveward\",\n  \"fingerprints\": [\n    {\"fingerprint\": \"0123456789abcdef0123456789abcdef\"},\n    {\"fingerprint\": \"not-a-fingerprint\"}\n  ]\n}\n",
    );
    assert_eq!(error.line(), 6, "{error}");
    assert!(error.message().contains("not-a-fingerprint"), "{error}");

    let error = baseline_error(
        "{\n  \"version\": 1,\n  \"tool\": \"hiveward\",\n  \"fingerprints\": [],\n  \"extra\": true\n}\n",
    );
    assert_eq!(error.line(), 5, "{error}");
    assert!(error.message().contains("extra"), "{error}");

    let error = baseline_error("");
    assert_eq!(error.line(), 1, "{error}");

    use miette::Diagnostic;
    assert_eq!(
        error.code().unwrap().to_string(),
        "hiveward::baseline::invalid"
    );
    assert!(error.source_code().is_some());
}

// ---- JUnit ---------------------------------------------------------------------------------

struct Case {
    suite: String,
    name: String,
    classname: String,
    failure: Option<(String, String)>,
    error: Option<(String, String)>,
    skipped: Option<String>,
}

fn cases(xml: &str) -> Vec<Case> {
    let document = roxmltree::Document::parse(xml).unwrap_or_else(|error| panic!("{error}\n{xml}"));
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let mut cases = Vec::new();
    for suite in root
        .children()
        .filter(|node| node.has_tag_name("testsuite"))
    {
        for case in suite
            .children()
            .filter(|node| node.has_tag_name("testcase"))
        {
            let child = |name: &str| {
                case.children()
                    .find(|node| node.has_tag_name(name))
                    .map(|node| {
                        (
                            node.attribute("message").unwrap_or_default().to_string(),
                            node.text().unwrap_or_default().to_string(),
                        )
                    })
            };
            cases.push(Case {
                suite: suite.attribute("name").unwrap().to_string(),
                name: case.attribute("name").unwrap().to_string(),
                classname: case.attribute("classname").unwrap().to_string(),
                failure: child("failure"),
                error: child("error"),
                skipped: child("skipped").map(|(message, _)| message),
            });
        }
    }
    // The totals agree with the testcases.
    let count = |attribute: &str| root.attribute(attribute).unwrap().parse::<usize>().unwrap();
    assert_eq!(count("tests"), cases.len());
    assert_eq!(
        count("failures"),
        cases.iter().filter(|case| case.failure.is_some()).count()
    );
    assert_eq!(
        count("errors"),
        cases.iter().filter(|case| case.error.is_some()).count()
    );
    assert_eq!(
        count("skipped"),
        cases.iter().filter(|case| case.skipped.is_some()).count()
    );
    cases
}

fn evaluated_hosts(report: &ScanReport) -> usize {
    report
        .hosts
        .iter()
        .filter(|host| {
            host.files.iter().any(|file| {
                matches!(
                    file.status,
                    hiveward_collectors::FileStatus::Read
                        | hiveward_collectors::FileStatus::Partial
                )
            })
        })
        .count()
}

fn failing_pairs(report: &ScanReport) -> BTreeSet<(String, String)> {
    report
        .findings
        .iter()
        .filter(|finding| finding.suppression.is_none())
        .map(|finding| (finding.rule.clone(), finding.host.clone()))
        .collect()
}

#[test]
fn junit_has_a_testcase_per_rule_and_host_and_fails_the_findings() {
    let report = scan();
    assert!(report.rules.iter().all(|rule| rule.scope == Scope::Host));
    let xml = junit_xml(&report);
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"));
    assert_eq!(xml, junit_xml(&report), "deterministic");
    let cases = cases(&xml);
    let hosts = evaluated_hosts(&report);
    assert!(hosts >= 2);
    assert_eq!(cases.len(), report.rules.len() * hosts);
    let failed: BTreeSet<(String, String)> = cases
        .iter()
        .filter(|case| case.failure.is_some())
        .map(|case| (case.suite.clone(), case.name.clone()))
        .collect();
    assert_eq!(failed, failing_pairs(&report));
    assert!(cases
        .iter()
        .all(|case| case.error.is_none() && case.skipped.is_none()));
    for finding in &report.findings {
        let case = cases
            .iter()
            .find(|case| case.suite == finding.rule && case.name == finding.host)
            .unwrap();
        assert_eq!(case.classname, format!("{}.{}", finding.pack, finding.rule));
        let (message, text) = case.failure.as_ref().unwrap();
        assert_eq!(message, &finding.message);
        assert!(text.contains(&finding.message), "{text}");
        assert!(text.contains(finding.fix.trim_end()), "{text}");
    }
}

#[test]
fn waived_and_baselined_findings_are_skipped_not_failed() {
    let mut report = scan();
    let waivers = load_waivers(
        Path::new("waivers.toml"),
        "[[waiver]]\nrule = \"HW-STRICT-001\"\nhost = \"FS01\"\njustification = \"Alias kept until Q3 & <after>\"\nowner = \"fs@corp.example\"\nexpires = 2030-01-01\n",
        &["HW-STRICT-001", "HW-HARD-003"],
    )
    .unwrap();
    waivers.apply(&mut report.findings, Date::parse("2029-01-01").unwrap());
    let hard = report
        .findings
        .iter()
        .find(|finding| finding.rule == "HW-HARD-003")
        .unwrap()
        .clone();
    let baseline = load_baseline(
        Path::new("baseline.json"),
        &baseline_json(std::slice::from_ref(&hard)),
    )
    .unwrap();
    baseline.apply(&mut report.findings);

    let cases = cases(&junit_xml(&report));
    let strict = cases
        .iter()
        .find(|case| case.suite == "HW-STRICT-001" && case.name == "FS01")
        .unwrap();
    assert!(strict.failure.is_none());
    assert_eq!(
        strict.skipped.as_deref(),
        Some("waived: Alias kept until Q3 & <after> (owner fs@corp.example, expires 2030-01-01)")
    );
    let baselined = cases
        .iter()
        .find(|case| case.suite == hard.rule && case.name == hard.host)
        .unwrap();
    assert!(baselined.failure.is_none());
    assert_eq!(
        baselined.skipped.as_deref(),
        Some("baseline: in baseline baseline.json")
    );
    let failed = cases.iter().filter(|case| case.failure.is_some()).count();
    assert_eq!(failed, failing_pairs(&report).len());
}

#[test]
fn junit_escapes_special_characters_and_reports_rule_errors() {
    let mut report = scan();
    let tricky = "value <\"quoted\"> & 'single' ]]> \u{1b}[0m\ttab\r\nnext line";
    let finding = report
        .findings
        .iter_mut()
        .find(|finding| finding.rule == "HW-STRICT-001")
        .unwrap();
    finding.message = tricky.to_string();
    finding.fix = "Run `reg add \"HKLM\\...\" /d 0` && restart <Server>".to_string();
    finding
        .evidence
        .push(Evidence::note("note with <tags> & \"quotes\""));
    let host = report
        .hosts
        .iter()
        .find(|host| host.name != finding.host)
        .unwrap()
        .name
        .clone();
    report.rule_errors.push(RuleError {
        rule: "HW-HARD-003".to_string(),
        host: host.clone(),
        file: "builtin:hardening-level/HW-HARD-003.rhai".to_string(),
        line: Some(12),
        column: Some(5),
        message: "sandbox limit: <loop> & \"more\"".to_string(),
    });
    let xml = junit_xml(&report);
    assert!(
        !xml.contains('\u{1b}'),
        "control characters are not valid XML"
    );
    let cases = cases(&xml);
    let strict = cases
        .iter()
        .find(|case| case.suite == "HW-STRICT-001" && case.failure.is_some())
        .unwrap();
    let (message, text) = strict.failure.as_ref().unwrap();
    let expected = tricky.replace('\u{1b}', "\\u{1b}");
    assert_eq!(message, &expected);
    assert!(text.contains(&expected), "{text}");
    assert!(text.contains("Run `reg add \"HKLM\\...\" /d 0` && restart <Server>"));
    assert!(text.contains("note with <tags> & \"quotes\""));

    let errored = cases
        .iter()
        .find(|case| case.suite == "HW-HARD-003" && case.name == host)
        .unwrap();
    let (message, text) = errored.error.as_ref().unwrap();
    assert_eq!(message, "sandbox limit: <loop> & \"more\"");
    assert!(text.contains("HW-HARD-003.rhai:12:5"), "{text}");
    assert!(errored.failure.is_none());
}

#[test]
fn fleet_rules_get_a_testcase_per_named_host_or_one_for_the_fleet() {
    let mut report = scan();
    let mut fleet_rule = report.rules[0].clone();
    fleet_rule.id = "HW-FLEET-001".to_string();
    fleet_rule.scope = Scope::Fleet;
    let mut quiet = fleet_rule.clone();
    quiet.id = "HW-FLEET-002".to_string();
    let mut broken = fleet_rule.clone();
    broken.id = "HW-FLEET-003".to_string();
    report.rules.extend([fleet_rule.clone(), quiet, broken]);
    for host in ["FS01", "WKS7"] {
        let mut finding = report.findings[0].clone();
        finding.rule = fleet_rule.id.clone();
        finding.host = host.to_string();
        report.findings.append(finding);
    }
    report.rule_errors.push(RuleError {
        rule: "HW-FLEET-003".to_string(),
        host: "*".to_string(),
        file: "fleet.rhai".to_string(),
        line: None,
        column: None,
        message: "boom".to_string(),
    });
    let cases = cases(&junit_xml(&report));
    let names = |suite: &str| -> Vec<&str> {
        cases
            .iter()
            .filter(|case| case.suite == suite)
            .map(|case| case.name.as_str())
            .collect()
    };
    assert_eq!(names("HW-FLEET-001"), vec!["FS01", "WKS7"]);
    assert_eq!(names("HW-FLEET-002"), vec!["(fleet)"]);
    assert_eq!(names("HW-FLEET-003"), vec!["(fleet)"]);
    assert!(cases
        .iter()
        .filter(|case| case.suite == "HW-FLEET-001")
        .all(|case| case.failure.is_some()));
    assert!(cases
        .iter()
        .any(|case| case.suite == "HW-FLEET-003" && case.error.is_some()));
    let host_rules = report
        .rules
        .iter()
        .filter(|rule| rule.scope == Scope::Host)
        .count();
    assert_eq!(cases.len(), host_rules * evaluated_hosts(&report) + 4);
}
