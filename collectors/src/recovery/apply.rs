//! Applies parsed transaction logs to a copy of the primary hive: which new-format entries
//! continue its sequence, growing the hive bins, writing dirty pages and rebuilding the base
//! block; or, failing that, the old-format log whose dirty vector matches.

use super::*;

/// A run of consecutive entries from one log, ready to apply.
struct Run<'a> {
    log: &'a NewLog<'a>,
    entries: Vec<&'a Entry>,
    /// Why the run ends before the log's last entry, if it does.
    cut: Option<String>,
}

impl Run<'_> {
    fn first(&self) -> Option<u32> {
        self.entries.first().map(|entry| entry.sequence)
    }

    fn last(&self) -> Option<u32> {
        self.entries.last().map(|entry| entry.sequence)
    }
}

/// The entries of `log` that form its sequence: from the entry numbered like the log's base
/// block, while the numbers go up by one and the entries are sane, less the entries the primary
/// already holds (numbered below `minimum`, when given).
fn run_of<'a>(log: &'a NewLog<'a>, minimum: Option<u32>) -> Result<Run<'a>, String> {
    if log.entries.is_empty() {
        return Err(match &log.stopped {
            Some(reason) => format!("no valid log entries: {reason}"),
            None => "the log holds no entries".to_string(),
        });
    }
    let first_index = log
        .entries
        .iter()
        .position(|entry| entry.sequence == log.start)
        .ok_or_else(|| {
            format!(
                "no entry carries the log's starting sequence number {} (entries {})",
                log.start,
                sequence_span(log.entries.iter())
            )
        })?;
    let mut entries: Vec<&Entry> = Vec::new();
    let mut cut = None;
    let mut expected = Some(log.start);
    for entry in &log.entries[first_index..] {
        if Some(entry.sequence) != expected {
            cut = Some(format!(
                "entry {} does not continue the sequence after {} and was left out with any after it",
                entry.sequence,
                entries.last().map_or(log.start, |entry| entry.sequence),
            ));
            break;
        }
        entries.push(entry);
        expected = entry.sequence.checked_add(1);
    }
    if cut.is_none() {
        cut.clone_from(&log.stopped);
    }
    if let Some(minimum) = minimum {
        let span = sequence_span(entries.iter().copied());
        let before = entries.len();
        entries.retain(|entry| entry.sequence >= minimum);
        if entries.is_empty() && before > 0 {
            return Err(format!(
                "holds only entries the primary already has (sequence numbers {span}, primary at {minimum})"
            ));
        }
    }
    if entries.is_empty() {
        return Err(cut.unwrap_or_else(|| "no usable log entries".to_string()));
    }
    Ok(Run { log, entries, cut })
}

fn sequence_span<'a>(entries: impl Iterator<Item = &'a Entry>) -> String {
    let sequences: Vec<u32> = entries.map(|entry| entry.sequence).collect();
    match (sequences.first(), sequences.last()) {
        (Some(first), Some(last)) if first == last => first.to_string(),
        (Some(first), Some(last)) => format!("{first}..={last}"),
        _ => "none".to_string(),
    }
}

pub(super) fn apply_new_format(
    primary: &[u8],
    block: &BaseBlock,
    new_logs: Vec<NewLog<'_>>,
    logs: &[TransactionLogInput],
    budget: usize,
    skipped: &mut Vec<SkippedLog>,
) -> Option<Recovered> {
    let primary_valid = block.checksum_ok();
    let minimum = primary_valid.then_some(block.secondary_sequence);
    let mut runs = Vec::new();
    for log in &new_logs {
        match run_of(log, minimum) {
            Ok(run) => runs.push(run),
            Err(reason) => skipped.push(skip(logs, log.index, reason)),
        }
    }
    if runs.is_empty() {
        return None;
    }
    // Earliest entries first; between equal starts, the caller's order.
    runs.sort_by_key(|run| (run.first(), run.log.index));

    let mut chosen: Vec<Run> = Vec::new();
    let base_block: [u8; LOG_BASE_BLOCK_SIZE];
    if primary_valid {
        let mut base = [0u8; LOG_BASE_BLOCK_SIZE];
        base.copy_from_slice(primary.get(..LOG_BASE_BLOCK_SIZE)?);
        base_block = base;
        for mut run in runs {
            let Some(last) = chosen.last().and_then(Run::last) else {
                chosen.push(run);
                continue;
            };
            let (Some(first), Some(run_last)) = (run.first(), run.last()) else {
                continue;
            };
            if run_last <= last {
                skipped.push(skip(
                    logs,
                    run.log.index,
                    format!(
                        "its entries ({}) were already applied from another log",
                        sequence_span(run.entries.iter().copied())
                    ),
                ));
            } else if first > last.saturating_add(1) {
                skipped.push(skip(
                    logs,
                    run.log.index,
                    format!(
                        "its entries start at {first} but the entries applied before end at {last}, leaving a gap"
                    ),
                ));
            } else {
                run.entries.retain(|entry| entry.sequence > last);
                chosen.push(run);
            }
        }
    } else {
        // A bad primary base block is rebuilt from the log with the latest entries, and only
        // that log is applied (spec, "Multiple transaction log files", new format).
        let latest = runs
            .iter()
            .enumerate()
            .max_by_key(|(_, run)| (run.log.start, std::cmp::Reverse(run.log.index)))
            .map(|(position, _)| position)?;
        let run = runs.swap_remove(latest);
        for other in runs {
            skipped.push(skip(
                logs,
                other.log.index,
                "the primary's base block is invalid, so only the log with the latest entries is used"
                    .to_string(),
            ));
        }
        base_block = run.log.base;
        chosen.push(run);
    }

    // No crate applies transaction logs to a hive, so the write-back is done here.
    let mut bytes = primary.to_vec();
    if bytes.len() < BASE_BLOCK_SIZE {
        bytes.resize(BASE_BLOCK_SIZE, 0);
    }
    let mut applied_logs = Vec::new();
    let mut partial = Vec::new();
    let mut applied_units = 0u32;
    let mut last_entry: Option<&Entry> = None;
    for run in &chosen {
        let mut applied_here = 0u32;
        for entry in &run.entries {
            if let Err(problem) = apply_entry(&mut bytes, run.log.bytes, entry, budget) {
                partial.push(skip(logs, run.log.index, problem));
                break;
            }
            applied_here += 1;
            last_entry = Some(entry);
        }
        if applied_here > 0 {
            applied_logs.push(logs.get(run.log.index)?.path.clone());
            applied_units = applied_units.saturating_add(applied_here);
            if let Some(cut) = &run.cut {
                partial.push(skip(logs, run.log.index, cut.clone()));
            }
        }
    }
    let Some(last_entry) = last_entry else {
        skipped.append(&mut partial);
        return None;
    };

    if let Some(head) = bytes.get_mut(..LOG_BASE_BLOCK_SIZE) {
        head.copy_from_slice(&base_block);
        write_u32(head, FILE_TYPE, 0);
        write_u32(head, PRIMARY_SEQUENCE, last_entry.sequence);
        write_u32(head, SECONDARY_SEQUENCE, last_entry.sequence);
        write_u32(head, HIVE_BINS_DATA_SIZE, last_entry.hive_bins_data_size);
        // Only bit 0 of the flags is carried by log entries (spec, log entries note 11).
        let flags = read_u32(head, FLAGS).unwrap_or(0);
        write_u32(head, FLAGS, (flags & !1) | (last_entry.flags & 1));
        let checksum = base_block_checksum(head);
        write_u32(head, CHECKSUM, checksum);
    }
    Some(Recovered {
        bytes,
        applied_logs,
        applied_units,
        sequence: last_entry.sequence,
        skipped: Vec::new(),
        partial,
    })
}

/// Grows `bytes` to hold the entry's hive bins and writes its pages at 4096 + page offset.
fn apply_entry(
    bytes: &mut Vec<u8>,
    log: &[u8],
    entry: &Entry,
    budget: usize,
) -> Result<(), String> {
    let needed = BASE_BLOCK_SIZE
        .checked_add(entry.hive_bins_data_size as usize)
        .filter(|needed| *needed <= budget)
        .ok_or_else(|| {
            format!(
                "entry {} declares more hive bins than the hive and its logs can hold",
                entry.sequence
            )
        })?;
    if bytes.len() < needed {
        bytes.resize(needed, 0);
    }
    for (offset, range) in &entry.pages {
        let outside = || {
            format!(
                "entry {} has a page at {offset:#x} outside the hive bins or the log",
                entry.sequence
            )
        };
        let page = log.get(range.clone()).ok_or_else(outside)?;
        write_page(bytes, *offset, page).map_err(|()| outside())?;
    }
    Ok(())
}

/// Writes `page` at `4096 + offset`, which must already lie inside `bytes`.
pub(super) fn write_page(bytes: &mut [u8], offset: u32, page: &[u8]) -> Result<(), ()> {
    let start = BASE_BLOCK_SIZE.checked_add(offset as usize).ok_or(())?;
    let end = start.checked_add(page.len()).ok_or(())?;
    bytes.get_mut(start..end).ok_or(())?.copy_from_slice(page);
    Ok(())
}

pub(super) fn apply_old_format(
    primary: &[u8],
    block: &BaseBlock,
    old_logs: Vec<OldLog>,
    logs: &[TransactionLogInput],
    budget: usize,
    skipped: &mut Vec<SkippedLog>,
) -> Option<Recovered> {
    let primary_valid = block.checksum_ok();
    let primary_written = read_u64(primary, LAST_WRITTEN).unwrap_or(0);
    let mut candidates = Vec::new();
    for old in old_logs {
        let size = old.log.base_block.hive_bins_data_size;
        if old.log.dirty_pages.is_empty() {
            skipped.push(skip(
                logs,
                old.index,
                "its dirty vector marks no pages".to_string(),
            ));
        } else if size > MAX_HIVE_BINS_DATA_SIZE
            || BASE_BLOCK_SIZE.saturating_add(size as usize) > budget
        {
            skipped.push(skip(
                logs,
                old.index,
                format!("it declares {size} bytes of hive bins, more than the hive and its logs can hold"),
            ));
        } else if primary_valid && old.log.base_block.last_written != primary_written {
            skipped.push(skip(
                logs,
                old.index,
                format!(
                    "its base block timestamp {:#018x} does not match the primary's {primary_written:#018x}, so it belongs to another write",
                    old.log.base_block.last_written
                ),
            ));
        } else {
            candidates.push(old);
        }
    }
    // Latest write first; between equals, the caller's order (.LOG, .LOG1, .LOG2).
    let chosen = candidates
        .iter()
        .enumerate()
        .max_by_key(|(_, old)| {
            (
                old.log.base_block.last_written,
                old.log.base_block.primary_sequence,
                std::cmp::Reverse(old.index),
            )
        })
        .map(|(position, _)| position)?;
    let old = candidates.swap_remove(chosen);
    for other in candidates {
        skipped.push(skip(
            logs,
            other.index,
            "another old-format log holds a later write".to_string(),
        ));
    }

    // No crate applies transaction logs to a hive, so the write-back is done here.
    let mut bytes = primary.to_vec();
    let needed = BASE_BLOCK_SIZE.saturating_add(old.log.base_block.hive_bins_data_size as usize);
    if bytes.len() < needed {
        bytes.resize(needed, 0);
    }
    let mut applied_units = 0u32;
    let mut partial = Vec::new();
    for page in &old.log.dirty_pages {
        if write_page(&mut bytes, page.offset, &page.data).is_err() {
            partial.push(skip(
                logs,
                old.index,
                format!(
                    "the dirty page at {:#x} lies outside the hive bins",
                    page.offset
                ),
            ));
            break;
        }
        applied_units = applied_units.saturating_add(1);
    }
    if applied_units == 0 {
        skipped.append(&mut partial);
        return None;
    }
    let sequence = old.log.base_block.primary_sequence;
    if let Some(head) = bytes.get_mut(..LOG_BASE_BLOCK_SIZE) {
        head.copy_from_slice(&old.base);
        write_u32(head, FILE_TYPE, 0);
        write_u32(head, PRIMARY_SEQUENCE, sequence);
        write_u32(head, SECONDARY_SEQUENCE, sequence);
        let checksum = base_block_checksum(head);
        write_u32(head, CHECKSUM, checksum);
    }
    Some(Recovered {
        bytes,
        applied_logs: vec![logs.get(old.index)?.path.clone()],
        applied_units,
        sequence,
        skipped: Vec::new(),
        partial,
    })
}
