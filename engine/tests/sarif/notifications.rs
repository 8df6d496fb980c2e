//! Notifications, and the same bytes for the same report.

use super::*;

#[test]
fn rule_errors_and_unreadable_evidence_become_notifications() {
    let fixture = Fixture::new();
    assert_eq!(
        fixture.report.rule_errors.len(),
        1,
        "{:#?}",
        fixture.report.rule_errors
    );
    assert!(fixture.report.summary.files_unreadable >= 1);
    let sarif = fixture.sarif(&fixture.options());
    let invocation = &run(&sarif)["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);

    let error = &fixture.report.rule_errors[0];
    let failed = notifications(&sarif)
        .iter()
        .find(|notification| notification["associatedRule"]["id"] == "T-FAIL-001")
        .expect("a notification for the failed rule");
    assert_eq!(failed["level"], "error");
    let text = failed["message"]["text"].as_str().unwrap();
    assert!(
        text.contains("T-FAIL-001") && text.contains("FS01") && text.contains("cannot decide"),
        "{text}"
    );
    let index = failed["associatedRule"]["index"].as_u64().unwrap() as usize;
    assert_eq!(driver_rules(&sarif)[index]["id"], "T-FAIL-001");
    assert_eq!(failed["properties"]["rule"], "T-FAIL-001");
    assert_eq!(failed["properties"]["host"], "FS01");
    assert!(error.file.ends_with("T-FAIL-001.rhai"), "{}", error.file);
    assert_eq!(
        failed["properties"]["file"], "packs/sarif-test/T-FAIL-001.rhai",
        "relative to the root"
    );
    let line = error.line.expect("the failing line is known");
    assert_eq!(failed["properties"]["line"], line);
    let location = &failed["locations"][0];
    assert_eq!(uri(location), "packs/sarif-test/T-FAIL-001.rhai");
    assert_eq!(location["physicalLocation"]["region"]["startLine"], line);

    let unreadable = notifications(&sarif)
        .iter()
        .find(|notification| {
            notification["level"] == "error"
                && notification["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                    .as_str()
                    .is_some_and(|uri| uri.ends_with("%254Security.evtx"))
        })
        .expect("an error notification for the unreadable log");
    assert_eq!(unreadable["properties"]["host"], "FS01");
    assert!(unreadable["message"]["text"]
        .as_str()
        .unwrap()
        .ends_with('.'));

    // A clean scan is successful and has no error notifications: the sample bundle's hives
    // (PC22's `.reg` export leaves some checks unknown, which is no clean scan).
    let rules = builtin_rules();
    let sample = workspace_root().join("examples/bundle");
    let report = scan(
        &[
            "FS01_SOFTWARE.HIV",
            "FS01_SYSTEM.HIV",
            "WKS7_HKCU.HIV",
            "WKS7_SOFTWARE.HIV",
            "WKS7_SYSTEM.HIV",
        ]
        .map(|file| sample.join(file)),
        &rules,
    );
    assert_eq!(report.summary.unchecked, 0);
    assert!(report.rule_errors.is_empty());
    assert_eq!(report.summary.files_unreadable, 0);
    let clean = sarif_json(&report, &rules, &workspace_options());
    assert_eq!(run(&clean)["invocations"][0]["executionSuccessful"], true);
    assert!(notifications(&clean)
        .iter()
        .all(|notification| notification["level"] != "error"));
}

#[test]
fn the_same_report_gives_the_same_bytes() {
    let rules = builtin_rules();
    let report = bundle_report(&rules);
    assert!(
        !report.findings.is_empty(),
        "the example bundle has findings"
    );
    let options = workspace_options();
    let first = sarif_bytes(&report, &rules, &options);
    let second = sarif_bytes(&report, &rules, &options);
    assert_eq!(first, second);
    // A second scan of the same evidence, too.
    let again = sarif_bytes(&bundle_report(&rules), &rules, &options);
    assert_eq!(first, again);
    // The typed log serialises to the same bytes.
    let mut typed = serde_json::to_vec_pretty(&to_sarif(&report, &rules, &options)).unwrap();
    typed.push(b'\n');
    assert_eq!(first, typed);
    let text = String::from_utf8(first).unwrap();
    assert!(
        !text.contains(&workspace_root().display().to_string()),
        "no absolute paths"
    );
    assert!(!text.contains("Utc\""), "no timestamps");
    let sarif: Value = serde_json::from_str(&text).unwrap();
    assert!(results(&sarif)
        .iter()
        .all(|result| uri(&result["locations"][0]).starts_with("examples/bundle/")));
}
