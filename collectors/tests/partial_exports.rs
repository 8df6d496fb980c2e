//! A `.reg` export holds the keys it writes and what is below them, and nothing else: a read
//! outside them is unknown (an error naming the file and what it holds), not absent, unless a
//! hive of the host holds the key or the export holds nothing of that hive at all.

use std::path::Path;

use hiveward_collectors::{EvidenceError, HiveFile, HostRegistry, RegExport, RegistrySource};
use hiveward_testkit::hive_from_reg;

const HEADER: &str = "Windows Registry Editor Version 5.00\r\n\r\n";
const LANMAN: &str = r"HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters";

/// A host whose only evidence is `reg export` of LanmanServer\Parameters.
fn lanman_export() -> HostRegistry {
    let text = format!(
        "{HEADER}[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters]\r\n\
         \"RequireSecuritySignature\"=dword:00000001\r\n\r\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters\\Sub]\r\n"
    );
    let export = RegExport::parse(Path::new("PC1_lanman.reg"), text.as_bytes()).expect("parses");
    let mut registry = HostRegistry::new();
    registry.add(RegistrySource::Export(export));
    registry
}

fn not_exported(result: Result<impl std::fmt::Debug, EvidenceError>, key: &str) {
    match result {
        Err(EvidenceError::NotExported {
            path,
            key: read,
            holds,
        }) => {
            assert_eq!(path, Path::new("PC1_lanman.reg"));
            assert_eq!(read, key);
            assert_eq!(holds, LANMAN);
        }
        other => panic!("{key}: expected a not-exported error, got {other:?}"),
    }
}

#[test]
fn inside_the_exported_key_reads_are_known_absent_ones_included() {
    let registry = lanman_export();
    let found = registry
        .value(LANMAN, "RequireSecuritySignature")
        .expect("reads")
        .expect("present");
    assert_eq!(found.data.as_integer(), Some(1));
    assert!(registry
        .value(LANMAN, "EnableSecuritySignature")
        .expect("reads")
        .is_none());
    assert!(!registry
        .key_exists(&format!(r"{LANMAN}\Absent"))
        .expect("reads"));
    assert_eq!(
        registry
            .subkeys(LANMAN)
            .expect("reads")
            .expect("present")
            .data,
        ["Sub"]
    );
}

#[test]
fn beside_or_above_the_exported_key_reads_are_unknown() {
    let registry = lanman_export();
    // Another key of the same hive: unknown whether it exists.
    let srv = r"HKLM\SYSTEM\CurrentControlSet\Services\srv";
    not_exported(registry.key_exists(srv), srv);
    not_exported(registry.value(srv, "Start"), srv);
    // A key above the exported one exists, but its values and subkeys are unknown.
    let services = r"HKLM\SYSTEM\CurrentControlSet\Services";
    assert!(registry.key_exists(services).expect("existence is known"));
    not_exported(registry.subkeys(services), services);
    not_exported(registry.values(services), services);
    not_exported(registry.value(services, "Anything"), services);
}

#[test]
fn a_hive_the_export_holds_nothing_of_is_absent_as_without_the_export() {
    let registry = lanman_export();
    let policies = r"HKLM\SOFTWARE\Policies\Microsoft\Windows\LanmanWorkstation";
    assert!(!registry
        .key_exists(policies)
        .expect("no SOFTWARE evidence at all"));
    assert!(registry
        .value(policies, "RequireSecuritySignature")
        .expect("reads")
        .is_none());
    assert!(!registry.key_exists(r"HKLM\SOFTWARE").expect("reads"));
}

#[test]
fn a_hive_answers_what_the_export_does_not_hold() {
    let mut registry = lanman_export();
    let hive = hive_from_reg(&format!(
        "{HEADER}[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\Tcpip\\Parameters]\r\n\
         \"Hostname\"=\"pc1\"\r\n\r\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\r\n\"Current\"=dword:00000001\r\n"
    ));
    let hive = HiveFile::from_bytes(Path::new("PC1_SYSTEM.HIV"), hive, &[]).expect("opens");
    registry.add(RegistrySource::Hive(hive));
    let srv = r"HKLM\SYSTEM\CurrentControlSet\Services\srv";
    assert!(!registry.key_exists(srv).expect("the hive holds every key"));
    let tcpip = r"HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters";
    let found = registry
        .value(tcpip, "Hostname")
        .expect("reads")
        .expect("present");
    assert_eq!(found.data.as_str(), Some("pc1"));
}

#[test]
fn a_whole_hive_export_and_deleted_keys_are_known() {
    let text = format!(
        "{HEADER}[HKEY_LOCAL_MACHINE\\SOFTWARE]\r\n\r\n\
         [HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies]\r\n\r\n\
         [-HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\mrxsmb10]\r\n"
    );
    let export = RegExport::parse(Path::new("PC2.reg"), text.as_bytes()).expect("parses");
    assert_eq!(export.top_keys(), [r"HKLM\SOFTWARE"]);
    let mut registry = HostRegistry::new();
    registry.add(RegistrySource::Export(export));
    let policies = r"HKLM\SOFTWARE\Policies\Microsoft\Windows\LanmanWorkstation";
    assert!(!registry
        .key_exists(policies)
        .expect("the whole hive is exported"));
    assert!(registry
        .value(policies, "RequireSecuritySignature")
        .expect("reads")
        .is_none());
    let mrxsmb10 = r"HKLM\SYSTEM\CurrentControlSet\Services\mrxsmb10";
    assert!(!registry.key_exists(mrxsmb10).expect("deleted by the file"));
    assert!(!registry
        .key_exists(&format!(r"{mrxsmb10}\Parameters"))
        .expect("below a deleted key"));
}
