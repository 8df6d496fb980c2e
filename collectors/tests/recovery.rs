//! Recovery of dirty hives from their transaction logs: synthetic hives whose logs turn a
//! "before" state into an "after" state, malformed logs, and real hives from the corpus checked
//! against regipy's `regipy-process-transaction-logs`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use hiveward_collectors::{
    recover, BaseBlock, HiveFile, HiveState, Recovered, RecoveryError, RegData, TransactionLogInput,
};
use hiveward_testkit::{
    break_base_block_checksum, changed_pages, dirty_primary, fix_base_block_checksum,
    hive_bins_data_size, new_format_log, old_format_log, rehash_log_entry, state_hive_from_reg,
    OLD_FORMAT_PAGE,
};
use proptest::prelude::*;

const LANMAN: [&str; 4] = ["ControlSet001", "Services", "LanmanServer", "Parameters"];
const WORKSTATION: [&str; 4] = [
    "ControlSet001",
    "Services",
    "LanmanWorkstation",
    "Parameters",
];
const COMPUTER_NAME: [&str; 4] = ["ControlSet001", "Control", "ComputerName", "ComputerName"];

/// The three states of the synthetic SYSTEM hive.
struct States {
    before: Vec<u8>,
    mid: Vec<u8>,
    after: Vec<u8>,
}

fn system_reg(hardening: u32, signature: u32, extra: &str) -> String {
    format!(
        "Windows Registry Editor Version 5.00\r\n\r\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\r\n\
         \"Current\"=dword:00000001\r\n\r\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\LanmanServer\\Parameters]\r\n\
         \"SmbServerNameHardeningLevel\"=dword:{hardening:08x}\r\n\
         \"EnableSecuritySignature\"=dword:{signature:08x}\r\n\r\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\ComputerName\\ComputerName]\r\n\
         \"ComputerName\"=\"FS01\"\r\n\r\n{extra}"
    )
}

fn states() -> &'static States {
    static STATES: OnceLock<States> = OnceLock::new();
    STATES.get_or_init(|| {
        // A 20 KiB binary value makes the "after" hive need more hive bins than "before".
        let blob = (0..20 * 1024)
            .map(|index| format!("{:02x}", index % 251))
            .collect::<Vec<_>>()
            .join(",");
        let after_extra = format!(
            "[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\LanmanWorkstation\\Parameters]\r\n\
             \"RequireSecuritySignature\"=dword:00000001\r\n\
             \"Blob\"=hex:{blob}\r\n"
        );
        let mid_extra = "[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\LanmanWorkstation\\Parameters]\r\n\
             \"RequireSecuritySignature\"=dword:00000000\r\n";
        let states = States {
            before: state_hive_from_reg(&system_reg(0, 0, "")),
            mid: state_hive_from_reg(&system_reg(1, 0, mid_extra)),
            after: state_hive_from_reg(&system_reg(2, 1, &after_extra)),
        };
        assert!(
            hive_bins_data_size(&states.after) > hive_bins_data_size(&states.before),
            "the after state should need more hive bins"
        );
        states
    })
}

fn log(name: &str, bytes: Vec<u8>) -> TransactionLogInput {
    TransactionLogInput {
        path: PathBuf::from(name),
        bytes,
    }
}

fn open(bytes: Vec<u8>, logs: &[TransactionLogInput]) -> HiveFile {
    HiveFile::from_bytes(Path::new("SYSTEM"), bytes, logs).expect("the hive opens")
}

fn dword(hive: &HiveFile, key: &[&str], name: &str) -> Option<u64> {
    hive.value(key, name)
        .expect("the value reads")
        .and_then(|value| value.as_integer())
}

/// Asserts that `actual` holds the same keys, subkeys and values as `expected` for the
/// synthetic fixture's keys.
fn assert_same_as(actual: &HiveFile, expected: &HiveFile) {
    let keys: [&[&str]; 6] = [
        &[],
        &["Select"],
        &LANMAN,
        &WORKSTATION,
        &COMPUTER_NAME,
        &["ControlSet001", "Services"],
    ];
    for key in keys {
        assert_eq!(
            actual.values(key).expect("values read"),
            expected.values(key).expect("values read"),
            "values of {key:?}"
        );
        assert_eq!(
            actual.subkeys(key).expect("subkeys read"),
            expected.subkeys(key).expect("subkeys read"),
            "subkeys of {key:?}"
        );
    }
}

fn assert_clean_base_block(recovered: &Recovered, expected_bins: u32) {
    let block = BaseBlock::parse(&recovered.bytes).expect("base block parses");
    assert!(block.sequences_match(), "sequence numbers equal: {block:?}");
    assert_eq!(block.primary_sequence, recovered.sequence);
    assert!(block.checksum_ok(), "checksum recomputed: {block:?}");
    assert_eq!(block.file_type, 0);
    assert_eq!(block.hive_bins_data_size, expected_bins);
    assert!(recovered.bytes.len() >= 4096 + expected_bins as usize);
}

#[test]
fn new_format_log_turns_before_into_after() {
    let states = states();
    let primary = dirty_primary(&states.before, 10);
    let logs = [log(
        "SYSTEM.LOG1",
        new_format_log(&[&states.before, &states.after], 11),
    )];

    let recovered = recover(&primary, &logs).expect("the log applies");
    assert_eq!(recovered.applied_logs, vec![PathBuf::from("SYSTEM.LOG1")]);
    assert_eq!(recovered.applied_units, 1);
    assert_eq!(recovered.sequence, 11);
    assert!(recovered.skipped.is_empty(), "{:?}", recovered.skipped);
    assert!(recovered.partial.is_empty(), "{:?}", recovered.partial);
    // The hive grew: the recovered bytes hold the after state's larger hive bins.
    assert_clean_base_block(&recovered, hive_bins_data_size(&states.after));
    assert!(recovered.bytes.len() > primary.len());

    let hive = open(primary.clone(), &logs);
    assert_eq!(
        hive.state(),
        &HiveState::Recovered {
            reasons: vec!["sequence numbers differ (11 != 10)".into()],
            logs: vec!["SYSTEM.LOG1".into()],
            applied: 1,
        }
    );
    assert_same_as(&hive, &open(states.after.clone(), &[]));
    assert_eq!(
        dword(&hive, &LANMAN, "SmbServerNameHardeningLevel"),
        Some(2)
    );
    let blob = hive.value(&WORKSTATION, "Blob").unwrap().unwrap();
    assert!(matches!(blob.data, RegData::Bytes(ref bytes) if bytes.len() == 20 * 1024));

    // Without its log the same primary reads as the before state.
    let unrecovered = open(primary, &[]);
    assert!(matches!(unrecovered.state(), HiveState::Dirty { .. }));
    assert_eq!(
        dword(&unrecovered, &LANMAN, "SmbServerNameHardeningLevel"),
        Some(0)
    );
    assert!(!unrecovered.key_exists(&WORKSTATION).unwrap());
}

#[test]
fn old_format_log_turns_before_into_after() {
    let states = states();
    let primary = dirty_primary(&states.before, 10);
    let log_bytes = old_format_log(&primary, &states.after);
    let pages = changed_pages(&primary, &states.after, OLD_FORMAT_PAGE).len();
    assert!(pages > 0);
    let logs = [log("SYSTEM.LOG", log_bytes)];

    let recovered = recover(&primary, &logs).expect("the log applies");
    assert_eq!(recovered.applied_logs, vec![PathBuf::from("SYSTEM.LOG")]);
    assert_eq!(recovered.applied_units as usize, pages);
    assert_eq!(recovered.sequence, 11, "the log's sequence number");
    assert_clean_base_block(&recovered, hive_bins_data_size(&states.after));

    let hive = open(primary, &logs);
    assert!(matches!(
        hive.state(),
        HiveState::Recovered { applied, .. } if *applied as usize == pages
    ));
    assert_same_as(&hive, &open(states.after.clone(), &[]));
    assert_eq!(dword(&hive, &LANMAN, "EnableSecuritySignature"), Some(1));
}

#[test]
fn old_format_log_of_another_write_is_skipped() {
    let states = states();
    let primary = dirty_primary(&states.before, 10);
    let mut log_bytes = old_format_log(&primary, &states.after);
    // A different timestamp: the log belongs to another write of the primary.
    log_bytes[0x0c] ^= 0x01;
    let checksum = hiveward_collectors::base_block_checksum(&log_bytes);
    log_bytes[0x1fc..0x200].copy_from_slice(&checksum.to_le_bytes());

    let Err(RecoveryError::NoApplicableLog { skipped }) =
        recover(&primary, &[log("SYSTEM.LOG", log_bytes)])
    else {
        panic!("a log of another write must not apply");
    };
    assert_eq!(skipped.len(), 1);
    assert!(skipped[0].reason.contains("timestamp"), "{skipped:?}");
}

#[test]
fn two_logs_apply_in_sequence_order() {
    let states = states();
    let primary = dirty_primary(&states.before, 10);
    // LOG1 holds the later entry, LOG2 the earlier one: the order on disk is not the order of
    // the entries, and the caller passes .LOG1 before .LOG2.
    let log1 = log(
        "SYSTEM.LOG1",
        new_format_log(&[&states.mid, &states.after], 12),
    );
    let log2 = log(
        "SYSTEM.LOG2",
        new_format_log(&[&states.before, &states.mid], 11),
    );
    let logs = [log1.clone(), log2.clone()];

    let recovered = recover(&primary, &logs).expect("both logs apply");
    assert_eq!(
        recovered.applied_logs,
        vec![PathBuf::from("SYSTEM.LOG2"), PathBuf::from("SYSTEM.LOG1")]
    );
    assert_eq!(recovered.applied_units, 2);
    assert_eq!(recovered.sequence, 12);
    assert!(recovered.skipped.is_empty(), "{:?}", recovered.skipped);
    assert_clean_base_block(&recovered, hive_bins_data_size(&states.after));
    let hive = open(recovered.bytes, &[]);
    assert_eq!(hive.state(), &HiveState::Clean);
    assert_same_as(&hive, &open(states.after.clone(), &[]));

    // The earlier log alone stops at the middle state.
    let middle = open(primary.clone(), &[log2]);
    assert_same_as(&middle, &open(states.mid.clone(), &[]));
    assert_eq!(
        dword(&middle, &LANMAN, "SmbServerNameHardeningLevel"),
        Some(1)
    );

    // Both entries in one log apply in order too.
    let one_log = [log(
        "SYSTEM.LOG1",
        new_format_log(&[&states.before, &states.mid, &states.after], 11),
    )];
    let recovered = recover(&primary, &one_log).expect("the log applies");
    assert_eq!(recovered.applied_units, 2);
    assert_same_as(
        &open(recovered.bytes, &[]),
        &open(states.after.clone(), &[]),
    );
}

#[test]
fn entries_the_primary_already_holds_are_not_applied() {
    let states = states();
    // The primary completed write 20; the log's only entry is number 11.
    let primary = dirty_primary(&states.before, 20);
    let logs = [log(
        "SYSTEM.LOG1",
        new_format_log(&[&states.before, &states.after], 11),
    )];
    let Err(RecoveryError::NoApplicableLog { skipped }) = recover(&primary, &logs) else {
        panic!("an old log must not apply");
    };
    assert!(skipped[0].reason.contains("already"), "{skipped:?}");
}

/// A log whose only entry fails its Hash-1 check.
fn log_with_bad_hash() -> Vec<u8> {
    let states = states();
    let mut bytes = new_format_log(&[&states.before, &states.after], 11);
    // Inside the first dirty page of the entry at offset 512: covered by Hash-1 only.
    let last = bytes.len() - 1;
    bytes[last.min(512 + 40 + 64 * 8 + 100)] ^= 0xff;
    bytes
}

#[test]
fn log_with_bad_hash_is_skipped_and_reported() {
    let states = states();
    let primary = dirty_primary(&states.before, 10);
    let bad = log("SYSTEM.LOG1", log_with_bad_hash());

    let error = recover(&primary, std::slice::from_ref(&bad)).unwrap_err();
    let RecoveryError::NoApplicableLog { skipped } = &error else {
        panic!("unexpected error {error}");
    };
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].path, PathBuf::from("SYSTEM.LOG1"));
    assert!(skipped[0].reason.contains("Hash-1 mismatch"), "{skipped:?}");
    assert!(error.to_string().contains("SYSTEM.LOG1"));

    // Opened with only the bad log, the hive stays dirty and says why.
    let hive = open(primary.clone(), std::slice::from_ref(&bad));
    assert!(matches!(hive.state(), HiveState::Dirty { .. }));
    let notice = hive
        .notices()
        .iter()
        .find(|notice| notice.code == "hiveward::hive::log_not_applied")
        .expect("a notice explains why the logs were not applied");
    assert!(notice.message.to_lowercase().contains("hash"), "{notice:?}");
    assert_eq!(
        dword(&hive, &LANMAN, "SmbServerNameHardeningLevel"),
        Some(0)
    );

    // Beside a good log, the bad one is skipped and reported and the good one applied.
    let good = log(
        "SYSTEM.LOG2",
        new_format_log(&[&states.before, &states.after], 11),
    );
    let recovered = recover(&primary, &[bad, good]).expect("the good log applies");
    assert_eq!(recovered.applied_logs, vec![PathBuf::from("SYSTEM.LOG2")]);
    assert_eq!(recovered.skipped.len(), 1);
    assert_eq!(recovered.skipped[0].path, PathBuf::from("SYSTEM.LOG1"));
    assert!(recovered.skipped[0].reason.to_lowercase().contains("hash"));
}

#[test]
fn recovery_stops_at_the_first_bad_entry() {
    let states = states();
    let primary = dirty_primary(&states.before, 10);
    let mut bytes = new_format_log(&[&states.before, &states.mid, &states.after], 11);
    let first_size = u32::from_le_bytes(bytes[516..520].try_into().unwrap()) as usize;
    let second = 512 + first_size;
    assert_eq!(&bytes[second..second + 4], b"HvLE");
    // Hash-2 of the second entry.
    bytes[second + 33] ^= 0x01;

    let recovered = recover(&primary, &[log("SYSTEM.LOG1", bytes)]).expect("entry 11 applies");
    assert_eq!(recovered.applied_units, 1);
    assert_eq!(recovered.sequence, 11);
    assert_eq!(recovered.partial.len(), 1);
    assert!(
        recovered.partial[0].reason.contains("Hash-2 mismatch"),
        "{:?}",
        recovered.partial
    );
    assert_same_as(&open(recovered.bytes, &[]), &open(states.mid.clone(), &[]));
}

#[test]
fn short_and_damaged_logs_are_skipped_and_reported() {
    let states = states();
    let primary = dirty_primary(&states.before, 10);
    let full = new_format_log(&[&states.before, &states.after], 11);
    let mut bad_base = full.clone();
    bad_base[0x30] ^= 0x01;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", Vec::new(), "empty"),
        ("short", full[..300].to_vec(), "less than the 512-byte"),
        ("cut", full[..full.len() - 512].to_vec(), "cut short"),
        ("base-only", full[..512].to_vec(), "no entries"),
        ("checksum", bad_base, "checksum mismatch: stored 0x"),
        ("primary", states.after.clone(), "primary hive"),
    ];
    for (name, bytes, expected) in cases {
        let result = recover(&primary, &[log(name, bytes)]);
        let Err(RecoveryError::NoApplicableLog { skipped }) = result else {
            panic!("{name}: the log must not apply");
        };
        assert_eq!(skipped.len(), 1, "{name}");
        assert!(
            skipped[0].reason.to_lowercase().contains(expected),
            "{name}: {:?}",
            skipped[0].reason
        );
    }
    assert!(matches!(
        recover(&primary, &[]),
        Err(RecoveryError::NoApplicableLog { .. })
    ));
}

#[test]
fn bad_primary_checksum_takes_the_base_block_from_the_latest_log() {
    let states = states();
    let mut primary = dirty_primary(&states.before, 10);
    break_base_block_checksum(&mut primary);

    let logs = [log(
        "SYSTEM.LOG1",
        new_format_log(&[&states.before, &states.after], 11),
    )];
    let recovered = recover(&primary, &logs).expect("the log applies");
    assert_clean_base_block(&recovered, hive_bins_data_size(&states.after));
    let hive = open(primary.clone(), &logs);
    assert!(
        matches!(hive.state(), HiveState::Recovered { reasons, .. } if reasons.iter().any(|r| r.contains("checksum")))
    );
    assert_same_as(&hive, &open(states.after.clone(), &[]));

    // With two logs, only the one with the latest entries is used (spec).
    let logs = [
        log(
            "SYSTEM.LOG1",
            new_format_log(&[&states.mid, &states.after], 12),
        ),
        log(
            "SYSTEM.LOG2",
            new_format_log(&[&states.before, &states.mid], 11),
        ),
    ];
    let recovered = recover(&primary, &logs).expect("the latest log applies");
    assert_eq!(recovered.applied_logs, vec![PathBuf::from("SYSTEM.LOG1")]);
    assert_eq!(recovered.skipped.len(), 1);
    assert_eq!(recovered.skipped[0].path, PathBuf::from("SYSTEM.LOG2"));
}

fn valid_new_log() -> &'static [u8] {
    static LOG: OnceLock<Vec<u8>> = OnceLock::new();
    LOG.get_or_init(|| {
        let states = states();
        new_format_log(&[&states.before, &states.mid, &states.after], 11)
    })
}

fn valid_old_log() -> &'static [u8] {
    static LOG: OnceLock<Vec<u8>> = OnceLock::new();
    LOG.get_or_init(|| {
        let states = states();
        old_format_log(&dirty_primary(&states.before, 10), &states.after)
    })
}

/// Runs `recover` and, when it succeeds, opens the result: neither may panic.
fn recover_and_open(primary: &[u8], logs: &[TransactionLogInput]) {
    if let Ok(recovered) = recover(primary, logs) {
        assert!(recovered.applied_units > 0);
        assert!(!recovered.applied_logs.is_empty());
        if let Ok(hive) = HiveFile::from_bytes(Path::new("fuzz"), recovered.bytes, &[]) {
            let _ = hive.values(&LANMAN);
        }
    }
    let _ = HiveFile::from_bytes(Path::new("fuzz"), primary.to_vec(), logs);
}

fn mutated(base: &[u8], edits: &[(usize, u8)], cut: Option<usize>) -> Vec<u8> {
    let mut bytes = base.to_vec();
    for (index, value) in edits {
        if !bytes.is_empty() {
            let position = index % bytes.len();
            bytes[position] = *value;
        }
    }
    if let Some(cut) = cut {
        bytes.truncate(cut % (bytes.len() + 1));
    }
    bytes
}

proptest! {
    // 64 cases by default to keep the suite quick; PROPTEST_CASES runs more.
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(64)
    ))]

    #[test]
    fn garbage_logs_never_panic(
        noise in proptest::collection::vec(any::<u8>(), 0..4096),
        file_type in prop_oneof![Just(1u32), Just(2), Just(6), any::<u32>()],
    ) {
        let primary = dirty_primary(&states().before, 10);
        // Raw noise, and noise behind a log-shaped signature and file type.
        let mut shaped = b"regf".to_vec();
        shaped.extend_from_slice(&noise);
        if shaped.len() >= 32 {
            shaped[28..32].copy_from_slice(&file_type.to_le_bytes());
        }
        recover_and_open(&primary, &[log("a.LOG1", noise.clone()), log("a.LOG2", shaped)]);
        // Noise as the primary, too.
        recover_and_open(&noise, &[log("a.LOG1", valid_new_log().to_vec())]);
    }

    #[test]
    fn damaged_valid_logs_never_panic(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in proptest::option::of(any::<usize>()),
        header_edits in proptest::collection::vec((0usize..4096, any::<u8>()), 0..4),
    ) {
        let primary = dirty_primary(&states().before, 10);
        let new_log = mutated(valid_new_log(), &edits, cut);
        let old_log = mutated(valid_old_log(), &edits, cut);
        // Edits confined to the first entry header and page references hit the parser's
        // checks rather than only the hashes.
        let header_log = mutated(valid_new_log(), &header_edits, None);
        recover_and_open(&primary, &[log("a.LOG1", new_log), log("a.LOG2", header_log)]);
        recover_and_open(&primary, &[log("a.LOG", old_log)]);
    }

    /// The hashes are unkeyed, so a crafted log can carry any field with valid hashes: sizes,
    /// sequence numbers, hive bins sizes and page references are checked on their own.
    #[test]
    fn crafted_logs_with_valid_hashes_never_panic(
        entry_edits in proptest::collection::vec((4usize..120, any::<u8>()), 1..6),
        base_edits in proptest::collection::vec((4usize..508, any::<u8>()), 0..3),
        old_edits in proptest::collection::vec((4usize..1100, any::<u8>()), 1..6),
    ) {
        let primary = dirty_primary(&states().before, 10);
        let mut new_log = valid_new_log().to_vec();
        for (index, value) in &entry_edits {
            new_log[512 + index] = *value;
        }
        for (index, value) in &base_edits {
            new_log[*index] = *value;
        }
        fix_base_block_checksum(&mut new_log);
        rehash_log_entry(&mut new_log, 512);
        recover_and_open(&primary, &[log("a.LOG1", new_log)]);

        let mut old_log = valid_old_log().to_vec();
        for (index, value) in &old_edits {
            old_log[*index] = *value;
        }
        fix_base_block_checksum(&mut old_log);
        recover_and_open(&primary, &[log("a.LOG", old_log)]);
    }
}

#[test]
fn crafted_entry_cannot_grow_the_hive_without_bound() {
    let states = states();
    let primary = dirty_primary(&states.before, 10);
    let mut bytes = new_format_log(&[&states.before, &states.after], 11);
    // A hive bins size of 1 GiB, with hashes that pass.
    bytes[512 + 16..512 + 20].copy_from_slice(&0x4000_0000u32.to_le_bytes());
    rehash_log_entry(&mut bytes, 512);
    let Err(RecoveryError::NoApplicableLog { skipped }) =
        recover(&primary, &[log("SYSTEM.LOG1", bytes)])
    else {
        panic!("the entry must be refused");
    };
    assert!(
        skipped[0]
            .reason
            .contains("more than the hive and its logs can hold"),
        "{skipped:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Corpus oracle: regipy-process-transaction-logs.

const REGIPY: &str = "regipy-process-transaction-logs";

/// Runs regipy on `hive` with `earlier` (applied first, as `-s`) and `later` (as `-p`) and opens
/// its output. regipy writes every entry of a log in file order whatever its sequence number,
/// and applies `-s` before `-p`, so the log with the earlier entries goes in `-s`.
fn regipy_recover(hive: &Path, earlier: Option<&Path>, later: &Path, out: &Path) -> HiveFile {
    let mut command = std::process::Command::new(REGIPY);
    command.arg(hive).arg("-p").arg(later).arg("-o").arg(out);
    if let Some(earlier) = earlier {
        command.arg("-s").arg(earlier);
    }
    let output = command.output().expect("regipy runs");
    assert!(
        output.status.success(),
        "regipy failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    HiveFile::open(out, &[]).expect("regipy's output opens")
}

/// Every key path under `start`, down to `depth` levels below it, in `hive`.
fn walk(hive: &HiveFile, start: &[String], depth: usize, out: &mut BTreeSet<Vec<String>>) {
    let parts: Vec<&str> = start.iter().map(String::as_str).collect();
    let Some(subkeys) = hive.subkeys(&parts).expect("subkeys read") else {
        return;
    };
    out.insert(start.to_vec());
    if depth == 0 {
        return;
    }
    for name in subkeys {
        let mut child = start.to_vec();
        child.push(name);
        walk(hive, &child, depth - 1, out);
    }
}

/// The keys of both hives under each of `roots`, to `depth` levels.
fn key_set(hives: &[&HiveFile], roots: &[(&[&str], usize)]) -> BTreeSet<Vec<String>> {
    let mut keys = BTreeSet::new();
    for hive in hives {
        for (root, depth) in roots {
            let root: Vec<String> = root.iter().map(|part| part.to_string()).collect();
            walk(hive, &root, *depth, &mut keys);
        }
    }
    keys
}

/// A key's subkeys and values, as comparable data (`None` when it is absent).
type KeyContent = Option<(Vec<String>, Vec<hiveward_collectors::RegValue>)>;

fn content(hive: &HiveFile, key: &[String]) -> KeyContent {
    let parts: Vec<&str> = key.iter().map(String::as_str).collect();
    let subkeys = hive.subkeys(&parts).expect("subkeys read")?;
    let values = hive.values(&parts).expect("values read")?;
    Some((subkeys, values))
}

/// Compares ours and regipy's recovery key by key and value by value (name, type, data), and
/// returns how many of the keys differ from the unrecovered hive.
fn compare_with_regipy(
    ours: &HiveFile,
    regipy: &HiveFile,
    unrecovered: &HiveFile,
    keys: &BTreeSet<Vec<String>>,
) -> usize {
    let mut changed = 0;
    for key in keys {
        let mine = content(ours, key);
        assert_eq!(mine, content(regipy, key), "key {}", key.join("\\"));
        if mine != content(unrecovered, key) {
            changed += 1;
        }
    }
    changed
}

/// Recovers `hive` from `logs` with [`recover`] and checks that the hive bins it declares are
/// byte for byte those of regipy's output (the base blocks differ: regipy leaves the checksum
/// stale).
fn assert_same_hive_bins(hive: &Path, logs: &[&Path], regipy_out: &Path) {
    let inputs: Vec<TransactionLogInput> = logs
        .iter()
        .map(|path| {
            log(
                &path.display().to_string(),
                std::fs::read(path).expect("log reads"),
            )
        })
        .collect();
    let recovered = recover(&std::fs::read(hive).expect("hive reads"), &inputs).expect("recovers");
    let theirs = std::fs::read(regipy_out).expect("regipy's output reads");
    let bins = BaseBlock::parse(&recovered.bytes)
        .expect("base block")
        .hive_bins_data_size as usize;
    let ours = &recovered.bytes[4096..4096 + bins];
    let theirs = theirs
        .get(4096..4096 + bins)
        .expect("regipy's output holds the hive bins");
    let first_difference = ours
        .iter()
        .zip(theirs)
        .position(|(left, right)| left != right);
    assert_eq!(
        first_difference, None,
        "hive bins differ from regipy's at this offset"
    );
}

#[test]
fn system_b_recovery_matches_regipy() {
    let Some(hive_path) = corpus_regipy_hive("SYSTEM_B") else {
        return;
    };
    if !hiveward_testkit::oracle_available(REGIPY) {
        return;
    }
    let log1 = hive_path.with_file_name("SYSTEM_B.LOG1");
    let log2 = hive_path.with_file_name("SYSTEM_B.LOG2");
    let ours = HiveFile::open(&hive_path, &[log1.clone(), log2.clone()]).expect("SYSTEM_B opens");
    let HiveState::Recovered { logs, applied, .. } = ours.state() else {
        panic!(
            "SYSTEM_B should be recovered: {:?} {:?}",
            ours.state(),
            ours.notices()
        );
    };
    // LOG1 holds entries 2107..=2110 and LOG2 continues with 2111..=2130.
    assert_eq!(
        logs,
        &vec![log1.display().to_string(), log2.display().to_string()]
    );
    assert_eq!(*applied, 24);

    let dir = tempfile::tempdir().expect("temp dir");
    let regipy_out = dir.path().join("SYSTEM_B");
    let regipy = regipy_recover(&hive_path, Some(&log1), &log2, &regipy_out);
    assert_same_hive_bins(&hive_path, &[&log1, &log2], &regipy_out);
    let unrecovered = HiveFile::open(&hive_path, &[]).expect("SYSTEM_B opens as it is");
    assert!(matches!(unrecovered.state(), HiveState::Dirty { .. }));

    let keys = key_set(
        &[&ours, &regipy],
        &[
            (&LANMAN, 0),
            (&WORKSTATION, 0),
            (&["ControlSet001", "Control", "Lsa"], 1),
            (&COMPUTER_NAME, 0),
            (&["Select"], 0),
            (&["ControlSet001", "Services"], 2),
            (&["ControlSet001", "Control"], 1),
            (&[], 1),
        ],
    );
    assert!(keys.len() > 500, "only {} keys compared", keys.len());
    for required in [
        &LANMAN[..],
        &WORKSTATION[..],
        &COMPUTER_NAME[..],
        &["Select"][..],
    ] {
        let required: Vec<String> = required.iter().map(|part| part.to_string()).collect();
        assert!(keys.contains(&required), "{required:?} was not compared");
    }
    let changed = compare_with_regipy(&ours, &regipy, &unrecovered, &keys);
    assert!(
        changed > 0,
        "recovery changed none of the {} keys",
        keys.len()
    );
    println!(
        "SYSTEM_B: {} keys equal to regipy's recovery, {changed} differ from the dirty hive",
        keys.len()
    );
}

#[test]
fn transactions_ntuser_recovery_matches_regipy() {
    let Some(hive_path) = corpus_regipy_hive("transactions_NTUSER.DAT") else {
        return;
    };
    if !hiveward_testkit::oracle_available(REGIPY) {
        return;
    }
    let log1 = hive_path.with_file_name("transactions_ntuser.dat.log1");
    let log2 = hive_path.with_file_name("transactions_ntuser.dat.log2");
    let ours = HiveFile::open(&hive_path, &[log1.clone(), log2.clone()]).expect("the hive opens");
    let HiveState::Recovered { logs, applied, .. } = ours.state() else {
        panic!(
            "the hive should be recovered: {:?} {:?}",
            ours.state(),
            ours.notices()
        );
    };
    // LOG1 continues the primary (566..=588); LOG2 holds only entry 562, which the primary
    // already has.
    assert_eq!(logs, &vec![log1.display().to_string()]);
    assert_eq!(*applied, 23);
    assert!(ours
        .notices()
        .iter()
        .any(|notice| notice.code == "hiveward::hive::log_skipped"
            && notice.message.contains("already")));

    // regipy would write LOG2's stale entry too, so it gets LOG1 only.
    let dir = tempfile::tempdir().expect("temp dir");
    let regipy_out = dir.path().join("NTUSER.DAT");
    let regipy = regipy_recover(&hive_path, None, &log1, &regipy_out);
    assert_same_hive_bins(&hive_path, &[&log1, &log2], &regipy_out);
    let unrecovered = HiveFile::open(&hive_path, &[]).expect("the hive opens as it is");

    let keys = key_set(&[&ours, &regipy], &[(&[], 12)]);
    assert!(keys.len() > 100, "only {} keys compared", keys.len());
    let changed = compare_with_regipy(&ours, &regipy, &unrecovered, &keys);
    assert!(
        changed > 0,
        "recovery changed none of the {} keys",
        keys.len()
    );
    println!(
        "transactions_NTUSER.DAT: {} keys equal to regipy's recovery, {changed} differ from the dirty hive",
        keys.len()
    );
}

/// A hive of the corpus's regipy folder, or `None` when the corpus is absent.
fn corpus_regipy_hive(name: &str) -> Option<PathBuf> {
    hiveward_testkit::corpus_file(&format!("hives/regipy/{name}"))
}
