//! A host whose hive and `.reg` export hold a value differently: reads take the hive's copy,
//! the host gets a warning naming both files, and every verdict that read such a value (a
//! finding or a pass, of a host rule, a fleet rule or a computation `host.memo` kept) is
//! inferred and names both copies, in every format. The same bundle without the export is not.

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

mod common;

use common::scan_bundle_in as scan_with;

/// The sample bundle, plus, with `export`, FS01_lanman.reg: a `reg export` of FS01's
/// `LanmanServer\Parameters` taken at another time, where SPN validation is at level 1 (the hive
/// has 2) and signing is not required (the hive requires it).
fn write_bundle(dir: &Path, export: bool) {
    let bundle = dir.join("bundle");
    std::fs::create_dir_all(&bundle).unwrap();
    let sample = hiveward_testkit::workspace_root().join("examples/bundle");
    for entry in std::fs::read_dir(sample).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), bundle.join(entry.file_name())).unwrap();
    }
    if export {
        std::fs::write(
            bundle.join("FS01_lanman.reg"),
            "Windows Registry Editor Version 5.00\r\n\r\n\
             [HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters]\r\n\
             \"SmbServerNameHardeningLevel\"=dword:00000001\r\n\
             \"RequireSecuritySignature\"=dword:00000000\r\n\
             \"DisableStrictNameChecking\"=dword:00000001\r\n",
        )
        .unwrap();
    }
}

fn scan(dir: &Path, format: &str) -> String {
    scan_with(dir, format, &[])
}

const PARAMETERS: &str = r"HKLM\SYSTEM\ControlSet001\Services\LanmanServer\Parameters";
const HIVE: &str = "bundle/FS01_SYSTEM.HIV";
const EXPORT: &str = "bundle/FS01_lanman.reg";

/// A host's entry in the JSON report.
fn host<'r>(report: &'r Value, name: &str) -> &'r Value {
    report["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|host| host["name"] == name)
        .unwrap_or_else(|| panic!("no host {name}"))
}

/// FS01's entry in the JSON report.
fn fs01(report: &Value) -> &Value {
    host(report, "FS01")
}

/// FS01's outcome of `rule`: (outcome, reason, inferred).
fn outcome(report: &Value, rule: &str) -> (String, String, bool) {
    let entry = fs01(report)["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["rule"] == rule)
        .unwrap_or_else(|| panic!("no {rule} on FS01"));
    (
        entry["outcome"].as_str().unwrap().to_string(),
        entry["reason"].as_str().unwrap_or_default().to_string(),
        entry["inferred"].as_bool().unwrap_or(false),
    )
}

fn passed_reason(value: &str, read: &str, other: &str) -> String {
    format!(
        "inferred: it read {PARAMETERS}\\{value} = {read} (REG_DWORD) from {HIVE}, but {EXPORT} holds {other} (REG_DWORD): which copy is current cannot be told"
    )
}

fn finding_note(value: &str, read: &str, other: &str) -> String {
    format!(
        "(Inferred: {EXPORT} holds {PARAMETERS}\\{value} as {other} (REG_DWORD), not {read} (REG_DWORD) as {HIVE}, which was read; which copy is current cannot be told.)"
    )
}

#[test]
fn verdicts_that_read_a_value_two_sources_hold_differently_are_inferred() {
    let dir = tempfile::tempdir().unwrap();
    write_bundle(dir.path(), true);
    let report: Value = serde_json::from_str(&scan(dir.path(), "json")).unwrap();

    let level = passed_reason("SmbServerNameHardeningLevel", "2", "1");
    let signing = passed_reason("RequireSecuritySignature", "1", "0");
    // Host rules; the signing pack's effective RequireSecuritySignature is a kept computation,
    // handed to HW-SIGN-004 (a fleet rule) with what it read.
    for (rule, reason) in [
        ("HW-HARD-003", &level),
        ("HW-SIGN-001", &signing),
        ("HW-SIGN-004", &signing),
    ] {
        assert_eq!(
            outcome(&report, rule),
            ("passed".to_string(), reason.clone(), true),
            "{rule}"
        );
    }

    let findings = report["findings"].as_array().unwrap();
    let message = |rule: &str| -> (String, bool) {
        let finding = findings
            .iter()
            .find(|finding| finding["rule"] == rule && finding["host"] == "FS01")
            .unwrap_or_else(|| panic!("no {rule} finding on FS01"));
        (
            finding["message"].as_str().unwrap().to_string(),
            finding["inferred"].as_bool().unwrap(),
        )
    };
    // A fleet rule's finding, judged from the level the hive holds.
    let (hard, inferred) = message("HW-HARD-002");
    assert!(inferred);
    assert!(
        hard.ends_with(&finding_note("SmbServerNameHardeningLevel", "2", "1")),
        "{hard}"
    );
    // A host rule's finding from a value both copies hold alike says nothing of the export.
    let (strict, inferred) = message("HW-STRICT-001");
    assert!(!inferred, "{strict}");
    assert!(!strict.contains(EXPORT), "{strict}");

    // The host's warning names both files and both values.
    let host = fs01(&report);
    let warnings: Vec<&str> = host["notices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|notice| notice["code"] == "hiveward::registry::sources_disagree")
        .map(|notice| notice["message"].as_str().unwrap())
        .collect();
    assert_eq!(warnings.len(), 1, "{host:#}");
    assert!(
        warnings[0].starts_with(&format!(
            "{HIVE} and {EXPORT} hold 2 value(s) of the same keys differently ({HIVE}'s first): \
             {PARAMETERS}\\RequireSecuritySignature 1 (REG_DWORD) against 0 (REG_DWORD); \
             {PARAMETERS}\\SmbServerNameHardeningLevel 2 (REG_DWORD) against 1 (REG_DWORD). "
        )),
        "{}",
        warnings[0]
    );

    // SARIF and text carry the same words.
    let note = finding_note("SmbServerNameHardeningLevel", "2", "1");
    let sarif: Value = serde_json::from_str(&scan(dir.path(), "sarif")).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(
        results.iter().any(|result| {
            result["ruleId"] == "HW-HARD-002"
                && result["properties"]["inferred"] == true
                && result["message"]["text"]
                    .as_str()
                    .is_some_and(|text| text.contains(&note))
        }),
        "{results:#?}"
    );
    assert!(
        sarif
            .to_string()
            .contains("hiveward::registry::sources_disagree"),
        "{sarif}"
    );
    let text = scan(dir.path(), "text");
    assert!(text.contains(&note), "{text}");
    // JUnit: the finding's note in its test case, the warning in FS01's evidence suite.
    let junit = scan(dir.path(), "junit");
    assert!(junit.contains(&note), "{junit}");
    let evidence = &junit[junit
        .find("name=\"evidence: FS01\"")
        .expect("FS01's evidence suite")..];
    let evidence = &evidence[..evidence.find("</testsuite>").unwrap()];
    assert!(
        evidence.contains(&format!(
            "warning: hiveward::registry::sources_disagree: {HIVE} and {EXPORT} hold 2 value(s)"
        )),
        "{evidence}"
    );
}

#[test]
fn without_the_other_copy_the_same_verdicts_are_firm() {
    let dir = tempfile::tempdir().unwrap();
    write_bundle(dir.path(), false);
    let report: Value = serde_json::from_str(&scan(dir.path(), "json")).unwrap();
    for rule in ["HW-HARD-003", "HW-SIGN-001", "HW-SIGN-004"] {
        assert_eq!(
            outcome(&report, rule),
            ("passed".to_string(), String::new(), false),
            "{rule}"
        );
    }
    let text = serde_json::to_string(&report).unwrap();
    assert!(!text.contains("sources_disagree"), "{text}");
    assert!(!text.contains("which copy is current"), "{text}");
}

/// A site rule that lists the values of `LanmanServer\Parameters` and finds nothing.
const LISTING_RULE: &str = r#"//! Lists the server's parameters.

export const RULE = #{
    id: "E2E-LIST-001",
    pack: "e2e-site",
    title: "Server parameters listed",
    description: "Lists every value of LanmanServer\\Parameters.",
    severity: "low",
    tags: ["test"],
    references: ["end-to-end test"],
    scope: "host",
    needs: #{ keys: [`HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters`] },
    fix: `Nothing to do on {{host}}.`,
};

fn check(host) {
    let listed = host.values(`HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters`);
    if listed.is_empty() {
        throw "no values";
    }
    []
}
"#;

#[test]
fn a_rule_that_lists_a_key_two_sources_hold_differently_passes_inferred() {
    let dir = tempfile::tempdir().unwrap();
    write_bundle(dir.path(), true);
    let pack = dir.path().join("pack");
    std::fs::create_dir_all(&pack).unwrap();
    std::fs::write(
        pack.join("pack.toml"),
        "name = \"e2e-site\"\nversion = \"1.0.0\"\ndescription = \"End-to-end test pack.\"\nmin_hiveward = \"0.1.0\"\n",
    )
    .unwrap();
    std::fs::write(pack.join("E2E-LIST-001.rhai"), LISTING_RULE).unwrap();
    let report: Value = serde_json::from_str(&scan_with(
        dir.path(),
        "json",
        &["--rules", "pack", "--only", "E2E-LIST-001"],
    ))
    .unwrap();
    // The listing judged both values the export holds otherwise: the reason names each.
    assert_eq!(
        outcome(&report, "E2E-LIST-001"),
        (
            "passed".to_string(),
            format!(
                "inferred: it read {PARAMETERS}\\RequireSecuritySignature = 1 (REG_DWORD) from {HIVE}, \
                 but {EXPORT} holds 0 (REG_DWORD); it read {PARAMETERS}\\SmbServerNameHardeningLevel = \
                 2 (REG_DWORD) from {HIVE}, but {EXPORT} holds 1 (REG_DWORD): which copy is current \
                 cannot be told"
            ),
            true
        )
    );
    // PC22 has no such export: its pass is firm.
    let pc22 = host(&report, "PC22");
    assert_eq!(pc22["outcomes"][0]["outcome"], "passed", "{pc22:#}");
    assert_eq!(pc22["outcomes"][0].get("inferred"), None, "{pc22:#}");
}

#[test]
fn inspect_key_shows_both_copies_of_each_value_that_differs() {
    let dir = tempfile::tempdir().unwrap();
    write_bundle(dir.path(), true);
    let inspect = |format: &str| -> String {
        let output = Command::cargo_bin("hiveward")
            .unwrap()
            .current_dir(dir.path())
            .args(["inspect", "bundle", "--format", format, "--key"])
            .arg(r"HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters")
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let text = inspect("text");
    for line in [
        format!("    differs: RequireSecuritySignature is 1 (REG_DWORD) in {HIVE} (read) and 0 (REG_DWORD) in {EXPORT}"),
        format!("    differs: SmbServerNameHardeningLevel is 2 (REG_DWORD) in {HIVE} (read) and 1 (REG_DWORD) in {EXPORT}"),
    ] {
        assert!(text.lines().any(|shown| shown == line), "{line}\n{text}");
    }
    assert_eq!(text.matches("    differs: ").count(), 2, "{text}");

    let report: Value = serde_json::from_str(&inspect("json")).unwrap();
    let key = &fs01(&report)["key"];
    let differing: Vec<(&str, &str, &str)> = key["disagreements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            (
                item["value"].as_str().unwrap(),
                item["read"].as_str().unwrap(),
                item["other"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        differing,
        [
            ("RequireSecuritySignature", "1 (REG_DWORD)", "0 (REG_DWORD)"),
            (
                "SmbServerNameHardeningLevel",
                "2 (REG_DWORD)",
                "1 (REG_DWORD)"
            ),
        ]
    );
    // Hosts without another copy carry no such list.
    let pc22 = host(&report, "PC22");
    assert_eq!(pc22["key"].get("disagreements"), None, "{pc22:#}");
}

#[test]
fn a_value_three_sources_hold_differently_names_every_other_copy() {
    let dir = tempfile::tempdir().unwrap();
    write_bundle(dir.path(), true);
    // A second export, taken at a third time, with SPN validation off.
    let second = "bundle/FS01_lanman_old.reg";
    std::fs::write(
        dir.path().join(second),
        "Windows Registry Editor Version 5.00\r\n\r\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters]\r\n\
         \"SmbServerNameHardeningLevel\"=dword:00000000\r\n",
    )
    .unwrap();
    let report: Value = serde_json::from_str(&scan(dir.path(), "json")).unwrap();
    let value = format!("{PARAMETERS}\\SmbServerNameHardeningLevel");
    assert_eq!(
        outcome(&report, "HW-HARD-003"),
        (
            "passed".to_string(),
            format!(
                "inferred: it read {value} = 2 (REG_DWORD) from {HIVE}, but {EXPORT} holds 1 \
                 (REG_DWORD) and {second} holds 0 (REG_DWORD): which copy is current cannot be told"
            ),
            true
        )
    );
    let finding = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|finding| finding["rule"] == "HW-HARD-002" && finding["host"] == "FS01")
        .expect("HW-HARD-002 on FS01");
    let message = finding["message"].as_str().unwrap();
    assert!(
        message.ends_with(&format!(
            "(Inferred: {EXPORT} holds {value} as 1 (REG_DWORD), not 2 (REG_DWORD) as {HIVE}, \
             which was read; {second} holds {value} as 0 (REG_DWORD), not 2 (REG_DWORD) as {HIVE}, \
             which was read; which copy is current cannot be told.)"
        )),
        "{message}"
    );
}
