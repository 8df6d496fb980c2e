//! Unit tests of `recovery`.

use super::apply::write_page;
use super::*;

fn input(name: &str, bytes: Vec<u8>) -> TransactionLogInput {
    TransactionLogInput {
        path: PathBuf::from(name),
        bytes,
    }
}

fn primary() -> Vec<u8> {
    let mut bytes = vec![0u8; 8192];
    bytes[..4].copy_from_slice(b"regf");
    write_u32(&mut bytes, PRIMARY_SEQUENCE, 3);
    write_u32(&mut bytes, SECONDARY_SEQUENCE, 2);
    write_u32(&mut bytes, HIVE_BINS_DATA_SIZE, 4096);
    let checksum = base_block_checksum(&bytes);
    write_u32(&mut bytes, CHECKSUM, checksum);
    bytes
}

#[test]
fn short_and_foreign_logs_are_skipped_with_reasons() {
    let logs = [
        input("a.LOG", Vec::new()),
        input("a.LOG1", b"regf".to_vec()),
        input("a.LOG2", vec![0x41; 600]),
    ];
    let Err(RecoveryError::NoApplicableLog { skipped }) = recover(&primary(), &logs) else {
        panic!("nothing should apply");
    };
    assert_eq!(skipped.len(), 3);
    assert!(skipped[0].reason.contains("empty"));
    assert!(skipped[1].reason.contains("less than the 512-byte"));
    assert!(skipped[2].reason.contains("signature"));
}

#[test]
fn primary_without_signature_is_rejected() {
    assert!(matches!(
        recover(&[0u8; 4096], &[]),
        Err(RecoveryError::InvalidPrimary { .. })
    ));
}

#[test]
fn marvin32_seed_matches_windows() {
    // The first 32 bytes of the first entry of a Windows 10 SYSTEM.LOG1 (the corpus'
    // SYSTEM_B.LOG1) and the Hash-2 Windows stored for them.
    let header = [
        0x48, 0x76, 0x4c, 0x45, 0x00, 0x3e, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3b, 0x08, 0x00,
        0x00, 0x00, 0x30, 0xbd, 0x00, 0x03, 0x00, 0x00, 0x00, 0xc4, 0x81, 0x2c, 0xbe, 0xa1, 0xb6,
        0x70, 0x4b,
    ];
    assert_eq!(
        regf::marvin32_hash(&header, MARVIN32_SEED),
        0xdd88_c5d7_df48_f30a
    );
    // regf's own seed does not reproduce it, which is why entries are read here.
    assert_ne!(
        regf::marvin32_hash(&header, regf::MARVIN32_SEED),
        0xdd88_c5d7_df48_f30a
    );
}

#[test]
fn write_page_refuses_out_of_range() {
    let mut bytes = vec![0u8; 8192];
    assert!(write_page(&mut bytes, 0, &[1; 4096]).is_ok());
    assert!(write_page(&mut bytes, 1, &[1; 4096]).is_err());
    assert!(write_page(&mut bytes, u32::MAX, &[1; 16]).is_err());
}
