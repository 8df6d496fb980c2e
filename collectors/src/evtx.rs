//! Reads Windows XML Event Logs (`.evtx`) through the `evtx` crate, renders only the events
//! that loaded rules need, and reports damage instead of failing on it.
//!
//! # What is read
//!
//! [`read_evtx`] walks an EVTX file chunk by chunk (one 64 KiB chunk at a time, so a bad chunk
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
//! read by hand, without the evtx crate building the records. When none of the chunk's records
//! is wanted, they are counted from that pass and the crate never sees the chunk; anything
//! unusual (damage, an unfamiliar layout, a record count that disagrees with the chunk header)
//! sends the chunk through the crate as before. Most chunks of a big System or Application log
//! hold nothing the SMB packs read, so they cost little more than a pass over their bytes.
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
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

use ::evtx::binxml::value_variant::BinXmlValue;
use ::evtx::err::{ChunkError, DeserializationError, EvtxError};
use ::evtx::{EvtxChunkData, EvtxFileHeader, EvtxRecord, ParserSettings};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{EvidenceError, Notice};

/// The size of the file header block that precedes the chunks.
const FILE_HEADER_SIZE: u64 = 4096;
/// The size of one chunk.
const CHUNK_SIZE: usize = 65536;
/// The size of a record header (signature, size, record ID, time).
const RECORD_HEADER_SIZE: u64 = 24;
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
    /// Threads used inside one file, each reading a contiguous run of chunks (0 counts as 1).
    /// The default, 1, suits callers that read several files in parallel. The output is the
    /// same for any value.
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
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, JsonSchema)]
pub struct EventCount {
    /// The channel.
    pub channel: String,
    /// The event ID.
    pub id: u32,
    /// How many records.
    pub count: u64,
}

/// What reading one log found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
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
    let mut file = crate::detect::open_regular(path).map_err(io_error)?;
    let length = file.metadata().map_err(io_error)?.len();
    if length == 0 {
        return Err(EvidenceError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    let mut head = Vec::with_capacity(FILE_HEADER_SIZE as usize);
    (&mut file)
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
        selection,
        settings: Arc::new(ParserSettings::new().indent(false).num_threads(1)),
    };
    let threads = options.threads.max(1);
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
    let outcomes = if wanted.is_empty() || plan.chunks.len() < 2 {
        read_chunks(&context, &plan.chunks, threads)?
    } else {
        let mut outcomes = read_chunks(&context, &plan.chunks[..1], 1)?;
        let is_wanted =
            |channel: &String| wanted.iter().any(|want| want.eq_ignore_ascii_case(channel));
        let seen = outcomes[0].channels.clone();
        let needed = seen.is_empty() || seen.iter().any(is_wanted);
        let rest = read_chunks(&context, &plan.chunks[1..], threads)?;
        if needed
            || rest
                .iter()
                .any(|outcome| outcome.channels.iter().any(is_wanted))
        {
            outcomes.extend(rest);
        } else {
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
        outcomes
    };

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
            let mine = self.counts.entry(channel).or_default();
            for (id, count) in ids {
                *mine.entry(id).or_default() += count;
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
}

/// Reads the planned chunks on `threads` threads, each a contiguous run; the outcomes come
/// back in chunk order.
fn read_chunks(
    context: &Context<'_>,
    chunks: &[(u64, usize)],
    threads: usize,
) -> Result<Vec<ChunkOutcome>, EvidenceError> {
    let threads = threads.min(chunks.len()).max(1);
    if threads == 1 {
        return Ok(vec![read_chunk_run(context, chunks)?]);
    }
    let per_thread = chunks.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .chunks(per_thread)
            .map(|run| scope.spawn(move || read_chunk_run(context, run)))
            .collect();
        handles
            .into_iter()
            .map(|handle| match handle.join() {
                Ok(outcome) => outcome,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

/// Reads a run of chunks through a file handle of its own.
fn read_chunk_run(
    context: &Context<'_>,
    run: &[(u64, usize)],
) -> Result<ChunkOutcome, EvidenceError> {
    let io_error = |error: std::io::Error| EvidenceError::Io {
        path: context.path.to_path_buf(),
        error,
    };
    let mut file = crate::detect::open_regular(context.path).map_err(io_error)?;
    let mut outcome = ChunkOutcome::default();
    for &(number, available) in run {
        let mut bytes = vec![0u8; CHUNK_SIZE];
        file.seek(SeekFrom::Start(
            FILE_HEADER_SIZE + number * CHUNK_SIZE as u64,
        ))
        .map_err(io_error)?;
        file.read_exact(&mut bytes[..available]).map_err(io_error)?;
        // The evtx crate is not expected to panic on bad input, but one bad chunk must never
        // take the scan down: a panic while reading a chunk skips that chunk.
        let mut chunk_outcome = ChunkOutcome::default();
        // Caught quietly: the chunk's reason says what happened, and stderr stays clean.
        let result = crate::guard::isolate(|| {
            read_chunk(
                context,
                number,
                bytes,
                available < CHUNK_SIZE,
                &mut chunk_outcome,
            )
        });
        match result {
            Ok(()) => outcome.merge(chunk_outcome),
            Err(_) => {
                outcome.chunks_skipped += 1;
                outcome.reasons.push(format!(
                    "chunk {number}: the evtx parser failed on it unexpectedly; chunk skipped"
                ));
            }
        }
    }
    Ok(outcome)
}

/// Reads one chunk (zero-padded when the file ends inside it) into `outcome`, which is fresh.
fn read_chunk(
    context: &Context<'_>,
    number: u64,
    bytes: Vec<u8>,
    truncated: bool,
    outcome: &mut ChunkOutcome,
) {
    // Never-used chunks of a preallocated log are all zeros.
    if bytes.iter().all(|byte| *byte == 0) {
        return;
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
            return;
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
    let (first_id, last_id) = (
        data.header.first_event_record_id,
        data.header.last_event_record_id,
    );
    // When no record of the chunk is wanted, counting them needs nothing of the evtx crate;
    // otherwise the raw pass still spares the per-record pre-filter below.
    let mut raw = None;
    // Where each template's System fields come from, by template offset; shared by the raw
    // pass and the per-record pre-filter, which read the same chunk bytes.
    let mut layouts: HashMap<u32, Option<SystemSlots>> = HashMap::new();
    if *context.selection != EventSelection::Everything && !truncated {
        if let Some(heads) = raw_heads(&data.data, &mut layouts) {
            if !heads.iter().any(|head| {
                context
                    .selection
                    .wants(&head.channel, &head.provider, head.id)
            }) {
                for head in &heads {
                    outcome.count(&head.channel, head.id, &head.computer);
                }
                return;
            }
            raw = Some(heads);
        }
    }
    let mut chunk = match data.parse(Arc::clone(&context.settings)) {
        Ok(chunk) => chunk,
        Err(error) => {
            outcome.chunks_skipped += 1;
            let what = match &error {
                ChunkError::FailedToBuildStringCache { source } => {
                    format!("unreadable string table ({source})")
                }
                other => other.to_string(),
            };
            outcome
                .reasons
                .push(format!("chunk {number}: {what}; chunk skipped"));
            return;
        }
    };

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
        // The raw pass read the chunk's records in order from the first record id.
        let head = raw.as_mut().and_then(|heads| {
            let index = record.event_record_id.checked_sub(first_id)?;
            heads
                .get_mut(usize::try_from(index).ok()?)
                .map(std::mem::take)
        });
        read_record(context, number, record, head, &mut layouts, outcome);
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

/// Reads one record: pre-filters it, renders it when wanted (or when the pre-filter cannot
/// tell), and counts it.
fn read_record(
    context: &Context<'_>,
    chunk_number: u64,
    record: EvtxRecord<'_>,
    raw_head: Option<SystemHead>,
    layouts: &mut HashMap<u32, Option<SystemSlots>>,
    outcome: &mut ChunkOutcome,
) {
    // With everything selected, every record is rendered anyway.
    if *context.selection != EventSelection::Everything {
        if let Some(head) = raw_head.or_else(|| prefilter(&record, layouts)) {
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
    let header_time = record.timestamp.to_string();
    outcome.rendered += 1;
    let rendered = match record.into_json_value() {
        Ok(rendered) => rendered,
        Err(error) => {
            outcome.skipped += 1;
            outcome.reasons.push(format!(
                "chunk {chunk_number}, record {record_id}: cannot be rendered ({})",
                error_detail(&error)
            ));
            return;
        }
    };
    let event = normalise(
        rendered.data,
        record_id,
        &header_time,
        &context.path.display().to_string(),
    );
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
    let Some(start) = record.binxml_offset.checked_sub(RECORD_HEADER_SIZE) else {
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

// ---------------------------------------------------------------------------------------------
// Pre-filter

/// The System fields that decide whether a record is wanted, read without rendering.
#[derive(Debug, Default, PartialEq, Eq)]
struct SystemHead {
    channel: String,
    provider: String,
    id: u32,
    computer: String,
}

/// Where one System field's value comes from in a record's BinXML.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
enum Slot {
    /// Not (yet) seen: the field is absent, which renders as empty.
    #[default]
    Absent,
    /// Literal text.
    Text(String),
    /// The template instance's substitution value with this index.
    Substitution(u16),
    /// Built in a way the scanner does not follow (several parts, an entity, a non-text value).
    Unknown,
}

impl Slot {
    /// Adds one part of the field's value: the first part is the value, a second makes it
    /// unknown.
    fn add(&mut self, part: Slot) {
        *self = if *self == Slot::Absent {
            part
        } else {
            Slot::Unknown
        };
    }
}

/// Where `EventID`, `Channel`, `Computer` and `Provider/@Name` come from in one template
/// definition or plain record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct SystemSlots {
    provider: Slot,
    event_id: Slot,
    channel: Slot,
    computer: Slot,
}

/// Reads a record's System fields without rendering it; `None` when the scanner cannot follow
/// the record's layout (the caller then renders it).
fn prefilter(
    record: &EvtxRecord<'_>,
    layouts: &mut HashMap<u32, Option<SystemSlots>>,
) -> Option<SystemHead> {
    let data = record.chunk.data;
    let instances = record.template_instances().ok()?;
    match instances.as_slice() {
        [] => {
            // A plain BinXML tree: every value is literal.
            let start = usize::try_from(record.binxml_offset).ok()?;
            let end = start.checked_add(record.binxml_size as usize)?;
            let slots = scan_system(data, start, end, false)?;
            resolve(&slots, &[])
        }
        [instance] => {
            let slots = layouts
                .entry(instance.template_def_offset)
                .or_insert_with(|| template_slots(data, instance.template_def_offset))
                .as_ref()?;
            resolve(slots, &instance.values)
        }
        _ => None,
    }
}

/// Scans the template definition at `offset` in the chunk.
fn template_slots(data: &[u8], offset: u32) -> Option<SystemSlots> {
    // next template offset (4), GUID (16), data size (4), then the BinXML fragment.
    let offset = offset as usize;
    let size_bytes = data.get(offset.checked_add(20)?..offset.checked_add(24)?)?;
    let size = u32::from_le_bytes(size_bytes.try_into().ok()?) as usize;
    let start = offset + 24;
    scan_system(data, start, start.checked_add(size)?, true)
}

/// Takes the System fields' values from their slots and the substitution values.
fn resolve(slots: &SystemSlots, values: &[BinXmlValue<'_>]) -> Option<SystemHead> {
    Some(SystemHead {
        channel: slot_text(&slots.channel, values)?,
        provider: slot_text(&slots.provider, values)?,
        computer: slot_text(&slots.computer, values)?,
        id: slot_number(&slots.event_id, values)?,
    })
}

/// A slot's value as text, as the renderer writes it (absent and null are empty).
fn slot_text(slot: &Slot, values: &[BinXmlValue<'_>]) -> Option<String> {
    match slot {
        Slot::Absent => Some(String::new()),
        Slot::Text(text) => Some(text.clone()),
        Slot::Substitution(index) => match values.get(usize::from(*index))? {
            BinXmlValue::NullType => Some(String::new()),
            BinXmlValue::StringType(text) => text.to_string().ok(),
            BinXmlValue::AnsiStringType(text) => Some((*text).to_string()),
            _ => None,
        },
        Slot::Unknown => None,
    }
}

/// A slot's value as an event ID; `None` when absent or not a number.
fn slot_number(slot: &Slot, values: &[BinXmlValue<'_>]) -> Option<u32> {
    match slot {
        Slot::Text(text) => text.trim().parse().ok(),
        Slot::Substitution(index) => match values.get(usize::from(*index))? {
            BinXmlValue::UInt8Type(n) => Some(u32::from(*n)),
            BinXmlValue::UInt16Type(n) => Some(u32::from(*n)),
            BinXmlValue::UInt32Type(n) | BinXmlValue::HexInt32Type(n) => Some(*n),
            BinXmlValue::Int8Type(n) => u32::try_from(*n).ok(),
            BinXmlValue::Int16Type(n) => u32::try_from(*n).ok(),
            BinXmlValue::Int32Type(n) => u32::try_from(*n).ok(),
            BinXmlValue::UInt64Type(n) | BinXmlValue::HexInt64Type(n) => u32::try_from(*n).ok(),
            BinXmlValue::Int64Type(n) => u32::try_from(*n).ok(),
            BinXmlValue::StringType(text) => text.to_string().ok()?.trim().parse().ok(),
            _ => None,
        },
        Slot::Absent | Slot::Unknown => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Raw pass: a chunk's System fields straight from its bytes

/// Offset of the records in a chunk (after its header and string and template tables).
const CHUNK_RECORDS_START: usize = 512;
/// The signature that starts every record.
const RECORD_MAGIC: [u8; 4] = [0x2a, 0x2a, 0x00, 0x00];

/// Reads the System fields of every record of a chunk straight from its bytes, without the
/// evtx crate building anything. `None` as soon as anything is unusual (damage, a record layout
/// the scanner does not follow, a record count that disagrees with the chunk header): the
/// caller then reads the chunk through the evtx crate, which handles all of that.
///
/// Written by hand because the evtx crate offers no way to look at a record without building
/// its whole content first, and building it is most of the cost of reading a log.
fn raw_heads(
    data: &[u8],
    layouts: &mut HashMap<u32, Option<SystemSlots>>,
) -> Option<Vec<SystemHead>> {
    let mut cursor = Cursor { data, pos: 8 };
    let first_id = u64::from_le_bytes(cursor.bytes(8)?.try_into().ok()?);
    let last_id = u64::from_le_bytes(cursor.bytes(8)?.try_into().ok()?);
    cursor.pos = 48;
    let free_space = (cursor.u32()? as usize).min(data.len());
    let expected = last_id.checked_sub(first_id)?.checked_add(1)?;
    let mut heads = Vec::new();
    let mut scratch = RawScratch::default();
    let mut pos = CHUNK_RECORDS_START;
    let mut next_id = first_id;
    while pos < free_space {
        if data.get(pos..pos + 4)? != RECORD_MAGIC {
            return None;
        }
        let mut header = Cursor { data, pos: pos + 4 };
        let size = header.u32()? as usize;
        let record_id = u64::from_le_bytes(header.bytes(8)?.try_into().ok()?);
        let end = pos.checked_add(size)?;
        if size < 28 || end > free_space || record_id != next_id {
            return None;
        }
        let copy = data.get(end - 4..end)?;
        if u32::from_le_bytes(copy.try_into().ok()?) as usize != size {
            return None;
        }
        heads.push(raw_head(data, pos + 24, end - 4, layouts, &mut scratch)?);
        next_id += 1;
        pos = end;
        if record_id == last_id {
            break;
        }
    }
    (heads.len() as u64 == expected).then_some(heads)
}

/// Buffers the raw pass reuses from one record of a chunk to the next.
#[derive(Default)]
struct RawScratch<'a> {
    /// The current record's substitution values, `(type, bytes)`.
    values: Vec<(u8, &'a [u8])>,
    /// UTF-16 strings already decoded, by their bytes: the records of a chunk repeat the same
    /// channel, provider and computer.
    texts: HashMap<&'a [u8], String>,
}

/// The System fields of the record whose BinXML is `data[start..end]`.
fn raw_head<'a>(
    data: &'a [u8],
    start: usize,
    end: usize,
    layouts: &mut HashMap<u32, Option<SystemSlots>>,
    scratch: &mut RawScratch<'a>,
) -> Option<SystemHead> {
    let mut cursor = Cursor { data, pos: start };
    // Fragment header: token 0x0f, major and minor version, flags.
    if cursor.u8()? != 0x0f {
        return None;
    }
    cursor.bytes(3)?;
    if cursor.u8()? != 0x0c {
        // Not a template instance: a plain tree, all literal.
        let slots = scan_system(data, start, end, false)?;
        return resolve_raw(&slots, &[], &mut scratch.texts);
    }
    // Template instance: unknown byte, template id, definition offset.
    cursor.bytes(5)?;
    let definition = cursor.u32()?;
    if definition as usize == cursor.pos {
        // The definition is stored here: next-template offset, GUID, size, then the fragment.
        cursor.bytes(20)?;
        let size = cursor.u32()? as usize;
        cursor.bytes(size)?;
    }
    let count = cursor.u32()? as usize;
    // Each descriptor is a size (2 bytes), a type (1) and a padding byte.
    let descriptors = data.get(cursor.pos..cursor.pos.checked_add(count.checked_mul(4)?)?)?;
    cursor.pos += descriptors.len();
    scratch.values.clear();
    for descriptor in descriptors.chunks_exact(4) {
        let size = usize::from(u16::from_le_bytes([descriptor[0], descriptor[1]]));
        let at = cursor.pos;
        cursor.pos = at.checked_add(size)?;
        scratch
            .values
            .push((descriptor[2], data.get(at..cursor.pos)?));
    }
    if cursor.pos > end {
        return None;
    }
    let slots = layouts
        .entry(definition)
        .or_insert_with(|| template_slots(data, definition))
        .as_ref()?;
    resolve_raw(slots, &scratch.values, &mut scratch.texts)
}

/// Takes the System fields from their slots and the raw substitution values `(type, bytes)`.
fn resolve_raw<'a>(
    slots: &SystemSlots,
    values: &[(u8, &'a [u8])],
    texts: &mut HashMap<&'a [u8], String>,
) -> Option<SystemHead> {
    Some(SystemHead {
        channel: raw_text(&slots.channel, values, texts)?,
        provider: raw_text(&slots.provider, values, texts)?,
        computer: raw_text(&slots.computer, values, texts)?,
        id: raw_number(&slots.event_id, values)?,
    })
}

/// A slot's value as text: a UTF-16 string without its terminating NULs, or empty for null.
fn raw_text<'a>(
    slot: &Slot,
    values: &[(u8, &'a [u8])],
    texts: &mut HashMap<&'a [u8], String>,
) -> Option<String> {
    match slot {
        Slot::Absent => Some(String::new()),
        Slot::Text(text) => Some(text.clone()),
        Slot::Substitution(index) => match values.get(usize::from(*index))? {
            (0x00, _) => Some(String::new()),
            (STRING_TYPE, bytes) => {
                if let Some(text) = texts.get(bytes) {
                    return Some(text.clone());
                }
                let text = utf16_text(bytes)?.trim_end_matches('\0').to_string();
                texts.insert(bytes, text.clone());
                Some(text)
            }
            _ => None,
        },
        Slot::Unknown => None,
    }
}

/// A slot's value as an event ID, from the unsigned and signed integer types.
fn raw_number(slot: &Slot, values: &[(u8, &[u8])]) -> Option<u32> {
    match slot {
        Slot::Text(text) => text.trim().parse().ok(),
        Slot::Substitution(index) => {
            let (value_type, bytes) = values.get(usize::from(*index))?;
            let unsigned = |width: usize| -> Option<u64> {
                let mut buffer = [0u8; 8];
                buffer[..width].copy_from_slice(bytes.get(..width)?);
                (bytes.len() == width).then(|| u64::from_le_bytes(buffer))
            };
            let number = match value_type {
                0x04 => unsigned(1)?,
                0x06 => unsigned(2)?,
                0x08 | 0x14 => unsigned(4)?,
                0x0a | 0x15 => unsigned(8)?,
                _ => return None,
            };
            u32::try_from(number).ok()
        }
        Slot::Absent | Slot::Unknown => None,
    }
}

/// A little-endian reader over chunk bytes that fails instead of panicking.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn bytes(&mut self, count: usize) -> Option<&[u8]> {
        let end = self.pos.checked_add(count)?;
        let bytes = self.data.get(self.pos..end)?;
        self.pos = end;
        Some(bytes)
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.bytes(1)?[0])
    }

    fn u16(&mut self) -> Option<u16> {
        let bytes = self.bytes(2)?;
        Some(u16::from_le_bytes([bytes[0], bytes[1]]))
    }

    fn u32(&mut self) -> Option<u32> {
        let bytes = self.bytes(4)?;
        Some(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    /// A name reference: the offset of a name in the chunk, stored right here when the offset
    /// is this position. Returns the name.
    fn name(&mut self) -> Option<String> {
        let offset = self.u32()? as usize;
        let name = read_name(self.data, offset)?;
        if offset == self.pos {
            // next-string offset (4), hash (2), length (2), characters, NUL (2).
            self.bytes(10 + 2 * name.encode_utf16().count())?;
        }
        Some(name)
    }

    /// A length-prefixed UTF-16 string.
    fn utf16(&mut self) -> Option<String> {
        let count = usize::from(self.u16()?);
        utf16_text(self.bytes(count * 2)?)
    }
}

/// The name stored at `offset` in the chunk: next-string offset, hash, length, characters.
fn read_name(data: &[u8], offset: usize) -> Option<String> {
    let length_bytes = data.get(offset.checked_add(6)?..offset.checked_add(8)?)?;
    let length = usize::from(u16::from_le_bytes([length_bytes[0], length_bytes[1]]));
    let start = offset + 8;
    utf16_text(data.get(start..start.checked_add(length * 2)?)?)
}

fn utf16_text(bytes: &[u8]) -> Option<String> {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
        .collect();
    String::from_utf16(&units).ok()
}

/// BinXML value type of a nested BinXML fragment.
const BINXML_TYPE: u8 = 0x21;
/// BinXML value type of a UTF-16 string.
const STRING_TYPE: u8 = 0x01;

/// Scans the BinXML in `data[start..end]` (a template definition when `template`, whose
/// element starts carry a dependency ID, or a plain record) for where the System fields come
/// from. `None` when the stream has a token the scanner does not follow, holds no `System`
/// element, or nests a fragment inside `System`.
fn scan_system(data: &[u8], start: usize, end: usize, template: bool) -> Option<SystemSlots> {
    let mut cursor = Cursor { data, pos: start };
    let end = end.min(data.len());
    let mut slots = SystemSlots::default();
    // Open elements, outermost first.
    let mut stack: Vec<String> = Vec::new();
    // The element whose start tag (attributes) is being read.
    let mut pending: Option<String> = None;
    // The attribute whose value is being read.
    let mut attribute: Option<String> = None;
    let mut seen_system = false;

    while cursor.pos < end {
        let token = cursor.u8()?;
        // The part of a value the token carries, if any.
        let part = match token {
            0x00 => break,
            0x0f => {
                cursor.bytes(3)?;
                None
            }
            0x01 | 0x41 => {
                if template {
                    cursor.u16()?;
                }
                cursor.u32()?;
                let name = cursor.name()?;
                if token == 0x41 {
                    cursor.u32()?;
                }
                pending = Some(name);
                attribute = None;
                None
            }
            0x02 => {
                stack.push(pending.take()?);
                attribute = None;
                if stack.len() == 2 && stack[1] == "System" {
                    seen_system = true;
                }
                None
            }
            0x03 => {
                let name = pending.take()?;
                if stack.len() == 1 && name == "System" {
                    seen_system = true;
                }
                attribute = None;
                None
            }
            0x04 => {
                stack.pop()?;
                attribute = None;
                None
            }
            0x05 | 0x45 => {
                let value_type = cursor.u8()?;
                if value_type == STRING_TYPE {
                    Some(Slot::Text(cursor.utf16()?))
                } else {
                    // Other literal types are rare; their length is type-specific.
                    return None;
                }
            }
            0x06 | 0x46 => {
                attribute = Some(cursor.name()?);
                None
            }
            0x07 | 0x47 => {
                cursor.utf16()?;
                Some(Slot::Unknown)
            }
            0x08 | 0x48 => {
                cursor.u16()?;
                Some(Slot::Unknown)
            }
            0x09 | 0x49 => {
                cursor.name()?;
                Some(Slot::Unknown)
            }
            0x0a => {
                cursor.name()?;
                None
            }
            0x0b => {
                cursor.utf16()?;
                None
            }
            0x0d | 0x0e => {
                let index = cursor.u16()?;
                let value_type = cursor.u8()?;
                let in_system = stack.len() >= 2 && stack[1] == "System"
                    || (stack.len() == 1 && pending.as_deref() == Some("System"));
                if in_system && (value_type == BINXML_TYPE || value_type & 0x80 != 0) {
                    // A nested fragment or an array inside System: can't tell statically.
                    return None;
                }
                Some(Slot::Substitution(index))
            }
            _ => return None,
        };
        let Some(part) = part else { continue };
        match (&pending, &attribute) {
            (Some(element), Some(name)) => {
                if stack.len() == 2
                    && stack[1] == "System"
                    && element == "Provider"
                    && name == "Name"
                {
                    slots.provider.add(part);
                }
            }
            (None, _) => {
                if stack.len() == 3 && stack[1] == "System" {
                    match stack[2].as_str() {
                        "EventID" => slots.event_id.add(part),
                        "Channel" => slots.channel.add(part),
                        "Computer" => slots.computer.add(part),
                        _ => {}
                    }
                }
            }
            (Some(_), None) => {}
        }
    }
    seen_system.then_some(slots)
}

// ---------------------------------------------------------------------------------------------
// Normalisation

/// Turns the evtx crate's JSON for one record into an [`EventRecord`].
fn normalise(rendered: Value, record_id: u64, header_time: &str, file: &str) -> EventRecord {
    let Value::Object(mut root) = rendered else {
        return empty_record(record_id, header_time, file);
    };
    let Some(Value::Object(event)) = root.remove("Event") else {
        return empty_record(record_id, header_time, file);
    };
    let system = event.get("System");
    let text = |value: Option<&Value>| -> String {
        match value {
            Some(Value::String(text)) => text.clone(),
            Some(Value::Number(number)) => number.to_string(),
            _ => String::new(),
        }
    };
    let field = |name: &str| system.and_then(|system| system.get(name));
    let attribute = |element: &str, name: &str| {
        field(element)
            .and_then(|element| element.get("#attributes"))
            .and_then(|attributes| attributes.get(name))
    };
    let time = attribute("TimeCreated", "SystemTime")
        .and_then(Value::as_str)
        .and_then(rfc3339_micros)
        .or_else(|| rfc3339_micros(header_time))
        .unwrap_or_else(|| header_time.to_string());

    let mut data = BTreeMap::new();
    for (name, value) in &event {
        match name.as_str() {
            "#attributes" | "System" | "RenderingInfo" => {}
            "EventData" => flatten_event_data(value, &mut data),
            _ => flatten_user_data(name, value, &mut data),
        }
    }
    // The record's own `EventRecordID`: in a chunk caught while it was being reused, the
    // record header can already carry the ID of the record that is overwriting it.
    let record_id = match field("EventRecordID") {
        Some(Value::Number(number)) => number.as_u64(),
        Some(Value::String(text)) => text.trim().parse().ok(),
        _ => None,
    }
    .unwrap_or(record_id);
    EventRecord {
        channel: text(field("Channel")),
        provider: text(attribute("Provider", "Name")),
        id: event_id(field("EventID")),
        time,
        record_id,
        computer: text(field("Computer")),
        data,
        file: file.to_string(),
    }
}

fn empty_record(record_id: u64, header_time: &str, file: &str) -> EventRecord {
    EventRecord {
        channel: String::new(),
        provider: String::new(),
        id: 0,
        time: rfc3339_micros(header_time).unwrap_or_else(|| header_time.to_string()),
        record_id,
        computer: String::new(),
        data: BTreeMap::new(),
        file: file.to_string(),
    }
}

/// The number in `EventID`, which is a number, a numeric string or
/// `{"#attributes": {"Qualifiers": …}, "#text": number}`; 0 when there is none.
fn event_id(value: Option<&Value>) -> u32 {
    match value {
        Some(Value::Number(number)) => number
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0),
        Some(Value::String(text)) => text.trim().parse().unwrap_or(0),
        Some(Value::Object(object)) => event_id(object.get("#text")),
        _ => 0,
    }
}

/// `EventData`: its children by name (the evtx crate already turns `<Data Name="X">` into
/// `X`); unnamed `Data` elements become one `Data` entry (a value or an array).
fn flatten_event_data(value: &Value, data: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(fields) => {
            for (name, field) in fields {
                if name == "#attributes" {
                    continue;
                }
                let field = match field {
                    Value::Object(inner) if name == "Data" && inner.contains_key("#text") => {
                        inner["#text"].clone()
                    }
                    other => other.clone(),
                };
                data.entry(name.clone()).or_insert(field);
            }
        }
        Value::Null => {}
        other => {
            data.entry("EventData".to_string())
                .or_insert_with(|| other.clone());
        }
    }
}

/// `UserData` (and any other payload element): the fields of its child element(s), flattened.
fn flatten_user_data(name: &str, value: &Value, data: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(children) => {
            for (child_name, child) in children {
                if child_name == "#attributes" {
                    continue;
                }
                match child {
                    Value::Object(fields) => {
                        for (field_name, field) in fields {
                            if field_name != "#attributes" {
                                data.entry(field_name.clone())
                                    .or_insert_with(|| field.clone());
                            }
                        }
                    }
                    Value::Null => {}
                    other => {
                        data.entry(child_name.clone())
                            .or_insert_with(|| other.clone());
                    }
                }
            }
        }
        Value::Null => {}
        other => {
            data.entry(name.to_string())
                .or_insert_with(|| other.clone());
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z` as RFC 3339 UTC with exactly six fractional digits
/// (truncated, not rounded, so that the order of times is kept).
fn rfc3339_micros(text: &str) -> Option<String> {
    let text = text.trim().strip_suffix('Z')?;
    let (main, fraction) = text.split_once('.').unwrap_or((text, ""));
    let shape_ok = main.len() == 19
        && main.bytes().enumerate().all(|(index, byte)| match index {
            4 | 7 => byte == b'-',
            10 => byte == b'T',
            13 | 16 => byte == b':',
            _ => byte.is_ascii_digit(),
        });
    if !shape_ok || !fraction.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let mut micros: String = fraction.chars().take(6).collect();
    while micros.len() < 6 {
        micros.push('0');
    }
    Some(format!("{main}.{micros}Z"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_become_microseconds_utc() {
        assert_eq!(
            rfc3339_micros("2016-07-08T18:12:51.6816408Z").as_deref(),
            Some("2016-07-08T18:12:51.681640Z")
        );
        assert_eq!(
            rfc3339_micros("2020-08-01T21:50:17Z").as_deref(),
            Some("2020-08-01T21:50:17.000000Z")
        );
        assert_eq!(
            rfc3339_micros("2021-05-03T08:58:25.921033600Z").as_deref(),
            Some("2021-05-03T08:58:25.921033Z")
        );
        assert_eq!(rfc3339_micros("2021-05-03 08:58:25Z"), None);
        assert_eq!(rfc3339_micros("2021-05-03T08:58:25+01:00"), None);
        assert_eq!(rfc3339_micros(""), None);
    }

    #[test]
    fn event_ids_with_qualifiers_and_strings() {
        assert_eq!(event_id(Some(&json!(4624))), 4624);
        assert_eq!(
            event_id(Some(
                &json!({"#attributes": {"Qualifiers": 16384}, "#text": 7036})
            )),
            7036
        );
        assert_eq!(event_id(Some(&json!("4799"))), 4799);
        assert_eq!(event_id(Some(&json!(null))), 0);
        assert_eq!(event_id(None), 0);
    }

    #[test]
    fn event_data_is_flattened_by_name() {
        let rendered = json!({"Event": {
            "#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
            "System": {
                "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing"}},
                "EventID": 4624,
                "TimeCreated": {"#attributes": {"SystemTime": "2016-07-08T18:12:51.6816408Z"}},
                "Channel": "Security",
                "Computer": "HOST",
            },
            "EventData": {"#attributes": {"Name": "x"}, "LogonType": 3, "LmPackageName": "NTLM V1", "Binary": null},
        }});
        let event = normalise(rendered, 7, "2000-01-01T00:00:00Z", "f.evtx");
        assert_eq!(event.channel, "Security");
        assert_eq!(event.provider, "Microsoft-Windows-Security-Auditing");
        assert_eq!(event.id, 4624);
        assert_eq!(event.time, "2016-07-08T18:12:51.681640Z");
        assert_eq!(event.record_id, 7);
        assert_eq!(event.computer, "HOST");
        assert_eq!(event.file, "f.evtx");
        assert_eq!(event.data["LogonType"], json!(3));
        assert_eq!(event.data["LmPackageName"], json!("NTLM V1"));
        assert_eq!(event.data["Binary"], Value::Null);
        assert!(!event.data.contains_key("#attributes"));
    }

    #[test]
    fn unnamed_data_and_user_data() {
        let rendered = json!({"Event": {
            "System": {"EventID": {"#attributes": {"Qualifiers": 0}, "#text": 6013}, "Channel": "System"},
            "EventData": {"Data": {"#text": ["10.00.", "17134"]}, "Binary": "E207"},
        }});
        let event = normalise(rendered, 1, "2018-07-31T06:42:06.5134595Z", "s.evtx");
        assert_eq!(event.id, 6013);
        assert_eq!(event.data["Data"], json!(["10.00.", "17134"]));
        assert_eq!(event.data["Binary"], json!("E207"));
        // No TimeCreated: the record header's time.
        assert_eq!(event.time, "2018-07-31T06:42:06.513459Z");

        let rendered = json!({"Event": {
            "System": {"EventID": 551, "EventRecordID": 99, "Channel": "Microsoft-Windows-SMBServer/Security"},
            "UserData": {"EventData": {"#attributes": {"xmlns": "Smb2Namespace"}, "SPN": "cifs/fs01", "UserNameLength": 0, "UserName": null}},
        }});
        let event = normalise(rendered, 2, "2020-08-01T21:50:17.1704031Z", "u.evtx");
        // The record's own EventRecordID wins over the header's.
        assert_eq!(event.record_id, 99);
        assert_eq!(event.data["SPN"], json!("cifs/fs01"));
        assert_eq!(event.data["UserNameLength"], json!(0));
        assert_eq!(event.data["UserName"], Value::Null);
        assert!(!event.data.contains_key("xmlns"));
    }

    #[test]
    fn filters_ignore_case_and_narrow_by_provider() {
        let filter = EventNeedFilter::new("Security", [4624]);
        assert!(filter.matches("security", "Microsoft-Windows-Security-Auditing", 4624));
        assert!(!filter.matches("Security", "x", 4625));
        assert!(!filter.matches("System", "x", 4624));
        let all = EventNeedFilter::new("microsoft-windows-smbserver/security", []);
        assert!(all.matches("Microsoft-Windows-SMBServer/Security", "", 551));
        let provider = filter.with_provider("microsoft-windows-security-auditing");
        assert!(provider.matches("Security", "Microsoft-Windows-Security-Auditing", 4624));
        assert!(!provider.matches("Security", "Other", 4624));
        assert_eq!(
            EventSelection::from_needs(Vec::new()),
            EventSelection::Nothing
        );
        assert!(!EventSelection::Nothing.wants("Security", "", 4624));
        assert!(EventSelection::Everything.wants("", "", 0));
    }

    /// A template definition fragment: `<Event><System><Provider Name="%0"/><EventID>%1</EventID>
    /// <Channel>Security</Channel><Computer>%2</Computer></System></Event>`, names inline.
    fn template_fixture() -> Vec<u8> {
        fn name(out: &mut Vec<u8>, text: &str) {
            let offset = out.len() as u32 + 4;
            out.extend_from_slice(&offset.to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            let units: Vec<u16> = text.encode_utf16().collect();
            out.extend_from_slice(&(units.len() as u16).to_le_bytes());
            for unit in units {
                out.extend_from_slice(&unit.to_le_bytes());
            }
            out.extend_from_slice(&0u16.to_le_bytes());
        }
        fn open(out: &mut Vec<u8>, text: &str, attributes: bool) {
            out.push(if attributes { 0x41 } else { 0x01 });
            out.extend_from_slice(&0xffffu16.to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
            name(out, text);
            if attributes {
                out.extend_from_slice(&0u32.to_le_bytes());
            }
        }
        fn substitution(out: &mut Vec<u8>, index: u16, value_type: u8) {
            out.push(0x0e);
            out.extend_from_slice(&index.to_le_bytes());
            out.push(value_type);
        }
        let mut out = vec![0x0f, 1, 1, 0];
        open(&mut out, "Event", false);
        out.push(0x02);
        open(&mut out, "System", false);
        out.push(0x02);
        open(&mut out, "Provider", true);
        out.push(0x06);
        name(&mut out, "Name");
        substitution(&mut out, 0, 0x01);
        out.push(0x03);
        open(&mut out, "EventID", false);
        out.push(0x02);
        substitution(&mut out, 1, 0x06);
        out.push(0x04);
        open(&mut out, "Channel", false);
        out.push(0x02);
        out.push(0x05);
        out.push(0x01);
        let units: Vec<u16> = "Security".encode_utf16().collect();
        out.extend_from_slice(&(units.len() as u16).to_le_bytes());
        for unit in units {
            out.extend_from_slice(&unit.to_le_bytes());
        }
        out.push(0x04);
        open(&mut out, "Computer", false);
        out.push(0x02);
        substitution(&mut out, 2, 0x01);
        out.push(0x04);
        out.push(0x04); // System
        out.push(0x04); // Event
        out.push(0x00);
        out
    }

    #[test]
    fn scanner_finds_system_slots_in_a_template() {
        let bytes = template_fixture();
        let slots = scan_system(&bytes, 0, bytes.len(), true).unwrap();
        assert_eq!(slots.provider, Slot::Substitution(0));
        assert_eq!(slots.event_id, Slot::Substitution(1));
        assert_eq!(slots.channel, Slot::Text("Security".to_string()));
        assert_eq!(slots.computer, Slot::Substitution(2));
        let values = [
            BinXmlValue::AnsiStringType("Microsoft-Windows-Security-Auditing"),
            BinXmlValue::UInt16Type(4624),
            BinXmlValue::NullType,
        ];
        assert_eq!(
            resolve(&slots, &values),
            Some(SystemHead {
                channel: "Security".to_string(),
                provider: "Microsoft-Windows-Security-Auditing".to_string(),
                id: 4624,
                computer: String::new(),
            })
        );
        // Not enough values: the pre-filter gives up rather than guessing.
        assert_eq!(resolve(&slots, &values[..1]), None);
    }

    #[test]
    fn scanner_never_panics_on_cut_or_garbled_input() {
        let bytes = template_fixture();
        for cut in 0..bytes.len() {
            let _ = scan_system(&bytes[..cut], 0, cut, true);
            let _ = scan_system(&bytes, cut, bytes.len(), true);
        }
        for position in 0..bytes.len() {
            let mut garbled = bytes.clone();
            garbled[position] ^= 0xff;
            let _ = scan_system(&garbled, 0, garbled.len(), true);
        }
        assert_eq!(scan_system(&[], 0, 10, true), None);
    }
}
