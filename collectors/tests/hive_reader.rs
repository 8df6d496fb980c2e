//! The hive reader and host registry on hives built in the test from `.reg` text.

use std::path::Path;

use hiveward_collectors::{
    HiveFile, HiveKind, HiveState, HostRegistry, RegData, RegType, RegistrySource,
};
use hiveward_testkit::hive_from_reg;

const SYSTEM: &str = r#"Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\Select]
"Current"=dword:00000002
"Default"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Services\LanmanServer\Parameters]
"SmbServerNameHardeningLevel"=dword:00000000

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet002\Services\LanmanServer\Parameters]
"SMBServerNameHardeningLevel"=dword:00000002
"SrvAllowedServerNames"=hex(7):66,00,69,00,6c,00,65,00,73,00,00,00,00,00
"Dword"=dword:0000002a
"Qword"=hex(b):00,00,00,00,01,00,00,00
"Sz"="text"
"ExpandSz"=hex(2):25,00,53,00,59,00,53,00,25,00,00,00
"Binary"=hex:01,02,03
"None"=hex(0):
"Odd"=hex(1234):aa,bb
"ShortDword"=hex(4):01,00

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet002\Control\ComputerName\ComputerName]
"ComputerName"="FS01"
"#;

fn open(name: &str, text: &str) -> HiveFile {
    HiveFile::from_bytes(Path::new(name), hive_from_reg(text), &[]).expect("fixture hive opens")
}

fn registry(hives: Vec<HiveFile>) -> HostRegistry {
    let mut registry = HostRegistry::new();
    for hive in hives {
        registry.add(RegistrySource::Hive(hive));
    }
    registry
}

#[test]
fn every_value_type_decodes() {
    let hive = open("FS01_SYSTEM.HIV", SYSTEM);
    assert_eq!(hive.kind(), HiveKind::System);
    assert_eq!(hive.state(), &HiveState::Clean);
    let key = ["ControlSet002", "Services", "LanmanServer", "Parameters"];
    let value = |name: &str| hive.value(&key, name).unwrap().unwrap();
    assert_eq!(value("Dword").value_type, RegType::Dword);
    assert_eq!(value("Dword").data, RegData::Integer(42));
    assert_eq!(value("Qword").value_type, RegType::Qword);
    assert_eq!(value("Qword").data, RegData::Integer(1 << 32));
    assert_eq!(value("Sz").data, RegData::String("text".into()));
    assert_eq!(value("ExpandSz").value_type, RegType::ExpandSz);
    assert_eq!(value("ExpandSz").data, RegData::String("%SYS%".into()));
    assert_eq!(
        value("SrvAllowedServerNames").data,
        RegData::MultiString(vec!["files".into()])
    );
    assert_eq!(value("Binary").data, RegData::Bytes(vec![1, 2, 3]));
    assert_eq!(value("None").value_type, RegType::None);
    assert_eq!(value("None").data, RegData::Empty);
    assert_eq!(value("Odd").value_type, RegType::Unknown(0x1234));
    assert_eq!(value("Odd").data, RegData::Bytes(vec![0xaa, 0xbb]));
    assert_eq!(value("ShortDword").value_type, RegType::Dword);
    assert_eq!(value("ShortDword").data, RegData::Bytes(vec![1, 0]));
    assert_eq!(hive.values(&key).unwrap().unwrap().len(), 10);
}

#[test]
fn current_control_set_follows_select_current_and_names_match_without_case() {
    let registry = registry(vec![open("FS01_SYSTEM.HIV", SYSTEM)]);
    let choice = registry.control_set().unwrap();
    assert_eq!(choice.name, "ControlSet002");
    assert_eq!(choice.chosen_by, r"Select\Current");
    let found = registry
        .value(
            r"hklm\system\currentcontrolset\SERVICES\lanmanserver\parameters",
            "smbservernamehardeninglevel",
        )
        .unwrap()
        .unwrap();
    assert_eq!(found.data.as_integer(), Some(2));
    assert_eq!(
        found.resolved_path,
        r"HKLM\SYSTEM\ControlSet002\SERVICES\lanmanserver\parameters"
    );
    assert_eq!(found.data.name, "SMBServerNameHardeningLevel");
    assert!(registry
        .value(r"HKLM\SYSTEM\CurrentControlSet\Services\Nope", "X")
        .unwrap()
        .is_none());
    assert!(registry
        .key_exists(r"HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001")
        .unwrap());
}

#[test]
fn control_set_falls_back_to_default_then_first_present() {
    let no_current = SYSTEM.replace("\"Current\"=dword:00000002\n", "");
    let registry_default = registry(vec![open("S.HIV", &no_current)]);
    let choice = registry_default.control_set().unwrap();
    assert_eq!(
        (choice.name.as_str(), choice.chosen_by.as_str()),
        ("ControlSet001", r"Select\Default")
    );
    let dangling = SYSTEM
        .replace("\"Current\"=dword:00000002", "\"Current\"=dword:00000009")
        .replace("\"Default\"=dword:00000001", "\"Default\"=dword:00000008");
    let registry_first = registry(vec![open("S.HIV", &dangling)]);
    let choice = registry_first.control_set().unwrap();
    assert_eq!(
        (choice.name.as_str(), choice.chosen_by.as_str()),
        ("ControlSet001", "first present")
    );
}

#[test]
fn differing_control_sets_are_reported() {
    let registry = registry(vec![open("FS01_SYSTEM.HIV", SYSTEM)]);
    let notices = registry.control_set_differences(&[r"Services\LanmanServer\Parameters"]);
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(notices[0].message.contains("ControlSet001"));
    assert!(notices[0]
        .message
        .to_lowercase()
        .contains("smbservernamehardeninglevel: reg_dword 0x2 (2) here, reg_dword 0x0 (0) there"));
    assert!(registry
        .control_set_differences(&[r"Services\Absent"])
        .is_empty());
}

#[test]
fn hkcu_paths_map_to_hkcu_software_saves_and_ntuser_hives() {
    let software_save = open(
        "PC1_HKCU.HIV",
        "REGEDIT4\n\n[HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\MountPoints2\\##fs-alias#share]\n\"BaseClass\"=\"Drive\"\n",
    );
    assert_eq!(software_save.kind(), HiveKind::HkcuSoftware);
    let ntuser = open(
        "NTUSER.DAT",
        "REGEDIT4\n\n[HKEY_CURRENT_USER\\Control Panel\\Desktop]\n\"Wallpaper\"=\"\"\n\n[HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\MountPoints2\\##fs01#data]\n\"BaseClass\"=\"Drive\"\n",
    );
    assert_eq!(ntuser.kind(), HiveKind::Ntuser);
    let path = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Explorer\MountPoints2";
    let from_save = registry(vec![software_save])
        .subkeys(path)
        .unwrap()
        .unwrap();
    assert_eq!(from_save.data, vec!["##fs-alias#share".to_string()]);
    let from_ntuser = registry(vec![ntuser]).subkeys(path).unwrap().unwrap();
    assert_eq!(from_ntuser.data, vec!["##fs01#data".to_string()]);
    assert_eq!(
        from_ntuser.resolved_path,
        r"HKCU\Software\Microsoft\Windows\CurrentVersion\Explorer\MountPoints2"
    );
}

#[test]
fn hive_types_come_from_the_root_layout() {
    let software = open(
        "X.HIV",
        "REGEDIT4\n\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion]\n\"CurrentBuildNumber\"=\"17763\"\n",
    );
    assert_eq!(software.kind(), HiveKind::Software);
    let sam = open(
        "Y.HIV",
        "REGEDIT4\n\n[HKEY_LOCAL_MACHINE\\SAM\\SAM\\Domains\\Account]\n",
    );
    assert_eq!(sam.kind(), HiveKind::Sam);
    let security = open(
        "Z.HIV",
        "REGEDIT4\n\n[HKEY_LOCAL_MACHINE\\SECURITY\\Policy\\PolAdtEv]\n[HKEY_LOCAL_MACHINE\\SECURITY\\RXACT]\n",
    );
    assert_eq!(security.kind(), HiveKind::Security);
    let other = open("W.HIV", "REGEDIT4\n\n[HKEY_LOCAL_MACHINE\\Foo\\Bar]\n");
    assert_eq!(other.kind(), HiveKind::Other);
}

#[test]
fn exports_and_hives_answer_the_same_paths() {
    let export = hiveward_collectors::RegExport::parse(
        Path::new("FS01_lanman.reg"),
        SYSTEM
            .replace("ControlSet002", "CurrentControlSet")
            .as_bytes(),
    )
    .unwrap();
    let mut registry = HostRegistry::new();
    registry.add(RegistrySource::Export(export));
    let found = registry
        .value(
            r"HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters",
            "SmbServerNameHardeningLevel",
        )
        .unwrap()
        .unwrap();
    assert_eq!(found.data.as_integer(), Some(2));
    assert_eq!(found.file, Path::new("FS01_lanman.reg"));
}
