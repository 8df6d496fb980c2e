//! The corpus of real hives.

use super::*;

#[test]
fn corpus_scans_without_rule_errors_or_panics() {
    let Some(corpus) = hiveward_testkit::corpus_dir() else {
        return;
    };
    let hives = corpus.join("hives");
    let run = hiveward(
        &root(),
        &["scan", hives.to_str().unwrap(), "--format", "json"],
    );
    run.assert_no_panic();
    assert!(
        run.code == 0 || run.code == 1,
        "exit code {} on the corpus:\n{}",
        run.code,
        run.stderr
    );
    let report = run.json();
    assert_no_rule_errors(&report);
    assert!(report["summary"]["hosts"].as_u64().unwrap() > 0);
    assert!(report["summary"]["evaluations"].as_u64().unwrap() > 0);
    assert_matches_schema(&report);
}

/// A SYSTEM hive whose `NoLMHash` value cell has its `vk` signature broken: the hive opens and
/// every other value reads, but that one cannot be read.
fn hive_with_a_damaged_value() -> Vec<u8> {
    let mut bytes = hive_from_reg(
        r#"Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\Select]
"Current"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\ComputerName\ComputerName]
"ComputerName"="DMG01"

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\Lsa]
"NoLMHash"=dword:00000001
"LmCompatibilityLevel"=dword:00000005

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Services\LanmanServer\Parameters]
"DisableStrictNameChecking"=dword:00000001
"#,
    );
    // A value key cell: size, "vk", name length, data size, data offset, type, flags, spare,
    // then the (ASCII) name.
    let name = b"NoLMHash";
    let at = bytes
        .windows(name.len())
        .position(|window| window == name)
        .expect("the value name is in the hive");
    assert_eq!(&bytes[at - 20..at - 18], b"vk");
    bytes[at - 20..at - 18].copy_from_slice(b"xx");
    bytes
}

#[test]
fn damaged_evidence_leaves_a_rule_unchecked_not_failed() {
    let dir = tempfile::tempdir().unwrap();
    let host = dir.path().join("evidence");
    fs::create_dir_all(&host).unwrap();
    fs::write(host.join("DMG01_SYSTEM.HIV"), hive_with_a_damaged_value()).unwrap();
    let args = [
        "scan",
        "evidence",
        "--only",
        "HW-NTLM-004,HW-STRICT-001",
        "--format",
        "json",
        "--fail-on",
        "never",
        "--output-format",
        "sarif:out.sarif",
        "--output-format",
        "junit:out.xml",
        "--output-format",
        "text:out.txt",
    ];
    let run = hiveward(dir.path(), &args);
    // Not a rule error (2): the evidence is incomplete (3).
    run.assert_code(3);
    let report = run.json();
    assert_matches_schema(&report);
    assert_eq!(report["summary"]["rule_errors"], 0, "{report}");
    assert_eq!(report["summary"]["unchecked"], 1);
    let unchecked = &report["unchecked"][0];
    assert_eq!(unchecked["rule"], "HW-NTLM-004");
    assert_eq!(unchecked["host"], "DMG01");
    let message = unchecked["message"].as_str().unwrap();
    assert!(
        message.contains("NoLMHash") && message.contains("DMG01_SYSTEM.HIV"),
        "{message}"
    );
    // The other rule still ran on the same hive.
    assert_eq!(rule_hosts(&report), pairs(&[("HW-STRICT-001", "DMG01")]));

    let sarif: Value =
        serde_json::from_slice(&fs::read(dir.path().join("out.sarif")).unwrap()).unwrap();
    let invocation = &sarif["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    let notification = invocation["toolExecutionNotifications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["descriptor"]["id"] == "hiveward::rules::evidence_unreadable")
        .expect("a notification for the unchecked rule");
    assert_eq!(notification["level"], "warning");
    assert_eq!(notification["associatedRule"]["id"], "HW-NTLM-004");

    let junit = fs::read_to_string(dir.path().join("out.xml")).unwrap();
    assert!(
        junit.contains("<skipped message=\"not checked: cannot read"),
        "{junit}"
    );
    let text = fs::read_to_string(dir.path().join("out.txt")).unwrap();
    assert!(text.contains("NOT CHECKED HW-NTLM-004"), "{text}");
    assert!(
        text.contains("1 check(s) not made because evidence is damaged or incomplete"),
        "{text}"
    );

    // --allow-partial accepts it, like other incomplete evidence, as long as something was
    // checked; a run whose only rule could not check anything still exits 3.
    let partial = |rules: &str| {
        hiveward(
            dir.path(),
            &[
                "scan",
                "evidence",
                "--only",
                rules,
                "--allow-partial",
                "--fail-on",
                "never",
            ],
        )
    };
    partial("HW-NTLM-004,HW-STRICT-001").assert_code(0);
    let run = partial("HW-NTLM-004");
    run.assert_code(3);
    assert!(run.stdout_text().contains("nothing was checked"));
}

/// A fleet rule that catches a damaged host's read and goes on with the others still leaves
/// that host marked as not checked by the rule.
#[test]
fn a_fleet_rule_that_skips_a_damaged_host_reports_it_unchecked() {
    let dir = tempfile::tempdir().unwrap();
    let evidence = dir.path().join("evidence");
    fs::create_dir_all(&evidence).unwrap();
    fs::write(
        evidence.join("DMG01_SYSTEM.HIV"),
        hive_with_a_damaged_value(),
    )
    .unwrap();
    fs::write(evidence.join("ALPHA_SYSTEM.HIV"), system_hive("ALPHA", 1)).unwrap();
    write_pack(
        &dir.path().join("pack"),
        &[(
            "E2E-FLEET-001.rhai",
            r#"export const RULE = #{
    id: "E2E-FLEET-001",
    pack: "e2e-site",
    title: "LM hashes stored",
    description: "Reads NoLMHash on every host.",
    severity: "low",
    scope: "fleet",
    fix: "Set NoLMHash to 1.",
};

fn summarize(host) {
    try {
        #{ no_lm_hash: host.reg(`HKLM\SYSTEM\CurrentControlSet\Control\Lsa`, "NoLMHash") }
    } catch {
        ()
    }
}

fn check(fleet) {
    let findings = [];
    for host in fleet.hosts {
        if host.no_lm_hash != 1 {
            findings.push(#{ host: host.name, message: `NoLMHash is not 1 on ${host.name}` });
        }
    }
    findings
}
"#,
        )],
    );
    let run = hiveward(
        dir.path(),
        &[
            "scan",
            "evidence",
            "--no-builtin",
            "--rules",
            "pack",
            "--format",
            "json",
            "--fail-on",
            "never",
        ],
    );
    run.assert_code(3);
    let report = run.json();
    assert_eq!(rule_hosts(&report), pairs(&[("E2E-FLEET-001", "ALPHA")]));
    assert_eq!(report["summary"]["rule_errors"], 0);
    let unchecked = report["unchecked"].as_array().unwrap();
    assert_eq!(unchecked.len(), 1, "{report}");
    assert_eq!(unchecked[0]["rule"], "E2E-FLEET-001");
    assert_eq!(unchecked[0]["host"], "DMG01");
    assert!(unchecked[0]["message"]
        .as_str()
        .unwrap()
        .contains("NoLMHash"));
}
