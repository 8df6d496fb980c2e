//! Reading an EVTX file's chunks: where they are, reading each one (on its own, in parallel
//! when asked) and merging what each held, in chunk order.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use ::evtx::err::{ChunkError, DeserializationError};
use ::evtx::{EvtxChunkData, EvtxFileHeader, ParserSettings};
use rayon::prelude::*;

use super::raw::{raw_heads, RawHead, RawScratch, Texts};
use super::records::{all_zero, read_every_record, read_wanted, Wanted};
use super::{Damage, EventRecord, EventSelection, CHUNK_MAGIC, CHUNK_SIZE, FILE_HEADER_SIZE};
use crate::error::EvidenceError;

/// Where the chunks are.
pub(super) struct ChunkPlan {
    /// Chunks present in full or in part: (number, bytes available).
    pub(super) chunks: Vec<(u64, usize)>,
    /// Chunks the header counts that the file does not hold.
    pub(super) missing_chunks: u64,
}

/// Lays out the chunks of `file`, of `length` bytes, noting truncation. Zero bytes after the
/// last whole chunk are padding (a copy made in whole clusters), not a chunk cut short: the
/// header's chunk count still tells whether chunks are missing.
pub(super) fn plan_chunks(
    file: &File,
    length: u64,
    header: &EvtxFileHeader,
    damage: &mut Damage,
) -> ChunkPlan {
    if length < FILE_HEADER_SIZE {
        damage.reason(format!(
            "the file is cut short: it has {length} bytes, less than its {FILE_HEADER_SIZE}-byte header block"
        ));
        return ChunkPlan {
            chunks: Vec::new(),
            missing_chunks: u64::from(header.chunk_count),
        };
    }
    let body = length - FILE_HEADER_SIZE;
    let full = body / CHUNK_SIZE as u64;
    let partial = (body % CHUNK_SIZE as u64) as usize;
    let mut chunks: Vec<(u64, usize)> = (0..full).map(|number| (number, CHUNK_SIZE)).collect();
    let padding = || {
        let mut tail = vec![0; partial];
        read_at(file, &mut tail, FILE_HEADER_SIZE + full * CHUNK_SIZE as u64)
            .is_ok_and(|()| all_zero(&tail))
    };
    if partial > 0 && !padding() {
        damage.reason(format!(
            "the file is cut short: its last chunk ({full}) has {partial} of {CHUNK_SIZE} bytes; the records in them were read"
        ));
        chunks.push((full, partial));
    }
    let present = chunks.len() as u64;
    let declared = u64::from(header.chunk_count);
    let missing_chunks = declared.saturating_sub(present);
    if missing_chunks > 0 {
        damage.reason(format!(
            "the file is cut short: its header counts {declared} chunks but the file holds {present}"
        ));
    }
    ChunkPlan {
        chunks,
        missing_chunks,
    }
}

/// What every chunk reader shares.
pub(super) struct Context<'a> {
    pub(super) path: &'a Path,
    /// The path as events name it.
    pub(super) file_text: String,
    pub(super) selection: &'a EventSelection,
    pub(super) settings: Arc<ParserSettings>,
}

/// What reading a run of chunks found.
#[derive(Default)]
pub(super) struct ChunkOutcome {
    pub(super) records: Vec<EventRecord>,
    /// Records per channel, then per event ID.
    pub(super) counts: BTreeMap<String, BTreeMap<u32, u64>>,
    pub(super) channels: BTreeSet<String>,
    pub(super) computers: BTreeSet<String>,
    pub(super) read: u64,
    pub(super) skipped: u64,
    pub(super) chunks_skipped: u64,
    pub(super) rendered: u64,
    pub(super) reasons: Vec<String>,
}

impl ChunkOutcome {
    /// Adds what a later chunk found.
    pub(super) fn merge(&mut self, other: ChunkOutcome) {
        self.records.extend(other.records);
        for (channel, ids) in other.counts {
            match self.counts.get_mut(&channel) {
                Some(mine) => {
                    for (id, count) in ids {
                        *mine.entry(id).or_default() += count;
                    }
                }
                None => {
                    self.counts.insert(channel, ids);
                }
            }
        }
        self.channels.extend(other.channels);
        self.computers.extend(other.computers);
        self.read += other.read;
        self.skipped += other.skipped;
        self.chunks_skipped += other.chunks_skipped;
        self.rendered += other.rendered;
        self.reasons.extend(other.reasons);
    }

    /// Counts one record read.
    pub(super) fn count(&mut self, channel: &str, id: u32, computer: &str) {
        self.read += 1;
        // Looked up by reference first: this runs once per record.
        let ids = match self.counts.get_mut(channel) {
            Some(ids) => ids,
            None => self.counts.entry(channel.to_string()).or_default(),
        };
        *ids.entry(id).or_default() += 1;
        if !self.channels.contains(channel) {
            self.channels.insert(channel.to_string());
        }
        if !self.computers.contains(computer) {
            self.computers.insert(computer.to_string());
        }
    }

    /// Counts the records the raw pass read, tallied by string index first so that nothing is
    /// allocated per record.
    fn count_heads<'h>(&mut self, heads: impl Iterator<Item = &'h RawHead>, texts: &Texts<'_>) {
        // (channel, event ID, records), the last one found first.
        let mut tally: Vec<(u32, u32, u64)> = Vec::new();
        let mut computers = vec![false; texts.len()];
        for head in heads {
            self.read += 1;
            computers[head.computer as usize] = true;
            match tally
                .iter()
                .position(|&(channel, id, _)| channel == head.channel && id == head.id)
            {
                Some(0) => tally[0].2 += 1,
                Some(at) => {
                    tally[at].2 += 1;
                    tally.swap(0, at);
                }
                None => {
                    tally.push((head.channel, head.id, 1));
                    let last = tally.len() - 1;
                    tally.swap(0, last);
                }
            }
        }
        for (channel, id, records) in tally {
            let channel = texts.get(channel);
            let ids = match self.counts.get_mut(channel) {
                Some(ids) => ids,
                None => self.counts.entry(channel.to_string()).or_default(),
            };
            *ids.entry(id).or_default() += records;
            if !self.channels.contains(channel) {
                self.channels.insert(channel.to_string());
            }
        }
        for (index, seen) in computers.into_iter().enumerate() {
            let computer = texts.get(index as u32);
            if seen && !self.computers.contains(computer) {
                self.computers.insert(computer.to_string());
            }
        }
    }
}

/// What one reader keeps from one chunk to the next.
#[derive(Default)]
struct Scratch {
    /// The chunk buffer, [`CHUNK_SIZE`] bytes once allocated.
    buffer: Vec<u8>,
    heads: Vec<RawHead>,
    raw: RawScratch,
}

/// Reads the planned chunks of `file`, each on its own; in parallel on the current rayon pool
/// when `parallel`. The outcomes come back in chunk order; an error reading the file is the
/// first chunk's that failed.
pub(super) fn read_chunks(
    context: &Context<'_>,
    file: &File,
    chunks: &[(u64, usize)],
    parallel: bool,
) -> Result<Vec<ChunkOutcome>, EvidenceError> {
    let read = |scratch: &mut Scratch, &(number, available): &(u64, usize)| {
        read_one_chunk(context, file, number, available, scratch)
    };
    let outcomes: Vec<Result<ChunkOutcome, EvidenceError>> =
        if parallel && chunks.len() > 1 && POSITIONED_READS {
            chunks.par_iter().map_init(Scratch::default, read).collect()
        } else {
            let mut scratch = Scratch::default();
            chunks
                .iter()
                .map(|chunk| read(&mut scratch, chunk))
                .collect()
        };
    outcomes.into_iter().collect()
}

/// Whether [`read_at`] reads without moving a shared file position, so that several tasks can
/// read one file at once.
const POSITIONED_READS: bool = cfg!(any(unix, windows));

/// Reads `buffer.len()` bytes of `file` from `offset`.
fn read_at(file: &File, buffer: &mut [u8], offset: u64) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(file, buffer, offset)
    }
    #[cfg(windows)]
    {
        let mut done = 0;
        while done < buffer.len() {
            let read = std::os::windows::fs::FileExt::seek_read(
                file,
                &mut buffer[done..],
                offset + done as u64,
            )?;
            if read == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            done += read;
        }
        Ok(())
    }
    #[cfg(not(any(unix, windows)))]
    {
        use std::io::Seek;
        let mut file = file;
        file.seek(std::io::SeekFrom::Start(offset))?;
        file.read_exact(buffer)
    }
}

/// Reads chunk `number`, of which the file holds `available` bytes.
fn read_one_chunk(
    context: &Context<'_>,
    file: &File,
    number: u64,
    available: usize,
    scratch: &mut Scratch,
) -> Result<ChunkOutcome, EvidenceError> {
    let mut bytes = std::mem::take(&mut scratch.buffer);
    bytes.resize(CHUNK_SIZE, 0);
    read_at(
        file,
        &mut bytes[..available],
        FILE_HEADER_SIZE + number * CHUNK_SIZE as u64,
    )
    .map_err(|error| EvidenceError::Io {
        path: context.path.to_path_buf(),
        error,
    })?;
    // A chunk the file ends inside is read zero-padded.
    bytes[available..].fill(0);
    // The evtx crate is not expected to panic on bad input, but one bad chunk must never
    // take the scan down: a panic while reading a chunk skips that chunk.
    let mut outcome = ChunkOutcome::default();
    // Caught quietly: the chunk's reason says what happened, and stderr stays clean.
    let result = crate::guard::isolate(|| {
        read_chunk(
            context,
            number,
            bytes,
            available < CHUNK_SIZE,
            &mut outcome,
            scratch,
        )
    });
    match result {
        Ok(Some(bytes)) => scratch.buffer = bytes,
        Ok(None) => {}
        Err(_) => {
            outcome = ChunkOutcome::default();
            outcome.chunks_skipped += 1;
            outcome.reasons.push(format!(
                "chunk {number}: the evtx parser failed on it unexpectedly; chunk skipped"
            ));
        }
    }
    Ok(outcome)
}

/// Reads one chunk (zero-padded when the file ends inside it) into `outcome`, which is fresh.
/// Gives the chunk's buffer back for the next chunk, when it still has it.
fn read_chunk(
    context: &Context<'_>,
    number: u64,
    bytes: Vec<u8>,
    truncated: bool,
    outcome: &mut ChunkOutcome,
    scratch: &mut Scratch,
) -> Option<Vec<u8>> {
    // Never-used chunks of a preallocated log are all zeros.
    if !bytes.starts_with(CHUNK_MAGIC) && all_zero(&bytes) {
        return Some(bytes);
    }
    let mut data = match EvtxChunkData::new(bytes, false) {
        Ok(data) => data,
        Err(error) => {
            outcome.chunks_skipped += 1;
            let what = match &error {
                ChunkError::FailedToParseChunkHeader(
                    DeserializationError::InvalidEvtxChunkMagic { .. },
                ) => "bad chunk signature".to_string(),
                ChunkError::FailedToParseChunkHeader(inner) => {
                    format!("unreadable chunk header ({inner})")
                }
                other => other.to_string(),
            };
            outcome
                .reasons
                .push(format!("chunk {number}: {what}; chunk skipped"));
            return None;
        }
    };
    data.number = Some(number);
    if !data.validate_header_checksum() {
        outcome.reasons.push(format!(
            "chunk {number}: header checksum mismatch; its records were read anyway"
        ));
    }
    if !truncated && !data.validate_data_checksum() {
        outcome.reasons.push(format!(
            "chunk {number}: records checksum mismatch; its records were read anyway"
        ));
    }
    // The raw pass: when no record of the chunk is wanted, counting them needs nothing of the
    // evtx crate.
    let mut heads = std::mem::take(&mut scratch.heads);
    heads.clear();
    if *context.selection != EventSelection::Everything && !truncated {
        let mut texts = Texts::default();
        if raw_heads(&data.data, &mut texts, &mut heads, &mut scratch.raw) {
            let mut wanted = 0;
            for head in heads.iter_mut() {
                head.wanted = context.selection.wants(
                    texts.get(head.channel),
                    texts.get(head.provider),
                    head.id,
                );
                wanted += usize::from(head.wanted);
            }
            if wanted == 0 {
                outcome.count_heads(heads.iter(), &texts);
                scratch.heads = heads;
                return Some(data.data);
            }
            let mut counted = ChunkOutcome::default();
            counted.count_heads(heads.iter().filter(|head| !head.wanted), &texts);
            drop(texts);
            let done = match read_wanted(context, number, &mut data, &heads, counted) {
                Wanted::Read(read) => {
                    outcome.merge(read);
                    true
                }
                Wanted::Unreadable(reason) => {
                    outcome.chunks_skipped += 1;
                    outcome.reasons.push(reason);
                    true
                }
                // Read below, as a chunk the raw pass could not read.
                Wanted::Unexpected => false,
            };
            scratch.heads = heads;
            if !done {
                read_every_record(context, number, &mut data, truncated, outcome);
            }
            return Some(data.data);
        }
    }
    scratch.heads = heads;
    read_every_record(context, number, &mut data, truncated, outcome);
    Some(data.data)
}
