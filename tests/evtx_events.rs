//! Event logs end to end: logs written with the project's EVTX writer are read, filtered,
//! normalised and merged with the host's hives, and rules see them through `host.events`.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use hiveward_evtxwriter::{
    security_4624, servicing_setup_2, smb_server_551, Event, EvtxWriter, Value,
};
use serde_json::Value as Json;

const SYSTEM: &str = r#"Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\Select]
"Current"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\ComputerName\ComputerName]
"ComputerName"="FS01"

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Services\LanmanServer\Parameters]
"SmbServerNameHardeningLevel"=dword:00000001
"#;

const PACK_TOML: &str = r#"name = "evt"
version = "0.1.0"
description = "Event rules for the tests."
min_hiveward = "0.1.0"
"#;

/// A rule that reports the 551 rejections whose SPN is a real name, with event evidence.
const RULE_551: &str = r#"//! SPN rejections seen in the SMB server's security log.
export const RULE = #{
    id: "EVT-SPN-001",
    pack: "evt",
    title: "SPN validation rejected a session",
    description: "Counts SMBServer 551 events that carry a real SPN.",
    severity: "high",
    needs: #{ events: [#{ channel: "Microsoft-Windows-SMBServer/Security", ids: [551] }] },
    fix: "Add {{names}} to SrvAllowedServerNames.",
};

fn check(host) {
    let events = host.events(#{
        channel: "microsoft-windows-smbserver/security",
        id: 551,
        provider: "Microsoft-Windows-SMBServer",
        where: #{ SPNValidationPolicy: [1, 2] },
    });
    let real = [];
    let names = [];
    for event in events {
        let spn = event.data.SPN;
        if type_of(spn) == "string" && spn.starts_with("cifs/") {
            real.push(event);
            if !names.contains(spn) { names.push(spn); }
        }
    }
    if real.is_empty() { return []; }
    [#{
        message: `${real.len()} session(s) rejected for ${names}`,
        evidence: [event_evidence(real)],
        fix_values: #{ names: names },
    }]
}
"#;

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn write_pack(root: &Path) -> PathBuf {
    let pack = root.join("pack");
    write(&pack.join("pack.toml"), PACK_TOML.as_bytes());
    write(&pack.join("EVT-SPN-001.rhai"), RULE_551.as_bytes());
    pack
}

/// A bundle whose hive and logs sit in different folders: the logs name the host by FQDN.
fn write_bundle(root: &Path) -> PathBuf {
    let bundle = root.join("bundle");
    write(
        &bundle.join("hives/FS01_SYSTEM.HIV"),
        &hiveward_testkit::hive_from_reg(SYSTEM),
    );
    let mut smb = EvtxWriter::new();
    // Written out of time order: readers must sort by time, then record id.
    smb.push(
        smb_server_551("alice", "WKS7", "cifs/files.corp.example", 0xC000_0022, 2)
            .unix_time(1_700_000_300),
    );
    smb.push(smb_server_551("bob", "WKS9", "cifs/files", 0xC000_0022, 2).unix_time(1_700_000_100));
    smb.push(
        smb_server_551(
            "carol",
            "WKS9",
            "session setup failed before the SPN could be queried",
            0xC000_006D,
            2,
        )
        .unix_time(1_700_000_200),
    );
    smb.push(smb_server_551("dave", "WKS1", "cifs/other", 0xC000_006D, 0).unix_time(1_700_000_400));
    write(
        &bundle.join("logs/Microsoft-Windows-SMBServer%4Security.evtx"),
        &smb.to_bytes(),
    );
    let mut security = EvtxWriter::new();
    security.push(security_4624("alice", 3, "NTLM", "NTLM V1").unix_time(1_700_000_000));
    security.push(
        Event::new("Security", "Microsoft-Windows-Security-Auditing", 4688)
            .computer("FS01.corp.example")
            .unix_time(1_700_000_050)
            .data("NewProcessId", Value::Hex64(0x1a2b))
            .data("TokenElevationType", Value::UInt16(1))
            .data("ProcessId", Value::UInt64(4_294_967_296))
            .data("SubjectUserSid", Value::Sid("S-1-5-21-1-2-3-500".into()))
            .data("MandatoryLabel", Value::FileTime(133_000_000_000_000_000))
            .data("NewProcessName", "C:\\Windows\\System32\\cmd.exe")
            .data(
                "LogonGuid",
                Value::Guid(
                    hiveward_evtxwriter::parse_guid("{0F3E2D1C-4B5A-6978-8796-A5B4C3D2E1F0}")
                        .unwrap(),
                ),
            ),
    );
    write(&bundle.join("logs/Security.evtx"), &security.to_bytes());
    let mut setup = EvtxWriter::new();
    setup.push(
        servicing_setup_2("KB5032381", "Installed", 0, "UpdateAgentLCU").unix_time(1_700_000_500),
    );
    write(&bundle.join("logs/Setup.evtx"), &setup.to_bytes());
    bundle
}

fn hiveward(args: &[&str]) -> (i32, Json, String) {
    let output = Command::cargo_bin("hiveward")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    let json = serde_json::from_slice(&output.stdout).unwrap_or(Json::Null);
    (output.status.code().unwrap_or(-1), json, stderr)
}

#[test]
fn logs_merge_with_the_hive_host_and_rules_see_filtered_events() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = write_bundle(dir.path());
    let pack = write_pack(dir.path());
    let (code, report, stderr) = hiveward(&[
        "scan",
        "--no-builtin",
        "--rules",
        pack.to_str().unwrap(),
        "--format",
        "json",
        bundle.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stderr}");
    let hosts = report["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 1, "hive and logs are one host: {report}");
    assert_eq!(hosts[0]["name"], "FS01");
    assert_eq!(hosts[0]["files"].as_array().unwrap().len(), 4);
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{report}");
    let finding = &findings[0];
    // Only policy 1-2 events with a cifs/ SPN count; the failed-before-SPN one and the policy-0
    // one do not. Ordered by time: bob (100) before alice (300).
    assert_eq!(
        finding["message"],
        "2 session(s) rejected for [\"cifs/files\", \"cifs/files.corp.example\"]"
    );
    let evidence = &finding["evidence"][0];
    assert_eq!(evidence["kind"], "event");
    assert_eq!(evidence["channel"], "Microsoft-Windows-SMBServer/Security");
    assert_eq!(evidence["count"], 2);
    assert_eq!(evidence["record_ids"], serde_json::json!([2, 1]));
    assert_eq!(evidence["first_time"], "2023-11-14T22:15:00.000000Z");
    assert_eq!(evidence["last_time"], "2023-11-14T22:18:20.000000Z");
    assert!(evidence["file"]
        .as_str()
        .unwrap()
        .ends_with("Microsoft-Windows-SMBServer%4Security.evtx"));
    assert!(finding["fix"]
        .as_str()
        .unwrap()
        .contains("cifs/files, cifs/files.corp.example"));
}

#[test]
fn logs_are_counted_but_not_rendered_when_no_rule_needs_events() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = write_bundle(dir.path());
    // HW-STRICT-001 reads no events.
    let (_, report, stderr) = hiveward(&[
        "scan",
        "--only",
        "HW-STRICT-001",
        "--format",
        "json",
        bundle.to_str().unwrap(),
    ]);
    let files: Vec<&Json> = report["hosts"]
        .as_array()
        .unwrap_or_else(|| panic!("{stderr}"))
        .iter()
        .flat_map(|host| host["files"].as_array().unwrap())
        .filter(|file| file["kind"] == "evtx")
        .collect();
    assert_eq!(files.len(), 3);
    // Logs are always read far enough to know the computers they name (host identity does not
    // depend on the rules), but no record is rendered for a rule that reads none.
    for file in &files {
        assert_eq!(file["status"], "read", "{file:#}");
        let events = &file["events"];
        assert!(events["records_read"].as_u64().unwrap() > 0, "{file:#}");
        assert_eq!(events["records_rendered"], 0, "{file:#}");
        assert_eq!(events["records_matched"], 0, "{file:#}");
        assert!(
            !events["computers"].as_array().unwrap().is_empty(),
            "{file:#}"
        );
    }
}

#[test]
fn inspect_events_counts_per_channel_and_id_and_normalises_fields() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = write_bundle(dir.path());
    let (code, report, stderr) = hiveward(&[
        "inspect",
        "--events",
        "--format",
        "json",
        bundle.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let host = &report["hosts"][0];
    let counts: Vec<(String, u64, u64)> = host["event_counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|count| {
            (
                count["channel"].as_str().unwrap().to_string(),
                count["id"].as_u64().unwrap(),
                count["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        counts,
        [
            ("Microsoft-Windows-SMBServer/Security".to_string(), 551, 4),
            ("Security".to_string(), 4624, 1),
            ("Security".to_string(), 4688, 1),
            ("Setup".to_string(), 2, 1),
        ]
    );
    // Counting keeps no record: every record is counted and none rendered, so memory does not
    // grow with the logs.
    for file in host["files"].as_array().unwrap() {
        let events = &file["events"];
        if events.is_null() {
            continue;
        }
        assert!(events["records_read"].as_u64() > Some(0), "{file:#}");
        assert_eq!(events["records_rendered"], 0, "{file:#}");
        assert_eq!(events["chunks_not_needed"], 0, "{file:#}");
    }
}

#[test]
fn event_fields_keep_their_types_in_rules() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = write_bundle(dir.path());
    let pack = dir.path().join("types");
    write(
        &pack.join("pack.toml"),
        PACK_TOML.replace("\"evt\"", "\"types\"").as_bytes(),
    );
    write(
        &pack.join("EVT-TYPES-001.rhai"),
        br#"export const RULE = #{
    id: "EVT-TYPES-001", pack: "types", title: "types", description: "types", severity: "info",
    needs: #{ events: [#{ channel: "Security", ids: [4688] }, #{ channel: "Setup" }] },
    fix: "none",
};
fn check(host) {
    let e = host.events(#{ channel: "Security", ids: [4688] })[0].data;
    let s = host.events(#{ channel: "Setup", where: #{ PackageIdentifier: "kb5032381" } });
    [#{ message: `${type_of(e.TokenElevationType)}=${e.TokenElevationType} ${type_of(e.ProcessId)}=${e.ProcessId} ${e.NewProcessId} ${e.SubjectUserSid} ${e.MandatoryLabel} ${e.NewProcessName} ${e.LogonGuid} setup=${s.len()}:${s[0].data.IntendedPackageState}` }]
}
"#,
    );
    let (_, report, stderr) = hiveward(&[
        "scan",
        "--no-builtin",
        "--rules",
        pack.to_str().unwrap(),
        "--format",
        "json",
        bundle.to_str().unwrap(),
    ]);
    let message = report["findings"][0]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("{report} {stderr}"))
        .to_string();
    assert_eq!(
        message,
        "i64=1 i64=4294967296 0x1a2b S-1-5-21-1-2-3-500 2022-06-18T04:26:40.0000000Z C:\\Windows\\System32\\cmd.exe {0f3e2d1c-4b5a-6978-8796-a5b4c3d2e1f0} setup=1:Installed"
    );
}

#[test]
fn real_551_events_carry_their_spn_and_a_rule_sees_them() {
    let Some(corpus) = hiveward_testkit::corpus_dir() else {
        return;
    };
    let log = corpus.join(
        "evtx/museum/Win10/BelkasoftCTF_InsiderThreat/Microsoft-Windows-SMBServer%4Security.evtx",
    );
    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("spn");
    write(
        &pack.join("pack.toml"),
        PACK_TOML.replace("\"evt\"", "\"spn\"").as_bytes(),
    );
    write(
        &pack.join("EVT-SPN-002.rhai"),
        br#"export const RULE = #{
    id: "EVT-SPN-002", pack: "spn", title: "551 with SPN", description: "d", severity: "info",
    needs: #{ events: [#{ channel: "Microsoft-Windows-SMBServer/Security", ids: [551] }] },
    fix: "none",
};
fn check(host) {
    let events = host.events(#{ channel: "Microsoft-Windows-SMBServer/Security", id: 551 });
    let spns = [];
    for e in events { if type_of(e.data.SPN) == "string" && e.data.SPN != "" { spns.push(e.data.SPN); } }
    [#{ message: `${events.len()} 551 events, ${spns.len()} with an SPN`, evidence: [event_evidence(events)] }]
}
"#,
    );
    let (code, report, stderr) = hiveward(&[
        "scan",
        "--no-builtin",
        "--rules",
        pack.to_str().unwrap(),
        "--format",
        "json",
        log.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let finding = &report["findings"][0];
    assert_eq!(
        finding["message"], "5 551 events, 5 with an SPN",
        "{report}"
    );
    assert_eq!(finding["evidence"][0]["count"], 5);
}

/// A Security log of thousands of 4624 records reaches a rule whole: events are handles, so the
/// sandbox's map-size limit (which counts every entry of every map an array holds) applies to
/// what the rule builds, not to the evidence it reads. Events can be kept, sorted and cited.
#[test]
fn thousands_of_events_fit_in_the_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let mut security = EvtxWriter::new();
    let total = 3000;
    for index in 0..total {
        let lm = if index % 3 == 0 { "NTLM V1" } else { "NTLM V2" };
        security.push(
            security_4624(&format!("user{index}"), 3, "NTLM", lm).unix_time(1_700_000_000 + index),
        );
    }
    write(
        &dir.path().join("bundle/Security.evtx"),
        &security.to_bytes(),
    );
    let pack = dir.path().join("many");
    write(
        &pack.join("pack.toml"),
        PACK_TOML.replace("\"evt\"", "\"many\"").as_bytes(),
    );
    write(
        &pack.join("EVT-MANY-001.rhai"),
        br#"export const RULE = #{
    id: "EVT-MANY-001", pack: "many", title: "many", description: "many", severity: "info",
    needs: #{ events: [#{ channel: "Security", ids: [4624] }] },
    fix: "none",
};
fn check(host) {
    let all = host.events(#{ channel: "Security", id: 4624 });
    let v1 = [];
    for event in all {
        if event.data.LmPackageName == "NTLM V1" { v1.push(event); }
    }
    let filtered = host.events(#{ channel: "Security", id: 4624, where: #{ LmPackageName: " ntlm v1 " } });
    v1.sort(|a, b| b.record_id - a.record_id);
    [#{
        message: `${all.len()} ${v1.len()} ${filtered.len()} ${v1[0].record_id} ${type_of(v1[0])} ${v1[0].id} [${v1[0].text("lmpackagename")}] [${v1[0].text("LogonType")}] [${v1[0].text("Missing")}]`,
        evidence: [event_evidence(v1)],
    }]
}
"#,
    );
    let (code, report, stderr) = hiveward(&[
        "scan",
        "--no-builtin",
        "--rules",
        pack.to_str().unwrap(),
        "--format",
        "json",
        "--fail-on",
        "never",
        dir.path().join("bundle").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{report} {stderr}");
    assert_eq!(report["summary"]["rule_errors"], 0, "{report}");
    assert_eq!(
        report["findings"][0]["message"],
        "3000 1000 1000 2998 Event 4624 [NTLM V1] [3] []"
    );
    assert_eq!(report["findings"][0]["evidence"][0]["count"], 1000);
}
