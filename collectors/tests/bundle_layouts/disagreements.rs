//! A host whose hive and `.reg` export hold some values differently: each such value is named,
//! with both copies, and the host gets one warning per pair of files.

use hiveward_collectors::{SourceDisagreement, SOURCES_DISAGREE_CODE};

use super::*;

const PARAMETERS: &str = r"SYSTEM\ControlSet001\Services\LanmanServer\Parameters";

#[test]
fn values_a_hive_and_an_export_hold_differently_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let host_dir = dir.path().join("FS1");
    let system = write(
        &host_dir.join("SYSTEM"),
        &hive_from_reg(&format!(
            "{HEADER}[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\r\n\"Current\"=dword:00000001\r\n\r\n\
             [HKEY_LOCAL_MACHINE\\{PARAMETERS}]\r\n\"RequireSecuritySignature\"=dword:00000000\r\n\
             \"EnableSecuritySignature\"=dword:00000001\r\n\"Size\"=dword:00000001\r\n\r\n\
             [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\ComputerName\\ComputerName]\r\n\
             \"ComputerName\"=\"FS1\"\r\n"
        )),
    );
    let ntuser = write(&host_dir.join("NTUSER.DAT"), &ntuser_hive("hive"));
    // Taken at another time. RequireSecuritySignature differs (its name in another case);
    // EnableSecuritySignature agrees; SMB1 is set only here, and the hive, which holds its keys
    // whole, lacks it; Size is left out, as a `.reg` file may set only some values; the user's
    // key differs, but different users' keys differ by right, so HKCU is never compared.
    let export = write(
        &host_dir.join("lanman.reg"),
        format!(
            "{HEADER}[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters]\r\n\
             \"requiresecuritysignature\"=dword:00000001\r\n\"EnableSecuritySignature\"=dword:00000001\r\n\
             \"SMB1\"=dword:00000000\r\n\r\n\
             [HKEY_CURRENT_USER\\Software\\Hiveward]\r\n\"Marker\"=\"export\"\r\n"
        )
        .as_bytes(),
    );

    let collection = run(std::slice::from_ref(&host_dir));
    let host = host(&collection, "FS1");
    assert_eq!(
        file_paths(host),
        [display(&ntuser), display(&system), display(&export)]
    );
    let found: Vec<&SourceDisagreement> = host.registry.disagreements().collect();
    assert_eq!(
        found,
        [
            &SourceDisagreement {
                key: format!(r"HKLM\{PARAMETERS}"),
                value: "RequireSecuritySignature".into(),
                read_file: display(&system),
                read: "0 (REG_DWORD)".into(),
                other_file: display(&export),
                other: "1 (REG_DWORD)".into(),
            },
            // The hive's key lacks SMB1, so reads take the export's.
            &SourceDisagreement {
                key: r"HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters".into(),
                value: "SMB1".into(),
                read_file: display(&export),
                read: "0 (REG_DWORD)".into(),
                other_file: display(&system),
                other: "absent".into(),
            },
        ]
    );
    // Looked up as reads resolve the key, without regard to case.
    let read = host
        .registry
        .value(
            r"HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters",
            "requiresecuritysignature",
        )
        .unwrap()
        .unwrap();
    assert_eq!(read.file, system);
    assert_eq!(
        host.registry.value_disagreements(
            &read.resolved_path.to_uppercase(),
            "REQUIRESECURITYSIGNATURE"
        ),
        [found[0].clone()]
    );
    assert_eq!(
        host.registry
            .value_disagreements(&read.resolved_path, "EnableSecuritySignature"),
        []
    );

    let warnings: Vec<&str> = host
        .notices
        .iter()
        .filter(|notice| notice.code == SOURCES_DISAGREE_CODE)
        .map(|notice| notice.message.as_str())
        .collect();
    let (system, export) = (display(&system), display(&export));
    assert_eq!(
        warnings,
        [
            format!(
                "{system} and {export} hold 1 value(s) of the same keys differently ({system}'s first): \
                 HKLM\\{PARAMETERS}\\RequireSecuritySignature 0 (REG_DWORD) against 1 (REG_DWORD). \
                 Reads take the values of {system} (a hive answers before a .reg export, and exports \
                 answer in path order); which copy is current cannot be told, so a verdict that read \
                 one of these values is inferred"
            ),
            format!(
                "{export} and {system} hold 1 value(s) of the same keys differently ({export}'s first): \
                 HKLM\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters\\SMB1 0 (REG_DWORD) \
                 against absent. Reads take the values of {export} (a hive answers before a .reg \
                 export, and exports answer in path order); which copy is current cannot be told, so \
                 a verdict that read one of these values is inferred"
            ),
        ]
    );
    // A disagreement is no damage: every file was read whole.
    assert!(host
        .files
        .iter()
        .all(|file| file.status == FileStatus::Read));
}

#[test]
fn a_host_whose_sources_agree_has_no_disagreement() {
    let dir = tempfile::tempdir().unwrap();
    let host_dir = dir.path().join("FS2");
    write(&host_dir.join("SYSTEM"), &system_hive(Some("FS2")));
    write(
        &host_dir.join("lanman.reg"),
        format!(
            "{HEADER}[HKEY_LOCAL_MACHINE\\{PARAMETERS}]\r\n\"SmbServerNameHardeningLevel\"=dword:00000001\r\n"
        )
        .as_bytes(),
    );
    let collection = run(&[host_dir]);
    let host = host(&collection, "FS2");
    assert_eq!(host.files.len(), 2);
    assert_eq!(host.registry.disagreements().count(), 0);
    assert!(host
        .notices
        .iter()
        .all(|notice| notice.code != SOURCES_DISAGREE_CODE));
}

#[test]
fn two_exports_disagree_only_on_values_both_hold() {
    let dir = tempfile::tempdir().unwrap();
    let host_dir = dir.path().join("FS3");
    let section =
        "[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters]\r\n";
    let first = write(
        &host_dir.join("a-monday.reg"),
        format!("{HEADER}{section}\"RequireSecuritySignature\"=dword:00000001\r\n").as_bytes(),
    );
    let second = write(
        &host_dir.join("b-friday.reg"),
        format!(
            "{HEADER}{section}\"RequireSecuritySignature\"=dword:00000000\r\n\"SMB1\"=dword:00000000\r\n"
        )
        .as_bytes(),
    );
    let collection = run(&[host_dir]);
    let host = host(&collection, "FS3");
    let found: Vec<&SourceDisagreement> = host.registry.disagreements().collect();
    // The first export by path is read; SMB1, which only the second holds, is no disagreement.
    assert_eq!(
        found,
        [&SourceDisagreement {
            key: r"HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters".into(),
            value: "RequireSecuritySignature".into(),
            read_file: display(&first),
            read: "1 (REG_DWORD)".into(),
            other_file: display(&second),
            other: "0 (REG_DWORD)".into(),
        }]
    );
    let smb1 = host
        .registry
        .value(
            r"HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters",
            "SMB1",
        )
        .unwrap()
        .unwrap();
    assert_eq!(smb1.file, second);
}

#[test]
fn a_value_three_sources_hold_differently_names_each_other_copy() {
    let dir = tempfile::tempdir().unwrap();
    let host_dir = dir.path().join("FS4");
    let system = write(
        &host_dir.join("SYSTEM"),
        &hive_from_reg(&format!(
            "{HEADER}[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\r\n\"Current\"=dword:00000001\r\n\r\n\
             [HKEY_LOCAL_MACHINE\\{PARAMETERS}]\r\n\"RequireSecuritySignature\"=dword:00000000\r\n\r\n\
             [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\ComputerName\\ComputerName]\r\n\
             \"ComputerName\"=\"FS4\"\r\n"
        )),
    );
    let section =
        "[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters]\r\n";
    let monday = write(
        &host_dir.join("a-monday.reg"),
        format!("{HEADER}{section}\"RequireSecuritySignature\"=dword:00000001\r\n").as_bytes(),
    );
    let friday = write(
        &host_dir.join("b-friday.reg"),
        format!("{HEADER}{section}\"RequireSecuritySignature\"=dword:00000002\r\n").as_bytes(),
    );
    let collection = run(&[host_dir]);
    let host = host(&collection, "FS4");
    let read = host
        .registry
        .value(
            r"HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters",
            "RequireSecuritySignature",
        )
        .unwrap()
        .unwrap();
    assert_eq!(read.file, system);
    let copy = |other_file: &std::path::Path, other: &str| SourceDisagreement {
        key: format!(r"HKLM\{PARAMETERS}"),
        value: "RequireSecuritySignature".into(),
        read_file: display(&system),
        read: "0 (REG_DWORD)".into(),
        other_file: display(other_file),
        other: other.into(),
    };
    // Reads take the hive's copy; each export that holds it otherwise is named, so a verdict
    // that read it can name every other copy.
    let expected = [
        copy(&monday, "1 (REG_DWORD)"),
        copy(&friday, "2 (REG_DWORD)"),
    ];
    assert_eq!(
        host.registry
            .value_disagreements(&read.resolved_path, "RequireSecuritySignature"),
        expected
    );
    assert_eq!(
        host.registry.disagreements().cloned().collect::<Vec<_>>(),
        expected
    );
    // One warning per pair of files that differ: the hive against each export.
    let warned: Vec<&str> = host
        .notices
        .iter()
        .filter(|notice| notice.code == SOURCES_DISAGREE_CODE)
        .map(|notice| notice.message.as_str())
        .collect();
    assert_eq!(warned.len(), 2, "{warned:?}");
    assert!(warned[0].starts_with(&format!(
        "{} and {} hold 1 value(s)",
        display(&system),
        display(&monday)
    )));
    assert!(warned[1].starts_with(&format!(
        "{} and {} hold 1 value(s)",
        display(&system),
        display(&friday)
    )));
}
