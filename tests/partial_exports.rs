//! A host collected as a `.reg` file that holds only some keys is not judged clean on the keys
//! it does not hold: the rules that read them are not checked, naming the file and what it
//! holds, in every format, and the scan says its results are incomplete. A whole-hive export
//! reads like the hive. And no stored string goes unshown: `inspect --key` lists what a
//! `REG_MULTI_SZ` holds past the empty string that ends it.

mod support;

use std::fs;
use std::path::Path;

use serde_json::Value;
use support::hiveward;

const HEADER: &str = "Windows Registry Editor Version 5.00\r\n\r\n";
const THEME: &str = r"Software\Microsoft\Windows\CurrentVersion\Themes\Personalize";

/// PC7: a settings file of the kind shared online, which sets the dark theme and nothing else.
fn write_theme_only(bundle: &Path) -> std::path::PathBuf {
    let host = bundle.join("PC7");
    fs::create_dir_all(&host).unwrap();
    let file = host.join("dark-theme.reg");
    fs::write(
        &file,
        format!(
            "{HEADER}[HKEY_CURRENT_USER\\{THEME}]\r\n\"AppsUseLightTheme\"=dword:00000000\r\n\r\n\
             [HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Themes\\Personalize]\r\n\
             \"AppsUseLightTheme\"=dword:00000000\r\n"
        ),
    )
    .unwrap();
    file
}

fn outcomes<'r>(report: &'r Value, host: &str) -> Vec<&'r Value> {
    report["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["name"] == host)
        .unwrap_or_else(|| panic!("no host {host}: {report:#}"))["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .collect()
}

#[test]
fn a_reg_file_of_unrelated_keys_checks_nothing_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_theme_only(dir.path());
    let shown = file.display().to_string();

    let run = hiveward(dir.path(), &["scan", "PC7", "--format", "json"]);
    run.assert_code(3);
    let report = run.json();
    let outcomes = outcomes(&report, "PC7");
    let passed: Vec<&str> = outcomes
        .iter()
        .filter(|entry| entry["outcome"] == "passed")
        .map(|entry| entry["rule"].as_str().unwrap())
        .collect();
    assert!(
        passed.is_empty(),
        "nothing can pass on keys the file does not hold: {passed:?}"
    );
    let unknown: Vec<&str> = outcomes
        .iter()
        .filter(|entry| entry["outcome"] == "not_checked")
        .map(|entry| entry["reason"].as_str().unwrap())
        .collect();
    assert!(!unknown.is_empty(), "{report:#}");
    for reason in &unknown {
        assert!(
            reason.contains("dark-theme.reg")
                && reason.contains("is not in this .reg export, which holds")
                && reason.contains(&format!(r"HKCU\{THEME}")),
            "{reason}"
        );
    }
    // The encryption policy a rule used to take as absent, and MountPoints2.
    assert!(
        unknown
            .iter()
            .any(|reason| reason.contains(r"Policies\Microsoft\Windows\LanmanWorkstation")),
        "{unknown:#?}"
    );
    assert!(
        unknown.iter().any(|reason| reason.contains("MountPoints2")),
        "{unknown:#?}"
    );
    assert_eq!(
        report["summary"]["unchecked"].as_u64(),
        Some(unknown.len() as u64)
    );

    // The text report and SARIF say the same.
    let text = hiveward(dir.path(), &["scan", "PC7"]);
    text.assert_code(3);
    assert!(
        text.stdout_str()
            .contains("not made because evidence is damaged or incomplete"),
        "{}",
        text.stdout_str()
    );
    assert!(text.stdout_str().contains("is not in this .reg export"));
    assert!(
        text.stderr
            .contains("no rule could check anything on this host")
            && text.stderr.contains("it has 1 .reg export(s)"),
        "{}",
        text.stderr
    );
    let sarif = hiveward(dir.path(), &["scan", "PC7", "--format", "sarif"]);
    sarif.assert_code(3);
    let sarif = sarif.json();
    assert_eq!(
        sarif["runs"][0]["invocations"][0]["executionSuccessful"],
        false
    );
    assert!(
        sarif.to_string().contains("is not in this .reg export"),
        "SARIF names the unknown checks"
    );
    assert!(shown.ends_with("dark-theme.reg"));
}

#[test]
fn a_whole_hive_export_reads_absent_keys_as_absent() {
    let dir = tempfile::tempdir().unwrap();
    let host = dir.path().join("SRV3");
    fs::create_dir_all(&host).unwrap();
    // `reg export HKLM\SYSTEM`: the hive's root key first, then every key below it.
    fs::write(
        host.join("system.reg"),
        format!(
            "{HEADER}[HKEY_LOCAL_MACHINE\\SYSTEM]\r\n\r\n\
             [HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\r\n\"Current\"=dword:00000001\r\n\r\n\
             [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\ComputerName\\ComputerName]\r\n\
             \"ComputerName\"=\"SRV3\"\r\n\r\n\
             [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\LanmanServer\\Parameters]\r\n\
             \"RequireSecuritySignature\"=dword:00000000\r\n\r\n\
             [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\LanmanWorkstation\\Parameters]\r\n\
             \"RequireSecuritySignature\"=dword:00000000\r\n"
        ),
    )
    .unwrap();
    let run = hiveward(
        dir.path(),
        &["scan", "SRV3", "--format", "json", "--fail-on", "never"],
    );
    let report = run.json();
    let unknown: Vec<&Value> = outcomes(&report, "SRV3")
        .into_iter()
        .filter(|entry| {
            entry["reason"]
                .as_str()
                .is_some_and(|reason| reason.contains("is not in this .reg export"))
        })
        .collect();
    assert!(unknown.is_empty(), "{unknown:#?}");
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|finding| finding["host"] == "SRV3"),
        "the export's settings are judged: {report:#}"
    );
    run.assert_code(0);
}

#[test]
fn inspect_shows_the_strings_a_multi_string_holds_past_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let host = dir.path().join("SRV4");
    fs::create_dir_all(&host).unwrap();
    // NullSessionPipes = COMNAP, "", SPOOLSS: Windows reads COMNAP only.
    fs::write(
        host.join("lanman.reg"),
        format!(
            "{HEADER}[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters]\r\n\
             \"NullSessionPipes\"=hex(7):43,00,4f,00,4d,00,4e,00,41,00,50,00,00,00,00,00,53,00,50,00,4f,00,4f,00,4c,00,53,00,53,00,00,00,00,00\r\n"
        ),
    )
    .unwrap();
    let key = r"HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters";
    let text = hiveward(dir.path(), &["inspect", "SRV4", "--key", key]);
    text.assert_code(0);
    let lines: Vec<&str> = text.stdout_str().lines().collect();
    let at = lines
        .iter()
        .position(|line| line.trim_start().starts_with("NullSessionPipes"))
        .unwrap_or_else(|| panic!("{}", text.stdout_str()));
    assert!(
        lines[at].trim_end().ends_with("REG_MULTI_SZ   COMNAP"),
        "{}",
        lines[at]
    );
    assert!(
        lines[at + 1].trim_start().starts_with(
            "stored after the empty string that ends the list, which Windows does not read: \"SPOOLSS\""
        ),
        "{}",
        lines[at + 1]
    );
    let json = hiveward(
        dir.path(),
        &["inspect", "SRV4", "--key", key, "--format", "json"],
    );
    let value = &json.json()["hosts"][0]["key"]["values"][0];
    assert_eq!(value["data"], serde_json::json!(["COMNAP"]));
    assert_eq!(value["past_end"], serde_json::json!(["SPOOLSS"]));
}
