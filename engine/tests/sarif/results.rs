//! Results and where they point.

use super::*;

#[test]
fn results_point_at_their_rule_file_and_registry_value() {
    let fixture = Fixture::new();
    let sarif = fixture.sarif(&fixture.options());
    let rules = driver_rules(&sarif);
    let results = results(&sarif);
    assert_eq!(results.len(), fixture.report.findings.len());
    assert!(results.len() >= 6, "{results:#?}");
    let base = &run(&sarif)["originalUriBaseIds"][SRCROOT];
    assert!(base.get("uri").is_none(), "no absolute path in the output");
    assert!(base["description"]["text"].as_str().is_some());

    for (result, finding) in results.iter().zip(&fixture.report.findings) {
        assert_eq!(result["ruleId"], finding.rule.as_str());
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], finding.rule.as_str(), "ruleIndex");
        let level = match finding.severity {
            Severity::Critical | Severity::High => "error",
            Severity::Medium => "warning",
            Severity::Low | Severity::Info => "note",
        };
        assert_eq!(result["level"], level);
        let text = result["message"]["text"].as_str().unwrap();
        assert!(text.starts_with(finding.message.trim_end_matches('.')));
        assert!(text.ends_with('.'));
        assert_eq!(
            result["partialFingerprints"]["primaryLocationLineHash"],
            finding.fingerprint.as_str()
        );
        assert_eq!(result["properties"]["host"], finding.host.as_str());
        assert_eq!(result["properties"]["inferred"], finding.inferred);
        // The evidence as in the JSON report, with its file relative to the root.
        let mut evidence = serde_json::to_value(&finding.evidence).unwrap();
        for item in evidence.as_array_mut().unwrap() {
            if let Some(file) = item.get("file").and_then(Value::as_str) {
                let relative = Path::new(file).strip_prefix(&fixture.root).unwrap();
                item["file"] = Value::from(relative.to_str().unwrap());
            }
        }
        assert_eq!(result["properties"]["evidence"], evidence);
        let locations = result["locations"].as_array().unwrap();
        assert_eq!(locations.len(), 1, "one location");
        let physical = &locations[0]["physicalLocation"];
        assert_eq!(physical["artifactLocation"]["uriBaseId"], SRCROOT);
        assert_eq!(physical["region"]["startLine"], 1);
        let host_location = locations[0]["logicalLocations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|logical| logical["fullyQualifiedName"] == finding.host.as_str());
        assert!(host_location, "the host is a logical location");
        assert!(result.get("suppressions").is_none());
    }

    // The evidence file, relative to the root, with the space encoded.
    let strict = result_for(&sarif, "HW-STRICT-001", "FS01");
    assert_eq!(
        uri(&strict["locations"][0]),
        "Triage%20Copy/FS01/Windows/System32/config/SYSTEM"
    );
    let logical = strict["locations"][0]["logicalLocations"]
        .as_array()
        .unwrap();
    assert!(logical.iter().any(|location| {
        location["fullyQualifiedName"] == STRICT_NAME_VALUE
            && location["kind"] == "registryValue"
            && location["name"] == "DisableStrictNameChecking"
    }));
    assert!(strict["message"]["text"]
        .as_str()
        .unwrap()
        .contains("DisableStrictNameChecking is 1 on FS01"));

    let hardening = result_for(&sarif, "HW-HARD-003", "AAA");
    assert_eq!(
        uri(&hardening["locations"][0]),
        "Triage%20Copy/AAA/Windows/System32/config/SYSTEM"
    );
    assert!(hardening["locations"][0]["logicalLocations"]
        .as_array()
        .unwrap()
        .iter()
        .any(|location| location["fullyQualifiedName"]
            == format!(r"{SMB_PARAMETERS}\SmbServerNameHardeningLevel")));

    // A finding without an evidence file points at the host's first readable file.
    let high = result_for(&sarif, "T-HIGH-001", "FS01");
    assert_eq!(
        uri(&high["locations"][0]),
        "Triage%20Copy/FS01/Windows/System32/config/SYSTEM"
    );
    assert_eq!(high["level"], "error");
    assert_eq!(
        high["message"]["text"], "High-severity finding on FS01.",
        "messages end with a full stop"
    );
}

#[test]
fn file_names_are_percent_encoded_and_relative_to_the_root() {
    let fixture = Fixture::new();
    let mut report = fixture.report.clone();
    let cwd = std::env::current_dir().unwrap();
    let first = report
        .findings
        .iter_mut()
        .find(|f| f.rule == "HW-STRICT-001")
        .unwrap();
    first.evidence[0].file = Some(format!("logs/{EVTX_NAME}"));
    let second = report
        .findings
        .iter_mut()
        .find(|f| f.rule == "HW-HARD-003" && f.host == "FS01")
        .unwrap();
    second.evidence[0].file = Some(cwd.join("cases/FS01 SYSTEM.HIV").display().to_string());
    let third = report
        .findings
        .iter_mut()
        .find(|f| f.rule == "HW-HARD-003" && f.host == "AAA")
        .unwrap();
    third.evidence[0].file = Some("/evidence elsewhere/AAA/SYSTEM".to_string());

    // With the default root, the current directory.
    let sarif = sarif_json(&report, &fixture.rules, &SarifOptions::default());
    let strict = &result_for(&sarif, "HW-STRICT-001", "FS01")["locations"][0];
    assert_eq!(
        uri(strict),
        "logs/Microsoft-Windows-SMBServer%254Security.evtx"
    );
    assert_eq!(
        strict["physicalLocation"]["artifactLocation"]["uriBaseId"],
        SRCROOT
    );
    let under_cwd = &result_for(&sarif, "HW-HARD-003", "FS01")["locations"][0];
    assert_eq!(
        uri(under_cwd),
        "cases/FS01%20SYSTEM.HIV",
        "absolute under the current directory"
    );
    assert_eq!(
        under_cwd["physicalLocation"]["artifactLocation"]["uriBaseId"],
        SRCROOT
    );
    let elsewhere = &result_for(&sarif, "HW-HARD-003", "AAA")["locations"][0];
    assert_eq!(uri(elsewhere), "file:///evidence%20elsewhere/AAA/SYSTEM");
    assert!(elsewhere["physicalLocation"]["artifactLocation"]
        .get("uriBaseId")
        .is_none());
    assert_eq!(
        run(&sarif)["originalUriBaseIds"][SRCROOT]["description"]["text"],
        "the directory hiveward ran in"
    );

    // The unreadable log, in a notification, relative to the given root.
    let sarif = fixture.sarif(&fixture.options());
    let log = notifications(&sarif)
        .iter()
        .find(|notification| {
            notification["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .is_some_and(|uri| uri.ends_with(".evtx"))
        })
        .expect("a notification about the unreadable log");
    assert_eq!(
        uri(&log["locations"][0]),
        "Triage%20Copy/FS01/Windows/System32/winevt/Logs/Microsoft-Windows-SMBServer%254Security.evtx"
    );
}

#[test]
fn findings_without_a_file_fall_back_to_the_host_then_the_input() {
    let fixture = Fixture::new();
    let mut report = fixture.report.clone();
    let ghost = report
        .findings
        .iter_mut()
        .find(|f| f.rule == "T-HIGH-001")
        .unwrap();
    ghost.host = "GHOST".to_string();
    let sarif = sarif_json(&report, &fixture.rules, &fixture.options());
    let result = result_for(&sarif, "T-HIGH-001", "GHOST");
    assert_eq!(
        uri(&result["locations"][0]),
        "Triage%20Copy",
        "the first input"
    );
    assert_eq!(
        result["locations"][0]["physicalLocation"]["region"]["startLine"],
        1
    );
}
