//! A differencing hive (a layer of a Windows container image or application silo) holds only
//! what its layer changed over the hive below it. What it holds reads as usual; what it does not
//! hold is unknown, never absent, except where a tombstone or a superseding key node says the
//! layers below do not count. An ordinary hive with the same keys reads "absent" as before.

use std::path::Path;

use hiveward_collectors::{EvidenceError, HiveFile, HiveKind, RegData, DIFFERENCING_HIVE_CODE};
use hiveward_testkit::{
    dirty_primary, fix_base_block_checksum, hive_from_reg, mark_differencing, set_key_layer,
    set_value_tombstone, KeyLayer,
};

const HEADER: &str = "Windows Registry Editor Version 5.00\r\n\r\n";

/// A SYSTEM hive with keys of each layer kind once the test marks them.
fn fixture() -> Vec<u8> {
    hive_from_reg(&format!(
        "{HEADER}[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\r\n\"Current\"=dword:00000001\r\n\r\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\LanmanServer\\Parameters]\r\n\
         \"SmbServerNameHardeningLevel\"=dword:00000002\r\n\"Gone\"=dword:00000001\r\n\r\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\LocalOnly]\r\n\"Start\"=dword:00000004\r\n\r\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\WholeTree\\Kept]\r\n\"Here\"=dword:00000001\r\n\r\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\WholeTree\\Deleted]\r\n\r\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\Removed]\r\n\r\n"
    ))
}

fn layered() -> Vec<u8> {
    let mut bytes = fixture();
    set_key_layer(&mut bytes, "LocalOnly", KeyLayer::SupersedeLocal);
    set_key_layer(&mut bytes, "WholeTree", KeyLayer::SupersedeTree);
    set_key_layer(&mut bytes, "Kept", KeyLayer::SupersedeTree);
    set_key_layer(&mut bytes, "Deleted", KeyLayer::Tombstone);
    set_key_layer(&mut bytes, "Removed", KeyLayer::Tombstone);
    set_value_tombstone(&mut bytes, "Gone");
    mark_differencing(&mut bytes);
    bytes
}

fn open(bytes: Vec<u8>) -> HiveFile {
    HiveFile::from_bytes(Path::new("SYSTEM_Delta"), bytes, &[]).expect("the fixture opens")
}

/// The hive was opened as an ordinary hive: no notice calls it a differencing hive.
#[track_caller]
fn assert_not_layered(hive: &HiveFile) {
    assert!(hive
        .notices()
        .iter()
        .all(|notice| notice.code != DIFFERENCING_HIVE_CODE));
}

const PARAMETERS: [&str; 4] = ["ControlSet001", "Services", "LanmanServer", "Parameters"];

#[track_caller]
fn assert_unknown<T: std::fmt::Debug>(result: Result<T, EvidenceError>, place: &str) {
    match result {
        Err(error @ EvidenceError::NotInLayer { .. }) => {
            let text = error.to_string();
            assert!(
                text.contains("SYSTEM_Delta") && text.contains(place),
                "{text} (wanted {place})"
            );
            assert!(text.contains("not in this differencing hive"), "{text}");
            assert_eq!(error.code_name(), "hiveward::hive::not_in_layer");
            assert!(error.is_unknown_in_file());
        }
        other => panic!("{place}: read {other:?}, not unknown"),
    }
}

#[test]
fn a_differencing_hive_is_named_and_reads_what_it_holds() {
    let hive = open(layered());
    assert_eq!(hive.kind(), HiveKind::System);
    let notice = hive
        .notices()
        .iter()
        .find(|notice| notice.code == "hiveward::hive::differencing")
        .expect("a notice names the differencing hive");
    assert!(
        notice.message.contains("SYSTEM_Delta")
            && notice.message.contains("unknown rather than absent"),
        "{}",
        notice.message
    );
    let level = hive
        .value(&PARAMETERS, "SmbServerNameHardeningLevel")
        .unwrap()
        .expect("a value the layer holds reads");
    assert_eq!(level.data, RegData::Integer(2));
    assert!(hive.key_exists(&PARAMETERS).unwrap());
}

#[test]
fn what_a_merged_key_does_not_hold_is_unknown_not_absent() {
    let hive = open(layered());
    assert_unknown(
        hive.value(&PARAMETERS, "RequireSecuritySignature"),
        r#"value "RequireSecuritySignature" of HKLM\SYSTEM\ControlSet001\Services\LanmanServer\Parameters"#,
    );
    assert_unknown(
        hive.key_exists(&["ControlSet001", "Services", "LanmanWorkstation"]),
        r"key HKLM\SYSTEM\ControlSet001\Services\LanmanWorkstation",
    );
    assert_unknown(
        hive.key_exists(&["ControlSet001", "Control", "Lsa"]),
        r"key HKLM\SYSTEM\ControlSet001\Control",
    );
    assert_unknown(
        hive.values(&PARAMETERS),
        r"the values of HKLM\SYSTEM\ControlSet001\Services\LanmanServer\Parameters",
    );
    assert_unknown(
        hive.subkeys(&["ControlSet001", "Services"]),
        r"the subkeys of HKLM\SYSTEM\ControlSet001\Services",
    );
    assert_unknown(
        hive.key_last_written(&PARAMETERS),
        r"the last-write time of key HKLM\SYSTEM\ControlSet001\Services\LanmanServer\Parameters",
    );
}

#[test]
fn tombstones_and_superseding_keys_make_absence_known() {
    let hive = open(layered());
    // A tombstone value and a tombstone key are deleted, whatever the layers below hold.
    assert_eq!(hive.value(&PARAMETERS, "Gone").unwrap(), None);
    assert!(!hive
        .key_exists(&["ControlSet001", "Services", "Removed"])
        .unwrap());
    assert_eq!(
        hive.value(&["ControlSet001", "Services", "Removed"], "Start")
            .unwrap(),
        None
    );
    // A key that supersedes locally has exactly its own values; its subkeys still merge.
    let local = ["ControlSet001", "Services", "LocalOnly"];
    assert_eq!(hive.value(&local, "DisplayName").unwrap(), None);
    let values = hive.values(&local).unwrap().unwrap();
    assert_eq!(values.len(), 1);
    assert_eq!(values[0].name, "Start");
    assert!(hive.key_last_written(&local).unwrap().is_some());
    assert_unknown(
        hive.key_exists(&["ControlSet001", "Services", "LocalOnly", "Parameters"]),
        r"key HKLM\SYSTEM\ControlSet001\Services\LocalOnly\Parameters",
    );
    // A superseding tree has exactly its own subkeys, tombstones left out.
    let tree = ["ControlSet001", "Services", "WholeTree"];
    assert_eq!(
        hive.subkeys(&tree).unwrap().unwrap(),
        vec!["Kept".to_string()]
    );
    assert!(!hive
        .key_exists(&["ControlSet001", "Services", "WholeTree", "Other"])
        .unwrap());
    assert!(!hive
        .key_exists(&["ControlSet001", "Services", "WholeTree", "Deleted"])
        .unwrap());
    // The other values of a value list are kept; the tombstone is left out of a full listing.
    let kept = ["ControlSet001", "Services", "WholeTree", "Kept"];
    assert_eq!(hive.value(&kept, "Absent").unwrap(), None);
    assert_eq!(hive.values(&kept).unwrap().unwrap().len(), 1);
}

#[test]
fn the_same_keys_in_an_ordinary_hive_read_absent() {
    let hive = open(fixture());
    assert_not_layered(&hive);
    assert_eq!(
        hive.value(&PARAMETERS, "RequireSecuritySignature").unwrap(),
        None
    );
    assert!(!hive
        .key_exists(&["ControlSet001", "Services", "LanmanWorkstation"])
        .unwrap());
    // Without the flag, layer marks mean nothing: a "tombstone" is an ordinary key.
    let mut marked = fixture();
    set_key_layer(&mut marked, "Removed", KeyLayer::Tombstone);
    let hive = open(marked);
    assert!(hive
        .key_exists(&["ControlSet001", "Services", "Removed"])
        .unwrap());
}

#[test]
fn the_flag_on_a_dirty_windows_8_hive_is_not_a_layer() {
    // On Windows 8 and Server 2012 the same bit marks a defragmented hive being written out.
    let mut bytes = fixture();
    mark_differencing(&mut bytes);
    let dirty = dirty_primary(&bytes, 99);
    let hive = open(dirty);
    assert_not_layered(&hive);
    assert_eq!(
        hive.value(&PARAMETERS, "RequireSecuritySignature").unwrap(),
        None
    );

    // Nor is a flags field holding bits no Windows defines, as a damaged base block may.
    let mut garbage = fixture();
    garbage[0x90..0x94].copy_from_slice(&0x00ff_ffffu32.to_le_bytes());
    fix_base_block_checksum(&mut garbage);
    let hive = open(garbage);
    assert_not_layered(&hive);
}
