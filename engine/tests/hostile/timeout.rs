//! Defect 14 (c): the run's --timeout.

use super::*;

/// `T-A-001` loops until a deadline stops it; `T-B-001` would report a finding.
fn looping_rules() -> RuleSet {
    let looping = rule("T-A-001", "", "fn check(host) {\n    loop {}\n}");
    let finding = rule(
        "T-B-001",
        "",
        "fn check(host) {\n    [#{ message: \"ran\" }]\n}",
    );
    load_with(
        vec![pack("p", &[("T-A-001", &looping), ("T-B-001", &finding)])],
        Limits::default(),
    )
}

fn one_thread<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(work)
}

#[test]
fn evaluations_after_the_run_deadline_are_not_checked() {
    let rules = looping_rules();
    let timeout = Timeout::parse("1ms").unwrap();
    let context = context_map("cis", &BTreeMap::new());
    // One thread runs T-A-001 first; it cannot end before the 1 ms deadline stops it (its
    // own operation limit is far away), so T-B-001 always starts after the deadline.
    let evaluation = one_thread(|| {
        let deadline = RunDeadline::start(timeout);
        rules.evaluate_until(&[], &[host("FS01")], &context, Some(&deadline))
    });
    assert!(
        evaluation.rule_errors.is_empty(),
        "{:?}",
        evaluation.rule_errors
    );
    assert!(evaluation.findings.is_empty());
    let outcomes: Vec<(&str, Outcome, &str)> = evaluation
        .outcomes
        .iter()
        .map(|outcome| {
            (
                outcome.rule.as_str(),
                outcome.outcome,
                outcome.reason.as_deref().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(outcomes.len(), 2);
    assert_eq!(outcomes[0].0, "T-A-001");
    assert_eq!(outcomes[0].1, Outcome::NotChecked);
    assert!(
        outcomes[0]
            .2
            .starts_with("the run's --timeout of 1ms expired "),
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes[1],
        (
            "T-B-001",
            Outcome::NotChecked,
            "the run's --timeout of 1ms expired before this rule ran"
        )
    );
    assert_eq!(evaluation.timed_out, 2);
}

#[test]
fn a_run_with_a_timeout_that_does_not_expire_is_unchanged() {
    let rules = looping_rules();
    let context = context_map("cis", &BTreeMap::new());
    let hosts = [host("FS01")];
    let limits_only = rules.evaluate_only(&["T-B-001"], &hosts, &context);
    let deadline = RunDeadline::start(Timeout::parse("1h").unwrap());
    let timed = rules.evaluate_until(&["T-B-001"], &hosts, &context, Some(&deadline));
    assert_eq!(timed.outcomes, limits_only.outcomes);
    assert_eq!(timed.findings, limits_only.findings);
    assert_eq!(timed.timed_out, 0);
}

#[test]
fn a_timed_out_scan_is_incomplete_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let rules = looping_rules();
    let report = one_thread(|| {
        let deadline = RunDeadline::start(Timeout::parse("1ms").unwrap());
        mixed_bundle(dir.path(), Some(deadline), &rules)
    });
    assert!(report.summary.timed_out >= 2, "{:?}", report.summary);
    assert_eq!(report.exit_code_with(None, true), EXIT_INCOMPLETE);
    assert!(report.notices.iter().any(|notice| notice
        .message
        .contains("the run's --timeout of 1ms expired")));
    let fs01 = report
        .hosts
        .iter()
        .find(|host| host.name == "FS01")
        .unwrap();
    assert!(fs01.notices.iter().any(
        |notice| notice.code == "hiveward::scan::timeout" && notice.message.contains("T-B-001")
    ));
    let mut text = Vec::new();
    hiveward_engine::write_scan_text(&report, &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("--timeout of 1ms expired"), "{text}");
    let sarif = serde_json::to_value(to_sarif(&report, &rules, &SarifOptions::default())).unwrap();
    let invocation = &sarif["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    assert!(invocation["toolExecutionNotifications"]
        .to_string()
        .contains("--timeout of 1ms expired before this rule ran"));
    let junit = junit_xml(&report);
    assert!(
        junit.contains("not checked: the run&apos;s --timeout of 1ms expired before this rule ran"),
        "{junit}"
    );
}

#[test]
fn results_lost_from_the_temporary_files_make_the_report_incomplete_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let passing = rule("T-OK-001", "", "fn check(host) {\n    []\n}");
    let rules = load_with(
        vec![pack("p", &[("T-OK-001", &passing)])],
        Limits::default(),
    );
    let mut report = one_thread(|| mixed_bundle(dir.path(), None, &rules));
    assert_ne!(report.exit_code_with(None, true), EXIT_INCOMPLETE);
    assert!(!report.lost_results());
    // What finish_scan adds when an item could not be read back from a spool.
    report.notices.push(hiveward_collectors::Notice {
        level: hiveward_collectors::NoticeLevel::Error,
        code: hiveward_engine::SPOOL_READ_FAILED.to_string(),
        file: None,
        message: "a result could not be read back from the scan's temporary file (disk error); it is missing from this report".to_string(),
    });
    assert!(report.lost_results());
    assert_eq!(report.exit_code_with(None, true), EXIT_INCOMPLETE);
    let json = serde_json::to_string(&report).unwrap();
    assert!(json.contains("it is missing from this report"), "{json}");
    let mut text = Vec::new();
    hiveward_engine::write_scan_text(&report, &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("it is missing from this report"), "{text}");
    let sarif = serde_json::to_value(to_sarif(&report, &rules, &SarifOptions::default())).unwrap();
    assert!(
        sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]
            .to_string()
            .contains("it is missing from this report")
    );
    let junit = junit_xml(&report);
    assert!(junit.contains("<testsuite name=\"run notices\""), "{junit}");
    assert!(junit.contains("it is missing from this report"), "{junit}");
}
