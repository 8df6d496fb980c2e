//! The records of one chunk: the wanted ones rendered through the evtx crate, the others
//! counted, and damaged or half-written ones skipped with a reason.

use std::collections::HashMap;
use std::sync::Arc;

use ::evtx::err::{ChunkError, DeserializationError, EvtxError};
use ::evtx::{EvtxChunkData, EvtxRecord};

use super::chunks::{ChunkOutcome, Context};
use super::normalise::normalise_json;
use super::raw::{
    holds_false_record, prefilter, RawHead, SystemSlots, END_OF_STREAM, FRAGMENT_HEADER_SIZE,
    RECORD_HEADER_SIZE, RECORD_MAGIC,
};
use super::{EventSelection, CHUNK_SIZE};

/// Whether every byte is zero; 64 bytes at a time, which the compiler turns into vector
/// instructions.
pub(super) fn all_zero(bytes: &[u8]) -> bool {
    let mut blocks = bytes.chunks_exact(64);
    blocks.all(|block| block.iter().fold(0, |any, byte| any | byte) == 0)
        && blocks.remainder().iter().all(|byte| *byte == 0)
}

/// What reading the wanted records of a chunk came to.
pub(super) enum Wanted {
    /// Read, with the other records counted from the raw pass.
    Read(ChunkOutcome),
    /// The evtx crate could not read the chunk; the reason says why.
    Unreadable(String),
    /// The evtx crate did not find the records the raw pass found, which only a chunk laid out
    /// in an unusual way (or built to mislead) can cause: the chunk is read in full instead.
    Unexpected,
}

/// Renders the wanted records of a chunk the raw pass read (`heads`, with `counted` counting
/// the others), through the evtx crate. The evtx crate builds every record of a chunk before
/// it can render one, so the records that are not wanted are hidden from it in this copy of
/// the chunk: their signature is spoiled, and the crate goes on to the next record that has
/// one (the template definitions and names they hold for later records stay in place). That
/// needs the records that are not wanted to hold no signature of their own, which a false
/// record could start at; when one does, they end right after their BinXML fragment header
/// instead, which costs more (the crate still makes room for their content).
pub(super) fn read_wanted(
    context: &Context<'_>,
    number: u64,
    data: &mut EvtxChunkData,
    heads: &[RawHead],
    counted: ChunkOutcome,
) -> Wanted {
    let ids = (
        data.header.first_event_record_id,
        data.header.last_event_record_id,
    );
    let live_end = (data.header.free_space_offset as usize).min(data.data.len());
    let spoil_signatures = !heads.iter().filter(|head| !head.wanted).any(|head| {
        holds_false_record(
            &data.data,
            head.start as usize + 1,
            head.end as usize,
            ids,
            live_end,
        )
    });
    // The byte changed in each record not wanted, and its value.
    let changed = |head: &RawHead| -> (usize, u8) {
        if spoil_signatures {
            (head.start as usize, RECORD_MAGIC[0])
        } else {
            let token = head.start as usize + RECORD_HEADER_SIZE + FRAGMENT_HEADER_SIZE;
            (token, data.data[token])
        }
    };
    let changes: Vec<(usize, u8)> = heads
        .iter()
        .filter(|head| !head.wanted)
        .map(changed)
        .collect();
    for &(at, _) in &changes {
        data.data[at] = if spoil_signatures {
            !RECORD_MAGIC[0]
        } else {
            END_OF_STREAM
        };
    }
    let result = render_wanted(context, number, data, heads, counted, spoil_signatures);
    if matches!(result, Wanted::Unexpected) {
        for (at, byte) in changes {
            data.data[at] = byte;
        }
    }
    result
}

/// Renders the wanted records of a chunk whose other records [`read_wanted`] hid.
fn render_wanted(
    context: &Context<'_>,
    number: u64,
    data: &mut EvtxChunkData,
    heads: &[RawHead],
    mut outcome: ChunkOutcome,
    spoil_signatures: bool,
) -> Wanted {
    let first_id = data.header.first_event_record_id;
    let mut chunk = match data.parse(Arc::clone(&context.settings)) {
        Ok(chunk) => chunk,
        Err(error) => return Wanted::Unreadable(unreadable_chunk(number, &error)),
    };
    // The index of the record with this ID, and whether it is wanted.
    let by_id = |record_id: u64| -> Option<(usize, bool)> {
        let index = usize::try_from(record_id.checked_sub(first_id)?).ok()?;
        heads.get(index).map(|head| (index, head.wanted))
    };
    let mut seen = vec![false; heads.len()];
    let mut layouts = HashMap::new();
    for item in chunk.iter() {
        let record = match item {
            Ok(record) => record,
            Err(error) => {
                match &error {
                    // Where a hidden record was.
                    EvtxError::FailedToReadRecordAt { offset, .. }
                        if heads
                            .binary_search_by_key(offset, |head| u64::from(head.start))
                            .is_ok_and(|index| !heads[index].wanted) => {}
                    // A record whose content does not parse: a hidden one, cut short, or a
                    // wanted one, damaged.
                    EvtxError::FailedToParseRecord { record_id, .. } => match by_id(*record_id) {
                        Some((_, false)) if !spoil_signatures => {}
                        Some((index, true)) if !seen[index] => {
                            seen[index] = true;
                            outcome.skipped += 1;
                            outcome.reasons.push(describe_record_error(number, &error));
                        }
                        _ => return Wanted::Unexpected,
                    },
                    _ => return Wanted::Unexpected,
                }
                continue;
            }
        };
        let start = record
            .binxml_offset
            .checked_sub(RECORD_HEADER_SIZE as u64)
            .and_then(|start| u32::try_from(start).ok());
        match by_id(record.event_record_id) {
            Some((index, wanted)) if !seen[index] && Some(heads[index].start) == start => {
                seen[index] = true;
                if !wanted {
                    // Cut short: counted from the raw pass.
                    continue;
                }
            }
            _ => return Wanted::Unexpected,
        }
        read_record(context, number, record, true, &mut layouts, &mut outcome);
    }
    let missed = heads
        .iter()
        .zip(&seen)
        .any(|(head, seen)| head.wanted && !seen);
    if missed {
        return Wanted::Unexpected;
    }
    Wanted::Read(outcome)
}

/// Why the evtx crate could not read a chunk.
fn unreadable_chunk(number: u64, error: &ChunkError) -> String {
    let what = match error {
        ChunkError::FailedToBuildStringCache { source } => {
            format!("unreadable string table ({source})")
        }
        other => other.to_string(),
    };
    format!("chunk {number}: {what}; chunk skipped")
}

/// Reads every record of a chunk through the evtx crate, pre-filtering each, into `outcome`,
/// which holds this chunk alone.
pub(super) fn read_every_record(
    context: &Context<'_>,
    number: u64,
    data: &mut EvtxChunkData,
    truncated: bool,
    outcome: &mut ChunkOutcome,
) {
    let (first_id, last_id) = (
        data.header.first_event_record_id,
        data.header.last_event_record_id,
    );
    let mut chunk = match data.parse(Arc::clone(&context.settings)) {
        Ok(chunk) => chunk,
        Err(error) => {
            outcome.chunks_skipped += 1;
            outcome.reasons.push(unreadable_chunk(number, &error));
            return;
        }
    };
    let mut layouts: HashMap<u32, Option<SystemSlots>> = HashMap::new();
    for item in chunk.iter() {
        let record = match item {
            Ok(record) => record,
            Err(error) => {
                outcome.skipped += 1;
                outcome.reasons.push(describe_record_error(number, &error));
                continue;
            }
        };
        if !size_copy_matches(&record) {
            outcome.skipped += 1;
            outcome.reasons.push(format!(
                "chunk {number}, record {}: incomplete (the copy of its size at its end is missing: written only in part); skipped",
                record.event_record_id
            ));
            continue;
        }
        read_record(context, number, record, false, &mut layouts, outcome);
    }

    // Records past the end of a truncated file: the chunk header says how many it held.
    if truncated && first_id <= last_id {
        let declared = last_id - first_id + 1;
        // `outcome` holds this chunk alone.
        let seen = outcome.read + outcome.skipped;
        // A chunk holds at most a few thousand records; a larger range is a damaged header.
        if declared <= (CHUNK_SIZE as u64) / 28 && declared > seen {
            outcome.skipped += declared - seen;
            outcome.reasons.push(format!(
                "chunk {number}: {} records past the end of the file were lost",
                declared - seen
            ));
        }
    }
}

/// Reads one record: pre-filters it (unless the raw pass found it wanted), renders it when
/// wanted (or when the pre-filter cannot tell), and counts it.
fn read_record(
    context: &Context<'_>,
    chunk_number: u64,
    record: EvtxRecord<'_>,
    known_wanted: bool,
    layouts: &mut HashMap<u32, Option<SystemSlots>>,
    outcome: &mut ChunkOutcome,
) {
    // With everything selected, every record is rendered anyway.
    if !known_wanted && *context.selection != EventSelection::Everything {
        if let Some(head) = prefilter(&record, layouts) {
            if !context
                .selection
                .wants(&head.channel, &head.provider, head.id)
            {
                outcome.count(&head.channel, head.id, &head.computer);
                return;
            }
        }
    }

    let record_id = record.event_record_id;
    let timestamp = record.timestamp;
    outcome.rendered += 1;
    let rendered = record
        .into_json_bytes()
        .map_err(|error| error_detail(&error))
        .and_then(|rendered| {
            normalise_json(
                &rendered.data,
                record_id,
                &|| timestamp.to_string(),
                &context.file_text,
            )
            .map_err(str::to_string)
        });
    let event = match rendered {
        Ok(event) => event,
        Err(detail) => {
            outcome.skipped += 1;
            outcome.reasons.push(format!(
                "chunk {chunk_number}, record {record_id}: cannot be rendered ({detail})"
            ));
            return;
        }
    };
    outcome.count(&event.channel, event.id, &event.computer);
    if context
        .selection
        .wants(&event.channel, &event.provider, event.id)
    {
        outcome.records.push(event);
    }
}

/// Whether the copy of the record's size at its end matches its header. A record written only
/// in part (typically while the log was being copied) has its header but not the copy, nor all
/// of its values.
fn size_copy_matches(record: &EvtxRecord<'_>) -> bool {
    let data = record.chunk.data;
    let Some(start) = record.binxml_offset.checked_sub(RECORD_HEADER_SIZE as u64) else {
        return false;
    };
    let start = start as usize;
    let read_u32 = |at: usize| -> Option<u32> {
        let bytes = data.get(at..at.checked_add(4)?)?;
        Some(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    };
    let Some(size) = read_u32(start + 4) else {
        return false;
    };
    let Some(end) = start.checked_add(size as usize) else {
        return false;
    };
    end >= 4 && read_u32(end - 4) == Some(size)
}

/// A short description of why a record could not be read, with where it is.
fn describe_record_error(chunk_number: u64, error: &EvtxError) -> String {
    match error {
        EvtxError::FailedToReadRecordAt { offset, source, .. } => {
            let what = match source.as_ref() {
                EvtxError::InvalidDataSize { length: 0, .. } => "zero-size record".to_string(),
                EvtxError::InvalidDataSize { length, .. } => {
                    format!("record size {length} is too small")
                }
                EvtxError::DeserializationError(
                    DeserializationError::InvalidEvtxRecordHeaderMagic { .. },
                ) => "damaged record header (bad signature)".to_string(),
                other => error_detail(other),
            };
            format!("chunk {chunk_number}, offset {offset:#x}: {what}; skipped to the next record")
        }
        EvtxError::FailedToParseRecord { record_id, source } => format!(
            "chunk {chunk_number}, record {record_id}: content does not parse ({})",
            error_detail(source)
        ),
        other => format!("chunk {chunk_number}: {}", error_detail(other)),
    }
}

/// The innermost useful message of an evtx error.
fn error_detail(error: &EvtxError) -> String {
    match error {
        EvtxError::DeserializationError(inner) => inner.to_string(),
        EvtxError::SerializationError(inner) => inner.to_string(),
        EvtxError::FailedToParseRecord { source, .. }
        | EvtxError::FailedToReadRecordAt { source, .. } => error_detail(source),
        EvtxError::FailedToParseChunk { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}
