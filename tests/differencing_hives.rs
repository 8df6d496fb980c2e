//! A differencing hive (the SYSTEM_Delta of a Windows container image layer) holds only what its
//! layer changed. A scan judges what it holds, but never takes a value or key it does not hold
//! as absent: the rules that need one are not checked, naming the file, in every format; the
//! same settings in an ordinary hive take their documented defaults as before. What it does
//! hold, a layer above it may set differently: verdicts judged from it are inferred.

use std::path::Path;

use serde_json::Value;

mod common;

use common::scan_bundle_in as scan_with;

/// The layer turns strict name checking off; it does not hold SmbServerNameHardeningLevel,
/// whose default (0) makes HW-HARD-003 fire on an ordinary hive.
const SYSTEM: &str = r#"Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\Select]
"Current"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\ComputerName\ComputerName]
"ComputerName"="NAME"

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\ProductOptions]
"ProductType"="ServerNT"

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Services\LanmanServer\Parameters]
"DisableStrictNameChecking"=dword:00000001
"#;

/// A bundle of LAYER01, whose SYSTEM hive is a differencing hive, and PLAIN01, the same keys
/// in an ordinary hive.
fn write_bundle(root: &Path) {
    for (host, layered) in [("LAYER01", true), ("PLAIN01", false)] {
        let mut bytes = hiveward_testkit::hive_from_reg(&SYSTEM.replace("NAME", host));
        if layered {
            hiveward_testkit::mark_differencing(&mut bytes);
        }
        std::fs::create_dir_all(root.join(host)).unwrap();
        std::fs::write(root.join(host).join("SYSTEM"), bytes).unwrap();
    }
}

const LAYER_FILE: &str = "bundle/LAYER01/SYSTEM";

fn outcomes<'r>(report: &'r Value, host: &str) -> &'r [Value] {
    report["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["name"] == host)
        .unwrap_or_else(|| panic!("no host {host}"))["outcomes"]
        .as_array()
        .unwrap()
}

fn outcome_of<'r>(report: &'r Value, host: &str, rule: &str) -> &'r Value {
    outcomes(report, host)
        .iter()
        .find(|entry| entry["rule"] == rule)
        .unwrap_or_else(|| panic!("no outcome of {rule} on {host}"))
}

fn rules_with(report: &Value, host: &str, outcome: &str) -> Vec<String> {
    outcomes(report, host)
        .iter()
        .filter(|entry| entry["outcome"] == outcome)
        .map(|entry| entry["rule"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_differencing_hive_judges_what_it_holds_and_leaves_the_rest_unknown() {
    let dir = tempfile::tempdir().unwrap();
    write_bundle(&dir.path().join("bundle"));
    let report: Value = serde_json::from_str(&scan_with(dir.path(), "json", &[])).unwrap();

    // What the layer holds is judged: strict name checking is off on both hosts.
    let findings = report["findings"].as_array().unwrap();
    for host in ["LAYER01", "PLAIN01"] {
        assert!(
            findings
                .iter()
                .any(|finding| finding["rule"] == "HW-STRICT-001" && finding["host"] == host),
            "HW-STRICT-001 fires on {host}: {findings:#?}"
        );
    }
    // A layer above may set those values differently: judged from the layer, the finding is
    // inferred and says why; from the ordinary hive it is not.
    for finding in findings
        .iter()
        .filter(|finding| finding["rule"] == "HW-STRICT-001")
    {
        let layered = finding["host"] == "LAYER01";
        let message = finding["message"].as_str().unwrap();
        assert_eq!(finding["inferred"], layered, "{message}");
        assert_eq!(
            message.contains(&format!(
                "(Inferred: {LAYER_FILE} is a differencing hive, a layer that holds only what it changed, so a layer above may set what was read differently.)"
            )),
            layered,
            "{message}"
        );
    }
    // So is a pass that read it.
    let passed = outcome_of(&report, "LAYER01", "HW-STRICT-002");
    assert_eq!(passed["outcome"], "passed", "{passed}");
    assert_eq!(passed["inferred"], true, "{passed}");
    assert_eq!(
        passed["reason"],
        format!("inferred: it read {LAYER_FILE}, a differencing hive that holds only what its layer changed, so a layer above it may set the settings it judged differently")
    );
    assert!(outcome_of(&report, "PLAIN01", "HW-STRICT-002")
        .get("inferred")
        .is_none_or(|inferred| inferred == false));

    // What it does not hold takes no default: HW-HARD-003 fires on the ordinary hive only.
    let hard = |host: &str| {
        findings
            .iter()
            .any(|finding| finding["rule"] == "HW-HARD-003" && finding["host"] == host)
    };
    assert!(hard("PLAIN01"));
    assert!(!hard("LAYER01"));
    let unknown = outcome_of(&report, "LAYER01", "HW-HARD-003");
    assert_eq!(unknown["outcome"], "not_checked", "{unknown}");
    let reason = unknown["reason"].as_str().unwrap();
    assert!(
        reason.contains(LAYER_FILE)
            && reason.contains("SmbServerNameHardeningLevel")
            && reason.contains("is not in this differencing hive"),
        "{reason}"
    );

    // No rule passes on the layer that does not pass on the ordinary hive, and every rule the
    // layer leaves unknown says so by name.
    let plain_passed = rules_with(&report, "PLAIN01", "passed");
    let layer_passed = rules_with(&report, "LAYER01", "passed");
    for rule in &layer_passed {
        assert!(
            plain_passed.contains(rule),
            "{rule} passes on the layer only"
        );
    }
    assert!(layer_passed.len() < plain_passed.len(), "{layer_passed:?}");
    for entry in outcomes(&report, "LAYER01") {
        if entry["outcome"] == "not_checked" {
            let reason = entry["reason"].as_str().unwrap();
            assert!(
                reason.contains("is not in this differencing hive"),
                "{}: {reason}",
                entry["rule"]
            );
        }
    }
    assert!(rules_with(&report, "PLAIN01", "not_checked").is_empty());

    // The hive's own notice names it.
    let text = serde_json::to_string(&report).unwrap();
    assert!(text.contains("hiveward::hive::differencing"), "{text}");

    // SARIF and the text report say the same.
    let sarif = scan_with(dir.path(), "sarif", &[]);
    assert!(sarif.contains("hiveward::hive::differencing"), "{sarif}");
    assert!(
        sarif.contains("is not in this differencing hive"),
        "{sarif}"
    );
    let text = scan_with(dir.path(), "text", &["--detail"]);
    assert!(text.contains("is not in this differencing hive"), "{text}");
    assert!(text.contains("a differencing hive"), "{text}");
}
