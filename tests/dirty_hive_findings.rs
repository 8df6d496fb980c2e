//! Findings judged from a hive read dirty, without its transaction logs, are inferred: the
//! hive's latest writes may be missing. Every format says so, for host and fleet rules alike,
//! and the same finding from a clean hive is not.

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

/// FS01 disables strict name checking, leaves SPN validation off and defines a share
/// without a `Path=` line: HW-STRICT-001 and HW-HARD-003 (host rules) and HW-SHARE-001 (a
/// fleet rule) fire on it.
const SYSTEM: &str = r#"Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\Select]
"Current"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\ComputerName\ComputerName]
"ComputerName"="NAME"

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\ProductOptions]
"ProductType"="ServerNT"

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Services\LanmanServer\Parameters]
"DisableStrictNameChecking"=dword:00000001
"SmbServerNameHardeningLevel"=dword:00000000

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Services\LanmanServer\Shares]
"data"=hex(7):53,00,68,00,61,00,72,00,65,00,4e,00,61,00,6d,00,65,00,3d,00,64,00,61,00,74,00,61,00,00,00,54,00,79,00,70,00,65,00,3d,00,30,00,00,00,00,00
"#;

const RULES: [&str; 3] = ["HW-STRICT-001", "HW-HARD-003", "HW-SHARE-001"];

/// A bundle of DIRTY01, whose SYSTEM hive is dirty with no log beside it, and CLEAN01, the
/// same settings in a clean hive.
fn write_bundle(root: &Path) {
    for (host, dirty) in [("DIRTY01", true), ("CLEAN01", false)] {
        let clean = hiveward_testkit::hive_from_reg(&SYSTEM.replace("NAME", host));
        let bytes = if dirty {
            hiveward_testkit::dirty_primary(&clean, 7)
        } else {
            clean
        };
        std::fs::create_dir_all(root.join(host)).unwrap();
        std::fs::write(root.join(host).join("SYSTEM"), bytes).unwrap();
    }
}

fn scan(dir: &Path, format: &str) -> String {
    let output = Command::cargo_bin("hiveward")
        .unwrap()
        .current_dir(dir)
        .args(["scan", "bundle", "--format", format, "--fail-on", "never"])
        .args(["--only", &RULES.join(",")])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    String::from_utf8(output.stdout).unwrap()
}

const DIRTY_FILE: &str = "bundle/DIRTY01/SYSTEM";

#[test]
fn findings_from_a_dirty_hive_are_inferred_and_name_it_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    write_bundle(&dir.path().join("bundle"));

    let report: Value = serde_json::from_str(&scan(dir.path(), "json")).unwrap();
    let findings = report["findings"].as_array().unwrap();
    for host in ["DIRTY01", "CLEAN01"] {
        for rule in RULES {
            let found: Vec<&Value> = findings
                .iter()
                .filter(|finding| finding["host"] == host && finding["rule"] == rule)
                .collect();
            assert!(!found.is_empty(), "{rule} fires on {host}: {findings:#?}");
            for finding in found {
                let message = finding["message"].as_str().unwrap();
                let dirty = host == "DIRTY01";
                assert_eq!(finding["inferred"], dirty, "{rule} on {host}: {message}");
                assert_eq!(
                    message.contains(&format!(
                        "(Inferred: {DIRTY_FILE} was read as a dirty hive without its transaction logs, so its latest changes may be missing.)"
                    )),
                    dirty,
                    "{rule} on {host}: {message}"
                );
            }
        }
    }
    // The hive's own notice says the same.
    let text = serde_json::to_string(&report).unwrap();
    assert!(text.contains("hiveward::hive::dirty"), "{text}");

    let sarif: Value = serde_json::from_str(&scan(dir.path(), "sarif")).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let inferred: Vec<bool> = results
        .iter()
        .map(|result| result["properties"]["inferred"].as_bool().unwrap())
        .collect();
    assert_eq!(inferred.len(), 6, "{results:#?}");
    assert_eq!(inferred.iter().filter(|inferred| **inferred).count(), 3);
    for result in results {
        let message = result["message"]["text"].as_str().unwrap();
        assert_eq!(
            result["properties"]["inferred"].as_bool().unwrap(),
            message.contains(DIRTY_FILE),
            "{message}"
        );
    }

    let text = scan(dir.path(), "text");
    assert!(
        text.matches(DIRTY_FILE).count() >= 3,
        "the text report names the dirty hive in each finding: {text}"
    );
    assert!(text.contains("(inferred)"), "{text}");
}
