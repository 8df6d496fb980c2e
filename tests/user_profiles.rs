//! A host collected with every user's profile hive, or with an export of HKEY_USERS: the rules
//! that judge where a computer's users connect (HKCU MountPoints2) see the mounts of every user,
//! not only of the first.

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

const HEADER: &str = "Windows Registry Editor Version 5.00\r\n\r\n";

/// A SYSTEM hive of `computer`, with the `.reg` sections `extra`.
fn system_hive(computer: &str, extra: &str) -> Vec<u8> {
    hiveward_testkit::hive_from_reg(&format!(
        "{HEADER}[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\r\n\"Current\"=dword:00000001\r\n\r\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\ComputerName\\ComputerName]\r\n\
         \"ComputerName\"=\"{computer}\"\r\n\r\n{extra}"
    ))
}

/// A user profile hive whose MountPoints2 lists `shares`.
fn ntuser_hive(user: &str, shares: &[&str]) -> Vec<u8> {
    let mut text = format!(
        "{HEADER}[HKEY_CURRENT_USER\\Control Panel\\Desktop]\r\n\"Wallpaper\"=\"\"\r\n\r\n\
         [HKEY_CURRENT_USER\\Software\\Hiveward]\r\n\"User\"=\"{user}\"\r\n"
    );
    for share in shares {
        text.push_str(&format!(
            "\r\n[HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\MountPoints2\\{share}]\r\n\"_LabelFromReg\"=\"{user}\"\r\n"
        ));
    }
    hiveward_testkit::hive_from_reg(&text)
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// A triage collection of WS01 (two users; only the second mounted a share by IP address) and
/// a folder for FS01.
fn write_bundle(bundle: &Path) {
    let ws01 = bundle.join("WS01/C");
    write(
        &ws01.join("Windows/System32/config/SYSTEM"),
        &system_hive(
            "WS01",
            "[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\Lsa\\MSV1_0]\r\n\
             \"RestrictSendingNTLMTraffic\"=dword:00000002\r\n",
        ),
    );
    write(
        &ws01.join("Users/alice/NTUSER.DAT"),
        &ntuser_hive("alice", &["##FS01#data"]),
    );
    write(
        &ws01.join("Users/bob/NTUSER.DAT"),
        &ntuser_hive("bob", &["##10.0.0.5#data"]),
    );
    write(
        &bundle.join("FS01/SYSTEM"),
        &system_hive(
            "FS01",
            "[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\Tcpip\\Parameters\\Interfaces\\{11111111-2222-3333-4444-555555555555}]\r\n\
             \"IPAddress\"=hex(7):31,00,30,00,2e,00,30,00,2e,00,30,00,2e,00,35,00,00,00,00,00\r\n\r\n\
             [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\Lsa\\MSV1_0]\r\n\
             \"RestrictSendingNTLMTraffic\"=dword:00000000\r\n\
             \"RestrictReceivingNTLMTraffic\"=dword:00000000\r\n",
        ),
    );
    // FS01 is a domain member (its last computer Group Policy refresh names it in the domain),
    // so it is reached by its own name with Kerberos.
    write(
        &bundle.join("FS01/SOFTWARE"),
        &hiveward_testkit::hive_from_reg(&format!(
            "{HEADER}[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion]\r\n\
             \"ProductName\"=\"Windows Server 2019 Standard\"\r\n\
             \"CurrentBuildNumber\"=\"17763\"\r\n\r\n\
             [HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Group Policy\\State\\Machine]\r\n\
             \"Distinguished-Name\"=\"CN=FS01,OU=Servers,DC=corp,DC=example\"\r\n"
        )),
    );
}

/// `hiveward scan bundle --only HW-NTLM-005` in `dir` (with `extra` arguments): the exit code,
/// standard error and the JSON report.
fn scan_ntlm005(dir: &Path, extra: &[&str]) -> (Option<i32>, String, Value) {
    let output = Command::cargo_bin("hiveward")
        .unwrap()
        .current_dir(dir)
        .args([
            "scan",
            "bundle",
            "--only",
            "HW-NTLM-005",
            "--format",
            "json",
        ])
        .args(["--fail-on", "never", "--no-config"])
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let report = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output.status.code(), stderr, report)
}

#[test]
fn a_share_only_the_second_user_mounted_is_judged() {
    let dir = tempfile::tempdir().unwrap();
    write_bundle(&dir.path().join("bundle"));
    // FS01 lacks what the rule needs to judge its own NTLM settings.
    let (code, stderr, report) = scan_ntlm005(dir.path(), &["--allow-partial"]);
    assert_eq!(code, Some(0), "{stderr}");
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let finding = &findings[0];
    assert_eq!(finding["host"], "WS01");
    let message = finding["message"].as_str().unwrap();
    assert!(
        message.contains("\\\\10.0.0.5 (an IP address of FS01"),
        "{message}"
    );
    // The evidence cites the mount in the second user's hive.
    let evidence = finding["evidence"].to_string();
    assert!(
        evidence.contains("Users/bob/NTUSER.DAT") && evidence.contains("##10.0.0.5#data"),
        "{evidence}"
    );
    // FS01 is reached by its own name from alice's profile, with Kerberos: not a finding.
    assert!(!message.contains("\\\\FS01"), "{message}");
}

#[test]
fn default_and_service_profiles_do_not_stand_for_the_users() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    // A collection of the config folder only: the default and LocalSystem profiles, no user's.
    let config = bundle.join("WS02/C/Windows/System32/config");
    write(
        &config.join("SYSTEM"),
        &system_hive(
            "WS02",
            "[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\Lsa\\MSV1_0]\r\n\
             \"RestrictSendingNTLMTraffic\"=dword:00000002\r\n",
        ),
    );
    write(&config.join("DEFAULT"), &ntuser_hive(".DEFAULT", &[]));
    write(
        &config.join("systemprofile/NTUSER.DAT"),
        &ntuser_hive("SYSTEM", &["##10.0.0.9#backup"]),
    );
    let (code, stderr, report) = scan_ntlm005(dir.path(), &[]);
    // Nothing could be checked: the run says so and exits 3.
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains("it has default or service-account profile hive, SYSTEM hive"),
        "{stderr}"
    );
    let host = &report["hosts"][0];
    assert_eq!(host["name"], "WS02");
    let kinds: Vec<&str> = host["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| file["hive_kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["ACCOUNT_PROFILE", "SYSTEM", "ACCOUNT_PROFILE"]);
    // Whether outgoing NTLM breaks a user's access is unknown without a user's profile: not
    // a pass, and the service account's mount is not taken for a user's.
    let outcome = &host["outcomes"][0];
    assert_eq!(outcome["outcome"], "not_applicable", "{outcome:#}");
    let reason = outcome["reason"].as_str().unwrap();
    assert!(reason.contains("the HKCU hive is absent"), "{reason}");
    assert!(report["findings"].as_array().unwrap().is_empty());
}

#[test]
fn an_hkey_users_export_gives_every_users_mounts() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    write_bundle(&bundle);
    // WS03: its SYSTEM hive and `reg export HKU users.reg`, whose second user mounted FS01 by
    // address; the LocalSystem key's mount is no user's. `reg export` writes every key as a
    // section; the users' own keys are enough to say the export holds all below them.
    write(
        &bundle.join("WS03/SYSTEM"),
        &system_hive(
            "WS03",
            "[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\Lsa\\MSV1_0]\r\n\
             \"RestrictSendingNTLMTraffic\"=dword:00000002\r\n",
        ),
    );
    let mp2 = r"Software\Microsoft\Windows\CurrentVersion\Explorer\MountPoints2";
    write(
        &bundle.join("WS03/users.reg"),
        format!(
            "{HEADER}[HKEY_USERS\\S-1-5-18]\r\n\r\n\
             [HKEY_USERS\\S-1-5-18\\{mp2}\\##10.0.0.99#svc]\r\n\r\n\
             [HKEY_USERS\\S-1-5-21-1-2-3-1001]\r\n\r\n\
             [HKEY_USERS\\S-1-5-21-1-2-3-1001\\{mp2}\\##FS01#data]\r\n\r\n\
             [HKEY_USERS\\S-1-5-21-1-2-3-1002]\r\n\r\n\
             [HKEY_USERS\\S-1-5-21-1-2-3-1002\\{mp2}\\##10.0.0.5#data]\r\n"
        )
        .as_bytes(),
    );
    let (code, stderr, report) = scan_ntlm005(dir.path(), &["--allow-partial"]);
    assert_eq!(code, Some(0), "{stderr}");
    let on_ws03: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|finding| finding["host"] == "WS03")
        .collect();
    assert_eq!(on_ws03.len(), 1, "{on_ws03:#?}");
    let message = on_ws03[0]["message"].as_str().unwrap();
    assert!(
        message.contains("\\\\10.0.0.5 (an IP address of FS01"),
        "{message}"
    );
    assert!(!message.contains("10.0.0.99"), "{message}");
    let evidence = on_ws03[0]["evidence"].to_string();
    assert!(evidence.contains(r"S-1-5-21-1-2-3-1002"), "{evidence}");
}
