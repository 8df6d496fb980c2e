//! Dirty hives and their transaction logs, made from clean hives of a "before" and an "after"
//! state: a primary whose last write did not complete, new-format logs (`HvLE` entries laid out
//! by `regf`, with Windows' Marvin32 hashes) and old-format logs (`DIRT` vector plus 512-byte pages)
//! whose pages turn "before" into "after".
//!
//! Panics on inputs that are not clean hives: fixtures are written by the tests themselves.
//!
//! # Example
//!
//! ```
//! use hiveward_testkit::{dirty_primary, new_format_log};
//!
//! let reg = |value: u32| {
//!     hiveward_testkit::state_hive_from_reg(&format!(
//!         "Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\n\"Current\"=dword:{value:08x}\n"
//!     ))
//! };
//! let (before, after) = (reg(1), reg(2));
//! let primary = dirty_primary(&before, 10);
//! let log = new_format_log(&[&before, &after], 11);
//! let recovered = hiveward_collectors::recover(
//!     &primary,
//!     &[hiveward_collectors::TransactionLogInput { path: "SYSTEM.LOG1".into(), bytes: log }],
//! )
//! .unwrap();
//! assert_eq!(recovered.applied_units, 1);
//! ```

use regf::transaction_log::{DirtyPageReference, DirtyVector, LogEntry};
use regf::HiveBuilder;

/// Size of the base block that precedes the hive bins.
pub const BASE_BLOCK_LEN: usize = 4096;
/// The page size of new-format log entries (Windows logs whole 4 KiB pages).
pub const NEW_FORMAT_PAGE: usize = 4096;
/// The page size of old-format logs.
pub const OLD_FORMAT_PAGE: usize = 512;
/// The Marvin32 seed Windows hashes log entries with (the spec's bytes
/// `82 EF 4D 88 7A 4E 55 C5` read as this number).
pub const LOG_ENTRY_HASH_SEED: u64 = 0x82EF_4D88_7A4E_55C5;

const PRIMARY_SEQUENCE: usize = 0x04;
const SECONDARY_SEQUENCE: usize = 0x08;
const LAST_WRITTEN: usize = 0x0c;
const FILE_TYPE: usize = 0x1c;
const ROOT_CELL_OFFSET: usize = 0x24;
const HIVE_BINS_DATA_SIZE: usize = 0x28;
const CHECKSUM: usize = 0x1fc;

fn field(bytes: &[u8], offset: usize) -> u32 {
    u32::from_le_bytes(
        bytes[offset..offset + 4]
            .try_into()
            .expect("four bytes make a u32"),
    )
}

fn set_field(bytes: &mut [u8], offset: usize, value: u32) {
    bytes[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
}

fn fix_checksum(block: &mut [u8]) {
    let checksum = hiveward_collectors::base_block_checksum(block);
    set_field(block, CHECKSUM, checksum);
}

fn assert_hive(hive: &[u8]) {
    assert!(
        hive.len() >= BASE_BLOCK_LEN && hive.starts_with(b"regf"),
        "fixture is not a hive"
    );
}

/// Builds one state of a dirty-hive fixture from `.reg` text, mounted like
/// [`hive_from_reg`](crate::hive_from_reg).
///
/// Unlike `hive_from_reg`, which lays the tree out depth-first and so moves the root key with
/// the content, this adds keys and values one by one after the root, so the root cell sits at
/// the same offset in every state — as in a live hive, whose root never moves. A log can then
/// turn one state into another without touching the base block's root cell offset.
pub fn state_hive_from_reg(text: &str) -> Vec<u8> {
    let laid_out = regf::RegistryHive::from_bytes(crate::hive_from_reg(text))
        .unwrap_or_else(|error| panic!("regf cannot read the fixture hive back: {error}"));
    let root = laid_out
        .root_key()
        .unwrap_or_else(|error| panic!("the fixture hive has no root key: {error}"));
    let mut builder = HiveBuilder::new_with_version(&root.name(), 5)
        .unwrap_or_else(|error| panic!("regf cannot start the fixture hive: {error}"));
    copy_key(&root, "", &mut builder);
    builder
        .build()
        .unwrap_or_else(|error| panic!("regf cannot write the fixture hive: {error}"))
}

/// Adds `key`'s values and, recursively, its subkeys to `builder` at `path`.
fn copy_key(key: &regf::hive::RegistryKey<'_>, path: &str, builder: &mut HiveBuilder) {
    let values = key
        .values()
        .unwrap_or_else(|error| panic!("values of {path:?} do not read: {error}"));
    for value in values {
        let data = value
            .raw_data()
            .unwrap_or_else(|error| panic!("value data in {path:?} does not read: {error}"));
        let name = value.name();
        builder
            .add_value_with_type(
                path,
                (!name.is_empty()).then_some(name.as_str()),
                &data,
                regf::DataType::from(value.raw_data_type()),
            )
            .unwrap_or_else(|error| panic!("regf cannot add value {name:?}: {error}"));
    }
    let subkeys = key
        .subkeys()
        .unwrap_or_else(|error| panic!("subkeys of {path:?} do not read: {error}"));
    for subkey in subkeys {
        let child = if path.is_empty() {
            subkey.name()
        } else {
            format!("{path}\\{}", subkey.name())
        };
        builder
            .create_key(&child)
            .unwrap_or_else(|error| panic!("regf cannot add key {child}: {error}"));
        copy_key(&subkey, &child, builder);
    }
}

/// The hive bins data size a hive's base block declares.
pub fn hive_bins_data_size(hive: &[u8]) -> u32 {
    assert_hive(hive);
    field(hive, HIVE_BINS_DATA_SIZE)
}

/// The primary and secondary sequence numbers of a base block.
pub fn sequence_numbers(hive: &[u8]) -> (u32, u32) {
    assert_hive(hive);
    (
        field(hive, PRIMARY_SEQUENCE),
        field(hive, SECONDARY_SEQUENCE),
    )
}

/// `clean` as a primary whose last write started but did not complete: the secondary sequence
/// number is `secondary_sequence`, the primary one is one higher, and the checksum is valid.
pub fn dirty_primary(clean: &[u8], secondary_sequence: u32) -> Vec<u8> {
    assert_hive(clean);
    let mut bytes = clean.to_vec();
    set_field(&mut bytes, PRIMARY_SEQUENCE, secondary_sequence + 1);
    set_field(&mut bytes, SECONDARY_SEQUENCE, secondary_sequence);
    fix_checksum(&mut bytes);
    bytes
}

/// Spoils the stored base block checksum of `hive`.
pub fn break_base_block_checksum(hive: &mut [u8]) {
    assert_hive(hive);
    let wrong = field(hive, CHECKSUM) ^ 0x5a5a_5a5a;
    set_field(hive, CHECKSUM, wrong);
}

/// The pages (offset relative to the hive bins, bytes) of `to`'s hive bins that differ from
/// `from` at the same offset, or lie past the end of `from`.
pub fn changed_pages(from: &[u8], to: &[u8], page_size: usize) -> Vec<(u32, Vec<u8>)> {
    assert_hive(from);
    let bins_end = BASE_BLOCK_LEN + hive_bins_data_size(to) as usize;
    assert!(to.len() >= bins_end, "`to` is shorter than its hive bins");
    let mut pages = Vec::new();
    let mut start = BASE_BLOCK_LEN;
    while start < bins_end {
        let end = (start + page_size).min(bins_end);
        let page = &to[start..end];
        if from.get(start..end) != Some(page) {
            let offset = u32::try_from(start - BASE_BLOCK_LEN).expect("hive fits in u32");
            pages.push((offset, page.to_vec()));
        }
        start = end;
    }
    pages
}

/// One new-format log entry (`HvLE`), laid out by `regf`, with the hashes Windows computes.
pub fn log_entry(sequence: u32, hive_bins_data_size: u32, pages: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let payload: usize = pages.iter().map(|(_, page)| 8 + page.len()).sum();
    let size = (LogEntry::HEADER_SIZE + payload).div_ceil(512) * 512;
    let entry = LogEntry {
        signature: *LogEntry::SIGNATURE,
        size: u32::try_from(size).expect("entry fits in u32"),
        flags: 0,
        sequence_number: sequence,
        hive_bins_data_size,
        dirty_pages_count: u32::try_from(pages.len()).expect("page count fits in u32"),
        hash1: 0,
        hash2: 0,
        page_references: pages
            .iter()
            .map(|(offset, page)| DirtyPageReference {
                offset: *offset,
                size: u32::try_from(page.len()).expect("page fits in u32"),
            })
            .collect(),
        dirty_pages: pages.iter().map(|(_, page)| page.clone()).collect(),
    };
    let mut bytes = Vec::with_capacity(size);
    entry
        .write(&mut bytes)
        .unwrap_or_else(|error| panic!("regf cannot write the log entry: {error}"));
    // regf hashes with a byte-swapped seed; Windows (and hiveward) use the spec's seed.
    let hash1 = regf::marvin32_hash(&bytes[LogEntry::HEADER_SIZE..], LOG_ENTRY_HASH_SEED);
    bytes[24..32].copy_from_slice(&hash1.to_le_bytes());
    let hash2 = regf::marvin32_hash(&bytes[..32], LOG_ENTRY_HASH_SEED);
    bytes[32..40].copy_from_slice(&hash2.to_le_bytes());
    bytes
}

/// Recomputes both hashes of the log entry at `offset` in `log` from its declared size (or up
/// to the end of the log when the size does not fit), so that a test can craft entries whose
/// fields are wrong but whose hashes pass. Does nothing when no entry header fits there.
pub fn rehash_log_entry(log: &mut [u8], offset: usize) {
    let Some(header) = log.get(offset..offset + LogEntry::HEADER_SIZE) else {
        return;
    };
    let declared = field(header, 4) as usize;
    let end = offset
        .checked_add(declared)
        .filter(|end| *end <= log.len() && declared >= LogEntry::HEADER_SIZE)
        .unwrap_or(log.len());
    let hash1 = regf::marvin32_hash(
        &log[offset + LogEntry::HEADER_SIZE..end],
        LOG_ENTRY_HASH_SEED,
    );
    log[offset + 24..offset + 32].copy_from_slice(&hash1.to_le_bytes());
    let hash2 = regf::marvin32_hash(&log[offset..offset + 32], LOG_ENTRY_HASH_SEED);
    log[offset + 32..offset + 40].copy_from_slice(&hash2.to_le_bytes());
}

/// Recomputes the checksum of the base block at the start of `bytes` (a hive or a log).
pub fn fix_base_block_checksum(bytes: &mut [u8]) {
    assert!(bytes.len() >= 512, "no base block");
    fix_checksum(bytes);
}

/// The 512-byte base block of a log, copied from `template`'s with the file type set to
/// `file_type` and both sequence numbers set to `sequence`.
pub fn log_base_block(template: &[u8], file_type: u32, sequence: u32) -> Vec<u8> {
    assert_hive(template);
    let mut block = template[..512].to_vec();
    set_field(&mut block, FILE_TYPE, file_type);
    set_field(&mut block, PRIMARY_SEQUENCE, sequence);
    set_field(&mut block, SECONDARY_SEQUENCE, sequence);
    fix_checksum(&mut block);
    block
}

/// A new-format log (file type 6) with one entry per step between consecutive `states`: entry
/// `first_sequence + i` holds the 4 KiB pages that turn `states[i]` into `states[i + 1]`, and
/// the declared hive bins size of `states[i + 1]`. The log's base block is `states[0]`'s, with
/// sequence numbers `first_sequence`.
///
/// Every state must keep the root cell at the same offset (a recovered base block keeps the
/// primary's root offset, as Windows does).
pub fn new_format_log(states: &[&[u8]], first_sequence: u32) -> Vec<u8> {
    assert!(states.len() >= 2, "a log needs at least two states");
    let root = field(states[0], ROOT_CELL_OFFSET);
    for state in states {
        assert_hive(state);
        assert_eq!(
            field(state, ROOT_CELL_OFFSET),
            root,
            "fixture states put the root key at different offsets"
        );
    }
    let mut log = log_base_block(states[0], 6, first_sequence);
    for (step, pair) in states.windows(2).enumerate() {
        let pages = changed_pages(pair[0], pair[1], NEW_FORMAT_PAGE);
        let sequence = first_sequence + u32::try_from(step).expect("few steps");
        log.extend(log_entry(sequence, hive_bins_data_size(pair[1]), &pages));
    }
    log
}

/// An old-format log (file type 1) for the write that turns `primary` (a dirty primary made
/// from the "before" state) into `after`: a base block copied from `after` with `primary`'s
/// sequence number and timestamp, a `DIRT` vector marking the 512-byte pages that differ, and
/// those pages.
pub fn old_format_log(primary: &[u8], after: &[u8]) -> Vec<u8> {
    assert_hive(primary);
    let (primary_sequence, _) = sequence_numbers(primary);
    let mut log = log_base_block(after, 1, primary_sequence);
    log[LAST_WRITTEN..LAST_WRITTEN + 8].copy_from_slice(&primary[LAST_WRITTEN..LAST_WRITTEN + 8]);
    fix_checksum(&mut log);

    let pages = changed_pages(primary, after, OLD_FORMAT_PAGE);
    let mut vector = DirtyVector::new(hive_bins_data_size(after));
    for (offset, _) in &pages {
        vector.set_page_dirty(*offset as usize / OLD_FORMAT_PAGE);
    }
    vector
        .write(&mut log)
        .unwrap_or_else(|error| panic!("regf cannot write the dirty vector: {error}"));
    log.resize(log.len().div_ceil(512) * 512, 0);
    for (_, page) in &pages {
        let mut page = page.clone();
        page.resize(OLD_FORMAT_PAGE, 0);
        log.extend(page);
    }
    log
}

/// The time the sample bundle's hives say they were written: 2026-11-22T01:38:58.877098Z.
pub const SAMPLE_BUNDLE_TIME: u64 = 134_397_851_388_770_980;

/// Pins every timestamp of `hive` to `filetime`: the base block's, each hive bin's, and each
/// key node's LastWriteTime; then recomputes the base block checksum. regf stamps the time of
/// writing, which would make every regeneration differ; no crate rewrites them, hence by hand.
pub fn pin_hive_times(hive: &mut [u8], filetime: u64) {
    const BASE: usize = 4096;
    let stamp = filetime.to_le_bytes();
    hive[0x0c..0x14].copy_from_slice(&stamp);
    let mut bin = BASE;
    while bin + 0x20 <= hive.len() && &hive[bin..bin + 4] == b"hbin" {
        let size = u32::from_le_bytes(hive[bin + 8..bin + 12].try_into().unwrap()) as usize;
        if size < 0x20 || bin + size > hive.len() {
            break;
        }
        hive[bin + 0x14..bin + 0x1c].copy_from_slice(&stamp);
        let mut cell = bin + 0x20;
        while cell + 4 <= bin + size {
            let raw = i32::from_le_bytes(hive[cell..cell + 4].try_into().unwrap());
            let length = raw.unsigned_abs() as usize;
            if length < 8 || cell + length > bin + size {
                break;
            }
            if raw < 0 && &hive[cell + 4..cell + 6] == b"nk" {
                hive[cell + 8..cell + 16].copy_from_slice(&stamp);
            }
            cell += length;
        }
        bin += size;
    }
    fix_base_block_checksum(hive);
}

/// The absolute offset of the `vk` record of the value `name` (an ASCII name), which must be
/// unique in the hive; panics otherwise.
pub fn value_record(bytes: &[u8], name: &str) -> usize {
    let found: Vec<usize> = (0..bytes.len().saturating_sub(20 + name.len()))
        .filter(|&at| {
            bytes[at..at + 2] == *b"vk"
                && usize::from(u16::from_le_bytes([bytes[at + 2], bytes[at + 3]])) == name.len()
                && bytes[at + 20..at + 20 + name.len()] == *name.as_bytes()
        })
        .collect();
    assert_eq!(found.len(), 1, "{name}: {found:?}");
    found[0]
}

/// Points the data of value `name` past the end of the hive bins, so its cell cannot be read.
/// Only the hive bins change: the base block and its checksum stay valid.
pub fn damage_value_data(bytes: &mut [u8], name: &str) {
    let record = value_record(bytes, name);
    assert_eq!(
        u32::from_le_bytes(bytes[record + 4..record + 8].try_into().unwrap()) & 0x8000_0000,
        0,
        "{name} has a cell"
    );
    bytes[record + 8..record + 12].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
}
