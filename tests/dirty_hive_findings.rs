//! Findings judged from a hive read dirty, without its transaction logs, are inferred: the
//! hive's latest writes may be missing. Every format says so, for host and fleet rules alike,
//! and the same finding from a clean hive is not. A rule that passes after reading such a hive
//! passes by inference, and says so.

use std::path::Path;

use serde_json::Value;

mod common;

use common::scan_bundle_in as scan_with;

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

/// `hiveward scan bundle` in `dir`, limited to [`RULES`].
fn scan(dir: &Path, format: &str) -> String {
    scan_with(dir, format, &["--only", &RULES.join(",")])
}

/// `hiveward scan bundle` in `dir` with every built-in rule.
fn scan_all(dir: &Path, format: &str) -> String {
    scan_with(dir, format, &[])
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
                        "(Inferred: {DIRTY_FILE} was read as a dirty hive, with no transaction log that could bring it up to date, so its latest changes may be missing.)"
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

const PASSED_INFERRED: &str = "inferred: it read bundle/DIRTY01/SYSTEM, a hive read dirty with no transaction log that could bring it up to date, so the latest changes to the settings it judged may be missing";

/// The rules that passed on `host`, and whether each is marked inferred.
fn passed_on(report: &Value, host: &str) -> Vec<(String, bool)> {
    let host = report["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["name"] == host)
        .unwrap();
    host["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|outcome| outcome["outcome"] == "passed")
        .map(|outcome| {
            let inferred = outcome["inferred"].as_bool().unwrap_or(false);
            let reason = outcome["reason"].as_str();
            assert_eq!(
                reason,
                inferred.then_some(PASSED_INFERRED),
                "an inferred pass says why, and only it has a reason: {outcome}"
            );
            (outcome["rule"].as_str().unwrap().to_string(), inferred)
        })
        .collect()
}

#[test]
fn passes_read_from_a_dirty_hive_are_inferred_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    write_bundle(&dir.path().join("bundle"));

    let report: Value = serde_json::from_str(&scan_all(dir.path(), "json")).unwrap();
    let dirty = passed_on(&report, "DIRTY01");
    let clean = passed_on(&report, "CLEAN01");
    // The same settings pass the same rules, host and fleet rules alike; on the dirty hive
    // each of those passes read it, so each is inferred.
    let names = |passed: &[(String, bool)]| -> Vec<String> {
        passed.iter().map(|(rule, _)| rule.clone()).collect()
    };
    assert_eq!(names(&dirty), names(&clean));
    for fleet_rule in ["HW-HARD-002", "HW-SIGN-004"] {
        assert!(
            names(&dirty).iter().any(|rule| rule == fleet_rule),
            "{dirty:?}"
        );
    }
    assert!(dirty.iter().all(|(_, inferred)| *inferred), "{dirty:?}");
    assert!(clean.iter().all(|(_, inferred)| !*inferred), "{clean:?}");
    assert_eq!(report["summary"]["passed_inferred"], dirty.len());
    let coverage = |host: &str| {
        report["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|entry| entry["name"] == host)
            .unwrap()["coverage"]
            .clone()
    };
    assert_eq!(coverage("DIRTY01")["passed_inferred"], dirty.len());
    assert!(coverage("CLEAN01").get("passed_inferred").is_none());

    // SARIF: one note per rule, naming the dirty host only; counts in the run's coverage.
    let sarif: Value = serde_json::from_str(&scan_all(dir.path(), "sarif")).unwrap();
    let run = &sarif["runs"][0];
    let notes: Vec<&Value> = run["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|note| note["descriptor"]["id"] == "hiveward::rules::passed_inferred")
        .collect();
    assert_eq!(notes.len(), dirty.len(), "{notes:#?}");
    for note in &notes {
        assert_eq!(note["level"], "note");
        assert_eq!(note["properties"]["hosts"], serde_json::json!(["DIRTY01"]));
        let text = note["message"]["text"].as_str().unwrap();
        assert!(text.contains("passed on 1 host(s) (DIRTY01)"), "{text}");
        assert!(text.contains(DIRTY_FILE), "{text}");
    }
    assert_eq!(
        run["properties"]["coverage"]["passedInferred"],
        dirty.len(),
        "{}",
        run["properties"]
    );

    // JUnit: the passed testcase of each such rule on DIRTY01 says why in <system-out>.
    let junit = scan_all(dir.path(), "junit");
    for (rule, _) in &dirty {
        let case = junit
            .split("<testcase ")
            .find(|case| {
                case.starts_with("name=\"DIRTY01\" classname=\"")
                    && case.contains(&format!(".{rule}\">"))
            })
            .unwrap_or_else(|| panic!("{rule} has a testcase for DIRTY01: {junit}"));
        assert!(
            !case.contains("<failure") && !case.contains("<skipped"),
            "{case}"
        );
        assert!(
            case.contains(&format!(
                "<system-out>passed, {PASSED_INFERRED}</system-out>"
            )),
            "{case}"
        );
    }

    let text = scan_all(dir.path(), "text");
    assert!(
        text.contains(&format!(
            "({} passed, {} inferred)",
            dirty.len() + clean.len(),
            dirty.len()
        )),
        "{text}"
    );
    assert!(text.contains("Passed, inferred:"), "{text}");
    // One line for the host, naming how many rules and why, without saying "inferred" again.
    let reason = PASSED_INFERRED.strip_prefix("inferred: ").unwrap();
    assert!(
        text.contains(&format!(
            "PASSED (INFERRED) on DIRTY01, {} rule(s) (",
            dirty.len()
        )) && text.contains(&format!("): {reason}\n")),
        "{text}"
    );
    assert_eq!(text.matches("PASSED (INFERRED)").count(), 1, "{text}");
    assert!(!text.contains("on CLEAN01,"), "{text}");
    let detail = scan_with(dir.path(), "text", &["--detail"]);
    let rules: Vec<&str> = dirty.iter().map(|(rule, _)| rule.as_str()).collect();
    assert!(
        detail.contains(&format!(
            "  PASSED (INFERRED) {}: {reason}\n",
            rules.join(", ")
        )),
        "{detail}"
    );

    let markdown = scan_all(dir.path(), "markdown");
    assert!(
        markdown.contains(&format!("{} of them inferred", dirty.len())),
        "{markdown}"
    );
    let html = scan_all(dir.path(), "html");
    assert_eq!(html.matches("passed (inferred)").count(), dirty.len());
}

/// A pack whose `calc` module keeps one SYSTEM read per host with `host.memo`.
const SHARED: &str = r#"
fn strict_off(host) {
    host.memo(|host| host.reg(`HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters`, "DisableStrictNameChecking") == 2)
}
"#;

fn memo_rule(id: &str, body: &str) -> String {
    format!(
        "import \"calc\" as calc;\n\nexport const RULE = #{{ id: \"{id}\", pack: \"memo-pack\", title: \"t\", description: \"d\", severity: \"low\", fix: \"f\", needs: #{{ hives: [\"SYSTEM\"] }} }};\n\nfn check(host) {{\n{body}\n}}\n"
    )
}

#[test]
fn a_pass_is_inferred_only_when_the_rule_read_the_dirty_hive_even_through_the_memo() {
    let dir = tempfile::tempdir().unwrap();
    write_bundle(&dir.path().join("bundle"));
    let pack = dir.path().join("memo-pack");
    std::fs::create_dir_all(pack.join("lib")).unwrap();
    std::fs::write(
        pack.join("pack.toml"),
        "name = \"memo-pack\"\nversion = \"0.1.0\"\ndescription = \"memo\"\nmin_hiveward = \"0.1.0\"\n",
    )
    .unwrap();
    std::fs::write(pack.join("lib/calc.rhai"), SHARED).unwrap();
    // Whichever of T-001 and T-002 runs first makes the computation and the other is handed
    // the kept copy, without reading the hive itself; T-003 reads nothing of the hive.
    for (id, body) in [
        (
            "T-001",
            "    if calc::strict_off(host) { [#{ message: \"2\" }] } else { [] }",
        ),
        (
            "T-002",
            "    if calc::strict_off(host) { [#{ message: \"2\" }] } else { [] }",
        ),
        (
            "T-003",
            "    if host.name == \"\" { [#{ message: \"no name\" }] } else { [] }",
        ),
    ] {
        std::fs::write(pack.join(format!("{id}.rhai")), memo_rule(id, body)).unwrap();
    }
    let report: Value = serde_json::from_str(&scan_with(
        dir.path(),
        "json",
        &["--no-builtin", "--rules", "memo-pack"],
    ))
    .unwrap();
    let expected = |inferred: bool| {
        vec![
            ("T-001".to_string(), inferred),
            ("T-002".to_string(), inferred),
            ("T-003".to_string(), false),
        ]
    };
    assert_eq!(passed_on(&report, "DIRTY01"), expected(true));
    assert_eq!(passed_on(&report, "CLEAN01"), expected(false));
    assert_eq!(report["summary"]["passed_inferred"], 2);
}
