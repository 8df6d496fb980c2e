//! The exit code of `hiveward scan` over every combination of findings, waivers, baseline,
//! unreadable evidence, `--allow-partial` and `--fail-on`, checked against the documented
//! table (docs/ci.md): 1 when an unsuppressed finding is at or above `--fail-on`; else 3 when
//! evidence was unreadable and `--allow-partial` was not given; else 0.

use std::path::Path;

use assert_cmd::Command;

const DIRTY: &str = r#"Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\Select]
"Current"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\ComputerName\ComputerName]
"ComputerName"="FS01"

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\ProductOptions]
"ProductType"="ServerNT"

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Services\LanmanServer\Parameters]
"DisableStrictNameChecking"=dword:00000001
"SmbServerNameHardeningLevel"=dword:00000000
"#;

const WAIVERS: &str = r#"[[waiver]]
rule = "HW-*"
host = "FS01"
justification = "accepted for the test"
expires = 2099-12-31
"#;

struct Case {
    findings: bool,
    waived: bool,
    baselined: bool,
    unreadable: bool,
    allow_partial: bool,
    fail_on: &'static str,
}

/// The documented table, written independently of the implementation.
fn expected(case: &Case) -> i32 {
    // Both built-in findings of the dirty host are medium.
    let severity = 2;
    let threshold = match case.fail_on {
        "info" => Some(0),
        "medium" => Some(2),
        "high" => Some(3),
        _ => None,
    };
    let failing = case.findings
        && !case.waived
        && !case.baselined
        && threshold.is_some_and(|threshold| severity >= threshold);
    if failing {
        1
    } else if case.unreadable && !case.allow_partial {
        3
    } else {
        0
    }
}

fn write_bundle(root: &Path, findings: bool, unreadable: bool) {
    let text = if findings {
        DIRTY.to_string()
    } else {
        DIRTY
            .replace(
                "\"DisableStrictNameChecking\"=dword:00000001",
                "\"DisableStrictNameChecking\"=dword:00000000",
            )
            .replace(
                "\"SmbServerNameHardeningLevel\"=dword:00000000",
                "\"SmbServerNameHardeningLevel\"=dword:00000001",
            )
    };
    std::fs::create_dir_all(root.join("FS01")).unwrap();
    std::fs::write(
        root.join("FS01/SYSTEM"),
        hiveward_testkit::hive_from_reg(&text),
    )
    .unwrap();
    if unreadable {
        std::fs::create_dir_all(root.join("FS02")).unwrap();
        std::fs::write(root.join("FS02/SYSTEM"), b"").unwrap();
    }
}

/// The two rules the dirty host is written for; the other built-in rules would add findings
/// of other severities to the table.
const ONLY: [&str; 2] = ["--only", "HW-STRICT-001,HW-HARD-003"];

fn run(dir: &Path, args: &[&str]) -> i32 {
    let output = Command::cargo_bin("hiveward")
        .unwrap()
        .current_dir(dir)
        .args(args)
        .args(ONLY)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    output.status.code().unwrap_or(-1)
}

#[test]
fn exit_codes_follow_the_table() {
    let mut checked = 0;
    for findings in [false, true] {
        for unreadable in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            write_bundle(&dir.path().join("bundle"), findings, unreadable);
            std::fs::write(dir.path().join("waivers.toml"), WAIVERS).unwrap();
            // A baseline of this bundle's findings, written by the tool itself.
            let code = run(
                dir.path(),
                &[
                    "scan",
                    "bundle",
                    "--write-baseline",
                    "baseline.json",
                    "--fail-on",
                    "never",
                    "--allow-partial",
                ],
            );
            assert_eq!(code, 0, "writing the baseline");
            for waived in [false, true] {
                for baselined in [false, true] {
                    for allow_partial in [false, true] {
                        for fail_on in ["info", "medium", "high", "never"] {
                            let case = Case {
                                findings,
                                waived,
                                baselined,
                                unreadable,
                                allow_partial,
                                fail_on,
                            };
                            let mut args =
                                vec!["scan", "bundle", "--format", "json", "--fail-on", fail_on];
                            if waived {
                                args.extend(["--waivers", "waivers.toml"]);
                            }
                            if baselined {
                                args.extend(["--baseline", "baseline.json"]);
                            }
                            if allow_partial {
                                args.push("--allow-partial");
                            }
                            let code = run(dir.path(), &args);
                            assert_eq!(
                                code,
                                expected(&case),
                                "findings={findings} waived={waived} baselined={baselined} unreadable={unreadable} allow_partial={allow_partial} fail_on={fail_on}"
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
    }
    assert_eq!(checked, 128);
}

#[test]
fn bad_waivers_and_baselines_stop_the_run_before_evidence_is_read() {
    let dir = tempfile::tempdir().unwrap();
    write_bundle(&dir.path().join("bundle"), true, false);
    std::fs::write(
        dir.path().join("bad.toml"),
        "[[waiver]]\nrule = \"HW-STRICT-001\"\nhost = \"*\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("unknown.toml"),
        "[[waiver]]\nrule = \"HW-NOPE-1\"\nhost = \"*\"\njustification = \"x\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("baseline.json"), "{ not json").unwrap();
    for args in [
        vec!["scan", "bundle", "--waivers", "bad.toml"],
        vec!["scan", "bundle", "--waivers", "unknown.toml"],
        vec!["scan", "bundle", "--baseline", "baseline.json"],
        vec!["scan", "missing-bundle", "--waivers", "bad.toml"],
    ] {
        let output = Command::cargo_bin("hiveward")
            .unwrap()
            .current_dir(dir.path())
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(output.stdout.is_empty(), "no report for {args:?}");
    }
    let output = Command::cargo_bin("hiveward")
        .unwrap()
        .current_dir(dir.path())
        .args(["scan", "bundle", "--waivers", "unknown.toml"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown.toml:2:") && stderr.contains("HW-NOPE-1"),
        "{stderr}"
    );
}

#[test]
fn expired_waivers_stop_applying_and_the_report_says_so() {
    let dir = tempfile::tempdir().unwrap();
    write_bundle(&dir.path().join("bundle"), true, false);
    std::fs::write(
        dir.path().join("expired.toml"),
        WAIVERS.replace("2099-12-31", "2020-01-31"),
    )
    .unwrap();
    let output = Command::cargo_bin("hiveward")
        .unwrap()
        .current_dir(dir.path())
        .args([
            "scan",
            "bundle",
            "--waivers",
            "expired.toml",
            "--format",
            "json",
            "--fail-on",
            "medium",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|finding| finding["suppression"].is_null()));
    let notices = report["notices"].as_array().unwrap();
    assert!(
        notices
            .iter()
            .any(|notice| notice["code"] == "hiveward::waiver::expired"
                && notice["message"].as_str().unwrap().contains("2020-01-31")),
        "{notices:?}"
    );
}
