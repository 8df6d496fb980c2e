//! Damaged hives never panic the reader.

use super::*;
use hiveward_collectors::HiveFile;
use proptest::prelude::*;

fn good_hive() -> Vec<u8> {
    static GOOD: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    GOOD.get_or_init(build_good_hive).clone()
}

fn build_good_hive() -> Vec<u8> {
    hive_from_reg(&format!(
        "{HEADER}[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\r\n\
         \"Current\"=dword:00000001\r\n\"Default\"=dword:00000001\r\n\r\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\LanmanServer\\Parameters]\r\n\
         \"SmbServerNameHardeningLevel\"=dword:00000001\r\n\
         \"SrvAllowedServerNames\"=hex(7):66,00,69,00,6c,00,65,00,73,00,00,00,00,00\r\n\
         \"Big\"=hex:{}\r\n\r\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\ComputerName\\ComputerName]\r\n\
         \"ComputerName\"=\"FS01\"\r\n",
        // Past 16 KiB, so the value is stored as a big-data cell.
        vec!["ab"; 17_000].join(",")
    ))
}

const KEYS: [&[&str]; 4] = [
    &[],
    &["Select"],
    &["ControlSet001", "Services", "LanmanServer", "Parameters"],
    &["ControlSet001", "Control", "ComputerName", "ComputerName"],
];

/// 512 cases each, or `PROPTEST_CASES` when it is set.
fn config() -> ProptestConfig {
    match std::env::var_os("PROPTEST_CASES") {
        Some(_) => ProptestConfig::default(),
        None => ProptestConfig::with_cases(512),
    }
}

/// Opens the bytes and reads a few keys; any result is fine, a panic is not.
fn exercise(bytes: Vec<u8>) {
    let Ok(hive) = HiveFile::from_bytes(Path::new("fuzz_SYSTEM"), bytes, &[]) else {
        return;
    };
    for key in KEYS {
        let _ = hive.values(key);
        let _ = hive.subkeys(key);
        let _ = hive.value(key, "ComputerName");
    }
}

#[test]
fn the_fixture_reads_cleanly() {
    let hive = HiveFile::from_bytes(Path::new("SYSTEM"), good_hive(), &[]).expect("fixture opens");
    assert_eq!(hive.kind(), HiveKind::System);
    for key in KEYS {
        assert!(hive.values(key).unwrap().is_some(), "{key:?}");
    }
    let big = hive
        .value(KEYS[2], "Big")
        .unwrap()
        .expect("big-data value present");
    assert_eq!(
        big.data,
        hiveward_collectors::RegData::Bytes(vec![0xab; 17_000])
    );
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn single_byte_corruption_never_panics(position in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = good_hive();
        let index = position.index(bytes.len());
        bytes[index] = byte;
        exercise(bytes);
    }

    #[test]
    fn corruption_in_the_cells_never_panics(offset in 0usize..8192, byte in any::<u8>()) {
        // Concentrate on the first hive bins, where the root key and its lists sit.
        let mut bytes = good_hive();
        let index = (4096 + offset).min(bytes.len() - 1);
        bytes[index] = byte;
        exercise(bytes);
    }

    #[test]
    fn truncation_never_panics(position in any::<prop::sample::Index>()) {
        let mut bytes = good_hive();
        let len = position.index(bytes.len());
        bytes.truncate(len);
        exercise(bytes);
    }

    #[test]
    fn truncation_with_a_matching_declared_size_never_panics(position in any::<prop::sample::Index>()) {
        // Cut the bins and shrink the declared size to match (and fix the checksum), so the
        // truncation check passes and the cell reader meets the missing data.
        let mut bytes = good_hive();
        let len = 4096 + position.index(bytes.len() - 4096);
        bytes.truncate(len);
        let size = u32::try_from(len - 4096).unwrap();
        bytes[0x28..0x2c].copy_from_slice(&size.to_le_bytes());
        let checksum = hiveward_collectors::base_block_checksum(&bytes);
        bytes[0x1fc..0x200].copy_from_slice(&checksum.to_le_bytes());
        exercise(bytes);
    }
}

#[test]
fn every_byte_of_the_first_bin_set_to_0xff_or_0x00() {
    // A deterministic sweep beside the random cases: each byte of the base block's fields
    // and the first 4 KiB of cells, set to the values most likely to break size arithmetic.
    let good = good_hive();
    let mut panics = Vec::new();
    for index in (0..0x30).chain(4096..8192.min(good.len())) {
        for byte in [0x00, 0xff, 0x80] {
            let mut bytes = good.clone();
            bytes[index] = byte;
            if std::panic::catch_unwind(|| exercise(bytes)).is_err() {
                panics.push(format!("byte {index:#x} set to {byte:#04x}"));
            }
        }
    }
    assert!(panics.is_empty(), "the reader panicked on: {panics:?}");
}
