//! "No findings" means "checked and clean": every rule × host ends in one outcome, coverage is in
//! every format, a host that nothing could check fails the gate, `--require` demands evidence,
//! and rules decide "not applicable" from what they need, never from defaults.

mod support;

use std::ffi::OsStr;
use std::fs;
use std::path::Path;

use hiveward_evtxwriter::{Event, EvtxWriter};
use hiveward_testkit::hive_from_reg;
use serde_json::Value;
use support::{root, Run};

/// Runs `hiveward ARGS PATHS` in the workspace root.
fn hiveward(args: &[&str], paths: &[&Path]) -> Run {
    let args: Vec<&OsStr> = args
        .iter()
        .map(OsStr::new)
        .chain(paths.iter().map(|path| path.as_os_str()))
        .collect();
    support::hiveward(&root(), &args)
}

const SAM: &str = r#"Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SAM\SAM\Domains\Account\Users\000001F4]
"F"=hex:02,00,01,00

[HKEY_LOCAL_MACHINE\SAM\SAM\RXACT]
"#;

const SECURITY: &str = r#"Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SECURITY\Policy\PolAdtEv]
@=hex:00,01

[HKEY_LOCAL_MACHINE\SECURITY\RXACT]
"#;

/// A SYSTEM hive of a host that has none of the SMB or LSA keys the packs read.
const BARE_SYSTEM: &str = r#"Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\Select]
"Current"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\ComputerName\ComputerName]
"ComputerName"="CORE01"

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\ProductOptions]
"ProductType"="ServerNT"

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Services\Tcpip\Parameters]
"Hostname"="core01"
"#;

/// A SYSTEM hive with the Server service configured, strict name checking off.
const FS_SYSTEM: &str = r#"Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\Select]
"Current"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\ComputerName\ComputerName]
"ComputerName"="FS01"

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\ProductOptions]
"ProductType"="ServerNT"

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Services\LanmanServer\Parameters]
"DisableStrictNameChecking"=dword:00000000
"#;

fn outcome_of<'a>(host: &'a Value, rule: &str) -> &'a Value {
    host["outcomes"]
        .as_array()
        .expect("outcomes")
        .iter()
        .find(|outcome| outcome["rule"] == rule)
        .unwrap_or_else(|| panic!("no outcome for {rule} in {host:#}"))
}

#[test]
fn a_bundle_of_only_sam_and_security_checks_nothing_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("HOSTX_SAM.HIV"), hive_from_reg(SAM)).unwrap();
    fs::write(
        dir.path().join("HOSTX_SECURITY.HIV"),
        hive_from_reg(SECURITY),
    )
    .unwrap();
    let run = hiveward(&["scan", "--format", "json"], &[dir.path()]);
    run.assert_code(3);
    let report = run.json();
    assert_eq!(report["findings"].as_array().unwrap().len(), 0);
    let host = &report["hosts"][0];
    assert_eq!(host["name"], "HOSTX");
    let rules = report["rules"].as_array().unwrap().len() as u64;
    assert_eq!(host["coverage"]["rules"], rules);
    assert_eq!(host["coverage"]["checked"], 0);
    assert_eq!(host["coverage"]["not_applicable"], rules);
    for outcome in host["outcomes"].as_array().unwrap() {
        assert_eq!(outcome["outcome"], "not_applicable", "{outcome}");
        assert!(
            outcome["reason"].as_str().unwrap().contains("absent")
                || outcome["reason"].as_str().unwrap().starts_with("no ")
        );
    }
    assert_eq!(report["summary"]["checked"], 0);
    assert!(
        run.stderr.contains("HOSTX: no rule could check anything"),
        "{}",
        run.stderr
    );
    // --allow-partial does not turn "nothing checked at all" into a pass.
    hiveward(&["scan", "--allow-partial"], &[dir.path()]).assert_code(3);
    // The text report never says a bare "no findings".
    let text = hiveward(&["scan", "--detail"], &[dir.path()]);
    assert!(
        text.stdout_str().contains("HOSTX: checked 0 of"),
        "{}",
        text.stdout_str()
    );
    assert!(
        text.stdout_str().contains("NOTHING CHECKED"),
        "{}",
        text.stdout_str()
    );
    assert!(
        !text.stdout_str().contains("  no findings\n"),
        "{}",
        text.stdout_str()
    );
}

#[test]
fn a_sysmon_log_alone_checks_nothing_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = EvtxWriter::new();
    for second in 0..3 {
        log.push(
            Event::new(
                "Microsoft-Windows-Sysmon/Operational",
                "Microsoft-Windows-Sysmon",
                1,
            )
            .computer("ws01.corp.example")
            .data("Image", r"C:\Windows\System32\cmd.exe")
            .unix_time(1_700_000_000 + second),
        );
    }
    log.write_to(dir.path().join("Sysmon.evtx")).unwrap();
    let run = hiveward(&["scan", "--format", "json"], &[dir.path()]);
    run.assert_code(3);
    let report = run.json();
    assert_eq!(report["hosts"].as_array().unwrap().len(), 1);
    assert_eq!(report["hosts"][0]["coverage"]["checked"], 0);
    assert!(run.stderr.contains("no rule could check anything"));
}

#[test]
fn a_system_hive_without_smb_or_lsa_keys_gets_no_smb_findings() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("CORE01_SYSTEM.HIV"),
        hive_from_reg(BARE_SYSTEM),
    )
    .unwrap();
    let run = hiveward(
        &["scan", "--format", "json", "--fail-on", "never"],
        &[dir.path()],
    );
    let report = run.json();
    let findings = report["findings"].as_array().unwrap();
    assert!(
        findings.is_empty(),
        "findings about keys that do not exist: {:#?}",
        findings
            .iter()
            .map(|finding| finding["rule"].as_str().unwrap())
            .collect::<Vec<_>>()
    );
    let host = &report["hosts"][0];
    for rule in [
        "HW-SMB1-001",
        "HW-SIGN-001",
        "HW-SIGN-002",
        "HW-NTLM-001",
        "HW-HARD-003",
        "HW-STRICT-001",
    ] {
        let outcome = outcome_of(host, rule);
        assert_eq!(outcome["outcome"], "not_applicable", "{rule}: {outcome}");
        assert!(
            outcome["reason"].as_str().unwrap().contains("absent"),
            "{rule}: {outcome}"
        );
    }
    // Nothing could be checked on it at all, so the gate does not pass.
    assert_eq!(run.code, 3, "{}", run.stderr);
}

#[test]
fn a_host_with_only_a_system_log_gets_no_hotfix_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = EvtxWriter::new();
    log.push(
        Event::new("System", "EventLog", 6009)
            .computer("WKS9")
            .data("", "6.01.")
            .unix_time(1_700_000_000),
    );
    log.write_to(dir.path().join("WKS9_System.evtx")).unwrap();
    let run = hiveward(
        &["scan", "--format", "json", "--fail-on", "never"],
        &[dir.path()],
    );
    let report = run.json();
    assert!(
        !report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|finding| finding["rule"].as_str().unwrap().starts_with("HW-PATCH")),
        "a hotfix finding without a hotfix inventory: {:#}",
        report["findings"]
    );
    let outcome = outcome_of(&report["hosts"][0], "HW-PATCH-001");
    assert_eq!(outcome["outcome"], "not_applicable", "{outcome}");
}

#[test]
fn evidence_without_any_host_fails_every_format_not_only_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    // Neither a hive, nor a .reg export, nor an event log: no host at all.
    fs::write(
        dir.path().join("NotAHive"),
        b"just some text, no evidence\n".repeat(64),
    )
    .unwrap();
    let sarif_path = dir.path().join("out.sarif");
    let junit_path = dir.path().join("out.xml");
    let run = hiveward(
        &[
            "scan",
            "--format",
            "json",
            "--output-format",
            &format!("sarif:{}", sarif_path.display()),
            "--output-format",
            &format!("junit:{}", junit_path.display()),
        ],
        &[&dir.path().join("NotAHive")],
    );
    run.assert_code(3);
    assert!(
        run.stderr
            .contains("nothing was checked: no host was found"),
        "{}",
        run.stderr
    );
    let report = run.json();
    assert_eq!(report["hosts"].as_array().unwrap().len(), 0);
    let notices = report["notices"].as_array().unwrap();
    let notice = notices
        .iter()
        .find(|notice| notice["code"] == "hiveward::scan::nothing_checked")
        .unwrap_or_else(|| panic!("no run notice says nothing was checked: {notices:?}"));
    assert_eq!(notice["level"], "error");
    assert!(notice["message"]
        .as_str()
        .unwrap()
        .contains("1 file(s) passed over"));
    let sarif: Value = serde_json::from_slice(&fs::read(&sarif_path).unwrap()).unwrap();
    let invocation = &sarif["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false, "{invocation}");
    let errors: Vec<&Value> = invocation["toolExecutionNotifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|notification| notification["level"] == "error")
        .collect();
    assert!(
        errors
            .iter()
            .any(|notification| notification["message"]["text"]
                .as_str()
                .unwrap()
                .contains("nothing was checked")),
        "{invocation}"
    );
    let junit = fs::read_to_string(&junit_path).unwrap();
    assert!(
        junit.contains("<testsuites name=\"hiveward\" tests=\"1\" failures=\"0\" errors=\"1\""),
        "{junit}"
    );
    assert!(
        junit.contains("name=\"hiveward::scan::nothing_checked\">\n      <error message=\"nothing was checked: no host was found"),
        "{junit}"
    );
}

#[test]
fn coverage_reaches_text_json_sarif_and_junit() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("FS01_SYSTEM.HIV"), hive_from_reg(FS_SYSTEM)).unwrap();
    let sarif_path = dir.path().join("out.sarif");
    let junit_path = dir.path().join("out.xml");
    let json_path = dir.path().join("out.json");
    let run = hiveward(
        &[
            "scan",
            "--detail",
            "--only",
            "HW-STRICT-001,HW-NTLM-002,HW-PATCH-002",
            "--output-format",
            &format!("sarif:{}", sarif_path.display()),
            "--output-format",
            &format!("junit:{}", junit_path.display()),
            "--output-format",
            &format!("json:{}", json_path.display()),
        ],
        &[dir.path()],
    );
    run.assert_code(0);
    // Text: the header counts, "no findings" is qualified, the reasons are listed.
    assert!(
        run.stdout_str().contains("FS01: checked 1 of 3 rule(s)"),
        "{}",
        run.stdout_str()
    );
    assert!(
        run.stdout_str()
            .contains("no findings in the 1 rule(s) checked; 2 not applicable of 3"),
        "{}",
        run.stdout_str()
    );
    assert!(
        run.stdout_str()
            .contains("not applicable: no Security log: HW-NTLM-002"),
        "{}",
        run.stdout_str()
    );

    let report: Value = serde_json::from_slice(&fs::read(&json_path).unwrap()).unwrap();
    let host = &report["hosts"][0];
    assert_eq!(host["coverage"]["checked"], 1);
    assert_eq!(host["coverage"]["passed"], 1);
    assert_eq!(host["coverage"]["not_applicable"], 2);
    assert_eq!(outcome_of(host, "HW-STRICT-001")["outcome"], "passed");
    assert_eq!(outcome_of(host, "HW-NTLM-002")["reason"], "no Security log");

    let sarif: Value = serde_json::from_slice(&fs::read(&sarif_path).unwrap()).unwrap();
    let run0 = &sarif["runs"][0];
    assert_eq!(run0["properties"]["coverage"]["checked"], 1);
    assert_eq!(run0["properties"]["coverage"]["notApplicable"], 2);
    assert_eq!(run0["properties"]["coverage"]["perHost"][0]["host"], "FS01");
    let notifications = run0["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap();
    let ntlm = notifications
        .iter()
        .find(|notification| notification["properties"]["rule"] == "HW-NTLM-002")
        .expect("a notification for the rule that did not apply");
    assert_eq!(ntlm["level"], "note");
    assert_eq!(ntlm["properties"]["outcome"], "not_applicable");
    assert_eq!(ntlm["properties"]["hosts"][0], "FS01");

    let junit = fs::read_to_string(&junit_path).unwrap();
    assert!(
        junit.contains("<skipped message=\"not applicable: no Security log\"/>"),
        "{junit}"
    );
}

#[test]
fn require_demands_evidence_per_host_even_with_allow_partial() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("FS01_SYSTEM.HIV"), hive_from_reg(FS_SYSTEM)).unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["scan", "--only", "HW-STRICT-001", "--format", "json"];
        args.extend_from_slice(extra);
        hiveward(&args, &[dir.path()])
    };
    run(&["--require", "system"]).assert_code(0);
    let missing = run(&[
        "--require",
        "system,software,log:Security",
        "--allow-partial",
    ]);
    missing.assert_code(3);
    assert!(
        missing.stderr.contains(
            "FS01: --require demands evidence this host lacks: SOFTWARE hive, Security log"
        ),
        "{}",
        missing.stderr
    );
    let report = missing.json();
    assert_eq!(
        report["hosts"][0]["missing_required"],
        serde_json::json!(["SOFTWARE hive", "Security log"])
    );
    assert_eq!(report["summary"]["hosts_missing_required"], 1);
    let bad = run(&["--require", "registry"]);
    bad.assert_code(2);
    assert!(
        bad.stderr.contains("unknown evidence kind `registry`"),
        "{}",
        bad.stderr
    );
}

const PACK_TOML: &str = r#"name = "site"
version = "0.1.0"
description = "Outcome tests."
min_hiveward = "0.1.0"
"#;

/// A host rule that declines on its own, a fleet rule that declines per host, and a rule that
/// wrongly returns findings and not_applicable together.
const RULES: [(&str, &str); 3] = [
    (
        "SITE-NA-001.rhai",
        r#"//! Declines on hosts whose strict name checking value is absent.
export const RULE = #{
    id: "SITE-NA-001", pack: "site", title: "Strict name checking value", severity: "low",
    description: "Needs the Server service.",
    needs: #{ keys: [`HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters`] },
    fix: "none",
};
fn check(host) {
    let value = host.reg(`HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters`, "DisableStrictNameChecking");
    if value == () { return not_applicable("the setting is not configured on this build"); }
    []
}
"#,
    ),
    (
        "SITE-NA-002.rhai",
        r#"//! A fleet rule that judges servers only.
export const RULE = #{
    id: "SITE-NA-002", pack: "site", title: "Fleet", severity: "low", scope: "fleet",
    description: "Judges servers.", fix: "none",
};
fn summarize(host) { #{} }
fn check(fleet) {
    let out = [];
    for host in fleet.hosts {
        if host.name == "FS01" { out.push(#{ host: host.name, message: "seen" }); }
        else { out.push(not_applicable(host.name, "not a file server")); }
    }
    out
}
"#,
    ),
    (
        "SITE-NA-003.rhai",
        r#"//! Returns both, which is a mistake.
export const RULE = #{
    id: "SITE-NA-003", pack: "site", title: "Both", severity: "low",
    description: "Broken.", fix: "none",
};
fn check(host) { [#{ message: "x" }, not_applicable("y")] }
"#,
    ),
];

#[test]
fn rules_can_decline_per_host_and_mixing_is_a_rule_error() {
    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("site");
    fs::create_dir_all(&pack).unwrap();
    fs::write(pack.join("pack.toml"), PACK_TOML).unwrap();
    for (name, text) in RULES {
        fs::write(pack.join(name), text).unwrap();
    }
    let bundle = dir.path().join("bundle");
    fs::create_dir_all(bundle.join("FS01")).unwrap();
    fs::create_dir_all(bundle.join("CORE01")).unwrap();
    fs::write(bundle.join("FS01/SYSTEM"), hive_from_reg(FS_SYSTEM)).unwrap();
    fs::write(bundle.join("CORE01/SYSTEM"), hive_from_reg(BARE_SYSTEM)).unwrap();
    let rules = pack.display().to_string();
    let run = hiveward(
        &[
            "scan",
            "--no-builtin",
            "--rules",
            &rules,
            "--format",
            "json",
            "--fail-on",
            "never",
        ],
        &[&bundle],
    );
    run.assert_code(2);
    let report = run.json();
    let host = |name: &str| {
        report["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|host| host["name"] == name)
            .unwrap()
            .clone()
    };
    let core = host("CORE01");
    let fs01 = host("FS01");
    assert_eq!(
        outcome_of(&core, "SITE-NA-001")["outcome"],
        "not_applicable"
    );
    assert!(outcome_of(&core, "SITE-NA-001")["reason"]
        .as_str()
        .unwrap()
        .contains(r"key HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters absent"));
    assert_eq!(outcome_of(&fs01, "SITE-NA-001")["outcome"], "passed");
    assert_eq!(outcome_of(&fs01, "SITE-NA-002")["outcome"], "findings");
    assert_eq!(
        outcome_of(&core, "SITE-NA-002")["outcome"],
        "not_applicable"
    );
    assert_eq!(
        outcome_of(&core, "SITE-NA-002")["reason"],
        "not a file server"
    );
    assert_eq!(outcome_of(&fs01, "SITE-NA-003")["outcome"], "error");
    assert!(report["rule_errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("findings and not_applicable"));
}

#[test]
fn a_host_whose_absent_value_is_declined_by_the_rule_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("site");
    fs::create_dir_all(&pack).unwrap();
    fs::write(pack.join("pack.toml"), PACK_TOML).unwrap();
    fs::write(pack.join(RULES[0].0), RULES[0].1).unwrap();
    let bundle = dir.path().join("bundle");
    fs::create_dir_all(&bundle).unwrap();
    fs::write(
        bundle.join("FS02_SYSTEM.HIV"),
        hive_from_reg(&FS_SYSTEM.replace("FS01", "FS02").replace(
            "\"DisableStrictNameChecking\"=dword:00000000",
            "\"NullSessionPipes\"=\"\"",
        )),
    )
    .unwrap();
    let rules = pack.display().to_string();
    let run = hiveward(
        &[
            "scan",
            "--no-builtin",
            "--rules",
            &rules,
            "--format",
            "json",
        ],
        &[&bundle],
    );
    run.assert_code(3);
    let report = run.json();
    let outcome = outcome_of(&report["hosts"][0], "SITE-NA-001");
    assert_eq!(outcome["outcome"], "not_applicable");
    assert_eq!(
        outcome["reason"],
        "the setting is not configured on this build"
    );
}

/// A Windows 7 SP1 workstation running the OpsMgr agent (`HealthService`) whose SYSTEM
/// `ProductOptions\ProductType` value points past the hive bins (the base block stays valid),
/// beside a healthy SOFTWARE hive that lacks KB2878378: the OS still comes from SOFTWARE, and
/// the hotfix verdict is made.
#[test]
fn damaged_product_options_beside_a_healthy_software_still_yields_the_hotfix_verdict() {
    let system = r#"Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\Select]
"Current"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\ComputerName\ComputerName]
"ComputerName"="WKS7"

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\ProductOptions]
"ProductType"="WinNT"
"ProductSuite"=hex(7):00,00

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Services\HealthService]
"Start"=dword:00000002
"#;
    let mut packages = String::new();
    for kb in ["KB2775511", "KB2732673", "KB2728738"] {
        packages.push_str(&format!(
            "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Component Based Servicing\\Packages\\Package_for_{kb}~31bf3856ad364e35~amd64~~6.1.1.0]\n\"CurrentState\"=dword:00000070\n\n"
        ));
    }
    let software = format!(
        r#"Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion]
"ProductName"="Windows 7 Professional"
"CurrentVersion"="6.1"
"CurrentBuildNumber"="7601"
"CSDVersion"="Service Pack 1"
"EditionID"="Professional"
"InstallationType"="Client"

{packages}"#
    );
    let dir = tempfile::tempdir().unwrap();
    let mut system_bytes = hive_from_reg(system);
    hiveward_testkit::damage_value_data(&mut system_bytes, "ProductType");
    fs::write(dir.path().join("WKS7_SYSTEM.HIV"), system_bytes).unwrap();
    fs::write(
        dir.path().join("WKS7_SOFTWARE.HIV"),
        hive_from_reg(&software),
    )
    .unwrap();
    let run = hiveward(
        &["scan", "--only", "HW-PATCH-001", "--format", "json"],
        &[dir.path()],
    );
    run.assert_code(1);
    let report = run.json();
    let host = &report["hosts"][0];
    assert_eq!(host["os"], "Windows 7 SP1", "{host:#}");
    let finding = &report["findings"][0];
    assert_eq!(finding["rule"], "HW-PATCH-001");
    assert!(
        finding["message"].as_str().unwrap().contains("KB2878378"),
        "{finding:#}"
    );
    assert_eq!(outcome_of(host, "HW-PATCH-001")["outcome"], "findings");
    // The damaged hive counts as partly read, the healthy one as read.
    let status = |suffix: &str| {
        host["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|file| file["path"].as_str().unwrap().ends_with(suffix))
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status("WKS7_SYSTEM.HIV"), "partial");
    assert_eq!(status("WKS7_SOFTWARE.HIV"), "read");

    // `inspect` names the damage once.
    let inspect = hiveward(&["inspect"], &[dir.path()]);
    let mentions = inspect
        .stdout_str()
        .lines()
        .filter(|line| line.contains("ProductType"))
        .count();
    assert_eq!(mentions, 1, "{}", inspect.stdout_str());
}

/// Event evidence cites every log its records came from, in JSON, text and SARIF.
#[test]
fn event_evidence_cites_every_log_it_read() {
    use hiveward_evtxwriter::security_4624;
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    fs::create_dir_all(&bundle).unwrap();
    for (index, name) in ["FS01_Security.evtx", "FS01_Security-archive.evtx"]
        .iter()
        .enumerate()
    {
        let mut log = EvtxWriter::new();
        log.push(
            security_4624("alice", 3, "NTLM", "NTLM V1")
                .computer("FS01.corp.example")
                .unix_time(1_700_000_000 + index as i64 * 100),
        );
        log.write_to(bundle.join(name)).unwrap();
    }
    let sarif_path = dir.path().join("out.sarif");
    let run = hiveward(
        &[
            "scan",
            "--only",
            "HW-NTLM-002",
            "--format",
            "json",
            "--fail-on",
            "never",
            "--output-format",
            &format!("sarif:{}", sarif_path.display()),
        ],
        &[&bundle],
    );
    run.assert_code(0);
    let report = run.json();
    assert_eq!(report["hosts"].as_array().unwrap().len(), 1, "{report:#}");
    let evidence = report["findings"][0]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["kind"] == "event")
        .expect("event evidence")
        .clone();
    let files: Vec<&str> = evidence["files"]
        .as_array()
        .unwrap_or_else(|| panic!("no `files` in {evidence:#}"))
        .iter()
        .map(|file| file.as_str().unwrap())
        .collect();
    assert_eq!(files.len(), 2, "{evidence:#}");
    assert!(
        files[0].ends_with("FS01_Security-archive.evtx"),
        "{files:?}"
    );
    assert!(files[1].ends_with("FS01_Security.evtx"), "{files:?}");
    assert_eq!(evidence["count"], 2);

    let sarif: Value = serde_json::from_slice(&fs::read(&sarif_path).unwrap()).unwrap();
    let result = &sarif["runs"][0]["results"][0];
    let primary = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        .as_str()
        .unwrap()
        .to_string();
    let related: Vec<String> = result["relatedLocations"]
        .as_array()
        .expect("relatedLocations")
        .iter()
        .map(|location| {
            location["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let mut cited = vec![primary];
    cited.extend(related);
    cited.sort();
    assert_eq!(cited.len(), 2, "{cited:?}");
    assert!(cited.iter().any(|uri| uri.ends_with("FS01_Security.evtx")));
    assert!(cited
        .iter()
        .any(|uri| uri.ends_with("FS01_Security-archive.evtx")));
}

/// A fact that damage hid makes only the rules that read it not checked: with `ProductType`
/// damaged and no SOFTWARE hive, the role is unknown because of damage, so the OS-dependent
/// rule is not checked (exit 3), while a rule that never reads the OS still judges the host.
#[test]
fn a_fact_hidden_by_damage_stops_only_the_rules_that_need_it() {
    let system = r#"Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\Select]
"Current"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\ComputerName\ComputerName]
"ComputerName"="SRV9"

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\ProductOptions]
"ProductType"="ServerNT"
"ProductSuite"=hex(7):00,00

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\Lsa]
"LmCompatibilityLevel"=dword:00000005

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Services\LanmanServer\Parameters]
"DisableStrictNameChecking"=dword:00000000
"#;
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = hive_from_reg(system);
    hiveward_testkit::damage_value_data(&mut bytes, "ProductType");
    fs::write(dir.path().join("SRV9_SYSTEM.HIV"), bytes).unwrap();
    let run = hiveward(
        &[
            "scan",
            "--only",
            "HW-STRICT-002,HW-NTLM-004",
            "--format",
            "json",
        ],
        &[dir.path()],
    );
    run.assert_code(3);
    let report = run.json();
    let host = &report["hosts"][0];
    assert_eq!(
        outcome_of(host, "HW-STRICT-002")["outcome"],
        "passed",
        "{host:#}"
    );
    let stopped = outcome_of(host, "HW-NTLM-004");
    assert_eq!(stopped["outcome"], "not_checked", "{host:#}");
    let reason = stopped["reason"].as_str().unwrap();
    assert!(reason.contains("role"), "{reason}");
    assert!(reason.contains("SRV9_SYSTEM.HIV"), "{reason}");
    // --allow-partial accepts the damaged evidence.
    hiveward(
        &[
            "scan",
            "--only",
            "HW-STRICT-002,HW-NTLM-004",
            "--allow-partial",
        ],
        &[dir.path()],
    )
    .assert_code(0);
}
