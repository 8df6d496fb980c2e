//! Reads Windows XML Event Logs (`.evtx`) through the `evtx` crate, renders only the events
//! that loaded rules need, and reports damage instead of failing on it.
//!
//! # What is read
//!
//! [`read_evtx`] walks an EVTX file chunk by chunk (each 64 KiB chunk on its own, so a bad chunk
//! never stops the others). For every record it learns the record's channel, event ID,
//! provider and computer — from the records themselves, never from the file name: a log saved
//! as `Microsoft-Windows-SMBServer%4Security.evtx` holds channel
//! `Microsoft-Windows-SMBServer/Security`. Which records are then fully rendered depends on the
//! [`EventSelection`]:
//!
//! * [`EventSelection::Nothing`]: the file is not opened at all. ([`crate::collect`] never
//!   asks for this: it reads every log at least with an empty [`EventSelection::Matching`],
//!   because the computers a log names decide which host it belongs to.)
//! * [`EventSelection::Matching`]: only records that match one of the [`EventNeedFilter`]s are
//!   rendered and returned; all others are only counted.
//! * [`EventSelection::Everything`]: every record is rendered and returned (for
//!   `inspect --events`).
//!
//! # The pre-filter
//!
//! Rendering a record (building its XML tree and turning it into JSON) is the expensive part.
//! Windows writes almost every record as a *template instance*: a reference to a template
//! definition stored once per chunk, plus an array of substitution values. The System fields
//! that decide whether a record is wanted are either literal text in the template definition
//! (`<Channel>Security</Channel>`) or a substitution (`<EventID>%9</EventID>`). The pre-filter
//! reads each template definition of a chunk once with a small BinXML scanner (cached per
//! template), finds where `EventID`, `Channel`, `Computer` and `Provider/@Name` come from, and
//! then takes their values from [`::evtx::EvtxRecord::template_instances`], which parses the
//! substitution array without rendering anything. Records written as a plain BinXML tree
//! without a template (logs re-written by some tools) are scanned the same way, their values
//! being literal. Only when the scanner cannot follow a record's layout (a nested fragment
//! inside `System`, a value type it does not decode, several template instances) is the
//! record rendered to find out; [`EvtxSummary::records_rendered`] shows how often that, plus
//! the rendering of matching records, happened.
//!
//! Before that, each chunk gets a raw pass over its bytes: the record headers, each template
//! instance's substitution array and only the substitutions the System fields come from are
//! read by hand, without the evtx crate building the records, and without allocating anything
//! per record (each distinct channel, provider and computer string of a chunk is decoded once).
//! When none of the chunk's records is wanted, they are counted from that pass and the crate
//! never sees the chunk: an empty [`EventSelection::Matching`], which only counts, never
//! renders a record the raw pass can read. When some are wanted, the others are counted from
//! the raw pass too, and cut short in the reader's copy of the chunk (their BinXML ends right
//! after its header; the template definitions and names they hold for later records stay in
//! place), so that the evtx crate, which builds every record of a chunk before it can render
//! one, builds only the wanted ones. Anything unusual (damage, an unfamiliar layout, a record
//! count that disagrees with the chunk header) sends the whole chunk through the crate and the
//! pre-filter above. Most chunks of a big System or Application log hold nothing the SMB packs
//! read, so they cost little more than a pass over their bytes.
//!
//! A wanted record is rendered to JSON by the evtx crate and read straight into an
//! [`EventRecord`] (see `normalise`), without building a [`serde_json::Value`] of the whole
//! record first.
//!
//! # Threads
//!
//! With [`EvtxReadOptions::threads`] above 1, the chunks of a file are read as separate tasks
//! on the current [rayon] thread pool, each reading its chunk with a positioned read from one
//! shared file handle; the pool's size (`--jobs`) bounds how many run at once, also when
//! several files are read in parallel on the same pool. The outcomes are merged in chunk
//! order, so the records, counts, summaries and notices are the same for any thread count.
//!
//! The final decision is always taken on the rendered record, so a pre-filter mistake could
//! only drop a record, never add a wrong one; the corpus tests check that the pre-filter's
//! channel and event ID agree with the rendered ones for every record of the corpus.
//!
//! # Events as returned
//!
//! Each [`EventRecord`] is normalised: `EventID` is a number even when it carries
//! `Qualifiers`; `time` is `System/TimeCreated/@SystemTime` as RFC 3339 UTC with microseconds
//! (`2016-07-08T18:12:51.681640Z`); `data` maps `EventData/Data[@Name]` to its value (numbers
//! stay numbers as the evtx crate renders them, strings stay strings, unnamed `Data` elements
//! become one `Data` entry) and the fields of `UserData`'s child element, flattened. Records are
//! sorted by time, then record ID.
//!
//! # Damage
//!
//! A damaged header, a chunk with a bad signature or checksum, a truncated file, a zero-size or
//! half-written record: the file is read as far as it can be, and [`EvtxSummary::notices`]
//! holds one warning, `hiveward::evtx::damaged`, naming the file, the number of records read
//! and skipped, the chunks skipped and each reason. A file that is not an EVTX log at all is an
//! [`EvidenceError`]. Nothing panics on bad input. The header's dirty flag alone is not damage:
//! every log copied from a running system has it, and is read in full.
//!
//! A record whose copy of its size at its end does not match the size in its header is skipped:
//! it was written only in part, typically while the log was being copied (its substitution values
//! are partly zero), and libyal's libevtx skips it too.
//!
//! # Example
//!
//! ```no_run
//! use hiveward_collectors::{read_evtx, EventNeedFilter, EventSelection};
//! use std::path::Path;
//!
//! let selection = EventSelection::Matching(vec![EventNeedFilter::new("Security", [4624, 4625])]);
//! let (summary, events) = read_evtx(Path::new("Security.evtx"), &selection).unwrap();
//! for event in &events {
//!     println!("{} {} {:?}", event.time, event.id, event.data.get("LmPackageName"));
//! }
//! println!("{} records read, {} skipped", summary.records_read, summary.records_skipped);
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use ::evtx::err::{ChunkError, DeserializationError, EvtxError};
use ::evtx::{EvtxChunkData, EvtxFileHeader, EvtxRecord, ParserSettings};
use rayon::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{EvidenceError, Notice};

mod normalise;
mod raw;

use normalise::normalise_json;
use raw::{
    holds_false_record, prefilter, raw_heads, RawHead, RawScratch, SystemSlots, Texts,
    END_OF_STREAM, FRAGMENT_HEADER_SIZE, RECORD_HEADER_SIZE, RECORD_MAGIC,
};

/// The size of the file header block that precedes the chunks.
const FILE_HEADER_SIZE: u64 = 4096;
/// The size of one chunk.
const CHUNK_SIZE: usize = 65536;
/// The signature that starts every chunk.
const CHUNK_MAGIC: &[u8] = b"ElfChnk\0";
/// How many damage reasons the warning lists before summarising the rest.
const LISTED_REASONS: usize = 12;
/// The notice code of a damaged log.
pub const EVTX_DAMAGED_CODE: &str = "hiveward::evtx::damaged";

/// Events one rule needs: a channel, optionally narrowed to event IDs and a provider.
///
/// The channel is compared without regard to ASCII case; empty `ids` means every event ID of
/// the channel; a `provider`, when given, must match too (also without regard to case).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct EventNeedFilter {
    /// The channel, such as `Security` or `Microsoft-Windows-SMBServer/Security`.
    pub channel: String,
    /// The event IDs; empty for all.
    #[serde(default)]
    pub ids: Vec<u32>,
    /// The provider (`System/Provider/@Name`), such as `Microsoft-Windows-Security-Auditing`;
    /// `None` for any.
    #[serde(default)]
    pub provider: Option<String>,
}

impl EventNeedFilter {
    /// A filter for `ids` (empty for all) of `channel`, from any provider.
    pub fn new(channel: impl Into<String>, ids: impl IntoIterator<Item = u32>) -> EventNeedFilter {
        EventNeedFilter {
            channel: channel.into(),
            ids: ids.into_iter().collect(),
            provider: None,
        }
    }

    /// The same filter, narrowed to one provider.
    pub fn with_provider(mut self, provider: impl Into<String>) -> EventNeedFilter {
        self.provider = Some(provider.into());
        self
    }

    /// Whether an event of `channel`, `provider` and `id` is wanted.
    pub fn matches(&self, channel: &str, provider: &str, id: u32) -> bool {
        self.channel.eq_ignore_ascii_case(channel)
            && (self.ids.is_empty() || self.ids.contains(&id))
            && self
                .provider
                .as_deref()
                .is_none_or(|wanted| wanted.eq_ignore_ascii_case(provider))
    }
}

/// Which records of a log to render and return.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum EventSelection {
    /// None: the file is not opened or parsed at all (no loaded rule needs events).
    #[default]
    Nothing,
    /// The records that match at least one filter. The file is parsed and every record is
    /// counted; only matching ones are rendered. An empty list parses and counts without
    /// returning any record.
    Matching(Vec<EventNeedFilter>),
    /// Every record, for counting and listing (`inspect --events`).
    Everything,
}

impl EventSelection {
    /// The selection for what the loaded rules declare: [`EventSelection::Nothing`] when no rule
    /// needs events, otherwise [`EventSelection::Matching`].
    pub fn from_needs(needs: Vec<EventNeedFilter>) -> EventSelection {
        if needs.is_empty() {
            EventSelection::Nothing
        } else {
            EventSelection::Matching(needs)
        }
    }

    /// Whether an event of `channel`, `provider` and `id` is selected.
    pub fn wants(&self, channel: &str, provider: &str, id: u32) -> bool {
        match self {
            EventSelection::Nothing => false,
            EventSelection::Matching(filters) => filters
                .iter()
                .any(|filter| filter.matches(channel, provider, id)),
            EventSelection::Everything => true,
        }
    }
}

/// How to read a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvtxReadOptions {
    /// Whether to read one file's chunks in parallel: above 1, they are read as tasks of the
    /// current rayon thread pool, whose size bounds how many run at once; 0 and 1 read them one
    /// after another on the calling thread. The default, 1, suits callers that read several
    /// files in parallel without a pool of their own. The output is the same for any value.
    pub threads: usize,
}

impl Default for EvtxReadOptions {
    fn default() -> Self {
        EvtxReadOptions { threads: 1 }
    }
}

/// One event, normalised.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct EventRecord {
    /// `System/Channel`, such as `Security`; empty when the record has none.
    pub channel: String,
    /// `System/Provider/@Name`; empty when the record has none.
    pub provider: String,
    /// `System/EventID`, without its qualifiers.
    pub id: u32,
    /// `System/TimeCreated/@SystemTime` in RFC 3339 UTC with microseconds, such as
    /// `2016-07-08T18:12:51.681640Z` (the record header's time when the element is missing).
    pub time: String,
    /// `System/EventRecordID` (the record header's ID when the element is missing).
    pub record_id: u64,
    /// `System/Computer`; empty when the record has none.
    pub computer: String,
    /// The event's fields: `EventData`'s named `Data` elements (and other children) by name,
    /// unnamed `Data` elements as one `Data` entry, or the fields of `UserData`'s child element.
    /// Numbers stay numbers, strings stay strings, missing values are `null`.
    pub data: BTreeMap<String, Value>,
    /// The file the event came from.
    pub file: String,
}

/// How many records of one channel and event ID a log holds.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub struct EventCount {
    /// The channel.
    pub channel: String,
    /// The event ID.
    pub id: u32,
    /// How many records.
    pub count: u64,
}

/// What reading one log found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EvtxSummary {
    /// The file.
    pub path: String,
    /// The channels its records name, sorted (usually one).
    pub channels: Vec<String>,
    /// Chunks not counted because the first one showed the log holds no channel the loaded
    /// rules read (the counts then cover only the first chunk). They are still scanned, without
    /// rendering, for the computers and channels their records name, so `channels` and
    /// `computers` are complete.
    pub chunks_not_needed: u64,
    /// The computers its records name, sorted (usually one: the host).
    pub computers: Vec<String>,
    /// Records whose channel and event ID could be read.
    pub records_read: u64,
    /// Records found but not read: damaged or half-written, or lost from a truncated chunk.
    pub records_skipped: u64,
    /// Chunks that could not be read at all (bad signature or header, missing from a truncated
    /// file); how many records they held is unknown.
    pub chunks_skipped: u64,
    /// Records returned: those the selection wanted.
    pub records_matched: u64,
    /// Records fully rendered: the matching ones, plus any whose System fields the pre-filter
    /// could not read without rendering.
    pub records_rendered: u64,
    /// Records per channel and event ID, over every record read (whatever the selection),
    /// sorted by channel, then ID.
    pub counts: Vec<EventCount>,
    /// Warnings about the file, such as `hiveward::evtx::damaged`.
    pub notices: Vec<Notice>,
    /// Whether the file was parsed (false for [`EventSelection::Nothing`]).
    pub parsed: bool,
}

/// Reads one EVTX log with the default options (one thread inside the file).
///
/// Returns the summary and the selected events, sorted by time, then record ID (chunks are
/// read in file order, so a log that wrapped around comes out in time order all the same). A
/// damaged log
/// is read as far as it can be, with a warning in the summary; a file that is not an EVTX log
/// (or cannot be opened) is an error naming it. With [`EventSelection::Nothing`], the file is
/// not touched.
pub fn read_evtx(
    path: &Path,
    selection: &EventSelection,
) -> Result<(EvtxSummary, Vec<EventRecord>), EvidenceError> {
    read_evtx_with(path, selection, &EvtxReadOptions::default())
}

/// Reads one EVTX log; see [`read_evtx`].
pub fn read_evtx_with(
    path: &Path,
    selection: &EventSelection,
    options: &EvtxReadOptions,
) -> Result<(EvtxSummary, Vec<EventRecord>), EvidenceError> {
    let display = path.display().to_string();
    let mut summary = EvtxSummary {
        path: display.clone(),
        channels: Vec::new(),
        chunks_not_needed: 0,
        computers: Vec::new(),
        records_read: 0,
        records_skipped: 0,
        chunks_skipped: 0,
        records_matched: 0,
        records_rendered: 0,
        counts: Vec::new(),
        notices: Vec::new(),
        parsed: false,
    };
    if *selection == EventSelection::Nothing {
        return Ok((summary, Vec::new()));
    }

    let io_error = |error: std::io::Error| EvidenceError::Io {
        path: path.to_path_buf(),
        error,
    };
    let file = crate::detect::open_regular(path).map_err(io_error)?;
    let length = file.metadata().map_err(io_error)?.len();
    if length == 0 {
        return Err(EvidenceError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    let mut head = Vec::with_capacity(FILE_HEADER_SIZE as usize);
    (&file)
        .take(FILE_HEADER_SIZE)
        .read_to_end(&mut head)
        .map_err(io_error)?;
    let header = EvtxFileHeader::from_bytes(&head).map_err(|error| EvidenceError::NotAnEvtx {
        path: path.to_path_buf(),
        detail: error.to_string(),
    })?;
    summary.parsed = true;

    let mut damage = Damage::default();
    if !header.validate_checksum() {
        damage.reason(format!(
            "the file header's checksum does not match (stored {:#010x}, computed {:#010x}); the chunks were read anyway",
            header.checksum, header.computed_checksum
        ));
    }
    let plan = plan_chunks(length, &header, &mut damage);

    let context = Context {
        path,
        file_text: display.clone(),
        selection,
        settings: Arc::new(ParserSettings::new().indent(false).num_threads(1)),
    };
    // Every chunk is read whatever the selection, each on its own: in parallel when asked, on
    // the tasks of the current rayon pool, and put back in chunk order.
    let mut outcomes = read_chunks(&context, &file, &plan.chunks, options.threads > 1)?;

    // A log holds the records of one channel, as a rule. When rules ask for particular
    // channels and the first chunk shows this log holds none of them, only the first chunk is
    // counted: the summary says so. The other chunks are still passed over for the computers
    // and channels their records name (the raw pass, nothing rendered), because the hosts of
    // a bundle are told apart by them whatever the rules read; should they turn out to hold a
    // wanted channel after all, they are read in full.
    let wanted: Vec<&str> = match selection {
        EventSelection::Matching(filters) => filters
            .iter()
            .map(|filter| filter.channel.as_str())
            .collect(),
        _ => Vec::new(),
    };
    if !wanted.is_empty() && outcomes.len() >= 2 {
        let is_wanted =
            |channel: &String| wanted.iter().any(|want| want.eq_ignore_ascii_case(channel));
        let seen = outcomes[0].channels.clone();
        let needed = seen.is_empty()
            || outcomes
                .iter()
                .any(|outcome| outcome.channels.iter().any(is_wanted));
        if !needed {
            let rest: Vec<ChunkOutcome> = outcomes.drain(1..).collect();
            for outcome in rest {
                outcomes[0].channels.extend(outcome.channels);
                outcomes[0].computers.extend(outcome.computers);
            }
            summary.chunks_not_needed = plan.chunks.len() as u64 - 1;
            summary.notices.push(Notice::note(
                "hiveward::evtx::channel_not_needed",
                Some(path),
                format!(
                    "{display}: counted only its first chunk: its records are in {}, which no loaded rule reads; {} more chunk(s) were scanned only for the computers and channels they name",
                    seen.iter().cloned().collect::<Vec<_>>().join(", "),
                    summary.chunks_not_needed
                ),
            ));
        }
    }

    let mut total = ChunkOutcome::default();
    for outcome in outcomes {
        total.merge(outcome);
    }
    let ChunkOutcome {
        mut records,
        counts,
        channels,
        computers,
        read,
        skipped,
        chunks_skipped,
        rendered,
        reasons,
    } = total;
    summary.records_read = read;
    summary.records_skipped = skipped;
    summary.chunks_skipped = chunks_skipped;
    summary.records_rendered = rendered;
    damage.reasons.extend(reasons);
    summary.chunks_skipped += plan.missing_chunks;
    records.sort_by(|left, right| {
        (left.time.as_str(), left.record_id).cmp(&(right.time.as_str(), right.record_id))
    });
    summary.records_matched = records.len() as u64;
    summary.counts = counts
        .into_iter()
        .flat_map(|(channel, ids)| {
            ids.into_iter().map(move |(id, count)| EventCount {
                channel: channel.clone(),
                id,
                count,
            })
        })
        .collect();
    summary.channels = channels.into_iter().filter(|c| !c.is_empty()).collect();
    summary.computers = computers.into_iter().filter(|c| !c.is_empty()).collect();
    if !damage.reasons.is_empty() {
        summary.notices.push(damage.notice(path, &summary));
    }
    Ok((summary, records))
}

/// Where the chunks are.
struct ChunkPlan {
    /// Chunks present in full or in part: (number, bytes available).
    chunks: Vec<(u64, usize)>,
    /// Chunks the header counts that the file does not hold.
    missing_chunks: u64,
}

/// Lays out the chunks of a file of `length` bytes, noting truncation.
fn plan_chunks(length: u64, header: &EvtxFileHeader, damage: &mut Damage) -> ChunkPlan {
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
    if partial > 0 {
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
struct Context<'a> {
    path: &'a Path,
    /// The path as events name it.
    file_text: String,
    selection: &'a EventSelection,
    settings: Arc<ParserSettings>,
}

/// What reading a run of chunks found.
#[derive(Default)]
struct ChunkOutcome {
    records: Vec<EventRecord>,
    /// Records per channel, then per event ID.
    counts: BTreeMap<String, BTreeMap<u32, u64>>,
    channels: BTreeSet<String>,
    computers: BTreeSet<String>,
    read: u64,
    skipped: u64,
    chunks_skipped: u64,
    rendered: u64,
    reasons: Vec<String>,
}

impl ChunkOutcome {
    /// Adds what a later chunk found.
    fn merge(&mut self, other: ChunkOutcome) {
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
    fn count(&mut self, channel: &str, id: u32, computer: &str) {
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
fn read_chunks(
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

/// Whether every byte is zero; 64 bytes at a time, which the compiler turns into vector
/// instructions.
fn all_zero(bytes: &[u8]) -> bool {
    let mut blocks = bytes.chunks_exact(64);
    blocks.all(|block| block.iter().fold(0, |any, byte| any | byte) == 0)
        && blocks.remainder().iter().all(|byte| *byte == 0)
}

/// What reading the wanted records of a chunk came to.
enum Wanted {
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
fn read_wanted(
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
fn read_every_record(
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

/// The damage found in one file.
#[derive(Default)]
struct Damage {
    reasons: Vec<String>,
}

impl Damage {
    fn reason(&mut self, reason: String) {
        self.reasons.push(reason);
    }

    /// The warning that names the file, the counts and the reasons.
    fn notice(&self, path: &Path, summary: &EvtxSummary) -> Notice {
        let mut listed = self
            .reasons
            .iter()
            .take(LISTED_REASONS)
            .cloned()
            .collect::<Vec<_>>()
            .join("; ");
        if self.reasons.len() > LISTED_REASONS {
            listed.push_str(&format!(
                "; and {} more",
                self.reasons.len() - LISTED_REASONS
            ));
        }
        Notice::warning(
            EVTX_DAMAGED_CODE,
            path,
            format!(
                "{}: damaged event log, read as far as possible: {} records read, {} records skipped, {} chunks skipped: {listed}",
                path.display(),
                summary.records_read,
                summary.records_skipped,
                summary.chunks_skipped,
            ),
        )
    }
}
