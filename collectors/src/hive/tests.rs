//! Unit tests of `hive`.

use super::*;

#[test]
fn a_panic_while_reading_is_damage_to_that_file_and_the_file_still_answers() {
    let bytes = hiveward_testkit::hive_from_reg(
        "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Vendor]\r\n\"x\"=dword:1\r\n",
    );
    let hive = HiveFile::from_bytes(Path::new("vendor.hiv"), bytes, &[]).unwrap();
    let error = hive
        .with_key(&["Vendor"], |_, _| -> Result<(), EvidenceError> {
            panic!("assertion failed: data_offset != u32::MAX")
        })
        .unwrap_err();
    let message = error.to_string();
    // The panic's place follows "at ": this file, as the compiler names it.
    let place = message
        .strip_prefix(
            "vendor.hiv: damaged hive: Vendor: the hive reader stopped on damaged data \
             (assertion failed: data_offset != u32::MAX at ",
        )
        .unwrap_or_else(|| panic!("{message}"));
    assert!(
        place.split(':').next().unwrap().ends_with("hive/tests.rs"),
        "{message}"
    );
    assert!(hive.key_exists(&["Vendor"]).unwrap());
}

#[test]
fn checksum_avoids_zero_and_all_ones() {
    let zeros = vec![0u8; 512];
    assert_eq!(base_block_checksum(&zeros), 1);
    let mut ones = vec![0u8; 512];
    ones[..4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(base_block_checksum(&ones), u32::MAX - 1);
}

#[test]
fn base_block_needs_signature_and_length() {
    assert!(BaseBlock::parse(b"regf").is_none());
    assert!(BaseBlock::parse(&[0u8; 600]).is_none());
    let mut block = vec![0u8; 512];
    block[..4].copy_from_slice(b"regf");
    block[4..8].copy_from_slice(&5u32.to_le_bytes());
    block[8..12].copy_from_slice(&4u32.to_le_bytes());
    let parsed = BaseBlock::parse(&block).unwrap();
    assert!(!parsed.sequences_match());
    assert!(!parsed.checksum_ok());
}
