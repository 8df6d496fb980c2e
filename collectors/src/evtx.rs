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

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use ::evtx::{EvtxFileHeader, ParserSettings};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use self::chunks::{plan_chunks, read_chunks, ChunkOutcome, Context};
use crate::error::{EvidenceError, Notice};

mod chunks;
mod normalise;
mod raw;
mod records;

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
    let plan = plan_chunks(&file, length, &header, &mut damage);

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
