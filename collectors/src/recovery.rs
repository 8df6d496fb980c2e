//! Recovers a dirty hive in memory from its transaction logs: new-format `.LOG1`/`.LOG2` files
//! (`HvLE` log entries, Windows 8.1 and later) and old-format `.LOG`/`.LOG1`/`.LOG2` files
//! (`DIRT` dirty vector plus 512-byte dirty pages).
//!
//! Log base blocks (signature, checksum, file type, format, equal sequence numbers) and whole
//! old-format logs are parsed with the `regf` crate. New-format log entries are read here, with
//! `regf`'s Marvin32 function but the seed Windows actually uses: `regf` 0.2.0's
//! `MARVIN32_SEED` is byte-swapped, so its `LogEntry::parse` rejects every entry Windows wrote
//! (checked against the corpus' `SYSTEM_B.LOG1`). The apply step — choosing which entries
//! continue the primary's sequence, growing the hive bins, writing pages and rebuilding the base
//! block — is written here, following the Windows registry file format specification ("Format
//! of transaction log files", "Multiple transaction log files").
//!
//! Nothing here panics on malformed input: every log that cannot be used becomes a
//! [`SkippedLog`] with the reason, and every offset is checked before a page is written.

use std::io::Cursor;
use std::ops::Range;
use std::path::PathBuf;

use regf::transaction_log::{NewFormatLog, OldFormatLog};

use crate::hive::{base_block_checksum, BaseBlock, BASE_BLOCK_SIZE};

mod apply;

use apply::{apply_new_format, apply_old_format};

/// Offset of the primary sequence number in a base block.
const PRIMARY_SEQUENCE: usize = 0x04;
/// Offset of the secondary sequence number in a base block.
const SECONDARY_SEQUENCE: usize = 0x08;
/// Offset of the last written timestamp in a base block.
const LAST_WRITTEN: usize = 0x0c;
/// Offset of the file type in a base block.
const FILE_TYPE: usize = 0x1c;
/// Offset of the hive bins data size in a base block.
const HIVE_BINS_DATA_SIZE: usize = 0x28;
/// Offset of the flags in a base block.
const FLAGS: usize = 0x90;
/// Offset of the checksum in a base block.
const CHECKSUM: usize = 0x1fc;
/// The part of a base block a transaction log holds (and the checksum covers).
const LOG_BASE_BLOCK_SIZE: usize = 512;
/// The largest hive bins data a hive can hold: cell indexes reserve their top bit for the
/// volatile storage, so stable storage stays below 2 GiB.
const MAX_HIVE_BINS_DATA_SIZE: u32 = 0x8000_0000;
/// Signature of a new-format log entry.
const ENTRY_SIGNATURE: &[u8; 4] = b"HvLE";
/// Size of a log entry header, before its dirty page references.
const ENTRY_HEADER_SIZE: usize = 40;
/// The Marvin32 seed of log entry hashes. The spec lists it as the bytes
/// `82 EF 4D 88 7A 4E 55 C5`; Windows uses them as this number (low half `0x7A4E55C5`), which
/// is what makes the hashes of real logs check out.
const MARVIN32_SEED: u64 = 0x82EF_4D88_7A4E_55C5;

/// One transaction log, read into memory.
#[derive(Clone, Debug)]
pub struct TransactionLogInput {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// A log that was looked at but not used, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedLog {
    /// The log file.
    pub path: PathBuf,
    /// Why it was not applied.
    pub reason: String,
}

/// The result of applying transaction logs to a copy of a primary hive.
#[derive(Clone, Debug)]
pub struct Recovered {
    /// The recovered hive: base block and hive bins, with sequence numbers made equal and the
    /// checksum recomputed.
    pub bytes: Vec<u8>,
    /// The logs applied, in the order they were applied.
    pub applied_logs: Vec<PathBuf>,
    /// Log entries (new format) or dirty pages (old format) written back.
    pub applied_units: u32,
    /// The sequence number written to both sequence fields of the recovered base block.
    pub sequence: u32,
    /// Logs that were present but not used.
    pub skipped: Vec<SkippedLog>,
    /// Logs that were applied only up to a bad or out-of-sequence entry, with why the rest was
    /// left out. These logs are also listed in `applied_logs`.
    pub partial: Vec<SkippedLog>,
}

/// Why no recovery could be made.
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    /// The primary file does not start with a `regf` base block.
    #[error("the primary file is not a hive: {detail}")]
    InvalidPrimary {
        /// What is wrong with it.
        detail: String,
    },
    /// None of the logs holds data that applies to this hive.
    #[error("no transaction log applies to this hive{}", describe_skipped(.skipped))]
    NoApplicableLog {
        /// Every log, with why it was not used.
        skipped: Vec<SkippedLog>,
    },
}

/// The `regf` crate's words for a log it rejects, with a checksum mismatch said the way the
/// rest of the reports say it: the checksum stored in the file and the one its bytes give.
fn log_error_text(error: &regf::Error) -> String {
    match error {
        regf::Error::ChecksumMismatch {
            expected,
            calculated,
        } => format!("checksum mismatch: stored {expected:#010x}, computed {calculated:#010x}"),
        other => other.to_string(),
    }
}

fn describe_skipped(skipped: &[SkippedLog]) -> String {
    if skipped.is_empty() {
        return " (no logs were given)".to_string();
    }
    let parts: Vec<String> = skipped
        .iter()
        .map(|skip| format!("{}: {}", skip.path.display(), skip.reason))
        .collect();
    format!(" ({})", parts.join("; "))
}

/// A new-format log whose base block is valid, with its entries up to the first invalid one.
struct NewLog<'a> {
    /// Position in the caller's list.
    index: usize,
    /// The whole log; entry pages are ranges of it.
    bytes: &'a [u8],
    /// The first 512 bytes of the log: the partial base block.
    base: [u8; LOG_BASE_BLOCK_SIZE],
    /// The primary sequence number of the log's base block: the sequence of its first entry.
    start: u32,
    /// Valid entries, in file order.
    entries: Vec<Entry>,
    /// Why reading entries stopped before a normal end, if it did.
    stopped: Option<String>,
}

/// One log entry whose size, page extents and both hashes check out.
struct Entry {
    /// The number the base block's sequence numbers take once it is applied.
    sequence: u32,
    /// Bit 0 is the base block's KTM-locked flag at the time.
    flags: u32,
    /// The hive bins data size at the time.
    hive_bins_data_size: u32,
    /// Dirty pages: offset relative to the hive bins, and where the bytes sit in the log.
    pages: Vec<(u32, Range<usize>)>,
}

/// An old-format log whose base block and dirty vector are valid.
struct OldLog {
    /// Position in the caller's list.
    index: usize,
    /// The first 512 bytes of the log: the partial base block.
    base: [u8; LOG_BASE_BLOCK_SIZE],
    /// The parsed log.
    log: OldFormatLog,
}

enum ParsedLog<'a> {
    New(Box<NewLog<'a>>),
    Old(Box<OldLog>),
}

/// Applies `logs` to a copy of `primary`.
///
/// New-format logs are preferred. Each log's usable entries start at the entry numbered like
/// its base block's primary sequence number and go on while the numbers rise by one and the
/// entries are valid; entries numbered below the primary's secondary sequence number are already
/// in the primary and are dropped (real logs often start far above it: the corpus' `SYSTEM_B`
/// is at 1621 and its logs hold 2107..=2130). The log with the earliest entries is applied
/// first, then the other one when its entries continue the sequence without a gap. When the
/// primary's base block checksum is bad, its base block is taken from the log with the latest
/// entries and only that log is applied, as the spec describes. The recovered base block gets
/// the last applied entry's sequence number (in both fields), hive bins data size and flag bit 0,
/// file type 0, and a fresh checksum.
///
/// Old-format logs are used when no new-format log applies: the one whose base block timestamp
/// matches the primary's (or, when the primary's base block is bad, the latest) has its dirty
/// pages written back and its base block copied in.
pub fn recover(primary: &[u8], logs: &[TransactionLogInput]) -> Result<Recovered, RecoveryError> {
    let primary_block = BaseBlock::parse(primary).ok_or_else(|| RecoveryError::InvalidPrimary {
        detail: if primary.starts_with(b"regf") {
            format!(
                "only {} bytes, less than a base block checksum covers",
                primary.len()
            )
        } else {
            "no \"regf\" signature".to_string()
        },
    })?;
    let budget = growth_budget(primary, &primary_block, logs);

    let mut skipped = Vec::new();
    let mut new_logs = Vec::new();
    let mut old_logs = Vec::new();
    for (index, log) in logs.iter().enumerate() {
        match parse_log(index, &log.bytes, budget) {
            Ok(ParsedLog::New(parsed)) => new_logs.push(*parsed),
            Ok(ParsedLog::Old(parsed)) => old_logs.push(*parsed),
            Err(reason) => skipped.push(skip(logs, index, reason)),
        }
    }

    if !new_logs.is_empty() {
        let mut new_skipped = Vec::new();
        if let Some(mut recovered) = apply_new_format(
            primary,
            &primary_block,
            new_logs,
            logs,
            budget,
            &mut new_skipped,
        ) {
            recovered.skipped.append(&mut skipped);
            recovered.skipped.append(&mut new_skipped);
            recovered.skipped.extend(old_logs.iter().map(|old| {
                skip(
                    logs,
                    old.index,
                    "old-format log not used because new-format logs were applied".to_string(),
                )
            }));
            recovered
                .skipped
                .sort_by_key(|skip| position(logs, &skip.path));
            return Ok(recovered);
        }
        skipped.append(&mut new_skipped);
    }

    if !old_logs.is_empty() {
        if let Some(mut recovered) = apply_old_format(
            primary,
            &primary_block,
            old_logs,
            logs,
            budget,
            &mut skipped,
        ) {
            recovered.skipped.append(&mut skipped);
            recovered
                .skipped
                .sort_by_key(|skip| position(logs, &skip.path));
            return Ok(recovered);
        }
    }

    skipped.sort_by_key(|skip| position(logs, &skip.path));
    Err(RecoveryError::NoApplicableLog { skipped })
}

fn skip(logs: &[TransactionLogInput], index: usize, reason: String) -> SkippedLog {
    SkippedLog {
        path: logs
            .get(index)
            .map(|log| log.path.clone())
            .unwrap_or_default(),
        reason,
    }
}

fn position(logs: &[TransactionLogInput], path: &PathBuf) -> usize {
    logs.iter()
        .position(|log| &log.path == path)
        .unwrap_or(usize::MAX)
}

/// The largest size (base block included) the recovered hive may reach. A hive only grows by
/// new hive bins, and every new bin is dirty, so it is written to a log: the growth cannot
/// exceed the bytes the logs hold. This keeps a crafted log (its hashes are unkeyed) from
/// making us allocate gigabytes.
fn growth_budget(primary: &[u8], block: &BaseBlock, logs: &[TransactionLogInput]) -> usize {
    let declared = BASE_BLOCK_SIZE.saturating_add(block.hive_bins_data_size as usize);
    let logged = logs
        .iter()
        .fold(0usize, |sum, log| sum.saturating_add(log.bytes.len()));
    primary
        .len()
        .max(declared)
        .max(BASE_BLOCK_SIZE)
        .saturating_add(logged)
}

fn read_u32(bytes: &[u8], offset: usize) -> Option<u32> {
    let field = bytes.get(offset..offset.checked_add(4)?)?;
    Some(u32::from_le_bytes([field[0], field[1], field[2], field[3]]))
}

fn read_u64(bytes: &[u8], offset: usize) -> Option<u64> {
    let low = read_u32(bytes, offset)?;
    let high = read_u32(bytes, offset.checked_add(4)?)?;
    Some(u64::from(low) | (u64::from(high) << 32))
}

fn write_u32(bytes: &mut [u8], offset: usize, value: u32) {
    if let Some(field) = offset
        .checked_add(4)
        .and_then(|end| bytes.get_mut(offset..end))
    {
        field.copy_from_slice(&value.to_le_bytes());
    }
}

/// Reads and validates one log, or says why it cannot be used.
fn parse_log(index: usize, bytes: &[u8], budget: usize) -> Result<ParsedLog<'_>, String> {
    if bytes.is_empty() {
        return Err("the file is empty".to_string());
    }
    let Some(head) = bytes.get(..LOG_BASE_BLOCK_SIZE) else {
        return Err(format!(
            "only {} bytes, less than the 512-byte base block a log starts with",
            bytes.len()
        ));
    };
    if !head.starts_with(b"regf") {
        return Err(format!(
            "no \"regf\" base block signature (starts with {:?})",
            String::from_utf8_lossy(&head[..4])
        ));
    }
    let mut base = [0u8; LOG_BASE_BLOCK_SIZE];
    base.copy_from_slice(head);
    match read_u32(head, FILE_TYPE) {
        Some(6) => {
            parse_new_log(index, base, bytes, budget).map(|log| ParsedLog::New(Box::new(log)))
        }
        Some(1 | 2) => OldFormatLog::parse(Cursor::new(bytes))
            .map(|log| ParsedLog::Old(Box::new(OldLog { index, base, log })))
            .map_err(|error| format!("invalid old-format (DIRT) log: {}", log_error_text(&error))),
        Some(0) => Err("base block file type 0 marks a primary hive, not a transaction log".into()),
        Some(other) => Err(format!(
            "base block file type {other} is not a transaction log (1, 2 or 6)"
        )),
        None => Err("the base block is cut short".to_string()),
    }
}

fn parse_new_log(
    index: usize,
    base: [u8; LOG_BASE_BLOCK_SIZE],
    bytes: &[u8],
    budget: usize,
) -> Result<NewLog<'_>, String> {
    // Only the base block goes through `NewFormatLog::parse` (signature, checksum, file type,
    // format, clustering factor, equal sequence numbers): its entry reader checks hashes with
    // the wrong seed.
    let header = NewFormatLog::parse(Cursor::new(&base[..])).map_err(|error| {
        format!(
            "invalid new-format log base block: {}",
            log_error_text(&error)
        )
    })?;
    let mut entries = Vec::new();
    let mut stopped = None;
    let mut offset = LOG_BASE_BLOCK_SIZE;
    while let Some(rest) = bytes.get(offset..) {
        if rest.len() < 4 || &rest[..4] != ENTRY_SIGNATURE {
            // Zero padding, remnants or the end of the file: the normal end of the entries.
            break;
        }
        match parse_entry(rest, offset, budget) {
            Ok((entry, size)) => {
                entries.push(entry);
                match offset.checked_add(size) {
                    Some(next) => offset = next,
                    None => break,
                }
            }
            Err(problem) => {
                stopped = Some(format!(
                    "the log entry at offset {offset:#x} is invalid: {problem}"
                ));
                break;
            }
        }
    }
    Ok(NewLog {
        index,
        bytes,
        base,
        start: header.base_block.primary_sequence,
        entries,
        stopped,
    })
}

/// Reads the log entry at the start of `rest` (which sits at `offset` in the log), checking
/// everything the spec lists, and returns it with its size.
fn parse_entry(rest: &[u8], offset: usize, budget: usize) -> Result<(Entry, usize), String> {
    let header = rest.get(..ENTRY_HEADER_SIZE).ok_or_else(|| {
        format!(
            "cut short: {} bytes left, less than an entry header",
            rest.len()
        )
    })?;
    let field = |at: usize| read_u32(header, at).unwrap_or(0);
    let size = field(4) as usize;
    let (flags, sequence, hive_bins_data_size, count) = (field(8), field(12), field(16), field(20));
    if size < ENTRY_HEADER_SIZE || !size.is_multiple_of(512) {
        return Err(format!("size {size} is not a positive multiple of 512"));
    }
    let data = rest.get(..size).ok_or_else(|| {
        format!(
            "it declares {size} bytes but the file ends after {} (cut short)",
            rest.len()
        )
    })?;
    let hash1 = read_u64(header, 24).unwrap_or(0);
    let hash2 = read_u64(header, 32).unwrap_or(0);
    let computed1 = regf::marvin32_hash(&data[ENTRY_HEADER_SIZE..], MARVIN32_SEED);
    if hash1 != computed1 {
        return Err(format!(
            "Hash-1 mismatch (stored {hash1:#018x}, computed {computed1:#018x})"
        ));
    }
    let computed2 = regf::marvin32_hash(&data[..32], MARVIN32_SEED);
    if hash2 != computed2 {
        return Err(format!(
            "Hash-2 mismatch (stored {hash2:#018x}, computed {computed2:#018x})"
        ));
    }
    if hive_bins_data_size == 0 || hive_bins_data_size % 4096 != 0 {
        return Err(format!(
            "hive bins data size {hive_bins_data_size} is not a positive multiple of 4096"
        ));
    }
    if hive_bins_data_size > MAX_HIVE_BINS_DATA_SIZE
        || BASE_BLOCK_SIZE.saturating_add(hive_bins_data_size as usize) > budget
    {
        return Err(format!(
            "hive bins data size {hive_bins_data_size} is more than the hive and its logs can hold"
        ));
    }
    let references_end = (count as usize)
        .checked_mul(8)
        .and_then(|length| length.checked_add(ENTRY_HEADER_SIZE))
        .filter(|end| *end <= size)
        .ok_or_else(|| format!("{count} dirty page references do not fit in {size} bytes"))?;
    let mut pages = Vec::new();
    let mut page_start = references_end;
    for reference in data[ENTRY_HEADER_SIZE..references_end].chunks_exact(8) {
        let page_offset = read_u32(reference, 0).unwrap_or(0);
        let page_size = read_u32(reference, 4).unwrap_or(0);
        let fits_hive = page_offset
            .checked_add(page_size)
            .is_some_and(|end| end <= hive_bins_data_size);
        if page_size == 0 || !fits_hive {
            return Err(format!(
                "dirty page at {page_offset:#x} of {page_size} bytes lies outside the {hive_bins_data_size} bytes of hive bins"
            ));
        }
        let page_end = page_start
            .checked_add(page_size as usize)
            .filter(|end| *end <= size)
            .ok_or_else(|| format!("the dirty pages run past the end of the {size}-byte entry"))?;
        let in_log = offset
            .checked_add(page_start)
            .zip(offset.checked_add(page_end))
            .map(|(start, end)| start..end)
            .ok_or_else(|| "page position overflows".to_string())?;
        pages.push((page_offset, in_log));
        page_start = page_end;
    }
    Ok((
        Entry {
            sequence,
            flags,
            hive_bins_data_size,
            pages,
        },
        size,
    ))
}

#[cfg(test)]
mod tests;
